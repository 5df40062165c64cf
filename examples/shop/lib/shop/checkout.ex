defmodule Shop.PaymentError do
  @moduledoc "Raised when a card number fails its checksum."
  defexception [:card]

  @impl true
  def message(%{card: card}), do: "card #{card} failed the Luhn check"
end

defmodule Shop.Checkout do
  @moduledoc "Places orders: checks the card, prices the lines, reserves the stock."

  @doc """
  Places an order `%{card: card, lines: [{sku, quantity}]}`.

  Returns `{:ok, total}` or `{:error, {:out_of_stock, sku}}`; raises `Shop.PaymentError` when
  the card number is not valid.
  """
  def place(%{card: card, lines: lines}) do
    unless :luhn.valid(card), do: raise(Shop.PaymentError, card: card)

    with :ok <- reserve_all(lines) do
      {:ok, total(lines)}
    end
  end

  @doc "The total of an order's lines, priced concurrently under the task supervisor."
  def total(lines) do
    Shop.TaskSupervisor
    |> Task.Supervisor.async_stream(lines, &line_total/1, ordered: true)
    |> Enum.map(fn {:ok, money} -> money end)
    |> Money.sum()
  end

  defp line_total({sku, quantity}), do: sku |> Shop.Catalog.price() |> Money.multiply(quantity)

  defp reserve_all([]), do: :ok

  defp reserve_all([{sku, quantity} | rest]) do
    case Shop.Inventory.reserve(sku, quantity) do
      {:ok, _left} -> reserve_all(rest)
      {:error, :out_of_stock} -> {:error, {:out_of_stock, sku}}
    end
  end
end
