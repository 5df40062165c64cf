//! Terms as OTP 25 prints them with `io_lib:format("~0tp", [Term])` (one line; `+pc latin1`,
//! the default), with cuts marked.

use std::fmt::Write as _;

use eetf::Term;

use super::{cut, float, list_parts, map_pairs, more, small_int, standalone_cut, Cut, Style};

/// Words that are atoms only when quoted.
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
    "rem", "try", "when", "xor",
];

pub(super) fn term(out: &mut String, t: &Term) {
    if let Some(c) = cut(t) {
        standalone_cut(out, &c, Style::Erlang);
        return;
    }
    match t {
        Term::Atom(a) => atom(out, &a.name),
        Term::FixInteger(i) => {
            let _ = write!(out, "{}", i.value);
        }
        Term::BigInteger(b) => {
            let _ = write!(out, "{}", b.value);
        }
        Term::Float(f) => out.push_str(&float::erlang(f.value)),
        Term::Pid(p) => {
            let _ = write!(out, "<0.{}.{}>", p.id, p.serial);
        }
        Term::Port(p) => {
            let _ = write!(out, "#Port<0.{}>", p.id);
        }
        Term::Reference(r) => {
            out.push_str("#Ref<0");
            for n in r.id.iter().rev() {
                let _ = write!(out, ".{n}");
            }
            out.push('>');
        }
        Term::ExternalFun(f) => {
            out.push_str("fun ");
            atom(out, &f.module.name);
            out.push(':');
            atom(out, &f.function.name);
            let _ = write!(out, "/{}", f.arity);
        }
        Term::InternalFun(f) => {
            let module = match &**f {
                eetf::InternalFun::Old { module, .. } | eetf::InternalFun::New { module, .. } => {
                    &module.name
                }
            };
            out.push_str("#Fun<");
            out.push_str(module);
            out.push('>');
        }
        Term::Binary(b) => binary(out, &b.bytes),
        Term::BitBinary(b) => bitstring(out, &b.bytes, b.tail_bits_size),
        Term::Tuple(tuple) => {
            out.push('{');
            let n = tuple.elements.len();
            for (i, e) in tuple.elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match cut(e) {
                    Some(Cut::Tuple(count)) if i + 1 == n => out.push_str(&more(count)),
                    _ => term(out, e),
                }
            }
            out.push('}');
        }
        Term::Map(m) => {
            let (pairs, omitted) = map_pairs(m);
            out.push_str("#{");
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                term(out, k);
                out.push_str(" => ");
                term(out, v);
            }
            if let Some(n) = omitted {
                if !pairs.is_empty() {
                    out.push(',');
                }
                out.push_str(&more(n));
            }
            out.push('}');
        }
        Term::List(_) | Term::ByteList(_) | Term::ImproperList(_) => list(out, t),
    }
}

fn list(out: &mut String, t: &Term) {
    let Some(parts) = list_parts(t) else {
        return;
    };
    if parts.elements.is_empty() && parts.tail.is_none() {
        out.push_str(if parts.cut { "[…]" } else { "[]" });
        return;
    }
    if parts.tail.is_none() {
        let chars: Option<Vec<char>> = parts
            .elements
            .iter()
            .map(|e| {
                small_int(e)
                    .and_then(|c| char::from_u32(c as u32))
                    .filter(|&c| latin1_printable(c))
            })
            .collect();
        if let Some(chars) = chars {
            out.push('"');
            for c in chars {
                escape(out, c, '"');
            }
            out.push('"');
            if parts.cut {
                out.push('…');
            }
            return;
        }
    }
    out.push('[');
    for (i, e) in parts.elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        term(out, e);
    }
    if parts.cut {
        out.push_str(",…");
    }
    if let Some(tail) = parts.tail {
        out.push('|');
        term(out, tail);
    }
    out.push(']');
}

/// An atom, quoted unless it starts with a lowercase letter and holds only letters, digits,
/// `_` and `@` (Latin-1), and is not a reserved word.
pub(super) fn atom(out: &mut String, name: &str) {
    let mut chars = name.chars();
    let bare = chars.next().is_some_and(lowercase)
        && chars
            .all(|c| c == '_' || c == '@' || c.is_ascii_digit() || lowercase(c) || uppercase(c))
        && !RESERVED.contains(&name);
    if bare {
        out.push_str(name);
        return;
    }
    out.push('\'');
    for c in name.chars() {
        escape(out, c, '\'');
    }
    out.push('\'');
}

fn lowercase(c: char) -> bool {
    c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}')
}

fn uppercase(c: char) -> bool {
    c.is_ascii_uppercase() || (('\u{c0}'..='\u{de}').contains(&c) && c != '\u{d7}')
}

/// Characters `io_lib:printable_latin1_list/1` accepts.
fn latin1_printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xFF)
        || matches!(
            c,
            '\n' | '\r' | '\t' | '\u{b}' | '\u{8}' | '\u{c}' | '\u{1b}'
        )
}

/// A binary: `<<"text">>` when its bytes are printable Latin-1 (or, when it is valid UTF-8,
/// its characters are: then `<<"é"/utf8>>`), else `<<1,2,3>>`.
fn binary(out: &mut String, bytes: &[u8]) {
    if bytes.is_empty() {
        out.push_str("<<>>");
        return;
    }
    let text: Option<(Vec<char>, bool)> = match std::str::from_utf8(bytes) {
        Ok(s) => s
            .chars()
            .all(latin1_printable)
            .then(|| (s.chars().collect(), s.chars().any(|c| c as u32 > 0x7F))),
        Err(_) => bytes
            .iter()
            .all(|&b| latin1_printable(b as char))
            .then(|| (bytes.iter().map(|&b| b as char).collect(), false)),
    };
    match text {
        Some((chars, utf8)) => {
            out.push_str("<<\"");
            for c in chars {
                escape(out, c, '"');
            }
            out.push_str(if utf8 { "\"/utf8>>" } else { "\">>" });
        }
        None => {
            out.push_str("<<");
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{b}");
            }
            out.push_str(">>");
        }
    }
}

fn bitstring(out: &mut String, bytes: &[u8], tail_bits: u8) {
    let Some((last, whole)) = bytes.split_last() else {
        out.push_str("<<>>");
        return;
    };
    if tail_bits == 0 || tail_bits >= 8 {
        binary(out, bytes);
        return;
    }
    out.push_str("<<");
    for b in whole {
        let _ = write!(out, "{b},");
    }
    let _ = write!(out, "{}:{tail_bits}>>", last);
}

fn escape(out: &mut String, c: char, quote: char) {
    match c {
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\u{1b}' => out.push_str("\\e"),
        '\u{7f}' => out.push_str("\\d"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\{:03o}", c as u32);
        }
        c => out.push(c),
    }
}
