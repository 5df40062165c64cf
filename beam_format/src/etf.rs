//! Terms in the external term format (ETF), decoded safely.
//!
//! The `eetf` crate decodes terms, but trusts its input: it panics on the distribution header and
//! atom-cache tags, allocates whatever a length field says, shifts by an unchecked bit count, and
//! recurses once per nesting level. [`decode`] first walks the bytes without recursion and
//! without allocating (checking every tag, length and the nesting depth), inflates compressed
//! terms with a size cap, and only then hands the bytes to `eetf`, which can no longer panic.
//!
//! Decoding and dropping a term recurses as deep as the term nests (about 1 KiB of stack per
//! level). Deep terms occur in abstract code (a list literal of N elements nests N levels), so
//! code that handles forms runs on a thread with a large stack: see [`with_large_stack`]. On
//! other threads [`decode`] refuses terms nested deeper than [`INLINE_DEPTH`], so no input can
//! overflow a stack by accident.

use std::io::Read;

use eetf::Term;
use etf_tag as tag;

use crate::error::EtfProblem;

/// The deepest nesting [`decode`] accepts inside [`with_large_stack`].
pub const MAX_DEPTH: usize = 200_000;

/// The deepest nesting [`decode`] accepts on an ordinary thread (a 2 MiB stack holds it). The
/// debug info of every installed OTP and Elixir beam nests less than 300 levels.
pub const INLINE_DEPTH: usize = 1_000;

/// The largest size a compressed term may inflate to (the largest `Dbgi` of OTP 25 and Elixir
/// 1.14, `elixir_parser`'s, inflates to 5.5 MB).
pub const MAX_INFLATED_BYTES: u64 = 256 << 20;

/// Stack size of the threads [`with_large_stack`] starts (address space, committed on use).
pub const LARGE_STACK_BYTES: usize = 1 << 30;

/// Decodes one ETF-encoded term (starting with the version byte 131), never panicking.
pub fn decode(bytes: &[u8]) -> Result<Term, EtfProblem> {
    let body = bytes.split_first().ok_or(EtfProblem::Truncated)?;
    if *body.0 != tag::VERSION {
        return Err(EtfProblem::BadVersion(*body.0));
    }
    let body = body.1;
    if body.first() == Some(&tag::COMPRESSED) {
        let inflated = inflate(body)?;
        check_term(&inflated)?;
        let mut plain = Vec::with_capacity(inflated.len() + 1);
        plain.push(tag::VERSION);
        plain.extend_from_slice(&inflated);
        return decode_checked(&plain);
    }
    check_term(body)?;
    decode_checked(bytes)
}

/// Encodes a term in ETF (uncompressed), with the version byte.
pub fn encode(term: &Term) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out)
        .expect("encoding a term into a Vec cannot fail");
    out
}

/// Runs `f` on a fresh thread with a [`LARGE_STACK_BYTES`] stack and returns its result.
///
/// Use it around code that decodes, walks or drops abstract code.
/// Terms decoded inside must also be dropped inside: dropping recurses like decoding.
pub fn with_large_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        spawn_with_large_stack(scope, "beam-forms".into(), f)
            .expect("spawning a thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Spawns a scoped thread with a [`LARGE_STACK_BYTES`] stack on which [`decode`] accepts terms
/// nested up to [`MAX_DEPTH`] levels: worker threads that handle forms (the rewriter's and the
/// analyzer's) start here, so that the stack and the depth [`decode`] accepts always go
/// together. (A thread merely built with a large stack still gets [`INLINE_DEPTH`]: the depth
/// follows this function, not the stack size.)
pub fn spawn_with_large_stack<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(LARGE_STACK_BYTES)
        .spawn_scoped(scope, move || {
            ON_LARGE_STACK.set(true);
            f()
        })
}

