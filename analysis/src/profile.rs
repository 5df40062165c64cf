//! Where the time went, per function: how many calls, their total and own time (less the time
//! of their recorded children), mean, median and 99th percentile, and exceptions.
//!
//! One walk over the run's call heads ([`store::Snapshot::scan_heads`]: no argument or result
//! is read), with the calls running in each process on a stack (`walk::Stacks`):
//! a call's duration is added to its function's total and own time and taken off its
//! parent's function's own time. Tail calls make no children (the function a call continued
//! as is still that call), so their time stays in the call's own time. Memory: one entry per
//! function (a few KiB with its histogram) and the stacks, whatever the number of calls.
//!
//! Total time counts a recursive function once per call on the stack: `f` calling `f` counts
//! the inner call's time in both (own time does not). Calls still running (or whose end was
//! not captured) count as calls but add no time.
//!
//! Percentiles come from a log-linear histogram per function ([`Histogram`]): a duration is
//! reported as the middle of its bucket, at most 1.6 % away from the true one (exact below
//! 64 ns), and never outside the function's shortest and longest call.

use serde::Serialize;

use crate::walk::{Frame, Functions, Mfa, ModuleFilter, Scope, Stacks};

/// How a profile is sorted (largest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Own time.
    #[default]
    Own,
    /// Total time.
    Total,
    /// Number of calls.
    Count,
    /// Mean time.
    Mean,
    /// 99th percentile.
    P99,
    /// Exceptions raised.
    Exceptions,
}

impl SortBy {
    /// The key as the CLI and IEx name it: `own`, `total`, `count`, `mean`, `p99`,
    /// `exceptions`.
    pub fn parse(text: &str) -> Option<SortBy> {
        Some(match text {
            "own" => SortBy::Own,
            "total" => SortBy::Total,
            "count" | "calls" => SortBy::Count,
            "mean" => SortBy::Mean,
            "p99" => SortBy::P99,
            "exceptions" => SortBy::Exceptions,
            _ => return None,
        })
    }

    /// The key's name, as [`SortBy::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Own => "own",
            SortBy::Total => "total",
            SortBy::Count => "count",
            SortBy::Mean => "mean",
            SortBy::P99 => "p99",
            SortBy::Exceptions => "exceptions",
        }
    }

    /// Every key's name, for messages.
    pub const NAMES: &'static str = "own, total, count, mean, p99, exceptions";
}

/// One function's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionProfile {
    /// The function.
    #[serde(flatten)]
    pub mfa: Mfa,
    /// Calls in the scope (finished or not).
    pub calls: u64,
    /// Of them, calls without an end (running, or the end was not captured): no time.
    pub unfinished: u64,
    /// Sum of the finished calls' durations, ns.
    pub total_ns: u64,
    /// Total less the time of the calls' recorded children (same process), ns.
    pub own_ns: u64,
    /// Mean duration of the finished calls, ns.
    pub mean_ns: u64,
    /// Median duration, ns (see the module documentation for the precision).
    pub p50_ns: u64,
    /// 99th percentile duration, ns.
    pub p99_ns: u64,
    /// Calls that raised (any class).
    pub exceptions: u64,
}

/// A run's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// The run.
    pub run: u64,
    /// Calls in the scope.
    pub calls: u64,
    /// Their functions, sorted as asked (by own time unless [`Profile::sort`] changed it).
    pub functions: Vec<FunctionProfile>,
}

impl Profile {
    /// Sorts the functions by `key`, largest first (ties by name).
    pub fn sort(&mut self, key: SortBy) {
        let value = |f: &FunctionProfile| match key {
            SortBy::Own => f.own_ns,
            SortBy::Total => f.total_ns,
            SortBy::Count => f.calls,
            SortBy::Mean => f.mean_ns,
            SortBy::P99 => f.p99_ns,
            SortBy::Exceptions => f.exceptions,
        };
        self.functions
            .sort_by(|a, b| value(b).cmp(&value(a)).then_with(|| a.mfa.cmp(&b.mfa)));
    }

    /// Keeps the first `n` functions.
    pub fn truncate(&mut self, n: usize) {
        self.functions.truncate(n);
    }
}

/// What a walk keeps per function.
#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    unfinished: u64,
    total: u64,
    /// Own time: can dip below zero while a parent's children are taken off first.
    own: i64,
    exceptions: u64,
    durations: Histogram,
}

