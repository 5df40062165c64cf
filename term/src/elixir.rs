//! Terms as Elixir 1.14's `inspect/2` prints them on one line (`width: :infinity`, no
//! limits), with cuts marked.

use std::fmt::Write as _;

use eetf::Term;

use super::{cut, float, list_parts, map_pairs, more, small_int, standalone_cut, Cut, Style};

/// Operators `inspect` prints without quotes (`:+`, `:..//`, `[+: 1]`).
const OPERATORS: &[&str] = &[
    "@", ".", "+", "-", "!", "^", "*", "/", "**", "++", "--", "+++", "---", "..", "<>", "|>",
    "<<<", ">>>", "<<~", "~>>", "<~", "~>", "<~>", "<", ">", "<=", ">=", "==", "!=", "=~", "===",
    "!==", "&&", "&&&", "||", "|||", "=", "|", "<-", "\\\\", "&", "...", "%", "%{}", "{}", "<<>>",
    "..//", "->",
];

pub(super) fn term(out: &mut String, t: &Term) {
    if let Some(c) = cut(t) {
        standalone_cut(out, &c, Style::Elixir);
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
        Term::Float(f) => out.push_str(&float::elixir(f.value)),
        Term::Pid(p) => {
            let _ = write!(out, "#PID<0.{}.{}>", p.id, p.serial);
        }
        Term::Port(p) => {
            let _ = write!(out, "#Port<0.{}>", p.id);
        }
        Term::Reference(r) => {
            out.push_str("#Reference<0");
            for n in r.id.iter().rev() {
                let _ = write!(out, ".{n}");
            }
            out.push('>');
        }
        Term::ExternalFun(f) => {
            out.push('&');
            atom_as_module(out, &f.module.name);
            out.push('.');
            function_name(out, &f.function.name);
            let _ = write!(out, "/{}", f.arity);
        }
        Term::InternalFun(f) => {
            let module = match &**f {
                eetf::InternalFun::Old { module, .. } | eetf::InternalFun::New { module, .. } => {
                    &module.name
                }
            };
            out.push_str("#Function<in ");
            atom_as_module(out, module);
            out.push('>');
        }
        Term::Binary(b) => binary(out, &b.bytes),
        Term::BitBinary(b) => bitstring(out, &b.bytes, b.tail_bits_size),
        Term::Tuple(tuple) => {
            out.push('{');
            let n = tuple.elements.len();
            for (i, e) in tuple.elements.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match cut(e) {
                    Some(Cut::Tuple(count)) if i + 1 == n => out.push_str(&more(count)),
                    _ => term(out, e),
                }
            }
            out.push('}');
        }
        Term::Map(m) => map(out, m),
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
    if parts.tail.is_none() && charlist(out, &parts.elements) {
        if parts.cut {
            out.push('…');
        }
        return;
    }
    out.push('[');
    if parts.tail.is_none() && is_keyword(&parts.elements) {
        for (i, e) in parts.elements.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if let Term::Tuple(pair) = e {
                key(out, &pair.elements[0]);
                term(out, &pair.elements[1]);
            }
        }
    } else {
        for (i, e) in parts.elements.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            term(out, e);
        }
    }
    if parts.cut {
        out.push_str(", …");
    }
    if let Some(tail) = parts.tail {
        out.push_str(" | ");
        term(out, tail);
    }
    out.push(']');
}

/// Writes `'abc'` when every element is a printable ASCII character or one of the escapes
/// `\a\b\t\n\v\f\r\e` (`List.ascii_printable?/1`).
fn charlist(out: &mut String, elements: &[Term]) -> bool {
    let chars: Option<Vec<u8>> = elements
        .iter()
        .map(|e| {
            small_int(e)
                .filter(|&c| (32..=126).contains(&c) || (7..=13).contains(&c) || c == 27)
                .map(|c| c as u8)
        })
        .collect();
    let Some(chars) = chars else {
        return false;
    };
    out.push('\'');
    for c in chars {
        match c {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            _ => escape_control(out, c as char),
        }
    }
    out.push('\'');
    true
}

/// Keyword lists: every element a pair whose key is an atom that is not a module alias.
pub(super) fn is_keyword(elements: &[Term]) -> bool {
    elements.iter().all(|e| match e {
        Term::Tuple(pair) if pair.elements.len() == 2 => match &pair.elements[0] {
            Term::Atom(a) => !a.name.starts_with("Elixir.") && cut(e).is_none(),
            _ => false,
        },
        _ => false,
    })
}

