//! The store end to end: writing runs in batches, then every query.

use std::collections::HashMap;
use std::num::NonZeroU64;

use store::{
    AtomKey, AtomNames, CallFilter, CauseKind, Class, End, Enter, Event, EventKind, Origin,
    OriginKind, Outcome, Pause, ProcessStart, Retention, RunEvent, RunInfo, RunWriter, Store,
    StoreError, StoreReader, TailCall, Test, TestFramework, TestOutcome, TreeItem, TreeLimits,
};

/// Atom keys are indexes into a fixed list of names.
struct Names(Vec<&'static str>);

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        self.0.get(key as usize).map(|s| s.to_string())
    }
}

const MOD_A: AtomKey = 0;
const MOD_B: AtomKey = 1;
const F: AtomKey = 2;
const G: AtomKey = 3;
const H: AtomKey = 4;

fn names() -> Names {
    Names(vec!["mod_a", "mod_b", "f", "g", "h"])
}

fn info() -> RunInfo {
    RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 1_000,
        erlang_monotonic_ns: -576_460_752_000_000_000,
        os_pid: 4242,
        node: "nonode@nohost".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    }
}

fn enter(id: u64, time: u64, parent: Option<u64>, pid: u64, m: AtomKey, f: AtomKey) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::Enter(Enter {
            parent: parent.and_then(NonZeroU64::new),
            pid,
            module: m,
            function: f,
            arity: 1,
            args: vec![131, 107, 0, 1, id as u8].into(),
            process: None,
            client: None,
        }),
    }
}

fn ret(id: u64, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 2,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: vec![131, 97, id as u8].into(),
        }),
    }
}

fn raise(id: u64, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 2,
        kind: EventKind::End(End {
            outcome: Outcome::Exception(Class::Error),
            tail_calls: 0,
            value: vec![131, 100, 0, 1, b'x'].into(),
        }),
    }
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("sub/.elixir_scope")).unwrap();
    (dir, store)
}

/// Writes `events` and seals them, so that snapshots see them.
fn write_sealed(writer: &mut RunWriter, events: Vec<Event>) {
    writer.write(events, &names()).unwrap();
    writer.seal(0, 0).unwrap();
}

/// pid 10: 1 (a:f) { 2 (a:g) { 3 (b:h) } 4 (a:g, raises) }; pid 20: 5 (b:f), 6 (a:f) { 7 }.
fn sample() -> Vec<Vec<Event>> {
    vec![
        vec![
            enter(1, 100, None, 10, MOD_A, F),
            enter(2, 110, Some(1), 10, MOD_A, G),
            enter(5, 115, None, 20, MOD_B, F),
            enter(3, 120, Some(2), 10, MOD_B, H),
            ret(3, 130),
            ret(5, 135),
        ],
        // Ends of calls written by the previous batch, and an end before its enter.
        vec![
            ret(2, 140),
            raise(4, 160),
            enter(4, 150, Some(1), 10, MOD_A, G),
            enter(6, 165, None, 20, MOD_A, F),
            enter(7, 166, Some(6), 20, MOD_A, H),
            ret(7, 167),
        ],
        vec![ret(1, 170), ret(6, 171)],
    ]
}

/// The sample, each batch sealed into its own segment: ends of earlier batches' calls become
/// late ends.
fn write_sample(store: &Store) -> u64 {
    let mut writer = store.begin_run(&info()).unwrap();
    for batch in sample() {
        write_sealed(&mut writer, batch);
    }
    writer.run()
}

fn ids(calls: &[store::Call]) -> Vec<u64> {
    calls.iter().map(|c| c.id).collect()
}

/// A filter by function alone reads that function's calls in every module, however many
/// other calls came after them: a scan of the whole run would stop at its scan limit first.
#[test]
fn a_function_of_any_module_is_found_past_any_number_of_other_calls() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let mut events = Vec::new();
    for id in 1..=4u64 {
        let module = if id % 2 == 0 { MOD_B } else { MOD_A };
        events.extend([
            enter(id, id * 10, None, 10, module, F),
            ret(id, id * 10 + 1),
        ]);
    }
    for id in 5..=504u64 {
        events.extend([enter(id, id * 10, None, 10, MOD_A, H), ret(id, id * 10 + 1)]);
    }
    write_sealed(&mut writer, events);
    let snap = store.snapshot(None).unwrap();
    let found = snap
        .calls(&CallFilter {
            function: Some("f".into()),
            limit: 100,
            scan_limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        ids(&found),
        vec![4, 3, 2, 1],
        "newest first, across modules"
    );
}

#[test]
fn every_call_is_stored_once_with_its_end_whichever_batch_it_came_in() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    assert_eq!(snap.call_count().unwrap(), 7);
    let c3 = snap.call(3).unwrap().unwrap();
    assert_eq!((c3.module.as_str(), c3.function.as_str()), ("mod_b", "h"));
    assert_eq!(c3.parent, Some(2));
    assert_eq!(c3.args, vec![131, 107, 0, 1, 3]);
    assert_eq!(c3.duration_ns(), Some(10));
    let c2 = snap.call(2).unwrap().unwrap();
    assert_eq!(c2.end.as_ref().unwrap().time, 140, "end from a later batch");
    let c4 = snap.call(4).unwrap().unwrap();
    assert_eq!(c4.exception(), Some(Class::Error), "end before its enter");
    assert_eq!(
        snap.call(1).unwrap().unwrap().end.unwrap().value,
        vec![131, 97, 1]
    );
    assert!(snap.call(99).unwrap().is_none());
}

