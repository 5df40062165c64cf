//! Shared by the rewriter's integration tests: the fixture Mix project (copied to a temporary
//! directory, never built in the source tree), the test runtime, and running
//! `elixir-scope instrument`/`restore`.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{elixir_scope_bin, executable};
use tempfile::TempDir;

/// The fixture's source, in the repository.
pub fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scope_fixture")
}

/// Copies a project's sources, leaving build products behind.
pub use support::copy_sources;

/// Every `.beam` under `dir` (recursively) with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading a directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "beam") {
                let bytes = std::fs::read(&path).expect("reading a beam");
                files.insert(path, bytes);
            }
        }
    }
    files
}

/// The test runtime (`tests/fixtures/test_runtime`), the behaviour it implements
/// (`elixir_scope_contract`), `elixir_scope_stacktrace` and the default gate
/// `elixir_scope_gate`, compiled.
pub struct TestRuntime {
    dir: TempDir,
}

impl TestRuntime {
    /// Compiles the four modules with `erlc` into a temporary directory (the behaviour first,
    /// and on the code path, so that `erlc` checks the runtime against it).
    pub fn compiled() -> TestRuntime {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = [
            root.join("../runtime_nif/erlang/elixir_scope_contract.erl"),
            root.join("fixtures/test_runtime/elixir_scope_runtime.erl"),
            root.join("../runtime_nif/erlang/elixir_scope_stacktrace.erl"),
            root.join("../runtime_nif/erlang/elixir_scope_gate.erl"),
        ];
        let output = Command::new(executable("erlc", "erlang-nox"))
            .args(["+warnings_as_errors", "-pa"])
            .arg(dir.path())
            .arg("-o")
            .arg(dir.path())
            .args(&sources)
            .output()
            .expect("running erlc");
        assert!(
            output.status.success(),
            "erlc failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        TestRuntime { dir }
    }

    /// The directory holding the compiled runtime.
    pub fn ebin(&self) -> &Path {
        self.dir.path()
    }
}

/// A copy of the fixture project, compiled with `MIX_ENV=test`.
pub struct Fixture {
    dir: TempDir,
}

/// What a run of the fixture's suite left behind.
pub struct Suite {
    /// Everything `mix test` printed.
    pub output: String,
    /// What the tests observed (`name<TAB>inspected term`), sorted.
    pub observations: Vec<String>,
}

impl Fixture {
    /// Copies the fixture to a temporary directory and compiles it.
    pub fn compiled() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        copy_sources(&fixture_source(), dir.path());
        let fixture = Fixture { dir };
        let output = fixture.mix(&["compile"], &[], "");
        assert!(output.0, "mix compile failed:\n{}", output.1);
        fixture
    }

    /// The project's root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `_build/test`.
    pub fn build(&self) -> PathBuf {
        self.root().join("_build/test")
    }

    /// The application's `ebin`.
    pub fn ebin(&self) -> PathBuf {
        self.build().join("lib/scope_fixture/ebin")
    }

    /// Runs `mix test` with `code_paths` first in the code path and `env` set; panics with
    /// the output if the suite fails.
    pub fn run_suite(&self, code_paths: &[&Path], env: &[(&str, &str)]) -> Suite {
        let observations = self.root().join(format!(
            "observations-{}.txt",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let mut env: Vec<(&str, &str)> = env.to_vec();
        let observations_text = observations.display().to_string();
        env.push(("FIXTURE_OBSERVATIONS", &observations_text));
        // Later -pa directories come first in the code path; ERL_FLAGS come after the
        // `elixir` script's own -pa flags, so these win over Elixir's ebin.
        let flags: Vec<String> = code_paths
            .iter()
            .map(|p| format!("-pa {}", p.display()))
            .collect();
        let (ok, output) = self.mix(&["test", "--seed", "0"], &env, &flags.join(" "));
        assert!(ok, "the fixture's suite failed (env {env:?}):\n{output}");
        let text = std::fs::read_to_string(&observations).unwrap_or_default();
        let mut observations: Vec<String> = text.lines().map(str::to_string).collect();
        observations.sort();
        Suite {
            output,
            observations,
        }
    }

    fn mix(&self, args: &[&str], env: &[(&str, &str)], erl_flags: &str) -> (bool, String) {
        let output = Command::new(executable("mix", "elixir"))
            .args(args)
            .current_dir(self.root())
            .env("MIX_ENV", "test")
            .env("ERL_FLAGS", erl_flags)
            .envs(env.iter().copied())
            .output()
            .expect("running mix");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }
}

/// Runs `elixir-scope` with `args`; returns (success, stdout, stderr).
///
/// `instrument` gets `--no-runtime`: these tests record with the test runtime
/// (`tests/fixtures/test_runtime`), which the real one must not shadow.
pub fn elixir_scope(args: &[&str]) -> (bool, String, String) {
    let no_runtime: &[&str] = if args.first() == Some(&"instrument") {
        &["--no-runtime"]
    } else {
        &[]
    };
    let output = Command::new(elixir_scope_bin())
        .args(args)
        .args(no_runtime)
        .output()
        .expect("running elixir-scope");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `elixir-scope <command> ... --json`, asserts it succeeded, returns the JSON summary.
pub fn run_json(command: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec![command];
    all.extend_from_slice(args);
    all.push("--json");
    let (ok, stdout, stderr) = elixir_scope(&all);
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{command} printed no JSON ({e}):\n{stdout}\n{stderr}"));
    assert!(
        ok,
        "{command} failed:\n{}\n{stderr}",
        failures(&json).join("\n")
    );
    json
}

/// The errors of the failed files of a summary.
pub fn failures(json: &serde_json::Value) -> Vec<String> {
    files(json)
        .iter()
        .filter(|f| f["outcome"] == "failed")
        .map(|f| f["error"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The per-file reports of a summary.
pub fn files(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["files"].as_array().cloned().unwrap_or_default()
}

/// The report of the file of `module`.
pub fn file_of(json: &serde_json::Value, module: &str) -> serde_json::Value {
    files(json)
        .into_iter()
        .find(|f| f["module"] == module)
        .unwrap_or_else(|| panic!("no report for {module}"))
}

/// A count from the totals of a summary.
pub fn total(json: &serde_json::Value, key: &str) -> u64 {
    json["totals"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no total {key} in {}", json["totals"]))
}
