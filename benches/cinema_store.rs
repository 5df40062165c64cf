//! Writes a large recording for the web UI's speed measurement (`tests/cinema_browser.rs`,
//! `cinema_speed`): `CINEMA_CALLS` calls (default 1,000,000) into the store directory
//! `CINEMA_STORE` (default `target/cinema-bench/store-<calls>`), kept and reused once complete.
//!
//! ```text
//! CINEMA_CALLS=10000000 cargo bench -p elixir-scope-benches --bench cinema_store
//! ```
//!
//! Shape, as a web server's: requests of nine calls (`Web.handle/2` calling `Repo.get/2` four
//! times, each calling `Codec.decode/1`) over 200 processes, one in 97 raising in its last
//! `decode`; 100 ns between events (a 10 M-call run spans 2 s). Written as the runtime
//! writes: batches of 8,192 events, a seal every 64 batches, compaction after each.

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Instant;

use store::{
    AtomKey, AtomNames, Bytes, Class, End, Enter, Event, EventKind, Outcome, Retention, RunInfo,
    Store,
};

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        Some(
            match key {
                0 => "Elixir.Web",
                1 => "Elixir.Repo",
                2 => "Elixir.Codec",
                10 => "handle",
                11 => "get",
                12 => "decode",
                _ => return None,
            }
            .to_string(),
        )
    }
}

const PROCESSES: u64 = 200;

struct Builder {
    batch: Vec<Event>,
    next_id: u64,
    clock: u64,
}

impl Builder {
    fn enter(&mut self, parent: Option<u64>, pid: u64, module: AtomKey, function: AtomKey) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.clock += 100;
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

    fn end(&mut self, id: u64, raised: bool) {
        self.clock += 100;
        let (outcome, value): (Outcome, &[u8]) = if raised {
            // {badarg, []}
            (
                Outcome::Exception(Class::Error),
                &[131, 104, 2, 119, 6, b'b', b'a', b'd', b'a', b'r', b'g', 106],
            )
        } else {
            // {ok, 42}
            (Outcome::Return, &[131, 104, 2, 119, 2, b'o', b'k', 97, 42])
        };
        self.batch.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome,
                tail_calls: 0,
                value: Bytes::from_slice(value),
            }),
        });
    }

    fn request(&mut self, pid: u64, raises: bool) {
        let root = self.enter(None, pid, 0, 10);
        for i in 0..4 {
            let get = self.enter(Some(root), pid, 1, 11);
            let decode = self.enter(Some(get), pid, 2, 12);
            let raise = raises && i == 3;
            self.end(decode, raise);
            self.end(get, raise);
        }
        self.end(root, raises);
    }
}

fn main() {
    let calls: u64 = std::env::var("CINEMA_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path = std::env::var_os("CINEMA_STORE").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/cinema-bench")
                .join(format!("store-{calls}"))
        },
        PathBuf::from,
    );
    let done = path.with_extension("done");
    if done.is_file() {
        println!("{}", path.display());
        return;
    }
    let _ = std::fs::remove_dir_all(&path);
    let started = Instant::now();
    let store = Store::open(&path).expect("opening the store");
    let info = RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "bench@host".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    };
    let mut writer = store.begin_run(&info).expect("a run");
    let maintenance = writer.maintenance(Retention {
        max_bytes: u64::MAX / 4,
    });
    let mut b = Builder {
        batch: Vec::with_capacity(9000),
        next_id: 1,
        clock: 0,
    };
    let mut request = 0u64;
    let mut batches = 0u64;
    while b.next_id <= calls {
        b.request(1 + request % PROCESSES, request % 97 == 96);
        request += 1;
        if b.batch.len() >= 8192 {
            writer
                .write(std::mem::take(&mut b.batch), &Names)
                .expect("writing a batch");
            batches += 1;
            if batches.is_multiple_of(64) {
                writer.seal(0, 0).expect("sealing");
                maintenance.run().expect("compacting");
            }
        }
    }
    writer
        .write(std::mem::take(&mut b.batch), &Names)
        .expect("writing the last batch");
    writer
        .finish(0, 0, info.started_unix_ns + b.clock)
        .expect("finishing the run");
    maintenance.run().expect("compacting");
    drop(store);
    std::fs::write(&done, "").expect("marking the store complete");
    eprintln!(
        "{} calls written in {:.1}s",
        b.next_id - 1,
        started.elapsed().as_secs_f64()
    );
    println!("{}", path.display());
}
