#!/usr/bin/env bash
# Side-by-side BEAM benchmark of the runtime: builds the NIF in release mode, compiles the
# runtime, the wrapped fixture and the benchmark module, and prints from one run the ns per
# call of a tiny function unwrapped / wrapped and recording / wrapped and paused / traced by
# dbg, the ratios, the capture and drain rates, and the cost of huge arguments.
# Usage: benches/runtime_overhead.sh [steady|skeleton|checks|burst|args|attach|sends|nif|instructions|trickle]   (figures: BENCHMARKS.md)
#   steady: only the recorded, paused and plain calls, as percentiles of 101 short interleaved
#   rounds (steadier than the medians of seven long rounds when the machine is busy)
#   skeleton: what the wrapper, the recorder and the runtime module cost with NIFs that do
#   nothing (the runtime not started): the floor under any recording this contract does
#   checks: what a paused wrapper's check costs, for each way a wrapper could ask
#   burst: how long until a 1,000,000-call burst is queryable, recorded (default settings)
#   and traced into ETS (run by default too)
#   args: only the real-arguments comparison (f(X) -> X + 1 and g(Map, List) against dbg),
#   which the default run also prints last
#   attach: attach (elixir_scope_attach, issue 19) against the rewritten path and dbg on the
#   real-arguments workload, in the caller and until stored, the rewritten path while attach
#   shares trees, attach with its module paused, with ratios (run by default too)
#   sends: what recording a send costs next to recording a call (a function that sends, and
#   one that does not, unwrapped, recording and paused), and the events each records (run by
#   default too)
#   nif: the NIF library `elixir-scope instrument` installs against target/release's, five
#   pairs of VMs alternating (recording overhead of f, 10th percentile of each VM, lowest)
#   instructions: instructions per enter/5 and per call_return/3 (callgrind, so exact and the
#   same from run to run, where timings on these machines move by 10 %), with [1, 2] and with
#   real_args' [Map, List]: a change to the hot path shows here first (needs valgrind)
#   trickle: the CPU the drain's threads take while a VM records a trickle of calls (about
#   2,500 and 25,000 a second), in ms per second
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
# Built on its own, as bundle/build.rs builds the library it bundles (building it together with
# the CLI would unify the dependencies' features across both).
cargo build --quiet --release -p elixir_scope_nif
cargo build --quiet --release -p elixir-scope
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
erlc -pa "$work" -o "$work" runtime_nif/erlang/elixir_scope_contract.erl runtime_nif/erlang/*.erl tests/fixtures/runtime_fixture.erl benches/runtime_bench.erl \
  benches/runtime_checks.erl benches/runtime_checks_gate.erl
for module in runtime_bench_plain runtime_bench_wrapped; do
  cp benches/runtime_bench_target.erl "$work/$module.erl"
  erlc +debug_info "-DMODULE_NAME=$module" -o "$work" "$work/$module.erl"
done
"$target/release/elixir-scope" instrument "$work/runtime_bench_wrapped.beam" >/dev/null
# instrument installed the bundled library next to the beams; the benchmarks use the release one.
mv "$work/libelixir_scope_nif.so" "$work/bundled_nif.so"
cp "$target/release/libelixir_scope_nif.so" "$work/release_nif.so"
cp "$target/release/libelixir_scope_nif.so" "$work/"
cd "$work"
# The library instrument installs against target/release's, five pairs of VMs alternating.
compare_libraries() {
  local bundled=() release=() pair b r
  for pair in 1 2 3 4 5; do
    bundled+=("$(ELIXIR_SCOPE_NIF="$work/bundled_nif.so" ELIXIR_SCOPE_DB="$work/b$pair" \
      erl -noshell -pa "$work" -eval 'runtime_bench:library().')")
    release+=("$(ELIXIR_SCOPE_NIF="$work/release_nif.so" ELIXIR_SCOPE_DB="$work/r$pair" \
      erl -noshell -pa "$work" -eval 'runtime_bench:library().')")
  done
  # The lowest of each side: other work on the machine only ever adds time.
  b="$(printf '%s\n' "${bundled[@]}" | sort -n | sed -n 1p)"
  r="$(printf '%s\n' "${release[@]}" | sort -n | sed -n 1p)"
  echo "recording overhead of f(X) -> X + 1, ns, lowest of 5 VMs each (10th percentiles:"
  echo "bundled ${bundled[*]}; release ${release[*]})"
  echo "  bundled NIF library          $b"
  echo "  target/release NIF library   $r"
  echo "  bundled / release NIF        $(awk -v b="$b" -v r="$r" 'BEGIN { printf "%.3f", b / r }')"
}
# Instructions per NIF call, counted by callgrind (inclusive: the call and all it calls) over
# 20,000 pairs plus the 1,000 warm-up pairs.
count_instructions() {
  if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "instructions: needs valgrind and callgrind_annotate (apt-get install -y valgrind)" >&2
    exit 1
  fi
  local which out calls=21000
  echo "instructions per NIF call (callgrind, inclusive, 21,000 pairs)"
  for which in small real; do
    ELIXIR_SCOPE_DB="$work/cg_$which" valgrind --tool=callgrind --trace-children=yes \
      --smc-check=all --callgrind-out-file="$work/callgrind.$which.%p" \
      erl +S 1:1 -noshell -pa "$work" -run runtime_bench nif_calls "$which" 20000 \
      >"$work/callgrind.$which.log" 2>&1
    # The VM's process writes the largest profile (erl's wrappers exec into it).
    out="$(ls -S "$work"/callgrind."$which".[0-9]* | head -1)"
    callgrind_annotate --inclusive=yes --show-percs=no "$out" 2>/dev/null \
      | awk -v which="$which" -v calls="$calls" '
          / \[.*libelixir_scope_nif/ && /:elixir_scope_nif::hot::(enter|call_return) \[/ {
            count = $1; gsub(",", "", count)
            name = $0; sub(/.*::hot::/, "", name); sub(/ .*/, "", name)
            printf "  %-12s %-12s %6.0f\n", name, which == "small" ? "[1, 2]" : "[Map, List]", count / calls
          }'
  done
}
if [ "${1:-}" = instructions ]; then
  count_instructions
  exit 0
