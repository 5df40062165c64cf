%% @doc Clusters: what one node asks another about its recording, over Erlang distribution
%% (no other transport).
%%
%% Each node of a cluster records into its own run (docs/ARCHITECTURE.md, "Clusters"). Two
%% kinds of askers come here:
%% <ul>
%% <li>`ElixirScope' in IEx, with `nodes: :all': it calls {@link calls/1}, {@link links_from/4}
%%     and {@link running_at/2} on every connected node (`erpc'), and merges the answers (a
%%     tree's root node lays the merged tree out: {@link tree_prefixes/1}).
%%     Pids come back as pids (converted here, where they are local), so the asker holds real
%%     remote pids.</li>
%% <li>`elixir-scope ... --node NAME --cookie C [--cluster]': a hidden node started by the CLI
%%     runs {@link fetch/3}, which asks each node for its run ({@link run/0}) and reads it in
%%     place when this machine sees the same files, else copies it, segment by segment
%%     ({@link read/4}), into a local mirror the CLI then reads like any store. Sealed segments
%%     never change, so a mirror only copies the segments it does not hold yet.</li>
%% </ul>
%% Everything here runs with recording off for the calling process
%% (`elixir_scope_runtime:without_recording/1'): the modules it calls may be instrumented.
-module(elixir_scope_cluster).

%% Asked of a node.
-export([run/0, read/4, calls/1, tree/2, tree_prefixes/1, links_from/4, running_at/2]).
%% Run by the CLI's hidden node.
-export([fetch/3]).

%% Bytes per read of a segment over distribution.
-define(PART_BYTES, 4194304).
-define(TIMEOUT_MS, 60000).
%% Attempts at copying a run whose compaction removed a segment while it was copied.
-define(ATTEMPTS, 3).

%%% Asked of a node

%% @doc This node's run once everything recorded so far is sealed: `{ok, #{node, run, dir,
%% run_file, segments}}' (`dir' the run's directory, `run_file' the bytes of its `run' file,
%% `segments' the sealed segment files that hold it as `{Name, Size}', compaction's leftover
%% inputs left out), or `{error, Reason}'
%% (`not_started' when nothing was recorded here yet).
-spec run() -> {ok, map()} | {error, term()}.
run() ->
    quietly(fun() ->
                    case elixir_scope_runtime:flush() of
                        ok -> describe();
                        {error, _} = Error -> Error
                    end
            end).

describe() ->
    case elixir_scope_nif:run_dir() of
        {ok, Run, Dir, Segments} ->
            case file:read_file(filename:join(Dir, "run")) of
                {ok, RunFile} ->
                    {ok, #{node => node(), run => Run, dir => Dir, run_file => RunFile,
                           segments => Segments}};
                {error, Why} ->
                    {error, {run_file, Why}}
            end;
        Error ->
            Error
    end.

%% @doc Up to `Length' bytes at `Offset' of the sealed segment `Name' of this node's run `Run':
%% `{ok, Bytes}', `eof', or `{error, Reason}' (`enoent' when compaction removed it meanwhile;
%% `not_this_run' for another run, `bad_name' for anything but a segment's name).
-spec read(pos_integer(), binary(), non_neg_integer(), pos_integer()) ->
          {ok, binary()} | eof | {error, term()}.
read(Run, Name, Offset, Length) when is_binary(Name), is_integer(Offset), is_integer(Length) ->
    quietly(fun() ->
                    case elixir_scope_nif:run_dir() of
                        {ok, Run, Dir, _Segments} ->
                            case segment_name(Name) of
                                true -> pread(filename:join(Dir, Name), Offset, Length);
                                false -> {error, bad_name}
                            end;
                        {ok, _Other, _Dir, _Segments} ->
                            {error, not_this_run};
                        Error ->
                            Error
                    end
            end).

segment_name(Name) ->
    filename:basename(Name) =:= Name andalso filename:extension(Name) =:= <<".seg">>.

pread(Path, Offset, Length) ->
    case file:open(Path, [read, raw, binary]) of
        {ok, Fd} ->
            try
                file:pread(Fd, Offset, min(Length, ?PART_BYTES))
            after
                file:close(Fd)
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc `elixir_scope_runtime:calls/1' after a flush, with each call's `pid' a pid (this node's)
%% instead of its text.
-spec calls(map()) -> [map()] | {error, term()}.
calls(Filter) ->
    quietly(fun() ->
                    _ = elixir_scope_runtime:flush(),
                    case elixir_scope_runtime:calls(Filter) of
                        Calls when is_list(Calls) -> [with_pid(C) || C <- Calls];
                        Error -> Error
                    end
            end).

