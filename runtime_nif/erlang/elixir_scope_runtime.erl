%% @doc The ElixirScope runtime: what rewritten code calls, and how to control recording.
%%
%% == The contract (docs/ARCHITECTURE.md, "The runtime contract") ==
%% A wrapper asks the gate, `elixir_scope_gate:on(Module)': `true' records, anything else
%% runs the original code. The installed default gate asks {@link recording/1} (which starts
%% the runtime on first use); from then on this module generates and loads the gate at every
%% start, pause and resume (see "The gate" below). When recording, the wrapper calls
%% {@link enter/4}, runs the original body and calls {@link return/2} or {@link exception/4}.
%% Local tail calls to wrapped functions call {@link tail_call/4}.
%%
%% == The gate ==
%% `elixir_scope_gate:on/1' has one clause `on(m) -> false' per module paused on its own, then
%% `on(_) -> true' (running) or `on(_) -> false' (paused, or the start failed): a paused
%% wrapped call costs one remote call that returns a constant. The owner process applies
%% pause and resume one at a time: it compiles the gate (`compile:forms/2'), soft-purges the
%% previous one (retrying every millisecond for up to a second while a process still runs it;
%% no process is ever killed) and loads it, then publishes the state; a change whose gate
%% cannot be loaded changes nothing. Without the compiler application the default gate stays,
%% and answers the same through {@link recording/1}, more slowly.
%%
%% == State ==
%% <ul>
%% <li>persistent term `elixir_scope_recording': `true' exactly when every module is recorded,
%%     `false' when recording is paused globally, `partial' when some modules are paused,
%%     absent before the runtime starts. The tail-call reports read it, and so do wrappers of
%%     beams rewritten before the gate (REWRITE_FORMAT 4 and older).</li>
%% <li>persistent term `elixir_scope_state': `undefined' (not started), `starting',
%%     `{running, Paused}' or `{paused, Paused}' (`Paused' maps paused modules to `true'),
%%     `{failed, Reason}'.</li>
%% <li>process dictionary `$elixir_scope_call': the process's current recorded call,
%%     `{Id, TailCalls, Depth}' (`Depth': how many recorded calls of the process are open, i.e.
%%     have a recorder frame on its stack), with a fourth element `{M, F, Arity}' between
%%     {@link remote_tail_call/3} and the {@link enter/4} of the call it announced; `none'
%%     between calls; `undefined' before the process's first recorded call; `muted' inside
%%     {@link without_recording/1}. One entry, so that a recorded call costs one read and two
%%     writes of the process dictionary.</li>
%% <li>process dictionary `$elixir_scope_in_runtime': `true' in processes that must not record
%%     (the one starting the runtime, the runtime's owner).</li>
%% </ul>
%%
%% == Depth cap ==
%% Each recorded call keeps one recorder frame on the stack until it ends. A loop written as a
%% remote self-call in tail position (`?MODULE:loop(State)' in a receive loop) never ends its
%% calls, so while recording its stack would grow by a frame per iteration, without bound.
%% The rewriter announces such calls ({@link remote_tail_call/3}), and {@link enter/4} records
%% them as tail calls of the current call, so a loop of that shape runs in constant stack and
%% shows as one call with an iteration count. Other shapes remain (a loop through `apply/3',
%% or through a remote call in tail position to another module and back):
%% {@link enter/4} therefore records at most 1,000 nested calls per process: past that it
%% returns the token `deep', for which the recorder tail-calls the original function without
%% a frame and records nothing, until the process's open calls end (a loop then runs in the
%% stack the first 1,000 iterations took: about 120 KB).
%%
%% The hot path ({@link enter/4}, {@link return/2}, {@link exception/4}, {@link tail_call/4})
%% calls only BIFs and the NIF, so instrumented library code (Enum, lists, ...) can never make
%% it recurse or wait. Starting the runtime happens in the process that first needs it, marked
%% as in the runtime, so what starting calls is not recorded; other processes see `starting'
%% and do not record meanwhile; nothing waits on another process.
%%
%% == Messages and process ends ==
%% Rewritten code reports each send right before it ({@link sending/3}): one NIF event of the
%% current call. A process's first recorded call also asks the watcher (`elixir_scope_watcher',
%% started with the runtime) to monitor it; the watcher records how the process ended (see
%% watcher/0). Neither ever makes the recording process wait.
%%
%% == Finding the NIF library ==
%% Tried in this order, the first that loads wins (the error lists every path tried):
%% <ol>
%% <li>`$ELIXIR_SCOPE_NIF': the library's path (with or without `.so');</li>
%% <li>next to this module's beam: `libelixir_scope_nif.so', then `elixir_scope_nif.so';</li>
%% <li>the `priv' directory of the application holding the beam (`../priv' from its ebin),
%%     same two names.</li>
%% </ol>
%%
%% == Settings ==
%% {@link start/1} takes a map of settings; missing keys come from the application environment
%% of `elixir_scope' (same keys), then from `elixir_scope_runtime.config' next to this module's
%% beam (written by `elixir-scope instrument' from `elixir_scope.toml'), then the defaults.
%% The settings (keys, types, bounds, defaults) are defined once, in the `settings' crate;
%% README.md's "Configuration" lists them, and `elixir_scope_nif:settings/0' returns the keys.
%% The NIF checks every value: one out of its range, of the wrong type, or memory settings that
%% together would take more than half of the machine's memory, make start/1 return
%% `{error, {bad_setting, Key, Message}}' (recording stays off; the VM goes on), as does a key
%% of the map that is no setting. Besides the table, `db_path' defaults to `$ELIXIR_SCOPE_DB',
%% else `.elixir_scope' in the project directory `instrument' ran for, when it exists, else
%% under the VM's working directory; `shards' to one per scheduler.
-module(elixir_scope_runtime).

%% The contract.
-export([recording/1, enter/4, enter/5, return/2, exception/4, tail_call/4, tail_call/5,
         remote_tail_call/3]).
-export([discarding_stack/1, sending/3]).
%% Control.
-export([start/0, start/1, status/0, pause/0, resume/0, pause/1, resume/1]).
-export([flush/0, flush/1, stats/0, nif_paths/0]).
%% Loading rewritten beams into a VM that loaded the originals.
-export([reload/1]).
%% Queries (for IEx).
-export([call/1, children/2, subtree/2, calls/1, tree/2, summary/0, runs/0, tests/1,
         search/2, origin/2, without_recording/1]).
-export([profile/1, diff/3, crashes/1]).
%% Tests (for test framework hooks: ElixirScope.ExUnitFormatter, elixir_scope_cth,
%% elixir_scope_eunit).
-export([test_started/2, test_finished/1]).

-define(RECORDING, elixir_scope_recording).
-define(STATE, elixir_scope_state).

%% A recording NIF's answer once the ring had room. Under `overflow => block' (the default) a
%% full ring answers `full' (the event was not recorded, nothing was counted): the recording
%% process waits for the drain, a millisecond at a time, and records again. Under `drop'
%% `full' never comes. While the ring has room this costs one comparison.
-define(ROOM(Call), case Call of
                        full -> when_room(fun() -> Call end);
                        Answer__ -> Answer__
                    end).
-define(CURRENT, '$elixir_scope_call').
%% Wraps a value (arguments, result) together with the caps the NIF encodes it within, and a
%% token together with the caps its result gets (see enter/5).
-define(CAPS, '$elixir_scope_caps').
%% What an argument or a result a capture rule hides is recorded as (a marker: the query side
%% prints `[REDACTED]').
-define(HIDDEN_ARGUMENT, {'$elixir_scope_cut', redacted, argument}).
-define(HIDDEN_RESULT, {'$elixir_scope_cut', redacted, result}).
%% Hidden values a call carries (its own first, then those of the calls it runs under).
-define(MAX_SECRETS, 8).
-define(IN_RUNTIME, '$elixir_scope_in_runtime').
%% Recorded calls open at once in one process; deeper calls run unrecorded (see "Depth cap").
-define(MAX_CALL_DEPTH, 1000).
-define(OWNER, elixir_scope_runtime).
%% The process that monitors every process that records calls and records how each ended.
-define(WATCHER, elixir_scope_watcher).
%% What the watcher passes for the reason of a process that ended before it was monitored.
-define(UNKNOWN_REASON, '$elixir_scope_unknown_reason').
%% The table (owned by the owner process) of tests running now: `{{Module, Name}, Pid}', the
%% process whose calls are the test's (see "Tests" below).
-define(TESTS, elixir_scope_tests).
%% ExUnit's table of the processes that run tests (ExUnit.OnExitHandler registers each).
-define(EXUNIT_TEST_PROCESSES, 'Elixir.ExUnit.OnExitHandler').
%% What ExUnit's module runner keeps in its dictionary: the test it runs now.
-define(EXUNIT_RUNNER, 'Elixir.ExUnit.Runner').
-define(GATE, elixir_scope_gate).
%% The file name the generated gates are loaded under (code:which/1 answers it).
-define(GATE_FILE, "elixir_scope_gate (generated by elixir_scope_runtime)").
%% Attempts, a millisecond apart, to purge the previous gate before giving up.
-define(GATE_TRIES, 1000).
-define(GATE_FAILED, elixir_scope_gate_failed).
-define(NIF_ENV, "ELIXIR_SCOPE_NIF").
-define(DB_ENV, "ELIXIR_SCOPE_DB").
-define(SETTINGS_FILE, "elixir_scope_runtime.config").
-define(NIF_NAMES, ["libelixir_scope_nif", "elixir_scope_nif"]).
%% Tail calls recorded per call with their arguments; later ones are only counted.
-define(TAIL_CALLS_KEPT, 8).
-define(FLUSH_TIMEOUT_MS, 30000).

%% The token is the caller's entry (what return/2 and exception/4 put back), or `deep', or
%% `muted'.
-type token() :: current() | deep | muted.
%% The process's current call: `{Id, TailCalls, Depth}' (`Depth': recorded calls open), with
%% a fourth element `{M, F, Arity}' between remote_tail_call/3 and the enter/4 it announced;
%% `{Id, TailCalls, Depth, none | {M, F, Arity}, Secrets}' for a call that hides values (the
%% arguments a capture rule hides, of this call or of the calls it runs under: the NIF redacts
%% them wherever they occur in what this call records).
-type current() :: none
                 | {Id :: non_neg_integer(), TailCalls :: non_neg_integer(),
                    Depth :: pos_integer()}
                 | {non_neg_integer(), non_neg_integer(), pos_integer(), mfa()}
                 | {non_neg_integer(), non_neg_integer(), pos_integer(), none | mfa(),
                    [term()]}.

%%% The contract

%% @doc Whether calls of `Module' are recorded now (what the default gate answers).
%% Starts the runtime on first use; `false' while paused (globally or for `Module'), while the
%% runtime starts or failed to, and in processes inside the runtime.
-spec recording(module()) -> boolean().
recording(Module) ->
    case persistent_term:get(?STATE, undefined) of
        {running, Paused} -> not is_map_key(Module, Paused) andalso not in_runtime();
        {paused, _} -> false;
        undefined -> start_on_first_use(Module);
        _StartingOrFailed -> false
    end.

%% @doc Records that `Module:Function/Arity' was called with `Args'; makes it the process's
%% current call. The token goes to {@link return/2} or {@link exception/4}. `deep' means that
%% the recorder must run the function without a frame of its own (a tail call): either the call
%% continues the current one (announced by {@link remote_tail_call/3}; recorded as a tail
%% call), or the process has 1,000 recorded calls open (see "Depth cap"; not recorded).
%% One process dictionary read and one write: the current call carries its depth (and a
%% pending announcement), and the token is the caller's entry, which return/2 puts back.
-spec enter(module(), atom(), arity(), [term()]) -> token().
enter(Module, Function, Arity, Args) ->
    case get(?CURRENT) of
        {_Id, _TailCalls, Depth} = Parent when is_integer(Depth), Depth < ?MAX_CALL_DEPTH ->
            open(Module, Function, Arity, Args, Parent, Depth);
        none ->
            open(Module, Function, Arity, Args, none, 0);
        {_Id, _TailCalls, Depth} when is_integer(Depth) ->
            deep;
        {Id, TailCalls, Depth, Announced} ->
            Parent = {Id, TailCalls, Depth},
            put(?CURRENT, Parent),
            case Announced =:= {Module, Function, Arity} of
                true ->
                    %% ?MODULE:loop(S) in tail position: the current call goes on.
                    tail_call(Module, Function, Arity, Args),
                    deep;
                false ->
                    %% Announced, but that call was not recorded (paused, or the newest code
                    %% does not wrap it): forget it.
                    enter(Module, Function, Arity, Args)
            end;
        {_Id, _TailCalls, _Depth, _Announced, _Secrets} ->
            %% Under a call whose arguments a capture rule hides: they stay hidden here too.
            enter_hiding(Module, Function, Arity, Args, Args, #{}, []);
        undefined ->
            first_enter(Module, Function, Arity, Args);
        muted ->
            %% Inside without_recording/1: nothing is recorded, nothing restored.
            muted;
        Other ->
            %% Someone overwrote the entry: a call without a parent (the NIF reads no id from
            %% it), and return/2 puts the odd value back.
            open(Module, Function, Arity, Args, Other, 0)
    end.

%% A new recorded call under `Parent' (`Depth' calls open). A call that serves a request also
%% records the process that waits for its reply (see client/3); the clause heads keep that
%% check off other calls.
open(Module, handle_call, 3, [_, _, _] = Args, Parent, Depth) ->
    request(Module, handle_call, 3, Args, Parent, Depth);
open(Module, Function, 3, [{call, _}, _, _] = Args, Parent, Depth) ->
    request(Module, Function, 3, Args, Parent, Depth);
open(Module, handle_event, 4, [{call, _} | _] = Args, Parent, Depth) ->
    request(Module, handle_event, 4, Args, Parent, Depth);
open(Module, Function, Arity, Args, Parent, Depth) ->
    Id = ?ROOM(elixir_scope_nif:enter(Module, Function, Arity, Args, Parent)),
    put(?CURRENT, {Id, 0, Depth + 1}),
    Parent.

request(Module, Function, Arity, Args, Parent, Depth) ->
    Client = client(Function, Arity, Args),
    Id = ?ROOM(elixir_scope_nif:enter_request(Module, Function, Arity, Args, Parent, Client)),
    put(?CURRENT, {Id, 0, Depth + 1}),
    Parent.

%% The process's first recorded call also records who the process is and where it came from.
first_enter(Module, Function, Arity, Args) ->
    Origin = origin(),
    note_test(Origin),
    watch(),
    Id = ?ROOM(elixir_scope_nif:enter_first(Module, Function, Arity, Args, pid_text(self()),
                                            registered_name(), Origin,
                                            client(Function, Arity, Args))),
    put(?CURRENT, {Id, 0, 1}),
    none.

%% The client waiting for the reply of a call that serves a request: `From' of gen_server's
%% `handle_call(Request, From, State)', of a gen_statem state function
%% `State({call, From}, Content, Data)' or of its `handle_event({call, From}, Content, State,
%% Data)'; else `none'. Queries show the call under the client's call that was waiting for it.
client(handle_call, 3, [_Request, From, _State]) -> from(From);
client(_StateName, 3, [{call, From}, _Content, _Data]) -> from(From);
client(handle_event, 4, [{call, From}, _Content, _State, _Data]) -> from(From);
client(_Function, _Arity, _Args) -> none.

%% The client of a `From' (`{Pid, Tag}'): its pid when it is another process, of this node or
%% another (the NIF links a pid of another node by its node and the pid as that node prints
%% it).
from({Pid, _Tag}) when is_pid(Pid), Pid =/= self() -> Pid;
from(_From) -> none.

