defmodule Mix.Tasks.ElixirScope.Reload do
  @shortdoc "Loads the beams elixir-scope instrument rewrote into this VM"

  @moduledoc """
  Loads again the modules of the build that `elixir-scope instrument` rewrote after this VM
  loaded them.

  Mix loads every module it compiles into the VM that compiles it. When `mix test`,
  `mix run` or `iex -S mix` compiles first, the beams rewritten on disk would otherwise run
  as the originals this VM just loaded, unrecorded. The task `elixir_scope.instrument` of
  ElixirScope's Mix archive (`elixir-scope mix-archive`) does this itself; this task, installed
  with the runtime, serves aliases that run the binary through `cmd`:

      aliases: [
        compile: [
          "compile",
          "cmd elixir-scope instrument _build/\#{Mix.env()}",
          "elixir_scope.reload"
        ]
      ]

  It reloads only modules whose beam under the build directory changed since they were loaded
  (`:elixir_scope_runtime.reload/1`), and says which ones it could not reload. It answers as a
  compiler does (`{:ok, []}` when it reloaded something, else `{:noop, []}`), so that IEx's
  `recompile()` can end with it (`cmd` itself runs once per VM, though: prefer the archive).
  """

  use Mix.Task

  @impl Mix.Task
  def run(_args) do
    Mix.Task.reenable("elixir_scope.reload")
    %{reloaded: reloaded, failed: failed} = :elixir_scope_runtime.reload(Mix.Project.build_path())

    for {module, why} <- failed do
      Mix.shell().error(
        "ElixirScope: #{inspect(module)} runs as compiled, unrecorded (#{inspect(why)})"
      )
    end

    {if(reloaded == [], do: :noop, else: :ok), []}
  end
end
