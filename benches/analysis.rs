//! Questions asked of a run of 10,000,000 calls (`fixture::shop_store`: a million requests
//! of ten nested calls over 500 processes, real values):
//!
//! - where the time goes: `analysis::profile` and the folded stacks of a flame graph, each a
//!   walk over every call's head (target: a profile of 10 M calls under 3 s);
//! - patterns and searches, each finding nothing so that every candidate is looked at: a
//!   call pattern that names no function, matched against every call's arguments in place
//!   (target: under 2 s); one that names a function (`Shop.Payment.charge/2`, a call in ten:
//!   the store walks that function's calls only); a search for a binary anywhere in
//!   arguments, results and exceptions (target: under 3 s).
//!
//! Targets and figures: BENCHMARKS.md.
//!
//! The store is built once into `CARGO_TARGET_TMPDIR/analysis-bench/` and reused.

use std::path::Path;
use std::time::Duration;

use analysis::walk::Scope;
use analysis::{CallQuery, Dialect, ValuePattern};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use elixir_scope_benches::fixture::shop_store;
use store::{CallFilter, StoreReader};

fn analyses(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis-bench");
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    for (calls, label) in [(100_000u64, "100k calls"), (10_000_000, "10M calls")] {
        let path = shop_store(&dir, calls);
        let reader = StoreReader::open(&path).expect("opening the store");
        group.bench_function(BenchmarkId::new("profile", label), |b| {
            b.iter(|| {
                let snap = reader.snapshot(None).unwrap();
                let profile = analysis::profile::profile(&snap, &Scope::default()).unwrap();
                assert_eq!(profile.calls, calls);
                profile
            })
        });
        group.bench_function(BenchmarkId::new("folded stacks", label), |b| {
            b.iter(|| {
                let snap = reader.snapshot(None).unwrap();
                analysis::flame::folded(&snap, &Scope::default()).unwrap()
            })
        });
        let patterns = [
            ("match, any function", r#"_._(%{customer: "nobody"})"#),
            (
                "match, one function",
                "Shop.Payment.charge(_, n) when n > 1_000_000",
            ),
        ];
        for (name, pattern) in patterns {
            let query = CallQuery::parse(Some(pattern), None, None, Dialect::Elixir).unwrap();
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    let snap = reader.snapshot(None).unwrap();
                    let found = query.calls(&snap, &CallFilter::default()).unwrap();
                    assert!(found.is_empty());
                    found
                })
            });
        }
        let value = ValuePattern::parse(r#""ch_nobody""#, Dialect::Elixir).unwrap();
        group.bench_function(BenchmarkId::new("search a binary", label), |b| {
            b.iter(|| {
                let snap = reader.snapshot(None).unwrap();
                let found = analysis::search(&snap, &value, 0, u64::MAX, 20).unwrap();
                assert!(found.is_empty());
                found
            })
        });
    }
    group.finish();
}

criterion_group!(benches, analyses);
criterion_main!(benches);
