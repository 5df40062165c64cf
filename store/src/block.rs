//! Blocks: calls stored together, column by column, compressed.
//!
//! A block holds up to [`BLOCK_CALLS`] calls (fewer when their values pass [`BLOCK_BYTES`]),
//! sorted by id, with the tail calls the writer had for them. It is zstd frames (with
//! checksums): the *heads* (ids, parents, processes, functions, times, outcomes and the lengths
//! of the values, as delta-coded varint columns, with a dictionary of the block's processes and
//! functions), then the *values* (argument lists, results and tail calls' arguments, in the
//! external term format), grouped by function: each function's values are one run of bytes
//! (every call's arguments then its result or exception, in call order, then the arguments
//! of its tail calls). A function whose values reach [`OWN_FRAME_BYTES`] has a frame of its
//! own; smaller ones share frames of up to [`SHARED_FRAME_BYTES`], and the heads say which
//! frame holds which function. Queries that walk calls (trees, counts, process timelines) decode heads
//! only; a value is decompressed with the other values of its frame when it is first read,
//! so a pattern over one function's calls decompresses only that function's frame.
//!
//! Why this grouping (measured on jason's suite and the 10 M-call shop store; BENCHMARKS.md,
//! "Block format 3"): a function's results resemble its arguments and the calls of one
//! function resemble each other, so they compress best together (jason's blocks 0.71x of
//! version 1's, where results apart from arguments made them 1.39x); many small frames cost
//! zstd a table set-up each, so small functions share.
//!
//! ```text
//! "ESB" 3 | calls:u32 | heads_raw:u32 heads_z:u32 | frames:u32 | frames × (raw:u32 z:u32)
//!         | heads | frame ...
//! heads = postcard(columns) ++ postcard(frame of each function of the dictionary)
//! ```
//!
//! Still read: version 2 (2026-12-03: frame 0 every result, frame 1+f function f's arguments,
//! no frame column) and version 1 (before: every value in one frame).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::event::{Bytes, Class, Outcome};

/// The most calls a block holds.
pub(crate) const BLOCK_CALLS: usize = 1024;

/// A block is closed once its values reach this many bytes (before compression), whatever
/// its number of calls: a block's memory stays bounded with large captures.
pub(crate) const BLOCK_BYTES: usize = 2 << 20;

/// The most bytes a decompressed part of a block may claim: a damaged length never makes a
/// reader allocate more.
const MAX_RAW_BYTES: usize = 256 << 20;

const MAGIC: [u8; 4] = [b'E', b'S', b'B', 3];
const HEADER_BYTES: usize = 20;
/// Version 2: one frame of arguments per function, the same header as version 3.
const MAGIC_V2: [u8; 4] = [b'E', b'S', b'B', 2];
/// The magic and header length of version 1 (one values frame); still read.
const MAGIC_V1: [u8; 4] = [b'E', b'S', b'B', 1];
const HEADER_BYTES_V1: usize = 24;

/// A function whose values in a block reach this many bytes has a frame of its own (a
/// pattern over its calls decompresses nothing else)...
pub(crate) const OWN_FRAME_BYTES: usize = 16 << 10;

/// ...smaller ones share frames, closed once they hold this many bytes: each frame costs zstd
/// a table set-up and compresses less. Chosen on jason's suite (many small functions a block)
/// and the 10 M-call shop store (ten functions of 10-25 KiB a block): BENCHMARKS.md, "Block
/// format 3".
pub(crate) const SHARED_FRAME_BYTES: usize = 256 << 10;

/// zstd's level: one of its fast levels. Measured on the blocks of the jason suite's recording
/// (1.2 GB of raw columns and values): level 1 packs them 23x at 600 MB/s, -3 19.6x at
/// 1.4 GB/s, -5 17.9x at 1.7 GB/s. The drain must keep up with the recorder, and 20x is far
/// more than the store needs: -3.
const LEVEL: i32 = -3;

/// A call as the writer holds it until its block is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingCall {
    pub id: u64,
    /// The parent's id, 0 for none.
    pub parent: u64,
    pub pid: u64,
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub scheduler: u16,
    pub start: u64,
    pub args: Bytes,
    pub end: Option<PendingEnd>,
    pub tails: Vec<PendingTail>,
}

/// The end of a pending call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingEnd {
    pub time: u64,
    pub scheduler: u16,
    pub outcome: Outcome,
    pub tail_calls: u32,
    pub value: Bytes,
}

/// A tail call of a pending call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingTail {
    pub index: u32,
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub time: u64,
    pub args: Bytes,
}

impl PendingCall {
    /// The bytes of its values (what a block's value part holds for it).
    pub fn value_bytes(&self) -> usize {
        self.args.len()
            + self.end.as_ref().map_or(0, |e| e.value.len())
            + self.tails.iter().map(|t| t.args.len()).sum::<usize>()
    }
}

/// What the block directory keeps of a block, so that readers find calls without opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockMeta {
    /// The smallest call id it holds.
    pub min_id: u64,
    /// The largest.
    pub max_id: u64,
    /// How many calls.
    pub calls: u32,
    /// The earliest start among its calls.
    pub min_start: u64,
    /// The latest start.
    pub max_start: u64,
    /// How many tail calls it holds.
    pub tails: u32,
}

