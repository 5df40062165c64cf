//! Call trees with folding, and run counts, over synthetic recordings.

use std::num::NonZeroU64;

use store::{
    tree_prefixes, AtomKey, AtomNames, End, Enter, Event, EventKind, FoldReason, Outcome, RunInfo,
    Store, Tree, TreeItem, TreeLimits,
};

/// Atom keys are indexes into a fixed list of names.
struct Names;

const NAMES: &[&str] = &["Elixir.App", "Elixir.Other", "run", "step", "leaf", "odd"];
const APP: AtomKey = 0;
const OTHER: AtomKey = 1;
const RUN: AtomKey = 2;
const STEP: AtomKey = 3;
const LEAF: AtomKey = 4;
const ODD: AtomKey = 5;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        NAMES.get(key as usize).map(|s| s.to_string())
    }
}

/// A call to record: module, function and what it calls.
#[derive(Clone)]
struct Spec {
    module: AtomKey,
    function: AtomKey,
    children: Vec<Spec>,
}

fn call(module: AtomKey, function: AtomKey, children: Vec<Spec>) -> Spec {
    Spec {
        module,
        function,
        children,
    }
}

fn leaf() -> Spec {
    call(APP, LEAF, vec![])
}

/// Records specs depth first (ids and times in start order), one process per root.
struct Recorder {
    events: Vec<Event>,
    next_id: u64,
    clock: u64,
}

impl Recorder {
    fn record(&mut self, spec: &Spec, parent: Option<u64>, pid: u64, end: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.clock += 10;
        self.events.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: parent.and_then(NonZeroU64::new),
                pid,
                module: spec.module,
                function: spec.function,
                arity: 1,
                args: vec![131, 106].into(),
                process: None,
                client: None,
            }),
        });
        for child in &spec.children {
            self.record(child, Some(id), pid, true);
        }
        self.clock += 10;
        if end {
            self.events.push(Event {
                call_id: id,
                time: self.clock,
                scheduler: 1,
                kind: EventKind::End(End {
                    outcome: Outcome::Return,
                    tail_calls: 0,
                    value: vec![131, 97, 1].into(),
                }),
            });
        }
        id
    }
}

fn store_with(roots: &[(Spec, u64, bool)]) -> (tempfile::TempDir, Store) {
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
    let mut rec = Recorder {
        events: Vec::new(),
        next_id: 1,
        clock: 0,
    };
    for (spec, pid, ended) in roots {
        rec.record(spec, None, *pid, *ended);
    }
    // Sealed every few batches: trees read calls, their ends and their indexes across
    // blocks and segments.
    for (i, batch) in rec.events.chunks(1000).enumerate() {
        writer.write(batch.to_vec(), &Names).unwrap();
        if i % 7 == 6 {
            writer.seal(0, 0).unwrap();
        }
    }
    writer.seal(0, 0).unwrap();
    (dir, store)
}

/// The tree as text: one line per call (`id function`) or fold, indented by depth.
fn outline(tree: &Tree) -> Vec<String> {
    tree.lines
        .iter()
        .map(|line| {
            let pad = "  ".repeat(line.depth as usize);
            match &line.item {
                TreeItem::Call(c) => format!("{pad}{} {}", c.id, c.function),
                TreeItem::Fold(f) => {
                    let functions: Vec<String> = f
                        .functions
                        .iter()
                        .map(|fc| format!("{}x{}", fc.function, fc.calls))
                        .collect();
                    format!(
                        "{pad}fold {} {}..{} children {} calls {} [{}]{}",
                        f.reason.as_str(),
                        f.first,
                        f.last,
                        f.children,
                        f.calls,
                        functions.join(","),
                        if f.more_functions { "+" } else { "" }
                    )
                }
                TreeItem::Process(p) => format!("{pad}process {} {}", p.text, p.first.id),
                TreeItem::Request(r) => format!("{pad}request {} {}", r.text, r.call.id),
                TreeItem::Message(m) => format!("{pad}message of {}", m.message.call_id),
            }
        })
        .collect()
}

