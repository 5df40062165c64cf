//! The fast path for the values real calls pass: small integers, atoms the encoder has met,
//! lists, tuples, maps of up to 32 keys, short binaries and floats, none of them cut or
//! redacted, encoded straight from their words.
//!
//! The general encoder ([`super::encode`]) asks a [`super::TermView`] one question per call
//! (what kind, then its elements, then its bytes...), and keeps every cut and redaction rule
//! on the way. Most captured values need none of them: [`encode_flat`] reads each term once
//! ([`Words::read`]), writes exactly the bytes the general encoder would write, and gives up
//! (returns `false`) at the first thing that would need a rule: a cap reached, a key whose
//! value is redacted, a struct whose `Inspect` hides fields, an atom not yet in the atom cache,
//! a big integer, a pid, a fun, a large map or binary. The caller then runs the general
//! encoder, which starts over. So the two agree by construction on what the fast path
//! writes, and a test holds them byte for byte equal on random terms within random caps.

use super::scratch::{REDACTED_KEY, STRUCT_KEY};
use super::{etf, Caps, Redaction, Scratch, MAX_ARGUMENTS};

/// A term as its words say, in one read.
#[derive(Debug, Clone, Copy)]
pub enum Word<'a, W> {
    /// A small integer.
    Small(i64),
    /// An atom, by its identity ([`super::TermView::atom_id`]).
    Atom(u64),
    /// `[]`.
    Nil,
    /// A list cell: head and tail.
    Cell(W, W),
    /// A tuple of this arity (its elements: [`Words::element`]).
    Tuple(usize),
    /// A map of this many keys, whose pairs [`Words::pair`] reads in the map's own order.
    Map(usize),
    /// A binary, whole bytes.
    Binary(&'a [u8]),
    /// A float.
    Float(f64),
    /// Anything else: the fast path gives up.
    Other,
}

/// Terms read from their words, for [`encode_flat`].
pub trait Words<'a>: Copy {
    /// What the term is.
    fn read(self) -> Word<'a, Self>;

    /// The element at `index` of a term [`Words::read`] as a [`Word::Tuple`] of more elements.
    fn element(self, index: usize) -> Self;

    /// The pair at `index` of a term [`Words::read`] as a [`Word::Map`] of more pairs.
    fn pair(self, index: usize) -> (Self, Self);
}

/// Gave up: the general encoder writes this value.
struct GiveUp;

type Flat = Result<(), GiveUp>;

/// Writes `value` (a call's argument list when `arguments`, else one value) into
/// `scratch`, version byte first, exactly as [`super::encode_arguments`] or [`super::encode`]
/// would with no secrets; `false` if it gave up (what `scratch` holds is then undefined).
pub fn encode_flat<'a, W: Words<'a>>(
    value: W,
    arguments: bool,
    caps: &Caps,
    redaction: &Redaction,
    scratch: &mut Scratch,
) -> bool {
    let Scratch { out, atoms } = scratch;
    out.clear();
    out.push(etf_tag::VERSION);
    atoms.use_redaction(redaction.id());
    let atoms = &*atoms;
    let mut flat = FlatEncoder {
        caps: *caps,
        redaction,
        out,
        atoms,
        start: 1,
        nodes: 0,
    };
    match arguments {
        true => flat.arguments(value),
        false => flat.value(value),
    }
    .is_ok()
}

struct FlatEncoder<'e> {
    caps: Caps,
    redaction: &'e Redaction,
    out: &'e mut Vec<u8>,
    atoms: &'e super::scratch::AtomCache,
    start: usize,
    nodes: u32,
}

