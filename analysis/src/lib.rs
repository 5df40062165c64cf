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
//! - [`walk`] – what the analyses of time share: the calls looked at ([`walk::Scope`]),
//!   functions by name ([`walk::Mfa`]), the calls running in each process during a walk.
//! - [`profile`] – where the time went, per function: calls, total and own time, mean, p50,
//!   p99, exceptions ([`profile::profile`]).
//! - [`flame`] – flame graphs: folded stacks for inferno/flamegraph.pl ([`flame::folded`]),
//!   open/close events per process for speedscope ([`flame::evented`]).
//! - [`repeated`] – repeated identical subtrees, ranked by the time they wasted
//!   ([`repeated::repeated`]).
//! - [`value_diff`] – two recorded values compared in place: what was added, removed or
//!   changed, at which path.
//! - [`state_history`] – a GenServer's (gen_statem's, gen_event handler's) state as each
//!   callback received and returned it.
//! - [`diff`] – two runs compared: functions and results that changed ([`diff::diff`]).

pub mod diff;
pub mod etf;
pub mod flame;
pub mod log;
pub mod pattern;
pub mod profile;
pub mod repeated;
pub mod select;
pub mod state_history;
pub mod value_diff;
pub mod walk;

#[cfg(test)]
mod test_terms;

pub use pattern::{CallPattern, Dialect, PatternError, ValuePattern};
pub use select::{origin, search, CallQuery, QueryError};