#[test]
fn a_long_list_of_children_keeps_its_head_and_tail_and_folds_the_middle() {
    // run { step { leaf } × 24, odd }: 26 children of the root, 50 calls.
    let mut children: Vec<Spec> = (0..24).map(|_| call(APP, STEP, vec![leaf()])).collect();
    children.push(call(OTHER, ODD, vec![]));
    let (_dir, store) = store_with(&[(call(APP, RUN, children), 7, true)]);
    let snap = store.snapshot(None).unwrap();
    let limits = TreeLimits {
        depth: 1,
        children: 10,
        calls: 100,
    };
    let tree = snap.tree(1, &limits).unwrap().unwrap();
    assert_eq!(tree.calls, 50);
    // Children 2, 4, ..., 48 are steps (each with a leaf), 50 is odd.
    let expected = vec![
        "1 run",
        "  2 step",
        "    fold depth 3..3 children 1 calls 1 [leafx1]",
        "  4 step",
        "    fold depth 5..5 children 1 calls 1 [leafx1]",
        "  6 step",
        "    fold depth 7..7 children 1 calls 1 [leafx1]",
        "  8 step",
        "    fold depth 9..9 children 1 calls 1 [leafx1]",
        "  10 step",
        "    fold depth 11..11 children 1 calls 1 [leafx1]",
        "  12 step",
        "    fold depth 13..13 children 1 calls 1 [leafx1]",
        "  14 step",
        "    fold depth 15..15 children 1 calls 1 [leafx1]",
        "  16 step",
        "    fold depth 17..17 children 1 calls 1 [leafx1]",
        "  fold children 18..46 children 15 calls 30 [stepx15]",
        "  48 step",
        "    fold depth 49..49 children 1 calls 1 [leafx1]",
        "  50 odd",
    ];
    assert_eq!(outline(&tree), expected);
    assert_eq!(tree.shown, 11);
}

#[test]
fn the_budget_goes_to_the_top_levels_first() {
    // run { step { leaf, leaf, leaf } × 3 }
    let steps: Vec<Spec> = (0..3)
        .map(|_| call(APP, STEP, vec![leaf(), leaf(), leaf()]))
        .collect();
    let (_dir, store) = store_with(&[(call(APP, RUN, steps), 1, true)]);
    let snap = store.snapshot(None).unwrap();
    let limits = TreeLimits {
        depth: 8,
        children: 10,
        calls: 6,
    };
    let tree = snap.tree(1, &limits).unwrap().unwrap();
    assert_eq!(tree.calls, 13);
    assert_eq!(
        outline(&tree),
        vec![
            "1 run",
            "  2 step",
            "    3 leaf",
            "    4 leaf",
            "    fold budget 5..5 children 1 calls 1 [leafx1]",
            "  6 step",
            "    fold budget 7..9 children 3 calls 3 [leafx3]",
            "  10 step",
            "    fold budget 11..13 children 3 calls 3 [leafx3]",
        ]
    );
    assert_eq!(tree.shown, 6);
}

#[test]
fn everything_is_the_recorded_tree_depth_first() {
    let inner = call(OTHER, ODD, vec![leaf(), call(APP, STEP, vec![leaf()])]);
    let spec = call(APP, RUN, vec![leaf(), inner, leaf()]);
    let (_dir, store) = store_with(&[(spec.clone(), 3, true), (spec, 4, true)]);
    let snap = store.snapshot(None).unwrap();
    let tree = snap
        .tree(8, &TreeLimits::everything(1000))
        .unwrap()
        .unwrap();
    assert_eq!(
        outline(&tree),
        vec![
            "8 run",
            "  9 leaf",
            "  10 odd",
            "    11 leaf",
            "    12 step",
            "      13 leaf",
            "  14 leaf",
        ]
    );
    assert_eq!((tree.calls, tree.shown), (7, 7));
    // Every line's parent is the nearest shallower line above it.
    let mut path: Vec<u64> = Vec::new();
    for line in &tree.lines {
        let TreeItem::Call(c) = &line.item else {
            panic!("nothing is folded")
        };
        path.truncate(line.depth as usize);
        assert_eq!(c.parent, path.last().copied());
        path.push(c.id);
    }
}

#[test]
fn prefixes_draw_the_guides_of_each_line() {
    let depths = [0, 1, 2, 3, 2, 1, 2, 3, 1];
    let prefixes: Vec<String> = tree_prefixes(depths).collect();
    assert_eq!(
        prefixes,
        [
            "",
            "├── ",
            "│   ├── ",
            "│   │   └── ",
            "│   └── ",
            "├── ",
            "│   └── ",
            "│       └── ",
            "└── ",
        ]
    );
    assert_eq!(tree_prefixes([0]).collect::<Vec<_>>(), [""]);
    assert_eq!(tree_prefixes([]).count(), 0);

    // A tree's own prefixes are those of its depths.
    let root = call(APP, RUN, vec![call(APP, STEP, vec![leaf()]), leaf()]);
    let (_dir, store) = store_with(&[(root, 1, true)]);
    let snap = store.snapshot(None).unwrap();
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(tree.prefixes().len(), tree.lines.len());
    assert_eq!(
        tree.prefixes().collect::<Vec<_>>(),
        ["", "├── ", "│   └── ", "└── "]
    );
}

