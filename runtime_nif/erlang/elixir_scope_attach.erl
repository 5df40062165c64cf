%% @doc Attach: record the calls of a running VM without rewriting anything, through the VM's
%% own call tracing, into the same recording as rewritten code.
%%
%% {@link attach/2} starts the runtime in this VM if it is not running (as the first call of
%% rewritten code does) and a controller process, registered as `elixir_scope_attach', which
%% opens a session in the NIF library (`elixir_scope_nif:attach_open/4'), sets call trace
%% patterns with a match spec giving `exception_trace' on the target functions, and sets the
%% trace flags `call' and `procs' on the processes (`all' by default) with the NIF module as
%% the tracer: `{tracer, elixir_scope_nif, Session}' (OTP's `erl_tracer' behaviour). The VM
%% then calls the library in the traced process itself at every call, return and exception of
%% a target function: no tracer process, no trace message, no copy of the arguments. The
%% library records each call as rewritten code records its calls: call ids, parents (one stack
%% of open calls per process, which rewritten calls share: one tree), pids, arguments and
%% results within the runtime's caps and redaction, the times they happen. They are stored,
%% queried, shown as trees and exported like rewritten calls.
%%
%% Before setting any flag the controller reads each process's dictionary once: where the
%% process came from (`$callers', `$ancestors'), and in a mixed recording the rewritten call
%% open in it, under which its attached calls go. Processes spawned later get their spawner as
%% origin (the `spawned' event).
%%
%% == Safety (like recon_trace) ==
%% A rate limit (`rate', calls per second, 10,000 by default) and a total limit (`limit',
%% 100,000 calls) are always in force: at either, the library stops recording new calls and
%% tells the controller, which removes its flags and patterns; the recording holds a call
%% `elixir_scope_attach:stopped(Info)' whose result is the reason (`rate_limit',
%% `total_limit', `detached', `tracer_error'). The recording starts with a call
%% `elixir_scope_attach:attached(Targets, Info)' that says what was attached, with the limits.
%% A controller killed from outside closes its session (the library monitors it): whatever
%% it left records nothing, and the next {@link attach/2} or {@link detach/0} removes it.
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
%% Each traced call costs the traced process the VM's call tracing (a breakpoint, the match
%% spec, the library's callbacks, a return frame) and the recording itself. `exception_trace'
%% keeps a frame on the stack per traced call: a tail-recursive traced function grows the stack
%% while attached (the total limit bounds it). With `local => false' (the default) only
%% remote calls (`M:f(...)', calls from other modules) of exported functions are traced, as
%% `dbg:tp/2'; `local => true' traces local calls too, as `dbg:tpl/2'. Exceptions carry no
%% stack trace: OTP's call trace gives none (the stored exception says so in place of one; the
%% recorded calls it went through are its parents). Per-function capture rules of
%% `elixir_scope.toml' are the rewriter's and do not apply; the runtime's caps, redaction and
%% pause do. A full ring drops attached calls (and counts them) even under `overflow = block':
%% the traced process cannot wait inside the VM's trace callback. OTP 25 has no trace
%% sessions: the trace flags and patterns are the VM's one set, which is why attach refuses to
%% share them. Trace patterns on `proc_lib:hibernate/3' and `erlang:hibernate/3' (no return)
%% tell the library when a process discards its stack (gen_server, gen_statem and proc_lib
%% hibernate through the former; a direct call of the latter is not seen by call tracing, and
%% the attached calls open under it then stay open in the library's stack: calls made after
%% the process wakes go under them).
-module(elixir_scope_attach).

-export([attach/1, attach/2, detach/0, status/0, format_error/1]).
%% The controller's own records in the recording (never called otherwise).
-export([attached/2, stopped/1]).

