//! Query latency as the store grows: a call by id, its direct children, a folded tree of a
//! call with 10,000 children, and the newest calls of a module, at 100,000 and 10,000,000 stored
//! events (enter and end of each call: 50,000 and 5,000,000 calls).
//!
//! The stores are built once into `CARGO_TARGET_TMPDIR/query-bench/` and reused by later runs.
//! They are written as the runtime writes: a seal every 64 batches of 8,192 events (about a
//! second of a heavy load), each followed by the maintenance pass (compaction). Shape: requests of nine
//! calls (`Web.handle/2` calling `Repo.get/2` four times, each calling `Codec.decode/1`) over
//! 500 processes, and one `Loop.run/1` with 10,000 children in the middle.
//!
//! Each measured query opens a new snapshot first, as every query of the NIF does (the
//! IEx helpers' cost), except where the name says "open snapshot".

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use store::{
    AtomKey, AtomNames, Bytes, CallFilter, End, Enter, Event, EventKind, Outcome, Retention,
    RunInfo, Store, StoreReader, TreeLimits,
};

/// Atom keys: 0 Web, 1 Repo, 2 Codec, 3 Loop, 10 handle, 11 get, 12 decode, 13 run, 14 step.
struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        let name = match key {
            0 => "Elixir.Web",
            1 => "Elixir.Repo",
            2 => "Elixir.Codec",
            3 => "Elixir.Loop",
            10 => "handle",
            11 => "get",
            12 => "decode",
            13 => "run",
            14 => "step",
            _ => return None,
        };
        Some(name.to_string())
    }
}

const PROCESSES: u64 = 500;
const LOOP_CHILDREN: u64 = 10_000;

/// Writes calls in id order: enter and end events, batched like the drain.
struct Builder {
    batch: Vec<Event>,
    next_id: u64,
    clock: u64,
    events: u64,
}

impl Builder {
    fn enter(&mut self, parent: Option<u64>, pid: u64, module: AtomKey, function: AtomKey) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.clock += 100;
        self.events += 1;
        self.batch.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: parent.and_then(NonZeroU64::new),
                pid,
                module,
                function,
                arity: 2,
                // [42, <<"key">>]
                args: Bytes::from_slice(&[
                    131, 108, 0, 0, 0, 2, 97, 42, 109, 0, 0, 0, 3, 107, 101, 121, 106,
                ]),
                process: None,
                client: None,
            }),
        });
        id
    }

    fn end(&mut self, id: u64) {
        self.clock += 100;
        self.events += 1;
        self.batch.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome: Outcome::Return,
                tail_calls: 0,
                // {ok, 42}
                value: Bytes::from_slice(&[131, 104, 2, 119, 2, b'o', b'k', 97, 42]),
            }),
        });
    }

    fn request(&mut self, pid: u64) {
        let root = self.enter(None, pid, 0, 10);
        for _ in 0..4 {
            let get = self.enter(Some(root), pid, 1, 11);
            let decode = self.enter(Some(get), pid, 2, 12);
            self.end(decode);
            self.end(get);
        }
        self.end(root);
    }

    fn looping(&mut self, pid: u64) -> u64 {
        let root = self.enter(None, pid, 3, 13);
        for _ in 0..LOOP_CHILDREN {
            let step = self.enter(Some(root), pid, 3, 14);
            self.end(step);
        }
        self.end(root);
        root
    }
}

