//! The bounded term encoder: captures any term at a bounded cost, marking what it cut and what
//! it redacted.
//!
//! A term is written in the external term format (so the VM reads it back with
//! `binary_to_term/1` and Rust with any ETF decoder) while six caps ([`Caps`]) bound the work:
//! terms visited, nesting depth, elements per list/tuple/map, characters per string, bytes per
//! binary, and total bytes. Each visited term costs O(1) (a binary costs at most its capped
//! prefix), and `max_nodes` bounds how many are visited, so a 100 MB binary or a million-element
//! list costs about what a small term costs.
//!
//! The caps apply to each value on its own: a call's result, and each of its arguments
//! ([`encode_arguments`] writes the argument list itself whole, one element per argument, so
//! that a big first argument never costs the others their budget).
//!
//! What was cut is replaced by a marker, a 3-tuple `{'$elixir_scope_cut', Kind, Detail}`, placed
//! so that the value keeps its shape (a list stays a proper list, a struct keeps every field):
//!
//! | where | marker |
//! |---|---|
//! | a list with more than `max_elements` elements, or more than `max_string` characters (integers that are Unicode code points: strings are lists of them), or where the node or byte budget ran out | a last element: `[E1, ..., En, {'$elixir_scope_cut', list, more}]` |
//! | a tuple longer than `max_elements` (or out of budget) | one last element `{'$elixir_scope_cut', tuple, Omitted}` |
//! | a map larger than `max_elements` (or out of budget) | one last pair `'$elixir_scope_cut' => {'$elixir_scope_cut', map, Omitted}` |
//! | a struct (a map with `__struct__`) out of budget | every field kept (up to 128); the values not captured are `{'$elixir_scope_cut', field, more}`. `max_elements` does not cut structs |
//! | a binary longer than `max_binary` | `{'$elixir_scope_cut', binary, {Size, Prefix}}`; a UTF-8 text's prefix ends at a character boundary |
//! | a bitstring that is not whole bytes | `{'$elixir_scope_cut', bitstring, unknown}` |
//! | a list, tuple or map deeper than `max_depth` | `{'$elixir_scope_cut', depth, list \| tuple \| map}` |
//! | an integer of 2^1024 or more in magnitude | `{'$elixir_scope_cut', integer, big}` |
//! | a fun (its environment is not captured) | `{'$elixir_scope_cut', fun, <<"#Fun<m.1.2>">>}` |
//! | anything the encoder cannot represent | `{'$elixir_scope_cut', other, unknown}` |
//!
//! What is redacted (never written, whatever the caps) becomes
//! `{'$elixir_scope_cut', redacted, Why}`:
//!
//! | what | `Why` |
//! |---|---|
//! | the value under a map key, struct field or pair key `{Key, Value}` whose name contains one of the redacted key names ([`Redaction`]) | `key` |
//! | a struct field its `Inspect` implementation hides ([`Redaction`]) | `field` |
//! | a term identical to one of the capture's secrets ([`Capture::secrets`]: the values of arguments a capture rule hides) | `value` |
//! | an argument or a result a capture rule hides (written by the runtime module, not here) | `argument`, `result` |
//!
//! Pids, ports and references are captured exactly (their external form is small).
//!
//! The encoder writes into a per-thread [`Scratch`], whose buffer keeps its capacity between
//! captures; the caller copies the bytes where they go.

pub mod etf;
pub mod flat;
mod redaction;
mod scratch;
pub mod value;
pub mod view;

pub use flat::{encode_flat, Word, Words};
pub use redaction::{Name, Redaction, DEFAULT_KEYS};
pub use scratch::Scratch;
pub use store::Bytes;
pub use view::{Kind, TermView};

use scratch::{AtomCache, REDACTED_KEY, STRUCT_KEY};

/// The atom that starts every cut (and redaction) marker.
pub const CUT: &[u8] = b"$elixir_scope_cut";

/// The default caps: the settings' defaults (`settings::MAX_NODES`, ...).
pub const DEFAULT_CAPS: Caps = Caps {
    max_nodes: settings::MAX_NODES.default_integer() as u32,
    max_depth: settings::MAX_DEPTH.default_integer() as u32,
    max_elements: settings::MAX_ELEMENTS.default_integer() as u32,
    max_string: settings::MAX_STRING.default_integer() as u32,
    max_binary: settings::MAX_BINARY.default_integer() as u32,
    max_bytes: settings::MAX_BYTES.default_integer() as u32,
};

