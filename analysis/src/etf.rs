//! Recorded values read in place: a cursor over the external term format that tells a term's
//! kind and walks its elements without building the term, so that a pattern or a search over
//! millions of stored calls allocates nothing per call.
//!
//! It reads what `term_to_binary/1` and the runtime's encoder write (OTP 25): integers (small,
//! 32-bit, big), floats (new and old), atoms (the four encodings), binaries and bitstrings,
//! tuples, lists (and byte strings), maps, and keeps pids, ports, references and funs as
//! opaque bytes. Damaged input is an error, never a panic.

use std::cmp::Ordering;

use etf_tag as tag;

/// A value that is not a well-formed term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored value is not a well-formed term at byte {at}")]
pub struct Damaged {
    /// Where reading failed.
    pub at: usize,
}

/// One term of a value: its kind with what it takes to go on reading it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'a> {
    /// An integer that fits 128 bits.
    Int(i128),
    /// An integer beyond 128 bits (its sign; the digits are not kept).
    Big {
        /// Whether it is negative.
        negative: bool,
    },
    /// A float.
    Float(f64),
    /// An atom: its text's bytes (Latin-1 or UTF-8, see `utf8`).
    Atom {
        /// The bytes of its name.
        name: &'a [u8],
        /// Whether `name` is UTF-8 (else Latin-1).
        utf8: bool,
    },
    /// A binary.
    Binary(&'a [u8]),
    /// A bitstring whose last byte holds `bits` bits.
    Bits {
        /// The bytes.
        bytes: &'a [u8],
        /// Bits used in the last byte.
        bits: u8,
    },
    /// A tuple of `arity` elements starting at `at`.
    Tuple {
        /// The number of elements.
        arity: usize,
        /// Where the first element starts.
        at: usize,
    },
    /// `[]`.
    Nil,
    /// A list of bytes (`STRING_EXT`): small integers 0..=255, proper.
    Bytes(&'a [u8]),
    /// A list of `len` elements starting at `at`, followed by its tail.
    List {
        /// The number of elements before the tail.
        len: usize,
        /// Where the first element starts.
        at: usize,
    },
    /// A map of `pairs` key-value pairs starting at `at` (key, value, key, ...).
    Map {
        /// The number of pairs.
        pairs: usize,
        /// Where the first key starts.
        at: usize,
    },
    /// A pid, port, reference or fun: compared by its bytes.
    Opaque {
        /// Its kind, for the term order.
        kind: Opaque,
        /// Its bytes, tag included.
        bytes: &'a [u8],
    },
}

/// The kinds of terms kept as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Opaque {
    /// A reference.
    Reference,
    /// A fun.
    Fun,
    /// A port.
    Port,
    /// A pid.
    Pid,
}

impl Node<'_> {
    /// The rank of its kind in Erlang's term order: number < atom < reference < fun < port <
    /// pid < tuple < map < nil < list < bitstring.
    pub fn rank(&self) -> u8 {
        match self {
            Node::Int(_) | Node::Big { .. } | Node::Float(_) => 0,
            Node::Atom { .. } => 1,
            Node::Opaque { kind, .. } => 2 + *kind as u8,
            Node::Tuple { .. } => 6,
            Node::Map { .. } => 7,
            Node::Nil => 8,
            Node::Bytes(_) | Node::List { .. } => 9,
            Node::Binary(_) | Node::Bits { .. } => 10,
        }
    }

    /// Its atom name as text, for an atom.
    pub fn atom_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match *self {
            Node::Atom { name, utf8: true } => Some(String::from_utf8_lossy(name)),
            Node::Atom { name, utf8: false } => Some(std::borrow::Cow::Owned(
                name.iter().map(|&b| b as char).collect(),
            )),
            _ => None,
        }
    }
}

/// A stored value: the bytes of one term in the external term format.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    bytes: &'a [u8],
}

impl<'a> Value<'a> {
    /// A value from `term_to_binary/1` bytes (the version byte first).
    pub fn new(bytes: &'a [u8]) -> Result<Value<'a>, Damaged> {
        match bytes.first() {
            Some(&tag::VERSION) => Ok(Value { bytes }),
            _ => Err(Damaged { at: 0 }),
        }
    }

    /// The whole value's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Where the outermost term starts.
    pub fn root(&self) -> usize {
        1
    }

    /// The term at `at`.
    pub fn node(&self, at: usize) -> Result<Node<'a>, Damaged> {
        Ok(self.header(at)?.0)
    }

