defmodule ElixirScope.ExUnitFormatter do
  @moduledoc """
  An ExUnit formatter that tells the recording which tests ran: each test's module, name,
  file and line, outcome, failure message and duration, as it finishes. The runtime knows
  which process ran each test, so the recording then knows which calls each test made
  (`elixir-scope tests`, `elixir-scope calls --test NAME`, `ElixirScope.calls(test: NAME)`).

  The Mix task `elixir_scope.instrument` (the compile alias) adds it to ExUnit's formatters in
  `mix test`. A `test_helper.exs` that chooses its own formatters names it too:

      ExUnit.start(formatters: [ExUnit.CLIFormatter, ElixirScope.ExUnitFormatter])

  It prints nothing, and records nothing of its own: it reports with recording off for its
  process.
  """

  use GenServer

  @runtime :elixir_scope_runtime

  @impl true
  def init(_opts) do
    # Tests that run before any instrumented call are reported too.
    _ = @runtime.start()
    {:ok, nil}
  end

  @impl true
  def handle_cast({:test_finished, %ExUnit.Test{} = test}, state) do
    @runtime.without_recording(fn -> report(test) end)
    {:noreply, state}
  end

  def handle_cast(_event, state), do: {:noreply, state}

  defp report(test) do
    {outcome, message} = outcome(test)
    tags = test.tags

    _ =
      @runtime.test_finished(%{
        framework: :exunit,
        module: test.module,
        name: test.name,
        file: to_string(Map.get(tags, :file, "")),
        line: Map.get(tags, :line, 0),
        outcome: outcome,
        message: message,
        duration_us: test.time
      })

    :ok
  rescue
    # A report that cannot be made must not take the test run down.
    _ -> :ok
  end

  defp outcome(%ExUnit.Test{state: nil}), do: {:passed, ""}

  defp outcome(%ExUnit.Test{state: {:failed, failures}} = test),
    do: {:failed, failure_text(test, failures)}

  defp outcome(%ExUnit.Test{state: {:skipped, reason}}), do: {:skipped, text(reason)}
  defp outcome(%ExUnit.Test{state: {:excluded, reason}}), do: {:excluded, text(reason)}
  defp outcome(%ExUnit.Test{state: {:invalid, module}}),
    do: {:invalid, "setup_all of #{inspect(module)} failed"}

  defp outcome(%ExUnit.Test{state: other}), do: {:failed, inspect(other)}

  # The failure as ExUnit prints it, without its numbered first line (the test's name) and
  # the location line below it (the recording has both), and without colours.
  defp failure_text(test, failures) do
    test
    |> ExUnit.Formatter.format_test_failure(failures, 1, 100, fn _key, text -> text end)
    |> IO.iodata_to_binary()
    |> String.split("\n")
    |> Enum.drop(2)
    |> Enum.map(&String.replace_prefix(&1, "     ", ""))
    |> Enum.join("\n")
    |> String.trim_trailing()
  end

  defp text(reason) when is_binary(reason), do: reason
  defp text(reason), do: inspect(reason)
end
