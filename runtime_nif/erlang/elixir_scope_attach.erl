%% @doc Attach: record the calls of a running VM without rewriting anything, through the VM's
%% own call tracing, into the same recording as rewritten code.
%%
%% {@link attach/2} starts the runtime in this VM if it is not running (as the first call of
%% rewritten code does), sets call trace patterns with a match spec giving `exception_trace'
%% (a `return_from' or `exception_from' message at every end) on the target functions, and
%% call trace flags with one tracer process, registered as `elixir_scope_attach', on the
%% processes (`all' by default). The tracer turns
%% <ul>
%% <li>`{trace_ts, Pid, call, {M, F, Args}, Ts}'</li>
%% <li>`{trace_ts, Pid, return_from, {M, F, A}, Result, Ts}'</li>
%% <li>`{trace_ts, Pid, exception_from, {M, F, A}, {Class, Reason}, Ts}'</li>
%% </ul>
%% into the runtime's events through the NIFs `attached_enter/9', `attached_return/3' and
%% `attached_exception/4': call ids, parents (the caller's open attached call in that
%% process, the tracer keeps a stack of them per process), pids, arguments and results within
%% the runtime's caps and redaction, the times of the trace messages. They are stored,
%% queried, shown as trees and exported like rewritten calls.
%%
%% == Safety (like recon_trace) ==
%% A rate limit (`rate', calls per second, 10,000 by default) and a total limit (`limit',
%% 100,000 calls) are always in force: when either is reached, tracing stops cleanly (flags
%% and patterns removed, the messages already sent recorded) and the recording holds a call
%% `elixir_scope_attach:stopped(Info)' whose result is the reason (`rate_limit',
%% `total_limit', `detached', `tracer_error'). The recording starts with a call
%% `elixir_scope_attach:attached(Targets, Info)' that says what was attached, with the limits.
%%
%% == Never fight another tracer ==
%% A process that another tracer traces already (`erlang:trace_info(Pid, tracer)') is left
%% alone and counted in `skipped_processes'; a function that carries a trace pattern already
%% (`erlang:trace_info(MFA, traced)') is left alone and listed in `skipped_functions'. When
%% another tracer holds the flags of new processes (`dbg:p(all, c)' or `dbg:p(new, c)' does),
%% attach refuses: `{error, {tracer_in_use, Tracer, Who}}' (`Who' is `dbg' when dbg runs).
%% {@link detach/0} removes exactly the flags and patterns attach set: the VM is left as it
%% was.
%%
%% == Costs and differences from rewritten calls ==
%% Each traced call costs the traced process a trace message (its arguments copied into the
%% tracer's heap) and the return trace frame; the tracer encodes it. `exception_trace', like
%% `return_trace', keeps a frame on the stack per traced call: a tail-recursive traced
%% function grows the stack while attached (the total limit bounds it). With `local => false'
%% (the default) only remote calls (`M:f(...)', calls from other modules) of exported
%% functions are traced, as `dbg:tp/2'; `local => true' traces local calls too, as
%% `dbg:tpl/2'. Exceptions carry no stack trace (trace messages have none). Per-function
%% capture rules of `elixir_scope.toml' are the rewriter's and do not apply; the runtime's caps
%% and redaction do. OTP 25 has no trace sessions: the trace flags and patterns are the VM's
%% one set, which is why attach refuses to share them.
-module(elixir_scope_attach).

-export([attach/1, attach/2, detach/0, status/0, format_error/1]).
%% The tracer's own records in the recording (never called otherwise).
-export([attached/2, stopped/1]).

-define(TRACER, elixir_scope_attach).
-define(LAST_STOP, elixir_scope_attach_last_stop).
%% The patterns the running tracer set, kept outside it: a tracer killed from outside cannot
%% remove them, and the next attach/2 or detach/0 does.
-define(PATTERNS, elixir_scope_attach_patterns).
-define(MATCH_SPEC, [{'_', [], [{exception_trace}]}]).
-define(DEFAULT_RATE, 10000).
-define(DEFAULT_LIMIT, 100000).
%% Attached calls open at once in one process; deeper ones are not recorded (as the runtime's
%% depth cap for rewritten calls).
-define(MAX_DEPTH, 1000).
-define(FLAGS, [call, monotonic_timestamp]).
-define(CURRENT, '$elixir_scope_call').

-record(tracer, {
          rate :: pos_integer(),
          limit :: pos_integer(),
          mixed :: boolean(),
          patterns :: [{mfa(), [local | global]}],
          ns_per_unit :: pos_integer() | native,
          %% Pid => {Depth, [Id]}: the open attached calls of each process, innermost first.
          open = #{} :: #{pid() => {non_neg_integer(), [non_neg_integer()]}},
          %% Processes whose first call was recorded (with who they are).
          known = #{} :: #{pid() => true},
          calls = 0 :: non_neg_integer(),
          window = undefined :: integer() | undefined,
          in_window = 0 :: non_neg_integer(),
          info :: map()
         }).

%%% The API

%% @doc {@link attach/2} with the default options.
-spec attach([term()] | term()) -> {ok, map()} | {error, term()}.
attach(Targets) ->
    attach(Targets, #{}).

%% @doc Records the calls of `Targets' in this VM until {@link detach/0} or a limit.
%% `Targets': a list of modules (`lists', `'Elixir.Shop.Cart''), `{M, F, Arity}',
%% `{M, F, '_'}', `{application, App}' (its modules; a plain atom that names no module but
%% an application works too). `Options' (a map or a proplist): `rate' (calls per second,
%% 10,000), `limit' (calls in all, 100,000), `local' (trace local calls too: `false'),
%% `processes' (`all', `existing', `new' or a list of pids: `all'), `mixed' (look for the
%% rewritten call open in a process under which its attached calls go: `true' when rewritten
%% code is loaded), `settings' (a map for
%% `elixir_scope_runtime:start/1' when attach starts the runtime, e.g. `db_path').
%% Returns `{ok, Info}': `tracer', `functions' (how many patterns were set), `modules',
%% `processes' (how many processes got flags), `skipped_processes' (traced by another tracer),
%% `skipped_functions' (traced already), `rate', `limit', `local', `run'.
-spec attach([term()] | term(), map() | list()) -> {ok, map()} | {error, term()}.
attach(Targets, Options) when is_list(Options) ->
    attach(Targets, maps:from_list(proplists:unfold(Options)));
attach(Target, Options) when not is_list(Target) ->
    attach([Target], Options);
attach(Targets, Options) when is_map(Options) ->
    try
        Opts = options(Options),
        check_no_tracer_holds_new(),
        case whereis(?TRACER) of
            undefined -> _ = clear_leftovers();
            _ -> throw({error, already_attached})
        end,
        MFAs = functions(Targets, maps:get(local, Opts)),
        MFAs =:= [] andalso throw({error, {no_functions, Targets}}),
        case elixir_scope_runtime:start(maps:get(settings, Opts)) of
            ok -> ok;
            {error, Why} -> throw({error, {runtime_not_started, Why}})
        end,
        Mixed = case Opts of
                    #{mixed := M} -> M;
                    _ -> any_rewritten()
                end,
        start_tracer(Targets, MFAs, Opts#{mixed => Mixed})
    catch
        throw:{error, _} = Error -> Error
    end.

%% @doc Stops tracing: removes the flags and patterns attach set, records the messages already
%% sent, flushes the recording. `{ok, Info}' (what was recorded, and why it stopped: a limit
%% may have stopped it before), or `{error, not_attached}'.
-spec detach() -> {ok, map()} | {error, not_attached}.
detach() ->
    case whereis(?TRACER) of
        undefined ->
            case {clear_leftovers(), persistent_term:get(?LAST_STOP, undefined)} of
                {0, undefined} -> {error, not_attached};
                {0, Info} -> {ok, Info};
                {Removed, _} -> {ok, #{reason => tracer_gone, patterns_removed => Removed}}
            end;
        Tracer ->
            Ref = monitor(process, Tracer),
            Tracer ! {detach, self(), Ref},
            receive
                {Ref, Info} ->
                    demonitor(Ref, [flush]),
                    {ok, Info};
                {'DOWN', Ref, process, _, _} ->
                    case persistent_term:get(?LAST_STOP, undefined) of
                        undefined -> {error, not_attached};
                        Info -> {ok, Info}
                    end
            end
    end.

%% @doc `{attached, Info}' (with `calls' so far) or `not_attached'.
-spec status() -> {attached, map()} | not_attached.
status() ->
    case whereis(?TRACER) of
        undefined -> not_attached;
        Tracer ->
            Ref = monitor(process, Tracer),
            Tracer ! {status, self(), Ref},
            receive
                {Ref, Info} -> demonitor(Ref, [flush]), {attached, Info};
                {'DOWN', Ref, process, _, _} -> not_attached
            end
    end.

%% @doc The call the recording starts with (the tracer records it; it does nothing).
-spec attached(list(), map()) -> ok.
attached(_Targets, _Info) -> ok.

%% @doc The call the recording ends with; its result is why tracing stopped.
-spec stopped(map()) -> atom().
stopped(#{reason := Reason}) -> Reason.

%% Whether rewritten code is loaded (a module with the recorder `'es$$record'/4'): then
%% attached calls look for the rewritten call open in their process (see `mixed').
any_rewritten() ->
    lists:any(fun({M, _}) ->
                      try lists:member({'es$$record', 4}, M:module_info(functions))
                      catch _:_ -> false
                      end
              end, code:all_loaded()).

%% @doc What an `{error, Reason}' of attach/2 or detach/0 means, in a sentence.
-spec format_error(term()) -> string().
format_error(already_attached) ->
    "already attached in this VM: detach first";
format_error(not_attached) ->
    "nothing is attached in this VM";
format_error({tracer_in_use, Tracer, dbg}) ->
    lists:flatten(io_lib:format("dbg traces new processes (tracer ~p): attach does not share "
                                "the VM's tracing with it; stop it first (dbg:stop())",
                                [Tracer]));
format_error({tracer_in_use, Tracer, _Other}) ->
    lists:flatten(io_lib:format("another tracer (~p) traces new processes: attach does not "
                                "share the VM's tracing with it", [Tracer]));
format_error({no_functions, Targets}) ->
    lists:flatten(io_lib:format("no function to trace in ~0tp (all traced already, or none "
                                "exported: try local)", [Targets]));
format_error({not_a_module_or_application, Name}) ->
    lists:flatten(io_lib:format("~0tp is neither a module this VM can load nor an "
                                "application it knows", [Name]));
format_error({unknown_application, App}) ->
    lists:flatten(io_lib:format("no application ~0tp is loaded in this VM", [App]));
format_error({module_not_loaded, M, Why}) ->
    lists:flatten(io_lib:format("module ~0tp cannot be loaded: ~0tp", [M, Why]));
format_error({own_module, M}) ->
    lists:flatten(io_lib:format("~0tp is part of ElixirScope and cannot be attached to", [M]));
format_error({cannot_trace, M}) ->
    lists:flatten(io_lib:format("~0tp cannot be attached to (the tracer relies on it)", [M]));
format_error({bad_target, T}) ->
    lists:flatten(io_lib:format("not a target: ~0tp (a module, {M, F, Arity}, {M, F, '_'} "
                                "or {application, App})", [T]));
format_error({bad_option, Key, Value, Expected}) ->
    lists:flatten(io_lib:format("option ~0tp: expected ~s, got ~0tp", [Key, Expected, Value]));
format_error({unknown_options, Keys, {known, Known}}) ->
    lists:flatten(io_lib:format("unknown options ~0tp (known: ~0tp)", [Keys, Known]));
format_error({runtime_not_started, Why}) ->
    lists:flatten(io_lib:format("the ElixirScope runtime did not start: ~0tp", [Why]));
format_error(Other) ->
    lists:flatten(io_lib:format("~0tp", [Other])).

%%% Options and targets

options(Options) ->
    Known = [rate, limit, local, processes, mixed, settings],
    case maps:keys(maps:without(Known, Options)) of
        [] -> ok;
        Unknown -> throw({error, {unknown_options, Unknown, {known, Known}}})
    end,
    Opts = maps:merge(#{rate => ?DEFAULT_RATE, limit => ?DEFAULT_LIMIT, local => false,
                        processes => all, settings => #{}}, Options),
    #{rate := Rate, limit := Limit, local := Local, processes := Processes,
      settings := Settings} = Opts,
    (is_integer(Rate) andalso Rate > 0) orelse bad_option(rate, Rate, "a positive integer"),
    (is_integer(Limit) andalso Limit > 0) orelse bad_option(limit, Limit, "a positive integer"),
    is_boolean(Local) orelse bad_option(local, Local, "true or false"),
    is_map(Settings) orelse bad_option(settings, Settings, "a map"),
    case Processes of
        P when P =:= all; P =:= existing; P =:= new -> ok;
        Pids when is_list(Pids) ->
            lists:all(fun is_pid/1, Pids)
                orelse bad_option(processes, Pids, "all, existing, new or a list of pids");
        Other -> bad_option(processes, Other, "all, existing, new or a list of pids")
    end,
    case Opts of
        #{mixed := M} when not is_boolean(M) -> bad_option(mixed, M, "true or false");
        _ -> Opts
    end.

bad_option(Key, Value, Expected) ->
    throw({error, {bad_option, Key, Value, Expected}}).

%% Another tracer that traces new processes (dbg:p(all, c) sets it) would get the call trace
%% messages of every new process for our patterns too: attach would fight it.
check_no_tracer_holds_new() ->
    case erlang:trace_info(new, tracer) of
        {tracer, []} -> ok;
        {tracer, Tracer} ->
            Who = case whereis(dbg) of
                      undefined -> other;
                      _ -> dbg
                  end,
            throw({error, {tracer_in_use, Tracer, Who}})
    end.

%% Every `{M, F, A}' the targets name, loaded, not ours, not traced already.
functions(Targets, Local) when is_list(Targets) ->
    lists:usort(lists:append([target_functions(T, Local) || T <- Targets]));
functions(Targets, _Local) ->
    throw({error, {bad_targets, Targets}}).

target_functions({application, App}, Local) when is_atom(App) ->
    %% An application the VM has not loaded yet is loaded (its .app file, not its code).
    _ = application:load(App),
    case application:get_key(App, modules) of
        {ok, Modules} -> lists:append([module_functions(M, Local) || M <- Modules,
                                                                     not is_own(M)]);
        undefined -> throw({error, {unknown_application, App}})
    end;
target_functions({M, F, A}, Local) when is_atom(M), is_atom(F),
                                        (A =:= '_' orelse is_integer(A)) ->
    [MFA || {_, F1, A1} = MFA <- module_functions(M, Local),
            F1 =:= F, A =:= '_' orelse A1 =:= A];
target_functions(M, Local) when is_atom(M) ->
    case code:ensure_loaded(M) of
        {module, M} -> module_functions(M, Local);
        {error, _} ->
            _ = application:load(M),
            case application:get_key(M, modules) of
                {ok, _} -> target_functions({application, M}, Local);
                undefined -> throw({error, {not_a_module_or_application, M}})
            end
    end;
target_functions(Other, _Local) ->
    throw({error, {bad_target, Other}}).

module_functions(M, Local) ->
    is_own(M) andalso throw({error, {own_module, M}}),
    M =:= erlang andalso throw({error, {cannot_trace, erlang}}),
    case code:ensure_loaded(M) of
        {module, M} ->
            Functions = case Local of
                            true -> M:module_info(functions);
                            false -> M:module_info(exports)
                        end,
            [{M, F, A} || {F, A} <- Functions,
                          not lists:member(F, [module_info, '$handle_undefined_function']),
                          not is_compiler_generated(F)];
        {error, Why} ->
            throw({error, {module_not_loaded, M, Why}})
    end.

%% Funs' bodies (`-f/1-fun-0-') and the like.
is_compiler_generated(F) ->
    case atom_to_list(F) of
        [$- | _] -> true;
        _ -> false
    end.

is_own(M) ->
    Name = atom_to_list(M),
    lists:prefix("elixir_scope_", Name) orelse Name =:= "Elixir.ElixirScope"
        orelse lists:prefix("Elixir.ElixirScope.", Name).

%%% Starting and stopping

start_tracer(Targets, MFAs, Opts) ->
    Caller = self(),
    Ref = make_ref(),
    {Tracer, Monitor} =
        spawn_monitor(fun() ->
                              put('$elixir_scope_in_runtime', true),
                              %% Trace messages can pile up (up to a second's worth under
                              %% the rate limit): kept off the heap, they cost no GC.
                              _ = process_flag(message_queue_data, off_heap),
                              put(?CURRENT, muted),
                              try register(?TRACER, self()) of
                                  true -> init(Caller, Ref, Targets, MFAs, Opts)
                              catch
                                  error:badarg -> Caller ! {Ref, {error, already_attached}}
                              end
                      end),
    receive
        {Ref, Answer} ->
            demonitor(Monitor, [flush]),
            Answer;
        {'DOWN', Monitor, process, Tracer, Why} ->
            {error, {tracer_failed, Why}}
    end.

init(Caller, Ref, Targets, MFAs, Opts) ->
    #{rate := Rate, limit := Limit, local := Local, processes := Processes,
      mixed := Mixed} = Opts,
    Scope = case Local of
                true -> [local];
                false -> [global]
            end,
    {Patterns, Skipped, Others, Count} =
        try
            {Set, Traced} = set_patterns(MFAs, Scope),
            persistent_term:put(?PATTERNS, Set),
            Other = [P || P <- process_list(Processes), traced_by_other(P)],
            Flagged = set_flags(Processes),
            %% The tracer's own calls are never traced.
            _ = catch erlang:trace(self(), false, ?FLAGS),
            {Set, Traced, Other, Flagged}
        catch
            SetupClass:SetupReason ->
                %% Whatever was set so far goes (set_patterns/2 notes each pattern it sets).
                unset(#tracer{patterns = get(patterns_set)}),
                erlang:raise(SetupClass, SetupReason, [])
        end,
    Info = #{tracer => self(),
             functions => length(Patterns),
             modules => lists:usort([M || {{M, _, _}, _} <- Patterns]),
             processes => Count,
             skipped_processes => length(Others),
             skipped_functions => Skipped,
             rate => Rate,
             limit => Limit,
             local => Local,
             mixed => Mixed,
             run => run()},
    persistent_term:erase(?LAST_STOP),
    State = #tracer{rate = Rate, limit = Limit, mixed = Mixed, patterns = Patterns,
                    ns_per_unit = ns_per_unit(), info = Info},
    State1 = record_own(State, attached, [Targets, Info], ok),
    Caller ! {Ref, {ok, Info}},
    try
        loop(State1)
    catch
        Class:Reason:Stack ->
            %% Never leave patterns behind (the VM drops the flags of a dead tracer, not the
            %% patterns): the VM is left as it was, and the stop is said and kept.
            unset(State1),
            Why = {tracer_error, Class, Reason},
            persistent_term:put(?LAST_STOP, Info#{reason => Why,
                                                  calls => State1#tracer.calls}),
            io:format(standard_error, "ElixirScope: attach stopped, the tracer failed: "
                      "~p~n~p~n", [Why, Stack])
    end.

run() ->
    case elixir_scope_runtime:stats() of
        #{run := Run} -> Run;
        _ -> undefined
    end.

set_patterns(MFAs, Scope) ->
    put(patterns_set, []),
    lists:foldr(
      fun(MFA, {Set, Skipped}) ->
              case erlang:trace_info(MFA, traced) of
                  {traced, false} ->
                      case erlang:trace_pattern(MFA, ?MATCH_SPEC, Scope) of
                          0 -> {Set, Skipped};
                          _ ->
                              put(patterns_set, [{MFA, Scope} | Set]),
                              {[{MFA, Scope} | Set], Skipped}
                      end;
                  _TracedAlready ->
                      {Set, [MFA | Skipped]}
              end
      end, {[], []}, MFAs).

process_list(all) -> erlang:processes();
process_list(existing) -> erlang:processes();
process_list(new) -> [];
process_list(Pids) -> Pids.

traced_by_other(Pid) ->
    case erlang:trace_info(Pid, tracer) of
        {tracer, []} -> false;
        {tracer, Tracer} -> Tracer =/= self();
        undefined -> false
    end.

%% erlang:trace(all | existing, ...) leaves processes that another tracer traces alone.
set_flags(Which) when is_atom(Which) ->
    erlang:trace(Which, true, [{tracer, self()} | ?FLAGS]);
set_flags(Pids) ->
    length([P || P <- Pids, not traced_by_other(P),
                 (catch erlang:trace(P, true, [{tracer, self()} | ?FLAGS])) =:= 1]).

%% The patterns a tracer that is gone (killed from outside) left: those that still hold
%% attach's match spec are removed. How many.
clear_leftovers() ->
    case persistent_term:get(?PATTERNS, []) of
        [] -> 0;
        Patterns ->
            Ours = [P || {MFA, _} = P <- Patterns,
                         erlang:trace_info(MFA, match_spec) =:= {match_spec, ?MATCH_SPEC}],
            _ = [erlang:trace_pattern(MFA, false, Scope) || {MFA, Scope} <- Ours],
            _ = persistent_term:erase(?PATTERNS),
            length(Ours)
    end.

%% Removes what attach set: its patterns, then its flags (only on processes it traces).
unset(#tracer{patterns = Patterns}) ->
    _ = [erlang:trace_pattern(MFA, false, Scope) || {MFA, Scope} <- Patterns],
    _ = persistent_term:erase(?PATTERNS),
    Me = self(),
    case erlang:trace_info(new, tracer) of
        {tracer, Me} -> _ = erlang:trace(new, false, ?FLAGS);
        _ -> ok
    end,
    _ = [catch erlang:trace(P, false, ?FLAGS)
         || P <- erlang:processes(), erlang:trace_info(P, tracer) =:= {tracer, Me}],
    ok.

ns_per_unit() ->
    case erlang:convert_time_unit(1, second, native) of
        1000000000 -> native;
        PerSecond -> 1000000000 div max(1, PerSecond)
    end.

to_ns(Ts, #tracer{ns_per_unit = native}) -> Ts;
to_ns(Ts, #tracer{ns_per_unit = N}) -> Ts * N.

%%% The tracer

%% `stopped' once a limit stopped tracing (see call/6).
loop(stopped) ->
    ok;
loop(State) ->
    receive
        {trace_ts, Pid, call, {M, F, Args}, Ts} ->
            loop(call(Pid, M, F, Args, to_ns(Ts, State), State));
        {trace_ts, Pid, return_from, _MFA, Result, Ts} ->
            loop(return(Pid, Result, to_ns(Ts, State), State));
        {trace_ts, Pid, exception_from, _MFA, {Class, Reason}, Ts} ->
            loop(exception(Pid, Class, Reason, to_ns(Ts, State), State));
        {status, From, Ref} ->
            From ! {Ref, (State#tracer.info)#{calls => State#tracer.calls}},
            loop(State);
        {detach, From, Ref} ->
            From ! {Ref, stop(detached, State)};
        _Other ->
            loop(State)
    end.

call(_Pid, _M, _F, _Args, _Ns, #tracer{calls = N, limit = Limit} = State) when N >= Limit ->
    _ = stop(total_limit, State),
    stopped;
call(Pid, M, F, Args, Ns, State) ->
    #tracer{rate = Rate, window = Window, in_window = InWindow, calls = N} = State,
    case Ns div 1000000000 of
        Window when InWindow >= Rate ->
            _ = stop(rate_limit, State),
            stopped;
        Window ->
            open_call(Pid, M, F, Args, Ns, State#tracer{in_window = InWindow + 1,
                                                        calls = N + 1});
        Second ->
            open_call(Pid, M, F, Args, Ns, State#tracer{window = Second, in_window = 1,
                                                        calls = N + 1})
    end.

%% Records the call, under the process's open attached call (or see parent_and_process/3),
%% unless recording is paused (globally or for `M', as for rewritten calls: then it is
%% counted and its end is not recorded) or the process has too many attached calls open.
open_call(Pid, M, F, Args, Ns, State1) ->
    {Depth, Stack} = maps:get(Pid, State1#tracer.open, {0, []}),
    {Id, State2} =
        case Depth >= ?MAX_DEPTH orelse not recording(M) of
            true ->
                {0, State1};
            false ->
                {Parent, Process, S} = parent_and_process(Pid, Stack, State1),
                Client = client(Pid, F, Args),
                {room(fun() ->
                              elixir_scope_nif:attached_enter(Pid, M, F, length(Args), Args,
                                                              Parent, Ns, Process, Client)
                      end), S}
        end,
    State2#tracer{open = maps:put(Pid, {Depth + 1, [Id | Stack]}, State2#tracer.open)}.

%% The process waiting for the reply of a call that serves a request (as
%% elixir_scope_runtime records it for rewritten calls): `From' of gen_server's
%% `handle_call(Request, From, State)', of a gen_statem state function `State({call, From},
%% Content, Data)' or its `handle_event({call, From}, ...)', when it is another process (of
%% another node: `{remote, Node, Text}', see elixir_scope_runtime:link_pid/1).
client(Pid, handle_call, [_Request, From, _State]) -> from(Pid, From);
client(Pid, _StateName, [{call, From}, _Content, _Data]) -> from(Pid, From);
client(Pid, handle_event, [{call, From}, _Content, _State, _Data]) -> from(Pid, From);
client(_Pid, _Function, _Args) -> none.

from(Pid, {Client, _Tag}) when is_pid(Client), Client =/= Pid ->
    elixir_scope_runtime:link_pid(Client);
from(_Pid, _From) -> none.

%% What elixir_scope_runtime:recording/1 answers for other processes (in the tracer it
%% answers `false': the tracer is marked as inside the runtime).
recording(Module) ->
    case persistent_term:get(elixir_scope_state, undefined) of
        {running, Paused} -> not is_map_key(Module, Paused);
        _ -> false
    end.

%% The parent of a call with no open attached call in its process: in a mixed recording, the
%% rewritten call open in that process now (its dictionary, read once per top-level attached
%% call: process_info copies the whole dictionary, so only when `mixed'). A process's first
%% call also says who the process is and where it came from.
parent_and_process(_Pid, [Top | _], State) ->
    {Top, none, State};
parent_and_process(Pid, [], #tracer{known = Known, mixed = Mixed} = State) ->
    First = not is_map_key(Pid, Known),
    Dictionary = case First orelse Mixed of
                     true -> dictionary(Pid);
                     false -> []
                 end,
    Parent = case Mixed of
                 true -> rewritten_call(Dictionary);
                 false -> 0
             end,
    case First of
        true ->
            Process = {list_to_binary(pid_to_list(Pid)), origin(Dictionary)},
            {Parent, Process, State#tracer{known = Known#{Pid => true}}};
        false ->
            {Parent, none, State}
    end.

dictionary(Pid) ->
    case erlang:process_info(Pid, dictionary) of
        {dictionary, D} -> D;
        undefined -> []
    end.

rewritten_call(Dictionary) ->
    case lists:keyfind(?CURRENT, 1, Dictionary) of
        {_, Entry} when is_tuple(Entry), tuple_size(Entry) >= 3,
                        is_integer(element(1, Entry)) -> element(1, Entry);
        _ -> 0
    end.

origin(Dictionary) ->
    case lists:keyfind('$callers', 1, Dictionary) of
        {_, [Caller | _]} when is_pid(Caller) ->
            elixir_scope_runtime:link_origin(caller, Caller);
        _ ->
            case lists:keyfind('$ancestors', 1, Dictionary) of
                {_, [Ancestor | _]} when is_pid(Ancestor) ->
                    elixir_scope_runtime:link_origin(ancestor, Ancestor);
                {_, [Name | _]} when is_atom(Name) ->
                    case whereis(Name) of
                        P when is_pid(P) -> {ancestor, P, pid_text(P)};
                        undefined -> none
                    end;
                _ -> none
            end
    end.

pid_text(Pid) -> list_to_binary(pid_to_list(Pid)).

return(Pid, Result, Ns, State) ->
    ended(Pid, State, fun(Id) -> elixir_scope_nif:attached_return(Id, Result, Ns) end).

exception(Pid, Class, Reason, Ns, State) ->
    ended(Pid, State,
          fun(Id) -> elixir_scope_nif:attached_exception(Id, Class, Reason, Ns) end).

ended(Pid, #tracer{open = Open} = State, Record) ->
    case maps:get(Pid, Open, none) of
        {Depth, [Id | Rest]} ->
            Id =/= 0 andalso room(fun() -> Record(Id) end),
            Open1 = case Rest of
                        [] -> maps:remove(Pid, Open);
                        _ -> Open#{Pid := {Depth - 1, Rest}}
                    end,
            State#tracer{open = Open1};
        _ ->
            %% The end of a call that began before attach: not recorded.
            State
    end.

%% Stops tracing for `Reason': removes flags and patterns, records what was sent before,
%% records why it stopped, flushes. Returns what is left for detach/0.
stop(Reason, State) ->
    unset(State),
    Ref = erlang:trace_delivered(all),
    Final = drain(Ref, State),
    Open = lists:sum([D || {D, _} <- maps:values(Final#tracer.open)]),
    Info = (Final#tracer.info)#{reason => Reason, calls => Final#tracer.calls,
                                left_open => Open},
    _ = record_own(Final, stopped, [Info], Reason),
    _ = elixir_scope_runtime:flush(),
    persistent_term:put(?LAST_STOP, Info),
    case Reason of
        detached -> ok;
        _ -> io:format(standard_error, "ElixirScope: attach stopped (~p) after ~p calls~n",
                       [Reason, Final#tracer.calls])
    end,
    _ = catch unregister(?TRACER),
    Info.

%% The messages sent before the flags went: ends of open calls are recorded, new calls not.
drain(Ref, State) ->
    receive
        {trace_ts, Pid, return_from, _MFA, Result, Ts} ->
            drain(Ref, return(Pid, Result, to_ns(Ts, State), State));
        {trace_ts, Pid, exception_from, _MFA, {Class, Reason}, Ts} ->
            drain(Ref, exception(Pid, Class, Reason, to_ns(Ts, State), State));
        {trace_delivered, all, Ref} ->
            drain_rest(State)
    end.

drain_rest(State) ->
    receive
        {trace_ts, Pid, return_from, _MFA, Result, Ts} ->
            drain_rest(return(Pid, Result, to_ns(Ts, State), State));
        {trace_ts, Pid, exception_from, _MFA, {Class, Reason}, Ts} ->
            drain_rest(exception(Pid, Class, Reason, to_ns(Ts, State), State));
        {trace_ts, _, _, _, _} ->
            drain_rest(State)
    after 0 ->
            State
    end.

%% A call of this module in the tracer's own process, recorded like an attached one: what was
%% attached, and why it stopped.
record_own(State, Function, Args, Result) ->
    Me = self(),
    Now = erlang:monotonic_time(nanosecond),
    Process = case is_map_key(Me, State#tracer.known) of
                  true -> none;
                  false -> {pid_text(Me), none}
              end,
    Id = room(fun() -> elixir_scope_nif:attached_enter(Me, ?MODULE, Function, length(Args),
                                                       Args, 0, Now, Process, none) end),
    Id =/= 0 andalso room(fun() -> elixir_scope_nif:attached_return(Id, Result, Now) end),
    State#tracer{known = (State#tracer.known)#{Me => true}}.

%% Under `overflow = block' a full ring answers `full': wait a millisecond and record again.
room(Record) ->
    case Record() of
        full ->
            receive after 1 -> ok end,
            room(Record);
        Answer ->
            Answer
    end.