%% @doc `elixir_scope_runtime:tree/2' after a flush, pids as pids, with `root => #{pid_text,
%% start_unix_ns, end_unix_ns}' (the root's process as this node prints it, and when it ran:
%% `end_unix_ns' is `undefined' while it runs), which other nodes are asked about (see
%% {@link links_from/4}).
-spec tree(pos_integer(), map()) -> map() | undefined | {error, term()}.
tree(Id, Limits) ->
    quietly(fun() ->
                    _ = elixir_scope_runtime:flush(),
                    case elixir_scope_runtime:tree(Id, Limits) of
                        #{lines := [{0, #{pid := Text} = Root} | _] = Lines} = Tree ->
                            Tree#{lines := [{Depth, item_pids(Item)} || {Depth, Item} <- Lines],
                                  cause := cause_pids(maps:get(cause, Tree, undefined)),
                                  root => #{pid_text => Text,
                                            start_unix_ns => maps:get(start_unix_ns, Root),
                                            end_unix_ns => end_unix_ns(Root)}};
                        Other ->
                            Other
                    end
            end).

end_unix_ns(#{end_ns := End, start_ns := Start, start_unix_ns := StartUnix})
  when is_integer(End) ->
    StartUnix + (End - Start);
end_unix_ns(_Call) ->
    undefined.

item_pids(#{process := Text, first := First} = Item) ->
    Item#{process := to_pid(Text), first := with_pid(First)};
item_pids(#{request := Text, served_by := Call} = Item) ->
    Item#{request := to_pid(Text), served_by := with_pid(Call)};
item_pids(#{fold := _} = Fold) ->
    Fold;
item_pids(Call) ->
    with_pid(Call).

cause_pids(#{pid := Text, call := Call} = Cause) -> Cause#{pid := to_pid(Text), call := with_pid(Call)};
cause_pids(Other) -> Other.

%% @doc `elixir_scope_runtime:tree_prefixes/1' on the node whose run holds a tree's root: the
%% guides that draw the tree once IEx put the lines of other nodes in, laid out by the NIF,
%% which is loaded there (the asking node may not record).
-spec tree_prefixes([non_neg_integer()]) -> [binary()] | {error, term()}.
tree_prefixes(Depths) ->
    elixir_scope_runtime:tree_prefixes(Depths).

%% @doc What this node's run did for the process `PidText' of node `Node' from `FromUnixNs' to
%% `ToUnixNs' (wall-clock ns): `[{request | caller | ancestor, Pid, Call}]', the requests of it
%% that calls here served and the processes that came from it here (by their first calls), in
%% start order. See `elixir_scope_nif:links_from/4'.
-spec links_from(node(), binary(), non_neg_integer(), non_neg_integer()) ->
          [{atom(), pid() | binary(), map()}] | {error, term()}.
links_from(Node, PidText, FromUnixNs, ToUnixNs) ->
    quietly(fun() ->
                    _ = elixir_scope_runtime:flush(),
                    case elixir_scope_nif:links_from(Node, PidText, FromUnixNs, ToUnixNs) of
                        Links when is_list(Links) ->
                            [{Kind, to_pid(Pid), with_pid(Call)} || {Kind, Pid, Call} <- Links];
                        Error ->
                            Error
                    end
            end).

%% @doc The innermost call of this node's process `PidText' running at `UnixNs' (wall-clock
%% ns), or `undefined'.
-spec running_at(binary(), non_neg_integer()) -> map() | undefined | {error, term()}.
running_at(PidText, UnixNs) ->
    quietly(fun() ->
                    _ = elixir_scope_runtime:flush(),
                    case elixir_scope_nif:running_at(PidText, UnixNs) of
                        #{} = Call -> with_pid(Call);
                        Other -> Other
                    end
            end).

with_pid(#{pid := Text} = Call) -> Call#{pid := to_pid(Text)};
with_pid(Call) -> Call.

to_pid(Text) when is_binary(Text) ->
    try list_to_pid(binary_to_list(Text)) catch error:badarg -> Text end;
to_pid(Other) ->
    Other.

quietly(Fun) ->
    elixir_scope_runtime:without_recording(Fun).

%%% The CLI's hidden node

%% @doc Finds the runs of `Target' (a node this one is connected to) and, with `cluster =>
%% true', of every node `Target' is connected to, and prints one line per node on standard
%% output: `elixir-scope<TAB>run<TAB>Node<TAB>Run<TAB>Base64Store' (the store directory that holds
%% the node's run: its own when this machine sees the same `run' file there and not `copy =>
%% true', else the mirror `Mirror/Node', updated), or `elixir-scope<TAB>skip<TAB>Node<TAB>
%% Base64Reason'. Paths and reasons are UTF-8 in base64, so that no character in them can
%% break a line.
-spec fetch(node(), #{cluster := boolean(), copy := boolean()}, file:filename()) -> ok.
fetch(Target, #{cluster := Cluster, copy := Copy}, Mirror) ->
    Nodes = case Cluster of
                true -> [Target | lists:sort(erpc:call(Target, erlang, nodes, [], ?TIMEOUT_MS))];
                false -> [Target]
            end,
    lists:foreach(fun(Node) -> fetch_node(Node, Copy, Mirror, ?ATTEMPTS) end, Nodes).

fetch_node(Node, Copy, Mirror, Attempts) ->
    case catch erpc:call(Node, elixir_scope_cluster, run, [], ?TIMEOUT_MS) of
        {ok, #{run := Run, dir := Dir, run_file := RunFile, segments := Segments}} ->
            case (not Copy) andalso file:read_file(filename:join(Dir, "run")) of
                {ok, RunFile} ->
                    %% This machine reads the same run: in place (`Dir' is STORE/runs/N).
                    say(run, Node, [integer_to_list(Run), $\t, encoded(store_of(Dir))]);
                _ ->
                    Store = filename:join(Mirror, atom_to_list(Node)),
                    Mirrored = try mirror(Node, Run, RunFile, Segments, Store)
                               catch Class:Reason -> {error, {Class, Reason}}
                               end,
                    case Mirrored of
                        ok ->
                            say(run, Node, [integer_to_list(Run), $\t, encoded(Store)]);
                        {error, vanished} when Attempts > 1 ->
                            fetch_node(Node, Copy, Mirror, Attempts - 1);
                        {error, Why} ->
                            say(skip, Node, encoded(reason(Why)))
                    end
            end;
        Other ->
            say(skip, Node, encoded(reason(Other)))
    end.

store_of(RunDir) ->
    filename:dirname(filename:dirname(RunDir)).

%% Copies the run's segments that `Store' does not hold yet (same name and size: a sealed
%% segment never changes), removes those the node no longer has (compaction merged them), and
%% writes the `run' file last. Directories 0700, files 0600: recordings hold arguments.
%% The mirror keeps the node's current run only; a run of the same number from another store
%% (another node of that name: its `run' file starts with other start times and OS pid) is
%% dropped before anything is compared.
mirror(Node, Run, RunFile, Segments, Store) ->
    Runs = filename:join(Store, "runs"),
    RunDir = filename:join(Runs, integer_to_list(Run)),
    ok = private_dirs([filename:dirname(Store), Store, Runs]),
    {ok, Others} = file:list_dir(Runs),
    [ok = file:del_dir_r(filename:join(Runs, Other)) || Other <- Others,
                                                       Other =/= integer_to_list(Run)],
    case file:read_file(filename:join(RunDir, "run")) of
        {ok, <<Same:28/binary, _/binary>>} when Same =:= binary_part(RunFile, 0, 28) -> ok;
        {ok, _Another} -> ok = file:del_dir_r(RunDir);
        {error, _} -> ok
    end,
    ok = private_dirs([RunDir]),
    Wanted = [binary_to_list(Name) || {Name, _Size} <- Segments],
    {ok, Held} = file:list_dir(RunDir),
    [ok = file:delete(filename:join(RunDir, F))
     || F <- Held, filename:extension(F) =:= ".seg" orelse filename:extension(F) =:= ".part",
        not lists:member(F, Wanted)],
    Copied = [copy(Node, Run, Name, Size, RunDir)
              || {Name, Size} <- Segments,
                 filelib:file_size(filename:join(RunDir, Name)) =/= Size],
    case [Why || {error, Why} <- Copied] of
        [] ->
            write_private(filename:join(RunDir, "run"), RunFile);
        [enoent | _] ->
            {error, vanished};
        [Why | _] ->
            {error, Why}
    end.

copy(Node, Run, Name, Size, RunDir) ->
    Part = filename:join(RunDir, [$. | binary_to_list(Name)] ++ ".part"),
    {ok, Fd} = file:open(Part, [write, raw, binary]),
    ok = file:change_mode(Part, 8#600),
    Result = try copy_parts(Node, Run, Name, Fd, 0) after file:close(Fd) end,
    case Result of
        {ok, Size} ->
            file:rename(Part, filename:join(RunDir, Name));
        {ok, Other} ->
            _ = file:delete(Part),
            {error, {short_copy, Name, Other, Size}};
        {error, _} = Error ->
            _ = file:delete(Part),
            Error
    end.

copy_parts(Node, Run, Name, Fd, Offset) ->
    case erpc:call(Node, elixir_scope_cluster, read, [Run, Name, Offset, ?PART_BYTES], ?TIMEOUT_MS) of
        {ok, Bytes} ->
            ok = file:write(Fd, Bytes),
            copy_parts(Node, Run, Name, Fd, Offset + byte_size(Bytes));
        eof ->
            {ok, Offset};
        {error, _} = Error ->
            Error
    end.

private_dirs([]) ->
    ok;
private_dirs([Dir | Rest]) ->
    case file:make_dir(Dir) of
        ok -> ok = file:change_mode(Dir, 8#700);
        {error, eexist} -> ok
    end,
    private_dirs(Rest).

write_private(Path, Bytes) ->
    Part = Path ++ ".part",
    {ok, Fd} = file:open(Part, [write, raw, binary]),
    ok = file:change_mode(Part, 8#600),
    ok = file:write(Fd, Bytes),
    ok = file:close(Fd),
    file:rename(Part, Path).

say(What, Node, Text) ->
    io:format("elixir-scope\t~s\t~s\t~s~n", [What, Node, Text]).

encoded(Text) ->
    base64:encode(unicode:characters_to_binary(Text)).

reason({error, not_started}) ->
    "it records nothing (no instrumented code ran there yet)";
reason(not_started) ->
    "it records nothing (no instrumented code ran there yet)";
reason({'EXIT', {{exception, undef, [{elixir_scope_cluster, run, _, _} | _]}, _}}) ->
    "it has no ElixirScope runtime of this version (elixir_scope_cluster is missing): "
        "instrument it with this elixir-scope";
reason({'EXIT', {{erpc, noconnection}, _}}) ->
    "it cannot be reached (noconnection)";
reason({'EXIT', {Why, _}}) ->
    io_lib:format("~0tp", [Why]);
reason({error, Why}) ->
    io_lib:format("~0tp", [Why]);
reason(Why) ->
    io_lib:format("~0tp", [Why]).
