//! A run's sealed segments read as one index: blocks found by call id, by process and by
//! function, walked in id order, and the rows that are not in blocks.
//!
//! Opening loads every segment's block directory and atoms (small: an entry per block and per
//! atom). Blocks are decoded on first use and kept in a small cache. Blocks are cut from calls
//! in arrival order, which is id order up to the skew between ring lanes, so neighbouring
//! blocks may overlap a little in ids: walks merge the blocks they open, in order.

use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::block::{Block, BlockMeta, Head};
use crate::codec::{decode_remote, EndRow, ProcessRow, TailCallRow};
use crate::error::{Context, Result, StoreError};
use crate::event::{RemoteProcess, Test};
use crate::layout;
use crate::segment::{
    Segment, BLOCKS, CLIENTS, EXCEPTIONS, FUNCTION_BLOCKS, LATE_ENDS, LATE_TAILS, PAUSES,
    PID_BLOCKS, PROCESSES, REMOTE_PROCESSES, TESTS,
};
use crate::writer::pair;

/// Decoded blocks a reader keeps (shared by its snapshots).
const CACHED_BLOCKS: usize = 128;

/// Opened segments a reader keeps.
const CACHED_SEGMENTS: usize = 512;

/// A walk asks the process or function index about this many blocks at a time, as it goes:
/// one that stops early (a subtree's end, the newest calls) reads little of it.
const WINDOW_BLOCKS: usize = 64;

/// A walk that opens more than this many blocks reads the next ones on threads of their own
/// while the caller looks at the current one (decoding is about half of a scan's time: see
/// BENCHMARKS.md, "Reading ahead"); shorter walks (a process's calls under one call) do not
/// pay for starting a thread.
const READ_AHEAD_AFTER: usize = 2;

/// How many decoded blocks each reading thread keeps ready: bounds its memory (a block's
/// values are at most about `BLOCK_BYTES` each).
const READ_AHEAD_BLOCKS: usize = 4;

/// The most reading threads a walk starts (one per core up to this).
const READ_AHEAD_THREADS: usize = 4;

/// Merged directories of runs a reader keeps.
const CACHED_LAYOUTS: usize = 64;

/// Opening retries when segments disappear under the reader (compaction replaced them).
const OPEN_ATTEMPTS: usize = 5;

/// A block of the run, as the directory describes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRef {
    /// Its number in the run.
    pub no: u32,
    /// The segment that holds it.
    pub segment: usize,
    /// What it holds.
    pub meta: BlockMeta,
}

/// Which calls a walk visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Select {
    /// Every call.
    All,
    /// The calls of one process.
    Pid(u64),
    /// The calls of one function (module, function).
    Function(u32, u32),
}

impl Select {
    fn matches(self, head: &Head) -> bool {
        match self {
            Select::All => true,
            Select::Pid(pid) => head.pid == pid,
            Select::Function(m, f) => head.module == m && head.function == f,
        }
    }
}

/// A call's head in its decoded block.
#[derive(Debug, Clone)]
pub(crate) struct HeadRef {
    /// The block.
    pub block: Arc<Block>,
    /// The call's position in it.
    pub pos: usize,
}

impl HeadRef {
    /// The head.
    pub fn head(&self) -> &Head {
        &self.block.heads[self.pos]
    }
}

/// A run's merged layout and the segment files it came from.
type KnownLayout = (Vec<PathBuf>, Arc<RunLayout>);

/// What a reader keeps between snapshots: sealed segments never change, so an opened segment
/// (with its block directory and atoms), the merged directory of a run's segments, and
/// decoded blocks stay valid as long as their files exist. A snapshot of a run whose segments
/// did not change since the last one costs a directory listing.
#[derive(Default)]
pub(crate) struct ReaderCache {
    segments: Mutex<FxHashMap<PathBuf, Arc<Segment>>>,
    /// Per run directory: the segment files its layout was merged from, and the layout.
    layouts: Mutex<FxHashMap<PathBuf, KnownLayout>>,
    blocks: Mutex<FxHashMap<(u64, u32), Arc<Block>>>,
}

impl ReaderCache {
    /// The segment at `path`, opened now or earlier.
    fn segment(&self, path: &Path) -> Result<Arc<Segment>> {
        if let Some(segment) = lock(&self.segments).get(path) {
            return Ok(segment.clone());
        }
        let segment = Arc::new(Segment::open(path)?);
        let mut segments = lock(&self.segments);
        if segments.len() >= CACHED_SEGMENTS {
            segments.clear();
        }
        segments.insert(path.to_path_buf(), segment.clone());
        Ok(segment)
    }

