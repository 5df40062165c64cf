//! One lane of the ring: a bounded queue and its counters.
//!
//! Counters sit on two cache lines: the producer's (events accepted, dropped, bytes in) and the
//! consumer's (events out, bytes out, written once per drained batch), so that neither side
//! writes a line the other writes on every event. In a single-producer lane the producer's
//! counters have one writer and are updated with plain loads and stores.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use store::Event;

use super::event_bytes;

#[derive(Default)]
struct ProducerCounters {
    enqueued: AtomicU64,
    dropped: AtomicU64,
    bytes_in: AtomicUsize,
}

#[derive(Default)]
struct ConsumerCounters {
    dequeued: AtomicU64,
    bytes_out: AtomicUsize,
}

/// How much of a lane an event may fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// All of it: the end and tail calls of a recorded call.
    Full,
    /// Three quarters: a new call, so that the calls already recorded find room for their
    /// ends (a call whose start is kept and whose end is dropped would look as if it never
    /// returned).
    KeepQuarter,
}

enum Queue {
    /// Written only by the thread that claimed the lane; read by the collector.
    Single {
        producer: UnsafeCell<rtrb::Producer<Event>>,
        consumer: Mutex<rtrb::Consumer<Event>>,
    },
    /// Any thread (boxed: its head and tail sit on cache lines of their own).
    Multi(Box<ArrayQueue<Event>>),
}

pub(super) struct Lane {
    queue: Queue,
    /// Events the lane holds.
    capacity: usize,
    /// Estimated bytes the lane holds.
    budget: usize,
    producer: CachePadded<ProducerCounters>,
    consumer: CachePadded<ConsumerCounters>,
}

// SAFETY: the single-producer queue's producer half is used only by the thread holding the
// lane's claim (see `claim`); everything else is atomics, a mutex or a thread-safe queue.
unsafe impl Sync for Lane {}

impl Lane {
    pub fn single_producer(capacity: usize, budget: usize) -> Lane {
        let (mut producer, mut consumer) = rtrb::RingBuffer::new(capacity);
        prefault(&mut producer, &mut consumer);
        Lane::with(
            Queue::Single {
                producer: UnsafeCell::new(producer),
                consumer: Mutex::new(consumer),
            },
            capacity,
            budget,
        )
    }

    pub fn multi_producer(capacity: usize, budget: usize) -> Lane {
        Lane::with(
            Queue::Multi(Box::new(ArrayQueue::new(capacity))),
            capacity,
            budget,
        )
    }

    fn with(queue: Queue, capacity: usize, budget: usize) -> Lane {
        Lane {
            queue,
            capacity,
            budget,
            producer: CachePadded::new(ProducerCounters::default()),
            consumer: CachePadded::new(ConsumerCounters::default()),
        }
    }

    /// Estimated bytes waiting.
    pub fn bytes(&self) -> usize {
        let out = self.consumer.bytes_out.load(Ordering::Relaxed);
        self.producer
            .bytes_in
            .load(Ordering::Relaxed)
            .saturating_sub(out)
    }

    /// Whether `room` lets an event of `size` bytes in now (see [`Room`]).
    fn has_room(&self, room: Room, size: usize) -> bool {
        match room {
            Room::Full => self.bytes() + size <= self.budget,
            Room::KeepQuarter => {
                let quarter = |n: usize| n - n / 4;
                self.len() < quarter(self.capacity) && self.bytes() + size <= quarter(self.budget)
            }
        }
    }

    /// Pushes as the lane's only producer, dropping the event when `room` does not let it in.
    ///
    /// Pushes as the lane's only producer; hands the event back when `room` does not let it
    /// in (the caller lends it to another lane, or drops and counts it).
    ///
    /// # Safety
    /// The caller must hold the lane's claim: no other thread may push into it meanwhile.
    // The event comes back by value when it does not fit: boxing it would allocate on the hot
    // path.
    #[allow(clippy::result_large_err)]
    pub unsafe fn try_push_single(&self, event: Event, room: Room) -> Result<(), Event> {
        let Queue::Single { producer, .. } = &self.queue else {
            return Err(event);
        };
        let size = event_bytes(&event);
        let p = &self.producer;
        // SAFETY: the caller is the only producer (claim), so this is the only reference.
        let queue = unsafe { &mut *producer.get() };
        if !self.has_room(room, size) {
            return Err(event);
        }
        push_prefetching(queue, event)?;
        p.bytes_in
            .store(p.bytes_in.load(Ordering::Relaxed) + size, Ordering::Relaxed);
        store_add(&p.enqueued, 1);
        Ok(())
    }

    /// Pushes from any thread; `false` (the event dropped, the caller counts it) when `room`
    /// does not let it in.
    pub fn push_newest(&self, event: Event, room: Room) -> bool {
        let Queue::Multi(queue) = &self.queue else {
            return false;
        };
        let size = event_bytes(&event);
        let p = &self.producer;
        if !self.has_room(room, size) || queue.push(event).is_err() {
            return false;
        }
        p.bytes_in.fetch_add(size, Ordering::Relaxed);
        p.enqueued.fetch_add(1, Ordering::Release);
        true
    }

