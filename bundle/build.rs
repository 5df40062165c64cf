//! Gives the `elixir-scope` binary the runtime NIF (`runtime_nif/`, a cdylib) to carry:
//! `elixir-scope instrument` installs it next to the beams it instruments, and `cargo install
//! --path cli` gives a self-contained tool. The crate reads the library's path from
//! `ELIXIR_SCOPE_NIF_LIBRARY` (`include_bytes!`).
//!
//! Cargo cannot depend on a cdylib as an artifact on stable. So:
//!
//! - **The workspace's own build** (what `scripts/demo.sh`, `scripts/test.sh` and the README do):
//!   `cargo build --release -p elixir_scope_nif` first, then any build of this crate with
//!   `ELIXIR_SCOPE_BUNDLE_NIF=target/release/libelixir_scope_nif.so`: the binary carries that very
//!   library (the release NIF, stripped of its debug info: the code is the same), and nothing
//!   is compiled twice. A library older than any Rust source it is built from is refused, so
//!   a forgotten rebuild is never bundled.
//! - **Without it** (a plain `cargo build` or `cargo install`): a nested `cargo build --release
//!   -p elixir_scope_nif` in a target directory of its own (under OUT_DIR, so the outer build's
//!   lock is not contended), exactly as the workspace's release profile builds it, stripped
//!   after linking.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Every workspace crate the NIF is built from (`cargo tree -p elixir_scope_nif`): a change to
/// any of them must give the binary a new library.
const INPUTS: [&str; 9] = [
    "runtime_nif",
    "etf_tag",
    "beam_format",
    "store",
    "analysis",
    "term",
    "settings",
    "Cargo.toml",
    "Cargo.lock",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("bundle/ is inside the workspace");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=ELIXIR_SCOPE_BUNDLE_NIF");
    let built = match env::var_os("ELIXIR_SCOPE_BUNDLE_NIF") {
        Some(built) => prebuilt(workspace, PathBuf::from(built)),
        None => nested_build(workspace, &out_dir),
    };
    built_from(&built);
    let library = without_debug_info(&built, &out_dir);
    println!(
        "cargo:rustc-env=ELIXIR_SCOPE_NIF_LIBRARY={}",
        library.display()
    );
}

/// Names the library as built (with its debug info) for the crate's tests, which check that
/// the bundled library holds its code.
fn built_from(library: &Path) {
    println!(
        "cargo:rustc-env=ELIXIR_SCOPE_NIF_SOURCE={}",
        library.display()
    );
}

/// The workspace's release NIF at `built`, checked to be newer than its sources.
fn prebuilt(workspace: &Path, built: PathBuf) -> PathBuf {
    println!("cargo:rerun-if-changed={}", built.display());
    let built_at = fs::metadata(&built)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "ELIXIR_SCOPE_BUNDLE_NIF={}: {e} (build it with `cargo build --release -p elixir_scope_nif`)",
                built.display()
            )
        });
    // The sources the library was built from, as Cargo lists them next to it (so a change to
    // a test or a benchmark, which Cargo rightly does not rebuild the library for, is not
    // taken for a stale library); without that list, every Rust source of its crates. Rust
    // sources only: a manifest or the lock file may change without the library being built
    // again (Cargo keeps a build whose inputs did not change).
    let sources = match dep_info(&built) {
        Some(sources) => sources,
        None => INPUTS
            .iter()
            .filter_map(|input| newest(&workspace.join(input)))
            .collect(),
    };
    if let Some((source, _)) = sources
        .into_iter()
        .max_by_key(|(_, time)| *time)
        .filter(|(_, time)| *time > built_at)
    {
        panic!(
            "ELIXIR_SCOPE_BUNDLE_NIF={} is older than {}: build it again with `cargo build --release -p \
             elixir_scope_nif`",
            built.display(),
            source.display()
        );
    }
    built
}

/// A copy of the library `built` in OUT_DIR without its debug info (the same code: the
/// binary that carries it stays small).
fn without_debug_info(built: &Path, out_dir: &Path) -> PathBuf {
    let library = out_dir.join(built.file_name().expect("a library file"));
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&library)
        .arg(built)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        // No `strip` here: the library as it is (larger, the same code).
        fs::copy(built, &library).unwrap_or_else(|e| {
            panic!("copying {} to {}: {e}", built.display(), library.display())
        });
    }
    library
}

/// The newest Rust source under `path` (itself when it is one), build output skipped.
fn newest(path: &Path) -> Option<(PathBuf, SystemTime)> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_file() {
        let built_from = path.extension().is_some_and(|e| e == "rs");
        return built_from.then_some((path.to_path_buf(), meta.modified().ok()?));
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != "target")
        .filter_map(|entry| newest(&entry.path()))
        .max_by_key(|(_, time)| *time)
}

/// The Rust sources Cargo built `library` from, with their modification times, read from the
/// dep-info file Cargo writes next to it (`libelixir_scope_nif.d`: `target: source source ...`,
/// spaces in paths escaped); `None` without one. Sources that no longer exist are left out.
fn dep_info(library: &Path) -> Option<Vec<(PathBuf, SystemTime)>> {
    let text = fs::read_to_string(library.with_extension("d"))
        .ok()?
        .replace("\\\n", " ");
    let (_, sources) = text.split_once(": ")?;
    Some(
        sources
            .replace("\\ ", "\0")
            .split_whitespace()
            .map(|path| PathBuf::from(path.replace('\0', " ")))
            .filter(|path| path.extension().is_some_and(|e| e == "rs"))
            .filter_map(|path| {
                let modified = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                Some((path, modified))
            })
            .collect(),
    )
}

/// Builds the NIF with a nested cargo in a target directory under OUT_DIR.
fn nested_build(workspace: &Path, out_dir: &Path) -> PathBuf {
    let target_dir = out_dir.join("nif-target");
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
        // 40 ns per recorded call slower than target/release's with `debug = false`); the
        // debug info is stripped after linking instead (`without_debug_info`).
        ;
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
    library
}
