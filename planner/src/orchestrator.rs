//! The Orchestrator: from paths to a plan, through the cache, the analyzer and the planner.
//!
//! 1. Find the beams of the paths ([`discover`]) and their applications: for a Mix build
//!    directory given as a path, each beam's application and whether it is the project's own
//!    or a dependency ([`discover::mix_build`]); `plan.apps` selects among them. Applications,
//!    `ebin`s and beams named directly are always planned.
//! 2. Read each beam's module and original hash (cheap). With the plan cache, a run whose key
//!    (every beam's path, hash and application, and the settings) equals the last one's
//!    returns the cached plan: nothing is analyzed.
//! 3. Analyze the beams of selected applications, each from the cache when its hash matches,
//!    else from its original forms (`jobs` threads, each with its own BEAM helper for Elixir
//!    debug info, started only when needed).
//! 4. Build the call graph, decide every function, store analyses and plan in the cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use beam_format::etf::spawn_with_large_stack;
use beam_rewrite::{HelperConfig, HelperError, HelperPool, InspectPair, Lease};
use discover::{AppRole, DiscoverError, MixBuild};

use crate::inspect::{self, BuildBeam, HiddenFields};
use beam_rewrite::is_elixir_scope_module;
use config::{CaptureSettings, PlanSettings};
use serde::Serialize;

use crate::analyzer;
use crate::cache::{Analysis, PlanCache, CACHE_FORMAT};
use crate::facts::{ModuleFacts, Target};
use crate::graph::CallGraph;
use crate::report::{CaptureReport, FunctionReport, ModuleReport, ModuleStatus, PlanReport};
use crate::source::{self, BeamInfo, Code, SourceError};
use crate::strategy::Planner;

/// The directory, under a project's root, that holds the plan cache.
pub const CACHE_SUBDIR: &str = ".elixir_scope/plan";

/// Why no plan could be made at all (problems with single beams are reported per module).
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// A path stands for no beams.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
}

/// What a run did: how much work, and how much came from the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Beams found.
    pub beams: usize,
    /// Beams whose forms were read and analyzed in this run.
    pub analyzed: usize,
    /// Beams whose analysis came from the cache.
    pub analyses_from_cache: usize,
    /// Whether the whole plan came from the cache.
    pub plan_from_cache: bool,
    /// BEAM helper processes started.
    pub helpers_started: usize,
    /// The cache directory, when there is one.
    pub cache_dir: Option<PathBuf>,
    /// Why the cache could not be written, if it could not.
    pub cache_error: Option<String>,
}

/// A plan and how it was made.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan.
    pub report: PlanReport,
    /// The work done.
    pub stats: RunStats,
    /// The struct fields to redact because the structs' `Inspect` implementations hide them,
    /// or why they could not be found.
    pub hidden: Result<HiddenFields, String>,
}

/// Runs the analyzer and the planner over paths.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    /// The `[plan]` settings.
    pub settings: PlanSettings,
    /// The `[capture]` settings (per-function options appear in the plan).
    pub capture: CaptureSettings,
    /// The configuration file, named in the report.
    pub config_path: Option<PathBuf>,
    /// Analysis threads (and at most as many helpers).
    pub jobs: usize,
    /// Where the plan cache lives; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// How to start BEAM helpers; `None`: found on `PATH` when first needed. (Not used by
    /// [`Orchestrator::run_with`], whose pool says.)
    pub helper: Option<HelperConfig>,
    /// Only the decisions are wanted (`instrument`), not the facts behind them (`plan`). When
    /// the decisions cannot depend on the code (strategy `all`, no patterns, no capture rules:
    /// every function of every selected module) and there is no plan cache, no beam is
    /// analyzed: the report lists those modules as [`ModuleStatus::Whole`], without functions.
    pub decisions_only: bool,
}

/// A beam to plan, with its application.
#[derive(Debug, Clone)]
struct BeamEntry {
    path: PathBuf,
    app: Option<String>,
    role: Option<AppRole>,
    selected: bool,
}

