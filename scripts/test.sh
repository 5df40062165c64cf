#!/usr/bin/env bash
# The test command: installs what is missing, then checks formatting, lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BROWSER=1 source scripts/setup.sh
build_nif
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast
