%% @doc What a paused wrapper's check can cost (run by `benches/runtime_overhead.sh checks'):
%% `noop/1' called in a loop plain, and behind each way a wrapper could ask whether to record,
%% all answering "no". Prints the 10th percentile and the median of 31 interleaved rounds of
%% 5,000,000 calls. The gate (a remote call to a function that returns a constant, in
%% `runtime_checks_gate') is what the rewriter emits.
-module(runtime_checks).

-export([run/0]).
%% The variants, called remotely like a wrapped function.
-export([plain/1, gate/1, gate0/1, pdict/1, pterm/1, through_fun/1]).

-define(CALLS, 5000000).
-define(ROUNDS, 31).

run() ->
    persistent_term:put(runtime_checks, false),
    put(runtime_checks, false),
    Variants = [{"unwrapped", fun plain_loop/1},
                {"gate: a remote call returning a constant", fun gate_loop/1},
                {"gate without arguments", fun gate0_loop/1},
                {"process dictionary read", fun pdict_loop/1},
                {"persistent_term:get/1", fun pterm_loop/1},
                {"a fun through the gate", fun through_fun_loop/1}],
    Rounds = [[{Name, per_call(Loop)} || {Name, Loop} <- Variants]
              || _ <- lists:seq(1, ?ROUNDS)],
    io:format("ns per call, 10th percentile / median of ~p interleaved rounds~n", [?ROUNDS]),
    [begin
         Sorted = lists:sort([proplists:get_value(Name, Round) || Round <- Rounds]),
         io:format("  ~-42s ~8.2f ~8.2f~n",
                   [Name, lists:nth(max(1, ?ROUNDS div 10), Sorted),
                    lists:nth((?ROUNDS + 1) div 2, Sorted)])
     end || {Name, _} <- Variants],
    halt().

per_call(Loop) ->
    T0 = erlang:monotonic_time(nanosecond),
    ok = Loop(?CALLS),
    (erlang:monotonic_time(nanosecond) - T0) / ?CALLS.

%% One remote call per iteration, as a caller of a wrapped function makes.
plain_loop(0) -> ok;
plain_loop(N) -> _ = ?MODULE:plain(N), plain_loop(N - 1).
gate_loop(0) -> ok;
gate_loop(N) -> _ = ?MODULE:gate(N), gate_loop(N - 1).
gate0_loop(0) -> ok;
gate0_loop(N) -> _ = ?MODULE:gate0(N), gate0_loop(N - 1).
pdict_loop(0) -> ok;
pdict_loop(N) -> _ = ?MODULE:pdict(N), pdict_loop(N - 1).
pterm_loop(0) -> ok;
pterm_loop(N) -> _ = ?MODULE:pterm(N), pterm_loop(N - 1).
through_fun_loop(0) -> ok;
through_fun_loop(N) -> _ = ?MODULE:through_fun(N), through_fun_loop(N - 1).

plain(X) -> X.

gate(X) ->
    case runtime_checks_gate:on(?MODULE) of
        true -> {record, X};
        _ -> inner(X)
    end.

gate0(X) ->
    case runtime_checks_gate:on() of
        true -> {record, X};
        _ -> inner(X)
    end.

pdict(X) ->
    case get(runtime_checks) of
        true -> {record, X};
        _ -> inner(X)
    end.

pterm(X) ->
    case persistent_term:get(runtime_checks) of
        true -> {record, X};
        _ -> inner(X)
    end.

through_fun(X) -> runtime_checks_gate:call(?MODULE, fun inner/1, X).

inner(X) -> X.