/// A block ready to be stored, with the index entries that point at it.
#[derive(Debug)]
pub(crate) struct EncodedBlock {
    /// The block's bytes.
    pub blob: Vec<u8>,
    /// Its directory entry.
    pub meta: BlockMeta,
    /// Each process in it with its number of calls.
    pub pids: Vec<(u64, u32)>,
    /// Each (module, function) in it with its number of calls.
    pub functions: Vec<((u32, u32), u32)>,
    /// Its calls that raised: call id → `module << 32 | function`.
    pub exceptions: Vec<(u64, u64)>,
    /// Every atom it names.
    pub atoms: Vec<u32>,
}

/// The columns of a block's heads, as serialized (postcard: varints, zigzag for signed).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Columns {
    first_id: u64,
    /// `id[i] - id[i-1]` for every call after the first.
    id_step: Vec<u64>,
    /// `id - parent`, 0 for none.
    parent_back: Vec<u64>,
    /// The block's processes; `pid_of` indexes into it.
    pids: Vec<u64>,
    pid_of: Vec<u32>,
    /// The block's functions (module, function, arity); `mfa_of` indexes into it.
    mfas: Vec<(u32, u32, u8)>,
    mfa_of: Vec<u32>,
    scheduler: Vec<u16>,
    first_start: u64,
    /// `start[i] - start[i-1]` (calls are sorted by id, which is nearly start order).
    start_step: Vec<i64>,
    /// 0 running, else `1 + outcome` (1 return, 2 error, 3 throw, 4 exit).
    end_kind: Vec<u8>,
    /// For each call that ended, in order: `end - start`, its scheduler, tail calls, value length.
    end_after: Vec<u64>,
    end_scheduler: Vec<u16>,
    tail_count: Vec<u32>,
    value_len: Vec<u32>,
    args_len: Vec<u32>,
    tails: Vec<TailColumn>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TailColumn {
    /// The call's position in the block.
    call: u32,
    index: u32,
    mfa: u32,
    /// `time - start` of the call.
    after: i64,
    args_len: u32,
}

/// Where a value lies in a block's values: in which frame, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    frame: u32,
    start: u32,
    len: u32,
}

/// A compressed frame of values, in [`Block::values_z`].
#[derive(Debug)]
struct Frame {
    /// Where its compressed bytes start.
    at: usize,
    /// How many compressed bytes.
    len: usize,
    /// How many bytes it decompresses to.
    raw: usize,
    /// Its bytes, decompressed on first use.
    values: OnceLock<Vec<u8>>,
}

/// A call's head: everything but its values, which [`Block::value`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub id: u64,
    /// 0 for none.
    pub parent: u64,
    pub pid: u64,
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub scheduler: u16,
    pub start: u64,
    pub args: Span,
    pub end: Option<HeadEnd>,
}

/// The end of a call, in its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeadEnd {
    pub time: u64,
    pub scheduler: u16,
    pub outcome: Outcome,
    pub tail_calls: u32,
    pub value: Span,
}

/// A captured tail call, in its call's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TailHead {
    /// The call's position in the block.
    pub call: usize,
    pub index: u32,
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub time: u64,
    pub args: Span,
}

/// A decoded block: its heads, and its value frames, each decompressed on first use.
#[derive(Debug)]
pub(crate) struct Block {
    /// The calls, by id.
    pub heads: Vec<Head>,
    /// The tail calls, by call then index.
    pub tails: Vec<TailHead>,
    /// The frames' compressed bytes, one after the other.
    values_z: Vec<u8>,
    frames: Vec<Frame>,
    /// The file it came from, named in errors.
    origin: std::path::PathBuf,
}

/// Encodes blocks, reusing its compression context and buffers from block to block (the
/// drain encodes thousands of blocks a second).
pub(crate) struct Encoder {
    zstd: zstd::bulk::Compressor<'static>,
    columns: Columns,
    /// The raw values of each function of the block: each call's arguments then its result
    /// or exception, in call order, then its tail calls' arguments.
    values: Vec<Vec<u8>>,
    /// The stored frame of each function's arguments (the heads' last column).
    frame_of: Vec<u32>,
    /// The block's functions, ordered by the frame that holds their arguments.
    by_frame: Vec<u32>,
    /// A shared frame's bytes, gathered before compression.
    shared: Vec<u8>,
    heads: Vec<u8>,
    heads_z: Vec<u8>,
    frame_z: Vec<u8>,
}

fn compression_error(during: &'static str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: Default::default(),
        during,
        source,
    }
}

impl Encoder {
    /// An encoder at the store's level, writing frames with checksums.
    pub fn new() -> Result<Encoder> {
        let mut zstd = zstd::bulk::Compressor::new(LEVEL)
            .map_err(|e| compression_error("starting the compressor", e))?;
        zstd.include_checksum(true)
            .map_err(|e| compression_error("starting the compressor", e))?;
        Ok(Encoder {
            zstd,
            columns: Columns::default(),
            values: Vec::new(),
            frame_of: Vec::new(),
            by_frame: Vec::new(),
            shared: Vec::new(),
            heads: Vec::new(),
            heads_z: Vec::new(),
            frame_z: Vec::new(),
        })
    }

