//! The little of the external term format the writer reads: where the terms of a captured
//! argument list or tuple lie, and what an atom says.
//!
//! The writer links messages to the calls that received them (`handle_cast/2`,
//! `handle_info/2`, gen_statem events) by the bytes of the message, and notices
//! (`{'EXIT', Pid, _}`, `{'DOWN', _, process, Pid, _}`) by the bytes of the pid: it needs to
//! cut one argument out of a stored argument list and one element out of a tuple, never to
//! build a term. Everything is bounds-checked: a malformed value answers `None`, and a term is
//! skipped with an explicit stack (values nest at most as deep as the encoder's caps allow, but
//! nothing here relies on it).

use etf_tag as tag;

/// The bytes of a value without its version byte (a value stored whole starts with one).
pub(crate) fn body(value: &[u8]) -> &[u8] {
    match value.first() {
        Some(&tag::VERSION) => &value[1..],
        _ => value,
    }
}

/// The terms of a proper list or tuple stored whole (version byte first), each as its bytes;
/// `None` for anything else or a malformed value.
pub(crate) fn elements(value: &[u8]) -> Option<Vec<&[u8]>> {
    let bytes = body(value);
    let (count, mut at) = match *bytes.first()? {
        tag::NIL => return Some(Vec::new()),
        tag::LIST => (
            u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize,
            5,
        ),
        tag::SMALL_TUPLE => (*bytes.get(1)? as usize, 2),
        tag::LARGE_TUPLE => (
            u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize,
            5,
        ),
        _ => return None,
    };
    let mut out = Vec::with_capacity(count.min(256));
    for _ in 0..count {
        let end = skip(bytes, at)?;
        out.push(&bytes[at..end]);
        at = end;
    }
    Some(out)
}

/// The text of an atom's bytes (`SMALL_ATOM_UTF8_EXT` and the other atom tags).
pub(crate) fn atom(term: &[u8]) -> Option<&str> {
    let (len, at) = match *term.first()? {
        tag::SMALL_ATOM_UTF8 | tag::SMALL_ATOM => (*term.get(1)? as usize, 2),
        tag::ATOM_UTF8 | tag::ATOM => (
            u16::from_be_bytes(term.get(1..3)?.try_into().ok()?) as usize,
            3,
        ),
        _ => return None,
    };
    std::str::from_utf8(term.get(at..at + len)?).ok()
}

/// Whether a term's bytes are a pid.
pub(crate) fn is_pid(term: &[u8]) -> bool {
    matches!(term.first(), Some(&tag::NEW_PID | &tag::PID))
}

/// Whether a term's bytes are a reference.
pub(crate) fn is_reference(term: &[u8]) -> bool {
    matches!(
        term.first(),
        Some(&tag::NEWER_REFERENCE | &tag::NEW_REFERENCE | &tag::REFERENCE)
    )
}

