%% @doc The tiny functions of the runtime benchmark. runtime_overhead.sh compiles it twice, as
%% `runtime_bench_plain' (left as is) and `runtime_bench_wrapped' (rewritten by
%% `elixir-scope instrument'), so both run side by side in one VM.
-module(?MODULE_NAME).

-export([noop/1, f/1, g/2, send_to/2]).

%% @doc Returns its argument.
noop(X) -> X.

%% @doc The smallest function with a result of its own.
f(X) -> X + 1.

%% @doc A function with the arguments real code passes: a small map and a short list.
g(Map, List) -> map_size(Map) + length(List).

%% @doc The smallest function that sends: `f/1' with a message to `Pid' (the rewriter reports
%% the send to the runtime right before it).
send_to(Pid, X) ->
    Pid ! {x, X},
    X + 1.
