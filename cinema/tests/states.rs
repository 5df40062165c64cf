//! GenServer state history and links between calls over a synthetic run: a counter server
//! (process 9) serving `bump` requests of a client (process 7), its callbacks found in the
//! timeline, paged anywhere in the history, read with their states and diffs.

use std::num::NonZeroU64;

use cinema::states::page_json;
use cinema::timeline::Timeline;
use eetf::{Atom, FixInteger, List, Term, Tuple};
use store::{
    AtomKey, AtomNames, End, Enter, Event, EventKind, Origin, OriginKind, Outcome, ProcessStart,
    RunInfo, Store,
};

const ATOMS: [&str; 8] = [
    "Elixir.Counter",
    "init",
    "handle_call",
    "handle_cast",
    "Elixir.App",
    "bump",
    "helper",
    "run",
];

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        ATOMS.get(key as usize).map(|s| s.to_string())
    }
}

fn encode(term: Term) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out).unwrap();
    out
}

fn int(i: i32) -> Term {
    Term::from(FixInteger::from(i))
}

fn atom(name: &str) -> Term {
    Term::from(Atom::from(name))
}

fn tuple(items: Vec<Term>) -> Term {
    Term::from(Tuple::from(items))
}

#[allow(clippy::too_many_arguments)]
fn enter(
    id: u64,
    parent: Option<u64>,
    pid: u64,
    module: AtomKey,
    function: AtomKey,
    arity: u8,
    args: Vec<Term>,
    time: u64,
) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::Enter(Enter {
            parent: parent.and_then(NonZeroU64::new),
            pid,
            module,
            function,
            arity,
            args: encode(Term::from(List::from(args))).into(),
            process: None,
            client: None,
        }),
    }
}

fn end(id: u64, time: u64, value: Term) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: encode(value).into(),
        }),
    }
}

/// The counter's history: `init` (id 2) returns 0; then 1,000 times the client's `bump`
/// (process 7) waits for a `handle_call` (process 9) that counts one up (calling a helper).
/// The 500th `handle_call` also calls the module's `handle_cast/2` itself (a part of it, not a
/// callback of its own); the 700th receives 1,000 instead of what the 699th returned, and the
/// 701st 700 instead of the 700th's 1,001 (changed unseen).
const BUMPS: u64 = 1000;

fn store() -> (tempfile::TempDir, Store, Vec<u64>) {
    counter(BUMPS)
}

/// The counter's run with `bumps` requests (see [`BUMPS`]).
fn counter(bumps: u64) -> (tempfile::TempDir, Store, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let info = RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "nonode@nohost".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    };
    let mut writer = store.begin_run(&info).unwrap();
    let first = |mut e: Event, text: &str, origin: Option<u64>| {
        if let EventKind::Enter(enter) = &mut e.kind {
            enter.process = Some(Box::new(ProcessStart {
                text: text.into(),
                name: None,
                origin: origin.map(|o| Origin {
                    kind: OriginKind::Ancestor,
                    pid: o,
                    text: format!("<0.{o}.0>"),
                }),
            }));
        }
        e
    };
    // The client's `run` (id 1) starts the server, whose first call is init/1 (id 2).
    let mut events = vec![
        first(enter(1, None, 7, 4, 7, 0, vec![], 0), "<0.7.0>", None),
        first(
            enter(2, None, 9, 0, 1, 1, vec![int(0)], 10),
            "<0.9.0>",
            Some(7),
        ),
        end(2, 20, tuple(vec![atom("ok"), int(0)])),
    ];
    let mut id = 3;
    let mut handle_calls = Vec::new();
    for i in 0..bumps {
        if events.len() >= 8192 {
            writer.write(std::mem::take(&mut events), &Names).unwrap();
        }
        let t = 100 + i * 1000;
        let state = if i == 699 { 1000 } else { i as i32 };
        let bump = id;
        events.push(enter(bump, Some(1), 7, 4, 5, 0, vec![], t));
        let serve = id + 1;
        handle_calls.push(serve);
        let from = tuple(vec![atom("pid"), atom("tag")]);
        let mut e = enter(
            serve,
            None,
            9,
            0,
            2,
            3,
            vec![atom("bump"), from, int(state)],
            t + 10,
        );
        if let EventKind::Enter(enter) = &mut e.kind {
            enter.client = NonZeroU64::new(7);
        }
        events.push(e);
        events.push(enter(
            serve + 1,
            Some(serve),
            9,
            0,
            6,
            1,
            vec![int(state)],
            t + 20,
        ));
        events.push(end(serve + 1, t + 30, int(state + 1)));
        id = serve + 2;
        if i == 499 {
            events.push(enter(
                id,
                Some(serve),
                9,
                0,
                3,
                2,
                vec![atom("x"), int(state)],
                t + 40,
            ));
            events.push(end(id, t + 50, tuple(vec![atom("noreply"), int(state)])));
            id += 1;
        }
        events.push(end(
            serve,
            t + 100,
            tuple(vec![atom("reply"), atom("ok"), int(state + 1)]),
        ));
        events.push(end(bump, t + 200, atom("ok")));
    }
    events.push(end(1, 100 + bumps * 1000, atom("ok")));
    writer.write(events, &Names).unwrap();
    writer.seal(0, 0).unwrap();
    (dir, store, handle_calls)
}

