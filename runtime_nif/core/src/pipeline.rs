//! The drain: a collector thread empties the ring into batches and sends them through a bounded
//! crossbeam channel to a writer thread, which turns them into blocks and seals them into the
//! store; a maintenance thread compacts the run's segments and applies the store's cap.
//!
//! ```text
//! schedulers ──push──> ring shards ──collector──> channel (bounded) ──writer──> blocks
//!                                                   every checkpoint: seal ──> segment file
//!                                                                 └──> maintenance thread
//! ```
//!
//! The collector sends a batch when it is full (`batch_events` or `batch_bytes`) or when its
//! oldest event has waited `commit_interval`; the writer seals a segment every
//! `checkpoint_interval` when it took events since the last one (readers in any process see
//! them then; a crash loses at most that interval). When the writer falls behind, the channel
//! fills, the collector waits, the ring fills, and the ring's policy drops events: the hot path
//! never waits.
//!
//! The collector sleeps between passes (parked, woken early by a request): 200 µs while events
//! come by the hundred, longer as the flow thins ([`pause`]), since every wake-up costs a
//! context switch.
//!
//! `flush` asks the collector to drain each shard up to the events it had accepted when the
//! request arrived, then the writer to seal; it returns once the segment is written.
//! `stop` drains everything, seals, records the run's summary and ends the threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError};
use store::{Event, Maintenance, RunInfo, RunWriter, Store, StoreReader};

use crate::clock;
use crate::config::Config;
use crate::error::RuntimeError;
use crate::recorder::Recorder;

/// The counters `stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the hot path produced.
    pub captured: u64,
    /// Events lost because the ring was full.
    pub dropped: u64,
    /// Events waiting in the ring.
    pub in_ring: u64,
    /// Events written to the store: in sealed segments, queryable by every process and on disk.
    pub stored: u64,
    /// The same as `stored` (every seal is durable); kept for the callers that read it.
    pub durable: u64,
    /// Events lost because a write failed.
    pub write_failed: u64,
    /// The last write error, if any.
    pub last_error: Option<String>,
    /// The run being recorded.
    pub run: u64,
}

/// Requests to the collector.
enum Control {
    Flush(Sender<Result<(), RuntimeError>>),
    Stop(Sender<Result<(), RuntimeError>>),
}

/// Messages to the writer.
enum ToWriter {
    Batch(Vec<Event>),
    Flush(Sender<Result<(), RuntimeError>>),
    Stop(Sender<Result<(), RuntimeError>>),
}

/// What the drain threads share with the runtime.
#[derive(Default)]
struct Shared {
    stored: AtomicU64,
    write_failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, text: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
    }
}

/// A running drain for one run.
pub struct Pipeline {
    recorder: Arc<Recorder>,
    shared: Arc<Shared>,
    control: Sender<Control>,
    /// The collector's thread, unparked after each request.
    collector: Thread,
    threads: Mutex<Vec<JoinHandle<()>>>,
    store: Store,
    reader: StoreReader,
    run: u64,
    memory_bound: usize,
}

impl Pipeline {
    /// Opens the store, registers a new run and starts the drain threads.
    pub fn start(config: Config, info: &RunInfo) -> Result<Pipeline, RuntimeError> {
        let config = config.normalized();
        let store = Store::open(&config.db_path)?;
        let mut writer = store.begin_run(info)?;
        writer.hold_at_most(config.unsealed_bytes);
        let run = writer.run();
        let maintenance = writer.maintenance(config.retention);
        let recorder = Arc::new(Recorder::new(&config));
        let shared = Arc::new(Shared::default());
        let (control, control_rx) = bounded(16);
        let (to_writer, from_collector) = bounded(config.channel_batches);
        let collector = {
            let recorder = recorder.clone();
            let config = config.clone();
            spawn("es_collector", move || {
                Collector::new(recorder, config, to_writer).run(control_rx)
            })?
        };
        let (sealed, to_maintain) = bounded(1);
        let maintainer = {
            let shared = shared.clone();
            spawn("es_maintenance", move || {
                maintain(maintenance, to_maintain, shared)
            })
        };
        let writer = maintainer.and_then(|maintainer| {
            let recorder = recorder.clone();
            let shared = shared.clone();
            let interval = config.checkpoint_interval;
            let writer = spawn("es_writer", move || {
                Writer {
                    writer: Some(writer),
                    recorder,
                    shared,
                    interval,
                    dirty: false,
                    sealed,
                }
                .run(from_collector)
            })?;
            Ok([maintainer, writer])
        });
        let [maintainer, writer] = match writer {
            Ok(threads) => threads,
            Err(e) => {
                // The collector (and the maintenance thread) exit once their channels close.
                drop(control);
                let _ = collector.join();
                return Err(e);
            }
        };
        Ok(Pipeline {
            recorder,
            shared,
            control,
            collector: collector.thread().clone(),
            threads: Mutex::new(vec![collector, writer, maintainer]),
            reader: store.reader(),
            store,
            run,
            memory_bound: config.memory_bound(),
        })
    }

