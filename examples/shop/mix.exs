defmodule Shop.MixProject do
  use Mix.Project

  def project do
    [
      app: :shop,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: deps(),
      aliases: [compile: ["compile" | elixir_scope()]]
    ]
  end

  # ElixirScope records this project where its Mix archive is installed (`elixir-scope
  # mix-archive --install`): after every compile, its task rewrites the compiled beams and
  # loads them into this VM. Elsewhere (a teammate, CI) the compile is the usual one.
  defp elixir_scope do
    if Code.ensure_loaded?(Mix.Tasks.ElixirScope.Instrument),
      do: ["elixir_scope.instrument"],
      else: []
  end

  def application do
    [extra_applications: [:logger], mod: {Shop.Application, []}]
  end

  # Path dependencies only: hex.pm is not needed. `money` is written in Elixir, `luhn` in Erlang.
  defp deps do
    [{:money, path: "../money"}, {:luhn, path: "../luhn"}]
  end
end