    /// Forgets the segments of `dir` that are not among `current` (compaction or retention
    /// deleted them).
    fn forget_others(&self, dir: &Path, current: &[PathBuf]) {
        lock(&self.segments).retain(|path, _| path.parent() != Some(dir) || current.contains(path));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A run's sealed segments merged: their blocks by smallest id, and their atoms.
pub(crate) struct RunLayout {
    segments: Vec<Arc<Segment>>,
    /// Sorted by `min_id`.
    blocks: Vec<BlockRef>,
    /// `reach[i]`: the largest `max_id` among `blocks[..=i]`.
    reach: Vec<u64>,
    atoms: FxHashMap<u32, String>,
    atom_ids: FxHashMap<String, u32>,
}

impl RunLayout {
    fn over(segments: Vec<Arc<Segment>>) -> RunLayout {
        let mut blocks = Vec::new();
        let mut atoms = FxHashMap::default();
        for (i, segment) in segments.iter().enumerate() {
            blocks.extend(segment.blocks.iter().map(|&(no, meta)| BlockRef {
                no,
                segment: i,
                meta,
            }));
            atoms.extend(segment.atoms.iter().cloned());
        }
        blocks.sort_by_key(|b| (b.meta.min_id, b.no));
        let mut reach = Vec::with_capacity(blocks.len());
        let mut max = 0;
        for b in &blocks {
            max = max.max(b.meta.max_id);
            reach.push(max);
        }
        let atom_ids = atoms.iter().map(|(id, text)| (text.clone(), *id)).collect();
        RunLayout {
            segments,
            blocks,
            reach,
            atoms,
            atom_ids,
        }
    }
}

/// A run's segments as one index.
pub(crate) struct RunIndex {
    layout: Arc<RunLayout>,
    cache: Arc<ReaderCache>,
}

impl std::fmt::Debug for RunIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunIndex")
            .field("segments", &self.layout.segments.len())
            .field("blocks", &self.layout.blocks.len())
            .finish()
    }
}

