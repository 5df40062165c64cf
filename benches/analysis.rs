//! Where the time goes, over a run of 10,000,000 calls (`fixture::shop_store`: a million
//! requests of ten nested calls over 500 processes, real values): `analysis::profile` and
//! the folded stacks of a flame graph, each a walk over every call's head. Target: a profile
//! of 10 M calls under 3 s (BENCHMARKS.md).
//!
//! The store is built once into `CARGO_TARGET_TMPDIR/analysis-bench/` and reused.

use std::path::Path;
use std::time::Duration;

use analysis::walk::Scope;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use elixir_scope_benches::fixture::shop_store;
use store::StoreReader;

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
    }
    group.finish();
}

criterion_group!(benches, analyses);
criterion_main!(benches);
