//! `elixir-scope doctor [PATH...]`: checks what recording needs, and says how to fix it.
//!
//! Each check prints one line, `ok`, `warn` or `FAIL`, with what was found; every problem comes
//! with its fix. The exit status is non-zero when a check failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use beam_format::{Beam, DebugInfo, Marker};
use toolchain::Tool;

use crate::bundle;

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Beams to check for debug info: .beam files, ebin directories or a Mix build directory
    /// (default: `_build/dev` of the current directory, if there is one).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// All is well.
    Ok,
    /// Works, but something is worth knowing.
    Warn,
    /// Recording will not work until this is fixed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub found: String,
    /// How to fix it, for warnings and failures.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, found: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            found: found.into(),
            fix: None,
        }
    }

    fn problem(
        name: &'static str,
        status: Status,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs every check and prints the report.
pub fn run(args: &Args) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let checks = checks(&cwd, &args.paths);
    print!("{}", render(&checks));
    if checks.iter().any(|c| c.status == Status::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every check, in the order they are printed.
pub fn checks(cwd: &Path, paths: &[PathBuf]) -> Vec<Check> {
    let config = config::Config::discover(cwd);
    let root = match &config {
        Ok(config) => config.project_root(cwd),
        Err(_) => config::find_project(cwd).unwrap_or_else(|| cwd.to_path_buf()),
    };
    let mut checks = vec![
        erl(),
        erlc(),
        elixir(),
        nif_library("nif", "the bundled NIF library", bundle::NIF_LIBRARY),
    ];
    if root != cwd {
        checks.push(Check::ok(
            "project",
            format!(
                "{} (this directory's project: its build and recording are checked)",
                root.display()
            ),
        ));
    }
    if root.join("mix.exs").is_file() {
        checks.extend(mix_alias(&root));
    }
    checks.push(match &config {
        Ok(config) => match &config.path {
            Some(path) => Check::ok("config", format!("{} is valid", path.display())),
            None => Check::ok("config", "no elixir_scope.toml (the defaults apply)"),
        },
        Err(e) => Check::problem(
            "config",
            Status::Fail,
            e.to_string(),
            "correct the key named above (README.md, \"Configuration\", lists every key)",
        ),
    });
    let db = match &config {
        Ok(config) => crate::query::db::default_path(config, cwd),
        Err(_) => store::resolve_path(cwd, &root),
    };
    checks.push(database(&db));
    let paths = if paths.is_empty() {
        let build = root.join("_build/dev");
        if build.is_dir() {
            vec![build]
        } else {
            Vec::new()
        }
    } else {
        paths.to_vec()
    };
    if !paths.is_empty() {
        checks.extend(beams(&paths));
    }
    checks
}

/// The report as text.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        let mark = match check.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!("{mark}  {:<10} {}\n", check.name, check.found));
        if let Some(fix) = &check.fix {
            out.push_str(&format!("      {:<10} fix: {fix}\n", ""));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push_str(&match (failed, warned) {
        (0, 0) => "everything needed for recording is in place\n".to_string(),
        (0, n) => format!("{n} warning(s): each says what to do\n"),
        (n, _) => format!("{n} problem(s) to fix before recording works\n"),
    });
    out
}

/// Runs a program of the toolchain in `/`: a VM started in the working directory would load
/// modules from there first (`.` heads its code path).
fn output_of(tool: Tool, args: &[&str]) -> Result<String, String> {
    let mut command = toolchain::command(tool).map_err(|e| e.to_string())?;
    let output =
        toolchain::output(tool, command.args(args).current_dir("/")).map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn erl() -> Check {
    let version = output_of(
        Tool::Erl,
        &[
            "-noshell",
            "-eval",
            "io:format(\"Erlang/OTP ~s (erts ~s)\", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().",
        ],
    );
    match version {
        Ok(version) => Check::ok("erl", version),
        Err(why) => Check::problem(
            "erl",
            Status::Fail,
            format!("cannot run erl: {why}"),
            Tool::Erl.install_hint(),
        ),
    }
}

fn erlc() -> Check {
    match toolchain::find(Tool::Erlc) {
        Ok(path) => Check::ok("erlc", path.display().to_string()),
        Err(_) => Check::problem(
            "erlc",
            Status::Fail,
            "not on PATH (instrument compiles the runtime with it)",
            Tool::Erlc.install_hint(),
        ),
    }
}

fn elixir() -> Check {
    match output_of(Tool::Elixir, &["--version"]) {
        Ok(text) => Check::ok(
            "elixir",
            text.lines()
                .find(|l| l.starts_with("Elixir"))
                .unwrap_or(text.as_str())
                .to_string(),
        ),
        Err(why) => Check::problem(
            "elixir",
            Status::Warn,
            format!("cannot run elixir: {why} (needed for Elixir projects only)"),
            Tool::Elixir.install_hint(),
        ),
    }
}

/// Checks that `bytes` are a shared object for this machine that exports `nif_init`.
pub fn nif_library(name: &'static str, what: &str, bytes: &[u8]) -> Check {
    match inspect_shared_object(bytes) {
        Ok(()) => Check::ok(
            name,
            format!("{what}: a shared object for this machine exporting nif_init"),
        ),
        Err(why) => Check::problem(
            name,
            Status::Fail,
            format!("{what}: {why}"),
            "rebuild elixir-scope on this machine (cargo build --release --workspace)",
        ),
    }
}

fn inspect_shared_object(bytes: &[u8]) -> Result<(), String> {
    let elf = goblin::elf::Elf::parse(bytes).map_err(|e| format!("not an ELF file ({e})"))?;
    if elf.header.e_type != goblin::elf::header::ET_DYN {
        return Err("not a shared object".into());
    }
    let expected = match std::env::consts::ARCH {
        "x86_64" => goblin::elf::header::EM_X86_64,
        "aarch64" => goblin::elf::header::EM_AARCH64,
        other => return Err(format!("no known ELF machine for {other}")),
    };
    if elf.header.e_machine != expected {
        return Err(format!(
            "built for {} , this machine is {}",
            goblin::elf::header::machine_to_str(elf.header.e_machine),
            std::env::consts::ARCH
        ));
    }
    let exports_init = elf
        .dynsyms
        .iter()
        .any(|sym| sym.st_value != 0 && elf.dynstrtab.get_at(sym.st_name) == Some("nif_init"));
    if !exports_init {
        return Err("does not export nif_init".into());
    }
    Ok(())
}

fn database(path: &Path) -> Check {
    // The nearest directory that exists must let us create what is missing.
    let existing = path
        .ancestors()
        .find(|d| d.is_dir())
        .unwrap_or(Path::new("/"));
    if let Err(e) = tempfile::tempfile_in(existing) {
        return Check::problem(
            "database",
            Status::Fail,
            format!(
                "{}: {} is not writable ({e})",
                path.display(),
                existing.display()
            ),
            "make the directory writable, or set [runtime] db_path / $ELIXIR_SCOPE_DB elsewhere",
        );
    }
    if !path.exists() {
        return Check::problem(
            "database",
            Status::Warn,
            format!("{}: no recording yet", path.display()),
            "run the instrumented project (mix test, mix run, iex -S mix): its first \
             recorded call creates the recording here",
        );
    }
    match store::StoreReader::open(path).and_then(|store| store.runs()) {
        Ok(runs) => {
            let live = runs.iter().filter(|r| r.live).count();
            Check::ok(
                "database",
                format!(
                    "{} ({}, {live} recording now)",
                    path.display(),
                    crate::query::text::counted(runs.len() as u64, "run", "runs")
                ),
            )
        }
        Err(e) => Check::problem(
            "database",
            Status::Warn,
            format!("{}: {e}", path.display()),
            "move the old recording away (or delete it); the next run records anew",
        ),
    }
}

/// What a `mix.exs` needs for recording: the compile alias, and the Mix archive that gives it
/// its task.
fn mix_alias(root: &Path) -> Vec<Check> {
    const ALIAS: &str = "add the compile alias to mix.exs (README, \"Use it in your project\"): \
         aliases: [compile: [\"compile\" | elixir_scope()]], with elixir_scope() naming \
         \"elixir_scope.instrument\" when its archive is installed";
    let mix_exs = root.join("mix.exs");
    let text = std::fs::read_to_string(&mix_exs).unwrap_or_default();
    let task = text.contains("elixir_scope.instrument");
    if !task && !text.contains("elixir-scope instrument") {
        return vec![Check::problem(
            "alias",
            Status::Warn,
            format!(
                "{} has no ElixirScope alias: mix compile does not instrument",
                mix_exs.display()
            ),
            ALIAS,
        )];
    }
    let mut checks = vec![Check::ok(
        "alias",
        format!("{} instruments after every compile", mix_exs.display()),
    )];
    if task {
        checks.push(archive());
    }
    checks
}

/// Whether the Mix archive with `elixir_scope.instrument` is installed where Mix looks
/// (`$MIX_ARCHIVES`, else `$MIX_HOME/archives`, else `~/.mix/archives`), and for this version.
fn archive() -> Check {
    let install = "elixir-scope mix-archive --install";
    let dir = match std::env::var_os("MIX_ARCHIVES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match std::env::var_os("MIX_HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home).join("archives"),
            _ => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(".mix/archives"),
                None => PathBuf::from(".mix/archives"),
            },
        },
    };
    let installed: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("elixir_scope-"))
        .collect();
    let wanted = super::mix_archive::archive_name();
    if installed.contains(&wanted) {
        Check::ok("archive", format!("{wanted} in {}", dir.display()))
    } else if installed.is_empty() {
        Check::problem(
            "archive",
            Status::Warn,
            format!(
                "the Mix archive with elixir_scope.instrument is not installed in {}: the \
                 alias compiles without instrumenting",
                dir.display()
            ),
            install,
        )
    } else {
        Check::problem(
            "archive",
            Status::Warn,
            format!(
                "{} in {}, but this elixir-scope is {wanted}",
                installed.join(", "),
                dir.display()
            ),
            install,
        )
    }
}

