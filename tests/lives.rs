//! Messages and process lives end to end, in one VM: the fixture `tests/fixtures/lives_fixture`
//! (a hub that casts each item to its subscribers, which set timers; a worker that crashes
//! under a supervisor while a watcher monitors it) is compiled with Mix, rewritten by
//! `elixir-scope instrument --strategy all` and run (`scenario.exs`), then read back through
//! the CLI and the store: each subscriber's `handle_cast/2` is linked to the cast that
//! delivered it, the export draws the arrows, and the crash is listed with its reason, its
//! last calls, the `DOWN` its watcher received and the supervisor's restart.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;
use store::{StoreReader, TreeItem, TreeLimits};
use support::{elixir_scope_bin, executable};

/// The fixture recorded once for every test of this file.
struct Recorded {
    dir: tempfile::TempDir,
    db: PathBuf,
    /// The scenario's output by section.
    sections: BTreeMap<String, String>,
}

impl Recorded {
    fn section(&self, name: &str) -> &str {
        self.sections
            .get(name)
            .unwrap_or_else(|| panic!("the scenario printed no section {name:?}"))
    }

    /// The scenario's `ids` section: `name id`.
    fn id(&self, name: &str) -> u64 {
        self.section("ids")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no id {name}"))
            .parse()
            .expect("an id")
    }

    /// Runs `elixir-scope` on the recording; panics unless it succeeds.
    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(elixir_scope_bin())
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .current_dir(self.dir.path())
            .output()
            .expect("running elixir-scope");
        check(&output, &format!("elixir-scope {args:?}"))
    }

    fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.cli(&all)).expect("JSON output")
    }

    fn snapshot(&self) -> store::Snapshot {
        StoreReader::open(&self.db)
            .expect("the store")
            .snapshot(None)
            .expect("the run")
    }
}

fn mix(project: &Path, args: &[&str], db: &Path) -> Output {
    Command::new(executable("mix", "elixir"))
        .args(args)
        .current_dir(project)
        .env("MIX_ENV", "dev")
        .env("ELIXIR_SCOPE_DB", db)
        .env_remove("ELIXIR_SCOPE_NIF")
        .output()
        .expect("running mix")
}

fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lives_fixture");
        support::copy_sources(&fixture, dir.path());
        let db = dir.path().join("store");
        check(&mix(dir.path(), &["compile"], &db), "mix compile");
        let instrument = Command::new(elixir_scope_bin())
            .args(["instrument", "_build/dev", "--strategy", "all"])
            .current_dir(dir.path())
            .output()
            .expect("running elixir-scope instrument");
        check(&instrument, "elixir-scope instrument");
        let out = check(
            &mix(dir.path(), &["run", "scenario.exs"], &db),
            "the scenario",
        );
        Recorded {
            dir,
            db,
            sections: sections(&out),
        }
    })
}

fn sections(out: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some((name, text)) = current.take() {
                sections.insert(name, text);
            }
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((name, text)) = current {
        sections.insert(name, text);
    }
    assert!(
        sections.contains_key("end"),
        "the scenario did not finish:\n{out}"
    );
    sections
}

/// `⇢ #N` at the end of a message line: the call that received it.
fn received_by(line: &str) -> Option<u64> {
    line.rsplit_once("⇢ #")
        .map(|(_, id)| id.parse().expect("an id"))
}

