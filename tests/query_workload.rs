//! The query side end to end, on a real recording: the fixture shop
//! (`tests/fixtures/query_fixture`) is compiled with Mix, rewritten by `elixir-scope instrument
//! --strategy all`, which installs the runtime, the NIF and the IEx helpers next to it, and run
//! (`workload.exs`): it makes the calls, then prints what `ElixirScope` shows of them. The tests
//! compare that with golden text, with what the CLI prints and exports from the same store
//! after the VM stopped, and with the recorded parents.
//!
//! Golden text is normalised (durations, clock times and pids vary between runs); rewrite it
//! after an intended change with `ELIXIR_SCOPE_UPDATE_GOLDEN=1 cargo test --test query_workload`
//! and review the diff.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;
use support::{elixir_scope_bin, executable};

/// The fixture recorded once for every test of this file.
struct Recorded {
    dir: tempfile::TempDir,
    db: PathBuf,
    /// The workload's output by section.
    sections: BTreeMap<String, String>,
    /// Call ids by name (the workload's `ids` section).
    ids: HashMap<String, u64>,
}

impl Recorded {
    fn project(&self) -> &Path {
        self.dir.path()
    }

    fn section(&self, name: &str) -> &str {
        self.sections
            .get(name)
            .unwrap_or_else(|| panic!("the workload printed no section {name:?}"))
    }

    fn id(&self, name: &str) -> u64 {
        self.ids[name]
    }

    /// Runs `elixir-scope` on the recording; panics unless it succeeds.
    fn cli(&self, args: &[&str]) -> String {
        let output = self.cli_output(args);
        assert!(
            output.status.success(),
            "elixir-scope {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    fn cli_output(&self, args: &[&str]) -> Output {
        Command::new(elixir_scope_bin())
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .current_dir(self.project())
            .output()
            .expect("running elixir-scope")
    }

    fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.cli(&all)).expect("JSON output")
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
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/query_fixture");
        support::copy_sources(&fixture, dir.path());
        let db = dir.path().join("store");
        check(&mix(dir.path(), &["compile"], &db), "mix compile");
        let instrument = Command::new(elixir_scope_bin())
            .args(["instrument", "_build/dev", "--strategy", "all"])
            .current_dir(dir.path())
            .output()
            .expect("running elixir-scope instrument");
        let summary = check(&instrument, "elixir-scope instrument");
        assert!(summary.contains("runtime   installed"), "{summary}");
        let ebin = dir.path().join("_build/dev/lib/query_fixture/ebin");
        assert!(ebin.join("Elixir.ElixirScope.beam").is_file(), "{summary}");

        let started = std::time::Instant::now();
        let out = check(
            &mix(dir.path(), &["run", "workload.exs"], &db),
            "the workload",
        );
        eprintln!("workload ran in {:.1}s", started.elapsed().as_secs_f64());
        let sections = sections(&out);
        let ids = sections
            .get("ids")
            .expect("an ids section")
            .lines()
            .map(|l| {
                let (name, id) = l.split_once(' ').expect("name id");
                (name.to_string(), id.parse().expect("an id"))
            })
            .collect();
        // A second, smaller run: the CLI reads the latest unless told otherwise.
        check(
            &mix(dir.path(), &["run", "-e", "Shop.Loop.run(3)"], &db),
            "the second run",
        );
        Recorded {
            dir,
            db,
            sections,
            ids,
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
    assert!(sections.contains_key("end") || current.is_some_and(|(n, _)| n == "end"));
    sections
}

/// Run-specific values replaced: durations, clock times, pids, colour codes made visible, and
/// table padding (which follows the widths of those values).
fn normalise(text: &str) -> String {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        vec![
            (Regex::new(r"\b\d+(\.\d)?(ns|µs|ms|s)\b").unwrap(), "DUR"),
            (
                Regex::new(r"\b\d\d:\d\d:\d\d\.\d\d\d\b").unwrap(),
                "HH:MM:SS.mmm",
            ),
            (Regex::new(r"<0\.\d+\.0>").unwrap(), "<PID>"),
            (Regex::new(r"\x1b").unwrap(), "\\e"),
            // Table padding (after a cell, not the tree's indentation).
            (Regex::new(r"([^\s│])  +").unwrap(), "$1  "),
        ]
    });
    let mut text = text.to_string();
    for (re, with) in rules {
        text = re.replace_all(&text, *with).into_owned();
    }
    text
}

