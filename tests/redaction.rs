//! Secrets never reach the disk, end to end: a small Mix project (written by the test) with a
//! struct whose derived `Inspect` hides a field, a params map with a `"password"` key, and an
//! `elixir_scope.toml` whose rules hide an argument position and a result, is compiled with the
//! alias, run recorded, and then searched: every file under `.elixir_scope/` byte by byte, and
//! every stored value as the CLI exports it (the Chrome trace of the whole run, values decoded
//! and printed). Files are `0600`, their directories `0700`. The same run checks the capture's
//! shapes on a real library-like call: `validate(big_struct, :age, greater_than: 40)` keeps all
//! three arguments, and a cut struct keeps every field.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{elixir_scope_bin, executable};

const MIX_EXS: &str = r#"
defmodule Vault.MixProject do
  use Mix.Project

  def project do
    [
      app: :vault,
      version: "0.1.0",
      elixir: "~> 1.14",
      aliases: [
        compile: ["compile", "cmd elixir-scope instrument _build/#{Mix.env()}", "elixir_scope.reload"]
      ]
    ]
  end

  def application, do: [extra_applications: [:logger]]
end
"#;

const CONFIG: &str = r#"
[plan]
strategy = "all"

[[capture.rules]]
functions = "Vault.Accounts.login/2"
redact_args = [2]

[[capture.rules]]
functions = "Vault.Accounts.session_token/1"
result = false
"#;

const SOURCE: &str = r#"
defmodule Vault.User do
  @derive {Inspect, except: [:password_hash]}
  defstruct [:name, :password_hash, valid?: false]
end

defmodule Vault.Person do
  defstruct [:name, :age, :email, :phone, :street, :city, :zip, :country, :company, :title,
             :team, :manager, :started, :birthday, :nickname, :notes]
end

defmodule Vault.Accounts do
  def login(name, password) do
    user = %Vault.User{name: name, password_hash: hash(password), valid?: true}
    if verify(user, password), do: {:ok, user}, else: :error
  end

  defp hash(password), do: "h" <> Integer.to_string(:erlang.phash2(password))

  defp verify(%Vault.User{password_hash: hash}, password), do: hash == hash(password)

  def signup(params), do: {:ok, Map.fetch!(params, "name")}

  def session_token(%Vault.User{name: name}), do: "session-" <> name <> "-zebra42"

  def validate(%Vault.Person{} = person, field, opts) do
    Map.fetch!(person, field) > Keyword.fetch!(opts, :greater_than)
  end

  def run do
    {:ok, user} = login("ada", "hunter2-Rosebud")
    {:ok, "grace"} = signup(%{"name" => "grace", "password" => "hunter2-Signup"})
    _token = session_token(user)
    person = struct(Vault.Person, age: 41, name: String.duplicate("n", 200))
    true = validate(person, :age, greater_than: 40)
    IO.puts("done")
  end
end
"#;

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    path_env: String,
}

