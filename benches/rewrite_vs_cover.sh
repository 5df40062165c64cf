#!/usr/bin/env bash
# Side by side, in one run, like for like: `elixir-scope instrument --strategy all` (every
# function of every module wrapped) against OTP's `cover:compile_beam_directory/1` (every line of
# every module instrumented), each on a fresh copy of the installed Elixir's `elixir`
# application (253 beams). Both recompile every module from its debug info. The balanced plan
# (`--strategy balanced`, the default: public functions and callbacks, about 40% of the
# functions here) is timed as a row of its own.
#
# Every figure is the wall time of the whole process (the shell's clock around it: `erl`'s
# start and stop included for cover, planning and helper start-up for instrument), the median
# of ROUNDS rounds; the order alternates between rounds (cover, all, balanced, then balanced,
# all, cover, ...). `--no-runtime`: cover installs nothing either. Each run is checked: cover
# must instrument every module, instrument must fail none.
#
# Usage: benches/rewrite_vs_cover.sh [ROUNDS]     (default 3; builds elixir-scope in release
#        mode first, unless ELIXIR_SCOPE names the binary to time)
# Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"

if [[ -z "${ELIXIR_SCOPE:-}" ]]; then
  cargo build --release --quiet -p elixir-scope
  ELIXIR_SCOPE="${CARGO_TARGET_DIR:-target}/release/elixir-scope"
fi
bin="$(readlink -f "$ELIXIR_SCOPE")"
ebin="$(dirname "$(readlink -f "$(command -v elixir)")")/../lib/elixir/ebin"
ebin="$(cd "$ebin" && pwd)"
cpus="$(nproc)"
beams="$(ls "$ebin"/*.beam | wc -l)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A fresh copy of the beams in $work/$1.
fresh() {
  rm -rf "${work:?}/$1"
  mkdir -p "$work/$1"
  cp "$ebin"/*.beam "$work/$1/"
}

# Runs "$@", appends its wall time in seconds to $work/$name.times (name: first argument).
timed() {
  local name="$1"
  shift
  local start="$EPOCHREALTIME"
  "$@"
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/$name.times"
}

cover() {
  erl -noshell -pa "$ebin" -eval '
    {ok, _} = cover:start(),
    Results = cover:compile_beam_directory("'"$work"'/cover"),
    Failed = [R || R <- Results, element(1, R) =/= ok],
    case Failed of
      [] -> halt(0);
      _ -> io:format(standard_error, "cover failed on ~p~n", [Failed]), halt(1)
    end.'
}

# instrument with a strategy, on the copy of the same name; fails the script if a beam failed.
instrument() {
  local summary
  summary="$("$bin" instrument "$work/$1" --strategy "$1" --no-cache --no-runtime --json)"
  grep -q '"failed":0,' <<<"$summary" || { echo "instrument --strategy $1 failed: ${summary:0:2000}" >&2; return 1; }
  sed -n 's/.*"wrapped_functions":\([0-9]*\).*/\1/p' <<<"$summary" >"$work/$1.wrapped"
}

run() {
  case "$1" in
    cover) fresh cover; timed cover cover ;;
    all | balanced) fresh "$1"; timed "$1" instrument "$1" ;;
  esac
}

for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=(cover all balanced); else order=(balanced all cover); fi
  for what in "${order[@]}"; do
    run "$what"
    echo "round $round: $what $(tail -n 1 "$work/$what.times") s" >&2
  done
done

median() { sort -n "$work/$1.times" | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cover_s="$(median cover)"
all_s="$(median all)"
balanced_s="$(median balanced)"
all_n="$(cat "$work/all.wrapped")"
balanced_n="$(cat "$work/balanced.wrapped")"
cat <<EOF
| $(date +%F), ${cpus} CPUs, ${beams} beams of Elixir's elixir app, median of ${rounds} | seconds | cover / this |
|---|---|---|
| \`cover:compile_beam_directory/1\`, every line (one VM, whole process) | ${cover_s} | 1.00 |
| \`elixir-scope instrument --strategy all\`, every function (${all_n} wrapped) | ${all_s} | $(ratio "$cover_s" "$all_s") |
| \`elixir-scope instrument --strategy balanced\` (${balanced_n} wrapped; not like for like) | ${balanced_s} | $(ratio "$cover_s" "$balanced_s") |
EOF
