//! Copies of Elixir's Enum, Map, Keyword, List and String and of the whole eex application,
//! with every function wrapped and put ahead of the originals in the code path, run the
//! fixture's suite (itself fully wrapped) green, and the tests observe what they observe on the
//! plain build. Mix, ExUnit and the compiler run on the wrapped copies too.

mod rewrite_support;

use rewrite_support::{run_json, total, Fixture, TestRuntime};
use support::elixir_lib;

#[test]
fn wrapped_copies_of_the_standard_library_run_the_fixture_suite() {
    let elixir = elixir_lib();
    let copies = tempfile::tempdir().unwrap();
    for module in ["Enum", "Map", "Keyword", "List", "String"] {
        let name = format!("Elixir.{module}.beam");
        std::fs::copy(
            elixir.join("elixir/ebin").join(&name),
            copies.path().join(&name),
        )
        .unwrap();
    }
    let mut eex = 0;
    for entry in std::fs::read_dir(elixir.join("eex/ebin")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "beam") {
            std::fs::copy(&path, copies.path().join(path.file_name().unwrap())).unwrap();
            eex += 1;
        }
    }
    let report = run_json(
        "instrument",
        &[copies.path().to_str().unwrap(), "--strategy", "all"],
    );
    assert_eq!(total(&report, "rewritten"), 5 + eex);
    assert!(total(&report, "wrapped_functions") > 500);

    let fixture = Fixture::compiled();
    let runtime = TestRuntime::compiled();
    let plain = fixture.run_suite(&[runtime.ebin()], &[]);
    run_json(
        "instrument",
        &[fixture.build().to_str().unwrap(), "--strategy", "all"],
    );
    let wrapped = fixture.run_suite(
        &[runtime.ebin(), copies.path()],
        &[("FIXTURE_WRAPPED", "1"), ("FIXTURE_STDLIB_WRAPPED", "1")],
    );
    assert_eq!(plain.observations, wrapped.observations);
}
