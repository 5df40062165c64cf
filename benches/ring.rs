//! The ring: the cost of one push while a consumer drains concurrently (like the collector:
//! drain, pause 200 µs), for single-producer lanes (rtrb, the default) against one shared MPMC
//! queue (crossbeam's ArrayQueue, what drop-oldest uses), with one and two producer threads.
//! This is the measurement behind the ring's design (docs/ARCHITECTURE.md, "The ring").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime_core::ring::{DropPolicy, Ring};
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
fn run(policy: DropPolicy, shards: usize, producers: usize, per_thread: u64) -> Duration {
    let ring = Arc::new(Ring::new(shards, 1 << 16, usize::MAX, policy));
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
                    // Retry while full: the bench measures pushes that succeed.
                    while !ring.push(p, event(i)) {
                        std::hint::spin_loop();
                    }
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
            ("single-producer lanes", DropPolicy::DropNewest, producers),
            ("one shared MPMC queue", DropPolicy::DropOldest, 1),
        ];
        for (name, policy, shards) in cases {
            group.bench_function(format!("{producers} producer(s), {name}"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| run(policy, shards, producers, 100_000))
                        .sum()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);
