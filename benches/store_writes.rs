//! The drain's store side: events per second through `RunWriter::write` (staging, blocks,
//! compression) and `RunWriter::seal` (the segment file), in batches of the drain's default
//! size, calls nested three deep across 64 processes, with arguments and results shaped like
//! a JSON library's (a binary of 20-60 bytes, a small map, a tuple), varied per call so that
//! compression works as on real values.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use store::{AtomKey, AtomNames, Bytes, End, Enter, Event, EventKind, Outcome, RunInfo, Store};

const BATCH_CALLS: u64 = 4096; // 8192 events, the drain's default batch
const BATCHES_PER_SEAL: u64 = 16;

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

/// `[<<"{\"key\": N, ...}">>, #{depth => D}]` in the external term format.
fn args(id: u64) -> Bytes {
    let text = format!(
        "{{\"key\": {}, \"name\": \"user{}\", \"ok\": {}}}",
        id,
        id % 977,
        id.is_multiple_of(2)
    );
    let mut out = vec![131, 108, 0, 0, 0, 2, 109];
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&[116, 0, 0, 0, 1, 119, 5]);
    out.extend_from_slice(b"depth");
    out.extend_from_slice(&[97, (id % 3) as u8, 106]);
    Bytes::from_vec(out)
}

/// `{ok, N}`.
fn result(id: u64) -> Bytes {
    let mut out = vec![131, 104, 2, 119, 2, b'o', b'k', 98];
    out.extend_from_slice(&(id as u32).to_be_bytes());
    Bytes::from_vec(out)
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
                args: args(id),
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
                value: result(id),
            }),
        });
    }
    events
}

fn writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("store writes");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * BATCH_CALLS * BATCHES_PER_SEAL));
    group.bench_function("16 batches of 8,192 events, then a seal", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path().join("store")).unwrap();
            let mut writer = store.begin_run(&info()).unwrap();
            let mut next = 1;
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batches: Vec<Vec<Event>> = (0..BATCHES_PER_SEAL)
                    .map(|i| batch(next + i * BATCH_CALLS))
                    .collect();
                next += BATCHES_PER_SEAL * BATCH_CALLS;
                let start = Instant::now();
                for events in batches {
                    writer.write(events, &Names).unwrap();
                }
                writer.seal(0, 0).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, writes);
criterion_main!(benches);