%% The controller's registered name.
-define(TRACER, elixir_scope_attach).
-define(LAST_STOP, elixir_scope_attach_last_stop).
%% The patterns the running controller set, kept outside it: a controller killed from outside
%% cannot remove them, and the next attach/2 or detach/0 does.
-define(PATTERNS, elixir_scope_attach_patterns).
-define(MATCH_SPEC, [{'_', [], [{exception_trace}]}]).
%% Calls that discard the process's stack, traced without a return: the library empties the
%% process's stack of open calls. (A direct call of erlang:hibernate/3 is compiled into an
%% instruction that call tracing does not see; through apply/3 it is seen.)
-define(HIBERNATE, [{proc_lib, hibernate, 3}, {erlang, hibernate, 3}]).
-define(DEFAULT_RATE, 10000).
-define(DEFAULT_LIMIT, 100000).
-define(FLAGS, [call, procs]).
%% How often the controller has the library forget stacks that hold nothing.
-define(PRUNE_MS, 1000).
-define(CURRENT, '$elixir_scope_call').

-record(controller, {
          session :: pos_integer(),
          %% {MFA, Scope, MatchSpec} of every pattern set (the targets' and ?HIBERNATE's).
          patterns :: [{mfa(), [local | global], list() | true}],
          info :: map(),
          %% Whether this process's first record said who it is.
          introduced = false :: boolean()
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
        %% Left by a controller of ours that is gone: cleared before attaching.
        {tracer, {elixir_scope_nif, _}} -> ok;
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
    {Controller, Monitor} =
        spawn_monitor(fun() ->
                              put('$elixir_scope_in_runtime', true),
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
        {'DOWN', Monitor, process, Controller, Why} ->
            {error, {tracer_failed, Why}}
    end.

init(Caller, Ref, Targets, MFAs, Opts) ->
    #{rate := Rate, limit := Limit, local := Local, processes := Processes,
      mixed := Mixed} = Opts,
    Scope = case Local of
                true -> [local];
                false -> [global]
            end,
    %% What the library knows of pauses, as the runtime published it.
    _ = elixir_scope_nif:recording_state(persistent_term:get(elixir_scope_state, undefined)),
    Session = case elixir_scope_nif:attach_open(self(), Rate, Limit, Mixed) of
                  {ok, S} -> S;
                  {error, Refused} -> Caller ! {Ref, {error, Refused}}, exit(normal)
              end,
    {Patterns, Skipped, Others, Count} =
        try
            seed(Processes, Mixed),
            {Set, Traced} = set_patterns(MFAs, Scope),
            All = hibernate_patterns() ++ Set,
            persistent_term:put(?PATTERNS, All),
            Other = [P || P <- process_list(Processes), traced_by_other(P)],
            Flagged = set_flags(Processes, {tracer, elixir_scope_nif, Session}),
            %% Neither this process's calls nor the runtime owner's are recorded.
            _ = catch erlang:trace(self(), false, ?FLAGS),
            _ = case whereis(elixir_scope_runtime) of
                    undefined -> ok;
                    Owner -> catch erlang:trace(Owner, false, ?FLAGS)
                end,
            {All, Traced, Other, Flagged}
        catch
            SetupClass:SetupReason ->
                %% Whatever was set so far goes (set_patterns/2 notes each pattern it sets).
                unset(get(patterns_set) ++ [P || {MFA, _, _} = P <- hibernate_pattern_set(),
                                                 erlang:trace_info(MFA, match_spec)
                                                     =:= {match_spec, []}]),
                _ = elixir_scope_nif:attach_close(Session),
                erlang:raise(SetupClass, SetupReason, [])
        end,
    Info = #{tracer => self(),
             functions => length(targets(Patterns)),
             modules => lists:usort([M || {M, _, _} <- targets(Patterns)]),
             processes => Count,
             skipped_processes => length(Others),
             skipped_functions => Skipped,
             rate => Rate,
             limit => Limit,
             local => Local,
             mixed => Mixed,
             run => run()},
    persistent_term:erase(?LAST_STOP),
    State = note(attached, [Targets, Info], ok,
                 #controller{session = Session, patterns = Patterns, info = Info}),
    Caller ! {Ref, {ok, Info}},
    try
        loop(State)
    catch
        Class:Reason:Stack ->
            %% Never leave flags and patterns behind: the VM is left as it was, and the stop
            %% is said and kept.
            unset(Patterns),
            Closed = elixir_scope_nif:attach_close(Session),
            Why = {tracer_error, Class, Reason},
            persistent_term:put(?LAST_STOP, Info#{reason => Why,
                                                  calls => closed_calls(Closed)}),
            io:format(standard_error, "ElixirScope: attach stopped, the controller failed: "
                      "~p~n~p~n", [Why, Stack])
    end.

run() ->
    case elixir_scope_runtime:stats() of
        #{run := Run} -> Run;
        _ -> undefined
    end.

%% Tells the library, before any flag is set, what each process's dictionary says: where the
%% process came from and (mixed) the rewritten call open in it.
seed(Processes, Mixed) ->
    Me = self(),
    _ = [seed_process(P, Mixed) || P <- process_list(Processes), P =/= Me],
    elixir_scope_nif:attach_seeded().

seed_process(Pid, Mixed) ->
    case erlang:process_info(Pid, dictionary) of
        {dictionary, Dictionary} ->
            Current = case Mixed of
                          true ->
                              case lists:keyfind(?CURRENT, 1, Dictionary) of
                                  {_, Entry} -> Entry;
                                  false -> undefined
                              end;
                          false ->
                              undefined
                      end,
            elixir_scope_nif:attach_seed(Pid, Current, origin(Dictionary));
        undefined ->
            ok
    end.

%% Where a process came from: the head of its `$callers', else of its `$ancestors'.
origin(Dictionary) ->
    case lists:keyfind('$callers', 1, Dictionary) of
        {_, [Caller | _]} when is_pid(Caller) -> {caller, Caller};
        _ ->
            case lists:keyfind('$ancestors', 1, Dictionary) of
                {_, [Ancestor | _]} when is_pid(Ancestor) -> {ancestor, Ancestor};
                {_, [Name | _]} when is_atom(Name) ->
                    case whereis(Name) of
                        P when is_pid(P) -> {ancestor, P};
                        undefined -> none
                    end;
                _ -> none
            end
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
                              Pattern = {MFA, Scope, ?MATCH_SPEC},
                              put(patterns_set, [Pattern | get(patterns_set)]),
                              {[Pattern | Set], Skipped}
                      end;
                  _TracedAlready ->
                      {Set, [MFA | Skipped]}
              end
      end, {[], []}, MFAs).