impl Orchestrator {
    /// The plan for the beams of `paths`, with helpers of its own (when it needs any).
    pub fn run(&self, paths: &[PathBuf]) -> Result<Outcome, OrchestratorError> {
        self.run_with(paths, &HelperPool::on_demand(self.helper.clone()))
    }

    /// The plan for the beams of `paths`, analyzing with helpers from `helpers` (the run's
    /// pool: the rewriter reuses them afterwards).
    pub fn run_with(
        &self,
        paths: &[PathBuf],
        helpers: &HelperPool,
    ) -> Result<Outcome, OrchestratorError> {
        let entries = self.entries(paths)?;
        let infos: Vec<Result<BeamInfo, String>> = entries
            .iter()
            .map(|e| source::read_info(&e.path).map_err(|err| err.to_string()))
            .collect();
        let mut stats = RunStats {
            beams: entries.len(),
            cache_dir: self.cache_dir.clone(),
            ..RunStats::default()
        };
        let started_before = helpers.started();
        let hidden = self.hidden_fields(&entries, &infos, helpers);
        stats.helpers_started = helpers.started() - started_before;
        if self.skips_analysis() {
            let report = self.plan(&entries, &infos, &vec![None; entries.len()]);
            return Ok(Outcome {
                report,
                stats,
                hidden,
            });
        }
        let key = self.key(&entries, &infos);
        let mut cache = self.cache_dir.as_deref().map(PlanCache::open);
        if let Some(report) = cache.as_ref().and_then(|c| c.plan(&key)) {
            stats.plan_from_cache = true;
            return Ok(Outcome {
                report,
                stats,
                hidden,
            });
        }

        // Analyses: from the cache, or from the code.
        let mut analyses: Vec<Option<Result<Analysis, String>>> = vec![None; entries.len()];
        let mut queue = Vec::new();
        for (i, (entry, info)) in entries.iter().zip(&infos).enumerate() {
            let Ok(info) = info else { continue };
            if !entry.selected || is_elixir_scope_module(&info.module) {
                continue;
            }
            match cache
                .as_ref()
                .and_then(|c| c.analysis(&entry.path, &info.hash))
            {
                Some(analysis) => {
                    stats.analyses_from_cache += 1;
                    analyses[i] = Some(Ok(analysis));
                }
                None => queue.push(i),
            }
        }
        let fresh = self.analyze_all(&entries, &queue, helpers);
        stats.analyzed = queue.len();
        stats.helpers_started = helpers.started() - started_before;
        let mut depends_on_this_machine = false;
        for (i, Fresh { result, cacheable }) in queue.iter().zip(fresh) {
            depends_on_this_machine |= !cacheable;
            if let (Some(cache), Ok(analysis), Ok(info), true) =
                (cache.as_mut(), &result, &infos[*i], cacheable)
            {
                cache.remember(&entries[*i].path, &info.hash, analysis.clone());
            }
            analyses[*i] = Some(result);
        }

        let report = self.plan(&entries, &infos, &analyses);
        if let Some(cache) = cache.as_mut() {
            let saved = if depends_on_this_machine {
                cache.save_analyses_only()
            } else {
                cache.save(&key, &report)
            };
            if let Err(e) = saved {
                stats.cache_error = Some(e.to_string());
            }
        }
        Ok(Outcome {
            report,
            stats,
            hidden,
        })
    }

    /// The fields structs of the build hide from `Inspect` (every beam of the paths, planned
    /// or not: a dependency's struct hides its secrets too).
    ///
    /// The probe runs the build's own `Inspect` implementations in a helper of the run's pool;
    /// that helper is stopped afterwards rather than given back, so that no code of the build
    /// (or anything it left running) shares a VM with the analysis and the compiles.
    fn hidden_fields(
        &self,
        entries: &[BeamEntry],
        infos: &[Result<BeamInfo, String>],
        helpers: &HelperPool,
    ) -> Result<HiddenFields, String> {
        let beams: Vec<BuildBeam> = entries
            .iter()
            .zip(infos)
            .filter_map(|(entry, info)| {
                let info = info.as_ref().ok()?;
                Some(BuildBeam {
                    path: entry.path.clone(),
                    module: info.module.clone(),
                    hash: info.hash.clone(),
                })
            })
            .collect();
        let probe = |pairs: &[InspectPair]| {
            let mut lease = Lease::new(helpers);
            let answers = lease.run(|helper| helper.inspect_hidden(pairs));
            lease.discard();
            answers
        };
        inspect::hidden_fields(&beams, self.cache_dir.as_deref(), probe).map_err(|e| e.to_string())
    }

