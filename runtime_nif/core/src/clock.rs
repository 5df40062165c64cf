//! Clocks: event times are `CLOCK_MONOTONIC` nanoseconds.
//!
//! Reading `CLOCK_MONOTONIC` (a vDSO call) costs about 16 ns here, the CPU's time-stamp counter
//! about 7 ns, and a recorded call reads the clock twice. So once [`calibrate`] has run (the
//! runtime's start does it), [`monotonic_ns`] reads the TSC through `quanta` (which checks that
//! the counter is invariant, else falls back to the OS clock) and maps its ticks to
//! `CLOCK_MONOTONIC` time along a line: an anchor (the counter and the OS clock read together)
//! and a rate.
//!
//! A rate measured once drifts from the OS clock, differently in each process: from 2 ppm to a
//! few hundred here (a call stored 547 µs before an `erlang:monotonic_time()` read ahead of it
//! after 40 s, or 2.3 ms after it after 8 s), enough for `calls(since: t)` to miss a call made
//! right after `t` was read. So
//! [`keep_to_os`] (the collector calls it as it loops) compares the two every
//! [`RESYNC_EVERY`] and starts a new line where the old one is now, with the run's measured
//! rate corrected to close the gap by the next comparison: times stay continuous and
//! increasing, and within about a microsecond of the OS clock. A reader takes the line under a
//! sequence lock (two more loads, no write). Before calibration `monotonic_ns` reads
//! `CLOCK_MONOTONIC` itself.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How often [`keep_to_os`] compares the counter's time with the OS clock.
pub const RESYNC_EVERY: Duration = Duration::from_millis(100);

/// The most a new line's rate differs from the run's measured rate (1,000 ppm): a gap closes
/// by slewing, never by a step back.
const MAX_SLEW: f64 = 1e-3;

/// A gap larger than this (the machine was suspended, say) is closed by a step forward.
const MAX_GAP_NS: f64 = 10_000_000.0;

/// The line's rate is kept in units of 2^-32 ns per tick.
const FIXED: f64 = (1u64 << 32) as f64;

/// The counter, and where it and the OS clock were when calibrated.
struct Counter {
    clock: quanta::Clock,
    first_raw: u64,
    first_ns: u64,
}

static COUNTER: OnceLock<Counter> = OnceLock::new();

/// The current line, under a sequence lock: `version` is odd while it changes.
struct Line {
    version: AtomicU64,
    raw: AtomicU64,
    ns: AtomicU64,
    /// Nanoseconds per tick, in units of 2^-32 ns (fixed point: a multiply and a shift).
    rate: AtomicU64,
}

static LINE: Line = Line {
    version: AtomicU64::new(0),
    raw: AtomicU64::new(0),
    ns: AtomicU64::new(0),
    rate: AtomicU64::new(0),
};

/// When the line was last compared with the OS clock (OS ns); held by the one who moves it.
static RESYNCED: Mutex<u64> = Mutex::new(0);

impl Line {
    /// The anchor's ticks and nanoseconds, and the rate (2^-32 ns per tick).
    #[inline]
    fn read(&self) -> (u64, u64, u64) {
        loop {
            let before = self.version.load(Ordering::Acquire);
            let raw = self.raw.load(Ordering::Relaxed);
            let ns = self.ns.load(Ordering::Relaxed);
            let rate = self.rate.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if before & 1 == 0 && self.version.load(Ordering::Relaxed) == before {
                return (raw, ns, rate);
            }
            std::hint::spin_loop();
        }
    }

