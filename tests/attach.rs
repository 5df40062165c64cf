//! `elixir-scope attach` against a VM that was never instrumented: a plain `erl` node running
//! a module compiled without debug info (so the rewriter could not have touched it), attached
//! from the CLI over Erlang distribution, its calls queried with the CLI afterwards.
//!
//! Every node here uses a private epmd (`ERL_EPMD_PORT`, a free port), started by the first
//! node and stopped when the test ends, so that the test neither needs nor disturbs the
//! machine's epmd.

#[path = "runtime_support.rs"]
mod runtime_support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{elixir_scope_bin, erl, executable};

const COOKIE: &str = "elixir_scope_attach_test";

/// The module the target runs: plain Erlang, compiled with `+no_debug_info`. Calls between
/// its functions are remote (`attach_target:f(...)`), which global trace patterns see.
const TARGET_MODULE: &str = r#"
-module(attach_target).
-export([checkout/1, total/1, price/1, charge/1, login/1, flood/1]).
-export([start_server/0, ask/1, init/1, handle_call/3, handle_cast/2]).

checkout(Items) ->
    Total = attach_target:total(Items),
    Charged = (catch attach_target:charge(Total)),
    {Total, Charged}.

total(Items) -> lists:sum([attach_target:price(Item) || Item <- Items]).

price({_Name, Price, Quantity}) -> Price * Quantity.

charge(Total) when Total > 100 -> erlang:error({card_declined, Total});
charge(Total) -> {charged, Total}.

