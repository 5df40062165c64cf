//! Damaged recordings: every query over a store whose files were truncated or had bytes
//! flipped answers, or fails with an error naming the damaged file; none panics. redb trusts
//! the pages it reads (some damage makes it panic inside its B-tree code), so the store reads
//! segments behind a guard; blocks carry checksums of their own.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use store::{
    AtomKey, AtomNames, CallFilter, End, Enter, Event, EventKind, Outcome, ProcessStart, RunInfo,
    Store, StoreError, StoreReader, TailCall, TreeLimits,
};

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        Some(format!("atom{key}"))
    }
}

fn info() -> RunInfo {
    RunInfo {
        started_unix_ns: 1,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "n@h".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    }
}

/// A run of nested calls over a few processes, with processes, tail calls and late ends,
/// sealed into several segments.
fn build(dir: &Path) -> PathBuf {
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    let mut writer = store.begin_run(&info()).unwrap();
    let mut batch = Vec::new();
    for id in 1..=6000u64 {
        let pid = id % 5;
        batch.push(Event {
            call_id: id,
            time: id * 10,
            scheduler: 1,
            kind: EventKind::Enter(Enter {
                parent: NonZeroU64::new(if id % 4 == 0 { 0 } else { id - 1 }),
                pid,
                module: id % 9,
                function: 20 + id % 4,
                arity: 1,
                args: vec![131, 98, 0, 0, (id >> 8) as u8, id as u8].into(),
                process: (id <= 5).then(|| {
                    Box::new(ProcessStart {
                        text: format!("<0.{pid}.0>"),
                        name: None,
                        origin: None,
                    })
                }),
                client: None,
            }),
        });
        if id % 7 == 0 {
            batch.push(Event {
                call_id: id,
                time: id * 10 + 1,
                scheduler: 1,
                kind: EventKind::TailCall(TailCall {
                    index: 0,
                    module: 1,
                    function: 2,
                    arity: 1,
                    args: vec![131, 106].into(),
                }),
            });
        }
        // Every 50th call ends a segment later (a late end).
        if id % 50 != 0 {
            batch.push(end(id));
        }
        if id % 1500 == 0 {
            writer.write(std::mem::take(&mut batch), &Names).unwrap();
            writer.seal(0, 0).unwrap();
            let late: Vec<Event> = (id - 1499..=id).filter(|i| i % 50 == 0).map(end).collect();
            batch.extend(late);
        }
    }
    writer.write(batch, &Names).unwrap();
    writer.finish(0, 0, 0).unwrap();
    path
}

fn end(id: u64) -> Event {
    Event {
        call_id: id,
        time: id * 10 + 5,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: if id.is_multiple_of(11) {
                Outcome::Exception(store::Class::Error)
            } else {
                Outcome::Return
            },
            tail_calls: 0,
            value: vec![131, 97, id as u8].into(),
        }),
    }
}

/// Every query of the store; an error is fine, a panic is not.
fn query_everything(path: &Path) -> Result<u64, StoreError> {
    let reader = StoreReader::open(path)?;
    let runs = reader.runs()?;
    let snap = reader.snapshot(runs.first().map(|r| r.id))?;
    let mut seen = 0u64;
    for id in [1, 2, 50, 777, 1500, 1501, 3000, 5999, 6000] {
        if let Some(call) = snap.call(id)? {
            seen += call.args.len() as u64;
        }
        snap.children(id, 10)?;
        snap.subtree(id, 100)?;
        snap.tree(id, &TreeLimits::DEFAULT)?;
        snap.tail_calls(id)?;
    }
    for filter in [
        CallFilter::default(),
        CallFilter {
            pid: Some(3),
            limit: 500,
            ..Default::default()
        },
        CallFilter {
            module: Some("atom4".into()),
            ..Default::default()
        },
        CallFilter {
            exceptions_only: true,
            ..Default::default()
        },
        CallFilter {
            since: Some(20_000),
            until: Some(30_000),
            ..Default::default()
        },
    ] {
        seen += snap.calls(&filter)?.len() as u64;
    }
    snap.counts()?;
    snap.top_functions(5)?;
    snap.processes()?;
    snap.scan(0, |_| Ok(true))?;
    Ok(seen)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn segments(run: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    out.sort();
    out
}

/// A xorshift generator: the same damage on every run of the test.
fn random(mut state: u64) -> impl FnMut(u64) -> u64 {
    move |bound| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound.max(1)
    }
}

#[test]
fn damaged_segments_give_errors_that_name_them_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let original = build(dir.path());
    let intact = query_everything(&original).expect("the intact store reads");
    assert!(intact > 0);
    let mut next = random(0x9e37_79b9_7f4a_7c15);
    let (mut answered, mut refused) = (0, 0);
    for round in 0..120 {
        let copy = dir.path().join(format!("copy{round}"));
        copy_dir(&original, &copy);
        let segments = segments(&copy.join("runs/1"));
        assert!(segments.len() > 1, "the run has several segments");
        let victim = &segments[next(segments.len() as u64) as usize];
        let mut bytes = std::fs::read(victim).unwrap();
        if round % 4 == 0 {
            bytes.truncate(next(bytes.len() as u64) as usize);
        } else {
            for _ in 0..1 + next(8) {
                let at = next(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << next(8);
            }
        }
        std::fs::write(victim, &bytes).unwrap();
        match query_everything(&copy) {
            Ok(_) => answered += 1,
            Err(e) => {
                refused += 1;
                let text = e.to_string();
                let named = text.contains(".seg");
                assert!(named, "round {round}: the error names no file: {text}");
            }
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
    assert!(refused > 0, "damage was noticed ({answered} answered)");
}

#[test]
fn a_damaged_run_file_leaves_the_other_runs_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let store = Store::open(&path).unwrap();
    let writer = store.begin_run(&info()).unwrap();
    writer.finish(0, 0, 0).unwrap();
    std::fs::write(path.join("runs/1/run"), b"\x01\x02").unwrap();
    let reader = StoreReader::open(&path).unwrap();
    let runs = reader.runs().unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [2]);
    let err = reader.snapshot(Some(1)).unwrap_err();
    assert!(err.to_string().contains("runs/1/run"), "{err}");
}
