//! Terms for the unit tests: built with `eetf`, encoded as the runtime stores them.

use eetf::{Atom, FixInteger, Term};

/// `term` in the external term format.
pub(crate) fn encode(term: Term) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out).expect("encodes");
    out
}

/// An atom.
pub(crate) fn atom(name: &str) -> Term {
    Atom::from(name).into()
}

/// A small integer.
pub(crate) fn int(i: i32) -> Term {
    FixInteger::from(i).into()
}
