%% @doc A Common Test hook that tells the ElixirScope recording which test case made which
%% calls: each case's suite, name, outcome, failure and duration, and the process that ran it
%% (its calls, and those of the processes it started, are the case's). Enable it with
%% `ct_run -ct_hooks elixir_scope_cth', `{ct_hooks, [elixir_scope_cth]}' in a test spec or in
%% rebar3's `ct_opts'. `elixir-scope tests' then lists the cases.
%%
%% Common Test runs `init_per_testcase', the case and `end_per_testcase' in one process, and
%% calls the `pre_init_per_testcase' hook there: the runtime notes that process for the case
%% ({@link elixir_scope_runtime:test_started/2}).
-module(elixir_scope_cth).

-export([id/1, init/2, pre_init_per_testcase/4, post_end_per_testcase/5, on_tc_skip/4]).

%% @doc The hook's id: one per test run.
id(_Options) ->
    ?MODULE.

%% @doc Starts the runtime, so that cases that run before any instrumented call are recorded.
init(_Id, _Options) ->
    _ = elixir_scope_runtime:start(),
    {ok, #{}}.

%% @doc Notes the case's process and when it started.
pre_init_per_testcase(Suite, Case, Config, State) ->
    ok = elixir_scope_runtime:test_started(Suite, Case),
    {Config, State#{{Suite, Case} => erlang:monotonic_time(microsecond)}}.

%% @doc Reports the case with its outcome: `ok' or any other value passed, `{skip, Why}'
%% skipped, `{fail, Why}', `{error, Why}' and `{'EXIT', Why}' failed.
post_end_per_testcase(Suite, Case, _Config, Return, State) ->
    Now = erlang:monotonic_time(microsecond),
    Started = maps:get({Suite, Case}, State, Now),
    {Outcome, Message} = outcome(Return),
    report(Suite, Case, Outcome, Message, Now - Started),
    {Return, maps:remove({Suite, Case}, State)}.

%% @doc Reports a case Common Test skipped (it did not run).
on_tc_skip(Suite, Case, Reason, State) when is_atom(Case) ->
    report(Suite, Case, skipped, text(Reason), 0),
    State;
on_tc_skip(_Suite, _GroupOrConfigFunction, _Reason, State) ->
    State.

outcome({skip, Why}) -> {skipped, text(Why)};
outcome({skipped, Why}) -> {skipped, text(Why)};
outcome({fail, Why}) -> {failed, text(Why)};
outcome({error, Why}) -> {failed, text(Why)};
outcome({'EXIT', Why}) -> {failed, text(Why)};
outcome(_Passed) -> {passed, <<>>}.

report(Suite, Case, Outcome, Message, DurationUs) ->
    elixir_scope_runtime:without_recording(
      fun() ->
              _ = elixir_scope_runtime:test_finished(
                    #{framework => common_test, module => Suite, name => Case,
                      file => source(Suite), outcome => Outcome, message => Message,
                      duration_us => DurationUs}),
              ok
      end).

source(Module) ->
    try proplists:get_value(source, Module:module_info(compile)) of
        Source when is_list(Source) -> unicode:characters_to_binary(Source);
        _ -> <<>>
    catch
        _:_ -> <<>>
    end.

text(Term) ->
    unicode:characters_to_binary(io_lib:format("~tp", [Term])).
