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
//! The encoder writes into any [`Sink`]; the runtime gives it a [`Bytes`], which keeps values of
//! up to 40 bytes inline (no allocation).

pub mod etf;
pub mod value;
pub mod view;

pub use etf::Sink;
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

/// Appends `term`, version byte first, to `out` within `caps`.
pub fn encode<'a, T: TermView<'a>, S: Sink>(term: T, caps: &Caps, out: &mut S) {
    out.put_byte(etf::VERSION);
    let mut encoder = Encoder {
        caps,
        start: out.len(),
        nodes: 0,
        out,
    };
    encoder.term(term, 0);
}

struct Encoder<'c, 'o, S: Sink> {
    caps: &'c Caps,
    out: &'o mut S,
    start: usize,
    nodes: u32,
}

impl<'a, S: Sink> Encoder<'_, '_, S> {
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
            Kind::EmptyList => self.out.put_byte(etf::NIL),
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
                let mut text: smallvec::SmallVec<[u8; 128]> = smallvec::SmallVec::new();
                term.describe(&mut text, MAX_DESCRIPTION);
                self.marker(b"fun", Detail::Binary(&text));
            }
            Kind::Other => self.marker(b"other", Detail::Atom(b"unknown")),
        }
    }

    fn atom<T: TermView<'a>>(&mut self, term: T) {
        // The text goes straight into the output after a two-byte header, fixed up after.
        let at = self.out.len();
        self.out.put(&[0, 0]);
        if term.atom_text(self.out) {
            let len = self.out.len() - at - 2;
            match u8::try_from(len) {
                Ok(short) => {
                    let header = &mut self.out.bytes_mut()[at..at + 2];
                    header.copy_from_slice(&[etf::SMALL_ATOM_UTF8, short]);
                }
                // Longer than 255 bytes of UTF-8 (non-ASCII atoms): rewrite with a long header.
                Err(_) => {
                    let text = self.out.bytes_mut()[at + 2..].to_vec();
                    self.out.truncate(at);
                    etf::atom(self.out, &text);
                }
            }
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
                    self.out.put_byte(etf::NIL);
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
