//! Queries over one run: a call by id, its children, its subtree, filtered lists of calls,
//! processes and where they came from.
//!
//! A [`Snapshot`] reads the run's segments that were sealed when it opened: every query on it
//! sees the same data, and nothing a writer does can change it (a live run's newer segments
//! are seen by the next snapshot). A call by id is a binary search in the block directory and
//! one block; process and function lists walk the blocks their index names.

use std::collections::{BinaryHeap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::event::OriginKind;
use crate::index::{HeadRef, OwnedProcess, ReaderCache, RunIndex, Select};
use crate::model::{
    Call, CallEnd, Pause, Process, ProcessOrigin, RecordedTest, Run, StoredTailCall,
};
use crate::segment::{SERVED, STARTED};

/// The most processes a filter by test follows from the test's own.
pub const MAX_TEST_PROCESSES: usize = 100_000;

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
    /// Only calls of these processes (pid term words), such as a test's
    /// ([`Snapshot::test_processes`]); `Some` of an empty list matches nothing.
    pub pids: Option<Vec<u64>>,
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
    run: Run,
    pub(crate) index: RunIndex,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("run", &self.run.id)
            .field("index", &self.index)
            .finish()
    }
}

impl Snapshot {
    /// Opens the sealed segments of `run`, whose directory is `dir`.
    pub(crate) fn open(run: Run, dir: &Path, cache: &Arc<ReaderCache>) -> Result<Snapshot> {
        Ok(Snapshot {
            run,
            index: RunIndex::open(dir, cache)?,
        })
    }

    /// The run this snapshot reads.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// Number of calls stored for the run.
    pub fn call_count(&self) -> Result<u64> {
        Ok(self.index.call_count())
    }

    /// The largest call id stored, if any.
    pub fn last_id(&self) -> Option<u64> {
        self.index.last_id()
    }

    /// The call with this id.
    pub fn call(&self, id: u64) -> Result<Option<Call>> {
        match self.index.locate(id)? {
            Some(head) => self.call_at(&head).map(Some),
            None => Ok(None),
        }
    }

    /// The call whose head this is, with its values and its end (from its block, or a late
    /// end row).
    pub(crate) fn call_at(&self, at: &HeadRef) -> Result<Call> {
        let head = at.head();
        let block = &at.block;
        let end = match &head.end {
            Some(end) => Some(CallEnd {
                time: end.time,
                scheduler: end.scheduler,
                outcome: end.outcome,
                tail_calls: end.tail_calls,
                value: block.value(end.value)?.to_vec(),
            }),
            None => self.index.late_end(head.id)?.map(|e| CallEnd {
                time: e.time,
                scheduler: e.scheduler,
                outcome: e.outcome,
                tail_calls: e.tail_calls,
                value: e.value,
            }),
        };
        Ok(Call {
            id: head.id,
            parent: (head.parent != 0).then_some(head.parent),
            pid: head.pid,
            module: self.index.atom(head.module),
            function: self.index.atom(head.function),
            arity: head.arity,
            scheduler: head.scheduler,
            start: head.start,
            args: block.value(head.args)?.to_vec(),
            end,
        })
    }

    /// The time a call ended, from its block or its late end (`None` while it runs).
    pub(crate) fn end_time(&self, at: &HeadRef) -> Result<Option<u64>> {
        match &at.head().end {
            Some(end) => Ok(Some(end.time)),
            None => Ok(self.index.late_end(at.head().id)?.map(|e| e.time)),
        }
    }

    /// The direct children of a call, in start order, at most `limit`.
    pub fn children(&self, id: u64, limit: usize) -> Result<Vec<Call>> {
        let Some(root) = self.index.locate(id)? else {
            return Ok(Vec::new());
        };
        let pid = root.head().pid;
        let bound = self.subtree_bound_of(&root)?;
        let mut out = Vec::new();
        for at in self
            .index
            .heads(Select::Pid(pid), id + 1, bound.saturating_sub(1), true)?
        {
            let at = at?;
            if out.len() >= limit {
                break;
            }
            if at.head().parent == id {
                out.push(self.call_at(&at)?);
            }
        }
        Ok(out)
    }

    /// A call and its descendants in its process, at most `limit` calls. Cross-process links
    /// go through [`Snapshot::origin_call`].
    pub fn subtree(&self, id: u64, limit: usize) -> Result<Option<Subtree>> {
        let Some(root) = self.index.locate(id)? else {
            return Ok(None);
        };
        let end_time = self.end_time(&root)?;
        let pid = root.head().pid;
        let mut members: HashSet<u64> = HashSet::from([id]);
        let mut calls = vec![self.call_at(&root)?];
        let mut truncated = false;
        for at in self.index.heads(Select::Pid(pid), id + 1, u64::MAX, true)? {
            let at = at?;
            let head = at.head();
            // Within a process calls nest: the subtree is the run of calls that start before
            // the root ends (or, when its end was not captured, whose parent is in it).
            if end_time.is_some_and(|end| head.start > end) {
                break;
            }
            if end_time.is_none() && !members.contains(&head.parent) {
                break;
            }
            if calls.len() >= limit {
                truncated = true;
                break;
            }
            members.insert(head.id);
            calls.push(self.call_at(&at)?);
        }
        Ok(Some(Subtree { calls, truncated }))
    }

