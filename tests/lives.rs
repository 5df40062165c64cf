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
    // Two items: the hub's cast, three restocks and three timers each.
    assert_eq!(starts.len(), 14, "{said}");
    assert!(said.contains("14 messages"), "{said}");
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
