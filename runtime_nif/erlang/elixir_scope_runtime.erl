%% @doc The ElixirScope runtime: the module rewritten code calls, implementing the runtime
%% contract (the behaviour `elixir_scope_contract'; docs/ARCHITECTURE.md, "The runtime
%% contract"), and the public face of the runtime.
%%
%% == The contract ==
%% A wrapper asks the gate, `elixir_scope_gate:on(Module)': `true' records, anything else
%% runs the original code. The installed default gate asks {@link recording/1} (which starts
%% the runtime on first use); from then on `elixir_scope_control' generates and loads the gate
%% at every start, pause and resume. When recording, the wrapper calls {@link enter/4}, runs
%% the original body and calls {@link return/2} or {@link exception/4}. Local tail calls to
%% wrapped functions call {@link tail_call/4}.
%%
%% == The runtime's modules ==
%% <ul>
%% <li>`elixir_scope_runtime' (this module): the contract's hot path, which every recorded call
%%     runs; and, as one-line delegations, the functions users, tools and test hooks call
%%     (start, pause, flush, queries, reload), so that they all stay under one name.</li>
%% <li>`elixir_scope_control': starting the runtime (settings, the NIF library), pause and
%%     resume (the owner process and the generated gate), the watcher of process ends, the
%%     tests of a test run.</li>
%% <li>`elixir_scope_query': the queries (for IEx and the cluster queries).</li>
%% <li>`elixir_scope_reload': loading rewritten beams into a VM that loaded the originals.</li>
%% </ul>
%%
%% == State ==
%% <ul>
%% <li>persistent term `elixir_scope_recording' (written by `elixir_scope_control'): `true'
%%     exactly when every module is recorded, `false' when recording is paused globally,
%%     `partial' when some modules are paused, absent before the runtime starts. The
%%     tail-call reports read it.</li>
%% <li>persistent term `elixir_scope_state' (written by `elixir_scope_control'): `undefined'
%%     (not started), `starting', `{running, Paused}' or `{paused, Paused}' (`Paused' maps
%%     paused modules to `true'), `{failed, Reason}'.</li>
%% <li>process dictionary `$elixir_scope_call': the process's current recorded call,
%%     `{Id, TailCalls, Depth}' (`Depth': how many recorded calls of the process are open, i.e.
%%     have a recorder frame on its stack), with a fourth element `{M, F, Arity}' between
%%     {@link remote_tail_call/3} and the {@link enter/4} of the call it announced; `none'
%%     between calls; `undefined' before the process's first recorded call; `muted' inside
%%     {@link without_recording/1}. One entry, so that a recorded call costs one read and two
%%     writes of the process dictionary.</li>
%% <li>process dictionary `$elixir_scope_in_runtime': `true' in processes that must not record
%%     (the one starting the runtime, the runtime's owner and watcher: see
%%     {@link as_runtime/1}).</li>
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
%% current call. A process's first recorded call also asks the watcher (see
%% `elixir_scope_control') to monitor it; the watcher records how the process ended. Neither
%% ever makes the recording process wait.
-module(elixir_scope_runtime).
-behaviour(elixir_scope_contract).

%% The contract (elixir_scope_contract's callbacks).
-export([recording/1, enter/4, enter/5, return/2, exception/4, tail_call/4, tail_call/5,
         remote_tail_call/3, discarding_stack/1, sending/3]).
-export([without_recording/1]).
%% Control (elixir_scope_control).
-export([start/0, start/1, status/0, pause/0, resume/0, pause/1, resume/1]).
-export([flush/0, flush/1, stats/0, nif_paths/0]).
%% Tests (for test framework hooks: ElixirScope.ExUnitFormatter, elixir_scope_cth,
%% elixir_scope_eunit; elixir_scope_control).
-export([test_started/2, test_finished/1]).
%% Loading rewritten beams into a VM that loaded the originals (elixir_scope_reload).
-export([reload/1]).
%% Queries (for IEx; elixir_scope_query).
-export([call/1, children/2, subtree/2, calls/1, tree/2, tree_prefixes/1, summary/0, runs/0,
         tests/1, search/2, origin/2]).
-export([profile/1, diff/3, crashes/1]).
%% For elixir_scope_control: its processes, and its NIF calls when the ring is full.
-export([as_runtime/1, when_room/1]).

%% Written by elixir_scope_control (see "State").
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
%% ExUnit's table of the processes that run tests (ExUnit.OnExitHandler registers each).
-define(EXUNIT_TEST_PROCESSES, 'Elixir.ExUnit.OnExitHandler').
%% What ExUnit's module runner keeps in its dictionary: the test it runs now.
-define(EXUNIT_RUNNER, 'Elixir.ExUnit.Runner').
%% Tail calls recorded per call with their arguments; later ones are only counted.
-define(TAIL_CALLS_KEPT, 8).

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
    elixir_scope_control:watch(),
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
%% (arguments, results, exceptions and their stack traces, tail calls). Without caps and with
%% the result shown, the token is enter/4's; else it carries them to {@link return/2}.
-spec enter(module(), atom(), arity(), [term()], elixir_scope_contract:options()) ->
          token() | {?CAPS, map(), boolean(), token()}.
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
-spec tail_call(module(), atom(), arity(), [term()], elixir_scope_contract:options()) -> ok.
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
            elixir_scope_control:watch(),
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

%% @doc Runs `Fun' as the runtime: nothing the calling process calls meanwhile is recorded
%% ({@link recording/1} answers `false' in it). With `forever', marks the calling process as
%% one of the runtime's for good (its owner, its watcher), its own calls muted too.
-spec as_runtime(fun(() -> T) | forever) -> T | ok.
as_runtime(forever) ->
    put(?IN_RUNTIME, true),
    put(?CURRENT, muted),
    ok;
as_runtime(Fun) when is_function(Fun, 0) ->
    Previous = put(?IN_RUNTIME, true),
    try
        Fun()
    after
        case Previous of
            undefined -> erase(?IN_RUNTIME);
            _ -> put(?IN_RUNTIME, Previous)
        end
    end.

%%% The rest of the runtime, under the names users and tools call

%% @doc See elixir_scope_control:start/0.
-spec start() -> ok | {error, term()}.
start() -> elixir_scope_control:start().
%% @doc See elixir_scope_control:start/1.
-spec start(map()) -> ok | {error, term()}.
start(Options) -> elixir_scope_control:start(Options).
%% @doc See elixir_scope_control:status/0.
-spec status() -> running | paused | starting | not_started | {failed, term()}.
status() -> elixir_scope_control:status().
%% @doc See elixir_scope_control:pause/0.
-spec pause() -> ok | {error, term()}.
pause() -> elixir_scope_control:pause().
%% @doc See elixir_scope_control:resume/0.
-spec resume() -> ok | {error, term()}.
resume() -> elixir_scope_control:resume().
%% @doc See elixir_scope_control:pause/1.
-spec pause(module()) -> ok | {error, term()}.
pause(Module) -> elixir_scope_control:pause(Module).
%% @doc See elixir_scope_control:resume/1.
-spec resume(module()) -> ok | {error, term()}.
resume(Module) -> elixir_scope_control:resume(Module).
%% @doc See elixir_scope_control:flush/0.
-spec flush() -> ok | {error, term()}.
flush() -> elixir_scope_control:flush().
%% @doc See elixir_scope_control:flush/1.
-spec flush(non_neg_integer()) -> ok | {error, term()}.
flush(TimeoutMs) -> elixir_scope_control:flush(TimeoutMs).
%% @doc See elixir_scope_control:stats/0.
-spec stats() -> map() | {error, term()}.
stats() -> elixir_scope_control:stats().
%% @doc See elixir_scope_control:nif_paths/0.
-spec nif_paths() -> [string()].
nif_paths() -> elixir_scope_control:nif_paths().
%% @doc See elixir_scope_control:test_started/2.
-spec test_started(module(), atom() | binary()) -> ok.
test_started(Module, Name) -> elixir_scope_control:test_started(Module, Name).
%% @doc See elixir_scope_control:test_finished/1.
-spec test_finished(map()) -> ok | {error, term()}.
test_finished(Test) -> elixir_scope_control:test_finished(Test).
%% @doc See elixir_scope_reload:reload/1.
-spec reload(file:name_all()) -> #{reloaded := [module()], failed := [{module(), term()}]}.
reload(Dir) -> elixir_scope_reload:reload(Dir).
%% @doc See elixir_scope_query:call/1.
call(Id) -> elixir_scope_query:call(Id).
%% @doc See elixir_scope_query:children/2.
children(Id, Limit) -> elixir_scope_query:children(Id, Limit).
%% @doc See elixir_scope_query:subtree/2.
subtree(Id, Limit) -> elixir_scope_query:subtree(Id, Limit).
%% @doc See elixir_scope_query:calls/1.
calls(Filter) -> elixir_scope_query:calls(Filter).
%% @doc See elixir_scope_query:search/2.
search(Spec, Options) -> elixir_scope_query:search(Spec, Options).
%% @doc See elixir_scope_query:origin/2.
origin(Spec, Options) -> elixir_scope_query:origin(Spec, Options).
%% @doc See elixir_scope_query:tree/2.
tree(Id, Limits) -> elixir_scope_query:tree(Id, Limits).
%% @doc See elixir_scope_query:tree_prefixes/1.
tree_prefixes(Depths) -> elixir_scope_query:tree_prefixes(Depths).
%% @doc See elixir_scope_query:summary/0.
summary() -> elixir_scope_query:summary().
%% @doc See elixir_scope_query:profile/1.
profile(Options) -> elixir_scope_query:profile(Options).
%% @doc See elixir_scope_query:diff/3.
diff(RunA, RunB, Options) -> elixir_scope_query:diff(RunA, RunB, Options).
%% @doc See elixir_scope_query:runs/0.
runs() -> elixir_scope_query:runs().
%% @doc See elixir_scope_query:tests/1.
tests(Options) -> elixir_scope_query:tests(Options).
%% @doc See elixir_scope_query:crashes/1.
crashes(Options) -> elixir_scope_query:crashes(Options).

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
            _ = elixir_scope_control:start(),
            case persistent_term:get(?STATE, undefined) of
                {running, Paused} -> not is_map_key(Module, Paused);
                _ -> false
            end
    end.


%% A process without a `$callers' or `$ancestors' origin may be running an ExUnit test: its
%% first recorded call notes which (see "Tests" in elixir_scope_control).
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
                elixir_scope_control:note_test(Module, Name, self());
            _ ->
                ok
        end
    catch
        %% Before OTP 25 there is no `parent'; a runner that is gone has no dictionary.
        _:_ -> ok
    end.

pid_text(Pid) ->
    list_to_binary(pid_to_list(Pid)).

%% @doc Waits a millisecond (this process only: other processes run, and so does the drain),
%% then records again until the ring has room (see ?ROOM).
-spec when_room(fun(() -> T)) -> T.
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

