defmodule Shop.Bundles do
  @moduledoc """
  The cheapest way to pay for a basket, given bundle offers: a recursive search.

  A bundle is `{skus, percent}`: buying all of `skus` together takes `percent` off them.
  """

  @offers [{["tea", "cup"], 10}, {["cup", "pot"], 15}, {["tea", "cup", "pot"], 25}]

  @doc "The lowest total in cents for a list of skus (one unit each), trying every bundle."
  def best_total(skus), do: best(Enum.sort(skus), @offers)

  defp best([], _offers), do: 0

  defp best(skus, offers) do
    alone = full_price(skus)

    offers
    |> Enum.filter(fn {bundle, _} -> bundle -- skus == [] end)
    |> Enum.map(fn {bundle, percent} ->
      discounted = div(full_price(bundle) * (100 - percent), 100)
      discounted + best(skus -- bundle, offers)
    end)
    |> Enum.min(fn -> alone end)
    |> min(alone)
  end

  defp full_price(skus), do: skus |> Enum.map(&Shop.Catalog.price(&1).cents) |> Enum.sum()
end