/// A store of about `events` events (built once, then reused), and the id of the loop call.
fn bench_store(events: u64) -> (PathBuf, u64) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("query-bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let path = dir.join(format!("store-v2-{events}"));
    let done = dir.join(format!("store-v2-{events}.done"));
    if let Ok(text) = std::fs::read_to_string(&done) {
        if let Ok(loop_id) = text.trim().parse() {
            return (path, loop_id);
        }
    }
    let _ = std::fs::remove_dir_all(&path);
    eprintln!("building a store of {events} events in {}", path.display());
    let store = Store::open(&path).expect("opening the bench store");
    let info = RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "bench@host".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    };
    let retention = Retention {
        max_bytes: u64::MAX / 4,
    };
    let mut writer = store.begin_run(&info).expect("a run");
    let maintenance = writer.maintenance(retention);
    let mut batches = 0;
    let mut b = Builder {
        batch: Vec::with_capacity(9000),
        next_id: 1,
        clock: 0,
        events: 0,
    };
    let mut loop_id = 0;
    let mut request = 0u64;
    while b.events < events {
        if loop_id == 0 && b.events >= events / 2 {
            loop_id = b.looping(PROCESSES + 1);
        } else {
            b.request(1 + request % PROCESSES);
            request += 1;
        }
        if b.batch.len() >= 8192 {
            writer
                .write(std::mem::take(&mut b.batch), &Names)
                .expect("writing a batch");
            batches += 1;
            if batches % 64 == 0 {
                writer.seal(0, 0).expect("sealing");
                maintenance.run().expect("compacting");
            }
        }
    }
    writer
        .write(std::mem::take(&mut b.batch), &Names)
        .expect("writing the last batch");
    writer.finish(0, 0, 0).expect("finishing the run");
    maintenance.run().expect("compacting");
    drop(store);
    std::fs::write(&done, format!("{loop_id}\n")).expect("marking the store complete");
    (path, loop_id)
}

/// A pseudo-random id in `1..=max` (the same sequence every run).
fn ids(max: u64) -> impl FnMut() -> u64 {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        1 + state % max
    }
}

fn queries(c: &mut Criterion) {
    let mut group = c.benchmark_group("query");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for events in [100_000u64, 10_000_000] {
        let (path, loop_id) = bench_store(events);
        let label = if events >= 1_000_000 {
            "10M events"
        } else {
            "100k events"
        };
        let reader = StoreReader::open(&path).expect("opening the store");
        let calls = reader.snapshot(None).unwrap().counts().unwrap().calls;
        let mut next = ids(calls);

        group.bench_function(BenchmarkId::new("call by id", label), |b| {
            b.iter(|| {
                let snap = reader.snapshot(None).unwrap();
                snap.call(next()).unwrap().expect("a stored call")
            })
        });
        let snap = reader.snapshot(None).unwrap();
        group.bench_function(BenchmarkId::new("call by id, open snapshot", label), |b| {
            b.iter(|| snap.call(next()).unwrap().expect("a stored call"))
        });
        // Request roots: every ninth call before the loop is one (four children each).
        group.bench_function(BenchmarkId::new("children of a call", label), |b| {
            b.iter(|| {
                let root = 1 + 9 * ((next() % (loop_id.max(10) - 1)) / 9);
                let snap = reader.snapshot(None).unwrap();
                let children = snap.children(root, 100).unwrap();
                assert_eq!(children.len(), 4);
                children
            })
        });
        group.bench_function(
            BenchmarkId::new("folded tree of 10,000 children", label),
            |b| {
                b.iter(|| {
                    let snap = reader.snapshot(None).unwrap();
                    let tree = snap.tree(loop_id, &TreeLimits::DEFAULT).unwrap().unwrap();
                    assert_eq!(tree.calls, LOOP_CHILDREN + 1);
                    tree
                })
            },
        );
        group.bench_function(
            BenchmarkId::new("newest 20 calls of a module", label),
            |b| {
                let filter = CallFilter {
                    module: Some("Elixir.Codec".into()),
                    ..Default::default()
                };
                b.iter(|| {
                    let snap = reader.snapshot(None).unwrap();
                    let calls = snap.calls(&filter).unwrap();
                    assert_eq!(calls.len(), 20);
                    calls
                })
            },
        );
        group.bench_function(BenchmarkId::new("open the store read-only", label), |b| {
            b.iter(|| StoreReader::open(&path).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
