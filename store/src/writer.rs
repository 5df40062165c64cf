//! Writing one run: events become pending calls, pending calls become blocks, and blocks with
//! the rows that point at them become sealed segments.
//!
//! ```text
//! events ──write──> staging (calls waiting for their ends, by arrival)
//!                      │ the oldest [`BLOCK_CALLS`] once twice that many wait
//!                      ▼
//!                   blocks + index rows (in memory: the open segment)
//!                      │ seal: every checkpoint, on flush, at the end
//!                      ▼
//!                   runs/N/0-SEQ-SEQ.seg (a redb file, written whole, then renamed)
//! ```
//!
//! A call is written whole when its end comes while it waits in staging (almost always: a block
//! is cut only from the older half of what waits). A call still running when its block is cut
//! is written without its end; its end, when it comes, is a *late end* row, and its tail calls
//! *late tail* rows, of the segment being filled then. An end or tail call whose call is
//! neither staged nor known to be running (its enter comes later, from another ring lane, or
//! was dropped) waits as an orphan until its enter comes or the next seal.
//!
//! A failed seal (a full disk) keeps what it could not write and tries again at the next one;
//! once that holds more than [`MAX_UNSEALED_BYTES`], the oldest blocks are given up and
//! counted (`write_failed`). Nothing is ever half written: a segment appears whole or not at
//! all, so a killed VM loses what it had not sealed (at most one checkpoint interval).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::block::{PendingCall, PendingEnd, PendingTail, BLOCK_BYTES, BLOCK_CALLS};
use crate::codec::{encode_remote, encode_test, EndRow, ExitRow, ProcessRow, SendRow, TailCallRow};
use crate::encoding::{Done, EncodingThread, Job};
use crate::error::Result;
use crate::event::{AtomKey, AtomNames, Event, EventKind, OriginKind, Outcome, RunEvent, SendKind};
use crate::layout;
use crate::messages;
use crate::model::{Counters, Run, RunInfo, RunSummary};
use crate::retention::{Maintenance, Retention};
use crate::segment::{self, Contents, SegmentMeta};

/// By default, the open segment is given up, oldest blocks first, past this many bytes that
/// could not be sealed (a full disk): memory stays bounded while the disk is full (see
/// [`RunWriter::hold_at_most`]).
pub const MAX_UNSEALED_BYTES: usize = 64 << 20;

/// At most this many process records are remembered to repeat them in later segments (each
/// segment holds the records of its processes, so it reads alone); past it the oldest half
/// is forgotten.
const MAX_PROCESSES: usize = 200_000;

/// At most this many calls written without their end are remembered (to file their ends as
/// late ends with the call's function); past it the oldest half is forgotten.
const MAX_RUNNING: usize = 1 << 20;

/// What a seal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealReport {
    /// The segment written, if there was anything to write.
    pub segment: Option<PathBuf>,
    /// Events it holds.
    pub events: u64,
}

/// The writer of one run. Created by [`crate::Store::begin_run`]; the run is live (other
/// processes see it recording) until the writer is dropped.
pub struct RunWriter {
    store: PathBuf,
    dir: PathBuf,
    run: u64,
    info: RunInfo,
    _lock: File,
    atoms: Atoms,
    processes: FxHashMap<u64, Vec<u8>>,
    staging: Staging,
    running: BTreeMap<u64, u64>,
    orphan_ends: FxHashMap<u64, PendingEnd>,
    orphan_tails: FxHashMap<u64, Vec<PendingTail>>,
    open: OpenSegment,
    encoder: EncodingThread,
    /// Emptied buffers of blocks, kept for the next blocks.
    buffers: Vec<Vec<PendingCall>>,
    /// The first error of the encoder thread since the last seal.
    encoding_failed: Option<crate::StoreError>,
    next_block: u32,
    next_segment: u64,
    /// Run events taken so far: the low half of their keys, so that two at one instant differ.
    run_events: u64,
    /// Sends taken so far: the low half of their keys (their order of arrival).
    sends: u64,
    counters: Counters,
    max_unsealed: usize,
}