#[test]
fn children_and_subtrees_follow_the_process_nesting() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    assert_eq!(ids(&snap.children(1, 10).unwrap()), vec![2, 4]);
    assert_eq!(ids(&snap.children(1, 1).unwrap()), vec![2]);
    assert_eq!(ids(&snap.children(3, 10).unwrap()), Vec::<u64>::new());
    let tree = snap.subtree(1, 100).unwrap().unwrap();
    assert_eq!(ids(&tree.calls), vec![1, 2, 3, 4]);
    assert!(!tree.truncated);
    let cut = snap.subtree(1, 2).unwrap().unwrap();
    assert_eq!(ids(&cut.calls), vec![1, 2]);
    assert!(cut.truncated);
    assert_eq!(
        ids(&snap.subtree(6, 100).unwrap().unwrap().calls),
        vec![6, 7]
    );
    assert_eq!(ids(&snap.subtree(5, 100).unwrap().unwrap().calls), vec![5]);
}

/// Walks over many blocks read them ahead on other threads: each call comes once, in order,
/// with its own values, forward and backward, and a walk stopped early ends cleanly.
#[test]
fn long_walks_read_ahead_and_see_every_call_in_order() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let calls = 30_000u64;
    let mut batch = Vec::new();
    for id in 1..=calls {
        let function = [F, G, H][(id % 3) as usize];
        batch.push(enter(id, id * 10, None, 1 + id % 7, MOD_A, function));
        batch.push(ret(id, id * 10 + 5));
    }
    // Several segments, and blocks of several functions each.
    for part in batch.chunks(12_000) {
        write_sealed(&mut writer, part.to_vec());
    }
    let snap = store.snapshot(None).unwrap();
    let mut seen = Vec::new();
    snap.scan_views(0, u64::MAX, |view| {
        let args = view.args()?;
        assert_eq!(args, [131, 107, 0, 1, view.id() as u8]);
        assert_eq!(view.value()?.unwrap().as_ref(), [131, 97, view.id() as u8]);
        seen.push(view.id());
        Ok(true)
    })
    .unwrap();
    assert_eq!(seen, (1..=calls).collect::<Vec<_>>());
    let mut stopped = Vec::new();
    snap.scan_views(0, u64::MAX, |view| {
        stopped.push(view.id());
        Ok(view.id() < 5_000)
    })
    .unwrap();
    assert_eq!(stopped, (1..=5_000).collect::<Vec<_>>());
    let newest = snap
        .calls(&CallFilter {
            limit: calls as usize,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&newest), (1..=calls).rev().collect::<Vec<_>>());
}

#[test]
fn scan_visits_calls_in_id_order_and_stops_when_asked() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    let mut seen = Vec::new();
    snap.scan(3, |call| {
        seen.push(call.id);
        Ok(call.id < 5)
    })
    .unwrap();
    assert_eq!(seen, vec![3, 4, 5]);
}

#[test]
fn a_subtree_whose_end_is_missing_stops_at_the_first_call_outside_it() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let batch = vec![
        enter(1, 100, None, 10, MOD_A, F),
        enter(2, 110, Some(1), 10, MOD_A, G),
        ret(2, 120),
        // 1's end was dropped; 3 is a later root call of the same process.
        enter(3, 200, None, 10, MOD_A, G),
        ret(3, 210),
    ];
    write_sealed(&mut writer, batch);
    let snap = store.snapshot(None).unwrap();
    assert_eq!(
        ids(&snap.subtree(1, 100).unwrap().unwrap().calls),
        vec![1, 2]
    );
}

