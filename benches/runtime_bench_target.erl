%% @doc The tiny function of the runtime benchmark. runtime_overhead.sh compiles it twice, as
%% `runtime_bench_plain' (left as is) and `runtime_bench_wrapped' (rewritten by
%% `elixir-scope instrument'), so both run side by side in one VM.
-module(?MODULE_NAME).

-export([noop/1]).

%% @doc Returns its argument.
noop(X) -> X.
