//! Writing one run: batches of events become rows, one write transaction per batch.
//!
//! A batch is committed with redb's `Durability::None` (fast, visible to readers in this
//! process, persisted by the next durable commit) or durably (`Durability::Immediate` with
//! quick repair, so that reopening after a crash is quick). The runtime commits durably on a
//! timer and on `flush`; a crash loses at most what came after the last durable commit.
//!
//! Within a batch, a call's end is merged into its call row when both are present; an end whose
//! call was written by an earlier batch goes to the `ends` table. Index entries are sorted
//! before insertion, which keeps redb's page accesses local.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, Table, WriteTransaction};

use crate::codec::{CallRow, EndRow, ProcessRow, TailCallRow};
use crate::error::{Context, Result};
use crate::event::{AtomKey, AtomNames, End, Enter, Event, EventKind, OriginKind, Outcome};
use crate::model::{Run, RunInfo, RunSummary};
use crate::retention::{self, entry_bytes, Retention};
use crate::schema::{low, mf, mfa_key, pair, RunTables, ATOMS, ATOM_IDS, RUNS, RUN_BYTES};

/// How to commit a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// `Durability::None`: visible to this process's readers, persisted by a later durable commit.
    Fast,
    /// `Durability::Immediate`: on disk when the write returns; applies the retention cap.
    Durable,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Events written.
    pub events: u64,
    /// Whole runs deleted by retention.
    pub runs_deleted: usize,
    /// Calls of the current run deleted by retention.
    pub calls_deleted: usize,
}

/// The writer of one run. There is one writer per store at a time (redb allows one write
/// transaction at a time; a second writer waits).
pub struct RunWriter {
    db: Arc<Database>,
    run: u64,
    info: RunInfo,
    tables: RunTables,
    retention: Retention,
    atoms: HashMap<AtomKey, u32>,
    next_atom: u32,
    run_bytes: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for RunWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWriter").field("run", &self.run).finish()
    }
}

impl RunWriter {
    /// Registers a new run and returns its writer.
    pub(crate) fn begin(db: Arc<Database>, info: &RunInfo, retention: Retention) -> Result<Self> {
        const DURING: &str = "starting a run";
        let txn = db.begin_write().during(DURING)?;
        let run;
        let next_atom;
        {
            let mut runs = txn.open_table(RUNS).during(DURING)?;
            run = runs
                .last()
                .during(DURING)?
                .map_or(1, |(k, _)| k.value() + 1);
            runs.insert(run, Run::encode(info, None).as_slice())
                .during(DURING)?;
            let atoms = txn.open_table(ATOMS).during(DURING)?;
            next_atom = atoms
                .last()
                .during(DURING)?
                .map_or(1, |(k, _)| k.value() + 1);
            txn.open_table(RUN_BYTES)
                .during(DURING)?
                .insert(run, 0)
                .during(DURING)?;
            let tables = RunTables::new(run);
            txn.open_table(tables.calls()).during(DURING)?;
            txn.open_table(tables.ends()).during(DURING)?;
            txn.open_table(tables.children()).during(DURING)?;
            txn.open_table(tables.by_pid()).during(DURING)?;
            txn.open_table(tables.by_mfa()).during(DURING)?;
            txn.open_table(tables.exceptions()).during(DURING)?;
            txn.open_table(tables.tail_calls()).during(DURING)?;
            txn.open_table(tables.processes()).during(DURING)?;
            txn.open_table(tables.started()).during(DURING)?;
            txn.open_table(tables.served()).during(DURING)?;
            txn.open_table(tables.clients()).during(DURING)?;
        }
        txn.commit().during(DURING)?;
        Ok(RunWriter {
            db,
            run,
            info: info.clone(),
            tables: RunTables::new(run),
            retention,
            atoms: HashMap::new(),
            next_atom,
            run_bytes: 0,
            scratch: Vec::with_capacity(256),
        })
    }

