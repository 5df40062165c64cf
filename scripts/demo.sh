#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds ElixirScope in release
# mode, then records the bundled demo (examples/shop with its dependencies money, in Elixir,
# and luhn, in Erlang) the way a user would, and shows what it recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
source scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building elixir-scope (release)"
build_nif
cargo build --release -p elixir-scope
export PATH="$root/target/release:$PATH"

step "elixir-scope mix-archive --install (the Mix task elixir_scope.instrument, no hex package)"
elixir-scope mix-archive --install --output target

cd examples/shop
rm -rf _build .elixir_scope

step "mix compile (the alias in mix.exs runs elixir_scope.instrument after it)"
mix compile

step "mix run -e Shop.Scenario.run (recording)"
mix run -e Shop.Scenario.run

step "elixir-scope stats"
elixir-scope stats

step "elixir-scope calls --exceptions"
elixir-scope calls --exceptions

failed=$(elixir-scope calls --exceptions --json --limit 1 \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
step "elixir-scope trace $failed (the order that was refused, as ElixirScope.show_trace($failed) shows it in IEx)"
elixir-scope trace "$failed"

first=$(elixir-scope calls --module Shop.Checkout --function place --json --limit 10 \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
step "elixir-scope trace $first (the first order)"
elixir-scope trace "$first"

step "elixir-scope export --format chrome -o examples/shop/shop-trace.json"
elixir-scope export --format chrome -o shop-trace.json
echo "open $root/examples/shop/shop-trace.json in https://ui.perfetto.dev or chrome://tracing"

step "Next"
cat <<TXT
Explore the recording from IEx while the system runs:
  export PATH="$root/target/release:\$PATH"
  cd $root/examples/shop && iex -S mix
  iex> Shop.Scenario.run()
  iex> ElixirScope.calls(module: Shop.Checkout)
  iex> ElixirScope.show_trace(id)
TXT
