//! The workflow a user follows, end to end, on a fresh copy of the demo (`examples/`):
//! `mix compile` with the one alias, the scenario run as usual, then the recording queried
//! through the CLI's JSON and through a scripted IEx session.
//!
//! What must hold: calls of the app (Elixir), of its Elixir dependency (`money`) and of its
//! Erlang dependency (`luhn`) are recorded with correct parent links, results and the raised
//! exception; the demo's own test suite passes instrumented; its output is the same with and
//! without instrumentation; `restore` gives back the beams Mix compiled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{elixir_scope_bin, executable};

/// A copy of `examples/` in a temporary directory, the Mix archive installed in a directory of
/// its own, and the environment to run Mix in it.
struct Demo {
    _dir: tempfile::TempDir,
    shop: PathBuf,
    path_env: String,
    archives: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        executable("mix", "elixir");
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let dir = tempfile::tempdir().expect("temp dir");
        for project in ["shop", "money", "luhn"] {
            support::copy_sources(&examples.join(project), &dir.path().join(project));
        }
        let bin_dir = elixir_scope_bin()
            .parent()
            .expect("binary directory")
            .to_path_buf();
        let path_env = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH")
        .to_string_lossy()
        .into_owned();
        // The demo's mix.exs runs `elixir_scope.instrument` where its archive is installed.
        let archives = dir.path().join("archives");
        let installed = Command::new(elixir_scope_bin())
            .args(["mix-archive", "--install", "--output"])
            .arg(dir.path())
            .env("MIX_ARCHIVES", &archives)
            .output()
            .expect("elixir-scope mix-archive");
        assert!(installed.status.success(), "{installed:?}");
        Demo {
            shop: dir.path().join("shop"),
            _dir: dir,
            path_env,
            archives,
        }
    }

    /// Runs a command in the shop project with `elixir-scope` on PATH; returns stdout.
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> String {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.shop)
            .env("PATH", &self.path_env)
            .env("MIX_ARCHIVES", &self.archives)
            .env("MIX_ENV", "dev")
            .env_remove("ELIXIR_SCOPE_DB")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting a command");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("writing stdin");
        }
        let output = child.wait_with_output().expect("waiting for a command");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{program} {args:?} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn mix(&self, args: &[&str]) -> String {
        self.run("mix", args, None)
    }

    /// `elixir-scope calls ... --json` on the latest run.
    fn calls(&self, filters: &[&str]) -> Vec<Value> {
        let mut args = vec!["calls", "--json", "--limit", "1000"];
        args.extend_from_slice(filters);
        let bin = elixir_scope_bin();
        let text = self.run(bin.to_str().expect("path"), &args, None);
        serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// The scenario's own lines: what follows the last line of instrument's output (the alias
/// prints it before the scenario runs: a summary, or one line when nothing changed).
fn scenario_lines(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| {
            l.starts_with("  runtime ")
                || (l.starts_with("elixir-scope instrument") && l.contains("nothing changed"))
        })
        .map_or(0, |i| i + 1);
    lines[start..]
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect()
}

fn field<'a>(call: &'a Value, key: &str) -> &'a str {
    call[key].as_str().unwrap_or_default()
}