    fn compress(
        zstd: &mut zstd::bulk::Compressor<'static>,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(bytes.len()));
        zstd.compress_to_buffer(bytes, out)
            .map_err(|e| compression_error("compressing a block", e))?;
        Ok(())
    }
}

fn outcome_kind(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Return => 1,
        Outcome::Exception(Class::Error) => 2,
        Outcome::Exception(Class::Throw) => 3,
        Outcome::Exception(Class::Exit) => 4,
    }
}

fn kind_outcome(kind: u8) -> Option<Outcome> {
    Some(match kind {
        1 => Outcome::Return,
        2 => Outcome::Exception(Class::Error),
        3 => Outcome::Exception(Class::Throw),
        4 => Outcome::Exception(Class::Exit),
        _ => return None,
    })
}

impl Columns {
    fn clear(&mut self) {
        self.id_step.clear();
        self.parent_back.clear();
        self.pids.clear();
        self.pid_of.clear();
        self.mfas.clear();
        self.mfa_of.clear();
        self.scheduler.clear();
        self.start_step.clear();
        self.end_kind.clear();
        self.end_after.clear();
        self.end_scheduler.clear();
        self.tail_count.clear();
        self.value_len.clear();
        self.args_len.clear();
        self.tails.clear();
    }
}

/// Encodes `calls` (sorted by id, not empty) as a block.
pub(crate) fn encode(calls: &[PendingCall], encoder: &mut Encoder) -> Result<EncodedBlock> {
    debug_assert!(calls.windows(2).all(|w| w[0].id < w[1].id));
    let first = calls.first().ok_or(StoreError::Corrupt {
        what: "block",
        problem: "no calls",
    })?;
    let c = &mut encoder.columns;
    c.clear();
    c.first_id = first.id;
    c.first_start = first.start;
    let values = &mut encoder.values;
    values.iter_mut().for_each(Vec::clear);
    // The values of function `mfa`'s calls and tail calls.
    let of = |values: &mut Vec<Vec<u8>>, mfa: u32| -> usize {
        let at = mfa as usize;
        if values.len() <= at {
            values.resize_with(at + 1, Vec::new);
        }
        at
    };
    let mut pid_index = rustc_hash::FxHashMap::default();
    let mut mfa_index = rustc_hash::FxHashMap::default();
    let mut pid_calls: Vec<u32> = Vec::new();
    let mut mf_calls: rustc_hash::FxHashMap<(u32, u32), u32> = Default::default();
    let mut exceptions = Vec::new();
    let mut meta = BlockMeta {
        min_id: first.id,
        max_id: first.id,
        calls: calls.len() as u32,
        min_start: first.start,
        max_start: first.start,
        tails: 0,
    };
    let mut mfa_slot = |c: &mut Columns, module: u32, function: u32, arity: u8| -> u32 {
        *mfa_index
            .entry((module, function, arity))
            .or_insert_with(|| {
                c.mfas.push((module, function, arity));
                (c.mfas.len() - 1) as u32
            })
    };
    let (mut prev_id, mut prev_start) = (first.id, first.start);
    for (i, call) in calls.iter().enumerate() {
        if i > 0 {
            c.id_step.push(call.id - prev_id);
            c.start_step
                .push(call.start.wrapping_sub(prev_start) as i64);
        }
        prev_id = call.id;
        prev_start = call.start;
        meta.max_id = call.id;
        meta.min_start = meta.min_start.min(call.start);
        meta.max_start = meta.max_start.max(call.start);
        c.parent_back.push(if call.parent == 0 {
            0
        } else {
            call.id.saturating_sub(call.parent)
        });
        let pid_slot = *pid_index.entry(call.pid).or_insert_with(|| {
            c.pids.push(call.pid);
            pid_calls.push(0);
            (c.pids.len() - 1) as u32
        });
        pid_calls[pid_slot as usize] += 1;
        c.pid_of.push(pid_slot);
        let mfa = mfa_slot(c, call.module, call.function, call.arity);
        c.mfa_of.push(mfa);
        *mf_calls.entry((call.module, call.function)).or_default() += 1;
        c.scheduler.push(call.scheduler);
        c.args_len.push(call.args.len() as u32);
        let run = of(values, mfa);
        values[run].extend_from_slice(&call.args);
        match &call.end {
            None => c.end_kind.push(0),
            Some(end) => {
                c.end_kind.push(outcome_kind(end.outcome));
                c.end_after.push(end.time.saturating_sub(call.start));
                c.end_scheduler.push(end.scheduler);
                c.tail_count.push(end.tail_calls);
                c.value_len.push(end.value.len() as u32);
                values[run].extend_from_slice(&end.value);
                if end.outcome != Outcome::Return {
                    exceptions.push((call.id, (call.module as u64) << 32 | call.function as u64));
                }
            }
        }
    }
    for (i, call) in calls.iter().enumerate() {
        for tail in &call.tails {
            let mfa = mfa_slot(c, tail.module, tail.function, tail.arity);
            c.tails.push(TailColumn {
                call: i as u32,
                index: tail.index,
                mfa,
                after: tail.time.wrapping_sub(call.start) as i64,
                args_len: tail.args.len() as u32,
            });
            let run = of(values, mfa);
            values[run].extend_from_slice(&tail.args);
        }
    }
    meta.tails = c.tails.len() as u32;
    let used = assign_frames(&encoder.values[..c.mfas.len()], &mut encoder.frame_of);
    let mut heads = std::mem::take(&mut encoder.heads);
    heads.clear();
    let cannot = |_| StoreError::Corrupt {
        what: "block",
        problem: "cannot serialize its columns",
    };
    let heads = postcard::to_extend(&*c, heads).map_err(cannot)?;
    let heads = postcard::to_extend(&encoder.frame_of, heads).map_err(cannot)?;
    Encoder::compress(&mut encoder.zstd, &heads, &mut encoder.heads_z)?;
    let raw_values: usize = encoder.values.iter().map(Vec::len).sum();
    let heads_z = &encoder.heads_z;
    let mut blob = Vec::with_capacity(HEADER_BYTES + 8 * used + heads_z.len() + raw_values / 8);
    blob.extend_from_slice(&MAGIC);
    for n in [calls.len(), heads.len(), heads_z.len(), used] {
        blob.extend_from_slice(&(n as u32).to_le_bytes());
    }
    // The frame table is filled in as the frames are compressed.
    let table = blob.len();
    blob.resize(table + 8 * used, 0);
    blob.extend_from_slice(heads_z);
    // The functions grouped by frame, each group in dictionary order (as readers expect).
    let by_frame = &mut encoder.by_frame;
    by_frame.clear();
    by_frame.extend(0..encoder.frame_of.len() as u32);
    by_frame.sort_by_key(|&f| encoder.frame_of[f as usize]);
    let mut members = by_frame.as_slice();
    for frame in 0..used {
        let count = members
            .iter()
            .take_while(|&&f| encoder.frame_of[f as usize] as usize == frame)
            .count();
        let (group, rest) = members.split_at(count);
        members = rest;
        let raw: &[u8] = match group {
            [only] => &encoder.values[*only as usize],
            _ => {
                encoder.shared.clear();
                for &f in group {
                    encoder
                        .shared
                        .extend_from_slice(&encoder.values[f as usize]);
                }
                &encoder.shared
            }
        };
        let z = if raw.is_empty() {
            0
        } else {
            Encoder::compress(&mut encoder.zstd, raw, &mut encoder.frame_z)?;
            blob.extend_from_slice(&encoder.frame_z);
            encoder.frame_z.len()
        };
        let at = table + 8 * frame;
        blob[at..at + 4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        blob[at + 4..at + 8].copy_from_slice(&(z as u32).to_le_bytes());
    }
    encoder.heads = heads;
    let c = &encoder.columns;
    let mut atoms: Vec<u32> = c.mfas.iter().flat_map(|&(m, f, _)| [m, f]).collect();
    atoms.sort_unstable();
    atoms.dedup();
    let mut functions: Vec<_> = mf_calls.into_iter().collect();
    functions.sort_unstable();
    Ok(EncodedBlock {
        blob,
        meta,
        pids: c.pids.iter().copied().zip(pid_calls).collect(),
        functions,
        exceptions,
        atoms,
    })
}

/// Chooses the frame of each function's values (`values[f]`: function f's bytes) into
/// `frame_of`, and returns how many frames the block has: a function with [`OWN_FRAME_BYTES`]
/// or more has its own frame, smaller ones fill shared frames in dictionary order, a shared
/// frame closing once it holds [`SHARED_FRAME_BYTES`].
fn assign_frames(values: &[Vec<u8>], frame_of: &mut Vec<u32>) -> usize {
    frame_of.clear();
    let mut frames = 0;
    // The shared frame being filled, and its bytes so far.
    let mut open: Option<(u32, usize)> = None;
    for bytes in values {
        if bytes.len() >= OWN_FRAME_BYTES {
            frame_of.push(frames);
            frames += 1;
            continue;
        }
        let (frame, filled) = open.unwrap_or_else(|| {
            frames += 1;
            (frames - 1, 0)
        });
        frame_of.push(frame);
        let filled = filled + bytes.len();
        open = (filled < SHARED_FRAME_BYTES).then_some((frame, filled));
    }
    frames as usize
}

fn damaged(problem: &'static str) -> StoreError {
    StoreError::Corrupt {
        what: "block",
        problem,
    }
}

thread_local! {
    /// A decompression context per thread, reused from block to block: making one costs more
    /// than decompressing a block's heads (a walk over every call decodes thousands).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn decompress(frame: &[u8], raw: usize) -> Result<Vec<u8>> {
    if raw > MAX_RAW_BYTES {
        return Err(damaged("a part claims too many bytes"));
    }
    let out = DECOMPRESSOR
        .with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = Some(zstd::bulk::Decompressor::new()?);
            }
            match cell.as_mut() {
                Some(d) => d.decompress(frame, raw),
                None => zstd::bulk::decompress(frame, raw),
            }
        })
        .map_err(|_| damaged("a part does not decompress"))?;
    if out.len() != raw {
        return Err(damaged("a part has the wrong length"));
    }
    Ok(out)
}

