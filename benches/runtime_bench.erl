%% @doc Side-by-side BEAM benchmark of the runtime (run by benches/runtime_overhead.sh).
%%
%% Prints, from one run, the nanoseconds per call of a tiny function called four ways:
%% unwrapped (`runtime_bench_plain:noop/1'), wrapped by the rewriter while recording and while
%% paused (`runtime_bench_wrapped:noop/1'), and unwrapped but traced with OTP `dbg' (call +
%% return_trace, a handler that discards); for reference, the hand-written wrapper of
%% tests/fixtures/runtime_fixture.erl (the contract's shape without the shared recording
%% function); the ratios the runtime promises, the capture rate from two schedulers, the
%% drain's rate into redb, and the cost of huge arguments. Each figure is the median of seven
%% rounds, measured on the calling process only (the drain runs on its own threads).
-module(runtime_bench).

-export([run/0, shared_lane/0, steady/0, skeleton/1, burst_to_query/0, real_args/0, library/0]).
-export([attach/0, sends/0, nif_calls/1, trickle/0]).

-define(ROUNDS, 7).
-define(FAST_CALLS, 5000000).     % unwrapped and paused: cheap, many calls
-define(RECORDED_CALLS, 100000).  % recording: 200k events per round, fits the ring
-define(TRACED_CALLS, 100000).    % dbg: slow
-define(BURST_CALLS, 250000).     % per process, two processes: 1M events
-define(HUGE_CALLS, 20000).
-define(STEADY_FAST_CALLS, 500000).
-define(STEADY_RECORDED_CALLS, 10000).

run() ->
    %% A ring that holds a whole round (and the two-scheduler burst) without dropping.
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    Plain = median(fun() -> per_call(fun plain_loop/1, ?FAST_CALLS) end),
    Recorded = median(fun() -> recorded(fun wrapped_loop/1) end),
    HandWritten = median(fun() -> recorded(fun fixture_loop/1) end),
    #{dropped := 0} = elixir_scope_runtime:stats(),
    ok = elixir_scope_runtime:pause(),
    Paused = median(fun() -> per_call(fun wrapped_loop/1, ?FAST_CALLS) end),
    ok = elixir_scope_runtime:resume(),
    Traced = traced(),
    {Burst, Drain} = median_burst(),
    Huge = huge(),
    report(Plain, Recorded, HandWritten, Paused, Traced, Burst, Drain, Huge),
    halt().

%% @doc Real arguments, side by side with `dbg' in one VM: `f(X) -> X + 1' and `g(Map, List)'
%% with a 4-key map and a 10-element list, each called plain, wrapped and recording, and
%% plain but traced by `dbg' (call + return_trace, a discarding handler, in a process of its
%% own so that the other rounds run untraced). 21 interleaved rounds (recorded rounds of
%% 10,000 calls, flushed between rounds and not timed); prints the 10th percentile and the
%% median of each, and each recorder's overhead over the plain call as a fraction of dbg's.
real_args() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    {ok, _} = dbg:tracer(process, {fun(_Msg, State) -> State end, ok}),
    {ok, _} = dbg:tpl(runtime_bench_plain, '_', '_', [{'_', [], [{return_trace}]}]),
    Map = #{id => 42, name => <<"Ada">>, roles => [admin, dev], active => true},
    List = lists:seq(1, 10),
    F = fun(M) -> fun(0) -> ok; (N) -> _ = M:f(N), ok end end,
    G = fun(M) -> fun(0) -> ok; (_) -> _ = M:g(Map, List), ok end end,
    Cases = [{"f(X) -> X + 1", F}, {"g(Map, List)", G}],
    Rounds = [[{Name, real_args_round(Call)} || {Name, Call} <- Cases]
              || _ <- lists:seq(1, 21)],
    dbg:stop_clear(),
    #{dropped := 0} = elixir_scope_runtime:stats(),
    io:format("real arguments, ns per call, 10th percentile / median of 21 interleaved rounds~n"),
    [begin
         Of = fun(I) -> percentiles([element(I, proplists:get_value(Name, R)) || R <- Rounds])
              end,
         [{PlainP10, PlainMed}, {RecP10, RecMed}, {DbgP10, DbgMed}] = [Of(I) || I <- [1, 2, 3]],
         io:format("  ~s unwrapped              ~10.1f ~10.1f~n", [Name, PlainP10, PlainMed]),
         io:format("  ~s recording              ~10.1f ~10.1f~n", [Name, RecP10, RecMed]),
         io:format("  ~s dbg call+return        ~10.1f ~10.1f~n", [Name, DbgP10, DbgMed]),
         io:format("  ~s recording / dbg overhead  ~8.3f ~8.3f~n",
                   [Name, (RecP10 - PlainP10) / (DbgP10 - PlainP10),
                    (RecMed - PlainMed) / (DbgMed - PlainMed)])
     end || {Name, _} <- Cases],
    halt().

%% @doc What the drain's threads cost while a VM records a trickle of calls (default settings):
%% for 10 s a process makes Per recorded calls of `f/1' then sleeps a millisecond, for Per = 3
%% (about 2,500 calls a second) and 30; prints the calls made and the CPU time each of the
%% runtime's threads took (from /proc/self/task), in ms per second of recording.
trickle() ->
    ok = elixir_scope_runtime:start(),
    io:format("drain threads' CPU while recording a trickle, ms per second (10 s each)~n"),
    [trickle_round(Per, 10) || Per <- [3, 30]],
    halt().

trickle_round(Per, Seconds) ->
    Before = thread_cpu_ms(),
    End = erlang:monotonic_time(millisecond) + Seconds * 1000,
    Calls = trickle_loop(Per, End, 0),
    ok = elixir_scope_runtime:flush(),
    After = thread_cpu_ms(),
    Used = fun(Name) -> lists:sum([Ms - element(2, maps:get(Tid, Before, {Name, 0}))
                                   || {Tid, {N, Ms}} <- maps:to_list(After), N =:= Name]) end,
    io:format("  ~6.w calls/s   collector ~6.1f   writer ~6.1f   encoder ~6.1f   maintenance ~6.1f~n",
              [Calls div Seconds | [Used(N) / Seconds || N <- ["es_collector", "es_writer",
                                                             "es_encoder", "es_maintenance"]]]).

trickle_loop(Per, End, Calls) ->
    case erlang:monotonic_time(millisecond) >= End of
        true -> Calls;
        false ->
            _ = [runtime_bench_wrapped:f(I) || I <- lists:seq(1, Per)],
            timer:sleep(1),
            trickle_loop(Per, End, Calls + Per)
    end.

%% Each thread of this OS process: tid => {name, user + system CPU in ms} (10 ms ticks).
thread_cpu_ms() ->
    Task = "/proc/" ++ os:getpid() ++ "/task/",
    {ok, Tids} = file:list_dir(Task),
    maps:from_list(
      [begin
           {ok, Name} = file:read_file(Task ++ Tid ++ "/comm"),
           {ok, Stat} = file:read_file(Task ++ Tid ++ "/stat"),
           [_, Fields] = binary:split(Stat, <<") ">>),
           F = binary:split(Fields, <<" ">>, [global]),
           Ticks = binary_to_integer(lists:nth(12, F)) + binary_to_integer(lists:nth(13, F)),
           {Tid, {binary_to_list(string:trim(Name)), Ticks * 10}}
       end || Tid <- Tids]).

%% @doc One VM's figure for comparing NIF libraries (the script runs it alternately with the
%% library `elixir-scope instrument` installs and with target/release's): the recording
%% overhead of `f(X) -> X + 1', 10th percentile of 41 interleaved rounds, printed alone.
library() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    F = fun(M) -> fun(0) -> ok; (N) -> _ = M:f(N), ok end end,
    Rounds = [begin
                  Plain = per_call(counted(F(runtime_bench_plain)), ?STEADY_FAST_CALLS div 5),
                  Recorded = per_call(counted(F(runtime_bench_wrapped)), ?STEADY_RECORDED_CALLS),
                  ok = elixir_scope_runtime:flush(),
                  Recorded - Plain
              end || _ <- lists:seq(1, 41)],
    {P10, _Median} = percentiles(Rounds),
    io:format("~.1f~n", [P10]),
    halt().

%% @doc The loop `runtime_overhead.sh instructions' counts under callgrind: `enter/5' and
%% `call_return/3' of `runtime_bench_wrapped:g/2' called straight, with the arguments `[1, 2]'
%% (`small') or real_args/0's `[Map, List]' (`real'), 1,000 pairs to warm up then `N', each
%% batch flushed. Run as `erl -run runtime_bench nif_calls small|real N'.
nif_calls([Which, N]) ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    Args = case Which of
               "small" -> [1, 2];
               "real" -> [#{id => 42, name => <<"Ada">>, roles => [admin, dev], active => true},
                          lists:seq(1, 10)]
           end,
    [begin nif_loop(Args, Calls), ok = elixir_scope_runtime:flush() end
     || Calls <- [1000, list_to_integer(N)]],
    #{dropped := 0} = elixir_scope_runtime:stats(),
    halt().

nif_loop(_Args, 0) ->
    ok;
nif_loop(Args, N) ->
    Parent = get('$elixir_scope_call'),
    Id = elixir_scope_nif:enter(runtime_bench_wrapped, g, 2, Args, Parent),
    _ = elixir_scope_nif:call_return({Id, 0, 2}, Parent, 3),
    nif_loop(Args, N - 1).

%% @doc Attach (issue 19) side by side with the rewritten path and dbg, in one VM, on the
%% real-arguments workload of real_args/0: `f(X) -> X + 1' and `g(Map, List)' called plain,
%% wrapped and recording, traced by `dbg' (call + return_trace, a discarding handler) and
%% attached (`elixir_scope_attach': the NIF library as the VM's tracer module, exception_trace,
%% recorded), the last two in a process of their own traced alone, with local patterns both.
%% Per call, 10th percentile and median of 21 interleaved rounds: in the calling process (what
%% the traced code pays; attached calls are recorded there, as rewritten ones), until stored
%% (the same, plus a flush of the runtime: every event in the store) and for dbg until its
%% handler has taken every message. Also: the rewritten path while an
%% attach session shares trees (`mixed': every rewritten call also keeps its process's stack
%% of open calls), and attach with its module paused (the VM's tracing and the library's
%% callbacks alone, nothing recorded). Ratios: attach's overhead over the plain call against
%% dbg's and against the rewritten path's.
attach() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    Map = #{id => 42, name => <<"Ada">>, roles => [admin, dev], active => true},
    List = lists:seq(1, 10),
    F = fun(M) -> fun(0) -> ok; (N) -> _ = M:f(N), ok end end,
    G = fun(M) -> fun(0) -> ok; (_) -> _ = M:g(Map, List), ok end end,
    Cases = [{"f(X) -> X + 1", F}, {"g(Map, List)", G}],
    Rounds = [[{Name, attach_round(Call)} || {Name, Call} <- Cases]
              || _ <- lists:seq(1, 21)],
    #{dropped := 0} = elixir_scope_runtime:stats(),
    io:format("attach side by side, ns per call, 10th percentile / median of 21 interleaved "
              "rounds~n"),
    [begin
         Of = fun(I) -> percentiles([element(I, proplists:get_value(Name, R)) || R <- Rounds])
              end,
         [{Plain, PlainM}, {Rec, RecM}, {Dbg, DbgM}, {DbgAll, DbgAllM}, {Att, AttM},
          {Shared, SharedM}, {Paused, PausedM}, {RecAll, RecAllM}, {AttAll, AttAllM}] =
             [Of(I) || I <- lists:seq(1, 9)],
         Row = fun(Label, P10, Med) ->
                       io:format("  ~s ~-40s ~10.1f ~10.1f~n", [Name, Label, P10, Med])
               end,
         Row("unwrapped", Plain, PlainM),
         Row("rewritten, recording", Rec, RecM),
         Row("rewritten, until stored", RecAll, RecAllM),
         Row("rewritten, recording, attach sharing", Shared, SharedM),
         Row("dbg, in the caller", Dbg, DbgM),
         Row("dbg, until handled", DbgAll, DbgAllM),
         Row("attach, recorded (in the caller)", Att, AttM),
         Row("attach, until stored", AttAll, AttAllM),
         Row("attach, module paused (tracing alone)", Paused, PausedM),
         Ratio = fun(Label, A, B, AM, BM) ->
                         io:format("  ~s ~-40s ~10.2f ~10.2f~n",
                                   [Name, Label, (A - Plain) / (B - Plain),
                                    (AM - PlainM) / (BM - PlainM)])
                 end,
         Ratio("attach / dbg (caller)", Att, Dbg, AttM, DbgM),
         Ratio("attach / dbg (until handled)", Att, DbgAll, AttM, DbgAllM),
         Ratio("attach / rewritten", Att, Rec, AttM, RecM),
         Ratio("attach / rewritten (until stored)", AttAll, RecAll, AttAllM, RecAllM),
         Ratio("rewritten sharing / rewritten", Shared, Rec, SharedM, RecM)
     end || {Name, _} <- Cases],
    halt().

attach_round(Call) ->
    Calls = ?STEADY_RECORDED_CALLS,
    Plain = per_call(counted(Call(runtime_bench_plain)), ?STEADY_FAST_CALLS div 5),
    Recorded = per_call(counted(Call(runtime_bench_wrapped)), Calls),
    RecordedStored = Recorded + flush_ns() / Calls,
    {ok, _} = dbg:tracer(process, {fun(_Msg, State) -> State end, ok}),
    {ok, _} = dbg:tpl(runtime_bench_plain, '_', '_', [{'_', [], [{return_trace}]}]),
    {ok, DbgTracer} = dbg:get_tracer(),
    {Dbg, DbgAll} = traced_until_done(counted(Call(runtime_bench_plain)), Calls,
                                      fun(Pid) -> {ok, _} = dbg:p(Pid, [c]), DbgTracer end),
    dbg:stop_clear(),
    Attach = fun(Pids) ->
                     {ok, #{tracer := T}} =
                         elixir_scope_attach:attach(
                           [runtime_bench_plain],
                           #{processes => Pids, local => true, mixed => true,
                             rate => 1 bsl 40, limit => 1 bsl 40}),
                     T
             end,
    {Attached, _} = traced_until_done(counted(Call(runtime_bench_plain)), Calls,
                                      fun(Pid) -> Attach([Pid]) end),
    AttachedStored = Attached + flush_ns() / Calls,
    {ok, #{calls := Calls}} = elixir_scope_attach:detach(),
    ok = elixir_scope_runtime:flush(),
    %% Rewritten calls in this process while a session shares trees (it traces another).
    Idle = spawn(fun() -> receive stop -> ok end end),
    _ = Attach([Idle]),
    Shared = per_call(counted(Call(runtime_bench_wrapped)), Calls),
    {ok, _} = elixir_scope_attach:detach(),
    Idle ! stop,
    ok = elixir_scope_runtime:flush(),
    ok = elixir_scope_runtime:pause(runtime_bench_plain),
    {Paused, _} = traced_until_done(counted(Call(runtime_bench_plain)), Calls,
                                    fun(Pid) -> Attach([Pid]) end),
    {ok, _} = elixir_scope_attach:detach(),
    ok = elixir_scope_runtime:resume(runtime_bench_plain),
    ok = elixir_scope_runtime:flush(),
    {Plain, Recorded, Dbg, DbgAll, Attached, Shared, Paused, RecordedStored, AttachedStored}.

%% How long a flush of the runtime takes (every event recorded so far stored), in ns.
flush_ns() ->
    T0 = erlang:monotonic_time(nanosecond),
    ok = elixir_scope_runtime:flush(),
    erlang:monotonic_time(nanosecond) - T0.

%% Runs `Loop' in a process of its own that `Trace(Pid)' traces (returning the tracer): ns
%% per call in that process, and until the tracer's mailbox is empty.
traced_until_done(Loop, Calls, Trace) ->
    Self = self(),
    Pid = spawn(fun() -> receive go -> Self ! {traced, self(), per_call(Loop, Calls)} end end),
    Tracer = Trace(Pid),
    T0 = erlang:monotonic_time(nanosecond),
    Pid ! go,
    InCaller = receive {traced, Pid, Ns} -> Ns end,
    Ref = erlang:trace_delivered(Pid),
    receive {trace_delivered, Pid, Ref} -> ok end,
    wait_empty(Tracer),
    {InCaller, (erlang:monotonic_time(nanosecond) - T0) / Calls}.

wait_empty(Pid) ->
    case erlang:process_info(Pid, message_queue_len) of
        {message_queue_len, 0} -> ok;
        {message_queue_len, _} -> erlang:yield(), wait_empty(Pid);
        undefined -> ok
    end.

%% One round of a case: plain, recorded (then flushed, not timed), traced by dbg.
real_args_round(Call) ->
    Plain = per_call(counted(Call(runtime_bench_plain)), ?STEADY_FAST_CALLS div 5),
    Recorded = per_call(counted(Call(runtime_bench_wrapped)), ?STEADY_RECORDED_CALLS),
    ok = elixir_scope_runtime:flush(),
    Traced = traced_in_own_process(counted(Call(runtime_bench_plain)), ?STEADY_RECORDED_CALLS),
    {Plain, Recorded, Traced}.

%% `Step(N)' for N = Calls..1, as a loop.
counted(Step) ->
    Loop = fun Loop(0) -> ok; Loop(N) -> Step(N), Loop(N - 1) end,
    Loop.

traced_in_own_process(Loop, Calls) ->
    Self = self(),
    Pid = spawn(fun() -> receive go -> Self ! {traced, self(), per_call(Loop, Calls)} end end),
    {ok, _} = dbg:p(Pid, [c]),
    Pid ! go,
    receive {traced, Pid, Ns} -> Ns end.

%% @doc The two-scheduler burst again, with one shared MPMC lane instead of a lane per
%% scheduler (run in a second VM: one runtime per VM): the comparison behind the ring's design.
shared_lane() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30,
                                      shards => 0}),
    Rates = lists:sort([maps:get(events_per_s, element(1, burst())) || _ <- lists:seq(1, 7)]),
    io:format("capture from 2 schedulers, one shared MPMC lane  ~12w events/s (median of 7)~n",
              [round(lists:nth(4, Rates))]),
    halt().

%% @doc What recording a send costs, next to what recording a call costs: `f(X) -> X + 1' and
%% `send_to(Pid, X) -> Pid ! {x, X}, X + 1', each unwrapped, wrapped and recording, and wrapped
%% and paused; 51 interleaved rounds (recorded rounds of 10,000 calls, flushed between rounds
%% and not timed), 10th percentile and median. The messages go to a process that has ended (a
%% send to a dead local pid is dropped by the VM, cheaply), so that no mailbox grows and no
%% receiver competes for the CPUs: what is left is the send and its recording, which captures
%% the destination and the message as it would for a live one. Also counts the events a
%% recorded call that sends produces (the send is one NIF event of the call: 3 in all, against
%% 2 for a call that does not send).
sends() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    {Dead, Ref} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Ref, process, Dead, _} -> ok end,
    Rounds = [sends_round(Dead) || _ <- lists:seq(1, 51)],
    #{dropped := 0} = elixir_scope_runtime:stats(),
    [PlainF, PlainS, RecF, RecS, PausedF, PausedS] =
        [percentiles([element(I, R) || R <- Rounds]) || I <- lists:seq(1, 6)],
    {EventsF, EventsS} = events_per_call(Dead),
    io:format("sends, ns per call, 10th percentile / median of 51 interleaved rounds~n"),
    Row = fun(Name, {P10, Med}) -> io:format("  ~-34s ~8.1f ~8.1f~n", [Name, P10, Med]) end,
    Row("f(X), unwrapped", PlainF),
    Row("send_to(Pid, X), unwrapped", PlainS),
    Row("f(X), recording", RecF),
    Row("send_to(Pid, X), recording", RecS),
    Row("f(X), paused", PausedF),
    Row("send_to(Pid, X), paused", PausedS),
    Diff = fun({A1, A2}, {B1, B2}) -> {A1 - B1, A2 - B2} end,
    CallCost = Diff(RecF, PlainF),
    SendCallCost = Diff(RecS, PlainS),
    Row("recording a call (f)", CallCost),
    Row("recording a call that sends", SendCallCost),
    Row("recording the send", Diff(SendCallCost, CallCost)),
    Row("paused send_to over unwrapped", Diff(PausedS, PlainS)),
    Row("paused f over unwrapped", Diff(PausedF, PlainF)),
    io:format("  events per recorded call: f ~.2f, send_to ~.2f~n", [EventsF, EventsS]),
    halt().

sends_round(To) ->
    Fast = ?STEADY_FAST_CALLS,
    Calls = ?STEADY_RECORDED_CALLS,
    ok = elixir_scope_runtime:pause(),
    PlainF = per_call(fun(N) -> f_loop(runtime_bench_plain, N) end, Fast),
    PlainS = per_call(fun(N) -> send_loop(runtime_bench_plain, To, N) end, Fast),
    PausedF = per_call(fun(N) -> f_loop(runtime_bench_wrapped, N) end, Fast),
    PausedS = per_call(fun(N) -> send_loop(runtime_bench_wrapped, To, N) end, Fast),
    ok = elixir_scope_runtime:resume(),
    RecF = per_call(fun(N) -> f_loop(runtime_bench_wrapped, N) end, Calls),
    ok = elixir_scope_runtime:flush(),
    RecS = per_call(fun(N) -> send_loop(runtime_bench_wrapped, To, N) end, Calls),
    ok = elixir_scope_runtime:flush(),
    {PlainF, PlainS, RecF, RecS, PausedF, PausedS}.

f_loop(_M, 0) -> ok;
f_loop(M, N) -> _ = M:f(N), f_loop(M, N - 1).

send_loop(_M, _To, 0) -> ok;
send_loop(M, To, N) -> _ = M:send_to(To, N), send_loop(M, To, N - 1).

%% Events the runtime captured per recorded call of `f' and of `send_to'.
events_per_call(To) ->
    Count = fun(Loop) ->
                ok = elixir_scope_runtime:flush(),
                #{captured := Before} = elixir_scope_runtime:stats(),
                ok = Loop(1000),
                ok = elixir_scope_runtime:flush(),
                #{captured := After} = elixir_scope_runtime:stats(),
                (After - Before) / 1000
            end,
    {Count(fun(N) -> f_loop(runtime_bench_wrapped, N) end),
     Count(fun(N) -> send_loop(runtime_bench_wrapped, To, N) end)}.

%% @doc The recorded and paused figures again, steadier under load: 101 short rounds of each
%% kind, interleaved (10,000 recorded calls, flushed between rounds and not timed; 500,000
%% plain and paused calls), the 10th percentile and the median of each. Short rounds are less
%% often preempted by the drain or by other work on the machine than those of `run/0'.
steady() ->
    ok = elixir_scope_runtime:start(#{ring_capacity => 1 bsl 21, ring_bytes => 1 bsl 30}),
    Rounds = [steady_round() || _ <- lists:seq(1, 101)],
    #{dropped := 0} = elixir_scope_runtime:stats(),
    [{PlainP10, PlainMed}, {RecP10, RecMed}, {PausedP10, PausedMed}] =
        [percentiles([element(I, R) || R <- Rounds]) || I <- [1, 2, 3]],
    io:format("ns per call, 10th percentile / median of 101 interleaved rounds~n"),
    io:format("  unwrapped                     ~10.1f ~10.1f~n", [PlainP10, PlainMed]),
    io:format("  wrapped, recording            ~10.1f ~10.1f~n", [RecP10, RecMed]),
    io:format("  wrapped, paused               ~10.1f ~10.1f~n", [PausedP10, PausedMed]),
    io:format("  recording overhead            ~10.1f ~10.1f~n",
              [RecP10 - PlainP10, RecMed - PlainMed]),
    io:format("  paused / unwrapped            ~10.2f ~10.2f  (target <= 1.5)~n",
              [PausedP10 / PlainP10, PausedMed / PlainMed]),
    halt().

%% @doc What the contract's shape costs before the NIFs do any work: the wrapped call with a
%% gate that answers `true', the recorder, `enter/4' and `return/2' with their process
%% dictionary work, and the two NIF calls, with the library loaded but the runtime not started
%% (so each NIF reads its arguments and returns). `Library' is the NIF library's path without
%% `.so'. Prints the 10th percentile and the median of 21 rounds, interleaved with plain calls.
skeleton([Library]) ->
    ok = elixir_scope_nif:load(Library),
    {ok, _, Gate} = compile:forms([{attribute, 1, module, elixir_scope_gate},
                                   {attribute, 1, export, [{on, 1}]},
                                   {function, 1, on, 1, [{clause, 1, [{var, 1, '_'}], [],
                                                          [{atom, 1, true}]}]}]),
    {module, _} = code:load_binary(elixir_scope_gate, "skeleton gate", Gate),
    put('$elixir_scope_call', none),
    Rounds = [{per_call(fun plain_loop/1, ?STEADY_FAST_CALLS),
               per_call(fun wrapped_loop/1, ?STEADY_FAST_CALLS)} || _ <- lists:seq(1, 21)],
    [{PlainP10, PlainMed}, {SkelP10, SkelMed}] =
        [percentiles([element(I, R) || R <- Rounds]) || I <- [1, 2]],
    io:format("ns per call, 10th percentile / median of 21 interleaved rounds~n"),
    io:format("  unwrapped                     ~10.1f ~10.1f~n", [PlainP10, PlainMed]),
    io:format("  wrapped, NIFs doing nothing   ~10.1f ~10.1f~n", [SkelP10, SkelMed]),
    io:format("  the contract's own cost       ~10.1f ~10.1f~n",
              [SkelP10 - PlainP10, SkelMed - PlainMed]),
    halt().

steady_round() ->
    Plain = per_call(fun plain_loop/1, ?STEADY_FAST_CALLS),
    Recorded = per_call(fun wrapped_loop/1, ?STEADY_RECORDED_CALLS),
    ok = elixir_scope_runtime:flush(),
    ok = elixir_scope_runtime:pause(),
    Paused = per_call(fun wrapped_loop/1, ?STEADY_FAST_CALLS),
    ok = elixir_scope_runtime:resume(),
    {Plain, Recorded, Paused}.

percentiles(Samples) ->
    Sorted = lists:sort(Samples),
    N = length(Sorted),
    {lists:nth(max(1, N div 10), Sorted), lists:nth((N + 1) div 2, Sorted)}.

%% @doc How long until a burst of a million calls of one process can be queried, side by side
%% in one VM: recorded with the default settings (until a flush has returned and the newest
%% call reads back), and traced by `erlang:trace' (call + return_trace) into an ETS
%% `ordered_set' by a collector process, the way Erlang Doctor stores traces (until the table
%% holds every event). Run in a fresh VM: the runtime starts with its defaults.
burst_to_query() ->
    Calls = 1000000,
    ok = elixir_scope_runtime:start(#{}),
    T0 = erlang:monotonic_time(nanosecond),
    ok = wrapped_loop(Calls),
    Recorded = erlang:monotonic_time(nanosecond),
    ok = elixir_scope_runtime:flush(60000),
    [#{function := noop}] = elixir_scope_runtime:calls(#{limit => 1}),
    T1 = erlang:monotonic_time(nanosecond),
    #{dropped := Dropped, stored := Stored} = elixir_scope_runtime:stats(),
    Table = ets:new(traces, [ordered_set, public]),
    Self = self(),
    Collector = spawn(fun() -> collect(Table, 0, 2 * Calls, Self) end),
    {module, _} = code:ensure_loaded(runtime_bench_plain),
    1 = erlang:trace_pattern({runtime_bench_plain, noop, 1}, [{'_', [], [{return_trace}]}],
                             [local]),
    T2 = erlang:monotonic_time(nanosecond),
    1 = erlang:trace(self(), true, [call, {tracer, Collector}]),
    ok = plain_loop(Calls),
    Traced = erlang:monotonic_time(nanosecond),
    1 = erlang:trace(self(), false, [call]),
    receive {collected, Collector} -> ok end,
    T3 = erlang:monotonic_time(nanosecond),
    Events = 2 * Calls,
    Rate = fun(Ns) -> Events / (Ns / 1.0e9) end,
    io:format("a 1,000,000-call burst of one process, until queryable (default settings)~n"),
    io:format("  recorded, flushed, newest call read  ~8.2f s  ~12w events/s  "
              "(calls ~.2f s; ~w stored, ~w dropped)~n",
              [(T1 - T0) / 1.0e9, round(Rate(T1 - T0)), (Recorded - T0) / 1.0e9, Stored,
               Dropped]),
    io:format("  erlang:trace + ETS collector         ~8.2f s  ~12w events/s  (calls ~.2f s)~n",
              [(T3 - T2) / 1.0e9, round(Rate(T3 - T2)), (Traced - T2) / 1.0e9]),
    io:format("  ratio (tracing time / recording time) ~.2f~n", [(T3 - T2) / (T1 - T0)]),
    halt().

%% The collector: one ETS row per trace message, then a word to `Parent' once it has `Total'.
collect(_Table, Total, Total, Parent) ->
    Parent ! {collected, self()};
collect(Table, N, Total, Parent) ->
    receive
        Msg ->
            true = ets:insert(Table, {N, Msg}),
            collect(Table, N + 1, Total, Parent)
    end.

%%% The loops: one remote call per iteration.

plain_loop(0) -> ok;
plain_loop(N) -> _ = runtime_bench_plain:noop(N), plain_loop(N - 1).

wrapped_loop(0) -> ok;
wrapped_loop(N) -> _ = runtime_bench_wrapped:noop(N), wrapped_loop(N - 1).

fixture_loop(0) -> ok;
fixture_loop(N) -> _ = runtime_fixture:noop(N), fixture_loop(N - 1).

arg_loop(0, _Arg) -> ok;
arg_loop(N, Arg) -> _ = runtime_bench_wrapped:noop(Arg), arg_loop(N - 1, Arg).

%% One recorded round, then a flush (not timed) so that each round starts with an empty ring.
recorded(Loop) ->
    Ns = per_call(Loop, ?RECORDED_CALLS),
    ok = elixir_scope_runtime:flush(),
    Ns.

%% Nanoseconds per call of `Loop(Calls)'.
per_call(Loop, Calls) ->
    T0 = erlang:monotonic_time(nanosecond),
    ok = Loop(Calls),
    (erlang:monotonic_time(nanosecond) - T0) / Calls.

median(Round) ->
    Samples = lists:sort([Round() || _ <- lists:seq(1, ?ROUNDS)]),
    lists:nth((?ROUNDS + 1) div 2, Samples).

%% dbg tracing of the unwrapped function: call + return_trace, a handler that discards.
traced() ->
    {ok, _} = dbg:tracer(process, {fun(_Msg, State) -> State end, ok}),
    {ok, _} = dbg:p(self(), [c]),
    {ok, _} = dbg:tpl(runtime_bench_plain, noop, 1, [{'_', [], [{return_trace}]}]),
    Ns = median(fun() -> per_call(fun plain_loop/1, ?TRACED_CALLS) end),
    dbg:stop_clear(),
    Ns.

%% Two processes record at full speed on two schedulers; the ring holds the whole burst.
%% Returns the capture rate and the drain's rate over the same backlog (events per second).
burst() ->
    ok = elixir_scope_runtime:flush(),
    #{stored := Stored0, dropped := Dropped0} = elixir_scope_runtime:stats(),
    Self = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pids = [spawn_opt(fun() -> wrapped_loop(?BURST_CALLS), Self ! {done, self()} end,
                      [{scheduler, S}])
            || S <- [1, 2]],
    [receive {done, P} -> ok end || P <- Pids],
    T1 = erlang:monotonic_time(nanosecond),
    ok = elixir_scope_runtime:flush(),
    T2 = erlang:monotonic_time(nanosecond),
    #{stored := Stored1, dropped := Dropped1} = elixir_scope_runtime:stats(),
    Events = 2 * 2 * ?BURST_CALLS,
    {#{events_per_s => Events / ((T1 - T0) / 1.0e9), dropped => Dropped1 - Dropped0},
     #{events_per_s => (Stored1 - Stored0) / ((T2 - T0) / 1.0e9)}}.

%% The burst seven times: the median capture rate, and the drain rate of that round.
median_burst() ->
    Rounds = lists:sort(fun({#{events_per_s := A}, _}, {#{events_per_s := B}, _}) -> A =< B end,
                        [burst() || _ <- lists:seq(1, 7)]),
    lists:nth(4, Rounds).

%% Wrapped calls whose argument is a 100 MB binary or a million-element list, against a small
%% argument.
huge() ->
    Binary = binary:copy(<<"x">>, 100000000),
    List = lists:seq(1, 1000000),
    Round = fun(Arg) ->
                    fun() ->
                            T0 = erlang:monotonic_time(nanosecond),
                            ok = arg_loop(?HUGE_CALLS, Arg),
                            Ns = (erlang:monotonic_time(nanosecond) - T0) / ?HUGE_CALLS,
                            ok = elixir_scope_runtime:flush(),
                            Ns
                    end
            end,
    #{small => median(Round(1)), binary => median(Round(Binary)), list => median(Round(List))}.

report(Plain, Recorded, HandWritten, Paused, Traced,
       #{events_per_s := Captured, dropped := Dropped},
       #{events_per_s := Drained}, #{small := Small, binary := Bin, list := List}) ->
    RecordingOverhead = Recorded - Plain,
    DbgOverhead = Traced - Plain,
    io:format("ns per call of a tiny function (median of ~p rounds)~n", [?ROUNDS]),
    io:format("  unwrapped                     ~10.1f~n", [Plain]),
    io:format("  wrapped, recording            ~10.1f~n", [Recorded]),
    io:format("    (hand-written contract shape ~9.1f)~n", [HandWritten]),
    io:format("  wrapped, paused               ~10.1f~n", [Paused]),
    io:format("  unwrapped, dbg call+return    ~10.1f~n", [Traced]),
    io:format("ratios~n"),
    io:format("  recording overhead / dbg overhead  ~8.4f  (target <= 0.1, aim 0.05)~n",
              [RecordingOverhead / DbgOverhead]),
    io:format("  paused / unwrapped                 ~8.2f  (target <= 1.5)~n", [Paused / Plain]),
    io:format("capture from 2 schedulers  ~12w events/s, ~w dropped  (target >= 2,000,000)~n",
              [round(Captured), Dropped]),
    io:format("drain into the store       ~12w events/s  (target >= 4,000,000)~n", [round(Drained)]),
    io:format("wrapped call with a huge argument, ns per call~n"),
    io:format("  small argument                ~10.1f~n", [Small]),
    io:format("  100 MB binary                 ~10.1f  (x~.2f)~n", [Bin, Bin / Small]),
    io:format("  1,000,000-element list        ~10.1f  (x~.2f)~n", [List, List / Small]).
