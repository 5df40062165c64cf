#!/usr/bin/env bash
# What recording a send to a pid of another node costs next to a send to a local pid
# (clusters, issue 18; figures: BENCHMARKS.md). Two -sname nodes on this machine, a private
# epmd; node a calls a wrapped `send1(P, M) -> P ! M, ok' and an unwrapped copy 200,000 times
# each, to a sink on a, to a sink on b by its name and by its pid, alternating, five rounds.
# Usage: benches/remote_send.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p elixir-scope
work="$(mktemp -d)"
export ERL_EPMD_PORT="${ERL_EPMD_PORT:-45123}"
cleanup() {
  if [ -n "${b_pid:-}" ]; then
    kill "$b_pid" 2>/dev/null || true
    wait "$b_pid" 2>/dev/null || true
  fi
  # epmd refuses -kill while it still lists a node (it notices a closed socket a moment later).
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    epmd -port "$ERL_EPMD_PORT" -kill 2>/dev/null | grep -q "living nodes" || break
    sleep 0.2
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/project/ebin" "$work/plain"
for module in remote_send_plain remote_send_wrapped; do
  printf -- '-module(%s).\n-export([send1/2]).\nsend1(P, M) -> P ! M, ok.\n' "$module" \
    > "$work/$module.erl"
done
erlc +debug_info -o "$work/project/ebin" "$work/remote_send_wrapped.erl"
erlc -o "$work/plain" "$work/remote_send_plain.erl" benches/remote_send_bench.erl
(cd "$work/project" && "$OLDPWD/$target/release/elixir-scope" instrument --strategy all \
  --no-cache ebin >/dev/null)
cd "$work/project"
erl -noshell -sname remote_send_b -setcookie remote_send -pa ebin -pa ../plain &
b_pid=$!
sleep 2
erl -noshell -sname remote_send_a -setcookie remote_send -pa ebin -pa ../plain -eval '
  [_, Host] = string:split(atom_to_list(node()), "@"),
  B = list_to_atom("remote_send_b@" ++ Host),
  pong = net_adm:ping(B),
  ok = remote_send_bench:run(B),
  halt().'
