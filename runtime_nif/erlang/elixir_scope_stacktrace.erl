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
%% Likewise every `process_info' call of a rewritten module (`erlang:process_info/1,2',
%% Elixir's `Process.info/1,2') has its answer passed through `clean_process_info/1', so code
%% that looks at a process's current function or stack sees the original names, and the reads
%% of the whole process dictionary (`get/0', `get_keys/0,1', `erase/0') go through
%% `clean_dictionary/1', `clean_keys/1' and `clean_erased/1', so that code sees none of the
%% runtime's keys (`'$elixir_scope_...''), and `fun_info/1,2' (Elixir's `Function.info/1,2')
%% answers go through `clean_fun_info/1', so funs defined in wrapped functions have their
%% original names.
%%
%% This module calls no other module but `erlang' and `persistent_term' (BIFs): any other
%% module may itself be rewritten, and calling it from here would recurse.
-module(elixir_scope_stacktrace).

-export([clean/1, clean_process_info/1, inner_name/1, original_name/1, wrapper_file/0,
         widen_depth/0]).
-export([clean_dictionary/1, clean_keys/1, clean_erased/1, clean_fun_info/1]).

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

%% @doc A `process_info/1,2' answer as the original code would get it: `current_function',
%% `current_location', `current_stacktrace' and `backtrace' (alone or among the items of a
%% list) with original names and without the recorder's frames; any other answer unchanged.
-spec clean_process_info(term()) -> term().
clean_process_info(Items) when is_list(Items) ->
    [clean_info_item(Item) || Item <- Items];
clean_process_info(Item) ->
    clean_info_item(Item).

clean_info_item({current_function, {M, F, A}}) ->
    {current_function, {M, original_name(F), A}};
clean_info_item({current_location, {M, F, A, Location}}) ->
    {current_location, {M, original_name(F), A, Location}};
clean_info_item({current_stacktrace, Stack}) ->
    {current_stacktrace, clean(Stack)};
clean_info_item({backtrace, Text}) when is_binary(Text) ->
    {backtrace, clean_backtrace(Text)};
clean_info_item({dictionary, Entries}) ->
    {dictionary, clean_dictionary(Entries)};
clean_info_item(Other) ->
    Other.