%% @doc {@link enter/4} for a function with capture options (`[[capture.rules]]' of
%% `elixir_scope.toml'), which the rewriter passes as a literal `{Arguments, Result, Caps}':
%% `Arguments' `true' records the arguments, `false' records each as
%% `{'$elixir_scope_cut', redacted, argument}', a list of positions (1-based) hides those;
%% `Result' `false' records the result as `{'$elixir_scope_cut', redacted, result}'; `Caps' (a
%% map of the settings `max_nodes', `max_depth', `max_elements', `max_string', `max_binary',
%% `max_bytes') overrides the runtime's caps for the arguments and the result of these calls
%% (exceptions keep the runtime's caps). The values of hidden arguments are also redacted
%% wherever they occur in what this call and the calls under it in this process record
%% (arguments, results, exceptions and their stack traces, tail calls). The older literal
%% `{Arguments, Caps}' (a boolean) is read as `{Arguments, true, Caps}'. Without caps and with
%% the result shown, the token is enter/4's; else it carries them to {@link return/2}.
-spec enter(module(), atom(), arity(), [term()], tuple()) -> token()
                                                          | {?CAPS, map(), boolean(), token()}.
enter(Module, Function, Arity, Args, Options) ->
    {Hidden, ShowResult, Caps} = rule(Options),
    {Shown, Own} = hide(Args, Hidden),
    case enter_hiding(Module, Function, Arity, Args, Shown, Caps, Own) of
        Token when Token =:= deep; Token =:= muted -> Token;
        Token when ShowResult, map_size(Caps) =:= 0 -> Token;
        Token -> {?CAPS, Caps, ShowResult, Token}
    end.

%% @doc {@link tail_call/4} for a function with capture options (see {@link enter/5}): its
%% hidden arguments are recorded as markers, and their values stay hidden for the rest of the
%% current call.
-spec tail_call(module(), atom(), arity(), [term()], tuple()) -> ok.
tail_call(Module, Function, Arity, Args, Options) ->
    {Hidden, _ShowResult, Caps} = rule(Options),
    {Shown, Own} = hide(Args, Hidden),
    tail_hiding(Module, Function, Arity, Shown, Caps, Own).

%% A call that hides values: `Shown' is what is recorded of `Args', `Own' the values this call
%% hides, `Caps' its caps. Like enter/4, for any current entry; the new entry carries `Own'
%% and the values hidden by the calls it runs under.
enter_hiding(Module, Function, Arity, Args, Shown, Caps, Own) ->
    case get(?CURRENT) of
        muted ->
            muted;
        undefined ->
            watch(),
            Secrets = secrets(Own, []),
            Id = ?ROOM(elixir_scope_nif:enter_first(Module, Function, Arity,
                                                    recorded(Shown, Caps, Secrets),
                                                    pid_text(self()), registered_name(),
                                                    origin(), client(Function, Arity, Args))),
            put(?CURRENT, entry(Id, 1, Secrets)),
            none;
        Entry ->
            {Parent, Depth, Announced, Inherited} = parts(Entry),
            if
                Announced =:= {Module, Function, Arity} ->
                    %% ?MODULE:loop(S) in tail position: the current call goes on.
                    put(?CURRENT, Parent),
                    tail_hiding(Module, Function, Arity, Shown, Caps, Own),
                    deep;
                Depth >= ?MAX_CALL_DEPTH ->
                    put(?CURRENT, Parent),
                    deep;
                true ->
                    Secrets = secrets(Own, Inherited),
                    Recorded = recorded(Shown, Caps, Secrets),
                    Id = case client(Function, Arity, Args) of
                             none ->
                                 ?ROOM(elixir_scope_nif:enter(Module, Function, Arity,
                                                              Recorded, Parent));
                             Client ->
                                 ?ROOM(elixir_scope_nif:enter_request(Module, Function, Arity,
                                                                      Recorded, Parent,
                                                                      Client))
                         end,
                    put(?CURRENT, entry(Id, Depth + 1, Secrets)),
                    Parent
            end
    end.

%% A tail call that hides values (see enter_hiding/7): the current call carries them on.
tail_hiding(Module, Function, Arity, Shown, Caps, Own) ->
    case get(?CURRENT) of
        Entry when is_tuple(Entry), tuple_size(Entry) >= 3,
                   is_integer(element(2, Entry)), is_integer(element(3, Entry)) ->
            {Id, N, Depth} = {element(1, Entry), element(2, Entry), element(3, Entry)},
            {_Parent, _Depth, _Announced, Inherited} = parts(Entry),
            Secrets = secrets(Own, Inherited),
            put(?CURRENT, case Secrets of
                              [] -> {Id, N + 1, Depth};
                              _ -> {Id, N + 1, Depth, none, Secrets}
                          end),
            case N < ?TAIL_CALLS_KEPT of
                true ->
                    ?ROOM(elixir_scope_nif:tail_call(Id, N, Module, Function, Arity,
                                                     recorded(Shown, Caps, Secrets)));
                false ->
                    ok
            end;
        _NotInACall ->
            ok
    end.

%% A current entry as `{Parent, Depth, Announced, Secrets}': the entry without its
%% announcement (the token of a call made under it), the calls open, the announced call
%% (`none') and the values it hides.
parts(none) -> {none, 0, none, []};
parts({Id, N, Depth}) when is_integer(Depth) -> {{Id, N, Depth}, Depth, none, []};
parts({Id, N, Depth, Announced}) when is_integer(Depth) -> {{Id, N, Depth}, Depth, Announced, []};
parts({Id, N, Depth, Announced, Secrets}) when is_integer(Depth) ->
    {{Id, N, Depth, none, Secrets}, Depth, Announced, Secrets};
parts(Other) -> {Other, 0, none, []}.

entry(Id, Depth, []) -> {Id, 0, Depth};
entry(Id, Depth, Secrets) -> {Id, 0, Depth, none, Secrets}.

secrets([], Inherited) -> Inherited;
secrets(Own, Inherited) -> lists:sublist(Own ++ Inherited, ?MAX_SECRETS).

%% What the NIF records of a value: the value itself, or wrapped with caps and secrets.
recorded(Value, Caps, []) when map_size(Caps) =:= 0 -> Value;
recorded(Value, Caps, Secrets) -> {?CAPS, Caps, Value, Secrets}.

%% A rule's options as `{Hidden, ShowResult, Caps}', `Hidden' being `all' or positions.
rule({Arguments, Caps}) when is_map(Caps) ->
    rule({Arguments, true, Caps});
rule({Arguments, Result, Caps}) when is_map(Caps) ->
    Hidden = case Arguments of
                 false -> all;
                 Positions when is_list(Positions) -> Positions;
                 _ -> []
             end,
    {Hidden, Result =/= false, Caps};
rule(_Unknown) ->
    {[], true, #{}}.

%% The arguments as recorded (hidden ones replaced by a marker) and the hidden values worth
%% looking for elsewhere (atoms and [] never are).
hide(Args, []) ->
    {Args, []};
hide(Args, all) ->
    {[?HIDDEN_ARGUMENT || _ <- Args], [A || A <- Args, worth_hiding(A)]};
hide(Args, Positions) ->
    hide(Args, Positions, 1, [], []).

hide([], _Positions, _At, Shown, Own) ->
    {lists:reverse(Shown), lists:reverse(Own)};
hide([Arg | Rest], Positions, At, Shown, Own) ->
    case lists:member(At, Positions) of
        true ->
            Own1 = case worth_hiding(Arg) of
                       true -> [Arg | Own];
                       false -> Own
                   end,
            hide(Rest, Positions, At + 1, [?HIDDEN_ARGUMENT | Shown], Own1);
        false ->
            hide(Rest, Positions, At + 1, [Arg | Shown], Own)
    end.

worth_hiding(Value) -> not is_atom(Value) andalso Value =/= [].

%% @doc Records that the call returned `Result'; restores the caller as current call.
-spec return(token() | {?CAPS, map(), boolean(), token()}, Result) -> Result.
return({?CAPS, Caps, ShowResult, Token}, Result) ->
    %% The NIF encodes the result within the function's caps, or the rule hides it.
    Recorded = case ShowResult of
                   true -> Result;
                   false -> ?HIDDEN_RESULT
               end,
    _ = return(Token, recorded(Recorded, Caps, [])),
    Result;
return(deep, Result) ->
    %% A recorder of an older shape that called the function after all.
    Result;
return(muted, Result) ->
    Result;
return(Parent, Result) ->
    Current = put(?CURRENT, Parent),
    _ = ?ROOM(elixir_scope_nif:call_return(Current, Parent, Result)),
    Result.

%% @doc Records that the call raised; restores the caller as current call and re-raises with
%% the stack trace the original code would give.
-spec exception(token() | {?CAPS, map(), boolean(), token()}, error | exit | throw, term(),
                list()) -> no_return().
exception({?CAPS, _Caps, _ShowResult, Token}, Class, Reason, Stack) ->
    exception(Token, Class, Reason, Stack);
exception(Token, Class, Reason, Stack) when Token =:= deep; Token =:= muted ->
    erlang:raise(Class, Reason, elixir_scope_stacktrace:clean(Stack));
exception(Parent, Class, Reason, Stack) ->
    Current = put(?CURRENT, Parent),
    Clean = elixir_scope_stacktrace:clean(Stack),
    _ = ?ROOM(elixir_scope_nif:call_exception(Current, Parent, Class, Reason, Clean)),
    erlang:raise(Class, Reason, Clean).

%% @doc Records that the current call continued as `Module:Function/Arity' through a local
%% tail call. The first eight tail calls of a call are recorded with their arguments; later
%% ones are counted (the count is stored with the call's end).
-spec tail_call(module(), atom(), arity(), [term()]) -> ok.
tail_call(Module, Function, Arity, Args) ->
    case get(?CURRENT) of
        {Id, N, Depth} when is_integer(N), N < ?TAIL_CALLS_KEPT ->
            put(?CURRENT, {Id, N + 1, Depth}),
            ?ROOM(elixir_scope_nif:tail_call(Id, N, Module, Function, Arity, Args));
        {Id, N, Depth} when is_integer(N) ->
            put(?CURRENT, {Id, N + 1, Depth}),
            ok;
        {Id, N, Depth, _StaleAnnouncement} ->
            put(?CURRENT, {Id, N, Depth}),
            tail_call(Module, Function, Arity, Args);
        {_Id, _N, _Depth, _Announced, _Secrets} ->
            tail_hiding(Module, Function, Arity, Args, #{}, []);
        _NotInACall ->
            ok
    end.

%% @doc Called (only while the persistent term is `true') right before a remote call in tail
%% position to a wrapped function of the caller's own module (`?MODULE:loop(State)'), after its
%% arguments were evaluated: when that call's wrapper then calls {@link enter/4}, it is recorded
%% as a tail call of the current call (as {@link tail_call/4} does for local ones) and runs
%% without a recorder frame, so the loop keeps a constant stack. Outside a recorded call it
%% does nothing: the call is then recorded as a call.
-spec remote_tail_call(module(), atom(), arity()) -> ok.
remote_tail_call(Module, Function, Arity) ->
    case get(?CURRENT) of
        {Id, N, Depth} -> put(?CURRENT, {Id, N, Depth, {Module, Function, Arity}});
        {Id, N, Depth, _} -> put(?CURRENT, {Id, N, Depth, {Module, Function, Arity}});
        {Id, N, Depth, _, Secrets} ->
            put(?CURRENT, {Id, N, Depth, {Module, Function, Arity}, Secrets});
        _NotInACall -> ok
    end,
    ok.

%% @doc Called by rewritten code on the argument list of `erlang:hibernate/3' or
%% `proc_lib:hibernate/3' (returned unchanged), right before the call: hibernating discards the
%% process's stack, recorder frames included, so the calls they recorded never end (they stay
%% open, like the calls of a killed process) and the process has no open recorded call when it
%% wakes up. Without this, every wake-up of a hibernating receive loop nested one level deeper
%% under calls that no longer exist, until the depth cap stopped its recording for good.
-spec discarding_stack(Args) -> Args.
discarding_stack(Args) ->
    case get(?CURRENT) of
        InACall when is_tuple(InACall) -> put(?CURRENT, none);
        _NotInACall -> ok
    end,
    %% Attached calls open in this process go with the stack too.
    _ = elixir_scope_nif:loaded() andalso elixir_scope_nif:stack_discarded(),
    Args.

%% @doc Called by rewritten code right before it sends a message (only while its module
%% records): `Kind' is `send' (`!', `erlang:send/2,3', `Process.send/3'), `cast'
%% (`GenServer.cast/2', `gen_server:cast/2', `gen_statem:cast/2') or `{send_after, Time}'
%% (`Process.send_after/3,4', `erlang:send_after/3,4'). Inside a recorded call it records the
%% send as one event of that call: the destination as given, the process it goes to when
%% that can be told now (a pid, or a name registered here now), and the message within
%% the runtime's caps. A raw `{'$gen_cast', Message}' is recorded as a cast of `Message' (what
%% `handle_cast/2' receives); a raw `{'$gen_call', ...}' not at all (a `GenServer.call' is
%% linked as a request). Never raises, and the send itself is the caller's: the runtime does
%% not send anything.
-spec sending(send | cast | {send_after, term()}, term(), term()) -> ok.
sending(Kind, Dest, Message) ->
    case get(?CURRENT) of
        Entry when is_tuple(Entry), tuple_size(Entry) >= 3, is_integer(element(1, Entry)),
                   element(1, Entry) > 0 ->
            try
                record_send(Entry, Kind, Dest, Message)
            catch
                _:_ -> ok
            end;
        _NotInACall ->
            ok
    end.

record_send(_Entry, send, _Dest, {'$gen_call', _From, _Request}) ->
    ok;
record_send(Entry, send, Dest, {'$gen_cast', Message}) ->
    record_send(Entry, cast, Dest, Message);
record_send(Entry, Kind, Dest, Message) ->
    _ = ?ROOM(elixir_scope_nif:sent(Entry, Kind, Dest, receiver(Dest), Message)),
    ok.

%% The process a message to `Dest' goes to, when it can be told now without calling anything
%% but BIFs: a pid (of this node or another: the NIF links a pid of another node by its node
%% and text), a name registered here now; a name on another node (`{Name, Node}') as it is
%% (the NIF links it by node and name: that node's run knows which process held the name).
%% `{global, _}' and `{via, _, _}' names would need their modules.
receiver(Pid) when is_pid(Pid) -> Pid;
receiver(Name) when is_atom(Name) -> whereis(Name);
receiver({Name, Node}) when is_atom(Name), Node =:= node() -> whereis(Name);
receiver({Name, Node} = Remote) when is_atom(Name), is_atom(Node) -> Remote;
receiver(_Elsewhere) -> undefined.

%%% Control

%% @doc Starts the runtime with the default settings (see the module documentation).
-spec start() -> ok | {error, term()}.
start() ->
    start(#{}).

%% @doc Starts the runtime with settings; `ok' if it already runs. A failed start is retried.
-spec start(map()) -> ok | {error, term()}.
start(Options) when is_map(Options) ->
    case persistent_term:get(?STATE, undefined) of
        undefined -> claim_and_start(Options);
        {failed, _} -> claim_and_start(Options);
        starting -> {error, starting};
        _RunningOrPaused -> ok
    end.

%% @doc `running', `paused', `starting', `not_started' or `{failed, Reason}'.
-spec status() -> running | paused | starting | not_started | {failed, term()}.
status() ->
    case persistent_term:get(?STATE, undefined) of
        undefined -> not_started;
        {Mode, _Paused} when Mode =:= running; Mode =:= paused -> Mode;
        Other -> Other
    end.

%% @doc Pauses recording of every module (a paused wrapped call costs only the check).
-spec pause() -> ok | {error, term()}.
pause() ->
    update(fun({_, Paused}) -> {paused, Paused} end).

%% @doc Resumes recording (modules paused one by one stay paused).
-spec resume() -> ok | {error, term()}.
resume() ->
    update(fun({_, Paused}) -> {running, Paused} end).

%% @doc Pauses recording of `Module'.
-spec pause(module()) -> ok | {error, term()}.
pause(Module) when is_atom(Module) ->
    update(fun({Mode, Paused}) -> {Mode, Paused#{Module => true}} end).

%% @doc Resumes recording of `Module'.
-spec resume(module()) -> ok | {error, term()}.
resume(Module) when is_atom(Module) ->
    update(fun({Mode, Paused}) -> {Mode, maps:remove(Module, Paused)} end).

%% @doc Returns once every event captured before the call is stored and on disk.
-spec flush() -> ok | {error, term()}.
flush() ->
    flush(?FLUSH_TIMEOUT_MS).

%% @doc {@link flush/0} with a timeout in milliseconds.
-spec flush(non_neg_integer()) -> ok | {error, term()}.
flush(TimeoutMs) ->
    if_loaded(fun() -> elixir_scope_nif:flush(TimeoutMs) end).

%% @doc `#{captured, dropped, in_ring, stored, durable, write_failed, last_error, run,
%% memory_bound}': events the hot path produced, lost to a full ring, waiting in it, written to
%% the store, on disk, lost to write errors; the last write error; the run; the most bytes
%% events can hold between capture and store. A runtime that is not recording answers
%% `{error, not_started}', or `{error, {failed, Reason}}' when it could not start (what it
%% also said, once, on standard error).
-spec stats() -> map() | {error, term()}.
stats() ->
    case persistent_term:get(?STATE, undefined) of
        {failed, Reason} -> {error, {failed, Reason}};
        _ -> if_loaded(fun elixir_scope_nif:stats/0)
    end.

%% @doc The library paths tried, in order (without extension).
-spec nif_paths() -> [string()].
nif_paths() ->
    FromEnv = case os:getenv(?NIF_ENV) of
                  false -> [];
                  "" -> [];
                  Path -> [filename:rootname(Path, ".so")]
              end,
    Dirs = case code:which(?MODULE) of
               Beam when is_list(Beam) ->
                   Ebin = filename:dirname(Beam),
                   [Ebin, filename:join(filename:dirname(Ebin), "priv")];
               _ ->
                   []
           end,
    FromEnv ++ [filename:join(Dir, Name) || Dir <- Dirs, Name <- ?NIF_NAMES].

%%% Loading rewritten beams

%% @doc Loads again every module this VM loaded from a beam under `Dir' whose file changed
%% since (its MD5 differs from the loaded code's), so that beams `elixir-scope instrument'
%% rewrote after the VM loaded them run rewritten. Mix loads the modules it compiles, so in
%% `mix test', `mix run' or `iex -S mix' the compile alias's instrument step would otherwise
%% leave the just-compiled originals running, unrecorded (`mix elixir_scope.reload' calls this
%% with the build directory). ElixirScope's own modules are never reloaded. A module whose
%% old code a process still runs is left as it is, with the reason `old_code_in_use'.
-spec reload(file:name_all()) -> #{reloaded := [module()], failed := [{module(), term()}]}.
reload(Dir) ->
    Root = case filename:absname(Dir) of
               Binary when is_binary(Binary) -> unicode:characters_to_list(Binary);
               Chars -> Chars
           end,
    without_recording(
      fun() ->
              Changed = [M || {M, File} <- code:all_loaded(),
                              is_list(File),
                              not is_own_module(M),
                              is_under(Root, File),
                              beam_changed(M, File)],
              Results = [{M, load_again(M)} || M <- lists:sort(Changed)],
              #{reloaded => [M || {M, ok} <- Results],
                failed => [{M, Why} || {M, {error, Why}} <- Results]}
      end).

is_own_module(Module) ->
    Name = atom_to_list(Module),
    lists:prefix("elixir_scope_", Name)
        orelse Name =:= "Elixir.ElixirScope"
        orelse lists:prefix("Elixir.ElixirScope.", Name)
        orelse lists:prefix("Elixir.Mix.Tasks.ElixirScope.", Name).

is_under(Root, File) ->
    lists:prefix(Root ++ "/", filename:absname(File)).

beam_changed(Module, File) ->
    case beam_lib:md5(File) of
        {ok, {Module, OnDisk}} -> OnDisk =/= erlang:get_module_info(Module, md5);
        _ -> false
    end.

load_again(Module) ->
    case code:soft_purge(Module) of
        false ->
            {error, old_code_in_use};
        true ->
            case code:load_file(Module) of
                {module, Module} -> ok;
                {error, Why} -> {error, Why}
            end
    end.

%%% Queries

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

%%% Tests
%%
%% A recording made by a test run knows which test made which calls. The test's framework
%% reports each test once it finished ({@link test_finished/1}: name, file and line, outcome,
%% failure message, duration); the runtime knows which process ran it, so that the test's
%% calls are that process's and those of the processes it started (`$callers', `$ancestors').
%% ExUnit runs each test in a process of its own, which ExUnit.OnExitHandler registers and
%% whose parent (the test module's runner) keeps the test under `ExUnit.Runner' in its
%% dictionary: a process's first recorded call notes it in the table `elixir_scope_tests'
%% (what ExUnit's supervised processes came from is the test's process, not the test's
%% supervisor, for the same reason). Other frameworks name the process with
%% {@link test_started/2} (Common Test's hook runs in the test case's process).

%% @doc Notes that the calling process runs the test `Name' of `Module' (a Common Test case, an
%% EUnit test): {@link test_finished/1} of that test gives it this process. Starts the runtime
%% if needed.
-spec test_started(module(), atom() | binary()) -> ok.
test_started(Module, Name) ->
    _ = start(),
    note(Module, Name, self()).

%% @doc Records a test that finished: `Test' is `#{framework => exunit | eunit | common_test,
%% module, name, outcome => passed | failed | skipped | excluded | invalid}', with `file',
%% `line', `message' (a binary), `duration_us' and `pid' when known. Without `pid', the process
%% noted for `{Module, Name}' (see "Tests") is the test's. `ok' or `{error, not_started}'.
-spec test_finished(map()) -> ok | {error, term()}.
test_finished(#{module := Module, name := Name} = Test) ->
    Pid = case Test of
              #{pid := P} when is_pid(P) -> P;
              _ -> noted(Module, Name)
          end,
    if_loaded(fun() -> ?ROOM(elixir_scope_nif:test_finished(Test#{pid => Pid})) end).

note(Module, Name, Pid) ->
    try ets:insert(?TESTS, {{Module, Name}, Pid}) of
        true -> ok
    catch
        error:badarg -> ok
    end.

noted(Module, Name) ->
    try ets:take(?TESTS, {Module, Name}) of
        [{_, Pid}] -> Pid;
        [] -> undefined
    catch
        error:badarg -> undefined
    end.

%% A process without a `$callers' or `$ancestors' origin may be running an ExUnit test.
note_test(none) ->
    case ets:whereis(?EXUNIT_TEST_PROCESSES) of
        undefined -> ok;
        Table ->
            try ets:member(Table, self()) of
                true -> note_exunit_test();
                false -> ok
            catch
                error:badarg -> ok
            end
    end;
note_test(_Origin) ->
    ok.

note_exunit_test() ->
    try
        {parent, Runner} = process_info(self(), parent),
        {dictionary, Dictionary} = process_info(Runner, dictionary),
        case lists:keyfind(?EXUNIT_RUNNER, 1, Dictionary) of
            {_, #{'__struct__' := 'Elixir.ExUnit.Test', module := Module, name := Name}} ->
                note(Module, Name, self());
            _ ->
                ok
        end
    catch
        %% Before OTP 25 there is no `parent'; a runner that is gone has no dictionary.
        _:_ -> ok
    end.

%% @doc Runs `Fun' with recording off for the calling process only and returns its result:
%% wrapped functions it calls run unrecorded, other processes record as before. For code that
%% reads the recording while the system records (the IEx helpers): what it calls to query and
%% print (Enum, Inspect implementations, ...) may be wrapped too, and must not add itself to
%% what it reads.
-spec without_recording(fun(() -> T)) -> T.
without_recording(Fun) when is_function(Fun, 0) ->
    case put(?CURRENT, muted) of
        muted ->
            Fun();
        Previous ->
            try
                Fun()
            after
                restore_current(Previous)
            end
    end.

%%% Internals

restore_current(undefined) -> erase(?CURRENT);
restore_current(Previous) -> put(?CURRENT, Previous).

in_runtime() ->
    get(?IN_RUNTIME) =:= true.

start_on_first_use(Module) ->
    case in_runtime() of
        true ->
            false;
        false ->
            _ = start(),
            case persistent_term:get(?STATE, undefined) of
                {running, Paused} -> not is_map_key(Module, Paused);
                _ -> false
            end
    end.

%% Asks the watcher to monitor this process, at its first recorded call: a message, so that
%% the process never waits (see watcher/0).
watch() ->
    case whereis(?WATCHER) of
        undefined -> ok;
        Watcher -> Watcher ! {watch, self()}
    end,
    ok.

%% Starts the watcher once the runtime runs (a second start finds it registered).
start_watcher() ->
    Watcher = spawn(fun watcher/0),
    try register(?WATCHER, Watcher) of
        true -> ok
    catch
        error:badarg -> exit(Watcher, kill)
    end.

%% The watcher: monitors each process that recorded a call, from its first on, and records
%% how it ended (elixir_scope_nif:exited/2: the pid and its exit reason; run events). One
%% process with a monitor per live recorded process, receiving a message per process start and
%% end, so that no recording process ever waits for it; its queue lives off its heap, and it
%% runs at high priority, so that the monitor is in place soon after the first call. A process
%% that ended before that is recorded as ended for a reason nobody knows (the DOWN of a
%% monitor on a dead process says `noproc'): the crash queries then look at its last call.
%% Monitors rather than trace flags: the VM gives each process one tracer, which belongs to
%% the user's `dbg', `recon_trace' or `elixir-scope attach'; a monitor takes nothing from
%% anyone and is invisible to the monitored process.
watcher() ->
    put(?IN_RUNTIME, true),
    put(?CURRENT, muted),
    _ = process_flag(message_queue_data, off_heap),
    _ = process_flag(priority, high),
    watcher_loop().

watcher_loop() ->
    receive
        {watch, Pid} ->
            _ = erlang:monitor(process, Pid);
        {'DOWN', _Ref, process, Pid, noproc} ->
            exited(Pid, ?UNKNOWN_REASON);
        {'DOWN', _Ref, process, Pid, Reason} ->
            exited(Pid, Reason);
        _Other ->
            ok
    end,
    watcher_loop().

exited(Pid, Reason) ->
    try
        _ = ?ROOM(elixir_scope_nif:exited(Pid, Reason)),
        ok
    catch
        _:_ -> ok
    end.

%% Only the process that registers the owner starts the runtime: registering is atomic.
claim_and_start(Options) ->
    Owner = spawn(fun owner/0),
    try register(?OWNER, Owner) of
        true ->
            tests_table(Owner),
            initialize(Owner, Options)
    catch
        error:badarg ->
            exit(Owner, kill),
            {error, starting}
    end.

%% The registered process that marks the runtime as claimed. It records nothing. Once the
%% runtime runs, it applies pause/resume requests one at a time (each loads a new gate), and
%% renames the run when the VM gets a node name after recording started (see node_watch/2).
owner() ->
    put(?IN_RUNTIME, true),
    put(?CURRENT, muted),
    owner_loop(undefined).

%% The table of tests running now (see "Tests"), created before the runtime starts (so that a
%% hook that started it finds it) and owned by the owner, which lives as long as the runtime.
tests_table(Owner) ->
    try ets:new(?TESTS, [named_table, public, set]) of
        Table -> ets:give_away(Table, Owner, tests)
    catch
        error:badarg -> ok
    end.

%% `Node': the node name the run records (`undefined' until the runtime started).
owner_loop(Node) ->
    receive
        stop ->
            ok;
        {'ETS-TRANSFER', _Table, _From, tests} ->
            owner_loop(Node);
        {update, Change, From, Ref} ->
            From ! {Ref, apply_update(Change)},
            owner_loop(Node);
        {recording_as, Recorded} ->
            %% Told by initialize/2: from now on, every other node connecting says so.
            _ = (catch net_kernel:monitor_nodes(true)),
            owner_loop(node_watch(Recorded, node()));
        {nodeup, _Other} ->
            owner_loop(node_watch(Node, node()));
        {nodedown, _Other} ->
            owner_loop(Node)
    end.

%% The run is named after the node that records it (`node()' when the runtime started). A VM
%% that starts distribution later (`net_kernel:start/1', `Node.start/2', a test helper that
%% turns the test VM into a cluster's first node) was `nonode@nohost' then: at the first
%% connection of another node (`nodeup'), the run takes the node's name. Returns the name
%% the run records.
node_watch(Node, Node) ->
    Node;
node_watch(undefined, _Now) ->
    undefined;
node_watch(_Recorded, Now) ->
    case ?ROOM(elixir_scope_nif:node_named(Now)) of
        ok -> Now;
        {error, _} -> Now
    end.

initialize(Owner, Options) ->
    Previous = put(?IN_RUNTIME, true),
    persistent_term:put(?STATE, starting),
    %% Read before the NIF reads it (nif_config/1): a name that comes in between is seen as
    %% a change, and recorded again.
    Node = node(),
    try load_and_start(Options) of
        {ok, _Started} ->
            widen_stack_depth(),
            Owner ! {recording_as, Node},
            start_watcher(),
            Paused = maps:get(paused, config(Options), false) =:= true,
            case set_state(case Paused of
                               true -> {paused, #{}};
                               false -> {running, #{}}
                           end) of
                ok -> ok;
                {error, Reason} -> failed(Owner, Reason)
            end;
        {error, Reason} ->
            failed(Owner, Reason)
    catch
        Class:Reason ->
            failed(Owner, {Class, Reason})
    after
        restore_in_runtime(Previous)
    end.

failed(Owner, Reason) ->
    %% Whatever gate loads (one that answers false, or none: the default asks recording/1,
    %% which answers false too), the state is published, so that start/1 can try again.
    _ = load_gate({failed, Reason}),
    publish({failed, Reason}),
    %% The name is free before this returns, so that a start/1 right after claims it (the owner
    %% stops on its own time).
    _ = catch unregister(?OWNER),
    Owner ! stop,
    %% Once, on standard error: never on standard output, which may be the program's product
    %% (an escript's output that its tests compare). status/0 and stats/0 say it too.
    io:format(standard_error, "ElixirScope: recording is off, the runtime did not start: ~p~n",
              [Reason]),
    {error, Reason}.

%% Wrapper frames take room in stack traces; elixir_scope_stacktrace makes room for them
%% (from the rewriter's side of the contract; absent in older versions of that module).
widen_stack_depth() ->
    try
        _ = elixir_scope_stacktrace:widen_depth(),
        ok
    catch
        error:undef -> ok
    end.

restore_in_runtime(undefined) -> erase(?IN_RUNTIME);
restore_in_runtime(Previous) -> put(?IN_RUNTIME, Previous).

load_and_start(Options) ->
    case load_nif() of
        ok ->
            case maps:keys(maps:without(elixir_scope_nif:settings(), Options)) of
                [] -> elixir_scope_nif:start(nif_config(config(Options)));
                [Key | _] -> {error, {bad_setting, Key, <<"not a setting of the runtime">>}}
            end;
        {error, _} = Error ->
            Error
    end.

load_nif() ->
    case elixir_scope_nif:loaded() of
        true -> ok;
        false -> load_nif(nif_paths(), [])
    end.

load_nif([], Tried) ->
    {error, {nif_not_loaded, lists:reverse(Tried)}};
load_nif([Path | Rest], Tried) ->
    case elixir_scope_nif:load(Path) of
        ok -> ok;
        {error, Reason} -> load_nif(Rest, [{Path, Reason} | Tried])
    end.

%% Options over the application environment, over the installed settings (the NIF is loaded:
%% it names the settings).
config(Options) ->
    Keys = elixir_scope_nif:settings(),
    AppEnv = maps:with(Keys, maps:from_list(application:get_all_env(elixir_scope))),
    Installed = installed_settings(),
    Config = maps:merge(maps:merge(maps:with(Keys, Installed), AppEnv), Options),
    with_project_db(Config, maps:get(project_root, Installed, undefined)).

%% The settings `elixir-scope instrument' wrote next to this module's beam (from
%% `elixir_scope.toml', and the project's root directory): one term, a `{Key, Value}' list. A
%% missing or unreadable file means no settings.
installed_settings() ->
    case code:which(?MODULE) of
        Beam when is_list(Beam) ->
            File = filename:join(filename:dirname(Beam), ?SETTINGS_FILE),
            case file:consult(File) of
                {ok, [Entries]} when is_list(Entries) ->
                    maps:from_list([E || {_, _} = E <- Entries]);
                _ ->
                    #{}
            end;
        _ ->
            #{}
    end.

%% Where to record when no setting names a path: `$ELIXIR_SCOPE_DB' (the NIF reads it), else
%% `.elixir_scope' in the project the beams were instrumented in, when that
%% directory exists here, so that a VM whose working directory moves (Common Test runs suites
%% in its log directories, an umbrella runs each app's tests in its own) records where
%% `elixir-scope' looks; else the NIF's default, under the working directory.
with_project_db(#{db_path := _} = Config, _Root) ->
    Config;
with_project_db(Config, Root) when is_binary(Root) ->
    Unset = os:getenv(?DB_ENV, "") =:= "",
    case Unset andalso filelib:is_dir(Root) of
        true ->
            Config#{db_path => filename:join([Root, <<".elixir_scope">>])};
        false ->
            Config
    end;
with_project_db(Config, _Root) ->
    Config.

%% What the NIF's start/1 reads.
nif_config(Config) ->
    Base = #{node => node(),
             otp_release => list_to_binary(erlang:system_info(otp_release)),
             shards => erlang:system_info(schedulers)},
    Merged = maps:merge(Base, Config),
    case Merged of
        #{db_path := Path} when is_list(Path) ->
            Merged#{db_path := unicode:characters_to_binary(Path)};
        _ ->
            Merged
    end.

%% Pause and resume go through the owner, so that states and gates change in one order.
update(Change) ->
    case start() of
        ok -> ask_owner(Change);
        Error -> Error
    end.

ask_owner(Change) ->
    case whereis(?OWNER) of
        undefined ->
            {error, not_started};
        Owner ->
            Ref = monitor(process, Owner),
            Owner ! {update, Change, self(), Ref},
            receive
                {Ref, Reply} ->
                    demonitor(Ref, [flush]),
                    Reply;
                {'DOWN', Ref, process, _, Why} ->
                    {error, {runtime_owner_down, Why}}
            end
    end.

%% In the owner.
apply_update(Change) ->
    case persistent_term:get(?STATE, undefined) of
        {Mode, Paused} when Mode =:= running; Mode =:= paused ->
            set_state(Change({Mode, Paused}));
        Other ->
            {error, Other}
    end.

%% Loads the gate that answers for `State', then publishes `State'. When the gate cannot be
%% swapped (a process lingers in the old one for a whole second), nothing changes.
set_state(State) ->
    case load_gate(State) of
        ok -> publish(State);
        {error, _} = Error -> Error
    end.

publish(State) ->
    mark_pause(persistent_term:get(?STATE, undefined), State),
    %% Attached calls are recorded as rewritten ones would be (elixir_scope_attach).
    _ = elixir_scope_nif:loaded() andalso elixir_scope_nif:recording_state(State),
    persistent_term:put(?RECORDING, recording_term(State)),
    persistent_term:put(?STATE, State),
    ok.

%% The run records when recording pauses and resumes globally, so that a query that finds
%% nothing can say that the run was paused.
mark_pause({paused, _}, {running, _}) -> _ = ?ROOM(elixir_scope_nif:paused(false)), ok;
mark_pause({paused, _}, _Paused) -> ok;
mark_pause(_Before, {paused, _}) -> _ = ?ROOM(elixir_scope_nif:paused(true)), ok;
mark_pause(_Before, _After) -> ok.

%% What wrappers of older rewrites (and the tail-call reports) read: `true' (record
%% everything), `false' (everything paused) or `partial' (ask recording/1).
recording_term({running, Paused}) when map_size(Paused) =:= 0 -> true;
recording_term({paused, _}) -> false;
recording_term(_) -> partial.

%%% The gate

%% The module every wrapper asks, `elixir_scope_gate:on(Module)': a function of one clause
%% per paused module, generated for each state and loaded over the previous one, so that a
%% wrapped call pays one remote call that returns a constant (about 2 ns here) instead of a
%% persistent_term read. The installed default (runtime_nif/erlang/elixir_scope_gate.erl)
%% asks recording/1: it answers before the runtime starts, and whenever no gate can be
%% generated (no compiler in the system: then every wrapped call asks recording/1, which is
%% slower but answers the same).
load_gate(State) ->
    case gate_binary(State) of
        {ok, Binary} ->
            swap_gate(Binary, ?GATE_TRIES);
        error ->
            case persistent_term:get(?GATE_FAILED, false) of
                true -> ok;
                false ->
                    persistent_term:put(?GATE_FAILED, true),
                    logger:notice("ElixirScope: no compiler to generate the gate module; "
                                  "wrapped calls ask elixir_scope_runtime:recording/1 (slower)")
            end,
            keep_default_gate()
    end.

%% Without a generated gate, only the default one answers correctly.
keep_default_gate() ->
    case erlang:module_loaded(?GATE) andalso code:which(?GATE) =:= ?GATE_FILE of
        true -> {error, no_compiler_for_the_gate};
        false -> ok
    end.

%% The gate's code: `on(_) -> Answer.', with a `false' clause before it for each module paused
%% on its own.
gate_forms(State) ->
    {Default, Paused} = case State of
                            {running, P} -> {true, P};
                            {paused, P} -> {false, P};
                            _StartingOrFailed -> {false, #{}}
                        end,
    Clauses = [{clause, 1, [{atom, 1, M}], [], [{atom, 1, false}]}
               || Default, M <- lists:sort(maps:keys(Paused))]
        ++ [{clause, 1, [{var, 1, '_'}], [], [{atom, 1, Default}]}],
    [{attribute, 1, module, ?GATE},
     {attribute, 1, export, [{on, 1}]},
     {function, 1, on, 1, Clauses}].

gate_binary(State) ->
    try compile:forms(gate_forms(State), [binary, return_errors, no_line_info]) of
        {ok, ?GATE, Binary} -> {ok, Binary};
        {ok, ?GATE, Binary, _Warnings} -> {ok, Binary};
        _ -> error
    catch
        _:_ -> error
    end.

%% The previous gate becomes old code and the new one current. Old code must be purged first,
%% and only when no process runs it (soft purge; no process is ever killed): a process
%% preempted on the gate's first instruction still does, for a moment, so this retries.
swap_gate(Binary, Tries) ->
    case code:soft_purge(?GATE) of
        true ->
            case code:load_binary(?GATE, ?GATE_FILE, Binary) of
                {module, ?GATE} -> ok;
                {error, Why} -> {error, {gate_not_loaded, Why}}
            end;
        false when Tries > 1 ->
            receive after 1 -> ok end,
            swap_gate(Binary, Tries - 1);
        false ->
            {error, gate_in_use}
    end.

if_loaded(Fun) ->
    case elixir_scope_nif:loaded() of
        true -> Fun();
        false -> {error, not_started}
    end.

pid_text(Pid) ->
    list_to_binary(pid_to_list(Pid)).

%% Waits a millisecond (this process only: other processes run, and so does the drain), then
%% records again until the ring has room (see ?ROOM).
when_room(Record) ->
    receive after 1 -> ok end,
    case Record() of
        full -> when_room(Record);
        Answer -> Answer
    end.

%% The name this process is registered under, or `[]': recorded with its first call, so that a
%% message another node sends to `{Name, Node}' finds the process that received it (a
%% gen_server registers its name before its init/1 runs).
registered_name() ->
    case process_info(self(), registered_name) of
        {registered_name, Name} -> Name;
        _ -> []
    end.

%% Where this process came from: the head of `$callers' (Task), else of `$ancestors' (in an
%% ExUnit run, the test's process when it is among them: a process a test started under its
%% test supervisor, `start_supervised/1', came from the test).
origin() ->
    case get('$callers') of
        [Caller | _] when is_pid(Caller) ->
            {caller, Caller, pid_text(Caller)};
        _ ->
            case get('$ancestors') of
                [Ancestor | _] = Ancestors -> test_ancestor(Ancestors, Ancestor);
                _ -> none
            end
    end.

test_ancestor(Ancestors, Ancestor) ->
    case ets:whereis(?EXUNIT_TEST_PROCESSES) of
        undefined -> ancestor(Ancestor);
        Table ->
            %% The table goes when ExUnit stops: then nothing is a test's process.
            try test_process(Table, Ancestors, Ancestor) of
                Found -> ancestor(Found)
            catch
                error:badarg -> ancestor(Ancestor)
            end
    end.

test_process(Table, [First | Rest], Default) when is_pid(First) ->
    case ets:member(Table, First) of
        true -> First;
        false -> test_process(Table, Rest, Default)
    end;
test_process(Table, [_Name | Rest], Default) ->
    test_process(Table, Rest, Default);
test_process(_Table, [], Default) ->
    Default.

ancestor(Pid) when is_pid(Pid) ->
    {ancestor, Pid, pid_text(Pid)};
ancestor(Name) when is_atom(Name) ->
    case whereis(Name) of
        Pid when is_pid(Pid) -> {ancestor, Pid, pid_text(Pid)};
        undefined -> none
    end;
ancestor(_GlobalOrVia) ->
    none.
