//! A cluster of three named nodes on loopback (`-sname`, a private epmd on a free port, started
//! by the first node and stopped when the test ends) running one distributed scenario in
//! instrumented modules:
//!
//! - node `a` runs the shop (`cl_shop`, Erlang): a checkout that reserves items with a
//!   `GenServer.call` to the inventory on node `b`, audits the stock in a Task on `b`
//!   (`Task.Supervisor.async({sup, b}, ...)`), restocks with a `GenServer.cast` to the
//!   inventory's name and another to its pid, and hands two jobs to a worker on node `c` (a
//!   `gen_server:call`), one of which crashes it;
//! - node `b` runs the inventory (`Cluster.Inventory`, an Elixir GenServer) and the Task
//!   supervisor;
//! - node `c` runs the worker (`cl_worker`) under a supervisor (`cl_worker_sup`), which
//!   restarts it after the crash, and an echo server (`cl_echo`) that was not instrumented
//!   and is recorded through `attach`, which the checkout calls last.
//!
//! All three share one project directory, so they record into one `.elixir_scope/`, each into
//! its own run named after its node.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use store::StoreReader;
use support::{elixir_lib, elixir_scope_bin, erl, executable};

const COOKIE: &str = "elixir_scope_cluster_test";

/// The shop, on node `a`: what the scenario runs.
const SHOP: &str = r#"
-module(cl_shop).
-export([checkout/3, run_job/2, hello/1]).

checkout(Inventory, Worker, Items) ->
    Reserved = [reserve(Inventory, Item, N) || {Item, N} <- Items],
    Stock = 'Elixir.Cluster.Inventory':audit(Inventory),
    ok = 'Elixir.Cluster.Inventory':restock(Inventory, <<"tea">>, 5),
    ok = 'Elixir.Cluster.Inventory':restock_pid(Inventory, <<"mat">>, 3),
    Done = run_job(Worker, {square, 7}),
    Crashed = run_job(Worker, crash),
    {echoed, hello} = cl_echo:echo(Worker, hello),
    {Reserved, Stock, Done, Crashed}.

reserve(Inventory, Item, N) ->
    'Elixir.Cluster.Inventory':reserve(Inventory, Item, N).

run_job(Worker, Job) ->
    try cl_worker:run(Worker, Job)
    catch exit:{Reason, _Call} -> {crashed, Reason}
    end.

hello(Name) -> {hello, Name}.
"#;

/// The worker, on node `c`, under `cl_worker_sup`.
const WORKER: &str = r#"
-module(cl_worker).
-behaviour(gen_server).
-export([start_link/0, run/2, square/1, init/1, handle_call/3, handle_cast/2]).

start_link() -> gen_server:start_link({local, cl_worker}, cl_worker, [], []).

run(Node, Job) -> gen_server:call({cl_worker, Node}, {job, Job}).

square(X) -> X * X.

init([]) -> {ok, 0}.

handle_call({job, {square, X}}, _From, Done) -> {reply, {done, square(X)}, Done + 1};
handle_call({job, crash}, _From, _Done) -> exit(worker_crashed).

handle_cast(_Message, Done) -> {noreply, Done}.
"#;

/// An echo server on node `c`, compiled but not instrumented: recorded by `attach` there.
const ECHO: &str = r#"
-module(cl_echo).
-behaviour(gen_server).
-export([start/0, echo/2, init/1, handle_call/3, handle_cast/2]).

start() ->
    {ok, _} = gen_server:start({local, cl_echo}, cl_echo, [], []),
    ok.

echo(Node, Message) -> gen_server:call({cl_echo, Node}, {echo, Message}).

init([]) -> {ok, []}.

handle_call({echo, Message}, _From, State) -> {reply, {echoed, Message}, State}.

handle_cast(_Message, State) -> {noreply, State}.
"#;

const WORKER_SUP: &str = r#"
-module(cl_worker_sup).
-behaviour(supervisor).
-export([start/0, init/1]).

start() ->
    {ok, Pid} = supervisor:start_link({local, cl_worker_sup}, cl_worker_sup, []),
    %% It outlives the erpc process that started it.
    unlink(Pid),
    ok.

