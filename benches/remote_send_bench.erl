%% What recording a send to a pid of another node costs next to a send to a local pid
%% (benches/remote_send.sh). `remote_send_wrapped:send1/2' is instrumented, a copy named
%% `remote_send_plain' is not; both do `P ! M, ok'.
-module(remote_send_bench).
-export([sink/0, run/1]).

sink() ->
    receive
        stop -> ok;
        _ -> sink()
    end.

loop(_F, _P, 0) -> ok;
loop(F, P, N) -> F(P, {tick, N}), loop(F, P, N - 1).

%% ns per call of F(P, Message).
time(F, P, N) ->
    {T, ok} = timer:tc(fun() -> loop(F, P, N) end),
    T * 1000 / N.

%% Five rounds, each alternating plain and recorded sends: to a local sink, to a sink on node
%% `Remote' by its name (`{Name, Node}': recorded without a receiver, nothing to link), and to
%% the same sink by its pid (linked: its node and pid text read, named in the run).
run(Remote) ->
    Local = spawn(fun sink/0),
    RemotePid = erpc:call(Remote, erlang, spawn, [?MODULE, sink, []]),
    true = erpc:call(Remote, erlang, register, [remote_send_sink, RemotePid]),
    Name = {remote_send_sink, Remote},
    N = 200000,
    Plain = fun remote_send_plain:send1/2,
    Recorded = fun remote_send_wrapped:send1/2,
    _ = time(Recorded, Local, 1000),
    _ = [begin
             [LP, LR, NP, NR, RP, RR] =
                 [time(F, To, N) || To <- [Local, Name, RemotePid], F <- [Plain, Recorded]],
             io:format("local pid ~.1f +~.1f  |  name on another node ~.1f +~.1f  |  "
                       "pid of another node ~.1f +~.1f  (ns: plain, recording's overhead)~n",
                       [LP, LR - LP, NP, NR - NP, RP, RR - RP])
         end || _ <- lists:seq(1, 5)],
    ok = elixir_scope_runtime:flush(),
    ok.
