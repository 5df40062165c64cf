%% @doc The BEAM side of `elixir-scope instrument'.
%%
%% The rewriter is Rust; it runs this module in a few `erl' OS processes for the steps only the
%% BEAM can do: turning a `Dbgi' chunk into Erlang abstract forms (Elixir's debug info needs
%% `elixir_erl'), compiling patched forms, and checking a finished beam with the real loader.
%%
%% Protocol: one request at a time, each a `{packet, 4}' frame holding one term in the external
%% term format, read from fd 0; the reply goes to fd 1 the same way. Nothing else may be written
%% to fd 1: all other output goes to standard_error.
%%
%%   {forms, Module, DbgiChunk}   -> {ok, Forms} | {unavailable, Why} | {error, Why}
%%                                   (an encrypted chunk is decrypted as beam_lib does)
%%   {compile, Forms, Options}    -> {ok, BeamBinary} | {error, Why}  (Options with no_lint
%%                                   that fail are tried again without, for erl_lint's message)
%%   {check, Module, BeamBinary}  -> ok | {error, Why}
%%   {inspect_hidden, [{Struct, StructBeam, Impl, ImplBeam}]}
%%                                -> {ok, [{Struct, [Field] | unknown}]}
%%
%% `Why' is a UTF-8 binary meant for people. `unavailable' means the debug info holds no code
%% (the backend said so, the backend is not installed, or it is not one of the trusted
%% backends), which is not a failure of the rewriter: the module is skipped.
%%
%% The helper dies with its parent. The process that owns the port only relays: each request
%% runs in a fresh process, so the owner sees the end of fd 0 (the parent finished, or was
%% killed) at once, even in the middle of a long compile, and halts the VM; it halts too when
%% the port closes for any other reason (a reply written to a parent that is gone fails with
%% `epipe'). The process that evaluates `main/1' traps exits (`erl -eval' runs it so), so
%% those arrive as messages and must be handled, never ignored.
%%
%% Only the trusted debug-info backends given to `main/1' are ever loaded: a beam names its
%% backend, and loading whatever module it names would run code chosen by whoever wrote the
%% beam. (The VM runs in `/', with `.' removed from the code path, so that no module is
%% loaded from the user's working directory either.)
-module(elixir_scope_helper).

-export([main/1]).

%% The largest heap of a process that inspects a probe value, in words (32 MB): inspecting a
%% struct whose fields are atoms takes a few kilobytes, and an implementation that runs away
%% is stopped at once instead of after the ten seconds (Elixir's own `Inspect.Error' does:
%% the probe value makes it fail, and it inspects its own failure, again and again, its text
%% growing each time: 7 s of CPU and hundreds of megabytes before the timeout, 0.2 s now).
%% (A function, not a macro: the helper is compiled from its tokens, without the preprocessor.)
probe_heap_words() -> 4000000.

