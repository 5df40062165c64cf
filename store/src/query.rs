//! Queries over one run: a call by id, its children, its subtree, filtered lists of calls,
//! processes and where they came from.
//!
//! A [`Snapshot`] is a read transaction: every query on it sees the same data. Lookups by id and
//! children are point lookups and short range scans, so their cost does not grow with the store.

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError,
};

use crate::codec::{CallRow, EndRow, ProcessRow, TailCallRow};
use crate::error::{Context, Result, StoreError};
use crate::event::OriginKind;
use crate::model::{Call, CallEnd, Process, ProcessOrigin, Run, StoredTailCall};
use crate::schema::{low, mfa_key, pair, RunTables, ATOMS, ATOM_IDS, RUNS};

/// The default number of calls a list query returns.
pub const DEFAULT_LIMIT: usize = 20;

/// The default number of candidate calls a filtered list query examines before it gives up.
pub const DEFAULT_SCAN_LIMIT: usize = 1_000_000;

/// Calls start in id order up to scheduling skew; time bounds are widened by this many ids and
/// then applied exactly.
const TIME_SKEW_IDS: u64 = 4096;

/// Which calls a list query returns (all filters must hold). Results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Only calls of this module.
    pub module: Option<String>,
    /// Only calls of this function (of any module unless `module` is set).
    pub function: Option<String>,
    /// Only calls with this arity.
    pub arity: Option<u8>,
    /// Only calls of this process (pid term word).
    pub pid: Option<u64>,
    /// Only calls that started at or after this monotonic time (ns).
    pub since: Option<u64>,
    /// Only calls that started at or before this monotonic time (ns).
    pub until: Option<u64>,
    /// Only calls that raised.
    pub exceptions_only: bool,
    /// At most this many calls ([`DEFAULT_LIMIT`] when 0).
    pub limit: usize,
    /// Examine at most this many candidates ([`DEFAULT_SCAN_LIMIT`] when 0).
    pub scan_limit: usize,
}

/// A call and its descendants in the same process, in start order (the call first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree {
    /// The calls.
    pub calls: Vec<Call>,
    /// Whether the limit cut it short.
    pub truncated: bool,
}

/// A consistent read-only view of one run.
pub struct Snapshot {
    txn: ReadTransaction,
    // Keeps the database open as long as the snapshot lives.
    _db: Arc<dyn std::any::Any + Send + Sync>,
    run: Run,
    pub(crate) tables: RunTables,
    atoms: RefCell<HashMap<u32, String>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("run", &self.run.id)
            .finish()
    }
}

type Candidates<'s> = Box<dyn Iterator<Item = Result<u64>> + 's>;

impl Snapshot {
    pub(crate) fn new(db: Arc<Database>, run: Option<u64>) -> Result<Snapshot> {
        let txn = db.begin_read().during("starting a query")?;
        Snapshot::in_transaction(db, txn, run)
    }

    /// A snapshot in `txn`, a read transaction of `db` (a `Database` or `ReadOnlyDatabase`).
    pub(crate) fn in_transaction(
        db: Arc<dyn std::any::Any + Send + Sync>,
        txn: ReadTransaction,
        run: Option<u64>,
    ) -> Result<Snapshot> {
        const DURING: &str = "starting a query";
        let runs = txn.open_table(RUNS).during(DURING)?;
        let (id, bytes) = match run {
            Some(id) => {
                let bytes = runs
                    .get(id)
                    .during(DURING)?
                    .ok_or(StoreError::NoSuchRun(id))?;
                (id, bytes.value().to_vec())
            }
            None => {
                let (k, v) = runs.last().during(DURING)?.ok_or(StoreError::NoRuns)?;
                (k.value(), v.value().to_vec())
            }
        };
        drop(runs);
        Ok(Snapshot {
            run: Run::decode(id, &bytes)?,
            tables: RunTables::new(id),
            txn,
            _db: db,
            atoms: RefCell::new(HashMap::new()),
        })
    }

