//! The runtime's settings, defined once.
//!
//! Every setting the runtime reads (`[runtime]` and `[capture]` of `elixir_scope.toml`, the map
//! of `elixir_scope_runtime:start/1`, the `elixir_scope` application environment) is one entry
//! of [`SETTINGS`]: its key, its type and bounds, its default and its documentation. Everything
//! else derives from that entry:
//!
//! - the toml reader (`config`) checks a file's values with [`Values::set`] and
//!   [`Values::check_machine`], and renders them as Erlang terms by their [`Kind`];
//! - the NIF's `start/1` decodes the map with a loop over [`SETTINGS`] into [`Values`], checked
//!   the same way (a bad value is `{error, {bad_setting, Key, Why}}`, never a crash);
//! - `elixir_scope_runtime` asks the NIF for the keys (`elixir_scope_nif:settings/0`);
//! - `runtime_core::Config::from_settings` takes its values and defaults from [`Values`];
//! - README's settings table is [`markdown::table`] (a test fails when they differ).
//!
//! A new setting is one entry in [`table`] and one line where it is used (`runtime_core`'s
//! `Config::from_settings`).
//!
//! - [`setting`] – what a setting is: [`Setting`], [`Kind`], [`Section`], [`DefaultValue`].
//! - [`table`] – the settings ([`SETTINGS`], and one constant per setting).
//! - [`value`] – values as given ([`Given`]), checked ([`Value`]), and a set of them
//!   ([`Values`]).
//! - [`memory`] – the memory the runtime's buffers take, and the machine's ([`Machine`]).
//! - [`error`] – why a value is refused ([`SettingError`]).
//! - [`markdown`] – the README's table.

pub mod error;
pub mod markdown;
pub mod memory;
pub mod setting;
pub mod table;
pub mod value;

pub use error::{SettingError, Why};
pub use memory::{Machine, EVENT_BYTES};
pub use setting::{DefaultValue, Kind, Section, Setting, Unit};
pub use table::*;
pub use value::{Given, Value, Values};

/// The setting named `key` (as the runtime names it, without the toml table).
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// The setting `key` of the toml table `section`.
pub fn find_in(section: Section, key: &str) -> Option<&'static Setting> {
    find(key).filter(|s| s.section == section)
}
