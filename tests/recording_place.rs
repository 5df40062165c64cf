//! Where a recording lands: in the project `elixir-scope instrument` ran for, whatever the
//! working directory of the VM that records (Common Test runs suites in its log directories,
//! an umbrella runs each app's tests in the app's directory), unless `ELIXIR_SCOPE_DB` names a
//! place; and the query commands find it from anywhere in the project.

use std::path::Path;
use std::process::{Command, Output};

use support::{elixir_scope_bin, erl, executable};

/// A project with `elixir_scope.toml` and one instrumented Erlang module, `place:go/1`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    std::fs::write(
        root.join("elixir_scope.toml"),
        "[plan]\nstrategy = \"all\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("ebin")).unwrap();
    std::fs::create_dir_all(root.join("logs/ct_run.1")).unwrap();
    std::fs::write(
        root.join("place.erl"),
        "-module(place).\n-export([go/1]).\ngo(X) -> {went, X}.\n",
    )
    .unwrap();
    let erlc = Command::new(executable("erlc", "erlang-nox"))
        .args(["+debug_info", "-o", "ebin", "place.erl"])
        .current_dir(root)
        .output()
        .expect("running erlc");
    assert!(erlc.status.success(), "{erlc:?}");
    let instrument = run(Command::new(elixir_scope_bin())
        .args(["instrument", "ebin"])
        .current_dir(root));
    assert!(instrument.status.success(), "{instrument:?}");
    dir
}

fn run(command: &mut Command) -> Output {
    command
        .env_remove("ELIXIR_SCOPE_DB")
        .env_remove("ELIXIR_SCOPE_NIF")
        .output()
        .expect("running a command")
}

/// Calls `place:go(1)` in a VM whose working directory is `cwd`.
fn record(root: &Path, cwd: &Path, db_env: Option<&str>) {
    let mut command = Command::new(erl());
    command
        .arg("-noshell")
        .arg("-pa")
        .arg(root.join("ebin"))
        .args(["-eval", "{went, 1} = place:go(1), halt()."])
        .current_dir(cwd);
    let output = match db_env {
        Some(db) => command
            .env_remove("ELIXIR_SCOPE_NIF")
            .env("ELIXIR_SCOPE_DB", db)
            .output()
            .expect("running erl"),
        None => run(&mut command),
    };
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn a_vm_elsewhere_records_into_the_project_and_queries_find_it_from_anywhere_in_it() {
    let dir = project();
    let root = dir.path();
    let logs = root.join("logs/ct_run.1");
    record(root, &logs, None);
    assert!(root.join(".elixir_scope/runs/1/run").is_file());
    assert!(!logs.join(".elixir_scope").exists());
    // From a directory of the project (elixir_scope.toml is found upwards).
    let calls = run(Command::new(elixir_scope_bin())
        .args(["calls", "--json"])
        .current_dir(&logs));
    assert!(calls.status.success(), "{calls:?}");
    let text = String::from_utf8_lossy(&calls.stdout);
    assert!(text.contains("place:go(1)"), "{text}");
}

#[test]
fn elixir_scope_db_still_names_the_place() {
    let dir = project();
    let root = dir.path();
    let logs = root.join("logs/ct_run.1");
    record(root, &logs, Some("here"));
    assert!(logs.join("here/runs/1/run").is_file());
    assert!(!root.join(".elixir_scope/runs").exists());
}

#[test]
fn a_project_that_is_not_there_leaves_the_working_directory() {
    let dir = project();
    let root = dir.path();
    // The beams moved to a machine (here: a directory) without the project.
    let moved = tempfile::tempdir().unwrap();
    let ebin = moved.path().join("ebin");
    std::fs::create_dir_all(&ebin).unwrap();
    for entry in std::fs::read_dir(root.join("ebin")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, ebin.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        ebin.join("elixir_scope_runtime.config"),
        std::fs::read_to_string(root.join("ebin/elixir_scope_runtime.config"))
            .unwrap()
            .replace(root.to_str().unwrap(), "/nonexistent/project"),
    )
    .unwrap();
    record(moved.path(), moved.path(), None);
    assert!(moved.path().join(".elixir_scope/runs/1/run").is_file());
}
