//! Where the time goes, on runs written with the store's writer: profiles, flame stacks,
//! repeated subtrees and run diffs, each with exact expected answers.
//!
//! The run (times in ns; pid 100 and 200):
//!
//! ```text
//! pid 100  #1 Shop.checkout([1, 2])          1000..2000
//!            #2 Shop.price(1) -> {:ok, 1}    1100..1300
//!              #3 lists:keyfind(a, 1, [])    1150..1200 -> false
//!            #4 Shop.price(1) -> {:ok, 1}    1400..1700
//!              #5 lists:keyfind(a, 1, [])    1500..1550 -> false
//!            #6 Shop.boom() raises           1800..1900
//! pid 200  #7 Shop.price(2) -> {:ok, 2}      1050..1450
//!          #8 Shop.checkout([])              1600..     (still running)
//! ```
//!
//! The second run is the same, except that `price(1)` returns `{:ok, 3}` and `#6` is
//! `Shop.ship()` returning `:ok`.

use std::num::NonZeroU64;

use analysis::diff::{diff, Change, DiffOptions};
use analysis::flame::{evented, folded, FrameEvent};
use analysis::profile::{profile, SortBy};
use analysis::repeated::repeated;
use analysis::walk::Scope;
use eetf::{Atom, FixInteger, List, Term, Tuple};
use store::{
    AtomKey, AtomNames, Class, End, Enter, Event, EventKind, Outcome, RunInfo, Store, StoreReader,
};

struct Names;

const SHOP: AtomKey = 0;
const LISTS: AtomKey = 1;
const CHECKOUT: AtomKey = 10;
const PRICE: AtomKey = 11;
const KEYFIND: AtomKey = 12;
const BOOM: AtomKey = 13;
const SHIP: AtomKey = 14;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        Some(
            match key {
                SHOP => "Elixir.Shop",
                LISTS => "lists",
                CHECKOUT => "checkout",
                PRICE => "price",
                KEYFIND => "keyfind",
                BOOM => "boom",
                SHIP => "ship",
                _ => return None,
            }
            .to_string(),
        )
    }
}

fn info() -> RunInfo {
    RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "test@host".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    }
}

fn etf(term: Term) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out).expect("encoding a term");
    out
}

fn int(i: i32) -> Term {
    Term::from(FixInteger::from(i))
}

fn atom(name: &str) -> Term {
    Term::from(Atom::from(name))
}

fn list(items: Vec<Term>) -> Term {
    Term::from(List::from(items))
}

fn ok(n: i32) -> Term {
    Term::from(Tuple::from(vec![atom("ok"), int(n)]))
}

struct Call {
    id: u64,
    parent: Option<u64>,
    pid: u64,
    module: AtomKey,
    function: AtomKey,
    args: Vec<Term>,
    start: u64,
    end: Option<(u64, Outcome, Term)>,
}

fn events(calls: Vec<Call>) -> Vec<Event> {
    let mut out = Vec::new();
    for c in calls {
        out.push(Event {
            call_id: c.id,
            time: c.start,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: c.parent.and_then(NonZeroU64::new),
                pid: c.pid,
                module: c.module,
                function: c.function,
                arity: c.args.len() as u8,
                args: etf(list(c.args)).into(),
                process: None,
                client: None,
            }),
        });
        if let Some((time, outcome, value)) = c.end {
            out.push(Event {
                call_id: c.id,
                time,
                scheduler: 1,
                kind: EventKind::End(End {
                    outcome,
                    tail_calls: 0,
                    value: etf(value).into(),
                }),
            });
        }
    }
    out
}

