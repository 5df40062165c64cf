//! The runtime's settings (`[runtime]` and the `[capture]` caps), and their rendering as Erlang
//! terms for whoever starts the runtime.
//!
//! The keys are those of `elixir_scope_runtime` (its module documentation, `CONFIG_KEYS`), which
//! reads them from the `elixir_scope` application environment and from the map given to
//! `start/1`. Only keys the file sets are rendered: the runtime keeps its defaults for the rest.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use crate::capture::CaptureSettings;

/// What a full ring drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropPolicy {
    /// New events are dropped (the default: the hot path never waits and never evicts).
    DropNewest,
    /// The oldest events are overwritten.
    DropOldest,
}

impl DropPolicy {
    /// The runtime's atom.
    pub fn name(self) -> &'static str {
        match self {
            DropPolicy::DropNewest => "drop_newest",
            DropPolicy::DropOldest => "drop_oldest",
        }
    }
}

/// What the hot path does when the ring has no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Drop what does not fit, and count it (the default: the caller never waits).
    Drop,
    /// Make the recording process wait until the drain made room (a millisecond at a time):
    /// nothing is lost, the recorded code runs slower meanwhile.
    Block,
}

impl Overflow {
    /// The runtime's atom.
    pub fn name(self) -> &'static str {
        match self {
            Overflow::Drop => "drop",
            Overflow::Block => "block",
        }
    }
}

/// The `[runtime]` table; `None` keeps the runtime's default (in brackets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RuntimeSettings {
    /// The store, a directory of runs [`$ELIXIR_SCOPE_DB`, else `.elixir_scope` under the VM's
    /// working directory]; a relative path in the file is taken from the file's directory.
    pub db_path: Option<PathBuf>,
    /// What a full ring drops [`drop_newest`].
    pub drop_policy: Option<DropPolicy>,
    /// Whether a full ring drops or makes the recording process wait [`drop`].
    pub overflow: Option<Overflow>,
    /// Ring capacity in events [131072].
    pub ring_capacity: Option<u64>,
    /// Ring budget in estimated bytes [32 MiB].
    pub ring_bytes: Option<u64>,
    /// Largest batch written at once, in events [8192].
    pub batch_events: Option<u64>,
    /// Largest batch, in estimated bytes [4 MiB].
    pub batch_bytes: Option<u64>,
    /// Batches queued for the writer [32].
    pub channel_batches: Option<u64>,
    /// Longest wait of an event before it is written, ms [20].
    pub commit_interval_ms: Option<u64>,
    /// Time between durable commits, ms [1000].
    pub checkpoint_interval_ms: Option<u64>,
    /// Bytes of recordings kept; older runs and calls are deleted [1 GiB].
    pub retention_bytes: Option<u64>,
    /// Ring shards [one per scheduler].
    pub shards: Option<u64>,
    /// Start with recording paused [false].
    pub paused: Option<bool>,
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

/// Struct fields never recorded, by struct module (`Elixir.MyApp.User` → `["password_hash"]`):
/// what `elixir-scope instrument` found each struct's own `Inspect` implementation to leave out.
pub type RedactFields = BTreeMap<String, Vec<String>>;

/// The runtime keys `[capture]` sets besides the caps.
pub const CAPTURE_KEYS: [&str; 2] = ["redact_keys", "redact_fields"];

impl RuntimeSettings {
    /// The keys the runtime reads that this table may set, in the runtime's order.
    pub const KEYS: [&'static str; 13] = [
        "db_path",
        "drop_policy",
        "overflow",
        "ring_capacity",
        "ring_bytes",
        "batch_events",
        "batch_bytes",
        "channel_batches",
        "commit_interval_ms",
        "checkpoint_interval_ms",
        "retention_bytes",
        "shards",
        "paused",
    ];

    /// The settings that are set, with the `[capture]` caps and key names, as runtime keys and
    /// Erlang values.
    pub fn entries(&self, capture: &CaptureSettings) -> Vec<(&'static str, ErlangValue)> {
        let caps = &capture.defaults;
        let mut out = Vec::new();
        if let Some(path) = &self.db_path {
            out.push((
                "db_path",
                ErlangValue::Binary(path.to_string_lossy().into_owned()),
            ));
        }
        if let Some(policy) = self.drop_policy {
            out.push(("drop_policy", ErlangValue::Atom(policy.name())));
        }
        if let Some(overflow) = self.overflow {
            out.push(("overflow", ErlangValue::Atom(overflow.name())));
        }
        let integers = [
            ("ring_capacity", self.ring_capacity),
            ("ring_bytes", self.ring_bytes),
            ("batch_events", self.batch_events),
            ("batch_bytes", self.batch_bytes),
            ("channel_batches", self.channel_batches),
            ("commit_interval_ms", self.commit_interval_ms),
            ("checkpoint_interval_ms", self.checkpoint_interval_ms),
            ("retention_bytes", self.retention_bytes),
            ("shards", self.shards),
        ];
        for (key, value) in integers {
            if let Some(value) = value {
                out.push((key, ErlangValue::Integer(value)));
            }
        }
        if let Some(paused) = self.paused {
            out.push((
                "paused",
                ErlangValue::Atom(if paused { "true" } else { "false" }),
            ));
        }
        for (key, value) in caps.set() {
            out.push((key, ErlangValue::Integer(value)));
        }
        if let Some(keys) = &capture.redact_keys {
            let names = keys
                .iter()
                .map(|k| ErlangValue::Binary(k.clone()))
                .collect();
            out.push(("redact_keys", ErlangValue::List(names)));
        }
        out
    }

