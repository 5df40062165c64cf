//! The fixture Mix project (tests/fixtures/scope_fixture) rewritten with every function
//! wrapped: its ExUnit suite passes before and after, the test runtime sees every call, and the
//! tests observe the same results, exceptions and stack traces. Plans, re-runs and restore.

mod rewrite_support;

use std::collections::BTreeSet;

use beam_format::{Beam, Marker};
use rewrite_support::{file_of, files, run_json, snapshot, total, Fixture, TestRuntime};

/// The beams of the fixture and what the rewriter must leave unwrapped in them.
const MODULES: usize = 13;

#[test]
fn the_suite_passes_plain_and_fully_wrapped_and_sees_the_same() {
    let fixture = Fixture::compiled();
    let runtime = TestRuntime::compiled();
    let plain = fixture.run_suite(&[runtime.ebin()], &[]);
    assert!(
        plain.observations.len() >= 15,
        "the suite observed too little:\n{}",
        plain.output
    );

    let build = fixture.build();
    let report = run_json(
        "instrument",
        &[build.to_str().unwrap(), "--strategy", "all"],
    );
    assert_eq!(total(&report, "scanned"), MODULES as u64);
    assert_eq!(total(&report, "rewritten"), MODULES as u64);
    let skipped = |module: &str| -> BTreeSet<(String, String)> {
        file_of(&report, module)["skipped_functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let f = &s["function"];
                (
                    format!("{}/{}", f["name"].as_str().unwrap(), f["arity"]),
                    s["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |f: &str, r: &str| (f.to_string(), r.to_string());
    assert_eq!(
        skipped("Elixir.Fixture.OnLoad"),
        BTreeSet::from([
            pair("__info__/1", "compiler_generated"),
            pair("fast_native/1", "nif_stub"),
            pair("setup/0", "on_load"),
        ])
    );
    assert_eq!(
        skipped("Elixir.Fixture.Circle"),
        BTreeSet::from([
            pair("__info__/1", "compiler_generated"),
            pair("__struct__/0", "compiler_generated"),
            pair("__struct__/1", "compiler_generated"),
        ])
    );
    assert!(skipped("Elixir.Fixture.Describe").contains(&pair("impl_for/1", "compiler_generated")));
    assert!(skipped("fixture_erl").is_empty());
    for file in files(&report) {
        let beam = Beam::read(std::path::Path::new(file["path"].as_str().unwrap())).unwrap();
        let marker = Marker::find(&beam)
            .unwrap()
            .expect("every beam carries the marker");
        assert_eq!(
            marker.wrapped.len() as u64,
            file["wrapped"].as_u64().unwrap()
        );
    }

    let wrapped = fixture.run_suite(&[runtime.ebin()], &[("FIXTURE_WRAPPED", "1")]);
    assert_eq!(
        plain.observations, wrapped.observations,
        "the wrapped build behaves differently"
    );
}

#[test]
fn reruns_are_free_plans_change_from_the_originals_and_restore_is_exact() {
    let fixture = Fixture::compiled();
    let build = fixture.build();
    let build = build.to_str().unwrap();
    let originals = snapshot(&fixture.ebin());

    // Dry run: says what it would do, writes nothing.
    let dry = run_json("instrument", &[build, "--dry-run", "--strategy", "all"]);
    assert_eq!(total(&dry, "rewritten"), MODULES as u64);
    assert_eq!(snapshot(&fixture.ebin()), originals);

    let basics = run_json("instrument", &[build, "--include", "Fixture.Basics"]);
    assert_eq!(total(&basics, "rewritten"), 1);
    assert_eq!(total(&basics, "skipped"), MODULES as u64 - 1);
    assert_eq!(
        basics["totals"]["skip_reasons"]["not selected by the plan"],
        MODULES - 1
    );
    let again = run_json("instrument", &[build, "--include", "Fixture.Basics"]);
    assert_eq!(total(&again, "unchanged"), 1);
    assert_eq!(total(&again, "rewritten"), 0);

    // A new plan: Basics goes back to its original, Recursion gets one function wrapped, and
    // the Erlang module is selected in its own spelling.
    let changed = run_json(
        "instrument",
        &[
            build,
            "--include",
            "Fixture.Recursion.count/2",
            "--include",
            "fixture_erl:loop/*",
        ],
    );
    assert_eq!(
        file_of(&changed, "Elixir.Fixture.Basics")["outcome"],
        "restored"
    );
    assert_eq!(total(&changed, "rewritten"), 2);
    let basics_path = fixture.ebin().join("Elixir.Fixture.Basics.beam");
    assert_eq!(
        std::fs::read(&basics_path).unwrap(),
        originals[&basics_path],
        "a plan that drops a module puts its original back"
    );
    let recursion = Beam::read(&fixture.ebin().join("Elixir.Fixture.Recursion.beam")).unwrap();
    let marker = Marker::find(&recursion).unwrap().unwrap();
    let wrapped: Vec<String> = marker.wrapped.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        wrapped,
        ["count/2"],
        "rewritten from the original, not wrapped twice"
    );

    // Everything, then restore: byte for byte.
    let all = run_json("instrument", &[build, "--strategy", "all"]);
    assert_eq!(total(&all, "rewritten"), MODULES as u64);
    let restored = run_json("restore", &[build]);
    assert_eq!(total(&restored, "restored"), MODULES as u64);
    assert_eq!(snapshot(&fixture.ebin()), originals);
    let nothing = run_json("restore", &[build]);
    assert_eq!(total(&nothing, "unchanged"), MODULES as u64);
}

#[test]
fn failures_are_reported_per_module_and_leave_the_file_alone() {
    let fixture = Fixture::compiled();
    let ebin = fixture.ebin();
    let broken = ebin.join("Elixir.Broken.beam");
    std::fs::write(&broken, b"FOR1\0\0\0\x04BEAM").unwrap();
    let (ok, stdout, _) =
        rewrite_support::elixir_scope(&["instrument", ebin.to_str().unwrap(), "--json"]);
    assert!(!ok, "a failed module makes the exit status non-zero");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(total(&report, "failed"), 1);
    assert_eq!(total(&report, "rewritten"), MODULES as u64);
    let failed = files(&report)
        .into_iter()
        .find(|f| f["outcome"] == "failed")
        .unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("Elixir.Broken.beam"), "{error}");
    assert_eq!(std::fs::read(&broken).unwrap(), b"FOR1\0\0\0\x04BEAM");

    let (ok, stdout, stderr) = rewrite_support::elixir_scope(&[
        "instrument",
        ebin.to_str().unwrap(),
        "--include",
        "Foo..bar",
    ]);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.contains("bad pattern"), "{stderr}");
}

#[test]
fn compressed_beams_stay_compressed_work_and_restore_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let source = rewrite_support::fixture_source().join("src/fixture_erl.erl");
    let output = std::process::Command::new(support::executable("erlc", "erlang-nox"))
        .args(["+debug_info", "+compressed", "-o"])
        .arg(dir.path())
        .arg(&source)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let beam = dir.path().join("fixture_erl.beam");
    let original = std::fs::read(&beam).unwrap();
    assert_eq!(&original[..2], [0x1f, 0x8b], "erlc +compressed writes gzip");

    let report = run_json("instrument", &[beam.to_str().unwrap()]);
    assert_eq!(total(&report, "rewritten"), 1);
    let rewritten = std::fs::read(&beam).unwrap();
    assert_eq!(
        &rewritten[..2],
        [0x1f, 0x8b],
        "the rewrite is compressed too"
    );
    assert!(Beam::parse(&rewritten).unwrap().compressed);

    let runtime = TestRuntime::compiled();
    let result = support::eval_erlang(
        "{R, Calls} = elixir_scope_runtime:record(fun() -> fixture_erl:collect([a, b]) end),
         io:format(\"~p ~p\", [R, [maps:get(mfa, C) || C <- Calls]]), halt().",
        &[
            "-pa",
            runtime.ebin().to_str().unwrap(),
            "-pa",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(result, "{ok,{2,[a,b]}} [{fixture_erl,collect,1}]");

    run_json("restore", &[beam.to_str().unwrap()]);
    assert_eq!(std::fs::read(&beam).unwrap(), original);
}

#[test]
fn beams_without_debug_info_are_skipped_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    let erlang = rewrite_support::fixture_source().join("src/fixture_erl.erl");
    let elixir = dir.path().join("no_debug_info.ex");
    std::fs::write(
        &elixir,
        "defmodule NoDebugInfo do\n  @compile {:debug_info, false}\n  def f(x), do: x\nend\n",
    )
    .unwrap();
    for (program, package, args) in [
        (
            "erlc",
            "erlang-nox",
            vec!["-o", ".", erlang.to_str().unwrap()],
        ),
        (
            "elixirc",
            "elixir",
            vec!["-o", ".", elixir.to_str().unwrap()],
        ),
    ] {
        let output = std::process::Command::new(support::executable(program, package))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{program}: {output:?}");
    }
    let originals = snapshot(dir.path());
    let report = run_json("instrument", &[dir.path().to_str().unwrap()]);
    assert_eq!(total(&report, "skipped"), 2);
    assert_eq!(
        report["totals"]["skip_reasons"]["compiled without debug_info"],
        2
    );
    assert_eq!(snapshot(dir.path()), originals);
}

#[test]
fn a_module_that_does_not_compile_fails_alone_with_the_compilers_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.beam");
    // A beam whose debug info holds code that cannot compile (a call to an undefined function).
    support::eval_erlang(
        &format!(
            r#"Forms = fun(Body) -> [{{attribute,1,file,{{"bad.erl",1}}}}, {{attribute,1,module,bad}},
                  {{attribute,1,export,[{{f,0}}]}},
                  {{function,2,f,0,[{{clause,2,[],[],[Body]}}]}}, {{eof,3}}] end,
            {{ok, bad, Bin}} = compile:forms(Forms({{atom,2,ok}}), [binary, debug_info]),
            {{ok, bad, Chunks}} = beam_lib:all_chunks(Bin),
            Dbgi = term_to_binary({{debug_info_v1, erl_abstract_code,
                                   {{Forms({{call,2,{{atom,2,missing}},[]}}), []}}}}),
            {{ok, Beam}} = beam_lib:build_module(lists:keyreplace("Dbgi", 1, Chunks, {{"Dbgi", Dbgi}})),
            ok = file:write_file({path:?}, Beam), halt()."#,
            path = bad.display().to_string()
        ),
        &[],
    );
    let erlang = rewrite_support::fixture_source().join("src/fixture_erl.erl");
    let output = std::process::Command::new(support::executable("erlc", "erlang-nox"))
        .args(["+debug_info", "-o"])
        .arg(dir.path())
        .arg(&erlang)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let original = std::fs::read(&bad).unwrap();

    let (ok, stdout, _) =
        rewrite_support::elixir_scope(&["instrument", dir.path().to_str().unwrap(), "--json"]);
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        total(&report, "rewritten"),
        1,
        "the other module is rewritten"
    );
    let failed = file_of(&report, "bad");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("bad.beam"), "{error}");
    assert!(error.contains("compiling the wrapped code"), "{error}");
    assert!(error.contains("missing/0"), "{error}");
    assert_eq!(std::fs::read(&bad).unwrap(), original);
}

