//! The plan: which functions of which module to wrap.
//!
//! A [`Plan`] covers a whole run. It comes from `--include`/`--exclude` patterns
//! ([`Plan::Patterns`]), from explicit per-module function sets ([`Plan::Explicit`]), or from
//! the planner ([`Plan::Modules`]: a [`Selection`] per module, so that a module whose every
//! function is planned hashes exactly as under [`Plan::everything`]). Either way the rewriter asks it for one module at a time
//! ([`Plan::for_module`]) and gets a [`ModulePlan`], whose [`ModulePlan::hash`] is written into
//! the marker chunk: a beam already rewritten under an equal hash needs no work.
//!
//! A plan says what *should* be wrapped; functions that cannot be wrapped (compiler-generated,
//! NIF stubs, ...) are still left alone, with the reason recorded (see
//! `beam_rewrite::SkipReason`).

pub mod pattern;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

pub use pattern::{Pattern, PatternError};

use beam_format::tables::FunctionRef;

/// Version of what the rewriter produces for a plan. It is part of every plan hash, so that
/// beams rewritten by a version that wrapped differently are rewritten again.
/// 3: the recorder runs the function without a frame when `enter/4` answers `deep`;
/// 4: remote self-calls in tail position are announced (`remote_tail_call/3`);
/// 5: wrappers ask the gate module (`elixir_scope_gate:on/1`) instead of a persistent term;
/// 6: `process_info` answers are cleaned where rewritten code asks for them;
/// 7: so are reads of the whole process dictionary (`get/0`, `get_keys/0,1`, `erase/0`);
/// 8: and `fun_info/1,2` answers;
/// 9: `erlang:hibernate/3` and `proc_lib:hibernate/3` tell the runtime (`discarding_stack/1`);
/// 10: the recorder applies `fun 'es$f'/N` again (the dispatcher of some 9s let the compiler
/// hand binary match contexts to inner functions that could not take them);
/// 11: local tail calls go to a tail entry per target (`'es$$tail$f'`), which reports them;
/// 12: sends are reported to the runtime right before they happen (`'es$$send'/3`).
pub const REWRITE_FORMAT: u32 = 12;

/// What to wrap, for a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Functions that match an include pattern (every function when there is none) and no
    /// exclude pattern.
    Patterns {
        /// Functions to wrap; empty means all.
        include: Vec<Pattern>,
        /// Functions not to wrap, even when included.
        exclude: Vec<Pattern>,
    },
    /// Exactly these functions of these modules; other modules are left alone.
    Explicit(BTreeMap<String, BTreeSet<FunctionRef>>),
    /// A selection per module (the planner's output); other modules are left alone.
    Modules {
        /// What to wrap, per module.
        selections: BTreeMap<String, Selection>,
        /// Capture options of the functions that have any, per module.
        capture: BTreeMap<String, BTreeMap<FunctionRef, Capture>>,
    },
}

/// What to wrap in one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePlan {
    /// The module (`Elixir.MyApp.Repo`, `my_mod`).
    pub module: String,
    /// Its functions to wrap.
    pub selection: Selection,
    /// Capture options of the wrapped functions that have any (the others: the runtime's).
    pub capture: BTreeMap<FunctionRef, Capture>,
}

/// What the runtime captures of one function's calls, where it differs from the defaults
/// (`[[capture.rules]]` of `elixir_scope.toml`). The rewriter hands it to the runtime with
/// every call of the function (`enter/5` of the runtime contract).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capture {
    /// Whether the arguments are recorded (`false`: each is recorded as a redacted marker).
    pub arguments: bool,
    /// Argument positions (1-based, ascending) recorded as redacted.
    pub redact_args: Vec<u8>,
    /// Whether the result is recorded (`false`: a redacted marker).
    pub result: bool,
    /// Caps for the function's arguments and result, by the runtime's names (`max_bytes`,
    /// ...); the others stay the runtime's.
    pub caps: BTreeMap<String, u64>,
}

impl Default for Capture {
    fn default() -> Capture {
        Capture {
            arguments: true,
            redact_args: Vec::new(),
            result: true,
            caps: BTreeMap::new(),
        }
    }
}

impl Capture {
    /// A stable text for plan hashes: `args=false max_bytes=256`, `args=true redact_args=2
    /// result=false` (options at their default left out: plans that do not use an option keep
    /// their hashes).
    pub fn fingerprint(&self) -> String {
        let mut text = format!("args={}", self.arguments);
        if !self.redact_args.is_empty() {
            let positions: Vec<String> = self.redact_args.iter().map(u8::to_string).collect();
            let _ = write!(text, " redact_args={}", positions.join(","));
        }
        if !self.result {
            text.push_str(" result=false");
        }
        for (key, value) in &self.caps {
            let _ = write!(text, " {key}={value}");
        }
        text
    }
}