    /// The id after the last call under `root` in its process: the first call of the process
    /// that started after it ended (`u64::MAX` when its end was not captured).
    pub(crate) fn subtree_bound_of(&self, root: &HeadRef) -> Result<u64> {
        let Some(end) = self.end_time(root)? else {
            return Ok(u64::MAX);
        };
        let head = root.head();
        for at in self
            .index
            .heads(Select::Pid(head.pid), head.id + 1, u64::MAX, true)?
        {
            let at = at?;
            if at.head().start > end {
                return Ok(at.head().id);
            }
        }
        Ok(u64::MAX)
    }

    /// Visits every call with an id of at least `from`, in id order (the order calls started),
    /// without holding them all in memory; `visit` returns `false` to stop. For exports of
    /// whole runs.
    pub fn scan(&self, from: u64, mut visit: impl FnMut(Call) -> Result<bool>) -> Result<()> {
        for at in self.index.heads(Select::All, from, u64::MAX, true)? {
            if !visit(self.call_at(&at?)?)? {
                break;
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
        for (client, call, server) in self.index.all_links(SERVED)? {
            if !visit(client, call, server)? {
                break;
            }
        }
        Ok(())
    }

    /// The tail calls a call made that were captured (the first few; its end has the total).
    pub fn tail_calls(&self, id: u64) -> Result<Vec<StoredTailCall>> {
        let mut out = Vec::new();
        if let Some(at) = self.index.locate(id)? {
            for tail in at.block.tails_of(at.pos) {
                out.push(StoredTailCall {
                    call_id: id,
                    index: tail.index,
                    module: self.index.atom(tail.module),
                    function: self.index.atom(tail.function),
                    arity: tail.arity,
                    time: tail.time,
                    args: at.block.value(tail.args)?.to_vec(),
                });
            }
        }
        for (index, tail) in self.index.late_tails(id)? {
            out.push(StoredTailCall {
                call_id: id,
                index,
                module: self.index.atom(tail.module),
                function: self.index.atom(tail.function),
                arity: tail.arity,
                time: tail.time,
                args: tail.args,
            });
        }
        out.sort_by_key(|t| t.index);
        Ok(out)
    }

    /// A process that recorded calls.
    pub fn process(&self, pid: u64) -> Result<Option<Process>> {
        Ok(self.index.process(pid)?.map(|row| process(pid, row)))
    }

    /// Every process that recorded calls, by pid word.
    pub fn processes(&self) -> Result<Vec<Process>> {
        Ok(self
            .index
            .processes()?
            .into_iter()
            .map(|(pid, row)| process(pid, row))
            .collect())
    }

    /// The tests the run recorded (it came from a test run), in the order they finished.
    pub fn tests(&self) -> Result<Vec<RecordedTest>> {
        Ok(self
            .index
            .tests()?
            .into_iter()
            .map(|(finished, test)| RecordedTest { finished, test })
            .collect())
    }

    /// The tests named `name`: exactly (with or without the `test ` that ExUnit puts before
    /// a test's name), else every test whose name contains it. In the order they finished.
    pub fn tests_named(&self, name: &str) -> Result<Vec<RecordedTest>> {
        let tests = self.tests()?;
        let exact: Vec<RecordedTest> = tests
            .iter()
            .filter(|t| {
                let n = t.test.name.as_str();
                n == name || n.strip_prefix("test ") == Some(name)
            })
            .cloned()
            .collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        Ok(tests
            .into_iter()
            .filter(|t| t.test.name.contains(name))
            .collect())
    }

    /// The processes of the tests named `name` ([`Snapshot::tests_named`],
    /// [`Snapshot::test_processes`]): what a filter by test keeps. `None` when no test has
    /// that name.
    pub fn processes_of_tests_named(&self, name: &str) -> Result<Option<Vec<u64>>> {
        let tests = self.tests_named(name)?;
        if tests.is_empty() {
            return Ok(None);
        }
        let mut pids = Vec::new();
        for test in &tests {
            if let Some(pid) = test.test.pid {
                pids.extend(self.test_processes(pid.get(), MAX_TEST_PROCESSES)?);
            }
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(Some(pids))
    }

    /// When recording was paused globally during the run, in time order.
    pub fn pauses(&self) -> Result<Vec<Pause>> {
        let mut out: Vec<Pause> = Vec::new();
        for (time, paused) in self.index.pauses()? {
            let open = out.last_mut().filter(|p| p.until.is_none());
            match (open, paused) {
                (Some(open), false) => open.until = Some(time),
                (None, true) => out.push(Pause {
                    from: time,
                    until: None,
                }),
                // Paused while paused, or resumed while recording: nothing changes.
                _ => {}
            }
        }
        Ok(out)
    }

    /// The process `pid` and every process it started, and they started, and so on (through
    /// `$callers` and `$ancestors`, as trees follow them), at most `most`: a test's processes
    /// when `pid` ran the test. Sorted.
    pub fn test_processes(&self, pid: u64, most: usize) -> Result<Vec<u64>> {
        let mut seen: HashSet<u64> = HashSet::from([pid]);
        let mut queue = vec![pid];
        while let Some(origin) = queue.pop() {
            for (_first, child) in self.index.links(STARTED, origin, 0, u64::MAX, most)? {
                if seen.len() >= most {
                    break;
                }
                if seen.insert(child) {
                    queue.push(child);
                }
            }
        }
        let mut out: Vec<u64> = seen.into_iter().collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The calls a test made at its top level, in start order, at most `limit`: the calls of
    /// its process `pid` that no recorded call made, and the first calls of the processes it
    /// started outside any recorded call (a Task run by the test's own code).
    pub fn test_roots(&self, pid: u64, limit: usize) -> Result<Vec<Call>> {
        let mut roots = Vec::new();
        for at in self.index.heads(Select::Pid(pid), 0, u64::MAX, true)? {
            let at = at?;
            if roots.len() >= limit {
                break;
            }
            if at.head().parent == 0 {
                roots.push(self.call_at(&at)?);
            }
        }
        for (first, _child) in self.index.links(STARTED, pid, 0, u64::MAX, limit)? {
            let Some(first) = self.call(first)? else {
                continue;
            };
            if self.running_call(pid, &first)?.is_none() {
                roots.push(first);
            }
        }
        roots.sort_by_key(|c| c.id);
        roots.truncate(limit);
        Ok(roots)
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
        // The process's last call that started before: the calls running at that moment are
        // it and its ancestors.
        let last = match call.id.checked_sub(1) {
            Some(hi) => self.index.heads(Select::Pid(pid), 0, hi, false)?.next(),
            None => None,
        };
        let mut next = match last {
            Some(at) => Some(self.call_at(&at?)?),
            None => None,
        };
        while let Some(candidate) = next {
            let running = candidate.start <= call.start
                && candidate.end.as_ref().is_none_or(|e| e.time >= call.start);
            if running {
                return Ok(Some(candidate));
            }
            next = match candidate.parent {
                Some(parent) => self.call(parent)?,
                None => None,
            };
        }
        Ok(None)
    }

    /// Calls matching `filter`, newest first.
    pub fn calls(&self, filter: &CallFilter) -> Result<Vec<Call>> {
        self.calls_where(filter, |_| Ok(true))
    }

    /// Walks the candidates of `filter` newest first, handing those its index-level filters
    /// pass to `kept`, which answers whether it kept the call; stops at the filter's limit of
    /// kept calls or of candidates examined.
    pub(crate) fn walk_filtered(
        &self,
        filter: &CallFilter,
        mut kept: impl FnMut(&HeadRef) -> Result<bool>,
    ) -> Result<()> {
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
            Some(name) => match self.index.atom_id(name) {
                Some(id) => Some(id),
                None => return Ok(()),
            },
            None => None,
        };
        let function = match &filter.function {
            Some(name) => match self.index.atom_id(name) {
                Some(id) => Some(id),
                None => return Ok(()),
            },
            None => None,
        };
        let (lo, hi) = self.id_bounds(filter.since, filter.until)?;
        if lo > hi {
            return Ok(());
        }
        if filter.pids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        let pids: Option<HashSet<u64>> = filter.pids.as_ref().map(|p| p.iter().copied().collect());
        let wanted = |at: &HeadRef| {
            let h = at.head();
            module.is_none_or(|m| m == h.module)
                && function.is_none_or(|f| f == h.function)
                && filter.arity.is_none_or(|a| a == h.arity)
                && filter.pid.is_none_or(|p| p == h.pid)
                && pids.as_ref().is_none_or(|p| p.contains(&h.pid))
                && filter.since.is_none_or(|t| h.start >= t)
                && filter.until.is_none_or(|t| h.start <= t)
        };
        let mut count = 0;
        for at in self
            .candidates(filter, module, function, lo, hi)?
            .take(scan_limit)
        {
            let at = at?;
            if wanted(&at) && kept(&at)? {
                count += 1;
                if count >= limit {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The calls to examine, newest first, from the most selective index.
    fn candidates<'s>(
        &'s self,
        filter: &CallFilter,
        module: Option<u32>,
        function: Option<u32>,
        lo: u64,
        hi: u64,
    ) -> Result<Box<dyn Iterator<Item = Result<HeadRef>> + 's>> {
        if let Some(pid) = filter.pid {
            return Ok(Box::new(self.index.heads(
                Select::Pid(pid),
                lo,
                hi,
                false,
            )?));
        }
        if let (Some(pids), None) = (&filter.pids, module) {
            let mut walks = Vec::new();
            for pid in pids {
                walks.push(self.index.heads(Select::Pid(*pid), lo, hi, false)?);
            }
            return Ok(Box::new(MergeNewest::new(walks)));
        }
        // A module, a function or both: the index of each (module, function) pair, merged
        // newest first (never every call of the run, which the scan limit may stop short of
        // the ones asked for).
        let pairs: Vec<(u32, u32)> = match (module, function) {
            (Some(m), Some(f)) => vec![(m, f)],
            (Some(m), None) => self
                .index
                .functions_of(m)?
                .into_iter()
                .map(|f| (m, f))
                .collect(),
            (None, Some(f)) => {
                let mut pairs: Vec<(u32, u32)> = self
                    .index
                    .function_totals()?
                    .into_iter()
                    .map(|(pair, _)| pair)
                    .filter(|&(_, g)| g == f)
                    .collect();
                pairs.sort_unstable();
                pairs.dedup();
                pairs
            }
            (None, None) => Vec::new(),
        };
        if module.is_some() || function.is_some() {
            let mut walks = Vec::new();
            for (m, f) in pairs {
                walks.push(self.index.heads(Select::Function(m, f), lo, hi, false)?);
            }
            return Ok(Box::new(MergeNewest::new(walks)));
        }
        if filter.exceptions_only {
            let ids = self.index.exceptions(lo, hi)?;
            return Ok(Box::new(
                ids.into_iter()
                    .filter_map(move |id| self.index.locate(id).transpose()),
            ));
        }
        Ok(Box::new(self.index.heads(Select::All, lo, hi, false)?))
    }

    /// The id range that can hold calls started within `[since, until]`.
    pub(crate) fn id_bounds(&self, since: Option<u64>, until: Option<u64>) -> Result<(u64, u64)> {
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
    pub(crate) fn first_id_starting_at(&self, time: u64) -> Result<u64> {
        let blocks = self.index.blocks();
        let Some(i) = blocks.iter().position(|b| b.meta.max_start >= time) else {
            return Ok(self.index.last_id().map_or(0, |id| id + 1));
        };
        let block = self.index.block(i)?;
        Ok(block
            .heads
            .iter()
            .find(|h| h.start >= time)
            .map_or(blocks[i].meta.max_id + 1, |h| h.id))
    }
}

fn process(pid: u64, row: OwnedProcess) -> Process {
    let kind = match row.origin_kind {
        1 => Some(OriginKind::Caller),
        2 => Some(OriginKind::Ancestor),
        _ => None,
    };
    Process {
        pid,
        text: row.text,
        first_call: row.first_call,
        origin: kind.map(|kind| ProcessOrigin {
            kind,
            pid: row.origin_pid,
            text: row.origin_text,
        }),
        name: (!row.name.is_empty()).then_some(row.name),
    }
}

/// Merges walks of descending ids into one descending walk.
struct MergeNewest<I> {
    iters: Vec<I>,
    heads: BinaryHeap<(u64, usize)>,
    pending: Vec<Option<HeadRef>>,
    pending_error: Option<crate::StoreError>,
    started: bool,
}

impl<I: Iterator<Item = Result<HeadRef>>> MergeNewest<I> {
    fn new(iters: Vec<I>) -> Self {
        MergeNewest {
            pending: vec![None; iters.len()],
            iters,
            heads: BinaryHeap::new(),
            pending_error: None,
            started: false,
        }
    }

    fn pull(&mut self, i: usize) {
        match self.iters[i].next() {
            Some(Ok(at)) => {
                self.heads.push((at.head().id, i));
                self.pending[i] = Some(at);
            }
            Some(Err(e)) => self.pending_error = Some(e),
            None => {}
        }
    }
}

impl<I: Iterator<Item = Result<HeadRef>>> Iterator for MergeNewest<I> {
    type Item = Result<HeadRef>;

    fn next(&mut self) -> Option<Result<HeadRef>> {
        if !self.started {
            self.started = true;
            for i in 0..self.iters.len() {
                self.pull(i);
            }
        }
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        let (_, i) = self.heads.pop()?;
        let at = self.pending[i].take()?;
        self.pull(i);
        Some(Ok(at))
    }
}
