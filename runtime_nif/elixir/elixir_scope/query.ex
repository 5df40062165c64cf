defmodule ElixirScope.Query do
  @moduledoc """
  The queries behind `ElixirScope`: options checked and turned into the runtime's filters,
  the runtime's answers turned into call maps.

  Everything here runs inside `:elixir_scope_runtime.without_recording/1`: the functions it
  calls to query and print (`Enum`, `inspect/2` and the `Inspect` implementations of recorded
  structs) may be instrumented too, and must neither record themselves into what is being
  read nor recurse into the recorder.
  """

  @runtime :elixir_scope_runtime
  @max_limit 100_000

  @doc "Runs `fun` with recording off for the calling process (see the module documentation)."
  @spec quietly((() -> result)) :: result when result: var
  def quietly(fun) do
    unless Code.ensure_loaded?(@runtime) do
      raise RuntimeError,
            "ElixirScope's runtime (#{inspect(@runtime)}) is not on the code path: " <>
              "run `elixir-scope instrument` on this project's build"
    end

    @runtime.without_recording(fun)
  end

  ## Calls

  @call_options [
    :module,
    :function,
    :arity,
    :pid,
    :since,
    :until,
    :exceptions,
    :limit,
    :print,
    :run,
    :test,
    :match,
    :result,
    :exception,
    :syntax,
    :where,
    :nodes
  ]

  @doc "The calls matching `opts` (see `ElixirScope.calls/1`), newest first."
  @spec calls(keyword, atom) :: [map]
  def calls(opts, caller) do
    opts = validate(opts, @call_options, caller)
    {where, opts} = Keyword.pop(opts, :where)
    {nodes, opts} = Keyword.pop(opts, :nodes)
    filter = Enum.reduce(opts, %{}, &filter(&1, &2, caller))
    # A predicate runs here, over the newest calls the other options match.
    {limit, filter} =
      if where, do: {Map.get(filter, :limit, 20), Map.put(filter, :limit, @max_limit)}, else: {nil, filter}

    calls =
      if nodes do
        cluster_calls(nodes!(nodes, filter, caller), filter, caller)
      else
        flush()

        case @runtime.calls(filter) do
          {:error, {:no_test, name}} ->
            raise ArgumentError,
                  "#{caller}: no test of #{run_name(filter)} is named #{inspect(name)} " <>
                    "(ElixirScope.tests/1 lists them)"

          answer ->
            answer |> answer(caller) |> Enum.map(&to_call/1)
        end
      end

    if where, do: calls |> Enum.filter(where) |> Enum.take(limit), else: calls
  end

  ## Clusters

  # The nodes `nodes:` names: `:all` (this node and every node connected to it) or a list;
  # with `pid:`, only the pid's node has its calls.
  defp nodes!(nodes, filter, caller) do
    if Map.has_key?(filter, :run) do
      raise ArgumentError,
            "#{caller}: :run and :nodes do not go together (each node reads the run it records)"
    end

    nodes =
      case nodes do
        :all -> [node() | Node.list()]
        list when is_list(list) and list != [] -> list
        other -> raise ArgumentError, "#{caller}: bad value for :nodes: #{inspect(other)} " <>
                   "(expected :all or a list of nodes)"
      end

    unless Enum.all?(nodes, &is_atom/1) do
      raise ArgumentError, "#{caller}: bad value for :nodes: #{inspect(nodes)} (expected :all or a list of nodes)"
    end

    case filter do
      %{pid: pid} -> [node(pid)]
      _ -> Enum.uniq(nodes)
    end
  end

  # Asks each node for its calls (`:elixir_scope_cluster.calls/1`, over `:erpc` for the
  # others), merges them newest first by the wall clock, each with its `:node`. A node that
  # cannot answer is named on standard error and left out.
  defp cluster_calls(nodes, filter, caller) do
    limit = Map.get(filter, :limit, 20)
    # Times of this VM's clock mean nothing to the others: the wall clock does.
    offset = :erlang.time_offset(:nanosecond)

    filter =
      Enum.reduce([:since, :until], filter, fn bound, acc ->
        case Map.pop(acc, :"#{bound}_ns") do
          {nil, acc} -> acc
          {ns, acc} -> Map.put(acc, :"#{bound}_unix_ns", ns + offset)
        end
      end)

    nodes
    |> Enum.flat_map(fn node ->
      case ask(node, :calls, [filter]) do
        calls when is_list(calls) -> Enum.map(calls, &{node, &1})
        {:error, {:no_test, _}} -> []
        {:error, {:bad_pattern, message}} -> raise ArgumentError, "#{caller}: #{message}"
        failure -> left_out(node, failure)
      end
    end)
    |> Enum.sort_by(fn {node, raw} -> {raw.start_unix_ns, node, raw.id} end, :desc)
    |> Enum.take(limit)
    |> Enum.map(fn {node, raw} -> raw |> to_call() |> Map.put(:node, node) end)
  end

  # `:elixir_scope_cluster.Function(Args)` on `node` (here without `:erpc`).
  defp ask(node, function, args) do
    if node == node() do
      apply(:elixir_scope_cluster, function, args)
    else
      :erpc.call(node, :elixir_scope_cluster, function, args, 60_000)
    end
  catch
    kind, reason -> {:error, {kind, reason}}
  end

  defp left_out(node, failure) do
    IO.puts(:stderr, "ElixirScope: #{node} left out: #{inspect(failure)}")
    []
  end

  ## Values

  @doc """
  The calls holding a value (`:search`) or that returned it without being given it
  (`:origin`); see `ElixirScope.search/2` and `ElixirScope.origin/2`.
  """
  @spec values(:search | :origin, term, keyword, atom) :: [map]
  def values(kind, value, opts, caller) do
    opts = validate(opts, [:pattern, :run, :limit, :syntax, :print], caller)

    spec =
      case Keyword.fetch(opts, :pattern) do
        {:ok, text} when is_binary(text) -> {:pattern, text}
        {:ok, other} -> raise ArgumentError, "#{caller}: bad value for :pattern: #{inspect(other)} (expected a pattern's text)"
        :error -> {:value, :erlang.term_to_binary(value)}
      end

    options = opts |> Keyword.drop([:pattern]) |> Enum.reduce(%{}, &filter(&1, &2, caller))
    flush()

    apply(@runtime, kind, [spec, options])
    |> answer(caller)
    |> Enum.map(fn call -> call |> to_call() |> Map.merge(Map.take(call, [:found])) end)
  end

  ## Tests

  @test_options [:failed, :print, :run, :roots]

  @doc "The tests of the run (see `ElixirScope.tests/1`), in the order they finished."
  @spec tests(keyword, atom) :: [map]
  def tests(opts, caller) do
    options =
      opts
      |> validate(@test_options, caller)
      |> Enum.reduce(%{}, fn
        {:failed, f}, acc when is_boolean(f) -> Map.put(acc, :failed, f)
        {:print, p}, acc when is_boolean(p) -> acc
        {:roots, n}, acc when is_integer(n) and n >= 0 -> Map.put(acc, :roots, min(n, @max_limit))
        {:run, r}, acc when (is_integer(r) and r > 0) or r == :latest -> Map.put(acc, :run, r)
        {key, value}, _acc ->
          raise ArgumentError,
                "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} (#{test_expected(key)})"
      end)

    flush()

    @runtime.tests(options)
    |> answer(caller)
    |> Enum.map(fn test ->
      %{
        test
        | pid: if(test.pid == :undefined, do: nil, else: pid(test.pid)),
          roots: Enum.map(test.roots, &to_call/1)
      }
      |> Map.delete(:finished_ns)
    end)
  end

  @crash_options [:limit, :print, :run, :ansi]
  # The tree of what led to a crash: as `elixir-scope crashes` shows it.
  @crash_tree [depth: 6, children: 8, calls: 30]

  @doc "The run's crashes (see `ElixirScope.crashes/1`), with the tree of what led to each."
  @spec crashes(keyword, String.t()) :: [map]
  def crashes(opts, caller) do
    options =
      opts
      |> validate(@crash_options, caller)
      |> Enum.reduce(%{}, fn
        {:limit, n}, acc when is_integer(n) and n > 0 -> Map.put(acc, :limit, min(n, @max_limit))
        {:print, p}, acc when is_boolean(p) -> acc
        {:ansi, a}, acc when is_boolean(a) -> acc
        {:run, r}, acc when (is_integer(r) and r > 0) or r == :latest -> Map.put(acc, :run, r)
        {key, value}, _acc ->
          raise ArgumentError,
                "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} (#{crash_expected(key)})"
      end)

    flush()

    @runtime.crashes(options)
    |> answer(caller)
    |> Enum.map(fn crash ->
      culprit = undefined_to_nil(crash.culprit, &to_call/1)

      %{
        crash
        | pid: pid(crash.pid),
          origin: undefined_to_nil(crash.origin, &pid/1),
          started_by: undefined_to_nil(crash.started_by, &to_call/1),
          notices: Enum.map(crash.notices, &%{&1 | pid: pid(&1.pid), call: to_call(&1.call)}),
          restart: undefined_to_nil(crash.restart, &%{pid: pid(&1.pid), first: to_call(&1.first)}),
          culprit: culprit,
          later: Enum.map(crash.later, &to_call/1)
      }
      |> Map.put(:tree, culprit && drawn_tree(culprit.id, @crash_tree ++ Map.to_list(Map.take(options, [:run])), caller))
      |> Map.delete(:ended_ns)
    end)
  end

  defp undefined_to_nil(:undefined, _fun), do: nil
  defp undefined_to_nil(value, fun), do: fun.(value)

  defp crash_expected(:limit), do: "expected a positive integer"
  defp crash_expected(:run), do: expected(:run)
  defp crash_expected(_), do: "expected true or false"

  defp test_expected(:roots), do: "expected a non-negative integer"
  defp test_expected(:run), do: expected(:run)
  defp test_expected(_), do: "expected true or false"

  @doc "When recording was paused in this run: `[{from, until | nil}]` (monotonic ns)."
  @spec pauses() :: [{integer, integer | nil}]
  def pauses do
    case @runtime.summary() do
      %{pauses: pauses} ->
        Enum.map(pauses, fn {from, until} -> {from, if(until == :undefined, do: nil, else: until)} end)

      _ ->
        []
    end
  end

  defp filter({:module, m}, acc, _) when is_atom(m) and not is_nil(m),
    do: Map.put(acc, :module, m)

  defp filter({:function, f}, acc, _) when is_atom(f) and not is_nil(f),
    do: Map.put(acc, :function, f)

  defp filter({:arity, a}, acc, _) when a in 0..255, do: Map.put(acc, :arity, a)
  defp filter({:pid, pid}, acc, caller), do: Map.put(acc, :pid, to_pid!(pid, caller))
  defp filter({:since, t}, acc, caller), do: time(acc, :since, t, caller)
  defp filter({:until, t}, acc, caller), do: time(acc, :until, t, caller)
  defp filter({:exceptions, e}, acc, _) when is_boolean(e), do: Map.put(acc, :exceptions, e)

  defp filter({:limit, n}, acc, _) when is_integer(n) and n > 0,
    do: Map.put(acc, :limit, min(n, @max_limit))

  defp filter({:print, p}, acc, _) when is_boolean(p), do: acc

  defp filter({:test, name}, acc, _) when is_binary(name) or is_atom(name),
    do: Map.put(acc, :test, to_string(name))

  defp filter({:run, r}, acc, _) when (is_integer(r) and r > 0) or r == :latest,
    do: Map.put(acc, :run, r)

  defp filter({key, text}, acc, _) when key in [:match, :result] and is_binary(text),
    do: Map.put(acc, key, text)

  defp filter({:exception, e}, acc, _) when is_binary(e), do: Map.put(acc, :exception, e)

  defp filter({:exception, e}, acc, _) when is_atom(e) and not is_nil(e),
    do: Map.put(acc, :exception, e |> inspect() |> String.trim_leading(":"))

  defp filter({:syntax, s}, acc, _) when s in [:elixir, :erlang], do: Map.put(acc, :syntax, s)

  defp filter({key, value}, _acc, caller) do
    raise ArgumentError,
          "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} (#{expected(key)})"
  end

  defp expected(:module), do: "expected a module, such as MyApp.Repo or :lists"
  defp expected(:function), do: "expected a function name, such as :get"
  defp expected(:arity), do: "expected an integer from 0 to 255"
  defp expected(:exceptions), do: "expected true or false"
  defp expected(:print), do: "expected true or false"
  defp expected(:limit), do: "expected a positive integer"
  defp expected(:run), do: "expected a run number (ElixirScope.runs/0 lists them) or :latest"
  defp expected(:test), do: "expected a test's name, such as \"places an order\""
  defp expected(:match), do: "expected a call pattern's text, such as \"Shop.Cart.add(_, n) when n > 1\""
  defp expected(:result), do: "expected a pattern's text, such as \"{:error, _}\""
  defp expected(:exception), do: "expected an exception module (ArgumentError) or a pattern's text"
  defp expected(:syntax), do: "expected :elixir or :erlang"

  defp time(acc, bound, %DateTime{} = t, _caller),
    do: Map.put(acc, :"#{bound}_unix_ns", DateTime.to_unix(t, :nanosecond))

  defp time(acc, bound, t, _caller) when is_integer(t),
    do: Map.put(acc, :"#{bound}_ns", System.convert_time_unit(t, :native, :nanosecond))

  defp time(_acc, bound, t, caller) do
    raise ArgumentError,
          "#{caller}: bad value for #{inspect(bound)}: #{inspect(t)} (expected a DateTime, " <>
            "or System.monotonic_time/0 taken earlier in this VM)"
  end

  defp to_pid!(pid, _caller) when is_pid(pid), do: pid

  defp to_pid!(text, caller) when is_binary(text) or is_list(text) do
    bare =
      text |> to_string() |> String.trim_leading("#PID") |> String.trim("<") |> String.trim(">")

    :erlang.list_to_pid(~c"<" ++ String.to_charlist(bare) ++ ~c">")
  rescue
    ArgumentError -> reraise_pid(text, caller)
  end

  defp to_pid!(other, caller), do: reraise_pid(other, caller)

  defp reraise_pid(value, caller) do
    raise ArgumentError,
          "#{caller}: bad value for :pid: #{inspect(value)} (expected a pid, or its text " <>
            "such as \"<0.110.0>\")"
  end

  ## Trees

  @tree_options [:depth, :children, :calls, :ansi, :run, :nodes, :node]

  @doc "The tree under `id` (see `ElixirScope.trace/2`) as the runtime gives it."
  @spec tree(term, keyword, atom) :: %{
          calls: non_neg_integer,
          shown: non_neg_integer,
          lines: list
        }
  def tree(id, opts, caller) do
    opts = validate(opts, @tree_options, caller)

    unless is_integer(id) and id > 0,
      do:
        raise(
          ArgumentError,
          "#{caller}: #{inspect(id)} is not a call id (a positive integer, the ID column of ElixirScope.calls/1)"
        )

    limits =
      Enum.reduce(opts, %{}, fn
        {key, n}, acc
        when key in [:depth, :children] and ((is_integer(n) and n >= 0) or n == :infinity) ->
          Map.put(acc, key, n)

        {:calls, n}, acc when is_integer(n) and n > 0 ->
          Map.put(acc, :calls, min(n, @max_limit))

        {:ansi, a}, acc when is_boolean(a) ->
          acc

        {:run, r}, acc when (is_integer(r) and r > 0) or r == :latest ->
          Map.put(acc, :run, r)

        {:nodes, n}, acc when n == :all or (is_list(n) and n != []) ->
          acc

        {:node, n}, acc when is_atom(n) and not is_nil(n) ->
          acc

        {key, value}, _acc ->
          raise ArgumentError,
                "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} (#{tree_expected(key)})"
      end)

    root_node = Keyword.get(opts, :node, node())

    case Keyword.fetch(opts, :nodes) do
      :error when root_node == node() ->
        flush()
        local_tree(@runtime.tree(id, limits), id, limits, caller)

      found ->
        nodes =
          case found do
            {:ok, :all} -> [node() | Node.list()]
            {:ok, list} -> list
            :error -> [root_node]
          end

        if Map.has_key?(limits, :run) do
          raise ArgumentError,
                "#{caller}: :run and :nodes do not go together (each node reads the run it records)"
        end

        cluster_tree(id, limits, root_node, Enum.uniq([root_node | nodes]) -- [root_node], caller)
    end
  end

  @doc """
  The tree under `id` as `tree/3` gives it, with `prefixes`: per line, the guides drawn before
  its text (`"│   ├── "`), laid out by the runtime of the node whose run holds the root (after
  the lines of other nodes went in), as the CLI lays out its trees.
  """
  @spec drawn_tree(term, keyword, String.t()) :: map
  def drawn_tree(id, opts, caller) do
    tree = tree(id, opts, caller)
    root_node = Keyword.get(opts, :node, node())
    depths = Enum.map(tree.lines, fn {depth, _item} -> depth end)

    case ask(root_node, :tree_prefixes, [depths]) do
      prefixes when is_list(prefixes) ->
        Map.put(tree, :prefixes, prefixes)

      failure ->
        raise RuntimeError, "#{caller}: #{root_node} could not lay the tree out: #{inspect(failure)}"
    end
  end

  defp local_tree(answer, id, limits, caller) do
    case answer(answer, caller) do
      :undefined ->
        raise ArgumentError,
              "#{caller}: no call #{id} in #{run_name(limits)}" <>
                known_ids(limits) <> " (ElixirScope.calls/1 lists them)"

      %{lines: lines} = tree ->
        %{
          tree
          | lines: Enum.map(lines, fn {depth, item} -> {depth, to_item(item)} end),
            cause: to_cause(Map.get(tree, :cause, :undefined))
        }
        |> Map.drop([:remote_cause, :root])
    end
  end

  # The tree of call `id` of `root_node`'s run, with what `others` did for it: the requests
  # its calls made there and the processes they started there, each under the call that was
  # running when it began (asked of the root's node), and the call of another node it came
  # from. Each such line and the cause carry the other `:node`.
  defp cluster_tree(id, limits, root_node, others, caller) do
    answer =
      case ask(root_node, :tree, [id, limits]) do
        {:error, {kind, reason}} when kind in [:error, :exit, :throw] ->
          raise RuntimeError, "#{caller}: #{root_node} could not be asked: #{inspect(reason)}"

        answer ->
          answer
      end

    if answer == :undefined do
      raise ArgumentError,
            "#{caller}: no call #{id} in the run #{root_node} records " <>
              "(ElixirScope.calls(nodes: [#{inspect(root_node)}]) lists its calls)"
    end

    remote_cause = if is_map(answer), do: Map.get(answer, :remote_cause, :undefined)
    root = if is_map(answer), do: Map.get(answer, :root)
    tree = local_tree(answer, id, limits, caller)
    tree = %{tree | cause: tree.cause || cluster_cause(remote_cause)}

    %{pid_text: text, start_unix_ns: from, end_unix_ns: to} = root
    # A root still running: up to now, on the wall clock.
    to = if to == :undefined, do: System.os_time(:nanosecond) + 60_000_000_000, else: to

    links =
      others
      |> Enum.flat_map(fn other ->
        case ask(other, :links_from, [root_node, text, from, to]) do
          links when is_list(links) -> Enum.map(links, &{other, &1})
          failure -> left_out(other, failure)
        end
      end)
      |> Enum.sort_by(fn {_node, {_kind, _pid, call}} -> call.start_unix_ns end)

    lines =
      Enum.reduce(links, tree.lines, fn {other, {kind, pid, call}}, lines ->
        item =
          case kind do
            :request -> %{request: pid, served_by: to_call(call), node: other}
            origin -> %{process: pid, origin: origin, first: to_call(call), node: other}
          end

        case ask(root_node, :running_at, [text, call.start_unix_ns]) do
          %{id: waiting} -> place_under(lines, waiting, item)
          _ -> lines
        end
      end)

    %{tree | lines: lines}
  end

  # The call of another node the tree's root came from, asked of that node.
  defp cluster_cause(%{cause: kind, node: node, pid: text, start_unix_ns: at}) do
    case ask(node, :running_at, [text, at]) do
      %{} = call -> %{kind: kind, pid: pid(call.pid), call: to_call(call), node: node}
      _ -> nil
    end
  end

  defp cluster_cause(_), do: nil

  # `item` as the last child of the line of call `parent` (nothing when it is not shown).
  defp place_under(lines, parent, item) do
    case Enum.find_index(lines, fn {_depth, line} -> Map.get(line, :id) == parent and not Map.has_key?(line, :fold) end) do
      nil ->
        lines

      at ->
        {depth, _} = Enum.at(lines, at)
        rest = Enum.drop(lines, at + 1)
        under = Enum.take_while(rest, fn {d, _} -> d > depth end)
        Enum.take(lines, at + 1) ++ under ++ [{depth + 1, item}] ++ Enum.drop(rest, length(under))
    end
  end

  defp to_cause(%{cause: kind, pid: text, call: call}),
    do: %{kind: kind, pid: pid(text), call: to_call(call)}

  defp to_cause(_), do: nil

  defp tree_expected(:nodes), do: "expected :all or a list of nodes"
  defp tree_expected(:node), do: "expected a node"
  defp tree_expected(:calls), do: "expected a positive integer"
  defp tree_expected(:ansi), do: "expected true or false"
  defp tree_expected(:run), do: expected(:run)
  defp tree_expected(_), do: "expected a non-negative integer or :infinity"

  defp run_name(%{run: :latest}), do: "the latest run"
  defp run_name(%{run: n}), do: "run #{n}"
  defp run_name(_), do: "this run"

  defp known_ids(limits) do
    case @runtime.calls(Map.take(Map.put(limits, :limit, 1), [:limit, :run])) do
      [%{id: last}] -> ": its calls are #1 to ##{last}"
      _ -> ", which has recorded no call yet"
    end
  end

  defp to_item(%{fold: _} = fold), do: Map.delete(fold, :parent)

  defp to_item(%{process: text, origin: origin, first: first}),
    do: %{process: pid(text), origin: origin, first: to_call(first)}

  defp to_item(%{request: text, served_by: call}),
    do: %{request: pid(text), served_by: to_call(call)}

  defp to_item(%{message: _, send: _} = message) do
    node = if message.node == :undefined, do: nil, else: message.node

    %{
      message
      | receiver: receiver(message.receiver, message.target, node),
        received_by: if(message.received_by == :undefined, do: nil, else: message.received_by),
        node: node
    }
  end

  # A message's receiver: a pid of this node from its text; of another node, the destination
  # when it was that pid (a text would read as a pid of this node), else nil.
  defp receiver(:undefined, _target, _node), do: nil
  defp receiver(text, _target, nil), do: pid(text)
  defp receiver(_text, target, _node) when is_pid(target), do: target
  defp receiver(_text, _target, _node), do: nil

  defp to_item(call), do: to_call(call)

  ## The runtime

  @doc "Every run of the project's recording (see `ElixirScope.runs/1`)."
  @spec runs() :: [map]
  def runs do
    flush()
    @runtime.runs() |> answer("ElixirScope.runs/1")
  end

  @doc "The runtime's counters and the run's counts, with its status and paused modules."
  @spec stats() :: map
  def stats do
    status = @runtime.status()

    case @runtime.stats() do
      %{} = counters ->
        summary =
          case @runtime.summary() do
            %{} = s -> Map.take(s, [:calls, :exceptions, :processes, :tail_calls])
            _ -> %{}
          end

        counters |> Map.merge(summary) |> Map.merge(%{status: status, paused: paused()})

      {:error, _} ->
        %{status: status, paused: paused()}
    end
  end

  defp paused do
    case :persistent_term.get(:elixir_scope_state, :undefined) do
      {_mode, paused} when is_map(paused) -> paused |> Map.keys() |> Enum.sort()
      _ -> []
    end
  end

  defp flush do
    case @runtime.flush() do
      :ok ->
        :ok

      {:error, :not_started} ->
        :ok

      {:error, reason} ->
        raise RuntimeError, "ElixirScope could not flush the recording: #{inspect(reason)}"
    end
  end

  ## Profiles and run diffs

  @profile_options [:run, :sort, :top]
  @sort_keys [:own, :total, :count, :mean, :p99, :exceptions]

  @doc "Where the time of the run went, per function (see `ElixirScope.profile/1`)."
  @spec profile(keyword, String.t()) :: map
  def profile(opts, caller) do
    options =
      opts
      |> validate(@profile_options, caller)
      |> Enum.reduce(%{}, fn
        {:sort, s}, acc when s in @sort_keys -> Map.put(acc, :sort, s)
        {:top, n}, acc when is_integer(n) and n > 0 -> Map.put(acc, :top, min(n, @max_limit))
        {:run, r}, acc when (is_integer(r) and r > 0) or r == :latest -> Map.put(acc, :run, r)
        {key, value}, _acc ->
          raise ArgumentError,
                "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} (#{profile_expected(key)})"
      end)

    flush()
    @runtime.profile(options) |> answer(caller)
  end

  defp profile_expected(:sort),
    do: "expected one of #{Enum.map_join(@sort_keys, ", ", &inspect/1)}"

  defp profile_expected(:top), do: "expected a positive integer"
  defp profile_expected(:run), do: expected(:run)

  @diff_options [:threshold, :limit]

  @doc "Run `run_a` compared with run `run_b` (see `ElixirScope.diff/3`)."
  @spec diff(pos_integer, pos_integer, keyword, String.t()) :: map
  def diff(run_a, run_b, opts, caller) do
    for run <- [run_a, run_b], not (is_integer(run) and run > 0) do
      raise ArgumentError, "#{caller}: bad run #{inspect(run)} (#{expected(:run)})"
    end

    options =
      opts
      |> validate(@diff_options, caller)
      |> Enum.reduce(%{}, fn
        {:threshold, t}, acc when is_number(t) and t >= 0 -> Map.put(acc, :threshold, t)
        {:limit, n}, acc when is_integer(n) and n >= 0 -> Map.put(acc, :limit, min(n, @max_limit))
        {key, value}, _acc ->
          raise ArgumentError,
                "#{caller}: bad value for #{inspect(key)}: #{inspect(value)} " <>
                  "(expected a non-negative number)"
      end)

    flush()
    diff = @runtime.diff(run_a, run_b, options) |> answer(caller)
    %{diff | results: Enum.map(diff.results, fn r -> %{a: to_call(r.a), b: to_call(r.b)} end)}
  end

  ## Answers

  defp answer({:error, :not_started}, caller) do
    raise RuntimeError,
          "#{caller}: ElixirScope is not recording in this VM (#{inspect(@runtime.status())}): " <>
            "no instrumented function has run yet, or the runtime did not start " <>
            "(elixir-scope doctor says why)"
  end

  defp answer({:error, {:bad_pattern, message}}, caller),
    do: raise(ArgumentError, "#{caller}: #{message}")

  defp answer({:error, reason}, caller),
    do:
      raise(RuntimeError, "#{caller}: the recording could not be read: #{format_reason(reason)}")

  defp answer(result, _caller), do: result

  defp format_reason(reason) when is_binary(reason), do: reason
  defp format_reason(reason), do: inspect(reason)

  defp validate(opts, known, caller) do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "#{caller}: options must be a keyword list, got: #{inspect(opts)}"
    end

    case Keyword.keys(opts) -- known do
      [] ->
        opts

      unknown ->
        raise ArgumentError,
              "#{caller}: unknown option#{if length(unknown) > 1, do: "s"} " <>
                "#{Enum.map_join(unknown, ", ", &inspect/1)} (known: #{Enum.map_join(known, ", ", &inspect/1)})"
    end
  end

  @doc """
  A call as the runtime gives it, as `ElixirScope` documents it: `pid` a pid, `outcome`
  `:returned`, `:raised` or `:running`, `exception` a `{kind, reason, stacktrace}`
  (`stacktrace` `:not_recorded` for an attached call).
  """
  @spec to_call(map) :: map
  def to_call(raw) do
    {outcome, result, exception} =
      case raw.outcome do
        :return -> {:returned, raw.value, nil}
        {:exception, kind} -> {:raised, nil, exception(kind, raw.value)}
        :running -> {:running, nil, nil}
      end

    %{
      id: raw.id,
      parent: if(raw.parent == :undefined, do: nil, else: raw.parent),
      pid: pid(raw.pid),
      module: raw.module,
      function: raw.function,
      arity: raw.arity,
      args: raw.args,
      outcome: outcome,
      result: result,
      exception: exception,
      start: raw.start_ns,
      started_at: DateTime.from_unix!(div(raw.start_unix_ns, 1_000), :microsecond),
      duration_ns: if(raw.end_ns == :undefined, do: nil, else: raw.end_ns - raw.start_ns),
      tail_calls: raw.tail_calls,
      scheduler: raw.scheduler
    }
  end

  # An attached call's exception: the VM's call trace gives no stack trace.
  defp exception(kind, {reason, {:"$elixir_scope_cut", :stacktrace, _}}),
    do: {kind, reason, :not_recorded}

  defp exception(kind, {reason, stack}), do: {kind, reason, stack}
  defp exception(kind, other), do: {kind, other, []}

  defp pid(text) when is_binary(text) do
    text |> String.to_charlist() |> :erlang.list_to_pid()
  rescue
    ArgumentError -> text
  end

  defp pid(other), do: other
end