init([]) ->
    {ok, {#{strategy => one_for_one, intensity => 5, period => 10},
          [#{id => cl_worker, start => {cl_worker, start_link, []}}]}}.
"#;

/// The inventory, on node `b`.
const INVENTORY: &str = r#"
defmodule Cluster.Inventory do
  use GenServer

  def start(stock) do
    {:ok, tasks} = Task.Supervisor.start_link(name: Cluster.Tasks)
    # Both outlive the erpc process that starts them.
    Process.unlink(tasks)
    GenServer.start(__MODULE__, stock, name: __MODULE__)
  end

  def reserve(node, item, n), do: GenServer.call({__MODULE__, node}, {:reserve, item, n})
  def restock(node, item, n), do: GenServer.cast({__MODULE__, node}, {:restock, item, n})

  # The same cast, to the inventory's pid (asked of its node).
  def restock_pid(node, item, n) do
    pid = :erpc.call(node, Process, :whereis, [__MODULE__])
    GenServer.cast(pid, {:restock, item, n})
  end

  # A Task on the inventory's node, started from the caller's.
  def audit(node) do
    Task.Supervisor.async({Cluster.Tasks, node}, __MODULE__, :stock, ["tea"]) |> Task.await()
  end

  def stock(item), do: GenServer.call(__MODULE__, {:stock, item})

  @impl true
  def init(stock), do: {:ok, stock}

  @impl true
  def handle_call({:stock, item}, _from, stock), do: {:reply, Map.get(stock, item, 0), stock}

  def handle_call({:reserve, item, n}, _from, stock) do
    case Map.get(stock, item, 0) do
      have when have >= n -> {:reply, {:ok, have - n}, Map.put(stock, item, have - n)}
      have -> {:reply, {:error, {:out_of_stock, item, have}}, stock}
    end
  end

  @impl true
  def handle_cast({:restock, item, n}, stock),
    do: {:noreply, Map.update(stock, item, n, &(&1 + n))}
end
"#;

/// The three nodes, their project directory and their private epmd; stops them when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    epmd_port: u16,
    /// Short names of `a`, `b` and `c` (`es_cluster_a_PID`): `NAME@HOST` are the nodes.
    names: [String; 3],
    nodes: Vec<Child>,
}

impl Cluster {
    /// Builds and instruments the scenario's modules, then starts the three nodes.
    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let project = dir.path().join("project");
        let ebin = project.join("ebin");
        std::fs::create_dir_all(&ebin).expect("ebin");
        let src = dir.path().join("src");
        std::fs::create_dir(&src).expect("src");
        let mut erlang = Vec::new();
        for (name, code) in [
            ("cl_shop.erl", SHOP),
            ("cl_worker.erl", WORKER),
            ("cl_worker_sup.erl", WORKER_SUP),
        ] {
            std::fs::write(src.join(name), code).expect("source");
            erlang.push(src.join(name));
        }
        let compiled = Command::new(executable("erlc", "erlang-nox"))
            .args(["+debug_info", "-o"])
            .arg(&ebin)
            .args(&erlang)
            .output()
            .expect("erlc");
        check(&compiled, "erlc");
        // Not instrumented (only ebin is): attach records it.
        let plain = project.join("plain");
        std::fs::create_dir(&plain).expect("plain");
        std::fs::write(src.join("cl_echo.erl"), ECHO).expect("source");
        let compiled = Command::new(executable("erlc", "erlang-nox"))
            .arg("-o")
            .arg(&plain)
            .arg(src.join("cl_echo.erl"))
            .output()
            .expect("erlc");
        check(&compiled, "erlc");
        std::fs::write(src.join("inventory.ex"), INVENTORY).expect("source");
        let compiled = Command::new(executable("elixirc", "elixir"))
            .arg("-o")
            .arg(&ebin)
            .arg(src.join("inventory.ex"))
            .output()
            .expect("elixirc");
        check(&compiled, "elixirc");
        let instrumented = Command::new(elixir_scope_bin())
            .current_dir(&project)
            .args(["instrument", "--strategy", "all", "--no-cache", "ebin"])
            .output()
            .expect("elixir-scope instrument");
        check(&instrumented, "elixir-scope instrument");
        let epmd_port = free_port();
        let names = ["a", "b", "c"].map(|n| format!("es_cluster_{n}_{}", std::process::id()));
        let mut cluster = Cluster {
            dir,
            epmd_port,
            names,
            nodes: Vec::new(),
        };
        for name in cluster.names.clone() {
            let node = cluster
                .erl()
                .args(["-noshell", "-sname", &name, "-setcookie", COOKIE])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting a node");
            cluster.nodes.push(node);
        }
        // Up once each answers over distribution.
        let started = Instant::now();
        loop {
            let answer = cluster.try_eval("[pong = net_adm:ping(N) || N <- [A, B, C]]");
            if answer.status.success() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the nodes never came up: {}",
                text(&answer)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        cluster
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn db(&self) -> PathBuf {
        self.project().join(".elixir_scope")
    }

    /// An `erl` in the project directory, with the instrumented modules and Elixir on its
    /// code path, reaching the private epmd.
    fn erl(&self) -> Command {
        let mut command = Command::new(erl());
        command
            .current_dir(self.project())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_CRASH_DUMP_SECONDS", "0")
            .env_remove("ELIXIR_SCOPE_DB")
            .arg("-pa")
            .arg(self.project().join("ebin"))
            .arg("-pa")
            .arg(self.project().join("plain"))
            .arg("-pa")
            .arg(elixir_lib().join("elixir/ebin"));
        command
    }

    /// Runs `code` in a hidden node, with `A`, `B` and `C` bound to the three nodes.
    fn try_eval(&self, code: &str) -> Output {
        let [a, b, c] = &self.names;
        // Output in UTF-8: what the nodes print here (their group leader is this one's).
        let script = format!(
            "ok = io:setopts([{{encoding, unicode}}]), \
             [_, Host] = string:split(atom_to_list(node()), \"@\"), \
             [A, B, C] = [list_to_atom(N ++ \"@\" ++ Host) || N <- [{a:?}, {b:?}, {c:?}]], \
             {code}, halt()."
        );
        self.erl()
            .args(["-hidden", "-noshell", "-sname"])
            .arg(format!("{a}_driver"))
            .args(["-setcookie", COOKIE, "-eval", &script])
            .output()
            .expect("running erl")
    }

    fn eval(&self, code: &str) -> String {
        let output = self.try_eval(code);
        check(&output, code);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts the servers and runs the scenario; returns what the checkout returned.
    fn run_scenario(&self) -> String {
        let said = self.eval(
            "ok = erpc:call(C, cl_worker_sup, start, []), \
             ok = erpc:call(C, cl_echo, start, []), \
             {ok, _} = erpc:call(C, elixir_scope_attach, attach, [[cl_echo], #{}]), \
             {ok, _} = erpc:call(B, 'Elixir.Cluster.Inventory', start, [#{<<\"tea\">> => 10}]), \
             true = erpc:call(A, net_kernel, connect_node, [B]), \
             true = erpc:call(A, net_kernel, connect_node, [C]), \
             Result = erpc:call(A, cl_shop, checkout, [B, C, [{<<\"tea\">>, 2}, {<<\"mat\">>, 1}]]), \
             %% Marked: the worker's crash report may come here too (its group leader).
             io:format(\"~nRESULT ~0p~n\", [Result]), \
             %% Everything recorded is stored before anything reads it.
             [ok = erpc:call(N, elixir_scope_runtime, flush, []) || N <- [A, B, C]]",
        );
        said.lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("no result in {said}"))
            .to_string()
    }

    /// The host part of the nodes' names.
    fn host(&self) -> String {
        self.eval("io:format(\"~s\", [Host])")
    }

    /// `elixir-scope ARGS` in the project directory, reaching the private epmd.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(elixir_scope_bin())
            .current_dir(self.project())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env_remove("ELIXIR_SCOPE_DB")
            .args(args)
            .output()
            .expect("running elixir-scope")
    }

    /// `elixir-scope ARGS --json`, parsed.
    fn cli_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let output = self.cli(&args);
        check(&output, &format!("elixir-scope {}", args.join(" ")));
        serde_json::from_slice(&output.stdout).expect("JSON")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        // The private epmd the first node started. It refuses `-kill` while a node is
        // registered, and notices a killed node's socket closing a moment later: retried.
        for _ in 0..50 {
            let killed = Command::new(executable("epmd", "erlang-nox"))
                .args(["-port", &self.epmd_port.to_string(), "-kill"])
                .output();
            let Ok(out) = killed else { break };
            if !text(&out).contains("living nodes") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The runs of the store at `db`, as `(node, run)`, sorted by node.
fn runs_by_node(db: &Path) -> Vec<(String, u64)> {
    let mut runs: Vec<(String, u64)> = StoreReader::open(db)
        .expect("the store")
        .runs()
        .expect("its runs")
        .into_iter()
        .map(|r| (r.info.node, r.id))
        .collect();
    runs.sort();
    runs
}

#[test]
fn a_cluster_records_one_run_per_node_and_links_them() {
    let cluster = Cluster::start();
    let host = cluster.host();
    let result = cluster.run_scenario();
    assert_eq!(
        result,
        "{[{ok,8},{error,{out_of_stock,<<\"mat\">>,0}}],8,{done,49},{crashed,worker_crashed}}"
    );

    // One run per node, in the one store of the project, each named after its node.
    let runs = runs_by_node(&cluster.db());
    let nodes: Vec<String> = runs.iter().map(|(node, _)| node.clone()).collect();
    let expected: Vec<String> = cluster
        .names
        .iter()
        .map(|n| format!("{n}@{host}"))
        .collect();
    assert_eq!(nodes, expected, "{runs:?}");
    let mut ids: Vec<u64> = runs.iter().map(|(_, id)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{runs:?}");
    let [(node_a, run_a), (node_b, run_b), (node_c, run_c)] =
        [0, 1, 2].map(|i| (runs[i].0.clone(), runs[i].1.to_string()));

    // a's checkout, as a tree: the requests its calls made, served on b and c, under the
    // calls that waited for them, read from b's and c's runs.
    let checkouts = cluster.cli_json(&["calls", "--run", &run_a, "--function", "checkout"]);
    let checkout_id = only(&checkouts)["id"].as_u64().expect("an id").to_string();
    let tree = cluster.cli_json(&["trace", "--run", &run_a, &checkout_id]);
    let requests = requests_in(&tree);
    let summary: Vec<(String, String, String, String)> = requests
        .iter()
        .map(|(parent, request)| {
            (
                parent["function"].as_str().unwrap_or("?").to_string(),
                request["node"].as_str().unwrap_or("?").to_string(),
                request["served_by"]["mfa"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                request["served_by"]["outcome"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = [
        (
            "reserve",
            &node_b,
            "Cluster.Inventory.handle_call/3",
            "return",
        ),
        (
            "reserve",
            &node_b,
            "Cluster.Inventory.handle_call/3",
            "return",
        ),
        ("run", &node_c, "cl_worker:handle_call/3", "return"),
        ("run", &node_c, "cl_worker:handle_call/3", "exit"),
        // Attached on c: the checkout itself waited (cl_echo:echo/2 is not recorded on a).
        ("checkout", &node_c, "cl_echo:handle_call/3", "return"),
    ]
    .iter()
    .map(|(f, n, m, o)| (f.to_string(), n.to_string(), m.to_string(), o.to_string()))
    .collect();
    assert_eq!(summary, expected, "{tree:#}");
    // Each request's node and run are the serving node's.
    for (_, request) in &requests {
        let served_by = &request["served_by"];
        let run = if request["node"] == node_b.as_str() {
            &run_b
        } else {
            &run_c
        };
        assert_eq!(served_by["node"], request["node"]);
        assert_eq!(served_by["run"].to_string(), *run);
    }
    // The audit's Task, started from a's audit/1 on b, shows under it as b's process.
    let lines = tree["lines"].as_array().expect("lines");
    let tasks: Vec<(String, String, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let process = line.get("process")?;
            let depth = line["depth"].as_u64()?;
            let parent = lines[..i]
                .iter()
                .rev()
                .find(|l| l["depth"].as_u64() == Some(depth - 1))?;
            Some((
                parent["call"]["mfa"].as_str()?.to_string(),
                format!(
                    "{} {}",
                    process["node"].as_str()?,
                    process["origin"].as_str()?
                ),
                process["first"]["mfa"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(
        tasks,
        [(
            "Cluster.Inventory.audit/1".to_string(),
            format!("{node_b} caller"),
            "Cluster.Inventory.stock/1".to_string()
        )],
        "{tree:#}"
    );
    // So does a's tree asked by its node's name, and the text tree says the same.
    let [a, b, _] = &cluster.names;
    let by_name = cluster.cli_json(&["trace", "--node", a, &checkout_id]);
    assert_eq!(requests_in(&by_name), requests);
    let text_tree = cluster.cli(&["trace", "--run", &run_a, &checkout_id]);
    check(&text_tree, "elixir-scope trace");
    let text_tree = String::from_utf8_lossy(&text_tree.stdout).into_owned();
    assert!(
        text_tree.contains(&format!("⇢ {node_b} <0.")) && text_tree.contains("(request)"),
        "{text_tree}"
    );

    // From b's side: its handle_call came from a's call that waited for it.
    let (_, first_request) = &requests[0];
    let served_id = first_request["served_by"]["id"]
        .as_u64()
        .expect("an id")
        .to_string();
    let served_tree = cluster.cli_json(&["trace", "--run", &run_b, &served_id]);
    let cause = &served_tree["cause"];
    assert_eq!(cause["kind"], "request", "{served_tree:#}");
    assert_eq!(cause["node"], node_a.as_str());
    assert_eq!(cause["call"]["function"], "reserve");
    assert_eq!(cause["call"]["module"], "Elixir.Cluster.Inventory");
    assert_eq!(cause["call"]["run"].to_string(), run_a);
    // b's Task came from a's audit/1.
    let stocks = cluster.cli_json(&["calls", "--run", &run_b, "--function", "stock"]);
    let stock_id = only(&stocks)["id"].as_u64().expect("an id").to_string();
    let task_tree = cluster.cli_json(&["trace", "--run", &run_b, &stock_id]);
    assert_eq!(task_tree["cause"]["kind"], "caller", "{task_tree:#}");
    assert_eq!(task_tree["cause"]["node"], node_a.as_str());
    assert_eq!(
        task_tree["cause"]["call"]["mfa"],
        "Cluster.Inventory.audit/1"
    );
    // And the crashed job's handle_call on c, from a's cl_worker:run/2.
    let (_, crashed) = &requests[3];
    let crashed_id = crashed["served_by"]["id"]
        .as_u64()
        .expect("an id")
        .to_string();
    let crashed_tree = cluster.cli_json(&["trace", "--run", &run_c, &crashed_id]);
    assert_eq!(crashed_tree["cause"]["node"], node_a.as_str());
    assert_eq!(crashed_tree["cause"]["call"]["mfa"], "cl_worker:run/2");
    // And the echo's handle_call on c, recorded by attach's tracer (the VM calls the NIF in
    // the serving process: the client is a pid of a, linked by its node and text as the
    // rewritten path links it), from a's checkout.
    let (_, echoed) = &requests[4];
    let echoed_id = echoed["served_by"]["id"]
        .as_u64()
        .expect("an id")
        .to_string();
    let echoed_tree = cluster.cli_json(&["trace", "--run", &run_c, &echoed_id]);
    assert_eq!(echoed_tree["cause"]["kind"], "request", "{echoed_tree:#}");
    assert_eq!(echoed_tree["cause"]["node"], node_a.as_str());
    assert_eq!(echoed_tree["cause"]["call"]["mfa"], "cl_shop:checkout/3");
    assert_eq!(echoed_tree["cause"]["call"]["run"].to_string(), run_a);

    // Every node's calls in one listing, newest first on the wall clock, each with its node:
    // from the shared project directory, then over Erlang distribution from a (read in
    // place: this machine sees the same files), then copied into the cache.
    let merged = cluster.cli_json(&["calls", "--cluster", "--limit", "1000"]);
    let listed = node_ids(&merged);
    let mut nodes_listed: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    nodes_listed.sort_unstable();
    nodes_listed.dedup();
    assert_eq!(nodes_listed, [&node_a, &node_b, &node_c], "{merged:#}");
    let starts: Vec<u64> = merged
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["start_unix_ns"].as_u64().expect("a start"))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
    // b's handle_call of "tea" started after a's reserve("tea") and before it returned.
    let position = |node: &str, function: &str, arg: &str| {
        merged
            .as_array()
            .expect("calls")
            .iter()
            .position(|c| {
                c["node"] == node
                    && c["function"] == function
                    && c["args"].to_string().contains(arg)
            })
            .unwrap_or_else(|| panic!("no {function}({arg}) of {node}: {merged:#}"))
    };
    assert!(position(&node_b, "handle_call", "tea") < position(&node_a, "reserve", "tea"));
    let remote = cluster.cli_json(&[
        "calls",
        "--cluster",
        "--node",
        a,
        "--cookie",
        COOKIE,
        "--limit",
        "1000",
    ]);
    assert_eq!(node_ids(&remote), listed);
    let copied = cluster.cli_json(&[
        "calls",
        "--cluster",
        "--node",
        a,
        "--cookie",
        COOKIE,
        "--copy",
        "--limit",
        "1000",
    ]);
    assert_eq!(node_ids(&copied), listed);
    let mirror = cluster
        .dir
        .path()
        .join(format!("cache/elixir-scope/cluster/{node_b}/runs/{run_b}"));
    assert!(
        mirror.join("run").is_file(),
        "no copy of b's run at {mirror:?}"
    );
    let table = cluster.cli(&["calls", "--cluster", "--limit", "5"]);
    check(&table, "calls --cluster");
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.starts_with("NODE "), "{table}");
    // A search of every node: each node's run under its title.
    let found = cluster.cli_json(&["search", "\"tea\"", "--cluster", "--limit", "100"]);
    let mut found_on: Vec<String> = node_ids(&found).into_iter().map(|(n, _)| n).collect();
    found_on.dedup();
    found_on.sort_unstable();
    found_on.dedup();
    assert_eq!(found_on, [node_a.clone(), node_b.clone()], "{found:#}");
    // One node's calls: by its name, from the store or over distribution.
    let only_b = cluster.cli_json(&["calls", "--node", b, "--limit", "1000"]);
    assert!(!node_ids(&only_b).is_empty());
    assert!(
        node_ids(&only_b).iter().all(|(n, _)| *n == node_b),
        "{only_b:#}"
    );
    let only_b_remote =
        cluster.cli_json(&["calls", "--node", b, "--cookie", COOKIE, "--limit", "1000"]);
    assert_eq!(node_ids(&only_b_remote), node_ids(&only_b));
    // The cross-node tree from the copies: the same requests as from the shared store.
    let copied_tree = cluster.cli_json(&[
        "trace",
        "--cluster",
        "--node",
        a,
        "--cookie",
        COOKIE,
        "--copy",
        &checkout_id,
    ]);
    assert_eq!(requests_in(&copied_tree), requests);

    // One trace for Perfetto: a process per node, and arrows from a's calls that waited to
    // the calls of b and c that served them.
    let exported = cluster.dir.path().join("cluster.json");
    let export = cluster.cli(&[
        "export",
        "--cluster",
        "-o",
        exported.to_str().expect("a UTF-8 path"),
    ]);
    check(&export, "export --cluster");
    let trace: Value =
        serde_json::from_slice(&std::fs::read(&exported).expect("the export")).expect("JSON");
    let events = trace["traceEvents"].as_array().expect("events");
    let process_of = |node: &str| {
        events
            .iter()
            .find(|e| {
                e["name"] == "process_name"
                    && e["args"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(&format!("{node} (run ")))
            })
            .and_then(|e| e["pid"].as_u64())
            .unwrap_or_else(|| panic!("no process for {node}"))
    };
    let (pid_a, pid_b, pid_c) = (
        process_of(&node_a),
        process_of(&node_b),
        process_of(&node_c),
    );
    assert_eq!([pid_a, pid_b, pid_c].len(), 3);
    let slices = |pid: u64, name: &str| {
        events
            .iter()
            .filter(|e| e["pid"] == pid && e["name"] == name && e["ph"] == "X")
            .count()
    };
    assert_eq!(slices(pid_a, "cl_shop:checkout/3"), 1);
    assert_eq!(slices(pid_b, "Cluster.Inventory.handle_call/3"), 3);
    assert_eq!(slices(pid_c, "cl_worker:handle_call/3"), 2);
    let mut arrows: Vec<(u64, u64)> = Vec::new();
    for start in events
        .iter()
        .filter(|e| e["cat"] == "request" && e["ph"] == "s" && e["args"]["from_node"].is_string())
    {
        let end = events
            .iter()
            .find(|e| e["cat"] == "request" && e["ph"] == "f" && e["id"] == start["id"])
            .expect("the arrow's end");
        arrows.push((
            start["pid"].as_u64().expect("a pid"),
            end["pid"].as_u64().expect("a pid"),
        ));
    }
    arrows.sort_unstable();
    let mut expected = vec![
        (pid_a, pid_b),
        (pid_a, pid_b),
        (pid_a, pid_c),
        (pid_a, pid_c),
        (pid_a, pid_c),
    ];
    expected.sort_unstable();
    assert_eq!(arrows, expected);
    // And one from a's audit/1 to the Task it started on b.
    let started: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["cat"] == "process" && e["ph"] == "s" && e["args"]["from_node"].is_string())
        .map(|start| {
            let end = events
                .iter()
                .find(|e| e["cat"] == "process" && e["ph"] == "f" && e["id"] == start["id"])
                .expect("the arrow's end");
            (
                start["pid"].as_u64().unwrap_or(0),
                end["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(started, [(pid_a, pid_b)]);

    // In IEx on a: the same calls of every node, asked over erpc, merged by time; and the
    // cross-node tree, printed.
    let iex = cluster.eval(
        "Calls = erpc:call(A, 'Elixir.ElixirScope', calls, \
                           [[{nodes, all}, {print, false}, {limit, 1000}]]), \
         [io:format(\"IEX ~s ~p~n\", [maps:get(node, C), maps:get(id, C)]) || C <- Calls]",
    );
    let iex_listed: Vec<(String, u64)> = iex
        .lines()
        .filter_map(|l| l.strip_prefix("IEX "))
        .map(|l| {
            let (node, id) = l.split_once(' ').expect("node and id");
            (node.to_string(), id.parse().expect("an id"))
        })
        .collect();
    assert_eq!(iex_listed, listed);
    let shown = cluster.eval(&format!(
        "ok = erpc:call(A, 'Elixir.ElixirScope', show_trace, \
                        [{checkout_id}, [{{nodes, all}}, {{ansi, false}}]])"
    ));
    let requested: Vec<&str> = shown.lines().filter(|l| l.contains("(request)")).collect();
    assert_eq!(requested.len(), 5, "{shown}");
    assert!(
        requested[0].contains(&format!("└── ⇢ {node_b} #PID<"))
            && requested[0].contains("Cluster.Inventory.handle_call({:reserve, \"tea\", 2}"),
        "{shown}"
    );
    assert!(
        requested[3].contains(&format!("⇢ {node_c} #PID<"))
            && requested[3].contains("worker_crashed"),
        "{shown}"
    );
    // Laid out as the CLI lays out the same tree: the root's node lays out the merged lines.
    let guides = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('#') || l.starts_with(['├', '└', '│', ' ']))
            .map(|l| l.chars().take_while(|c| "│├└─ ".contains(*c)).collect())
            .collect()
    };
    assert!(
        guides(&shown).iter().any(|g| g.starts_with("│   ")),
        "{shown}"
    );
    assert_eq!(guides(&shown), guides(&text_tree), "{shown}\n{text_tree}");
    // From b's side, asked on a: the first line is a's call that waited.
    let caused = cluster.eval(&format!(
        "ok = erpc:call(A, 'Elixir.ElixirScope', show_trace, \
                        [{served_id}, [{{node, B}}, {{nodes, all}}, {{ansi, false}}]])"
    ));
    let first = caused.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("⇠ {node_a} #PID<"))
            && first.contains("(request)")
            && first.contains("Cluster.Inventory.reserve(:"),
        "{caused}"
    );

    // The casts, one to the inventory's pid, one to its name (`{Cluster.Inventory, b}`): a's
    // restock_pid/3 and restock/3 sent them, b's handle_cast/2 received them, linked both
    // ways (a's tree, b's cause, an arrow in the export). The name is linked through the name
    // b's run recorded for the inventory's process at its first call.
    let casts = cluster.cli_json(&["calls", "--node", b, "--function", "handle_cast"]);
    let cast_with = |result: &str| {
        casts
            .as_array()
            .expect("calls")
            .iter()
            .find(|c| c["result"] == result)
            .unwrap_or_else(|| panic!("no handle_cast returning {result}: {casts:#}"))
            .clone()
    };
    assert_eq!(casts.as_array().map(Vec::len), Some(2), "{casts:#}");
    let by_name = cast_with("{:noreply, %{\"tea\" => 13}}");
    let by_pid = cast_with("{:noreply, %{\"mat\" => 3, \"tea\" => 13}}");
    let by_pid_id = by_pid["id"].as_u64().expect("an id");
    let by_name_id = by_name["id"].as_u64().expect("an id");
    let name_tree = cluster.cli_json(&["trace", "--node", b, &by_name_id.to_string()]);
    let cause = &name_tree["cause"];
    assert_eq!(cause["kind"], "cast", "{name_tree:#}");
    assert_eq!(cause["node"], node_a.as_str());
    assert_eq!(cause["call"]["mfa"], "Cluster.Inventory.restock/3");
    let pid_tree = cluster.cli_json(&["trace", "--node", b, &by_pid_id.to_string()]);
    let cause = &pid_tree["cause"];
    assert_eq!(cause["kind"], "cast", "{pid_tree:#}");
    assert_eq!(cause["node"], node_a.as_str());
    assert_eq!(cause["call"]["mfa"], "Cluster.Inventory.restock_pid/3");
    assert_eq!(cause["call"]["run"].to_string(), run_a);
    let pid_text = cluster.cli(&["trace", "--node", b, &by_pid_id.to_string()]);
    check(&pid_text, "elixir-scope trace");
    let pid_text = String::from_utf8_lossy(&pid_text.stdout).into_owned();
    assert!(
        pid_text.starts_with(&format!("⇠ sent by {node_a} <0."))
            && pid_text.lines().next().unwrap_or("").contains("(cast)"),
        "{pid_text}"
    );
    // In a's tree: each send under the call that made it, the one to the pid with the call of
    // b that received it.
    let lines = tree["lines"].as_array().expect("lines");
    let sent: Vec<(String, Value, Value, Value)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let message = line.get("message")?;
            let depth = line["depth"].as_u64()?;
            let parent = lines[..i]
                .iter()
                .rev()
                .find(|l| l["depth"].as_u64() == Some(depth - 1))?;
            Some((
                parent["call"]["mfa"].as_str()?.to_string(),
                message["kind"].clone(),
                message["node"].clone(),
                message["received_by"].clone(),
            ))
        })
        .collect();
    assert_eq!(
        sent,
        [
            (
                "Cluster.Inventory.restock/3".to_string(),
                Value::from("cast"),
                Value::from(node_b.as_str()),
                Value::from(by_name_id)
            ),
            (
                "Cluster.Inventory.restock_pid/3".to_string(),
                Value::from("cast"),
                Value::from(node_b.as_str()),
                Value::from(by_pid_id)
            ),
        ],
        "{tree:#}"
    );
    assert!(
        text_tree.lines().any(|line| {
            line.contains("→ cast {Cluster.Inventory, :")
                && line.contains(&format!("}} ({node_b} <0."))
                && line.ends_with(&format!("⇢ {node_b} #{by_name_id}"))
        }) && text_tree.contains(&format!("→ cast {node_b} <0."))
            && text_tree.contains(&format!("⇢ {node_b} #{by_pid_id}")),
        "{text_tree}"
    );
    // Two arrows in the export, from a's process to b's.
    let messages: Vec<(u64, u64, String)> = events
        .iter()
        .filter(|e| e["cat"] == "message" && e["ph"] == "s" && e["args"]["from_node"].is_string())
        .map(|start| {
            let end = events
                .iter()
                .find(|e| e["cat"] == "message" && e["ph"] == "f" && e["id"] == start["id"])
                .expect("the arrow's end");
            (
                start["pid"].as_u64().unwrap_or(0),
                end["pid"].as_u64().unwrap_or(0),
                start["name"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            (pid_a, pid_b, "cast".to_string()),
            (pid_a, pid_b, "cast".to_string())
        ]
    );

    // The crash: c's worker exited with the reason of the job it could not do, and its
    // supervisor started it again; `crashes --cluster` lists it under c (the processes of
    // erpc calls, which end with `{Ref, return, Result}`, are no crashes), with what led to
    // it: the request of a's call that waited.
    let c = &cluster.names[2];
    let crashes = cluster.cli_json(&["crashes", "--cluster"]);
    let crash = only(&crashes);
    assert_eq!(crash["node"], node_c.as_str(), "{crashes:#}");
    assert_eq!(crash["run"].to_string(), run_c);
    assert_eq!(crash["reason"], ":worker_crashed");
    assert_eq!(crash["banner"], "** (exit) :worker_crashed");
    let crashed_id = crashed["served_by"]["id"].as_u64().expect("an id");
    assert_eq!(crash["culprit"], crashed_id, "{crash:#}");
    assert_eq!(crash["tree"]["cause"]["kind"], "request");
    assert_eq!(crash["tree"]["cause"]["node"], node_a.as_str());
    assert_eq!(crash["tree"]["cause"]["call"]["mfa"], "cl_worker:run/2");
    assert_eq!(crash["started_by"]["mfa"], "cl_worker:start_link/0");
    let restart = &crash["restart"]["first"];
    assert_eq!(restart["mfa"], "cl_worker:init/1", "{crash:#}");
    assert!(restart["id"].as_u64().expect("an id") > crashed_id);
    // The supervisor's two starts of the worker.
    let inits = cluster.cli_json(&[
        "calls",
        "--node",
        c,
        "--module",
        "cl_worker",
        "--function",
        "init",
    ]);
    let inits = node_ids(&inits);
    assert_eq!(inits.len(), 2, "{inits:?}");
    assert!(
        inits[0].1 > crashed_id && inits[1].1 < crashed_id,
        "{inits:?}"
    );
    // The same crash asked of c alone, and as text.
    let on_c = cluster.cli_json(&["crashes", "--node", c]);
    assert_eq!(only(&on_c)["culprit"], crashed_id);
    let listed = cluster.cli(&["crashes", "--cluster"]);
    check(&listed, "elixir-scope crashes --cluster");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains(&format!("({node_c}, started "))
            && listed.contains("** (exit) :worker_crashed")
            && listed.contains("restarted as <0.")
            && listed.contains(&format!("⇠ {node_a} <0.")),
        "{listed}"
    );

    // ELIXIR_SCOPE_KEEP_CLUSTER=DIR keeps a copy of the three runs (README's "Clusters" sample
    // comes from one).
    if let Some(keep) = std::env::var_os("ELIXIR_SCOPE_KEEP_CLUSTER") {
        let copied = Command::new("cp")
            .arg("-r")
            .arg(cluster.db())
            .arg(&keep)
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the recording to {keep:?}");
    }

    a_vm_that_becomes_a_node_after_recording_started_names_its_run(&cluster, &host);
}

/// `(node, id)` of each call of a `calls --json` list, in order.
fn node_ids(calls: &Value) -> Vec<(String, u64)> {
    calls
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["node"].as_str().expect("a node").to_string(),
                c["id"].as_u64().expect("an id"),
            )
        })
        .collect()
}

/// The only element of a JSON array.
fn only(list: &Value) -> &Value {
    let items = list.as_array().expect("an array");
    assert_eq!(items.len(), 1, "{list:#}");
    &items[0]
}

/// A tree's request lines, each with the call it sits under (`trace --json`).
fn requests_in(tree: &Value) -> Vec<(Value, Value)> {
    let lines = tree["lines"].as_array().expect("lines");
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.get("request").is_none() {
            continue;
        }
        let depth = line["depth"].as_u64().expect("a depth");
        let parent = lines[..i]
            .iter()
            .rev()
            .find(|l| l["depth"].as_u64() == Some(depth - 1))
            .expect("a parent line");
        out.push((parent["call"].clone(), line["request"].clone()));
    }
    out
}

/// A VM that becomes a node after it started recording (a test helper making the test VM a
/// cluster's first node, after the application recorded) gets its run renamed at its first
/// connection to another node. Run within the cluster's test: it needs its epmd.
fn a_vm_that_becomes_a_node_after_recording_started_names_its_run(cluster: &Cluster, host: &str) {
    let late = format!("es_cluster_late_{}", std::process::id());
    let [a, _, _] = &cluster.names;
    // Recording starts while the VM has no name (the wrapped call starts the runtime); then
    // it becomes a node and connects to `a`.
    let script = format!(
        "{{hello, 1}} = cl_shop:hello(1), \
         nonode@nohost = node(), \
         {{ok, _}} = net_kernel:start([list_to_atom({late:?}), shortnames]), \
         erlang:set_cookie(node(), {COOKIE}), \
         true = net_kernel:connect_node(list_to_atom({a:?} ++ \"@{host}\")), \
         {{hello, 2}} = cl_shop:hello(2), \
         timer:sleep(100), \
         ok = elixir_scope_runtime:flush(), \
         halt()."
    );
    let output = cluster
        .erl()
        .args(["-noshell", "-eval", &script])
        .output()
        .expect("erl");
    check(&output, "the late node");
    let runs = runs_by_node(&cluster.db());
    let late_node = format!("{late}@{host}");
    assert!(runs.iter().any(|(node, _)| *node == late_node), "{runs:?}");
    assert!(
        !runs.iter().any(|(node, _)| node == "nonode@nohost"),
        "{runs:?}"
    );
}
