//! `elixir-scope plan PATH... [--strategy S] [--apps LIST] [--include PAT]... [--exclude PAT]...
//! [--config FILE] [--no-cache] [--json]`: which functions `instrument` would wrap, and why.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use beam_rewrite::HelperPool;
use config::{AppSelection, Config, Strategy};
use planner::orchestrator::{default_cache_dir, Outcome};
use planner::report::ModuleStatus;
use planner::Orchestrator;

/// How to plan: shared by `plan` and `instrument`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlanOptions {
    /// How to pick functions: all_public, all, callbacks or balanced [default: plan.strategy
    /// of elixir_scope.toml, else balanced].
    #[arg(long, value_name = "S", value_parser = parse_strategy)]
    pub strategy: Option<Strategy>,
    /// Which applications of a Mix build directory to plan, comma-separated: project, deps,
    /// all, or application names [default: plan.apps, else project].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub apps: Option<Vec<String>>,
    /// Plan only functions matching PAT: Module, Module.fun or Module.fun/arity, with *
    /// wildcards, in Elixir (MyApp.Repo.get/2) or Erlang (my_mod:parse/1) spelling. A pattern
    /// that names a function (no * in its function part) plans it whatever the strategy says.
    /// May be repeated; adds to plan.include.
    #[arg(long, value_name = "PAT")]
    pub include: Vec<String>,
    /// Never plan functions matching PAT (same syntax as --include). May be repeated; adds to
    /// plan.exclude.
    #[arg(long, value_name = "PAT")]
    pub exclude: Vec<String>,
    /// The configuration file [default: elixir_scope.toml in the working directory or above].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Neither read nor write the plan cache (.elixir_scope/plan of the project).
    #[arg(long)]
    pub no_cache: bool,
}

