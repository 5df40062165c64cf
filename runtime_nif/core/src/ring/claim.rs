//! Which single-producer lane a thread owns.
//!
//! A thread's first push claims a lane (the one its scheduler number names, or any free one)
//! with a compare-and-swap and remembers it in a thread-local; the claim is released when the
//! thread exits. Threads that find every lane taken use the shared lane. ERTS scheduler
//! threads live as long as the VM and each names a different lane, so each owns its own.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The claim flags of one ring's single-producer lanes.
pub(super) struct Claims {
    id: u64,
    flags: Arc<[AtomicBool]>,
}

/// A thread's claim on a lane; released when the thread exits.
struct Held {
    ring: u64,
    lane: Option<usize>,
    flags: Arc<[AtomicBool]>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(lane) = self.lane {
            self.flags[lane].store(false, Ordering::Release);
        }
    }
}

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

impl Claims {
    /// Flags for `lanes` lanes, all free.
    pub fn new(lanes: usize) -> Claims {
        Claims {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            flags: (0..lanes).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// The lane this thread owns, claiming one on its first call (`None`: all were taken).
    pub fn lane_of_this_thread(&self, hint: usize) -> Option<usize> {
        HELD.with(|held| {
            if let Some(h) = held.borrow().iter().find(|h| h.ring == self.id) {
                return h.lane;
            }
            let lane = self.claim(hint);
            held.borrow_mut().push(Held {
                ring: self.id,
                lane,
                flags: self.flags.clone(),
            });
            lane
        })
    }

    fn claim(&self, hint: usize) -> Option<usize> {
        let n = self.flags.len();
        (0..n).map(|k| (hint + k) % n).find(|&lane| {
            self.flags[lane]
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })
    }
}
