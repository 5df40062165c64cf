//! `elixir_scope.toml`: the optional configuration file of a project.
//!
//! The file is looked up from the working directory upwards ([`find`]); without one every
//! setting has its default. It has four tables, every key optional:
//!
//! ```toml
//! [plan]                      # what `elixir-scope plan` / `instrument` wrap
//! strategy = "balanced"       # all_public | all | callbacks | balanced
//! apps = ["project"]          # "project", "deps", "all", or application names
//! include = ["MyApp.*"]       # patterns, as `--include`
//! exclude = ["MyApp.Repo.*"]  # patterns, as `--exclude`
//! tiny_size = 12              # balanced: the largest function (in expressions) that is "tiny"
//!
//! [capture]                   # the runtime's capture caps, for every function
//! max_bytes = 1024
//! redact_keys = ["password", "token"]   # values under keys containing these are never stored
//!
//! [[capture.rules]]           # capture options of some functions; the first match wins
//! functions = ["MyApp.Auth.*"]
//! arguments = false           # or redact_args = [2]: only the second argument
//! result = false              # the result is not stored either
//!
//! [runtime]                   # the runtime's other settings
//! ring_capacity = 131072
//! ```
//!
//! - [`find`] – where the file is.
//! - [`file`] – reading it ([`Config::load`]) into the settings below.
//! - [`plan`] – strategy, applications, patterns ([`PlanSettings`]).
//! - [`capture`] – per-function capture rules ([`CaptureSettings`]).
//! - [`runtime`] – the runtime's settings (`[runtime]`, `[capture]`'s caps and keys: the
//!   `settings` crate's table) and their Erlang rendering ([`RuntimeSettings`]).
//! - [`error`] – errors that name the file, the line and the key ([`ConfigError`]).

pub mod capture;
pub mod error;
pub mod file;
pub mod find;
pub mod plan;
pub mod runtime;

mod locate;

pub use capture::{Caps, CaptureRule, CaptureSettings};
pub use error::ConfigError;
pub use file::Config;
pub use find::{find, find_project, FILE_NAME, PROJECT_FILES};
pub use plan::{AppSelection, PlanSettings, Strategy};
pub use runtime::{ErlangValue, RedactFields, RuntimeSettings};
