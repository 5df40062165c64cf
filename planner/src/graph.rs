//! The call graph of the analyzed code: which functions are recursive (directly or through a
//! cycle, across modules too), who calls whom and from which loop, and which functions are
//! pure all the way down.
//!
//! Nodes are the functions of the analyzed modules; edges are calls and references (`&f/1`)
//! between them. Calls to functions outside the analyzed code are judged by the tables of
//! [`crate::effects`] when the function is analyzed.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::analyzer::readable_module;
use crate::facts::{Call, Effect, LoopContext, ModuleFacts, Target};

/// A call or reference from one analyzed function to another.
#[derive(Debug, Clone)]
struct Edge {
    reference: bool,
    in_loop: Option<LoopContext>,
}

/// What the graph knows about one function.
#[derive(Debug, Clone, Default)]
struct NodeFacts {
    recursive: bool,
    pure: bool,
    effects: BTreeSet<Effect>,
}

/// The call graph of the analyzed modules.
#[derive(Debug)]
pub struct CallGraph {
    graph: DiGraph<Target, Edge>,
    index: HashMap<Target, NodeIndex>,
    facts: Vec<NodeFacts>,
}

impl CallGraph {
    /// Builds the graph of `modules` and computes recursion and purity.
    pub fn build(modules: &[ModuleFacts]) -> CallGraph {
        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        for module in modules {
            for function in &module.functions {
                let target = Target {
                    module: module.module.clone(),
                    name: function.function.name.clone(),
                    arity: function.function.arity,
                };
                let node = graph.add_node(target.clone());
                index.insert(target, node);
            }
        }
        let analyzed: BTreeSet<&str> = modules.iter().map(|m| m.module.as_str()).collect();
        let mut local = vec![NodeFacts::default(); graph.node_count()];
        for module in modules {
            for function in &module.functions {
                let from = index[&Target {
                    module: module.module.clone(),
                    name: function.function.name.clone(),
                    arity: function.function.arity,
                }];
                for Call {
                    target,
                    reference,
                    in_loop,
                } in &function.calls
                {
                    if let Some(&to) = index.get(target) {
                        graph.add_edge(
                            from,
                            to,
                            Edge {
                                reference: *reference,
                                in_loop: in_loop.clone(),
                            },
                        );
                    }
                }
                // Unknown calls into analyzed modules are judged through the graph; a call to
                // an analyzed module's function that does not exist stays unknown.
                let unknown = function
                    .unknown_calls
                    .iter()
                    .any(|t| !analyzed.contains(t.module.as_str()) || !index.contains_key(t));
                local[from.index()] = NodeFacts {
                    recursive: false,
                    pure: function.effects.is_empty() && !unknown && !function.dynamic_calls,
                    effects: function.effects.clone(),
                };
            }
        }
        let mut facts = local.clone();
        // Strongly connected components come callees first (reverse topological order).
        for component in tarjan_scc(&graph) {
            let in_component: BTreeSet<NodeIndex> = component.iter().copied().collect();
            let recursive =
                component.len() > 1 || graph.find_edge(component[0], component[0]).is_some();
            let mut pure = component.iter().all(|n| local[n.index()].pure);
            let mut effects = BTreeSet::new();
            for &node in &component {
                effects.extend(local[node.index()].effects.iter().copied());
                for callee in graph.neighbors(node) {
                    if !in_component.contains(&callee) {
                        pure &= facts[callee.index()].pure;
                        effects.extend(facts[callee.index()].effects.iter().copied());
                    }
                }
            }
            for node in component {
                facts[node.index()] = NodeFacts {
                    recursive,
                    pure,
                    effects: effects.clone(),
                };
            }
        }
        CallGraph {
            graph,
            index,
            facts,
        }
    }

    fn node(&self, target: &Target) -> Option<NodeIndex> {
        self.index.get(target).copied()
    }

    /// Whether the function calls itself, directly or through other analyzed functions.
    pub fn is_recursive(&self, target: &Target) -> bool {
        self.node(target)
            .is_some_and(|n| self.facts[n.index()].recursive)
    }

    /// Whether neither the function nor anything it calls has a side effect, a dynamic call,
    /// or a call whose effects are unknown.
    pub fn is_pure(&self, target: &Target) -> bool {
        self.node(target)
            .is_some_and(|n| self.facts[n.index()].pure)
    }

    /// The side effects of the function and of the analyzed functions it calls.
    pub fn effects_reached(&self, target: &Target) -> BTreeSet<Effect> {
        self.node(target)
            .map(|n| self.facts[n.index()].effects.clone())
            .unwrap_or_default()
    }

    /// Whether it calls (or refers to) no other analyzed function.
    pub fn is_leaf(&self, target: &Target) -> bool {
        self.node(target)
            .is_some_and(|n| self.graph.neighbors(n).all(|callee| callee == n))
    }