impl std::fmt::Debug for RunWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWriter")
            .field("run", &self.run)
            .field("dir", &self.dir)
            .finish()
    }
}

/// The segment being filled: blocks and rows since the last seal.
#[derive(Default)]
struct OpenSegment {
    contents: Contents,
    atoms: FxHashSet<u32>,
    pids: FxHashSet<u64>,
    /// Events per block (in `contents.blocks` order), to count what a given-up block held.
    block_events: VecDeque<u64>,
    /// Events it holds.
    events: u64,
    /// The remote keys it names already (see `RunEvent::Remote`).
    remote_keys: FxHashSet<u64>,
}

/// Calls waiting for their ends, in arrival order, found by id.
#[derive(Default)]
struct Staging {
    calls: VecDeque<PendingCall>,
    /// The arrival number of `calls[0]`.
    base: u64,
    /// Call id → arrival number.
    index: FxHashMap<u64, u64>,
    /// Value bytes of the staged calls.
    bytes: usize,
}

impl Staging {
    fn push(&mut self, call: PendingCall) {
        self.bytes += call.value_bytes();
        self.index
            .insert(call.id, self.base + self.calls.len() as u64);
        self.calls.push_back(call);
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut PendingCall> {
        let seq = *self.index.get(&id)?;
        // An entry older than `base` names a call that left in a block (see take_block).
        let call = self.calls.get_mut(seq.checked_sub(self.base)? as usize)?;
        (call.id == id).then_some(call)
    }

    /// Gives a staged call its end; hands the end back when the call is not staged.
    fn end(&mut self, id: u64, end: PendingEnd) -> Option<PendingEnd> {
        let len = end.value.len();
        match self.get_mut(id) {
            Some(call) => {
                call.end = Some(end);
                self.bytes += len;
                None
            }
            None => Some(end),
        }
    }

    /// Gives a staged call a tail call; hands it back when the call is not staged.
    fn tail(&mut self, id: u64, tail: PendingTail) -> Option<PendingTail> {
        let len = tail.args.len();
        match self.get_mut(id) {
            Some(call) => {
                call.tails.push(tail);
                self.bytes += len;
                None
            }
            None => Some(tail),
        }
    }

    /// Moves the oldest calls, up to `BLOCK_CALLS` or `BLOCK_BYTES` of values, into `out`,
    /// sorted by id.
    fn take_block(&mut self, out: &mut Vec<PendingCall>) {
        out.clear();
        let mut bytes = 0;
        while out.len() < BLOCK_CALLS && bytes < BLOCK_BYTES {
            let Some(call) = self.calls.pop_front() else {
                break;
            };
            self.base += 1;
            bytes += call.value_bytes();
            out.push(call);
        }
        self.bytes = self.bytes.saturating_sub(bytes);
        // Entries of calls that left stay in the index (removing each costs a lookup); they
        // are swept once they outnumber the staged calls.
        if self.index.len() > 4 * (self.calls.len() + BLOCK_CALLS) {
            let base = self.base;
            self.index.retain(|_, seq| *seq >= base);
        }
        // Arrival order is id order unless ring lanes interleaved.
        if !out.is_sorted_by_key(|c| c.id) {
            out.sort_unstable_by_key(|c| c.id);
        }
        out.dedup_by_key(|c| c.id);
    }

    fn len(&self) -> usize {
        self.calls.len()
    }
}

/// Atom keys of the runtime interned as small ids for the run.
struct Atoms {
    ids: FxHashMap<AtomKey, u32>,
    by_text: FxHashMap<String, u32>,
    texts: Vec<String>,
    /// The last key asked for and its id: consecutive calls mostly name the same module.
    last: (AtomKey, u32),
}

impl Atoms {
    fn id(&mut self, key: AtomKey, names: &dyn AtomNames) -> u32 {
        if self.last.0 == key && self.last.1 != 0 {
            return self.last.1;
        }
        let id = self.lookup(key, names);
        self.last = (key, id);
        id
    }