#[test]
fn the_demo_records_app_and_dependencies_end_to_end() {
    let demo = Demo::new();

    // 1. One alias in mix.exs (its task from ElixirScope's Mix archive): compiling instruments
    // the app and its dependencies.
    let compiled = demo.mix(&["compile"]);
    assert!(compiled.contains("elixir-scope instrument"), "{compiled}");
    assert!(compiled.contains("runtime   installed in"), "{compiled}");
    assert!(compiled.contains("failed         0"), "{compiled}");

    // 2. Run the scenario as usual; it records.
    let recorded = scenario_lines(&demo.mix(&["run", "-e", "Shop.Scenario.run"]));
    assert!(
        recorded.iter().any(|l| l.starts_with("ada: paid")),
        "{recorded:?}"
    );

    // 3. The CLI's JSON: the app's calls, with results and the exception.
    let places = demo.calls(&["--module", "Shop.Checkout", "--function", "place"]);
    assert_eq!(places.len(), 4, "{places:#?}");
    let raised: Vec<&Value> = places.iter().filter(|c| c["outcome"] == "error").collect();
    assert_eq!(raised.len(), 1, "{places:#?}");
    assert!(field(raised[0], "exception").contains("Shop.PaymentError"));
    assert!(raised[0]["args"][0]
        .as_str()
        .unwrap()
        .contains("4485 2752 7460 3423"));
    let results: Vec<&str> = places.iter().map(|c| field(c, "result")).collect();
    assert!(
        results.contains(&"{:ok, %Money{cents: 2100, currency: :EUR}}"),
        "{results:?}"
    );
    assert!(
        results.contains(&"{:error, {:out_of_stock, \"mat\"}}"),
        "{results:?}"
    );
    let place_ids: Vec<u64> = places.iter().map(|c| c["id"].as_u64().unwrap()).collect();

    // The Erlang dependency: luhn:valid/1 once per order, each the child of its place/1 call,
    // printed in Erlang syntax.
    let valids = demo.calls(&["--module", "luhn", "--function", "valid"]);
    let parents: Vec<u64> = valids
        .iter()
        .map(|c| c["parent"].as_u64().unwrap())
        .collect();
    let mut sorted_parents = parents.clone();
    sorted_parents.sort();
    let mut sorted_places = place_ids.clone();
    sorted_places.sort();
    assert_eq!(sorted_parents, sorted_places, "{valids:#?}");
    assert!(valids.iter().all(|c| field(c, "module") == "luhn"));
    let refused = valids
        .iter()
        .find(|c| c["parent"] == raised[0]["id"])
        .expect("the refused card's check");
    assert_eq!(field(refused, "result"), "false");
    assert_eq!(refused["args"][0], "<<\"4485 2752 7460 3423\">>");

    // The Elixir dependency: Money.add/2 inside Money.sum/1 inside Checkout.total/1 inside
    // Checkout.place/1.
    let by_id: HashMap<u64, Value> = demo
        .calls(&[])
        .into_iter()
        .map(|c| (c["id"].as_u64().unwrap(), c))
        .collect();
    let add = demo
        .calls(&["--module", "Money", "--function", "add"])
        .into_iter()
        .find(|c| c["result"] == "%Money{cents: 2100, currency: :EUR}")
        .expect("ada's total");
    let chain: Vec<String> = std::iter::successors(Some(add), |c| {
        c["parent"].as_u64().and_then(|p| by_id.get(&p).cloned())
    })
    .map(|c| field(&c, "mfa").to_string())
    .collect();
    assert_eq!(
        chain[..4],
        [
            "Money.add/2",
            "Money.sum/1",
            "Shop.Checkout.total/1",
            "Shop.Checkout.place/1"
        ],
        "{chain:?}"
    );

    // The exception is listed as such.
    let exceptions = demo.calls(&["--exceptions"]);
    assert!(exceptions.iter().any(|c| c["id"] == raised[0]["id"]));

    // 3a. Patterns, search, origin and retroactive logging (issue 16), exact answers.
    let mfas = |calls: Vec<Value>| -> Vec<String> {
        let mut out: Vec<String> = calls.iter().map(|c| field(c, "mfa").to_string()).collect();
        out.sort();
        out
    };
    let joe = demo.calls(&["--match", "Shop.Checkout.place(%{customer: \"joe\"})"]);
    assert_eq!(joe.len(), 1, "{joe:#?}");
    assert_eq!(joe[0]["id"], raised[0]["id"]);
    let not_joe = demo.calls(&[
        "--match",
        "Shop.Checkout.place(%{customer: c}) when c != \"joe\"",
    ]);
    assert_eq!(not_joe.len(), 3, "{not_joe:#?}");
    let refused_check = demo.calls(&["--match", "luhn:valid(<<\"4485\", _/binary>>)"]);
    assert_eq!(refused_check.len(), 1, "{refused_check:#?}");
    assert_eq!(field(&refused_check[0], "result"), "false");
    assert_eq!(
        mfas(demo.calls(&[
            "--match",
            "Shop.Checkout",
            "--result",
            "{:error, {:out_of_stock, _}}"
        ])),
        ["Shop.Checkout.place/1", "Shop.Checkout.reserve_all/1"]
    );
    let payment = demo.calls(&["--exception", "Shop.PaymentError"]);
    assert_eq!(payment.len(), 1, "{payment:#?}");
    assert_eq!(payment[0]["id"], raised[0]["id"]);
    assert!(demo.calls(&["--exception", "ArgumentError"]).is_empty());
    let bin = elixir_scope_bin();
    let bin = bin.to_str().expect("path");
    let found: Vec<Value> = serde_json::from_str(&demo.run(
        bin,
        &[
            "search",
            "\"4485 2752 7460 3423\"",
            "--json",
            "--limit",
            "100",
        ],
        None,
    ))
    .expect("search --json");
    assert_eq!(
        mfas(found.clone()),
        [
            "Shop.Checkout.place/1",
            "Shop.PaymentError.exception/1",
            "Shop.PaymentError.message/1",
            "Shop.Scenario.report/1",
            "luhn:valid/1",
        ]
    );
    assert!(
        found.iter().all(|c| c["found"] == "arguments"),
        "{found:#?}"
    );
    let origin: Vec<Value> = serde_json::from_str(&demo.run(
        bin,
        &["origin", "{:out_of_stock, \"mat\"}", "--json"],
        None,
    ))
    .expect("origin --json");
    assert_eq!(mfas(origin), ["Shop.Checkout.reserve_all/1"]);
    let logged = demo.run(
        bin,
        &[
            "log",
            "--match",
            "Shop.Checkout.place(%{customer: \"linus\"})",
            "--format",
            "#{mfa} -> #{result}",
        ],
        None,
    );
    assert_eq!(
        logged.trim(),
        "Shop.Checkout.place/1 -> {:error, {:out_of_stock, \"mat\"}}"
    );
    let bad = Command::new(bin)
        .args([
            "calls",
            "--match",
            "Shop.Checkout.place(%{customer: \"joe\"}",
        ])
        .current_dir(&demo.shop)
        .output()
        .expect("elixir-scope calls");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        stderr
            .contains("--match: expected `,` or `)` after an argument, found the end at column 39"),
        "{stderr}"
    );

    // 3b. A change compiled by the same VM that runs it (`mix run` compiles first): Mix keeps
    // what it compiled loaded, and the alias's elixir_scope.reload loads the rewritten beam,
    // so the changed module records on this first run too.
    let checkout = demo.shop.join("lib/shop/checkout.ex");
    let source = std::fs::read_to_string(&checkout).expect("checkout.ex");
    // Mix compares modification times in seconds.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&checkout, format!("{source}\n# changed\n")).expect("editing checkout.ex");
    let rerun = demo.mix(&["run", "-e", "Shop.Scenario.run"]);
    assert!(rerun.contains("Compiling "), "{rerun}");
    let replaced = demo.calls(&["--module", "Shop.Checkout", "--function", "place"]);
    assert_eq!(replaced.len(), 4, "the recompiled module records: {rerun}");

    // 3c. Where the time went (the rerun's profile and flame graphs), and the two runs of the
    // scenario compared.
    let cli = elixir_scope_bin();
    let cli = cli.to_str().expect("path");
    let json = |args: &[&str]| -> Value {
        let text = demo.run(cli, args, None);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let profile = json(&["profile", "--json", "--top", "10000"]);
    let functions = profile["functions"].as_array().expect("functions");
    let number = |v: &Value, key: &str| v[key].as_u64().unwrap_or_else(|| panic!("{key}: {v}"));
    let place = functions
        .iter()
        .find(|f| f["mfa"] == "Shop.Checkout.place/1")
        .expect("place/1 in the profile");
    assert_eq!(
        (number(place, "calls"), number(place, "exceptions")),
        (4, 1)
    );
    assert_eq!(
        functions.iter().map(|f| number(f, "calls")).sum::<u64>(),
        number(&profile, "calls")
    );
    for f in functions {
        assert!(number(f, "own_ns") <= number(f, "total_ns"), "{f}");
        assert!(number(f, "p50_ns") <= number(f, "p99_ns"), "{f}");
    }
    let own_total: u64 = functions.iter().map(|f| number(f, "own_ns")).sum();
    let table = demo.run(cli, &["profile", "--sort", "count", "--top", "3"], None);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("by count"), "{table}");
    assert!(lines[1].trim_start().starts_with("CALLS"), "{table}");
    assert_eq!(lines.len(), 5, "{table}");

    demo.run(
        cli,
        &["export", "--format", "folded", "-o", "stacks.folded"],
        None,
    );
    let folded = std::fs::read_to_string(demo.shop.join("stacks.folded")).expect("stacks");
    let mut folded_total = 0u64;
    for line in folded.lines() {
        let (_, ns) = line.rsplit_once(' ').expect("a stack and its time");
        folded_total += ns.parse::<u64>().expect("nanoseconds");
    }
    assert_eq!(
        folded_total, own_total,
        "the flame graph holds the profile's own time"
    );
    assert!(
        folded.lines().any(|l| l
            .split(' ')
            .next()
            .is_some_and(|stack| stack.ends_with("Shop.Checkout.place/1;luhn:valid/1"))),
        "{folded}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |name: &str| {
        std::fs::metadata(demo.shop.join(name))
            .expect("an export")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("stacks.folded"), 0o600);

    demo.run(
        cli,
        &[
            "export",
            "--format",
            "speedscope",
            "-o",
            "run.speedscope.json",
        ],
        None,
    );
    assert_eq!(mode("run.speedscope.json"), 0o600);
    let speedscope: Value = serde_json::from_slice(
        &std::fs::read(demo.shop.join("run.speedscope.json")).expect("speedscope file"),
    )
    .expect("speedscope JSON");
    assert_eq!(
        speedscope["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames = speedscope["shared"]["frames"].as_array().expect("frames");
    let mut opened = 0u64;
    for p in speedscope["profiles"].as_array().expect("profiles") {
        assert_eq!(
            (&p["type"], &p["unit"]),
            (&Value::from("evented"), &Value::from("nanoseconds"))
        );
        let mut stack = Vec::new();
        let mut last = number(p, "startValue");
        for e in p["events"].as_array().expect("events") {
            let (at, frame) = (number(e, "at"), number(e, "frame"));
            assert!(at >= last && (frame as usize) < frames.len(), "{e}");
            last = at;
            if e["type"] == "O" {
                opened += 1;
                stack.push(frame);
            } else {
                assert_eq!(stack.pop(), Some(frame), "nested events");
            }
        }
        assert!(stack.is_empty() && last == number(p, "endValue"));
    }
    assert_eq!(opened, number(&profile, "calls"), "one open event per call");

    let stats = json(&["stats", "--json"]);
    let runs: Vec<u64> = stats["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| number(r, "run"))
        .collect();
    let (before, after) = (
        runs[runs.len() - 2].to_string(),
        runs[runs.len() - 1].to_string(),
    );
    let diff = json(&["diff", &before, &after, "--json"]);
    let changes: Vec<&str> = diff["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter_map(|f| f["change"].as_str())
        .collect();
    assert!(
        !changes
            .iter()
            .any(|c| *c == "appeared" || *c == "disappeared"),
        "the same scenario: {diff}"
    );
    assert!(number(&diff, "compared") > 0, "{diff}");
    assert_eq!(number(&diff, "results_changed"), 0, "{diff}");

    // 4. A scripted IEx session: run the scenario, then look at it from the prompt.
    let session = demo.run(
        "iex",
        &["-S", "mix"],
        Some(
            "Shop.Scenario.run()\n\
             ElixirScope.flush()\n\
             [call] = ElixirScope.calls(module: Shop.Checkout, function: :place, exceptions: true, print: false)\n\
             IO.puts(\"EXCEPTION #{inspect(call.exception)}\")\n\
             ElixirScope.show_trace(call.id)\n\
             [total | _] = ElixirScope.calls(module: Shop.Checkout, function: :total, print: false)\n\
             ElixirScope.show_trace(total.id)\n\
             [reserve | _] = ElixirScope.calls(module: Shop.Inventory, function: :reserve, print: false)\n\
             ElixirScope.show_trace(reserve.id)\n\
             [served | _] = ElixirScope.calls(module: Shop.Inventory, function: :handle_call, print: false)\n\
             ElixirScope.show_trace(served.id)\n\
             m = ElixirScope.calls(match: \"Shop.Checkout.place(%{customer: c}) when c != \\\"joe\\\"\", print: false)\n\
             IO.puts(\"MATCH #{length(m)}\")\n\
             w = ElixirScope.calls(module: Shop.Checkout, where: &match?({:error, _}, &1.result), print: false)\n\
             IO.puts(\"WHERE #{inspect(w |> Enum.map(& &1.function) |> Enum.sort())}\")\n\
             f = ElixirScope.search(\"4485 2752 7460 3423\", print: false)\n\
             IO.puts(\"SEARCH #{inspect(f |> Enum.map(&{&1.function, &1.found}) |> Enum.sort())}\")\n\
             o = ElixirScope.origin({:out_of_stock, \"mat\"}, print: false)\n\
             IO.puts(\"ORIGIN #{inspect(Enum.map(o, & &1.function))}\")\n\
             try do ElixirScope.calls(match: \"Shop.Checkout.place(\") rescue e in ArgumentError -> IO.puts(\"BAD \" <> String.replace(e.message, \"\\n\", \" \")) end\n\
             [place] = Enum.filter(ElixirScope.profile(sort: :count, top: 1000).functions, &(&1.module == Shop.Checkout and &1.function == :place))\n\
             IO.puts(\"PROFILE place #{place.calls} #{place.exceptions} #{place.own_ns <= place.total_ns}\")\n\
             d = ElixirScope.diff(1, 2, threshold: 50)\n\
             IO.puts(\"DIFF #{d.run_a} #{d.run_b} #{d.results_changed} #{d.compared > 0}\")\n\
             try do ElixirScope.profile(sort: :speed) rescue e in ArgumentError -> IO.puts(\"BADSORT \" <> Exception.message(e)) end\n\
             try do ElixirScope.diff(1, 99) rescue e in RuntimeError -> IO.puts(\"BADRUN \" <> Exception.message(e)) end\n\
             System.halt()\n",
        ),
    );
    assert!(session.contains("EXCEPTION"), "{session}");
    // Patterns, predicates, search and origin from the prompt (issue 16), the same answers as
    // the CLI's.
    assert!(session.contains("MATCH 3"), "{session}");
    assert!(
        session.contains("WHERE [:place, :reserve_all]"),
        "{session}"
    );
    assert!(
        session.contains("SEARCH [exception: :arguments, message: :arguments, place: :arguments, report: :arguments, valid: :arguments]"),
        "{session}"
    );
    assert!(session.contains("ORIGIN [:reserve_all]"), "{session}");
    assert!(
        session.contains(
            "BAD ElixirScope.calls/1: --match: expected a pattern, found the end at column 21"
        ),
        "{session}"
    );
    assert!(session.contains("Shop.PaymentError"), "{session}");
    assert!(
        session.contains(":luhn.valid(\"4485 2752 7460 3423\") → false"),
        "{session}"
    );
    // The demo's capture rule: luhn:digits/1 is recorded with its arguments redacted, and its result
    // within 4 elements per list.
    assert!(
        session.contains(":luhn.digits([REDACTED]) → {:ok, [4, 4, 8, 5, …]}"),
        "{session}"
    );
    // ElixirScope.profile/1 and diff/3: this VM's run, and the two runs of the scenario above.
    assert!(session.contains("PROFILE place 4 1 true"), "{session}");
    assert!(session.contains("DIFF 1 2 0 true"), "{session}");
    assert!(
        session.contains(
            "BADSORT ElixirScope.profile/1: bad value for :sort: :speed (expected one of :own, \
             :total, :count, :mean, :p99, :exceptions)"
        ),
        "{session}"
    );
    assert!(
        session.contains(
            "BADRUN ElixirScope.diff/3: the recording could not be read: run 99 is not in the store"
        ),
        "{session}"
    );
    // The order's lines are totalled in Tasks: the tree names them under the call that ran them.
    assert!(
        session.contains("(task) #") && session.contains("Shop.Checkout.line_total("),
        "{session}"
    );
    // Stock is reserved through GenServer.call: the tree names, under the reserving call, the
    // Inventory's handle_call/3 that served it.
    assert!(
        session.contains("(request) #")
            && session.contains("Shop.Inventory.handle_call({:reserve,"),
        "{session}"
    );
    // And the other way: the handle_call's tree names the client call that waited for it.
    assert!(
        session.lines().any(|l| l.contains("⇠ #PID<")
            && l.contains("(request) #")
            && l.contains("Shop.Inventory.reserve(")),
        "{session}"
    );

    // The Perfetto export draws an arrow from inside each Checkout.total/1 slice to the Task
    // threads it started.
    let bin = elixir_scope_bin();
    let exported = demo.run(
        bin.to_str().unwrap(),
        &["export", "--format", "chrome", "-o", "trace.json"],
        None,
    );
    assert!(exported.contains("as Chrome trace events"), "{exported}");
    let trace: Value =
        serde_json::from_slice(&std::fs::read(demo.shop.join("trace.json")).expect("trace.json"))
            .expect("valid JSON");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let starts: Vec<&Value> = events
        .iter()
        .filter(|e| e["cat"] == "process" && e["ph"] == "s")
        .collect();
    assert!(!starts.is_empty(), "no flow arrows");
    let at = |v: &Value| v["ts"].as_f64().unwrap_or(-1.0);
    for start in &starts {
        let origin = events
            .iter()
            .find(|e| e["ph"] == "X" && e["args"]["id"] == start["args"]["from"])
            .expect("the origin call's slice");
        assert_eq!(origin["tid"], start["tid"]);
        assert!(
            at(origin) <= at(start) && at(start) <= at(origin) + origin["dur"].as_f64().unwrap(),
            "{origin} {start}"
        );
        let end = events
            .iter()
            .find(|e| e["ph"] == "f" && e["id"] == start["id"])
            .expect("the arrow's end");
        assert_ne!(end["tid"], start["tid"]);
    }
    assert!(starts.iter().any(|s| {
        events.iter().any(|e| {
            e["ph"] == "X"
                && e["args"]["id"] == s["args"]["from"]
                && e["name"] == "Shop.Checkout.total/1"
        })
    }));
    // And from each Inventory.reserve/2 slice to the handle_call/3 slice that served it.
    let requests: Vec<&Value> = events
        .iter()
        .filter(|e| e["cat"] == "request" && e["ph"] == "s")
        .collect();
    assert!(
        requests.len() >= 4,
        "one arrow per reserve call: {}",
        requests.len()
    );
    for start in &requests {
        let waiting = events
            .iter()
            .find(|e| e["ph"] == "X" && e["args"]["id"] == start["args"]["from"])
            .expect("the waiting call's slice");
        assert_eq!(waiting["name"], "Shop.Inventory.reserve/2");
        assert_eq!(waiting["tid"], start["tid"]);
        let served = events
            .iter()
            .find(|e| e["ph"] == "X" && e["args"]["id"] == start["args"]["to"])
            .expect("the serving call's slice");
        assert_eq!(served["name"], "Shop.Inventory.handle_call/3");
        let end = events
            .iter()
            .find(|e| e["ph"] == "f" && e["id"] == start["id"])
            .expect("the arrow's end");
        assert_eq!(end["tid"], served["tid"]);
        assert_ne!(end["tid"], start["tid"]);
    }

    // 5. The demo's own test suite passes instrumented (and records).
    let tests = demo.run("mix", &["test"], None);
    assert!(tests.contains("0 failures"), "{tests}");

    // 6. Restore: the beams Mix compiled, and the same output without instrumentation.
    let restored = demo.run(bin.to_str().unwrap(), &["restore", "_build/dev"], None);
    assert!(restored.contains("restored"), "{restored}");
    let plain = demo.run(
        "elixir",
        &[
            "-pa",
            "_build/dev/lib/shop/ebin",
            "-pa",
            "_build/dev/lib/money/ebin",
            "-pa",
            "_build/dev/lib/luhn/ebin",
            "-e",
            "{:ok, _} = Application.ensure_all_started(:shop); Shop.Scenario.run()",
        ],
        None,
    );
    let plain: Vec<String> = plain.lines().map(str::to_string).collect();
    assert_eq!(recorded, plain, "output differs with instrumentation");
}
