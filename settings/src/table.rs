//! The settings: every key the runtime reads, in the order the runtime lists them.
//!
//! Each bound says why it is where it is. The memory settings are also bounded together by
//! the machine's memory (see [`crate::memory`]).

use crate::setting::{DefaultValue, Kind, Section, Setting, Unit};

/// An integer setting's type.
const fn integer(min: u64, max: u64, unit: Unit) -> Kind {
    Kind::Integer { min, max, unit }
}

/// Declares one constant per setting and [`SETTINGS`], the list of them, from one list.
macro_rules! table {
    ($($(#[doc = $doc:literal])* $name:ident = $setting:expr;)*) => {
        $($(#[doc = $doc])* pub const $name: Setting = $setting;)*

        /// Every setting, in the order the runtime lists (and renders) them.
        pub const SETTINGS: &[Setting] = &[$($name),*];
    };
}

table! {
    /// Where the recording goes.
    DB_PATH = Setting {
        key: "db_path",
        section: Section::Runtime,
        kind: Kind::Path,
        default: DefaultValue::Computed(
            "`$ELIXIR_SCOPE_DB`, else `.elixir_scope` in the project `instrument` ran for (the \
             directory of `elixir_scope.toml`, else its working directory) when it exists, else \
             under the VM's working directory",
        ),
        per_function: false,
        memory: false,
        doc: "the store: a directory of runs; a relative path is taken from the file's directory",
    };
    /// What a full ring drops.
    DROP_POLICY = Setting {
        key: "drop_policy",
        section: Section::Runtime,
        kind: Kind::Choice(&["drop_newest", "drop_oldest"]),
        default: DefaultValue::Choice("drop_newest"),
        per_function: false,
        memory: false,
        doc: "what a full ring drops: the newest events (keeps the beginning of a burst) or the \
              oldest (keeps its end)",
    };
    /// Whether a full ring drops or makes the recording process wait.
    OVERFLOW = Setting {
        key: "overflow",
        section: Section::Runtime,
        kind: Kind::Choice(&["block", "drop"]),
        default: DefaultValue::Choice("block"),
        per_function: false,
        memory: false,
        doc: "what a full ring does: `block` (the recording process waits until the drain made \
              room, a millisecond at a time: nothing is lost; with `drop_newest`) or `drop` \
              (drop and count: the recorded code never waits, for systems whose timing matters \
              more than a complete recording)",
    };
    /// Ring capacity in events. At most 2^30 events (136 GiB of slots): the machine bounds it
    /// well before.
    RING_CAPACITY = Setting {
        key: "ring_capacity",
        section: Section::Runtime,
        kind: integer(1, 1 << 30, Unit::Count),
        default: DefaultValue::Integer(1 << 17),
        per_function: false,
        memory: true,
        doc: "ring capacity in events (all lanes together; slots allocated at start)",
    };
    /// Ring budget in estimated bytes.
    RING_BYTES = Setting {
        key: "ring_bytes",
        section: Section::Runtime,
        kind: integer(1, 1 << 40, Unit::Bytes),
        default: DefaultValue::Integer(32 << 20),
        per_function: false,
        memory: true,
        doc: "ring budget: estimated bytes of the events waiting in it",
    };
    /// Largest batch, in events (each batch is allocated with room for this many).
    BATCH_EVENTS = Setting {
        key: "batch_events",
        section: Section::Runtime,
        kind: integer(1, 1 << 24, Unit::Count),
        default: DefaultValue::Integer(8192),
        per_function: false,
        memory: true,
        doc: "largest batch written at once, in events",
    };
    /// Largest batch, in estimated bytes.
    BATCH_BYTES = Setting {
        key: "batch_bytes",
        section: Section::Runtime,
        kind: integer(1, 1 << 36, Unit::Bytes),
        default: DefaultValue::Integer(4 << 20),
        per_function: false,
        memory: true,
        doc: "largest batch, in estimated bytes",
    };
    /// Batches queued for the writer: while it falls behind in a burst, the collector keeps
    /// emptying the ring into them, so the ring does not fill and drop.
    CHANNEL_BATCHES = Setting {
        key: "channel_batches",
        section: Section::Runtime,
        kind: integer(1, 1 << 16, Unit::Count),
        default: DefaultValue::Integer(32),
        per_function: false,
        memory: true,
        doc: "batches queued for the writer: what a burst can run ahead of it (memory only \
              while it lags)",
    };
    /// Longest wait of an event in a partial batch (then it is written and queryable): well
    /// under the 100 ms the runtime promises. At most a minute.
    COMMIT_INTERVAL_MS = Setting {
        key: "commit_interval_ms",
        section: Section::Runtime,
        kind: integer(1, 60_000, Unit::Milliseconds),
        default: DefaultValue::Integer(20),
        per_function: false,
        memory: false,
        doc: "longest wait of an event in the collector's batch before the writer takes it",
    };
    /// Time between seals (the most a crash loses). At most an hour.
    CHECKPOINT_INTERVAL_MS = Setting {
        key: "checkpoint_interval_ms",
        section: Section::Runtime,
        kind: integer(1, 3_600_000, Unit::Milliseconds),
        default: DefaultValue::Integer(1000),
        per_function: false,
        memory: false,
        doc: "time between seals: how old, at most, what readers see of a live run is, and the \
              most a crash loses",
    };
    /// Bytes of recordings kept. At least 1 MiB: less would delete what was just written.
    RETENTION_BYTES = Setting {
        key: "retention_bytes",
        section: Section::Runtime,
        kind: integer(1 << 20, 1 << 60, Unit::Bytes),
        default: DefaultValue::Integer(1 << 30),
        per_function: false,
        memory: false,
        doc: "bytes of recordings kept (every run's files); the oldest finished runs, then the \
              oldest segments of the recording run, are deleted",
    };
    /// Ring lanes. At most 1024, as the VM has at most 1024 schedulers.
    SHARDS = Setting {
        key: "shards",
        section: Section::Runtime,
        kind: integer(0, 1024, Unit::Count),
        default: DefaultValue::Computed("one per scheduler"),
        per_function: false,
        memory: false,
        doc: "ring lanes, one per scheduler; 0: one lane shared by every scheduler",
    };
    /// Start with recording paused.
    PAUSED = Setting {
        key: "paused",
        section: Section::Runtime,
        kind: Kind::Flag,
        default: DefaultValue::Flag(false),
        per_function: false,
        memory: false,
        doc: "start with recording paused",
    };
    /// Terms visited per captured value: the bound on the encoder's work.
    MAX_NODES = Setting {
        key: "max_nodes",
        section: Section::Capture,
        kind: integer(1, 100_000, Unit::Count),
        default: DefaultValue::Integer(32),
        per_function: true,
        memory: false,
        doc: "terms visited per captured value",
    };
    /// Nesting of lists, tuples and maps: the encoder recurses on the scheduler's stack.
    MAX_DEPTH = Setting {
        key: "max_depth",
        section: Section::Capture,
        kind: integer(0, 64, Unit::Count),
        default: DefaultValue::Integer(8),
        per_function: true,
        memory: false,
        doc: "nesting of lists, tuples, maps",
    };
    /// Elements kept per list, tuple or map.
    MAX_ELEMENTS = Setting {
        key: "max_elements",
        section: Section::Capture,
        kind: integer(1, 1 << 20, Unit::Count),
        default: DefaultValue::Integer(16),
        per_function: true,
        memory: false,
        doc: "elements per list, tuple or map",
    };
    /// Characters kept per Erlang string.
    MAX_STRING = Setting {
        key: "max_string",
        section: Section::Capture,
        kind: integer(0, 1 << 20, Unit::Count),
        default: DefaultValue::Integer(32),
        per_function: true,
        memory: false,
        doc: "characters per Erlang string",
    };
    /// Bytes kept per binary.
    MAX_BINARY = Setting {
        key: "max_binary",
        section: Section::Capture,
        kind: integer(0, 64 << 10, Unit::Bytes),
        default: DefaultValue::Integer(128),
        per_function: true,
        memory: false,
        doc: "bytes per binary",
    };
    /// Output bytes per captured value.
    MAX_BYTES = Setting {
        key: "max_bytes",
        section: Section::Capture,
        kind: integer(64, 1 << 20, Unit::Bytes),
        default: DefaultValue::Integer(1024),
        per_function: true,
        memory: false,
        doc: "output bytes per value",
    };
    /// Key names whose values are never recorded, in the spirit of Phoenix's
    /// `filter_parameters`.
    REDACT_KEYS = Setting {
        key: "redact_keys",
        section: Section::Capture,
        kind: Kind::Names { max: 256 },
        default: DefaultValue::Names(&["password", "passwd", "secret", "token", "api_key"]),
        per_function: false,
        memory: false,
        doc: "values under map keys, struct fields and pair keys (`{:token, _}`, keyword lists) \
              whose name contains one of these, ignoring case, are never stored",
    };
    /// Struct fields never recorded, by struct module.
    REDACT_FIELDS = Setting {
        key: "redact_fields",
        section: Section::Installed,
        kind: Kind::StructFields { max: 1 << 16 },
        default: DefaultValue::Empty,
        per_function: false,
        memory: false,
        doc: "struct fields never stored, `[{StructModule, [Field]}]`: `instrument` installs the \
              fields each struct's own `Inspect` implementation leaves out",
    };
}

/// The capture caps, in [`SETTINGS`] order: the settings a function can have its own of.
pub fn caps() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().filter(|s| s.per_function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_defaults_fit_their_kind() {
        for (i, setting) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[..i].iter().all(|s| s.key != setting.key),
                "{} twice",
                setting.key
            );
            match (setting.kind, setting.default) {
                (Kind::Integer { min, max, .. }, DefaultValue::Integer(n)) => {
                    assert!(
                        min <= n && n <= max,
                        "{}: default out of bounds",
                        setting.key
                    )
                }
                (Kind::Integer { .. }, DefaultValue::Computed(_)) => {}
                (Kind::Choice(choices), DefaultValue::Choice(c)) => {
                    assert!(choices.contains(&c), "{}", setting.key)
                }
                (Kind::Flag, DefaultValue::Flag(_))
                | (Kind::Path, DefaultValue::Computed(_))
                | (Kind::StructFields { .. }, DefaultValue::Empty) => {}
                (Kind::Names { max }, DefaultValue::Names(names)) => {
                    assert!(names.len() <= max, "{}", setting.key)
                }
                (kind, default) => panic!("{}: {kind:?} with {default:?}", setting.key),
            }
            assert!(
                !setting.per_function || matches!(setting.kind, Kind::Integer { .. }),
                "{}: only integer caps are per function",
                setting.key
            );
            assert!(
                !setting.memory || matches!(setting.kind, Kind::Integer { .. }),
                "{}",
                setting.key
            );
        }
        assert_eq!(caps().count(), 6);
    }
}