impl Clone for RunIndex {
    fn clone(&self) -> RunIndex {
        RunIndex {
            layout: self.layout.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl RunIndex {
    /// Opens the sealed segments of the run at `dir` (none yet is an empty run), reusing what
    /// `cache` holds of them.
    pub fn open(dir: &Path, cache: &Arc<ReaderCache>) -> Result<RunIndex> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let paths: Vec<PathBuf> = layout::covering(layout::segment_files(dir)?)
                .into_iter()
                .map(|f| f.path)
                .collect();
            if let Some((known, layout)) = lock(&cache.layouts).get(dir) {
                if *known == paths {
                    return Ok(RunIndex::with(layout.clone(), cache));
                }
            }
            let mut segments = Vec::with_capacity(paths.len());
            let mut vanished = false;
            for path in &paths {
                match cache.segment(path) {
                    Ok(segment) => segments.push(segment),
                    Err(StoreError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        vanished = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if vanished && attempt < OPEN_ATTEMPTS {
                continue;
            }
            cache.forget_others(dir, &paths);
            let layout = Arc::new(RunLayout::over(segments));
            let mut layouts = lock(&cache.layouts);
            if layouts.len() >= CACHED_LAYOUTS {
                layouts.clear();
            }
            layouts.insert(dir.to_path_buf(), (paths, layout.clone()));
            return Ok(RunIndex::with(layout, cache));
        }
    }

    fn with(layout: Arc<RunLayout>, cache: &Arc<ReaderCache>) -> RunIndex {
        RunIndex {
            layout,
            cache: cache.clone(),
        }
    }

    /// How many calls the run holds.
    pub fn call_count(&self) -> u64 {
        self.layout.blocks.iter().map(|b| b.meta.calls as u64).sum()
    }

    /// How many tail calls are stored with their arguments.
    pub fn tail_call_count(&self) -> Result<u64> {
        let mut n: u64 = self.layout.blocks.iter().map(|b| b.meta.tails as u64).sum();
        for segment in &self.layout.segments {
            n += segment.read(|txn| table_len(txn, LATE_TAILS))?;
        }
        Ok(n)
    }

    /// How many calls raised.
    pub fn exception_count(&self) -> Result<u64> {
        let mut n = 0;
        for segment in &self.layout.segments {
            n += segment.read(|txn| table_len(txn, EXCEPTIONS))?;
        }
        Ok(n)
    }

    /// The largest call id stored, if any.
    pub fn last_id(&self) -> Option<u64> {
        self.layout.reach.last().copied()
    }

    /// The blocks, by smallest id.
    pub fn blocks(&self) -> &[BlockRef] {
        &self.layout.blocks
    }

    /// The text of an atom id (`"?"` when unknown).
    pub fn atom(&self, id: u32) -> String {
        self.atom_str(id).to_owned()
    }

    /// The text of an atom id, borrowed (`"?"` when unknown).
    pub fn atom_str(&self, id: u32) -> &str {
        self.layout.atoms.get(&id).map_or("?", String::as_str)
    }

    /// The id of an atom, if any stored row names it.
    pub fn atom_id(&self, text: &str) -> Option<u32> {
        self.layout.atom_ids.get(text).copied()
    }

    /// Block `i` (of [`RunIndex::blocks`]), decoded.
    pub fn block(&self, i: usize) -> Result<Arc<Block>> {
        let b = self.layout.blocks[i];
        let segment = &self.layout.segments[b.segment];
        let key = (segment.uid, b.no);
        if let Some(block) = lock(&self.cache.blocks).get(&key) {
            return Ok(block.clone());
        }
        let decoded =
            segment.read(|txn| {
                let table = open(txn, BLOCKS)?.ok_or_else(|| StoreError::Damaged {
                    path: segment.path.clone(),
                    problem: "no blocks table".into(),
                })?;
                let blob = table.get(b.no).during("reading a block")?.ok_or_else(|| {
                    StoreError::Damaged {
                        path: segment.path.clone(),
                        problem: format!("block {} is missing", b.no),
                    }
                })?;
                Block::decode(blob.value())
                    .map(|block| block.read_from(&segment.path))
                    .map_err(|e| StoreError::Damaged {
                        path: segment.path.clone(),
                        problem: format!("block {}: {e}", b.no),
                    })
            })?;
        let block = Arc::new(decoded);
        let mut cache = lock(&self.cache.blocks);
        if cache.len() >= CACHED_BLOCKS {
            cache.clear();
        }
        cache.insert(key, block.clone());
        Ok(block)
    }

    /// The head of call `id`, if stored.
    pub fn locate(&self, id: u64) -> Result<Option<HeadRef>> {
        let upto = self.layout.blocks.partition_point(|b| b.meta.min_id <= id);
        for i in (0..upto).rev() {
            if self.layout.reach[i] < id {
                break;
            }
            if self.layout.blocks[i].meta.max_id < id {
                continue;
            }
            let block = self.block(i)?;
            if let Some(pos) = block.find(id) {
                return Ok(Some(HeadRef { block, pos }));
            }
        }
        Ok(None)
    }

    /// Every function's calls, per block entry: `((module, function), calls)`.
    pub fn function_totals(&self) -> Result<Vec<((u32, u32), u64)>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, FUNCTION_BLOCKS)? {
                    for row in table.iter().during("reading an index")? {
                        let (key, n) = row.during("reading an index")?;
                        let key = key.value();
                        out.push((((key >> 96) as u32, (key >> 64) as u32), n.value() as u64));
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// The functions of `module` that have calls.
    pub fn functions_of(&self, module: u32) -> Result<Vec<u32>> {
        let mut out = FxHashSet::default();
        let from = (module as u128) << 96;
        let to = from | ((1u128 << 96) - 1);
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, FUNCTION_BLOCKS)? {
                    for row in table.range(from..=to).during("reading an index")? {
                        let (key, _) = row.during("reading an index")?;
                        out.insert((key.value() >> 64) as u32);
                    }
                }
                Ok(())
            })?;
        }
        let mut out: Vec<u32> = out.into_iter().collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The candidate blocks of a walk, each with how many selected calls it holds.
    fn candidates(&self, select: Select, lo: u64, hi: u64) -> Result<Vec<(usize, u32)>> {
        let overlapping = self.overlapping(lo, hi);
        let mut out = Vec::new();
        for window in overlapping.chunks(WINDOW_BLOCKS) {
            out.extend(self.selected(select, window)?);
        }
        Ok(out)
    }

    /// The blocks that may hold calls with ids in `[lo, hi]`, in directory order.
    fn overlapping(&self, lo: u64, hi: u64) -> Vec<usize> {
        let blocks = &self.layout.blocks;
        let upto = blocks.partition_point(|b| b.meta.min_id <= hi);
        let mut out = Vec::new();
        for i in (0..upto).rev() {
            if self.layout.reach[i] < lo {
                break;
            }
            if blocks[i].meta.max_id >= lo {
                out.push(i);
            }
        }
        out.reverse();
        out
    }

    /// Those of `window` (blocks, in any order) that hold selected calls, in the same order,
    /// with how many each holds. Blocks cut together have nearby numbers, so the index is read
    /// as one short range per segment the window spans.
    fn selected(&self, select: Select, window: &[usize]) -> Result<Vec<(usize, u32)>> {
        let blocks = &self.layout.blocks;
        type Key = Box<dyn Fn(u32) -> u128>;
        let (def, key): (TableDefinition<u128, u32>, Key) = match select {
            Select::All => return Ok(window.iter().map(|&i| (i, blocks[i].meta.calls)).collect()),
            Select::Pid(pid) => (PID_BLOCKS, Box::new(move |no| pair(pid, no as u64))),
            Select::Function(m, f) => (
                FUNCTION_BLOCKS,
                Box::new(move |no| (m as u128) << 96 | (f as u128) << 64 | no as u128),
            ),
        };
        let mut found: FxHashMap<u32, u32> = FxHashMap::default();
        let mut segments: Vec<usize> = window.iter().map(|&i| blocks[i].segment).collect();
        segments.sort_unstable();
        segments.dedup();
        for s in segments {
            let numbers = window
                .iter()
                .filter(|&&i| blocks[i].segment == s)
                .map(|&i| blocks[i].no);
            let (first, last) = numbers.fold((u32::MAX, 0), |(a, b), n| (a.min(n), b.max(n)));
            self.layout.segments[s].read(|txn| {
                if let Some(table) = open(txn, def)? {
                    for row in table
                        .range(key(first)..=key(last))
                        .during("reading an index")?
                    {
                        let (k, n) = row.during("reading an index")?;
                        found.insert(k.value() as u64 as u32, n.value());
                    }
                }
                Ok(())
            })?;
        }
        Ok(window
            .iter()
            .filter_map(|&i| found.get(&blocks[i].no).map(|&n| (i, n)))
            .collect())
    }

    /// Walks the selected calls with ids in `[lo, hi]`, in id order (`forward`) or newest
    /// first.
    pub fn heads(&self, select: Select, lo: u64, hi: u64, forward: bool) -> Result<Heads<'_>> {
        let mut pending = self.overlapping(lo, hi);
        if !forward {
            pending.sort_unstable_by_key(|&i| {
                std::cmp::Reverse((self.layout.blocks[i].meta.max_id, i))
            });
        }
        Ok(Heads {
            index: self,
            opened: 0,
            values: Values::OnDemand,
            ahead: None,
            pending,
            filtered: 0,
            order: std::collections::VecDeque::new(),
            cursors: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            select,
            lo,
            hi,
            forward,
        })
    }

    /// How many selected calls have ids in `[lo, hi]`: blocks that lie inside the range count
    /// from the index, without decoding.
    pub fn count(&self, select: Select, lo: u64, hi: u64) -> Result<u64> {
        let mut n = 0u64;
        for (i, calls) in self.candidates(select, lo, hi)? {
            let meta = &self.layout.blocks[i].meta;
            if meta.min_id >= lo && meta.max_id <= hi {
                n += calls as u64;
            } else {
                let block = self.block(i)?;
                n += block
                    .heads
                    .iter()
                    .filter(|h| h.id >= lo && h.id <= hi && select.matches(h))
                    .count() as u64;
            }
        }
        Ok(n)
    }

    /// The end of call `id` when it came after its call's block was written.
    pub fn late_end(&self, id: u64) -> Result<Option<OwnedEnd>> {
        for segment in self.layout.segments.iter().rev() {
            let found = segment.read(|txn| {
                let Some(table) = open(txn, LATE_ENDS)? else {
                    return Ok(None);
                };
                match table.get(id).during("reading a call's end")? {
                    Some(row) => Ok(Some(OwnedEnd::from(&EndRow::decode(row.value())?))),
                    None => Ok(None),
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The tail calls of call `id` that came after its block was written: (index, row).
    pub fn late_tails(&self, id: u64) -> Result<Vec<(u32, OwnedTail)>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, LATE_TAILS)? {
                    for row in table
                        .range(pair(id, 0)..=pair(id, u64::MAX))
                        .during("reading tail calls")?
                    {
                        let (key, row) = row.during("reading tail calls")?;
                        let row = TailCallRow::decode(row.value())?;
                        out.push((key.value() as u64 as u32, OwnedTail::from(&row)));
                    }
                }
                Ok(())
            })?;
        }
        out.sort_by_key(|(index, _)| *index);
        Ok(out)
    }

    /// The ids of calls that raised, within `[lo, hi]`, newest first.
    pub fn exceptions(&self, lo: u64, hi: u64) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, EXCEPTIONS)? {
                    for row in table.range(lo..=hi).during("listing exceptions")? {
                        out.push(row.during("listing exceptions")?.0.value());
                    }
                }
                Ok(())
            })?;
        }
        out.sort_unstable_by(|a, b| b.cmp(a));
        out.dedup();
        Ok(out)
    }

    /// The process record of `pid`.
    pub fn process(&self, pid: u64) -> Result<Option<OwnedProcess>> {
        for segment in self.layout.segments.iter().rev() {
            let found = segment.read(|txn| {
                let Some(table) = open(txn, PROCESSES)? else {
                    return Ok(None);
                };
                match table.get(pid).during("reading a process")? {
                    Some(row) => Ok(Some(OwnedProcess::from(&ProcessRow::decode(row.value())?))),
                    None => Ok(None),
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Every process record, by pid.
    pub fn processes(&self) -> Result<Vec<(u64, OwnedProcess)>> {
        let mut out = FxHashMap::default();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, PROCESSES)? {
                    for row in table.iter().during("reading processes")? {
                        let (pid, row) = row.during("reading processes")?;
                        out.entry(pid.value())
                            .or_insert(OwnedProcess::from(&ProcessRow::decode(row.value())?));
                    }
                }
                Ok(())
            })?;
        }
        let mut out: Vec<_> = out.into_iter().collect();
        out.sort_unstable_by_key(|(pid, _)| *pid);
        Ok(out)
    }

    /// The rows of a `pid << 64 | call` table (`started`, `served`) for `pid` with calls in
    /// `[lo, hi]`, by call, at most `most`: `(call, value)`.
    pub fn links(
        &self,
        def: TableDefinition<u128, u64>,
        pid: u64,
        lo: u64,
        hi: u64,
        most: usize,
    ) -> Result<Vec<(u64, u64)>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, def)? {
                    for row in table
                        .range(pair(pid, lo)..=pair(pid, hi))
                        .during("reading links")?
                        .take(most)
                    {
                        let (key, value) = row.during("reading links")?;
                        out.push((key.value() as u64, value.value()));
                    }
                }
                Ok(())
            })?;
        }
        out.sort_unstable();
        out.truncate(most);
        Ok(out)
    }

    /// Every row of a `pid << 64 | call` table, by key: `(pid, call, value)`.
    pub fn all_links(&self, def: TableDefinition<u128, u64>) -> Result<Vec<(u64, u64, u64)>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, def)? {
                    for row in table.iter().during("reading links")? {
                        let (key, value) = row.during("reading links")?;
                        let key = key.value();
                        out.push(((key >> 64) as u64, key as u64, value.value()));
                    }
                }
                Ok(())
            })?;
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Every test of the run, in the order they finished: `(time, test)`.
    pub fn tests(&self) -> Result<Vec<(u64, Test)>> {
        let mut out = std::collections::BTreeMap::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, TESTS)? {
                    for row in table.iter().during("reading tests")? {
                        let (key, row) = row.during("reading tests")?;
                        out.insert(key.value(), crate::codec::decode_test(row.value())?);
                    }
                }
                Ok(())
            })?;
        }
        Ok(out
            .into_iter()
            .map(|(key, test)| ((key >> 64) as u64, test))
            .collect())
    }

    /// Every global pause and resume of recording, in time order: `(time, paused)`.
    pub fn pauses(&self) -> Result<Vec<(u64, bool)>> {
        let mut out = std::collections::BTreeMap::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, PAUSES)? {
                    for row in table.iter().during("reading pauses")? {
                        let (key, paused) = row.during("reading pauses")?;
                        out.insert(key.value(), paused.value() != 0);
                    }
                }
                Ok(())
            })?;
        }
        Ok(out
            .into_iter()
            .map(|(key, paused)| ((key >> 64) as u64, paused))
            .collect())
    }

    /// The process of another node a remote key stands for (see `crate::remote_key`).
    pub fn remote_process(&self, key: u64) -> Result<Option<RemoteProcess>> {
        for segment in self.layout.segments.iter().rev() {
            let found = segment.read(|txn| match open(txn, REMOTE_PROCESSES)? {
                Some(table) => match table.get(key).during("reading a remote process")? {
                    Some(row) => Ok(Some(decode_remote(row.value())?)),
                    None => Ok(None),
                },
                None => Ok(None),
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The rows of a `u128`-keyed table of byte records with keys in `[lo, hi]`, from every
    /// segment, by key.
    pub fn byte_rows(
        &self,
        def: TableDefinition<u128, &'static [u8]>,
        lo: u128,
        hi: u128,
    ) -> Result<Vec<(u128, Vec<u8>)>> {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, def)? {
                    for row in table.range(lo..=hi).during("reading rows")? {
                        let (key, value) = row.during("reading rows")?;
                        out.push((key.value(), value.value().to_vec()));
                    }
                }
                Ok(())
            })?;
        }
        out.sort_by_key(|(key, _)| *key);
        Ok(out)
    }

    /// The rows of a `u128`-keyed table of fixed-size values with keys in `[lo, hi]`, from
    /// every segment, by key.
    pub fn value_rows<V>(
        &self,
        def: TableDefinition<u128, V>,
        lo: u128,
        hi: u128,
    ) -> Result<Vec<(u128, V)>>
    where
        V: for<'a> redb::Value<SelfType<'a> = V> + 'static,
    {
        let mut out = Vec::new();
        for segment in &self.layout.segments {
            segment.read(|txn| {
                if let Some(table) = open(txn, def)? {
                    for row in table.range(lo..=hi).during("reading rows")? {
                        let (key, value) = row.during("reading rows")?;
                        out.push((key.value(), value.value()));
                    }
                }
                Ok(())
            })?;
        }
        out.sort_by_key(|(key, _)| *key);
        Ok(out)
    }

    /// The client of a call that served a request.
    pub fn client_of(&self, id: u64) -> Result<Option<u64>> {
        for segment in &self.layout.segments {
            let found = segment.read(|txn| match open(txn, CLIENTS)? {
                Some(table) => Ok(table.get(id).during("reading a client")?.map(|v| v.value())),
                None => Ok(None),
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

/// A table of a segment, or `None` when the segment has none.
fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e).during("opening a table"),
    }
}

fn table_len<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64> {
    match open(txn, def)? {
        Some(t) => t.len().during("counting"),
        None => Ok(0),
    }
}

/// An end row, owned.
#[derive(Debug, Clone)]
pub(crate) struct OwnedEnd {
    pub time: u64,
    pub scheduler: u16,
    pub outcome: crate::Outcome,
    pub tail_calls: u32,
    pub value: Vec<u8>,
}

impl From<&EndRow<'_>> for OwnedEnd {
    fn from(r: &EndRow<'_>) -> Self {
        OwnedEnd {
            time: r.time,
            scheduler: r.scheduler,
            outcome: r.outcome,
            tail_calls: r.tail_calls,
            value: r.value.to_vec(),
        }
    }
}

