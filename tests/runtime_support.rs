//! Shared by the runtime tests: builds the NIF library, compiles the runtime's Erlang modules
//! and the fixture into a temporary ebin, and runs VMs that record into a temporary store.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use support::executable;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The NIF library of this build (`cargo build -p elixir_scope_nif` in the tests' profile).
pub fn nif_library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/<test>");
            let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
            build.args(["build", "--quiet", "-p", "elixir_scope_nif"]);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build
                .current_dir(workspace())
                .status()
                .expect("running cargo build");
            assert!(status.success(), "building elixir_scope_nif failed");
            let lib = profile_dir.join("libelixir_scope_nif.so");
            assert!(lib.is_file(), "{lib:?} was not built");
            lib
        })
        .clone()
}

/// A temporary directory with the runtime and fixture beams, and a store path.
pub struct Vm {
    pub dir: tempfile::TempDir,
    pub ebin: PathBuf,
    pub db: PathBuf,
}

/// Compiles the runtime (`runtime_nif/erlang/*.erl`) and `tests/fixtures/runtime_fixture.erl`
/// into a fresh ebin; with `nif_next_to_beams`, copies the NIF library there too.
pub fn vm(nif_next_to_beams: bool) -> Vm {
    let dir = tempfile::tempdir().expect("temp dir");
    let ebin = dir.path().join("ebin");
    std::fs::create_dir_all(&ebin).expect("ebin");
    let root = workspace();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("runtime_nif/erlang"))
        .expect("runtime_nif/erlang")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "erl"))
        .collect();
    // The behaviour first, and the ebin on the code path: `erlc` checks the runtime against it.
    sources.sort_by_key(|p| !p.ends_with("elixir_scope_contract.erl"));
    sources.push(root.join("tests/fixtures/runtime_fixture.erl"));
    let output = Command::new(executable("erlc", "erlang-nox"))
        .arg("-pa")
        .arg(&ebin)
        .arg("-o")
        .arg(&ebin)
        .args(&sources)
        .output()
        .expect("running erlc");
    assert!(
        output.status.success(),
        "erlc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if nif_next_to_beams {
        std::fs::copy(nif_library(), ebin.join("libelixir_scope_nif.so")).expect("copy NIF");
    }
    let db = dir.path().join("store");
    Vm { dir, ebin, db }
}

impl Vm {
    /// The command running `code` in a VM that records into this store.
    pub fn command(&self, code: &str) -> Command {
        let mut cmd = Command::new(support::erl());
        cmd.arg("-noshell")
            .arg("-pa")
            .arg(&self.ebin)
            .args(["-eval", code])
            .env("ELIXIR_SCOPE_DB", &self.db)
            .env_remove("ELIXIR_SCOPE_NIF")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `code` to the end and returns stdout; panics with the output if the VM failed.
    pub fn eval(&self, code: &str) -> String {
        let output = self.command(code).output().expect("running erl");
        check(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts `code` with stdout piped.
    pub fn spawn(&self, code: &str) -> Child {
        self.command(code)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting erl")
    }

    /// Opens the store the VM wrote.
    pub fn store(&self) -> store::Store {
        store::Store::open(&self.db).expect("opening the store")
    }
}

/// Panics with the VM's output when it failed.
pub fn check(output: &Output) {
    assert!(
        output.status.success(),
        "erl failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Decodes a stored value.
pub fn term(bytes: &[u8]) -> eetf::Term {
    eetf::Term::decode(bytes).expect("stored values are valid ETF")
}

/// An Erlang term as text, for comparisons (`eetf`'s Display prints Erlang syntax).
pub fn text(bytes: &[u8]) -> String {
    term(bytes).to_string()
}
