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
  [ -n "${b_pid:-}" ] && kill "$b_pid" 2>/dev/null || true
  epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
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
