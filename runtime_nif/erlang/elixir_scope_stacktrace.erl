%% @doc Stack traces as the original code would give them.
%%
%% The rewriter moves the clauses of a wrapped function `Name/Arity' into an inner function
%% named `es$Name' and puts a wrapper under the original name. Wrapper code is compiled under
%% the file name "elixir_scope:wrapper", so its frames are recognisable. `clean/1' removes the
%% wrapper frames and gives inner functions (and the funs and comprehensions defined in them,
%% named `-es$Name/Arity-fun-N-' and the like) their original names back.
-module(elixir_scope_stacktrace).

-export([clean/1, inner_name/1, original_name/1, wrapper_file/0]).

-define(PREFIX, "es$").
-define(WRAPPER_FILE, "elixir_scope:wrapper").

%% @doc The stack trace without wrapper frames and with original function names.
-spec clean([tuple()]) -> [tuple()].
clean(Stack) when is_list(Stack) ->
    [rename(Frame) || Frame <- Stack, not is_wrapper(Frame)];
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

is_wrapper({_M, _F, _A, Location}) when is_list(Location) ->
    lists:member({file, ?WRAPPER_FILE}, Location);
is_wrapper(_) ->
    false.

rename({M, F, A, Location}) ->
    {M, original_name(F), A, Location};
rename(Frame) ->
    Frame.
