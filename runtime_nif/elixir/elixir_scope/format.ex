defmodule ElixirScope.Format do
  @moduledoc """
  Recorded calls as text: values, call lines, call trees and tables.

  The layout is shared with the `elixir-scope` command line (the `render` and `term`
  crates), which prints the same lines after the VM stopped:

      #1 Shop.checkout(%Shop.Cart{items: [...]}) → {:ok, 127.5} (4.1ms, #PID<0.110.0>)
      ├── #2 Shop.Pricing.total([...]) → 127.5 (12µs)
      │   └── … 9,990 more calls #3..#9992: Shop.Pricing.line/1 ×9,990
      └── #9993 Shop.Mailer.send(...) ** (RuntimeError) smtp down (3.2ms)
      12 of 10,001 calls shown

  Values are printed with `inspect/2` on one line. What the recorder cut (see
  `ElixirScope`) is shown as an ellipsis: `[1, 2, …]`, `{1, …(3 more)}`,
  `%{a: 1, …(5 more)}`, `%User{name: "ada", age: …}`, `"abc"…(1000 bytes)`, `%{…}` for a map
  nested too deep; what it never recorded as `[REDACTED]`. A value holding either is laid out
  here (elements through `inspect/2`), never by a struct's own `Inspect`, which could read a
  marker as a value. Each value takes at most #{80} characters, all arguments of a call at
  most #{120}.
  """

  @value_width 80
  @arguments_width 120
  @cut :"$elixir_scope_cut"
  @inspect [width: :infinity, limit: :infinity, printable_limit: :infinity]

  ## Values

  @doc """
  A recorded value as `inspect/2` prints it on one line, with cuts shown as ellipses.

      iex> ElixirScope.Format.value([1, 2, {:"$elixir_scope_cut", :list, :more}])
      "[1, 2, …]"
      iex> ElixirScope.Format.value(%{password: {:"$elixir_scope_cut", :redacted, :key}})
      "%{password: [REDACTED]}"
      iex> ElixirScope.Format.value(%{a: 1})
      "%{a: 1}"
  """
  @spec value(term) :: String.t()
  def value(term) do
    if cut_inside?(term), do: render(term), else: inspect(term, @inspect)
  end

  @doc "A value, cut to #{@value_width} characters."
  @spec short(term) :: String.t()
  def short(term), do: term |> value() |> shorten(@value_width)

  defp cut_inside?({@cut, _kind, _detail}), do: true
  defp cut_inside?([head | tail]), do: cut_inside?(head) or cut_inside?(tail)
  defp cut_inside?(tuple) when is_tuple(tuple), do: tuple |> Tuple.to_list() |> cut_inside?()

  defp cut_inside?(map) when is_map(map),
    do: map |> :maps.to_list() |> Enum.any?(fn {k, v} -> cut_inside?(k) or cut_inside?(v) end)

  defp cut_inside?(_other), do: false

  defp render({@cut, kind, detail}), do: standalone_cut(kind, detail)
  defp render(list) when is_list(list), do: render_list(list)

  defp render(tuple) when is_tuple(tuple) do
    elements = Tuple.to_list(tuple)
    count = length(elements)

    parts =
      elements
      |> Enum.with_index(1)
      |> Enum.map(fn
        {{@cut, :tuple, n}, ^count} -> more(n)
        {element, _} -> value(element)
      end)

    "{" <> Enum.join(parts, ", ") <> "}"
  end

  defp render(map) when is_map(map), do: render_map(map)

  defp standalone_cut(:list, _), do: "[…]"
  defp standalone_cut(kind, n) when kind in [:tuple, :map], do: more(n)
  defp standalone_cut(:binary, {size, prefix}), do: value(prefix) <> bytes(size)
  defp standalone_cut(:bitstring, _), do: "<<…>>"
  defp standalone_cut(:depth, :tuple), do: "{…}"
  defp standalone_cut(:depth, :map), do: "%{…}"
  defp standalone_cut(:depth, _), do: "[…]"
  defp standalone_cut(:integer, _), do: "…(big integer)"
  defp standalone_cut(:fun, text) when is_binary(text), do: text
  defp standalone_cut(kind, _) when kind in [:redacted, :hidden], do: "[REDACTED]"
  defp standalone_cut(:stacktrace, _), do: "(no stack trace: attached call)"
  defp standalone_cut(_kind, _detail), do: "…"

  defp more(n) when is_integer(n), do: "…(#{n} more)"
  defp more(_), do: "…"

  defp bytes(size) when is_integer(size), do: "…(#{size} bytes)"
  defp bytes(_), do: "…"

  defp render_list(list) do
    {elements, tail} = split_list(list, [])

    case {elements, tail} do
      {[], {@cut, :list, _}} -> "[…]"
      {_, {@cut, :list, _}} -> cut_list(elements)
      {_, []} -> plain_list(elements)
      {_, tail} -> "[" <> join_values(elements) <> " | " <> value(tail) <> "]"
    end
  end

  # A list's elements and its tail; a cut list's last element (the marker) becomes its tail,
  # as older recordings wrote it.
  defp split_list([{@cut, :list, _} = cut], acc), do: {Enum.reverse(acc), cut}
  defp split_list([head | tail], acc), do: split_list(tail, [head | acc])
  defp split_list(tail, acc), do: {Enum.reverse(acc), tail}

  # A list whose tail was cut: what inspect prints for the kept part, then an ellipsis.
  defp cut_list(elements) do
    if cut_inside?(elements) do
      plain_list(elements) |> String.slice(0..-2//1) |> Kernel.<>(", …]")
    else
      case inspect(elements, @inspect) do
        "'" <> _ = charlist -> charlist <> "…"
        text -> String.slice(text, 0..-2//1) <> ", …]"
      end
    end
  end

  defp plain_list(elements) do
    cond do
      not cut_inside?(elements) -> inspect(elements, @inspect)
      keyword?(elements) -> "[" <> Enum.map_join(elements, ", ", &pair/1) <> "]"
      true -> "[" <> join_values(elements) <> "]"
    end
  end

  defp join_values(elements), do: Enum.map_join(elements, ", ", &value/1)

  defp keyword?(elements) do
    Enum.all?(elements, fn
      {key, _value} when is_atom(key) -> not alias?(key)
      _ -> false
    end)
  end

  defp pair({key, value}), do: key(key) <> value(value)

  # A keyword key as inspect writes it: `a: `, `"foo bar": `.
  defp key(atom) do
    text = inspect([{atom, 0}], @inspect)
    String.slice(text, 1..-3//1)
  end

  defp alias?(atom), do: match?("Elixir." <> _, Atom.to_string(atom))

  defp render_map(map) do
    {pairs, omitted} =
      map
      |> :maps.to_list()
      |> Enum.split_with(fn pair -> not match?({@cut, {@cut, :map, _}}, pair) end)

    {open, pairs} =
      case Map.get(map, :__struct__) do
        module when is_atom(module) and not is_nil(module) ->
          {"%" <> inspect(module) <> "{",
           Enum.reject(pairs, fn {k, _} -> k in [:__struct__, :__exception__] end)}

        _ ->
          {"%{", pairs}
      end

    parts =
      if keyword?(pairs),
        do: Enum.map(pairs, &pair/1),
        else: Enum.map(pairs, fn {k, v} -> value(k) <> " => " <> value(v) end)

    parts =
      case omitted do
        [{@cut, {@cut, :map, n}}] -> parts ++ [more(n)]
        [] -> parts
      end

    open <> Enum.join(parts, ", ") <> "}"
  end

  ## Calls

  @doc "`Shop.Cart.total([1, 2])`: the call with its arguments."
  @spec call_text(map) :: String.t()
  def call_text(%{module: module, function: function, args: args}) do
    mf(module, function) <> "(" <> shorten(arguments(args), @arguments_width) <> ")"
  end

  @doc "`Shop.Cart.total` or `:lists.reverse`."
  @spec mf(module, atom) :: String.t()
  def mf(module, function), do: inspect(module) <> "." <> function_name(function)

  @doc "`Shop.Cart.total/1`."
  @spec mfa(module, atom, arity) :: String.t()
  def mfa(module, function, arity), do: mf(module, function) <> "/#{arity}"

  defp function_name(function) do
    case inspect(function) do
      ":" <> name -> name
      name -> name
    end
  end

  defp arguments(args) do
    {elements, tail} = split_list(args, [])
    texts = Enum.map(elements, &short/1)

    texts =
      case tail do
        [] -> texts
        {@cut, :list, _} -> texts ++ ["…"]
        other -> texts ++ ["| " <> short(other)]
      end

    Enum.join(texts, ", ")
  end

  @doc "`→ 6`, `** (ArgumentError) boom`, or `…` while the call runs."
  @spec outcome_text(map) :: String.t()
  def outcome_text(%{outcome: :returned, result: result}), do: "→ " <> short(result)

  def outcome_text(%{outcome: :raised, exception: {kind, reason, _stack}}),
    do: "** " <> shorten(banner(kind, reason), @value_width)

  def outcome_text(%{outcome: :running}), do: "…"

  @doc """
  An exception's banner: `(ArgumentError) boom` for an exception with a message,
  `(KeyError) %KeyError{...}` without one, `(throw) :value` for anything else.
  """
  @spec banner(:error | :exit | :throw, term) :: String.t()
  def banner(:error, %{__exception__: true, __struct__: module, message: message} = exception)
      when is_binary(message) and is_atom(module) do
    if String.valid?(message),
      do: "(#{inspect(module)}) " <> String.replace(message, "\n", " "),
      else: "(#{inspect(module)}) " <> value(exception)
  end

  def banner(:error, %{__exception__: true, __struct__: module} = exception) when is_atom(module),
    do: "(#{inspect(module)}) " <> value(exception)

  def banner(kind, reason), do: "(#{kind}) " <> value(reason)

  @doc "`(12µs)`, `(3.0ms, 9,999 tail calls)`, `(running, #PID<0.110.0>)`."
  @spec details(map, pid | nil) :: String.t()
  def details(call, pid \\ nil) do
    parts =
      [
        if(call.duration_ns, do: duration(call.duration_ns), else: "running"),
        call.tail_calls > 0 &&
          count(call.tail_calls) <>
            if(call.tail_calls == 1, do: " tail call", else: " tail calls"),
        pid && inspect(pid)
      ]
      |> Enum.filter(& &1)

    "(" <> Enum.join(parts, ", ") <> ")"
  end

  @doc "`#42 Shop.Cart.total([1, 2]) → 3 (12µs)`."
  @spec line(map, pid | nil) :: String.t()
  def line(call, pid \\ nil), do: line(call, pid, false)

  defp line(call, pid, ansi?) do
    outcome_color = if call.outcome == :raised, do: :red, else: :green

    [
      paint("##{call.id}", :faint, ansi?),
      " ",
      paint(call_text(call), :bright, ansi?),
      " ",
      paint(outcome_text(call), outcome_color, ansi?),
      " ",
      paint(details(call, pid), :faint, ansi?)
    ]
    |> IO.iodata_to_binary()
  end

  @doc "`… 9,990 more calls #10..#9999: Shop.Loop.step/1 ×9,990`."
  @spec fold_text(map) :: String.t()
  def fold_text(fold) do
    what =
      case fold.fold do
        :depth -> count(fold.children) <> noun(fold.children, " call", " calls")
        _ -> count(fold.children) <> noun(fold.children, " more call", " more calls")
      end

    ids = if fold.children == 1, do: "##{fold.first}", else: "##{fold.first}..##{fold.last}"
    all = if fold.calls != fold.children, do: " (#{count(fold.calls)} in all)", else: ""

    functions = Enum.map(fold.functions, fn {m, f, a, n} -> mfa(m, f, a) <> " ×" <> count(n) end)

    functions = if fold.more_functions or fold.sampled, do: functions ++ ["…"], else: functions

    "… #{what} #{ids}#{all}: " <> Enum.join(functions, ", ")
  end

  defp noun(1, one, _many), do: one
  defp noun(_, _one, many), do: many

  ## Trees

  @doc """
  The line that names the call of another process a tree's root came from (`cause` of
  `ElixirScope.trace/2`: the client call that waited for the request the root serves, or the
  call that started the root's process), or no line.

  ## Examples

      iex> ElixirScope.Format.cause_lines(nil)
      []
  """
  @spec cause_lines(map | nil, boolean) :: [String.t()]
  def cause_lines(cause, ansi? \\ false)
  def cause_lines(nil, _ansi?), do: []

  def cause_lines(%{kind: kind, pid: pid, call: call} = cause, ansi?) do
    {by, how} =
      case kind do
        :request -> {"", "request"}
        :caller -> {"", "task"}
        :ancestor -> {"", "spawned"}
        sent -> {"sent by ", Atom.to_string(sent)}
      end

    [paint("⇠ #{by}#{process(cause, pid)} (#{how}) ", :cyan, ansi?) <> line(call, nil, ansi?)]
  end

  # A linked process: its pid, after its node when the link crossed nodes.
  defp process(%{node: node}, pid), do: "#{node} #{inspect(pid)}"
  defp process(_item, pid), do: inspect(pid)

  @doc """
  The lines of a tree as `ElixirScope.Query.drawn_tree/3` gives it (`lines`: `{depth, item}`
  in display order; `prefixes`: per line, the guides the runtime laid out, drawn before its
  text; `calls`, `shown`), with a footer when something was folded. `ansi?` colours them.
  """
  @spec tree_lines(map, boolean) :: [String.t()]
  def tree_lines(tree, ansi? \\ false)

  def tree_lines(%{lines: lines, prefixes: prefixes, calls: calls, shown: shown}, ansi?) do
    out =
      Enum.zip_with(lines, prefixes, fn {depth, item}, prefix ->
        prefix <> item_text(item, depth, ansi?)
      end)

    if shown < calls do
      out ++
        [
          paint(
            "#{count(shown)} of #{count(calls)}#{noun(calls, " call", " calls")} shown",
            :faint,
            ansi?
          )
        ]
    else
      out
    end
  end

  defp item_text(%{fold: _} = fold, _depth, ansi?), do: paint(fold_text(fold), :faint, ansi?)

  defp item_text(%{process: pid, origin: origin, first: first} = item, _depth, ansi?) do
    how = if origin == :caller, do: "task", else: "spawned"
    paint("⇢ #{process(item, pid)} (#{how}) ", :cyan, ansi?) <> line(first, nil, ansi?)
  end

  defp item_text(%{request: pid, served_by: call} = item, _depth, ansi?) do
    paint("⇢ #{process(item, pid)} (request) ", :cyan, ansi?) <> line(call, nil, ansi?)
  end

  defp item_text(%{message: message, send: how} = sent, _depth, ansi?) do
    how = if how == :send_after, do: "send_after #{duration(sent.delay_ms * 1_000_000)}", else: how
    to = target_text(sent.target, sent.receiver)
    text = "→ #{how} #{to} #{short(message)}"

    case sent.received_by do
      nil -> paint(text, :cyan, ansi?)
      id -> paint(text <> " ⇢ ##{id}", :cyan, ansi?)
    end
  end

  defp item_text(call, 0, ansi?), do: line(call, call.pid, ansi?)
  defp item_text(call, _depth, ansi?), do: line(call, nil, ansi?)

  # A message's destination: a pid, or a name followed by the process it named when known.
  defp target_text(target, _receiver) when is_pid(target), do: inspect(target)
  defp target_text(target, nil), do: short(target)
  defp target_text(target, pid), do: "#{short(target)} (#{inspect(pid)})"

  ## Tables

  @doc """
  Calls as a table: ID, PID, STARTED (local time), DURATION, CALL; NODE first when the calls
  carry their node (`ElixirScope.calls(nodes: :all)`).
  """
  @spec table([map], boolean) :: [String.t()]
  def table(calls, ansi? \\ false)
  def table([], _ansi?), do: ["No calls match."]

  def table(calls, ansi?) do
    # Calls of several nodes (`nodes:`) say whose they are first.
    nodes? = Enum.any?(calls, &Map.has_key?(&1, :node))
    header = if(nodes?, do: ["NODE"], else: []) ++ ["ID", "PID", "STARTED", "DURATION", "CALL"]

    rows =
      Enum.map(calls, fn call ->
        if(nodes?, do: [call |> Map.get(:node, node()) |> Atom.to_string()], else: []) ++
          [
            Integer.to_string(call.id),
            pid_text(call.pid),
            clock(DateTime.to_unix(call.started_at, :nanosecond)),
            if(call.duration_ns, do: duration(call.duration_ns), else: "running"),
            call_text(call) <> " " <> outcome_text(call)
          ]
      end)

    widths =
      [header | rows]
      |> Enum.zip()
      |> Enum.map(fn column -> column |> Tuple.to_list() |> Enum.map(&width/1) |> Enum.max() end)

    [paint(layout(header, widths), :bright, ansi?) | Enum.map(rows, &layout(&1, widths))]
  end

  @doc """
  Tests with the calls each made at its top level (see `ElixirScope.tests/1`), and a count:

      failed   ShopTest: test refuses a bad card (test/shop_test.exs:20, 2.1ms)
        #54 Shop.Checkout.place(%{card: "4485 …"}) ** (Shop.PaymentError) … (610µs)
          Assertion with == failed
          code:  assert Shop.Checkout.place(order) == :ok
      1 test: 1 failed
  """
  @spec test_lines([map], boolean) :: [String.t()]
  def test_lines(tests, ansi? \\ false)
  def test_lines([], _ansi?), do: ["No tests match."]

  def test_lines(tests, ansi?) do
    Enum.flat_map(tests, fn test ->
      color = if test.outcome in [:failed, :invalid], do: :red, else: :green

      head =
        paint(String.pad_trailing(to_string(test.outcome), 7), color, ansi?) <>
          " " <> test_title(test)

      roots = Enum.map(test.roots, &("  " <> line(&1, nil, ansi?)))

      message =
        if test.outcome in [:failed, :invalid] and test.message != "",
          do: test.message |> String.split("\n") |> Enum.map(&("    " <> &1)),
          else: []

      [head | roots] ++ message
    end) ++ [test_count(tests)]
  end

  @doc """
  Crashes (`ElixirScope.crashes/1`) as lines: the process, when and why, the call that started
  it, who received news of its end, its restart, and the tree of what led to it.
  """
  @spec crash_lines([map], boolean) :: [String.t()]
  def crash_lines(crashes, ansi? \\ false)
  def crash_lines([], _ansi?), do: ["No process crashed."]

  def crash_lines(crashes, ansi?) do
    Enum.flat_map(crashes, fn crash ->
      head =
        paint("crashed ", :red, ansi?) <>
          " #{inspect(crash.pid)} at #{clock(crash.ended_unix_ns)}: " <> crash_reason(crash)

      started =
        case {crash.origin, crash.started_by} do
          {nil, _} -> []
          {origin, nil} -> ["  started by #{inspect(origin)}"]
          {origin, call} -> ["  started by #{inspect(origin)} (spawned) " <> line(call, nil, ansi?)]
        end

      notices =
        Enum.map(crash.notices, fn n ->
          "  #{n.kind} received by #{inspect(n.pid)} " <> line(n.call, nil, ansi?)
        end)

      restart =
        case crash.restart do
          nil -> []
          %{pid: pid, first: first} -> ["  restarted as #{inspect(pid)} " <> line(first, nil, ansi?)]
        end

      tree =
        case crash.tree do
          nil ->
            []

          tree ->
            ["  what led to it:"] ++
              Enum.map(
                cause_lines(tree.cause, ansi?) ++ tree_lines(tree, ansi?),
                &("  " <> &1)
              )
        end

      later = Enum.map(crash.later, &("  then " <> line(&1, nil, ansi?)))
      [head | started] ++ notices ++ restart ++ tree ++ later
    end) ++ ["#{count(length(crashes))}#{noun(length(crashes), " crash", " crashes")}"]
  end

  defp crash_reason(%{reason: {%{__exception__: true} = exception, [_ | _]}}),
    do: "** " <> shorten(banner(:error, exception), @value_width)

  defp crash_reason(%{reason: :unknown, culprit: %{exception: {kind, reason, _}}}),
    do: "** " <> shorten(banner(kind, reason), @value_width) <> " (its call's: the process ended before it was watched)"

  defp crash_reason(%{reason: :unknown}), do: "an unknown reason (it ended before it was watched)"
  defp crash_reason(%{reason: {reason, [_ | _]}}), do: "** " <> shorten(banner(:error, reason), @value_width)
  defp crash_reason(%{reason: reason}), do: "** " <> shorten(banner(:exit, reason), @value_width)

  @doc "`ShopTest: test pays (test/shop_test.exs:12, 3.4ms)`."
  @spec test_title(map) :: String.t()
  def test_title(test) do
    module = test.module |> Atom.to_string() |> String.replace_prefix("Elixir.", "")
    where =
      case {test.file, test.line} do
        {"", _} -> ""
        {file, 0} -> "#{Path.relative_to_cwd(file)}, "
        {file, line} -> "#{Path.relative_to_cwd(file)}:#{line}, "
      end

    "#{module}: #{test.name} (#{where}#{duration(test.duration_us * 1_000)})"
  end

  defp test_count(tests) do
    n = length(tests)

    by =
      [:passed, :failed, :skipped, :excluded, :invalid]
      |> Enum.map(fn o -> {o, Enum.count(tests, &(&1.outcome == o))} end)
      |> Enum.reject(fn {_, k} -> k == 0 end)
      |> Enum.map_join(", ", fn {o, k} -> "#{count(k)} #{o}" end)

    "#{count(n)} #{noun(n, "test", "tests")}: #{by}"
  end

  @doc """
  What a query that found no call says when recording was paused in the run: `pauses` as
  `ElixirScope.Query.pauses/0` gives them, `paused_now?` whether it is paused now.
  """
  @spec paused_note([{integer, integer | nil}], boolean) :: [String.t()]
  def paused_note([], false), do: []

  def paused_note(_pauses, true),
    do: ["Recording is paused: ElixirScope.resume() resumes it."]

  def paused_note(pauses, false) do
    n = length(pauses)

    [
      "Recording was paused #{count(n)} #{noun(n, "time", "times")} in this run; " <>
        "calls made meanwhile were not recorded."
    ]
  end

  @doc "The runs of the recording as a table (this VM's marked `*`), header first."
  @spec runs_table([map]) :: [String.t()]
  def runs_table(runs) do
    header = ["  RUN", "STARTED", "NODE", "STATE", "CAPTURED", "DROPPED"]

    rows =
      Enum.map(runs, fn run ->
        started = DateTime.from_unix!(run.started_unix_ns, :nanosecond)

        [
          if(run.this, do: "* ", else: "  ") <> Integer.to_string(run.run),
          Calendar.strftime(started, "%Y-%m-%d %H:%M:%S"),
          to_string(run.node),
          to_string(run.state),
          count(run.captured),
          count(run.dropped + run.write_failed)
        ]
      end)

    widths =
      [header | rows]
      |> Enum.zip()
      |> Enum.map(fn column -> column |> Tuple.to_list() |> Enum.map(&width/1) |> Enum.max() end)

    [layout(header, widths) | Enum.map(rows, &layout(&1, widths))]
  end

  defp layout(cells, widths) do
    {init, [last]} = Enum.split(cells, -1)

    padded =
      init
      |> Enum.zip(widths)
      |> Enum.map(fn {cell, w} -> cell <> String.duplicate(" ", w - width(cell) + 2) end)

    Enum.join(padded) <> last
  end

  defp pid_text(pid) when is_pid(pid), do: pid |> :erlang.pid_to_list() |> List.to_string()
  defp pid_text(text), do: to_string(text)

  ## Small pieces

  @doc "`850ns`, `1.2µs`, `12µs`, `3.4ms`, `1.5s`: one decimal below 10 units, rounded half up."
  @spec duration(non_neg_integer) :: String.t()
  def duration(ns) when ns < 1_000, do: "#{ns}ns"
  def duration(ns) when ns < 1_000_000, do: duration(ns, 1_000, "µs")
  def duration(ns) when ns < 1_000_000_000, do: duration(ns, 1_000_000, "ms")
  def duration(ns), do: duration(ns, 1_000_000_000, "s")

  defp duration(ns, unit, name) do
    tenths = div(ns * 10 + div(unit, 2), unit)

    if tenths < 100,
      do: "#{div(tenths, 10)}.#{rem(tenths, 10)}#{name}",
      else: "#{div(ns + div(unit, 2), unit)}#{name}"
  end

  @doc "`9,990`."
  @spec count(non_neg_integer) :: String.t()
  def count(n) do
    n
    |> Integer.to_string()
    |> String.reverse()
    |> String.to_charlist()
    |> Enum.chunk_every(3)
    |> Enum.join(",")
    |> String.reverse()
  end

  @doc "A wall-clock time (ns since the UNIX epoch) as local `HH:MM:SS.mmm`."
  @spec clock(non_neg_integer) :: String.t()
  def clock(unix_ns) do
    {_date, {h, m, s}} = :calendar.system_time_to_local_time(div(unix_ns, 1_000_000_000), :second)
    ms = unix_ns |> rem(1_000_000_000) |> div(1_000_000)
    :io_lib.format(~c"~2..0B:~2..0B:~2..0B.~3..0B", [h, m, s, ms]) |> List.to_string()
  end

  @doc "`text` cut to `width` characters: the first `width - 1` and `…`."
  @spec shorten(String.t(), pos_integer) :: String.t()
  def shorten(text, width) do
    chars = String.to_charlist(text)

    if length(chars) <= width,
      do: text,
      else: (chars |> Enum.take(width - 1) |> List.to_string()) <> "…"
  end

  defp width(text), do: text |> String.to_charlist() |> length()

  defp paint(text, _color, false), do: text
  defp paint(text, color, true), do: IO.iodata_to_binary(IO.ANSI.format([color, text], true))
end
