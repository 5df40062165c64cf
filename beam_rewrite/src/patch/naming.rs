//! Names the generated code uses inside a rewritten module. They must agree with
//! `runtime_nif/erlang/elixir_scope_stacktrace.erl`; what it calls outside is
//! [`super::contract`].

/// Prefix of inner function names: the clauses of `f` move to `'es$f'`.
pub const INNER_PREFIX: &str = "es$";

/// The file wrappers are compiled under, so that their stack frames can be recognised.
pub const WRAPPER_FILE: &str = "elixir_scope:wrapper";

/// The module's shared recording function, `'es$$record'/4` (see [`super::wrapper`]).
pub const RECORDER: &str = "es$$record";

/// The module's tail-call reporting functions, `'es$$tail'/(N+1)`.
pub const TAIL_HELPER: &str = "es$$tail";

/// The module's send reporter, `'es$$send'/3` (see [`super::sends`]).
pub const SEND_HELPER: &str = "es$$send";

/// The prefix of tail entries: local tail calls to a wrapped `f` go to `'es$$tail$f'`, which
/// reports the tail call and jumps to `'es$f'` (see [`super::tail_calls`]).
pub const TAIL_ENTRY_PREFIX: &str = "es$$tail$";

/// Tail calls to functions of this arity or more report inline: a helper would need more than
/// the 255 arguments a function may take.
pub const MAX_TAIL_HELPER_ARITY: u32 = 254;

/// Whether a function name is one of the rewriter's own helpers (`es$$...`). A module that
/// already defines one cannot be rewritten.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with("es$$")
}

/// The name of the inner function that holds the original clauses of `name`.
pub fn inner_name(name: &str) -> String {
    format!("{INNER_PREFIX}{name}")
}

/// The name of the tail entry of `name` (it is reserved: no inner name starts with `es$$`).
pub fn tail_entry_name(name: &str) -> String {
    format!("{TAIL_ENTRY_PREFIX}{name}")
}

/// Names of variables the rewriter introduces. Erlang variables cannot contain `$` and Elixir
/// ones become `_name@N` or `Vname@N`, so these never clash with the program's own.
pub fn variable(purpose: &str) -> String {
    format!("ES${purpose}")
}