    /// The most estimated bytes events hold between capture and store (see [`Config`]).
    pub fn memory_bound(&self) -> usize {
        self.memory_bound
    }

    /// The hot path's state.
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store for queries: one reader, so that it keeps what it opened from one query to
    /// the next (IEx asks many).
    pub fn reader(&self) -> &StoreReader {
        &self.reader
    }

    /// The run being recorded.
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let counts = self.recorder.counts();
        Stats {
            captured: self.recorder.captured(&counts),
            dropped: counts.dropped,
            in_ring: counts.in_ring,
            stored: self.shared.stored.load(Ordering::Acquire),
            durable: self.shared.stored.load(Ordering::Acquire),
            write_failed: self.shared.write_failed.load(Ordering::Relaxed),
            last_error: self
                .shared
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            run: self.run,
        }
    }

    /// Returns once every event accepted before the call is in a sealed segment (readable by
    /// every process, and on disk).
    pub fn flush(&self, timeout: Duration) -> Result<(), RuntimeError> {
        self.request(Control::Flush, timeout)
    }

    /// Drains everything, commits, records the run's summary and ends the threads.
    /// Later calls (and flushes) return [`RuntimeError::Stopped`].
    pub fn stop(&self, timeout: Duration) -> Result<(), RuntimeError> {
        // Nobody may wait for room in a ring the drain stops emptying.
        self.recorder.stop_blocking();
        let result = self.request(Control::Stop, timeout);
        if result.is_ok() {
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
            for t in threads {
                let _ = t.join();
            }
        }
        result
    }

    fn request(
        &self,
        make: impl FnOnce(Sender<Result<(), RuntimeError>>) -> Control,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let (reply, answer) = bounded(1);
        self.control
            .send_timeout(make(reply), timeout)
            .map_err(|_| RuntimeError::Stopped)?;
        self.collector.unpark();
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(RuntimeError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(RuntimeError::Stopped),
        }
    }
}

fn spawn(
    name: &'static str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, RuntimeError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|source| RuntimeError::Thread { name, source })
}

/// Empties the ring into batches.
struct Collector {
    recorder: Arc<Recorder>,
    config: Config,
    out: Sender<ToWriter>,
    batch: Vec<Event>,
    batch_bytes: usize,
    batch_started: Option<Instant>,
    next_shard: usize,
}

/// The collector's pause after a pass that moved `moved` events, `idle` passes in a row having
/// moved none.
///
/// Never chase the producers event by event: that bounces every slot's cache line between
/// cores (the benches/ring bench shows it). Drain what is there, then let the ring fill a
/// little: 200 µs while events come by the hundred. Every pass is a wake-up, a context switch
/// that costs a core tens of microseconds on a virtual machine, so the pause grows as the flow
/// thins: a VM recording a few thousand calls a second woke its collector 5,000 times a second,
/// 10-15 % of a core. The longest pause, 5 ms, is some 20,000 events for a scheduler recording
/// at full speed, which its lane and the shared lane hold.
fn pause(moved: usize, idle: usize) -> Duration {
    match moved {
        256.. => Duration::from_micros(200),
        16..=255 => Duration::from_millis(1),
        1..=15 => Duration::from_millis(5),
        0 if idle < 20 => Duration::from_millis(1),
        0 => Duration::from_millis(5),
    }
}

