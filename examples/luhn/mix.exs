defmodule Luhn.MixProject do
  use Mix.Project

  # An Erlang library: its code is src/*.erl, compiled by Mix's erlc compiler.
  def project do
    [app: :luhn, version: "0.1.0", language: :erlang, deps: []]
  end

  def application, do: [extra_applications: []]
end