/// The run of the module documentation; `changed` makes the second one.
fn run(changed: bool) -> Vec<Event> {
    let ret = Outcome::Return;
    let c = |id, parent, pid, module, function, args, start, end| Call {
        id,
        parent,
        pid,
        module,
        function,
        args,
        start,
        end,
    };
    let keyfind = || vec![atom("a"), int(1), list(vec![])];
    let price_1 = if changed { ok(3) } else { ok(1) };
    let sixth = if changed {
        c(
            6,
            Some(1),
            100,
            SHOP,
            SHIP,
            vec![],
            1800,
            Some((1900, ret, atom("ok"))),
        )
    } else {
        let raised = Term::from(Tuple::from(vec![atom("badarg"), list(vec![])]));
        let error = Outcome::Exception(Class::Error);
        c(
            6,
            Some(1),
            100,
            SHOP,
            BOOM,
            vec![],
            1800,
            Some((1900, error, raised)),
        )
    };
    events(vec![
        c(
            1,
            None,
            100,
            SHOP,
            CHECKOUT,
            vec![list(vec![int(1), int(2)])],
            1000,
            Some((2000, ret, atom("ok"))),
        ),
        c(
            2,
            Some(1),
            100,
            SHOP,
            PRICE,
            vec![int(1)],
            1100,
            Some((1300, ret, price_1.clone())),
        ),
        c(
            3,
            Some(2),
            100,
            LISTS,
            KEYFIND,
            keyfind(),
            1150,
            Some((1200, ret, atom("false"))),
        ),
        c(
            4,
            Some(1),
            100,
            SHOP,
            PRICE,
            vec![int(1)],
            1400,
            Some((1700, ret, price_1)),
        ),
        c(
            5,
            Some(4),
            100,
            LISTS,
            KEYFIND,
            keyfind(),
            1500,
            Some((1550, ret, atom("false"))),
        ),
        sixth,
        c(
            7,
            None,
            200,
            SHOP,
            PRICE,
            vec![int(2)],
            1050,
            Some((1450, ret, ok(2))),
        ),
        c(8, None, 200, SHOP, CHECKOUT, vec![list(vec![])], 1600, None),
    ])
}

/// A store holding the run, and the changed run after it when `both`.
fn store(both: bool) -> (tempfile::TempDir, StoreReader) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("store");
    let store = Store::open(&path).expect("a store");
    let runs = if both { vec![false, true] } else { vec![false] };
    for changed in runs {
        let mut writer = store.begin_run(&info()).expect("a run");
        // Two batches sealed apart: #8's block is not #1's, and ends may come late.
        let mut all = run(changed);
        let second = all.split_off(8);
        writer.write(all, &Names).expect("writing");
        writer.seal(0, 0).expect("sealing");
        writer.write(second, &Names).expect("writing");
        writer.finish(0, 0, 0).expect("finishing");
    }
    drop(store);
    let reader = StoreReader::open(&path).expect("reading the store");
    (dir, reader)
}

#[test]
fn profile_counts_total_and_own_time_and_percentiles_per_function() {
    let (_dir, reader) = store(false);
    let snap = reader.snapshot(None).unwrap();
    let p = profile(&snap, &Scope::default()).unwrap();
    assert_eq!(p.calls, 8);
    // name calls unfinished total own mean p50 p99 exceptions
    let rows: Vec<String> = p
        .functions
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {} {} {} {}",
                f.mfa.text(),
                f.calls,
                f.unfinished,
                f.total_ns,
                f.own_ns,
                f.mean_ns,
                f.p50_ns,
                f.p99_ns,
                f.exceptions
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // 200 + 300 + 400, less two keyfinds of 50; durations 200, 300, 400.
            "Shop.price/1 3 0 900 800 300 300 400 0",
            // 1000 less 200 + 300 + 100; #8 runs: a call without time.
            "Shop.checkout/1 2 1 1000 400 1000 1000 1000 0",
            "Shop.boom/0 1 0 100 100 100 100 100 1",
            "lists:keyfind/3 2 0 100 100 50 50 50 0",
        ]
    );
    let mut by_count = p.clone();
    by_count.sort(SortBy::Count);
    by_count.truncate(2);
    let names: Vec<String> = by_count.functions.iter().map(|f| f.mfa.text()).collect();
    assert_eq!(names, vec!["Shop.price/1", "Shop.checkout/1"]);
    let mut by_exceptions = p.clone();
    by_exceptions.sort(SortBy::Exceptions);
    assert_eq!(by_exceptions.functions[0].mfa.text(), "Shop.boom/0");
}

