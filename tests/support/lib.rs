//! Shared support for the integration tests: finding the toolchain, the beam corpus, and
//! running Erlang code in a fresh VM.
//!
//! Tests that need `erl` or `elixir` fail with a message naming the Debian package to install
//! when they are missing; they never skip silently.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What to install when the toolchain is missing.
pub const INSTALL_HINT: &str =
    "install Erlang/OTP and Elixir: apt-get install -y erlang-nox erlang-dev erlang-src elixir";

/// Path of an executable on PATH, or a panic that names the package providing it.
pub fn executable(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not on PATH: it comes with Debian's `{package}` package; {INSTALL_HINT}")
        })
}

/// The `erl` executable.
pub fn erl() -> PathBuf {
    executable("erl", "erlang-nox")
}

/// Evaluates Erlang expressions in a fresh VM (`erl -noshell -eval`), returning stdout.
/// Panics with the VM's output if it exits non-zero.
pub fn eval_erlang(code: &str, extra_args: &[&str]) -> String {
    let output = Command::new(erl())
        .args(extra_args)
        .args(["-noshell", "-eval", code])
        .output()
        .expect("running erl");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "erl failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// OTP's root directory (`code:root_dir()`).
pub fn otp_root() -> PathBuf {
    PathBuf::from(eval_erlang(
        "io:format(\"~s\", [code:root_dir()]), halt().",
        &[],
    ))
}

/// Elixir's `lib` directory, found from the `elixir` executable.
pub fn elixir_lib() -> PathBuf {
    let elixir = executable("elixir", "elixir");
    let real = std::fs::canonicalize(&elixir).unwrap_or(elixir);
    let lib = real
        .parent()
        .and_then(Path::parent)
        .map(|root| root.join("lib"))
        .filter(|lib| lib.join("elixir/ebin/elixir.app").is_file())
        .unwrap_or_else(|| panic!("cannot find Elixir's lib directory next to {real:?}"));
    lib
}

/// Every `.beam` under `ROOT/lib/*/ebin`, sorted.
pub fn beams_under(root: &Path) -> Vec<PathBuf> {
    let mut beams = Vec::new();
    for app in std::fs::read_dir(root.join("lib")).expect("reading lib directory") {
        let ebin = app.expect("reading lib entry").path().join("ebin");
        let Ok(entries) = std::fs::read_dir(&ebin) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("reading ebin entry").path();
            if path.extension().is_some_and(|e| e == "beam") {
                beams.push(path);
            }
        }
    }
    beams.sort();
    beams
}

/// Every beam of the installed Elixir and OTP.
pub fn installed_beams() -> Vec<PathBuf> {
    let elixir_root = elixir_lib().parent().expect("elixir root").to_path_buf();
    let mut beams = beams_under(&elixir_root);
    beams.extend(beams_under(&otp_root()));
    beams
}

/// Quotes a string as an Erlang string literal.
pub fn erlang_string(s: &str) -> String {
    format!("{s:?}")
}

/// The `elixir-scope` binary of this build, built first if needed (tests run in the workspace's
/// target directory, so it sits next to them: `target/<profile>/elixir-scope`).
pub fn elixir_scope_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/<test>");
            let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
            build.args([
                "build",
                "--quiet",
                "-p",
                "elixir-scope",
                "--bin",
                "elixir-scope",
            ]);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("running cargo build");
            assert!(status.success(), "building elixir-scope failed");
            let bin = profile_dir.join("elixir-scope");
            assert!(bin.is_file(), "{bin:?} was not built");
            bin
        })
        .clone()
}

/// What a build or a run leaves in a project, never its sources: `mix compile`'s `_build` and
/// `deps`, recordings and plans in `.elixir_scope`, `mix test --cover`'s `cover`. A test that
/// copies a project from `examples/` or `tests/fixtures/` leaves them behind, so that it sees
/// the sources whatever `scripts/demo.sh` (or a developer) did in the work tree.
pub const BUILD_PRODUCTS: [&str; 4] = ["_build", "deps", ".elixir_scope", "cover"];

/// Copies the sources of a project tree from `from` to `to`: every file, except the
/// directories named in [`BUILD_PRODUCTS`] (at any depth) and rewriter temporary files.
pub fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {to:?}: {e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {from:?}: {e}")) {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            if !BUILD_PRODUCTS.contains(&name.as_ref()) {
                copy_sources(&entry.path(), &target);
            }
        } else if !name.contains(".es-tmp") {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying {:?}: {e}", entry.path()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_take_sources_and_leave_build_products() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        for file in [
            "mix.exs",
            "lib/shop.ex",
            "_build/dev/lib/shop/ebin/shop.beam",
            "deps/money/mix.exs",
            ".elixir_scope/runs/1/info",
            "cover/index.html",
            "apps/a/_build/x.beam",
            "apps/a/lib/a.ex",
            "ebin/m.beam.es-tmp1234",
        ] {
            let path = from.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, file).unwrap();
        }
        copy_sources(from.path(), to.path());
        for kept in ["mix.exs", "lib/shop.ex", "apps/a/lib/a.ex"] {
            assert!(to.path().join(kept).is_file(), "{kept} was not copied");
        }
        for left in [
            "_build",
            "deps",
            ".elixir_scope",
            "cover",
            "apps/a/_build",
            "ebin/m.beam.es-tmp1234",
        ] {
            assert!(!to.path().join(left).exists(), "{left} was copied");
        }
    }
}
