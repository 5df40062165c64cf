%% @doc The NIF functions of the ElixirScope runtime (library `libelixir_scope_nif.so').
%%
%% Only the runtime's modules call these (`elixir_scope_runtime', `elixir_scope_control',
%% `elixir_scope_query', `elixir_scope_attach', `elixir_scope_cluster'); `elixir_scope_control'
%% loads the library with {@link load/1}. Until then every function but `load/1' and
%% `loaded/0' raises `nif_error'. See
%% `runtime_nif/src/' for what each does.
-module(elixir_scope_nif).

-export([load/1, loaded/0]).
-export([start/1, settings/0, flush/1, stats/0]).
-export([enter/5, enter_request/6, enter_first/8, call_return/3, call_exception/5,
         tail_call/6]).
-export([call/1, children/2, subtree/2, calls/1, tree/2, tree_prefixes/1, summary/0, runs/0,
         tests/1, search/2, origin/2]).
-export([paused/1, test_finished/1]).
%% Clusters: the node's name, runs of other nodes.
-export([node_named/1, run_dir/0, links_from/4, running_at/2]).
-export([profile/1, diff/3]).
%% Attach: this module is the VM's tracer module (erl_tracer: enabled/3, trace/5) and the
%% controller's (elixir_scope_attach) entry points.
-export([enabled/3, trace/5]).
-export([attach_open/4, attach_seed/3, attach_seeded/0, attach_close/1, attach_prune/0,
         attach_calls/0, attach_note/4, recording_state/1, stack_discarded/0]).
-export([sent/5, exited/2, crashes/1]).

-nifs([loaded/0, start/1, settings/0, flush/1, stats/0, enter/5, enter_request/6, enter_first/8,
       call_return/3,
       call_exception/5, tail_call/6, call/1, children/2, subtree/2, calls/1, tree/2,
       tree_prefixes/1, summary/0, runs/0, tests/1, search/2, origin/2, paused/1, test_finished/1]).
-nifs([profile/1, diff/3]).
-nifs([enabled/3, trace/5]).
-nifs([attach_open/4, attach_seed/3, attach_seeded/0, attach_close/1, attach_prune/0,
       attach_calls/0, attach_note/4, recording_state/1, stack_discarded/0]).
-nifs([sent/5, exited/2, crashes/1]).
-nifs([node_named/1, run_dir/0, links_from/4, running_at/2]).

%% @doc Loads the library at `Path' (without the `.so' extension), once it is known to be a
%% whole ELF shared object. The dynamic loader maps the parts of the file that its headers
%% name; in a truncated file (a copy cut short, a full disk) they reach past its end, and the
%% first read there kills the VM with SIGBUS instead of returning an error. So every part the
%% headers name must lie within the file: `{error, {bad_library, File, Why}}' otherwise.
-spec load(file:filename()) -> ok | {error, term()}.
load(Path) ->
    File = filename:flatten([Path, ".so"]),
    case check_library(File) of
        ok -> erlang:load_nif(Path, 0);
        {error, Why} -> {error, {bad_library, File, Why}}
    end.

%% `ok', or why the file at `File' is not a whole ELF shared object. A file that cannot be
%% opened is left to erlang:load_nif/2, which says so in its own words.
check_library(File) ->
    case file:open(File, [read, raw, binary]) of
        {ok, Fd} ->
            try
                check_elf(Fd)
            catch
                Class:Reason -> {error, {unreadable, Class, Reason}}
            after
                file:close(Fd)
            end;
        {error, _} ->
            ok
    end.

check_elf(Fd) ->
    {ok, Size} = file:position(Fd, eof),
    case file:pread(Fd, 0, 64) of
        {ok, <<16#7f, "ELF", Class, Data, _/binary>> = Header}
          when (Class =:= 1 orelse Class =:= 2), (Data =:= 1 orelse Data =:= 2),
               byte_size(Header) >= 52 + (Class - 1) * 12 ->
            check_headers(Fd, Size, elf_layout(Class), Data, Header);
        {ok, _} -> {error, not_elf};
        eof -> {error, empty};
        {error, Why} -> {error, Why}
    end.

%% Where the fields are, for 32-bit (1) and 64-bit (2) files: in the file header, the program
%% header table's offset, the section header table's offset, their entry sizes and counts;
%% in a program header, the segment's offset and size in the file.
elf_layout(1) ->
    #{phoff => {28, 4}, shoff => {32, 4}, phentsize => {42, 2}, phnum => {44, 2},
      shentsize => {46, 2}, shnum => {48, 2}, p_offset => {4, 4}, p_filesz => {16, 4},
      phdr_size => 32};
elf_layout(2) ->
    #{phoff => {32, 8}, shoff => {40, 8}, phentsize => {54, 2}, phnum => {56, 2},
      shentsize => {58, 2}, shnum => {60, 2}, p_offset => {8, 8}, p_filesz => {32, 8},
      phdr_size => 56}.

