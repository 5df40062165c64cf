//! A new user's everyday workflow, end to end, on a project `mix new myapp --sup` generates
//! (issue 14): the compile alias never hurts a teammate without ElixirScope, `recompile()` in
//! IEx records the new code, `mix test --cover` gives the plain project's coverage, a compile
//! with nothing to do is quiet, `doctor` warns about what keeps recording from working, the
//! IEx helpers do not echo what they print, `restore` leaves the build as the compiler did, and
//! calls know the test that made them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{elixir_scope_bin, executable};

/// The application's code: a Task, a function that raises, one whose result the IEx session
/// changes.
const APP: &str = r#"defmodule Myapp do
  def hello, do: :world
  def version, do: 1
  def total(items), do: Enum.reduce(items, 0, fn item, acc -> acc + price(item) end)
  def price(:tea), do: 3
  def price(:cup), do: 5
  def price(other), do: raise(ArgumentError, "no price for #{inspect(other)}")
  def async_total(items), do: Task.async(fn -> total(items) end) |> Task.await()
end
"#;

/// Two tests that pass (one through a Task) and one that fails inside the application.
const TESTS: &str = r#"defmodule MyappTest do
  use ExUnit.Case

  test "greets the world" do
    assert Myapp.hello() == :world
  end

  test "totals a basket in a task" do
    assert Myapp.async_total([:tea, :cup]) == 8
  end

  @tag :failing
  test "prices a spoon" do
    assert Myapp.total([:tea, :spoon]) == 3
  end
end
"#;

/// The function the README's alias calls, as a user adds it to `mix.exs`.
const ALIAS_FUNCTION: &str = r#"  defp elixir_scope do
    if Code.ensure_loaded?(Mix.Tasks.ElixirScope.Instrument),
      do: ["elixir_scope.instrument"],
      else: []
  end
"#;

/// The alias of the README, as a user adds it to `mix.exs`.
fn add_alias(mix_exs: &str) -> String {
    let with_alias = mix_exs.replacen(
        "      deps: deps()\n",
        "      deps: deps(),\n      aliases: [compile: [\"compile\" | elixir_scope()]]\n",
        1,
    );
    assert_ne!(
        with_alias, mix_exs,
        "mix new's mix.exs changed shape:\n{mix_exs}"
    );
    with_alias.replacen(
        "  # Run \"mix help compile.app\"",
        &format!("{ALIAS_FUNCTION}\n  # Run \"mix help compile.app\""),
        1,
    )
}

/// What a command printed and how it ended.
struct Ran {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A fresh `mix new myapp --sup`, a Mix archive directory, and the `elixir-scope` binary
/// copied where the archive remembers it (so that "no binary here" is a file removed).
struct Project {
    dir: tempfile::TempDir,
    app: PathBuf,
    bin: PathBuf,
}

/// `mix new ARGS` in `cwd`, with no archive.
fn mix_new(cwd: &Path, args: &[&str]) {
    let made = Command::new("mix")
        .arg("new")
        .args(args)
        .current_dir(cwd)
        .env("MIX_ARCHIVES", cwd.join("no-archives"))
        .output()
        .expect("mix new");
    assert!(made.status.success(), "mix new {args:?}: {made:?}");
}

/// An umbrella's `mix.exs`: the README's alias, and a release of both children.
fn umbrella_mix_exs() -> String {
    format!(
        r#"defmodule Umb.MixProject do
  use Mix.Project

  def project do
    [
      apps_path: "apps",
      version: "0.1.0",
      deps: [],
      aliases: [compile: ["compile" | elixir_scope()]],
      releases: [umb: [applications: [core: :permanent, web: :permanent]]]
    ]
  end

{ALIAS_FUNCTION}end
"#
    )
}

impl Project {
    fn new() -> Project {
        executable("mix", "elixir");
        let dir = tempfile::tempdir().expect("temp dir");
        let app = dir.path().join("myapp");
        mix_new(dir.path(), &["myapp", "--sup"]);
        std::fs::write(app.join("lib/myapp.ex"), APP).unwrap();
        std::fs::write(app.join("test/myapp_test.exs"), TESTS).unwrap();
        Project::with_binary(dir, app)
    }

