//! The runtime's settings and their defaults.
//!
//! Memory stays bounded at any event rate: the ring's slots are allocated at start
//! (`ring_capacity` events of `size_of::<Event>()` bytes) and the events waiting in them hold
//! at most `ring_bytes` (their estimated size, slot included); between the ring and the store at
//! most `channel_batches + 2` batches of at most `batch_bytes` exist (the channel, the one the
//! collector fills, the one the writer writes). With the defaults that is 16 MiB of slots +
//! 32 MiB + 6 × 4 MiB. The writer adds the calls waiting for their ends (two blocks), the
//! segment being filled (about a checkpoint's worth, compressed) and, while the disk refuses
//! writes, at most `store::writer::MAX_UNSEALED_BYTES` (64 MiB) of it.

use std::path::PathBuf;
use std::time::Duration;

use store::Retention;

use crate::encoder::{Caps, Redaction};
use crate::ring::DropPolicy;

/// What the hot path does when the ring has no room for an event.
///
/// `Block` is the default: a recording must be complete to be trusted, and on real suites it
/// costs next to nothing (stream_data's, whose property tests capture from both schedulers
/// faster than any drain writes, loses 4-13 % of its events under `Drop` and none under
/// `Block`, in the same wall time: BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop it and count it: the caller never waits.
    Drop,
    /// Tell the caller ([`crate::recorder::Recorded::Full`]), which waits and tries again:
    /// nothing is lost, the recorded code slows down to what the drain takes.
    #[default]
    Block,
}

/// Default ring capacity in events (all shards together).
pub const DEFAULT_RING_CAPACITY: usize = 1 << 17;
/// Default ring budget in estimated bytes (all shards together).
pub const DEFAULT_RING_BYTES: usize = 32 << 20;
/// Default largest batch, in events.
pub const DEFAULT_BATCH_EVENTS: usize = 8192;
/// Default largest batch, in estimated bytes.
pub const DEFAULT_BATCH_BYTES: usize = 4 << 20;
/// Default number of batches the channel to the writer holds: while the writer falls behind
/// in a burst, the collector keeps emptying the ring into them (memory taken only while it
/// lags, unlike the ring's slots), so the ring does not fill and drop.
pub const DEFAULT_CHANNEL_BATCHES: usize = 32;
/// Default longest time an event waits in a partial batch before it is written (it is then
/// queryable): well under the 100 ms the runtime promises.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(20);
/// Default time between durable commits (the most a crash loses).
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Everything the runtime can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The database file.
    pub db_path: PathBuf,
    /// Ring shards (one per scheduler is the default the NIF uses).
    pub shards: usize,
    /// Ring capacity in events.
    pub ring_capacity: usize,
    /// Ring budget in estimated heap bytes.
    pub ring_bytes: usize,
    /// What a full ring drops.
    pub drop_policy: DropPolicy,
    /// Whether the hot path drops what does not fit, or asks the caller to wait (under
    /// drop-newest; drop-oldest always makes room).
    pub overflow: Overflow,
    /// The term encoder's caps.
    pub caps: Caps,
    /// What the encoder redacts by name (keys, struct fields).
    pub redaction: Redaction,
    /// Largest batch in events.
    pub batch_events: usize,
    /// Largest batch in estimated bytes.
    pub batch_bytes: usize,
    /// Batches the channel to the writer holds.
    pub channel_batches: usize,
    /// Longest wait of an event in a partial batch.
    pub commit_interval: Duration,
    /// Time between durable commits.
    pub checkpoint_interval: Duration,
    /// The store's retention cap.
    pub retention: Retention,
    /// The most bytes of blocks the writer holds while the store refuses writes (a full
    /// disk); past it the oldest are given up and counted as `write_failed`.
    pub unsealed_bytes: usize,
}

impl Config {
    /// The defaults, writing to `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            db_path: db_path.into(),
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ring_capacity: DEFAULT_RING_CAPACITY,
            ring_bytes: DEFAULT_RING_BYTES,
            drop_policy: DropPolicy::default(),
            overflow: Overflow::default(),
            caps: Caps::default(),
            redaction: Redaction::default(),
            batch_events: DEFAULT_BATCH_EVENTS,
            batch_bytes: DEFAULT_BATCH_BYTES,
            channel_batches: DEFAULT_CHANNEL_BATCHES,
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            retention: Retention::default(),
            unsealed_bytes: store::writer::MAX_UNSEALED_BYTES,
        }
    }

    /// The configuration with every value made usable (at least one of each, caps clamped).
    pub fn normalized(mut self) -> Config {
        self.shards = self.shards.min(1024);
        self.ring_capacity = self.ring_capacity.max(self.shards + 1);
        self.ring_bytes = self.ring_bytes.max(1);
        self.caps = self.caps.clamped();
        self.batch_events = self.batch_events.max(1);
        self.batch_bytes = self.batch_bytes.max(1);
        self.channel_batches = self.channel_batches.max(1);
        self
    }

    /// The most estimated bytes events can hold between capture and store.
    pub fn memory_bound(&self) -> usize {
        self.ring_capacity * std::mem::size_of::<store::Event>()
            + self.ring_bytes
            + (self.channel_batches + 2) * self.batch_bytes
            + self.unsealed_bytes
    }
}