fi
if [ "${1:-}" = nif ]; then
  compare_libraries
  exit 0
fi
if [ "${1:-}" = checks ]; then
  erl -noshell -pa "$work" -eval 'runtime_checks:run().'
  exit 0
fi
if [ "${1:-}" = skeleton ]; then
  erl -noshell -pa "$work" -run runtime_bench skeleton "$work/libelixir_scope_nif"
  exit 0
fi
if [ "${1:-}" = args ]; then
  ELIXIR_SCOPE_DB="$work/args" erl -noshell -pa "$work" -eval 'runtime_bench:real_args().'
  exit 0
fi
if [ "${1:-}" = attach ]; then
  ELIXIR_SCOPE_DB="$work/attach" erl -noshell -pa "$work" -eval 'runtime_bench:attach().'
  exit 0
fi
if [ "${1:-}" = sends ]; then
  ELIXIR_SCOPE_DB="$work/sends" erl -noshell -pa "$work" -eval 'runtime_bench:sends().'
  exit 0
fi
if [ "${1:-}" = trickle ]; then
  ELIXIR_SCOPE_DB="$work/trickle" erl -noshell -pa "$work" -eval 'runtime_bench:trickle().'
  exit 0
fi
if [ "${1:-}" = steady ]; then
  ELIXIR_SCOPE_DB="$work/steady" erl -noshell -pa "$work" -eval 'runtime_bench:steady().'
  exit 0
fi
if [ "${1:-}" = burst ]; then
  ELIXIR_SCOPE_DB="$work/burst" erl -noshell -pa "$work" -eval 'runtime_bench:burst_to_query().'
  exit 0
fi
ELIXIR_SCOPE_DB="$work/bench" erl -noshell -pa "$work" -eval 'runtime_bench:run().'
ELIXIR_SCOPE_DB="$work/shared" erl -noshell -pa "$work" -eval 'runtime_bench:shared_lane().'
ELIXIR_SCOPE_DB="$work/burst" erl -noshell -pa "$work" -eval 'runtime_bench:burst_to_query().'
ELIXIR_SCOPE_DB="$work/args" erl -noshell -pa "$work" -eval 'runtime_bench:real_args().'
ELIXIR_SCOPE_DB="$work/attach" erl -noshell -pa "$work" -eval 'runtime_bench:attach().'
ELIXIR_SCOPE_DB="$work/sends" erl -noshell -pa "$work" -eval 'runtime_bench:sends().'
compare_libraries