    fn lookup(&mut self, key: AtomKey, names: &dyn AtomNames) -> u32 {
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let text = names.name(key).unwrap_or_else(|| "?".to_owned());
        let id = match self.by_text.get(&text) {
            Some(id) => *id,
            None => {
                let id = self.texts.len() as u32 + 1;
                self.by_text.insert(text.clone(), id);
                self.texts.push(text);
                id
            }
        };
        self.ids.insert(key, id);
        id
    }

    fn text(&self, id: u32) -> &str {
        self.texts
            .get((id as usize).wrapping_sub(1))
            .map_or("?", String::as_str)
    }
}

impl RunWriter {
    /// Creates the run's directory (a new number, locked) in the store at `store`.
    pub(crate) fn begin(store: &Path, info: &RunInfo) -> Result<RunWriter> {
        let new = layout::create_run(store, &Run::encode(info, None))?;
        Ok(RunWriter {
            store: store.to_path_buf(),
            dir: new.dir,
            run: new.run,
            info: info.clone(),
            _lock: new.lock,
            atoms: Atoms {
                ids: FxHashMap::default(),
                by_text: FxHashMap::default(),
                texts: Vec::new(),
                last: (0, 0),
            },
            processes: FxHashMap::default(),
            staging: Staging::default(),
            running: BTreeMap::new(),
            orphan_ends: FxHashMap::default(),
            orphan_tails: FxHashMap::default(),
            open: OpenSegment::default(),
            encoder: EncodingThread::start()?,
            buffers: Vec::new(),
            encoding_failed: None,
            next_block: 1,
            next_segment: 1,
            run_events: 0,
            sends: 0,
            counters: Counters::default(),
            max_unsealed: MAX_UNSEALED_BYTES,
        })
    }

    /// Holds at most `bytes` that could not be sealed (default [`MAX_UNSEALED_BYTES`]).
    pub fn hold_at_most(&mut self, bytes: usize) {
        self.max_unsealed = bytes;
    }

    /// The run's number.
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The run's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compaction and retention for this run, to run after seals on another thread.
    pub fn maintenance(&self, retention: Retention) -> Maintenance {
        Maintenance::new(&self.store, self.run, &self.dir, retention)
    }

    /// Events given to [`RunWriter::write`] that are in sealed segments, and those lost
    /// because they could not be written (`captured` and `dropped` are the caller's).
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Takes `events` (in capture order). They become readable at the next seal.
    pub fn write(&mut self, events: Vec<Event>, names: &dyn AtomNames) -> Result<()> {
        for event in events {
            self.take(event, names);
        }
        while self.staging.len() >= 2 * BLOCK_CALLS || self.staging.bytes >= 2 * BLOCK_BYTES {
            self.cut_block()?;
        }
        Ok(())
    }

