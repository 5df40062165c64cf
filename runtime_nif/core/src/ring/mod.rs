//! The ring: bounded, lock-free queues between the hot path and the drain.
//!
//! The ring is a set of lanes. Under the default policy (drop newest) there is one
//! single-producer lane per scheduler, an `rtrb` ring buffer, claimed by the first thread that
//! pushes with that scheduler's number (ERTS scheduler threads never share one), plus one
//! shared multi-producer lane (`crossbeam_queue::ArrayQueue`) for any other thread, which also
//! takes what a scheduler's lane has no room for: the schedulers' lanes hold half the ring
//! between them, the shared lane the other half, so that one busy scheduler (one process's
//! burst) can use most of the ring rather than its share. A push into
//! a claimed lane touches only that thread's cache lines (a slot, and two counters only the
//! producer writes); the collector thread reads a lane in bulk and then leaves it alone for a
//! while. With two schedulers recording at full speed that captures 6-8 million events/s
//! against 4.5-5.4 million through one shared lane (`benches/runtime_overhead.sh`).
//!
//! A single-producer lane cannot evict its oldest entries (only the consumer pops), so under
//! the drop-oldest policy every lane is an `ArrayQueue`, whose `force_push` evicts.
//!
//! Each lane is bounded twice: in events (its capacity) and in bytes (an estimate of the events'
//! heap size, so that large captured values cannot make the ring huge). When a push does not
//! fit, the [`DropPolicy`] decides, and every dropped event is counted.

mod claim;
mod lane;

#[cfg(test)]
mod tests;

use store::{Event, EventKind};

use claim::Claims;
use lane::Lane;
pub use lane::Room;

/// What to do when the ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DropPolicy {
    /// Drop the event being pushed (keeps the beginning of a burst). Lanes are single-producer.
    #[default]
    DropNewest,
    /// Evict the oldest events to make room (keeps the end of a burst). Lanes are MPMC.
    DropOldest,
}

/// The estimated heap bytes an event holds while it waits (its own size, plus payloads too
/// big to be stored inline).
pub fn event_bytes(event: &Event) -> usize {
    let spilled = |b: &store::Bytes| if b.spilled() { b.capacity() } else { 0 };
    let payload = match &event.kind {
        EventKind::Enter(e) => {
            spilled(&e.args)
                + e.process.as_ref().map_or(0, |p| {
                    std::mem::size_of_val(&**p)
                        + p.text.capacity()
                        + p.origin.as_ref().map_or(0, |o| o.text.capacity())
                })
        }
        EventKind::End(e) => spilled(&e.value),
        EventKind::TailCall(t) => spilled(&t.args),
        EventKind::Send(s) => spilled(&s.payload),
        EventKind::Run(run) => {
            std::mem::size_of_val(&**run)
                + match &**run {
                    store::RunEvent::Paused(_) => 0,
                    store::RunEvent::Node(node) => node.capacity(),
                    store::RunEvent::Remote(remote) => {
                        remote.node.capacity() + remote.text.capacity()
                    }
                    store::RunEvent::Test(t) => {
                        t.module.capacity()
                            + t.name.capacity()
                            + t.file.capacity()
                            + t.message.capacity()
                    }
                    store::RunEvent::Exit(x) => spilled(&x.pid_term) + spilled(&x.reason),
                }
        }
    };
    std::mem::size_of::<Event>() + payload
}

/// The ring's counters, summed over lanes.
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

/// The ring.
pub struct Ring {
    lanes: Box<[Lane]>,
    claims: Claims,
    policy: DropPolicy,
}