impl FlatEncoder<'_> {
    fn value<'a, W: Words<'a>>(&mut self, term: W) -> Flat {
        self.start = self.out.len();
        self.nodes = 0;
        self.term(term, 0)
    }

    fn arguments<'a, W: Words<'a>>(&mut self, arguments: W) -> Flat {
        let mut rest = match arguments.read() {
            Word::Cell(..) => arguments,
            _ => return self.value(arguments),
        };
        let header = etf::list_header(self.out);
        let mut count = 0u32;
        while let Word::Cell(argument, tail) = rest.read() {
            if count == MAX_ARGUMENTS {
                return Err(GiveUp);
            }
            self.value(argument)?;
            count += 1;
            rest = tail;
        }
        match rest.read() {
            Word::Nil => self.out.push(etf_tag::NIL),
            _ => return Err(GiveUp),
        }
        header.patch(self.out, count);
        Ok(())
    }

    #[inline]
    fn exhausted(&self) -> bool {
        self.nodes >= self.caps.max_nodes
            || self.out.len() - self.start >= self.caps.max_bytes as usize
    }

    fn term<'a, W: Words<'a>>(&mut self, term: W, depth: u32) -> Flat {
        self.nodes += 1;
        match term.read() {
            Word::Small(v) => etf::integer(self.out, v),
            Word::Atom(id) => {
                self.atom(id)?;
            }
            Word::Nil => self.out.push(etf_tag::NIL),
            Word::Binary(bytes) => self.binary(bytes)?,
            Word::Float(f) => etf::float(self.out, f),
            Word::Cell(..) | Word::Tuple(_) | Word::Map(_) if depth >= self.caps.max_depth => {
                return Err(GiveUp)
            }
            Word::Cell(..) => self.list(term, depth)?,
            Word::Tuple(arity) => self.tuple(term, arity, depth)?,
            Word::Map(size) => self.map(term, size, depth)?,
            Word::Other => return Err(GiveUp),
        }
        Ok(())
    }

    /// Writes a cached atom; its flags.
    #[inline]
    fn atom(&mut self, id: u64) -> Result<u8, GiveUp> {
        self.atoms.put(id, self.out).ok_or(GiveUp)
    }

    fn binary(&mut self, bytes: &[u8]) -> Flat {
        if bytes.len() > self.caps.max_binary as usize {
            return Err(GiveUp);
        }
        etf::binary(self.out, bytes);
        Ok(())
    }

    #[inline(never)]
    fn list<'a, W: Words<'a>>(&mut self, term: W, depth: u32) -> Flat {
        let header = etf::list_header(self.out);
        let (mut count, mut chars) = (0u32, 0u32);
        let mut rest = term;
        let tail = loop {
            let (head, tail) = match rest.read() {
                Word::Cell(head, tail) => (head, tail),
                other => break other,
            };
            if self.exhausted() {
                return Err(GiveUp);
            }
            match head.read() {
                // A character (strings are lists of code points), within the string cap.
                Word::Small(c) if (0..=0x10FFFF).contains(&c) => {
                    if chars >= self.caps.max_string {
                        return Err(GiveUp);
                    }
                    self.nodes += 1;
                    etf::integer(self.out, c);
                    chars += 1;
                }
                _ if count - chars < self.caps.max_elements => self.term(head, depth + 1)?,
                _ => return Err(GiveUp),
            }
            count += 1;
            rest = tail;
        };
        match tail {
            Word::Nil => self.out.push(etf_tag::NIL),
            // An improper tail (iodata, `[a | b]`).
            _ => self.term(rest, depth + 1)?,
        }
        header.patch(self.out, count);
        Ok(())
    }

    #[inline(never)]
    fn tuple<'a, W: Words<'a>>(&mut self, term: W, arity: usize, depth: u32) -> Flat {
        let header = etf::tuple_header(self.out);
        for index in 0..arity {
            if index >= self.caps.max_elements as usize || self.exhausted() {
                return Err(GiveUp);
            }
            let element = term.element(index);
            match index == 0 && arity == 2 {
                // A pair `{Key, Value}` whose key names a secret has its value redacted.
                true => self.key(element, depth + 1)?,
                false => self.term(element, depth + 1)?,
            }
        }
        header.patch(self.out, arity as u32);
        Ok(())
    }

    #[inline(never)]
    fn map<'a, W: Words<'a>>(&mut self, term: W, size: usize, depth: u32) -> Flat {
        if self.redaction.has_structs() && self.hides_fields(term, size) {
            return Err(GiveUp);
        }
        let header = etf::map_header(self.out);
        for index in 0..size {
            if index >= self.caps.max_elements as usize || self.exhausted() {
                return Err(GiveUp);
            }
            let (key, value) = term.pair(index);
            self.key(key, depth + 1)?;
            self.term(value, depth + 1)?;
        }
        header.patch(self.out, size as u32);
        Ok(())
    }

    /// Writes a map key, a struct field or the first element of a pair, giving up when the
    /// value that goes with it is redacted.
    fn key<'a, W: Words<'a>>(&mut self, key: W, depth: u32) -> Flat {
        match key.read() {
            Word::Atom(id) => {
                self.nodes += 1;
                if self.atom(id)? & REDACTED_KEY != 0 {
                    return Err(GiveUp);
                }
                Ok(())
            }
            Word::Binary(bytes) => {
                self.nodes += 1;
                if self.redaction.key_matches(bytes) {
                    return Err(GiveUp);
                }
                self.binary(bytes)
            }
            _ => self.term(key, depth),
        }
    }

    /// Whether the map is a struct whose `Inspect` hides fields (or might: its module's atom
    /// not in the cache).
    fn hides_fields<'a, W: Words<'a>>(&self, term: W, size: usize) -> bool {
        let is_struct_key = |key: W| match key.read() {
            Word::Atom(id) => self.atoms.flags(id).is_none_or(|f| f & STRUCT_KEY != 0),
            _ => false,
        };
        let Some(module) = (0..size)
            .map(|i| term.pair(i))
            .find(|&(key, _)| is_struct_key(key))
            .map(|(_, module)| module)
        else {
            return false;
        };
        match module.read() {
            Word::Atom(id) => self.atoms.encoded(id).is_none_or(|etf| {
                self.redaction
                    .struct_fields(super::atom_text_of(etf))
                    .is_some()
            }),
            _ => false,
        }
    }
}
