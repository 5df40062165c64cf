//! What the encoder needs to know about a term: [`TermView`].
//!
//! In the NIF it is implemented over live terms (`rustler::Term`); [`crate::encoder::value`]
//! implements it over plain Rust values for tests and benchmarks. Every method is O(1) or bounded
//! by its argument, which is what makes the encoder's work bounded.

use super::etf::Sink;

/// The coarse type of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An atom.
    Atom,
    /// An integer (small or big).
    Integer,
    /// A float.
    Float,
    /// A binary or a bitstring.
    Bitstring,
    /// `[]`.
    EmptyList,
    /// A non-empty (possibly improper) list.
    List,
    /// A tuple.
    Tuple,
    /// A map.
    Map,
    /// A pid.
    Pid,
    /// A port.
    Port,
    /// A reference.
    Reference,
    /// A fun.
    Fun,
    /// Anything else.
    Other,
}

/// Read access to a term, for the bounded encoder.
pub trait TermView<'a>: Copy {
    /// Iterator over a map's pairs.
    type MapIter: Iterator<Item = (Self, Self)>;

    /// The term's type.
    fn kind(self) -> Kind;

    /// Appends an atom's text as UTF-8 to `out`; `false` if it cannot (then the encoder falls
    /// back to [`TermView::external`]).
    fn atom_text(self, out: &mut dyn Sink) -> bool;

    /// The integer, when it fits in an `i64`.
    fn to_i64(self) -> Option<i64>;

    /// The integer, when it fits in a `u64`.
    fn to_u64(self) -> Option<u64>;

    /// Whether an integer's magnitude is below 2^1024 (so its external form is small).
    fn is_moderate_integer(self) -> bool;

    /// The float.
    fn to_f64(self) -> Option<f64>;

    /// A binary's bytes, without copying (`None` for bitstrings that are not whole bytes).
    fn bytes(self) -> Option<&'a [u8]>;

    /// A non-empty list's head and tail.
    fn list_cell(self) -> Option<(Self, Self)>;

    /// A tuple's arity.
    fn tuple_arity(self) -> usize;

    /// A tuple's element `index` (0-based, below the arity).
    fn tuple_element(self, index: usize) -> Option<Self>;

    /// A map's size.
    fn map_size(self) -> usize;

    /// A map's pairs, in the map's own order.
    fn map_iter(self) -> Option<Self::MapIter>;

    /// Appends the term's external format (without the version byte) to `out` if it takes at
    /// most `max` bytes; `false` (and `out` unchanged) otherwise. Only called on terms whose
    /// external form is small: pids, ports, references, atoms, moderate integers.
    fn external(self, out: &mut dyn Sink, max: usize) -> bool;

    /// Appends a short printable description (a fun's `#Fun<m.1.2>`), at most `max` bytes.
    fn describe(self, out: &mut dyn Sink, max: usize);
}