#[test]
fn a_scope_counts_only_its_calls_but_own_time_still_loses_every_child() {
    let (_dir, reader) = store(false);
    let snap = reader.snapshot(None).unwrap();
    let scope = Scope {
        module: Some("Elixir.Shop".into()),
        pid: Some(100),
        ..Scope::default()
    };
    let p = profile(&snap, &scope).unwrap();
    let rows: Vec<(String, u64, u64, u64)> = p
        .functions
        .iter()
        .map(|f| (f.mfa.text(), f.calls, f.total_ns, f.own_ns))
        .collect();
    assert_eq!(
        rows,
        vec![
            // keyfind is out of the scope, and still not price's own time; ties by name.
            ("Shop.checkout/1".into(), 1, 1000, 400),
            ("Shop.price/1".into(), 2, 500, 400),
            ("Shop.boom/0".into(), 1, 100, 100),
        ]
    );
    let late = Scope {
        since: Some(1600),
        ..Scope::default()
    };
    let p = profile(&snap, &late).unwrap();
    let rows: Vec<(String, u64)> = p
        .functions
        .iter()
        .map(|f| (f.mfa.text(), f.calls))
        .collect();
    assert_eq!(
        rows,
        vec![("Shop.boom/0".into(), 1), ("Shop.checkout/1".into(), 1)]
    );
}

#[test]
fn folded_stacks_sum_own_time_per_distinct_stack() {
    let (_dir, reader) = store(false);
    let snap = reader.snapshot(None).unwrap();
    let f = folded(&snap, &Scope::default()).unwrap();
    let lines: Vec<String> = f
        .lines()
        .map(|(path, own)| {
            let names: Vec<String> = path
                .iter()
                .map(|&i| f.functions[i as usize].text())
                .collect();
            format!("{} {own}", names.join(";"))
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            "Shop.checkout/1 400",
            "Shop.checkout/1;Shop.price/1 400",
            "Shop.checkout/1;Shop.price/1;lists:keyfind/3 100",
            "Shop.checkout/1;Shop.boom/0 100",
            "Shop.price/1 400",
        ]
    );
    // Out of the scope, keyfind's time is its caller's.
    let shop = Scope {
        module: Some("Elixir.Shop".into()),
        ..Scope::default()
    };
    let f = folded(&snap, &shop).unwrap();
    let owns: Vec<u64> = f.lines().map(|(_, own)| own).collect();
    assert_eq!(owns, vec![400, 500, 100, 400]);
}

#[test]
fn evented_profiles_open_and_close_frames_per_process() {
    let (_dir, reader) = store(false);
    let snap = reader.snapshot(None).unwrap();
    let e = evented(&snap, &Scope::default()).unwrap();
    let name = |ev: &FrameEvent| {
        format!(
            "{} {} {}",
            if ev.open { "O" } else { "C" },
            e.functions[ev.function as usize].text(),
            ev.at
        )
    };
    assert_eq!(e.processes.len(), 2);
    let p100: Vec<String> = e.processes[0].events.iter().map(name).collect();
    assert_eq!(
        p100,
        vec![
            "O Shop.checkout/1 1000",
            "O Shop.price/1 1100",
            "O lists:keyfind/3 1150",
            "C lists:keyfind/3 1200",
            "C Shop.price/1 1300",
            "O Shop.price/1 1400",
            "O lists:keyfind/3 1500",
            "C lists:keyfind/3 1550",
            "C Shop.price/1 1700",
            "O Shop.boom/0 1800",
            "C Shop.boom/0 1900",
            "C Shop.checkout/1 2000",
        ]
    );
    assert_eq!(
        (e.processes[0].pid, e.processes[0].start, e.processes[0].end),
        (100, 1000, 2000)
    );
    let p200: Vec<String> = e.processes[1].events.iter().map(name).collect();
    // The running call closes at the process's last event.
    assert_eq!(
        p200,
        vec![
            "O Shop.price/1 1050",
            "C Shop.price/1 1450",
            "O Shop.checkout/1 1600",
            "C Shop.checkout/1 1600",
        ]
    );
}

