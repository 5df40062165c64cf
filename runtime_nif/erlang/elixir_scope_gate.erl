%% @doc The gate every wrapper asks first: `on(Module)' is `true' when calls of `Module' are
%% recorded now (docs/ARCHITECTURE.md, "The runtime contract").
%%
%% This is the installed default: it asks {@link elixir_scope_runtime:recording/1}, which
%% starts the runtime on first use. Once the runtime runs, it loads a generated module of the
%% same name over this one at every change of state (start, pause, resume): one clause per
%% module paused on its own, then `on(_) -> true' (recording) or `on(_) -> false' (paused), so
%% that a paused wrapped call costs one remote call that returns a constant.
%%
%% The wrapper calls it in no tail position but it calls on in tail position only: a process
%% never keeps a frame in the gate, so an old gate can always be purged once no process is
%% about to run its first instruction.
-module(elixir_scope_gate).

-export([on/1]).

%% @doc Whether to record calls of `Module' now.
-spec on(module()) -> boolean().
on(Module) ->
    elixir_scope_runtime:recording(Module).
