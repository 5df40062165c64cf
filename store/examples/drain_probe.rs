use std::num::NonZeroU64;
use std::time::Instant;
use store::{AtomKey, AtomNames, Bytes, End, Enter, Event, EventKind, Outcome, RunInfo, Store};
struct Names;
impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        Some(format!("atom{key}"))
    }
}
fn args(id: u64) -> Bytes {
    let text = format!(
        "{{\"key\": {}, \"name\": \"user{}\", \"ok\": {}}}",
        id,
        id % 977,
        id % 2 == 0
    );
    let mut out = vec![131, 108, 0, 0, 0, 2, 109];
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&[116, 0, 0, 0, 1, 119, 5]);
    out.extend_from_slice(b"depth");
    out.extend_from_slice(&[97, (id % 3) as u8, 106]);
    Bytes::from_vec(out)
}
fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .map_or(2_000_000, |s| s.parse().unwrap());
    let mut batches = Vec::new();
    let mut events = Vec::new();
    for id in 1..=calls {
        events.push(Event {
            call_id: id,
            time: id * 100,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: NonZeroU64::new(if id % 3 > 0 { id - 1 } else { 0 }),
                pid: id % 64,
                module: id % 20,
                function: 100 + id % 7,
                arity: 2,
                args: args(id),
                process: None,
                client: None,
            }),
        });
        let mut r = vec![131, 104, 2, 119, 2, b'o', b'k', 98];
        r.extend_from_slice(&(id as u32).to_be_bytes());
        events.push(Event {
            call_id: id,
            time: id * 100 + 50,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome: Outcome::Return,
                tail_calls: 0,
                value: Bytes::from_vec(r),
            }),
        });
        if events.len() >= 8192 {
            batches.push(std::mem::take(&mut events));
        }
    }
    batches.push(events);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s")).unwrap();
    let info = RunInfo {
        started_unix_ns: 0,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "n".into(),
        otp_release: "25".into(),
        tool_version: "0".into(),
    };
    let mut w = store.begin_run(&info).unwrap();
    let t = Instant::now();
    let mut write = std::time::Duration::ZERO;
    let mut seal = std::time::Duration::ZERO;
    for (i, b) in batches.into_iter().enumerate() {
        let t0 = Instant::now();
        w.write(b, &Names).unwrap();
        write += t0.elapsed();
        if i % 64 == 63 {
            let t1 = Instant::now();
            w.seal(0, 0).unwrap();
            seal += t1.elapsed();
        }
    }
    let t1 = Instant::now();
    w.seal(0, 0).unwrap();
    seal += t1.elapsed();
    let el = t.elapsed();
    let bytes: u64 = std::fs::read_dir(w.dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "{} events in {:?}: {:.2} M events/s (write {:?}, seal {:?}); {} bytes, {:.1} bytes/call",
        2 * calls,
        el,
        2.0 * calls as f64 / el.as_secs_f64() / 1e6,
        write,
        seal,
        bytes,
        bytes as f64 / calls as f64
    );
}
