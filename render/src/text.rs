//! The small pieces of text every query prints, written the same way by the IEx helpers
//! (`runtime_nif/elixir/`): durations, counts, clock times, and values cut to a width.

use chrono::{Local, TimeZone as _, Utc};

/// The most characters a printed value (an argument, a result, an exception) takes in a line.
pub const VALUE_WIDTH: usize = 80;

/// The most characters all of a call's arguments take in a line.
pub const ARGUMENTS_WIDTH: usize = 120;

/// `text` cut to `width` characters: the first `width - 1` and `…`.
pub fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A duration: `850ns`, `1.2µs`, `12µs`, `3.4ms`, `1.5s` (one decimal below 10 units,
/// rounded half up).
pub fn duration(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let (unit, name) = if ns < 1_000_000 {
        (1_000u128, "µs")
    } else if ns < 1_000_000_000 {
        (1_000_000, "ms")
    } else {
        (1_000_000_000, "s")
    };
    let ns = u128::from(ns);
    let tenths = (ns * 10 + unit / 2) / unit;
    if tenths < 100 {
        format!("{}.{}{name}", tenths / 10, tenths % 10)
    } else {
        format!("{}{name}", (ns + unit / 2) / unit)
    }
}

/// A count with thousands separated: `9,990`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 call`, `2 calls` (the noun in the singular and its plural).
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A wall-clock time (ns since the UNIX epoch) as local `HH:MM:SS.mmm`.
pub fn clock(unix_ns: u64) -> String {
    Local
        .timestamp_nanos(unix_ns.min(i64::MAX as u64) as i64)
        .format("%H:%M:%S%.3f")
        .to_string()
}

/// A wall-clock time as local `YYYY-MM-DD HH:MM:SS`.
pub fn date_time(unix_ns: u64) -> String {
    Local
        .timestamp_nanos(unix_ns.min(i64::MAX as u64) as i64)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A wall-clock time in RFC 3339, UTC, with microseconds (for JSON).
pub fn rfc3339(unix_ns: u64) -> String {
    Utc.timestamp_nanos(unix_ns.min(i64::MAX as u64) as i64)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            (0, "0ns"),
            (999, "999ns"),
            (1_000, "1.0µs"),
            (1_249, "1.2µs"),
            (1_250, "1.3µs"),
            (9_949, "9.9µs"),
            (9_950, "10µs"),
            (12_345, "12µs"),
            (999_499, "999µs"),
            (1_500_000, "1.5ms"),
            (250_000_000, "250ms"),
            (3_000_000_000, "3.0s"),
            (125_000_000_000, "125s"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration(ns), text, "{ns} ns");
        }
    }

    #[test]
    fn counts_and_widths() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(10_000_000), "10,000,000");
        assert_eq!(counted(1, "call", "calls"), "1 call");
        assert_eq!(counted(1_000, "call", "calls"), "1,000 calls");
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("ééééééé", 3), "éé…");
    }
}