    /// Pushes from any thread, evicting the oldest events when the lane is full.
    pub fn push_oldest(&self, event: Event) -> bool {
        let Queue::Multi(queue) = &self.queue else {
            return false;
        };
        let size = event_bytes(&event);
        while self.bytes() + size > self.budget {
            match queue.pop() {
                Some(old) => self.evicted(&old),
                None => break,
            }
        }
        if let Some(old) = queue.force_push(event) {
            self.evicted(&old);
        }
        let p = &self.producer;
        p.bytes_in.fetch_add(size, Ordering::Relaxed);
        p.enqueued.fetch_add(1, Ordering::Release);
        true
    }

    /// Counts one event dropped without having been pushed (from any thread).
    pub fn count_dropped(&self) {
        self.producer.dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn evicted(&self, old: &Event) {
        self.consumer
            .bytes_out
            .fetch_add(event_bytes(old), Ordering::Relaxed);
        self.consumer.dequeued.fetch_add(1, Ordering::Relaxed);
        self.producer.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Pops up to `max` events into `out`; returns their estimated bytes.
    pub fn pop_into(&self, out: &mut Vec<Event>, max: usize) -> usize {
        let mut bytes = 0;
        let mut n = 0;
        match &self.queue {
            Queue::Single { consumer, .. } => {
                let mut consumer = consumer.lock().unwrap_or_else(|p| p.into_inner());
                while n < max {
                    let Ok(event) = consumer.pop() else {
                        break;
                    };
                    bytes += event_bytes(&event);
                    out.push(event);
                    n += 1;
                }
            }
            Queue::Multi(queue) => {
                while n < max {
                    let Some(event) = queue.pop() else {
                        break;
                    };
                    bytes += event_bytes(&event);
                    out.push(event);
                    n += 1;
                }
            }
        }
        if n > 0 {
            let c = &self.consumer;
            c.bytes_out.fetch_add(bytes, Ordering::Relaxed);
            c.dequeued.fetch_add(n as u64, Ordering::Release);
        }
        bytes
    }

    pub fn enqueued(&self) -> u64 {
        self.producer.enqueued.load(Ordering::Acquire)
    }

    pub fn dequeued(&self) -> u64 {
        self.consumer.dequeued.load(Ordering::Acquire)
    }

    pub fn dropped(&self) -> u64 {
        self.producer.dropped.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        match &self.queue {
            Queue::Single { .. } => {
                (self.enqueued() - self.dequeued().min(self.enqueued())) as usize
            }
            Queue::Multi(queue) => queue.len(),
        }
    }
}

/// Touches every slot once, so that the memory is mapped before the hot path needs it (a page
/// fault costs microseconds) and the ring's footprint shows from the start.
fn prefault(producer: &mut rtrb::Producer<Event>, consumer: &mut rtrb::Consumer<Event>) {
    let slots = producer.slots();
    if let Ok(mut chunk) = producer.write_chunk_uninit(slots) {
        let (first, second) = chunk.as_mut_slices();
        for slot in first.iter_mut().chain(second.iter_mut()) {
            // SAFETY: plain bytes written into uninitialized slots that are never read (the
            // chunk is dropped without being committed).
            unsafe { std::ptr::write_bytes(slot.as_mut_ptr(), 0, 1) };
        }
    }
    debug_assert!(consumer.is_empty());
}

/// Writes `event` into the next slot and prefetches the slot four pushes ahead for writing:
/// the collector last read those slots, so their cache lines live on the collector's core (or,
/// in a large ring, in memory), and fetching them now, while the VM runs Erlang code, takes the
/// transfer off a later push. One slot ahead (before) left part of a memory fetch on the next
/// push: four ahead made a recorded call about 15-20 ns cheaper in the VM (eight: no better).
#[allow(clippy::result_large_err)] // as try_push_single: no allocation on the hot path
fn push_prefetching(queue: &mut rtrb::Producer<Event>, event: Event) -> Result<(), Event> {
    let Ok(mut chunk) = queue.write_chunk_uninit(PREFETCH_AHEAD + 1) else {
        // Nearly full: no slot that far to prefetch.
        return queue
            .push(event)
            .map_err(|rtrb::PushError::Full(event)| event);
    };
    let (first, second) = chunk.as_mut_slices();
    first[0].write(event);
    let next = match first.get(PREFETCH_AHEAD) {
        Some(slot) => Some(slot),
        // The chunk wraps around: the slot is in its second part.
        None => second.get(PREFETCH_AHEAD.saturating_sub(first.len())),
    }
    .map(|slot| slot.as_ptr());
    if let Some(next) = next {
        prefetch_for_write(next.cast::<u8>(), std::mem::size_of::<Event>());
    }
    // SAFETY: the first slot was initialized just above.
    unsafe { chunk.commit(1) };
    Ok(())
}

/// How many slots ahead a push prefetches.
const PREFETCH_AHEAD: usize = 4;

/// Asks the CPU to fetch `len` bytes at `ptr` into its cache, ready to be written.
fn prefetch_for_write(ptr: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
        let mut offset = 0;
        while offset < len {
            // SAFETY: prefetching is a hint: it never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(ptr.wrapping_add(offset).cast()) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, len);
}

/// Adds to a counter that has a single writer (a plain load and a release store: no locked
/// instruction on the hot path).
fn store_add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Release);
}
