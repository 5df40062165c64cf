//! Questions asked of a recording, answered once in Rust for both of its faces, the
//! `elixir-scope` command and the IEx helpers (through the NIF): which calls match a pattern
//! written as Elixir or Erlang code, where a value appears or came from, where the time went,
//! and what changed between two runs. Everything reads a [`store::Snapshot`], so live runs
//! are answered as far as they are sealed.
