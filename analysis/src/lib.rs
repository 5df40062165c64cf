//! Questions asked of a recording, answered once in Rust for both of its faces, the
//! `elixir-scope` command and the IEx helpers (through the NIF): which calls match a pattern
//! written as Elixir or Erlang code, where a value appears or came from, where the time went,
//! and what changed between two runs. Everything reads a [`store::Snapshot`], so live runs
//! are answered as far as they are sealed.
//!
//! - [`etf`] – stored values read in place, without building terms.
//! - [`pattern`] – Elixir and Erlang patterns over calls and values, with guards.
//! - [`select`] – calls by pattern ([`CallQuery`]), values searched for ([`search`]) and
//!   where a value came from ([`origin`]).
//! - [`log`] – lines about recorded calls, as if a log statement had been there.

pub mod etf;
pub mod log;
pub mod pattern;
pub mod select;

pub use pattern::{CallPattern, Dialect, PatternError, ValuePattern};
pub use select::{origin, search, CallQuery, QueryError};
