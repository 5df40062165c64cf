//! The InstrumentationPlanner: a [`Decision`] for every function, from the strategy, the
//! patterns, the facts and the call graph.
//!
//! In order, for each function:
//! 1. an exclude pattern that matches: not planned;
//! 2. include patterns, when there are any: a function none matches is not planned; one that a
//!    pattern *names* (its function part has no `*`, as in `MyApp.Repo.get/2` or
//!    `my_mod:loop`) is planned whatever the strategy says;
//! 3. the strategy:
//!    - `all`: every function;
//!    - `all_public`: exported functions;
//!    - `callbacks`: callbacks ([`crate::behaviours`]) and the exported functions of modules
//!      that implement a behaviour (or look like a Plug);
//!    - `balanced`: callbacks and exported functions, minus *tiny hot leaves*: functions that
//!      are small (at most `tiny_size` expressions), pure all the way down, call no other
//!      analyzed function, are not recursive, and are called from a loop (inside a
//!      comprehension, in or as a fun passed to `Enum`/`lists`/... higher-order functions,
//!      or by a recursive function).
//! 4. a planned function the rewriter cannot wrap (generated, macro, NIF stub, ...) stays in
//!    the plan (the rewriter skips it and says why) and its reason says why it is not wrapped.

use beam_plan::Pattern;
use config::{PlanSettings, Strategy};

use crate::behaviours::{callback_of, Declared};
use crate::facts::{FunctionFacts, ModuleFacts, Target};
use crate::graph::CallGraph;
use crate::reason::{Decision, Reason};

/// Decides for the functions of the analyzed modules.
pub struct Planner<'a> {
    settings: &'a PlanSettings,
    graph: &'a CallGraph,
    declared: Declared,
}

impl<'a> Planner<'a> {
    /// A planner over `modules` (all analyzed modules, for behaviours they declare) and their
    /// call graph.
    pub fn new(settings: &'a PlanSettings, modules: &[ModuleFacts], graph: &'a CallGraph) -> Self {
        let declared = modules
            .iter()
            .filter(|m| !m.declared_callbacks.is_empty())
            .map(|m| (m.module.clone(), m.declared_callbacks.clone()))
            .collect();
        Planner {
            settings,
            graph,
            declared,
        }
    }

    /// The decision for `function` of `module`.
    pub fn decide(&self, module: &ModuleFacts, function: &FunctionFacts) -> Decision {
        let (selected, reason) = self.select(module, function);
        match function.cannot_wrap {
            Some(why) => Decision {
                wrap: false,
                selected,
                reason: Reason::CannotWrap { why },
            },
            None => Decision {
                wrap: selected,
                selected,
                reason,
            },
        }
    }

    fn select(&self, module: &ModuleFacts, function: &FunctionFacts) -> (bool, Reason) {
        let matches = |p: &&Pattern| {
            p.matches_module(&module.module) && p.matches_function(&function.function)
        };
        if let Some(pattern) = self.settings.exclude.iter().find(matches) {
            return (
                false,
                Reason::ExcludedByPattern {
                    pattern: pattern.to_string(),
                },
            );
        }
        if !self.settings.include.is_empty() {
            let included: Vec<&Pattern> = self.settings.include.iter().filter(matches).collect();
            if included.is_empty() {
                return (false, Reason::NotIncluded);
            }
            if let Some(pattern) = included.iter().find(|p| names_function(p)) {
                return (
                    true,
                    Reason::NamedByInclude {
                        pattern: pattern.to_string(),
                    },
                );
            }
        }
        let exported = function.exported;
        match self.settings.strategy {
            Strategy::All => (true, Reason::EveryFunction),
            Strategy::AllPublic if exported => (true, Reason::Public),
            Strategy::AllPublic => (false, Reason::Private),
            Strategy::Callbacks => {
                if let Some(behaviour) = callback_of(module, function, &self.declared) {
                    return (true, Reason::Callback { behaviour });
                }
                let mut behaviours = module.behaviours.clone();
                if module.is_plug_like() {
                    behaviours.push("Plug".into());
                }
                if behaviours.is_empty() {
                    (false, Reason::NoBehaviour)
                } else if exported {
                    (true, Reason::BehaviourApi { behaviours })
                } else {
                    (false, Reason::Private)
                }
            }
            Strategy::Balanced => {
                if let Some(behaviour) = callback_of(module, function, &self.declared) {
                    return (true, Reason::Callback { behaviour });
                }
                if !exported {
                    return (false, Reason::Private);
                }
                match self.tiny_hot_leaf(module, function) {
                    Some(reason) => (false, reason),
                    None => (true, Reason::Public),
                }
            }
        }
    }