    /// The term at `at` and where its contents end for terms read whole (where the
    /// elements start for tuples, lists and maps).
    fn header(&self, at: usize) -> Result<(Node<'a>, usize), Damaged> {
        let damaged = Damaged { at };
        let tag = *self.bytes.get(at).ok_or(damaged.clone())?;
        let b = at + 1;
        let node = match tag {
            tag::SMALL_INTEGER => (Node::Int(self.u8(b)? as i128), b + 1),
            tag::INTEGER => (Node::Int(self.u32(b)? as i32 as i128), b + 4),
            tag::SMALL_BIG | tag::LARGE_BIG => {
                let (n, digits) = if tag == tag::SMALL_BIG {
                    (self.u8(b)? as usize, b + 1)
                } else {
                    (self.u32(b)? as usize, b + 4)
                };
                let negative = self.u8(digits)? != 0;
                let bytes = self.slice(digits + 1, n)?;
                let node = if n <= 15 {
                    let mut v: i128 = 0;
                    for &d in bytes.iter().rev() {
                        v = (v << 8) | d as i128;
                    }
                    Node::Int(if negative { -v } else { v })
                } else {
                    Node::Big { negative }
                };
                (node, digits + 1 + n)
            }
            tag::NEW_FLOAT => {
                let raw = self.slice(b, 8)?;
                let mut word = [0u8; 8];
                word.copy_from_slice(raw);
                (Node::Float(f64::from_be_bytes(word)), b + 8)
            }
            tag::FLOAT => {
                let raw = self.slice(b, 31)?;
                let text = std::str::from_utf8(raw).map_err(|_| damaged.clone())?;
                let text = text.trim_end_matches('\0');
                (
                    Node::Float(text.trim().parse().map_err(|_| damaged.clone())?),
                    b + 31,
                )
            }
            tag::ATOM | tag::ATOM_UTF8 => {
                let n = self.u16(b)? as usize;
                let name = self.slice(b + 2, n)?;
                (
                    Node::Atom {
                        name,
                        utf8: tag == tag::ATOM_UTF8,
                    },
                    b + 2 + n,
                )
            }
            tag::SMALL_ATOM | tag::SMALL_ATOM_UTF8 => {
                let n = self.u8(b)? as usize;
                let name = self.slice(b + 1, n)?;
                (
                    Node::Atom {
                        name,
                        utf8: tag == tag::SMALL_ATOM_UTF8,
                    },
                    b + 1 + n,
                )
            }
            tag::BINARY => {
                let n = self.u32(b)? as usize;
                (Node::Binary(self.slice(b + 4, n)?), b + 4 + n)
            }
            tag::BIT_BINARY => {
                let n = self.u32(b)? as usize;
                let bits = self.u8(b + 4)?;
                (
                    Node::Bits {
                        bytes: self.slice(b + 5, n)?,
                        bits,
                    },
                    b + 5 + n,
                )
            }
            tag::SMALL_TUPLE => (
                Node::Tuple {
                    arity: self.u8(b)? as usize,
                    at: b + 1,
                },
                b + 1,
            ),
            tag::LARGE_TUPLE => (
                Node::Tuple {
                    arity: self.u32(b)? as usize,
                    at: b + 4,
                },
                b + 4,
            ),
            tag::NIL => (Node::Nil, b),
            tag::STRING => {
                let n = self.u16(b)? as usize;
                (Node::Bytes(self.slice(b + 2, n)?), b + 2 + n)
            }
            tag::LIST => (
                Node::List {
                    len: self.u32(b)? as usize,
                    at: b + 4,
                },
                b + 4,
            ),
            tag::MAP => (
                Node::Map {
                    pairs: self.u32(b)? as usize,
                    at: b + 4,
                },
                b + 4,
            ),
            tag::NEW_PID
            | tag::PID
            | tag::NEW_PORT
            | tag::PORT
            | tag::V4_PORT
            | tag::NEW_REFERENCE
            | tag::NEWER_REFERENCE
            | tag::REFERENCE
            | tag::NEW_FUN
            | tag::EXPORT
            | tag::FUN => {
                let end = self.skip_opaque(tag, at)?;
                let kind = match tag {
                    tag::NEW_PID | tag::PID => Opaque::Pid,
                    tag::NEW_PORT | tag::PORT | tag::V4_PORT => Opaque::Port,
                    tag::NEW_REFERENCE | tag::NEWER_REFERENCE | tag::REFERENCE => Opaque::Reference,
                    _ => Opaque::Fun,
                };
                (
                    Node::Opaque {
                        kind,
                        bytes: &self.bytes[at..end],
                    },
                    end,
                )
            }
            _ => return Err(damaged),
        };
        Ok(node)
    }