/// A tail call row, owned.
#[derive(Debug, Clone)]
pub(crate) struct OwnedTail {
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub time: u64,
    pub args: Vec<u8>,
}

impl From<&TailCallRow<'_>> for OwnedTail {
    fn from(r: &TailCallRow<'_>) -> Self {
        OwnedTail {
            module: r.module,
            function: r.function,
            arity: r.arity,
            time: r.time,
            args: r.args.to_vec(),
        }
    }
}

/// A process row, owned.
#[derive(Debug, Clone)]
pub(crate) struct OwnedProcess {
    pub first_call: u64,
    pub origin_kind: u8,
    pub origin_pid: u64,
    pub text: String,
    pub origin_text: String,
    pub name: String,
}

impl From<&ProcessRow<'_>> for OwnedProcess {
    fn from(r: &ProcessRow<'_>) -> Self {
        OwnedProcess {
            first_call: r.first_call,
            origin_kind: r.origin_kind,
            origin_pid: r.origin_pid,
            text: r.text.to_owned(),
            origin_text: r.origin_text.to_owned(),
            name: r.name.to_owned(),
        }
    }
}

/// A walk over selected calls in id order: the candidate blocks are opened lazily, merged
/// through a heap (blocks may overlap).
pub(crate) struct Heads<'a> {
    index: &'a RunIndex,
    /// How many blocks it opened.
    opened: usize,
    /// Whether the reading threads decompress blocks' values too.
    values: Values,
    /// The reading threads, once the walk is long enough (see [`READ_AHEAD_AFTER`]).
    ahead: Option<ReadAhead>,
    /// The blocks overlapping the range, in walking order.
    pending: Vec<usize>,
    /// How many of `pending` were checked against the index.
    filtered: usize,
    /// Blocks that hold selected calls, in walking order, not opened yet.
    order: std::collections::VecDeque<usize>,
    /// The open blocks' positions; `None` once a block is walked through, so that its
    /// block is dropped (a walk over a whole run holds only the blocks it is in).
    cursors: Vec<Option<HeadRef>>,
    /// Slots of `cursors` free for the next block.
    free: Vec<usize>,
    /// `(key, cursor)`, a max-heap: the key is the id walking newest first, its complement
    /// walking forward.
    heap: BinaryHeap<(u64, usize)>,
    select: Select,
    lo: u64,
    hi: u64,
    forward: bool,
}