/// The sections compared with the golden file (the rest vary: timing, ids order).
const GOLDEN_SECTIONS: &[&str] = &[
    "ids",
    "calls",
    "calls quiet",
    "exceptions",
    "trace big",
    "trace checkout",
    "trace countdown",
    "trace erlang",
    "trace loop",
    "trace secret",
    "trace task",
    "trace loop small",
    "trace loop colours",
    "data loop",
    "data checkout",
    "calls pricing",
    "errors",
    "filters",
    "self",
    "pause",
];

#[test]
fn what_iex_prints_matches_the_golden_text() {
    let rec = recorded();
    let mut actual = String::new();
    for name in GOLDEN_SECTIONS {
        actual.push_str(&format!("=== {name}\n{}", normalise(rec.section(name))));
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/query/golden_iex.txt");
    if std::env::var_os("ELIXIR_SCOPE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).expect("writing the golden file");
    }
    let expected = std::fs::read_to_string(&golden).expect("the golden file");
    if actual != expected {
        let diff: Vec<String> = actual
            .lines()
            .zip(expected.lines().chain(std::iter::repeat("<missing>")))
            .filter(|(a, e)| a != e)
            .take(10)
            .map(|(a, e)| format!("  printed: {a}\n  golden:  {e}"))
            .collect();
        panic!(
            "the IEx output differs from {} ({} vs {} lines):\n{}",
            golden.display(),
            actual.lines().count(),
            expected.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn a_call_with_ten_thousand_descendants_folds_into_a_screenful() {
    let rec = recorded();
    let tree = rec.section("trace loop");
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 13, "{tree}");
    assert!(
        lines[9].starts_with("├── … 9,990 more calls #"),
        "{}",
        lines[9]
    );
    assert!(
        lines[9].ends_with(": Shop.Loop.step/1 ×9,990"),
        "{}",
        lines[9]
    );
    assert_eq!(lines[12], "11 of 10,001 calls shown");
    eprintln!("{}", rec.section("timing").trim_end().replace('\n', "; "));
}

#[test]
fn the_cli_prints_what_iex_prints() {
    let rec = recorded();
    // Trees of Elixir code: the very same text, durations and pids included.
    for name in ["checkout", "loop", "countdown", "big", "task"] {
        let id = rec.id(name).to_string();
        let cli = rec.cli(&["trace", "--run", "1", &id]);
        assert_eq!(cli, rec.section(&format!("trace {name}")), "trace {name}");
    }
    let id = rec.id("loop").to_string();
    let small = rec.cli(&[
        "trace",
        "--run",
        "1",
        &id,
        "--depth",
        "1",
        "--children",
        "4",
        "--calls",
        "3",
    ]);
    assert_eq!(small, rec.section("trace loop small"));
    // Tables (clock times in local time on both sides).
    let cli = rec.cli(&["calls", "--run", "1", "--module", "Shop.Pricing"]);
    assert_eq!(cli, rec.section("calls pricing"));
    let cli = rec.cli(&["calls", "--run", "1", "--exceptions"]);
    assert_eq!(cli, rec.section("exceptions"));

    // Erlang code prints in Erlang's syntax; a struct without its own Inspect as a struct.
    let id = rec.id("erlang").to_string();
    let erlang = rec.cli(&["trace", "--run", "1", &id]);
    assert!(
        erlang.starts_with(&format!(
            "#{id} shop_erl:parse(<<\"key=1\">>) → {{key,1}} ("
        )),
        "{erlang}"
    );
    assert!(erlang.contains(", 1 tail call, <0."), "{erlang}");
    let id = rec.id("secret").to_string();
    let secret = rec.cli(&["trace", "--run", "1", &id]);
    // The field its own Inspect hides was never stored (issue 12): the CLI shows it redacted.
    assert!(
        secret.contains("Shop.Secret.wrap(42) → %Shop.Secret{value: [REDACTED]}"),
        "{secret}"
    );
}

/// `(id, parent)` of each call line of a CLI tree, from the depths alone.
fn tree_parents(tree: &Value) -> Vec<(u64, Option<u64>)> {
    let mut path: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    for line in tree["lines"].as_array().expect("lines") {
        let depth = line["depth"].as_u64().expect("depth") as usize;
        path.truncate(depth);
        if let Some(call) = line.get("call") {
            let id = call["id"].as_u64().expect("id");
            out.push((id, path.last().copied()));
            path.push(id);
        }
    }
    out
}

#[test]
fn trace_data_and_cli_json_nest_like_the_recorded_parents() {
    let rec = recorded();
    let id = rec.id("checkout").to_string();
    let tree = rec.cli_json(&[
        "trace",
        "--run",
        "1",
        &id,
        "--depth",
        "100",
        "--children",
        "1000",
        "--calls",
        "1000",
    ]);
    assert_eq!(tree["calls"], 6);
    assert_eq!(tree["shown"], 6);
    let from_depths = tree_parents(&tree);
    // The parents the runtime recorded, from each call's JSON.
    let recorded_parents: Vec<(u64, Option<u64>)> = tree["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["call"]["id"].as_u64().unwrap(),
                l["call"]["parent"].as_u64(),
            )
        })
        .collect();
    assert_eq!(from_depths, recorded_parents);
    // ElixirScope.trace/2's nested data says the same.
    let from_data: Vec<(u64, Option<u64>)> = rec
        .section("data checkout")
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            (fields[0].parse().unwrap(), fields[4].parse().ok())
        })
        .collect();
    assert_eq!(from_data, recorded_parents);
    let outcomes: Vec<&str> = tree["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["call"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["return", "error", "return", "return", "return", "error"]
    );
}