#[test]
fn repeated_subtrees_are_grouped_and_ranked_by_time_wasted() {
    let (_dir, reader) = store(false);
    let snap = reader.snapshot(None).unwrap();
    let r = repeated(&snap, &Scope::default(), 10).unwrap();
    assert_eq!((r.calls, r.distinct, r.groups, r.wasted_ns), (8, 5, 2, 300));
    let groups: Vec<(String, u64, u64, u64, u64, Vec<u64>)> = r
        .top
        .iter()
        .map(|g| {
            (
                g.mfa.text(),
                g.calls,
                g.subtree_calls,
                g.mean_ns,
                g.wasted_ns,
                g.ids.clone(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            ("Shop.price/1".into(), 2, 2, 250, 250, vec![2, 4]),
            ("lists:keyfind/3".into(), 2, 1, 50, 50, vec![3, 5]),
        ]
    );
    assert_eq!(r.top[0].first.id, 2);
    assert_eq!(r.top[0].first.end.as_ref().unwrap().value, etf(ok(1)));
    let top_one = repeated(&snap, &Scope::default(), 1).unwrap();
    assert_eq!(top_one.top.len(), 1);
    assert_eq!(top_one.groups, 2);
}

#[test]
fn a_diff_names_functions_that_came_and_went_and_results_that_changed() {
    let (_dir, reader) = store(true);
    let a = reader.snapshot(Some(1)).unwrap();
    let b = reader.snapshot(Some(2)).unwrap();
    let d = diff(&a, &b, DiffOptions::default()).unwrap();
    let functions: Vec<(String, Change)> = d
        .functions
        .iter()
        .map(|f| (f.mfa.text(), f.change))
        .collect();
    assert_eq!(
        functions,
        vec![
            ("Shop.ship/0".into(), Change::Appeared),
            ("Shop.boom/0".into(), Change::Disappeared),
        ]
    );
    // checkout([1, 2]), price(1), keyfind(a, 1, []) and price(2); #8 never finished.
    assert_eq!((d.compared, d.results_changed, d.capped), (4, 1, false));
    assert_eq!(d.results.len(), 1);
    let change = &d.results[0];
    assert_eq!((change.a.id, change.b.id), (2, 2));
    assert_eq!(change.a.end.as_ref().unwrap().value, etf(ok(1)));
    assert_eq!(change.b.end.as_ref().unwrap().value, etf(ok(3)));
    // A run against itself: nothing.
    let same = diff(&a, &a, DiffOptions::default()).unwrap();
    assert!(same.functions.is_empty() && same.results.is_empty());
    assert_eq!(same.compared, 5);
}

#[test]
fn a_diff_threshold_decides_which_time_changes_count() {
    let (_dir, reader) = store(true);
    let a = reader.snapshot(Some(1)).unwrap();
    let b = reader.snapshot(Some(2)).unwrap();
    // The runs' times are the same: no threshold finds a change among common functions.
    let zero = DiffOptions {
        threshold_pct: 0.0,
        results: 0,
    };
    let d = diff(&a, &b, zero).unwrap();
    assert!(d.functions.iter().all(|f| f.change != Change::Changed));
    assert!(d.results.is_empty(), "results: 0 lists none");
    assert_eq!(d.results_changed, 1, "but counts them");
}

#[test]
fn pids_refs_and_map_order_do_not_make_results_differ() {
    use eetf::{Map, Pid};
    let pid = |serial: u32| Term::from(Pid::new("n@h", 100 + serial, 0, 0));
    let value = |serial| {
        let map = Map::from([(atom("a"), int(1)), (atom("b"), pid(serial))]);
        Term::from(Tuple::from(vec![atom("ok"), Term::from(map)]))
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = Store::open(&path).unwrap();
    for serial in [1u32, 2] {
        let mut writer = store.begin_run(&info()).unwrap();
        let mut calls = vec![Call {
            id: 1,
            parent: None,
            pid: 5,
            module: SHOP,
            function: CHECKOUT,
            args: vec![pid(serial)],
            start: 10,
            end: Some((20, Outcome::Return, value(serial))),
        }];
        // A second call whose result does change.
        calls.push(Call {
            id: 2,
            parent: None,
            pid: 5,
            module: SHOP,
            function: PRICE,
            args: vec![int(1)],
            start: 30,
            end: Some((40, Outcome::Return, ok(serial as i32))),
        });
        writer.write(events(calls), &Names).unwrap();
        writer.finish(0, 0, 0).unwrap();
    }
    drop(store);
    let reader = StoreReader::open(&path).unwrap();
    let (a, b) = (
        reader.snapshot(Some(1)).unwrap(),
        reader.snapshot(Some(2)).unwrap(),
    );
    let d = diff(&a, &b, DiffOptions::default()).unwrap();
    assert_eq!((d.compared, d.results_changed), (2, 1));
    assert_eq!(d.results[0].a.function, "price");
}