fn parse_strategy(text: &str) -> Result<Strategy, String> {
    text.parse()
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// .beam files, ebin directories, or Mix build directories such as _build/dev.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to plan.
    #[command(flatten)]
    pub options: PlanOptions,
    /// How many beams to analyze at once [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Print the plan as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Why a plan could not be made (usage errors: exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The configuration file is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A pattern on the command line is wrong.
    #[error(transparent)]
    Pattern(#[from] beam_plan::PatternError),
    /// `--apps` is wrong.
    #[error("--apps: {0}")]
    Apps(String),
    /// The paths are wrong.
    #[error(transparent)]
    Paths(#[from] planner::OrchestratorError),
    /// The working directory cannot be read.
    #[error("cannot read the working directory: {0}")]
    Cwd(std::io::Error),
}

/// The configuration with the command line's options over it.
pub fn configure(options: &PlanOptions) -> Result<Config, PlanError> {
    let mut config = match &options.config {
        Some(path) => Config::load(path)?,
        None => Config::discover(&std::env::current_dir().map_err(PlanError::Cwd)?)?,
    };
    if let Some(strategy) = options.strategy {
        config.plan.strategy = strategy;
    }
    if let Some(apps) = &options.apps {
        config.plan.apps = AppSelection::parse(apps).map_err(PlanError::Apps)?;
    }
    for text in &options.include {
        config.plan.include.push(beam_plan::Pattern::parse(text)?);
    }
    for text in &options.exclude {
        config.plan.exclude.push(beam_plan::Pattern::parse(text)?);
    }
    Ok(config)
}

/// Runs the planner over `paths` with `config`, analyzing with helpers from `helpers`;
/// `decisions_only` when the facts behind the decisions are not wanted (see
/// [`Orchestrator::decisions_only`]).
pub fn make_plan(
    paths: &[PathBuf],
    config: &Config,
    no_cache: bool,
    jobs: usize,
    helpers: &HelperPool,
    decisions_only: bool,
) -> Result<Outcome, PlanError> {
    let cache_dir = cache_dir(paths, config, no_cache);
    let orchestrator = Orchestrator {
        settings: config.plan.clone(),
        capture: config.capture.clone(),
        config_path: config.path.clone(),
        jobs,
        cache_dir,
        helper: None,
        decisions_only,
    };
    Ok(orchestrator.run_with(paths, helpers)?)
}

/// The plan cache of a run over `paths` (`None` with `--no-cache`, or outside a project): the
/// planner's, and where helpers keep their compiled beam.
pub fn cache_dir(paths: &[PathBuf], config: &Config, no_cache: bool) -> Option<PathBuf> {
    (!no_cache)
        .then(|| default_cache_dir(paths, config.path.as_deref()))
        .flatten()
}

/// The number of jobs: the option, else the number of CPUs.
pub fn jobs(option: Option<u16>) -> usize {
    option
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Prints the plan; exits non-zero when a beam could not be analyzed.
pub fn run(args: &Args) -> ExitCode {
    let helpers = HelperPool::on_demand(None);
    let outcome = configure(&args.options).and_then(|config| {
        let no_cache = args.options.no_cache;
        make_plan(
            &args.paths,
            &config,
            no_cache,
            jobs(args.jobs),
            &helpers,
            false,
        )
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        let document = serde_json::json!({
            "strategy": outcome.report.strategy,
            "apps": outcome.report.apps,
            "config": outcome.report.config,
            "stats": outcome.stats,
            "totals": outcome.report.totals(),
            "modules": outcome.report.modules,
        });
        format!("{document}\n")
    } else {
        render(&outcome)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    let failed = outcome
        .report
        .modules
        .iter()
        .any(|m| matches!(m.status, ModuleStatus::Failed { .. }));
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The plan as text: per module its functions, `+` wrapped and `-` not, with the reason.
pub fn render(outcome: &Outcome) -> String {
    let report = &outcome.report;
    let mut out = String::new();
    let config = report
        .config
        .as_deref()
        .map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
    let _ = writeln!(
        out,
        "elixir-scope plan: strategy {}, apps {} (config: {config})",
        report.strategy, report.apps
    );
    for module in &report.modules {
        let app = match (&module.app, module.role) {
            (Some(app), Some(role)) => format!(" ({app}, {})", role_name(role)),
            (Some(app), None) => format!(" ({app})"),
            _ => String::new(),
        };
        if module.status != ModuleStatus::Planned {
            let _ = writeln!(
                out,
                "\n{}{app}: {}",
                module.module,
                module.status.describe()
            );
            continue;
        }
        let _ = writeln!(out, "\n{}{app}", module.module);
        let width = module
            .functions
            .iter()
            .map(|f| f.function.to_string().len())
            .max()
            .unwrap_or(0);
        for f in &module.functions {
            let mark = if f.decision.wrap { '+' } else { '-' };
            let mut facts = Vec::new();
            if !f.effects.is_empty() {
                let effects: Vec<&str> = f.effects.iter().map(|e| e.name()).collect();
                facts.push(effects.join(" "));
            }
            if f.recursive {
                facts.push("recursive".into());
            }
            if let Some(capture) = &f.capture {
                let mut text = format!(
                    "capture: arguments {}",
                    if capture.arguments { "on" } else { "off" }
                );
                if !capture.redact_args.is_empty() {
                    let positions: Vec<String> =
                        capture.redact_args.iter().map(u8::to_string).collect();
                    let _ = write!(text, ", redacted arguments {}", positions.join(" "));
                }
                if !capture.result {
                    text.push_str(", result off");
                }
                for (k, v) in &capture.caps {
                    let _ = write!(text, ", {k} {v}");
                }
                facts.push(text);
            }
            let facts = if facts.is_empty() {
                String::new()
            } else {
                format!("  [{}]", facts.join("; "))
            };
            let _ = writeln!(
                out,
                "  {mark} {:<width$}  {}{facts}",
                f.function.to_string(),
                f.why
            );
        }
    }
    let totals = report.totals();
    let _ = writeln!(
        out,
        "\n{} modules ({} instrumented): {} functions wrapped, {} not",
        totals.modules, totals.instrumented_modules, totals.wrapped, totals.not_wrapped
    );
    for (rule, n) in &totals.by_rule {
        let _ = writeln!(out, "  {n:>6}  {rule}");
    }
    for (status, n) in &totals.modules_not_planned {
        let _ = writeln!(out, "  {n:>6}  modules: {status}");
    }
    let stats = &outcome.stats;
    let cache = match (&stats.cache_dir, stats.plan_from_cache) {
        (Some(dir), true) => format!("plan from the cache in {}", show(dir)),
        (Some(dir), false) => format!(
            "{} analyzed, {} from the cache in {}",
            stats.analyzed,
            stats.analyses_from_cache,
            show(dir)
        ),
        (None, _) => format!(
            "{} analyzed (no cache outside a Mix project)",
            stats.analyzed
        ),
    };
    let _ = writeln!(out, "{} beams: {cache}", stats.beams);
    if let Some(error) = &stats.cache_error {
        let _ = writeln!(out, "warning: {error}");
    }
    out
}

fn role_name(role: discover::AppRole) -> &'static str {
    match role {
        discover::AppRole::Project => "project",
        discover::AppRole::Dependency => "dependency",
    }
}

fn show(path: &Path) -> String {
    path.display().to_string()
}