    fn take(&mut self, event: Event, names: &dyn AtomNames) {
        let id = event.call_id;
        match event.kind {
            EventKind::Enter(enter) => {
                let module = self.atoms.id(enter.module, names);
                let function = self.atoms.id(enter.function, names);
                if let Some(process) = &enter.process {
                    self.remember_process(id, enter.pid, process);
                }
                if let Some(client) = enter.client {
                    let c = &mut self.open.contents;
                    c.served.push((pair(client.get(), id), enter.pid));
                    c.clients.push((id, client.get()));
                }
                let receipt =
                    messages::receipt(self.atoms.text(function), enter.arity, &enter.args);
                if let Some(receipt) = receipt {
                    let c = &mut self.open.contents;
                    let group = messages::group(enter.pid, receipt.hash);
                    c.receipts
                        .push((pair(group, id), (enter.pid, receipt.hash, event.time)));
                    if let Some((pid_hash, kind)) = receipt.notice {
                        c.notices.push((pair(pid_hash, id), kind));
                    }
                }
                self.staging.push(PendingCall {
                    id,
                    parent: enter.parent.map_or(0, NonZeroU64::get),
                    pid: enter.pid,
                    module,
                    function,
                    arity: enter.arity,
                    scheduler: event.scheduler,
                    start: event.time,
                    args: enter.args,
                    end: self.orphan_ends.remove(&id),
                    tails: self.orphan_tails.remove(&id).unwrap_or_default(),
                });
            }
            EventKind::End(end) => {
                let end = PendingEnd {
                    time: event.time,
                    scheduler: event.scheduler,
                    outcome: end.outcome,
                    tail_calls: end.tail_calls,
                    value: end.value,
                };
                let Some(end) = self.staging.end(id, end) else {
                    return;
                };
                if let Some(mf) = self.running.remove(&id) {
                    self.late_end(id, &end, mf);
                } else {
                    self.orphan_ends.insert(id, end);
                }
            }
            EventKind::TailCall(tail) => {
                let tail = PendingTail {
                    index: tail.index,
                    module: self.atoms.id(tail.module, names),
                    function: self.atoms.id(tail.function, names),
                    arity: tail.arity,
                    time: event.time,
                    args: tail.args,
                };
                let Some(tail) = self.staging.tail(id, tail) else {
                    return;
                };
                if self.running.contains_key(&id) {
                    self.late_tail(id, &tail);
                } else {
                    self.orphan_tails.entry(id).or_default().push(tail);
                }
            }
            EventKind::Send(send) => {
                self.sends += 1;
                let receiver = send.receiver.map_or(0, NonZeroU64::get);
                let mut row = Vec::with_capacity(40 + send.payload.len());
                SendRow {
                    time: event.time,
                    kind: send.kind,
                    delay_ms: send.delay_ms,
                    receiver,
                    target: send.target(),
                    message: send.message(),
                }
                .encode(&mut row);
                let c = &mut self.open.contents;
                c.sends.push((pair(id, self.sends), row));
                if receiver != 0 {
                    let hash = messages::hash(send.message());
                    let delay = match send.kind {
                        SendKind::SendAfter => send.delay_ms as u64 * 1_000_000,
                        SendKind::Send | SendKind::Cast => 0,
                    };
                    c.mailbox.push((
                        pair(messages::group(receiver, hash), self.sends),
                        (
                            receiver,
                            hash,
                            id,
                            event.time,
                            event.time.saturating_add(delay),
                        ),
                    ));
                }
                self.open.events += 1;
            }
            EventKind::Run(run) => {
                self.run_events += 1;
                let key = pair(event.time, self.run_events);
                match *run {
                    RunEvent::Paused(paused) => self.open.contents.pauses.push((key, paused as u8)),
                    RunEvent::Test(test) => {
                        let mut row = Vec::with_capacity(64 + test.message.len());
                        encode_test(&test, &mut row);
                        self.open.contents.tests.push((key, row));
                    }
                    RunEvent::Node(node) => self.rename_node(node),
                    RunEvent::Remote(remote) => {
                        let key = remote.key();
                        if self.open.remote_keys.insert(key) {
                            let mut row =
                                Vec::with_capacity(8 + remote.node.len() + remote.text.len());
                            encode_remote(&remote, &mut row);
                            self.open.contents.remote_processes.push((key, row));
                        }
                    }
                    RunEvent::Exit(exit) => {
                        let mut row = Vec::with_capacity(32 + exit.reason.len());
                        ExitRow {
                            pid: exit.pid,
                            pid_hash: messages::hash(&exit.pid_term),
                            pid_term: &exit.pid_term,
                            reason: &exit.reason,
                        }
                        .encode(&mut row);
                        self.open.contents.exits.push((key, row));
                        // The segment names the process, so that it reads alone.
                        self.open.pids.insert(exit.pid);
                    }
                }
                self.open.events += 1;
            }
        }
    }

    /// Records the VM's node name in the run's `run` file (replaced atomically: readers see
    /// the old file or the new one). A failure to write it leaves the old name, which is all
    /// it costs.
    fn rename_node(&mut self, node: String) {
        if node == self.info.node {
            return;
        }
        self.info.node = node;
        let _ =
            layout::write_atomically(&layout::run_file(&self.dir), &Run::encode(&self.info, None));
    }