%% The modules of the compiler (and of stdlib) that compiling a module's forms loads, as OTP 25
%% does it. A helper loads them all at once (`code:ensure_modules_loaded/1': the files read and
%% prepared side by side, installed in one step) in a process of its own, which starts when
%% the first reply is out (the client works on it meanwhile; until then the loader would hold
%% up the first request's own loading: `elixir_erl' for the forms of an Elixir module) or when
%% a `compile' request comes first; a `compile' request waits for it to end. One by one, on
%% first call, they took about twice as long, in the middle of the first compile. Another OTP
%% may need other modules: a name that does not exist is skipped, a module missing here is
%% loaded when first called, as before.
compiler_modules() ->
    [compile, sys_core_fold, sys_core_alias, sys_core_bsm, v3_core, v3_kernel,
     erl_expand_records, erl_bits, erl_bifs, core_lib, cerl, cerl_clauses, cerl_trees,
     beam_kernel_to_ssa, beam_ssa, beam_ssa_bc_size, beam_ssa_bool, beam_ssa_bsm,
     beam_ssa_codegen, beam_ssa_dead, beam_ssa_opt, beam_ssa_pre_codegen, beam_ssa_recv,
     beam_ssa_share, beam_ssa_throw, beam_ssa_type, beam_types, beam_call_types,
     beam_digraph, beam_validator, beam_a, beam_block, beam_clean, beam_flatten, beam_jump,
     beam_trim, beam_utils, beam_z, beam_asm, beam_dict, beam_opcodes, eval_bits, sets,
     sofs, digraph, digraph_utils].

%% @doc Serves requests until fd 0 closes. `Backends': the debug-info backends that may be
%% loaded.
-spec main([atom()]) -> no_return().
main(Backends) ->
    %% io:format and logger must never write to fd 1, which carries the replies.
    group_leader(whereis(standard_error), self()),
    Compiler = spawn(fun() ->
                             receive load -> ok end,
                             _ = code:ensure_modules_loaded(compiler_modules())
                     end),
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    process_flag(trap_exit, true),
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    serve(Port, #{backends => Backends, compiler => Compiler}).

serve(Port, Env) ->
    receive
        {Port, {data, Request}} ->
            Relay = self(),
            Run = fun() -> handle(binary_to_term(Request), Env) end,
            {Worker, Ref} = spawn_monitor(fun() ->
                                                  Reply = term_to_binary(safely(Run)),
                                                  Relay ! {reply, self(), Reply}
                                          end),
            await(Port, Env, Worker, Ref);
        Other ->
            stop_on(Port, Other),
            serve(Port, Env)
    end.

await(Port, Env, Worker, Ref) ->
    receive
        {reply, Worker, Reply} ->
            erlang:demonitor(Ref, [flush]),
            reply(Port, Reply),
            load_compiler(Env),
            serve(Port, Env);
        {'DOWN', Ref, process, Worker, Why} ->
            reply(Port, term_to_binary({error, text("the request's process ended: ~0P",
                                                    [Why, 30])})),
            serve(Port, Env);
        {Port, eof} = End ->
            stop_on(Port, End);
        {'EXIT', Port, _} = Closed ->
            stop_on(Port, Closed)
    end.

%% End of input or a closed port: the parent is done or gone. Anything else is ignored.
stop_on(Port, {Port, eof}) -> halt(0);
stop_on(Port, {'EXIT', Port, _}) -> halt(1);
stop_on(_Port, _Other) -> ok.

reply(Port, Reply) ->
    try port_command(Port, Reply)
    catch error:badarg -> halt(1)                   % the port is already closed
    end.

safely(Fun) ->
    try
        Fun()
    catch
        Class:Reason:Stack ->
            {error, text("~p: ~0P~n~0P", [Class, Reason, 30, Stack, 30])}
    end.

handle({forms, Module, Chunk}, #{backends := Backends}) ->
    case debug_info(Module, Chunk) of
        {debug_info_v1, Backend, Data} -> trusted_forms(Module, Backend, Data, Backends);
        {unavailable, _} = Unavailable -> Unavailable
    end;
handle({compile, Forms, Options}, #{compiler := Compiler}) ->
    loaded(Compiler),
    case {compile_forms(Forms, Options), lists:member(no_lint, Options)} of
        {{error, _}, true} ->
            %% Code that erl_lint would refuse makes a later pass trip over it (an "internal
            %% error"): compiled again with erl_lint, the error says what is wrong.
            compile_forms(Forms, Options -- [from_abstr, no_lint]);
        {Result, _} ->
            Result
    end;
handle({check, Module, Beam}, _Env) ->
    case erlang:prepare_loading(Module, Beam) of
        {error, Why} -> {error, text("the loader refuses it: ~0p", [Why])};
        _Prepared -> ok
    end;
handle({inspect_hidden, Pairs}, _Env) ->
    {ok, [{Struct, inspect_hidden(Struct, StructBeam, Impl, ImplBeam)}
          || {Struct, StructBeam, Impl, ImplBeam} <- Pairs]}.

%% Lets the process that loads the compiler start (again and again: it takes the first).
load_compiler(#{compiler := Compiler}) ->
    Compiler ! load.

%% Returns once the compiler is loaded (the process loading it, started by main/1, has ended).
loaded(Compiler) ->
    Ref = monitor(process, Compiler),
    Compiler ! load,
    receive {'DOWN', Ref, process, Compiler, _} -> ok end.

%% The `{debug_info_v1, Backend, Data}' of a Dbgi chunk. Encrypted debug info
%% (`<<0, N, Cipher:N/binary, _/binary>>') is decrypted by beam_lib, as it does for any tool,
%% with the key it finds (a crypto key fun, or `.erlang.crypt' in the home directory; the
%% helper runs in `/'): given a beam that holds only the module's name and this chunk.
debug_info(Module, <<0, _/binary>> = Chunk) ->
    Name = atom_to_binary(Module, utf8),
    true = byte_size(Name) < 256,                   % fits the one-byte length below
    {ok, Beam} = beam_lib:build_module([{"AtU8", <<1:32, (byte_size(Name)):8, Name/binary>>},
                                        {"Dbgi", Chunk}]),
    case beam_lib:chunks(Beam, [debug_info]) of
        {ok, {Module, [{debug_info, {debug_info_v1, _, _} = DebugInfo}]}} ->
            DebugInfo;
        {error, beam_lib, {key_missing_or_invalid, _, _}} ->
            {unavailable, <<"encrypted debug info (no key: beam_lib finds none in "
                            "~/.erlang.crypt, or it is not this module's)">>};
        {error, beam_lib, Why} ->
            {unavailable, text("encrypted debug info that beam_lib cannot decrypt: ~0P",
                               [Why, 20])}
    end;
debug_info(_Module, Chunk) ->
    binary_to_term(Chunk).

trusted_forms(Module, Backend, Data, Backends) ->
    case lists:member(Backend, Backends) of
        true -> forms(Module, Backend, Data);
        false -> {unavailable, text("its debug-info backend ~p is not trusted (trusted: ~ts; "
                                    "more with ELIXIR_SCOPE_DEBUG_INFO_BACKENDS)",
                                    [Backend, lists:join(", ", [atom_to_list(B) || B <- Backends])])}
    end.

forms(Module, Backend, Data) ->
    case code:ensure_loaded(Backend) of
        {module, Backend} ->
            case Backend:debug_info(erlang_v1, Module, Data, []) of
                {ok, Forms} -> {ok, Forms};
                {error, Why} -> {unavailable, text("~p:debug_info/4 says ~0p", [Backend, Why])}
            end;
        {error, Why} ->
            {unavailable, text("its debug-info backend ~p is not available (~p)", [Backend, Why])}
    end.

%% The fields of `Struct' that its `Inspect' implementation `Impl' leaves out of its text
%% (`@derive {Inspect, except: [...]}' or `only:', or an implementation of its own), or
%% `unknown': the struct is inspected with a distinct atom in each field, and the fields whose
%% atom is not in the text are hidden. Both modules are loaded from the given (original)
%% beams into a process of their own, given ten seconds and a heap of at most
%% probe_heap_words(), and unloaded after; a module with an `on_load' function, one already
%% loaded here, or an implementation that fails on such values or runs away give `unknown'.
inspect_hidden(Struct, StructBeam, Impl, ImplBeam) ->
    Self = self(),
    {Pid, Ref} = spawn_opt(
                   fun() ->
                           Self ! {self(), try probe(Struct, StructBeam, Impl, ImplBeam)
                                           catch _:_ -> unknown
                                           end}
                   end,
                   [monitor, {max_heap_size, #{size => probe_heap_words(), kill => true,
                                               error_logger => false}}]),
    Result = receive
                 {Pid, Answer} -> Answer;
                 {'DOWN', Ref, process, Pid, _} -> unknown
             after 10000 ->
                     %% Ten seconds: a loaded machine (a CI runner running tests in parallel)
                     %% must not turn a probe into `unknown', which records the fields.
                     exit(Pid, kill),
                     unknown
             end,
    demonitor(Ref, [flush]),
    receive {Pid, _} -> ok after 0 -> ok end,
    unload(Impl),
    unload(Struct),
    Result.

probe(Struct, StructBeam, Impl, ImplBeam) ->
    case load(Struct, StructBeam) andalso load(Impl, ImplBeam) of
        false ->
            unknown;
        true ->
            Fields = [F || F <- maps:keys(Struct:'__struct__'()),
                           F =/= '__struct__', F =/= '__exception__'],
            Marks = [{F, list_to_atom("es$probe$" ++ integer_to_list(I) ++ "$")}
                     || {I, F} <- lists:zip(lists:seq(1, length(Fields)), Fields)],
            Probe = maps:merge(Struct:'__struct__'(), maps:from_list(Marks)),
            Opts = 'Elixir.Inspect.Opts':new([{limit, infinity}, {printable_limit, infinity}]),
            Doc = Impl:inspect(Probe, Opts),
            Text = unicode:characters_to_binary('Elixir.Inspect.Algebra':format(Doc, infinity)),
            [F || {F, Mark} <- Marks,
                  binary:match(Text, atom_to_binary(Mark)) =:= nomatch]
    end.

%% Loads a module from its beam, straight through the loader (the code server never hears of
%% it, so unload/1 can tell it apart from the helper's own modules).
load(Module, Beam) ->
    case erlang:module_loaded(Module) of
        false ->
            case erlang:prepare_loading(Module, Beam) of
                {error, _} ->
                    false;
                Prepared ->
                    not erlang:has_prepared_code_on_load(Prepared)
                        andalso erlang:finish_loading([Prepared]) =:= ok
            end;
        true ->
            false
    end.

%% Unloads a module load/1 loaded (loaded, unknown to the code server).
unload(Module) ->
    case erlang:module_loaded(Module) andalso code:is_loaded(Module) =:= false of
        true ->
            _ = erlang:delete_module(Module),
            _ = erlang:check_old_code(Module) andalso erlang:purge_module(Module),
            ok;
        false ->
            ok
    end.

compile_forms(Forms, Options) ->
    case compile:noenv_forms(Forms, [binary, return_errors, no_spawn_compiler_process | Options]) of
        {ok, _Module, Beam} -> {ok, Beam};
        {ok, _Module, Beam, _Warnings} -> {ok, Beam};
        {error, Errors, _Warnings} -> {error, format_errors(Errors)}
    end.

format_errors(Errors) ->
    Lines = [[where(File, Location), describe(Mod, What), $\n]
             || {File, FileErrors} <- Errors, {Location, Mod, What} <- FileErrors],
    unicode:characters_to_binary(Lines).

%% "file:line:column: ", "file: " or nothing, as far as the compiler says where.
where(File, Location) ->
    Name = io_lib:format("~ts", [File]),
    case {lists:flatten(Name), Location} of
        {[], none} -> "";
        {Text, none} -> [Text, ": "];
        {Text, {Line, Column}} -> io_lib:format("~ts:~w:~w: ", [Text, Line, Column]);
        {Text, Line} -> io_lib:format("~ts:~w: ", [Text, Line])
    end.

describe(Mod, What) ->
    try Mod:format_error(What)
    catch _:_ -> io_lib:format("~0p", [What])
    end.

text(Format, Args) ->
    unicode:characters_to_binary(io_lib:format(Format, Args)).
