//! `elixir-scope instrument PATH... [--strategy S] [--apps LIST] [--include PAT]...
//! [--exclude PAT]... [--config FILE] [--no-cache] [--jobs N] [--dry-run] [--json]`: wrap the
//! functions the planner picks (see `plan`) in compiled beams.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use beam_rewrite::{
    instrument_all, BatchOptions, BuildLock, FileReport, HelperConfig, HelperPool, Launcher,
    LockError, Outcome, Totals,
};
use config::RedactFields;
use indicatif::{ProgressBar, ProgressStyle};
use planner::report::ModuleStatus;

use super::plan::{cache_dir, configure, jobs as job_count, make_plan, PlanOptions};
use crate::bundle;

/// Arguments of `instrument`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// .beam files, ebin directories, or Mix build directories such as _build/dev (every
    /// lib/*/ebin under it; consolidated protocols are left alone).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// What to wrap: the planner's options (strategy, applications, patterns).
    #[command(flatten)]
    pub plan: PlanOptions,
    /// How many beams to rewrite at once (each uses one `erl` helper process) [default: the
    /// number of CPUs].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Show what would be done without compiling or writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary, and every file's outcome, as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Install the runtime (its Erlang modules, the NIF and the settings from
    /// elixir_scope.toml) into DIR [default: the project application's ebin for a Mix build
    /// directory, else the ebin of the beams].
    #[arg(long, value_name = "DIR", conflicts_with = "no_runtime")]
    pub runtime_dir: Option<PathBuf>,
    /// Do not install the runtime (the code path already has it).
    #[arg(long)]
    pub no_runtime: bool,
}

