//! The ring: bounded, lock-free queues between the hot path and the drain.
//!
//! The ring is a set of shards, each a `crossbeam_queue::ArrayQueue` (a bounded MPMC array
//! queue). A scheduler thread pushes into its own shard, so producers never contend with each
//! other; the collector thread pops from every shard. With one shard the ring is a single MPMC
//! queue shared by all schedulers (the bench `ring` compares the two).
//!
//! Each shard is bounded twice: in events (the queue's capacity) and in bytes (an estimate of
//! the events' heap size, so that large captured values cannot make the ring huge). When a push
//! does not fit, the [`DropPolicy`] decides: drop the new event (the default) or evict the
//! oldest ones. Every dropped event is counted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use store::{Event, EventKind};

/// What to do when the ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DropPolicy {
    /// Drop the event being pushed (keeps the beginning of a burst).
    #[default]
    DropNewest,
    /// Evict the oldest events to make room (keeps the end of a burst).
    DropOldest,
}

/// The estimated heap bytes an event holds while it waits.
pub fn event_bytes(event: &Event) -> usize {
    let payload = match &event.kind {
        EventKind::Enter(e) => {
            e.args.capacity()
                + e.process.as_ref().map_or(0, |p| {
                    std::mem::size_of_val(&**p)
                        + p.text.capacity()
                        + p.origin.as_ref().map_or(0, |o| o.text.capacity())
                })
        }
        EventKind::End(e) => e.value.capacity(),
        EventKind::TailCall(t) => t.args.capacity(),
    };
    std::mem::size_of::<Event>() + payload
}

/// Counters of a shard, on their own cache line.
#[derive(Default)]
struct Counters {
    /// Events accepted into the queue.
    enqueued: AtomicU64,
    /// Events that left the queue: popped by the drain, or evicted.
    dequeued: AtomicU64,
    /// Events dropped: rejected, or evicted.
    dropped: AtomicU64,
    /// Estimated heap bytes of the events in the queue.
    bytes: AtomicUsize,
}

struct Shard {
    queue: ArrayQueue<(Event, usize)>,
    counters: CachePadded<Counters>,
}

/// The ring's counters, summed over shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingCounts {
    /// Events accepted.
    pub enqueued: u64,
    /// Events that left (popped or evicted).
    pub dequeued: u64,
    /// Events dropped (rejected or evicted).
    pub dropped: u64,
    /// Events waiting now.
    pub in_ring: u64,
    /// Estimated heap bytes waiting now.
    pub bytes: u64,
}

/// The sharded ring.
pub struct Ring {
    shards: Box<[Shard]>,
    byte_budget: usize,
    policy: DropPolicy,
}

