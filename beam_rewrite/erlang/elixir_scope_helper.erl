%% @doc The BEAM side of `elixir-scope instrument'.
%%
%% The rewriter is Rust; it runs this module in a few `erl' OS processes for the steps only the
%% BEAM can do: turning a `Dbgi' chunk into Erlang abstract forms (Elixir's debug info needs
%% `elixir_erl'), compiling patched forms, and checking a finished beam with the real loader.
%%
%% Protocol: one request at a time, each a `{packet, 4}' frame holding one term in the external
%% term format, read from fd 0; the reply goes to fd 1 the same way. The helper halts when fd 0
%% closes. Nothing else may be written to fd 1: all other output goes to standard_error.
%%
%%   {forms, Module, DbgiChunk}   -> {ok, Forms} | {unavailable, Why} | {error, Why}
%%   {compile, Forms, Options}    -> {ok, BeamBinary} | {error, Why}  (Options with no_lint
%%                                   that fail are tried again without, for erl_lint's message)
%%   {check, Module, BeamBinary}  -> ok | {error, Why}
%%
%% `Why' is a UTF-8 binary meant for people. `unavailable' means the debug info holds no code
%% (the backend said so, or the backend is not installed), which is not a failure of the
%% rewriter: the module is skipped.
-module(elixir_scope_helper).

-export([main/0]).

%% @doc Serves requests until fd 0 closes.
-spec main() -> no_return().
main() ->
    %% io:format and logger must never write to fd 1, which carries the replies.
    group_leader(whereis(standard_error), self()),
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    loop(Port).

loop(Port) ->
    receive
        {Port, {data, Request}} ->
            Reply = safely(fun() -> handle(binary_to_term(Request)) end),
            port_command(Port, term_to_binary(Reply)),
            loop(Port);
        {Port, eof} ->
            halt(0)
    end.

safely(Fun) ->
    try
        Fun()
    catch
        Class:Reason:Stack ->
            {error, text("~p: ~0P~n~0P", [Class, Reason, 30, Stack, 30])}
    end.

handle({forms, Module, Chunk}) ->
    {debug_info_v1, Backend, Data} = binary_to_term(Chunk),
    case code:ensure_loaded(Backend) of
        {module, Backend} ->
            case Backend:debug_info(erlang_v1, Module, Data, []) of
                {ok, Forms} -> {ok, Forms};
                {error, Why} -> {unavailable, text("~p:debug_info/4 says ~0p", [Backend, Why])}
            end;
        {error, Why} ->
            {unavailable, text("its debug-info backend ~p is not available (~p)", [Backend, Why])}
    end;
handle({compile, Forms, Options}) ->
    case {compile_forms(Forms, Options), lists:member(no_lint, Options)} of
        {{error, _}, true} ->
            %% Code that erl_lint would refuse makes a later pass trip over it (an "internal
            %% error"): compiled again with erl_lint, the error says what is wrong.
            compile_forms(Forms, Options -- [from_abstr, no_lint]);
        {Result, _} ->
            Result
    end;
handle({check, Module, Beam}) ->
    case erlang:prepare_loading(Module, Beam) of
        {error, Why} -> {error, text("the loader refuses it: ~0p", [Why])};
        _Prepared -> ok
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