impl Collector {
    fn new(recorder: Arc<Recorder>, config: Config, out: Sender<ToWriter>) -> Collector {
        Collector {
            batch: Vec::with_capacity(config.batch_events),
            recorder,
            config,
            out,
            batch_bytes: 0,
            batch_started: None,
            next_shard: 0,
        }
    }

    fn run(mut self, control: Receiver<Control>) {
        let mut idle = 0usize;
        loop {
            // The event clock's drift from the OS clock, closed as the collector goes by.
            clock::keep_to_os();
            let moved = self.collect();
            idle = if moved > 0 { 0 } else { idle + 1 };
            // Parked, not blocked in `recv_timeout`: a channel's timed receive spins and
            // yields before it sleeps, which for pauses this short is most of the pause.
            // Requests unpark the thread.
            std::thread::park_timeout(pause(moved, idle));
            match control.try_recv() {
                Ok(Control::Flush(reply)) => {
                    let marks = self.recorder.ring().enqueued_marks();
                    if self.drain_to(&marks).is_err() || self.send(ToWriter::Flush(reply)).is_err()
                    {
                        return;
                    }
                }
                Ok(Control::Stop(reply)) => {
                    let marks = self.recorder.ring().enqueued_marks();
                    let _ = self.drain_to(&marks);
                    let _ = self.send(ToWriter::Stop(reply));
                    return;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    let marks = self.recorder.ring().enqueued_marks();
                    let _ = self.drain_to(&marks);
                    return;
                }
            }
            let stale = self
                .batch_started
                .is_some_and(|t| t.elapsed() >= self.config.commit_interval);
            if stale && self.ship().is_err() {
                return;
            }
        }
    }

    /// Moves what the ring holds into batches (shipping full ones); returns how many events.
    fn collect(&mut self) -> usize {
        let recorder = self.recorder.clone();
        let ring = recorder.ring();
        let shards = ring.lanes();
        let mut moved = 0;
        for _ in 0..shards {
            let shard = self.next_shard;
            self.next_shard = (self.next_shard + 1) % shards;
            loop {
                let room = self.config.batch_events - self.batch.len();
                let before = self.batch.len();
                self.batch_bytes += ring.pop_into(shard, &mut self.batch, room);
                let got = self.batch.len() - before;
                if got > 0 && self.batch_started.is_none() {
                    self.batch_started = Some(Instant::now());
                }
                moved += got;
                if self.batch.len() >= self.config.batch_events
                    || self.batch_bytes >= self.config.batch_bytes
                {
                    if self.ship().is_err() {
                        return moved;
                    }
                    continue;
                }
                break;
            }
        }
        moved
    }

    /// Drains each shard until it let out the events it had accepted at `marks`.
    fn drain_to(&mut self, marks: &[u64]) -> Result<(), ()> {
        let recorder = self.recorder.clone();
        let ring = recorder.ring();
        loop {
            let pending: Vec<usize> = (0..marks.len())
                .filter(|s| !ring.passed(*s, marks[*s]))
                .collect();
            if pending.is_empty() {
                return self.ship();
            }
            for shard in pending {
                let room = self.config.batch_events - self.batch.len();
                self.batch_bytes += ring.pop_into(shard, &mut self.batch, room.max(1));
                if self.batch.len() >= self.config.batch_events {
                    self.ship()?;
                }
            }
        }
    }

    /// Sends the current batch, if any.
    fn ship(&mut self) -> Result<(), ()> {
        self.batch_started = None;
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.config.batch_events),
        );
        self.batch_bytes = 0;
        self.send(ToWriter::Batch(batch))
    }

    fn send(&mut self, message: ToWriter) -> Result<(), ()> {
        self.out.send(message).map_err(|_| ())
    }
}

