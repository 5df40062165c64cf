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
    let rewritten = beam_format::Beam::read(&target).unwrap();
    assert!(
        beam_format::Marker::find(&rewritten).unwrap().is_some(),
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

/// The pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the command may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// Whether `pid` still runs a helper (and is not a zombie awaiting its parent).
fn helper_runs(pid: u32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = state
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains("elixir_scope_helper")
}

/// A beam whose `Dbgi` chunk names `backend` (its code is `f() -> ok`).
fn beam_naming_backend(path: &Path, module: &str, backend: &str) {
    eval_erlang(
        &format!(
            r#"Forms = [{{attribute,1,file,{{"{module}.erl",1}}}}, {{attribute,1,module,{module}}},
                  {{attribute,1,export,[{{f,0}}]}},
                  {{function,2,f,0,[{{clause,2,[],[],[{{atom,2,ok}}]}}]}}, {{eof,3}}],
            {{ok, {module}, Bin}} = compile:forms(Forms, [binary, debug_info]),
            {{ok, {module}, Chunks}} = beam_lib:all_chunks(Bin),
            Dbgi = term_to_binary({{debug_info_v1, {backend}, {{elixir_v1, #{{}}, []}}}}),
            {{ok, Beam}} = beam_lib:build_module(lists:keyreplace("Dbgi", 1, Chunks, {{"Dbgi", Dbgi}})),
            ok = file:write_file({path:?}, Beam), halt()."#,
            path = path.display().to_string()
        ),
        &[],
    );
}

// Item 5: kill -9 of `instrument` while its helper VM is busy must not leave the helper
// running, nor temporary folders behind; folders earlier versions left are removed.
#[test]
fn helpers_die_with_a_killed_instrument_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    let ebin = dir.path().join("ebin");
    let backend_dir = dir.path().join("backend");
    for d in [&tmp, &ebin, &backend_dir] {
        std::fs::create_dir(d).unwrap();
    }
    // A trusted backend that never answers: the helper is busy when the run is killed.
    let backend = source(
        dir.path(),
        "stuck_backend.erl",
        "-module(stuck_backend).\n-export([debug_info/4]).\n\
         debug_info(_, _, _, _) -> timer:sleep(infinity).\n",
    );
    erlc(&[&backend], &backend_dir, &[]);
    beam_naming_backend(&ebin.join("stuck.beam"), "stuck", "stuck_backend");
    // What an earlier version left: its helper's source folder, two hours old.
    let old_leftover = tmp.join("elixir-scope-helperAbCdEf");
    std::fs::create_dir(&old_leftover).unwrap();
    std::fs::write(old_leftover.join("elixir_scope_helper.erl"), "").unwrap();
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&old_leftover)
        .status()
        .unwrap();
    assert!(touched.success());

    let mut run = Command::new(support::elixir_scope_bin())
        .args(["instrument", "--no-runtime", "--no-cache", "--jobs", "1"])
        .arg(&ebin)
        .env("TMPDIR", &tmp)
        .env("ERL_FLAGS", format!("-pa {}", backend_dir.display()))
        .env("ELIXIR_SCOPE_DEBUG_INFO_BACKENDS", "stuck_backend")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waiting = std::time::Instant::now();
    let helpers = loop {
        let helpers: Vec<u32> = children_of(run.id())
            .into_iter()
            .filter(|pid| helper_runs(*pid))
            .collect();
        if !helpers.is_empty() {
            break helpers;
        }
        assert!(
            run.try_wait().unwrap().is_none(),
            "instrument ended before starting a helper"
        );
        assert!(
            waiting.elapsed() < std::time::Duration::from_secs(120),
            "no helper started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Let the helper take the request, then kill -9 the run.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    run.kill().unwrap();
    run.wait().unwrap();
    let gone = std::time::Instant::now();
    while helpers.iter().any(|pid| helper_runs(*pid)) {
        if gone.elapsed() > std::time::Duration::from_secs(60) {
            for pid in &helpers {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            panic!("helpers {helpers:?} outlived the killed instrument by a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The next run (which skips the module: its backend is no longer trusted) leaves the
    // temporary directory as it found it, minus what the earlier version left.
    let output = Command::new(support::elixir_scope_bin())
        .args(["instrument", "--no-runtime", "--no-cache"])
        .arg(&ebin)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(said.contains("stuck_backend is not trusted"), "{said}");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left in the temporary directory: {left:?}");
}

// Item 6: a beam names its debug-info backend; neither that module nor any other is loaded
// from the working directory, and a backend that is not trusted is never loaded.
#[test]
fn no_code_is_loaded_from_the_working_directory_or_an_untrusted_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("cwd");
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&cwd).unwrap();
    std::fs::create_dir(&ebin).unwrap();
    let pwned = dir.path().join("pwned");
    let pwn = |module: &str, exports: &str, functions: &str| {
        source(
            &cwd,
            &format!("{module}.erl"),
            &format!(
                "-module({module}).\n-export([{exports}]).\n-on_load(pwn/0).\n\
                 pwn() -> file:write_file({:?}, <<\"{module}\">>), ok.\n{functions}",
                pwned.display().to_string()
            ),
        )
    };
    let evil_backend = pwn(
        "evilbackend",
        "debug_info/4",
        "debug_info(_, _, _, _) -> {error, no}.\n",
    );
    let evil_compile = pwn(
        "compile",
        "file/2, forms/2, noenv_forms/2",
        "file(_, _) -> error. forms(_, _) -> error. noenv_forms(_, _) -> error.\n",
    );
    erlc(&[&evil_backend, &evil_compile], &cwd, &[]);
    beam_naming_backend(&ebin.join("victim.beam"), "victim", "evilbackend");
    let fine = source(
        dir.path(),
        "fine.erl",
        "-module(fine).\n-export([f/0]).\nf() -> ok.\n",
    );
    erlc(&[&fine], &ebin, &[]);
    let elixir = source(
        dir.path(),
        "fine_ex.ex",
        "defmodule FineEx do\n  def f(x), do: {:ok, x}\nend\n",
    );
    elixirc(&[&elixir], &ebin);

    for command in ["plan", "instrument"] {
        let output = Command::new(support::elixir_scope_bin())
            .args([command, "--no-cache", "--strategy", "all"])
            .args(if command == "instrument" {
                &["--no-runtime"][..]
            } else {
                &[][..]
            })
            .arg(&ebin)
            .current_dir(&cwd)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command}: {output:?}");
        assert!(
            !pwned.exists(),
            "{command} ran {}",
            std::fs::read_to_string(&pwned).unwrap_or_default()
        );
        assert!(
            said.contains("evilbackend is not trusted"),
            "{command}: {said}"
        );
    }
    let beam = beam_format::Beam::read(&ebin.join("Elixir.FineEx.beam")).unwrap();
    assert!(
        beam_format::Marker::find(&beam).unwrap().is_some(),
        "Elixir beams are still rewritten"
    );
}

// Item 7: a second run on the same beams waits for the first (two runs at once mixed their
// plans), and leftover temporary files of killed runs are removed.
#[test]
fn a_second_run_waits_for_the_first_and_cleans_what_killed_runs_left() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    let module = source(
        dir.path(),
        "waits.erl",
        "-module(waits).\n-export([f/0]).\nf() -> ok.\n",
    );
    erlc(&[&module], &ebin, &[]);
    let leftover = ebin.join("waits.beam.es-tmpQwErTy");
    std::fs::write(&leftover, b"half a beam").unwrap();
    let before = rewrite_support::snapshot(&ebin);

    // Another run holds the build (as `instrument` does: a lock on the directory).
    let other_run = std::fs::File::open(&ebin).unwrap();
    other_run.lock().unwrap();
    let stderr_path = dir.path().join("stderr.txt");
    let mut run = Command::new(support::elixir_scope_bin())
        .args(["instrument", "--no-runtime", "--strategy", "all"])
        .arg(&ebin)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let waiting = std::time::Instant::now();
    loop {
        let said = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if said.contains("waiting for another elixir-scope run") {
            break;
        }
        if let Some(status) = run.try_wait().unwrap() {
            panic!("instrument did not wait for the other run ({status}): {said}");
        }
        assert!(
            waiting.elapsed() < std::time::Duration::from_secs(120),
            "instrument neither waited nor finished: {said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        rewrite_support::snapshot(&ebin),
        before,
        "nothing written while waiting"
    );
    assert!(
        leftover.exists(),
        "nothing removed while another run may write it"
    );

    drop(other_run);
    let status = run.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&stderr_path).unwrap()
    );
    let beam = beam_format::Beam::read(&ebin.join("waits.beam")).unwrap();
    assert!(beam_format::Marker::find(&beam).unwrap().is_some());
    assert!(
        !leftover.exists(),
        "the killed run's temporary file is removed"
    );
    let said = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(said.contains("removed 1 temporary file "), "{said}");
}

// Item 8: encrypted debug info is said to be that (it was "version byte 0", and instrument
// then skipped the module as "not selected by the plan"); with the key in ~/.erlang.crypt it
// is decrypted as beam_lib does, and the module is rewritten, keeping its encrypted debug info.
#[test]
fn encrypted_debug_info_is_named_and_decrypted_with_the_users_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ebin, home) = (dir.path().join("ebin"), dir.path().join("home"));
    std::fs::create_dir(&ebin).unwrap();
    std::fs::create_dir(&home).unwrap();
    let module = source(
        dir.path(),
        "secret.erl",
        "-module(secret).\n-export([f/1]).\nf(X) -> {secret, X}.\n",
    );
    erlc(&[&module], &ebin, &["+{debug_info_key,\"s3cr3t\"}"]);
    let original = std::fs::read(ebin.join("secret.beam")).unwrap();
    // With a configuration file, so that there is a plan cache: adding the key must count.
    let config = source(dir.path(), "elixir_scope.toml", "");
    let run = |args: &[&str]| {
        let output = Command::new(support::elixir_scope_bin())
            .args(args)
            .arg("--config")
            .arg(&config)
            .arg(&ebin)
            .env("HOME", &home)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    // No key: said so, by plan and by instrument, and nothing fails.
    let plan = run(&["plan"]);
    assert!(plan.contains("encrypted debug info (no key"), "{plan}");
    let skipped = run(&["instrument", "--no-runtime", "--strategy", "all"]);
    assert!(
        skipped.contains("encrypted debug info (no key"),
        "{skipped}"
    );
    assert_eq!(std::fs::read(ebin.join("secret.beam")).unwrap(), original);

    // The key where beam_lib looks for it.
    std::fs::write(
        home.join(".erlang.crypt"),
        "[{debug_info, des3_cbc, [], \"s3cr3t\"}].\n",
    )
    .unwrap();
    let rewritten = run(&["instrument", "--no-runtime", "--strategy", "all", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&rewritten).unwrap();
    assert_eq!(total(&report, "rewritten"), 1, "{report}");
    let beam = beam_format::Beam::read(&ebin.join("secret.beam")).unwrap();
    let original_beam = beam_format::Beam::parse(&original).unwrap();
    assert_eq!(
        beam.chunk(beam_format::ChunkId::DBGI).unwrap().data,
        original_beam
            .chunk(beam_format::ChunkId::DBGI)
            .unwrap()
            .data,
        "the debug info stays encrypted"
    );
    let runtime = TestRuntime::compiled();
    let result = eval_erlang(
        "{R, Calls} = elixir_scope_runtime:record(fun() -> secret:f(1) end),
         io:format(\"~p ~p\", [R, length(Calls)]), halt().",
        &[
            "-pa",
            runtime.ebin().to_str().unwrap(),
            "-pa",
            ebin.to_str().unwrap(),
        ],
    );
    assert_eq!(result, "{ok,{secret,1}} 1");
    assert!(
        dir.path()
            .join(".elixir_scope/plan/analyses.json")
            .is_file(),
        "the plan cache was used"
    );
    let output = Command::new(support::elixir_scope_bin())
        .arg("restore")
        .arg(&ebin)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read(ebin.join("secret.beam")).unwrap(), original);
}