    fn remember_process(&mut self, first_call: u64, pid: u64, process: &crate::ProcessStart) {
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
        let mut row = Vec::with_capacity(32 + process.text.len() + origin_text.len());
        ProcessRow {
            first_call,
            origin_kind,
            origin_pid,
            text: &process.text,
            origin_text,
            name: process.name.as_deref().unwrap_or(""),
        }
        .encode(&mut row);
        if self.processes.len() >= MAX_PROCESSES {
            let mut pids: Vec<u64> = self.processes.keys().copied().collect();
            pids.sort_unstable();
            for pid in &pids[..pids.len() / 2] {
                self.processes.remove(pid);
            }
        }
        self.processes.insert(pid, row);
        if let Some(origin) = &process.origin {
            self.open
                .contents
                .started
                .push((pair(origin.pid, first_call), pid));
        }
    }

    fn late_end(&mut self, id: u64, end: &PendingEnd, mf: u64) {
        let mut row = Vec::with_capacity(24 + end.value.len());
        EndRow {
            time: end.time,
            scheduler: end.scheduler,
            outcome: end.outcome,
            tail_calls: end.tail_calls,
            value: &end.value,
        }
        .encode(&mut row);
        let c = &mut self.open.contents;
        c.late_ends.push((id, row));
        if end.outcome != Outcome::Return {
            c.exceptions.push((id, mf));
        }
        self.open.events += 1;
    }

    fn late_tail(&mut self, id: u64, tail: &PendingTail) {
        let mut row = Vec::with_capacity(24 + tail.args.len());
        TailCallRow {
            module: tail.module,
            function: tail.function,
            arity: tail.arity,
            time: tail.time,
            args: &tail.args,
        }
        .encode(&mut row);
        self.open
            .contents
            .late_tails
            .push((pair(id, tail.index as u64), row));
        self.open.atoms.extend([tail.module, tail.function]);
        self.open.events += 1;
    }

