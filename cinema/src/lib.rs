//! Execution Cinema: the local web UI of `elixir-scope serve`.
//!
//! A small HTTP server on the loopback interface ([`serve`]) that shows a recording: its runs,
//! a timeline of each run (one lane per process, calls as nested slices), each call with its
//! values, tree and neighbours, and a live run as it records. Everything it shows comes from
//! the store's queries ([`store::StoreReader`], [`store::Snapshot`]), values printed by the
//! `term` crate, exactly what the CLI prints.
//!
//! - [`server`] – binding, the runtime, the routes; [`token`] – the secret every request must
//!   carry (recordings hold arguments).
//! - [`api`] – the JSON API (documented in README.md, "elixir-scope serve").
//! - [`timeline`] – a run's calls as lanes of slices in memory, answering a window at a pixel
//!   width with level of detail.
//! - [`live`] – server-sent events announcing the calls a live run seals.
//! - [`states`] – a GenServer's state history: its callbacks, the states they received and
//!   returned, what changed.
//! - [`values`] – recorded values as JSON: text and collapsible structure.
//! - [`assets`] – the page (HTML, CSS, JS), embedded in the binary.
//! - [`error`] – errors.

pub mod api;
pub mod assets;
pub mod error;
pub mod live;
pub mod server;
pub mod states;
pub mod timeline;
pub mod token;
pub mod values;

pub use error::CinemaError;
pub use server::{serve, ServeOptions};
