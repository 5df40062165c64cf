//! Per-call capture options: values the runtime module hands over wrapped with caps of their
//! own and with secrets, and the secrets a process's current call carries.
//!
//! For a function with caps of its own (`[[capture.rules]]`), or a call that hides values,
//! `elixir_scope_runtime` hands the NIF its arguments (and later its result) as
//! `{'$elixir_scope_caps', Caps, Value}` or `{'$elixir_scope_caps', Caps, Value, Secrets}`:
//! `Value` is encoded within `Caps` (a map of cap settings over the runtime's, clamped to the
//! runtime's ranges), and every term identical to one of `Secrets` is redacted. Anything else
//! is encoded within the runtime's caps. Telling the two apart costs a type check, and for
//! 3- and 4-tuples an atom comparison: no allocation.
//!
//! A call under one whose arguments a rule hides carries those values in the process's current
//! call, `{Id, TailCalls, Depth, Announced, Secrets}` ([`secrets_of_call`]), so that its result
//! and its exception are redacted too.

use runtime_core::encoder::Caps;
use rustler::{Env, Term};
use smallvec::SmallVec;

use crate::atoms;
use crate::settings_map::caps_over;
use crate::term::Beam;

/// At most this many secrets are compared with each captured term.
const MAX_SECRETS: usize = 16;

/// Terms to redact wherever they occur in a capture.
pub(crate) type Secrets<'a> = SmallVec<[Beam<'a>; 4]>;

/// What to encode, within which caps, hiding which terms.
pub(crate) struct Within<'a> {
    pub value: Term<'a>,
    pub caps: Caps,
    pub secrets: Secrets<'a>,
}

/// The value to encode, the caps to encode it within and the secrets it must not show.
pub(crate) fn within<'a>(env: Env<'a>, value: Term<'a>, caps: &Caps) -> Within<'a> {
    let plain = || Within {
        value,
        caps: *caps,
        secrets: Secrets::new(),
    };
    // Arguments are a list: told apart from the word alone (no call into the VM).
    if matches!(
        crate::layout::quick(value.as_c_arg()),
        crate::layout::Quick::Cell | crate::layout::Quick::Nil
    ) {
        return plain();
    }
    let (tag, options, inner, secrets) = match Beam(value).tuple() {
        Some(&[tag, options, inner]) => (tag, options, inner, None),
        Some(&[tag, options, inner, secrets]) => (tag, options, inner, Some(secrets)),
        _ => return plain(),
    };
    // SAFETY: the elements belong to `value`'s tuple, alive as long as `env`.
    let term = |t| unsafe { Term::new(env, t) };
    let (tag, options) = (term(tag), term(options));
    if tag != atoms::elixir_scope_caps().to_term(env) || !options.is_map() {
        return plain();
    }
    let caps = match caps_over(options, caps) {
        Some(own) => own.clamped(),
        // A bad caps map (not one the runtime writes): the runtime's caps.
        None => *caps,
    };
    Within {
        value: term(inner),
        caps,
        secrets: secrets.map_or_else(Secrets::new, |s| list(term(s))),
    }
}

/// The secrets of a process's current call (`{Id, TailCalls, Depth, Announced, Secrets}`), or
/// none for any other shape.
pub(crate) fn secrets_of_call(current: Term<'_>) -> Secrets<'_> {
    match Beam(current).tuple() {
        // SAFETY: an element of `current`'s tuple, alive as long as its env.
        Some(&[_, _, _, _, secrets]) => list(unsafe { Term::new(current.get_env(), secrets) }),
        _ => Secrets::new(),
    }
}

/// The first [`MAX_SECRETS`] elements of a list.
fn list(term: Term<'_>) -> Secrets<'_> {
    match term.into_list_iterator() {
        Ok(items) => items.take(MAX_SECRETS).map(Beam).collect(),
        Err(_) => Secrets::new(),
    }
}
