//! Which scheduler a thread is, and which ring shard it pushes into; both computed once per
//! thread.
//!
//! ERTS names its normal scheduler threads `1_scheduler`, `2_scheduler`, ...; the number is the
//! scheduler id `erlang:system_info(scheduler_id)` reports. Other threads (dirty schedulers, the
//! benchmarks' threads) get scheduler 0 and a shard in round-robin order.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static IDENTITY: Cell<Option<(u16, usize)>> = const { Cell::new(None) };
}

static NEXT_OTHER: AtomicUsize = AtomicUsize::new(0);

/// Lowers this thread's scheduling priority (Linux nice 10, for this thread only): for
/// background work that must not take the CPU from the VM's schedulers or the drain. Best
/// effort: a system that refuses leaves the priority as it was.
pub fn lower_priority() {
    // SAFETY: gettid and setpriority take and return plain integers.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// The scheduler id of this thread (0 when it is not a normal scheduler).
pub fn scheduler_id() -> u16 {
    identity().0
}

/// The ring shard this thread pushes into (before taking it modulo the shard count).
pub fn shard_hint() -> usize {
    identity().1
}

fn identity() -> (u16, usize) {
    IDENTITY.with(|cell| match cell.get() {
        Some(id) => id,
        None => {
            let id = match scheduler_from_name(&thread_name()) {
                Some(n) => (n, n as usize - 1),
                None => (0, NEXT_OTHER.fetch_add(1, Ordering::Relaxed)),
            };
            cell.set(Some(id));
            id
        }
    })
}

/// The scheduler number in an ERTS thread name `N_scheduler`.
pub fn scheduler_from_name(name: &str) -> Option<u16> {
    let digits = name.strip_suffix("_scheduler")?;
    digits.parse().ok().filter(|n| *n > 0)
}

fn thread_name() -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is valid for its length; pthread_self is this thread.
    let rc = unsafe {
        libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), buf.len())
    };
    if rc != 0 {
        return String::new();
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erts_scheduler_names_give_their_number() {
        assert_eq!(scheduler_from_name("1_scheduler"), Some(1));
        assert_eq!(scheduler_from_name("12_scheduler"), Some(12));
        assert_eq!(scheduler_from_name("1_dirty_cpu_sch"), None);
        assert_eq!(scheduler_from_name("0_scheduler"), None);
        assert_eq!(scheduler_from_name("main"), None);
    }

    #[test]
    fn other_threads_get_distinct_shards() {
        let a = std::thread::spawn(shard_hint).join().unwrap();
        let b = std::thread::spawn(shard_hint).join().unwrap();
        assert_ne!(a, b);
        assert_eq!(std::thread::spawn(scheduler_id).join().unwrap(), 0);
    }
}
