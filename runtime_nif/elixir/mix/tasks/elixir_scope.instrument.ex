defmodule Mix.Tasks.ElixirScope.Instrument do
  @shortdoc "Instruments the compiled beams for ElixirScope (the compile alias's second step)"

  @moduledoc """
  Records the project with ElixirScope: runs `elixir-scope instrument` on the build, then loads
  the rewritten beams into this VM. It ends the project's compile alias:

      aliases: [compile: ["compile" | elixir_scope()]]

      # ElixirScope records this project where its Mix archive is installed; elsewhere
      # (a teammate, CI) the compile is the usual one.
      defp elixir_scope do
        if Code.ensure_loaded?(Mix.Tasks.ElixirScope.Instrument),
          do: ["elixir_scope.instrument"],
          else: []
      end

  This task comes from the Mix archive that `elixir-scope mix-archive` builds (no hex package:
  `mix archive.install ./elixir_scope-VERSION.ez`). It finds the `elixir-scope` binary through
  `$ELIXIR_SCOPE_BIN`, then `PATH`, then the place of the binary that built the archive. Where
  there is none, it says so once and the project compiles and runs as usual, unrecorded.

  Mix keeps the modules it compiles loaded in the VM that compiled them (`mix test`, `mix run`,
  `iex -S mix`, `recompile()` in IEx), so after rewriting the beams on disk this task loads the
  rewritten ones (`:elixir_scope_runtime.reload/1`). It answers as a compiler does,
  `{status, diagnostics}`: `:ok` when it loaded rewritten code, else `:noop`; a failed run of
  `elixir-scope` is a warning, never a failed compile. It enables itself again after each run,
  so that `recompile()` instruments what it recompiled.

  When ExUnit is loaded (`mix test`), it also adds `ElixirScope.ExUnitFormatter` to ExUnit's
  formatters, so that the recording knows which test made which calls.

  Arguments are ignored: Mix hands the last task of an alias the arguments of the command
  (`mix test --cover`, `mix compile --force`).
  """

  use Mix.Task

  # The binary that built this archive: the last place looked for one.
  @built_by System.get_env("ELIXIR_SCOPE_ARCHIVE_BUILT_BY")
  @warned {__MODULE__, :warned}

  @impl Mix.Task
  def run(_args) do
    # Mix runs a task once per VM unless it is enabled again; IEx's recompile/0 enables only
    # the compilers, and runs the alias again.
    Mix.Task.reenable("elixir_scope.instrument")

    case binary() do
      {:ok, exe} -> instrument(exe)
      {:error, why} -> not_installed(why)
    end
  end

  @doc "Where the `elixir-scope` binary is: `{:ok, path}`, or `{:error, where_it_was_looked_for}`."
  @spec binary() :: {:ok, Path.t()} | {:error, String.t()}
  def binary do
    case System.get_env("ELIXIR_SCOPE_BIN") do
      path when is_binary(path) and path != "" ->
        if executable?(path),
          do: {:ok, path},
          else: {:error, "$ELIXIR_SCOPE_BIN is #{path}, which is not an executable file"}

      _ ->
        cond do
          exe = System.find_executable("elixir-scope") -> {:ok, exe}
          is_binary(@built_by) and executable?(@built_by) -> {:ok, @built_by}
          true -> {:error, "not on PATH#{built_by_text()}, and $ELIXIR_SCOPE_BIN is not set"}
        end
    end
  end

  defp built_by_text, do: if(is_binary(@built_by), do: " nor at #{@built_by}", else: "")

  defp executable?(path) do
    case File.stat(path) do
      {:ok, %File.Stat{type: :regular, mode: mode}} -> Bitwise.band(mode, 0o111) != 0
      _ -> false
    end
  end

  defp instrument(exe) do
    build = Mix.Project.build_path()

    {_, status} =
      System.cmd(exe, ["instrument", build], into: IO.stream(:stdio, :line), stderr_to_stdout: true)

    diagnostics = if status == 0, do: [], else: [failed(exe, status)]
    reloaded = reload(build)
    install_test_formatter()
    {if(reloaded == [], do: :noop, else: :ok), diagnostics}
  end

  defp failed(exe, status) do
    message =
      "ElixirScope: #{exe} instrument exited with status #{status} (its output above says " <>
        "why); the project compiled as usual, and what was not instrumented runs unrecorded"

    IO.warn(message, [])

    %Mix.Task.Compiler.Diagnostic{
      compiler_name: "elixir_scope",
      file: Path.absname("mix.exs"),
      message: message,
      position: nil,
      severity: :warning
    }
  end

  # The rewritten beams replace the originals this VM loaded while compiling.
  defp reload(build) do
    if Code.ensure_loaded?(:elixir_scope_runtime) do
      %{reloaded: reloaded, failed: failed} = :elixir_scope_runtime.reload(build)

      for {module, why} <- failed do
        Mix.shell().error(
          "ElixirScope: #{inspect(module)} runs as compiled, unrecorded (#{inspect(why)})"
        )
      end

      reloaded
    else
      []
    end
  end

  defp install_test_formatter do
    formatter = ElixirScope.ExUnitFormatter

    if Application.spec(:ex_unit, :vsn) != nil and Code.ensure_loaded?(formatter) do
      formatters = Application.get_env(:ex_unit, :formatters, [ExUnit.CLIFormatter])

      unless formatter in formatters do
        Application.put_env(:ex_unit, :formatters, formatters ++ [formatter])
      end
    end

    :ok
  end

  defp not_installed(why) do
    unless :persistent_term.get(@warned, false) do
      :persistent_term.put(@warned, true)

      IO.warn(
        "ElixirScope: the elixir-scope binary is not installed here (#{why}): the project " <>
          "compiled as usual and records nothing. Install it (README, \"Use it in your " <>
          "project\") or set $ELIXIR_SCOPE_BIN; `mix archive.uninstall elixir_scope` removes " <>
          "this task",
        []
      )
    end

    {:noop, []}
  end
end
