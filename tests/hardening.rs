//! Hardening (issue 13): inputs and situations that used to lose modules silently, replace
//! files that are not ours, leave processes or files behind, or run code the user did not ask
//! for. Each test reproduces one through the real `elixir-scope` and toolchain.

mod rewrite_support;

use std::path::Path;
use std::process::Command;

use rewrite_support::{elixir_scope, file_of, run_json, total, TestRuntime};
use support::{eval_erlang, executable};

/// Compiles Erlang sources into `out` with `erlc +debug_info` and `extra` options.
fn erlc(sources: &[&Path], out: &Path, extra: &[&str]) {
    let output = Command::new(executable("erlc", "erlang-nox"))
        .arg("+debug_info")
        .args(extra)
        .arg("-o")
        .arg(out)
        .args(sources)
        .output()
        .expect("running erlc");
    assert!(output.status.success(), "erlc failed: {output:?}");
}

/// Compiles Elixir sources into `out` with `elixirc`.
fn elixirc(sources: &[&Path], out: &Path) {
    let output = Command::new(executable("elixirc", "elixir"))
        .arg("-o")
        .arg(out)
        .args(sources)
        .output()
        .expect("running elixirc");
    assert!(output.status.success(), "elixirc failed: {output:?}");
}

/// Writes `text` to `dir/name` and returns the path.
fn source(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a source file");
    path
}

/// Parses the JSON summary a command printed, whatever its exit status.
fn json_of(stdout: &str, stderr: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("no JSON ({e}):\n{stdout}\n{stderr}"))
}

// Item 2: a list literal of more than 1,000 elements nests as deep in abstract code; such
// modules were "not selected by the plan" (rc 0) because the planner's threads refused them.
#[test]
fn long_list_literals_are_planned_wrapped_and_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let elements: Vec<String> = (1..=5_000).map(|i| i.to_string()).collect();
    let erlang = source(
        dir.path(),
        "long_list.erl",
        &format!(
            "-module(long_list).\n-export([sum/0]).\nsum() -> lists:sum([{}]).\n",
            elements.join(",")
        ),
    );
    let elixir = source(
        dir.path(),
        "long_list.ex",
        &format!(
            "defmodule LongList do\n  def sum, do: Enum.sum([{}])\nend\n",
            elements.join(",")
        ),
    );
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    erlc(&[&erlang], &ebin, &[]);
    elixirc(&[&elixir], &ebin);

    let report = run_json("instrument", &[ebin.to_str().unwrap(), "--strategy", "all"]);
    assert_eq!(total(&report, "rewritten"), 2, "{report}");
    let runtime = TestRuntime::compiled();
    let result = eval_erlang(
        "{R1, C1} = elixir_scope_runtime:record(fun long_list:sum/0),
         {R2, C2} = elixir_scope_runtime:record(fun 'Elixir.LongList':sum/0),
         io:format(\"~p ~p ~p ~p\", [R1, length(C1), R2, length(C2)]), halt().",
        &[
            "-pa",
            runtime.ebin().to_str().unwrap(),
            "-pa",
            ebin.to_str().unwrap(),
            "-pa",
            support::elixir_lib().join("elixir/ebin").to_str().unwrap(),
        ],
    );
    assert_eq!(result, "{ok,12502500} 1 {ok,12502500} 1");
}

// Item 2: a module the planner cannot analyze is a failure of `instrument`, counted and
// named, and the file is left alone.
#[test]
fn a_module_the_planner_cannot_analyze_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.beam");
    // Debug info nesting 300,000 levels: beyond what the decoder accepts on any stack.
    eval_erlang(
        &format!(
            r#"Forms = fun(Body) -> [{{attribute,1,file,{{"deep.erl",1}}}}, {{attribute,1,module,deep}},
                  {{attribute,1,export,[{{f,0}}]}},
                  {{function,2,f,0,[{{clause,2,[],[],[Body]}}]}}, {{eof,3}}] end,
            {{ok, deep, Bin}} = compile:forms(Forms({{atom,2,ok}}), [binary, debug_info]),
            {{ok, deep, Chunks}} = beam_lib:all_chunks(Bin),
            Deep = lists:foldl(fun(_, Acc) -> {{tuple, 2, [Acc]}} end, {{nil, 2}},
                               lists:seq(1, 300000)),
            Dbgi = term_to_binary({{debug_info_v1, erl_abstract_code, {{Forms(Deep), []}}}}),
            {{ok, Beam}} = beam_lib:build_module(lists:keyreplace("Dbgi", 1, Chunks, {{"Dbgi", Dbgi}})),
            ok = file:write_file({path:?}, Beam), halt()."#,
            path = deep.display().to_string()
        ),
        &[],
    );
    let fine = source(
        dir.path(),
        "fine.erl",
        "-module(fine).\n-export([f/0]).\nf() -> ok.\n",
    );
    erlc(&[&fine], dir.path(), &[]);
    let original = std::fs::read(&deep).unwrap();

    let (ok, stdout, stderr) = elixir_scope(&[
        "instrument",
        dir.path().to_str().unwrap(),
        "--strategy",
        "all",
        "--json",
    ]);
    assert!(
        !ok,
        "a module that cannot be analyzed fails the run:\n{stdout}"
    );
    let report = json_of(&stdout, &stderr);
    assert_eq!(total(&report, "failed"), 1, "{report}");
    assert_eq!(total(&report, "rewritten"), 1, "{report}");
    let error = file_of(&report, "deep")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("deep.beam"), "{error}");
    assert!(error.contains("nested deeper than"), "{error}");
    assert_eq!(std::fs::read(&deep).unwrap(), original, "left as it was");

    let (ok, stdout, _) = elixir_scope(&["instrument", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stdout.contains("failed         1"), "{stdout}");
    assert!(stdout.contains("nested deeper than"), "{stdout}");
}

