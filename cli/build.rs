//! Builds the runtime NIF (`runtime_nif/`, a cdylib) so that the `elixir-scope` binary can
//! carry it: `elixir-scope instrument` installs it next to the beams it instruments, and
//! `cargo install --path cli` gives a self-contained tool.
//!
//! Cargo cannot depend on a cdylib as an artifact on stable, so this runs a nested
//! `cargo build --release -p elixir_scope_nif` in a target directory of its own (under
//! OUT_DIR, so the outer build's lock is not contended), and tells the crate where the library
//! is through `ELIXIR_SCOPE_NIF_LIBRARY`. The NIF is always built optimized, even for a debug
//! `elixir-scope`, and exactly as `cargo build --release -p elixir_scope_nif` builds it (same
//! profile, only stripped): it is the hot path of every recorded call.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("cli/ is inside the workspace");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out_dir.join("nif-target");

    // Every workspace crate the NIF is built from (`cargo tree -p elixir_scope_nif`): a change
    // to any of them must rebuild the library the binary carries.
    for input in [
        "runtime_nif",
        "store",
        "analysis",
        "term",
        "beam_rewrite",
        "settings",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args(["build", "--quiet", "--locked", "--release"])
        .args(["-p", "elixir_scope_nif", "--lib"])
        .arg("--target-dir")
        .arg(&target_dir)
        // The workspace's release profile as it is (thin LTO, one codegen unit, `debug = 1`):
        // turning debug info off changes the code LLVM emits (the bundled library was about
        // 40 ns per recorded call slower than target/release's with `debug = false`). The
        // debug info is stripped after linking instead, which leaves the code as it is, so that
        // the binary that carries the library stays small.
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    // The outer build's wrappers (clippy, coverage) and flags are not for this library.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .expect("running cargo to build the runtime NIF");
    assert!(
        status.success(),
        "building the runtime NIF (runtime_nif/) failed"
    );

    let library = target_dir.join("release").join(format!(
        "{}elixir_scope_nif{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    ));
    assert!(library.is_file(), "{} was not built", library.display());
    println!(
        "cargo:rustc-env=ELIXIR_SCOPE_NIF_LIBRARY={}",
        library.display()
    );
}