    /// How the analyzed callers of the function, if any, call it from a loop: the first of a
    /// call inside a comprehension or a fun passed to a higher-order function, a reference
    /// passed to one, or a call from a recursive function.
    pub fn loop_evidence(&self, target: &Target) -> Option<String> {
        let node = self.node(target)?;
        let mut from_recursive = None;
        let mut callers: Vec<_> = self
            .graph
            .edges_directed(node, petgraph::Direction::Incoming)
            .map(|e| (petgraph::visit::EdgeRef::source(&e), e.weight()))
            .filter(|(caller, _)| *caller != node)
            .collect();
        callers.sort_by_key(|(caller, _)| self.graph[*caller].clone());
        for (caller, edge) in callers {
            let name = self.name_from(&self.graph[caller], target);
            if let Some(context) = &edge.in_loop {
                let how = if edge.reference {
                    "passed as a fun"
                } else {
                    "called"
                };
                return Some(match context {
                    LoopContext::Comprehension => {
                        format!("{how} inside a comprehension in {name}")
                    }
                    LoopContext::HigherOrder { function } => format!(
                        "{how} {} by {name}",
                        if edge.reference {
                            format!("to {}", crate::analyzer::readable(function))
                        } else {
                            format!("in a fun passed to {}", crate::analyzer::readable(function))
                        }
                    ),
                });
            }
            if from_recursive.is_none() && self.facts[caller.index()].recursive {
                from_recursive = Some(format!("called by the recursive {name}"));
            }
        }
        from_recursive
    }

    /// `f/1` for a function of `seen_from`'s module, `Mod.f/1` otherwise.
    fn name_from(&self, function: &Target, seen_from: &Target) -> String {
        if function.module == seen_from.module {
            format!("{}/{}", function.name, function.arity)
        } else {
            format!(
                "{}.{}/{}",
                readable_module(&function.module),
                function.name,
                function.arity
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture_facts;

    fn t(module: &str, name: &str, arity: u32) -> Target {
        Target {
            module: module.into(),
            name: name.into(),
            arity,
        }
    }

    #[test]
    fn recursion_direct_through_cycles_and_across_modules() {
        let graph = CallGraph::build(fixture_facts());
        assert!(graph.is_recursive(&t("facts_erl", "loop", 1)), "direct");
        assert!(
            graph.is_recursive(&t("facts_erl", "ping", 1)),
            "a local cycle"
        );
        assert!(graph.is_recursive(&t("facts_erl", "pong", 1)));
        assert!(
            graph.is_recursive(&t("facts_erl", "self_remote", 1)),
            "?MODULE:f"
        );
        assert!(
            graph.is_recursive(&t("Elixir.FactsEx.Walker", "a", 1)),
            "across modules"
        );
        assert!(graph.is_recursive(&t("Elixir.FactsEx.Walker2", "b", 1)));
        assert!(!graph.is_recursive(&t("facts_erl", "leaf", 1)));
        assert!(!graph.is_recursive(&t("facts_erl", "guarded", 1)));
    }

    #[test]
    fn purity_and_effects_follow_calls() {
        let graph = CallGraph::build(fixture_facts());
        assert!(graph.is_pure(&t("facts_erl", "leaf", 1)));
        assert!(
            graph.is_pure(&t("facts_erl", "uses_leaf", 1)),
            "lists:map of a pure fun"
        );
        assert!(
            graph.is_pure(&t("facts_erl", "guarded", 1)),
            "calls pure multi/1"
        );
        assert!(!graph.is_pure(&t("facts_erl", "unknown", 0)));
        assert!(!graph.is_pure(&t("facts_erl", "dyn", 2)));
        assert!(!graph.is_pure(&t("facts_erl", "sender", 1)));
        assert!(graph.is_pure(&t("Elixir.FactsEx", "uses_private", 1)));
        assert_eq!(
            graph.effects_reached(&t("Elixir.FactsEx", "log", 1)),
            BTreeSet::from([Effect::Io])
        );
        assert!(graph.is_leaf(&t("facts_erl", "leaf", 1)));
        assert!(!graph.is_leaf(&t("facts_erl", "uses_leaf", 1)));
        assert!(
            graph.is_leaf(&t("facts_erl", "loop", 1)),
            "only calls itself"
        );
    }

    #[test]
    fn loops_are_found_from_the_callers() {
        let graph = CallGraph::build(fixture_facts());
        let evidence = |m, f, a| graph.loop_evidence(&t(m, f, a));
        assert_eq!(
            evidence("facts_erl", "leaf", 1).as_deref(),
            Some("passed as a fun to lists:map/2 by uses_leaf/1")
        );
        assert_eq!(
            evidence("facts_erl", "private_leaf", 1).as_deref(),
            Some("called inside a comprehension in comp/1")
        );
        assert_eq!(
            evidence("facts_erl", "leaf2", 1).as_deref(),
            Some("called by the recursive rec_caller/1")
        );
        assert_eq!(
            evidence("Elixir.FactsEx", "add", 2).as_deref(),
            Some("called in a fun passed to Enum.reduce/3 by sum/1")
        );
        assert_eq!(
            evidence("facts_erl", "multi", 1),
            None,
            "guarded/1 calls it once"
        );
        assert_eq!(evidence("facts_erl", "sender", 1), None, "nobody calls it");
    }
}
