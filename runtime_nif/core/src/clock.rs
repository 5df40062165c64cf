//! Clocks: event times are `CLOCK_MONOTONIC` nanoseconds.
//!
//! Reading `CLOCK_MONOTONIC` (a vDSO call) costs about 16 ns here, the CPU's time-stamp counter
//! about 7 ns, and a recorded call reads the clock twice. So once [`calibrate`] has run (the
//! runtime's start does it), [`monotonic_ns`] reads the TSC through `quanta`, which checks that
//! the counter is invariant (else it falls back to the OS clock) and measures its rate against
//! `CLOCK_MONOTONIC`, and converts it to `CLOCK_MONOTONIC` time from one anchor taken at
//! calibration. The two clocks then drift apart by the calibration's error, about 1 ppm
//! measured here (a few milliseconds per hour); durations within a run are exact to that
//! ratio. Before calibration (tests without a runtime, the first instants of a start)
//! `monotonic_ns` reads `CLOCK_MONOTONIC` itself.

use std::sync::OnceLock;

/// The calibrated counter and its anchor: the counter's raw value and `CLOCK_MONOTONIC` read
/// together.
struct Counter {
    clock: quanta::Clock,
    raw_anchor: u64,
    monotonic_anchor: u64,
}

static COUNTER: OnceLock<Counter> = OnceLock::new();

/// Calibrates the fast clock (once per process; about a millisecond: call it off the hot
/// path, as the runtime's start does on a dirty scheduler).
pub fn calibrate() {
    COUNTER.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw_anchor = clock.raw();
        Counter {
            monotonic_anchor: os_monotonic_ns(),
            raw_anchor,
            clock,
        }
    });
}

/// `CLOCK_MONOTONIC` in nanoseconds: from the calibrated counter once [`calibrate`] ran, else
/// from the OS.
#[inline]
pub fn monotonic_ns() -> u64 {
    match COUNTER.get() {
        Some(c) => c.monotonic_anchor + c.clock.delta_as_nanos(c.raw_anchor, c.clock.raw()),
        None => os_monotonic_ns(),
    }
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
}
