%% @doc An EUnit listener that tells the ElixirScope recording which tests ran: each test's
%% module, function, line, outcome, failure and duration. Give it as a report option:
%% `eunit:test(Modules, [{report, {elixir_scope_eunit, []}}])', or in rebar3's `eunit_opts'
%% (the default listener keeps printing with `{report, {eunit_progress, ...}}' or
%% `eunit_surefire' beside it). `elixir-scope tests' then lists them.
%%
%% EUnit runs a test in a process of its own that no listener callback runs in, so a test's
%% calls are not linked to it: the recording says which tests ran and how they came out.
-module(elixir_scope_eunit).
-behaviour(eunit_listener).

-export([start/0, start/1]).
-export([init/1, handle_begin/3, handle_end/3, handle_cancel/3, terminate/2]).

%% @doc Starts the listener (EUnit calls this for `{report, {elixir_scope_eunit, Options}}').
start() ->
    start([]).

start(Options) ->
    eunit_listener:start(?MODULE, Options).

%% @private
init(_Options) ->
    _ = elixir_scope_runtime:start(),
    #{}.

%% @private
handle_begin(_Kind, _Data, State) ->
    State.

%% @private
handle_end(test, Data, State) ->
    case proplists:get_value(source, Data) of
        {Module, Function, _Arity} ->
            {Outcome, Message} = outcome(proplists:get_value(status, Data)),
            report(#{framework => eunit, module => Module, name => Function,
                     file => source(Module), line => line(Data), outcome => Outcome,
                     message => Message,
                     duration_us => 1000 * proplists:get_value(time, Data, 0)});
        _ ->
            ok
    end,
    State;
handle_end(_GroupOrTest, _Data, State) ->
    State.

%% @private
handle_cancel(_Kind, _Data, State) ->
    State.

%% @private
terminate(_Result, _State) ->
    ok.

outcome(ok) -> {passed, <<>>};
outcome({skipped, Why}) -> {skipped, text(Why)};
outcome({error, {Class, Reason, _Stack}}) -> {failed, text({Class, Reason})};
outcome(Other) -> {failed, text(Other)}.

line(Data) ->
    case proplists:get_value(line, Data, 0) of
        Line when is_integer(Line) -> Line;
        _ -> 0
    end.

report(Test) ->
    elixir_scope_runtime:without_recording(
      fun() -> _ = elixir_scope_runtime:test_finished(Test), ok end).

source(Module) ->
    try proplists:get_value(source, Module:module_info(compile)) of
        Source when is_list(Source) -> unicode:characters_to_binary(Source);
        _ -> <<>>
    catch
        _:_ -> <<>>
    end.

text(Term) ->
    unicode:characters_to_binary(io_lib:format("~tp", [Term])).
