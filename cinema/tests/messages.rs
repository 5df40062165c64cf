//! Messages on the timeline: a cast is a link from the sending call's process to the callback
//! that received it, listed among what the sending call caused.

use std::num::NonZeroU64;

use cinema::timeline::Timeline;
use store::{AtomKey, AtomNames, End, Enter, Event, EventKind, Outcome, RunInfo, Send, SendKind};

struct Names;

const PUB: AtomKey = 0;
const PUBLISH: AtomKey = 1;
const HANDLE_CAST: AtomKey = 2;
const SUB: AtomKey = 3;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        ["Elixir.Pub", "publish", "handle_cast", "Elixir.Sub"]
            .get(key as usize)
            .map(|s| s.to_string())
    }
}

/// `{restock, 1}` in the external term format, without the version byte.
const RESTOCK: [u8; 13] = [
    104, 2, 119, 7, b'r', b'e', b's', b't', b'o', b'c', b'k', 97, 1,
];

fn enter(id: u64, time: u64, pid: u64, module: AtomKey, function: AtomKey) -> Event {
    // `publish([])`, or `handle_cast({restock, 1}, 0)`.
    let args = if function == HANDLE_CAST {
        [&[131, 108, 0, 0, 0, 2][..], &RESTOCK, &[97, 0, 106]].concat()
    } else {
        vec![131, 108, 0, 0, 0, 1, 106, 106]
    };
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::Enter(Enter {
            parent: None,
            pid,
            module,
            function,
            arity: if function == HANDLE_CAST { 2 } else { 1 },
            args: args.into(),
            process: None,
            client: None,
        }),
    }
}

fn ret(id: u64, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: vec![131, 106].into(),
        }),
    }
}

/// A cast of `{restock, 1}` by call `call` to process `receiver` (named `sub`).
fn cast(call: u64, time: u64, receiver: u64) -> Event {
    let payload = [&[131, 119, 3, b's', b'u', b'b', 131][..], &RESTOCK].concat();
    Event {
        call_id: call,
        time,
        scheduler: 1,
        kind: EventKind::Send(Send {
            kind: SendKind::Cast,
            delay_ms: 0,
            receiver: NonZeroU64::new(receiver),
            target_len: 6,
            payload: payload.into(),
        }),
    }
}

#[test]
fn a_cast_links_the_sending_call_to_the_callback_that_received_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open(dir.path().join("store")).unwrap();
    let mut writer = store
        .begin_run(&RunInfo {
            started_unix_ns: 1_800_000_000_000_000_000,
            monotonic_origin_ns: 0,
            erlang_monotonic_ns: 0,
            os_pid: 1,
            node: "nonode@nohost".into(),
            otp_release: "25".into(),
            tool_version: "0.1.0".into(),
        })
        .unwrap();
    // Process 10's `publish` (call 1) casts to 20 and 30, which handle it; process 40's
    // `publish` (call 4) sends nothing.
    let events = vec![
        enter(1, 100, 10, PUB, PUBLISH),
        cast(1, 110, 20),
        cast(1, 120, 30),
        ret(1, 130),
        enter(2, 140, 20, SUB, HANDLE_CAST),
        ret(2, 145),
        enter(3, 150, 30, SUB, HANDLE_CAST),
        ret(3, 155),
        enter(4, 160, 40, PUB, PUBLISH),
        ret(4, 165),
    ];
    writer.write(events, &Names).unwrap();
    writer.seal(0, 0).unwrap();
    let snap = store.snapshot(None).unwrap();
    let t = Timeline::build(&snap).unwrap();
    let (links, total) = t.caused(10, 1, 10).unwrap();
    assert_eq!(total, 2);
    let seen: Vec<(&str, u64, u64)> = links.iter().map(|l| (l.kind, l.call, l.at_ns)).collect();
    assert_eq!(seen, [("message", 2, 110), ("message", 3, 120)]);
    // Each link names its receiver's process.
    assert_ne!(links[0].pid, links[1].pid);
    assert_eq!(t.caused(40, 4, 10).unwrap().1, 0);
    assert_eq!(t.caused(20, 2, 10).unwrap().1, 0);
}
