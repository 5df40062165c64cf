//! What the runtime captures of each call: caps for every function (`[capture]`), and options
//! for some functions (`[[capture.rules]]`).

use std::fmt::Write as _;

use beam_rewrite::plan::Pattern;
use beam_rewrite::FunctionRef;

/// The runtime's capture caps (`runtime_core::encoder::Caps`); `None` keeps the runtime's
/// default, shown in brackets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Caps {
    /// Terms visited per value [32].
    pub max_nodes: Option<u64>,
    /// Nesting of lists, tuples and maps [8].
    pub max_depth: Option<u64>,
    /// Elements per list, tuple or map [16].
    pub max_elements: Option<u64>,
    /// Characters per Erlang string [32].
    pub max_string: Option<u64>,
    /// Bytes per binary [128].
    pub max_binary: Option<u64>,
    /// Output bytes per value [1024].
    pub max_bytes: Option<u64>,
}

impl Caps {
    /// The keys, as the runtime names them, and their runtime defaults.
    pub const KEYS: [(&'static str, u64); 6] = [
        ("max_nodes", 32),
        ("max_depth", 8),
        ("max_elements", 16),
        ("max_string", 32),
        ("max_binary", 128),
        ("max_bytes", 1024),
    ];

    /// The caps that are set, by runtime key, in [`Caps::KEYS`] order.
    pub fn set(&self) -> Vec<(&'static str, u64)> {
        let values = [
            self.max_nodes,
            self.max_depth,
            self.max_elements,
            self.max_string,
            self.max_binary,
            self.max_bytes,
        ];
        Caps::KEYS
            .iter()
            .zip(values)
            .filter_map(|((key, _), value)| value.map(|v| (*key, v)))
            .collect()
    }

    /// Sets the cap named `key`; `false` if there is no such cap.
    pub fn set_key(&mut self, key: &str, value: u64) -> bool {
        let slot = match key {
            "max_nodes" => &mut self.max_nodes,
            "max_depth" => &mut self.max_depth,
            "max_elements" => &mut self.max_elements,
            "max_string" => &mut self.max_string,
            "max_binary" => &mut self.max_binary,
            "max_bytes" => &mut self.max_bytes,
            _ => return false,
        };
        *slot = Some(value);
        true
    }

    /// Whether no cap is set.
    pub fn is_empty(&self) -> bool {
        self.set().is_empty()
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

/// What the runtime captures of one function's calls, when it differs from the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaptureOptions {
    /// Whether arguments are recorded.
    pub arguments: bool,
    /// Argument positions (1-based, ascending) recorded as redacted.
    pub redact_args: Vec<u8>,
    /// Whether the result is recorded.
    pub result: bool,
    /// Caps for its values (unset ones: the runtime's).
    pub caps: Caps,
}

impl Default for CaptureOptions {
    fn default() -> CaptureOptions {
        CaptureOptions {
            arguments: true,
            redact_args: Vec::new(),
            result: true,
            caps: Caps::default(),
        }
    }
}

impl CaptureOptions {
    /// A stable text for plan hashes: `args=false max_bytes=256`, `args=true redact_args=2
    /// result=false` (options at their default are left out, so that adding an option kind
    /// does not change the hashes of plans that do not use it).
    pub fn fingerprint(&self) -> String {
        let mut text = format!("args={}", self.arguments);
        if !self.redact_args.is_empty() {
            let positions: Vec<String> = self.redact_args.iter().map(u8::to_string).collect();
            let _ = write!(text, " redact_args={}", positions.join(","));
        }
        if !self.result {
            text.push_str(" result=false");
        }
        for (key, value) in self.caps.set() {
            let _ = write!(text, " {key}={value}");
        }
        text
    }
}

/// The `[capture]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CaptureSettings {
    /// Caps for every function (the runtime's settings of the same names).
    pub defaults: Caps,
    /// Key names whose values are never recorded (`redact_keys`; `None`: the runtime's default,
    /// [`DEFAULT_REDACT_KEYS`]).
    pub redact_keys: Option<Vec<String>>,
    /// Per-function options; the first rule that matches a function applies.
    pub rules: Vec<CaptureRule>,
}

/// The key names the runtime redacts when `redact_keys` is not set (the runtime's own default,
/// `runtime_core::encoder::DEFAULT_KEYS`; a test checks they agree).
pub const DEFAULT_REDACT_KEYS: [&str; 5] = ["password", "passwd", "secret", "token", "api_key"];

impl CaptureSettings {
    /// The options of `module:function`, when a rule gives it any (`None`: the defaults,
    /// which cost nothing extra at run time).
    pub fn options_for(&self, module: &str, function: &FunctionRef) -> Option<CaptureOptions> {
        let rule = self.rules.iter().find(|rule| {
            rule.functions
                .iter()
                .any(|p| p.matches_module(module) && p.matches_function(function))
        })?;
        let mut redact_args = rule.redact_args.clone();
        redact_args.sort_unstable();
        redact_args.dedup();
        Some(CaptureOptions {
            arguments: rule.arguments.unwrap_or(true),
            redact_args,
            result: rule.result.unwrap_or(true),
            caps: rule.caps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_gives_the_options() {
        let mut caps = Caps::default();
        assert!(caps.set_key("max_bytes", 256));
        assert!(!caps.set_key("max_apples", 1));
        let settings = CaptureSettings {
            defaults: Caps::default(),
            redact_keys: None,
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