    /// The beams of `paths`, each once, with their applications.
    fn entries(&self, paths: &[PathBuf]) -> Result<Vec<BeamEntry>, OrchestratorError> {
        let mut entries: BTreeMap<PathBuf, BeamEntry> = BTreeMap::new();
        let mut builds: BTreeMap<PathBuf, MixBuild> = BTreeMap::new();
        for path in paths {
            let beams = discover::beam_files(std::slice::from_ref(path))?;
            let build_dir = discover::build_dir_of(path);
            let whole_build = build_dir
                .as_ref()
                .is_some_and(|b| std::fs::canonicalize(path).is_ok_and(|p| &p == b));
            let build = match &build_dir {
                Some(dir) if !builds.contains_key(dir) => {
                    let build = discover::mix_build(dir)?;
                    builds.entry(dir.clone()).or_insert(build)
                }
                Some(dir) => &builds[dir],
                None => {
                    for beam in beams {
                        let app = app_of_ebin(&beam);
                        entries.entry(beam.clone()).or_insert(BeamEntry {
                            path: beam,
                            app,
                            role: None,
                            selected: true,
                        });
                    }
                    continue;
                }
            };
            for beam in beams {
                let canonical = std::fs::canonicalize(&beam).unwrap_or_else(|_| beam.clone());
                let app = build.app_of(&canonical);
                let selected = !whole_build
                    || app.is_none_or(|a| {
                        self.settings
                            .apps
                            .selects(&a.name, a.role == AppRole::Dependency)
                    });
                let entry = entries.entry(beam.clone()).or_insert(BeamEntry {
                    path: beam,
                    app: app.map(|a| a.name.clone()),
                    role: app.map(|a| a.role),
                    selected: false,
                });
                entry.selected |= selected;
            }
        }
        Ok(entries.into_values().collect())
    }

    /// Whether this run plans without analyzing: only decisions are wanted, none depends on a
    /// module's code (strategy `all`, no patterns, no capture rules), and there is no plan
    /// cache. With a cache, the analysis is done once and kept: it tells which modules have
    /// nothing the rewriter can wrap, so that later runs leave them alone without a helper.
    fn skips_analysis(&self) -> bool {
        self.decisions_only
            && self.cache_dir.is_none()
            && self.settings.strategy == config::Strategy::All
            && self.settings.include.is_empty()
            && self.settings.exclude.is_empty()
            && self.capture.rules.is_empty()
    }

    /// The key of a plan: the settings, and every beam's path, hash and application.
    fn key(&self, entries: &[BeamEntry], infos: &[Result<BeamInfo, String>]) -> String {
        let mut text = format!(
            "elixir-scope plan cache {CACHE_FORMAT}\n{:?}\n{:?}\n{:?}\n",
            self.settings, self.capture, self.config_path
        );
        for (entry, info) in entries.iter().zip(infos) {
            let hash = info.as_ref().map_or("unreadable", |i| i.hash.as_str());
            text.push_str(&format!(
                "{}\t{hash}\t{:?}\t{:?}\t{}\n",
                entry.path.display(),
                entry.app,
                entry.role,
                entry.selected
            ));
        }
        beam_format::marker::hash_hex(text.as_bytes())
    }

