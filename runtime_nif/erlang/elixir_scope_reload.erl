%% @doc Loading rewritten beams into a running VM that loaded the originals (`mix
%% elixir_scope.reload', the instrument alias). `elixir_scope_runtime' exports reload/1 under
%% the same name.
-module(elixir_scope_reload).

-export([reload/1]).

%% @doc Loads again every module this VM loaded from a beam under `Dir' whose file changed
%% since (its MD5 differs from the loaded code's), so that beams `elixir-scope instrument'
%% rewrote after the VM loaded them run rewritten. Mix loads the modules it compiles, so in
%% `mix test', `mix run' or `iex -S mix' the compile alias's instrument step would otherwise
%% leave the just-compiled originals running, unrecorded (`mix elixir_scope.reload' calls this
%% with the build directory). ElixirScope's own modules are never reloaded. A module whose
%% old code a process still runs is left as it is, with the reason `old_code_in_use'.
-spec reload(file:name_all()) -> #{reloaded := [module()], failed := [{module(), term()}]}.
reload(Dir) ->
    Root = case filename:absname(Dir) of
               Binary when is_binary(Binary) -> unicode:characters_to_list(Binary);
               Chars -> Chars
           end,
    elixir_scope_runtime:without_recording(
      fun() ->
              Changed = [M || {M, File} <- code:all_loaded(),
                              is_list(File),
                              not is_own_module(M),
                              is_under(Root, File),
                              beam_changed(M, File)],
              Results = [{M, load_again(M)} || M <- lists:sort(Changed)],
              #{reloaded => [M || {M, ok} <- Results],
                failed => [{M, Why} || {M, {error, Why}} <- Results]}
      end).

is_own_module(Module) ->
    Name = atom_to_list(Module),
    lists:prefix("elixir_scope_", Name)
        orelse Name =:= "Elixir.ElixirScope"
        orelse lists:prefix("Elixir.ElixirScope.", Name)
        orelse lists:prefix("Elixir.Mix.Tasks.ElixirScope.", Name).

is_under(Root, File) ->
    lists:prefix(Root ++ "/", filename:absname(File)).

beam_changed(Module, File) ->
    case beam_lib:md5(File) of
        {ok, {Module, OnDisk}} -> OnDisk =/= erlang:get_module_info(Module, md5);
        _ -> false
    end.

load_again(Module) ->
    case code:soft_purge(Module) of
        false ->
            {error, old_code_in_use};
        true ->
            case code:load_file(Module) of
                {module, Module} -> ok;
                {error, Why} -> {error, Why}
            end
    end.