    /// The run this snapshot reads.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// A run table, or `None` when it was never created.
    pub(crate) fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<'_, K, V>,
    ) -> Result<Option<ReadOnlyTable<K, V>>> {
        match self.txn.open_table(def) {
            Ok(t) => Ok(Some(t)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e).during("opening a table"),
        }
    }

    /// The text of an interned atom.
    pub(crate) fn atom(&self, id: u32) -> Result<String> {
        if let Some(text) = self.atoms.borrow().get(&id) {
            return Ok(text.clone());
        }
        let atoms = self.txn.open_table(ATOMS).during("reading atoms")?;
        let text = atoms
            .get(id)
            .during("reading atoms")?
            .map_or_else(|| "?".to_owned(), |v| v.value().to_owned());
        self.atoms.borrow_mut().insert(id, text.clone());
        Ok(text)
    }

    /// The id of an interned atom, if any call used it.
    fn atom_id(&self, text: &str) -> Result<Option<u32>> {
        let ids = self.txn.open_table(ATOM_IDS).during("reading atoms")?;
        Ok(ids.get(text).during("reading atoms")?.map(|v| v.value()))
    }

    /// Number of calls stored for the run.
    pub fn call_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        match self.table(self.tables.calls())? {
            Some(t) => t.len().during("counting calls"),
            None => Ok(0),
        }
    }

    /// The call with this id.
    pub fn call(&self, id: u64) -> Result<Option<Call>> {
        let Some(calls) = self.table(self.tables.calls())? else {
            return Ok(None);
        };
        let Some(bytes) = calls.get(id).during("reading a call")? else {
            return Ok(None);
        };
        let row = CallRow::decode(bytes.value())?;
        let end = match &row.end {
            Some(end) => Some(self.end(end)),
            None => self.late_end(id)?,
        };
        Ok(Some(Call {
            id,
            parent: (row.parent != 0).then_some(row.parent),
            pid: row.pid,
            module: self.atom(row.module)?,
            function: self.atom(row.function)?,
            arity: row.arity,
            scheduler: row.scheduler,
            start: row.start,
            args: row.args.to_vec(),
            end,
        }))
    }

    fn end(&self, row: &EndRow<'_>) -> CallEnd {
        CallEnd {
            time: row.time,
            scheduler: row.scheduler,
            outcome: row.outcome,
            tail_calls: row.tail_calls,
            value: row.value.to_vec(),
        }
    }

    fn late_end(&self, id: u64) -> Result<Option<CallEnd>> {
        let Some(ends) = self.table(self.tables.ends())? else {
            return Ok(None);
        };
        let Some(bytes) = ends.get(id).during("reading a call")? else {
            return Ok(None);
        };
        Ok(Some(self.end(&EndRow::decode(bytes.value())?)))
    }

    /// The direct children of a call, in start order, at most `limit`.
    pub fn children(&self, id: u64, limit: usize) -> Result<Vec<Call>> {
        let Some(children) = self.table(self.tables.children())? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in children
            .range(pair(id, 0)..=pair(id, u64::MAX))
            .during("reading children")?
        {
            if out.len() >= limit {
                break;
            }
            let (key, _) = entry.during("reading children")?;
            if let Some(call) = self.call(low(key.value()))? {
                out.push(call);
            }
        }
        Ok(out)
    }

    /// A call and its descendants in its process, at most `limit` calls. Cross-process links
    /// go through [`Snapshot::origin_call`].
    pub fn subtree(&self, id: u64, limit: usize) -> Result<Option<Subtree>> {
        let Some(root) = self.call(id)? else {
            return Ok(None);
        };
        let Some(by_pid) = self.table(self.tables.by_pid())? else {
            return Ok(None);
        };
        let end_time = root.end.as_ref().map(|e| e.time);
        let mut members: HashSet<u64> = HashSet::from([id]);
        let mut calls = vec![root.clone()];
        let mut truncated = false;
        for entry in by_pid
            .range(pair(root.pid, id + 1)..=pair(root.pid, u64::MAX))
            .during("reading a subtree")?
        {
            let (key, start) = entry.during("reading a subtree")?;
            // Within a process calls nest: the subtree is the run of calls that start before
            // the root ends (or, when its end was not captured, whose parent is in it).
            if end_time.is_some_and(|end| start.value() > end) {
                break;
            }
            let Some(call) = self.call(low(key.value()))? else {
                continue;
            };
            if end_time.is_none() && !call.parent.is_some_and(|p| members.contains(&p)) {
                break;
            }
            if calls.len() >= limit {
                truncated = true;
                break;
            }
            members.insert(call.id);
            calls.push(call);
        }
        Ok(Some(Subtree { calls, truncated }))
    }

    /// Visits every call with an id of at least `from`, in id order (the order calls started),
    /// without holding them all in memory; `visit` returns `false` to stop. For exports of
    /// whole runs.
    pub fn scan(&self, from: u64, mut visit: impl FnMut(Call) -> Result<bool>) -> Result<()> {
        let Some(calls) = self.table(self.tables.calls())? else {
            return Ok(());
        };
        for entry in calls.range(from..).during("scanning calls")? {
            let (id, _) = entry.during("scanning calls")?;
            if let Some(call) = self.call(id.value())? {
                if !visit(call)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Visits every request of the run (see [`crate::Enter::client`]) as
    /// `(client pid, serving call id, serving pid)`, by client, until `visit` answers `false`.
    pub fn scan_requests(
        &self,
        mut visit: impl FnMut(u64, u64, u64) -> Result<bool>,
    ) -> Result<()> {
        const DURING: &str = "scanning requests";
        let Some(served) = self.table(self.tables.served())? else {
            return Ok(());
        };
        for entry in served.iter().during(DURING)? {
            let (key, server) = entry.during(DURING)?;
            let key = key.value();
            if !visit((key >> 64) as u64, low(key), server.value())? {
                break;
            }
        }
        Ok(())
    }

    /// The tail calls a call made that were captured (the first few; its end has the total).
    pub fn tail_calls(&self, id: u64) -> Result<Vec<StoredTailCall>> {
        let Some(table) = self.table(self.tables.tail_calls())? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table
            .range(pair(id, 0)..=pair(id, u64::MAX))
            .during("reading tail calls")?
        {
            let (key, bytes) = entry.during("reading tail calls")?;
            let row = TailCallRow::decode(bytes.value())?;
            out.push(StoredTailCall {
                call_id: id,
                index: low(key.value()) as u32,
                module: self.atom(row.module)?,
                function: self.atom(row.function)?,
                arity: row.arity,
                time: row.time,
                args: row.args.to_vec(),
            });
        }
        Ok(out)
    }

    /// A process that recorded calls.
    pub fn process(&self, pid: u64) -> Result<Option<Process>> {
        let Some(table) = self.table(self.tables.processes())? else {
            return Ok(None);
        };
        let Some(bytes) = table.get(pid).during("reading a process")? else {
            return Ok(None);
        };
        Ok(Some(process(pid, &ProcessRow::decode(bytes.value())?)))
    }

    /// Every process that recorded calls, by pid word.
    pub fn processes(&self) -> Result<Vec<Process>> {
        let Some(table) = self.table(self.tables.processes())? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter().during("reading processes")? {
            let (pid, bytes) = entry.during("reading processes")?;
            out.push(process(pid.value(), &ProcessRow::decode(bytes.value())?));
        }
        Ok(out)
    }

    /// For a process that came from another (a Task from its caller, a GenServer from its
    /// parent): the innermost call of the origin process that was running when this process's
    /// first recorded call started.
    pub fn origin_call(&self, pid: u64) -> Result<Option<Call>> {
        let Some(process) = self.process(pid)? else {
            return Ok(None);
        };
        let Some(origin) = process.origin else {
            return Ok(None);
        };
        let Some(first) = self.call(process.first_call)? else {
            return Ok(None);
        };
        self.running_call(origin.pid, &first)
    }

    /// The innermost call of process `pid` that was running when `call` (of another process)
    /// started: where a process came from, or which call waited for a request's reply.
    pub fn running_call(&self, pid: u64, call: &Call) -> Result<Option<Call>> {
        const DURING: &str = "reading the calls running in a process";
        let Some(by_pid) = self.table(self.tables.by_pid())? else {
            return Ok(None);
        };
        // The process's last call that started before: the calls running at that moment are
        // it and its ancestors.
        let last = by_pid
            .range(pair(pid, 0)..pair(pid, call.id))
            .during(DURING)?
            .next_back()
            .transpose()
            .during(DURING)?
            .map(|(k, _)| low(k.value()));
        let mut next = last;
        while let Some(id) = next {
            let Some(candidate) = self.call(id)? else {
                return Ok(None);
            };
            let running = candidate.start <= call.start
                && candidate.end.as_ref().is_none_or(|e| e.time >= call.start);
            if running {
                return Ok(Some(candidate));
            }
            next = candidate.parent;
        }
        Ok(None)
    }

    /// Calls matching `filter`, newest first.
    pub fn calls(&self, filter: &CallFilter) -> Result<Vec<Call>> {
        let limit = if filter.limit == 0 {
            DEFAULT_LIMIT
        } else {
            filter.limit
        };
        let scan_limit = if filter.scan_limit == 0 {
            DEFAULT_SCAN_LIMIT
        } else {
            filter.scan_limit
        };
        let module = match &filter.module {
            Some(name) => match self.atom_id(name)? {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let function = match &filter.function {
            Some(name) => match self.atom_id(name)? {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let (lo, hi) = self.id_bounds(filter.since, filter.until)?;
        if lo > hi {
            return Ok(Vec::new());
        }
        let candidates = self.candidates(filter, module, function, lo, hi)?;
        let mut out = Vec::new();
        for id in candidates.take(scan_limit) {
            let Some(call) = self.call(id?)? else {
                continue;
            };
            if matches(&call, filter) {
                out.push(call);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The ids to examine, newest first, from the most selective index.
    fn candidates(
        &self,
        filter: &CallFilter,
        module: Option<u32>,
        function: Option<u32>,
        lo: u64,
        hi: u64,
    ) -> Result<Candidates<'_>> {
        const DURING: &str = "listing calls";
        if let Some(pid) = filter.pid {
            let Some(t) = self.table(self.tables.by_pid())? else {
                return Ok(Box::new(std::iter::empty()));
            };
            let range = t.range(pair(pid, lo)..=pair(pid, hi)).during(DURING)?;
            return Ok(Box::new(
                range
                    .rev()
                    .map(|e| e.map(|(k, _)| low(k.value())).during(DURING)),
            ));
        }
        if let Some(module) = module {
            let Some(t) = self.table(self.tables.by_mfa())? else {
                return Ok(Box::new(std::iter::empty()));
            };
            let functions = match function {
                Some(f) => vec![f],
                None => functions_of(&t, module)?,
            };
            let mut iters = Vec::new();
            for f in functions {
                let range = t
                    .range(mfa_key(module, f, lo)..=mfa_key(module, f, hi))
                    .during(DURING)?;
                iters.push(
                    range
                        .rev()
                        .map(|e| e.map(|(k, _)| low(k.value())).during(DURING)),
                );
            }
            return Ok(Box::new(MergeNewest::new(iters)));
        }
        if filter.exceptions_only {
            let Some(t) = self.table(self.tables.exceptions())? else {
                return Ok(Box::new(std::iter::empty()));
            };
            let range = t.range(lo..=hi).during(DURING)?;
            return Ok(Box::new(
                range
                    .rev()
                    .map(|e| e.map(|(k, _)| k.value()).during(DURING)),
            ));
        }
        let Some(t) = self.table(self.tables.calls())? else {
            return Ok(Box::new(std::iter::empty()));
        };
        let range = t.range(lo..=hi).during(DURING)?;
        Ok(Box::new(
            range
                .rev()
                .map(|e| e.map(|(k, _)| k.value()).during(DURING)),
        ))
    }

    /// The id range that can hold calls started within `[since, until]`.
    fn id_bounds(&self, since: Option<u64>, until: Option<u64>) -> Result<(u64, u64)> {
        let lo = match since {
            Some(t) => self.first_id_starting_at(t)?.saturating_sub(TIME_SKEW_IDS),
            None => 0,
        };
        let hi = match until {
            Some(t) => self
                .first_id_starting_at(t.saturating_add(1))?
                .saturating_add(TIME_SKEW_IDS),
            None => u64::MAX,
        };
        Ok((lo, hi))
    }

    /// The smallest stored id whose call starts at or after `time` (calls start in about id
    /// order), or one past the last id.
    fn first_id_starting_at(&self, time: u64) -> Result<u64> {
        const DURING: &str = "searching by time";
        let Some(calls) = self.table(self.tables.calls())? else {
            return Ok(0);
        };
        let start_at = |id: u64| -> Result<Option<(u64, u64)>> {
            match calls.range(id..).during(DURING)?.next() {
                None => Ok(None),
                Some(e) => {
                    let (k, v) = e.during(DURING)?;
                    Ok(Some((k.value(), CallRow::decode(v.value())?.start)))
                }
            }
        };
        let Some((first, _)) = start_at(0)? else {
            return Ok(0);
        };
        let last = calls
            .last()
            .during(DURING)?
            .map_or(first, |(k, _)| k.value());
        let (mut lo, mut hi) = (first, last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match start_at(mid)? {
                Some((id, start)) if start < time => lo = id + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }
}

/// The functions of `module` that have calls, by skipping through the `by_mfa` index.
fn functions_of(t: &ReadOnlyTable<u128, ()>, module: u32) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut from = mfa_key(module, 0, 0);
    let end = mfa_key(module, u32::MAX, u64::MAX);
    while let Some(entry) = t.range(from..=end).during("listing calls")?.next() {
        let (key, _) = entry.during("listing calls")?;
        let function = (key.value() >> 64) as u32;
        out.push(function);
        match function.checked_add(1) {
            Some(next) => from = mfa_key(module, next, 0),
            None => break,
        }
    }
    Ok(out)
}

fn matches(call: &Call, filter: &CallFilter) -> bool {
    filter.module.as_ref().is_none_or(|m| *m == call.module)
        && filter.function.as_ref().is_none_or(|f| *f == call.function)
        && filter.arity.is_none_or(|a| a == call.arity)
        && filter.pid.is_none_or(|p| p == call.pid)
        && filter.since.is_none_or(|t| call.start >= t)
        && filter.until.is_none_or(|t| call.start <= t)
        && (!filter.exceptions_only || call.exception().is_some())
}

fn process(pid: u64, row: &ProcessRow<'_>) -> Process {
    let kind = match row.origin_kind {
        1 => Some(OriginKind::Caller),
        2 => Some(OriginKind::Ancestor),
        _ => None,
    };
    Process {
        pid,
        text: row.text.to_owned(),
        first_call: row.first_call,
        origin: kind.map(|kind| ProcessOrigin {
            kind,
            pid: row.origin_pid,
            text: row.origin_text.to_owned(),
        }),
    }
}

/// Merges iterators of descending ids into one descending stream.
struct MergeNewest<I> {
    iters: Vec<I>,
    heads: BinaryHeap<(u64, usize)>,
    pending_error: Option<StoreError>,
    started: bool,
}

impl<I: Iterator<Item = Result<u64>>> MergeNewest<I> {
    fn new(iters: Vec<I>) -> Self {
        MergeNewest {
            iters,
            heads: BinaryHeap::new(),
            pending_error: None,
            started: false,
        }
    }

    fn pull(&mut self, i: usize) {
        match self.iters[i].next() {
            Some(Ok(id)) => self.heads.push((id, i)),
            Some(Err(e)) => self.pending_error = Some(e),
            None => {}
        }
    }
}

impl<I: Iterator<Item = Result<u64>>> Iterator for MergeNewest<I> {
    type Item = Result<u64>;

    fn next(&mut self) -> Option<Result<u64>> {
        if !self.started {
            self.started = true;
            for i in 0..self.iters.len() {
                self.pull(i);
            }
        }
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        let (id, i) = self.heads.pop()?;
        self.pull(i);
        Some(Ok(id))
    }
}
