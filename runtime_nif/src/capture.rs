//! Per-function capture options (`[[capture.rules]]` of `elixir_scope.toml`).
//!
//! For a function with caps of its own, `elixir_scope_runtime:enter/5` hands the NIF its
//! arguments, and later its result, as `{'$elixir_scope_caps', Caps, Value}`: `Value` is then
//! encoded within `Caps` (a map of cap settings over the runtime's, clamped to the runtime's
//! ranges). Anything else is encoded within the runtime's caps. Telling the two apart costs a
//! type check, and for 3-tuples an atom comparison: no allocation.

use runtime_core::encoder::Caps;
use rustler::{Env, Term};

use crate::atoms;
use crate::control::caps_over;
use crate::term::Beam;

/// The value to encode and the caps to encode it within.
pub(crate) fn within<'a>(env: Env<'a>, value: Term<'a>, caps: &Caps) -> (Term<'a>, Caps) {
    let Some(&[tag, options, inner]) = Beam(value).tuple() else {
        return (value, *caps);
    };
    // SAFETY: the elements belong to `value`'s tuple, alive as long as `env`.
    let (tag, options, inner) = unsafe {
        (
            Term::new(env, tag),
            Term::new(env, options),
            Term::new(env, inner),
        )
    };
    if tag != atoms::elixir_scope_caps().to_term(env) || !options.is_map() {
        return (value, *caps);
    }
    match caps_over(options, caps) {
        Ok(own) => (inner, own.clamped()),
        // A bad caps map (not one the rewriter writes): the runtime's caps.
        Err(_) => (inner, *caps),
    }
}