#[test]
fn a_history_is_paged_anywhere_around_a_call() {
    let (_dir, store, serving) = store();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    // Around the 300th handle_call (place 300: init is place 0).
    let page = t.states_page(9, serving[299], None, None, 10).unwrap();
    assert_eq!(page.module, "Elixir.Counter");
    assert_eq!(page.total, 1 + BUMPS as usize, "init and every handle_call");
    assert_eq!(page.selected, Some(300));
    let places: Vec<usize> = page.entries.iter().map(|e| e.0).collect();
    assert_eq!(places, (295..305).collect::<Vec<_>>());
    assert_eq!(page.entries[5].1, serving[299]);
    // A call inside a callback (its helper) is around that callback.
    let page = t.states_page(9, serving[9] + 1, None, None, 3).unwrap();
    assert_eq!(page.selected, Some(10));
    // Paged by place: the first page and the last.
    let page = t.states_page(9, serving[0], None, Some(0), 4).unwrap();
    assert_eq!(
        page.entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    let page = t
        .states_page(9, serving[0], Some("Counter"), Some(5_000), 4)
        .unwrap();
    assert_eq!(
        page.entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        [997, 998, 999, 1000]
    );
    assert!(t
        .states_page(9, serving[0], Some("Other"), None, 4)
        .is_none());
    // The client ran no callbacks.
    assert!(t.states_page(7, 1, None, None, 4).is_none());
}

#[test]
fn a_page_reads_states_and_their_changes() {
    let (_dir, store, serving) = store();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    let page = t.states_page(9, serving[0], None, Some(0), 3).unwrap();
    let v = page_json(&snap, &page).unwrap();
    assert_eq!(v["behaviour"], "gen_server");
    assert_eq!(v["module"], "Counter");
    let e = &v["entries"];
    assert_eq!(e[0]["callback"], "Counter.init/1");
    assert_eq!(e[0]["before"], serde_json::Value::Null);
    assert_eq!(e[0]["after"]["text"], "0");
    assert_eq!(e[1]["callback"], "Counter.handle_call/3");
    assert_eq!(e[1]["event"], ":bump");
    assert_eq!(e[1]["reply"], ":ok");
    assert_eq!(e[1]["result_tag"], "reply");
    assert_eq!(
        e[1]["diff"]["changes"],
        serde_json::json!([{"path": "state", "change": "changed", "before": "0", "after": "1"}])
    );
    assert_eq!(e[1]["gap"], false);
    // The 500th handle_call calls handle_cast/2 inside: still one step.
    let page = t.states_page(9, serving[499], None, None, 3).unwrap();
    let ids: Vec<u64> = page.entries.iter().map(|e| e.1).collect();
    assert_eq!(ids, [serving[498], serving[499], serving[500]]);
    // The 700th and the 701st received what the one before did not return.
    let page = t.states_page(9, serving[699], None, None, 3).unwrap();
    let v = page_json(&snap, &page).unwrap();
    let gaps: Vec<bool> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["gap"].as_bool().unwrap())
        .collect();
    assert_eq!(gaps, [false, true, true]);
}

