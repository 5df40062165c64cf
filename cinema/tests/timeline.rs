//! The timeline's level of detail over a synthetic run: what a window returns at a coarse and
//! a fine width, and the neighbours time travel steps to.

use std::num::NonZeroU64;

use cinema::timeline::Timeline;
use serde_json::Value;
use store::{AtomKey, AtomNames, End, Enter, Event, EventKind, Outcome, RunInfo, Store};

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        ["Elixir.App", "run", "step", "other"]
            .get(key as usize)
            .map(|s| s.to_string())
    }
}

fn enter(id: u64, parent: Option<u64>, pid: u64, function: AtomKey, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::Enter(Enter {
            parent: parent.and_then(NonZeroU64::new),
            pid,
            module: 0,
            function,
            arity: 1,
            args: vec![131, 106].into(),
            process: None,
            client: None,
        }),
    }
}

fn end(id: u64, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: vec![131, 97, 1].into(),
        }),
    }
}

/// Process 7: `run` (id 1) from 0 to 1,000,000 ns with 1,000 `step`s of 100 ns each, one
/// every 1,000 ns. Process 8: one `other` (id 1002) from 0 to 10 ns.
fn store() -> (tempfile::TempDir, Store) {
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
    let mut events = vec![enter(1, None, 7, 1, 0)];
    for i in 0..1000u64 {
        let id = 2 + i;
        events.push(enter(id, Some(1), 7, 2, 1 + i * 1000));
        events.push(end(id, 101 + i * 1000));
    }
    events.push(end(1, 1_000_000));
    events.push(enter(1002, None, 8, 3, 5));
    events.push(end(1002, 15));
    writer.write(events, &Names).unwrap();
    writer.seal(0, 0).unwrap();
    (dir, store)
}