    /// The run's number.
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The estimated bytes the run's rows take (see [`retention`]).
    pub fn estimated_bytes(&self) -> u64 {
        self.run_bytes
    }

    /// Writes `events` (in capture order) in one transaction.
    pub fn write(
        &mut self,
        events: &[Event],
        names: &dyn AtomNames,
        commit: Commit,
    ) -> Result<WriteReport> {
        let result = self.write_transaction(events, names, commit);
        if result.is_err() {
            // Atoms interned by the failed transaction were not stored: forget them.
            self.atoms.clear();
            self.next_atom = self.reload_next_atom()?;
        }
        result
    }

    fn reload_next_atom(&self) -> Result<u32> {
        let txn = self.db.begin_read().during("reading atoms")?;
        let atoms = txn.open_table(ATOMS).during("reading atoms")?;
        let next = atoms
            .last()
            .during("reading atoms")?
            .map_or(1, |(k, _)| k.value() + 1);
        Ok(next)
    }

    fn write_transaction(
        &mut self,
        events: &[Event],
        names: &dyn AtomNames,
        commit: Commit,
    ) -> Result<WriteReport> {
        const DURING: &str = "writing events";
        let mut txn = self.db.begin_write().during(DURING)?;
        match commit {
            Commit::Fast => txn.set_durability(Durability::None).during(DURING)?,
            Commit::Durable => {
                txn.set_durability(Durability::Immediate).during(DURING)?;
                txn.set_quick_repair(true);
            }
        }
        self.write_rows(&txn, events, names)?;
        let mut report = WriteReport {
            events: events.len() as u64,
            ..WriteReport::default()
        };
        if commit == Commit::Durable {
            let (runs, calls) =
                retention::enforce(&txn, self.run, &mut self.run_bytes, self.retention)?;
            report.runs_deleted = runs;
            report.calls_deleted = calls;
            txn.open_table(RUN_BYTES)
                .during(DURING)?
                .insert(self.run, self.run_bytes)
                .during(DURING)?;
        }
        txn.commit().during(DURING)?;
        Ok(report)
    }

    /// Records how the run ended, durably.
    pub fn finish(&mut self, summary: &RunSummary) -> Result<()> {
        const DURING: &str = "finishing a run";
        let mut txn = self.db.begin_write().during(DURING)?;
        txn.set_quick_repair(true);
        txn.open_table(RUNS)
            .during(DURING)?
            .insert(self.run, Run::encode(&self.info, Some(summary)).as_slice())
            .during(DURING)?;
        txn.open_table(RUN_BYTES)
            .during(DURING)?
            .insert(self.run, self.run_bytes)
            .during(DURING)?;
        txn.commit().during(DURING)?;
        Ok(())
    }

