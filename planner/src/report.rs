//! The plan as people and programs see it: per module, per function, what happens and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use beam_format::FunctionRef;
use beam_plan::{Capture, Plan, Selection};
use discover::AppRole;
use serde::{Deserialize, Serialize};

use crate::facts::Effect;
use crate::reason::{Decision, Reason};

/// What happens to a whole module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ModuleStatus {
    /// Its functions were planned one by one.
    Planned,
    /// Every function is wrapped whatever the code says, so the code was not analyzed
    /// (`instrument` under strategy `all` with no patterns and no capture rules, without a plan
    /// cache; see [`crate::Orchestrator::decisions_only`]).
    Whole,
    /// Its application is not selected (`apps`).
    AppNotSelected {
        /// The application.
        app: String,
    },
    /// Its beam has no usable debug info.
    NoDebugInfo {
        /// Why.
        why: String,
    },
    /// ElixirScope's own module: never wrapped.
    ElixirScope,
    /// The beam could not be read or analyzed.
    Failed {
        /// What went wrong (names the file).
        error: String,
    },
}

impl ModuleStatus {
    /// The status as a sentence.
    pub fn describe(&self) -> String {
        match self {
            ModuleStatus::Planned => "planned".into(),
            ModuleStatus::Whole => "planned: every function (not analyzed)".into(),
            ModuleStatus::AppNotSelected { app } => {
                format!("not planned: application {app} is not selected (plan.apps)")
            }
            ModuleStatus::NoDebugInfo { why } => format!("not planned: {why}"),
            ModuleStatus::ElixirScope => "not planned: part of ElixirScope's runtime".into(),
            ModuleStatus::Failed { error } => format!("failed: {error}"),
        }
    }
}

/// Capture options of a function that differ from the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReport {
    /// Whether arguments are recorded.
    pub arguments: bool,
    /// Argument positions (1-based) recorded as redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact_args: Vec<u8>,
    /// Whether the result is recorded.
    #[serde(default = "recorded", skip_serializing_if = "is_recorded")]
    pub result: bool,
    /// Caps by runtime key.
    pub caps: BTreeMap<String, u64>,
}

fn recorded() -> bool {
    true
}

fn is_recorded(result: &bool) -> bool {
    *result
}

/// What the plan says about one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionReport {
    /// The function.
    pub function: FunctionRef,
    /// The decision and its reason.
    #[serde(flatten)]
    pub decision: Decision,
    /// The reason as a sentence.
    pub why: String,
    /// Whether it is exported.
    pub exported: bool,
    /// Its size in expressions.
    pub size: u32,
    /// Whether it is recursive (directly or through a cycle).
    pub recursive: bool,
    /// Whether it and everything it calls are free of side effects.
    pub pure: bool,
    /// Side effects of it and of the analyzed functions it calls.
    pub effects: BTreeSet<Effect>,
    /// The file a macro brought it from, when not the module's own.
    pub injected_from: Option<String>,
    /// Capture options, when a `[[capture.rules]]` entry applies.
    pub capture: Option<CaptureReport>,
}

/// What the plan says about one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleReport {
    /// The module.
    pub module: String,
    /// Its beam.
    pub path: PathBuf,
    /// Its application, when known.
    pub app: Option<String>,
    /// Whether the application is the project's own or a dependency (Mix builds only).
    pub role: Option<AppRole>,
    /// What happens to the module.
    #[serde(flatten)]
    pub status: ModuleStatus,
    /// Its functions, in source order (empty unless planned).
    pub functions: Vec<FunctionReport>,
}

