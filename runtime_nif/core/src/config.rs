//! The runtime's settings: [`Config`], made from checked settings ([`Config::from_settings`];
//! the keys, bounds and defaults are those of the `settings` crate).
//!
//! Memory stays bounded at any event rate: the ring's slots are allocated at start
//! (`ring_capacity` events of `size_of::<Event>()` bytes) and the events waiting in them hold
//! at most `ring_bytes` (their estimated size, slot included); between the ring and the store at
//! most `channel_batches + 2` batches exist (the channel, the one the collector fills, the one
//! the writer writes), each with room for `batch_events` events and holding at most
//! `batch_bytes` (`settings::memory::demand`; the settings are refused when that exceeds half
//! of the machine's memory). With the defaults that is 17 MiB of slots + 32 MiB + 34 × 5.06 MiB (221 MiB).
//! The writer adds the calls waiting for their ends (two blocks), the segment being filled
//! (about a checkpoint's worth, compressed) and, while the disk refuses writes, at most
//! `store::writer::MAX_UNSEALED_BYTES` (64 MiB) of it.

use std::path::PathBuf;
use std::time::Duration;

use settings::Values;
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
        Config::from_settings(db_path, &Values::default())
    }

    /// The configuration `values` give (their defaults for what they do not set), writing to
    /// `db_path`; `shards` defaults to one per available core.
    pub fn from_settings(db_path: impl Into<PathBuf>, values: &Values) -> Config {
        use settings::*;
        let size = |setting| usize::try_from(values.integer(setting)).unwrap_or(usize::MAX);
        let ms = |setting| Duration::from_millis(values.integer(setting));
        let mut caps = Caps::default();
        for (setting, n) in values.iter() {
            if let (Some(slot), Value::Integer(n)) = (Caps::slot(setting.key), n) {
                *slot(&mut caps) = u32::try_from(*n).unwrap_or(u32::MAX);
            }
        }
        let keys = match values.names(&REDACT_KEYS) {
            Some(keys) => Redaction::new(keys, std::iter::empty::<(&str, Vec<&str>)>()),
            None => Redaction::default(),
        };
        let structs = values.struct_fields(&REDACT_FIELDS).iter().cloned();
        Config {
            db_path: db_path.into(),
            shards: values.given_integer(&SHARDS).map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |n| n as usize,
            ),
            ring_capacity: size(&RING_CAPACITY),
            ring_bytes: size(&RING_BYTES),
            drop_policy: match values.choice(&DROP_POLICY) {
                "drop_oldest" => DropPolicy::DropOldest,
                _ => DropPolicy::DropNewest,
            },
            overflow: match values.choice(&OVERFLOW) {
                "drop" => Overflow::Drop,
                _ => Overflow::Block,
            },
            caps,
            redaction: keys.with_structs(structs),
            batch_events: size(&BATCH_EVENTS),
            batch_bytes: size(&BATCH_BYTES),
            channel_batches: size(&CHANNEL_BATCHES),
            commit_interval: ms(&COMMIT_INTERVAL_MS),
            checkpoint_interval: ms(&CHECKPOINT_INTERVAL_MS),
            retention: Retention {
                max_bytes: values.integer(&RETENTION_BYTES),
            },
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

    /// The most estimated bytes events can hold between capture and store: the buffers the
    /// settings size (`settings::memory::demand`) and what the writer keeps while the disk
    /// refuses writes.
    pub fn memory_bound(&self) -> usize {
        let demand = settings::memory::demand(
            self.ring_capacity as u64,
            self.ring_bytes as u64,
            self.batch_events as u64,
            self.batch_bytes as u64,
            self.channel_batches as u64,
        );
        usize::try_from(demand)
            .unwrap_or(usize::MAX)
            .saturating_add(self.unsealed_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_count_an_event_as_big_as_it_is() {
        assert_eq!(
            std::mem::size_of::<store::Event>() as u64,
            settings::EVENT_BYTES
        );
    }

    #[test]
    fn the_defaults_are_the_settings_defaults() {
        let config = Config::new("/tmp/x");
        assert_eq!(config.ring_capacity, 1 << 17);
        assert_eq!(config.ring_bytes, 32 << 20);
        assert_eq!(config.batch_events, 8192);
        assert_eq!(config.channel_batches, 32);
        assert_eq!(config.commit_interval, Duration::from_millis(20));
        assert_eq!(config.checkpoint_interval, Duration::from_secs(1));
        assert_eq!(config.retention, Retention::default());
        assert_eq!(config.caps, Caps::default());
        assert_eq!(config.drop_policy, DropPolicy::DropNewest);
        assert_eq!(config.overflow, Overflow::Block);
        assert_eq!(
            config.memory_bound() as u128,
            Values::default().demand() + (64 << 20)
        );
    }

    #[test]
    fn settings_become_the_configuration() {
        use settings::{Given, *};
        let mut values = Values::default();
        let set = |values: &mut Values, setting: &'static Setting, given: Given| {
            values.set(setting, &given).unwrap()
        };
        set(&mut values, &RING_CAPACITY, Given::Integer(96));
        set(&mut values, &SHARDS, Given::Integer(0));
        set(&mut values, &DROP_POLICY, Given::Atom("drop_oldest".into()));
        set(&mut values, &OVERFLOW, Given::Atom("drop".into()));
        set(&mut values, &MAX_BYTES, Given::Integer(256));
        set(&mut values, &COMMIT_INTERVAL_MS, Given::Integer(5));
        set(
            &mut values,
            &REDACT_KEYS,
            Given::List(vec![Given::Text("pin".into())]),
        );
        let config = Config::from_settings("/tmp/x", &values);
        assert_eq!((config.ring_capacity, config.shards), (96, 0));
        assert_eq!(config.drop_policy, DropPolicy::DropOldest);
        assert_eq!(config.overflow, Overflow::Drop);
        assert_eq!(config.caps.max_bytes, 256);
        assert_eq!(config.caps.max_nodes, 32);
        assert_eq!(config.commit_interval, Duration::from_millis(5));
        assert!(config.redaction.key_matches(b"PIN_code"));
        assert!(
            !config.redaction.key_matches(b"password"),
            "the list replaces the default"
        );
    }
}