fn map(out: &mut String, m: &eetf::Map) {
    let (pairs, omitted) = map_pairs(m);
    let module = pairs.iter().find_map(|(k, v)| match (k, v) {
        (Term::Atom(k), Term::Atom(v)) if k.name == "__struct__" && v.name != "nil" => {
            Some(v.name.clone())
        }
        _ => None,
    });
    let pairs: Vec<(&Term, &Term)> = match &module {
        Some(_) => pairs
            .into_iter()
            .filter(|(k, _)| {
                !matches!(k, Term::Atom(a) if a.name == "__struct__" || a.name == "__exception__")
            })
            .collect(),
        None => pairs,
    };
    match &module {
        Some(module) => {
            out.push('%');
            atom_as_module(out, module);
            out.push('{');
        }
        None => out.push_str("%{"),
    }
    let keyword = pairs
        .iter()
        .all(|(k, _)| matches!(k, Term::Atom(a) if !a.name.starts_with("Elixir.")));
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if keyword {
            key(out, k);
        } else {
            term(out, k);
            out.push_str(" => ");
        }
        term(out, v);
    }
    if let Some(n) = omitted {
        if !pairs.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&more(n));
    }
    out.push('}');
}

/// A keyword key with its colon and space: `a: `, `"foo bar": `.
pub(super) fn key(out: &mut String, k: &Term) {
    let Term::Atom(a) = k else {
        term(out, k);
        out.push_str(" => ");
        return;
    };
    if is_identifier(&a.name) || OPERATORS.contains(&a.name.as_str()) {
        out.push_str(&a.name);
    } else {
        quoted(out, &a.name);
    }
    out.push_str(": ");
}

/// An atom: `:ok`, `nil`, `Foo.Bar`, `:"foo bar"`.
pub(super) fn atom(out: &mut String, name: &str) {
    match name {
        "nil" | "true" | "false" | "Elixir" => out.push_str(name),
        _ if is_alias(name) => out.push_str(&name["Elixir.".len()..]),
        _ if is_identifier(name) || OPERATORS.contains(&name) => {
            out.push(':');
            out.push_str(name);
        }
        _ => {
            out.push(':');
            quoted(out, name);
        }
    }
}

/// A module where Elixir writes one (`%Mod{`, `&Mod.f/1`): an alias bare, else as an atom.
fn atom_as_module(out: &mut String, name: &str) {
    atom(out, name);
}

/// A function name after `Mod.`: bare when it is an identifier or operator, else quoted.
pub(super) fn function_name(out: &mut String, name: &str) {
    if is_identifier(name) || OPERATORS.contains(&name) {
        out.push_str(name);
    } else {
        quoted(out, name);
    }
}

/// `Elixir.Foo.Bar` with every segment an alias (`Foo`, `Foo1_a`).
fn is_alias(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("Elixir.") else {
        return false;
    };
    !rest.is_empty()
        && rest.split('.').all(|segment| {
            let mut chars = segment.chars();
            chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Atoms Elixir writes bare: a letter or `_`, then letters, digits, `_` and `@`, maybe ending
/// in `?` or `!`.
fn is_identifier(name: &str) -> bool {
    let body = name
        .strip_suffix('?')
        .or_else(|| name.strip_suffix('!'))
        .unwrap_or(name);
    let mut chars = body.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c == '@' || c.is_alphanumeric())
}

fn quoted(out: &mut String, text: &str) {
    out.push('"');
    escape_string(out, text);
    out.push('"');
}

/// A binary: `"text"` when it is printable UTF-8, else `<<1, 2, 3>>`.
fn binary(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(printable) => quoted(out, text),
        _ => {
            out.push_str("<<");
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
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
        let _ = write!(out, "{b}, ");
    }
    let _ = write!(out, "{}::size({tail_bits})>>", last);
}

/// Characters `String.printable?/1` accepts.
fn printable(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        || matches!(
            c,
            '\n' | '\r' | '\t' | '\u{b}' | '\u{8}' | '\u{c}' | '\u{1b}' | '\u{7f}' | '\u{7}'
        )
}

fn escape_string(out: &mut String, text: &str) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '#' if chars.peek() == Some(&'{') => out.push_str("\\#"),
            _ => escape_control(out, c),
        }
    }
}

fn escape_control(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\u{1b}' => out.push_str("\\e"),
        '\u{7f}' => out.push_str("\\d"),
        '\u{7}' => out.push_str("\\a"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\x{:02X}", c as u32);
        }
        c => out.push(c),
    }
}
