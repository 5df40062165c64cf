//! Reading `elixir_scope.toml` into [`Config`].
//!
//! The file is parsed with `toml` into structures that refuse unknown keys
//! (`deny_unknown_fields`), then every value is checked; each error names the file, the line,
//! the column and the key.

use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use beam_rewrite::plan::Pattern;
use serde::Deserialize;
use toml::Spanned;

use crate::capture::{Caps, CaptureRule, CaptureSettings};
use crate::error::ConfigError;
use crate::locate::locate;
use crate::plan::{AppSelection, PlanSettings, Strategy};
use crate::runtime::{DropPolicy, Overflow, RuntimeSettings};

/// Everything `elixir_scope.toml` says, with defaults for what it does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it came from; `None` for the defaults.
    pub path: Option<PathBuf>,
    /// `[plan]`.
    pub plan: PlanSettings,
    /// `[capture]`.
    pub capture: CaptureSettings,
    /// `[runtime]`.
    pub runtime: RuntimeSettings,
}

impl Config {
    /// The configuration for a command run in `cwd`: the nearest `elixir_scope.toml` upwards
    /// ([`crate::find`]), or the defaults.
    pub fn discover(cwd: &Path) -> Result<Config, ConfigError> {
        match crate::find(cwd) {
            Some(path) => Config::load(&path),
            None => Ok(Config::default()),
        }
    }

    /// The project a command run in `cwd` works on: the directory of its `elixir_scope.toml`,
    /// else the nearest directory upwards with a `mix.exs` or `rebar.config`
    /// ([`crate::find_project`]: a command run in a project's `lib/` works on the project),
    /// else `cwd`. Recordings go under it by default (see `elixir-scope instrument`, which
    /// hands it to the runtime).
    pub fn project_root(&self, cwd: &Path) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(dir) => cwd.join(dir),
            None => crate::find_project(cwd).unwrap_or_else(|| cwd.to_path_buf()),
        }
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Reads a configuration from its text; `path` names it in errors, and relative paths in
    /// it are taken from `path`'s directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            location: locate(text, span),
            message,
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        raw.into_config(base)
            .map(|mut config| {
                config.path = Some(path.to_path_buf());
                config
            })
            .map_err(|Bad(span, message)| invalid(Some(span), message))
    }
}

/// A bad value: where and why.
struct Bad(Range<usize>, String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    plan: Option<RawPlan>,
    capture: Option<RawCapture>,
    runtime: Option<RawRuntime>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    strategy: Option<Strategy>,
    apps: Option<Spanned<OneOrMany>>,
    include: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<Spanned<String>>>,
    tiny_size: Option<Spanned<u64>>,
}

type Number = Option<Spanned<u64>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    redact_keys: Option<Vec<Spanned<String>>>,
    max_nodes: Number,
    max_depth: Number,
    max_elements: Number,
    max_string: Number,
    max_binary: Number,
    max_bytes: Number,
    rules: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    functions: Spanned<OneOrMany>,
    arguments: Option<bool>,
    redact_args: Option<Vec<Spanned<u64>>>,
    result: Option<bool>,
    max_nodes: Number,
    max_depth: Number,
    max_elements: Number,
    max_string: Number,
    max_binary: Number,
    max_bytes: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    db_path: Option<String>,
    drop_policy: Option<DropPolicy>,
    overflow: Option<Overflow>,
    ring_capacity: Number,
    ring_bytes: Number,
    batch_events: Number,
    batch_bytes: Number,
    channel_batches: Number,
    commit_interval_ms: Number,
    checkpoint_interval_ms: Number,
    retention_bytes: Number,
    shards: Number,
    paused: Option<bool>,
}

/// The ranges the runtime accepts without clamping (`runtime_core`'s `Caps::clamped`).
const CAP_RANGES: [RangeInclusive<u64>; 6] = [
    1..=100_000,
    0..=64,
    1..=1 << 20,
    0..=1 << 20,
    0..=64 * 1024,
    64..=1 << 20,
];

