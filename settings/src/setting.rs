//! What a setting is: a key, a type with its bounds, a default and a line of documentation.

/// Where a setting is written in `elixir_scope.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `[runtime]`.
    Runtime,
    /// `[capture]`.
    Capture,
    /// Not in the file: `elixir-scope instrument` installs it next to the runtime, and
    /// `start/1` takes it.
    Installed,
}

impl Section {
    /// The toml table, if the file can set it.
    pub const fn table(self) -> Option<&'static str> {
        match self {
            Section::Runtime => Some("runtime"),
            Section::Capture => Some("capture"),
            Section::Installed => None,
        }
    }
}

/// What an integer counts, for the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A number of things (events, batches, lanes, terms).
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Milliseconds,
}

/// A setting's type, with its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A whole number from `min` to `max`.
    Integer {
        /// The smallest value.
        min: u64,
        /// The largest value.
        max: u64,
        /// What it counts.
        unit: Unit,
    },
    /// One of these words: a string in the file, an atom in Erlang.
    Choice(&'static [&'static str]),
    /// `true` or `false`.
    Flag,
    /// A path of 1 to [`Kind::MAX_PATH`] bytes: a string in the file, a binary or a string in
    /// Erlang.
    Path,
    /// At most `max` names of 1 to [`Kind::MAX_NAME`] bytes: strings in the file; binaries,
    /// atoms or strings in Erlang.
    Names {
        /// The most names.
        max: usize,
    },
    /// Struct fields by struct module, `[{Module, [Field]}]` (or a map), at most `max` structs;
    /// names as for [`Kind::Names`].
    StructFields {
        /// The most structs.
        max: usize,
    },
}

impl Kind {
    /// The longest path, in bytes (Linux's `PATH_MAX`).
    pub const MAX_PATH: usize = 4096;
    /// The longest name, in bytes (an atom's longest text).
    pub const MAX_NAME: usize = 255;
}

/// What a setting is when nothing sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultValue {
    /// A number.
    Integer(u64),
    /// One of the choices.
    Choice(&'static str),
    /// A flag.
    Flag(bool),
    /// A list of names.
    Names(&'static [&'static str]),
    /// Nothing.
    Empty,
    /// Worked out where the runtime starts (the text says how).
    Computed(&'static str),
}

/// One setting of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Setting {
    /// The key, as `start/1` and the application environment name it (the toml key within
    /// its [`Section`]).
    pub key: &'static str,
    /// Where the file sets it.
    pub section: Section,
    /// Its type and bounds.
    pub kind: Kind,
    /// Its value when nothing sets it.
    pub default: DefaultValue,
    /// Whether a function can have its own (`[[capture.rules]]`, the caps of `enter/5`).
    pub per_function: bool,
    /// Whether it sizes the runtime's buffers (see [`crate::memory`]): together they must fit
    /// in the machine's memory.
    pub memory: bool,
    /// What it does, for the README.
    pub doc: &'static str,
}

impl Setting {
    /// The dotted key in `elixir_scope.toml` (`runtime.ring_capacity`), or the bare key for a
    /// setting the file cannot set.
    pub fn toml_key(&self) -> String {
        match self.section.table() {
            Some(table) => format!("{table}.{}", self.key),
            None => self.key.to_string(),
        }
    }

    /// The default of an integer setting (0 for others: a test checks every integer setting
    /// has an integer default).
    pub const fn default_integer(&self) -> u64 {
        match self.default {
            DefaultValue::Integer(n) => n,
            _ => 0,
        }
    }

    /// The bounds of an integer setting (`0..=u64::MAX` for others).
    pub const fn bounds(&self) -> (u64, u64) {
        match self.kind {
            Kind::Integer { min, max, .. } => (min, max),
            _ => (0, u64::MAX),
        }
    }

    /// `value` brought within the setting's bounds (what the hot path does with per-function
    /// caps it did not check).
    pub const fn clamp(&self, value: u64) -> u64 {
        let (min, max) = self.bounds();
        if value < min {
            min
        } else if value > max {
            max
        } else {
            value
        }
    }
}