#[test]
fn each_subscriber_handle_cast_links_to_the_cast_that_delivered_it() {
    let rec = recorded();
    let hub = rec.id("hub");
    // The hub's handle_cast casts {:restock, "tea"} to three shelves, each in a call of its
    // own (Lives.Shelf.restock/2), and each cast reached a different handle_cast.
    let tree = rec.cli(&["trace", &hub.to_string()]);
    let casts: Vec<&str> = tree
        .lines()
        .filter(|l| l.contains("→ cast <0.") && l.contains("{:restock, \"tea\"}"))
        .collect();
    assert_eq!(casts.len(), 3, "{tree}");
    let receipts: Vec<u64> = casts
        .iter()
        .map(|l| received_by(l).unwrap_or_else(|| panic!("not linked: {l}\n{tree}")))
        .collect();
    assert_eq!(receipts.iter().collect::<HashSet<_>>().len(), 3, "{tree}");
    // Each receiving tree starts with the call that sent it: the restock/2 to that very
    // shelf, made by the hub's process.
    let hub_pid = tree
        .lines()
        .find(|l| l.starts_with(&format!("#{hub} ")))
        .and_then(|l| l.rsplit_once("#PID"))
        .map(|(_, pid)| pid.trim_end_matches(')').to_string())
        .expect("the root line names its process");
    for (cast, receipt) in casts.iter().zip(&receipts) {
        let target = cast
            .split_once("→ cast ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .expect("→ cast <pid> ...")
            .to_string();
        let shelf = rec.cli(&["trace", &receipt.to_string()]);
        let mut lines = shelf.lines();
        let cause = lines.next().expect("a cause line");
        assert!(
            cause.starts_with(&format!("⇠ sent by {hub_pid} (cast) #"))
                && cause.contains(&format!("Lives.Shelf.restock(#PID{target}, \"tea\")")),
            "{cause}\n{tree}"
        );
        let root = lines.next().expect("the root");
        assert!(
            root.starts_with(&format!(
                "#{receipt} Lives.Shelf.handle_cast({{:restock, \"tea\"}}"
            )) && root.ends_with(&format!("#PID{target})")),
            "{root}"
        );
        // Its timer is linked to the handle_info that received it.
        let timer = shelf
            .lines()
            .find(|l| l.contains("→ send_after 1.0ms"))
            .unwrap_or_else(|| panic!("no timer: {shelf}"));
        let tidy = received_by(timer).expect("the timer reached handle_info");
        let tidy = rec.cli(&["trace", &tidy.to_string()]);
        assert!(tidy.starts_with("⇠ sent by "), "{tidy}");
        assert!(tidy.contains("(send_after) #"), "{tidy}");
        assert!(
            tidy.contains("Lives.Shelf.handle_info({:tidy, \"tea\"}"),
            "{tidy}"
        );
    }

    // The store agrees: every shelf's handle_cast was delivered by a restock/2 call whose
    // first argument is the shelf that received it, and every send reached a receipt.
    let snap = rec.snapshot();
    let shelves: Vec<store::Call> = snap
        .calls(&store::CallFilter {
            module: Some("Elixir.Lives.Shelf".into()),
            function: Some("handle_cast".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(shelves.len(), 6, "two items to three shelves");
    for receipt in &shelves {
        let (message, sender) = snap.delivered_by(receipt).unwrap().expect("linked");
        assert_eq!(message.receiver, Some(receipt.pid));
        assert_eq!(sender.function, "restock");
        let receiver = snap.process(receipt.pid).unwrap().unwrap().text;
        let first_arg =
            term::argument_texts(&term::decode(&sender.args).unwrap(), term::Style::Erlang)[0]
                .clone();
        assert_eq!(first_arg, receiver);
        assert_eq!(snap.received_by(&message).unwrap(), Some(receipt.id));
    }
    // The JSON tree holds the same links.
    let json = rec.cli_json(&["trace", &hub.to_string()]);
    let linked: Vec<u64> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"]["received_by"].as_u64())
        .collect();
    assert_eq!(linked, receipts);
    // IEx shows the same links.
    let iex = rec.section("trace hub");
    for receipt in &receipts {
        assert!(iex.contains(&format!("⇢ #{receipt}")), "{iex}");
    }
    let iex = rec.section("trace shelf");
    assert!(iex.starts_with("⇠ sent by #PID<"), "{iex}");
}

#[test]
fn while_paused_neither_calls_nor_sends_are_recorded() {
    let rec = recorded();
    let snap = rec.snapshot();
    let last = snap.last_id().unwrap();
    let sent = snap.sent_between(1, last).unwrap();
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|m| !term::value(&m.message, term::Style::Elixir).contains("paused jam")),
        "a send made while paused was recorded"
    );
    let matched = rec.cli(&["calls", "--match", "Lives.Hub.publish(\"paused jam\")"]);
    assert!(!matched.contains("paused jam"), "{matched}");
}

#[test]
fn a_message_is_captured_with_the_redaction_arguments_get() {
    let rec = recorded();
    let snap = rec.snapshot();
    let announce = snap
        .calls(&store::CallFilter {
            function: Some("announce".into()),
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .pop()
        .expect("the announce call");
    let sent = snap.sent_by(announce.id).unwrap();
    assert_eq!(sent.len(), 1);
    let message = term::value(&sent[0].message, term::Style::Elixir);
    assert!(message.contains("password: [REDACTED]"), "{message}");
    assert!(message.contains("user: \"ada\""), "{message}");
    for m in snap.sent_between(1, snap.last_id().unwrap()).unwrap() {
        assert!(!m.message.windows(7).any(|w| w == b"hunter2"));
    }
    let tree = rec.cli(&["trace", &announce.id.to_string()]);
    assert!(
        tree.contains("→ send <0.") && tree.contains("password: [REDACTED]"),
        "{tree}"
    );
}

#[test]
fn the_export_draws_each_message_as_an_arrow_between_the_two_calls() {
    let rec = recorded();
    let path = rec.dir.path().join("trace.json");
    let said = rec.cli(&["export", "-o", path.to_str().unwrap()]);
    let events: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let events = events["traceEvents"].as_array().unwrap();
    let mut starts = BTreeMap::new();
    let mut ends = BTreeMap::new();
    for e in events.iter().filter(|e| e["cat"] == "message") {
        let id = e["id"].as_u64().unwrap();
        match e["ph"].as_str().unwrap() {
            "s" => starts.insert(id, e.clone()),
            "f" => ends.insert(id, e.clone()),
            other => panic!("unexpected phase {other}"),
        };
    }
    // Two items: the hub's cast, three restocks and three timers each; and three casts to the
    // worker (the second crashed it).
    assert_eq!(starts.len(), 17, "{said}");
    assert!(said.contains("17 messages"), "{said}");
    assert_eq!(
        starts.keys().collect::<Vec<_>>(),
        ends.keys().collect::<Vec<_>>()
    );
    // Each arrow starts on the sender's thread inside the sending call's slice, and ends at
    // the start of the receiving call's slice.
    let slices: BTreeMap<u64, &Value> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| (e["args"]["id"].as_u64().unwrap(), e))
        .collect();
    for (id, start) in &starts {
        let from = slices[&start["args"]["from"].as_u64().unwrap()];
        let to = slices[&start["args"]["to"].as_u64().unwrap()];
        assert_eq!(start["tid"], from["tid"]);
        let ts = start["ts"].as_f64().unwrap();
        let (begin, dur) = (from["ts"].as_f64().unwrap(), from["dur"].as_f64().unwrap());
        assert!(begin <= ts && ts <= begin + dur, "{start} outside {from}");
        assert_eq!(ends[id]["tid"], to["tid"]);
        assert_eq!(ends[id]["ts"], to["ts"]);
    }
}

#[test]
fn a_tree_shows_each_message_among_the_children_where_it_was_sent() {
    let rec = recorded();
    let snap = rec.snapshot();
    let hub = rec.id("hub");
    let tree = snap.tree(hub, &TreeLimits::DEFAULT).unwrap().unwrap();
    // Every restock/2 call is followed, one level deeper, by its one cast.
    let mut expecting = None;
    for line in &tree.lines {
        match &line.item {
            TreeItem::Call(c) if c.function == "restock" => expecting = Some((c.id, line.depth)),
            TreeItem::Message(m) => {
                let (id, depth) = expecting.take().expect("a cast under a restock call");
                assert_eq!((m.message.call_id, line.depth), (id, depth + 1));
            }
            _ => {}
        }
    }
}

#[test]
fn a_crash_under_a_supervisor_lists_its_reason_what_it_caused_and_what_led_to_it() {
    let rec = recorded();
    let out = rec.cli(&["crashes"]);
    let crashed: Vec<&str> = out.lines().filter(|l| l.starts_with("crashed")).collect();
    assert_eq!(crashed.len(), 1, "only the worker crashed:\n{out}");
    assert!(
        crashed[0].ends_with(": ** (ArgumentError) cannot work -1"),
        "{out}"
    );
    let dead = crashed[0].split_whitespace().nth(1).unwrap();
    // Its monitor got the DOWN, in a recorded handle_info.
    let down = out
        .lines()
        .find(|l| l.trim_start().starts_with("DOWN received by "))
        .unwrap_or_else(|| panic!("no DOWN:\n{out}"));
    assert!(
        down.contains("Lives.Watcher.handle_info({:DOWN, "),
        "{down}"
    );
    // The supervisor started it in a recorded call, and restarted it as another process.
    let started = out.lines().find(|l| l.contains("started by ")).unwrap();
    assert!(
        started.contains("(spawned) #") && started.contains("Lives.Worker.start_link("),
        "{started}"
    );
    let restart = out
        .lines()
        .find(|l| l.trim_start().starts_with("restarted as "))
        .unwrap_or_else(|| panic!("no restart:\n{out}"));
    let new = restart.split_whitespace().nth(2).unwrap();
    assert_ne!(new, dead);
    assert!(
        restart.contains("Lives.Worker.init(:ok) → {:ok, 0}"),
        "{restart}"
    );
    // What led to it: the cast, then the callback that raised; terminate/2 ran after it.
    let led = out
        .split_once("what led to it")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        led.contains("⇠ sent by ") && led.contains("(cast) #"),
        "{led}"
    );
    assert!(led.contains("Lives.Worker.work(-1)"), "{led}");
    assert!(
        led.contains("Lives.Worker.handle_cast({:work, -1}, 3) ** (ArgumentError) cannot work -1"),
        "{led}"
    );
    assert!(
        led.contains("then #") && led.contains("Lives.Worker.terminate("),
        "{led}"
    );
    assert!(out.trim_end().ends_with("that ended"), "{out}");

    // The store: one crash, with the reason and links the CLI printed; the Task and the other
    // exits ended normally.
    let snap = rec.snapshot();
    let crashes = snap.crashes(10).unwrap();
    assert_eq!(crashes.len(), 1);
    let crash = &crashes[0];
    assert_eq!(crash.text, dead);
    assert_eq!(crash.end.normal(), Some(false));
    assert_eq!(crash.notices.len(), 1);
    assert_eq!(crash.notices[0].kind, store::NoticeKind::Down);
    let (restarted, first) = crash.restart.as_ref().unwrap();
    assert_eq!(restarted, new);
    assert_eq!(first.function, "init");
    let worker = snap.process(crash.end.pid).unwrap().unwrap();
    let replacement = snap.process(first.pid).unwrap().unwrap();
    assert_eq!(
        worker.origin.as_ref().map(|o| o.pid),
        replacement.origin.as_ref().map(|o| o.pid),
        "the same supervisor"
    );
    assert_eq!(crash.culprit.as_ref().unwrap().function, "handle_cast");
    // Every process that recorded calls and ended has its exit; the Task that asked the
    // worker to work ended normally, or (ending microseconds after its first call, before the
    // watcher's monitor was in place) for a reason nobody knows: not a crash either way.
    let exits = snap.exits().unwrap();
    let task = snap
        .calls(&store::CallFilter {
            function: Some("work".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .find(|c| term::value(&c.args, term::Style::Elixir) == "[1]")
        .expect("the Task's call");
    let task_end = exits
        .iter()
        .find(|e| e.pid == task.pid)
        .expect("the Task ended");
    assert_ne!(task_end.normal(), Some(false));
    assert_eq!(
        exits.iter().filter(|e| e.normal() == Some(false)).count(),
        1,
        "{exits:?}"
    );
    // JSON, and IEx.
    let json = rec.cli_json(&["crashes"]);
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["notices"][0]["kind"], "DOWN");
    assert_eq!(json[0]["banner"], "** (ArgumentError) cannot work -1");
    assert_eq!(json[0]["restart"]["pid"], new);
    let iex = rec.section("crashes");
    assert!(iex.starts_with("crashed  #PID<"), "{iex}");
    assert!(iex.contains(": ** (ArgumentError) cannot work -1"), "{iex}");
    assert!(iex.contains("DOWN received by #PID<"), "{iex}");
    assert!(iex.contains(&format!("restarted as #PID{new}")), "{iex}");
    assert!(iex.trim_end().ends_with("1 crash"), "{iex}");
}
