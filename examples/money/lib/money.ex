defmodule Money do
  @moduledoc """
  Amounts of money in integer cents, never floats.

      iex> Money.new(1999, :EUR) |> Money.add(Money.new(1, :EUR)) |> Money.to_string()
      "20.00 EUR"
  """

  @enforce_keys [:cents, :currency]
  defstruct [:cents, :currency]

  @type t :: %__MODULE__{cents: integer, currency: atom}

  @doc "An amount of `cents` in `currency`."
  def new(cents, currency) when is_integer(cents) and is_atom(currency),
    do: %Money{cents: cents, currency: currency}

  @doc "Adds two amounts of the same currency; raises `ArgumentError` for different ones."
  def add(%Money{currency: c} = a, %Money{currency: c} = b),
    do: %Money{a | cents: a.cents + b.cents}

  def add(%Money{currency: a}, %Money{currency: b}),
    do: raise(ArgumentError, "cannot add #{b} to #{a}")

  @doc "Multiplies an amount by an integer quantity."
  def multiply(%Money{} = money, quantity) when is_integer(quantity),
    do: %Money{money | cents: money.cents * quantity}

  @doc "Takes `percent` off an amount, rounding to the cent."
  def discount(%Money{} = money, percent) when percent in 0..100,
    do: %Money{money | cents: div(money.cents * (100 - percent) + 50, 100)}

  @doc "The sum of a non-empty list of amounts."
  def sum([first | rest]), do: Enum.reduce(rest, first, &add(&2, &1))

  @doc "The amount as text, such as `\"12.50 EUR\"`."
  def to_string(%Money{cents: cents, currency: currency}) do
    sign = if cents < 0, do: "-", else: ""
    abs = abs(cents)

    "#{sign}#{div(abs, 100)}.#{abs |> rem(100) |> Integer.to_string() |> String.pad_leading(2, "0")} #{currency}"
  end
end
