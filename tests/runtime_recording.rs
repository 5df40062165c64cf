//! The runtime in a real VM: a hand-written module in the exact wrapper shape of the runtime
//! contract (tests/fixtures/runtime_fixture.erl) is called from many processes; the test then
//! reads the store and checks every call, its parent, arguments and outcome.

#[path = "runtime_support.rs"]
mod runtime_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use runtime_support::{check, text, vm};
use store::{Call, CallFilter, OriginKind, ServedRequest, Snapshot, TreeItem, TreeLimits};

/// Calls of one process, by function name.
fn by_function(calls: &[Call]) -> HashMap<String, Vec<&Call>> {
    let mut out: HashMap<String, Vec<&Call>> = HashMap::new();
    for c in calls {
        out.entry(c.function.clone()).or_default().push(c);
    }
    out
}

fn all_calls(snap: &Snapshot) -> Vec<Call> {
    snap.calls(&CallFilter {
        limit: 1_000_000,
        ..Default::default()
    })
    .unwrap()
}

fn result(call: &Call) -> String {
    text(&call.end.as_ref().expect("the call ended").value)
}

/// Event times keep to the VM's clock however long the run: a call's stored start is never
/// before an `erlang:monotonic_time()` read just ahead of the call (so `calls(since: T)` finds
/// it), nor far after it. (Calibrated once at start, the fast clock ran off by up to 50 ppm
/// either way, differently in each VM: -547 µs or +527 µs after 10 to 40 s.)
#[test]
fn a_call_starts_after_the_vm_time_read_before_it_even_seconds_into_a_run() {
    let vm = vm(true);
    let out = vm.eval(
        r#"
        ok = elixir_scope_runtime:start(#{}),
        Gaps = fun() ->
                   [begin
                        T = erlang:monotonic_time(nanosecond),
                        3 = runtime_fixture:add(1, 2),
                        ok = elixir_scope_runtime:flush(),
                        [#{start_ns := Start}] =
                            elixir_scope_query:calls(#{function => add, limit => 1}),
                        Start - T
                    end || _ <- lists:seq(1, 20)]
               end,
        First = Gaps(),
        timer:sleep(8000),
        Later = Gaps(),
        io:format("gaps ~w ~w~n", [lists:min(First), lists:min(Later)]),
        halt()."#,
    );
    let line = out.lines().find(|l| l.starts_with("gaps ")).expect(&out);
    let gaps: Vec<i64> = line[5..].split(' ').map(|g| g.parse().unwrap()).collect();
    // The smallest of 20 calls: a call's own path, a few µs (not a descheduled one).
    assert!(
        gaps.iter().all(|&g| (0..100_000).contains(&g)),
        "stored start minus the VM's time before, ns: {gaps:?}"
    );
}

#[test]
fn every_call_from_many_processes_is_stored_once_with_parent_arguments_and_outcome() {
    let vm = vm(true);
    let out = vm.eval(
        r#"
        0 = runtime_fixture:noop(0),
        Self = self(),
        Work = fun(N) ->
            55 = runtime_fixture:sum(lists:seq(1, 10)),
            [begin
                 {C, {bad, N}, Stack} = try runtime_fixture:fail(C, N) catch K:R:S -> {K, R, S} end,
                 C =:= error andalso io:format("stack ~w~n", [Stack])
             end || C <- [error, throw, exit]],
            Self ! {done, self()}
        end,
        Pids = [spawn(fun() -> Work(N) end) || N <- lists:seq(1, 20)],
        [receive {done, P} -> ok end || P <- Pids],
        halt()."#,
    );
    // The caller sees the stack trace the original code gives: no wrapper frames, original
    // names.
    // fail/2's body ends in a tail call to raise/2, so the original code's stack trace is
    // raise/2 over the caller's frames (erl_eval here).
    let stacks: Vec<&str> = out.lines().filter(|l| l.starts_with("stack ")).collect();
    assert_eq!(stacks.len(), 20);
    for line in stacks {
        assert!(!line.contains("elixir_scope:wrapper"), "{line}");
        assert!(!line.contains("es$"), "{line}");
        assert!(
            line.starts_with("stack [{runtime_fixture,raise,2,"),
            "{line}"
        );
        assert_eq!(line.matches("{runtime_fixture,").count(), 1, "{line}");
    }

    let store = vm.store();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let summary = runs[0]
        .summary
        .expect("halt/0 stops the runtime, which records a summary");
    assert_eq!(summary.counters.dropped, 0);
    assert_eq!(summary.counters.captured, summary.counters.stored);
    let snap = store.snapshot(None).unwrap();
    let calls = all_calls(&snap);
    // noop, then per process: sum + 10 adds, and 3 × (fail + 1 add).
    assert_eq!(calls.len(), 1 + 20 * 17);
    assert_eq!(snap.call_count().unwrap(), calls.len() as u64);
    assert!(calls.iter().all(|c| c.end.is_some()), "every call ended");

    let mut per_pid: HashMap<u64, Vec<Call>> = HashMap::new();
    for c in calls.iter().filter(|c| c.function != "noop") {
        per_pid.entry(c.pid).or_default().push(c.clone());
    }
    assert_eq!(per_pid.len(), 20);
    for (pid, calls) in &per_pid {
        let process = snap
            .process(*pid)
            .unwrap()
            .expect("the process was recorded");
        assert!(process.text.starts_with("<0."), "{}", process.text);
        assert!(
            process.origin.is_none(),
            "plain spawn: no $callers, no $ancestors"
        );
        let f = by_function(calls);
        let sum = f["sum"][0];
        assert_eq!(text(&sum.args), "[[1,2,3,4,5,6,7,8,9,10]]");
        assert_eq!(result(sum), "55");
        assert_eq!(sum.parent, None);
        assert_eq!(process.first_call, sum.id);
        let children = snap.children(sum.id, 100).unwrap();
        let adds: Vec<(String, String)> = children
            .iter()
            .map(|c| (text(&c.args), result(c)))
            .collect();
        let mut acc = 0;
        let expected: Vec<(String, String)> = (1..=10)
            .map(|x| {
                let pair = (format!("[{acc},{x}]"), format!("{}", acc + x));
                acc += x;
                pair
            })
            .collect();
        assert_eq!(adds, expected);
        assert_eq!(f["fail"].len(), 3);
        for fail in &f["fail"] {
            let class = fail.exception().expect("fail/2 raised");
            let eetf::Term::List(args) = runtime_support::term(&fail.args) else {
                panic!("arguments are a list")
            };
            let [eetf::Term::Atom(arg_class), eetf::Term::FixInteger(n)] = &args.elements[..]
            else {
                panic!("fail/2 arguments: {args}")
            };
            assert_eq!(arg_class.name, class.as_str());
            let n = n.value;
            let value = result(fail);
            assert!(
                value.starts_with(&format!("{{{{'bad',{n}}},[{{'runtime_fixture','raise',2,")),
                "{value}"
            );
            // No wrapper frame (it would be a second runtime_fixture frame), no inner name.
            assert_eq!(value.matches("{'runtime_fixture',").count(), 1, "{value}");
            assert!(!value.contains("es$"), "{value}");
            let nested = snap.children(fail.id, 10).unwrap();
            assert_eq!(nested.len(), 1);
            assert_eq!(text(&nested[0].args), format!("[{n},1]"));
            assert_eq!(nested[0].parent, Some(fail.id));
        }
        // The subtree of sum is sum and its adds, in start order.
        let tree = snap.subtree(sum.id, 100).unwrap().unwrap();
        assert_eq!(tree.calls.len(), 11);
        assert!(tree.calls.windows(2).all(|w| w[0].start <= w[1].start));
    }
}

#[test]
fn tail_calls_are_counted_and_the_first_ones_kept_with_arguments() {
    let vm = vm(true);
    vm.eval("210 = runtime_fixture:loop(20, 0), halt().");
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert_eq!(calls.len(), 1, "tail calls are not new calls");
    let call = &calls[0];
    assert_eq!(result(call), "210");
    assert_eq!(call.end.as_ref().unwrap().tail_calls, 20);
    let tails = snap.tail_calls(call.id).unwrap();
    assert_eq!(tails.len(), 8);
    assert_eq!(text(&tails[0].args), "[19,20]");
    assert_eq!(text(&tails[1].args), "[18,39]");
    assert!(tails.iter().all(|t| t.function == "loop" && t.arity == 2));
    assert!(tails.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn processes_started_by_a_call_link_back_to_it() {
    let vm = vm(true);
    vm.eval("6 = runtime_fixture:spawn_task(3), 5 = runtime_fixture:spawn_child(4), halt().");
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    let task = calls.iter().find(|c| c.function == "spawn_task").unwrap();
    let child = calls.iter().find(|c| c.function == "spawn_child").unwrap();
    for (starter, kind, args) in [
        (task, OriginKind::Caller, "[3,3]"),
        (child, OriginKind::Ancestor, "[4,1]"),
    ] {
        let add = calls
            .iter()
            .find(|c| c.function == "add" && text(&c.args) == args)
            .unwrap();
        assert_ne!(add.pid, starter.pid);
        assert_eq!(add.parent, None, "parents are calls of the same process");
        let process = snap.process(add.pid).unwrap().unwrap();
        let origin = process.origin.expect("origin recorded");
        assert_eq!(origin.kind, kind);
        assert_eq!(origin.pid, starter.pid);
        let linked = snap.origin_call(add.pid).unwrap().expect("origin call");
        assert_eq!(linked.id, starter.id);
    }
}

#[test]
fn a_gen_server_call_shows_under_the_client_call_that_waited_for_it() {
    let vm = vm(true);
    vm.eval(
        r#"
        {ok, Server} = gen_server:start(runtime_fixture, 0, []),
        42 = runtime_fixture:ask(Server, {double, 21}),
        10 = runtime_fixture:ask(Server, {double, 5}),
        {ok, Machine} = gen_statem:start(runtime_fixture, {statem, 0}, []),
        14 = runtime_fixture:ask(Machine, {double, 7}),
        %% A handle_call/3 called directly, From naming the caller itself: no request.
        {reply, 2, 1} = runtime_fixture:handle_call({double, 1}, {self(), tag}, 0),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    let asks: Vec<&Call> = calls.iter().filter(|c| c.function == "ask").collect();
    assert_eq!(asks.len(), 3);
    let client = asks[0].pid;
    for ask in asks {
        let tree = snap.tree(ask.id, &TreeLimits::DEFAULT).unwrap().unwrap();
        let requests: Vec<&ServedRequest> = tree
            .lines
            .iter()
            .filter_map(|line| match &line.item {
                TreeItem::Request(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(requests.len(), 1, "{:?}", tree.lines);
        let served = &requests[0].call;
        assert_ne!(served.pid, ask.pid);
        assert_eq!(requests[0].pid, served.pid);
        if result(ask) == "14" {
            // The gen_statem's state function, its reply in its actions.
            assert_eq!(served.function, "idle");
            assert!(result(served).contains("[{'reply',"), "{}", result(served));
            assert_eq!(
                snap.running_call(ask.pid, served).unwrap().unwrap().id,
                ask.id
            );
            continue;
        }
        assert_eq!(served.function, "handle_call");
        let doubled = if text(&ask.args).contains("21") {
            42
        } else {
            10
        };
        assert!(
            result(served).starts_with(&format!("{{'reply',{doubled},")),
            "{}",
            result(served)
        );
        assert_eq!(
            snap.running_call(ask.pid, served).unwrap().unwrap().id,
            ask.id
        );
    }
    // The direct call is the caller's own call; nothing shows it as a request.
    let direct: Vec<&Call> = calls
        .iter()
        .filter(|c| c.function == "handle_call" && c.pid == client)
        .collect();
    assert_eq!(direct.len(), 1);
    let tree = snap
        .tree(direct[0].id, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(tree.lines.len(), 1, "{:?}", tree.lines);
}

#[test]
fn recording_pauses_and_resumes_globally_and_per_module_and_a_normal_stop_flushes() {
    let vm = vm(true);
    vm.eval(
        r#"
        %% Before the runtime starts, the installed default gate asks recording/1.
        Default = code:which(elixir_scope_gate),
        true = is_list(Default) andalso filename:extension(Default) =:= ".beam",
        runtime_fixture:noop(1),
        true = persistent_term:get(elixir_scope_recording),
        true = elixir_scope_gate:on(runtime_fixture),
        "elixir_scope_gate (generated" ++ _ = code:which(elixir_scope_gate),
        ok = elixir_scope_runtime:pause(),
        paused = elixir_scope_runtime:status(),
        false = persistent_term:get(elixir_scope_recording),
        false = elixir_scope_gate:on(runtime_fixture),
        false = elixir_scope_gate:on(other_module),
        runtime_fixture:noop(2),
        ok = elixir_scope_runtime:resume(),
        true = elixir_scope_gate:on(runtime_fixture),
        runtime_fixture:noop(3),
        ok = elixir_scope_runtime:pause(runtime_fixture),
        partial = persistent_term:get(elixir_scope_recording),
        false = elixir_scope_runtime:recording(runtime_fixture),
        true = elixir_scope_runtime:recording(other_module),
        false = elixir_scope_gate:on(runtime_fixture),
        true = elixir_scope_gate:on(other_module),
        runtime_fixture:noop(4),
        ok = elixir_scope_runtime:pause(),
        ok = elixir_scope_runtime:resume(),
        runtime_fixture:noop(5),
        ok = elixir_scope_runtime:resume(runtime_fixture),
        true = persistent_term:get(elixir_scope_recording),
        runtime_fixture:noop(6),
        ok = elixir_scope_runtime:pause(other_module),
        put('$elixir_scope_in_runtime', true),
        false = elixir_scope_runtime:recording(runtime_fixture),
        erase('$elixir_scope_in_runtime'),
        false = elixir_scope_gate:on(other_module),
        true = elixir_scope_gate:on(runtime_fixture),
        %% Pauses and resumes from many processes at once, while others call through the
        %% gate: the changes apply one at a time, and the last gate agrees with the state.
        Self = self(),
        Callers = [spawn(fun Call() -> _ = elixir_scope_gate:on(m1), Call() end)
                   || _ <- [1, 2]],
        Changers = [spawn(fun() ->
                              [begin
                                   ok = elixir_scope_runtime:pause(M),
                                   ok = elixir_scope_runtime:resume(M)
                               end || _ <- lists:seq(1, 5)],
                              ok = elixir_scope_runtime:pause(M),
                              Self ! {changed, self()}
                          end) || M <- [m1, m2, m3, m4]],
        [receive {changed, P} -> ok end || P <- Changers],
        [exit(P, kill) || P <- Callers],
        {running, #{m1 := true, m2 := true, m3 := true, m4 := true, other_module := true}} =
            persistent_term:get(elixir_scope_state),
        [false = elixir_scope_gate:on(M) || M <- [m1, m2, m3, m4, other_module]],
        true = elixir_scope_gate:on(runtime_fixture),
        ok = elixir_scope_runtime:pause(runtime_fixture),
        init:stop()."#,
    );
    let store = vm.store();
    let snap = store.snapshot(None).unwrap();
    let mut args: Vec<String> = all_calls(&snap).iter().map(|c| text(&c.args)).collect();
    args.reverse();
    assert_eq!(args, ["[1]", "[3]", "[6]"]);
    let summary = store.runs().unwrap()[0].summary;
    assert!(
        summary.is_some(),
        "init:stop/0 flushes and records the summary"
    );
}

#[test]
fn stored_calls_are_queryable_from_the_vm_without_a_flush_and_flush_stores_everything() {
    let vm = vm(true);
    let out = vm.eval(
        r#"
        3 = runtime_fixture:add(1, 2),
        Wait = fun W(0) -> timeout;
                   W(K) -> case elixir_scope_runtime:calls(#{module => runtime_fixture}) of
                               [#{function := add, args := [1, 2], value := 3, outcome := return}] -> found;
                               _ -> timer:sleep(5), W(K - 1)
                           end
               end,
        found = Wait(2000),
        [runtime_fixture:add(I, I) || I <- lists:seq(1, 500)],
        ok = elixir_scope_runtime:flush(),
        #{captured := 1002, stored := 1002, durable := 1002, dropped := 0, in_ring := 0} =
            elixir_scope_runtime:stats(),
        501 = length(elixir_scope_runtime:calls(#{function => add, limit => 1000})),
        [#{id := Id, args := [500, 500]}] = elixir_scope_runtime:calls(#{limit => 1}),
        #{value := 1000, pid := Pid} = elixir_scope_runtime:call(Id),
        true = is_binary(Pid),
        undefined = elixir_scope_runtime:call(999999),
        [] = elixir_scope_runtime:calls(#{exceptions => true}),
        io:format("ok~n"),
        halt()."#,
    );
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn random_terms_are_captured_exactly_wherever_nothing_was_cut() {
    // Terms of every shape the capture reads from memory (small integers, atoms, lists,
    // tuples, maps of up to 32 keys, binaries of up to 64 bytes, floats) or asks the VM about
    // (big integers, large maps, longer and sub binaries, bitstrings, pids, references,
    // funs), nested at random: each argument read back equals the one passed, unless the
    // capture marked a cut in it.
    let vm = vm(true);
    let out = vm.eval(
        r#"
        rand:seed(exsss, {7, 11, 13}),
        Pick = fun(L) -> lists:nth(rand:uniform(length(L)), L) end,
        Big = binary:copy(<<"0123456789">>, 20),
        Leaf = fun() ->
            Pick([rand:uniform(2000) - 1000, (1 bsl 70) + rand:uniform(100), -(1 bsl 62),
                  rand:uniform() * 1.0e6, -0.0, 1.0e300, ok, 'é', 'Elixir.Foo', true, [],
                  <<"Ada">>, <<>>, binary:copy(<<"x">>, 65), binary:part(Big, 3, 20),
                  binary:part(Big, 1, 150), <<1:3>>, self(), make_ref(), fun lists:map/2,
                  "héllo €", {}, #{}])
        end,
        Gen = fun G(0) -> Leaf();
                  G(D) ->
                      N = rand:uniform(6) - 1,
                      Kids = fun() -> [G(D - 1) || _ <- lists:seq(1, N)] end,
                      case rand:uniform(9) of
                          1 -> Kids();
                          2 -> list_to_tuple(Kids());
                          3 -> maps:from_list([{Pick([a, b, c, d, e, f]), G(D - 1)} || _ <- lists:seq(1, N)]);
                          4 -> maps:from_list([{rand:uniform(100), G(D - 1)} || _ <- lists:seq(1, 40)]);
                          5 -> maps:from_list([{list_to_binary([$k | integer_to_list(I)]), G(D - 1)} || I <- lists:seq(1, N)]);
                          6 -> [G(D - 1) | G(D - 1)];
                          7 -> {G(D - 1), G(D - 1)};
                          _ -> Leaf()
                      end
              end,
        Terms = [Gen(3) || _ <- lists:seq(1, 400)],
        [T = runtime_fixture:noop(T) || T <- Terms],
        ok = elixir_scope_runtime:flush(),
        Calls = lists:reverse(elixir_scope_runtime:calls(#{function => noop, limit => 1000})),
        400 = length(Calls),
        Cut = fun C({'$elixir_scope_cut', _, _}) -> true;
                  C([H | T]) -> C(H) orelse C(T);
                  C(T) when is_tuple(T) -> C(tuple_to_list(T));
                  C(M) when is_map(M) -> C(maps:to_list(M));
                  C(_) -> false
              end,
        %% Each argument, and each result (the same term: noop/1 returns it).
        Compared = [{T, C} || {T, #{args := [A], value := V}} <- lists:zip(Terms, Calls),
                              C <- [A, V], not Cut(C)],
        Wrong = [{T, C} || {T, C} <- Compared, T =/= C],
        io:format("compared ~p wrong ~p~n", [length(Compared), length(Wrong)]),
        [io:format("passed ~p~ncaptured ~p~n", [T, C]) || {T, C} <- lists:sublist(Wrong, 3)],
        halt()."#,
    );
    let compared: usize = out
        .split_once("compared ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(out.contains("wrong 0\n"), "{out}");
    assert!(
        compared > 250,
        "only {compared} of 800 values were captured whole: {out}"
    );
}

#[test]
fn huge_arguments_are_captured_cut_and_small() {
    let vm = vm(true);
    vm.eval(
        r#"
        100000000 = runtime_fixture:big(binary:copy(<<"x">>, 100000000)),
        1000000 = runtime_fixture:big(lists:seq(1, 1000000)),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert!(c.args.len() < 4096, "{} bytes of arguments", c.args.len());
        let args = text(&c.args);
        assert!(args.contains("$elixir_scope_cut"), "{args}");
    }
    let binary = text(&calls[1].args);
    assert!(
        binary.starts_with("[{'$elixir_scope_cut','binary',{100000000,<<120,"),
        "{binary}"
    );
    // The argument list is whole (one argument); the cut list ends in the marker element.
    let list = text(&calls[0].args);
    assert!(
        list.ends_with(",{'$elixir_scope_cut','list','more'}]]"),
        "{list}"
    );
    assert!(!list.contains('|'), "a proper list: {list}");
}

#[test]
fn without_the_library_wrapped_code_runs_unrecorded_and_says_why() {
    let vm = vm(false);
    let output = vm
        .command(
            r#"
        3 = runtime_fixture:add(1, 2),
        {failed, {nif_not_loaded, Tried}} = elixir_scope_runtime:status(),
        {error, {failed, {nif_not_loaded, _}}} = elixir_scope_runtime:stats(),
        6 = runtime_fixture:add(3, 3),
        io:format("tried ~p~n", [length(Tried)]),
        halt()."#,
        )
        .output()
        .unwrap();
    check(&output);
    // Standard output is the program's alone; the warning goes, once, to standard error.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "tried 4\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("recording is off").count(), 1, "{stderr}");
    assert!(!vm.db.exists(), "nothing was recorded");
}

#[test]
fn the_library_is_found_through_elixir_scope_nif() {
    let vm = vm(false);
    let output = vm
        .command("3 = runtime_fixture:add(1, 2), running = elixir_scope_runtime:status(), halt().")
        .env("ELIXIR_SCOPE_NIF", runtime_support::nif_library())
        .output()
        .unwrap();
    runtime_support::check(&output);
    assert_eq!(vm.store().snapshot(None).unwrap().call_count().unwrap(), 1);
}

/// A truncated library (a copy cut short, a full disk) is refused before the dynamic loader
/// maps it: loading it took the VM down with SIGBUS (issue 13, item 10).
#[test]
fn a_truncated_library_is_refused_and_the_vm_goes_on_unrecorded() {
    let vm = vm(false);
    let full = std::fs::read(runtime_support::nif_library()).unwrap();
    let sizes = [100, 4096, 65536, full.len() / 2, full.len() - 1];
    for size in sizes {
        std::fs::write(vm.dir.path().join(format!("cut_{size}.so")), &full[..size]).unwrap();
    }
    let list: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    let output = vm
        .command(&format!(
            r#"Cut = fun(N) -> "cut_" ++ integer_to_list(N) end,
            Refused = [elixir_scope_nif:load(Cut(N)) || N <- [{list}]],
            [{{error, {{bad_library, _, {{truncated, _}}}}}} = R || R <- Refused],
            3 = runtime_fixture:add(1, 2),
            {{failed, {{nif_not_loaded, [{{_, {{bad_library, _, _}}}} | _]}}}} = elixir_scope_runtime:status(),
            6 = runtime_fixture:add(3, 3),
            io:format("~p~n", [Refused]), halt()."#,
            list = list.join(", ")
        ))
        .env(
            "ELIXIR_SCOPE_NIF",
            vm.dir.path().join(format!("cut_{}.so", full.len() / 2)),
        )
        .output()
        .unwrap();
    runtime_support::check(&output);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("bad_library"), "{said}");
    assert!(!vm.db.exists(), "nothing was recorded");
}

#[test]
fn many_processes_racing_to_start_the_runtime_start_it_once() {
    let vm = vm(true);
    vm.eval(
        r#"
        Self = self(),
        Pids = [spawn(fun() -> Self ! {self(), runtime_fixture:add(N, N)} end)
                || N <- lists:seq(1, 50)],
        [receive {P, R} when is_integer(R) -> ok end || P <- Pids],
        running = elixir_scope_runtime:status(),
        halt()."#,
    );
    let store = vm.store();
    assert_eq!(store.runs().unwrap().len(), 1);
    // Calls made while another process was starting the runtime are not recorded; the rest are.
    let count = store.snapshot(None).unwrap().call_count().unwrap();
    assert!(count <= 50, "{count}");
}

#[test]
fn after_kill_9_the_store_reads_every_sealed_event_without_a_write_and_a_live_run_reads_too() {
    let vm = vm(true);
    let mut child = vm.spawn(
        r#"
        [runtime_fixture:add(I, 0) || I <- lists:seq(1, 1000)],
        ok = elixir_scope_runtime:flush(),
        io:format("flushed~n"),
        spawn(fun() -> runtime_fixture:flood(7) end),
        Report = fun R() ->
                     #{durable := D} = elixir_scope_runtime:stats(),
                     io:format("durable ~p~n", [D]),
                     timer:sleep(100),
                     R()
                 end,
        Report()."#,
    );
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut flushed = false;
    let mut durable = 0u64;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "flushed" {
            flushed = true;
        }
        if let Some(d) = line.strip_prefix("durable ") {
            durable = d.parse().unwrap();
            // A checkpoint on the timer (not the flush) made more of the flood durable.
            if durable > 2000 + 20_000 {
                break;
            }
        }
    }
    assert!(flushed, "the VM never flushed");
    // While the VM records, another process reads its run: live, with what it sealed.
    let reader = store::StoreReader::open(&vm.db).unwrap();
    let live = &reader.runs().unwrap()[0];
    assert_eq!(live.state(), "recording");
    let seen = reader.snapshot(None).unwrap().call_count().unwrap();
    assert!(
        seen >= 2000,
        "a reader sees the sealed calls of a live run: {seen}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // What the killed VM left reads without writing a byte (as from a read-only copy).
    let before = files_with_times(&vm.db);
    let store = store::StoreReader::open(&vm.db).unwrap();
    let run = &store.runs().unwrap()[0];
    assert_eq!(run.state(), "killed", "a killed VM records no summary");
    let snap = store.snapshot(None).unwrap();
    let flushed_calls = snap
        .calls(&CallFilter {
            function: Some("add".into()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(flushed_calls.len(), 1000, "every flushed call survived");
    assert!(flushed_calls.iter().all(|c| c.end.is_some()));
    // Every event of the last durable commit survived: the newest segment counts them, and the
    // calls hold them (two events per call; the ends of a few calls whose starts a later seal
    // holds may come first, when the process moved to another scheduler's lane).
    assert!(
        run.counters.stored >= durable,
        "{:?} after {durable} durable events",
        run.counters
    );
    let count = snap.call_count().unwrap();
    assert!(
        count * 2 + 1000 >= durable,
        "{count} calls for {durable} durable events"
    );
    assert_eq!(
        files_with_times(&vm.db),
        before,
        "reading changed the recording"
    );
}

/// Every file under `dir` with its bytes and modification time.
fn files_with_times(
    dir: &std::path::Path,
) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_with_times(&path));
        } else {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            out.push((path.clone(), std::fs::read(&path).unwrap(), modified));
        }
    }
    out.sort();
    out
}

#[test]
fn an_overflowing_ring_drops_whole_calls_never_a_call_without_its_end() {
    let vm = vm(true);
    // A ring of 32 events per lane: sum/1 makes 2,000 nested calls far faster than the drain
    // takes them, so most are dropped.
    vm.eval(
        r#"
        ok = elixir_scope_runtime:start(#{ring_capacity => 96, overflow => drop}),
        [2001000 = runtime_fixture:sum(lists:seq(1, 2000)) || _ <- lists:seq(1, 20)],
        halt()."#,
    );
    let store = vm.store();
    let summary = store.runs().unwrap()[0].summary.expect("a normal stop");
    assert!(summary.counters.dropped > 0, "the ring should overflow");
    assert_eq!(
        summary.counters.captured,
        summary.counters.dropped + summary.counters.stored
    );
    let snap = store.snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert!(calls.len() > 20, "some calls are kept: {}", calls.len());
    // Every kept call has its end (a dropped end would show as a call that never returned),
    // and every event kept belongs to a kept call.
    let open: Vec<_> = calls.iter().filter(|c| c.end.is_none()).collect();
    assert!(open.is_empty(), "calls without their end: {open:?}");
    assert_eq!(summary.counters.stored, 2 * calls.len() as u64);
    // A kept call's parent is kept, or it has none (its caller was dropped).
    let ids: std::collections::HashSet<u64> = calls.iter().map(|c| c.id).collect();
    for c in &calls {
        if let Some(parent) = c.parent {
            assert!(
                ids.contains(&parent),
                "call {} has a parent not stored",
                c.id
            );
        }
    }
}

#[test]
fn with_overflow_block_the_same_flood_loses_nothing() {
    let vm = vm(true);
    // The flood of the test above, into the same tiny ring: the recording processes wait for
    // the drain instead of dropping (two processes, so that waits interleave).
    vm.eval(
        r#"
        ok = elixir_scope_runtime:start(#{ring_capacity => 96, overflow => block}),
        Self = self(),
        Pids = [spawn(fun() ->
                              [2001000 = runtime_fixture:sum(lists:seq(1, 2000))
                               || _ <- lists:seq(1, 10)],
                              Self ! {done, self()}
                      end) || _ <- [1, 2]],
        [receive {done, P} -> ok end || P <- Pids],
        halt()."#,
    );
    let store = vm.store();
    let summary = store.runs().unwrap()[0].summary.expect("a normal stop");
    assert_eq!(summary.counters.dropped, 0, "{summary:?}");
    assert_eq!(summary.counters.captured, summary.counters.stored);
    let snap = store.snapshot(None).unwrap();
    let calls = all_calls(&snap);
    // 20 sums of 2,000 elements: 2,001 calls each (the empty list ends it).
    assert_eq!(calls.len(), 20 * 2001, "every call is stored");
    assert!(calls.iter().all(|c| c.end.is_some()));
    // Two events per call, and the ends of the two processes that the watcher recorded before
    // the VM halted (it may halt before their DOWN is handled).
    let exits = snap.exits().unwrap().len() as u64;
    assert!(exits <= 2, "{exits}");
    assert_eq!(summary.counters.stored, 2 * calls.len() as u64 + exits);
}

#[test]
fn with_overflow_block_tests_reported_in_a_burst_are_all_kept() {
    let vm = vm(true);
    // Two processes report 500 tests each as fast as they can, after a flood of calls, into
    // the tiny ring: run events wait for room as calls do, none is lost.
    vm.eval(
        r#"
        ok = elixir_scope_runtime:start(#{ring_capacity => 96, overflow => block}),
        Self = self(),
        Pids = [spawn(fun() ->
                              2001000 = runtime_fixture:sum(lists:seq(1, 2000)),
                              [ok = elixir_scope_runtime:test_finished(
                                      #{framework => eunit, module => burst,
                                        name => iolist_to_binary(io_lib:format("~p ~p", [P, N])),
                                        outcome => passed})
                               || N <- lists:seq(1, 500)],
                              Self ! {done, self()}
                      end) || P <- [1, 2]],
        [receive {done, Pid} -> ok end || Pid <- Pids],
        halt()."#,
    );
    let store = vm.store();
    let summary = store.runs().unwrap()[0].summary.expect("a normal stop");
    assert_eq!(summary.counters.dropped, 0, "{summary:?}");
    let snap = store.snapshot(None).unwrap();
    let mut names: Vec<String> = snap
        .tests()
        .unwrap()
        .into_iter()
        .map(|t| t.test.name)
        .collect();
    names.sort();
    let mut expected: Vec<String> = (1..=2)
        .flat_map(|p| (1..=500).map(move |n| format!("{p} {n}")))
        .collect();
    expected.sort();
    assert_eq!(names.len(), expected.len(), "every test reported is stored");
    assert_eq!(names, expected);
    assert_eq!(all_calls(&snap).len(), 2 * 2001, "every call is stored");
}

#[test]
fn a_flood_from_many_processes_drops_and_counts_while_memory_stays_bounded() {
    let vm = vm(true);
    let mut child = vm.spawn(
        r#"
        ok = elixir_scope_runtime:start(#{ring_capacity => 4096, ring_bytes => 1048576,
                                          batch_events => 512, batch_bytes => 262144,
                                          channel_batches => 2, overflow => drop}),
        io:format("ready ~s~n", [os:getpid()]),
        Arg = binary:copy(<<"y">>, 1000),
        Workers = [spawn(fun() -> runtime_fixture:flood(Arg) end) || _ <- lists:seq(1, 50)],
        timer:sleep(4000),
        %% Killing is asynchronous: wait until every worker is gone, so that nothing is
        %% captured after the flush below.
        [begin
             Ref = monitor(process, W),
             exit(W, kill),
             receive {'DOWN', Ref, process, W, _} -> ok end
         end || W <- Workers],
        ok = elixir_scope_runtime:flush(),
        #{captured := C, dropped := D, stored := S, in_ring := 0, memory_bound := B} =
            elixir_scope_runtime:stats(),
        io:format("final ~p ~p ~p ~p~n", [C, D, S, B]),
        halt()."#,
    );
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next().unwrap().unwrap();
    let os_pid: u32 = ready.strip_prefix("ready ").unwrap().parse().unwrap();
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{os_pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
            * 1024
    };
    let start = rss();
    let mut peak = start;
    for _ in 0..35 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss());
    }
    let last = lines.next().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    let numbers: Vec<u64> = last
        .strip_prefix("final ")
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (captured, dropped, stored, bound) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    assert!(dropped > 0, "the flood should overflow the ring");
    assert_eq!(
        captured,
        dropped + stored,
        "every event is stored or counted as dropped"
    );
    // Unbounded buffering of ~1 KB events at this rate would take gigabytes; the runtime holds
    // at most the memory bound plus the store's page cache, and the VM's own allocations.
    let growth = peak.saturating_sub(start);
    eprintln!(
        "flood: {captured} captured, {dropped} dropped, RSS {} MB -> peak {} MB",
        start >> 20,
        peak >> 20
    );
    let allowed = bound + 16 * 1024 * 1024 + 128 * 1024 * 1024;
    assert!(
        growth <= allowed,
        "RSS grew by {} MB (bound {} MB) while {captured} events were captured",
        growth >> 20,
        allowed >> 20
    );
}

#[test]
fn several_vms_record_into_one_store_at_once_while_a_reader_reads_every_run() {
    let vm = vm(true);
    // Each VM's standard output is its product: the sum of its calls' results, and nothing
    // else (the runtime writes nothing there). Its counters go to standard error.
    let program = r#"
        Sum = lists:foldl(fun(Round, Acc) ->
                                  S = lists:sum([runtime_fixture:add(I, Round)
                                                 || I <- lists:seq(1, 1000)]),
                                  timer:sleep(40),
                                  Acc + S
                          end, 0, lists:seq(1, 20)),
        io:format("~p~n", [Sum]),
        ok = elixir_scope_runtime:flush(),
        #{captured := C, dropped := D, stored := S, run := R} = elixir_scope_runtime:stats(),
        io:format(standard_error, "run ~p captured ~p dropped ~p stored ~p~n", [R, C, D, S]),
        halt()."#;
    let expected_sum: u64 = (1..=20u64)
        .map(|round| (1..=1000u64).map(|i| i + round).sum::<u64>())
        .sum();
    let children: Vec<_> = (0..3).map(|_| vm.spawn(program)).collect();
    // The CLI in a loop while they record: it never fails, and what it sees only grows.
    let db = vm.db.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen: HashMap<u64, u64> = HashMap::new();
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                if db.join("runs").is_dir() {
                    let output = std::process::Command::new(support::elixir_scope_bin())
                        .args(["stats", "--json", "--db"])
                        .arg(&db)
                        .output()
                        .unwrap();
                    let stats: serde_json::Value = match serde_json::from_slice(&output.stdout) {
                        Ok(stats) => stats,
                        // No run sealed a segment yet: nothing to read.
                        Err(_)
                            if String::from_utf8_lossy(&output.stderr)
                                .contains("no recorded run") =>
                        {
                            continue
                        }
                        Err(e) => panic!("elixir-scope stats while VMs record: {e}: {output:?}"),
                    };
                    for run in stats["runs"].as_array().unwrap() {
                        let (id, calls) =
                            (run["run"].as_u64().unwrap(), run["calls"].as_u64().unwrap());
                        let before = seen.insert(id, calls).unwrap_or(0);
                        assert!(calls >= before, "run {id} went from {before} to {calls}");
                        reads += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            reads
        })
    };
    let mut counters = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        check(&output);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{expected_sum}\n"),
            "a recording VM's standard output is the program's, byte for byte"
        );
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let line = stderr
            .lines()
            .find(|l| l.starts_with("run "))
            .expect(&stderr)
            .to_owned();
        let n: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        counters.push((n[0], n[1], n[2], n[3]));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let reads = reader.join().unwrap();
    assert!(reads > 0, "the CLI read while the VMs recorded");
    let reader = store::StoreReader::open(&vm.db).unwrap();
    let runs = reader.runs().unwrap();
    assert_eq!(runs.len(), 3, "one run per VM");
    for (run, captured, dropped, stored) in counters {
        let found = runs.iter().find(|r| r.id == run).expect("the VM's run");
        assert_eq!(found.state(), "ended");
        assert_eq!(
            (dropped, captured),
            (0, stored),
            "run {run} kept everything"
        );
        let summary = found.summary.unwrap().counters;
        assert_eq!(
            (summary.captured, summary.stored, summary.dropped),
            (captured, stored, 0)
        );
        let snap = reader.snapshot(Some(run)).unwrap();
        assert_eq!(snap.call_count().unwrap(), 20_000, "run {run}");
        assert_eq!(2 * snap.call_count().unwrap(), stored);
    }
}

#[test]
fn a_tampered_process_dictionary_never_makes_a_wrapped_call_raise() {
    let vm = vm(true);
    vm.eval(
        r#"
        erase = runtime_fixture:tamper(erase),
        huge_count = runtime_fixture:tamper(huge_count),
        garbage = runtime_fixture:tamper(garbage),
        {'EXIT', {raised, _}} = (catch runtime_fixture:tamper(raise_after_erase)),
        %% The raw NIFs answer bad arguments with badarg, as rustler's do.
        {'EXIT', {badarg, _}} = (catch elixir_scope_nif:enter(m, f, x, [], none)),
        {'EXIT', {badarg, _}} = (catch elixir_scope_nif:enter("m", f, 1, [], none)),
        {'EXIT', {badarg, _}} = (catch elixir_scope_nif:tail_call(id, 0, m, f, 1, [])),
        ok = elixir_scope_nif:call_return(garbage, garbage, result),
        3 = runtime_fixture:add(1, 2),
        ok = elixir_scope_runtime:flush(),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert_eq!(calls.len(), 5, "every call is still recorded");
    let huge = calls
        .iter()
        .find(|c| text(&c.args) == "['huge_count']")
        .unwrap();
    assert_eq!(
        huge.end.as_ref().unwrap().tail_calls,
        u32::MAX,
        "the count saturates"
    );
}

#[test]
fn a_loop_through_remote_self_calls_stops_growing_the_stack_at_the_depth_cap() {
    // countdown/2 calls ?MODULE:countdown/2 in tail position: each iteration is a recorded call
    // that stays open, one recorder frame each, up to the runtime's cap of 1,000 open calls.
    let vm = vm(true);
    let out = vm.eval(
        r#"
        Short = runtime_fixture:countdown(1500, return),
        Long = runtime_fixture:countdown(100000, return),
        {'EXIT', {{bottom, _}, [{runtime_fixture, countdown, 2, _} | _]}} =
            (catch runtime_fixture:countdown(5000, raise)),
        6 = runtime_fixture:sum([1, 2, 3]),
        ok = elixir_scope_runtime:flush(),
        io:format("stack ~p ~p~n", [Short, Long]),
        halt()."#,
    );
    let words: Vec<u64> = out
        .lines()
        .find_map(|l| l.strip_prefix("stack "))
        .expect("the stack sizes")
        .split(' ')
        .map(|w| w.trim().parse().unwrap())
        .collect();
    assert_eq!(
        words[0], words[1],
        "past the cap, iterations add nothing to the stack"
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    let countdowns = |mode: &str| {
        let mut found: Vec<&Call> = calls
            .iter()
            .filter(|c| {
                c.function == "countdown" && text(&c.args).ends_with(&format!(",'{mode}']"))
            })
            .collect();
        found.sort_by_key(|c| c.id);
        found
    };
    let returned = countdowns("return");
    assert_eq!(returned.len(), 2000, "1,000 recorded calls per countdown");
    let long = &returned[1000..];
    assert_eq!(text(&long[0].args), "[100000,'return']");
    assert_eq!(text(&long[999].args), "[99001,'return']");
    assert_eq!(long[999].parent, Some(long[998].id));
    assert_eq!(
        result(long[999]),
        words[1].to_string(),
        "the deepest recorded call returned"
    );
    let raised = countdowns("raise");
    assert_eq!(raised.len(), 1000);
    assert!(raised.iter().all(|c| c
        .end
        .as_ref()
        .is_some_and(|e| e.outcome == store::Outcome::Exception(store::Class::Error))));
    // The open calls ended, so the process records again from the top.
    let sum = calls.iter().find(|c| c.function == "sum").unwrap();
    assert_eq!(sum.parent, None);
    let adds = calls
        .iter()
        .filter(|c| c.function == "add" && c.parent == Some(sum.id))
        .count();
    assert_eq!(adds, 3);
}

#[test]
fn a_hibernating_loop_records_every_wake_up_as_a_call_of_its_own() {
    // hibernating/1 answers a message, then hibernates into hibernating/1 again: the stack (and
    // the recorder frame of the call) is gone, so every wake-up is a new top-level call. Before
    // the runtime heard of it, each one nested under the last until the depth cap (1,000)
    // stopped the process's recording.
    let vm = vm(true);
    vm.eval(
        r#"
        P = spawn(fun() -> runtime_fixture:hibernating(0) end),
        [begin P ! {self(), get}, receive {P, K} -> ok end end || K <- lists:seq(0, 1499)],
        {current_function, {erlang, hibernate, 3}} = erlang:process_info(P, current_function),
        ok = elixir_scope_runtime:flush(),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    let loops: Vec<&Call> = calls
        .iter()
        .filter(|c| c.function == "hibernating")
        .collect();
    assert_eq!(loops.len(), 1500, "every wake-up is recorded");
    assert!(loops.iter().all(|c| c.parent.is_none()), "none nests");
    assert!(loops.iter().all(|c| c.end.is_none()), "none returns");
}

#[test]
fn an_announced_remote_self_tail_call_continues_the_current_call() {
    // rcount/2 announces its ?MODULE:rcount/2 tail call (remote_tail_call/3), as rewritten code
    // does: 5,000 iterations are one call with 5,000 tail calls, in constant stack.
    let vm = vm(true);
    let out = vm.eval(
        r#"
        {10, Short} = runtime_fixture:rcount(10, 0),
        {5000, Long} = runtime_fixture:rcount(5000, 0),
        3 = runtime_fixture:add(1, 2),
        ok = elixir_scope_runtime:flush(),
        io:format("stack ~p ~p~n", [Short, Long]),
        halt()."#,
    );
    let words: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("stack "))
        .expect("the stack sizes")
        .split(' ')
        .collect();
    assert_eq!(words[0], words[1], "the loop keeps a constant stack");
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let long = calls
        .iter()
        .find(|c| text(&c.args) == "[5000,0]")
        .expect("the long loop");
    let end = long.end.as_ref().expect("it returned");
    assert_eq!(end.tail_calls, 5000);
    let tails = snap.tail_calls(long.id).unwrap();
    assert_eq!(tails.len(), 8);
    assert_eq!(text(&tails[0].args), "[4999,1]");
    assert!(tails.iter().all(|t| t.function == "rcount" && t.arity == 2));
    // The announcement is used up: the next call is a call of its own.
    let add = calls.iter().find(|c| c.function == "add").unwrap();
    assert_eq!(add.parent, None);
}

#[test]
fn an_exception_whose_stack_trace_holds_a_match_state_is_recorded_without_harm() {
    let vm = vm(true);
    let out = vm.eval(
        r#"
        none = runtime_fixture:first_non_digit(<<"123">>),
        Caught = try runtime_fixture:first_non_digit(<<"1.2">>)
                 catch error:function_clause:Stack ->
                     [{runtime_fixture, not_digit, _, _} | _] = Stack,
                     caught
                 end,
        io:format("~p~n", [Caught]),
        halt()."#,
    );
    assert!(out.contains("caught"), "{out}");
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let raised = calls
        .iter()
        .find(|c| {
            c.end
                .as_ref()
                .is_some_and(|e| e.outcome == store::Outcome::Exception(store::Class::Error))
        })
        .expect("the call that raised");
    let value = text(&raised.end.as_ref().unwrap().value);
    assert!(
        value.starts_with("{'function_clause',[{'runtime_fixture','not_digit',["),
        "{value}"
    );
    assert!(
        value.contains("$elixir_scope_cut"),
        "the match state is marked as cut: {value}"
    );
}

/// Every stored value of every call (arguments, result or exception, tail calls' arguments),
/// as the store gives them back, with the call's function.
fn every_value(snap: &Snapshot) -> Vec<(String, Vec<u8>)> {
    let mut values = Vec::new();
    snap.scan(0, |call| {
        values.push((call.function.clone(), call.args.clone()));
        if let Some(end) = &call.end {
            values.push((call.function.clone(), end.value.clone()));
        }
        for tail in snap.tail_calls(call.id)? {
            values.push((format!("{} (tail call)", call.function), tail.args.clone()));
        }
        Ok(true)
    })
    .unwrap();
    values
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn each_argument_has_its_own_budget_and_args_have_the_arity() {
    let vm = vm(true);
    vm.eval(
        r#"
        Big = maps:from_list([{'__struct__', 'Elixir.Person'}
                              | [{list_to_atom("f" ++ integer_to_list(I)), lists:seq(1, 4)}
                                 || I <- lists:seq(1, 16)]]),
        ok = runtime_fixture:validate(Big, age, [{greater_than, 40}]),
        ok = runtime_fixture:validate(#{spec => lists:seq(1, 40)}, ["--utf8", [228,220,223,1455]], x),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let calls = all_calls(&snap);
    let validate: Vec<&Call> = calls.iter().filter(|c| c.function == "validate").collect();
    assert_eq!(validate.len(), 2);
    // The 16-field struct used its own budget: the field and the options are whole.
    let person = validate
        .iter()
        .find(|c| text(&c.args).contains("Elixir.Person"))
        .expect("the call with the struct");
    let eetf::Term::List(args) = runtime_support::term(&person.args) else {
        panic!("args are a proper list: {}", text(&person.args))
    };
    assert_eq!(args.elements.len(), 3);
    assert_eq!(args.elements[1].to_string(), "'age'");
    assert_eq!(args.elements[2].to_string(), "[{'greater_than',40}]");
    // A cut struct keeps every field; none is missing, none reads as a plausible value.
    let eetf::Term::Map(person) = &args.elements[0] else {
        panic!("a map")
    };
    assert_eq!(person.map.len(), 17, "16 fields and __struct__");
    assert!(!text(&validate[0].args).contains("'$elixir_scope_cut' =>"));
    // Unicode characters count as characters: the charlist is whole.
    let spec = validate
        .iter()
        .find(|c| text(&c.args).contains("[228,220,223,1455]"))
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                validate.iter().map(|c| text(&c.args)).collect::<Vec<_>>()
            )
        });
    assert!(
        text(&spec.args).ends_with(",[[45,45,117,116,102,56],[228,220,223,1455]],'x']"),
        "{}",
        text(&spec.args)
    );
}

#[test]
fn values_a_rule_or_a_key_name_hides_are_stored_nowhere() {
    let vm = vm(true);
    vm.eval(
        r#"
        User = #{name => <<"ada">>, password_hash => <<"hunter2-hash">>},
        {ok, 9} = runtime_fixture:login(User, <<"hunter2-A">>),
        {'EXIT', {function_clause, _}} = (catch runtime_fixture:guard(<<"ada">>, <<"hunter2-B">>)),
        done = runtime_fixture:spin(<<"hunter2-C">>, 3),
        <<"tok-ada-SECRET">> = runtime_fixture:token_for(<<"ada">>),
        {ok, _} = runtime_fixture:check(#{<<"Password">> => <<"hunter2-D">>}, <<"x">>),
        {ok, _} = runtime_fixture:check([{api_key, <<"hunter2-E">>}], <<"y">>),
        halt()."#,
    );
    let snap = vm.store().snapshot(None).unwrap();
    let values = every_value(&snap);
    assert!(values.len() > 10, "{} values", values.len());
    for (function, value) in &values {
        assert!(!contains(value, b"hunter2"), "{function}: {}", text(value));
        assert!(!contains(value, b"SECRET"), "{function}: {}", text(value));
    }
    // What replaced them says why.
    let calls = all_calls(&snap);
    let one = |f: &str| calls.iter().find(|c| c.function == f).unwrap();
    let login = text(&one("login").args);
    assert!(
        login.contains("'password_hash'=>{'$elixir_scope_cut','redacted','key'}")
            && login.contains("'name'=><<97,100,97>>")
            && login.ends_with(",{'$elixir_scope_cut','redacted','argument'}]"),
        "{login}"
    );
    let under_login = calls
        .iter()
        .find(|c| c.function == "check" && c.parent == Some(one("login").id))
        .expect("check/2 under login/2");
    assert!(
        text(&under_login.args).ends_with(",{'$elixir_scope_cut','redacted','value'}]"),
        "the password passed on to a callee: {}",
        text(&under_login.args)
    );
    let guard = text(&one("guard").end.as_ref().unwrap().value);
    assert!(
        guard.contains("{'$elixir_scope_cut','redacted','value'}"),
        "{guard}"
    );
    assert_eq!(
        text(&one("token_for").end.as_ref().unwrap().value),
        "{'$elixir_scope_cut','redacted','result'}"
    );
    let spin = one("spin");
    assert_eq!(spin.end.as_ref().unwrap().tail_calls, 3);
    for tail in snap.tail_calls(spin.id).unwrap() {
        assert!(
            text(&tail.args).starts_with("[{'$elixir_scope_cut','redacted','argument'},"),
            "{}",
            text(&tail.args)
        );
    }
    // Not in any file's bytes either (values are compressed there, hence the reading back
    // above), and every file is its owner's only, every directory too.
    use std::os::unix::fs::PermissionsExt;
    for (path, bytes, _) in files_with_times(&vm.db) {
        assert!(!contains(&bytes, b"hunter2"), "{}", path.display());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", path.display());
        let dir = path.parent().unwrap();
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}: {mode:o}", dir.display());
    }
}