/// Which of a block's values a walk will read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    /// Some or none: each frame is decompressed when first read.
    OnDemand,
    /// Every value of every call: the reading threads decompress them ahead.
    All,
}

/// A block as a reading thread gives it back.
type Decoded = Result<Arc<Block>>;

/// Threads that decode the blocks a walk will open next, in the order it opens them: job `k`
/// goes to thread `k % threads`, and its block comes back from that thread's channel.
struct ReadAhead {
    /// Each thread's jobs (blocks to decode) and decoded blocks, in job order.
    threads: Vec<(Sender<usize>, Receiver<Decoded>)>,
    /// How many jobs were sent, and how many blocks received.
    sent: usize,
    received: usize,
}

impl ReadAhead {
    /// Starts one thread per core (the walk's own thread mostly waits for them: decoding is
    /// the larger part of a scan); `None` if the system refuses a thread (the walk then reads
    /// blocks itself).
    fn start(index: &RunIndex, values: Values) -> Option<ReadAhead> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (0..cores.clamp(1, READ_AHEAD_THREADS))
            .map(|_| {
                let (jobs, todo) = std::sync::mpsc::channel::<usize>();
                let (done, blocks) = std::sync::mpsc::sync_channel(READ_AHEAD_BLOCKS);
                let index = index.clone();
                std::thread::Builder::new()
                    .name("store-read-ahead".into())
                    .spawn(move || {
                        // Ends when the walk is dropped: no more jobs, or no one to receive.
                        for i in todo {
                            let block = index.block(i);
                            if let (Ok(block), Values::All) = (&block, values) {
                                block.decompress_all();
                            }
                            if done.send(block).is_err() {
                                break;
                            }
                        }
                    })
                    .map(|_| (jobs, blocks))
            })
            .collect::<std::io::Result<Vec<_>>>()
            .ok()?;
        Some(ReadAhead {
            threads,
            sent: 0,
            received: 0,
        })
    }

    /// How many sent jobs are not received yet.
    fn in_flight(&self) -> usize {
        self.sent - self.received
    }

    /// Sends block `i` to be decoded; false if its thread stopped.
    fn send(&mut self, i: usize) -> bool {
        let ok = self.threads[self.sent % self.threads.len()]
            .0
            .send(i)
            .is_ok();
        self.sent += ok as usize;
        ok
    }

    /// The next decoded block, in job order; `None` if its thread stopped.
    fn receive(&mut self) -> Option<Decoded> {
        let block = self.threads[self.received % self.threads.len()]
            .1
            .recv()
            .ok();
        self.received += 1;
        block
    }
}