    /// The settings as an Erlang map for `elixir_scope_runtime:start/1`:
    /// `#{db_path => <<"/p/trace.redb"/utf8>>, ring_capacity => 65536}`.
    pub fn to_erlang_map(&self, capture: &CaptureSettings) -> String {
        let pairs: Vec<String> = self
            .entries(capture)
            .iter()
            .map(|(key, value)| format!("{key} => {}", value.to_erlang()))
            .collect();
        format!("#{{{}}}", pairs.join(", "))
    }

    /// The settings `elixir-scope instrument` installs next to the runtime: those of
    /// [`RuntimeSettings::to_app_env`], the struct fields to redact (`redact_fields`, when
    /// any), and `project_root`, the directory the recording goes under when nothing else names
    /// it (the runtime uses it when it exists where the VM runs).
    pub fn to_settings(
        &self,
        capture: &CaptureSettings,
        redact_fields: &RedactFields,
        project_root: Option<&Path>,
    ) -> String {
        let mut entries = self.entries(capture);
        if !redact_fields.is_empty() {
            let structs = redact_fields
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
                .collect();
            entries.push(("redact_fields", ErlangValue::List(structs)));
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
    pub fn to_app_env(&self, capture: &CaptureSettings) -> String {
        self.to_settings(capture, &RedactFields::new(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Caps;

    #[test]
    fn renders_only_what_is_set() {
        let empty = RuntimeSettings::default();
        assert_eq!(empty.to_erlang_map(&CaptureSettings::default()), "#{}");
        let settings = RuntimeSettings {
            db_path: Some(PathBuf::from("/tmp/a \"b\"/trace-é.redb")),
            drop_policy: Some(DropPolicy::DropOldest),
            ring_capacity: Some(1024),
            paused: Some(true),
            ..RuntimeSettings::default()
        };
        let capture = CaptureSettings {
            defaults: Caps {
                max_bytes: Some(256),
                ..Caps::default()
            },
            ..CaptureSettings::default()
        };
        assert_eq!(
            settings.to_erlang_map(&capture),
            "#{db_path => <<\"/tmp/a \\\"b\\\"/trace-\\x{E9}.redb\"/utf8>>, drop_policy => drop_oldest, ring_capacity => 1024, paused => true, max_bytes => 256}"
        );
        assert_eq!(
            RuntimeSettings {
                shards: Some(2),
                ..RuntimeSettings::default()
            }
            .to_app_env(&CaptureSettings::default()),
            "[{shards, 2}]"
        );
        let capture = CaptureSettings {
            redact_keys: Some(vec!["pin".into(), "card_number".into()]),
            ..CaptureSettings::default()
        };
        let fields = RedactFields::from([(
            "Elixir.MyApp.User".to_string(),
            vec!["password_hash".to_string(), "Odd name".to_string()],
        )]);
        assert_eq!(
            RuntimeSettings::default().to_settings(&capture, &fields, None),
            "[{redact_keys, [<<\"pin\"/utf8>>, <<\"card_number\"/utf8>>]}, {redact_fields, [{'Elixir.MyApp.User', [password_hash, 'Odd name']}]}]"
        );
    }

    #[test]
    fn every_key_is_one_the_runtime_reads() {
        let runtime = include_str!("../../runtime_nif/erlang/elixir_scope_runtime.erl");
        let start = runtime.find("-define(CONFIG_KEYS").expect("CONFIG_KEYS");
        let end = start + runtime[start..].find("]).").expect("end of CONFIG_KEYS");
        let keys: Vec<&str> = runtime[start..end]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && *w != "define" && *w != "CONFIG_KEYS")
            .collect();
        let ours: Vec<&str> = RuntimeSettings::KEYS
            .iter()
            .copied()
            .chain(Caps::KEYS.iter().map(|(k, _)| *k))
            .chain(CAPTURE_KEYS)
            .collect();
        let mut a = keys.clone();
        let mut b = ours.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(
            a, b,
            "the runtime's CONFIG_KEYS and the config's keys differ"
        );
    }
}