%% The text of `process_info(P, backtrace)': frames are blocks separated by an empty line, each
%% starting with the address it returns to, `(Module:Function/Arity + Offset)'. Blocks that
%% return into a helper (`'es$$record'', `'es$$tail'') go; inner names get their original ones.
clean_backtrace(Text) ->
    Blocks = blocks(binary_to_list(Text), [], []),
    Kept = [rename_text(Block, []) || Block <- Blocks, not is_helper_block(Block)],
    list_to_binary(join(Kept)).

blocks([], Block, Acc) ->
    reverse([reverse(Block, []) | Acc], []);
blocks([$\n, $\n | Rest], Block, Acc) ->
    blocks(Rest, [], [reverse(Block, []) | Acc]);
blocks([C | Rest], Block, Acc) ->
    blocks(Rest, [C | Block], Acc).

join([]) -> [];
join([Block]) -> Block;
join([Block | Rest]) -> [Block, "\n\n" | join(Rest)].

reverse([], Acc) -> Acc;
reverse([X | Xs], Acc) -> reverse(Xs, [X | Acc]).

%% Whether a block's first line is a return address into one of the rewriter's helpers.
is_helper_block("0x" ++ _ = Block) ->
    contains(first_line(Block), ":'" ?PREFIX "$");
is_helper_block(_) ->
    false.

first_line([]) -> [];
first_line([$\n | _]) -> [];
first_line([C | Rest]) -> [C | first_line(Rest)].

contains([], _) -> false;
contains(Text, Part) -> starts_with(Text, Part) orelse contains(tl(Text), Part).

starts_with(_, []) -> true;
starts_with([C | Text], [C | Part]) -> starts_with(Text, Part);
starts_with(_, _) -> false.

%% `:'es$Name'/' becomes `:Name/' (quoted if it has to be), `:'-es$' becomes `:'-'.
rename_text([], Acc) ->
    reverse(Acc, []);
rename_text(":'-" ?PREFIX ++ Rest, Acc) ->
    rename_text(Rest, reverse(":'-", Acc));
rename_text(":'" ?PREFIX ++ Rest, Acc) ->
    {Name, After} = quoted_rest(Rest, []),
    Original = case is_bare_atom(Name) of
                   true -> Name;
                   false -> "'" ++ Name ++ "'"
               end,
    rename_text(After, reverse(":" ++ Original, Acc));
rename_text([C | Rest], Acc) ->
    rename_text(Rest, [C | Acc]).

%% The (escaped) characters up to the closing quote, and what follows it.
quoted_rest([], Acc) -> {reverse(Acc, []), []};
quoted_rest([$\\, C | Rest], Acc) -> quoted_rest(Rest, [C, $\\ | Acc]);
quoted_rest([$' | Rest], Acc) -> {reverse(Acc, []), Rest};
quoted_rest([C | Rest], Acc) -> quoted_rest(Rest, [C | Acc]).

%% Whether an atom prints without quotes (as ~w prints it).
is_bare_atom([C | Rest]) when C >= $a, C =< $z ->
    is_bare_tail(Rest) andalso not is_reserved_word([C | Rest]);
is_bare_atom(_) ->
    false.

is_bare_tail([]) -> true;
is_bare_tail([C | Rest]) when C >= $a, C =< $z; C >= $A, C =< $Z; C >= $0, C =< $9;
                              C =:= $_; C =:= $@ ->
    is_bare_tail(Rest);
is_bare_tail(_) -> false.

is_reserved_word(Name) ->
    is_map_key(Name, #{"after" => r, "and" => r, "andalso" => r, "band" => r, "begin" => r,
                       "bnot" => r, "bor" => r, "bsl" => r, "bsr" => r, "bxor" => r,
                       "case" => r, "catch" => r, "cond" => r, "div" => r, "else" => r,
                       "end" => r, "fun" => r, "if" => r, "let" => r, "maybe" => r,
                       "not" => r, "of" => r, "or" => r, "orelse" => r, "receive" => r,
                       "rem" => r, "try" => r, "when" => r, "xor" => r}).

%% @doc The entries of a process dictionary (`get/0') without the runtime's.
-spec clean_dictionary(term()) -> term().
clean_dictionary(Entries) when is_list(Entries) ->
    [Entry || Entry <- Entries, not is_runtime_entry(Entry)];
clean_dictionary(Other) ->
    Other.

%% @doc Keys of the process dictionary (`get_keys/0,1') without the runtime's.
-spec clean_keys(term()) -> term().
clean_keys(Keys) when is_list(Keys) ->
    [Key || Key <- Keys, not is_runtime_key(Key)];
clean_keys(Other) ->
    Other.

%% @doc What `erase/0' returned, without the runtime's entries, which go back into the
%% dictionary: the runtime's state of the process survives code that empties its dictionary.
-spec clean_erased(term()) -> term().
clean_erased(Entries) when is_list(Entries) ->
    _ = [put(Key, Value) || {Key, Value} = Entry <- Entries, is_runtime_entry(Entry)],
    clean_dictionary(Entries);
clean_erased(Other) ->
    Other.

%% @doc A `fun_info/1,2' answer with the fun's original name (`-f/1-fun-0-' for a fun defined
%% in the wrapped function `f/1', whose clauses now live in `es$f/1').
-spec clean_fun_info(term()) -> term().
clean_fun_info({name, Name}) ->
    {name, original_name(Name)};
clean_fun_info(Items) when is_list(Items) ->
    [clean_fun_info_item(Item) || Item <- Items];
clean_fun_info(Other) ->
    Other.

clean_fun_info_item({name, Name}) -> {name, original_name(Name)};
clean_fun_info_item(Other) -> Other.

is_runtime_entry({Key, _}) -> is_runtime_key(Key);
is_runtime_entry(_) -> false.

%% The runtime's process dictionary keys: atoms starting with `$elixir_scope_'.
is_runtime_key(Key) when is_atom(Key) ->
    case atom_to_binary(Key, utf8) of
        <<"$elixir_scope_", _/binary>> -> true;
        _ -> false
    end;
is_runtime_key(_) ->
    false.

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
