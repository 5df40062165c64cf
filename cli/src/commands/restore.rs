//! `elixir-scope restore PATH... [--json]`: put back the original beams, byte for byte, and
//! take the runtime out of the build once no beam needs it, so that the build is as the
//! compiler left it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use beam_format::{Beam, Marker};
use beam_rewrite::{restore_file, Outcome};

use super::instrument::{finish, lock_build, progress_bar, uninstall_runtime, RuntimeInstall};
use crate::bundle;

/// Arguments of `restore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// .beam files, ebin directories, or Mix build directories such as _build/dev.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Show what would be restored without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary, and every file's outcome, as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Restores every instrumented beam; exits non-zero if any could not be restored.
pub fn run(args: &Args) -> ExitCode {
    let files = match discover::beam_files(&args.paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let _lock = match (!args.dry_run).then(|| lock_build(&files)).transpose() {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let bar = progress_bar(files.len());
    let reports: Vec<_> = files
        .iter()
        .map(|path| {
            let report = restore_file(path, args.dry_run);
            bar.inc(1);
            report
        })
        .collect();
    bar.finish_and_clear();
    let failed = reports
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    let runtime = if args.dry_run || failed {
        Vec::new()
    } else {
        remove_runtime(&args.paths)
    };
    let title = format!(
        "elixir-scope restore{}",
        if args.dry_run { " (dry run)" } else { "" }
    );
    finish(
        &title,
        &reports,
        &runtime,
        started.elapsed(),
        0,
        args.json,
        args.dry_run,
    )
}

/// Takes the runtime out of the directories `instrument` installs it into for `paths`, where
/// no beam it serves is instrumented any more: those of the whole Mix build for a directory of
/// one (the dependencies' beams call the runtime in the project's `ebin`), else of the
/// directory itself. Directories that still serve instrumented beams keep it.
fn remove_runtime(paths: &[PathBuf]) -> Vec<RuntimeInstall> {
    let Ok(targets) = bundle::homes_for(paths) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in targets {
        if !dir.join(bundle::STAMP_FILE).is_file() && !dir.join(bundle::SETTINGS_FILE).is_file() {
            continue;
        }
        let served = discover::build_dir_of(&dir).unwrap_or_else(|| dir.clone());
        if still_instrumented(&served) {
            continue;
        }
        out.push(uninstall_runtime(dir, "removed"));
    }
    out
}

/// Whether any beam under `dir` still carries the rewriter's marker.
fn still_instrumented(dir: &Path) -> bool {
    let Ok(files) = discover::beam_files(&[dir.to_path_buf()]) else {
        return true;
    };
    files.iter().any(|file| match Beam::read(file) {
        Ok(beam) => !matches!(Marker::find(&beam), Ok(None)),
        Err(_) => false,
    })
}
