//! The bounded term encoder: captures any term at a bounded cost, marking what it cut.
//!
//! A term is written in the external term format (so the VM reads it back with
//! `binary_to_term/1` and Rust with any ETF decoder) while six caps ([`Caps`]) bound the work:
//! terms visited, nesting depth, elements per list/tuple/map, characters per string, bytes per
//! binary, and total bytes. Each visited term costs O(1) (a binary costs at most its capped
//! prefix), and `max_nodes` bounds how many are visited, so a 100 MB binary or a million-element
//! list costs about what a small term costs.
//!
//! What was cut is replaced by a marker, a 3-tuple `{'$elixir_scope_cut', Kind, Detail}`:
//!
//! | where | marker |
//! |---|---|
//! | a list with more than `max_elements` elements, or more than `max_string` characters (integers 0..=255: Erlang strings are lists of them), or where the node or byte budget ran out | the list's tail: `[E1, ..., En \| {'$elixir_scope_cut', list, more}]` |
//! | a tuple longer than `max_elements` (or out of budget) | one last element `{'$elixir_scope_cut', tuple, Omitted}` |
//! | a map larger than `max_elements` (or out of budget) | one last pair `'$elixir_scope_cut' => {'$elixir_scope_cut', map, Omitted}` |
//! | a binary longer than `max_binary` | `{'$elixir_scope_cut', binary, {Size, Prefix}}` |
//! | a bitstring that is not whole bytes | `{'$elixir_scope_cut', bitstring, unknown}` |
//! | a list, tuple or map deeper than `max_depth` | `{'$elixir_scope_cut', depth, list \| tuple \| map}` |
//! | an integer of 2^1024 or more in magnitude | `{'$elixir_scope_cut', integer, big}` |
//! | a fun (its environment is not captured) | `{'$elixir_scope_cut', fun, <<"#Fun<m.1.2>">>}` |
//! | anything the encoder cannot represent | `{'$elixir_scope_cut', other, unknown}` |
//!
//! Pids, ports and references are captured exactly (their external form is small).
//!
//! The encoder writes into a per-thread scratch buffer and copies the result out once, so the
//! captured bytes are allocated once (not at all when they fit inline in [`Bytes`]).

pub mod etf;
pub mod value;
pub mod view;

pub use store::Bytes;
pub use view::{Kind, TermView};

/// The atom that starts every cut marker.
pub const CUT: &[u8] = b"$elixir_scope_cut";

/// The default caps: see the fields of [`Caps`].
pub const DEFAULT_CAPS: Caps = Caps {
    max_nodes: 32,
    max_depth: 8,
    max_elements: 16,
    max_string: 32,
    max_binary: 128,
    max_bytes: 1024,
};

/// The largest external form accepted for pids, ports, references and integers.
const MAX_EXTERNAL: usize = 600;

/// The longest fun description kept.
const MAX_DESCRIPTION: usize = 120;

/// The limits of one capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Terms visited per captured value (default 32): the bound on the encoder's work (each
    /// costs some 30 to 60 ns in the VM). Once reached, every open container is closed with a
    /// marker.
    pub max_nodes: u32,
    /// Lists, tuples and maps nested deeper than this are cut (default 8; the top level is 0).
    pub max_depth: u32,
    /// Elements kept per list, tuple or map (default 16).
    pub max_elements: u32,
    /// Characters (integers 0..=255) kept per list (default 32).
    pub max_string: u32,
    /// Bytes kept per binary (default 128).
    pub max_binary: u32,
    /// Total bytes per captured value (default 1024): once reached, every open container is
    /// closed with a marker. The output can exceed it by one leaf and the closing markers.
    pub max_bytes: u32,
}

impl Default for Caps {
    fn default() -> Self {
        DEFAULT_CAPS
    }
}