    /// Where the term at `at` ends.
    pub fn skip(&self, at: usize) -> Result<usize, Damaged> {
        let (node, mut pos) = self.header(at)?;
        let count = match node {
            Node::Tuple { arity, .. } => arity,
            Node::List { len, .. } => len + 1,
            Node::Map { pairs, .. } => pairs.checked_mul(2).ok_or(Damaged { at })?,
            _ => return Ok(pos),
        };
        // Nested containers are walked with an explicit count of terms still to skip, so a
        // deeply nested value cannot overflow the stack.
        let mut remaining = count;
        while remaining > 0 {
            let (node, next) = self.header(pos)?;
            remaining -= 1;
            pos = next;
            match node {
                Node::Tuple { arity, .. } => remaining += arity,
                Node::List { len, .. } => remaining += len + 1,
                Node::Map { pairs, .. } => remaining += pairs * 2,
                _ => {}
            }
            if remaining > self.bytes.len() {
                return Err(Damaged { at: pos });
            }
        }
        Ok(pos)
    }

    /// The positions of the `count` terms that follow one another from `at`.
    pub fn elements(&self, at: usize, count: usize) -> Elements<'_, 'a> {
        Elements {
            value: self,
            at,
            left: count,
        }
    }

    /// The bytes of the term at `at`, tag included.
    pub fn term_bytes(&self, at: usize) -> Result<&'a [u8], Damaged> {
        Ok(&self.bytes[at..self.skip(at)?])
    }

    /// Compares two terms of this and another value in Erlang's term order (`==` for
    /// numbers: `1 == 1.0`). `None` when a big integer beyond 128 bits takes part.
    pub fn compare(
        &self,
        at: usize,
        other: &Value<'_>,
        other_at: usize,
    ) -> Result<Option<Ordering>, Damaged> {
        let a = self.node(at)?;
        let b = other.node(other_at)?;
        if a.rank() != b.rank() {
            return Ok(Some(a.rank().cmp(&b.rank())));
        }
        let order = match (a, b) {
            (Node::Int(x), Node::Int(y)) => x.cmp(&y),
            (Node::Int(x), Node::Float(y)) => return Ok((x as f64).partial_cmp(&y)),
            (Node::Float(x), Node::Int(y)) => return Ok(x.partial_cmp(&(y as f64))),
            (Node::Float(x), Node::Float(y)) => return Ok(x.partial_cmp(&y)),
            (Node::Big { negative }, Node::Int(_)) | (Node::Big { negative }, Node::Float(_)) => {
                if negative {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Node::Int(_), Node::Big { negative }) | (Node::Float(_), Node::Big { negative }) => {
                if negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Node::Big { .. }, Node::Big { .. }) => return Ok(None),
            (x @ Node::Atom { .. }, y @ Node::Atom { .. }) => x.atom_text().cmp(&y.atom_text()),
            (Node::Binary(x), Node::Binary(y)) => x.cmp(y),
            (Node::Opaque { bytes: x, .. }, Node::Opaque { bytes: y, .. }) => x.cmp(y),
            (Node::Tuple { arity: n, at: x }, Node::Tuple { arity: m, at: y }) => {
                if n != m {
                    n.cmp(&m)
                } else {
                    return self.compare_all(x, other, y, n);
                }
            }
            (Node::Nil, Node::Nil) => Ordering::Equal,
            _ => {
                // Lists, maps and bitstrings of equal rank: equal when their bytes are
                // (the encoders write equal terms alike); otherwise unordered here.
                let same = self.term_bytes(at)? == other.term_bytes(other_at)?;
                return Ok(same.then_some(Ordering::Equal));
            }
        };
        Ok(Some(order))
    }

    fn compare_all(
        &self,
        at: usize,
        other: &Value<'_>,
        other_at: usize,
        n: usize,
    ) -> Result<Option<Ordering>, Damaged> {
        let (mut x, mut y) = (at, other_at);
        for _ in 0..n {
            match self.compare(x, other, y)? {
                Some(Ordering::Equal) => {}
                order => return Ok(order),
            }
            x = self.skip(x)?;
            y = other.skip(y)?;
        }
        Ok(Some(Ordering::Equal))
    }

    fn skip_opaque(&self, tag: u8, at: usize) -> Result<usize, Damaged> {
        let b = at + 1;
        Ok(match tag {
            // pid: node, id, serial, creation (4 bytes; 1 for PID_EXT)
            tag::NEW_PID => self.skip(b)? + 12,
            tag::PID => self.skip(b)? + 9,
            // port: node, id (4 or 8), creation
            tag::NEW_PORT => self.skip(b)? + 8,
            tag::V4_PORT => self.skip(b)? + 12,
            tag::PORT => self.skip(b)? + 5,
            // references: len (u16), node, creation, ids
            tag::NEW_REFERENCE => {
                let n = self.u16(b)? as usize;
                self.skip(b + 2)? + 1 + 4 * n
            }
            tag::NEWER_REFERENCE => {
                let n = self.u16(b)? as usize;
                self.skip(b + 2)? + 4 + 4 * n
            }
            tag::REFERENCE => self.skip(b)? + 5,
            // NEW_FUN_EXT: its size includes itself
            tag::NEW_FUN => at + 1 + self.u32(b)? as usize,
            // EXPORT_EXT: module, function, arity
            tag::EXPORT => {
                let f = self.skip(b)?;
                let a = self.skip(f)?;
                self.skip(a)?
            }
            // FUN_EXT (old): free vars, pid, module, index, uniq, then the free variables
            _ => {
                let free = self.u32(b)? as usize;
                let mut pos = self.skip(b + 4)?;
                for _ in 0..3 + free {
                    pos = self.skip(pos)?;
                }
                pos
            }
        })
        .and_then(|end| {
            if end <= self.bytes.len() {
                Ok(end)
            } else {
                Err(Damaged { at })
            }
        })
    }

    fn slice(&self, at: usize, n: usize) -> Result<&'a [u8], Damaged> {
        at.checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(Damaged { at })
    }

    fn u8(&self, at: usize) -> Result<u8, Damaged> {
        self.bytes.get(at).copied().ok_or(Damaged { at })
    }

    fn u16(&self, at: usize) -> Result<u16, Damaged> {
        let b = self.slice(at, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: usize) -> Result<u32, Damaged> {
        let b = self.slice(at, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The positions of consecutive terms (see [`Value::elements`]).
pub struct Elements<'v, 'a> {
    value: &'v Value<'a>,
    at: usize,
    left: usize,
}

impl Iterator for Elements<'_, '_> {
    type Item = Result<usize, Damaged>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.at;
        match self.value.skip(at) {
            Ok(next) => {
                self.at = next;
                Some(Ok(at))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_terms::encode;
    use eetf::{Atom, Binary, FixInteger, List, Map, Term, Tuple};

    #[test]
    fn reads_and_skips_nested_terms() {
        let mut m = std::collections::HashMap::new();
        m.insert(Term::from(Atom::from("a")), Term::from(FixInteger::from(1)));
        let term: Term = Tuple::from(vec![
            Atom::from("ok").into(),
            List::from(vec![
                Binary::from(b"xy".to_vec()).into(),
                Map::from(m).into(),
            ])
            .into(),
            FixInteger::from(-70000).into(),
        ])
        .into();
        let bytes = encode(term);
        let v = Value::new(&bytes).unwrap();
        let Node::Tuple { arity: 3, at } = v.node(v.root()).unwrap() else {
            panic!("a tuple")
        };
        let elements: Vec<usize> = v.elements(at, 3).map(Result::unwrap).collect();
        assert_eq!(v.node(elements[0]).unwrap().atom_text().unwrap(), "ok");
        assert!(matches!(
            v.node(elements[1]).unwrap(),
            Node::List { len: 2, .. }
        ));
        assert_eq!(v.node(elements[2]).unwrap(), Node::Int(-70000));
        assert_eq!(v.skip(v.root()).unwrap(), bytes.len());
    }

    #[test]
    fn damaged_values_are_errors() {
        let bytes = encode(Binary::from(b"hello".to_vec()).into());
        for cut in 1..bytes.len() {
            let v = Value::new(&bytes[..cut]).unwrap();
            assert!(v.skip(1).is_err(), "cut at {cut}");
        }
        assert!(Value::new(b"").is_err());
        let v = Value::new(&[131, 108, 255, 255, 255, 255]).unwrap();
        assert!(v.skip(1).is_err());
    }

    #[test]
    fn numbers_compare_across_kinds() {
        let one = encode(FixInteger::from(1).into());
        let one_f = encode(eetf::Float::try_from(1.0).unwrap().into());
        let a = encode(Atom::from("a").into());
        let (one, one_f, a) = (
            Value::new(&one).unwrap(),
            Value::new(&one_f).unwrap(),
            Value::new(&a).unwrap(),
        );
        assert_eq!(one.compare(1, &one_f, 1).unwrap(), Some(Ordering::Equal));
        assert_eq!(one.compare(1, &a, 1).unwrap(), Some(Ordering::Less));
    }
}