#[test]
fn a_call_without_descendants_and_an_unknown_call() {
    let (_dir, store) = store_with(&[(call(APP, RUN, vec![]), 1, true)]);
    let snap = store.snapshot(None).unwrap();
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(outline(&tree), vec!["1 run"]);
    assert_eq!(tree.calls, 1);
    assert!(snap.tree(99, &TreeLimits::DEFAULT).unwrap().is_none());
}

#[test]
fn ten_thousand_children_fold_into_one_line_with_their_function() {
    let loops: Vec<Spec> = (0..10_000).map(|_| leaf()).collect();
    let (_dir, store) = store_with(&[(call(APP, RUN, loops), 1, true)]);
    let snap = store.snapshot(None).unwrap();
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(tree.calls, 10_001);
    let lines = outline(&tree);
    assert_eq!(lines.len(), 1 + 8 + 1 + 2);
    assert_eq!(
        lines[9],
        "  fold children 10..9999 children 9990 calls 9990 [leafx9990]"
    );
    assert_eq!(lines[10], "  10000 leaf");
    assert_eq!(lines[11], "  10001 leaf");
}

#[test]
fn a_running_root_holds_every_later_call_of_its_process() {
    // The root never ended (the process is still in it); another process runs meanwhile.
    let (_dir, store) = store_with(&[
        (call(APP, RUN, vec![leaf(), leaf()]), 5, false),
        (call(APP, STEP, vec![leaf()]), 6, true),
    ]);
    let snap = store.snapshot(None).unwrap();
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(outline(&tree), vec!["1 run", "  2 leaf", "  3 leaf"]);
    assert_eq!(tree.calls, 3);
}

#[test]
fn fold_reasons_and_counts() {
    assert_eq!(FoldReason::Children.as_str(), "children");
    let spec = call(
        APP,
        RUN,
        vec![call(APP, STEP, vec![leaf(), leaf()]), leaf()],
    );
    let (_dir, store) = store_with(&[(spec, 1, true)]);
    let snap = store.snapshot(None).unwrap();
    let counts = snap.counts().unwrap();
    assert_eq!(
        (counts.calls, counts.exceptions, counts.processes),
        (5, 0, 0)
    );
    let top = snap.top_functions(2).unwrap();
    let named: Vec<(String, u64)> = top
        .iter()
        .map(|f| (format!("{}.{}", f.module, f.function), f.calls))
        .collect();
    assert_eq!(
        named,
        vec![
            ("Elixir.App.leaf".to_string(), 3),
            ("Elixir.App.run".to_string(), 1)
        ]
    );
}

#[test]
fn heads_give_every_call_in_start_order_with_its_parent_and_end_and_no_values() {
    // Two processes: run { step { leaf } × 3 } in 7, and an unfinished run in 8.
    let children: Vec<Spec> = (0..3).map(|_| call(APP, STEP, vec![leaf()])).collect();
    let (_dir, store) = store_with(&[
        (call(APP, RUN, children), 7, true),
        (call(OTHER, RUN, vec![]), 8, false),
    ]);
    let snap = store.snapshot(None).unwrap();
    let mut spans = Vec::new();
    snap.scan_heads(0, None, |s| {
        spans.push(*s);
        Ok(true)
    })
    .unwrap();
    let ids: Vec<u64> = spans.iter().map(|s| s.id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
    let parents: Vec<Option<u64>> = spans.iter().map(|s| s.parent).collect();
    assert_eq!(
        parents,
        vec![
            None,
            Some(1),
            Some(2),
            Some(1),
            Some(4),
            Some(1),
            Some(6),
            None
        ]
    );
    assert!(spans[..7]
        .iter()
        .all(|s| s.pid == 7 && s.end_time() > Some(s.start)));
    assert_eq!((spans[7].pid, spans[7].end_time()), (8, None));
    assert_eq!(snap.atom_text(spans[1].function), "step");
    assert_eq!(snap.atom_text(spans[7].module), "Elixir.Other");
    // A nested call ends within its parent.
    assert!(spans[2].start > spans[1].start && spans[2].end_time() < spans[1].end_time());
    // Stopping early stops.
    let mut seen = 0;
    snap.scan_heads(3, None, |_| {
        seen += 1;
        Ok(seen < 2)
    })
    .unwrap();
    assert_eq!(seen, 2);
}
