%% @doc The NIF functions of the ElixirScope runtime (library `libelixir_scope_nif.so').
%%
%% Only `elixir_scope_runtime' calls these; it loads the library with {@link load/1}. Until
%% then every function but `load/1' and `loaded/0' raises `nif_error'. See
%% `runtime_nif/src/' for what each does.
-module(elixir_scope_nif).

-export([load/1, loaded/0]).
-export([start/1, flush/1, stats/0]).
-export([enter/5, enter_request/6, enter_first/7, call_return/2, call_exception/4,
         tail_call/6]).
-export([call/1, children/2, subtree/2, calls/1, tree/2, summary/0, runs/0]).

-nifs([loaded/0, start/1, flush/1, stats/0, enter/5, enter_request/6, enter_first/7,
       call_return/2,
       call_exception/4, tail_call/6, call/1, children/2, subtree/2, calls/1, tree/2,
       summary/0, runs/0]).

%% @doc Loads the library at `Path' (without the `.so' extension).
-spec load(file:filename()) -> ok | {error, term()}.
load(Path) ->
    erlang:load_nif(Path, 0).

%% @doc Whether the library is loaded.
-spec loaded() -> boolean().
loaded() -> false.

start(_Config) -> erlang:nif_error(not_loaded).
flush(_TimeoutMs) -> erlang:nif_error(not_loaded).
stats() -> erlang:nif_error(not_loaded).
enter(_Module, _Function, _Arity, _Args, _Parent) -> erlang:nif_error(not_loaded).
enter_request(_Module, _Function, _Arity, _Args, _Parent, _Client) ->
    erlang:nif_error(not_loaded).
enter_first(_Module, _Function, _Arity, _Args, _PidText, _Origin, _Client) ->
    erlang:nif_error(not_loaded).
call_return(_Current, _Result) -> erlang:nif_error(not_loaded).
call_exception(_Current, _Class, _Reason, _Stack) -> erlang:nif_error(not_loaded).
tail_call(_Id, _Index, _Module, _Function, _Arity, _Args) -> erlang:nif_error(not_loaded).
call(_Id) -> erlang:nif_error(not_loaded).
children(_Id, _Limit) -> erlang:nif_error(not_loaded).
subtree(_Id, _Limit) -> erlang:nif_error(not_loaded).
calls(_Filter) -> erlang:nif_error(not_loaded).
tree(_Id, _Limits) -> erlang:nif_error(not_loaded).
summary() -> erlang:nif_error(not_loaded).
runs() -> erlang:nif_error(not_loaded).
