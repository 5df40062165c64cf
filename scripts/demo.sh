#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds in release mode and runs
# ElixirScope on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --workspace
bin=target/release/elixir-scope
elixir_lib="$(dirname "$(readlink -f "$(command -v elixir)")")/../lib"
# Until the demo application lands, describe a few beams of the installed Elixir and OTP.
"$bin" inspect "$elixir_lib/elixir/ebin/Elixir.Enum.beam" \
  "$(erl -noshell -eval 'io:format("~s", [code:which(lists)]), halt().')"