    /// `balanced`'s exclusion, when it applies.
    fn tiny_hot_leaf(&self, module: &ModuleFacts, function: &FunctionFacts) -> Option<Reason> {
        if function.size > self.settings.tiny_size {
            return None;
        }
        let target = Target {
            module: module.module.clone(),
            name: function.function.name.clone(),
            arity: function.function.arity,
        };
        if !self.graph.is_leaf(&target)
            || !self.graph.is_pure(&target)
            || self.graph.is_recursive(&target)
        {
            return None;
        }
        let evidence = self.graph.loop_evidence(&target)?;
        Some(Reason::TinyHotLeaf {
            size: function.size,
            evidence,
        })
    }
}

/// Whether a pattern names functions (its function part has no wildcard).
fn names_function(pattern: &Pattern) -> bool {
    pattern
        .function
        .as_deref()
        .is_some_and(|f| !f.contains('*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixture_facts, module};
    use beam_format::FunctionRef;
    use config::AppSelection;

    /// `(wrap, reason rule)` of every listed function under `settings`.
    fn decide(settings: &PlanSettings, m: &str, functions: &[(&str, u32)]) -> Vec<(bool, String)> {
        let graph = CallGraph::build(fixture_facts());
        let planner = Planner::new(settings, fixture_facts(), &graph);
        let facts = module(m);
        functions
            .iter()
            .map(|(name, arity)| {
                let function = facts
                    .function(&FunctionRef {
                        name: (*name).into(),
                        arity: *arity,
                    })
                    .unwrap();
                let d = planner.decide(facts, function);
                (d.wrap, d.reason.rule())
            })
            .collect()
    }

    fn with(strategy: Strategy) -> PlanSettings {
        PlanSettings {
            strategy,
            apps: AppSelection::default(),
            ..PlanSettings::default()
        }
    }

    fn want(items: &[(bool, &str)]) -> Vec<(bool, String)> {
        items.iter().map(|(w, r)| (*w, r.to_string())).collect()
    }

    #[test]
    fn all_wraps_everything_it_can() {
        let got = decide(
            &with(Strategy::All),
            "facts_erl",
            &[("private_leaf", 1), ("leaf", 1)],
        );
        assert_eq!(
            got,
            want(&[(true, "every_function"), (true, "every_function")])
        );
        let info = decide(&with(Strategy::All), "Elixir.FactsEx", &[("__info__", 1)]);
        assert_eq!(
            info,
            want(&[(false, "cannot_wrap: generated by the compiler")])
        );
    }

    #[test]
    fn all_public_wraps_exported_functions() {
        let got = decide(
            &with(Strategy::AllPublic),
            "facts_erl",
            &[("private_leaf", 1), ("leaf", 1), ("multi", 1)],
        );
        assert_eq!(
            got,
            want(&[(false, "private"), (true, "public"), (false, "private")])
        );
    }

    #[test]
    fn callbacks_wraps_callbacks_and_behaviour_modules_apis() {
        let s = with(Strategy::Callbacks);
        assert_eq!(
            decide(
                &s,
                "Elixir.FactsEx",
                &[("init", 1), ("handle_call", 3), ("add", 2), ("priv", 1)]
            ),
            want(&[
                (true, "callback"),
                (true, "callback"),
                (true, "behaviour_api"),
                (false, "private")
            ])
        );
        assert_eq!(
            decide(&s, "Elixir.FactsEx.Plug", &[("init", 1), ("call", 2)]),
            want(&[(true, "callback"), (true, "callback")])
        );
        assert_eq!(
            decide(&s, "Elixir.FactsEx.Impl", &[("run", 1), ("other", 1)]),
            want(&[(true, "callback"), (true, "behaviour_api")])
        );
        assert_eq!(
            decide(&s, "Elixir.FactsEx.Show.Integer", &[("show", 1)]),
            want(&[(true, "callback")])
        );
        assert_eq!(
            decide(&s, "Elixir.FactsEx.Walker", &[("a", 1)]),
            want(&[(false, "no_behaviour")])
        );
    }

    #[test]
    fn balanced_drops_tiny_pure_hot_leaves_and_keeps_side_effects() {
        let s = with(Strategy::Balanced);
        assert_eq!(
            decide(
                &s,
                "Elixir.FactsEx",
                &[
                    ("add", 2),
                    ("double", 1),
                    ("big", 1),
                    ("sum", 1),
                    ("priv", 1),
                    ("init", 1)
                ]
            ),
            want(&[
                (false, "tiny_hot_leaf"),
                (false, "tiny_hot_leaf"),
                (true, "public"),
                (true, "public"),
                (false, "private"),
                (true, "callback"),
            ])
        );
        assert_eq!(
            decide(
                &s,
                "facts_erl",
                &[("leaf", 1), ("leaf2", 1), ("multi", 1), ("loop", 1)]
            ),
            want(&[
                (false, "tiny_hot_leaf"),
                (false, "tiny_hot_leaf"),
                (false, "private"),
                (true, "public"),
            ])
        );
        // Every exported function with a side effect is kept.
        let graph = CallGraph::build(fixture_facts());
        let planner = Planner::new(&s, fixture_facts(), &graph);
        for m in fixture_facts() {
            for f in &m.functions {
                let target = Target {
                    module: m.module.clone(),
                    name: f.function.name.clone(),
                    arity: f.function.arity,
                };
                if f.exported
                    && f.cannot_wrap.is_none()
                    && !graph.effects_reached(&target).is_empty()
                {
                    assert!(planner.decide(m, f).wrap, "{target}");
                }
            }
        }
        // A larger tiny size is the only thing between big/1 and the same fate.
        let generous = PlanSettings {
            tiny_size: 100,
            ..s.clone()
        };
        assert_eq!(
            decide(&generous, "Elixir.FactsEx", &[("big", 1)]),
            want(&[(false, "tiny_hot_leaf")])
        );
        let strict = PlanSettings { tiny_size: 2, ..s };
        assert_eq!(
            decide(&strict, "Elixir.FactsEx", &[("add", 2)]),
            want(&[(true, "public")])
        );
    }

    #[test]
    fn patterns_restrict_force_and_exclude() {
        let settings = PlanSettings {
            include: vec![
                Pattern::parse("facts_erl:*").unwrap(),
                Pattern::parse("facts_erl:private_leaf/1").unwrap(),
            ],
            exclude: vec![Pattern::parse("facts_erl:sender").unwrap()],
            ..with(Strategy::Balanced)
        };
        assert_eq!(
            decide(
                &settings,
                "facts_erl",
                &[
                    ("private_leaf", 1),
                    ("sender", 1),
                    ("printer", 1),
                    ("multi", 1)
                ]
            ),
            want(&[
                (true, "named_by_include"),
                (false, "excluded_by_pattern"),
                (true, "public"),
                (false, "private"),
            ])
        );
        assert_eq!(
            decide(&settings, "Elixir.FactsEx", &[("log", 1)]),
            want(&[(false, "not_included")])
        );
    }
}
