%% @doc The runtime contract: what rewritten code calls in the runtime module
%% `elixir_scope_runtime', declared once as a behaviour (docs/ARCHITECTURE.md, "The runtime
%% contract").
%%
%% Two modules implement it, both named `elixir_scope_runtime' and both declaring
%% `-behaviour(elixir_scope_contract)': the product's runtime (runtime_nif/erlang/) and the
%% tests' ETS runtime (tests/fixtures/test_runtime/). The rewriter builds every call it emits
%% from one table, `beam_rewrite::patch::contract'; tests/contract.rs checks that the table's
%% calls into `elixir_scope_runtime' are exactly these callbacks, that both runtimes export
%% them, and that rewritten modules call nothing else of ElixirScope (besides
%% `elixir_scope_gate:on/1' and the cleaning functions of `elixir_scope_stacktrace').
%%
%% A wrapper asks the gate, `elixir_scope_gate:on(Module)'; when it answers `true' it calls
%% enter/4 (or enter/5), runs the original body, and calls return/2 or exception/4 with the
%% token enter gave. Local tail calls to wrapped functions report tail_call/4 (or tail_call/5),
%% remote self-calls in tail position announce themselves with remote_tail_call/3, sends report
%% sending/3, and hibernations pass their argument list through discarding_stack/1. The
%% default gate asks recording/1.
%%
%% An implementation calls nothing but BIFs and ElixirScope's own modules on these paths: any
%% other module may be rewritten, and calling it would re-enter the runtime.
-module(elixir_scope_contract).

%% What enter returns and return/exception take back: opaque to rewritten code, except the
%% atom `deep', for which the recorder runs the function without a frame of its own (a tail
%% call) and calls neither return/2 nor exception/4.
-type token() :: deep | term().
%% Capture options, as the rewriter passes them (a literal): `{Arguments, Result, Caps}',
%% `Arguments' `true', `false' or the hidden argument positions (1-based), `Result' whether the
%% result is recorded, `Caps' a map of cap settings (`max_bytes', ...).
-type options() :: {true | false | [pos_integer()], boolean(), #{atom() => non_neg_integer()}}.
-export_type([token/0, options/0]).

%% Whether calls of `Module' are recorded now: what the installed default gate
%% (`elixir_scope_gate:on/1') answers. Starts the runtime on first use.
-callback recording(Module :: module()) -> boolean().

%% Records that `Module:Function/Arity' was called with `Args'; makes it the process's current
%% call. `deep': run the function without a frame (a tail call), unrecorded or recorded as a
%% tail call of the current call.
-callback enter(Module :: module(), Function :: atom(), Arity :: arity(), Args :: [term()]) ->
    token().

%% enter/4 for a function with capture options (`[[capture.rules]]' of `elixir_scope.toml').
-callback enter(Module :: module(), Function :: atom(), Arity :: arity(), Args :: [term()],
                Options :: options()) -> token().

%% Records that the call of `Token' returned `Result'; restores the caller as current call.
%% Returns `Result'.
-callback return(Token :: token(), Result) -> Result.

%% Records that the call of `Token' raised; restores the caller as current call and re-raises
%% with the stack trace the original code would give (`elixir_scope_stacktrace:clean/1').
-callback exception(Token :: token(), Class :: error | exit | throw, Reason :: term(),
                    Stack :: list()) -> no_return().

%% Called, while the persistent term `elixir_scope_recording' is `true', before a local tail
%% call to a wrapped function jumps to its inner function: the current call continued as
%% `Module:Function/Arity'.
-callback tail_call(Module :: module(), Function :: atom(), Arity :: arity(),
                    Args :: [term()]) -> ok.

%% tail_call/4 for a function with capture options.
-callback tail_call(Module :: module(), Function :: atom(), Arity :: arity(),
                    Args :: [term()], Options :: options()) -> ok.

%% Called, while the persistent term `elixir_scope_recording' is `true', right before a remote
%% call in tail position to a wrapped function of the caller's own module (`?MODULE:loop(S)'):
%% the enter/4 of that call continues the current call.
-callback remote_tail_call(Module :: module(), Function :: atom(), Arity :: arity()) -> ok.

%% Called right before a send of a module that records (`Kind': `send', `cast' or
%% `{send_after, Time}'). Never raises; sends nothing itself.
-callback sending(Kind :: send | cast | {send_after, term()}, Dest :: term(),
                  Message :: term()) -> ok.

%% Called on the argument list of `erlang:hibernate/3' or `proc_lib:hibernate/3' right before
%% the call discards the process's stack. Returns `Args'.
-callback discarding_stack(Args) -> Args when Args :: [term()].