impl Project {
    fn new() -> Project {
        executable("mix", "elixir");
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("vault");
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("mix.exs"), MIX_EXS).unwrap();
        std::fs::write(root.join("elixir_scope.toml"), CONFIG).unwrap();
        std::fs::write(root.join("lib/vault.ex"), SOURCE).unwrap();
        let bin_dir = elixir_scope_bin().parent().unwrap().to_path_buf();
        let path_env = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .unwrap()
        .to_string_lossy()
        .into_owned();
        Project {
            _dir: dir,
            root,
            path_env,
        }
    }

    fn run(&self, program: &Path, args: &[&str]) -> String {
        let output = Command::new(program)
            .args(args)
            .current_dir(&self.root)
            .env("PATH", &self.path_env)
            .env("MIX_ENV", "dev")
            .env_remove("ELIXIR_SCOPE_DB")
            .stdin(Stdio::null())
            .output()
            .expect("running a command");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{} {args:?} failed ({}):\n{stdout}\n{}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_are_stored_nowhere_and_cut_values_keep_their_shape() {
    let project = Project::new();
    let mix = executable("mix", "elixir");
    project.run(&mix, &["compile"]);
    let out = project.run(&mix, &["run", "-e", "Vault.Accounts.run()"]);
    assert!(out.contains("done"), "{out}");

    // On disk: nothing of the secrets, in any file, and every file its owner's only.
    let store_dir = project.root.join(".elixir_scope");
    assert_eq!(mode(&store_dir), 0o700);
    let mut files = Vec::new();
    files_under(&store_dir, &mut files);
    assert!(files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "seg")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in ["hunter2", "zebra42"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                file.display()
            );
        }
        assert_eq!(mode(file), 0o600, "{}", file.display());
        let dir = file.parent().unwrap();
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }

    // Every stored value read back and printed: the Chrome trace of the whole run.
    let export = project.root.join("run.json");
    let bin = elixir_scope_bin();
    project.run(
        &bin,
        &[
            "export",
            "--format",
            "chrome",
            "-o",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(mode(&export), 0o600, "an export holds values too");
    let trace = std::fs::read_to_string(&export).unwrap();
    for secret in ["hunter2", "zebra42"] {
        assert!(!trace.contains(secret), "{secret} in the export");
    }
    // And every stored value whole, as the store gives it back (the export cuts each value to
    // 80 characters): binaries appear verbatim in the external term format.
    let reader = store::StoreReader::open(&store_dir).unwrap();
    let snap = reader.snapshot(None).unwrap();
    let mut values = 0;
    snap.scan(0, |call| {
        let mut check = |bytes: &[u8], what: &str| {
            values += 1;
            for secret in ["hunter2", "zebra42"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in the {what} of {}.{}",
                    call.module,
                    call.function
                );
            }
        };
        check(&call.args, "arguments");
        if let Some(end) = &call.end {
            check(&end.value, "result or exception");
        }
        Ok(true)
    })
    .unwrap();
    assert!(values > 10, "{values} values");
    let events: Value = serde_json::from_str(&trace).unwrap();
    let slices: Vec<&Value> = events["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    let args_of = |name: &str| -> String {
        let slice = slices
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in the export"));
        slice["args"]["args"].as_str().unwrap_or("").to_string()
    };
    let result_of = |name: &str| -> String {
        let slice = slices
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in the export"));
        slice["args"]["result"].as_str().unwrap_or("").to_string()
    };
    // The rule's hidden argument, and the values it reached.
    assert_eq!(args_of("Vault.Accounts.login/2"), "\"ada\", [REDACTED]");
    assert_eq!(args_of("Vault.Accounts.hash/1"), "[REDACTED]");
    // The field the struct's own Inspect hides.
    let login = result_of("Vault.Accounts.login/2");
    assert!(
        login.contains("password_hash: [REDACTED]") && login.contains("name: \"ada\""),
        "{login}"
    );
    // A key named like a secret.
    let signup = args_of("Vault.Accounts.signup/1");
    assert!(signup.contains("\"password\" => [REDACTED]"), "{signup}");
    // A result a rule hides.
    assert_eq!(result_of("Vault.Accounts.session_token/1"), "[REDACTED]");
    // validate(big_struct, :age, greater_than: 40): three arguments, the options whole.
    let validate = args_of("Vault.Accounts.validate/3");
    assert!(validate.starts_with("%Vault.Person{"), "{validate}");
    assert!(
        validate.ends_with(", :age, [greater_than: 40]"),
        "{validate}"
    );
    // The struct with every field: those not captured are marked, none is missing.
    let call = snap
        .calls(&store::CallFilter {
            function: Some("validate".into()),
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .pop()
        .expect("validate/3 was recorded");
    let person = elixir_scope_term(&call.args, 0);
    assert_eq!(person.matches(": ").count(), 16, "{person}");
    assert!(person.contains(": …"), "a cut struct: {person}");
}

/// Argument `index` of stored arguments, printed in full as the CLI prints values.
fn elixir_scope_term(args: &[u8], index: usize) -> String {
    let eetf::Term::List(list) = eetf::Term::decode(args).unwrap() else {
        panic!("arguments are a proper list")
    };
    let mut bytes = Vec::new();
    list.elements[index].encode(&mut bytes).unwrap();
    term::value(&bytes, term::Style::Elixir)
}