impl<'a> Heads<'a> {
    /// The walk, its blocks' values read ahead as `values` says.
    pub fn reading(mut self, values: Values) -> Heads<'a> {
        self.values = values;
        self
    }

    /// Block `i`, the next in `order` (just popped): from the reading threads once they run.
    fn fetch(&mut self, i: usize) -> Result<Arc<Block>> {
        self.opened += 1;
        if self.ahead.is_none() && self.opened > READ_AHEAD_AFTER && !self.order.is_empty() {
            self.ahead = ReadAhead::start(self.index, self.values);
        }
        let block = match &mut self.ahead {
            Some(ahead) if ahead.in_flight() > 0 => match ahead.receive() {
                Some(block) => Some(block),
                // A thread stopped (it never should): the walk reads blocks itself.
                None => {
                    self.ahead = None;
                    None
                }
            },
            _ => None,
        };
        if let Some(ahead) = &mut self.ahead {
            for &next in self.order.iter().skip(ahead.in_flight()) {
                if !ahead.send(next) {
                    break;
                }
            }
        }
        block.unwrap_or_else(|| self.index.block(i))
    }

    fn key(&self, id: u64) -> u64 {
        if self.forward {
            u64::MAX - id
        } else {
            id
        }
    }

    fn id_of(&self, key: u64) -> u64 {
        if self.forward {
            u64::MAX - key
        } else {
            key
        }
    }

    fn wanted(&self, head: &Head) -> bool {
        head.id >= self.lo && head.id <= self.hi && self.select.matches(head)
    }

    /// The first wanted position at or after (forward) or before `pos`, in walking order.
    fn seek(&self, block: &Block, mut pos: Option<usize>) -> Option<usize> {
        while let Some(p) = pos {
            let head = block.heads.get(p)?;
            if self.forward && head.id > self.hi || !self.forward && head.id < self.lo {
                return None;
            }
            if self.wanted(head) {
                return Some(p);
            }
            pos = if self.forward {
                Some(p + 1)
            } else {
                p.checked_sub(1)
            };
        }
        None
    }

    /// The next block to open, checking the next window of blocks against the index when
    /// the checked ones are used up.
    fn peek_block(&mut self) -> Result<Option<usize>> {
        while self.order.is_empty() && self.filtered < self.pending.len() {
            let end = (self.filtered + WINDOW_BLOCKS).min(self.pending.len());
            let window = &self.pending[self.filtered..end];
            let selected = self.index.selected(self.select, window)?;
            self.order.extend(selected.into_iter().map(|(i, _)| i));
            self.filtered = end;
        }
        Ok(self.order.front().copied())
    }

    fn open(&mut self, i: usize) -> Result<()> {
        self.order.pop_front();
        let block = self.fetch(i)?;
        let start = if self.forward {
            Some(block.heads.partition_point(|h| h.id < self.lo))
        } else {
            block
                .heads
                .partition_point(|h| h.id <= self.hi)
                .checked_sub(1)
        };
        if let Some(pos) = self.seek(&block, start) {
            let key = self.key(block.heads[pos].id);
            let cursor = Some(HeadRef { block, pos });
            let slot = match self.free.pop() {
                Some(slot) => {
                    self.cursors[slot] = cursor;
                    slot
                }
                None => {
                    self.cursors.push(cursor);
                    self.cursors.len() - 1
                }
            };
            self.heap.push((key, slot));
        }
        Ok(())
    }
}