    /// Analyzes `entries[i]` for every `i` of `queue`, on `jobs` threads.
    fn analyze_all(
        &self,
        entries: &[BeamEntry],
        queue: &[usize],
        helpers: &HelperPool,
    ) -> Vec<Fresh> {
        let results: Mutex<Vec<Option<Fresh>>> = Mutex::new(vec![None; queue.len()]);
        let next = AtomicUsize::new(0);
        let workers = self.jobs.clamp(1, queue.len().max(1));
        std::thread::scope(|scope| {
            for n in 0..workers {
                let (results, next) = (&results, &next);
                let work = move || {
                    let mut helper = Lease::new(helpers);
                    while let Some(&index) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let path = &entries[index].path;
                        let mut ask = |module: &str, dbgi: &[u8]| forms(&mut helper, module, dbgi);
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            analyze_beam(path, &mut ask)
                        }))
                        .unwrap_or_else(|_| {
                            helper.discard();
                            Fresh::not_cached(Err(format!(
                                "{}: internal error of the analyzer (please report it)",
                                path.display()
                            )))
                        });
                        if let Ok(mut results) = results.lock() {
                            if let Some(slot) = results.get_mut(next_slot(queue, index)) {
                                *slot = Some(result);
                            }
                        }
                    }
                };
                let spawned = spawn_with_large_stack(scope, format!("analyze-{n}"), work);
                if spawned.is_err() && n == 0 {
                    break;
                }
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .zip(queue)
            .map(|(r, i)| {
                r.unwrap_or_else(|| {
                    Fresh::not_cached(Err(format!(
                        "{}: the analysis did not run",
                        entries[*i].path.display()
                    )))
                })
            })
            .collect()
    }

    /// Decides every function and assembles the report.
    fn plan(
        &self,
        entries: &[BeamEntry],
        infos: &[Result<BeamInfo, String>],
        analyses: &[Option<Result<Analysis, String>>],
    ) -> PlanReport {
        let modules: Vec<ModuleFacts> = analyses
            .iter()
            .filter_map(|a| match a {
                Some(Ok(Analysis::Facts(facts))) => Some(facts.clone()),
                _ => None,
            })
            .collect();
        let graph = CallGraph::build(&modules);
        let planner = Planner::new(&self.settings, &modules, &graph);
        let mut reports = Vec::with_capacity(entries.len());
        for ((entry, info), analysis) in entries.iter().zip(infos).zip(analyses) {
            let module = match info {
                Ok(info) => info.module.clone(),
                Err(_) => file_stem(&entry.path),
            };
            let mut report = ModuleReport {
                module: module.clone(),
                path: entry.path.clone(),
                app: entry.app.clone(),
                role: entry.role,
                status: ModuleStatus::Planned,
                functions: Vec::new(),
            };
            report.status = match (info, analysis) {
                (Err(error), _) => ModuleStatus::Failed {
                    error: error.clone(),
                },
                _ if is_elixir_scope_module(&module) => ModuleStatus::ElixirScope,
                _ if !entry.selected => ModuleStatus::AppNotSelected {
                    app: entry.app.clone().unwrap_or_default(),
                },
                (_, Some(Err(error))) => ModuleStatus::Failed {
                    error: error.clone(),
                },
                (_, Some(Ok(Analysis::Unavailable { why }))) => {
                    ModuleStatus::NoDebugInfo { why: why.clone() }
                }
                (_, Some(Ok(Analysis::Facts(facts)))) => {
                    report.functions = self.functions(&planner, &graph, facts);
                    ModuleStatus::Planned
                }
                (_, None) if self.skips_analysis() => ModuleStatus::Whole,
                (_, None) => ModuleStatus::Failed {
                    error: format!("{}: not analyzed", entry.path.display()),
                },
            };
            reports.push(report);
        }
        reports.sort_by(|a, b| a.module.cmp(&b.module).then(a.path.cmp(&b.path)));
        PlanReport {
            strategy: self.settings.strategy.to_string(),
            apps: self.settings.apps.to_string(),
            config: self.config_path.clone(),
            modules: reports,
        }
    }

    fn functions(
        &self,
        planner: &Planner<'_>,
        graph: &CallGraph,
        facts: &ModuleFacts,
    ) -> Vec<FunctionReport> {
        facts
            .functions
            .iter()
            .map(|function| {
                let decision = planner.decide(facts, function);
                let target = Target {
                    module: facts.module.clone(),
                    name: function.function.name.clone(),
                    arity: function.function.arity,
                };
                let capture = decision
                    .wrap
                    .then(|| self.capture.options_for(&facts.module, &function.function))
                    .flatten()
                    .map(|o| CaptureReport {
                        arguments: o.arguments,
                        redact_args: o.redact_args,
                        result: o.result,
                        caps: o.caps,
                    });
                FunctionReport {
                    function: function.function.clone(),
                    why: decision.reason.to_string(),
                    decision,
                    exported: function.exported,
                    size: function.size,
                    recursive: graph.is_recursive(&target),
                    pure: graph.is_pure(&target),
                    effects: graph.effects_reached(&target),
                    injected_from: function.injected_from.clone(),
                    capture,
                }
            })
            .collect()
    }
}