    /// An umbrella (`app` is its root) of two children: `web` (an application) needs `core`.
    fn umbrella() -> Project {
        executable("mix", "elixir");
        let dir = tempfile::tempdir().expect("temp dir");
        let app = dir.path().join("umb");
        mix_new(dir.path(), &["umb", "--umbrella"]);
        mix_new(&app.join("apps"), &["core"]);
        mix_new(&app.join("apps"), &["web", "--sup"]);
        std::fs::write(app.join("mix.exs"), umbrella_mix_exs()).unwrap();
        std::fs::write(
            app.join("apps/core/lib/core.ex"),
            "defmodule Core do\n  def add(a, b), do: a + b\nend\n",
        )
        .unwrap();
        std::fs::write(
            app.join("apps/web/lib/web.ex"),
            "defmodule Web do\n  def hello, do: {:sum, Core.add(2, 3)}\nend\n",
        )
        .unwrap();
        let web_mix = app.join("apps/web/mix.exs");
        let text = std::fs::read_to_string(&web_mix).unwrap();
        let with_core = text.replacen(
            "  defp deps do\n    [\n",
            "  defp deps do\n    [\n      {:core, in_umbrella: true},\n",
            1,
        );
        assert_ne!(with_core, text, "mix new's deps changed shape:\n{text}");
        std::fs::write(&web_mix, with_core).unwrap();
        Project::with_binary(dir, app)
    }

    /// The project, with the `elixir-scope` binary copied into `dir/bin`.
    fn with_binary(dir: tempfile::TempDir, app: PathBuf) -> Project {
        let bin_dir = dir.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        let bin = bin_dir.join("elixir-scope");
        std::fs::copy(elixir_scope_bin(), &bin).expect("copying elixir-scope");
        Project { dir, app, bin }
    }

    /// Builds the Mix archive with the binary and installs it into [`Project::archives`].
    fn install_archive(&self) {
        let built = self.run_in(
            self.dir.path(),
            self.bin.to_str().unwrap(),
            &["mix-archive", "--install", "--output", "."],
            "dev",
            &self.archives(),
            None,
        );
        assert!(built.ok, "{}{}", built.stdout, built.stderr);
    }

    fn archives(&self) -> PathBuf {
        self.dir.path().join("archives")
    }