login(#{user := User}) -> {welcome, User}.

flood(N) -> lists:foreach(fun(I) -> attach_target:price({x, I, 1}) end, lists:seq(1, N)).

start_server() ->
    {ok, _} = gen_server:start({local, attach_server}, attach_target, [], []),
    ok.
ask(Question) -> gen_server:call(attach_server, Question).
init([]) -> {ok, 0}.
handle_call(Question, _From, Asked) -> {reply, {answer, Question}, Asked + 1}.
handle_cast(_Message, Asked) -> {noreply, Asked}.
"#;

/// A plain node to attach to, with its private epmd; stops both when dropped.
struct Target {
    dir: tempfile::TempDir,
    epmd_port: u16,
    name: String,
    node: Child,
}

impl Target {
    fn start() -> Target {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::tempdir().expect("temp dir");
        let ebin = dir.path().join("ebin");
        std::fs::create_dir(&ebin).expect("ebin");
        let source = dir.path().join("attach_target.erl");
        std::fs::write(&source, TARGET_MODULE).expect("source");
        let compiled = Command::new(executable("erlc", "erlang-nox"))
            .args(["+no_debug_info", "-o"])
            .arg(&ebin)
            .arg(&source)
            .output()
            .expect("erlc");
        check(&compiled, "erlc");
        // An application holding it, which the VM has not loaded (attach loads it).
        std::fs::write(
            ebin.join("attach_app.app"),
            "{application, attach_app, [{vsn, \"1\"}, {modules, [attach_target]}, \
             {applications, [kernel, stdlib]}]}.\n",
        )
        .expect("app file");
        let epmd_port = free_port();
        let name = format!(
            "es_attach_target_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // Its working directory holds no beams, so that only what attach adds is found.
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("work dir");
        let node = Command::new(erl())
            .current_dir(&work)
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            // Its own user cache: where `--copy-runtime` puts the runtime.
            .env("XDG_CACHE_HOME", dir.path().join("target_cache"))
            .args(["-noshell", "-sname", &name, "-setcookie", COOKIE, "-pa"])
            .arg(&ebin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the target node");
        let target = Target {
            dir,
            epmd_port,
            name,
            node,
        };
        // Up once it answers over distribution.
        let started = Instant::now();
        loop {
            let answer = target.try_eval("io:format(\"~p\", [erpc:call(T, erlang, node, [])])");
            if answer.status.success() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the target node never came up: {}",
                String::from_utf8_lossy(&answer.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        target
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("recording")
    }

    /// Runs `code` (Erlang expressions with `T` bound to the target node) in a hidden node.
    fn try_eval(&self, code: &str) -> Output {
        let script = format!(
            "[_, Host] = string:split(atom_to_list(node()), \"@\"), \
             T = list_to_atom({name:?} ++ \"@\" ++ Host), \
             case net_kernel:connect_node(T) of true -> ok; _ -> halt(3) end, \
             {code}, halt().",
            name = self.name
        );
        // In the node's directory: a failed expression's erl_crash.dump lands there.
        Command::new(erl())
            .current_dir(self.dir.path())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .args(["-hidden", "-noshell", "-sname"])
            .arg(format!("{}_driver", self.name))
            .args(["-setcookie", COOKIE, "-eval", &script])
            .output()
            .expect("running erl")
    }

    fn eval(&self, code: &str) -> String {
        let output = self.try_eval(code);
        check(&output, code);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `elixir-scope ARGS` against this node's epmd, with a cache of its own.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(elixir_scope_bin())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .args(args)
            .output()
            .expect("running elixir-scope")
    }

    fn attach(&self, extra: &[&str]) -> Output {
        let db = self.db();
        let mut args = vec![
            "attach",
            "--node",
            &self.name,
            "--cookie",
            COOKIE,
            "--db",
            db.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    fn detach(&self) -> Output {
        self.cli(&["detach", "--node", &self.name, "--cookie", COOKIE])
    }

    /// The calls of `module` as the CLI's JSON objects, oldest first.
    fn calls(&self, module: &str) -> Vec<Value> {
        let db = self.db();
        let output = self.cli(&[
            "calls",
            "--db",
            db.to_str().expect("utf-8 path"),
            "--module",
            module,
            "--limit",
            "100000",
            "--json",
        ]);
        check(&output, "elixir-scope calls");
        let mut calls: Vec<Value> =
            serde_json::from_slice(&output.stdout).expect("calls --json is JSON");
        calls.reverse();
        calls
    }

    /// Whether the target has any trace flag or pattern left: `clean` when not.
    fn trace_state(&self) -> String {
        self.eval(
            "Flags = [{P, F} || P <- erpc:call(T, erlang, processes, []), \
                                {flags, F} <- [erpc:call(T, erlang, trace_info, [P, flags])], \
                                F =/= []], \
             New = erpc:call(T, erlang, trace_info, [new, flags]), \
             Patterns = [MFA || {F, A} <- erpc:call(T, attach_target, module_info, [functions]), \
                                MFA <- [{attach_target, F, A}], \
                                erpc:call(T, erlang, trace_info, [MFA, traced]) =/= {traced, false}], \
             case {Flags, New, Patterns} of \
               {[], {flags, []}, []} -> io:format(\"clean\"); \
               Left -> io:format(\"~p\", [Left]) \
             end",
        )
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
        // The private epmd the first node started. It refuses `-kill` while a node is
        // registered, and notices a killed node's socket closing a moment later: retried.
        for _ in 0..50 {
            let killed = Command::new(executable("epmd", "erlang-nox"))
                .args(["-port", &self.epmd_port.to_string(), "-kill"])
                .output();
            let Ok(out) = killed else { break };
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // "Killed", or "Cannot connect to local epmd": gone either way. "Killing not
            // allowed - living nodes in database": not yet.
            if !said.contains("living nodes") {
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

fn find<'a>(calls: &'a [Value], function: &str) -> Vec<&'a Value> {
    calls.iter().filter(|c| c["function"] == function).collect()
}

/// Waits until the target's tracer stopped on its own (a limit).
fn wait_until_stopped(target: &Target) {
    let started = Instant::now();
    while target.eval("io:format(\"~p\", [erpc:call(T, elixir_scope_attach, status, [])])")
        != "not_attached"
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the limit never stopped tracing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn attach_records_a_plain_vm_and_detach_leaves_it_as_it_was() {
    let target = Target::start();
    let beam = target.dir.path().join("ebin/attach_target.beam");
    let debug_info = target.eval(&format!(
        "{{ok, {{_, [{{abstract_code, Code}}]}}}} = beam_lib:chunks({:?}, [abstract_code]), \
         io:format(\"~p\", [Code])",
        beam.to_str().expect("utf-8 path")
    ));
    assert_eq!(
        debug_info, "no_abstract_code",
        "the target module must have no debug info"
    );
    assert_eq!(target.trace_state(), "clean");

    let attached = target.attach(&["attach_target"]);
    check(&attached, "elixir-scope attach");
    let said = text(&attached);
    assert!(said.contains("attached to es_attach_target_"), "{said}");
    assert!(said.contains("11 functions of [attach_target]"), "{said}");
    // A node of this machine reads the installed runtime where it is: nothing copied.
    assert!(!said.contains("copied the runtime"), "{said}");
    assert!(
        said.contains("limits: 10000 calls per second, 100000 calls in all"),
        "{said}"
    );

    let checkout = target.eval(
        "io:format(\"~p\", [erpc:call(T, attach_target, checkout, \
                            [[{tea, 30, 2}, {cake, 50, 1}]])])",
    );
    assert!(checkout.starts_with("{110,"), "{checkout}");
    target.eval(
        "{welcome, \"ada\"} = erpc:call(T, attach_target, login, \
                                         [#{user => \"ada\", password => \"hunter2\"}])",
    );

    target.eval(
        "ok = erpc:call(T, attach_target, start_server, []), \
         {answer, tea} = erpc:call(T, attach_target, ask, [tea])",
    );

    let detached = target.detach();
    check(&detached, "elixir-scope detach");
    let said = text(&detached);
    assert!(said.contains("10 calls recorded (detached)"), "{said}");
    assert_eq!(target.trace_state(), "clean", "detach must leave no trace");

    let calls = target.calls("attach_target");
    let names: Vec<&str> = calls
        .iter()
        .map(|c| c["function"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "checkout",
            "total",
            "price",
            "price",
            "charge",
            "login",
            "start_server",
            "init",
            "ask",
            "handle_call"
        ]
    );
    let checkout = find(&calls, "checkout")[0];
    assert_eq!(checkout["parent"], Value::Null);
    assert_eq!(checkout["args"][0], "[{tea,30,2},{cake,50,1}]");
    assert_eq!(checkout["outcome"], "return");
    let total = find(&calls, "total")[0];
    assert_eq!(total["parent"], checkout["id"]);
    assert_eq!(total["result"], "110");
    for price in find(&calls, "price") {
        assert_eq!(price["parent"], total["id"]);
        assert_eq!(price["pid"], checkout["pid"]);
    }
    assert_eq!(find(&calls, "price")[0]["result"], "60");
    let charge = find(&calls, "charge")[0];
    assert_eq!(charge["parent"], checkout["id"]);
    assert_ne!(charge["outcome"], "return", "{charge}");
    assert!(
        charge["exception"].to_string().contains("card_declined"),
        "{charge}"
    );
    // Redaction applies to attached calls as to rewritten ones.
    let login = find(&calls, "login")[0].to_string();
    assert!(login.contains("REDACTED"), "{login}");
    assert!(!login.contains("hunter2"), "{login}");

    // The tree of the checkout, as for rewritten calls.
    let db = target.db();
    let id = checkout["id"].to_string();
    let tree = target.cli(&["trace", "--db", db.to_str().unwrap_or(""), &id]);
    check(&tree, "elixir-scope trace");
    let tree = String::from_utf8_lossy(&tree.stdout).into_owned();
    for part in [
        "attach_target:checkout(",
        "├── #",
        "attach_target:total([{tea,30,2},{cake,50,1}]) → 110",
        "attach_target:price({tea,30,2}) → 60",
        "attach_target:charge(110) ** error: {card_declined,110}",
    ] {
        assert!(tree.contains(part), "{part:?} not in:\n{tree}");
    }

    // A request served by an attached gen_server shows under the call that waited for it.
    let ask = find(&calls, "ask")[0]["id"].to_string();
    let tree = target.cli(&["trace", "--db", db.to_str().unwrap_or(""), &ask]);
    check(&tree, "elixir-scope trace");
    let tree = String::from_utf8_lossy(&tree.stdout).into_owned();
    for part in [
        "attach_target:ask(tea) → {answer,tea}",
        "(request) #",
        "attach_target:handle_call(tea,",
    ] {
        assert!(tree.contains(part), "{part:?} not in:\n{tree}");
    }

    // The recording says what was attached and why it stopped.
    let own = target.calls("elixir_scope_attach");
    let own_names: Vec<&str> = own
        .iter()
        .map(|c| c["function"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(own_names, ["attached", "stopped"]);
    assert_eq!(own[1]["result"], "detached");
}

#[test]
fn limits_stop_a_flood_cleanly() {
    let target = Target::start();
    // Copied over distribution, as for a node on another machine.
    let attached = target.attach(&[
        "--copy-runtime",
        "--limit",
        "50",
        "attach_target:price/1",
        "attach_target:flood",
    ]);
    check(&attached, "elixir-scope attach");
    assert!(
        text(&attached).contains("10000 calls per second, 50 calls in all"),
        "{}",
        text(&attached)
    );
    assert!(
        text(&attached).contains("copied the runtime"),
        "{}",
        text(&attached)
    );
    let loaded_from =
        target.eval("io:format(\"~s\", [erpc:call(T, code, which, [elixir_scope_runtime])])");
    let copy = target.dir.path().join("target_cache/elixir-scope");
    assert!(
        loaded_from.starts_with(copy.to_str().unwrap_or("?")),
        "the runtime runs from {loaded_from}, not from the copy under {copy:?}"
    );
    target.eval("ok = erpc:call(T, attach_target, flood, [1000])");
    wait_until_stopped(&target);
    assert_eq!(target.trace_state(), "clean", "a limit must leave no trace");
    let detached = target.detach();
    assert!(
        text(&detached).contains("50 calls recorded (total_limit)"),
        "{}",
        text(&detached)
    );

    let calls = target.calls("attach_target");
    assert_eq!(calls.len(), 50, "the total limit is exact");
    let flood = find(&calls, "flood")[0];
    // flood/1 may have returned before the limit's stop removed the flags (its end is then
    // recorded from the messages already sent), or not: then detach says it stays open.
    assert_eq!(
        flood["outcome"] == "running",
        text(&detached).contains("1 calls were still running"),
        "{flood}\n{}",
        text(&detached)
    );
    assert!(find(&calls, "price")
        .iter()
        .all(|price| price["parent"] == flood["id"]));
    let own = target.calls("elixir_scope_attach");
    assert_eq!(
        own.last().map(|c| c["result"].clone()),
        Some("total_limit".into())
    );

    // The rate limit: 1,000 calls in far less than a second, 100 allowed per second.
    let attached = target.attach(&["--rate", "100", "attach_target:price/1"]);
    check(&attached, "elixir-scope attach");
    target.eval("ok = erpc:call(T, attach_target, flood, [1000])");
    wait_until_stopped(&target);
    assert_eq!(target.trace_state(), "clean");
    let detached = target.detach();
    assert!(
        text(&detached).contains("(rate_limit)"),
        "{}",
        text(&detached)
    );
}

#[test]
fn attach_to_an_application_leaves_other_tracers_alone() {
    let target = Target::start();
    // dbg traces one process: attach leaves it to dbg.
    target.eval(
        "{ok, _} = erpc:call(T, dbg, tracer, []), \
         {ok, _} = erpc:call(T, dbg, p, [erpc:call(T, erlang, whereis, [erl_prim_loader]), [c]])",
    );
    let attached = target.attach(&["--app", "attach_app"]);
    check(&attached, "elixir-scope attach");
    assert!(
        text(&attached).contains("11 functions of [attach_target]"),
        "{}",
        text(&attached)
    );
    assert!(
        text(&attached).contains("left alone: 1 processes traced by another tracer"),
        "{}",
        text(&attached)
    );
    check(&target.detach(), "elixir-scope detach");
    let kept = target.eval(
        "Loader = erpc:call(T, erlang, whereis, [erl_prim_loader]), \
         {tracer, Tracer} = erpc:call(T, erlang, trace_info, [Loader, tracer]), \
         io:format(\"~p\", [{ok, Tracer} =:= erpc:call(T, dbg, get_tracer, [])])",
    );
    assert_eq!(kept, "true", "detach must not touch dbg's process");

    // A tracer killed from outside leaves its patterns (the VM drops only its flags): detach
    // removes them.
    check(&target.attach(&["attach_target"]), "elixir-scope attach");
    target.eval(
        "true = exit(erpc:call(T, erlang, whereis, [elixir_scope_attach]), kill), \
         timer:sleep(100)",
    );
    // Its session closed with it (the runtime monitors it): the flags it left record nothing.
    target.eval(
        "1 = erpc:call(T, attach_target, price, [{x, 1, 1}]), \
         0 = erpc:call(T, elixir_scope_nif, attach_calls, [])",
    );
    let cleaned = target.detach();
    check(&cleaned, "elixir-scope detach");
    assert!(
        text(&cleaned).contains("removed the 11 trace patterns it left"),
        "{}",
        text(&cleaned)
    );

    // dbg traces new processes: attach refuses, and says why.
    target.eval("{ok, _} = erpc:call(T, dbg, p, [new, [c]])");
    let refused = target.attach(&["attach_target"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("dbg traces new processes"),
        "{}",
        text(&refused)
    );
    target.eval("ok = erpc:call(T, dbg, stop, [])");
    assert_eq!(target.trace_state(), "clean");
}

/// A module in the wrapper shape of the runtime contract (as `instrument` rewrites one) that
/// calls a plain module; its call stays open a while, so that the tracer finds it open.
const MIXED_WRAPPED: &str = r#"
-module(mixed_wrapped).
-export([checkout/1]).
checkout(X) ->
    case elixir_scope_runtime:enter(mixed_wrapped, checkout, 1, [X]) of
        deep -> inner(X);
        Token ->
            try inner(X) of
                R -> elixir_scope_runtime:return(Token, R)
            catch
                C:E:S -> elixir_scope_runtime:exception(Token, C, E, S)
            end
    end.
inner(X) ->
    R = mixed_plain:price(X),
    receive after 300 -> R end.
"#;

const MIXED_PLAIN: &str = "-module(mixed_plain).\n-export([price/1]).\nprice(X) -> X * 2.\n";

#[test]
fn an_attached_call_goes_under_the_rewritten_call_open_in_its_process() {
    let vm = runtime_support::vm(true);
    for (name, source, options) in [
        ("mixed_wrapped.erl", MIXED_WRAPPED, &[][..]),
        ("mixed_plain.erl", MIXED_PLAIN, &["+no_debug_info"][..]),
    ] {
        let path = vm.dir.path().join(name);
        std::fs::write(&path, source).expect("source");
        let compiled = Command::new(executable("erlc", "erlang-nox"))
            .args(options)
            .arg("-o")
            .arg(&vm.ebin)
            .arg(&path)
            .output()
            .expect("erlc");
        check(&compiled, "erlc");
    }
    vm.eval(
        "{ok, #{mixed := true}} = elixir_scope_attach:attach([mixed_plain], #{mixed => true}), \
         42 = mixed_wrapped:checkout(21), \
         {ok, #{calls := 1}} = elixir_scope_attach:detach(), \
         halt().",
    );
    let store = vm.store();
    let snap = store.snapshot(None).expect("a run");
    let calls = snap
        .calls(&store::CallFilter {
            limit: 1000,
            ..Default::default()
        })
        .expect("calls");
    let checkout = calls
        .iter()
        .find(|c| c.module == "mixed_wrapped")
        .expect("the rewritten call");
    let price = calls
        .iter()
        .find(|c| c.module == "mixed_plain")
        .expect("the attached call");
    assert_eq!(price.parent, Some(checkout.id), "one tree: {calls:#?}");
    assert_eq!(price.pid, checkout.pid);
}

/// Rewritten functions (the wrapper shape of the runtime contract) around and under an
/// attached one: `top` and `outer` call `shared_plain:middle/1`, which calls `inner`.
const SHARED_WRAPPED: &str = r#"
-module(shared_wrapped).
-export([top/1, outer/1, inner/1]).
wrap(F, Args, Body) ->
    case elixir_scope_runtime:enter(shared_wrapped, F, length(Args), Args) of
        deep -> Body();
        Token ->
            try Body() of
                R -> elixir_scope_runtime:return(Token, R)
            catch
                C:E:S -> elixir_scope_runtime:exception(Token, C, E, S)
            end
    end.
%% outer({wait, From}) (which opens before attach), then middle(7) after outer returned.
top(X) -> wrap(top, [X], fun() -> outer(X) + shared_plain:middle(7) end).
outer({wait, From}) ->
    wrap(outer, [wait], fun() ->
                                From ! {waiting, self()},
                                receive go -> ok end,
                                shared_plain:middle(1)
                        end);
outer(N) -> wrap(outer, [N], fun() -> erlang:yield(), shared_plain:middle(N) end).
inner(N) -> wrap(inner, [N], fun() -> erlang:yield(), N * 2 end).
"#;

const SHARED_PLAIN: &str = "-module(shared_plain).\n-export([middle/1]).\n\
                            middle(N) -> erlang:yield(), shared_wrapped:inner(N) + 1.\n";

/// A rewritten function calling an attached one calling a rewritten one, in nine processes at
/// once: every call goes under the call that made it, in its own process. One process's
/// rewritten calls began before attaching (its dictionary is read when attaching), and the
/// attached call made after one of them ended goes under that one's parent.
#[test]
fn rewritten_attached_rewritten_is_one_tree_in_every_process_at_once() {
    let vm = runtime_support::vm(true);
    for (name, source, options) in [
        ("shared_wrapped.erl", SHARED_WRAPPED, &[][..]),
        ("shared_plain.erl", SHARED_PLAIN, &["+no_debug_info"][..]),
    ] {
        let path = vm.dir.path().join(name);
        std::fs::write(&path, source).expect("source");
        let compiled = Command::new(executable("erlc", "erlang-nox"))
            .args(options)
            .arg("-o")
            .arg(&vm.ebin)
            .arg(&path)
            .output()
            .expect("erlc");
        check(&compiled, "erlc");
    }
    vm.eval(
        "Self = self(), \
         ok = elixir_scope_runtime:start(), \
         Early = spawn(fun() -> Self ! {early, self(), shared_wrapped:top({wait, Self})} end), \
         receive {waiting, _} -> ok end, \
         {ok, #{mixed := true}} = elixir_scope_attach:attach([shared_plain], #{mixed => true}), \
         Early ! go, \
         Workers = [spawn(fun() -> \
                            [shared_wrapped:outer(I * 100 + J) || J <- lists:seq(1, 20)], \
                            Self ! {done, self()} \
                          end) || I <- lists:seq(1, 8)], \
         [receive {done, W} -> ok end || W <- Workers], \
         receive {early, Early, 18} -> ok end, \
         {ok, #{calls := 162, left_open := 0}} = elixir_scope_attach:detach(), \
         halt().",
    );
    let store = vm.store();
    let snap = store.snapshot(None).expect("a run");
    let calls = snap
        .calls(&store::CallFilter {
            limit: 10_000,
            ..Default::default()
        })
        .expect("calls");
    let by_id: std::collections::HashMap<u64, &store::Call> =
        calls.iter().map(|c| (c.id, c)).collect();
    let parent_of = |call: &store::Call| -> &store::Call {
        let parent = call
            .parent
            .and_then(|p| by_id.get(&p))
            .unwrap_or_else(|| panic!("no recorded parent: {call:#?}"));
        assert_eq!(
            parent.pid, call.pid,
            "a parent in another process: {call:#?}"
        );
        parent
    };
    let of = |function: &str| -> Vec<&store::Call> {
        calls.iter().filter(|c| c.function == function).collect()
    };
    let (middles, inners) = (of("middle"), of("inner"));
    assert_eq!(middles.len(), 162, "{calls:#?}");
    assert_eq!(inners.len(), 162);
    for middle in &middles {
        let parent = parent_of(middle);
        assert!(
            ["outer", "top"].contains(&parent.function.as_str()),
            "{middle:#?} under {parent:#?}"
        );
    }
    for inner in &inners {
        assert_eq!(parent_of(inner).function, "middle", "{inner:#?}");
    }
    // The process whose calls began before attaching.
    let top = of("top");
    assert_eq!(top.len(), 1);
    let mut early: Vec<&&store::Call> = middles.iter().filter(|m| m.pid == top[0].pid).collect();
    early.sort_by_key(|m| m.id);
    assert_eq!(early.len(), 2);
    let outer = of("outer")
        .into_iter()
        .find(|o| o.pid == top[0].pid)
        .expect("the early outer");
    assert_eq!(
        early[0].parent,
        Some(outer.id),
        "seeded: under the open outer"
    );
    assert_eq!(
        early[1].parent,
        Some(top[0].id),
        "after outer ended: under top"
    );
}

/// The IEx face: `ElixirScope.attach/2` and `detach/0` in a plain Elixir VM, the runtime
/// installed from the bundle, the calls read back with `ElixirScope.calls/1`.
#[test]
fn elixir_scope_attach_and_detach_in_an_elixir_vm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = dir.path().join("runtime");
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&runtime).expect("runtime dir");
    std::fs::create_dir(&ebin).expect("ebin");
    elixir_scope_cli::bundle::install(&runtime, "[]").expect("installing the runtime");
    let source = dir.path().join("attach_target.erl");
    std::fs::write(&source, TARGET_MODULE).expect("source");
    let compiled = Command::new(executable("erlc", "erlang-nox"))
        .args(["+no_debug_info", "-o"])
        .arg(&ebin)
        .arg(&source)
        .output()
        .expect("erlc");
    check(&compiled, "erlc");
    let script = r#"
        {:ok, info} = ElixirScope.attach([&:attach_target.price/1, {:attach_target, :total, 1}, {:attach_target, :charge, 1}], limit: 100)
        IO.puts("functions #{info.functions}, limit #{info.limit}, rate #{info.rate}")
        {110, _} = :attach_target.checkout([{:tea, 30, 2}, {:cake, 50, 1}])
        {:ok, %{calls: calls, reason: :detached}} = ElixirScope.detach()
        IO.puts("calls #{calls}")
        ElixirScope.calls(module: :attach_target, print: true)
        [raised] = ElixirScope.exceptions(module: :attach_target, print: false)
        IO.inspect(raised.exception, label: "exception")
        try do
          ElixirScope.attach(fn x -> x end)
        rescue
          e in ArgumentError -> IO.puts("refused: " <> Exception.message(e))
        end
        IO.inspect(ElixirScope.detach(), label: "second detach")
    "#;
    let output = Command::new(executable("elixir", "elixir"))
        .current_dir(dir.path())
        .env("ELIXIR_SCOPE_DB", dir.path().join("recording"))
        .env_remove("ELIXIR_SCOPE_NIF")
        .arg("-pa")
        .arg(&runtime)
        .arg("-pa")
        .arg(&ebin)
        .args(["-e", script])
        .output()
        .expect("running elixir");
    check(&output, "elixir");
    let out = String::from_utf8_lossy(&output.stdout);
    for part in [
        "functions 3, limit 100, rate 10000",
        "calls 4",
        // The VM gives no stack trace: said so, never an empty one.
        "exception: {:error, {:card_declined, 110}, :not_recorded}",
        ":attach_target.charge(110) ** (error) {:card_declined, 110}",
        ":attach_target.total([{:tea, 30, 2}, {:cake, 50, 1}]) → 110",
        ":attach_target.price({:cake, 50, 1}) → 50",
        "refused: ElixirScope.attach/2: expected a module",
        "second detach: {:ok,",
    ] {
        assert!(out.contains(part), "{part:?} not in:\n{out}");
    }
}
