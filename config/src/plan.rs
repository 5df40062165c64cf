//! What to plan: the strategy, the applications, and patterns.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use beam_plan::Pattern;
use serde::{Deserialize, Serialize};

/// The largest function, in expressions, that `balanced` calls tiny (see [`PlanSettings`]).
pub const DEFAULT_TINY_SIZE: u32 = 12;

/// How the planner picks the functions to wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every exported function.
    AllPublic,
    /// Every function, private ones too.
    All,
    /// Behaviour callbacks, and the public API of modules that implement behaviours.
    Callbacks,
    /// Public functions and callbacks, minus tiny pure leaf functions called from loops.
    #[default]
    Balanced,
}

impl Strategy {
    /// Every strategy, in the order the documentation lists them.
    pub const ALL: [Strategy; 4] = [
        Strategy::AllPublic,
        Strategy::All,
        Strategy::Callbacks,
        Strategy::Balanced,
    ];

    /// The name used in the file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::AllPublic => "all_public",
            Strategy::All => "all",
            Strategy::Callbacks => "callbacks",
            Strategy::Balanced => "balanced",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Strategy, String> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown strategy {s:?}, expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Which applications of a Mix build directory get planned.
///
/// Written as a list of entries: `"project"` (the project's own applications), `"deps"` (every
/// dependency), `"all"` (both), or an application's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AppSelection {
    /// The project's own applications.
    pub project: bool,
    /// Every dependency.
    pub dependencies: bool,
    /// These applications, whatever they are.
    pub named: BTreeSet<String>,
}

impl Default for AppSelection {
    /// The project's own applications.
    fn default() -> Self {
        AppSelection {
            project: true,
            dependencies: false,
            named: BTreeSet::new(),
        }
    }
}

impl AppSelection {
    /// Reads the entries of `apps`; an empty entry is an error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AppSelection, String> {
        let mut selection = AppSelection {
            project: false,
            dependencies: false,
            named: BTreeSet::new(),
        };
        for entry in entries {
            match entry.as_ref().trim() {
                "project" => selection.project = true,
                "deps" => selection.dependencies = true,
                "all" => {
                    selection.project = true;
                    selection.dependencies = true;
                }
                "" => return Err("an application name is empty".into()),
                name if name.contains(['/', '.', ' ']) => {
                    return Err(format!(
                        "{name:?} is not an application name (expected \"project\", \"deps\", \"all\" or a name such as my_dep)"
                    ))
                }
                name => {
                    selection.named.insert(name.to_string());
                }
            }
        }
        Ok(selection)
    }

    /// Whether the application `name` is planned; `dependency` says whether it is one.
    pub fn selects(&self, name: &str, dependency: bool) -> bool {
        self.named.contains(name)
            || if dependency {
                self.dependencies
            } else {
                self.project
            }
    }
}

impl fmt::Display for AppSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries: Vec<&str> = Vec::new();
        if self.project {
            entries.push("project");
        }
        if self.dependencies {
            entries.push("deps");
        }
        entries.extend(self.named.iter().map(String::as_str));
        if entries.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&entries.join(", "))
        }
    }
}

/// The `[plan]` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanSettings {
    /// How functions are picked.
    pub strategy: Strategy,
    /// Which applications of a Mix build directory are planned.
    pub apps: AppSelection,
    /// When not empty: only functions matching one of these are planned; a pattern that names
    /// a function (no `*` in its function part) also overrides the strategy for it.
    pub include: Vec<Pattern>,
    /// Functions never planned.
    pub exclude: Vec<Pattern>,
    /// `balanced`: the largest size, in expressions, of a function it may call tiny.
    pub tiny_size: u32,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            strategy: Strategy::default(),
            apps: AppSelection::default(),
            include: Vec::new(),
            exclude: Vec::new(),
            tiny_size: DEFAULT_TINY_SIZE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_round_trip_through_their_names() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        }
        let error = "fast".parse::<Strategy>().unwrap_err();
        assert!(
            error.contains("all_public, all, callbacks, balanced"),
            "{error}"
        );
        assert_eq!(Strategy::default(), Strategy::Balanced);
    }

    #[test]
    fn app_selections_read_their_entries() {
        let default = AppSelection::default();
        assert!(default.selects("shop", false));
        assert!(!default.selects("money", true));
        let some = AppSelection::parse(&["deps", "shop"]).unwrap();
        assert!(some.selects("shop", false), "named");
        assert!(!some.selects("other_own_app", false));
        assert!(some.selects("money", true));
        let all = AppSelection::parse(&["all"]).unwrap();
        assert!(all.selects("x", true) && all.selects("y", false));
        assert_eq!(all.to_string(), "project, deps");
        assert!(AppSelection::parse(&[""]).is_err());
        assert!(AppSelection::parse(&["_build/dev"]).is_err());
    }
}