impl Iterator for Heads<'_> {
    type Item = Result<HeadRef>;

    fn next(&mut self) -> Option<Result<HeadRef>> {
        // Open every block that may hold the next call in walking order.
        loop {
            let next = match self.peek_block() {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => {
                    self.filtered = self.pending.len();
                    self.order.clear();
                    return Some(Err(e));
                }
            };
            let meta = &self.index.layout.blocks[next].meta;
            let bound = if self.forward {
                meta.min_id
            } else {
                meta.max_id
            };
            if let Some(&(top, _)) = self.heap.peek() {
                let top = self.id_of(top);
                let later = if self.forward {
                    bound > top
                } else {
                    bound < top
                };
                if later {
                    break;
                }
            }
            if let Err(e) = self.open(next) {
                self.filtered = self.pending.len();
                self.order.clear();
                return Some(Err(e));
            }
        }
        let (_, c) = self.heap.pop()?;
        let found = self.cursors[c].clone()?;
        let step = if self.forward {
            Some(found.pos + 1)
        } else {
            found.pos.checked_sub(1)
        };
        match self.seek(&found.block, step) {
            Some(pos) => {
                if let Some(cursor) = &mut self.cursors[c] {
                    cursor.pos = pos;
                }
                let key = self.key(found.block.heads[pos].id);
                self.heap.push((key, c));
            }
            None => {
                self.cursors[c] = None;
                self.free.push(c);
            }
        }
        Some(Ok(found))
    }
}