/// Compacts and caps the store after each seal (one request at a time: a seal that finds a
/// pass already asked for does not ask again).
fn maintain(maintenance: Maintenance, sealed: Receiver<()>, shared: Arc<Shared>) {
    // Compaction is background work: it yields the CPU to the schedulers and the drain.
    crate::thread::lower_priority();
    while sealed.recv().is_ok() {
        if let Err(e) = maintenance.run() {
            shared.error(format!("maintaining the store: {e}"));
        }
    }
    // The run ended (its writer is gone): a last pass, which leaves no merged inputs behind.
    if let Err(e) = maintenance.finish() {
        shared.error(format!("maintaining the store: {e}"));
    }
}

/// Turns batches into blocks, and seals them.
struct Writer {
    /// `None` once the run is finished.
    writer: Option<RunWriter>,
    recorder: Arc<Recorder>,
    shared: Arc<Shared>,
    interval: Duration,
    /// Whether events came since the last seal.
    dirty: bool,
    sealed: Sender<()>,
}

impl Writer {
    fn run(mut self, input: Receiver<ToWriter>) {
        let mut next_seal = Instant::now() + self.interval;
        loop {
            match input.recv_timeout(next_seal.saturating_duration_since(Instant::now())) {
                Ok(ToWriter::Batch(events)) => self.write(events),
                Ok(ToWriter::Flush(reply)) => {
                    let _ = reply.send(self.seal());
                    next_seal = Instant::now() + self.interval;
                }
                Ok(ToWriter::Stop(reply)) => {
                    let _ = reply.send(self.finish());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.finish();
                    return;
                }
            }
            if Instant::now() >= next_seal {
                if self.dirty {
                    let _ = self.seal();
                }
                next_seal = Instant::now() + self.interval;
            }
        }
    }

    fn write(&mut self, events: Vec<Event>) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let n = events.len() as u64;
        match writer.write(events, self.recorder.atoms()) {
            Ok(()) => self.dirty = true,
            Err(e) => {
                self.shared.write_failed.fetch_add(n, Ordering::Relaxed);
                self.shared.error(e.to_string());
            }
        }
    }

    /// Seals what was written since the last seal.
    fn seal(&mut self) -> Result<(), RuntimeError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(RuntimeError::Stopped);
        };
        let counts = self.recorder.counts();
        let sealed = writer.seal(self.recorder.captured(&counts), counts.dropped);
        let counters = writer.counters();
        self.shared.stored.store(counters.stored, Ordering::Release);
        self.shared
            .write_failed
            .fetch_max(counters.write_failed, Ordering::Relaxed);
        match sealed {
            Ok(report) => {
                self.dirty = false;
                if report.segment.is_some() {
                    let _ = self.sealed.try_send(());
                }
                Ok(())
            }
            Err(e) => {
                let text = e.to_string();
                self.shared.error(text.clone());
                Err(RuntimeError::Write(text))
            }
        }
    }

    fn finish(&mut self) -> Result<(), RuntimeError> {
        let Some(writer) = self.writer.take() else {
            return Err(RuntimeError::Stopped);
        };
        let counts = self.recorder.counts();
        let before = writer.counters();
        let finished = writer.finish(
            self.recorder.captured(&counts),
            counts.dropped,
            clock::unix_ns(),
        );
        match finished {
            Ok(counters) => {
                self.shared.stored.store(counters.stored, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.shared.stored.store(before.stored, Ordering::Release);
                let text = e.to_string();
                self.shared.error(text.clone());
                Err(RuntimeError::Write(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_pauses_longer_as_the_flow_thins_and_never_past_5_ms() {
        let flows = [100_000, 256, 255, 16, 15, 1];
        let pauses: Vec<Duration> = flows.iter().map(|&moved| pause(moved, 0)).collect();
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
        assert_eq!(pauses[0], Duration::from_micros(200));
        assert!(pause(1, 0) > pause(256, 0));
        for idle in [0, 1, 19, 20, 1_000_000] {
            assert!(pause(0, idle) <= Duration::from_millis(5));
            assert!(pause(0, idle) >= pause(1, 0) || idle < 20);
        }
        assert!(pause(0, 19) <= pause(0, 20));
    }
}
