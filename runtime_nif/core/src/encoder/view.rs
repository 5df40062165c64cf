//! What the encoder needs to know about a term: [`TermView`].
//!
//! In the NIF it is implemented over live terms (`rustler::Term`); [`crate::encoder::value`]
//! implements it over plain Rust values for tests and benchmarks. Every method is O(1) or bounded
//! by its argument, which is what makes the encoder's work bounded.

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
    /// Iterator over a tuple's elements.
    type Elements: ExactSizeIterator<Item = Self>;

    /// The term's type.
    fn kind(self) -> Kind;

    /// An identity of an atom that stays the same for as long as the atom exists and differs
    /// from every other atom's (the term's word in the VM), so that what the encoder derives
    /// from an atom's text can be cached; `None` if there is none (nothing is cached).
    fn atom_id(self) -> Option<u64>;

    /// Appends an atom's text as UTF-8 to `out`; `false` if it cannot (then the encoder falls
    /// back to [`TermView::external`]).
    fn atom_text(self, out: &mut Vec<u8>) -> bool;

    /// The integer, when it fits in an `i64`.
    fn to_i64(self) -> Option<i64>;

    /// The integer, when the term is an integer whose value can be had at no cost (in the VM,
    /// a small integer read from its word); `None` says nothing (ask [`TermView::kind`]).
    fn small_integer(self) -> Option<i64> {
        None
    }

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

    /// A tuple's elements (`None` for anything else).
    fn tuple_elements(self) -> Option<Self::Elements>;

    /// A map's size.
    fn map_size(self) -> usize;

    /// Calls `visit` with a map's pairs, in the map's own order, until it returns `false`.
    fn for_each_pair(self, visit: impl FnMut(Self, Self) -> bool);

    /// The value of a map's key `__struct__`, if it has one (a struct's module).
    fn struct_module(self) -> Option<Self>;

    /// Whether two terms are exactly the same term (`=:=`).
    fn identical(self, other: Self) -> bool;

    /// Appends the term's external format (without the version byte) to `out` if it takes at
    /// most `max` bytes; `false` (and `out` unchanged) otherwise. Only called on terms whose
    /// external form is small: pids, ports, references, atoms, moderate integers.
    fn external(self, out: &mut Vec<u8>, max: usize) -> bool;

    /// Appends a short printable description (a fun's `#Fun<m.1.2>`), at most `max` bytes.
    fn describe(self, out: &mut Vec<u8>, max: usize);
}
