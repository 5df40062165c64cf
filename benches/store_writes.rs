//! Batched writes into the store: events per second through `RunWriter::write` with fast
//! (non-durable) commits, in batches of the drain's default size, calls nested three deep
//! across 64 processes.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use store::{
    AtomKey, AtomNames, Bytes, Commit, End, Enter, Event, EventKind, Outcome, Retention, RunInfo,
    Store,
};

const BATCH_CALLS: u64 = 4096; // 8192 events, the drain's default batch

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        Some(format!("atom{key}"))
    }
}

fn info() -> RunInfo {
    RunInfo {
        started_unix_ns: 0,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "bench@host".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    }
}

/// A batch of `BATCH_CALLS` calls starting at id `first`: enter and end of each.
fn batch(first: u64) -> Vec<Event> {
    let mut events = Vec::with_capacity(2 * BATCH_CALLS as usize);
    for id in first..first + BATCH_CALLS {
        let depth = id % 3;
        events.push(Event {
            call_id: id,
            time: id * 100,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: NonZeroU64::new(if depth > 0 { id - 1 } else { 0 }),
                pid: id % 64,
                module: id % 20,
                function: 100 + id % 7,
                arity: 2,
                args: Bytes::from_slice(&[131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106]),
                process: None,
                client: None,
            }),
        });
        events.push(Event {
            call_id: id,
            time: id * 100 + 50,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome: Outcome::Return,
                tail_calls: 0,
                value: Bytes::from_slice(&[131, 119, 2, b'o', b'k']),
            }),
        });
    }
    events
}

fn writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("store writes");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * BATCH_CALLS));
    group.bench_function("one batch of 8,192 events, fast commit", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path().join("bench.redb")).unwrap();
            let mut writer = store.begin_run(&info(), Retention::default()).unwrap();
            // A store that already holds data: a steady state, not an empty tree.
            for i in 0..20 {
                writer
                    .write(&batch(1 + i * BATCH_CALLS), &Names, Commit::Fast)
                    .unwrap();
            }
            let mut next = 1 + 20 * BATCH_CALLS;
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let events = batch(next);
                next += BATCH_CALLS;
                let start = Instant::now();
                writer.write(&events, &Names, Commit::Fast).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, writes);
criterion_main!(benches);
