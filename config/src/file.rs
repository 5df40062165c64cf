//! Reading `elixir_scope.toml` into [`Config`].
//!
//! The file is parsed into a document that keeps every key's and value's place
//! (`toml::de::DeTable`). `[plan]` and the per-function options of `[[capture.rules]]` are read
//! by serde structures that refuse unknown keys; the runtime's settings (`[runtime]`, the rest of
//! `[capture]`, a rule's caps) are looked up in the `settings` table and checked by it: their
//! bounds, and the memory they take together against this machine's. Each error names the file,
//! the line, the column and the key.

use std::ops::Range;
use std::path::{Path, PathBuf};

use beam_plan::Pattern;
use serde::Deserialize;
use settings::{Given, Machine, Section, SettingError};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::capture::{Caps, CaptureRule};
use crate::error::ConfigError;
use crate::locate::locate;
use crate::plan::{AppSelection, PlanSettings, Strategy};
use crate::runtime::RuntimeSettings;

/// Everything `elixir_scope.toml` says, with defaults for what it does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it came from; `None` for the defaults.
    pub path: Option<PathBuf>,
    /// `[plan]`.
    pub plan: PlanSettings,
    /// `[[capture.rules]]`.
    pub capture: crate::capture::CaptureSettings,
    /// The runtime's settings: `[runtime]`, and `[capture]`'s caps and `redact_keys`.
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
    /// it are taken from `path`'s directory. The memory settings are checked against this
    /// machine.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_for(text, path, &Machine::this())
    }

    /// [`Config::parse`], with the memory settings checked against `machine`.
    pub fn parse_for(text: &str, path: &Path, machine: &Machine) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            location: locate(text, span),
            message,
        };
        let document =
            DeTable::parse(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = read(document.get_ref(), base, machine)
            .map_err(|Bad(span, message)| invalid(Some(span), message))?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }
}

/// A bad value: where and why.
struct Bad(Range<usize>, String);

/// A key and its value in the document.
type Entry<'d, 'i> = (
    &'d Spanned<std::borrow::Cow<'i, str>>,
    &'d Spanned<DeValue<'i>>,
);

/// The tables of the file.
const TABLES: [&str; 3] = ["plan", "capture", "runtime"];

/// The keys of a `[[capture.rules]]` entry besides the caps.
const RULE_KEYS: [&str; 4] = ["functions", "arguments", "redact_args", "result"];

fn read(document: &DeTable<'_>, base: &Path, machine: &Machine) -> Result<Config, Bad> {
    let mut config = Config::default();
    let mut runtime = SettingsReader::default();
    for (key, value) in document {
        match key.get_ref().as_ref() {
            "plan" => config.plan = plan(value)?,
            "capture" => {
                for entry in table(value)? {
                    if entry.0.get_ref() == "rules" {
                        for rule in array(entry.1)? {
                            config.capture.rules.push(capture_rule(rule)?);
                        }
                    } else {
                        runtime.read(Section::Capture, entry, &["rules"])?;
                    }
                }
            }
            "runtime" => {
                for entry in table(value)? {
                    runtime.read(Section::Runtime, entry, &[])?;
                }
            }
            other => return Err(unknown(key, other, TABLES.iter().copied())),
        }
    }
    config.runtime = runtime.finish(base, machine)?;
    Ok(config)
}

/// The runtime's settings of a file, and where each value is.
#[derive(Default)]
struct SettingsReader {
    values: settings::Values,
    spans: Vec<(&'static str, Spanned<()>)>,
}

impl SettingsReader {
    /// Reads the setting `entry` of the table `section`; `others` are the table's keys that
    /// are no setting (for the message about an unknown key).
    fn read(&mut self, section: Section, entry: Entry<'_, '_>, others: &[&str]) -> Result<(), Bad> {
        let (key, value) = entry;
        let Some(setting) = settings::find_in(section, key.get_ref()) else {
            let keys = settings::SETTINGS
                .iter()
                .filter(|s| s.section == section)
                .map(|s| s.key)
                .chain(others.iter().copied());
            return Err(unknown(key, key.get_ref(), keys));
        };
        self.values
            .set(setting, &given(value)?)
            .map_err(|e| refused(value, e))?;
        self.spans
            .push((setting.key, Spanned::new(value.span(), ())));
        Ok(())
    }

