defmodule ElixirScope do
  @moduledoc """
  What ElixirScope recorded in this VM, at the IEx prompt, while the system runs.

  `elixir-scope instrument` rewrote the project's beams so that their functions report every
  call to the runtime, which stores them (arguments, results, exceptions, timings, who called
  whom) in `.elixir_scope/trace.redb`. This module reads that recording:

      iex> ElixirScope.calls(module: Shop.Cart, limit: 3)
      ID   PID        STARTED       DURATION  CALL
      812  <0.245.0>  14:03:21.120  41µs      Shop.Cart.total(%Shop.Cart{items: [...]}) → 127.5
      ...

      iex> ElixirScope.show_trace(812)
      #812 Shop.Cart.total(%Shop.Cart{...}) → 127.5 (41µs, #PID<0.245.0>)
      ├── #813 Shop.Pricing.line(%Shop.Item{...}) → 100.0 (2.1µs)
      └── #814 Shop.Pricing.line(%Shop.Item{...}) → 27.5 (1.9µs)

  ## Calls

  `calls/1`, `exceptions/1` and the nodes of `trace/2` are maps:

    * `:id` - the call's id in this run (ids grow in the order calls started)
    * `:parent` - the id of the recorded call that made it in the same process, or `nil`
    * `:pid` - the process
    * `:module`, `:function`, `:arity`, `:args` - what was called, with what
    * `:outcome` - `:returned`, `:raised` or `:running`
    * `:result` - the value it returned (`nil` unless it returned)
    * `:exception` - `{kind, reason, stacktrace}` when it raised, else `nil`; `stacktrace` is
      `:not_recorded` for a call recorded by `attach/2` (the VM's call trace gives none: its
      recorded callers are its parents)
    * `:start` - when it started, in `System.monotonic_time(:nanosecond)` units
    * `:started_at` - when it started, as a `DateTime` (UTC)
    * `:duration_ns` - how long it ran (`nil` while it runs)
    * `:tail_calls` - how many local tail calls it made (loops), `:scheduler`

  ## Values

  Values are the terms the calls saw, as the recorder captured them: within its caps (by
  default 32 terms, 16 elements per collection, 128 bytes per binary, 8 levels, for each
  argument and for the result on its own), so a large value is cut and the cut is marked with
  a tuple `{:"$elixir_scope_cut", kind, detail}`, placed so that the value keeps its shape:
  `args` is always a list of `arity` arguments; a cut list ends in the element
  `{:"$elixir_scope_cut", :list, :more}`; a tuple or a map gets a last element or pair saying
  how many were left out; a cut struct keeps every field, those not captured holding
  `{:"$elixir_scope_cut", :field, :more}`; a long binary becomes
  `{:"$elixir_scope_cut", :binary, {size, prefix}}`. Printed, a cut shows as an ellipsis:
  `[1, 2, …]`, `%{a: 1, …(5 more)}`, `%User{name: "ada", age: …}`, `"abc"…(1000 bytes)` (see
  `ElixirScope.Format`).

  What is never recorded (values under keys such as `:password`, fields a struct's own
  `Inspect` hides, arguments and results a capture rule hides) is the tuple
  `{:"$elixir_scope_cut", :redacted, why}`, printed `[REDACTED]`.

  ## Reading while recording

  Every function here first flushes the recording (so the calls just made are there), then
  queries it with recording switched off for the calling process only
  (`:elixir_scope_runtime.without_recording/1`): printing runs `inspect/2`, `Enum`, and the
  `Inspect` implementations of recorded structs, any of which may be instrumented, and none
  of that is recorded or read back. Other processes keep recording. Queries run in the
  runtime's NIF on dirty schedulers, on a snapshot of the store, so they never wait for the
  writer nor make it wait.

  ## At the prompt

  At the IEx prompt, `calls/1`, `exceptions/1`, `tests/1` and `runs/1` print and `show_trace/2`
  a tree, and they return `IEx.dont_display_result()`, as `h/1` and `i/1` do: IEx then echoes
  nothing after what they printed. With `print: false` the first four return their list of
  maps instead, printing nothing (`ElixirScope.calls(print: false) |> Enum.map(& &1.id)`);
  `print: true` prints and returns the list. Elsewhere (a script, a test, your code) they
  print nothing unless `print: true` and return the list; `show_trace/2` prints and returns
  `:ok`, and `trace/2` returns the same tree as data. (Why not a struct with its own `Inspect`
  implementation: Mix consolidates protocols when it compiles the project, before
  `elixir-scope instrument` adds this module, and a consolidated `Inspect` ignores
  implementations it did not see.)

  Bad options raise `ArgumentError`, and so does a call id the run does not hold, with a
  message saying what is expected; a VM that records nothing raises `RuntimeError` saying why.
  """

  alias ElixirScope.{Format, Query}

  @doc """
  Recorded calls of this run, newest first (`run:` reads another run of the project).

  Options (all optional, combined with "and"):

    * `:module` - only calls of this module (`Shop.Cart`, `:lists`)
    * `:function` - only calls of this function name (any module unless `:module` is given)
    * `:arity` - only calls with this arity
    * `:pid` - only calls of this process: a pid or its text (`"<0.110.0>"`)
    * `:since`, `:until` - only calls that started in this window: a `DateTime`, or a
      `System.monotonic_time/0` value taken earlier in this VM
    * `:exceptions` - `true` for only calls that raised
    * `:limit` - at most this many (default 20, at most 100,000)
    * `:print` - print the table (default: when called at the IEx prompt, where the list is
      then not returned: see "At the prompt" in the module documentation)
    * `:run` - read another run of the project's recording than this VM's: a run number
      (`runs/0` lists them, live ones too, such as a `mix test` running in another terminal)
      or `:latest`; pids of another VM's run are shown as that VM numbered them
    * `:test` - only calls of this test (a run of `mix test`; `tests/1` lists them): made by
      the process that ran it or by the processes it started. A test's name as written
      (`"places an order"`, or ExUnit's `"test places an order"`), else a part of names
    * `:match` - only calls matching a pattern written as code (the CLI's `--match`):
      `"Shop.Checkout.place(%{customer: \"joe\"})"`, `"lists:keyfind(_, 1, _)"`,
      `"Shop.Cart.add(_, n) when n > 10"`; a pattern that does not parse raises
      `ArgumentError` pointing at the column
    * `:result` - only calls that returned a value matching a pattern: `"{:error, _}"`
    * `:exception` - only calls that raised this: an exception module (`ArgumentError`,
      which also stands for Erlang's `badarg`) or a pattern's text (`"exit:{:shutdown, _}"`)
    * `:syntax` - `:erlang` to read `:result` and `:exception` as Erlang (default `:elixir`,
      or the language of `:match`)
    * `:where` - a function of the call map that must return true, applied here to the
      newest 100,000 calls the other options match
    * `:nodes` - the calls of several nodes of a cluster, merged newest first by the wall
      clock, each with its `:node` (and a NODE column): `:all` (this node and every node
      connected to it, `Node.list/0`) or a list of nodes. Each node is asked over Erlang
      distribution (`:erpc`) for its own run's calls (`:run` does not go with it); `:pid`
      asks only the pid's node; a node that cannot answer is named on standard error and
      left out. Pids are real pids (of their nodes).

  ## Examples

      iex> t = System.monotonic_time()
      iex> Shop.checkout(cart)
      iex> ElixirScope.calls(since: t, module: Shop.Pricing, limit: 2)
      ID   PID        STARTED       DURATION  CALL
      814  <0.245.0>  14:03:21.121  1.9µs     Shop.Pricing.line(%Shop.Item{price: 27.5}) → 27.5
      813  <0.245.0>  14:03:21.121  2.1µs     Shop.Pricing.line(%Shop.Item{price: 100.0}) → 100.0

      iex> ElixirScope.calls(pid: self(), print: false) |> Enum.map(& &1.id)
      [815, 812]
  """
  @spec calls(keyword) :: [map] | atom
  def calls(opts \\ []), do: list(opts, "ElixirScope.calls/1")

  @doc """
  Recorded calls whose arguments, result or exception hold `value` anywhere (Erlang Doctor's
  `tr:contains_data`), oldest first, each with `:found` (`:arguments`, `:result` or
  `:exception`). `pattern: "..."` searches for a pattern's text instead (`"{:error, _}"`).

  Options: `:pattern`, `:limit` (20), `:run`, `:syntax` (`:erlang` for an Erlang pattern),
  `:print` (as in `calls/1`).

  ## Examples

      iex> ElixirScope.search("tea", limit: 2)
      ID  PID        STARTED       DURATION  CALL
      2   <0.182.0>  15:03:17.305  9.1µs     Shop.Catalog.initial_stock() → %{"tea" => 10}
      5   <0.188.0>  15:03:17.308  1.6µs     Shop.Inventory.init(%{"tea" => 10}) → {:ok, %{"tea" => 10}}

      iex> ElixirScope.search(nil, pattern: "{:out_of_stock, _}", print: false) |> Enum.map(& &1.found)
      [:result, :result]
  """
  @spec search(term, keyword) :: [map] | atom
  def search(value, opts \\ []), do: values(:search, value, opts, "ElixirScope.search/2")

  @doc """
  Where a value came from: the first call that returned it (anywhere in its result) without
  having been given it in its arguments. Options as `search/2`; `:limit` (1) for more
  origins, earliest first.

  ## Examples

      iex> ElixirScope.origin({:out_of_stock, "mat"})
      ID  PID       STARTED       DURATION  CALL
      49  <0.96.0>  15:03:17.336  18µs      Shop.Checkout.reserve_all([{"mat", 12}]) → {:error, {:out_of_stock, "mat"}}
  """
  @spec origin(term, keyword) :: [map] | atom
  def origin(value, opts \\ []), do: values(:origin, value, opts, "ElixirScope.origin/2")

  defp values(kind, value, opts, caller) do
    Query.quietly(fn ->
      calls = Query.values(kind, value, opts, caller)
      printed(opts, calls, fn calls -> Format.table(calls, IO.ANSI.enabled?()) end)
    end)
  end

  @doc """
  Recorded calls that raised, newest first: `calls/1` with `exceptions: true` (same options).

  ## Examples

      iex> ElixirScope.exceptions(limit: 1)
      ID   PID        STARTED       DURATION  CALL
      902  <0.250.0>  14:03:22.004  3.2ms     Shop.Mailer.send(%Shop.Order{id: 7}) ** (RuntimeError) smtp down

      iex> [call] = ElixirScope.exceptions(limit: 1, print: false)
      iex> call.exception
      {:error, %RuntimeError{message: "smtp down"}, [...]}
  """
  @spec exceptions(keyword) :: [map] | atom
  def exceptions(opts \\ []),
    do: list(Keyword.put(opts, :exceptions, true), "ElixirScope.exceptions/1")

  defp list(opts, caller) do
    Query.quietly(fn ->
      calls = Query.calls(opts, caller)

      printed(opts, calls, fn
        [] -> Format.table([]) ++ paused_note(opts)
        calls -> Format.table(calls, IO.ANSI.enabled?())
      end)
    end)
  end

  # Why a query of this VM's run may find nothing: recording was paused.
  defp paused_note(opts) do
    if Keyword.has_key?(opts, :run),
      do: [],
      else: Format.paused_note(Query.pauses(), :elixir_scope_runtime.status() == :paused)
  end

  @doc """
  The tests of this run, when it comes from a test run (`mix test`: the compile alias adds
  `ElixirScope.ExUnitFormatter` to ExUnit's formatters), in the order they finished, each with
  the calls it made at its top level. At the prompt it prints them (see "At the prompt").

  Each test is a map: `:module`, `:name` (`"test places an order"`), `:file`, `:line`,
  `:outcome` (`:passed`, `:failed`, `:skipped`, `:excluded` or `:invalid`), `:message` (the
  failure as ExUnit prints it), `:duration_us`, `:framework`, `:pid` (the process that ran it,
  or `nil` when it recorded no call) and `:roots` (its top-level calls: `show_trace/2` of one
  shows what it led to). `calls(test: name)` lists every call of a test, those of the
  processes it started too.

  Options: `:failed` (`true` for only the tests that failed or could not run), `:roots` (the
  most top-level calls per test, default 10), `:print`, `:run` (as for `calls/1`).

  ## Examples

      iex> ElixirScope.tests(failed: true)
      failed  ShopTest: test refuses a bad card (test/shop_test.exs:20, 2.1ms)
        #54 Shop.Checkout.place(%{card: "4485 2752 7460 3423", …}) ** (Shop.PaymentError) … (610µs)
          Assertion with == failed
          code:  assert Shop.Checkout.place(order) == :ok
      1 test: 1 failed
      iex> ElixirScope.show_trace(54)
  """
  @spec tests(keyword) :: [map] | atom
  def tests(opts \\ []) do
    Query.quietly(fn ->
      tests = Query.tests(opts, "ElixirScope.tests/1")
      printed(opts, tests, &Format.test_lines(&1, IO.ANSI.enabled?()))
    end)
  end

  @doc """
  The processes of the run that crashed, in the order they ended: each a map with its `pid`,
  its exit `reason` (`:unknown` when it ended before the runtime could watch it), when it ended
  (`ended_unix_ns`), its `origin` (the process it came from) and `started_by` (the call that
  started it, when recorded), the `notices` of its end other processes received
  (`%{kind: :EXIT | :DOWN, pid: pid, call: call}`: a `handle_info/2` of a linked process that
  traps exits, or of a monitor), its `restart` (`%{pid: pid, first: call}`: the next process its
  supervisor started with the same first function), the `culprit` (the top-level call that led
  to it: the one holding its newest call that raised) with its `tree` (as `trace/2` gives it),
  and the top-level calls it made `later` (a `terminate/2`).

  Options: `limit:` (20), `run:`, `print:`, `ansi:`. Prints at the prompt (`print:` overrides, as
  for `calls/1`).

  ## Examples

      iex> ElixirScope.crashes()
      crashed  #PID<0.160.0> at 14:02:11.530: ** (ArgumentError) cannot work -1
        started by #PID<0.150.0> (spawned) #40 Lives.Worker.start_link([]) → {:ok, #PID<0.160.0>} (34µs)
        DOWN received by #PID<0.170.0> #57 Lives.Watcher.handle_info({:DOWN, …}, nil) → … (4.8µs)
        restarted as #PID<0.171.0> #58 Lives.Worker.init(:ok) → {:ok, 0} (1.8µs)
        what led to it:
        ⇠ sent by #PID<0.96.0> (cast) #46 Lives.Worker.work(-1) → :ok (4.2µs)
        #47 Lives.Worker.handle_cast({:work, -1}, 3) ** (ArgumentError) cannot work -1 (1.1ms, #PID<0.160.0>)
        then #48 Lives.Worker.terminate({%ArgumentError{…}, […]}, 3) → :ok (1.5µs)
      1 crash
  """
  @spec crashes(keyword) :: [map] | atom
  def crashes(opts \\ []) do
    Query.quietly(fn ->
      crashes = Query.crashes(opts, "ElixirScope.crashes/1")
      ansi? = Keyword.get(opts, :ansi, IO.ANSI.enabled?())
      printed(opts, crashes, &Format.crash_lines(&1, ansi?))
    end)
  end

  # Prints `data` (as `lines` renders it) when asked to, or by default at the prompt; returns
  # what "At the prompt" in the module documentation says.
  defp printed(opts, data, lines) do
    case Keyword.fetch(opts, :print) do
      {:ok, false} ->
        data

      {:ok, true} ->
        data |> lines.() |> Enum.each(&IO.puts/1)
        data

      {:ok, other} ->
        raise ArgumentError, "bad value for :print: #{inspect(other)} (expected true or false)"

      :error ->
        if at_prompt?() do
          data |> lines.() |> Enum.each(&IO.puts/1)
          dont_display()
        else
          data
        end
    end
  end

  @doc """
  Prints the call tree under a call: each call with its arguments, its result or exception
  and its duration, nested as the calls were, in the process that made the call.

  Long lists of children keep their first and last ones and fold the middle into one line
  with a count and the functions folded; deeper levels fold the same way, and so does
  whatever exceeds the budget of calls shown (handed out level by level, so the top of a large
  tree is complete first). A footer says how many calls were shown.

  Calls run in other processes appear too: after a call's children, each process the call
  started (a Task it ran, a process it spawned) that recorded calls of its own, by its first
  call, and each request it waited for (a `GenServer.call` or `:gen_statem.call` whose server
  recorded its `handle_call/3` or state function), by the call that served it, so that the work it handed off can be followed
  (`show_trace/2` of that call):

      #12 Shop.Checkout.run(%{...}) → {:ok, 3} (2.1ms, #PID<0.120.0>)
      ├── #13 Shop.Cart.total(...) → 42 (3.0µs)
      ├── #15 Shop.Inventory.reserve("tea", 1) → {:ok, 9} (40µs)
      │   └── ⇢ #PID<0.125.0> (request) #16 Shop.Inventory.handle_call({:reserve, "tea", 1}, ...) → ...
      └── ⇢ #PID<0.131.0> (task) #14 Shop.Mailer.send(...) → :ok (1.2ms)

  And the other way: when the call came from a call of another process (it serves a request,
  or it is the first call of a process another call started), a first line names that call:

      ⇠ #PID<0.120.0> (request) #15 Shop.Inventory.reserve("tea", 1) → {:ok, 9} (40µs)
      #16 Shop.Inventory.handle_call({:reserve, "tea", 1}, ...) → ... (2.0µs, #PID<0.125.0>)

  Options:

    * `:depth` - levels shown below the call (default 8; `:infinity` for all)
    * `:children` - children shown per call (default 10; `:infinity` for all)
    * `:calls` - calls shown in all (default 50, at most 100,000)
    * `:ansi` - colours (default: `IO.ANSI.enabled?/0`)
    * `:node` - the node whose call `call_id` is (default: this one); asked over `:erpc`
    * `:nodes` - what other nodes of a cluster did for the tree's calls (`:all`, or a list):
      each is asked over `:erpc` for the requests the root's process made there (a
      `GenServer.call` to one of its processes) and the processes it started there, which
      show under the call that was running then, after the node's name; and when the root
      serves a request of another node's process (or is the first call of a process another
      node started), the first line names that call:

          ⇠ a@host #PID<12094.99.0> (request) #3 Shop.Inventory.reserve(:b@host, "tea", 2) → {:ok, 8} (3.3ms)
          #3 Shop.Inventory.handle_call({:reserve, "tea", 2}, ...) → ... (1.6ms, #PID<0.94.0>)

  ## Examples

      iex> ElixirScope.show_trace(1)
      #1 Shop.Loop.run(10000) → :ok (4.1ms, #PID<0.110.0>)
      ├── #2 Shop.Loop.step(1) → 1 (1.2µs)
      ├── #3 Shop.Loop.step(2) → 2 (0.9µs)
      ...
      ├── … 9,990 more calls #10..#9999: Shop.Loop.step/1 ×9,990
      ├── #10000 Shop.Loop.step(9999) → 9999 (0.9µs)
      └── #10001 Shop.Loop.step(10000) → 10000 (0.9µs)
      12 of 10,001 calls shown
      :ok

      iex> ElixirScope.show_trace(1, depth: 1, children: 4)
  """
  @spec show_trace(pos_integer, keyword) :: :ok | atom
  def show_trace(call_id, opts \\ []) do
    Query.quietly(fn ->
      tree = Query.drawn_tree(call_id, opts, "ElixirScope.show_trace/2")
      ansi? = Keyword.get(opts, :ansi, IO.ANSI.enabled?())

      Format.cause_lines(tree.cause, ansi?)
      |> Enum.concat(Format.tree_lines(tree, ansi?))
      |> Enum.each(&IO.puts/1)

      if at_prompt?(), do: dont_display(), else: :ok
    end)
  end

  @doc """
  The call tree under a call, as `show_trace/2` prints it (same options, same folding), as
  data: `%{call: call, children: [...], calls: n, shown: s}` for the root, where each child is
  `%{call: call, children: [...]}` or a fold:

      %{fold: :children | :depth | :budget, children: 9990, calls: 9990, first: 10, last: 9999,
        functions: [{Shop.Loop, :step, 1, 9990}], more_functions: false, sampled: false}

  (`children`: direct children folded; `calls`: calls folded in all; `first`, `last`: the ids
  of the first and last folded child; `functions`: the most frequent among the folded children,
  `sampled` when only the first 10,000 were tallied.) A process the call started (a Task it ran,
  linked by `$callers`, or a process it spawned, linked by `$ancestors`) follows the call's
  children as `%{process: pid, origin: :caller | :ancestor, first: call}`, with the process's
  first recorded call: `trace(first.id)` is that process's own tree. A request the call made
  and waited for (a `GenServer.call` served by a recorded `handle_call/3`) follows too, as
  `%{request: server_pid, served_by: call}`. A message the call sent (`send/2`, `GenServer.cast/2`,
  `Process.send_after/3`, ... in rewritten code) is among its children where it was sent, as
  `%{message: message, send: :send | :cast | :send_after, delay_ms: ms, target: dest,
  receiver: pid | nil, received_by: id | nil, sender: id, node: node | nil}` (`received_by`:
  the call that received it, a `handle_cast/2`, `handle_info/2` or gen_statem event, when
  recorded on this node; `node`: the receiver's, when the message went to a pid of another
  node).
  `cause` is `nil`, or the call of another process the root came from: `%{kind: :request |
  :caller | :ancestor | :send | :cast | :send_after, pid: pid, call: call}` (the client call
  that waited for the request the root serves, the call that sent the message the root
  received, or the call that started the root's process). `depth: :infinity, children:
  :infinity, calls: 100_000` gives the whole tree up to 100,000 calls. With `:nodes` (see
  `show_trace/2`), what happened on another node (a request, a process, the cause) carries
  that `:node`.

  ## Examples

      iex> %{call: root, children: [first | _]} = ElixirScope.trace(1)
      iex> {root.function, first.call.function}
      {:run, :step}
  """
  @spec trace(pos_integer, keyword) :: map
  def trace(call_id, opts \\ []) do
    Query.quietly(fn ->
      tree = Query.tree(call_id, opts, "ElixirScope.trace/2")
      [root | _] = nest(tree.lines)
      Map.merge(root, %{calls: tree.calls, shown: tree.shown, cause: tree.cause})
    end)
  end

  # Lines in display order (each with its depth) into nested nodes.
  defp nest(lines) do
    {nodes, []} = nest(lines, 0)
    nodes
  end

  defp nest([{depth, item} | rest], depth) do
    {node, rest} =
      case item do
        %{fold: _} ->
          {item, rest}

        %{process: _} ->
          {item, rest}

        %{request: _} ->
          {item, rest}

        %{message: _, send: _} ->
          {item, rest}

        call ->
          {children, rest} = nest(rest, depth + 1)
          {%{call: call, children: children}, rest}
      end

    {siblings, rest} = nest(rest, depth)
    {[node | siblings], rest}
  end

  defp nest(lines, _depth), do: {[], lines}

  @doc """
  Every run of the project's recording, oldest first: this VM's (marked `*`), runs other VMs
  record now (`recording`), and those that ended (`ended`, or `killed` when their VM stopped
  without a normal stop), with the events each captured and lost (dropped because the ring
  was full, or not written). Prints the table at the IEx prompt (`print:` overrides, as for
  `calls/1`).

  ## Examples

      iex> ElixirScope.runs()
        RUN  STARTED              NODE           STATE      CAPTURED  DROPPED
        1    2026-12-03 14:01:09  nonode@nohost  ended      20,071    0
      * 2    2026-12-03 14:03:21  nonode@nohost  recording  1,204     0

      iex> ElixirScope.runs(print: false)
      [%{run: 1, state: :ended, ...}, %{run: 2, state: :recording, this: true, ...}]
  """
  @spec runs(keyword) :: [map] | atom
  def runs(opts \\ []) do
    Query.quietly(fn -> printed(opts, Query.runs(), &Format.runs_table/1) end)
  end

  @doc """
  The runtime's state and counters, with this run's counts:

    * `:status` - `:running`, `:paused`, `:starting`, `:not_started` or `{:failed, reason}`
    * `:paused` - modules paused one by one
    * `:run` - the run (each VM start is a new one)
    * `:captured`, `:dropped`, `:in_ring`, `:stored`, `:durable`, `:write_failed`,
      `:last_error`, `:memory_bound` - events captured, dropped because the ring was full
      (whole calls: a call started while the ring is three quarters full is not recorded,
      start and end), waiting, written, on disk, lost to write errors; the last write error;
      the most memory events can hold between capture and store
    * `:calls`, `:exceptions`, `:processes`, `:tail_calls` - what the run's store holds

  ## Examples

      iex> ElixirScope.stats()
      %{status: :running, paused: [], run: 3, captured: 20_046, dropped: 0, calls: 10_023, ...}
  """
  @spec stats() :: map
  def stats, do: Query.quietly(&Query.stats/0)

  @doc """
  Where the time of this run went, per function: `:calls`, `:unfinished` (calls still running
  or whose end was not captured: no time), `:total_ns`, `:own_ns` (total less the time of the
  calls' recorded children), `:mean_ns`, `:p50_ns`, `:p99_ns` (within 1.6 %) and
  `:exceptions`, largest first. `elixir-scope profile` prints the same as a table.

  Options: `:sort` (`:own`, the default, `:total`, `:count`, `:mean`, `:p99`, `:exceptions`),
  `:top` (how many functions, default 20), `:run` (as for `calls/1`).

  ## Examples

      iex> ElixirScope.profile(sort: :total, top: 2)
      %{run: 3, calls: 10_023, functions: [
        %{module: Shop.Checkout, function: :place, arity: 1, calls: 4, total_ns: 2_104_000,
          own_ns: 61_200, mean_ns: 526_000, p50_ns: 498_000, p99_ns: 930_000, exceptions: 1, ...},
        ...]}
  """
  @spec profile(keyword) :: map
  def profile(opts \\ []),
    do: Query.quietly(fn -> Query.profile(opts, "ElixirScope.profile/1") end)

  @doc """
  Compares two runs of the recording (`runs/1` lists them): `:functions` that appeared,
  disappeared or `:changed` (their number of calls, or their total or mean time by more than
  `:threshold` percent, default 20), each with its figures `:a` and `:b` (`%{calls,
  total_ns, mean_ns}` or `:undefined`), and `:results`: calls of the same function with the
  same arguments that returned something else, as a pair of calls `%{a: call, b: call}`
  (`:limit` of them, default 20; `:results_changed` counts all, out of `:compared`).
  Arguments compare as captured (see `elixir-scope diff`).

  ## Examples

      iex> ElixirScope.diff(1, 2)
      %{run_a: 1, run_b: 2, compared: 412, results_changed: 1, capped: false,
        functions: [%{module: Shop.Mailer, function: :send, arity: 2, change: :appeared, ...}],
        results: [%{a: %{function: :price, args: ["tea"], result: {:ok, 3}, ...},
                    b: %{function: :price, args: ["tea"], result: {:ok, 4}, ...}}]}
  """
  @spec diff(pos_integer, pos_integer, keyword) :: map
  def diff(run_a, run_b, opts \\ []),
    do: Query.quietly(fn -> Query.diff(run_a, run_b, opts, "ElixirScope.diff/3") end)

  @doc """
  Returns once every call recorded so far is stored and on disk (queries flush on their own).

  ## Examples

      iex> ElixirScope.flush()
      :ok
  """
  @spec flush() :: :ok | {:error, term}
  def flush, do: Query.quietly(&:elixir_scope_runtime.flush/0)

  @doc """
  Pauses recording of every module (a paused call costs only a check), or of one module.

  ## Examples

      iex> ElixirScope.pause()
      :ok
      iex> ElixirScope.pause(Shop.Repo)
      :ok
  """
  @spec pause(module | :all) :: :ok | {:error, term}
  def pause(module \\ :all), do: control(:pause, module)

  @doc """
  Resumes recording of every module, or of one module paused by `pause/1` (modules paused one
  by one stay paused when everything resumes).

  ## Examples

      iex> ElixirScope.resume()
      :ok
  """
  @spec resume(module | :all) :: :ok | {:error, term}
  def resume(module \\ :all), do: control(:resume, module)

  @doc """
  Records the calls of `targets` in this VM without recompiling anything, through the VM's
  own call tracing, into the same recording as instrumented code (the same ids, trees,
  queries and exports). Starts the runtime if it is not running.

  `targets` is a module, `{module, function, arity}` (`:_` for any arity),
  `{:application, app}` (its modules), a function capture (`&Shop.Cart.total/1`), or a list of
  them. Options:

    * `:rate` - stop when more calls than this come in one second (10,000)
    * `:limit` - stop after this many calls (100,000)
    * `:local` - trace local calls too, not only remote calls of exported functions (`false`)
    * `:processes` - `:all`, `:existing`, `:new` or a list of pids (`:all`)
    * `:mixed` - put attached calls under the instrumented call open in their process (on
      when instrumented code is loaded; costs a read of the process dictionary per
      top-level attached call)
    * `:settings` - runtime settings (a map) if attach starts the runtime, e.g. `db_path`

  Returns `{:ok, info}` saying what was attached (`functions`, `modules`, `processes`), what
  was left alone (`skipped_processes` that another tracer traces, `skipped_functions` traced
  already) and the limits; `{:error, reason}` otherwise, e.g.
  `{:tracer_in_use, pid, :dbg}` when `dbg` traces new processes.

  ## Examples

      iex> ElixirScope.attach(Shop.Cart, limit: 1_000)
      {:ok, %{functions: 4, modules: [Shop.Cart], processes: 61, rate: 10000, limit: 1000, ...}}
      iex> ElixirScope.attach([{Shop.Pricing, :line, 1}, {:application, :money}])
      {:ok, %{...}}
  """
  @spec attach(term | [term], keyword | map) :: {:ok, map} | {:error, term}
  def attach(targets, opts \\ []) do
    targets = targets |> List.wrap() |> Enum.map(&attach_target/1)
    :elixir_scope_attach.attach(targets, Map.new(opts))
  end

  defp attach_target(fun) when is_function(fun) do
    case Function.info(fun, :type) do
      {:type, :external} ->
        info = Function.info(fun)
        {info[:module], info[:name], info[:arity]}

      _ ->
        raise ArgumentError,
              "ElixirScope.attach/2: expected a module, {m, f, a} or a capture like " <>
                "&Mod.fun/1, got the anonymous function #{inspect(fun)}"
    end
  end

  defp attach_target(target), do: target

  @doc """
  Stops what `attach/2` started: removes every trace flag and pattern it set (the VM is left
  as it was), records the calls already traced, and flushes. Returns `{:ok, info}` with
  `calls` (how many were recorded) and `reason` (`:detached`, or the limit that stopped it
  before), or `{:error, :not_attached}`.

  ## Examples

      iex> ElixirScope.detach()
      {:ok, %{calls: 212, reason: :detached, ...}}
  """
  @spec detach() :: {:ok, map} | {:error, :not_attached}
  def detach, do: :elixir_scope_attach.detach()

  defp control(action, :all),
    do: Query.quietly(fn -> apply(:elixir_scope_runtime, action, []) end)

  defp control(action, module) when is_atom(module) and not is_nil(module),
    do: Query.quietly(fn -> apply(:elixir_scope_runtime, action, [module]) end)

  defp control(action, other) do
    raise ArgumentError,
          "ElixirScope.#{action}/1: expected a module or :all, got: #{inspect(other)}"
  end

  # The IEx evaluator runs what is typed at the prompt.
  defp at_prompt?, do: Process.get(:iex_evaluator) != nil

  # What IEx does not echo (only asked at the prompt, where IEx is loaded).
  defp dont_display, do: IEx.dont_display_result()
end
