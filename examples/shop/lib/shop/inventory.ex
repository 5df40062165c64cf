defmodule Shop.Inventory do
  @moduledoc "The stock of every product, kept by a GenServer."
  use GenServer

  @doc "Starts the inventory with a map of sku => units."
  def start_link(stock), do: GenServer.start_link(__MODULE__, stock, name: __MODULE__)

  @doc "Takes `quantity` units of `sku` out of stock: `{:ok, left}` or `{:error, :out_of_stock}`."
  def reserve(sku, quantity), do: GenServer.call(__MODULE__, {:reserve, sku, quantity})

  @doc "Units of `sku` in stock."
  def available(sku), do: GenServer.call(__MODULE__, {:available, sku})

  @impl true
  def init(stock), do: {:ok, stock}

  @impl true
  def handle_call({:reserve, sku, quantity}, _from, stock) do
    case Map.get(stock, sku, 0) do
      units when units >= quantity ->
        {:reply, {:ok, units - quantity}, Map.put(stock, sku, units - quantity)}

      _units ->
        {:reply, {:error, :out_of_stock}, stock}
    end
  end

  def handle_call({:available, sku}, _from, stock), do: {:reply, Map.get(stock, sku, 0), stock}
end