#[test]
fn parse_transforms_named_in_debug_info_are_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let transform_dir = dir.path().join("transform");
    let ebin = dir.path().join("ebin");
    std::fs::create_dir_all(&transform_dir).unwrap();
    std::fs::create_dir_all(&ebin).unwrap();
    // The transform replaces the atom `before` with `after`. It is not on the rewriter's code
    // path, so asking the compiler to run it again would fail.
    std::fs::write(
        transform_dir.join("swap_pt.erl"),
        "-module(swap_pt).\n-export([parse_transform/2]).\n\
         parse_transform(Forms, _Options) -> swap(Forms).\n\
         swap({atom, A, before}) -> {atom, A, 'after'};\n\
         swap(T) when is_tuple(T) -> list_to_tuple(swap(tuple_to_list(T)));\n\
         swap(L) when is_list(L) -> [swap(X) || X <- L];\n\
         swap(X) -> X.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("uses_pt.erl"),
        "-module(uses_pt).\n-compile({parse_transform, swap_pt}).\n-export([value/0]).\n\
         value() -> before.\n",
    )
    .unwrap();
    let erlc = |args: &[&str]| {
        let output = std::process::Command::new(support::executable("erlc", "erlang-nox"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    };
    erlc(&["-o", "transform", "transform/swap_pt.erl"]);
    erlc(&[
        "+debug_info",
        "-pa",
        "transform",
        "-o",
        "ebin",
        "uses_pt.erl",
    ]);
    // OTP 25 leaves the transform out of the debug info it saves; other compilers and older
    // releases keep the -compile attribute and the option: put both back.
    let beam = ebin.join("uses_pt.beam");
    support::eval_erlang(
        &format!(
            r#"{{ok, uses_pt, Chunks}} = beam_lib:all_chunks({path:?}),
            {{debug_info_v1, B, {{[File, Module | Forms], Options}}}} =
                binary_to_term(proplists:get_value("Dbgi", Chunks)),
            Named = [File, Module, {{attribute, 2, compile, {{parse_transform, swap_pt}}}} | Forms],
            Dbgi = term_to_binary({{debug_info_v1, B, {{Named, [{{parse_transform, swap_pt}} | Options]}}}}),
            {{ok, Beam}} = beam_lib:build_module(lists:keyreplace("Dbgi", 1, Chunks, {{"Dbgi", Dbgi}})),
            ok = file:write_file({path:?}, Beam), halt()."#,
            path = beam.display().to_string()
        ),
        &[],
    );

    let report = run_json("instrument", &[ebin.to_str().unwrap()]);
    assert_eq!(total(&report, "rewritten"), 1);
    let runtime = TestRuntime::compiled();
    let result = support::eval_erlang(
        "{R, Calls} = elixir_scope_runtime:record(fun uses_pt:value/0),
         io:format(\"~p ~p\", [R, length(Calls)]), halt().",
        &[
            "-pa",
            runtime.ebin().to_str().unwrap(),
            "-pa",
            ebin.to_str().unwrap(),
        ],
    );
    assert_eq!(result, "{ok,'after'} 1");
}
