#!/usr/bin/env bash
# Side by side, in one run: `elixir-scope instrument` wrapping every function of the installed
# Elixir's `elixir` application, against OTP's `cover:compile_beam(Files)` on copies of the same
# files (cover also recompiles every module from its debug info, to count lines instead of
# reporting calls). Then a second `instrument` run, where nothing changed.
#
# Usage: benches/rewrite_vs_cover.sh            (builds elixir-scope in release mode first)
# Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p elixir-scope
bin="${CARGO_TARGET_DIR:-target}/release/elixir-scope"
ebin="$(dirname "$(readlink -f "$(command -v elixir)")")/../lib/elixir/ebin"
ebin="$(cd "$ebin" && pwd)"
cpus="$(nproc)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for copy in ours ours1 cover; do
  mkdir -p "$work/$copy"
  cp "$ebin"/*.beam "$work/$copy/"
done
beams="$(ls "$work/ours"/*.beam | wc -l)"

# Seconds, from the --json summary.
seconds() { sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' | awk '{ printf "%.2f", $1 }'; }

ours="$("$bin" instrument "$work/ours" --no-runtime --json | seconds)"
ours1="$("$bin" instrument "$work/ours1" --jobs 1 --no-runtime --json | seconds)"
cover="$(erl -noshell -pa "$ebin" -eval '
  Files = filelib:wildcard("'"$work"'/cover/*.beam"),
  {ok, _} = cover:start(),
  {Us, Results} = timer:tc(fun() -> cover:compile_beam(Files) end),
  Failed = [R || R <- Results, element(1, R) =/= ok],
  Failed =:= [] orelse io:format(standard_error, "cover failed on ~p~n", [Failed]),
  io:format("~.2f", [Us / 1.0e6]),
  halt().')"
again="$("$bin" instrument "$work/ours" --no-runtime --json | seconds)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<EOF
| $(date +%F), ${cpus} CPUs, ${beams} beams of Elixir's elixir app | seconds | cover / this |
|---|---|---|
| \`cover:compile_beam(Files)\` (one VM) | ${cover} | 1.00 |
| \`elixir-scope instrument\` (--jobs ${cpus}, the default) | ${ours} | $(ratio "$cover" "$ours") |
| \`elixir-scope instrument --jobs 1\` | ${ours1} | $(ratio "$cover" "$ours1") |
| second \`elixir-scope instrument\`, nothing changed | ${again} | |
EOF
