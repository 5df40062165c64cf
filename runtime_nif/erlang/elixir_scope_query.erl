%% @doc The queries of the ElixirScope runtime, over the store this VM records into (for IEx,
%% the cluster queries and tools). `elixir_scope_runtime' exports each under the same name.
%% Each answers `{error, not_started}' until the NIF library is loaded.
-module(elixir_scope_query).

-export([call/1, children/2, subtree/2, calls/1, tree/2, tree_prefixes/1, summary/0, runs/0,
         tests/1, search/2, origin/2]).
-export([profile/1, diff/3, crashes/1]).

%% @doc The recorded call `Id' of the current run as a map, or `undefined'.
-spec call(non_neg_integer()) -> map() | undefined | {error, term()}.
call(Id) ->
    if_loaded(fun() -> elixir_scope_nif:call(Id) end).

%% @doc The direct children of call `Id', in start order, at most `Limit'.
-spec children(non_neg_integer(), non_neg_integer()) -> [map()] | {error, term()}.
children(Id, Limit) ->
    if_loaded(fun() -> elixir_scope_nif:children(Id, Limit) end).

%% @doc Call `Id' and its descendants in its process: `#{calls => [map()], truncated =>
%% boolean()}', or `undefined'.
-spec subtree(non_neg_integer(), non_neg_integer()) -> map() | undefined | {error, term()}.
subtree(Id, Limit) ->
    if_loaded(fun() -> elixir_scope_nif:subtree(Id, Limit) end).

%% @doc Calls matching `Filter' (`module', `function', `arity', `pid', `since_ns',
%% `until_ns' (erlang:monotonic_time(nanosecond) values), `exceptions', `limit'; patterns as
%% text: `match', `result', `exception', in `syntax' `elixir' (default) or `erlang'), newest
%% first. `run' reads another run of the store than this VM's: a number, or `latest'.
-spec calls(map()) -> [map()] | {error, term()}.
calls(Filter) when is_map(Filter) ->
    if_loaded(fun() -> elixir_scope_nif:calls(Filter) end).

%% @doc The calls whose arguments, result or exception hold a value anywhere, oldest first,
%% each with `found => arguments | result | exception'. `Spec' is `{value, term_to_binary(V)}'
%% or `{pattern, Text}'; `Options': `run', `limit' (20), `syntax'.
-spec search({value | pattern, binary()}, map()) -> [map()] | {error, term()}.
search(Spec, Options) when is_tuple(Spec), is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:search(Spec, Options) end).

%% @doc The calls that returned a value holding `Spec' (as in search/2) without being given
%% it: where it came from, earliest first (`limit' 1 by default).
-spec origin({value | pattern, binary()}, map()) -> [map()] | {error, term()}.
origin(Spec, Options) when is_tuple(Spec), is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:origin(Spec, Options) end).

%% @doc The tree under call `Id' with long and deep parts folded: `#{calls => N, shown => S,
%% lines => [{Depth, CallOrFold}]}' in display order, or `undefined'. `Limits' is `#{depth,
%% children, calls}' (see `store::TreeLimits'; `infinity' for no limit on depth or children),
%% and `run' as in calls/1.
-spec tree(non_neg_integer(), map()) -> map() | undefined | {error, term()}.
tree(Id, Limits) when is_map(Limits) ->
    if_loaded(fun() -> elixir_scope_nif:tree(Id, Limits) end).

%% @doc The guides drawn before the lines of a tree whose lines have depths `Depths' (as in
%% tree/2's `lines', in display order), one binary per line: `<<"│   ├── ">>' (see
%% `store::tree_prefixes'), the layout the CLI draws too.
-spec tree_prefixes([non_neg_integer()]) -> [binary()] | {error, term()}.
tree_prefixes(Depths) when is_list(Depths) ->
    if_loaded(fun() -> elixir_scope_nif:tree_prefixes(Depths) end).

%% @doc `#{run, calls, exceptions, processes, tail_calls}' stored for the current run.
-spec summary() -> map() | {error, term()}.
summary() ->
    if_loaded(fun elixir_scope_nif:summary/0).

%% @doc Where the time of the current run went (`run' reads another, as in calls/1), per
%% function: `#{run, calls, functions => [#{module, function, arity, calls, unfinished,
%% total_ns, own_ns, mean_ns, p50_ns, p99_ns, exceptions}]}', sorted by `sort' (`own',
%% `total', `count', `mean', `p99' or `exceptions'), the first `top'.
-spec profile(map()) -> map() | {error, term()}.
profile(Options) when is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:profile(Options) end).

%% @doc Run `RunA' compared with run `RunB': functions that appeared, disappeared or changed
%% (calls, or total or mean time beyond `threshold' percent), and calls with the same
%% arguments that returned something else (`limit' of them, as call maps).
-spec diff(pos_integer(), pos_integer(), map()) -> map() | {error, term()}.
diff(RunA, RunB, Options) when is_integer(RunA), is_integer(RunB), is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:diff(RunA, RunB, Options) end).

%% @doc Every run of the store this VM records into, oldest first (runs of other VMs of the
%% project too, live or ended): `#{run, node, os_pid, started_unix_ns, state, captured,
%% dropped, stored, write_failed, this}'.
-spec runs() -> [map()] | {error, term()}.
runs() ->
    if_loaded(fun elixir_scope_nif:runs/0).

%% @doc The tests of the current run (`run' reads another, as in calls/1), in the order they
%% finished: `#{module, name, file, line, outcome, message, duration_us, framework,
%% finished_ns, pid, roots}' (`roots': the calls each made at its top level, at most `roots'
%% of the options, default 10); `failed => true' for only the tests that failed or could not
%% run.
-spec tests(map()) -> [map()] | {error, term()}.
tests(Options) when is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:tests(Options) end).

%% @doc The processes that crashed in the run (`#{limit => N, run => N | latest}`), each with
%% its exit reason, the call that started it, the calls that received news of its end, its
%% restart and the call that led to it (see the NIF's `crashes/1').
-spec crashes(map()) -> [map()] | {error, term()}.
crashes(Options) when is_map(Options) ->
    if_loaded(fun() -> elixir_scope_nif:crashes(Options) end).

%%% Internals

if_loaded(Fun) ->
    case elixir_scope_nif:loaded() of
        true -> Fun();
        false -> {error, not_started}
    end.