#[test]
fn filters_use_the_indexes_and_return_newest_first() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    let q = |f: CallFilter| ids(&snap.calls(&f).unwrap());
    assert_eq!(q(CallFilter::default()), vec![7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(
        q(CallFilter {
            limit: 2,
            ..Default::default()
        }),
        vec![7, 6]
    );
    let module_a = CallFilter {
        module: Some("mod_a".into()),
        ..Default::default()
    };
    assert_eq!(
        q(module_a.clone()),
        vec![7, 6, 4, 2, 1],
        "merged across functions"
    );
    assert_eq!(
        q(CallFilter {
            function: Some("g".into()),
            ..module_a.clone()
        }),
        vec![4, 2]
    );
    assert_eq!(
        q(CallFilter {
            function: Some("f".into()),
            ..Default::default()
        }),
        vec![6, 5, 1],
        "a function across modules"
    );
    assert_eq!(
        q(CallFilter {
            pid: Some(20),
            ..Default::default()
        }),
        vec![7, 6, 5]
    );
    assert_eq!(
        q(CallFilter {
            exceptions_only: true,
            ..Default::default()
        }),
        vec![4]
    );
    assert_eq!(
        q(CallFilter {
            exceptions_only: true,
            module: Some("mod_b".into()),
            ..Default::default()
        }),
        Vec::<u64>::new()
    );
    // Newest first means by id (the order calls start in; this sample's times only
    // approximate it).
    assert_eq!(
        q(CallFilter {
            since: Some(115),
            until: Some(150),
            ..Default::default()
        }),
        vec![5, 4, 3]
    );
    assert_eq!(
        q(CallFilter {
            arity: Some(2),
            ..Default::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        q(CallFilter {
            module: Some("no_such_module".into()),
            ..Default::default()
        }),
        Vec::<u64>::new()
    );
}

#[test]
fn time_bounds_hold_on_large_runs() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let mut batch = Vec::new();
    for id in 1..=20_000u64 {
        batch.push(enter(id, id * 10, None, 1 + id % 3, MOD_A, F));
        batch.push(ret(id, id * 10 + 5));
    }
    write_sealed(&mut writer, batch);
    let snap = store.snapshot(None).unwrap();
    let got = snap
        .calls(&CallFilter {
            since: Some(100_000),
            until: Some(100_050),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        ids(&got),
        vec![10_005, 10_004, 10_003, 10_002, 10_001, 10_000]
    );
}

#[test]
fn tail_calls_and_processes_are_kept_and_origins_resolve_to_the_running_call() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let mut first = enter(1, 100, None, 10, MOD_A, F);
    if let EventKind::Enter(e) = &mut first.kind {
        e.process = Some(Box::new(ProcessStart {
            text: "<0.10.0>".into(),
            name: None,
            origin: None,
        }));
    }
    let mut task_first = enter(4, 135, None, 30, MOD_B, H);
    if let EventKind::Enter(e) = &mut task_first.kind {
        e.process = Some(Box::new(ProcessStart {
            text: "<0.30.0>".into(),
            name: None,
            origin: Some(Origin {
                kind: OriginKind::Caller,
                pid: 10,
                text: "<0.10.0>".into(),
            }),
        }));
    }
    let tail = Event {
        call_id: 2,
        time: 125,
        scheduler: 1,
        kind: EventKind::TailCall(TailCall {
            index: 0,
            module: MOD_A,
            function: H,
            arity: 2,
            args: vec![131, 106].into(),
        }),
    };
    let mut end2 = ret(2, 140);
    if let EventKind::End(e) = &mut end2.kind {
        e.tail_calls = 1000;
    }
    let batch = vec![
        first,
        enter(2, 110, Some(1), 10, MOD_A, G),
        tail,
        // 3 is a finished sibling-level call started before the task's first call.
        enter(3, 112, Some(2), 10, MOD_A, G),
        ret(3, 120),
        task_first,
        ret(4, 138),
        end2,
        ret(1, 150),
    ];
    write_sealed(&mut writer, batch);
    let snap = store.snapshot(None).unwrap();
    let tails = snap.tail_calls(2).unwrap();
    assert_eq!(tails.len(), 1);
    assert_eq!((tails[0].function.as_str(), tails[0].arity), ("h", 2));
    assert_eq!(snap.call(2).unwrap().unwrap().end.unwrap().tail_calls, 1000);
    let p = snap.process(30).unwrap().unwrap();
    assert_eq!(p.text, "<0.30.0>");
    assert_eq!(p.first_call, 4);
    assert_eq!(p.origin.as_ref().unwrap().kind, OriginKind::Caller);
    // At time 135 call 3 had ended; 2 was running (inside 1).
    assert_eq!(snap.origin_call(30).unwrap().unwrap().id, 2);
    assert!(snap.origin_call(10).unwrap().is_none());
    assert_eq!(snap.processes().unwrap().len(), 2);

    // The tree of 1 names the task under the call that started it (2), after 2's children.
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let lines: Vec<(u32, String)> = tree
        .lines
        .iter()
        .map(|line| {
            let text = match &line.item {
                TreeItem::Call(c) => format!("call {}", c.id),
                TreeItem::Fold(f) => format!("fold {}", f.first),
                TreeItem::Process(p) => {
                    format!("process {} {:?} first {}", p.text, p.kind, p.first.id)
                }
                TreeItem::Request(r) => format!("request {} call {}", r.text, r.call.id),
                TreeItem::Message(m) => format!("message of {}", m.message.call_id),
            };
            (line.depth, text)
        })
        .collect();
    assert_eq!(
        lines,
        [
            (0, "call 1".to_string()),
            (1, "call 2".to_string()),
            (2, "call 3".to_string()),
            (2, "process <0.30.0> Caller first 4".to_string()),
        ]
    );
    assert_eq!(
        (tree.calls, tree.shown),
        (3, 3),
        "processes are not calls of the tree"
    );
    // The task's first call names the call that started it; its other calls would not.
    let cause = snap
        .tree(4, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .unwrap();
    assert_eq!(
        (cause.kind, cause.text.as_str(), cause.call.id),
        (CauseKind::Started(OriginKind::Caller), "<0.10.0>", 2)
    );
    // Its subtree does not reach the task, whose first call came after 3 ended.
    let tree = snap.tree(3, &TreeLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(tree.lines.len(), 1);
}

#[test]
fn requests_show_under_the_client_call_that_waited_for_them() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let with_process = |mut event: Event, text: &str| {
        if let EventKind::Enter(e) = &mut event.kind {
            e.process = Some(Box::new(ProcessStart {
                text: text.into(),
                name: None,
                origin: None,
            }));
        }
        event
    };
    let serving = |mut event: Event, client: u64| {
        if let EventKind::Enter(e) = &mut event.kind {
            e.client = NonZeroU64::new(client);
        }
        event
    };
    // Client pid 10: 1 { 2 { } 3 { } }; server pid 20 serves 4 during 3, 5 after 1 ended,
    // and 6 for another client (pid 30).
    let batch = vec![
        with_process(enter(1, 100, None, 10, MOD_A, F), "<0.10.0>"),
        enter(2, 110, Some(1), 10, MOD_A, G),
        ret(2, 120),
        enter(3, 130, Some(1), 10, MOD_A, G),
        serving(
            with_process(enter(4, 140, None, 20, MOD_B, H), "<0.20.0>"),
            10,
        ),
        ret(4, 145),
        ret(3, 150),
        ret(1, 160),
        serving(enter(5, 170, None, 20, MOD_B, H), 10),
        ret(5, 175),
        serving(enter(6, 180, None, 20, MOD_B, H), 30),
        ret(6, 185),
    ];
    write_sealed(&mut writer, batch);
    let snap = store.snapshot(None).unwrap();
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let lines: Vec<(u32, String)> = tree
        .lines
        .iter()
        .map(|line| match &line.item {
            TreeItem::Call(c) => (line.depth, format!("call {}", c.id)),
            TreeItem::Request(r) => (line.depth, format!("request {} call {}", r.text, r.call.id)),
            other => (line.depth, format!("{other:?}")),
        })
        .collect();
    assert_eq!(
        lines,
        [
            (0, "call 1".to_string()),
            (1, "call 2".to_string()),
            (1, "call 3".to_string()),
            (2, "request <0.20.0> call 4".to_string()),
        ]
    );
    // The serving call knows which client call waited for it, and its tree says so.
    let served = snap.call(4).unwrap().unwrap();
    assert_eq!(snap.running_call(10, &served).unwrap().unwrap().id, 3);
    let cause = snap
        .tree(4, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .unwrap();
    assert_eq!(
        (cause.kind, cause.text.as_str(), cause.call.id),
        (CauseKind::Request, "<0.10.0>", 3)
    );
    // A request served after its client's calls ended has no call to name; the client's own
    // root came from nowhere.
    assert!(snap
        .tree(5, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .is_none());
    assert!(snap
        .tree(1, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .is_none());
}

#[test]
fn each_start_is_a_new_run_and_queries_default_to_the_latest() {
    let (dir, store) = temp_store();
    let first = write_sample(&store);
    let mut writer = store.begin_run(&info()).unwrap();
    assert_eq!(writer.run(), first + 1);
    writer
        .write(vec![enter(1, 5, None, 1, MOD_B, G)], &names())
        .unwrap();
    writer.finish(2, 3, 1).unwrap();
    drop(store);
    let store = StoreReader::open(dir.path().join("sub/.elixir_scope")).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    let summary = runs[1].summary.unwrap();
    assert_eq!(summary.ended_unix_ns, 1);
    assert_eq!(
        (
            summary.counters.captured,
            summary.counters.dropped,
            summary.counters.stored
        ),
        (2, 3, 1)
    );
    assert_eq!((runs[1].state(), runs[0].state()), ("ended", "killed"));
    assert_eq!(runs[0].info, info());
    let latest = store.snapshot(None).unwrap();
    assert_eq!(latest.call_count().unwrap(), 1);
    assert_eq!(latest.call(1).unwrap().unwrap().function, "g");
    let older = store.snapshot(Some(first)).unwrap();
    assert_eq!(older.call(1).unwrap().unwrap().function, "f");
    assert!(matches!(
        store.snapshot(Some(77)),
        Err(StoreError::NoSuchRun(77))
    ));
}

#[test]
fn an_empty_store_says_it_has_no_runs() {
    let (_dir, store) = temp_store();
    assert!(matches!(store.snapshot(None), Err(StoreError::NoRuns)));
}

#[test]
fn writers_record_side_by_side_and_a_live_run_is_read_while_it_records() {
    let (dir, store) = temp_store();
    // A second process opening the same store: each writer gets its own run.
    let other = Store::open(dir.path().join("sub/.elixir_scope")).unwrap();
    let mut a = store.begin_run(&info()).unwrap();
    let mut b = other.begin_run(&info()).unwrap();
    assert_ne!(a.run(), b.run());
    write_sealed(&mut a, vec![enter(1, 10, None, 1, MOD_A, F)]);
    b.write(vec![enter(1, 10, None, 1, MOD_B, G), ret(1, 20)], &names())
        .unwrap();
    b.seal(7, 2).unwrap();
    let reader = StoreReader::open(dir.path().join("sub/.elixir_scope")).unwrap();
    let runs = reader.runs().unwrap();
    assert!(runs.iter().all(|r| r.live && r.state() == "recording"));
    let live_b = runs.iter().find(|r| r.id == b.run()).unwrap();
    assert_eq!((live_b.counters.captured, live_b.counters.dropped), (7, 2));
    assert_eq!(live_b.counters.stored, 2);
    // The running call of `a` reads as running; more comes with the next seal.
    let snap = reader.snapshot(Some(a.run())).unwrap();
    assert!(snap.call(1).unwrap().unwrap().end.is_none());
    write_sealed(&mut a, vec![ret(1, 30), enter(2, 40, None, 1, MOD_A, G)]);
    assert!(
        snap.call(2).unwrap().is_none(),
        "a snapshot does not change"
    );
    let snap = reader.snapshot(Some(a.run())).unwrap();
    assert_eq!(snap.call(1).unwrap().unwrap().end.unwrap().time, 30);
    assert!(snap.call(2).unwrap().is_some());
    drop(a);
    let runs = reader.runs().unwrap();
    assert_eq!(
        runs.iter().map(|r| r.state()).collect::<Vec<_>>(),
        ["killed", "recording"]
    );
}

/// Writes `runs` runs of `calls` calls each, sealing every 2,000 events and running the
/// maintenance with a cap after each seal; returns the runs.
fn fill(store: &Store, runs: usize, calls: u64, cap: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let mut writer = store.begin_run(&info()).unwrap();
        let maintenance = writer.maintenance(Retention { max_bytes: cap });
        let mut batch = Vec::new();
        for id in 1..=calls {
            let mut e = enter(id, id * 10, None, id % 7, MOD_A, F);
            if let EventKind::Enter(e) = &mut e.kind {
                // Values that do not compress away: the test needs bytes.
                e.args = (0..64)
                    .map(|i| (id.wrapping_mul(2654435761) >> (i % 32)) as u8)
                    .collect();
            }
            batch.push(e);
            batch.push(ret(id, id * 10 + 1));
            if batch.len() >= 2000 {
                write_sealed(&mut writer, std::mem::take(&mut batch));
                maintenance.run().unwrap();
            }
        }
        write_sealed(&mut writer, batch);
        maintenance.run().unwrap();
        writer.finish(0, 0, 0).unwrap();
        out.push(out.len() as u64 + 1);
    }
    out
}

fn store_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in walk(dir) {
        total += std::fs::metadata(entry).unwrap().len();
    }
    total
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn retention_drops_the_oldest_runs_first_and_holds_the_cap_exactly() {
    let (dir, store) = temp_store();
    let cap = 3_000_000;
    let runs = fill(&store, 4, 20_000, cap);
    let kept: Vec<u64> = store.runs().unwrap().iter().map(|r| r.id).collect();
    assert!(kept.len() < 4, "{kept:?}");
    assert_eq!(kept.last(), runs.last(), "the current run is kept");
    assert_eq!(
        kept,
        runs[runs.len() - kept.len()..].to_vec(),
        "the oldest go first"
    );
    assert!(store.snapshot(Some(runs[0])).is_err());
    let bytes = store_bytes(&dir.path().join("sub/.elixir_scope/runs"));
    assert!(bytes <= cap, "{bytes} bytes on disk for a cap of {cap}");
}

#[test]
fn retention_drops_the_oldest_segments_of_a_run_that_alone_is_too_big() {
    let (dir, store) = temp_store();
    let cap = 2_000_000;
    fill(&store, 1, 100_000, cap);
    let bytes = store_bytes(&dir.path().join("sub/.elixir_scope/runs"));
    assert!(bytes <= cap, "{bytes} bytes on disk for a cap of {cap}");
    let snap = store.snapshot(None).unwrap();
    let count = snap.call_count().unwrap();
    assert!(count > 0 && count < 100_000, "{count}");
    // The newest calls are kept, the oldest are gone; every index agrees with what is left.
    assert!(snap.call(100_000).unwrap().is_some());
    assert!(snap.call(1).unwrap().is_none());
    let everything = snap
        .calls(&CallFilter {
            limit: 1_000_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(everything.len() as u64, count);
    let mut by_pid = 0;
    for pid in 0..7 {
        let calls = snap
            .calls(&CallFilter {
                pid: Some(pid),
                limit: 1_000_000,
                ..Default::default()
            })
            .unwrap();
        assert!(calls.iter().all(|c| c.pid == pid && c.end.is_some()));
        by_pid += calls.len() as u64;
    }
    assert_eq!(
        by_pid, count,
        "the process index holds exactly what is left"
    );
    let by_function = snap
        .calls(&CallFilter {
            module: Some("mod_a".into()),
            limit: 1_000_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        by_function.len() as u64,
        count,
        "so does the function index"
    );
    assert_eq!(snap.top_functions(5).unwrap()[0].calls, count);
    assert_eq!(snap.counts().unwrap().calls, count);
}

#[test]
fn a_recording_of_the_old_single_file_format_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".elixir_scope");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("trace.redb"), b"old").unwrap();
    let err = StoreReader::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::OldFormat { .. }), "{err}");
    assert!(err.to_string().contains("earlier ElixirScope"), "{err}");
    let err = StoreReader::open(path.join("trace.redb")).unwrap_err();
    assert!(matches!(err, StoreError::OldFormat { .. }), "{err}");
    let err = Store::open(path.join("trace.redb")).unwrap_err();
    assert!(matches!(err, StoreError::OldFormat { .. }), "{err}");
}

#[test]
fn atoms_are_interned_once_across_batches_and_runs() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    let mut seen = HashMap::new();
    for c in snap.calls(&CallFilter::default()).unwrap() {
        seen.insert(c.module.clone(), ());
    }
    assert_eq!(seen.len(), 2);
}

fn run_event(time: u64, event: RunEvent) -> Event {
    Event {
        call_id: 0,
        time,
        scheduler: 1,
        kind: EventKind::Run(Box::new(event)),
    }
}

fn first_call(mut event: Event, text: &str, origin: Option<(OriginKind, u64)>) -> Event {
    if let EventKind::Enter(e) = &mut event.kind {
        e.process = Some(Box::new(ProcessStart {
            text: text.into(),
            name: None,
            origin: origin.map(|(kind, pid)| Origin {
                kind,
                pid,
                text: format!("<0.{pid}.0>"),
            }),
        }));
    }
    event
}

fn a_test(name: &str, outcome: TestOutcome, pid: Option<u64>) -> Test {
    Test {
        framework: TestFramework::ExUnit,
        module: "Elixir.ShopTest".into(),
        name: name.into(),
        file: "/p/test/shop_test.exs".into(),
        line: 7,
        outcome,
        message: if outcome == TestOutcome::Failed {
            "Assertion with == failed".into()
        } else {
            String::new()
        },
        duration_us: 40,
        pid: pid.and_then(NonZeroU64::new),
    }
}

#[test]
fn tests_know_their_calls_and_pauses_are_kept_through_compaction() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let maintenance = writer.maintenance(Retention::default());
    // Test "pays" runs in process 10: two top-level calls, a Task (30, from 10 while call 2
    // ran) and a process 40 that 30 started; test "greets" in process 20; a process 50 that
    // no test started.
    let batches = vec![
        vec![
            first_call(enter(1, 100, None, 10, MOD_A, F), "<0.10.0>", None),
            ret(1, 105),
            enter(2, 110, None, 10, MOD_A, G),
            first_call(
                enter(3, 112, None, 30, MOD_B, H),
                "<0.30.0>",
                Some((OriginKind::Caller, 10)),
            ),
            first_call(
                enter(4, 113, None, 40, MOD_B, F),
                "<0.40.0>",
                Some((OriginKind::Ancestor, 30)),
            ),
            ret(4, 114),
            ret(3, 115),
            raise(2, 120),
            run_event(
                121,
                RunEvent::Test(a_test("test pays", TestOutcome::Failed, Some(10))),
            ),
        ],
        vec![
            run_event(130, RunEvent::Paused(true)),
            run_event(140, RunEvent::Paused(false)),
            first_call(enter(5, 150, None, 20, MOD_A, F), "<0.20.0>", None),
            ret(5, 151),
            first_call(enter(6, 152, None, 50, MOD_A, F), "<0.50.0>", None),
            ret(6, 153),
            run_event(
                160,
                RunEvent::Test(a_test("test greets", TestOutcome::Passed, Some(20))),
            ),
            run_event(
                161,
                RunEvent::Test(a_test("test skips", TestOutcome::Skipped, None)),
            ),
        ],
    ];
    // Eight segments make compaction merge them; the rows must survive it.
    let mut batches = batches.into_iter();
    for i in 0..8 {
        let batch = batches.next().unwrap_or_default();
        let batch = if batch.is_empty() {
            vec![run_event(200 + i, RunEvent::Paused(i % 2 == 1))]
        } else {
            batch
        };
        write_sealed(&mut writer, batch);
    }
    let report = maintenance.run().unwrap();
    assert_eq!(report.merged, 1, "{report:?}");
    let snap = store.snapshot(None).unwrap();

    let tests = snap.tests().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t.test.name.as_str()).collect();
    assert_eq!(names, ["test pays", "test greets", "test skips"]);
    assert_eq!(
        tests[0].test,
        a_test("test pays", TestOutcome::Failed, Some(10))
    );
    assert_eq!(tests[0].finished, 121);
    assert_eq!(
        tests[0].started(),
        0,
        "40µs before 121ns: the clock's start"
    );

    // The test's processes: its own, the Task and what the Task started; not the others.
    assert_eq!(snap.test_processes(10, 100).unwrap(), [10, 30, 40]);
    let roots: Vec<u64> = snap
        .test_roots(10, 10)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        roots,
        [1, 2],
        "the Task started inside call 2 is not a root"
    );
    let by_test = |name: &str| {
        let pids = snap.processes_of_tests_named(name).unwrap();
        pids.map(|pids| {
            ids(&snap
                .calls(&CallFilter {
                    pids: Some(pids),
                    limit: 100,
                    ..Default::default()
                })
                .unwrap())
        })
    };
    assert_eq!(
        by_test("pays"),
        Some(vec![4, 3, 2, 1]),
        "exact, without `test `"
    );
    assert_eq!(by_test("test greets"), Some(vec![5]));
    assert_eq!(
        by_test("skips"),
        Some(vec![]),
        "a test that recorded no call"
    );
    assert_eq!(by_test("nothing of that name"), None);
    assert_eq!(
        snap.tests_named("test").unwrap().len(),
        3,
        "a part of names"
    );

    // Pauses pair up, in time order, whichever segments they came in.
    let pauses = snap.pauses().unwrap();
    assert_eq!(
        pauses[0],
        Pause {
            from: 130,
            until: Some(140)
        }
    );
    assert_eq!(pauses.len(), 4, "{pauses:?}");
    assert_eq!(pauses.last().unwrap().until, None, "paused at the end");
}