/// Which functions of a module a plan selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// None: the module is left as compiled.
    Nothing,
    /// Every function.
    All,
    /// Functions matching `include` (all when empty) and not `exclude`: the patterns of a
    /// [`Plan::Patterns`] that concern this module.
    Patterns {
        /// Function patterns that include.
        include: Vec<Pattern>,
        /// Function patterns that exclude.
        exclude: Vec<Pattern>,
    },
    /// Exactly these functions.
    Functions(BTreeSet<FunctionRef>),
}

impl Plan {
    /// Wrap every function of every module.
    pub fn everything() -> Plan {
        Plan::Patterns {
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// A plan from `--include` and `--exclude` patterns as written.
    pub fn from_patterns<I, E>(include: I, exclude: E) -> Result<Plan, PatternError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
        E: IntoIterator,
        E::Item: AsRef<str>,
    {
        let parse = |texts: Vec<String>| -> Result<Vec<Pattern>, PatternError> {
            texts.iter().map(|t| Pattern::parse(t)).collect()
        };
        Ok(Plan::Patterns {
            include: parse(
                include
                    .into_iter()
                    .map(|s| s.as_ref().to_string())
                    .collect(),
            )?,
            exclude: parse(
                exclude
                    .into_iter()
                    .map(|s| s.as_ref().to_string())
                    .collect(),
            )?,
        })
    }

    /// The plan for one module.
    pub fn for_module(&self, module: &str) -> ModulePlan {
        let selection = match self {
            Plan::Patterns { include, exclude } => patterns_for(module, include, exclude),
            Plan::Explicit(modules) => match modules.get(module) {
                Some(functions) if !functions.is_empty() => Selection::Functions(functions.clone()),
                _ => Selection::Nothing,
            },
            Plan::Modules { selections, .. } => match selections.get(module) {
                Some(Selection::Functions(functions)) if functions.is_empty() => Selection::Nothing,
                Some(selection) => selection.clone(),
                None => Selection::Nothing,
            },
        };
        let capture = match self {
            Plan::Modules { capture, .. } if selection != Selection::Nothing => {
                capture.get(module).cloned().unwrap_or_default()
            }
            _ => BTreeMap::new(),
        };
        ModulePlan {
            module: module.to_string(),
            selection,
            capture,
        }
    }
}

fn patterns_for(module: &str, include: &[Pattern], exclude: &[Pattern]) -> Selection {
    let concerning = |patterns: &[Pattern]| -> Vec<Pattern> {
        let set: BTreeSet<Pattern> = patterns
            .iter()
            .filter(|p| p.matches_module(module))
            .cloned()
            .collect();
        set.into_iter().collect()
    };
    let included = concerning(include);
    let excluded = concerning(exclude);
    if !include.is_empty() && included.is_empty() {
        return Selection::Nothing;
    }
    if excluded.iter().any(Pattern::is_whole_module) {
        return Selection::Nothing;
    }
    let included = if included.iter().any(Pattern::is_whole_module) {
        Vec::new()
    } else {
        included
    };
    if included.is_empty() && excluded.is_empty() {
        return Selection::All;
    }
    Selection::Patterns {
        include: included,
        exclude: excluded,
    }
}

impl ModulePlan {
    /// Whether the plan wants this function wrapped.
    pub fn selects(&self, function: &FunctionRef) -> bool {
        match &self.selection {
            Selection::Nothing => false,
            Selection::All => true,
            Selection::Patterns { include, exclude } => {
                (include.is_empty() || include.iter().any(|p| p.matches_function(function)))
                    && !exclude.iter().any(|p| p.matches_function(function))
            }
            Selection::Functions(functions) => functions.contains(function),
        }
    }

    /// Whether the plan leaves the module alone.
    pub fn selects_nothing(&self) -> bool {
        self.selection == Selection::Nothing
    }

    /// A stable hash of this plan (hex BLAKE3): equal plans give equal hashes across runs and
    /// machines. It covers [`REWRITE_FORMAT`], the module, the selection and the capture
    /// options (only when there are any, so that plans without keep their hashes).
    pub fn hash(&self) -> String {
        let mut text = format!(
            "elixir-scope plan {REWRITE_FORMAT}\nmodule {}\n",
            self.module
        );
        let join = |patterns: &[Pattern]| {
            patterns
                .iter()
                .map(Pattern::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match &self.selection {
            Selection::Nothing => text.push_str("nothing\n"),
            Selection::All => text.push_str("all\n"),
            Selection::Patterns { include, exclude } => {
                let _ = write!(
                    text,
                    "include {}\nexclude {}\n",
                    join(include),
                    join(exclude)
                );
            }
            Selection::Functions(functions) => {
                text.push_str("functions");
                for f in functions {
                    let _ = write!(text, " {f}");
                }
                text.push('\n');
            }
        }
        for (function, capture) in &self.capture {
            let _ = writeln!(text, "capture {function} {}", capture.fingerprint());
        }
        beam_format::marker::hash_hex(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, arity: u32) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            arity,
        }
    }

    fn plan(include: &[&str], exclude: &[&str]) -> Plan {
        Plan::from_patterns(include, exclude).unwrap()
    }

    #[test]
    fn no_patterns_select_every_function() {
        let m = Plan::everything().for_module("Elixir.Anything");
        assert_eq!(m.selection, Selection::All);
        assert!(m.selects(&f("run", 1)));
    }

    #[test]
    fn includes_and_excludes_combine() {
        let p = plan(
            &["MyApp.*", "MyApp.Repo.get/2"],
            &["MyApp.Repo.get/2", "MyApp.Secret"],
        );
        let repo = p.for_module("Elixir.MyApp.Repo");
        assert!(repo.selects(&f("all", 1)), "MyApp.* includes all of Repo");
        assert!(!repo.selects(&f("get", 2)), "the exclude wins");
        assert!(p.for_module("Elixir.MyApp.Secret").selects_nothing());
        assert!(p.for_module("Elixir.Other").selects_nothing());
        assert!(p.for_module("lists").selects_nothing());

        let only = plan(&["lists:rev*/1"], &[]).for_module("lists");
        assert!(only.selects(&f("reverse", 1)));
        assert!(!only.selects(&f("reverse", 2)));
        assert!(!only.selects(&f("map", 2)));
    }

    #[test]
    fn hashes_are_stable_and_ignore_unrelated_patterns() {
        let a = plan(&["MyApp.Repo.get/2", "Other"], &[]).for_module("Elixir.MyApp.Repo");
        let b = plan(&["Other2", "MyApp.Repo.get/2"], &[]).for_module("Elixir.MyApp.Repo");
        assert_eq!(a.hash(), b.hash());
        let c = plan(&["MyApp.Repo.get/3"], &[]).for_module("Elixir.MyApp.Repo");
        assert_ne!(a.hash(), c.hash());
        let all = Plan::everything().for_module("Elixir.MyApp.Repo");
        assert_ne!(a.hash(), all.hash());
        // A known value: changing it means every instrumented beam gets rewritten again.
        assert_eq!(all.hash().len(), 64);
        assert_eq!(
            all.hash(),
            Plan::everything().for_module("Elixir.MyApp.Repo").hash()
        );
    }

    #[test]
    fn explicit_plans_name_their_functions() {
        let mut modules = BTreeMap::new();
        modules.insert("m".to_string(), BTreeSet::from([f("a", 1)]));
        let p = Plan::Explicit(modules);
        assert!(p.for_module("m").selects(&f("a", 1)));
        assert!(!p.for_module("m").selects(&f("b", 1)));
        assert!(p.for_module("n").selects_nothing());
    }

    #[test]
    fn per_module_selections_hash_like_the_same_selection_elsewhere() {
        let functions = BTreeSet::from([f("a", 1)]);
        let p = Plan::Modules {
            selections: BTreeMap::from([
                ("all".to_string(), Selection::All),
                ("some".to_string(), Selection::Functions(functions.clone())),
                ("none".to_string(), Selection::Functions(BTreeSet::new())),
            ]),
            capture: BTreeMap::new(),
        };
        assert_eq!(
            p.for_module("all").hash(),
            Plan::everything().for_module("all").hash()
        );
        let explicit = Plan::Explicit(BTreeMap::from([("some".to_string(), functions)]));
        assert_eq!(
            p.for_module("some").hash(),
            explicit.for_module("some").hash()
        );
        assert!(p.for_module("none").selects_nothing());
        assert!(p.for_module("absent").selects_nothing());
    }

    #[test]
    fn capture_options_change_the_hash_of_their_module_only() {
        let hidden = Capture {
            arguments: false,
            ..Capture::default()
        };
        let plan = |capture: BTreeMap<String, BTreeMap<FunctionRef, Capture>>| Plan::Modules {
            selections: BTreeMap::from([
                ("m".to_string(), Selection::All),
                ("n".to_string(), Selection::All),
            ]),
            capture,
        };
        let plain = plan(BTreeMap::new());
        let with = plan(BTreeMap::from([(
            "m".to_string(),
            BTreeMap::from([(f("login", 2), hidden.clone())]),
        )]));
        assert_eq!(
            with.for_module("m").capture,
            BTreeMap::from([(f("login", 2), hidden)])
        );
        assert_ne!(with.for_module("m").hash(), plain.for_module("m").hash());
        assert_eq!(with.for_module("n").hash(), plain.for_module("n").hash());
        assert_eq!(
            plain.for_module("m").hash(),
            Plan::everything().for_module("m").hash()
        );
    }
}