/// The slot of `index` in `queue` (queue entries are distinct and ascending).
fn next_slot(queue: &[usize], index: usize) -> usize {
    queue.binary_search(&index).unwrap_or(usize::MAX)
}

/// A beam's analysis made in this run, and whether it may be cached.
#[derive(Debug, Clone)]
struct Fresh {
    result: Result<Analysis, String>,
    /// `false` when it depends on more than the beam (see [`Code::UnavailableHere`]); errors
    /// are never cached either way.
    cacheable: bool,
}

impl Fresh {
    fn not_cached(result: Result<Analysis, String>) -> Fresh {
        Fresh {
            result,
            cacheable: false,
        }
    }
}

/// Reads and analyzes one beam.
fn analyze_beam(path: &Path, helper: &mut source::AskForms<'_>) -> Fresh {
    let result = match source::code(path, helper) {
        Ok(Code::Forms { forms, elixir }) => analyzer::analyze(&forms, elixir)
            .map(Analysis::Facts)
            .map_err(|e| format!("{}: {e}", path.display())),
        Ok(Code::Unavailable(why)) => Ok(Analysis::Unavailable { why }),
        Ok(Code::UnavailableHere(why)) => {
            return Fresh::not_cached(Ok(Analysis::Unavailable { why }))
        }
        Err(SourceError::Read(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Fresh {
        result,
        cacheable: true,
    }
}

/// Asks the worker's helper for forms (taking one from the pool first if needed).
fn forms(
    helper: &mut Lease<'_>,
    module: &str,
    dbgi: &[u8],
) -> Result<beam_rewrite::FormsReply, HelperError> {
    if dbgi_is_elixir(dbgi) && helper.config()?.elixir_ebin.is_none() {
        return Err(HelperError::NoElixir);
    }
    helper.run(|running| running.forms(module, dbgi))
}

/// Whether a `Dbgi` chunk names the `elixir_erl` backend (without decoding it).
fn dbgi_is_elixir(dbgi: &[u8]) -> bool {
    dbgi.windows(b"elixir_erl".len())
        .any(|w| w == b"elixir_erl")
}

/// The application of an `ebin` that holds exactly one `.app` file.
fn app_of_ebin(beam: &Path) -> Option<String> {
    let ebin = beam.parent()?;
    let apps: Vec<String> = std::fs::read_dir(ebin)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? == "app" {
                Some(p.file_stem()?.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    match apps.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where the plan cache of a run over `paths` goes: `ROOT/.elixir_scope/plan` for the first
/// path inside a Mix project (`ROOT/_build/...`), else next to the configuration file; `None`
/// when neither exists (no cache).
pub fn default_cache_dir(paths: &[PathBuf], config_file: Option<&Path>) -> Option<PathBuf> {
    paths
        .iter()
        .filter_map(|p| discover::build_dir_of(p))
        .find_map(|build| {
            let parent = build.parent()?;
            (parent.file_name()? == "_build").then(|| parent.parent().map(Path::to_path_buf))?
        })
        .or_else(|| config_file.and_then(Path::parent).map(Path::to_path_buf))
        .map(|root| root.join(CACHE_SUBDIR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Compiles an Erlang and an Elixir module, each holding one list literal of `length`
    /// elements, into `dir`.
    fn long_list_modules(dir: &Path, length: usize) {
        let elements: Vec<String> = (0..length).map(|i| i.to_string()).collect();
        let erlang = dir.join("long_list.erl");
        std::fs::write(
            &erlang,
            format!(
                "-module(long_list).\n-export([l/0]).\nl() -> [{}].\n",
                elements.join(",")
            ),
        )
        .unwrap();
        let elixir = dir.join("long_list.ex");
        std::fs::write(
            &elixir,
            format!(
                "defmodule LongList do\n  def l, do: [{}]\nend\n",
                elements.join(",")
            ),
        )
        .unwrap();
        for (program, args, source) in [
            ("erlc", vec!["+debug_info", "-o"], &erlang),
            ("elixirc", vec!["-o"], &elixir),
        ] {
            let output = Command::new(program)
                .args(args)
                .arg(dir)
                .arg(source)
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {program} ({e}): apt-get install -y erlang-nox elixir")
                });
            assert!(output.status.success(), "{program} failed: {output:?}");
        }
    }

    #[test]
    fn a_long_list_literal_is_analyzed_like_any_code() {
        let dir = tempfile::tempdir().unwrap();
        // Abstract code nests a cons cell per element: 5,000 levels, beyond what an
        // ordinary thread accepts.
        long_list_modules(dir.path(), 5_000);
        let orchestrator = Orchestrator {
            settings: PlanSettings::default(),
            capture: CaptureSettings::default(),
            config_path: None,
            jobs: 2,
            cache_dir: None,
            helper: None,
            decisions_only: false,
        };
        let outcome = orchestrator.run(&[dir.path().to_path_buf()]).unwrap();
        let statuses: Vec<(String, ModuleStatus)> = outcome
            .report
            .modules
            .iter()
            .map(|m| (m.module.clone(), m.status.clone()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("Elixir.LongList".to_string(), ModuleStatus::Planned),
                ("long_list".to_string(), ModuleStatus::Planned),
            ]
        );
    }

    #[test]
    fn a_run_that_skips_the_analysis_still_finds_what_inspect_hides() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("account.ex");
        std::fs::write(
            &source,
            "defmodule Account do\n  @derive {Inspect, except: [:secret]}\n  \
             defstruct [:name, :secret]\nend\n",
        )
        .unwrap();
        let output = Command::new("elixirc")
            .arg("-o")
            .arg(dir.path())
            .arg(&source)
            .output()
            .unwrap_or_else(|e| panic!("cannot run elixirc ({e}): apt-get install -y elixir"));
        assert!(output.status.success(), "elixirc failed: {output:?}");
        let orchestrator = Orchestrator {
            settings: PlanSettings {
                strategy: config::Strategy::All,
                ..PlanSettings::default()
            },
            capture: CaptureSettings::default(),
            config_path: None,
            jobs: 2,
            cache_dir: None,
            helper: None,
            decisions_only: true,
        };
        let helpers = HelperPool::on_demand(None);
        let outcome = orchestrator
            .run_with(&[dir.path().to_path_buf()], &helpers)
            .unwrap();
        assert_eq!(
            outcome.stats.analyzed, 0,
            "strategy all: nothing to analyze"
        );
        let account = outcome
            .report
            .modules
            .iter()
            .find(|m| m.module == "Elixir.Account")
            .unwrap();
        assert_eq!(account.status, ModuleStatus::Whole);
        let hidden = outcome.hidden.unwrap();
        assert_eq!(
            hidden.fields.get("Elixir.Account"),
            Some(&vec!["secret".to_string()])
        );
        // The probe's helper ran the build's code: it was stopped, not kept for the rewrite.
        assert_eq!(outcome.stats.helpers_started, 1);
        assert_eq!(helpers.started(), 1);
        let mut lease = Lease::new(&helpers);
        lease.run(|helper| helper.check("m", b"")).unwrap_err();
        assert_eq!(helpers.started(), 2, "a new helper for the next request");
    }
}