#[test]
fn the_cli_json_of_calls() {
    let rec = recorded();
    let calls = rec.cli_json(&[
        "calls",
        "--run",
        "1",
        "--module",
        "Shop.Pricing",
        "--function",
        "line",
        "--limit",
        "2",
    ]);
    let calls = calls.as_array().expect("an array");
    assert_eq!(calls.len(), 2);
    let newest = &calls[0];
    assert_eq!(newest["mfa"], "Shop.Pricing.line/1");
    assert_eq!(newest["module"], "Elixir.Shop.Pricing");
    assert_eq!(
        newest["args"],
        serde_json::json!(["%Shop.Item{name: \"cake\", price: 3, quantity: 1}"])
    );
    assert_eq!(newest["outcome"], "return");
    assert_eq!(newest["result"], "3");
    assert_eq!(newest["parent"], rec.id("task"));
    assert!(newest["duration_ns"].as_u64().is_some_and(|d| d > 0));
    assert!(newest["start"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(calls[1]["id"].as_u64() < newest["id"].as_u64());

    let raised = rec.cli_json(&["calls", "--run", "1", "--exceptions", "--limit", "1"]);
    assert_eq!(raised[0]["outcome"], "error");
    assert_eq!(
        raised[0]["exception"],
        "** (ArgumentError) unknown code: BOGUS"
    );
    assert_eq!(raised[0]["result"], Value::Null);

    // Other filters: a process, a time window relative to the run's start, an arity.
    let task_pid = newest["pid"].as_str().unwrap().to_string();
    let of_task = rec.cli_json(&["calls", "--run", "1", "--pid", &task_pid]);
    let ids: Vec<u64> = of_task
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    let task = rec.id("task");
    assert_eq!(ids, [task + 2, task + 1, task]);
    let none = rec.cli_json(&["calls", "--run", "1", "--until", "+0ns"]);
    assert_eq!(none, serde_json::json!([]));
    let two = rec.cli_json(&[
        "calls",
        "--run",
        "1",
        "--arity",
        "2",
        "--module",
        "Shop.Pricing",
    ]);
    assert_eq!(two.as_array().unwrap().len(), 2);
}

#[test]
fn runs_and_stats() {
    let rec = recorded();
    let stats = rec.cli_json(&["stats", "--run", "1"]);
    let runs = stats["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(stats["run"], 1);
    assert_eq!(runs[0]["exceptions"], 2);
    assert_eq!(runs[0]["state"], "ended", "{}", runs[0]);
    assert_eq!(runs[0]["counters"]["dropped"], 0, "{}", runs[0]);
    assert_eq!(
        runs[0]["counters"]["captured"], runs[0]["counters"]["stored"],
        "{}",
        runs[0]
    );
    assert_eq!(stats["top"][0]["mf"], "Shop.Loop.step");
    assert!(stats["top"][0]["calls"].as_u64().unwrap() >= 10_000);
    // The latest run is the default.
    let latest = rec.cli_json(&["calls"]);
    let functions: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["step", "step", "step", "run"]);
    let text = rec.cli(&["stats"]);
    assert!(text.contains("2 runs"), "{text}");
    assert!(text.contains("Run 2:"), "{text}");
    assert!(text.contains("STATE") && text.contains("DROPPED"), "{text}");
}

#[test]
fn cli_errors_say_what_is_wrong() {
    let rec = recorded();
    let unknown = rec.cli_output(&["trace", "--run", "1", "999999"]);
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("run 1 has no call 999999"), "{message}");
    let no_run = rec.cli_output(&["calls", "--run", "9"]);
    assert!(String::from_utf8_lossy(&no_run.stderr).contains("run 9 is not in the store"));
    let bad_time = rec.cli_output(&["calls", "--since", "yesterday"]);
    assert!(
        String::from_utf8_lossy(&bad_time.stderr).contains("--since: \"yesterday\" is not a time")
    );
    let bad_pid = rec.cli_output(&["calls", "--pid", "<0.1.2>"]);
    assert!(String::from_utf8_lossy(&bad_pid.stderr).contains("recorded no process <0.1.2>"));
    let missing = Command::new(elixir_scope_bin())
        .args(["calls", "--db"])
        .arg(rec.project().join("nothing.redb"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no recording here"));
    assert!(
        !rec.project().join("nothing.redb").exists(),
        "queries never create a store"
    );
}

#[test]
fn the_export_is_chrome_trace_json_whose_slices_nest_like_the_calls() {
    let rec = recorded();
    let file = rec.project().join("run1.json");
    let said = rec.cli(&[
        "export",
        "--run",
        "1",
        "--format",
        "chrome",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(said.contains("as Chrome trace events"), "{said}");
    let trace: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("valid JSON");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let calls = rec.cli_json(&["stats", "--run", "1"])["runs"][0]["calls"]
        .as_u64()
        .unwrap();
    let slices: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(
        slices.len() as u64,
        calls,
        "one slice per call (every call finished)"
    );
    // Two processes (the workload and its Task), each a named thread of one process.
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[1].contains("(from <0."),
        "the Task names its caller: {names:?}"
    );
    // The Task ran from the script's top level, outside any recorded call: no arrow (the demo's
    // end-to-end test checks the arrows of Tasks run inside calls).
    assert!(!events.iter().any(|e| e["cat"] == "process"));
    // Exceptions: marked slices and instant events.
    let raised = slices.iter().filter(|e| e["cat"] == "exception").count();
    let instants = events.iter().filter(|e| e["ph"] == "i").count();
    assert_eq!((raised, instants), (2, 2));

    // Slices nest by time on their thread exactly as the calls nest.
    let mut by_tid: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for s in &slices {
        by_tid
            .entry(s["tid"].as_u64().unwrap())
            .or_default()
            .push(s);
    }
    let ns = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() as i64;
    let mut checked = 0;
    for slices in by_tid.values_mut() {
        slices.sort_by_key(|s| (ns(&s["ts"]), -ns(&s["dur"]), s["args"]["id"].as_u64()));
        let mut open: Vec<(i64, u64)> = Vec::new(); // (end, id)
        for s in slices.iter() {
            let end = ns(&s["ts"]) + ns(&s["dur"]);
            // Slices that ended before this one ends do not hold it.
            while open.last().is_some_and(|(e, _)| *e < end) {
                open.pop();
            }
            let id = s["args"]["id"].as_u64().unwrap();
            let enclosing = open.last().map(|(_, id)| *id);
            assert_eq!(
                enclosing,
                s["args"]["parent"].as_u64(),
                "slice of call {id}"
            );
            open.push((end, id));
            checked += 1;
        }
    }
    assert_eq!(checked as u64, calls);
    let slice = slices
        .iter()
        .find(|s| s["args"]["id"] == rec.id("big"))
        .unwrap();
    assert_eq!(slice["name"], "Shop.Big.take/3");
    assert_eq!(slice["args"]["result"], "{100, 500, 20}");
}

#[test]
fn at_the_iex_prompt_calls_prints_a_table_and_the_docs_are_there() {
    let rec = recorded();
    let db = rec.project().join("iex.redb");
    let mut iex = Command::new(executable("iex", "elixir"))
        .args(["-S", "mix"])
        .current_dir(rec.project())
        .env("MIX_ENV", "dev")
        .env("ELIXIR_SCOPE_DB", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting iex");
    let input = "Shop.Loop.run(2)\nElixirScope.calls(limit: 2)\nElixirScope.show_trace(1)\nh ElixirScope.show_trace\n";
    std::io::Write::write_all(iex.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    drop(iex.stdin.take());
    let output = iex.wait_with_output().expect("iex output");
    let out = String::from_utf8_lossy(&output.stdout);
    let table = out
        .lines()
        .position(|l| l.contains("ID  PID") && l.contains("CALL"))
        .unwrap_or_else(|| panic!("no table at the prompt:\n{out}"));
    let next: Vec<&str> = out.lines().skip(table + 1).take(2).collect();
    assert!(
        next[0].starts_with("3 ") && next[0].ends_with("Shop.Loop.step(2) → 2"),
        "{out}"
    );
    assert!(
        next[1].starts_with("2 ") && next[1].ends_with("Shop.Loop.step(1) → 1"),
        "{out}"
    );
    assert!(out.contains("└── #3 Shop.Loop.step(2) → 2 ("), "{out}");
    // What the helpers printed, IEx does not echo (they return IEx.dont_display_result()).
    assert!(!out.contains("[%{"), "IEx echoed the calls: {out}");
    assert!(
        !out.lines().any(|l| l.ends_with("> :ok") || l == ":ok"),
        "IEx echoed show_trace's :ok: {out}"
    );
    assert!(
        out.contains("Prints the call tree under a call"),
        "docs of show_trace/2:\n{out}"
    );
}

#[test]
fn iex_in_another_vm_reads_every_run_of_the_project() {
    let rec = recorded();
    // A copy of the recording, so that this VM's run is not one the other tests count.
    let copy = tempfile::tempdir().unwrap();
    let db = copy.path().join("store");
    support::copy_sources(&rec.db, &db);
    // A third VM of the project: its own run is 3; runs 1 and 2 came from other VMs.
    let script = r##"
        Shop.Loop.run(1)
        runs = ElixirScope.runs(print: false)
        IO.puts("runs " <> Enum.map_join(runs, ",", &"#{&1.run}:#{&1.state}:#{&1.this}:#{&1.dropped}"))
        [c] = ElixirScope.calls(run: 1, module: Shop.Loop, function: :run, limit: 1, print: false)
        IO.puts("run 1 #{c.id} #{c.function} #{inspect(c.args)}")
        [l] = ElixirScope.calls(run: :latest, limit: 1, print: false)
        IO.puts("latest #{l.function}")
        %{call: root} = ElixirScope.trace(c.id, run: 1, calls: 1)
        IO.puts("tree #{root.id}")
        try do
          ElixirScope.calls(run: 0)
        rescue
          e in ArgumentError -> IO.puts(Exception.message(e))
        end
    "##;
    let output = Command::new(executable("mix", "elixir"))
        .args(["run", "-e", script])
        .current_dir(rec.project())
        .env("MIX_ENV", "dev")
        .env("ELIXIR_SCOPE_DB", &db)
        .output()
        .expect("running mix");
    let out = check(&output, "mix run reading other runs");
    assert!(
        out.contains("runs 1:ended:false:0,2:ended:false:0,3:recording:true:0"),
        "{out}"
    );
    let loop_id = rec.id("loop");
    assert!(out.contains(&format!("run 1 {loop_id} run [")), "{out}");
    assert!(out.contains("latest step"), "{out}");
    assert!(out.contains(&format!("tree {loop_id}")), "{out}");
    assert!(out.contains("bad value for :run: 0"), "{out}");
}

/// `export -o` through a symbolic link replaces the link's target (the link stays), into a
/// pipe writes through (the pipe stays a pipe), and refuses a socket, saying what it is
/// (issue 13, item 3).
#[test]
fn exports_follow_links_write_through_pipes_and_refuse_other_special_files() {
    use std::os::unix::fs::FileTypeExt;
    let rec = recorded();
    let dir = tempfile::tempdir().unwrap();
    let export_to =
        |path: &Path| rec.cli_output(&["export", "--run", "1", "-o", path.to_str().unwrap()]);

    let target = dir.path().join("target.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("target.json", &link).unwrap();
    let output = export_to(&link);
    assert!(output.status.success(), "{output:?}");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    let trace: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert!(trace["traceEvents"].is_array());

    let fifo = dir.path().join("trace.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let output = export_to(&fifo);
    assert!(output.status.success(), "{output:?}");
    let through: Value = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    assert_eq!(through, trace);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(
        output.stdout.is_empty(),
        "the summary goes to stderr when the export went through"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("as Chrome trace events"));

    let socket = dir.path().join("trace.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let output = export_to(&socket);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("is a socket"), "{said}");
    assert!(std::fs::symlink_metadata(&socket)
        .unwrap()
        .file_type()
        .is_socket());
}

/// `calls --limit 0` is refused (it listed one call), and a run without calls says so
/// instead of "ids run from 1 to 0" (issue 13, item 10).
#[test]
fn a_zero_limit_and_an_empty_run_are_said_plainly() {
    let rec = recorded();
    let zero = rec.cli_output(&["calls", "--limit", "0"]);
    assert!(!zero.status.success(), "{zero:?}");
    let said = String::from_utf8_lossy(&zero.stderr);
    assert!(said.contains("--limit"), "{said}");

    let empty_db = rec.project().join("empty.redb");
    check(
        &mix(
            rec.project(),
            &[
                "run",
                "--no-start",
                "-e",
                ":ok = :elixir_scope_runtime.start(%{}); :ok = :elixir_scope_runtime.flush()",
            ],
            &empty_db,
        ),
        "an empty run",
    );
    let output = Command::new(elixir_scope_bin())
        .args(["trace", "1", "--db"])
        .arg(&empty_db)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("recorded no calls"), "{said}");
    assert!(!said.contains("1 to 0"), "{said}");
}
