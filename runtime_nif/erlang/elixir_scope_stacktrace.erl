%% @doc Stack traces as the original code would give them.
%%
%% The rewriter moves the clauses of a wrapped function `Name/Arity' into an inner function
%% named `es$Name' and puts a wrapper under the original name. Wrapper code is compiled under
%% the file name "elixir_scope:wrapper", so its frames are recognisable. `clean/1' removes the
%% wrapper frames and gives inner functions (and the funs and comprehensions defined in them,
%% named `-es$Name/Arity-fun-N-' and the like) their original names back.
%%
%% Depth: the VM keeps `backtrace_depth' frames (8 by default; ExUnit sets 20). While
%% recording, every wrapped call adds one wrapper frame, so a raw trace can hold half as many
%% of the program's own frames. `widen_depth/0' (called by the runtime when it starts) doubles
%% the VM's depth and remembers the depth callers should see; `clean/1' then cuts cleaned traces
%% back to it, so callers see as many frames as the original code would give. If something sets
%% the depth afterwards (ExUnit.start/1 does), calling `widen_depth/0' again takes the new value
%% as the one callers should see. Traces of exceptions that never pass through rewritten code
%% can hold up to twice the usual number of frames.
%%
%% The rewriter also makes every catch clause of a rewritten module that binds the stack trace
%% call `clean/1' on it, so code that catches its own exceptions sees clean traces too.
%%
%% This module calls no other module but `erlang' and `persistent_term' (BIFs): any other
%% module may itself be rewritten, and calling it from here would recurse.
-module(elixir_scope_stacktrace).

-export([clean/1, inner_name/1, original_name/1, wrapper_file/0, widen_depth/0]).

-define(PREFIX, "es$").
-define(WRAPPER_FILE, "elixir_scope:wrapper").
-define(DEPTH_KEY, {?MODULE, original_depth}).

%% @doc The stack trace without wrapper frames, with original function names, cut to the
%% depth the VM had before `widen_depth/0'.
-spec clean([tuple()]) -> [tuple()].
clean(Stack) when is_list(Stack) ->
    Cleaned = [rename(Frame) || Frame <- Stack, not is_wrapper(Frame)],
    case persistent_term:get(?DEPTH_KEY, undefined) of
        Depth when is_integer(Depth), length(Cleaned) > Depth -> take(Depth, Cleaned);
        _ -> Cleaned
    end;
clean(Other) ->
    Other.

%% @doc The name of the inner function that holds the clauses of `Name'.
-spec inner_name(atom()) -> atom().
inner_name(Name) ->
    list_to_atom(?PREFIX ++ atom_to_list(Name)).

%% @doc The original name of a function of a rewritten module (unchanged if not ours).
-spec original_name(atom()) -> atom().
original_name(Name) when is_atom(Name) ->
    case atom_to_list(Name) of
        ?PREFIX ++ Rest -> list_to_atom(Rest);
        "-" ?PREFIX ++ Rest -> list_to_atom("-" ++ Rest);
        _ -> Name
    end;
original_name(Other) ->
    Other.

%% @doc The file name wrapper code is compiled under.
-spec wrapper_file() -> string().
wrapper_file() ->
    ?WRAPPER_FILE.

%% @doc Makes the VM's `backtrace_depth' twice the depth callers should see, and returns the
%% latter: the VM's depth at the first call, or the depth someone else set since the last call.
%% Not safe to call from two processes at the same time: the runtime calls it from one place.
-spec widen_depth() -> non_neg_integer().
widen_depth() ->
    case persistent_term:get(?DEPTH_KEY, undefined) of
        undefined ->
            widen_from(erlang:system_flag(backtrace_depth, 64));
        Seen ->
            case erlang:system_flag(backtrace_depth, 2 * Seen) of
                Widened when Widened =:= 2 * Seen -> Seen;
                Changed -> widen_from(Changed)
            end
    end.

widen_from(Depth) ->
    _ = erlang:system_flag(backtrace_depth, 2 * Depth),
    persistent_term:put(?DEPTH_KEY, Depth),
    Depth.

is_wrapper({_M, _F, _A, [{file, ?WRAPPER_FILE} | _]}) ->
    true;
is_wrapper({M, F, A, [_ | Location]}) ->
    is_wrapper({M, F, A, Location});
is_wrapper(_) ->
    false.

take(0, _) -> [];
take(_, []) -> [];
take(N, [X | Xs]) -> [X | take(N - 1, Xs)].

rename({M, F, A, Location}) ->
    {M, original_name(F), A, Location};
rename(Frame) ->
    Frame.
