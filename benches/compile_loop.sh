#!/usr/bin/env bash
# What `mix compile` with the alias costs in the edit-compile loop: the whole
# `elixir-scope instrument _build/dev` process (planning, rewriting, the runtime's install
# check), wall time by the shell's clock, median of RUNS runs:
#
# 1. nothing changed, the demo (examples/shop with its path dependencies, copied to a temporary
#    directory and built there; its elixir_scope.toml: strategy all, every application);
# 2. nothing changed, the `elixir` application (the installed Elixir's 253 beams as the only
#    application of a Mix build directory, `_build/dev/lib/elixir/ebin`; default settings);
# 3. one module changed in a small project (`mix new`, three modules, default settings): the
#    module is edited and recompiled with plain `mix compile` before each run, so each run
#    rewrites that one beam: the instrument step of the alias.
#
# Usage: benches/compile_loop.sh [RUNS]     (default 5; builds elixir-scope in release mode
#        first, unless ELIXIR_SCOPE names the binary to time)
# Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
examples="$(pwd)/examples"

if [[ -z "${ELIXIR_SCOPE:-}" ]]; then
  cargo build --release --quiet -p elixir-scope
  ELIXIR_SCOPE="${CARGO_TARGET_DIR:-target}/release/elixir-scope"
fi
bin="$(readlink -f "$ELIXIR_SCOPE")"
ebin="$(dirname "$(readlink -f "$(command -v elixir)")")/../lib/elixir/ebin"
ebin="$(cd "$ebin" && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export MIX_ENV=dev
mkdir "$work/bin" # the demo's alias runs `elixir-scope` from PATH
ln -s "$bin" "$work/bin/elixir-scope"
export PATH="$work/bin:$PATH"

# Runs "$@" (quietly), appends its wall time in seconds to $work/$name.times.
timed() {
  local name="$1"
  shift
  local start="$EPOCHREALTIME"
  "$@" >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; return 1; }
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/$name.times"
}
median() { sort -n "$work/$1.times" | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }

# 1. The demo, built, then instrumented once (its alias instruments only where the Mix
#    archive is installed).
cp -r "$examples/shop" "$examples/money" "$examples/luhn" "$work/"
(cd "$work/shop" && mix compile >/dev/null && "$bin" instrument _build/dev >/dev/null)

# 2. The elixir application in a Mix build directory, instrumented once.
mkdir -p "$work/elixir_app/_build/dev/lib/elixir"
cp -r "$ebin" "$work/elixir_app/_build/dev/lib/elixir/"
(cd "$work/elixir_app" && "$bin" instrument _build/dev >/dev/null)

# 3. A small project: `mix new` and two more modules, built plain, then instrumented once.
(cd "$work" && mix new small >/dev/null)
mkdir -p "$work/small/lib/small"
cat >"$work/small/lib/small/cart.ex" <<'EOF'
defmodule Small.Cart do
  def new, do: %{items: [], total: 0}
  def add(cart, item, price), do: %{cart | items: [item | cart.items], total: cart.total + price}
  def total(%{total: total}), do: total
end
EOF
cat >"$work/small/lib/small/price.ex" <<'EOF'
defmodule Small.Price do
  def with_tax(amount, rate \\ 20), do: amount + div(amount * rate, 100)
  def format(amount), do: "#{div(amount, 100)}.#{rem(amount, 100)}"
end
EOF
(cd "$work/small" && mix compile >/dev/null && "$bin" instrument _build/dev >/dev/null)

for ((run = 1; run <= runs; run++)); do
  (cd "$work/shop" && timed demo "$bin" instrument _build/dev)
  grep -q "nothing changed" "$work/last.out" || { cat "$work/last.out" >&2; exit 1; }
  (cd "$work/elixir_app" && timed elixir "$bin" instrument _build/dev)
  (
    cd "$work/small"
    sleep 1 # Mix compares modification times in seconds
    printf 'defmodule Small do\n  def hello, do: :world\n  def edits, do: %d\nend\n' "$run" >lib/small.ex
    mix compile >/dev/null
    timed small "$bin" instrument _build/dev
  )
  grep -q "rewritten      1 " "$work/last.out" || { cat "$work/last.out" >&2; exit 1; }
  echo "run $run: demo $(tail -n 1 "$work/demo.times") s, elixir $(tail -n 1 "$work/elixir.times") s, small $(tail -n 1 "$work/small.times") s" >&2
done

cat <<EOF
| $(date +%F), $(nproc) CPUs, whole \`elixir-scope instrument _build/dev\` process, median of ${runs} | seconds | target |
|---|---|---|
| nothing changed: the demo (examples/shop, 3 applications) | $(median demo) | 0.5 |
| nothing changed: Elixir's \`elixir\` application (253 beams) | $(median elixir) | 1 |
| one module changed: a \`mix new\` project of three modules | $(median small) | 0.5 |
EOF