fn beams(paths: &[PathBuf]) -> Vec<Check> {
    const GIVE_BEAMS: &str =
        "give .beam files, ebin directories or a Mix build directory (run mix compile first)";
    let files = match discover::beam_files(paths) {
        Ok(files) => files,
        Err(e) => {
            return vec![Check::problem(
                "beams",
                Status::Fail,
                e.to_string(),
                GIVE_BEAMS,
            )]
        }
    };
    let mut without = Vec::new();
    let mut unreadable = Vec::new();
    let mut instrumented = 0;
    for file in &files {
        match Beam::read(file) {
            Ok(beam) => {
                let has_code =
                    matches!(DebugInfo::decode(&beam), Ok(Some(info)) if info.has_code());
                if matches!(Marker::find(&beam), Ok(Some(_))) {
                    instrumented += 1;
                } else if !has_code {
                    without.push(file.clone());
                }
            }
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    let mut checks = Vec::new();
    let summary = format!(
        "{} beams, {instrumented} instrumented, {} without debug info",
        files.len(),
        without.len()
    );
    if instrumented == 0 && !files.is_empty() {
        checks.push(Check::problem(
            "beams",
            Status::Warn,
            format!("{summary}: nothing will be recorded"),
            "compile with the ElixirScope alias (README, \"Use it in your project\"), or run \
             elixir-scope instrument on the build (elixir-scope instrument _build/dev)",
        ));
        return checks;
    }
    if without.is_empty() {
        checks.push(Check::ok("beams", summary));
    } else {
        let names: Vec<String> = without
            .iter()
            .take(5)
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        checks.push(Check::problem(
            "beams",
            Status::Warn,
            format!("{summary}: {}{}", names.join(", "), if without.len() > 5 { ", ..." } else { "" }),
            "compile with debug info (Mix: the default; erlc: +debug_info); those modules cannot be recorded",
        ));
    }
    if !unreadable.is_empty() {
        checks.push(Check::problem(
            "beams",
            Status::Fail,
            unreadable.join("; "),
            "recompile the project (mix compile --force)",
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn the_bundled_nif_is_a_loadable_library() {
        let check = nif_library("nif", "bundled", bundle::NIF_LIBRARY);
        assert_eq!(check.status, Status::Ok, "{check:?}");
    }

    #[test]
    fn a_broken_library_is_a_failure_with_a_fix() {
        let check = nif_library("nif", "broken", b"\x7fELF not really");
        assert_eq!(check.status, Status::Fail);
        assert!(check.found.contains("not an ELF file"), "{}", check.found);
        assert!(check.fix.is_some());
        // A real ELF file that is not a NIF: this very test binary.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let check = nif_library("nif", "exe", &exe);
        assert_eq!(check.status, Status::Fail, "{check:?}");
    }

    #[test]
    fn a_project_without_the_alias_or_instrumented_beams_gets_warnings_that_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mix.exs"),
            "defmodule A.MixProject do end\n",
        )
        .unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        // A plain beam in the build: compiled, not instrumented.
        let ebin = dir.path().join("_build/dev/lib/a/ebin");
        std::fs::create_dir_all(&ebin).unwrap();
        let out = Command::new("erlc")
            .arg("-o")
            .arg(&ebin)
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/runtime_fixture.erl"),
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        // From the project's lib/: the project's build and recording are checked.
        let checks = checks(&lib, &[]);
        let find = |name: &str| {
            checks
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
        };
        assert_eq!(find("project").status, Status::Ok);
        for name in ["alias", "database", "beams"] {
            let check = find(name);
            assert_eq!(check.status, Status::Warn, "{check:?}");
            assert!(check.fix.is_some(), "{check:?}");
        }
        assert!(find("beams").found.contains("0 instrumented"), "{checks:?}");
        assert!(
            find("database")
                .found
                .contains(&dir.path().join(".elixir_scope").display().to_string()),
            "{checks:?}"
        );
        let report = render(&checks);
        assert!(!report.contains("everything needed"), "{report}");
    }

    #[test]
    fn a_bad_config_fails_and_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("elixir_scope.toml"),
            "[plan]\nstratgy = \"all\"\n",
        )
        .unwrap();
        let checks = checks(dir.path(), &[]);
        let config = checks.iter().find(|c| c.name == "config").unwrap();
        assert_eq!(config.status, Status::Fail);
        assert!(config.found.contains("stratgy"), "{}", config.found);
        let report = render(&checks);
        assert!(report.contains("problem(s) to fix"), "{report}");
    }
}