#[test]
fn a_call_lists_what_it_caused_in_time_order() {
    let (_dir, store, serving) = store();
    let snap = store.snapshot(None).unwrap();
    let t = Timeline::build(&snap).unwrap();
    // `run` (id 1) ran through everything: the server it started, then every request.
    let (links, total) = t.caused(7, 1, 3).unwrap();
    assert_eq!(total, 1 + BUMPS as usize);
    let seen: Vec<(&str, u64, &str)> = links
        .iter()
        .map(|l| (l.kind, l.call, l.pid.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("spawned", 2, "<0.9.0>"),
            ("request", serving[0], "<0.9.0>"),
            ("request", serving[1], "<0.9.0>")
        ]
    );
    // One `bump`: its own request only.
    let (links, total) = t.caused(7, serving[41] - 1, 10).unwrap();
    assert_eq!(total, 1);
    assert_eq!(links[0].call, serving[41]);
    // The server's calls caused nothing.
    assert_eq!(t.caused(9, serving[41], 10).unwrap().1, 0);
    // The server is shown under the client, as a server running Counter.
    let overview = t.overview();
    let lanes = overview["lanes"].as_array().unwrap();
    assert_eq!(lanes[1]["pid"], "<0.9.0>");
    assert_eq!(lanes[1]["role"], "server");
    assert_eq!(lanes[1]["name"], "Counter");
    // It started a process, but is no supervisor: its first call is neither an `init/1` nor
    // a child's start function.
    assert_eq!(lanes[0]["role"], "process", "{overview}");
}

/// A history of a million callbacks: how long the first page takes (gathering the lane's
/// callbacks), and pages anywhere after it (BENCHMARKS.md, "The web UI's state history"). Not
/// part of the suite: run it in release mode,
/// `cargo test --release -p elixir_scope_cinema --test states -- --ignored --nocapture`.
#[test]
#[ignore = "a million callbacks: run in release mode"]
fn a_million_callbacks_page_as_fast_as_a_few() {
    use std::time::Instant;
    let bumps = 1_000_000;
    let started = Instant::now();
    let (_dir, store, serving) = counter(bumps);
    eprintln!("wrote {} calls in {:?}", 3 * bumps + 2, started.elapsed());
    let snap = store.snapshot(None).unwrap();
    let started = Instant::now();
    let mut t = Timeline::build(&snap).unwrap();
    eprintln!("timeline built in {:?}", started.elapsed());
    let mut time_page = |at: usize, what: &str| {
        let started = Instant::now();
        let page = t.states_page(9, serving[at], None, None, 40).unwrap();
        let found = started.elapsed();
        let v = page_json(&snap, &page).unwrap();
        let read = started.elapsed() - found;
        assert_eq!(v["entries"].as_array().unwrap().len(), 40);
        assert_eq!(page.total, bumps as usize + 1);
        eprintln!(
            "{what}: page found in {found:?}, its 40 callbacks read and compared in {read:?}"
        );
    };
    time_page(500_000, "first page (gathers the lane's callbacks)");
    for at in [0, 250_000, 999_999, 500_000, 123_456] {
        time_page(at, &format!("page around {at}"));
    }
    // The same pages of a history of a thousand, side by side.
    let (_small_dir, small, small_serving) = counter(1000);
    let small_snap = small.snapshot(None).unwrap();
    let mut small_t = Timeline::build(&small_snap).unwrap();
    for at in [500, 0, 999] {
        let started = Instant::now();
        let page = small_t
            .states_page(9, small_serving[at], None, None, 40)
            .unwrap();
        let found = started.elapsed();
        page_json(&small_snap, &page).unwrap();
        let read = started.elapsed() - found;
        eprintln!("1,000 callbacks, page around {at}: found in {found:?}, read in {read:?}");
    }
}
