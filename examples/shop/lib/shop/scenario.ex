defmodule Shop.Scenario do
  @moduledoc """
  A morning at the shop: a few orders, one that runs out of stock, one with a bad card.

  Run it with `mix run -e Shop.Scenario.run`. Its output is the same with and without
  ElixirScope recording.
  """

  @orders [
    %{customer: "ada", card: "4539 1488 0343 6467", lines: [{"tea", 2}, {"cup", 1}]},
    %{customer: "grace", card: "4716 0000 0000 0007", lines: [{"pot", 1}]},
    %{customer: "linus", card: "4539 1488 0343 6467", lines: [{"mat", 12}]},
    %{customer: "joe", card: "4485 2752 7460 3423", lines: [{"box", 3}, {"tea", 1}]}
  ]

  @doc "Runs the scenario and prints what happened."
  def run do
    Enum.each(@orders, &report/1)
    IO.puts("Kitchen skus: #{Enum.join(Shop.Catalog.skus_in("Kitchen"), ", ")}")
    basket = ["tea", "cup", "pot", "mat"]

    IO.puts(
      "Best price for #{inspect(basket)}: #{Money.to_string(Money.new(Shop.Bundles.best_total(basket), :EUR))}"
    )

    IO.puts("Check digit for 7992739871: #{:luhn.check_digit("7992739871")}")
  end

  defp report(%{customer: customer} = order) do
    result =
      try do
        case Shop.Checkout.place(order) do
          {:ok, total} -> "paid #{Money.to_string(total)}"
          {:error, {:out_of_stock, sku}} -> "out of stock: #{Shop.Catalog.name(sku)}"
        end
      rescue
        error in Shop.PaymentError -> "refused: #{Exception.message(error)}"
      end

    IO.puts("#{customer}: #{result}")
  end
end