impl Block {
    /// Decodes a block's heads (its values wait for [`Block::value`]).
    pub fn decode(blob: &[u8]) -> Result<Block> {
        let word = |i: usize| -> Result<usize> {
            let at = 4 + 4 * i;
            blob.get(at..at + 4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
                .ok_or_else(|| damaged("not a block"))
        };
        let version = match blob.get(..4) {
            Some(m) if m == MAGIC => 3,
            Some(m) if m == MAGIC_V2 => 2,
            Some(m) if m == MAGIC_V1 => 1,
            _ => return Err(damaged("not a block")),
        };
        let version_1 = version == 1;
        let (n, heads_raw, heads_z) = (word(0)?, word(1)?, word(2)?);
        // The frames: (raw, compressed) lengths, then where the heads start.
        let (sizes, body_at) = if version_1 {
            (vec![(word(3)?, word(4)?)], HEADER_BYTES_V1)
        } else {
            let count = word(3)?;
            if HEADER_BYTES + 8 * count > blob.len() {
                return Err(damaged("its frame table is cut"));
            }
            let sizes = (0..count)
                .map(|f| Ok((word(4 + 2 * f)?, word(5 + 2 * f)?)))
                .collect::<Result<Vec<_>>>()?;
            (sizes, HEADER_BYTES + 8 * count)
        };
        let body = &blob[body_at.min(blob.len())..];
        let values_z: usize = sizes.iter().map(|s| s.1).sum();
        if body.len() != heads_z.saturating_add(values_z) {
            return Err(damaged("its parts do not add up"));
        }
        let mut at = 0;
        let frames: Vec<Frame> = sizes
            .iter()
            .map(|&(raw, len)| {
                let frame = Frame {
                    at,
                    len,
                    raw,
                    values: OnceLock::new(),
                };
                at += len;
                frame
            })
            .collect();
        let heads = decompress(&body[..heads_z], heads_raw)?;
        let (c, rest): (Columns, _) =
            postcard::take_from_bytes(&heads).map_err(|_| damaged("its columns do not parse"))?;
        let frame_of: Vec<u32> = match version {
            3 => postcard::from_bytes(rest).map_err(|_| damaged("its frames do not parse"))?,
            _ => (1..=c.mfas.len() as u32).collect(),
        };
        let ended = c.end_kind.iter().filter(|k| **k != 0).count();
        let complete = c.id_step.len() + 1 == n
            && c.start_step.len() + 1 == n
            && [
                c.parent_back.len(),
                c.pid_of.len(),
                c.mfa_of.len(),
                c.scheduler.len(),
                c.end_kind.len(),
                c.args_len.len(),
            ]
            .iter()
            .all(|len| *len == n)
            && [
                c.end_after.len(),
                c.end_scheduler.len(),
                c.tail_count.len(),
                c.value_len.len(),
            ]
            .iter()
            .all(|len| *len == ended);
        if !complete || frame_of.len() != c.mfas.len() {
            return Err(damaged("its columns have different lengths"));
        }
        // Where the next value of each run of values lies, as (frame, byte): run 0 for
        // version 2's results, run 1 + f for function f's values (version 3: arguments and
        // results; version 2: arguments), which start after those of the functions before
        // it in the same frame. Version 1 has one run.
        let mut next: Vec<(usize, u64)> = vec![(0, 0)];
        let value_run = |mfa: u32| if version == 3 { 1 + mfa as usize } else { 0 };
        if !version_1 {
            let mut bytes = vec![0u64; c.mfas.len()];
            let ended_mfas = c.mfa_of.iter().zip(&c.end_kind).filter(|(_, k)| **k != 0);
            let results = ended_mfas.map(|(m, _)| m).zip(&c.value_len);
            let results = results.filter(|_| version == 3);
            let calls = c.mfa_of.iter().zip(&c.args_len);
            let tails = c.tails.iter().map(|t| (&t.mfa, &t.args_len));
            for (&mfa, &len) in calls.chain(results).chain(tails) {
                *bytes
                    .get_mut(mfa as usize)
                    .ok_or_else(|| damaged("a function outside the dictionary"))? += len as u64;
            }
            let mut frame_bytes = vec![0u64; frames.len()];
            for (&frame, len) in frame_of.iter().zip(bytes) {
                let filled = frame_bytes
                    .get_mut(frame as usize)
                    .filter(|_| version == 3 || frame != 0)
                    .ok_or_else(|| damaged("values in a frame the block does not have"))?;
                next.push((frame as usize, *filled));
                *filled += len;
            }
        }
        let mut span = |run: usize, len: u32| -> Result<Span> {
            let run = if version_1 { 0 } else { run };
            let (frame, start) = next
                .get_mut(run)
                .ok_or_else(|| damaged("a value of a function the block does not have"))?;
            let from = *start;
            *start += len as u64;
            match frames.get(*frame) {
                Some(f) if *start <= f.raw as u64 => Ok(Span {
                    frame: *frame as u32,
                    start: from as u32,
                    len,
                }),
                _ => Err(damaged("a value lies outside its frame")),
            }
        };
        let mut heads = Vec::with_capacity(n);
        let (mut id, mut start, mut e) = (c.first_id, c.first_start, 0usize);
        for i in 0..n {
            if i > 0 {
                id = id.wrapping_add(c.id_step[i - 1]);
                start = start.wrapping_add(c.start_step[i - 1] as u64);
            }
            let pid = *c
                .pids
                .get(c.pid_of[i] as usize)
                .ok_or_else(|| damaged("a process outside the dictionary"))?;
            let &(module, function, arity) = c
                .mfas
                .get(c.mfa_of[i] as usize)
                .ok_or_else(|| damaged("a function outside the dictionary"))?;
            let args_frame = 1 + c.mfa_of[i] as usize;
            let args = span(args_frame, c.args_len[i])?;
            let end = match c.end_kind[i] {
                0 => None,
                kind => {
                    let outcome = kind_outcome(kind).ok_or_else(|| damaged("unknown outcome"))?;
                    let end = HeadEnd {
                        time: start.wrapping_add(c.end_after[e]),
                        scheduler: c.end_scheduler[e],
                        outcome,
                        tail_calls: c.tail_count[e],
                        value: span(value_run(c.mfa_of[i]), c.value_len[e])?,
                    };
                    e += 1;
                    Some(end)
                }
            };
            let parent_back = c.parent_back[i];
            heads.push(Head {
                id,
                parent: if parent_back == 0 {
                    0
                } else {
                    id.wrapping_sub(parent_back)
                },
                pid,
                module,
                function,
                arity,
                scheduler: c.scheduler[i],
                start,
                args,
                end,
            });
        }
        let mut tails = Vec::with_capacity(c.tails.len());
        for t in &c.tails {
            let call = heads
                .get(t.call as usize)
                .ok_or_else(|| damaged("a tail call of no call"))?;
            let &(module, function, arity) = c
                .mfas
                .get(t.mfa as usize)
                .ok_or_else(|| damaged("a function outside the dictionary"))?;
            tails.push(TailHead {
                call: t.call as usize,
                index: t.index,
                module,
                function,
                arity,
                time: call.start.wrapping_add(t.after as u64),
                args: span(1 + t.mfa as usize, t.args_len)?,
            });
        }
        Ok(Block {
            heads,
            tails,
            values_z: body[heads_z..].to_vec(),
            frames,
            origin: Default::default(),
        })
    }

    /// The block, naming `origin` (its segment file) in the errors of [`Block::value`].
    pub fn read_from(mut self, origin: &std::path::Path) -> Block {
        self.origin = origin.to_path_buf();
        self
    }

    /// The position of call `id`, if the block holds it.
    pub fn find(&self, id: u64) -> Option<usize> {
        self.heads.binary_search_by_key(&id, |h| h.id).ok()
    }

    /// The bytes of a value of this block.
    pub fn value(&self, span: Span) -> Result<&[u8]> {
        let damaged = |problem: &str| StoreError::Damaged {
            path: self.origin.clone(),
            problem: format!("a block's values: {problem}"),
        };
        let frame = self
            .frames
            .get(span.frame as usize)
            .ok_or_else(|| damaged("a value of a frame the block does not have"))?;
        if span.len == 0 {
            return Ok(&[]);
        }
        let values = match frame.values.get() {
            Some(v) => v,
            None => {
                let v = decompress(&self.values_z[frame.at..frame.at + frame.len], frame.raw)
                    .map_err(|e| damaged(&e.to_string()))?;
                frame.values.get_or_init(|| v)
            }
        };
        values
            .get(span.start as usize..span.start as usize + span.len as usize)
            .ok_or_else(|| damaged("a value lies outside the block"))
    }

    /// Decompresses every frame of values now (a reading thread does this ahead of a walk
    /// that reads them all). A frame that does not decompress is left for [`Block::value`]
    /// to report.
    pub fn decompress_all(&self) {
        for frame in &self.frames {
            if frame.values.get().is_none() && frame.len > 0 {
                let bytes = &self.values_z[frame.at..frame.at + frame.len];
                if let Ok(v) = decompress(bytes, frame.raw) {
                    let _ = frame.values.set(v);
                }
            }
        }
    }

    /// The captured tail calls of the call at `position`.
    pub fn tails_of(&self, position: usize) -> impl Iterator<Item = &TailHead> {
        let from = self.tails.partition_point(|t| t.call < position);
        self.tails[from..]
            .iter()
            .take_while(move |t| t.call == position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u64, pid: u64, ended: Option<Outcome>) -> PendingCall {
        PendingCall {
            id,
            parent: if id > 3 { id - 2 } else { 0 },
            pid,
            module: 7,
            function: 8 + (id % 3) as u32,
            arity: 2,
            scheduler: (id % 2) as u16 + 1,
            start: 1_000 + id * 10,
            args: Bytes::from_slice(&[131, 107, 0, 1, id as u8]),
            end: ended.map(|outcome| PendingEnd {
                time: 1_000 + id * 10 + 5,
                scheduler: 2,
                outcome,
                tail_calls: id as u32 % 4,
                value: Bytes::from_vec(vec![id as u8; (id % 50) as usize]),
            }),
            tails: if id == 15 {
                vec![PendingTail {
                    index: 0,
                    module: 7,
                    function: 99,
                    arity: 1,
                    time: 1_000 + id * 10 + 2,
                    args: Bytes::from_slice(b"tail"),
                }]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn a_block_gives_back_every_call_exactly() {
        let calls: Vec<_> = (1..=300)
            .map(|id| {
                let outcome = match id % 5 {
                    0 => None,
                    1 => Some(Outcome::Exception(Class::Throw)),
                    _ => Some(Outcome::Return),
                };
                call(id * 3, id % 4, outcome)
            })
            .collect();
        let encoded = encode(&calls, &mut Encoder::new().unwrap()).unwrap();
        assert_eq!(encoded.meta.min_id, 3);
        assert_eq!(encoded.meta.max_id, 900);
        assert_eq!(encoded.meta.calls, 300);
        assert_eq!(encoded.pids.iter().map(|p| p.1).sum::<u32>(), 300);
        assert_eq!(encoded.exceptions.len(), 60);
        let block = Block::decode(&encoded.blob).unwrap();
        for (call, head) in calls.iter().zip(&block.heads) {
            assert_eq!(head.id, call.id);
            assert_eq!(head.parent, call.parent);
            assert_eq!(head.pid, call.pid);
            assert_eq!(
                (head.module, head.function, head.arity),
                (7, call.function, 2)
            );
            assert_eq!(head.start, call.start);
            assert_eq!(block.value(head.args).unwrap(), call.args.as_slice());
            match (&head.end, &call.end) {
                (None, None) => {}
                (Some(h), Some(c)) => {
                    assert_eq!(
                        (h.time, h.outcome, h.tail_calls),
                        (c.time, c.outcome, c.tail_calls)
                    );
                    assert_eq!(block.value(h.value).unwrap(), c.value.as_slice());
                }
                other => panic!("ends differ: {other:?}"),
            }
        }
        assert_eq!(block.find(15), Some(4));
        assert_eq!(block.find(16), None);
        let tails: Vec<_> = block.tails_of(4).collect();
        assert_eq!(tails.len(), 1);
        assert_eq!((tails[0].function, tails[0].time), (99, 1_152));
        assert_eq!(block.value(tails[0].args).unwrap(), b"tail");
    }

    /// `calls` as a version 1 block (one frame for every value), as stores written before
    /// version 2 hold them.
    fn encode_v1(calls: &[PendingCall]) -> Vec<u8> {
        let mut encoder = Encoder::new().unwrap();
        encode(calls, &mut encoder).unwrap();
        let heads = postcard::to_allocvec(&encoder.columns).unwrap();
        let mut values = Vec::new();
        for call in calls {
            values.extend_from_slice(&call.args);
            if let Some(end) = &call.end {
                values.extend_from_slice(&end.value);
            }
        }
        for call in calls {
            for tail in &call.tails {
                values.extend_from_slice(&tail.args);
            }
        }
        let (heads_z, values_z) = (
            zstd::bulk::compress(&heads, LEVEL).unwrap(),
            zstd::bulk::compress(&values, LEVEL).unwrap(),
        );
        let mut blob = MAGIC_V1.to_vec();
        for n in [
            calls.len(),
            heads.len(),
            heads_z.len(),
            values.len(),
            values_z.len(),
        ] {
            blob.extend_from_slice(&(n as u32).to_le_bytes());
        }
        blob.extend_from_slice(&heads_z);
        blob.extend_from_slice(&values_z);
        blob
    }

    #[test]
    fn version_1_blocks_are_still_read() {
        let calls: Vec<_> = (1..=40)
            .map(|id| call(id, 1, (id % 3 != 0).then_some(Outcome::Return)))
            .collect();
        let block = Block::decode(&encode_v1(&calls)).unwrap();
        assert_eq!(block.frames.len(), 1);
        for (call, head) in calls.iter().zip(&block.heads) {
            assert_eq!(block.value(head.args).unwrap(), call.args.as_slice());
            if let (Some(h), Some(c)) = (&head.end, &call.end) {
                assert_eq!(block.value(h.value).unwrap(), c.value.as_slice());
            }
        }
        let tail = block.tails_of(block.find(15).unwrap()).next().unwrap();
        assert_eq!(block.value(tail.args).unwrap(), b"tail");
    }

    /// `calls` as a version 2 block (one frame of arguments per function, no frame column).
    fn encode_v2(calls: &[PendingCall]) -> Vec<u8> {
        let mut encoder = Encoder::new().unwrap();
        encode(calls, &mut encoder).unwrap();
        let c = &encoder.columns;
        let heads = postcard::to_allocvec(c).unwrap();
        let used = 1 + c.mfas.len();
        let mut raw = vec![Vec::new(); used];
        for (call, &mfa) in calls.iter().zip(&c.mfa_of) {
            raw[1 + mfa as usize].extend_from_slice(&call.args);
            if let Some(end) = &call.end {
                raw[0].extend_from_slice(&end.value);
            }
        }
        for (tail, t) in calls.iter().flat_map(|c| &c.tails).zip(&c.tails) {
            raw[1 + t.mfa as usize].extend_from_slice(&tail.args);
        }
        let frames: Vec<_> = raw
            .iter()
            .map(|raw| (raw.len(), zstd::bulk::compress(raw, LEVEL).unwrap()))
            .collect();
        let heads_z = zstd::bulk::compress(&heads, LEVEL).unwrap();
        let mut blob = MAGIC_V2.to_vec();
        for n in [calls.len(), heads.len(), heads_z.len(), used] {
            blob.extend_from_slice(&(n as u32).to_le_bytes());
        }
        for (raw, z) in &frames {
            blob.extend_from_slice(&(*raw as u32).to_le_bytes());
            blob.extend_from_slice(&(z.len() as u32).to_le_bytes());
        }
        blob.extend_from_slice(&heads_z);
        frames.iter().for_each(|(_, z)| blob.extend_from_slice(z));
        blob
    }

    #[test]
    fn version_2_blocks_are_still_read() {
        let calls: Vec<_> = (1..=40)
            .map(|id| call(id, 1, (id % 3 != 0).then_some(Outcome::Return)))
            .collect();
        let block = Block::decode(&encode_v2(&calls)).unwrap();
        // The results, functions 8, 9 and 10, and the tail call's function.
        assert_eq!(block.frames.len(), 5);
        for (call, head) in calls.iter().zip(&block.heads) {
            assert_eq!(block.value(head.args).unwrap(), call.args.as_slice());
            if let (Some(h), Some(c)) = (&head.end, &call.end) {
                assert_eq!(block.value(h.value).unwrap(), c.value.as_slice());
            }
        }
        let tail = block.tails_of(block.find(15).unwrap()).next().unwrap();
        assert_eq!(block.value(tail.args).unwrap(), b"tail");
    }

    #[test]
    fn small_functions_share_frames_and_large_ones_have_their_own() {
        let sizes = |sizes: &[usize]| -> (usize, Vec<u32>) {
            let arguments: Vec<Vec<u8>> = sizes.iter().map(|n| vec![0; *n]).collect();
            let mut frame_of = Vec::new();
            (assign_frames(&arguments, &mut frame_of), frame_of)
        };
        let own = OWN_FRAME_BYTES;
        assert_eq!(sizes(&[]), (0, vec![]));
        assert_eq!(sizes(&[10, 20, 30]), (1, vec![0, 0, 0]));
        assert_eq!(sizes(&[10, own, 30]), (2, vec![0, 1, 0]));
        assert_eq!(
            sizes(&[own - 1, 1, 5, own * 3, 7]),
            (2, vec![0, 0, 0, 1, 0])
        );
        let shared = SHARED_FRAME_BYTES;
        let small = vec![own - 1; shared / (own - 1) + 2];
        let (frames, frame_of) = sizes(&small);
        assert_eq!(frames, 2);
        assert_eq!(
            frame_of.iter().filter(|f| **f == 0).count(),
            shared / (own - 1) + 1
        );
    }

    #[test]
    fn reading_a_functions_values_decompresses_only_its_frame() {
        // Function 8's arguments are large (its own frame); 9, 10 and the tail call's share one.
        let calls: Vec<_> = (1..=90)
            .map(|id| {
                let mut call = call(id, 1, Some(Outcome::Return));
                if call.function == 8 {
                    call.args = Bytes::from_vec(vec![id as u8; 700]);
                }
                call
            })
            .collect();
        let encoded = encode(&calls, &mut Encoder::new().unwrap()).unwrap();
        let block = Block::decode(&encoded.blob).unwrap();
        assert_eq!(block.frames.len(), 2);
        let decompressed = |b: &Block| b.frames.iter().filter(|f| f.values.get().is_some()).count();
        assert_eq!(decompressed(&block), 0);
        let values_of = |function: u32| {
            for (call, head) in calls.iter().zip(&block.heads) {
                if head.function == function {
                    assert_eq!(block.value(head.args).unwrap(), call.args.as_slice());
                    let (h, c) = (head.end.as_ref().unwrap(), call.end.as_ref().unwrap());
                    assert_eq!(block.value(h.value).unwrap(), c.value.as_slice());
                }
            }
        };
        values_of(8);
        assert_eq!(decompressed(&block), 1);
        values_of(10);
        let tail = block.tails_of(block.find(15).unwrap()).next().unwrap();
        assert_eq!(block.value(tail.args).unwrap(), b"tail");
        values_of(9);
        assert_eq!(decompressed(&block), 2);
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let calls: Vec<_> = (1..=50)
            .map(|id| call(id, 1, Some(Outcome::Return)))
            .collect();
        let encoded = encode(&calls, &mut Encoder::new().unwrap()).unwrap();
        for cut in [
            0,
            3,
            10,
            20,
            24,
            encoded.blob.len() / 2,
            encoded.blob.len() - 1,
        ] {
            assert!(Block::decode(&encoded.blob[..cut]).is_err(), "cut at {cut}");
        }
        for at in (0..encoded.blob.len()).step_by(7) {
            let mut bytes = encoded.blob.clone();
            bytes[at] ^= 0x5a;
            // Either refused, or (a flipped length the checksum cannot see) still bounded.
            if let Ok(block) = Block::decode(&bytes) {
                for head in &block.heads {
                    let _ = block.value(head.args);
                }
            }
        }
    }
}