impl ModuleReport {
    /// The rewriter's selection for this module: `All` when every function is selected,
    /// `Nothing` when none of the selected ones can be wrapped (so that the rewriter need not
    /// read the module's code again to find that out, on every run).
    pub fn selection(&self) -> Selection {
        match self.status {
            ModuleStatus::Planned => {}
            ModuleStatus::Whole => return Selection::All,
            _ => return Selection::Nothing,
        }
        if !self.functions.iter().any(|f| f.decision.wrap) {
            return Selection::Nothing;
        }
        let selected: BTreeSet<FunctionRef> = self
            .functions
            .iter()
            .filter(|f| f.decision.selected)
            .map(|f| f.function.clone())
            .collect();
        if selected.len() == self.functions.len() {
            Selection::All
        } else {
            Selection::Functions(selected)
        }
    }
}

impl ModuleReport {
    /// Capture options of the selected functions that have any (that change something).
    pub fn capture(&self) -> BTreeMap<FunctionRef, Capture> {
        self.functions
            .iter()
            .filter(|f| f.decision.selected)
            .filter_map(|f| {
                // Options that change nothing cost nothing.
                let c = f.capture.as_ref().filter(|c| {
                    !c.arguments || !c.redact_args.is_empty() || !c.result || !c.caps.is_empty()
                })?;
                let capture = Capture {
                    arguments: c.arguments,
                    redact_args: c.redact_args.clone(),
                    result: c.result,
                    caps: c.caps.clone(),
                };
                Some((f.function.clone(), capture))
            })
            .collect()
    }
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReport {
    /// The strategy.
    pub strategy: String,
    /// The applications selected (`plan.apps`).
    pub apps: String,
    /// The configuration file used, if any.
    pub config: Option<PathBuf>,
    /// Every module, sorted by name.
    pub modules: Vec<ModuleReport>,
}

/// Counts over a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanTotals {
    /// Modules looked at.
    pub modules: usize,
    /// Modules with at least one function wrapped.
    pub instrumented_modules: usize,
    /// Functions wrapped.
    pub wrapped: usize,
    /// Functions not wrapped.
    pub not_wrapped: usize,
    /// Functions by rule (`public`, `private`, `tiny_hot_leaf`, `cannot_wrap: ...`).
    pub by_rule: BTreeMap<String, usize>,
    /// Modules not planned, by status.
    pub modules_not_planned: BTreeMap<String, usize>,
}

impl PlanReport {
    /// The plan the rewriter follows.
    pub fn plan(&self) -> Plan {
        let selections = self
            .modules
            .iter()
            .map(|m| (m.module.clone(), m.selection()))
            .filter(|(_, s)| *s != Selection::Nothing)
            .collect();
        let capture = self
            .modules
            .iter()
            .map(|m| (m.module.clone(), m.capture()))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        Plan::Modules {
            selections,
            capture,
        }
    }

    /// The report of one module.
    pub fn module(&self, module: &str) -> Option<&ModuleReport> {
        self.modules.iter().find(|m| m.module == module)
    }

    /// Counts over the plan.
    pub fn totals(&self) -> PlanTotals {
        let mut totals = PlanTotals {
            modules: self.modules.len(),
            ..PlanTotals::default()
        };
        for module in &self.modules {
            if module.status != ModuleStatus::Planned {
                let key = serde_json::to_value(&module.status)
                    .ok()
                    .and_then(|v| v["status"].as_str().map(str::to_string))
                    .unwrap_or_default();
                *totals.modules_not_planned.entry(key).or_default() += 1;
                continue;
            }
            let wrapped = module.functions.iter().filter(|f| f.decision.wrap).count();
            totals.wrapped += wrapped;
            totals.not_wrapped += module.functions.len() - wrapped;
            if wrapped > 0 {
                totals.instrumented_modules += 1;
            }
            for f in &module.functions {
                *totals.by_rule.entry(f.decision.reason.rule()).or_default() += 1;
            }
        }
        totals
    }
}

/// Whether a reason is one of `balanced`'s exclusions (for tests and summaries).
pub fn is_tiny_hot_leaf(reason: &Reason) -> bool {
    matches!(reason, Reason::TinyHotLeaf { .. })
}
