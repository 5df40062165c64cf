//! Why a function is wrapped or not: one [`Reason`] per function, shown by `elixir-scope plan`.

use std::fmt;

use beam_rewrite::SkipReason;
use serde::{Deserialize, Serialize};

/// Why the planner decided what it did about a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// Strategy `all`: every function.
    EveryFunction,
    /// An exported function (`all_public`, `balanced`).
    Public,
    /// A callback of a behaviour or framework (`callbacks`, `balanced`).
    Callback {
        /// The behaviour (`Elixir.GenServer`, `gen_server`, `Plug`, a protocol).
        behaviour: String,
    },
    /// Strategy `callbacks`: the public API of a module that implements behaviours.
    BehaviourApi {
        /// The behaviours the module implements.
        behaviours: Vec<String>,
    },
    /// An include pattern names the function.
    NamedByInclude {
        /// The pattern.
        pattern: String,
    },
    /// Not exported, and the strategy wraps public functions only.
    Private,
    /// Strategy `callbacks`: the module implements no behaviour.
    NoBehaviour,
    /// `balanced`: a tiny pure leaf called from a loop, whose recording would cost more than it
    /// tells.
    TinyHotLeaf {
        /// Its size in expressions.
        size: u32,
        /// How it is called from a loop.
        evidence: String,
    },
    /// Include patterns are given and none matches.
    NotIncluded,
    /// An exclude pattern matches.
    ExcludedByPattern {
        /// The pattern.
        pattern: String,
    },
    /// The rewriter cannot wrap it.
    CannotWrap {
        /// Why.
        why: SkipReason,
    },
}

impl Reason {
    /// A short stable name of the rule, for counting (`public`, `tiny_hot_leaf`, ...).
    pub fn rule(&self) -> String {
        match self {
            Reason::CannotWrap { why } => format!("cannot_wrap: {why}"),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v["rule"].as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::EveryFunction => f.write_str("strategy all wraps every function"),
            Reason::Public => f.write_str("public function"),
            Reason::Callback { behaviour } if behaviour == "handle_*" => {
                f.write_str("callback (exported handle_* function)")
            }
            Reason::Callback { behaviour } => {
                write!(f, "callback of {}", crate::analyzer::readable_module(behaviour))
            }
            Reason::BehaviourApi { behaviours } => {
                let names: Vec<&str> = behaviours
                    .iter()
                    .map(|b| crate::analyzer::readable_module(b))
                    .collect();
                write!(f, "public API of a module implementing {}", names.join(", "))
            }
            Reason::NamedByInclude { pattern } => write!(f, "named by include pattern {pattern}"),
            Reason::Private => f.write_str("private function"),
            Reason::NoBehaviour => f.write_str("the module implements no behaviour"),
            Reason::TinyHotLeaf { size, evidence } => write!(
                f,
                "tiny pure leaf ({size} expressions) {evidence}: recording it would cost more than it tells"
            ),
            Reason::NotIncluded => f.write_str("matches no include pattern"),
            Reason::ExcludedByPattern { pattern } => write!(f, "excluded by pattern {pattern}"),
            Reason::CannotWrap { why } => write!(f, "cannot be wrapped: {why}"),
        }
    }
}

/// What the planner decided about one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether it gets wrapped.
    pub wrap: bool,
    /// Whether the strategy and patterns select it (the plan names it; the rewriter leaves the
    /// ones it cannot wrap and says why, as the plan does).
    pub selected: bool,
    /// Why.
    pub reason: Reason,
}