/// Rewrites the beams; exits non-zero if any failed (those are left untouched).
pub fn run(args: &Args) -> ExitCode {
    let files = match discover::beam_files(&args.paths) {
        Ok(files) => files,
        Err(e) => return usage_error(&e),
    };
    // One run at a time on these beams, from planning to the last write.
    let _lock = match (!args.dry_run).then(|| lock_build(&files)).transpose() {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now(); // the summary's time: planning, the runtime and rewriting
    let jobs = job_count(args.jobs);
    let config = match configure(&args.plan) {
        Ok(config) => config,
        Err(e) => return usage_error(&e),
    };
    let no_cache = args.plan.no_cache;
    // Helpers keep their compiled beam in the plan cache: a helper's start without it
    // compiles the helper's source (80-100 ms of the edit-compile loop).
    let helper_config = HelperConfig::discover().map(|mut helper| {
        helper.compiled_cache = cache_dir(&args.paths, &config, no_cache);
        helper
    });
    let launcher = match helper_config.and_then(Launcher::new) {
        Ok(launcher) => launcher,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One pool for the run: helpers the planner starts serve the rewriter afterwards.
    let helpers = HelperPool::new(launcher);
    let planned = match make_plan(&args.paths, &config, no_cache, jobs, &helpers, true) {
        Ok(planned) => planned,
        Err(e) => return usage_error(&e),
    };
    let runtime_targets = match (&args.runtime_dir, args.no_runtime) {
        (_, true) => Vec::new(),
        (Some(dir), false) => vec![dir.clone()],
        (None, false) => match bundle::targets_for(&args.paths) {
            Ok(dirs) => dirs,
            Err(e) => return usage_error(&e),
        },
    };
    let plan = planned.report.plan();
    let options = BatchOptions {
        jobs,
        dry_run: args.dry_run,
    };
    let hidden = match &planned.hidden {
        Ok(hidden) => {
            if !hidden.unknown.is_empty() {
                eprintln!(
                    "note: the Inspect implementations of {} could not be run on a probe value; \
                     their fields are recorded unless [capture] redact_keys names them",
                    hidden.unknown.join(", ")
                );
            }
            hidden.fields.clone()
        }
        Err(e) => {
            eprintln!(
                "warning: which struct fields the Inspect implementations hide could not be \
                 found ({e}); those fields are recorded unless [capture] redact_keys names them"
            );
            RedactFields::new()
        }
    };
    // The runtime first: rewritten beams call it, so if it cannot be installed, no beam may
    // be rewritten (they would raise `undef`). Everything or nothing.
    let runtime = if args.dry_run {
        Vec::new()
    } else {
        let mut runtime = install_runtime(&runtime_targets, &config, &hidden);
        if args.runtime_dir.is_none() && !args.no_runtime {
            runtime.extend(remove_elsewhere(&args.paths, &runtime_targets));
        }
        runtime
    };
    if runtime.iter().any(|install| install.error.is_some()) {
        return runtime_failed(&runtime, args.json);
    }
    let (files, unanalyzed) = set_aside_unanalyzed(files, &planned.report);
    let bar = progress_bar(files.len());
    let reports = instrument_all(&files, &plan, options, &helpers, &|report| {
        bar.set_message(report.module.clone().unwrap_or_default());
        bar.inc(1);
    });
    bar.finish_and_clear();
    // The helpers stop (closing their input, waiting for them to end) while the report is
    // made and written.
    let helpers_started = helpers.started();
    let stopping = std::thread::spawn(move || drop(helpers));
    let reports = explain_unplanned(reports, &planned.report);
    let reports = merge_by_path(reports, unanalyzed);
    let title = format!(
        "elixir-scope instrument{} (strategy {}, apps {})",
        if args.dry_run { " (dry run)" } else { "" },
        planned.report.strategy,
        planned.report.apps
    );
    let status = finish(
        &title,
        &reports,
        &runtime,
        started.elapsed(),
        helpers_started,
        args.json,
        args.dry_run,
    );
    let _ = stopping.join();
    status
}

/// Locks the directories of `files` against other `instrument` and `restore` runs, saying on
/// stderr when it has to wait, and removes the temporary files killed runs left there.
pub fn lock_build(files: &[PathBuf]) -> Result<BuildLock, LockError> {
    let lock = BuildLock::acquire(files, |dir| {
        eprintln!(
            "waiting for another elixir-scope run on {} to finish...",
            dir.display()
        )
    })?;
    match lock.leftovers_removed() {
        0 => {}
        1 => eprintln!("removed 1 temporary file that an interrupted run left"),
        n => eprintln!("removed {n} temporary files that interrupted runs left"),
    }
    Ok(lock)
}

/// Reports a runtime that could not be installed (before any beam was touched); exit status 1.
fn runtime_failed(runtime: &[RuntimeInstall], json: bool) -> ExitCode {
    const NOTHING_DONE: &str = "the runtime could not be installed, so no beam was rewritten";
    let text = if json {
        let document = serde_json::json!({ "error": NOTHING_DONE, "runtime": runtime });
        format!("{document}\n")
    } else {
        format!(
            "elixir-scope instrument: {NOTHING_DONE}\n{}",
            render_runtime(runtime)
        )
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    eprintln!("error: {NOTHING_DONE}");
    ExitCode::FAILURE
}

/// What happened to the runtime in one directory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeInstall {
    /// The directory.
    pub dir: PathBuf,
    /// `installed`, `up to date`, `removed (...)` or `failed`.
    pub outcome: &'static str,
    /// Why it failed.
    pub error: Option<String>,
}

/// Installs the runtime, with the settings of `config` and the struct fields to redact, into
/// every target directory.
fn install_runtime(
    targets: &[PathBuf],
    config: &config::Config,
    hidden: &RedactFields,
) -> Vec<RuntimeInstall> {
    let root = std::env::current_dir().map(|cwd| config.project_root(&cwd));
    let settings = config.runtime.to_settings(hidden, root.ok().as_deref());
    targets
        .iter()
        .map(|dir| {
            let (outcome, error) = match bundle::install(dir, &settings) {
                Ok(bundle::Installed::Fresh(files))
                    if !files.iter().any(|f| f == bundle::ELIXIR_MODULE_BEAM) =>
                {
                    (
                        "installed (Erlang only: no Elixir beams, so no IEx helpers)",
                        None,
                    )
                }
                Ok(bundle::Installed::Fresh(_)) => ("installed", None),
                Ok(bundle::Installed::AlreadyCurrent) => ("up to date", None),
                Err(e) => ("failed", Some(e.to_string())),
            };
            RuntimeInstall {
                dir: dir.clone(),
                outcome,
                error,
            }
        })
        .collect()
}

/// Takes the runtime out of the directories it may be in for `paths` that are no longer where
/// it goes (an umbrella's children other than the shared one, where earlier versions put it):
/// a release refuses the runtime's modules listed by two applications.
fn remove_elsewhere(paths: &[PathBuf], targets: &[PathBuf]) -> Vec<RuntimeInstall> {
    let homes = bundle::homes_for(paths).unwrap_or_default();
    homes
        .into_iter()
        .filter(|dir| !targets.contains(dir) && dir.join(bundle::STAMP_FILE).is_file())
        .map(|dir| uninstall_runtime(dir, "removed (another application of the project has it)"))
        .collect()
}

/// Takes the runtime out of `dir`; what happened, `removed` said as `outcome`.
pub fn uninstall_runtime(dir: PathBuf, removed: &'static str) -> RuntimeInstall {
    let (outcome, error) = match bundle::uninstall(&dir) {
        Ok(_) => (removed, None),
        Err(e) => ("failed", Some(e.to_string())),
    };
    RuntimeInstall {
        dir,
        outcome,
        error,
    }
}

/// Sets aside the beams the planner could not read or analyze: each is a failure of this run
/// (never "not selected by the plan"), and the rewriter leaves it as it is (a beam rewritten
/// before keeps its code: putting its original back would silently stop recording it).
fn set_aside_unanalyzed(
    files: Vec<PathBuf>,
    plan: &planner::PlanReport,
) -> (Vec<PathBuf>, Vec<FileReport>) {
    let failed: BTreeMap<&Path, (&str, &str)> = plan
        .modules
        .iter()
        .filter_map(|m| match &m.status {
            ModuleStatus::Failed { error } => {
                Some((m.path.as_path(), (m.module.as_str(), error.as_str())))
            }
            _ => None,
        })
        .collect();
    let (rest, set_aside): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|path| !failed.contains_key(path.as_path()));
    let reports = set_aside
        .into_iter()
        .map(|path| {
            let (module, error) = failed[path.as_path()];
            FileReport {
                outcome: Outcome::Failed {
                    error: format!("{error} (the planner could not analyze it; left as it is)"),
                },
                module: Some(module.to_string()),
                path,
            }
        })
        .collect();
    (rest, reports)
}

/// The reports of both lists, sorted by path (the order `discover::beam_files` gives).
fn merge_by_path(mut reports: Vec<FileReport>, more: Vec<FileReport>) -> Vec<FileReport> {
    reports.extend(more);
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    reports
}

/// Files skipped as "not selected by the plan" say why when the planner left their whole
/// module out (no debug info, application not selected, nothing it can wrap, ...).
fn explain_unplanned(mut reports: Vec<FileReport>, plan: &planner::PlanReport) -> Vec<FileReport> {
    for report in &mut reports {
        let Outcome::Skipped { reason } = &mut report.outcome else {
            continue;
        };
        let Some(module) = plan.modules.iter().find(|m| m.path == report.path) else {
            continue;
        };
        let unselected = reason == "not selected by the plan";
        match &module.status {
            ModuleStatus::NoDebugInfo { why } => *reason = why.clone(),
            ModuleStatus::AppNotSelected { app } => {
                *reason = format!("application {app} not selected (plan.apps)")
            }
            ModuleStatus::Planned if unselected && module.functions.is_empty() => {
                *reason = "defines no functions".into()
            }
            ModuleStatus::Planned
                if unselected && module.functions.iter().any(|f| f.decision.selected) =>
            {
                *reason = "none of the planned functions can be wrapped".into()
            }
            _ => {}
        }
    }
    reports
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
///
/// `indicatif` is used rather than hand-drawn output because it handles terminal width,
/// redraw rate and hidden non-terminal output, and is well kept.
pub fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

/// Prints the summary (text or JSON) and turns the outcome into an exit status. The JSON
/// summary carries the BEAM helpers the run started too.
pub fn finish(
    title: &str,
    reports: &[FileReport],
    runtime: &[RuntimeInstall],
    elapsed: Duration,
    helpers_started: usize,
    json: bool,
    dry_run: bool,
) -> ExitCode {
    let totals = Totals::of(reports);
    let text = if json {
        let document = serde_json::json!({
            "dry_run": dry_run,
            "seconds": elapsed.as_secs_f64(),
            "helpers_started": helpers_started,
            "totals": totals,
            "files": reports,
            "runtime": runtime,
        });
        format!("{document}\n")
    } else if nothing_changed(&totals, runtime) {
        // Every `mix compile` runs this: a run with nothing to do says so in one line, with
        // the beams it cannot record (not those the plan leaves out on purpose).
        let skipped: Vec<String> = totals
            .skip_reasons
            .iter()
            .filter(|(reason, _)| !routine_skip(reason))
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        format!(
            "{title}: {} beams, nothing changed ({:.1} s){}\n",
            totals.scanned,
            elapsed.as_secs_f64(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped: {}", skipped.join(", "))
            }
        )
    } else {
        render(title, &totals, reports, elapsed) + &render_runtime(runtime)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE; // stdout closed (e.g. piped into `head`)
    }
    if runtime.iter().any(|install| install.error.is_some()) {
        if json {
            eprintln!("error: the runtime could not be installed");
        }
        return ExitCode::FAILURE;
    }
    if totals.failed > 0 {
        if json {
            eprintln!(
                "error: {} of {} beams failed",
                totals.failed, totals.scanned
            );
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Whether a run changed nothing: no beam rewritten, restored or failed, and the runtime (if
/// any) already in place.
fn nothing_changed(totals: &Totals, runtime: &[RuntimeInstall]) -> bool {
    totals.rewritten == 0
        && totals.restored == 0
        && totals.failed == 0
        && runtime
            .iter()
            .all(|install| install.outcome == "up to date")
}

/// Whether beams are skipped by choice (the plan, `plan.apps`, ElixirScope's own modules)
/// rather than because they cannot be recorded.
fn routine_skip(reason: &str) -> bool {
    reason == "not selected by the plan"
        || reason == "part of ElixirScope's runtime"
        || reason.ends_with("not selected (plan.apps)")
}

/// The runtime's lines of the text summary.
fn render_runtime(runtime: &[RuntimeInstall]) -> String {
    let mut text = String::new();
    for install in runtime {
        text.push_str(&format!(
            "  runtime   {} in {}\n",
            install.outcome,
            install.dir.display()
        ));
        if let Some(error) = &install.error {
            text.push_str(&format!("    {}\n", error.replace('\n', "\n      ")));
        }
    }
    text
}

/// The text summary.
pub fn render(title: &str, totals: &Totals, reports: &[FileReport], elapsed: Duration) -> String {
    let mut out = format!(
        "{title}: {} beams in {:.1} s\n",
        totals.scanned,
        elapsed.as_secs_f64()
    );
    let line = |out: &mut String, label: &str, n: usize, extra: String| {
        out.push_str(&format!("  {label:<10}{n:>6}{extra}\n"));
    };
    let not_wrapped = if totals.unwrapped_functions.is_empty() {
        String::new()
    } else {
        let reasons: Vec<String> = totals
            .unwrapped_functions
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        format!("; not wrapped: {}", reasons.join(", "))
    };
    line(
        &mut out,
        "rewritten",
        totals.rewritten,
        format!(
            "  ({} functions wrapped{not_wrapped})",
            totals.wrapped_functions
        ),
    );
    line(&mut out, "restored", totals.restored, String::new());
    line(&mut out, "unchanged", totals.unchanged, String::new());
    line(&mut out, "skipped", totals.skipped, String::new());
    for (reason, n) in &totals.skip_reasons {
        let modules: Vec<&str> = reports
            .iter()
            .filter(|r| matches!(&r.outcome, Outcome::Skipped { reason: why } if why == reason))
            .filter_map(|r| r.module.as_deref())
            .collect();
        let shown = modules
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if modules.len() > 5 {
            format!(", and {} more", modules.len() - 5)
        } else {
            String::new()
        };
        out.push_str(&format!("    {n:>5}  {reason} ({shown}{more})\n"));
    }
    line(&mut out, "failed", totals.failed, String::new());
    for report in reports {
        if let Outcome::Failed { error } = &report.outcome {
            out.push_str(&format!("    {}\n", error.replace('\n', "\n      ")));
        }
    }
    out
}

fn usage_error(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}