// Item 9: a beam that is a symbolic link stays a link through instrument and restore; its
// target is rewritten and restored.
#[test]
fn linked_beams_stay_links_through_instrument_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let ebin = dir.path().join("ebin");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&ebin).unwrap();
    let linked = source(
        dir.path(),
        "linked.erl",
        "-module(linked).\n-export([f/1]).\nf(X) -> {linked, X}.\n",
    );
    erlc(&[&linked], &store, &[]);
    let target = store.join("linked.beam");
    let link = ebin.join("linked.beam");
    std::os::unix::fs::symlink("../store/linked.beam", &link).unwrap();
    let original = std::fs::read(&target).unwrap();

    let report = run_json("instrument", &[ebin.to_str().unwrap(), "--strategy", "all"]);
    assert_eq!(total(&report, "rewritten"), 1, "{report}");
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link is still a link"
    );
    let rewritten = beam_rewrite::Beam::read(&target).unwrap();
    assert!(
        beam_rewrite::Marker::find(&rewritten).unwrap().is_some(),
        "the link's target is rewritten"
    );
    let runtime = TestRuntime::compiled();
    let result = eval_erlang(
        "{R, Calls} = elixir_scope_runtime:record(fun() -> linked:f(1) end),
         io:format(\"~p ~p\", [R, length(Calls)]), halt().",
        &[
            "-pa",
            runtime.ebin().to_str().unwrap(),
            "-pa",
            ebin.to_str().unwrap(),
        ],
    );
    assert_eq!(result, "{ok,{linked,1}} 1");

    let restored = run_json("restore", &[ebin.to_str().unwrap()]);
    assert_eq!(total(&restored, "restored"), 1, "{restored}");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), original);
    let entries = |d: &Path| std::fs::read_dir(d).unwrap().count();
    assert_eq!(
        (entries(&ebin), entries(&store)),
        (1, 1),
        "no file left behind"
    );
}

// A pipe named like a beam is refused at once (reading it would wait for a writer).
#[test]
fn a_pipe_named_like_a_beam_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.beam");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (ok, stdout, stderr) = elixir_scope(&["inspect", fifo.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// Runs `elixir-scope` with `args` as given (no `--no-runtime` added); returns (success,
/// stdout, stderr).
fn elixir_scope_as_given(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(support::elixir_scope_bin())
        .args(args)
        .output()
        .expect("running elixir-scope");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// Item 4: when the runtime cannot be installed, no beam is rewritten (they would call a
// runtime that is not there, and raise `undef`).
#[test]
fn a_runtime_that_cannot_be_installed_leaves_every_beam_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    let module = source(
        dir.path(),
        "plain.erl",
        "-module(plain).\n-export([f/0]).\nf() -> ok.\n",
    );
    erlc(&[&module], &ebin, &[]);
    let before = rewrite_support::snapshot(&ebin);
    let not_a_dir = dir.path().join("not-a-directory");
    std::fs::write(&not_a_dir, "").unwrap();

    let (ok, stdout, stderr) = elixir_scope_as_given(&[
        "instrument",
        ebin.to_str().unwrap(),
        "--strategy",
        "all",
        "--runtime-dir",
        not_a_dir.to_str().unwrap(),
    ]);
    assert!(!ok, "{stdout}");
    let said = format!("{stdout}{stderr}");
    assert!(said.contains("not-a-directory"), "{said}");
    assert!(said.contains("no beam was rewritten"), "{said}");
    assert_eq!(
        rewrite_support::snapshot(&ebin),
        before,
        "every beam is as it was"
    );
    let result = eval_erlang(
        "io:format(\"~p\", [plain:f()]), halt().",
        &["-pa", ebin.to_str().unwrap()],
    );
    assert_eq!(result, "ok");
}
