//! `elixir-scope restore PATH... [--json]`: put back the original beams, byte for byte.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use beam_rewrite::discover;
use beam_rewrite::rewrite::restore_file;

use super::instrument::{finish, lock_build, progress_bar};

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
    let title = format!(
        "elixir-scope restore{}",
        if args.dry_run { " (dry run)" } else { "" }
    );
    finish(
        &title,
        &reports,
        &[],
        started.elapsed(),
        0,
        args.json,
        args.dry_run,
    )
}
