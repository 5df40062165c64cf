defmodule Shop.Application do
  @moduledoc "Starts the inventory and a task supervisor for pricing work."
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      {Shop.Inventory, Shop.Catalog.initial_stock()},
      {Task.Supervisor, name: Shop.TaskSupervisor}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Shop.Supervisor)
  end
end
