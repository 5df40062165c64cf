//! The runtime's settings (`[runtime]` and the `[capture]` caps), and their rendering as Erlang
//! terms for whoever starts the runtime.
//!
//! The keys are those of the `settings` table, which `elixir_scope_runtime` reads from the
//! `elixir_scope` application environment, the installed settings and the map given to
//! `start/1`. Only keys the file sets are rendered, each by its kind: the runtime keeps its
//! defaults for the rest.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use settings::{Value, Values};

/// The runtime's settings a file sets: `[runtime]`, and `[capture]`'s caps and `redact_keys`
/// (the `settings` table: keys, bounds, defaults). Unset ones keep the runtime's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RuntimeSettings {
    /// The values the file sets, checked.
    pub values: Values,
}

/// An Erlang value of a runtime setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErlangValue {
    /// A non-negative integer.
    Integer(u64),
    /// An atom (`drop_newest`, `true`).
    Atom(&'static str),
    /// A UTF-8 binary (paths).
    Binary(String),
    /// An atom from any text, quoted when needed (`'Elixir.MyApp.User'`).
    Name(String),
    /// A list.
    List(Vec<ErlangValue>),
    /// A tuple.
    Tuple(Vec<ErlangValue>),
}

impl ErlangValue {
    /// Erlang source text for the value.
    pub fn to_erlang(&self) -> String {
        match self {
            ErlangValue::Integer(n) => n.to_string(),
            ErlangValue::Atom(a) => (*a).to_string(),
            ErlangValue::Binary(text) => {
                let mut out = String::from("<<\"");
                for c in text.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        ' '..='~' => out.push(c),
                        other => {
                            let _ = write!(out, "\\x{{{:X}}}", other as u32);
                        }
                    }
                }
                out.push_str("\"/utf8>>");
                out
            }
            ErlangValue::Name(text) => {
                let bare = text.starts_with(|c: char| c.is_ascii_lowercase())
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@');
                if bare {
                    return text.clone();
                }
                let mut out = String::from("'");
                for c in text.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        ' '..='~' => out.push(c),
                        other => {
                            let _ = write!(out, "\\x{{{:X}}}", other as u32);
                        }
                    }
                }
                out.push('\'');
                out
            }
            ErlangValue::List(items) => {
                let items: Vec<String> = items.iter().map(ErlangValue::to_erlang).collect();
                format!("[{}]", items.join(", "))
            }
            ErlangValue::Tuple(items) => {
                let items: Vec<String> = items.iter().map(ErlangValue::to_erlang).collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
}

impl ErlangValue {
    /// A setting's value as an Erlang term.
    pub fn of(value: &Value) -> ErlangValue {
        match value {
            Value::Integer(n) => ErlangValue::Integer(*n),
            Value::Choice(choice) => ErlangValue::Atom(choice),
            Value::Flag(flag) => ErlangValue::Atom(if *flag { "true" } else { "false" }),
            Value::Path(path) => ErlangValue::Binary(path.to_string_lossy().into_owned()),
            Value::Names(names) => ErlangValue::List(
                names
                    .iter()
                    .map(|n| ErlangValue::Binary(n.clone()))
                    .collect(),
            ),
            Value::StructFields(structs) => ErlangValue::List(
                structs
                    .iter()
                    .map(|(module, fields)| {
                        let fields = fields
                            .iter()
                            .map(|f| ErlangValue::Name(f.clone()))
                            .collect();
                        ErlangValue::Tuple(vec![
                            ErlangValue::Name(module.clone()),
                            ErlangValue::List(fields),
                        ])
                    })
                    .collect(),
            ),
        }
    }
}

impl RuntimeSettings {
    /// Where the recording goes, if the file says (relative to the file's directory there).
    pub fn db_path(&self) -> Option<&Path> {
        self.values.path(&settings::DB_PATH)
    }

    /// The settings that are set, as runtime keys and Erlang values, in the settings' order.
    pub fn entries(&self) -> Vec<(&'static str, ErlangValue)> {
        self.values
            .iter()
            .map(|(setting, value)| (setting.key, ErlangValue::of(value)))
            .collect()
    }