impl Caps {
    /// The caps with each field clamped to what keeps captures bounded and valid: at most
    /// 100,000 nodes, depth at most 64 (the encoder recurses on the scheduler's stack), at least
    /// one element, binaries at most 64 KiB, total at most 1 MiB.
    pub fn clamped(self) -> Caps {
        Caps {
            max_nodes: self.max_nodes.clamp(1, 100_000),
            max_depth: self.max_depth.min(64),
            max_elements: self.max_elements.clamp(1, 1 << 20),
            max_string: self.max_string.min(1 << 20),
            max_binary: self.max_binary.min(64 * 1024),
            max_bytes: self.max_bytes.clamp(64, 1 << 20),
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(4096));
}

/// Appends `term`, version byte first, to `out` within `caps`.
pub fn encode<'a, T: TermView<'a>>(term: T, caps: &Caps, out: &mut Bytes) {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            encode_into(term, caps, &mut scratch);
            out.extend_from_slice(&scratch);
            // Keep the scratch buffer small after a large capture.
            if scratch.capacity() > 1 << 16 {
                *scratch = Vec::with_capacity(4096);
            }
        }
        Err(_) => {
            let mut own = Vec::new();
            encode_into(term, caps, &mut own);
            out.extend_from_slice(&own);
        }
    })
}

/// Appends `term`, version byte first, to a plain vector within `caps`.
pub fn encode_into<'a, T: TermView<'a>>(term: T, caps: &Caps, out: &mut Vec<u8>) {
    out.push(etf::VERSION);
    let mut encoder = Encoder {
        caps,
        start: out.len(),
        nodes: 0,
        out,
    };
    encoder.term(term, 0);
}

struct Encoder<'c, 'o> {
    caps: &'c Caps,
    out: &'o mut Vec<u8>,
    start: usize,
    nodes: u32,
}

