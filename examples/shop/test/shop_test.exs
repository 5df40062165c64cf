defmodule ShopTest do
  use ExUnit.Case
  doctest Money

  test "an order with a valid card is paid and reserves stock" do
    before = Shop.Inventory.available("cup")
    assert {:ok, total} = Shop.Checkout.place(%{card: "4539 1488 0343 6467", lines: [{"cup", 2}]})
    assert Money.to_string(total) == "24.00 EUR"
    assert Shop.Inventory.available("cup") == before - 2
  end

  test "a bad card raises" do
    assert_raise Shop.PaymentError, ~r/failed the Luhn check/, fn ->
      Shop.Checkout.place(%{card: "1234 5678", lines: [{"tea", 1}]})
    end
  end

  test "bundles make baskets cheaper" do
    assert Shop.Bundles.best_total(["tea", "cup", "pot"]) < 450 + 1200 + 3500
    assert Shop.Bundles.best_total(["mat"]) == 800
  end

  test "the category tree is walked recursively" do
    assert Shop.Catalog.skus_in("Kitchen") == ["cup", "pot", "mat"]
    assert Shop.Catalog.skus_in("Nowhere") == []
  end

  test "luhn is an Erlang dependency" do
    assert :luhn.valid("79927398713")
    refute :luhn.valid("79927398710")
    assert :luhn.check_digit("7992739871") == 3
  end
end