/// Where the term starting at `at` ends, or `None` when it is malformed.
pub(crate) fn skip(bytes: &[u8], at: usize) -> Option<usize> {
    // Terms still to skip, counted: a container adds its elements.
    let mut pending: u64 = 1;
    let mut at = at;
    let u16_at = |i: usize| -> Option<usize> {
        Some(u16::from_be_bytes(bytes.get(i..i + 2)?.try_into().ok()?) as usize)
    };
    let u32_at = |i: usize| -> Option<usize> {
        Some(u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?) as usize)
    };
    while pending > 0 {
        pending -= 1;
        let tag = *bytes.get(at)?;
        at += 1;
        at = match tag {
            tag::SMALL_INTEGER => at + 1,
            tag::INTEGER => at + 4,
            tag::NEW_FLOAT => at + 8,
            tag::FLOAT => at + 31,
            tag::NIL => at,
            tag::SMALL_ATOM_UTF8 | tag::SMALL_ATOM => at + 1 + *bytes.get(at)? as usize,
            tag::ATOM_UTF8 | tag::ATOM => at + 2 + u16_at(at)?,
            tag::STRING => at + 2 + u16_at(at)?,
            tag::BINARY => at + 4 + u32_at(at)?,
            tag::BIT_BINARY => at + 5 + u32_at(at)?,
            tag::SMALL_BIG => at + 2 + *bytes.get(at)? as usize,
            tag::LARGE_BIG => at + 5 + u32_at(at)?,
            tag::SMALL_TUPLE => {
                pending += *bytes.get(at)? as u64;
                at + 1
            }
            tag::LARGE_TUPLE => {
                pending += u32_at(at)? as u64;
                at + 4
            }
            tag::LIST => {
                // The elements and the tail.
                pending += u32_at(at)? as u64 + 1;
                at + 4
            }
            tag::MAP => {
                pending += 2 * u32_at(at)? as u64;
                at + 4
            }
            // A node name (an atom), then numbers.
            tag::NEW_PID | tag::V4_PORT => atom_end(bytes, at)? + 12,
            tag::PID => atom_end(bytes, at)? + 9,
            tag::NEW_PORT => atom_end(bytes, at)? + 8,
            tag::PORT | tag::REFERENCE => atom_end(bytes, at)? + 5,
            // The number of ID words, the node, the creation, the words.
            tag::NEWER_REFERENCE => atom_end(bytes, at + 2)? + 4 + 4 * u16_at(at)?,
            tag::NEW_REFERENCE => atom_end(bytes, at + 2)? + 1 + 4 * u16_at(at)?,
            tag::EXPORT => {
                pending += 3;
                at
            }
            // Its size counts the size field.
            tag::NEW_FUN => at + u32_at(at)?,
            _ => return None,
        };
        if at > bytes.len() {
            return None;
        }
    }
    Some(at)
}

/// Where the atom (a node name) starting at `at` ends.
fn atom_end(bytes: &[u8], at: usize) -> Option<usize> {
    let len = match *bytes.get(at)? {
        tag::SMALL_ATOM_UTF8 | tag::SMALL_ATOM => 2 + *bytes.get(at + 1)? as usize,
        tag::ATOM_UTF8 | tag::ATOM => {
            3 + u16::from_be_bytes(bytes.get(at + 1..at + 3)?.try_into().ok()?) as usize
        }
        _ => return None,
    };
    Some(at + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `term_to_binary([{cast, <<"tea">>}, #{a => [1, 2]}, self(), make_ref(), 3.5, -7])` on
    /// OTP 25 (pid and reference of node `nonode@nohost`).
    const ARGS: &[u8] = &[
        131, 108, 0, 0, 0, 6, 104, 2, 100, 0, 4, 99, 97, 115, 116, 109, 0, 0, 0, 3, 116, 101, 97,
        116, 0, 0, 0, 1, 100, 0, 1, 97, 107, 0, 2, 1, 2, 88, 100, 0, 13, 110, 111, 110, 111, 100,
        101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 90, 0, 3, 100,
        0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 0, 0, 1,
        25, 146, 96, 68, 0, 1, 188, 211, 228, 130, 70, 64, 12, 0, 0, 0, 0, 0, 0, 98, 255, 255, 255,
        249, 106,
    ];

    #[test]
    fn cuts_an_argument_list_into_its_terms() {
        let parts = elements(ARGS).unwrap();
        assert_eq!(parts.len(), 6);
        let tuple = elements(parts[0]).unwrap();
        assert_eq!(atom(tuple[0]), Some("cast"));
        assert!(is_pid(parts[2]));
        assert_eq!(parts[4], &[70, 64, 12, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parts[5], &[98, 255, 255, 255, 249]);
    }

    #[test]
    fn malformed_values_answer_none() {
        for cut in 0..ARGS.len() - 1 {
            assert!(elements(&ARGS[..cut]).is_none(), "cut at {cut}");
        }
        assert!(elements(&[131, 97, 1]).is_none());
        assert_eq!(elements(&[131, 106]), Some(Vec::new()));
        assert!(skip(&[200], 0).is_none());
    }
}