impl<'a> Encoder<'_, '_> {
    /// Whether the byte or node budget is spent.
    fn exhausted(&self) -> bool {
        self.nodes >= self.caps.max_nodes
            || self.out.len() - self.start >= self.caps.max_bytes as usize
    }

    fn term<T: TermView<'a>>(&mut self, term: T, depth: u32) {
        self.nodes += 1;
        match term.kind() {
            Kind::Atom => self.atom(term),
            Kind::Integer => self.integer(term),
            Kind::Float => match term.to_f64() {
                Some(f) => etf::float(self.out, f),
                None => self.marker(b"other", Detail::Atom(b"unknown")),
            },
            Kind::Bitstring => self.bitstring(term),
            Kind::EmptyList => self.out.push(etf::NIL),
            Kind::List if depth >= self.caps.max_depth => {
                self.marker(b"depth", Detail::Atom(b"list"))
            }
            Kind::Tuple if depth >= self.caps.max_depth => {
                self.marker(b"depth", Detail::Atom(b"tuple"))
            }
            Kind::Map if depth >= self.caps.max_depth => {
                self.marker(b"depth", Detail::Atom(b"map"))
            }
            Kind::List => self.list(term, depth),
            Kind::Tuple => self.tuple(term, depth),
            Kind::Map => self.map(term, depth),
            Kind::Pid | Kind::Port | Kind::Reference => {
                if !term.external(self.out, MAX_EXTERNAL) {
                    self.marker(b"other", Detail::Atom(b"unknown"));
                }
            }
            Kind::Fun => {
                let mut text = Vec::new();
                term.describe(&mut text, MAX_DESCRIPTION);
                self.marker(b"fun", Detail::Binary(&text));
            }
            Kind::Other => self.marker(b"other", Detail::Atom(b"unknown")),
        }
    }

    fn atom<T: TermView<'a>>(&mut self, term: T) {
        // The text goes straight into the output after a provisional header.
        let at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        if term.atom_text(self.out) {
            let len = self.out.len() - at - 2;
            let text: smallvec::SmallVec<[u8; 64]> = self.out[at + 2..].into();
            self.out.truncate(at);
            etf::atom(self.out, &text[..len]);
        } else {
            self.out.truncate(at);
            if !term.external(self.out, MAX_EXTERNAL) {
                self.marker(b"other", Detail::Atom(b"unknown"));
            }
        }
    }

    fn integer<T: TermView<'a>>(&mut self, term: T) {
        if let Some(v) = term.to_i64() {
            etf::integer(self.out, v);
        } else if let Some(v) = term.to_u64() {
            etf::unsigned(self.out, v);
        } else if !(term.is_moderate_integer() && term.external(self.out, MAX_EXTERNAL)) {
            self.marker(b"integer", Detail::Atom(b"big"));
        }
    }

    fn bitstring<T: TermView<'a>>(&mut self, term: T) {
        match term.bytes() {
            Some(bytes) if bytes.len() <= self.caps.max_binary as usize => {
                etf::binary(self.out, bytes)
            }
            Some(bytes) => {
                let prefix = &bytes[..self.caps.max_binary as usize];
                self.marker(b"binary", Detail::SizeAndPrefix(bytes.len() as u64, prefix));
            }
            None => self.marker(b"bitstring", Detail::Atom(b"unknown")),
        }
    }

    fn list<T: TermView<'a>>(&mut self, term: T, depth: u32) {
        let header = etf::list_header(self.out);
        let (mut count, mut chars) = (0u32, 0u32);
        let mut rest = term;
        loop {
            match rest.list_cell() {
                Some((head, tail)) => {
                    if self.exhausted() {
                        self.marker(b"list", Detail::Atom(b"more"));
                        break;
                    }
                    // Characters (Erlang strings are lists of integers 0..=255) count against
                    // the string cap and are written here; other elements recurse.
                    let char = match head.kind() {
                        Kind::Integer => head.to_i64().filter(|c| (0..=255).contains(c)),
                        _ => None,
                    };
                    match char {
                        Some(c) if chars < self.caps.max_string => {
                            self.nodes += 1;
                            etf::integer(self.out, c);
                            chars += 1;
                        }
                        None if count - chars < self.caps.max_elements => {
                            self.term(head, depth + 1)
                        }
                        _ => {
                            self.marker(b"list", Detail::Atom(b"more"));
                            break;
                        }
                    }
                    count += 1;
                    rest = tail;
                }
                None if rest.kind() == Kind::EmptyList => {
                    self.out.push(etf::NIL);
                    break;
                }
                // An improper tail.
                None => {
                    self.term(rest, depth + 1);
                    break;
                }
            }
        }
        header.patch(self.out, count);
    }

    fn tuple<T: TermView<'a>>(&mut self, term: T, depth: u32) {
        let arity = term.tuple_arity();
        let header = etf::tuple_header(self.out);
        let mut count = 0u32;
        for index in 0..arity {
            if count >= self.caps.max_elements || self.exhausted() {
                self.marker(b"tuple", Detail::Count((arity - index) as u64));
                count += 1;
                break;
            }
            match term.tuple_element(index) {
                Some(element) => self.term(element, depth + 1),
                None => self.marker(b"other", Detail::Atom(b"unknown")),
            }
            count += 1;
        }
        header.patch(self.out, count);
    }

    fn map<T: TermView<'a>>(&mut self, term: T, depth: u32) {
        let size = term.map_size();
        let header = etf::map_header(self.out);
        let mut count = 0u32;
        if let Some(pairs) = term.map_iter() {
            for (index, (key, value)) in pairs.enumerate() {
                if count >= self.caps.max_elements || self.exhausted() {
                    etf::atom(self.out, CUT);
                    self.marker(b"map", Detail::Count(size.saturating_sub(index) as u64));
                    count += 1;
                    break;
                }
                self.term(key, depth + 1);
                self.term(value, depth + 1);
                count += 1;
            }
        }
        header.patch(self.out, count);
    }

    fn marker(&mut self, kind: &[u8], detail: Detail<'_>) {
        etf::small_tuple(self.out, 3);
        etf::atom(self.out, CUT);
        etf::atom(self.out, kind);
        match detail {
            Detail::Atom(a) => etf::atom(self.out, a),
            Detail::Count(n) => etf::unsigned(self.out, n),
            Detail::Binary(b) => etf::binary(self.out, b),
            Detail::SizeAndPrefix(size, prefix) => {
                etf::small_tuple(self.out, 2);
                etf::unsigned(self.out, size);
                etf::binary(self.out, prefix);
            }
        }
    }
}

/// The third element of a cut marker.
enum Detail<'d> {
    Atom(&'d [u8]),
    Count(u64),
    Binary(&'d [u8]),
    SizeAndPrefix(u64, &'d [u8]),
}

#[cfg(test)]
mod tests;
