defmodule Shop.MixProject do
  use Mix.Project

  def project do
    [
      app: :shop,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: deps(),
      # ElixirScope: rewrite the compiled beams after every compile (elixir-scope on PATH),
      # then load the rewritten beams into this VM (Mix keeps what it compiled loaded).
      aliases: [
        compile: [
          "compile",
          "cmd elixir-scope instrument _build/#{Mix.env()}",
          "elixir_scope.reload"
        ]
      ]
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Shop.Application, []}]
  end

  # Path dependencies only: hex.pm is not needed. `money` is written in Elixir, `luhn` in Erlang.
  defp deps do
    [{:money, path: "../money"}, {:luhn, path: "../luhn"}]
  end
end
