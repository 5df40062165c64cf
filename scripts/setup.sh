#!/usr/bin/env bash
# Installs what ElixirScope needs on a fresh Debian machine, if it is missing:
# Erlang/OTP and Elixir from Debian (`apt-get install -y erlang-nox erlang-dev erlang-src
# elixir`), and checks for Rust (cargo, via rustup). With SETUP_BROWSER=1 (the test command)
# also Chromium and its WebDriver, for the web UI's browser tests (tests/cinema_browser.rs).
set -euo pipefail

packages=(erlang-nox erlang-dev erlang-src elixir)
[ "${SETUP_BROWSER:-0}" = 1 ] && packages+=(chromium chromium-driver)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing from Debian: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: cargo not found; install Rust with rustup: https://rustup.rs" >&2
    exit 1
  fi
fi

# Builds the runtime NIF (release, on its own) and has every later build of elixir-scope carry
# that very library (bundle/build.rs reads ELIXIR_SCOPE_BUNDLE_NIF) instead of building it a second time
# in a nested cargo: one build of the NIF and its dependencies, and the bundled library is the
# release one. Run from the workspace's root.
build_nif() {
  cargo build --release --quiet -p elixir_scope_nif --lib
  local target="${CARGO_TARGET_DIR:-target}"
  case "$target" in
    /*) ;;
    *) target="$(pwd)/$target" ;;
  esac
  export ELIXIR_SCOPE_BUNDLE_NIF="$target/release/libelixir_scope_nif.so"
}
