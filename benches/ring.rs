//! The ring: the cost of one push while a consumer drains concurrently (like the collector:
//! drain, pause 200 µs), for single-producer lanes (rtrb, the default) against one shared MPMC
//! lane (crossbeam's ArrayQueue), both dropping the newest event when full, with one and two
//! producer threads. Each lane holds more than a sample pushes, so no push waits for the
//! consumer: this measures the push itself, cross-core cache traffic included. It is the
//! measurement behind the ring's design (docs/ARCHITECTURE.md, "The ring").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime_core::ring::{DropPolicy, Ring, Room};
use store::{Bytes, End, Event, EventKind, Outcome};

fn event(id: u64) -> Event {
    Event {
        call_id: id,
        time: id,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: Bytes::from_slice(&[131, 97, 1]),
        }),
    }
}

/// Pushes `per_thread` events from each of `producers` threads while one consumer pops;
/// returns the time the producers took.
fn run(shards: usize, producers: usize, per_thread: u64) -> Duration {
    // Room for every push of the sample in each lane (the shared lane takes them all).
    let capacity = (shards + 1) * (producers as u64 * per_thread) as usize;
    let ring = Arc::new(Ring::new(
        shards,
        capacity,
        usize::MAX,
        DropPolicy::DropNewest,
    ));
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (ring, done) = (ring.clone(), done.clone());
        std::thread::spawn(move || {
            let mut out = Vec::with_capacity(4096);
            while !done.load(Ordering::Relaxed) {
                for s in 0..ring.lanes() {
                    ring.pop_into(s, &mut out, usize::MAX);
                }
                out.clear();
                // Like the collector: drain what is there, then let the producers run.
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let start = Instant::now();
    let threads: Vec<_> = (0..producers)
        .map(|p| {
            let ring = ring.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    assert!(
                        ring.push(p, event(i), Room::Full),
                        "the lane has room for the sample"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    consumer.join().unwrap();
    elapsed
}

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring push with a concurrent consumer");
    group.sample_size(10);
    for producers in [1usize, 2] {
        group.throughput(Throughput::Elements(100_000 * producers as u64));
        let cases = [
            ("single-producer lanes", producers),
            ("one shared MPMC lane", 0),
        ];
        for (name, shards) in cases {
            group.bench_function(format!("{producers} producer(s), {name}"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(shards, producers, 100_000)).sum())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);