impl Ring {
    /// A ring for `shards` producers (schedulers) holding `capacity` events and `bytes`
    /// estimated bytes in total, split evenly over the lanes (each holds at least one event).
    /// Under drop-newest, 0 shards means no single-producer lanes: every thread shares one
    /// MPMC lane (what `benches/ring.rs` compares against).
    pub fn new(shards: usize, capacity: usize, bytes: usize, policy: DropPolicy) -> Ring {
        let shards = match policy {
            DropPolicy::DropNewest => shards,
            DropPolicy::DropOldest => shards.max(1),
        };
        let lanes = match policy {
            // One single-producer lane per scheduler, and the shared lane for other threads.
            DropPolicy::DropNewest => shards + 1,
            DropPolicy::DropOldest => shards,
        };
        // Under drop-newest the shared lane lends: half the ring is its own.
        let (per_lane, budget, shared, shared_budget) = match (policy, shards) {
            (DropPolicy::DropNewest, s) if s > 0 => (
                (capacity / (2 * s)).max(1),
                (bytes / (2 * s)).max(1),
                (capacity / 2).max(1),
                (bytes / 2).max(1),
            ),
            _ => {
                let (c, b) = ((capacity / lanes).max(1), (bytes / lanes).max(1));
                (c, b, c, b)
            }
        };
        let lanes: Box<[Lane]> = (0..lanes)
            .map(|i| match policy {
                DropPolicy::DropNewest if i < shards => Lane::single_producer(per_lane, budget),
                DropPolicy::DropNewest => Lane::multi_producer(shared, shared_budget),
                DropPolicy::DropOldest => Lane::multi_producer(per_lane, budget),
            })
            .collect();
        Ring {
            claims: Claims::new(match policy {
                DropPolicy::DropNewest => shards,
                DropPolicy::DropOldest => 0,
            }),
            lanes,
            policy,
        }
    }

    /// The number of lanes (the collector drains lanes `0..lanes()`).
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Pushes an event from this thread; `hint` (the scheduler number minus one) picks the lane
    /// a thread claims, or the MPMC lane under drop-oldest. Returns whether the event was kept;
    /// never blocks, never allocates (beyond a thread's first push, which records its claim).
    /// Under drop-newest, `room` says how full the lane may be (see [`Room`]); drop-oldest
    /// always makes room.
    pub fn push(&self, hint: usize, event: Event, room: Room) -> bool {
        let pushed = self.try_push(hint, event, room);
        if !pushed {
            self.count_dropped(hint);
        }
        pushed
    }

    /// [`Ring::push`] without counting a refused event as dropped: for a caller that will
    /// try again.
    pub fn try_push(&self, hint: usize, event: Event, room: Room) -> bool {
        match self.policy {
            DropPolicy::DropNewest => {
                let shared = &self.lanes[self.lanes.len() - 1];
                match self.claims.lane_of_this_thread(hint) {
                    // SAFETY: the claim makes this thread the lane's only producer.
                    Some(lane) => match unsafe { self.lanes[lane].try_push_single(event, room) } {
                        Ok(()) => true,
                        // No room in the scheduler's lane: the shared lane lends its room.
                        Err(event) => shared.push_newest(event, room),
                    },
                    None => shared.push_newest(event, room),
                }
            }
            DropPolicy::DropOldest => self.lanes[hint % self.lanes.len()].push_oldest(event),
        }
    }

    /// Counts an event the hot path did not push (the end of a call whose start found no
    /// room) as dropped, in this thread's lane.
    pub fn count_dropped(&self, hint: usize) {
        let lane = match self.policy {
            DropPolicy::DropNewest => self
                .claims
                .lane_of_this_thread(hint)
                .unwrap_or(self.lanes.len() - 1),
            DropPolicy::DropOldest => hint % self.lanes.len(),
        };
        self.lanes[lane].count_dropped();
    }

    /// Pops up to `max` events from lane `lane` into `out` (the collector's job: one consumer
    /// at a time); returns their estimated bytes.
    pub fn pop_into(&self, lane: usize, out: &mut Vec<Event>, max: usize) -> usize {
        self.lanes[lane % self.lanes.len()].pop_into(out, max)
    }

    /// How many events each lane has accepted so far (a flush drains up to these marks).
    pub fn enqueued_marks(&self) -> Vec<u64> {
        self.lanes.iter().map(Lane::enqueued).collect()
    }

    /// Whether lane `lane` has let out every event it accepted up to `mark`.
    pub fn passed(&self, lane: usize, mark: u64) -> bool {
        self.lanes[lane].dequeued() >= mark
    }

    /// The counters, summed.
    pub fn counts(&self) -> RingCounts {
        let mut t = RingCounts::default();
        for lane in self.lanes.iter() {
            t.enqueued += lane.enqueued();
            t.dequeued += lane.dequeued();
            t.dropped += lane.dropped();
            t.in_ring += lane.len() as u64;
            t.bytes += lane.bytes() as u64;
        }
        t
    }
}
