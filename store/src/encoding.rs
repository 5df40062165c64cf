//! Encoding blocks on a thread of their own: while it compresses one block, the writer pairs
//! the next events with their calls (the two halves of the drain's work take about the same
//! time, so the drain runs nearly twice as fast with a core for each).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::block::{self, EncodedBlock, Encoder, PendingCall};
use crate::error::{Result, StoreError};

/// Blocks waiting to be encoded at most (the writer waits beyond: its memory stays bounded).
const QUEUED_BLOCKS: usize = 4;

/// A block to encode.
pub(crate) struct Job {
    /// Its number in the run.
    pub no: u32,
    /// The events its calls hold.
    pub events: u64,
    /// The calls, sorted by id.
    pub calls: Vec<PendingCall>,
}

/// An encoded block, in the order the jobs were sent.
pub(crate) struct Done {
    /// Its number in the run.
    pub no: u32,
    /// The events its calls hold.
    pub events: u64,
    /// The block, or why it could not be encoded.
    pub block: Result<EncodedBlock>,
    /// The job's buffer, emptied, for the next job.
    pub buffer: Vec<PendingCall>,
}

/// The encoding thread and its two channels.
pub(crate) struct EncodingThread {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    in_flight: usize,
    thread: Option<JoinHandle<()>>,
}

impl EncodingThread {
    /// Starts the thread.
    pub fn start() -> Result<EncodingThread> {
        let mut encoder = Encoder::new()?;
        let (jobs, queued) = sync_channel::<Job>(QUEUED_BLOCKS);
        let (finished, done) = sync_channel::<Done>(QUEUED_BLOCKS + 1);
        let thread = std::thread::Builder::new()
            .name("es_encoder".to_owned())
            .spawn(move || {
                for mut job in queued {
                    let block = block::encode(&job.calls, &mut encoder);
                    job.calls.clear();
                    let done = Done {
                        no: job.no,
                        events: job.events,
                        block,
                        buffer: job.calls,
                    };
                    if finished.send(done).is_err() {
                        return;
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                path: Default::default(),
                during: "starting the block encoder thread",
                source,
            })?;
        Ok(EncodingThread {
            jobs: Some(jobs),
            done,
            in_flight: 0,
            thread: Some(thread),
        })
    }

    /// Sends a block to encode; waits while [`QUEUED_BLOCKS`] wait already. Finished blocks
    /// are handed to `take` meanwhile (the thread waits for room to hand them over).
    pub fn send(&mut self, job: Job, take: &mut impl FnMut(Done)) -> Result<()> {
        self.collect(false, take);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        let mut job = job;
        loop {
            match jobs.try_send(job) {
                Ok(()) => {
                    self.in_flight += 1;
                    return Ok(());
                }
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    job = back;
                    // Make room: wait for the oldest block to be done.
                    let done = self.done.recv().map_err(|_| stopped())?;
                    self.in_flight -= 1;
                    take(done);
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
            }
        }
    }

    /// Hands finished blocks to `take`: those done now, or (`all`) every block sent.
    pub fn collect(&mut self, all: bool, take: &mut impl FnMut(Done)) {
        while self.in_flight > 0 {
            let done = if all {
                self.done.recv().ok()
            } else {
                self.done.try_recv().ok()
            };
            let Some(done) = done else {
                if all {
                    // The thread is gone: nothing more will come.
                    self.in_flight = 0;
                }
                return;
            };
            self.in_flight -= 1;
            take(done);
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Stopped("the block encoder thread stopped".to_owned())
}

impl Drop for EncodingThread {
    fn drop(&mut self) {
        self.jobs = None;
        // Unblock the thread if it waits to hand over a block, then wait for it.
        while self.done.try_recv().is_ok() {}
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() {
                while self.done.try_recv().is_ok() {}
                std::thread::yield_now();
            }
            let _ = thread.join();
        }
    }
}
