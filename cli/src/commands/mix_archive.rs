//! `elixir-scope mix-archive [--output DIR] [--install]`: the Mix archive that gives Mix
//! projects the task `elixir_scope.instrument` (the compile alias's second step).
//!
//! The archive holds one module, `Mix.Tasks.ElixirScope.Instrument`
//! (`runtime_nif/elixir/mix/tasks/elixir_scope.instrument.ex`), compiled with the user's own
//! `elixirc`, and its `.app`, zipped by the user's own Erlang (`zip:create/3`) under the root
//! directory `elixir_scope-VERSION/` that `mix archive.install` expects. It needs no hex package
//! and no network. The task remembers where this binary is, as the last place it looks for one.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use toolchain::Tool;

use crate::bundle::erlang_chars;

/// The archive's Mix task, in Elixir.
pub const TASK_SOURCE: &str =
    include_str!("../../../runtime_nif/elixir/mix/tasks/elixir_scope.instrument.ex");

/// The task's module, as its beam is named.
const TASK_MODULE: &str = "Elixir.Mix.Tasks.ElixirScope.Instrument";

/// Arguments of `mix-archive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write elixir_scope-VERSION.ez.
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Then install it with `mix archive.install --force` (into $MIX_ARCHIVES, else
    /// ~/.mix/archives).
    #[arg(long)]
    pub install: bool,
}

/// Why the archive could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A program of the toolchain is missing or could not run.
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
    /// A program of the toolchain failed.
    #[error("{program} failed:\n{output}")]
    Failed {
        /// The program.
        program: &'static str,
        /// What it printed.
        output: String,
    },
    /// A file could not be written or moved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// The archive's name without extension: `elixir_scope-VERSION`.
pub fn archive_name() -> String {
    format!("elixir_scope-{}", env!("CARGO_PKG_VERSION"))
}

/// Builds (and installs) the archive; exits 1 on failure.
pub fn run(args: &Args) -> ExitCode {
    match build(&args.output) {
        Ok(path) => {
            println!("{}: the Mix task elixir_scope.instrument", path.display());
            if !args.install {
                println!(
                    "install it with: mix archive.install --force {}",
                    path.display()
                );
                return ExitCode::SUCCESS;
            }
            match install(&path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `DIR/elixir_scope-VERSION.ez` (atomically: a temporary file renamed into place) and
/// returns its path.
pub fn build(dir: &Path) -> Result<PathBuf, ArchiveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let name = archive_name();
    let work = tempfile::Builder::new()
        .prefix("elixir-scope-archive-")
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    let ebin = work.path().join(&name).join("ebin");
    std::fs::create_dir_all(&ebin).map_err(io(&ebin))?;
    let src = work.path().join("src");
    std::fs::create_dir(&src).map_err(io(&src))?;
    let source = src.join("elixir_scope.instrument.ex");
    std::fs::write(&source, TASK_SOURCE).map_err(io(&source))?;

    // Compiled from inside `src` with a plain file name, so that stack traces name the file,
    // not the temporary directory; the binary's own path goes in through the environment.
    let me = std::env::current_exe().ok();
    let mut elixirc = toolchain::command(Tool::Elixirc)?;
    elixirc
        .current_dir(&src)
        .arg("-o")
        .arg(&ebin)
        .arg("elixir_scope.instrument.ex");
    match &me {
        Some(path) => elixirc.env("ELIXIR_SCOPE_ARCHIVE_BUILT_BY", path),
        None => elixirc.env_remove("ELIXIR_SCOPE_ARCHIVE_BUILT_BY"),
    };
    run_tool(Tool::Elixirc, elixirc)?;

    let app = ebin.join("elixir_scope.app");
    std::fs::write(&app, app_file()).map_err(io(&app))?;

    let dir = std::path::absolute(dir).map_err(io(dir))?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let target = dir.join(format!("{name}.ez"));
    let temp = dir.join(format!(".{name}.ez.es-tmp{}", std::process::id()));
    let zip = format!(
        "case zip:create({}, [{}], [{{cwd, {}}}]) of \
           {{ok, _}} -> halt(0); \
           Error -> io:format(standard_error, \"~p~n\", [Error]), halt(1) \
         end.",
        erlang_chars(&temp),
        erlang_chars(Path::new(&name)),
        erlang_chars(work.path()),
    );
    let zipped = toolchain::command(Tool::Erl)
        .map_err(ArchiveError::from)
        .and_then(|mut erl| {
            erl.current_dir("/").args(["-noshell", "-eval", &zip]);
            run_tool(Tool::Erl, erl)
        });
    let renamed = zipped.and_then(|()| std::fs::rename(&temp, &target).map_err(io(&target)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed.map(|()| target)
}

/// Installs the archive at `path` with `mix archive.install --force`.
pub fn install(path: &Path) -> Result<(), ArchiveError> {
    let mut mix = toolchain::command(Tool::Mix)?;
    mix.args(["archive.install", "--force"]).arg(path);
    // Not in a project: `mix` would load its mix.exs (and compile nothing, but still).
    if let Some(dir) = path.parent() {
        mix.current_dir(dir);
    }
    run_tool(Tool::Mix, mix)?;
    println!("installed: `mix elixir_scope.instrument` is available to every Mix project here");
    Ok(())
}

/// The archive's application resource file.
fn app_file() -> String {
    format!(
        "{{application,elixir_scope,\n\
         \x20[{{description,\"ElixirScope's Mix task: instruments compiled beams after compile\"}},\n\
         \x20 {{vsn,\"{}\"}},\n\
         \x20 {{modules,['{TASK_MODULE}']}},\n\
         \x20 {{applications,[kernel,stdlib,elixir]}}]}}.\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn run_tool(tool: Tool, mut command: Command) -> Result<(), ArchiveError> {
    let output = toolchain::output(tool, &mut command)?;
    if !output.status.success() {
        return Err(ArchiveError::Failed {
            program: tool.program(),
            output: toolchain::printed(&output),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_holds_the_task_under_its_root_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = build(dir.path()).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            format!("{}.ez", archive_name())
        );
        let listing = Command::new("erl")
            .current_dir("/")
            .args([
                "-noshell",
                "-eval",
                &format!(
                    "{{ok, Files}} = zip:list_dir({}), \
                     [io:format(\"~s~n\", [N]) || {{zip_file, N, _, _, _, _}} <- Files], \
                     halt().",
                    erlang_chars(&path)
                ),
            ])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        let name = archive_name();
        assert!(listing.starts_with(&format!("{name}/")), "{listing}");
        for file in [
            format!("{name}/ebin/{TASK_MODULE}.beam"),
            format!("{name}/ebin/elixir_scope.app"),
        ] {
            assert!(listing.lines().any(|l| l == file), "{file} in {listing}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
