//! The hot path's state: call ids, the ring, the atom registry, the encoder's caps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use store::{Event, EventKind};

use crate::atoms::AtomRegistry;
use crate::config::{Config, Overflow};
use crate::encoder::{Caps, Redaction};
use crate::ring::{DropPolicy, Ring, RingCounts, Room};
use crate::thread;

/// What every hot-path call shares. All methods are O(1), lock-free and never block.
pub struct Recorder {
    next_id: CachePadded<AtomicU64>,
    ring: Ring,
    atoms: AtomRegistry,
    caps: Caps,
    exception_caps: Caps,
    redaction: Redaction,
    policy: DropPolicy,
    /// Whether a full ring asks the caller to wait (`overflow = block`); cleared when the
    /// drain stops, so that nobody waits for a drain that is gone.
    blocking: AtomicBool,
}

/// What became of an event the hot path recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It is in the ring.
    Kept,
    /// The ring had no room: it was dropped and counted.
    Dropped,
    /// The ring had no room and the runtime blocks instead of dropping: the caller waits and
    /// records it again (nothing was counted).
    Full,
}

impl Recorder {
    /// A recorder with the ring and caps of `config`.
    pub fn new(config: &Config) -> Recorder {
        Recorder {
            next_id: CachePadded::new(AtomicU64::new(1)),
            ring: Ring::new(
                config.shards,
                config.ring_capacity,
                config.ring_bytes,
                config.drop_policy,
            ),
            atoms: AtomRegistry::default(),
            caps: config.caps,
            exception_caps: Caps {
                max_nodes: config.caps.max_nodes.saturating_mul(8),
                max_bytes: config.caps.max_bytes.saturating_mul(4),
                ..config.caps
            }
            .clamped(),
            redaction: config.redaction.clone(),
            policy: config.drop_policy,
            blocking: AtomicBool::new(
                config.overflow == Overflow::Block && config.drop_policy == DropPolicy::DropNewest,
            ),
        }
    }

    /// Stops asking callers to wait (the drain is stopping): full rings drop from now on.
    pub fn stop_blocking(&self) {
        self.blocking.store(false, Ordering::Release);
    }

    /// A new call id: unique for the run, increasing in the order calls start.
    pub fn next_call_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Pushes an event into this thread's shard, and says what became of it.
    ///
    /// Whole calls are dropped, not halves: the start of a new call is refused once the lane
    /// is three quarters full ([`Room::KeepQuarter`]), so that the calls already recorded
    /// find room for their ends and tail calls, which may fill it. (A process's first call
    /// may fill it too: it carries where the process came from.) The hot path then records
    /// nothing of the refused call and counts its end as dropped too ([`Recorder::skipped`]).
    pub fn record(&self, event: Event) -> Recorded {
        let room = match &event.kind {
            EventKind::Enter(enter) if enter.process.is_none() => Room::KeepQuarter,
            _ => Room::Full,
        };
        let hint = thread::shard_hint();
        if self.ring.try_push(hint, event, room) {
            Recorded::Kept
        } else if self.blocking.load(Ordering::Relaxed) {
            Recorded::Full
        } else {
            self.ring.count_dropped(hint);
            Recorded::Dropped
        }
    }

    /// Counts an event of a call whose start was dropped (its end, a tail call) as dropped.
    pub fn skipped(&self) {
        self.ring.count_dropped(thread::shard_hint());
    }

    /// The encoder's caps.
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The caps for exceptions (`{Reason, Stacktrace}`): eight times the nodes and four times
    /// the bytes, so that a stack trace survives; exceptions are rare next to calls.
    pub fn exception_caps(&self) -> &Caps {
        &self.exception_caps
    }

    /// What the encoder redacts by name.
    pub fn redaction(&self) -> &Redaction {
        &self.redaction
    }

    /// The atom registry.
    pub fn atoms(&self) -> &AtomRegistry {
        &self.atoms
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The ring's counters.
    pub fn counts(&self) -> RingCounts {
        self.ring.counts()
    }

    /// Events the hot path produced: accepted, plus rejected by a full ring under drop-newest
    /// (under drop-oldest every event is accepted, and evictions are the drops).
    pub fn captured(&self, counts: &RingCounts) -> u64 {
        match self.policy {
            DropPolicy::DropNewest => counts.enqueued + counts.dropped,
            DropPolicy::DropOldest => counts.enqueued,
        }
    }
}