/// The largest external form accepted for pids, ports, references and integers.
const MAX_EXTERNAL: usize = 600;

/// The longest fun description kept.
const MAX_DESCRIPTION: usize = 120;

/// Structs with more fields than this are cut like maps (fields missing).
const STRUCT_FIELDS: usize = 128;

/// Arguments kept of a call (the BEAM allows 255).
const MAX_ARGUMENTS: u32 = 255;

/// The limits of one capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Terms visited per captured value (default 32): the bound on the encoder's work. Once
    /// reached, every open container is closed with a marker.
    pub max_nodes: u32,
    /// Lists, tuples and maps nested deeper than this are cut (default 8; the top level is 0).
    pub max_depth: u32,
    /// Elements kept per list, tuple or map (default 16); structs keep every field.
    pub max_elements: u32,
    /// Characters (integers that are Unicode code points) kept per list (default 32).
    pub max_string: u32,
    /// Bytes kept per binary (default 128).
    pub max_binary: u32,
    /// Total bytes per captured value (default 1024): once reached, every open container is
    /// closed with a marker. The output can exceed it by one leaf, the closing markers and the
    /// field names of open structs.
    pub max_bytes: u32,
}

impl Default for Caps {
    fn default() -> Self {
        DEFAULT_CAPS
    }
}

/// Where a [`Caps`] keeps one cap.
pub type CapSlot = fn(&mut Caps) -> &mut u32;

impl Caps {
    /// Where the cap of the setting `key` is kept (`max_nodes`, ...: the settings of
    /// `settings::caps()`).
    pub fn slot(key: &str) -> Option<CapSlot> {
        let slot: CapSlot = match key {
            "max_nodes" => |c| &mut c.max_nodes,
            "max_depth" => |c| &mut c.max_depth,
            "max_elements" => |c| &mut c.max_elements,
            "max_string" => |c| &mut c.max_string,
            "max_binary" => |c| &mut c.max_binary,
            "max_bytes" => |c| &mut c.max_bytes,
            _ => return None,
        };
        Some(slot)
    }

    /// The caps with each brought within its setting's bounds (`settings::MAX_NODES`, ...),
    /// which keep captures bounded and valid: at most 100,000 nodes, depth at most 64 (the
    /// encoder recurses on the scheduler's stack), at least one element, binaries at most
    /// 64 KiB, total at most 1 MiB.
    pub fn clamped(self) -> Caps {
        let within =
            |value: u32, setting: &settings::Setting| setting.clamp(u64::from(value)) as u32;
        Caps {
            max_nodes: within(self.max_nodes, &settings::MAX_NODES),
            max_depth: within(self.max_depth, &settings::MAX_DEPTH),
            max_elements: within(self.max_elements, &settings::MAX_ELEMENTS),
            max_string: within(self.max_string, &settings::MAX_STRING),
            max_binary: within(self.max_binary, &settings::MAX_BINARY),
            max_bytes: within(self.max_bytes, &settings::MAX_BYTES),
        }
    }
}

/// What one capture is bound by and hides.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'c, T> {
    /// The caps, per value.
    pub caps: &'c Caps,
    /// What is redacted by name.
    pub redaction: &'c Redaction,
    /// Terms redacted wherever they occur (the values of arguments a capture rule hides,
    /// while the call that received them and the calls under it run). Atoms and `[]` are
    /// never treated as secrets.
    pub secrets: &'c [T],
}

/// Captures one value (a result, an exception) within `capture`; the bytes, version byte first,
/// are in `scratch` (and returned).
pub fn encode<'a, 's, T: TermView<'a>>(
    term: T,
    capture: &Capture<'_, T>,
    scratch: &'s mut Scratch,
) -> &'s [u8] {
    let mut encoder = Encoder::new(capture, scratch);
    encoder.value(term);
    &scratch.out
}

/// Captures a call's arguments (a list) within `capture`: the list itself is written whole,
/// as a proper list of one element per argument, and the caps apply to each argument on its
/// own. Anything but a list is captured as one value.
pub fn encode_arguments<'a, 's, T: TermView<'a>>(
    arguments: T,
    capture: &Capture<'_, T>,
    scratch: &'s mut Scratch,
) -> &'s [u8] {
    let mut encoder = Encoder::new(capture, scratch);
    encoder.arguments(arguments);
    &scratch.out
}