%% The patterns on ?HIBERNATE, where no other pattern is (a target's too: the library knows
%% these functions whatever their pattern).
hibernate_patterns() ->
    [P || {MFA, _, _} = P <- hibernate_pattern_set(),
          erlang:trace_info(MFA, traced) =:= {traced, false},
          erlang:trace_pattern(MFA, true, [global]) =/= 0].

hibernate_pattern_set() -> [{MFA, [global], []} || MFA <- ?HIBERNATE].

%% The targets' functions among the patterns set.
targets(Patterns) -> [MFA || {MFA, _, _} <- Patterns, not lists:member(MFA, ?HIBERNATE)].

process_list(all) -> erlang:processes();
process_list(existing) -> erlang:processes();
process_list(new) -> [];
process_list(Pids) -> Pids.

%% Whether another tracer traces `Pid' (flags of a session of ours are no other tracer's).
traced_by_other(Pid) ->
    case erlang:trace_info(Pid, tracer) of
        {tracer, []} -> false;
        {tracer, {elixir_scope_nif, _}} -> false;
        {tracer, _} -> true;
        undefined -> false
    end.

%% erlang:trace(processes | existing_processes, ...) leaves processes that another tracer
%% traces alone.
set_flags(all, Tracer) ->
    erlang:trace(processes, true, [Tracer | ?FLAGS]);
set_flags(existing, Tracer) ->
    erlang:trace(existing_processes, true, [Tracer | ?FLAGS]);
set_flags(new, Tracer) ->
    erlang:trace(new_processes, true, [Tracer | ?FLAGS]);
set_flags(Pids, Tracer) ->
    length([P || P <- Pids, not traced_by_other(P),
                 (catch erlang:trace(P, true, [Tracer | ?FLAGS])) =:= 1]).

%% What a controller that is gone (killed from outside) left: its patterns that still hold
%% the match spec it set, and the flags of any session of ours. How many target patterns.
clear_leftovers() ->
    Patterns = persistent_term:get(?PATTERNS, []),
    Ours = [P || {MFA, _, MatchSpec} = P <- Patterns,
                 erlang:trace_info(MFA, match_spec) =:= {match_spec, MatchSpec}],
    unset(Ours),
    length(targets(Ours)).

%% Removes what attach set: the patterns, then the flags of every process traced by a session
%% of ours (only those).
unset(Patterns) ->
    _ = [erlang:trace_pattern(MFA, false, Scope) || {MFA, Scope, _} <- Patterns],
    _ = persistent_term:erase(?PATTERNS),
    case erlang:trace_info(new, tracer) of
        {tracer, {elixir_scope_nif, _}} -> _ = erlang:trace(new_processes, false, ?FLAGS);
        _ -> ok
    end,
    _ = [catch erlang:trace(P, false, ?FLAGS)
         || P <- erlang:processes(), ours(erlang:trace_info(P, tracer))],
    ok.

ours({tracer, {elixir_scope_nif, _}}) -> true;
ours(_) -> false.

%%% The controller

loop(#controller{session = Session, info = Info} = State) ->
    receive
        {?TRACER, Session, {limit, Reason}} ->
            _ = stop(Reason, State),
            ok;
        {status, From, Ref} ->
            From ! {Ref, Info#{calls => elixir_scope_nif:attach_calls()}},
            loop(State);
        {detach, From, Ref} ->
            From ! {Ref, stop(detached, State)};
        _Other ->
            loop(State)
    after ?PRUNE_MS ->
            %% Entries of processes that exited without the library seeing it (not traced).
            _ = elixir_scope_nif:attach_prune(),
            loop(State)
    end.

%% Stops tracing for `Reason': removes flags and patterns, closes the session, records why it
%% stopped, flushes. Returns what is left for detach/0.
stop(Reason, #controller{session = Session, patterns = Patterns, info = Info} = State) ->
    unset(Patterns),
    Closed = elixir_scope_nif:attach_close(Session),
    Open = case Closed of
               {ok, #{left_open := O}} -> O;
               _ -> 0
           end,
    Calls = closed_calls(Closed),
    Final = Info#{reason => Reason, calls => Calls, left_open => Open},
    _ = note(stopped, [Final], Reason, State),
    _ = elixir_scope_runtime:flush(),
    persistent_term:put(?LAST_STOP, Final),
    case Reason of
        detached -> ok;
        _ -> io:format(standard_error, "ElixirScope: attach stopped (~p) after ~p calls~n",
                       [Reason, Calls])
    end,
    _ = catch unregister(?TRACER),
    Final.

closed_calls({ok, #{calls := Calls}}) -> Calls;
closed_calls(_) -> 0.

%% A call of this module in the controller's own process, recorded now: what was attached,
%% and why it stopped.
note(Function, Args, Result, #controller{introduced = Introduced} = State) ->
    room(fun() -> elixir_scope_nif:attach_note(Function, Args, Result, not Introduced) end),
    State#controller{introduced = true}.

%% Under `overflow = block' a full ring answers `full': wait a millisecond and record again.
room(Record) ->
    case Record() of
        full ->
            receive after 1 -> ok end,
            room(Record);
        Answer ->
            Answer
    end.