#[test]
fn readers_keep_reading_while_a_writer_seals_and_compaction_replaces_segments() {
    let (dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let run = writer.run();
    let maintenance = writer.maintenance(Retention::default());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        let path = dir.path().join("sub/.elixir_scope");
        std::thread::spawn(move || {
            let reader = StoreReader::open(&path).unwrap();
            let (mut reads, mut seen) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let snap = reader
                    .snapshot(Some(run))
                    .expect("a snapshot while segments change");
                let count = snap.call_count().unwrap();
                assert!(count >= seen, "{count} calls after {seen}");
                seen = count;
                // Every call so far is found, with its end, by id and in the lists.
                for id in [1, count / 2, count]
                    .into_iter()
                    .filter(|id| *id > 0 && count > 0)
                {
                    let call = snap
                        .call(id)
                        .unwrap()
                        .unwrap_or_else(|| panic!("call {id} of {count}"));
                    assert!(call.end.is_some(), "call {id} without its end");
                }
                let newest = snap.calls(&CallFilter::default()).unwrap();
                assert_eq!(newest.first().map_or(0, |c| c.id), count);
                reads += 1;
            }
            reads
        })
    };
    // 40 seals of 500 calls each: compaction merges eight at a time, several times over.
    for seal in 0..40u64 {
        let mut batch = Vec::new();
        for i in 1..=500 {
            let id = seal * 500 + i;
            batch.push(enter(id, id * 10, None, id % 3, MOD_A, F));
            batch.push(ret(id, id * 10 + 5));
        }
        write_sealed(&mut writer, batch);
        maintenance.run().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    // The run's last pass leaves no merged inputs behind.
    maintenance.finish().unwrap();
    let snap = store.snapshot(Some(run)).unwrap();
    assert_eq!(snap.call_count().unwrap(), 20_000);
    let segments = std::fs::read_dir(dir.path().join(format!("sub/.elixir_scope/runs/{run}")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert!(segments < 10, "compaction keeps few segments: {segments}");
}

#[test]
fn scan_heads_gives_every_call_with_its_end_and_no_values() {
    let (_dir, store) = temp_store();
    write_sample(&store);
    let snap = store.snapshot(None).unwrap();
    let mut seen = Vec::new();
    snap.scan_heads(0, None, |h| {
        seen.push((
            h.id,
            h.parent,
            h.pid,
            snap.atom_text(h.module),
            snap.atom_text(h.function),
            h.duration_ns(),
            h.end.map(|(_, outcome)| outcome),
        ));
        Ok(true)
    })
    .unwrap();
    let ret = Some(Outcome::Return);
    assert_eq!(
        seen,
        vec![
            (1, None, 10, "mod_a".into(), "f".into(), Some(70), ret),
            (2, Some(1), 10, "mod_a".into(), "g".into(), Some(30), ret),
            (3, Some(2), 10, "mod_b".into(), "h".into(), Some(10), ret),
            (
                4,
                Some(1),
                10,
                "mod_a".into(),
                "g".into(),
                Some(10),
                Some(Outcome::Exception(Class::Error))
            ),
            (5, None, 20, "mod_b".into(), "f".into(), Some(20), ret),
            (6, None, 20, "mod_a".into(), "f".into(), Some(6), ret),
            (7, Some(6), 20, "mod_a".into(), "h".into(), Some(1), ret),
        ]
    );
    let mut of_20 = Vec::new();
    snap.scan_heads(6, Some(20), |h| {
        of_20.push(h.id);
        Ok(true)
    })
    .unwrap();
    assert_eq!(of_20, vec![6, 7], "one process, from an id");
    assert_eq!(snap.atom_text(999), "?");
}

#[test]
fn a_run_takes_the_node_name_the_vm_gets_later() {
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    let run = writer.run();
    let reader = StoreReader::open(store.path()).unwrap();
    assert_eq!(reader.run(run).unwrap().info.node, "nonode@nohost");
    write_sealed(
        &mut writer,
        vec![
            enter(1, 100, None, 10, MOD_A, F),
            ret(1, 110),
            run_event(120, RunEvent::Node("shop@host".into())),
        ],
    );
    // Renamed while it records, with the rest of its record unchanged.
    let renamed = reader.run(run).unwrap();
    assert_eq!(renamed.info.node, "shop@host");
    assert_eq!(
        RunInfo {
            node: "nonode@nohost".into(),
            ..renamed.info.clone()
        },
        info()
    );
    assert!(renamed.live);
    // And the name stays once the run ended.
    writer.finish(3, 0, 1_800_000_001_000_000_000).unwrap();
    let ended = reader.run(run).unwrap();
    assert_eq!(ended.info.node, "shop@host");
    assert!(ended.summary.is_some());
}

/// A process of another node, as the runtime hands it to the writer: its name first, then
/// the event that links to it by key.
fn remote(node: &str, text: &str) -> (store::RemoteProcess, u64) {
    let remote = store::RemoteProcess {
        node: node.into(),
        text: text.into(),
    };
    let key = remote.key();
    (remote, key)
}

#[test]
fn calls_of_two_nodes_link_across_their_runs() {
    // Node a's clock reads 1,000 at its start; node b's 1,000,000 at the same wall-clock
    // instant: b's time t is a's t - 999,000.
    let (_dir, store) = temp_store();
    let a_info = RunInfo {
        node: "a@host".into(),
        ..info()
    };
    let b_info = RunInfo {
        node: "b@host".into(),
        monotonic_origin_ns: 1_000_000,
        ..info()
    };
    let mut a = store.begin_run(&a_info).unwrap();
    let mut b = store.begin_run(&b_info).unwrap();
    let b_time = |a_time: u64| a_time + 999_000;
    // a: process 10, call 1 (100..300) { 2 (110..120), 3 (150..250) }: 3 waits for b.
    write_sealed(
        &mut a,
        vec![
            first_call(enter(1, 100, None, 10, MOD_A, F), "<0.10.0>", None),
            enter(2, 110, Some(1), 10, MOD_A, G),
            ret(2, 120),
            enter(3, 150, Some(1), 10, MOD_A, H),
            ret(3, 250),
            ret(1, 300),
        ],
    );
    // b: process 20 serves a's request at a's 160..170 (call 1); process 30 is a Task that
    // a's process started at a's 200 (call 2, its first).
    let (client, key) = remote("a@host", "<0.10.0>");
    let mut serving = first_call(enter(1, b_time(160), None, 20, MOD_B, F), "<0.20.0>", None);
    if let EventKind::Enter(e) = &mut serving.kind {
        e.client = NonZeroU64::new(key);
    }
    let mut task = first_call(enter(2, b_time(200), None, 30, MOD_B, G), "<0.30.0>", None);
    if let EventKind::Enter(e) = &mut task.kind {
        if let Some(p) = &mut e.process {
            p.origin = Some(Origin {
                kind: OriginKind::Caller,
                pid: key,
                text: "<9999.10.0>".into(),
            });
        }
    }
    write_sealed(
        &mut b,
        vec![
            run_event(b_time(159), RunEvent::Remote(client.clone())),
            serving,
            ret(1, b_time(170)),
            run_event(b_time(199), RunEvent::Remote(client.clone())),
            task,
            ret(2, b_time(210)),
        ],
    );
    let (a_run, b_run) = (a.run(), b.run());
    let reader = StoreReader::open(store.path()).unwrap();
    let (a_snap, b_snap) = (
        reader.snapshot(Some(a_run)).unwrap(),
        reader.snapshot(Some(b_run)).unwrap(),
    );
    assert!(store::is_remote_key(key) && !store::is_remote_key(10));
    assert_eq!(b_snap.remote_client(1).unwrap(), Some(client.clone()));
    assert_eq!(b_snap.remote_client(2).unwrap(), None);
    assert_eq!(
        b_snap.remote_origin(30).unwrap(),
        Some((OriginKind::Caller, client.clone()))
    );
    // Within one run a remote client is no local process: no cause.
    assert!(b_snap
        .tree(1, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .is_none());
    assert_eq!(a_snap.running_at(10, 160).unwrap().map(|c| c.id), Some(3));
    assert_eq!(a_snap.running_at(10, 130).unwrap().map(|c| c.id), Some(1));
    assert_eq!(a_snap.running_at(10, 400).unwrap(), None);

    let cluster = store::Cluster::new(vec![a_snap, b_snap]);
    // a's tree: b's serving call and b's Task under call 3, which was running then.
    let tree = cluster.tree(0, 1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let lines: Vec<(u32, String)> = tree
        .lines
        .iter()
        .map(|l| {
            let what = match &l.item {
                TreeItem::Call(c) => format!("call {}", c.id),
                TreeItem::Request(r) => format!(
                    "request {} {} call {}",
                    r.node.as_deref().unwrap_or("-"),
                    r.text,
                    r.call.id
                ),
                TreeItem::Process(p) => format!(
                    "process {} {} call {}",
                    p.node.as_deref().unwrap_or("-"),
                    p.text,
                    p.first.id
                ),
                TreeItem::Fold(_) => "fold".into(),
                TreeItem::Message(_) => "message".into(),
            };
            (l.depth, what)
        })
        .collect();
    assert_eq!(
        lines,
        [
            (0, "call 1".to_string()),
            (1, "call 2".to_string()),
            (1, "call 3".to_string()),
            (2, "request b@host <0.20.0> call 1".to_string()),
            (2, "process b@host <0.30.0> call 2".to_string()),
        ]
    );
    // b's trees: caused by a's call 3.
    let served = cluster.tree(1, 1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let cause = served.cause.unwrap();
    assert_eq!(
        (
            cause.kind,
            cause.node.as_deref(),
            cause.text.as_str(),
            cause.call.id
        ),
        (CauseKind::Request, Some("a@host"), "<0.10.0>", 3)
    );
    let started = cluster.tree(1, 2, &TreeLimits::DEFAULT).unwrap().unwrap();
    let cause = started.cause.unwrap();
    assert_eq!(
        (cause.kind, cause.node.as_deref(), cause.call.id),
        (CauseKind::Started(OriginKind::Caller), Some("a@host"), 3)
    );
    // Every request across nodes, with the call that waited.
    let requests = cluster.requests().unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.client_run, r.waiting.id, r.server_run, r.serving.id),
        (0, 3, 1, 1)
    );
    // Every process started from another node, with the call that started it.
    let started = cluster.started().unwrap();
    assert_eq!(started.len(), 1);
    let s = &started[0];
    assert_eq!(
        (s.origin_run, s.origin.id, s.kind, s.run, s.first.id),
        (0, 3, OriginKind::Caller, 1, 2)
    );
    // Compaction keeps the names of remote processes.
    drop(cluster);
    for i in 0..8 {
        write_sealed(
            &mut b,
            vec![run_event(b_time(400 + i), RunEvent::Paused(i % 2 == 0))],
        );
    }
    let report = b.maintenance(Retention::default()).run().unwrap();
    assert!(report.merged >= 1, "{report:?}");
    let b_snap = reader.snapshot(Some(b_run)).unwrap();
    assert_eq!(b_snap.remote_client(1).unwrap(), Some(client));
}

#[test]
fn a_run_copied_file_by_file_reads_as_the_run() {
    // What `elixir-scope --cluster` does with another machine's run: its `run` file and the
    // segments that hold it, copied into another store, read as the run.
    let (_dir, store) = temp_store();
    let mut writer = store.begin_run(&info()).unwrap();
    for batch in sample() {
        write_sealed(&mut writer, batch);
    }
    let run = writer.run();
    // Eight more segments: a compaction merges the first eight, whose inputs stay a moment.
    for i in 0..7 {
        write_sealed(
            &mut writer,
            vec![run_event(900 + i, RunEvent::Paused(i % 2 == 0))],
        );
    }
    writer.maintenance(Retention::default()).compact().unwrap();
    let reader = StoreReader::open(store.path()).unwrap();
    let sealed = reader.sealed_segments(run).unwrap();
    let dir = reader.run_dir(run);
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count();
    assert!(sealed.len() < on_disk, "{sealed:?} of {on_disk}");
    assert!(sealed[0].0.starts_with("1-"), "{sealed:?}");
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("runs").join(run.to_string());
    std::fs::create_dir_all(&copied).unwrap();
    std::fs::copy(dir.join("run"), copied.join("run")).unwrap();
    for (name, bytes) in &sealed {
        assert_eq!(
            std::fs::copy(dir.join(name), copied.join(name)).unwrap(),
            *bytes
        );
    }
    let original = reader.snapshot(Some(run)).unwrap();
    let mirror = StoreReader::open(copy.path()).unwrap();
    let mirrored = mirror.snapshot(Some(run)).unwrap();
    let all = |snap: &store::Snapshot| {
        let mut calls = Vec::new();
        snap.scan(0, |c| {
            calls.push(c);
            Ok(true)
        })
        .unwrap();
        calls
    };
    assert_eq!(all(&mirrored), all(&original));
    assert_eq!(mirrored.pauses().unwrap(), original.pauses().unwrap());
    assert_eq!(mirrored.run().info, original.run().info);
    assert!(!mirror.runs().unwrap()[0].live);
}