/// Profiles the calls of `scope` in `snap`'s run, sorted by own time.
pub fn profile(snap: &store::Snapshot, scope: &Scope) -> store::Result<Profile> {
    let mut functions = Functions::default();
    let mut tallies: Vec<Tally> = Vec::new();
    let mut modules = ModuleFilter::new(scope);
    // A frame holds its function's index, when the call is in the scope.
    let mut stacks: Stacks<Option<u32>> = Stacks::default();
    let mut calls = 0u64;
    snap.scan_heads(0, scope.pid, |call| {
        let in_scope = scope.holds(call.pid, call.start, modules.holds(snap, call.module));
        let function = in_scope.then(|| {
            let i = functions.index(call.module, call.function, call.arity);
            if i as usize == tallies.len() {
                tallies.push(Tally::default());
            }
            i
        });
        let parent = stacks.enter(call.pid, call.parent, |_, _| {});
        let duration = call.duration_ns();
        if let (Some(parent), Some(d)) = (parent.and_then(|p| p.data), duration) {
            tallies[parent as usize].own -= d as i64;
        }
        if let Some(i) = function {
            calls += 1;
            let tally = &mut tallies[i as usize];
            tally.calls += 1;
            match call.end {
                Some((_, outcome)) => {
                    let d = duration.unwrap_or(0);
                    tally.total += d;
                    tally.own += d as i64;
                    tally.durations.record(d);
                    if matches!(outcome, store::Outcome::Exception(_)) {
                        tally.exceptions += 1;
                    }
                }
                None => tally.unfinished += 1,
            }
        }
        stacks.push(
            call.pid,
            Frame {
                id: call.id,
                data: function,
            },
        );
        Ok(true)
    })?;
    debug_assert_eq!(functions.len(), tallies.len());
    let functions = functions
        .names(snap)
        .into_iter()
        .zip(tallies)
        .map(|(mfa, t)| {
            let finished = t.calls - t.unfinished;
            FunctionProfile {
                mfa,
                calls: t.calls,
                unfinished: t.unfinished,
                total_ns: t.total,
                own_ns: t.own.max(0) as u64,
                mean_ns: t.total.checked_div(finished).unwrap_or(0),
                p50_ns: t.durations.percentile(50.0),
                p99_ns: t.durations.percentile(99.0),
                exceptions: t.exceptions,
            }
        })
        .collect();
    let mut profile = Profile {
        run: snap.run().id,
        calls,
        functions,
    };
    profile.sort(SortBy::Own);
    Ok(profile)
}

/// Sub-buckets per power of two: 2^5, so a bucket is at most 1/32 of its lower bound wide.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

/// Durations in log-linear buckets (as HDR histograms lay them out): exact below 64 ns, then
/// 32 buckets per power of two. A bucket's middle is at most 1/64 (1.6 %) of the value away
/// from any value in it. Dense from 0 to the longest duration's bucket: at most 1,920
/// counters (15 KiB) for durations up to 2^64 ns, 900 (3.6 KiB) up to 17 s.
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: Vec<u32>,
    n: u64,
    min: u64,
    max: u64,
}

impl Histogram {
    fn bucket(value: u64) -> usize {
        if value < 2 * SUB {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros(); // >= SUB_BITS + 1
        let shift = exponent - SUB_BITS;
        let mantissa = (value >> shift) - SUB; // 0..SUB
        ((shift as u64 + 1) * SUB + mantissa) as usize
    }

    /// The middle of a bucket.
    fn middle(bucket: usize) -> u64 {
        let bucket = bucket as u64;
        if bucket < 2 * SUB {
            return bucket;
        }
        let shift = bucket / SUB - 1;
        let low = (SUB + bucket % SUB) << shift;
        low + (1u64 << shift) / 2
    }

    /// Counts one duration.
    pub fn record(&mut self, value: u64) {
        let bucket = Self::bucket(value);
        if bucket >= self.counts.len() {
            self.counts.resize(bucket + 1, 0);
        }
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
        self.min = if self.n == 0 {
            value
        } else {
            self.min.min(value)
        };
        self.max = self.max.max(value);
        self.n += 1;
    }

    /// The `p`th percentile (nearest rank: the smallest value with at least `p` % of the
    /// values at or below it), 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p / 100.0 * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Self::middle(bucket).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_below_64_then_within_one_sixty_fourth() {
        for v in 0..64 {
            assert_eq!(Histogram::middle(Histogram::bucket(v)), v);
        }
        let mut v = 64u64;
        while v < u64::MAX / 3 {
            let m = Histogram::middle(Histogram::bucket(v));
            let err = m.abs_diff(v) as f64 / v as f64;
            assert!(err <= 1.0 / 64.0, "{v} -> {m}");
            v = v / 5 * 7 + 1;
        }
        assert!(Histogram::bucket(u64::MAX) < 1920);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50.0), 0);
        // 1..=50 ns: exact buckets.
        for v in 1..=50 {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 25);
        assert_eq!(h.percentile(99.0), 50);
        assert_eq!(h.percentile(100.0), 50);
        // One value: clamped to it whatever its bucket.
        let mut one = Histogram::default();
        one.record(123_457);
        assert_eq!(one.percentile(50.0), 123_457);
        assert_eq!(one.percentile(99.0), 123_457);
    }
}