impl Ring {
    /// A ring of `shards` shards holding `capacity` events and `bytes` estimated bytes in total
    /// (split evenly; each shard holds at least one event).
    pub fn new(shards: usize, capacity: usize, bytes: usize, policy: DropPolicy) -> Ring {
        let shards = shards.max(1);
        let per_shard = (capacity / shards).max(1);
        Ring {
            shards: (0..shards)
                .map(|_| Shard {
                    queue: ArrayQueue::new(per_shard),
                    counters: CachePadded::new(Counters::default()),
                })
                .collect(),
            byte_budget: (bytes / shards).max(1),
            policy,
        }
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Pushes into shard `shard` (taken modulo the shard count). Returns whether the event was
    /// kept; never blocks, never allocates.
    pub fn push(&self, shard: usize, event: Event) -> bool {
        let shard = &self.shards[shard % self.shards.len()];
        let c = &shard.counters;
        let size = event_bytes(&event);
        match self.policy {
            DropPolicy::DropNewest => {
                if c.bytes.load(Ordering::Relaxed) + size > self.byte_budget {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                if shard.queue.push((event, size)).is_err() {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                c.bytes.fetch_add(size, Ordering::Relaxed);
            }
            DropPolicy::DropOldest => {
                while c.bytes.load(Ordering::Relaxed) + size > self.byte_budget {
                    match shard.queue.pop() {
                        Some((_, old)) => Self::evicted(c, old),
                        None => break,
                    }
                }
                c.bytes.fetch_add(size, Ordering::Relaxed);
                if let Some((_, old)) = shard.queue.force_push((event, size)) {
                    Self::evicted(c, old);
                }
            }
        }
        c.enqueued.fetch_add(1, Ordering::Release);
        true
    }

    fn evicted(c: &Counters, size: usize) {
        c.bytes.fetch_sub(size, Ordering::Relaxed);
        c.dequeued.fetch_add(1, Ordering::Relaxed);
        c.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Pops up to `max` events from shard `shard` into `out`; returns their estimated bytes.
    pub fn pop_into(&self, shard: usize, out: &mut Vec<Event>, max: usize) -> usize {
        let shard = &self.shards[shard % self.shards.len()];
        let mut bytes = 0;
        let mut n = 0;
        while n < max {
            let Some((event, size)) = shard.queue.pop() else {
                break;
            };
            out.push(event);
            bytes += size;
            n += 1;
        }
        if n > 0 {
            shard.counters.bytes.fetch_sub(bytes, Ordering::Relaxed);
            shard
                .counters
                .dequeued
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        bytes
    }

    /// How many events each shard has accepted so far (a flush drains up to these marks).
    pub fn enqueued_marks(&self) -> Vec<u64> {
        self.shards
            .iter()
            .map(|s| s.counters.enqueued.load(Ordering::Acquire))
            .collect()
    }

    /// Whether shard `shard` has let out every event it accepted up to `mark`.
    pub fn passed(&self, shard: usize, mark: u64) -> bool {
        self.shards[shard].counters.dequeued.load(Ordering::Acquire) >= mark
    }

    /// The counters, summed.
    pub fn counts(&self) -> RingCounts {
        let mut t = RingCounts::default();
        for s in self.shards.iter() {
            let c = &s.counters;
            t.enqueued += c.enqueued.load(Ordering::Relaxed);
            t.dequeued += c.dequeued.load(Ordering::Relaxed);
            t.dropped += c.dropped.load(Ordering::Relaxed);
            t.in_ring += s.queue.len() as u64;
            t.bytes += c.bytes.load(Ordering::Relaxed) as u64;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{End, Outcome};

    fn event(id: u64, payload: usize) -> Event {
        Event {
            call_id: id,
            time: id,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome: Outcome::Return,
                tail_calls: 0,
                value: vec![0; payload],
            }),
        }
    }

    fn drain(ring: &Ring) -> Vec<u64> {
        let mut out = Vec::new();
        for s in 0..ring.shards() {
            ring.pop_into(s, &mut out, usize::MAX);
        }
        out.iter().map(|e| e.call_id).collect()
    }

    #[test]
    fn drop_newest_keeps_the_first_events_and_counts_the_rest() {
        let ring = Ring::new(1, 4, usize::MAX, DropPolicy::DropNewest);
        let kept: Vec<bool> = (0..6).map(|i| ring.push(0, event(i, 1))).collect();
        assert_eq!(kept, [true, true, true, true, false, false]);
        let c = ring.counts();
        assert_eq!((c.enqueued, c.dropped, c.in_ring), (4, 2, 4));
        assert_eq!(drain(&ring), [0, 1, 2, 3]);
        assert_eq!(ring.counts().in_ring, 0);
        assert_eq!(ring.counts().bytes, 0);
    }

    #[test]
    fn drop_oldest_keeps_the_last_events_and_counts_the_evicted() {
        let ring = Ring::new(1, 4, usize::MAX, DropPolicy::DropOldest);
        for i in 0..6 {
            assert!(ring.push(0, event(i, 1)));
        }
        let c = ring.counts();
        assert_eq!((c.enqueued, c.dropped, c.in_ring), (6, 2, 4));
        assert_eq!(drain(&ring), [2, 3, 4, 5]);
        let c = ring.counts();
        assert_eq!(c.dequeued, 6);
        assert_eq!(c.bytes, 0);
    }

    #[test]
    fn the_byte_budget_bounds_large_events() {
        let big = event_bytes(&event(0, 10_000));
        let ring = Ring::new(1, 1000, big * 3, DropPolicy::DropNewest);
        let kept = (0..10).filter(|i| ring.push(0, event(*i, 10_000))).count();
        assert_eq!(kept, 3);
        assert!(ring.counts().bytes as usize <= big * 3);
        let ring = Ring::new(1, 1000, big * 3, DropPolicy::DropOldest);
        for i in 0..10 {
            ring.push(0, event(i, 10_000));
        }
        assert!(ring.counts().bytes as usize <= big * 3);
        assert_eq!(drain(&ring), [7, 8, 9]);
    }

    #[test]
    fn shards_are_independent_and_marks_track_the_drain() {
        let ring = Ring::new(2, 4, usize::MAX, DropPolicy::DropNewest);
        for i in 0..2 {
            assert!(ring.push(0, event(i, 0)));
        }
        for i in 10..12 {
            assert!(ring.push(1, event(i, 0)));
        }
        assert!(!ring.push(1, event(12, 0)), "shard 1 holds 2 events");
        let marks = ring.enqueued_marks();
        assert_eq!(marks, [2, 2]);
        assert!(!ring.passed(0, marks[0]));
        let mut out = Vec::new();
        ring.pop_into(0, &mut out, 10);
        assert!(ring.passed(0, marks[0]));
        assert!(!ring.passed(1, marks[1]));
    }

    #[test]
    fn concurrent_producers_lose_nothing_while_there_is_room() {
        let ring = std::sync::Arc::new(Ring::new(2, 1 << 16, usize::MAX, DropPolicy::DropNewest));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        assert!(ring.push(t, event(t as u64 * 100_000 + i, 8)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut ids = drain(&ring);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 20_000);
    }
}