    /// The settings as an Erlang map for `elixir_scope_runtime:start/1`:
    /// `#{db_path => <<"/p/trace.redb"/utf8>>, ring_capacity => 65536}`.
    pub fn to_erlang_map(&self) -> String {
        let pairs: Vec<String> = self
            .entries()
            .iter()
            .map(|(key, value)| format!("{key} => {}", value.to_erlang()))
            .collect();
        format!("#{{{}}}", pairs.join(", "))
    }

    /// The settings `elixir-scope instrument` installs next to the runtime: those of
    /// [`RuntimeSettings::to_app_env`], the struct fields to redact (`redact_fields`, when
    /// any), and `project_root`, the directory the recording goes under when nothing else names
    /// it (the runtime uses it when it exists where the VM runs).
    pub fn to_settings(&self, redact_fields: &RedactFields, project_root: Option<&Path>) -> String {
        let mut entries = self.entries();
        if !redact_fields.is_empty() {
            let structs = redact_fields
                .iter()
                .map(|(module, fields)| (module.clone(), fields.clone()))
                .collect();
            entries.push((
                settings::REDACT_FIELDS.key,
                ErlangValue::of(&Value::StructFields(structs)),
            ));
        }
        if let Some(root) = project_root {
            entries.push((
                "project_root",
                ErlangValue::Binary(root.to_string_lossy().into_owned()),
            ));
        }
        let pairs: Vec<String> = entries
            .iter()
            .map(|(key, value)| format!("{{{key}, {}}}", value.to_erlang()))
            .collect();
        format!("[{}]", pairs.join(", "))
    }

    /// The settings as the `elixir_scope` application's environment, a proplist as in
    /// `sys.config` or an `.app` file's `env`: `[{db_path, <<"/p/trace.redb"/utf8>>}]`.
    pub fn to_app_env(&self) -> String {
        self.to_settings(&RedactFields::new(), None)
    }
}

/// Struct fields never recorded, by struct module (`Elixir.MyApp.User` → `["password_hash"]`):
/// what `elixir-scope instrument` found each struct's own `Inspect` implementation to leave out.
pub type RedactFields = BTreeMap<String, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;
    use settings::Given;

    fn settings(pairs: &[(&'static settings::Setting, Given)]) -> RuntimeSettings {
        let mut values = Values::default();
        for (setting, given) in pairs {
            values.set(setting, given).unwrap();
        }
        RuntimeSettings { values }
    }

    #[test]
    fn renders_only_what_is_set() {
        assert_eq!(RuntimeSettings::default().to_erlang_map(), "#{}");
        let set = settings(&[
            (
                &settings::DB_PATH,
                Given::Text("/tmp/a \"b\"/trace-é.redb".into()),
            ),
            (&settings::DROP_POLICY, Given::Text("drop_oldest".into())),
            (&settings::RING_CAPACITY, Given::Integer(1024)),
            (&settings::PAUSED, Given::Flag(true)),
            (&settings::MAX_BYTES, Given::Integer(256)),
        ]);
        assert_eq!(
            set.to_erlang_map(),
            "#{db_path => <<\"/tmp/a \\\"b\\\"/trace-\\x{E9}.redb\"/utf8>>, drop_policy => drop_oldest, ring_capacity => 1024, paused => true, max_bytes => 256}"
        );
        assert_eq!(
            settings(&[(&settings::SHARDS, Given::Integer(2))]).to_app_env(),
            "[{shards, 2}]"
        );
        let keys = settings(&[(
            &settings::REDACT_KEYS,
            Given::List(vec![
                Given::Text("pin".into()),
                Given::Text("card_number".into()),
            ]),
        )]);
        let fields = RedactFields::from([(
            "Elixir.MyApp.User".to_string(),
            vec!["password_hash".to_string(), "Odd name".to_string()],
        )]);
        assert_eq!(
            keys.to_settings(&fields, None),
            "[{redact_keys, [<<\"pin\"/utf8>>, <<\"card_number\"/utf8>>]}, {redact_fields, [{'Elixir.MyApp.User', [password_hash, 'Odd name']}]}]"
        );
    }
}