    fn write_rows(
        &mut self,
        txn: &WriteTransaction,
        events: &[Event],
        names: &dyn AtomNames,
    ) -> Result<()> {
        const DURING: &str = "writing events";
        let t = &self.tables;
        let mut calls = txn.open_table(t.calls()).during(DURING)?;
        let mut ends = txn.open_table(t.ends()).during(DURING)?;
        let mut children = txn.open_table(t.children()).during(DURING)?;
        let mut by_pid = txn.open_table(t.by_pid()).during(DURING)?;
        let mut by_mfa = txn.open_table(t.by_mfa()).during(DURING)?;
        let mut exceptions = txn.open_table(t.exceptions()).during(DURING)?;
        let mut tail_calls = txn.open_table(t.tail_calls()).during(DURING)?;
        let mut processes = txn.open_table(t.processes()).during(DURING)?;
        let mut started = txn.open_table(t.started()).during(DURING)?;
        let mut atoms = Interner {
            cache: &mut self.atoms,
            next: &mut self.next_atom,
            names,
            by_id: txn.open_table(ATOMS).during(DURING)?,
            by_text: txn.open_table(ATOM_IDS).during(DURING)?,
        };

        // Ends first, so that calls whose end is in this batch are written whole.
        let mut batch_ends: HashMap<u64, (&Event, &End)> = HashMap::new();
        for event in events {
            if let EventKind::End(end) = &event.kind {
                batch_ends.insert(event.call_id, (event, end));
            }
        }
        let mut child_keys = Vec::new();
        let mut pid_keys = Vec::new();
        let mut mfa_keys = Vec::new();
        let mut exception_rows = Vec::new();
        let mut served_rows = Vec::new();
        let mut bytes = 0;
        for event in events {
            match &event.kind {
                EventKind::Enter(enter) => {
                    let module = atoms.id(enter.module)?;
                    let function = atoms.id(enter.function)?;
                    let end = batch_ends.remove(&event.call_id);
                    if let Some((_, end)) = end {
                        if let Outcome::Exception(_) = end.outcome {
                            exception_rows.push((event.call_id, mf(module, function)));
                        }
                    }
                    let row = call_row(event, enter, module, function, end);
                    self.scratch.clear();
                    row.encode(&mut self.scratch);
                    calls
                        .insert(event.call_id, self.scratch.as_slice())
                        .during(DURING)?;
                    bytes += entry_bytes(8, self.scratch.len());
                    if let Some(parent) = enter.parent {
                        child_keys.push(pair(parent.get(), event.call_id));
                    }
                    pid_keys.push((pair(enter.pid, event.call_id), event.time));
                    mfa_keys.push(mfa_key(module, function, event.call_id));
                    if let Some(client) = enter.client {
                        served_rows.push((pair(client.get(), event.call_id), enter.pid));
                    }
                    if let Some(process) = &enter.process {
                        let (origin_kind, origin_pid, origin_text) = match &process.origin {
                            None => (0, 0, ""),
                            Some(o) => (
                                match o.kind {
                                    OriginKind::Caller => 1,
                                    OriginKind::Ancestor => 2,
                                },
                                o.pid,
                                o.text.as_str(),
                            ),
                        };
                        self.scratch.clear();
                        ProcessRow {
                            first_call: event.call_id,
                            origin_kind,
                            origin_pid,
                            text: &process.text,
                            origin_text,
                        }
                        .encode(&mut self.scratch);
                        processes
                            .insert(enter.pid, self.scratch.as_slice())
                            .during(DURING)?;
                        bytes += entry_bytes(8, self.scratch.len());
                        if let Some(origin) = &process.origin {
                            started
                                .insert(pair(origin.pid, event.call_id), enter.pid)
                                .during(DURING)?;
                            bytes += entry_bytes(16, 8);
                        }
                    }
                }
                EventKind::TailCall(tail) => {
                    let module = atoms.id(tail.module)?;
                    let function = atoms.id(tail.function)?;
                    self.scratch.clear();
                    TailCallRow {
                        module,
                        function,
                        arity: tail.arity,
                        time: event.time,
                        args: &tail.args,
                    }
                    .encode(&mut self.scratch);
                    tail_calls
                        .insert(
                            pair(event.call_id, tail.index as u64),
                            self.scratch.as_slice(),
                        )
                        .during(DURING)?;
                    bytes += entry_bytes(16, self.scratch.len());
                }
                EventKind::End(_) => {}
            }
        }
        // Ends whose call was written by an earlier batch (or whose enter was dropped).
        let mut late: Vec<_> = batch_ends.into_iter().collect();
        late.sort_unstable_by_key(|(id, _)| *id);
        for (id, (event, end)) in late {
            self.scratch.clear();
            end_row(event, end).encode(&mut self.scratch);
            ends.insert(id, self.scratch.as_slice()).during(DURING)?;
            bytes += entry_bytes(8, self.scratch.len());
            if let Outcome::Exception(_) = end.outcome {
                let key = match calls.get(id).during(DURING)? {
                    Some(row) => {
                        let row = CallRow::decode(row.value())?;
                        mf(row.module, row.function)
                    }
                    None => 0,
                };
                exception_rows.push((id, key));
            }
        }
        if !served_rows.is_empty() {
            let mut served = txn.open_table(t.served()).during(DURING)?;
            let mut clients = txn.open_table(t.clients()).during(DURING)?;
            served_rows.sort_unstable();
            for (key, server) in served_rows {
                served.insert(key, server).during(DURING)?;
                clients
                    .insert(low(key), (key >> 64) as u64)
                    .during(DURING)?;
                bytes += entry_bytes(16, 8) + entry_bytes(8, 8);
            }
        }
        bytes += insert_sorted(&mut children, child_keys, |_| (), 16, 0)?;
        pid_keys.sort_unstable();
        for (key, start) in &pid_keys {
            by_pid.insert(*key, *start).during(DURING)?;
        }
        bytes += entry_bytes(16, 8) * pid_keys.len() as u64;
        bytes += insert_sorted(&mut by_mfa, mfa_keys, |_| (), 16, 0)?;
        exception_rows.sort_unstable();
        for (id, key) in &exception_rows {
            exceptions.insert(*id, *key).during(DURING)?;
        }
        bytes += entry_bytes(8, 8) * exception_rows.len() as u64;
        self.run_bytes += bytes;
        Ok(())
    }
}