    /// Runs `program` in the project (or `cwd`) with `MIX_ARCHIVES` set to `archives`, a PATH
    /// without `elixir-scope`, and `stdin` as input.
    fn run_in(
        &self,
        cwd: &Path,
        program: &str,
        args: &[&str],
        env: &str,
        archives: &Path,
        stdin: Option<&str>,
    ) -> Ran {
        let path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|dir| !dir.join("elixir-scope").is_file())
            .collect::<Vec<_>>();
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(cwd)
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("MIX_ENV", env)
            .env("MIX_ARCHIVES", archives)
            .env_remove("ELIXIR_SCOPE_BIN")
            .env_remove("ELIXIR_SCOPE_DB")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("{program}: {e}"));
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Ran {
            ok: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `mix ARGS` in MIX_ENV `env` with the archive installed.
    fn mix(&self, env: &str, args: &[&str]) -> Ran {
        self.run_in(&self.app, "mix", args, env, &self.archives(), None)
    }

    /// `mix ARGS`, which must succeed; returns stdout and stderr together.
    fn mix_ok(&self, env: &str, args: &[&str]) -> String {
        let ran = self.mix(env, args);
        assert!(
            ran.ok,
            "mix {args:?} failed:\n{}\n{}",
            ran.stdout, ran.stderr
        );
        format!("{}{}", ran.stdout, ran.stderr)
    }

    /// `elixir-scope ARGS` in the project (or `cwd`), which must succeed.
    fn scope(&self, cwd: &Path, args: &[&str]) -> String {
        let ran = self.run_in(
            cwd,
            self.bin.to_str().unwrap(),
            args,
            "dev",
            &self.archives(),
            None,
        );
        assert!(
            ran.ok,
            "elixir-scope {args:?} failed:\n{}\n{}",
            ran.stdout, ran.stderr
        );
        ran.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.scope(&self.app, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Runs `expr` with `eval` in the prod release `release` (which must succeed); what it
    /// printed.
    fn release_eval(&self, release: &str, expr: &str) -> String {
        let bin = self
            .app
            .join(format!("_build/prod/rel/{release}/bin/{release}"));
        let ran = self.run_in(
            &self.app,
            bin.to_str().unwrap(),
            &["eval", expr],
            "prod",
            &self.archives(),
            None,
        );
        assert!(
            ran.ok,
            "the release did not run:\n{}\n{}",
            ran.stdout, ran.stderr
        );
        ran.stdout.trim().to_string()
    }

    /// The functions of the newest 20 calls recorded.
    fn recorded_mfas(&self) -> Vec<String> {
        let calls = self.json(&["calls", "--json", "--limit", "20"]);
        calls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["mfa"].as_str().unwrap().to_string())
            .collect()
    }

    fn ebin(&self, env: &str) -> PathBuf {
        self.app.join(format!("_build/{env}/lib/myapp/ebin"))
    }
}

/// Every file of a directory with its bytes, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

/// The total line of `mix test --cover`, and each module's line.
fn coverage(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.contains('%') && l.contains('|'))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_new_users_day_with_a_fresh_mix_project() {
    let p = Project::new();

    // 5a. doctor, before anything, from the project's lib/: no alias, nothing instrumented, no
    // recording, each with what to do.
    let plain = p.run_in(&p.app, "mix", &["compile"], "dev", &p.archives(), None);
    assert!(plain.ok, "{}{}", plain.stdout, plain.stderr);
    let doctor = p.scope(&p.app.join("lib"), &["doctor"]);
    for expected in [
        "warn  alias",
        "has no ElixirScope alias",
        "warn  beams",
        "0 instrumented",
        "warn  database",
        "no recording yet",
        "fix:",
    ] {
        assert!(doctor.contains(expected), "{expected:?} in:\n{doctor}");
    }
    assert!(!doctor.contains("everything needed"), "{doctor}");

    // 1. The alias in mix.exs, and the Mix archive built by the CLI and installed offline.
    let mix_exs = std::fs::read_to_string(p.app.join("mix.exs")).unwrap();
    std::fs::write(p.app.join("mix.exs"), add_alias(&mix_exs)).unwrap();
    p.install_archive();

    // 1a. A teammate without the archive: a plain compile, nothing said.
    std::fs::remove_dir_all(p.app.join("_build")).unwrap();
    let teammate = p.run_in(
        &p.app,
        "mix",
        &["compile"],
        "dev",
        &p.dir.path().join("no-archives"),
        None,
    );
    assert!(teammate.ok, "{}{}", teammate.stdout, teammate.stderr);
    assert!(!format!("{}{}", teammate.stdout, teammate.stderr).contains("ElixirScope"));
    let fresh = files(&p.ebin("dev"));
    assert!(
        !names(&fresh).contains(&"elixir_scope_runtime.beam"),
        "{:?}",
        names(&fresh)
    );

    // 1b. The archive but no binary (CI, a machine without it): one warning, a normal compile.
    let hidden = p.dir.path().join("bin-away");
    std::fs::rename(p.bin.parent().unwrap(), &hidden).unwrap();
    std::fs::remove_dir_all(p.app.join("_build")).unwrap();
    let without = p.mix("dev", &["compile"]);
    std::fs::rename(&hidden, p.bin.parent().unwrap()).unwrap();
    assert!(without.ok, "{}{}", without.stdout, without.stderr);
    assert_eq!(
        without
            .stderr
            .matches("the elixir-scope binary is not installed here")
            .count(),
        1,
        "{}",
        without.stderr
    );
    assert_eq!(
        files(&p.ebin("dev")),
        fresh,
        "a plain compile, as without the archive"
    );

    // 4. With the binary: the first compile instruments and says so; the next says one line.
    let first = p.mix_ok("dev", &["compile"]);
    assert!(first.contains("rewritten"), "{first}");
    assert!(first.contains("runtime   installed in"), "{first}");
    let again = p.mix_ok("dev", &["compile"]);
    let said: Vec<&str> = again
        .lines()
        .filter(|l| l.contains("elixir-scope") || l.starts_with("  "))
        .collect();
    assert_eq!(said.len(), 1, "{again}");
    assert!(
        said[0].ends_with(")") && said[0].contains("nothing changed"),
        "{again}"
    );
    // The .app Mix regenerated lists the runtime now.
    assert!(std::fs::read_to_string(p.ebin("dev").join("myapp.app"))
        .unwrap()
        .contains("elixir_scope_runtime"));

    // 5b. A run recorded while paused: `calls` says so.
    p.mix_ok(
        "dev",
        &[
            "run",
            "-e",
            "ElixirScope.pause(); Myapp.hello(); ElixirScope.resume()",
        ],
    );
    let paused = p.scope(
        &p.app,
        &["calls", "--module", "Myapp", "--function", "hello"],
    );
    assert!(paused.starts_with("No calls match."), "{paused}");
    assert!(paused.contains("Recording was paused in run"), "{paused}");

    // 7. restore: the build byte for byte as the compiler left it (runtime, .so, settings and
    // the .app that listed them); the recording's directory keeps itself out of commits.
    let restored = p.scope(&p.app, &["restore", "_build/dev"]);
    assert!(restored.contains("runtime   removed"), "{restored}");
    assert_eq!(files(&p.ebin("dev")), fresh);
    let ignore = std::fs::read_to_string(p.app.join(".elixir_scope/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");

    // 3. mix test --cover: the plain project's coverage, module by module (the runtime is
    // out of cover's reach), and the report is written.
    let plain_cover = p.run_in(
        &p.app,
        "mix",
        &["test", "--cover", "--exclude", "failing"],
        "test",
        &p.dir.path().join("no-archives"),
        None,
    );
    std::fs::remove_dir_all(p.app.join("cover")).unwrap();
    let covered = p.mix("test", &["test", "--cover", "--exclude", "failing"]);
    assert!(
        covered.stdout.contains("rewritten"),
        "instrumented first: {}",
        covered.stdout
    );
    let expected = coverage(&plain_cover.stdout);
    assert!(expected.iter().any(|l| l.contains("Total")), "{expected:?}");
    assert_eq!(coverage(&covered.stdout), expected, "{}", covered.stdout);
    // The same exit status (Mix's default threshold, 90 %, is not met by either).
    assert_eq!(covered.code, plain_cover.code, "{}", covered.stderr);
    assert!(p.app.join("cover/Elixir.Myapp.html").is_file());

    // 8. Calls know their test: the failing test, the calls it made and what led to the
    // failure; the calls of a test, its Task's too.
    let tested = p.mix("test", &["test"]);
    assert!(!tested.ok, "one test fails: {}", tested.stdout);
    assert!(
        tested.stdout.contains("3 tests, 1 failure"),
        "{}",
        tested.stdout
    );
    let failed = p.scope(&p.app, &["tests", "--failed"]);
    assert!(
        failed.starts_with("failed   MyappTest: test prices a spoon (test/myapp_test.exs:13, "),
        "{failed}"
    );
    assert!(failed.contains("  #"), "its top-level call: {failed}");
    assert!(failed.contains("Myapp.total([:tea, :spoon])"), "{failed}");
    assert!(
        failed.contains("** (ArgumentError) no price for :spoon"),
        "{failed}"
    );
    assert!(
        failed.contains("the calls that led to it (elixir-scope trace "),
        "{failed}"
    );
    assert!(
        failed.contains("Myapp.price(:spoon) ** (ArgumentError) no price for :spoon"),
        "the tree under the failing call: {failed}"
    );
    assert!(failed.ends_with("1 test: 1 failed\n"), "{failed}");
    let tests = p.json(&["tests", "--json"]);
    let tests = tests.as_array().unwrap();
    assert_eq!(tests.len(), 3, "{tests:?}");
    let by_name = |name: &str| {
        tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {tests:?}"))
    };
    assert_eq!(by_name("test greets the world")["outcome"], "passed");
    let spoon = by_name("test prices a spoon");
    assert_eq!(spoon["outcome"], "failed");
    assert_eq!(spoon["line"], 13);
    assert!(spoon["message"]
        .as_str()
        .unwrap()
        .contains("no price for :spoon"));
    let tree_lines = spoon["failure_tree"]["lines"]
        .as_array()
        .expect("the failure's tree");
    assert!(
        tree_lines.iter().any(|l| l["call"]["line"]
            .as_str()
            .unwrap_or("")
            .contains("Myapp.price(:spoon)")),
        "{spoon}"
    );
    let task_test = by_name("test totals a basket in a task");
    let test_pid = task_test["pid"].as_str().unwrap().to_string();
    let calls = p.json(&[
        "calls",
        "--test",
        "totals a basket in a task",
        "--json",
        "--limit",
        "100",
    ]);
    let calls = calls.as_array().unwrap();
    let mfas: Vec<&str> = calls.iter().map(|c| c["mfa"].as_str().unwrap()).collect();
    assert!(mfas.contains(&"Myapp.async_total/1"), "{mfas:?}");
    assert!(
        mfas.contains(&"Myapp.total/1"),
        "the Task's calls: {mfas:?}"
    );
    assert!(
        calls.iter().any(|c| c["pid"] != test_pid.as_str()),
        "the Task's process is not the test's: {calls:?}"
    );
    assert!(
        !mfas.contains(&"Myapp.hello/0"),
        "another test's call: {mfas:?}"
    );
    let unknown = p.run_in(
        &p.app,
        p.bin.to_str().unwrap(),
        &["calls", "--test", "no such test"],
        "dev",
        &p.archives(),
        None,
    );
    assert!(!unknown.ok);
    assert!(
        unknown.stderr.contains("no test named"),
        "{}",
        unknown.stderr
    );

    // 2 and 6. A scripted IEx session: recompile() after an edit returns what Mix's compile
    // returns and the new code records; the helpers print without IEx echoing their data;
    // ElixirScope.tests/1 and calls(test:) read the test run.
    let session = p.run_in(
        &p.app,
        "iex",
        &["-S", "mix"],
        "dev",
        &p.archives(),
        Some(
            "Myapp.version()\n\
             Process.sleep(1100)\n\
             File.write!(\"lib/myapp.ex\", String.replace(File.read!(\"lib/myapp.ex\"), \"def version, do: 1\", \"def version, do: 2\"))\n\
             IO.puts(\"RECOMPILED #{inspect(recompile())}\")\n\
             Myapp.version()\n\
             IO.puts(\"VERSIONS #{inspect(ElixirScope.calls(module: Myapp, function: :version, print: false) |> Enum.map(& &1.result))}\")\n\
             ElixirScope.calls(module: Myapp, function: :version)\n\
             IO.puts(\"AFTER THE TABLE\")\n\
             test_run = ElixirScope.runs(print: false) |> Enum.reject(& &1.this) |> List.last()\n\
             IO.puts(\"FAILED #{inspect(ElixirScope.tests(run: test_run.run, failed: true, print: false) |> Enum.map(& &1.name))}\")\n\
             IO.puts(\"TEST CALLS #{inspect(ElixirScope.calls(run: test_run.run, test: \"totals a basket in a task\", print: false) |> Enum.map(& &1.function) |> Enum.sort() |> Enum.dedup())}\")\n\
             System.halt()\n",
        ),
    );
    let out = &session.stdout;
    assert!(session.ok, "{out}\n{}", session.stderr);
    assert!(out.contains("RECOMPILED :ok"), "{out}\n{}", session.stderr);
    assert!(
        out.contains("VERSIONS [2, 1]"),
        "the recompiled code records: {out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let table = lines
        .iter()
        .position(|l| l.contains("ID  PID") && l.contains("CALL"))
        .unwrap_or_else(|| panic!("no table: {out}"));
    let after = lines
        .iter()
        .position(|l| l.contains("AFTER THE TABLE"))
        .unwrap();
    let printed = &lines[table..after];
    assert!(
        printed
            .iter()
            .filter(|l| l.contains("Myapp.version()"))
            .count()
            == 2,
        "{printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l.contains("%{") || l.contains("[%")),
        "IEx echoed the maps: {printed:?}"
    );
    assert!(out.contains("FAILED [\"test prices a spoon\"]"), "{out}");
    assert!(
        out.contains("TEST CALLS [:async_total, :price, :total]"),
        "{out}"
    );
}

/// A release built from a clean checkout (CI's way): `MIX_ENV=prod mix release` compiles, the
/// alias instruments and installs the runtime after Mix wrote the `.app`, and the release loads
/// only what its `.app` lists. It used not to boot: its first wrapped call raised `undef` for
/// `elixir_scope_gate:on/1`.
#[test]
fn a_release_built_from_scratch_boots_and_records() {
    let p = Project::new();
    let mix_exs = std::fs::read_to_string(p.app.join("mix.exs")).unwrap();
    std::fs::write(p.app.join("mix.exs"), add_alias(&mix_exs)).unwrap();
    p.install_archive();
    assert!(!p.app.join("_build").exists(), "a clean checkout");

    let release = p.mix_ok("prod", &["release"]);
    assert!(release.contains("rewritten"), "{release}");
    let app = std::fs::read_to_string(
        p.app
            .join("_build/prod/rel/myapp/lib/myapp-0.1.0/ebin/myapp.app"),
    )
    .unwrap();
    for module in [
        "elixir_scope_gate",
        "elixir_scope_runtime",
        "elixir_scope_nif",
    ] {
        assert!(
            app.contains(module),
            "{module} not in the release's .app:\n{app}"
        );
    }

    let printed = p.release_eval("myapp", "IO.inspect(Myapp.total([:tea, :cup]))");
    assert_eq!(printed, "8");
    let mfas = p.recorded_mfas();
    assert!(mfas.iter().any(|m| m == "Myapp.total/1"), "{mfas:?}");
    assert!(mfas.iter().any(|m| m == "Myapp.price/1"), "{mfas:?}");
}

/// An umbrella whose `web` child needs `core`: the runtime goes into `core`'s `ebin` only (it is
/// on the code path wherever `web` runs), so that a release, which refuses a module two of its
/// applications list, assembles, boots and records; a runtime an earlier version put into
/// `web` is taken out.
#[test]
fn an_umbrella_release_holds_the_runtime_once() {
    let p = Project::umbrella();
    p.install_archive();
    let web_ebin = p.app.join("_build/prod/lib/web/ebin");
    // A runtime in `web` as earlier versions installed it (into every child).
    p.mix_ok("prod", &["compile"]);
    assert!(!web_ebin.join("elixir_scope_runtime.beam").exists());
    let old = p.run_in(
        &p.app,
        p.bin.to_str().unwrap(),
        &[
            "instrument",
            "--runtime-dir",
            web_ebin.to_str().unwrap(),
            "_build/prod",
        ],
        "prod",
        &p.archives(),
        None,
    );
    assert!(old.ok, "{}{}", old.stdout, old.stderr);
    assert!(web_ebin.join("elixir_scope_runtime.beam").exists());

    let release = p.mix_ok("prod", &["release"]);
    assert!(release.contains("Release created"), "{release}");
    assert!(
        release.contains("removed (another application of the project has it)"),
        "{release}"
    );
    assert!(!web_ebin.join("elixir_scope_runtime.beam").exists());
    let app_of = |name: &str| {
        std::fs::read_to_string(p.app.join(format!(
            "_build/prod/rel/umb/lib/{name}-0.1.0/ebin/{name}.app"
        )))
        .unwrap()
    };
    assert!(
        app_of("core").contains("elixir_scope_gate"),
        "{}",
        app_of("core")
    );
    assert!(!app_of("web").contains("elixir_scope"), "{}", app_of("web"));

    assert_eq!(
        p.release_eval("umb", "IO.inspect(Web.hello())"),
        "{:sum, 5}"
    );
    let mfas = p.recorded_mfas();
    assert!(mfas.iter().any(|m| m == "Web.hello/0"), "{mfas:?}");
    assert!(mfas.iter().any(|m| m == "Core.add/2"), "{mfas:?}");
}

/// Erlang projects: EUnit's listener and Common Test's hook (driven here as Common Test calls
/// it, in the case's own process) name the tests that ran; the Common Test case's calls are
/// its own.
#[test]
fn eunit_and_common_test_hooks_name_their_tests() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "calc.erl",
        "-module(calc).\n-export([double/1, half/1]).\ndouble(X) -> X * 2.\nhalf(X) -> X div 2.\n",
    );
    write(
        "calc_tests.erl",
        "-module(calc_tests).\n-include_lib(\"eunit/include/eunit.hrl\").\n\
         double_test() -> ?assertEqual(4, calc:double(2)).\n\
         half_test() -> ?assertEqual(3, calc:half(4)).\n",
    );
    write(
        "calc_SUITE.erl",
        "-module(calc_SUITE).\n-export([all/0, doubles/1]).\nall() -> [doubles].\n\
         doubles(_Config) -> 6 = calc:double(3), ok.\n",
    );
    let erlc = |file: &str| {
        let out = Command::new(executable("erlc", "erlang-nox"))
            .args(["+debug_info", "-o"])
            .arg(&ebin)
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    erlc("calc.erl");
    let instrumented = Command::new(elixir_scope_bin())
        .args(["instrument", "--strategy", "all", "--no-cache"])
        .arg(&ebin)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(instrumented.status.success(), "{instrumented:?}");
    // The tests are compiled after instrumenting: only the code under test is recorded.
    erlc("calc_tests.erl");
    erlc("calc_SUITE.erl");
    let store = dir.path().join("store");
    let script = "eunit:test(calc_tests, [no_tty, {report, {elixir_scope_eunit, []}}]), \
         {ok, S0} = elixir_scope_cth:init(elixir_scope_cth, []), \
         Self = self(), \
         spawn(fun() -> \
             {_, S1} = elixir_scope_cth:pre_init_per_testcase(calc_SUITE, doubles, [], S0), \
             R = calc_SUITE:doubles([]), \
             {_, _} = elixir_scope_cth:post_end_per_testcase(calc_SUITE, doubles, [], R, S1), \
             Self ! done \
         end), \
         receive done -> ok end, \
         ok = elixir_scope_runtime:flush(), \
         halt().";
    let ran = Command::new(support::erl())
        .arg("-pa")
        .arg(&ebin)
        .args(["-noshell", "-eval", script])
        .current_dir(dir.path())
        .env("ELIXIR_SCOPE_DB", &store)
        .output()
        .unwrap();
    assert!(ran.status.success(), "{ran:?}");
    let listed = Command::new(elixir_scope_bin())
        .args(["tests", "--json", "--db"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let tests: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let summary: Vec<(String, String, String, String, usize)> = tests
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["framework"].as_str().unwrap().to_string(),
                t["module"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
                t["roots"].as_array().unwrap().len(),
            )
        })
        .collect();
    let expected = |f: &str, m: &str, n: &str, o: &str, roots: usize| {
        (
            f.to_string(),
            m.to_string(),
            n.to_string(),
            o.to_string(),
            roots,
        )
    };
    assert_eq!(
        summary,
        [
            expected("EUnit", "calc_tests", "double_test", "passed", 0),
            expected("EUnit", "calc_tests", "half_test", "failed", 0),
            expected("Common Test", "calc_SUITE", "doubles", "passed", 1),
        ]
    );
    let suite = &tests.as_array().unwrap()[2];
    assert_eq!(suite["roots"][0]["mfa"], "calc:double/1");
}
