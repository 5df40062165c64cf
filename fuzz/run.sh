#!/usr/bin/env bash
# Runs a fuzz target for a while, seeded from the installed Elixir and OTP:
#   fuzz/run.sh beam_container 600
#   fuzz/run.sh etf_decode 600
# Needs a nightly toolchain (rustup toolchain install nightly) and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh beam_container|etf_decode SECONDS}
seconds=${2:-300}
corpus=corpus/$target
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ]; then
  case "$target" in
    beam_container)
      elixir_lib="$(dirname "$(readlink -f "$(command -v elixir)")")/../lib"
      cp "$elixir_lib"/elixir/ebin/Elixir.{Map,Keyword,Enum}.beam "$corpus"/
      cp "$(erl -noshell -eval 'io:format("~s", [code:which(lists)]), halt().')" "$corpus"/
      # A gzip-compressed beam too.
      erl -noshell -eval '{ok, B} = file:read_file(code:which(lists)),
        ok = file:write_file("'"$corpus"'/lists.beam.gz", zlib:gzip(B)), halt().'
      ;;
    etf_decode)
      erl -noshell -eval '
        Terms = [{a, [1, 2.5, <<"bin">>, <<1:3>>, self(), make_ref(), #{k => v}]},
                 fun lists:map/2, fun(X) -> X end, 1 bsl 100, "string", [a | b],
                 {debug_info_v1, erl_abstract_code, {[{attribute, 1, module, m}], []}}],
        lists:foldl(fun(T, N) ->
            ok = file:write_file(io_lib:format("'"$corpus"'/~b", [N]), term_to_binary(T)),
            ok = file:write_file(io_lib:format("'"$corpus"'/~bc", [N]),
                                 term_to_binary(T, [compressed])),
            N + 1
          end, 0, Terms),
        halt().'
      ;;
  esac
fi
cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=4096