/// Inserts `keys` in order with a value derived from each; returns their estimated bytes.
fn insert_sorted<V: redb::Value + 'static>(
    table: &mut Table<u128, V>,
    mut keys: Vec<u128>,
    value: impl Fn(u128) -> V::SelfType<'static>,
    key_len: usize,
    value_len: usize,
) -> Result<u64> {
    keys.sort_unstable();
    for key in &keys {
        table.insert(*key, value(*key)).during("writing events")?;
    }
    Ok(entry_bytes(key_len, value_len) * keys.len() as u64)
}

fn call_row<'a>(
    event: &'a Event,
    enter: &'a Enter,
    module: u32,
    function: u32,
    end: Option<(&'a Event, &'a End)>,
) -> CallRow<'a> {
    CallRow {
        parent: enter.parent.map_or(0, NonZeroU64::get),
        pid: enter.pid,
        module,
        function,
        arity: enter.arity,
        scheduler: event.scheduler,
        start: event.time,
        args: &enter.args,
        end: end.map(|(e, end)| end_row(e, end)),
    }
}

fn end_row<'a>(event: &'a Event, end: &'a End) -> EndRow<'a> {
    EndRow {
        time: event.time,
        scheduler: event.scheduler,
        outcome: end.outcome,
        tail_calls: end.tail_calls,
        value: &end.value,
    }
}

/// Interns atom texts as small ids, remembering the runtime's atom keys.
struct Interner<'w, 't> {
    cache: &'w mut HashMap<AtomKey, u32>,
    next: &'w mut u32,
    names: &'w dyn AtomNames,
    by_id: Table<'t, u32, &'static str>,
    by_text: Table<'t, &'static str, u32>,
}

impl Interner<'_, '_> {
    fn id(&mut self, key: AtomKey) -> Result<u32> {
        if let Some(id) = self.cache.get(&key) {
            return Ok(*id);
        }
        const DURING: &str = "interning atoms";
        let text = self.names.name(key).unwrap_or_else(|| "?".to_owned());
        let existing = self
            .by_text
            .get(text.as_str())
            .during(DURING)?
            .map(|v| v.value());
        let id = match existing {
            Some(id) => id,
            None => {
                let id = *self.next;
                *self.next += 1;
                self.by_id.insert(id, text.as_str()).during(DURING)?;
                self.by_text.insert(text.as_str(), id).during(DURING)?;
                id
            }
        };
        self.cache.insert(key, id);
        Ok(id)
    }
}