    /// The settings, with relative paths taken from `base`, once their memory fits `machine`.
    fn finish(mut self, base: &Path, machine: &Machine) -> Result<RuntimeSettings, Bad> {
        self.values.rebase_paths(base);
        if let Err(e) = self.values.check_machine(machine) {
            let span = self
                .spans
                .iter()
                .find(|(key, _)| *key == e.key)
                .map_or(0..0, |(_, at)| at.span());
            return Err(Bad(span, e.to_string()));
        }
        Ok(RuntimeSettings {
            values: self.values,
        })
    }
}

/// A refused setting, at its value (or the element of it the error is about).
fn refused(value: &Spanned<DeValue<'_>>, e: SettingError) -> Bad {
    let span = match (e.element, value.get_ref()) {
        (Some(i), DeValue::Array(items)) => items.get(i).map_or(value.span(), |v| v.span()),
        _ => value.span(),
    };
    Bad(span, e.why.to_string())
}

/// A toml value as the settings take it.
fn given(value: &Spanned<DeValue<'_>>) -> Result<Given, Bad> {
    Ok(match value.get_ref() {
        DeValue::Integer(_) => {
            let n = i64::deserialize(ValueDeserializer::from(value.clone()))
                .map_err(|e| Bad(e.span().unwrap_or(value.span()), e.message().to_string()))?;
            Given::Integer(n.into())
        }
        DeValue::String(text) => Given::Text(text.to_string()),
        DeValue::Boolean(flag) => Given::Flag(*flag),
        DeValue::Array(items) => Given::List(items.iter().map(given).collect::<Result<_, _>>()?),
        DeValue::Float(_) => Given::Other("a float".into()),
        DeValue::Datetime(_) => Given::Other("a date".into()),
        DeValue::Table(_) => Given::Other("a table".into()),
    })
}

/// The message about a key that is none of `expected`.
fn unknown<'a>(
    key: &Spanned<std::borrow::Cow<'_, str>>,
    name: &str,
    expected: impl Iterator<Item = &'a str>,
) -> Bad {
    let expected: Vec<String> = expected.map(|k| format!("`{k}`")).collect();
    Bad(
        key.span(),
        format!(
            "unknown field `{name}`, expected one of {}",
            expected.join(", ")
        ),
    )
}

/// The entries of a table.
fn table<'d, 'i>(value: &'d Spanned<DeValue<'i>>) -> Result<Vec<Entry<'d, 'i>>, Bad> {
    match value.get_ref() {
        DeValue::Table(table) => Ok(table.iter().collect()),
        other => Err(Bad(
            value.span(),
            format!("expected a table, found {}", other.type_str()),
        )),
    }
}

/// The elements of an array.
fn array<'d, 'i>(value: &'d Spanned<DeValue<'i>>) -> Result<&'d [Spanned<DeValue<'i>>], Bad> {
    match value.get_ref() {
        DeValue::Array(items) => Ok(items),
        other => Err(Bad(
            value.span(),
            format!("expected an array of tables, found {}", other.type_str()),
        )),
    }
}