const POSITIVE: RangeInclusive<u64> = 1..=u64::MAX;

fn number(value: &Number, range: RangeInclusive<u64>) -> Result<Option<u64>, Bad> {
    let Some(value) = value else {
        return Ok(None);
    };
    let n = *value.get_ref();
    if range.contains(&n) {
        Ok(Some(n))
    } else if *range.end() == u64::MAX {
        Err(Bad(
            value.span(),
            format!("{n} is too small: at least {} is needed", range.start()),
        ))
    } else {
        Err(Bad(
            value.span(),
            format!(
                "{n} is out of range: expected {} to {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

fn caps(values: [&Number; 6]) -> Result<Caps, Bad> {
    let mut caps = Caps::default();
    for (((key, _), value), range) in Caps::KEYS.iter().zip(values).zip(CAP_RANGES) {
        if let Some(n) = number(value, range)? {
            caps.set_key(key, n);
        }
    }
    Ok(caps)
}

fn patterns(texts: Vec<Spanned<String>>) -> Result<Vec<Pattern>, Bad> {
    texts
        .into_iter()
        .map(|text| Pattern::parse(text.get_ref()).map_err(|e| Bad(text.span(), e.to_string())))
        .collect()
}

impl RawFile {
    fn into_config(self, base: &Path) -> Result<Config, Bad> {
        let mut config = Config::default();
        if let Some(plan) = self.plan {
            if let Some(strategy) = plan.strategy {
                config.plan.strategy = strategy;
            }
            if let Some(apps) = plan.apps {
                let span = apps.span();
                config.plan.apps =
                    AppSelection::parse(&apps.into_inner().into_vec()).map_err(|e| Bad(span, e))?;
            }
            config.plan.include = patterns(plan.include.unwrap_or_default())?;
            config.plan.exclude = patterns(plan.exclude.unwrap_or_default())?;
            if let Some(size) = number(&plan.tiny_size, 0..=100_000)? {
                config.plan.tiny_size = size as u32;
            }
        }
        if let Some(capture) = self.capture {
            config.capture.defaults = caps([
                &capture.max_nodes,
                &capture.max_depth,
                &capture.max_elements,
                &capture.max_string,
                &capture.max_binary,
                &capture.max_bytes,
            ])?;
            if let Some(keys) = capture.redact_keys {
                let mut names = Vec::with_capacity(keys.len());
                for key in keys {
                    let name = key.get_ref().trim();
                    if name.is_empty() || name.len() > 255 {
                        return Err(Bad(key.span(), "a key name is 1 to 255 bytes long".into()));
                    }
                    names.push(name.to_string());
                }
                config.capture.redact_keys = Some(names);
            }
            for rule in capture.rules.unwrap_or_default() {
                let span = rule.functions.span();
                let texts = rule.functions.into_inner().into_vec();
                if texts.is_empty() {
                    return Err(Bad(span, "a rule needs at least one pattern".into()));
                }
                let functions = texts
                    .iter()
                    .map(|t| Pattern::parse(t).map_err(|e| Bad(span.clone(), e.to_string())))
                    .collect::<Result<_, _>>()?;
                let mut redact_args = Vec::new();
                for position in rule.redact_args.unwrap_or_default() {
                    let n = *position.get_ref();
                    match u8::try_from(n) {
                        Ok(p) if p >= 1 => redact_args.push(p),
                        _ => {
                            return Err(Bad(
                                position.span(),
                                format!(
                                    "{n} is not an argument position: 1 is the first argument, \
                                     255 the last a function can have"
                                ),
                            ))
                        }
                    }
                }
                config.capture.rules.push(CaptureRule {
                    functions,
                    arguments: rule.arguments,
                    redact_args,
                    result: rule.result,
                    caps: caps([
                        &rule.max_nodes,
                        &rule.max_depth,
                        &rule.max_elements,
                        &rule.max_string,
                        &rule.max_binary,
                        &rule.max_bytes,
                    ])?,
                });
            }
        }
        if let Some(runtime) = self.runtime {
            config.runtime = RuntimeSettings {
                db_path: runtime.db_path.map(|p| base.join(p)),
                drop_policy: runtime.drop_policy,
                overflow: runtime.overflow,
                ring_capacity: number(&runtime.ring_capacity, POSITIVE)?,
                ring_bytes: number(&runtime.ring_bytes, POSITIVE)?,
                batch_events: number(&runtime.batch_events, POSITIVE)?,
                batch_bytes: number(&runtime.batch_bytes, POSITIVE)?,
                channel_batches: number(&runtime.channel_batches, POSITIVE)?,
                commit_interval_ms: number(&runtime.commit_interval_ms, POSITIVE)?,
                checkpoint_interval_ms: number(&runtime.checkpoint_interval_ms, POSITIVE)?,
                retention_bytes: number(&runtime.retention_bytes, POSITIVE)?,
                shards: number(&runtime.shards, 1..=1024)?,
                paused: runtime.paused,
            };
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beam_rewrite::FunctionRef;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/project/elixir_scope.toml"))
    }

    fn error(text: &str) -> (usize, Option<String>, String) {
        let e = parse(text).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with("/project/elixir_scope.toml:"), "{shown}");
        (e.line().unwrap(), e.key().map(str::to_string), shown)
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.plan, PlanSettings::default());
        assert_eq!(config.runtime, RuntimeSettings::default());
        assert_eq!(
            config.path.as_deref(),
            Some(Path::new("/project/elixir_scope.toml"))
        );
    }

    #[test]
    fn reads_every_table() {
        let config = parse(
            r#"
[plan]
strategy = "callbacks"
apps = ["project", "money"]
include = ["MyApp.*"]
exclude = ["MyApp.Repo.get/2", "my_mod:parse/1"]
tiny_size = 20

[capture]
max_bytes = 2048
max_depth = 4

[[capture.rules]]
functions = "MyApp.Auth"
arguments = false

[[capture.rules]]
functions = ["MyApp.Big"]
max_binary = 4096

[runtime]
db_path = "traces"
drop_policy = "drop_newest"
overflow = "block"
ring_capacity = 65536
retention_bytes = 1000000
paused = true
"#,
        )
        .unwrap();
        assert_eq!(config.plan.strategy, Strategy::Callbacks);
        assert!(config.plan.apps.selects("money", true));
        assert!(!config.plan.apps.selects("other_dep", true));
        assert_eq!(config.plan.include.len(), 1);
        assert_eq!(config.plan.exclude[1].to_string(), "my_mod:parse/1");
        assert_eq!(config.plan.tiny_size, 20);
        assert_eq!(config.capture.defaults.max_bytes, Some(2048));
        assert_eq!(config.capture.defaults.max_nodes, None);
        let login = FunctionRef {
            name: "login".into(),
            arity: 2,
        };
        let options = config
            .capture
            .options_for("Elixir.MyApp.Auth", &login)
            .unwrap();
        assert!(!options.arguments);
        assert_eq!(
            config
                .capture
                .options_for("Elixir.MyApp.Big", &login)
                .unwrap()
                .caps
                .max_binary,
            Some(4096)
        );
        assert_eq!(
            config.runtime.db_path.as_deref(),
            Some(Path::new("/project/traces")),
            "relative to the file"
        );
        assert_eq!(config.runtime.drop_policy, Some(DropPolicy::DropNewest));
        assert_eq!(
            config.runtime.overflow,
            Some(crate::runtime::Overflow::Block)
        );
        assert_eq!(
            config.runtime.to_erlang_map(&config.capture),
            "#{db_path => <<\"/project/traces\"/utf8>>, drop_policy => drop_newest, overflow => block, ring_capacity => 65536, retention_bytes => 1000000, paused => true, max_depth => 4, max_bytes => 2048}"
        );
        let single = parse("[plan]\napps = \"all\"\n").unwrap();
        assert!(single.plan.apps.selects("anything", true));
    }

    #[test]
    fn reads_redaction() {
        let config = parse(
            r#"
[capture]
redact_keys = ["pin", "Card_Number"]

[[capture.rules]]
functions = "MyApp.Auth.check/3"
redact_args = [3, 2]
result = false
"#,
        )
        .unwrap();
        assert_eq!(
            config.capture.redact_keys.as_deref(),
            Some(&["pin".to_string(), "Card_Number".to_string()][..])
        );
        let check = FunctionRef {
            name: "check".into(),
            arity: 3,
        };
        let options = config
            .capture
            .options_for("Elixir.MyApp.Auth", &check)
            .unwrap();
        assert_eq!(
            (options.redact_args.as_slice(), options.result),
            (&[2, 3][..], false)
        );
        assert!(options.arguments);
        assert_eq!(parse("").unwrap().capture.redact_keys, None);
        let (line, key, shown) = error("[[capture.rules]]\nfunctions = \"A\"\nredact_args = [0]\n");
        assert_eq!(
            (line, key.as_deref()),
            (3, Some("capture.rules[0].redact_args[0]"))
        );
        assert!(shown.contains("not an argument position"), "{shown}");
        let (line, key, _) = error("[capture]\nredact_keys = [\"\"]\n");
        assert_eq!((line, key.as_deref()), (2, Some("capture.redact_keys[0]")));
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let (line, key, shown) = error("[plan]\nstrategy = \"all\"\nstrategies = 3\n");
        assert_eq!(line, 3);
        assert_eq!(key.as_deref(), Some("plan.strategies"));
        assert!(shown.contains("unknown field `strategies`"), "{shown}");
        let (line, key, _) = error("\n[runtme]\n");
        assert_eq!((line, key.as_deref()), (2, Some("runtme")));
        let (line, key, _) = error("[[capture.rules]]\nfunctions = \"A\"\nargs = false\n");
        assert_eq!((line, key.as_deref()), (3, Some("capture.rules[0].args")));
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let cases: [(&str, usize, &str, &str); 9] = [
            (
                "[plan]\nstrategy = \"fast\"\n",
                2,
                "plan.strategy",
                "unknown variant `fast`",
            ),
            (
                "[plan]\ninclude = [\"Foo..bar\"]\n",
                2,
                "plan.include[0]",
                "bad pattern",
            ),
            (
                "[plan]\napps = [\"_build/dev\"]\n",
                2,
                "plan.apps",
                "not an application name",
            ),
            (
                "[runtime]\nring_capacity = 0\n",
                2,
                "runtime.ring_capacity",
                "too small",
            ),
            (
                "[runtime]\nring_bytes = -5\n",
                2,
                "runtime.ring_bytes",
                "expected u64",
            ),
            (
                "[runtime]\ndrop_policy = \"drop_all\"\n",
                2,
                "runtime.drop_policy",
                "drop_newest",
            ),
            (
                "[runtime]\nshards = 5000\n",
                2,
                "runtime.shards",
                "out of range",
            ),
            (
                "\n[capture]\nmax_bytes = 10\n",
                3,
                "capture.max_bytes",
                "expected 64 to",
            ),
            (
                "[[capture.rules]]\nfunctions = []\n",
                2,
                "capture.rules[0].functions",
                "at least one pattern",
            ),
        ];
        for (text, want_line, want_key, want_message) in cases {
            let (line, key, shown) = error(text);
            assert_eq!(line, want_line, "{text}: {shown}");
            assert_eq!(key.as_deref(), Some(want_key), "{text}: {shown}");
            assert!(shown.contains(want_message), "{text}: {shown}");
        }
        let (line, _, shown) = error("[plan\n");
        assert_eq!(line, 1, "{shown}");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let e = Config::load(Path::new("/nonexistent/elixir_scope.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/elixir_scope.toml"));
    }
}