thread_local! {
    static ON_LARGE_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How deep a term may nest on this thread.
fn depth_limit() -> usize {
    if ON_LARGE_STACK.get() {
        MAX_DEPTH
    } else {
        INLINE_DEPTH
    }
}

fn decode_checked(bytes: &[u8]) -> Result<Term, EtfProblem> {
    Term::decode(bytes).map_err(|e| EtfProblem::Decode(e.to_string()))
}

fn inflate(body: &[u8]) -> Result<Vec<u8>, EtfProblem> {
    // body = [80, size:32, zlib...]
    if body.len() < 5 {
        return Err(EtfProblem::Truncated);
    }
    let declared = u64::from(u32::from_be_bytes([body[1], body[2], body[3], body[4]]));
    if declared > MAX_INFLATED_BYTES {
        return Err(EtfProblem::BadLength(declared));
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&body[5..])
        .take(declared + 1)
        .read_to_end(&mut out)
        .map_err(|e| EtfProblem::BadCompression(e.to_string()))?;
    if out.len() as u64 != declared {
        return Err(EtfProblem::BadCompression(format!(
            "inflates to {} bytes, {declared} declared",
            out.len()
        )));
    }
    Ok(out)
}

/// A term still being read: how many sub-terms remain, and how many fixed bytes follow them.
struct Open {
    terms: u64,
    then_skip: u64,
}

/// Walks one term (without version byte) that must span `bytes` exactly.
fn check_term(bytes: &[u8]) -> Result<(), EtfProblem> {
    let mut r = Reader { bytes, pos: 0 };
    let limit = depth_limit();
    let mut stack: Vec<Open> = vec![Open {
        terms: 1,
        then_skip: 0,
    }];
    while let Some(top) = stack.last_mut() {
        if top.terms == 0 {
            let skip = top.then_skip;
            stack.pop();
            r.skip(skip)?;
            continue;
        }
        top.terms -= 1;
        if let Some(open) = r.term_header()? {
            // Every sub-term takes at least one byte: a count beyond that is a lie.
            if open.terms > r.remaining() {
                return Err(EtfProblem::BadLength(open.terms));
            }
            if stack.len() >= limit {
                return Err(EtfProblem::TooDeep(limit));
            }
            stack.push(open);
        }
    }
    match r.remaining() {
        0 => Ok(()),
        n => Err(EtfProblem::TrailingBytes(n as usize)),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn skip(&mut self, n: u64) -> Result<(), EtfProblem> {
        if n > self.remaining() {
            return Err(EtfProblem::Truncated);
        }
        self.pos += n as usize;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, EtfProblem> {
        let b = *self.bytes.get(self.pos).ok_or(EtfProblem::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u64, EtfProblem> {
        Ok(u64::from(self.u8()?) << 8 | u64::from(self.u8()?))
    }

    fn u32(&mut self) -> Result<u64, EtfProblem> {
        Ok(self.u16()? << 16 | self.u16()?)
    }

    fn bytes(&mut self, n: u64) -> Result<&[u8], EtfProblem> {
        let start = self.pos;
        self.skip(n)?;
        Ok(&self.bytes[start..self.pos])
    }

    /// Reads one tag and its fixed part; returns the sub-terms that follow, if any.
    fn term_header(&mut self) -> Result<Option<Open>, EtfProblem> {
        let children = |terms, then_skip| Ok(Some(Open { terms, then_skip }));
        let tag = self.u8()?;
        match tag {
            tag::SMALL_INTEGER => self.skip(1)?,
            tag::INTEGER => self.skip(4)?,
            tag::NEW_FLOAT => self.skip(8)?,
            tag::FLOAT => self.skip(31)?,
            tag::NIL => {}
            tag::ATOM | tag::SMALL_ATOM => {
                let n = if tag == tag::ATOM {
                    self.u16()?
                } else {
                    u64::from(self.u8()?)
                };
                self.skip(n)?;
            }
            tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                let n = if tag == tag::ATOM_UTF8 {
                    self.u16()?
                } else {
                    u64::from(self.u8()?)
                };
                std::str::from_utf8(self.bytes(n)?)
                    .map_err(|e| EtfProblem::Decode(format!("atom is not UTF-8: {e}")))?;
            }
            tag::STRING => {
                let n = self.u16()?;
                self.skip(n)?;
            }
            tag::BINARY => {
                let n = self.u32()?;
                self.skip(n)?;
            }
            tag::BIT_BINARY => {
                let n = self.u32()?;
                let bits = self.u8()?;
                if !(1..=8).contains(&bits) {
                    return Err(EtfProblem::BadBitCount(bits));
                }
                self.skip(n)?;
            }
            tag::SMALL_BIG => {
                let n = u64::from(self.u8()?);
                self.skip(1 + n)?;
            }
            tag::LARGE_BIG => {
                let n = self.u32()?;
                self.skip(1 + n)?;
            }
            tag::SMALL_TUPLE => return children(u64::from(self.u8()?), 0),
            tag::LARGE_TUPLE => return children(self.u32()?, 0),
            tag::LIST => return children(self.u32()? + 1, 0),
            tag::MAP => return children(self.u32()? * 2, 0),
            tag::PID => return children(1, 9),
            tag::NEW_PID => return children(1, 12),
            tag::PORT | tag::REFERENCE => return children(1, 5),
            tag::NEW_PORT => return children(1, 8),
            tag::V4_PORT => return children(1, 12),
            tag::NEW_REFERENCE => {
                let ids = self.u16()?;
                return children(1, 1 + 4 * ids);
            }
            tag::NEWER_REFERENCE => {
                let ids = self.u16()?;
                return children(1, 4 + 4 * ids);
            }
            tag::EXPORT => return children(3, 0),
            tag::FUN => {
                let free = self.u32()?;
                return children(4 + free, 0);
            }
            tag::NEW_FUN => {
                self.skip(4 + 1 + 16 + 4)?;
                let free = self.u32()?;
                return children(4 + free, 0);
            }
            other => return Err(EtfProblem::UnsupportedTag(other)),
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eetf::{Atom, FixInteger, List, Tuple};

    fn sample() -> Term {
        Term::from(Tuple::from(vec![
            Term::from(Atom::from("debug_info_v1")),
            Term::from(List::from(vec![Term::from(FixInteger::from(700))])),
            Term::from(eetf::Binary::from(vec![1, 2, 3])),
        ]))
    }

    #[test]
    fn decodes_what_it_encodes() {
        let term = sample();
        assert_eq!(decode(&encode(&term)).unwrap(), term);
    }

    #[test]
    fn decodes_compressed_terms() {
        // term_to_binary({a, lists:duplicate(20, a)}, [compressed]) as produced by OTP 25.
        let bytes = [
            131, 80, 0, 0, 0, 92, 120, 156, 203, 96, 74, 97, 96, 76, 204, 97, 96, 96, 16, 1, 49,
            168, 137, 179, 0, 24, 116, 17, 147,
        ];
        let Term::Tuple(tuple) = decode(&bytes).unwrap() else {
            panic!("not a tuple")
        };
        assert_eq!(tuple.elements[0], Term::from(Atom::from("a")));
        let Term::List(list) = &tuple.elements[1] else {
            panic!("not a list")
        };
        assert_eq!(list.elements, vec![Term::from(Atom::from("a")); 20]);
    }

    #[test]
    fn refuses_what_would_make_eetf_panic_or_allocate() {
        let cases: Vec<(&[u8], EtfProblem)> = vec![
            (&[], EtfProblem::Truncated),
            (&[130, 97, 1], EtfProblem::BadVersion(130)),
            (&[131, 68, 0], EtfProblem::UnsupportedTag(68)),
            (&[131, 82, 0], EtfProblem::UnsupportedTag(82)),
            (&[131, 77, 0, 0, 0, 1, 0, 255], EtfProblem::BadBitCount(0)),
            (
                &[131, 108, 255, 255, 255, 255, 106],
                EtfProblem::BadLength(1 << 32),
            ),
            (&[131, 109, 255, 255, 255, 255], EtfProblem::Truncated),
            (&[131, 97, 1, 0], EtfProblem::TrailingBytes(1)),
            (&[131, 104, 2, 97, 1], EtfProblem::Truncated),
            (
                &[131, 80, 255, 255, 255, 255, 0],
                EtfProblem::BadLength(u32::MAX as u64),
            ),
        ];
        for (bytes, problem) in cases {
            assert_eq!(decode(bytes).unwrap_err(), problem, "{bytes:?}");
        }
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut bytes = vec![131];
        for _ in 0..depth {
            bytes.extend_from_slice(&[104, 2, 97, 1]);
        }
        bytes.push(106);
        bytes
    }

    #[test]
    fn refuses_terms_nested_beyond_the_limit() {
        assert!(decode(&nested(INLINE_DEPTH - 1)).is_ok());
        assert_eq!(
            decode(&nested(INLINE_DEPTH)).unwrap_err(),
            EtfProblem::TooDeep(INLINE_DEPTH)
        );
        let deepest = nested(MAX_DEPTH);
        let err = with_large_stack(|| decode(&deepest).unwrap_err());
        assert_eq!(err, EtfProblem::TooDeep(MAX_DEPTH));
    }

    #[test]
    fn deep_terms_decode_on_a_large_stack() {
        let bytes = nested(MAX_DEPTH - 1);
        let ok = with_large_stack(|| decode(&bytes).is_ok());
        assert!(ok);
    }
}