/// `value` read by serde into `T`.
fn deserialize<'i, T: Deserialize<'i>>(value: &Spanned<DeValue<'i>>) -> Result<T, Bad> {
    T::deserialize(ValueDeserializer::from(value.clone()))
        .map_err(|e| Bad(e.span().unwrap_or(value.span()), e.message().to_string()))
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

/// A rule's keys besides the caps ([`RULE_KEYS`]; the caps are checked by the settings).
#[derive(Deserialize)]
struct RawRule {
    functions: Spanned<OneOrMany>,
    arguments: Option<bool>,
    redact_args: Option<Vec<Spanned<u64>>>,
    result: Option<bool>,
}

fn patterns(texts: Vec<Spanned<String>>) -> Result<Vec<Pattern>, Bad> {
    texts
        .into_iter()
        .map(|text| Pattern::parse(text.get_ref()).map_err(|e| Bad(text.span(), e.to_string())))
        .collect()
}

/// `[plan]`.
fn plan(value: &Spanned<DeValue<'_>>) -> Result<PlanSettings, Bad> {
    let raw: RawPlan = deserialize(value)?;
    let mut plan = PlanSettings::default();
    if let Some(strategy) = raw.strategy {
        plan.strategy = strategy;
    }
    if let Some(apps) = raw.apps {
        let span = apps.span();
        plan.apps = AppSelection::parse(&apps.into_inner().into_vec()).map_err(|e| Bad(span, e))?;
    }
    plan.include = patterns(raw.include.unwrap_or_default())?;
    plan.exclude = patterns(raw.exclude.unwrap_or_default())?;
    if let Some(size) = raw.tiny_size {
        let n = *size.get_ref();
        if n > 100_000 {
            return Err(Bad(
                size.span(),
                format!("{n} is out of range: expected 0 to 100,000"),
            ));
        }
        plan.tiny_size = n as u32;
    }
    Ok(plan)
}

/// A `[[capture.rules]]` entry.
fn capture_rule(value: &Spanned<DeValue<'_>>) -> Result<CaptureRule, Bad> {
    let mut caps = Caps::default();
    for (key, setting) in table(value)? {
        if RULE_KEYS.contains(&key.get_ref().as_ref()) {
            continue;
        }
        match settings::find_in(Section::Capture, key.get_ref()).filter(|s| s.per_function) {
            Some(cap) => caps
                .set(cap, &given(setting)?)
                .map_err(|e| refused(setting, e))?,
            None => {
                let keys = RULE_KEYS
                    .iter()
                    .copied()
                    .chain(settings::caps().map(|s| s.key));
                return Err(unknown(key, key.get_ref(), keys));
            }
        }
    }
    let rule: RawRule = deserialize(value)?;
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
                        "{n} is not an argument position: 1 is the first argument, 255 the \
                         last a function can have"
                    ),
                ))
            }
        }
    }
    Ok(CaptureRule {
        functions,
        arguments: rule.arguments,
        redact_args,
        result: rule.result,
        caps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanSettings;
    use beam_format::FunctionRef;

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
        assert_eq!(config.capture, crate::CaptureSettings::default());
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
retention_bytes = 2000000
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
        let values = &config.runtime.values;
        assert_eq!(values.given_integer(&settings::MAX_BYTES), Some(2048));
        assert_eq!(values.given_integer(&settings::MAX_NODES), None);
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
                .get("max_binary")
                .copied(),
            Some(4096)
        );
        assert_eq!(
            config.runtime.db_path(),
            Some(Path::new("/project/traces")),
            "relative to the file"
        );
        assert_eq!(values.choice(&settings::DROP_POLICY), "drop_newest");
        assert_eq!(values.choice(&settings::OVERFLOW), "block");
        assert_eq!(
            config.runtime.to_erlang_map(),
            "#{db_path => <<\"/project/traces\"/utf8>>, drop_policy => drop_newest, overflow => block, ring_capacity => 65536, retention_bytes => 2000000, paused => true, max_depth => 4, max_bytes => 2048}"
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
            config.runtime.values.names(&settings::REDACT_KEYS),
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
        assert_eq!(
            parse("")
                .unwrap()
                .runtime
                .values
                .names(&settings::REDACT_KEYS),
            None
        );
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
        let (line, key, shown) = error("[runtime]\nring_size = 1\n");
        assert_eq!((line, key.as_deref()), (2, Some("runtime.ring_size")));
        assert!(
            shown.contains("unknown field `ring_size`, expected one of `db_path`,"),
            "{shown}"
        );
        let (_, key, shown) = error("[capture]\nredact_fields = []\n");
        assert_eq!(key.as_deref(), Some("capture.redact_fields"), "{shown}");
        let (_, key, _) = error("[[capture.rules]]\nfunctions = \"A\"\nredact_keys = []\n");
        assert_eq!(key.as_deref(), Some("capture.rules[0].redact_keys"));
        let (_, key, shown) = error("runtime = 3\n");
        assert_eq!(key.as_deref(), Some("runtime"));
        assert!(shown.contains("expected a table"), "{shown}");
    }

    #[test]
    fn buffers_that_do_not_fit_the_machine_name_the_key_and_what_fits() {
        let machine = Machine {
            memory: Some(8 << 30),
        };
        let text = "[runtime]\nring_bytes = 1048576\nring_capacity = 100000000\n";
        let e = Config::parse_for(text, Path::new("/p/elixir_scope.toml"), &machine).unwrap_err();
        assert_eq!(
            (e.line(), e.key()),
            (Some(3), Some("runtime.ring_capacity"))
        );
        let shown = e.to_string();
        assert!(
            shown.contains("100,000,000 does not fit this machine: at most 30,245,827 fits"),
            "{shown}"
        );
        assert!(shown.contains("half of the machine's 8 GiB"), "{shown}");
        let fits = "[runtime]\nring_capacity = 20000000\n";
        assert!(Config::parse_for(fits, Path::new("/p/elixir_scope.toml"), &machine).is_ok());
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let cases: [(&str, usize, &str, &str); 16] = [
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
                "0 is out of range: expected 1 to 1,073,741,824",
            ),
            (
                "[runtime]\nring_capacity = 1000000000000\n",
                2,
                "runtime.ring_capacity",
                "1000000000000 is out of range: expected 1 to 1,073,741,824",
            ),
            (
                "[runtime]\nbatch_events = 1000000000000\n",
                2,
                "runtime.batch_events",
                "out of range",
            ),
            (
                "[runtime]\nchannel_batches = 1000000000000\n",
                2,
                "runtime.channel_batches",
                "out of range",
            ),
            (
                "[runtime]\nretention_bytes = 0\n",
                2,
                "runtime.retention_bytes",
                "0 is out of range: expected 1,048,576 to",
            ),
            (
                "[runtime]\nring_bytes = -5\n",
                2,
                "runtime.ring_bytes",
                "-5 is out of range",
            ),
            (
                "[runtime]\npaused = 1\n",
                2,
                "runtime.paused",
                "expected true or false, found the integer 1",
            ),
            (
                "[runtime]\ncommit_interval_ms = 2.5\n",
                2,
                "runtime.commit_interval_ms",
                "expected an integer, found a float",
            ),
            (
                "[runtime]\ndrop_policy = \"drop_all\"\n",
                2,
                "runtime.drop_policy",
                "drop_newest",
            ),
            (
                "[runtime]\nshards = 100000\n",
                2,
                "runtime.shards",
                "100000 is out of range: expected 0 to 1,024",
            ),
            (
                "\n[capture]\nmax_bytes = 10\n",
                3,
                "capture.max_bytes",
                "expected 64 to",
            ),
            (
                "[[capture.rules]]\nfunctions = \"A\"\nmax_depth = 65\n",
                3,
                "capture.rules[0].max_depth",
                "expected 0 to 64",
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
