//! What the runtime captures of each call: caps for every function (`[capture]`), and options
//! for some functions (`[[capture.rules]]`).

use beam_format::FunctionRef;
use beam_plan::{Capture, Pattern};
use settings::{Given, Setting, SettingError, Value, Values, Why};

/// Capture caps of a function (`[[capture.rules]]`): the settings `settings::caps()`
/// (`max_nodes`, `max_bytes`, ...) a rule sets, checked; the others stay the runtime's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Caps {
    values: Values,
}

impl Caps {
    /// Checks `given` and sets it as the cap `setting`.
    pub fn set(&mut self, setting: &'static Setting, given: &Given) -> Result<(), SettingError> {
        if !setting.per_function {
            return Err(SettingError::new(setting.key, Why::Unknown));
        }
        self.values.set(setting, given)
    }

    /// The caps that are set, by runtime key, in the settings' order.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        self.values
            .iter()
            .filter_map(|(setting, value)| match value {
                Value::Integer(n) => Some((setting.key, *n)),
                _ => None,
            })
            .collect()
    }

    /// The cap `key`, if set.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.values.given_integer(settings::find(key)?)
    }

    /// Whether no cap is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A `[[capture.rules]]` entry: capture options for the functions its patterns match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaptureRule {
    /// The functions it applies to.
    pub functions: Vec<Pattern>,
    /// Whether arguments are recorded (`None`: yes, as by default).
    pub arguments: Option<bool>,
    /// Argument positions (1-based) recorded as redacted (`redact_args = [2]`).
    pub redact_args: Vec<u8>,
    /// Whether the result is recorded (`None`: yes, as by default).
    pub result: Option<bool>,
    /// Caps for these functions' values, over the `[capture]` ones.
    pub caps: Caps,
}

/// The per-function options of `[capture]` (its caps and `redact_keys` are runtime settings:
/// [`crate::RuntimeSettings`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CaptureSettings {
    /// Per-function options; the first rule that matches a function applies.
    pub rules: Vec<CaptureRule>,
}

impl CaptureSettings {
    /// The options of `module:function`, when a rule gives it any (`None`: the defaults,
    /// which cost nothing extra at run time), as the plan carries them.
    pub fn options_for(&self, module: &str, function: &FunctionRef) -> Option<Capture> {
        let rule = self.rules.iter().find(|rule| {
            rule.functions
                .iter()
                .any(|p| p.matches_module(module) && p.matches_function(function))
        })?;
        let mut redact_args = rule.redact_args.clone();
        redact_args.sort_unstable();
        redact_args.dedup();
        Some(Capture {
            arguments: rule.arguments.unwrap_or(true),
            redact_args,
            result: rule.result.unwrap_or(true),
            caps: rule
                .caps
                .entries()
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_gives_the_options() {
        let mut caps = Caps::default();
        caps.set(&settings::MAX_BYTES, &Given::Integer(256))
            .unwrap();
        assert!(caps.set(&settings::PAUSED, &Given::Flag(true)).is_err());
        assert!(caps.set(&settings::MAX_BYTES, &Given::Integer(10)).is_err());
        assert_eq!(caps.get("max_bytes"), Some(256));
        let settings = CaptureSettings {
            rules: vec![
                CaptureRule {
                    functions: vec![Pattern::parse("MyApp.Auth.login/2").unwrap()],
                    arguments: Some(false),
                    redact_args: Vec::new(),
                    result: None,
                    caps: Caps::default(),
                },
                CaptureRule {
                    functions: vec![Pattern::parse("MyApp.Auth.check/3").unwrap()],
                    arguments: None,
                    redact_args: vec![3, 2, 3],
                    result: Some(false),
                    caps: Caps::default(),
                },
                CaptureRule {
                    functions: vec![Pattern::parse("MyApp.*").unwrap()],
                    arguments: None,
                    redact_args: Vec::new(),
                    result: None,
                    caps,
                },
            ],
        };
        let f = |name: &str, arity| FunctionRef {
            name: name.into(),
            arity,
        };
        let login = settings
            .options_for("Elixir.MyApp.Auth", &f("login", 2))
            .unwrap();
        assert!(!login.arguments);
        assert_eq!(login.fingerprint(), "args=false");
        let other = settings
            .options_for("Elixir.MyApp.Auth", &f("logout", 1))
            .unwrap();
        assert!(other.arguments);
        assert_eq!(other.fingerprint(), "args=true max_bytes=256");
        let check = settings
            .options_for("Elixir.MyApp.Auth", &f("check", 3))
            .unwrap();
        assert_eq!(check.redact_args, [2, 3]);
        assert_eq!(
            check.fingerprint(),
            "args=true redact_args=2,3 result=false"
        );
        assert_eq!(settings.options_for("Elixir.Other", &f("x", 0)), None);
    }
}