struct Encoder<'e, T> {
    caps: Caps,
    redaction: &'e Redaction,
    secrets: &'e [T],
    out: &'e mut Vec<u8>,
    atoms: &'e mut AtomCache,
    /// Where the value being written started, and the terms visited since.
    start: usize,
    nodes: u32,
}

impl<'a, 'e, T: TermView<'a>> Encoder<'e, T> {
    fn new(capture: &Capture<'e, T>, scratch: &'e mut Scratch) -> Encoder<'e, T> {
        let Scratch { out, atoms } = scratch;
        out.clear();
        out.push(etf_tag::VERSION);
        atoms.use_redaction(capture.redaction.id());
        Encoder {
            caps: *capture.caps,
            redaction: capture.redaction,
            secrets: capture.secrets,
            out,
            atoms,
            start: 1,
            nodes: 0,
        }
    }

    /// One value, with a budget of its own.
    fn value(&mut self, term: T) {
        self.start = self.out.len();
        self.nodes = 0;
        self.term(term, 0);
    }

    fn arguments(&mut self, arguments: T) {
        if arguments.kind() != Kind::List {
            self.value(arguments);
            return;
        }
        let header = etf::list_header(self.out);
        let mut count = 0u32;
        let mut rest = arguments;
        while let Some((argument, tail)) = rest.list_cell() {
            if count == MAX_ARGUMENTS {
                self.marker(b"list", Detail::Atom(b"more"));
                count += 1;
                break;
            }
            self.value(argument);
            count += 1;
            rest = tail;
        }
        if count <= MAX_ARGUMENTS && rest.kind() != Kind::EmptyList {
            // An improper argument list: no call passes one, but keep what it was.
            self.value(rest);
        } else {
            self.out.push(etf_tag::NIL);
        }
        header.patch(self.out, count);
    }

    /// Whether the byte or node budget is spent.
    #[inline]
    fn exhausted(&self) -> bool {
        self.nodes >= self.caps.max_nodes
            || self.out.len() - self.start >= self.caps.max_bytes as usize
    }

    fn term(&mut self, term: T, depth: u32) {
        self.nodes += 1;
        let kind = term.kind();
        if !self.secrets.is_empty() && self.is_secret(term, kind) {
            self.marker(b"redacted", Detail::Atom(b"value"));
            return;
        }
        match kind {
            Kind::Atom => {
                self.atom(term);
            }
            Kind::Integer => self.integer(term),
            Kind::Float => match term.to_f64() {
                Some(f) => etf::float(self.out, f),
                None => self.marker(b"other", Detail::Atom(b"unknown")),
            },
            Kind::Bitstring => self.bitstring(term),
            Kind::EmptyList => self.out.push(etf_tag::NIL),
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
            Kind::Fun => self.fun(term),
            Kind::Other => self.marker(b"other", Detail::Atom(b"unknown")),
        }
    }

    #[inline(never)]
    fn fun(&mut self, term: T) {
        let mut text = Vec::with_capacity(MAX_DESCRIPTION);
        term.describe(&mut text, MAX_DESCRIPTION);
        self.marker(b"fun", Detail::Binary(&text));
    }

    #[inline(never)]
    fn is_secret(&self, term: T, kind: Kind) -> bool {
        !matches!(kind, Kind::Atom | Kind::EmptyList)
            && self.secrets.iter().any(|&s| term.identical(s))
    }

    /// Writes an atom; returns its flags ([`REDACTED_KEY`], [`STRUCT_KEY`]).
    #[inline]
    fn atom(&mut self, term: T) -> u8 {
        let id = term.atom_id();
        if let Some(flags) = id.and_then(|id| self.atoms.put(id, self.out)) {
            return flags;
        }
        let at = self.out.len();
        // The text goes straight into the output after a two-byte header, fixed up after.
        self.out.extend_from_slice(&[0, 0]);
        if !term.atom_text(self.out) {
            self.out.truncate(at);
            if !term.external(self.out, MAX_EXTERNAL) {
                self.marker(b"other", Detail::Atom(b"unknown"));
            }
            return 0;
        }
        let len = self.out.len() - at - 2;
        match u8::try_from(len) {
            Ok(short) => self.out[at..at + 2].copy_from_slice(&[etf_tag::SMALL_ATOM_UTF8, short]),
            // Longer than 255 bytes of UTF-8 (non-ASCII atoms): rewrite with a long header.
            Err(_) => {
                let text = self.out[at + 2..].to_vec();
                self.out.truncate(at);
                etf::atom(self.out, &text);
            }
        }
        let text = atom_text_of(&self.out[at..]);
        let mut flags = 0;
        if self.redaction.key_matches(text) {
            flags |= REDACTED_KEY;
        }
        if text == b"__struct__" {
            flags |= STRUCT_KEY;
        }
        if let Some(id) = id {
            self.atoms.insert(id, &self.out[at..], flags);
        }
        flags
    }

    /// Writes a map key, a struct field or the first element of a pair; returns whether the
    /// value that goes with it is redacted (and why).
    fn key(&mut self, key: T, depth: u32, hidden: Option<&[Name]>) -> Option<&'static [u8]> {
        match key.kind() {
            Kind::Atom => {
                self.nodes += 1;
                let at = self.out.len();
                let flags = self.atom(key);
                if flags & REDACTED_KEY != 0 {
                    return Some(b"key");
                }
                let name = atom_text_of(&self.out[at..]);
                hidden
                    .is_some_and(|fields| fields.iter().any(|f| &f[..] == name))
                    .then_some(b"field")
            }
            Kind::Bitstring => {
                self.nodes += 1;
                let redacted = key.bytes().is_some_and(|b| self.redaction.key_matches(b));
                self.bitstring(key);
                redacted.then_some(b"key")
            }
            _ => {
                self.term(key, depth);
                None
            }
        }
    }

    fn integer(&mut self, term: T) {
        if let Some(v) = term.to_i64() {
            etf::integer(self.out, v);
        } else if let Some(v) = term.to_u64() {
            etf::unsigned(self.out, v);
        } else if !(term.is_moderate_integer() && term.external(self.out, MAX_EXTERNAL)) {
            self.marker(b"integer", Detail::Atom(b"big"));
        }
    }

    fn bitstring(&mut self, term: T) {
        match term.bytes() {
            Some(bytes) if bytes.len() <= self.caps.max_binary as usize => {
                etf::binary(self.out, bytes)
            }
            Some(bytes) => {
                let prefix = text_prefix(bytes, self.caps.max_binary as usize);
                self.marker(b"binary", Detail::SizeAndPrefix(bytes.len() as u64, prefix));
            }
            None => self.marker(b"bitstring", Detail::Atom(b"unknown")),
        }
    }

    #[inline(never)]
    fn list(&mut self, term: T, depth: u32) {
        let header = etf::list_header(self.out);
        let (mut count, mut chars) = (0u32, 0u32);
        let mut rest = term;
        let mut cut = false;
        while let Some((head, tail)) = rest.list_cell() {
            if self.exhausted() {
                cut = true;
                break;
            }
            // Characters (strings are lists of code points) count against the string cap and
            // are written here; other elements recurse.
            let char = match head.small_integer() {
                Some(c) => Some(c).filter(|c| (0..=0x10FFFF).contains(c)),
                None if head.kind() == Kind::Integer => {
                    head.to_i64().filter(|c| (0..=0x10FFFF).contains(c))
                }
                None => None,
            };
            match char {
                Some(c) if chars < self.caps.max_string => {
                    self.nodes += 1;
                    if !self.secrets.is_empty() && self.is_secret(head, Kind::Integer) {
                        self.marker(b"redacted", Detail::Atom(b"value"));
                    } else {
                        etf::integer(self.out, c);
                    }
                    chars += 1;
                }
                None if count - chars < self.caps.max_elements => self.term(head, depth + 1),
                _ => {
                    cut = true;
                    break;
                }
            }
            count += 1;
            rest = tail;
        }
        if cut {
            self.marker(b"list", Detail::Atom(b"more"));
            count += 1;
            self.out.push(etf_tag::NIL);
        } else if rest.kind() == Kind::EmptyList {
            self.out.push(etf_tag::NIL);
        } else {
            // An improper tail (iodata, `[a | b]`).
            self.term(rest, depth + 1);
        }
        header.patch(self.out, count);
    }

    #[inline(never)]
    fn tuple(&mut self, term: T, depth: u32) {
        let header = etf::tuple_header(self.out);
        let mut count = 0u32;
        let Some(elements) = term.tuple_elements() else {
            self.marker(b"other", Detail::Atom(b"unknown"));
            header.patch(self.out, 1);
            return;
        };
        let arity = elements.len();
        // A pair `{Key, Value}` (keyword lists, proplists) whose key names a secret.
        let mut redact_next = None;
        for (index, element) in elements.enumerate() {
            if count >= self.caps.max_elements || self.exhausted() {
                self.marker(b"tuple", Detail::Count((arity - index) as u64));
                count += 1;
                break;
            }
            match redact_next.take() {
                Some(why) => {
                    self.nodes += 1;
                    self.marker(b"redacted", Detail::Atom(why));
                }
                None if arity == 2 && index == 0 => {
                    redact_next = self.key(element, depth + 1, None);
                }
                None => self.term(element, depth + 1),
            }
            count += 1;
        }
        header.patch(self.out, count);
    }

    #[inline(never)]
    fn map(&mut self, term: T, depth: u32) {
        let size = term.map_size();
        let header = etf::map_header(self.out);
        let mut count = 0u32;
        // The fields a struct's Inspect hides must be known before any value is written.
        let hidden = match self.redaction.has_structs() {
            true => self.hidden_fields(term),
            false => None,
        };
        // Whether the map is a struct, once a cut makes it matter (a lookup in the map).
        let mut is_struct = None;
        let mut index = 0usize;
        term.for_each_pair(|key, value| {
            let full = count >= self.caps.max_elements;
            let exhausted = self.exhausted();
            if full || exhausted {
                let is_struct = *is_struct.get_or_insert_with(|| {
                    size <= STRUCT_FIELDS
                        && term.struct_module().is_some_and(|m| m.kind() == Kind::Atom)
                });
                if !is_struct {
                    etf::atom(self.out, CUT);
                    self.marker(b"map", Detail::Count(size.saturating_sub(index) as u64));
                    count += 1;
                    return false;
                }
                if exhausted {
                    // A struct keeps every field; the values not captured are marked.
                    match self.key(key, depth + 1, hidden) {
                        Some(why) => self.marker(b"redacted", Detail::Atom(why)),
                        None => self.marker(b"field", Detail::Atom(b"more")),
                    }
                    count += 1;
                    index += 1;
                    return true;
                }
            }
            match self.key(key, depth + 1, hidden) {
                Some(why) => {
                    self.nodes += 1;
                    self.marker(b"redacted", Detail::Atom(why));
                }
                None => self.term(value, depth + 1),
            }
            count += 1;
            index += 1;
            true
        });
        header.patch(self.out, count);
    }

    /// The fields to redact of a struct (none for other maps).
    fn hidden_fields(&mut self, term: T) -> Option<&'e [Name]> {
        let module = term.struct_module().filter(|m| m.kind() == Kind::Atom)?;
        let redaction: &'e Redaction = self.redaction;
        let at = self.out.len();
        self.atom(module);
        let fields = redaction.struct_fields(atom_text_of(&self.out[at..]));
        self.out.truncate(at);
        fields
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

/// The text of an encoded atom (`SMALL_ATOM_UTF8` or `ATOM_UTF8`).
fn atom_text_of(etf: &[u8]) -> &[u8] {
    match etf.first() {
        Some(&etf_tag::SMALL_ATOM_UTF8) => etf.get(2..).unwrap_or_default(),
        Some(_) => etf.get(3..).unwrap_or_default(),
        None => &[],
    }
}

/// The first `max` bytes of a binary, ending before an incomplete character when the bytes
/// are UTF-8 text up to there (so a cut text stays text).
fn text_prefix(bytes: &[u8], max: usize) -> &[u8] {
    let prefix = &bytes[..max.min(bytes.len())];
    match std::str::from_utf8(prefix) {
        Err(e) if e.error_len().is_none() => &prefix[..e.valid_up_to()],
        _ => prefix,
    }
}

/// The third element of a marker.
enum Detail<'d> {
    Atom(&'d [u8]),
    Count(u64),
    Binary(&'d [u8]),
    SizeAndPrefix(u64, &'d [u8]),
}

#[cfg(test)]
mod tests;
