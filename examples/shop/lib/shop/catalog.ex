defmodule Shop.Catalog do
  @moduledoc "Products, prices, and the category tree they live in."

  @products %{
    "tea" => {"Green tea", 450},
    "cup" => {"Ceramic cup", 1200},
    "pot" => {"Tea pot", 3500},
    "mat" => {"Bamboo mat", 800},
    "box" => {"Gift box", 1500}
  }

  @tree {"All",
         [
           {"Drinks", [{"Tea", ["tea"]}]},
           {"Kitchen", [{"Ceramics", ["cup", "pot"]}, {"Textiles", ["mat"]}]},
           {"Gifts", ["box"]}
         ]}

  @doc "The stock the shop opens with."
  def initial_stock, do: Map.new(Map.keys(@products), &{&1, 10})

  @doc "The price of one unit of `sku` in euros; raises `KeyError` for an unknown sku."
  def price(sku) do
    {_name, cents} = Map.fetch!(@products, sku)
    Money.new(cents, :EUR)
  end

  @doc "The name of a product."
  def name(sku), do: @products |> Map.fetch!(sku) |> elem(0)

  @doc "Every sku under a category, found by walking the category tree recursively."
  def skus_in(category), do: find(@tree, category) |> collect()

  defp find({category, _} = node, category), do: node
  defp find({_, children}, category), do: Enum.find_value(children, &find(&1, category))
  defp find(_sku, _category), do: nil

  defp collect(nil), do: []
  defp collect({_category, children}), do: Enum.flat_map(children, &collect/1)
  defp collect(sku) when is_binary(sku), do: [sku]
end
