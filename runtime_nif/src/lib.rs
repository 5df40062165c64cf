//! The ElixirScope runtime NIF: thin functions between the BEAM and the runtime core.
//!
//! The Erlang module `elixir_scope_runtime` (in `runtime_nif/erlang/`) implements the runtime
//! contract wrapped code calls (the behaviour `elixir_scope_contract`) and calls these
//! functions, with `elixir_scope_control` and `elixir_scope_query`, which the stub module
//! `elixir_scope_nif` exposes. The logic lives in plain Rust in `runtime_core` (encoder, ring,
//! drain) and `store`; this crate only reads terms and moves values across.
//!
//! - [`hot`] – the hot path: `enter/5`, `enter_first/8`, `call_return/3`,
//!   `call_exception/5`, `tail_call/6`.
//! - [`attach`] – recording code that was not rewritten: `enabled/3` and `trace/5` (this
//!   module as the VM's `erl_tracer`), `attach_open/4` and the controller's other entry
//!   points (`elixir_scope_attach`), the processes' stacks of open calls that rewritten calls
//!   share while attached.
//! - `links` – pids that links hold (clients, origins, receivers), of this node or another.
//! - `capture` – per-function caps: values the runtime wraps with caps of their own.
//! - [`control`] – `start/1`, `settings/0`, `flush/1`, `stats/0`, `loaded/0`.
//! - `settings_map` – settings as an Erlang map gives them: terms read for the `settings`
//!   table, and its key atoms.
//! - [`query`] – `call/1`, `children/2`, `subtree/2`, `calls/1`, `tree/2`,
//!   `tree_prefixes/1`, `summary/0`, `runs/0`, `tests/1` for IEx.
//! - [`search`] – patterns in `calls/1`, `search/2`, `origin/2` (the `analysis` crate).
//! - [`analysis`] – `profile/1`, `diff/3` for IEx: where the time went, what changed.
//! - [`run_events`] – `paused/1`, `test_finished/1`, `node_named/1`: what happens to the run,
//!   not to a call.
//! - [`cluster`] – `run_dir/0`, `links_from/4`, `running_at/2`: what a node answers about its
//!   run when another node of its cluster asks.
//! - [`term`] – live terms for the encoder; atom and pid words.
//! - [`runtime`] – the VM's one runtime and the exit hook that flushes it.
//! - [`atoms`] – atoms the NIF returns.
//!
//! No NIF panics across the boundary (rustler turns a panic into an Erlang error, and the code
//! avoids panicking paths); a bad argument is a `badarg` exception; long work (opening the
//! store, flushing, queries) runs on dirty I/O schedulers.

pub mod analysis;
pub mod atoms;
pub mod attach;
mod capture;
pub mod cluster;
pub mod control;
pub mod hot;
pub(crate) mod layout;
mod links;
pub mod query;
pub mod run_events;
pub mod runtime;
pub mod search;
mod settings_map;
pub mod term;

/// The library's allocator. Every captured value larger than an event's inline bytes is
/// allocated on a scheduler thread and freed by the writer thread; glibc's `malloc` then misses
/// its per-thread cache on every call (the chunks pile up in the writer's), while mimalloc
/// hands them back to the owning thread in batches.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(_env: rustler::Env, _info: rustler::Term) -> bool {
    term::init_bounds();
    layout::check();
    runtime::install_exit_hook();
    true
}

rustler::init!("elixir_scope_nif", load = load);