fn slices(lane: &Value) -> Vec<u64> {
    lane["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[3].as_u64().unwrap())
        .collect()
}

#[test]
fn a_coarse_window_shows_wide_calls_and_merges_the_rest_into_busy_spans() {
    let (_dir, store) = store();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    assert_eq!(t.calls(), 1002);
    // 1,000 pixels over 1 ms: a pixel is 1,000 ns; the steps (100 ns) are narrower.
    let w = t.window(0, 1_000_000, 1000);
    assert_eq!(w["ns_per_px"], 1000);
    let lanes = w["lanes"].as_array().unwrap();
    assert_eq!(lanes.len(), 2, "{w}");
    assert_eq!(lanes[0]["pid"], "pid 7");
    assert_eq!(slices(&lanes[0]), vec![1]);
    assert_eq!(w["functions"]["0"], "App.run/1");
    assert_eq!(w["functions"].as_object().unwrap().len(), 1);
    // The run's own span is the lane's busy span.
    assert_eq!(lanes[0]["busy_px"], serde_json::json!([0, 1000]));
    // Process 8's 10 ns call is narrower than a pixel: busy, not a slice.
    assert_eq!(slices(&lanes[1]), Vec::<u64>::new());
    assert_eq!(lanes[1]["busy_px"], serde_json::json!([0, 0]));
}

#[test]
fn a_fine_window_shows_every_call_in_it_at_its_depth() {
    let (_dir, store) = store();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    // 1,000 pixels over 10 µs starting at 2,000 ns: 10 ns a pixel; steps 3 to 12 overlap.
    let w = t.window(2_000, 12_000, 1000);
    let lane = &w["lanes"][0];
    let ids = slices(lane);
    assert_eq!(ids, (1..2).chain(4..14).collect::<Vec<u64>>());
    let depths: Vec<u64> = lane["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[2].as_u64().unwrap())
        .collect();
    assert_eq!(depths[0], 0);
    assert!(depths[1..].iter().all(|&d| d == 1));
    assert_eq!(lane["depth"], 2);
}

#[test]
fn neighbours_step_through_time_within_a_process() {
    let (_dir, store) = store();
    let snap = store.snapshot(None).unwrap();
    let t = Timeline::build(&snap).unwrap();
    let root = t.neighbours(7, 1).unwrap();
    assert_eq!(root["prev"], Value::Null);
    assert_eq!(root["next"], 2);
    assert_eq!(root["first_child"], 2);
    let step = t.neighbours(7, 5).unwrap();
    assert_eq!(
        (step["prev"].as_u64(), step["next"].as_u64()),
        (Some(4), Some(6))
    );
    assert_eq!(
        step["first_child"],
        Value::Null,
        "the next step is a sibling"
    );
    let last = t.neighbours(7, 1001).unwrap();
    assert_eq!(last["next"], Value::Null);
    assert!(t.neighbours(8, 1).is_none(), "call 1 is not process 8's");
}

#[test]
fn a_large_run_keeps_its_order_and_depths_across_blocks_and_batches() {
    // `run` (id 1) with 150,000 `step`s, written in batches: 147 blocks.
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
    let steps = 150_000u64;
    let mut events = vec![enter(1, None, 7, 1, 0)];
    for i in 0..steps {
        events.push(enter(2 + i, Some(1), 7, 2, 1 + i * 1000));
        events.push(end(2 + i, 101 + i * 1000));
        if events.len() >= 8192 {
            writer.write(std::mem::take(&mut events), &Names).unwrap();
        }
    }
    events.push(end(1, steps * 1000 + 1));
    writer.write(events, &Names).unwrap();
    writer.seal(0, 0).unwrap();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    assert_eq!(t.calls(), steps + 1);
    // Around the middle: consecutive steps, one level down.
    for id in (steps / 2 - 3)..(steps / 2 + 3) {
        let n = t.neighbours(7, id).unwrap();
        assert_eq!(
            (n["prev"].as_u64(), n["next"].as_u64()),
            (Some(id - 1), Some(id + 1))
        );
        assert_eq!(n["depth"], 1);
    }
    let middle = (steps / 2) * 1000;
    let w = t.window(middle - 5_000, middle + 5_000, 1000);
    let lane = &w["lanes"][0];
    assert_eq!(lane["depth"], 2);
    assert_eq!(slices(lane).len(), 1 + 10, "the run and ten steps: {w}");
}

#[test]
fn processes_are_shown_under_the_process_they_came_from() {
    use store::{Origin, OriginKind, ProcessStart};
    // First calls in this order: 7, 9 (roots), 8 (a Task of 7), 10 (started by 8).
    let first = |id: u64, pid: u64, origin: Option<u64>, time: u64| {
        let mut e = enter(id, None, pid, 1, time);
        if let EventKind::Enter(enter) = &mut e.kind {
            enter.process = Some(Box::new(ProcessStart {
                text: format!("<0.{pid}.0>"),
                name: None,
                origin: origin.map(|o| Origin {
                    kind: if o == 7 {
                        OriginKind::Caller
                    } else {
                        OriginKind::Ancestor
                    },
                    pid: o,
                    text: format!("<0.{o}.0>"),
                }),
            }));
        }
        e
    };
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
    let mut events = Vec::new();
    for (i, (pid, origin)) in [(7, None), (9, None), (8, Some(7)), (10, Some(8))]
        .into_iter()
        .enumerate()
    {
        let id = i as u64 + 1;
        events.push(first(id, pid, origin, 100 * id));
        events.push(end(id, 100 * id + 50));
    }
    writer.write(events, &Names).unwrap();
    writer.seal(0, 0).unwrap();
    let snap = store.snapshot(None).unwrap();
    let mut t = Timeline::build(&snap).unwrap();
    let overview = t.overview();
    let shown: Vec<(String, u64)> = overview["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["pid"].as_str().unwrap().to_string(),
                l["level"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("<0.7.0>", 0),
        ("<0.8.0>", 1),
        ("<0.10.0>", 2),
        ("<0.9.0>", 0),
    ]
    .iter()
    .map(|(p, l)| (p.to_string(), *l))
    .collect();
    assert_eq!(shown, expected);
    // A window lists its lanes in the same order, and the links between them.
    let w = t.window(0, 1_000, 1_000);
    let pids: Vec<&str> = w["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["pid"].as_str().unwrap())
        .collect();
    assert_eq!(pids, ["<0.7.0>", "<0.8.0>", "<0.10.0>", "<0.9.0>"]);
    let kinds: Vec<&str> = w["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["task", "spawned"]);
}

#[test]
fn the_server_keeps_the_timelines_of_the_runs_used_last() {
    use cinema::timeline::{Timelines, KEPT_TIMELINES};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = Store::open(&path).unwrap();
    let info = RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "nonode@nohost".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    };
    // Run n holds n calls.
    for n in 1..=4u64 {
        let mut writer = store.begin_run(&info).unwrap();
        let mut events = Vec::new();
        for id in 1..=n {
            events.push(enter(id, None, 7, 1, id * 10));
            events.push(end(id, id * 10 + 5));
        }
        writer.write(events, &Names).unwrap();
        writer.finish(0, 0, info.started_unix_ns + 100).unwrap();
    }
    let reader = store::StoreReader::open(&path).unwrap();
    let timelines = Timelines::default();
    assert_eq!(KEPT_TIMELINES, 3);
    for run in [1, 2, 3, 4, 2, 1] {
        let calls = timelines.with(&reader, run, |t, _| t.calls()).unwrap();
        assert_eq!(calls, run, "run {run}'s own timeline");
    }
    // Used last: 1, then 2, then 4; 3 went first.
    assert_eq!(timelines.kept(), vec![1, 2, 4]);
}