check_headers(Fd, Size, Layout, Data, Header) ->
    Field = fun(Bin, Name) -> field(Bin, maps:get(Name, Layout), Data) end,
    [PhOff, ShOff, PhEntSize, PhNum, ShEntSize, ShNum] =
        [Field(Header, F) || F <- [phoff, shoff, phentsize, phnum, shentsize, shnum]],
    PhEnd = PhOff + PhNum * PhEntSize,
    ShEnd = if ShNum =:= 0 -> 0; true -> ShOff + ShNum * ShEntSize end,
    if
        PhNum =:= 0 -> {error, no_program_headers};
        PhEntSize < map_get(phdr_size, Layout) -> {error, {bad_program_header_size, PhEntSize}};
        PhEnd > Size -> {error, {truncated, #{size => Size, needs => PhEnd}}};
        ShEnd > Size -> {error, {truncated, #{size => Size, needs => ShEnd}}};
        true ->
            {ok, Table} = file:pread(Fd, PhOff, PhNum * PhEntSize),
            Ends = [Field(Entry, p_offset) + Field(Entry, p_filesz)
                    || <<Entry:PhEntSize/binary>> <= Table],
            case [End || End <- Ends, End > Size] of
                [] -> ok;
                Beyond -> {error, {truncated, #{size => Size, needs => lists:max(Beyond)}}}
            end
    end.

field(Bin, {At, Bytes}, 1) ->
    <<_:At/binary, N:Bytes/little-unsigned-unit:8, _/binary>> = Bin,
    N;
field(Bin, {At, Bytes}, 2) ->
    <<_:At/binary, N:Bytes/big-unsigned-unit:8, _/binary>> = Bin,
    N.

%% @doc Whether the library is loaded.
-spec loaded() -> boolean().
loaded() -> false.

start(_Config) -> erlang:nif_error(not_loaded).
settings() -> erlang:nif_error(not_loaded).
flush(_TimeoutMs) -> erlang:nif_error(not_loaded).
stats() -> erlang:nif_error(not_loaded).
enter(_Module, _Function, _Arity, _Args, _Parent) -> erlang:nif_error(not_loaded).
enter_request(_Module, _Function, _Arity, _Args, _Parent, _Client) ->
    erlang:nif_error(not_loaded).
enter_first(_Module, _Function, _Arity, _Args, _PidText, _Name, _Origin, _Client) ->
    erlang:nif_error(not_loaded).
call_return(_Current, _Parent, _Result) -> erlang:nif_error(not_loaded).
call_exception(_Current, _Parent, _Class, _Reason, _Stack) -> erlang:nif_error(not_loaded).
tail_call(_Id, _Index, _Module, _Function, _Arity, _Args) -> erlang:nif_error(not_loaded).
call(_Id) -> erlang:nif_error(not_loaded).
children(_Id, _Limit) -> erlang:nif_error(not_loaded).
subtree(_Id, _Limit) -> erlang:nif_error(not_loaded).
calls(_Filter) -> erlang:nif_error(not_loaded).
tree(_Id, _Limits) -> erlang:nif_error(not_loaded).
tree_prefixes(_Depths) -> erlang:nif_error(not_loaded).
summary() -> erlang:nif_error(not_loaded).
runs() -> erlang:nif_error(not_loaded).
tests(_Options) -> erlang:nif_error(not_loaded).
search(_Spec, _Options) -> erlang:nif_error(not_loaded).
origin(_Spec, _Options) -> erlang:nif_error(not_loaded).
paused(_Paused) -> erlang:nif_error(not_loaded).
test_finished(_Test) -> erlang:nif_error(not_loaded).
node_named(_Node) -> erlang:nif_error(not_loaded).
run_dir() -> erlang:nif_error(not_loaded).
links_from(_Node, _PidText, _FromUnixNs, _ToUnixNs) -> erlang:nif_error(not_loaded).
running_at(_PidText, _UnixNs) -> erlang:nif_error(not_loaded).
profile(_Options) -> erlang:nif_error(not_loaded).
diff(_RunA, _RunB, _Options) -> erlang:nif_error(not_loaded).
enabled(_Tag, _Session, _Tracee) -> erlang:nif_error(not_loaded).
trace(_Tag, _Session, _Tracee, _Message, _Options) -> erlang:nif_error(not_loaded).
attach_open(_Controller, _Rate, _Limit, _Mixed) -> erlang:nif_error(not_loaded).
attach_seed(_Pid, _Current, _Origin) -> erlang:nif_error(not_loaded).
attach_seeded() -> erlang:nif_error(not_loaded).
attach_close(_Session) -> erlang:nif_error(not_loaded).
attach_prune() -> erlang:nif_error(not_loaded).
attach_calls() -> erlang:nif_error(not_loaded).
attach_note(_Function, _Args, _Result, _Introduce) -> erlang:nif_error(not_loaded).
recording_state(_State) -> erlang:nif_error(not_loaded).
stack_discarded() -> erlang:nif_error(not_loaded).
sent(_Current, _Kind, _Dest, _Receiver, _Message) -> erlang:nif_error(not_loaded).
exited(_Pid, _Reason) -> erlang:nif_error(not_loaded).
crashes(_Options) -> erlang:nif_error(not_loaded).
