//! The runtime's settings are bounded the same way wherever they are given: `elixir_scope.toml`
//! (`plan`, `instrument`, `doctor` refuse the file, naming the key and the range) and
//! `elixir_scope_runtime:start/1` (an error naming the key; the VM goes on). Before, a
//! `ring_capacity` of 10^12 was accepted and the VM died at its first recorded call
//! (`memory allocation of 45333333333288 bytes failed`).

mod runtime_support;

use std::path::Path;
use std::process::Command;

use runtime_support::vm;

fn elixir_scope_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(support::elixir_scope_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running elixir-scope");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_file_with_a_setting_out_of_range_is_refused_naming_the_key_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    let source = dir.path().join("tiny.erl");
    std::fs::write(&source, "-module(tiny).\n-export([f/0]).\nf() -> ok.\n").unwrap();
    let compiled = Command::new(support::executable("erlc", "erlang-nox"))
        .arg("-o")
        .arg(&ebin)
        .arg(&source)
        .status()
        .unwrap();
    assert!(compiled.success());
    let beam = std::fs::read(ebin.join("tiny.beam")).unwrap();
    let cases = [
        (
            "ring_capacity = 1000000000000",
            "runtime.ring_capacity",
            "1000000000000 is out of range: expected 1 to 1,073,741,824",
        ),
        (
            "batch_events = 1000000000000",
            "runtime.batch_events",
            "expected 1 to 16,777,216",
        ),
        (
            "channel_batches = 1000000000000",
            "runtime.channel_batches",
            "expected 1 to 65,536",
        ),
        (
            "shards = 100000",
            "runtime.shards",
            "100000 is out of range: expected 0 to 1,024",
        ),
        (
            "retention_bytes = 0",
            "runtime.retention_bytes",
            "0 is out of range: expected 1,048,576 to",
        ),
    ];
    for (line, key, message) in cases {
        std::fs::write(
            dir.path().join("elixir_scope.toml"),
            format!("[runtime]\n{line}\n"),
        )
        .unwrap();
        for command in [&["instrument", "ebin"][..], &["plan", "ebin"]] {
            let (ok, _, stderr) = elixir_scope_in(dir.path(), command);
            assert!(!ok, "{command:?} accepted {line}");
            assert!(stderr.contains("elixir_scope.toml:2:"), "{stderr}");
            assert!(stderr.contains(key), "{command:?}: {stderr}");
            assert!(stderr.contains(message), "{command:?}: {stderr}");
        }
        let (ok, stdout, _) = elixir_scope_in(dir.path(), &["doctor"]);
        assert!(!ok, "doctor accepted {line}");
        assert!(stdout.contains(key) && stdout.contains(message), "{stdout}");
        assert_eq!(
            std::fs::read(ebin.join("tiny.beam")).unwrap(),
            beam,
            "nothing rewritten"
        );
    }
    // Buffers larger than the machine allows, each setting within its own range.
    if settings::Machine::this()
        .memory
        .is_some_and(|m| m < 200 << 30)
    {
        std::fs::write(
            dir.path().join("elixir_scope.toml"),
            "[runtime]\nring_capacity = 1073741824\n",
        )
        .unwrap();
        let (ok, _, stderr) = elixir_scope_in(dir.path(), &["instrument", "ebin"]);
        assert!(!ok);
        assert!(stderr.contains("runtime.ring_capacity"), "{stderr}");
        assert!(
            stderr.contains("does not fit this machine: at most"),
            "{stderr}"
        );
    }
}

#[test]
fn start_refuses_bad_settings_naming_the_key_and_the_vm_lives_on() {
    let vm = vm(true);
    let out = vm.eval(
        r#"
        Show = fun(Options) ->
                   case elixir_scope_runtime:start(Options) of
                       {error, {bad_setting, Key, Why}} ->
                           io:format("bad_setting ~s: ~ts~n", [Key, Why]);
                       Other ->
                           io:format("~p~n", [Other])
                   end
               end,
        Show(#{ring_capacity => 1 bsl 40}),
        Show(#{shards => 100000}),
        Show(#{retention_bytes => 0}),
        Show(#{batch_events => 1000000000000}),
        Show(#{channel_batches => 1000000000000}),
        Show(#{max_bytes => big}),
        Show(#{drop_policy => drop_all}),
        Show(#{redact_keys => [<<"pin">>, 7]}),
        Show(#{ring_capacity => 1 bsl 70}),
        Show(#{ring_size => 5}),
        Show(#{ring_capacity => 1 bsl 30, ring_bytes => 1 bsl 20}),
        ok = application:set_env(elixir_scope, ring_bytes, 1 bsl 50),
        Show(#{}),
        ok = application:unset_env(elixir_scope, ring_bytes),
        {failed, {bad_setting, ring_bytes, _}} = elixir_scope_runtime:status(),
        Show(#{ring_capacity => 4096, shards => 0, paused => true}),
        io:format("~p~n", [elixir_scope_runtime:status()]),
        halt()."#,
    );
    let lines: Vec<&str> = out.lines().collect();
    let expected = [
        "bad_setting ring_capacity: 1099511627776 is out of range: expected 1 to 1,073,741,824",
        "bad_setting shards: 100000 is out of range: expected 0 to 1,024",
        "bad_setting retention_bytes: 0 is out of range: expected 1,048,576 to 1,152,921,504,606,846,976",
        "bad_setting batch_events: 1000000000000 is out of range: expected 1 to 16,777,216",
        "bad_setting channel_batches: 1000000000000 is out of range: expected 1 to 65,536",
        "bad_setting max_bytes: expected an integer, found the atom big",
        "bad_setting drop_policy: `drop_all` is not one of `drop_newest`, `drop_oldest`",
        "bad_setting redact_keys: element 2: expected a name (a string or an atom), found the integer 7",
        "bad_setting ring_capacity: expected an integer, found an integer beyond 64 bits",
        "bad_setting ring_size: not a setting of the runtime",
    ];
    assert_eq!(lines[..expected.len()], expected, "{out}");
    let machine = &lines[expected.len()];
    if settings::Machine::this()
        .memory
        .is_some_and(|m| m < 200 << 30)
    {
        assert!(
            machine.starts_with(
                "bad_setting ring_capacity: 1,073,741,824 does not fit this machine: at most"
            ),
            "{out}"
        );
    }
    assert!(
        lines[expected.len() + 1]
            .starts_with("bad_setting ring_bytes: 1125899906842624 is out of range"),
        "the application environment is checked too: {out}"
    );
    assert_eq!(lines[expected.len() + 2..], ["ok", "paused"], "{out}");
}