    /// Sends the oldest staged calls to the encoder thread as a block.
    fn cut_block(&mut self) -> Result<()> {
        let mut calls = self
            .buffers
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK_CALLS));
        self.staging.take_block(&mut calls);
        if calls.is_empty() {
            self.buffers.push(calls);
            return Ok(());
        }
        let no = self.next_block;
        self.next_block += 1;
        let mut events = 0;
        for call in &calls {
            events += 1 + call.end.is_some() as u64 + call.tails.len() as u64;
            if call.end.is_none() {
                if self.running.len() >= MAX_RUNNING {
                    for _ in 0..MAX_RUNNING / 2 {
                        self.running.pop_first();
                    }
                }
                self.running
                    .insert(call.id, (call.module as u64) << 32 | call.function as u64);
            }
        }
        let (open, buffers, failed) =
            (&mut self.open, &mut self.buffers, &mut self.encoding_failed);
        self.encoder.send(Job { no, events, calls }, &mut |done| {
            take_block(open, buffers, failed, done)
        })
    }

    /// Waits for every block sent to the encoder thread; the first error of an encoding since
    /// the last seal.
    fn finish_blocks(&mut self) -> Result<()> {
        let (open, buffers, failed) =
            (&mut self.open, &mut self.buffers, &mut self.encoding_failed);
        self.encoder
            .collect(true, &mut |done| take_block(open, buffers, failed, done));
        match self.encoding_failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Makes everything taken so far readable and durable: the staged calls become blocks,
    /// orphans late rows, and the open segment a sealed segment file. `counters` (the
    /// recorder's `captured` and `dropped`) go into the segment, so readers of a live run see
    /// them. Does nothing when nothing was taken since the last seal.
    pub fn seal(&mut self, captured: u64, dropped: u64) -> Result<SealReport> {
        while self.staging.len() > 0 {
            self.cut_block()?;
        }
        self.finish_blocks()?;
        for (id, end) in std::mem::take(&mut self.orphan_ends) {
            self.late_end(id, &end, 0);
        }
        for (id, tails) in std::mem::take(&mut self.orphan_tails) {
            for tail in &tails {
                self.late_tail(id, tail);
            }
        }
        if self.open.contents.is_empty() {
            return Ok(SealReport::default());
        }
        self.add_segment_atoms_and_processes();
        let meta = SegmentMeta {
            run: self.run,
            level: 0,
            first: self.next_segment,
            last: self.next_segment,
            counters: Counters {
                captured,
                dropped,
                stored: self.counters.stored + self.open.events,
                write_failed: self.counters.write_failed,
            },
        };
        match segment::write(&self.dir, &meta, &mut self.open.contents) {
            Ok(path) => {
                self.next_segment += 1;
                let events = self.open.events;
                self.counters.stored += events;
                self.open = OpenSegment::default();
                Ok(SealReport {
                    segment: Some(path),
                    events,
                })
            }
            Err(e) => {
                self.give_up_past_limit();
                Err(e)
            }
        }
    }

    fn add_segment_atoms_and_processes(&mut self) {
        let open = &mut self.open;
        let mut atoms: Vec<u32> = open.atoms.iter().copied().collect();
        atoms.sort_unstable();
        open.contents.atoms = atoms
            .into_iter()
            .map(|id| (id, self.atoms.text(id).to_owned()))
            .collect();
        open.contents.processes = open
            .pids
            .iter()
            .filter_map(|pid| self.processes.get(pid).map(|row| (*pid, row.clone())))
            .collect();
    }

    /// After a failed seal: gives up the oldest blocks while the open segment is too big.
    fn give_up_past_limit(&mut self) {
        let open = &mut self.open;
        while open.contents.bytes() > self.max_unsealed && !open.contents.blocks.is_empty() {
            open.contents.blocks.remove(0);
            let events = open.block_events.pop_front().unwrap_or(0);
            open.events = open.events.saturating_sub(events);
            self.counters.write_failed += events;
        }
    }

    /// Seals what is left and records how the run ended; the run then stops being live.
    /// Returns the final counters.
    pub fn finish(mut self, captured: u64, dropped: u64, ended_unix_ns: u64) -> Result<Counters> {
        let sealed = self.seal(captured, dropped);
        if sealed.is_err() {
            self.counters.write_failed += self.open.events;
        }
        let summary = RunSummary {
            ended_unix_ns,
            counters: Counters {
                captured,
                dropped,
                ..self.counters
            },
        };
        let written = layout::write_atomically(
            &layout::run_file(&self.dir),
            &Run::encode(&self.info, Some(&summary)),
        );
        sealed.and(written).map(|()| summary.counters)
    }
}

/// Puts an encoded block into the open segment, with the index rows that point at it.
fn take_block(
    open: &mut OpenSegment,
    buffers: &mut Vec<Vec<PendingCall>>,
    failed: &mut Option<crate::StoreError>,
    done: Done,
) {
    buffers.push(done.buffer);
    let encoded = match done.block {
        Ok(encoded) => encoded,
        Err(e) => {
            failed.get_or_insert(e);
            return;
        }
    };
    let no = done.no;
    let c = &mut open.contents;
    for (pid, n) in &encoded.pids {
        c.pid_blocks.push((pair(*pid, no as u64), *n));
        open.pids.insert(*pid);
    }
    for ((module, function), n) in &encoded.functions {
        let key = (*module as u128) << 96 | (*function as u128) << 64 | no as u128;
        c.function_blocks.push((key, *n));
    }
    c.exceptions.extend_from_slice(&encoded.exceptions);
    open.atoms.extend(encoded.atoms.iter().copied());
    c.blocks.push((no, encoded.blob, encoded.meta));
    open.block_events.push_back(done.events);
    open.events += done.events;
}

/// `high << 64 | low`.
pub(crate) fn pair(high: u64, low: u64) -> u128 {
    (high as u128) << 64 | low as u128
}
