defmodule Mix.Tasks.ElixirScope.Reload do
  @shortdoc "Loads the beams elixir-scope instrument rewrote into this VM"

  @moduledoc """
  Loads again the modules of the build that `elixir-scope instrument` rewrote after this VM
  loaded them.

  Mix loads every module it compiles into the VM that compiles it. When `mix test`,
  `mix run` or `iex -S mix` compiles first, the compile alias's instrument step rewrites the
  beams on disk, but the VM still runs the originals it just loaded, unrecorded. This task
  (installed with the runtime, so it exists once `elixir-scope instrument` ran) ends the alias:

      aliases: [
        compile: [
          "compile",
          "cmd elixir-scope instrument _build/\#{Mix.env()}",
          "elixir_scope.reload"
        ]
      ]

  It reloads only modules whose beam under the build directory changed since they were loaded
  (`:elixir_scope_runtime.reload/1`), and says which ones it could not reload.
  """

  use Mix.Task

  @impl Mix.Task
  def run(_args) do
    %{failed: failed} = :elixir_scope_runtime.reload(Mix.Project.build_path())

    for {module, why} <- failed do
      Mix.shell().error(
        "ElixirScope: #{inspect(module)} runs as compiled, unrecorded (#{inspect(why)})"
      )
    end

    :ok
  end
end