    /// Moves the line; one writer at a time (the caller holds [`RESYNCED`] or is
    /// [`calibrate`]'s one-time initialiser).
    fn write(&self, raw: u64, ns: u64, rate: f64) {
        let rate = (rate * FIXED).round() as u64;
        let version = self.version.load(Ordering::Relaxed);
        self.version.store(version + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.raw.store(raw, Ordering::Relaxed);
        self.ns.store(ns, Ordering::Relaxed);
        self.rate.store(rate, Ordering::Relaxed);
        self.version.store(version + 2, Ordering::Release);
    }

    /// The time at `raw` along the line (at its anchor for a `raw` read before a newer line
    /// was drawn: a few nanoseconds late, never earlier than a time already given).
    #[inline]
    fn at(&self, raw: u64) -> u64 {
        let (anchor_raw, anchor_ns, rate) = self.read();
        let ticks = raw.saturating_sub(anchor_raw) as u128;
        anchor_ns + ((ticks * rate as u128) >> 32) as u64
    }
}

/// The counter and the OS clock read together: the OS clock on both sides of the counter, the
/// tightest of a few tries, its midpoint.
fn read_both(clock: &quanta::Clock) -> (u64, u64) {
    (0..5)
        .map(|_| {
            let before = os_monotonic_ns();
            let raw = clock.raw();
            let after = os_monotonic_ns();
            (after - before, raw, before + (after - before) / 2)
        })
        .min()
        .map(|(_, raw, ns)| (raw, ns))
        .unwrap_or_else(|| (clock.raw(), os_monotonic_ns()))
}

/// Calibrates the fast clock (once per process; about a millisecond: call it off the hot
/// path, as the runtime's start does on a dirty scheduler).
pub fn calibrate() {
    COUNTER.get_or_init(|| {
        let clock = quanta::Clock::new();
        let (raw, ns) = read_both(&clock);
        // The rate quanta measured (1 for its fallback to the OS clock, whose ticks are ns).
        let rate = clock.delta_as_nanos(0, 1 << 40) as f64 / (1u64 << 40) as f64;
        LINE.write(raw, ns, rate);
        *RESYNCED.lock().unwrap_or_else(|p| p.into_inner()) = ns;
        Counter {
            clock,
            first_raw: raw,
            first_ns: ns,
        }
    });
}

/// `CLOCK_MONOTONIC` in nanoseconds: from the calibrated counter once [`calibrate`] ran, else
/// from the OS.
#[inline]
pub fn monotonic_ns() -> u64 {
    match COUNTER.get() {
        Some(c) => LINE.at(c.clock.raw()),
        None => os_monotonic_ns(),
    }
}

/// Keeps the counter's time to the OS clock: at most every [`RESYNC_EVERY`] (sooner calls
/// return at once), starts a new line where the current one is, with a rate that closes the
/// gap to the OS clock by the next time. For a background thread's loop; nothing before
/// [`calibrate`].
pub fn keep_to_os() {
    let Some(c) = COUNTER.get() else {
        return;
    };
    let Ok(mut resynced) = RESYNCED.try_lock() else {
        return;
    };
    if os_monotonic_ns() < *resynced + RESYNC_EVERY.as_nanos() as u64 {
        return;
    }
    let (raw, os) = read_both(&c.clock);
    let now = LINE.at(raw);
    // The counter's rate over the whole run so far (its calibration's error gone).
    let run_rate = match (raw.checked_sub(c.first_raw), os.checked_sub(c.first_ns)) {
        (Some(ticks), Some(ns)) if ticks > 0 && ns > 0 => ns as f64 / ticks as f64,
        _ => LINE.read().2 as f64 / FIXED,
    };
    let gap = os as f64 - now as f64;
    let (ns, rate) = if gap > MAX_GAP_NS {
        (os, run_rate)
    } else {
        let slew = (gap / RESYNC_EVERY.as_nanos() as f64).clamp(-MAX_SLEW, MAX_SLEW);
        (now, run_rate * (1.0 + slew))
    };
    LINE.write(raw, ns, rate);
    *resynced = os;
}

/// `CLOCK_MONOTONIC` in nanoseconds, read from the OS.
pub fn os_monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock time in nanoseconds since the UNIX epoch (0 if the clock is before it).
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_time_does_not_go_back() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a && a > 0);
    }

    #[test]
    fn the_calibrated_clock_keeps_to_the_os_clock() {
        calibrate();
        for _ in 0..5 {
            let before = os_monotonic_ns();
            let fast = monotonic_ns();
            std::thread::sleep(std::time::Duration::from_millis(20));
            let after = os_monotonic_ns();
            let fast_after = monotonic_ns();
            // Within 1 ms of the OS clock, and as far apart as the OS clock's readings (to 1%
            // and the reading's own cost).
            assert!(fast.abs_diff(before) < 1_000_000, "{fast} vs {before}");
            let (os_span, fast_span) = (after - before, fast_after - fast);
            assert!(fast_span.abs_diff(os_span) < os_span / 100 + 100_000);
        }
    }

    #[test]
    fn kept_to_the_os_clock_it_stays_close_and_never_goes_back() {
        calibrate();
        // A line that runs 500 ppm fast (50 µs every 100 ms; the real drift here is 2 ppm).
        {
            let _writer = RESYNCED.lock().unwrap();
            let (raw, rate) = (COUNTER.get().unwrap().clock.raw(), LINE.read().2);
            LINE.write(raw, LINE.at(raw), rate as f64 / FIXED * (1.0 + 5e-4));
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (backwards, readings) = std::thread::scope(|scope| {
            // A reader all along: times never decrease, across every new line.
            let reader = scope.spawn(|| {
                let mut last = monotonic_ns();
                let mut backwards = None;
                while !stop.load(Ordering::Relaxed) {
                    let now = monotonic_ns();
                    if now < last {
                        backwards.get_or_insert((last, now));
                    }
                    last = now;
                }
                backwards
            });
            for _ in 0..12 {
                std::thread::sleep(RESYNC_EVERY + Duration::from_millis(5));
                keep_to_os();
            }
            let readings: Vec<(u64, u64, u64)> = (0..5)
                .map(|_| {
                    std::thread::sleep(Duration::from_millis(30));
                    (os_monotonic_ns(), monotonic_ns(), os_monotonic_ns())
                })
                .collect();
            stop.store(true, Ordering::Relaxed);
            (reader.join().unwrap(), readings)
        });
        assert_eq!(backwards, None, "(before, after) of a step back");
        // Within 20 µs of the OS clock (a comparison is itself a few µs on a busy machine).
        for (before, fast, after) in readings {
            assert!(
                fast + 20_000 >= before && fast <= after + 20_000,
                "{before} <= {fast} <= {after}"
            );
        }
    }
}
