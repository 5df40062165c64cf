//! Terms as Elixir 1.14's `inspect/2` prints them on one line (`width: :infinity`, no
//! limits), with cuts marked.

use std::fmt::Write as _;

use eetf::Term;

use super::printer::{self, Dialect};
use super::{cut, float, small_int, Style};

/// Operators `inspect` prints without quotes (`:+`, `:..//`, `[+: 1]`).
const OPERATORS: &[&str] = &[
    "@", ".", "+", "-", "!", "^", "*", "/", "**", "++", "--", "+++", "---", "..", "<>", "|>",
    "<<<", ">>>", "<<~", "~>>", "<~", "~>", "<~>", "<", ">", "<=", ">=", "==", "!=", "=~", "===",
    "!==", "&&", "&&&", "||", "|||", "=", "|", "<-", "\\\\", "&", "...", "%", "%{}", "{}", "<<>>",
    "..//", "->",
];

/// Elixir's `inspect/2`.
pub(super) struct Elixir;

impl Dialect for Elixir {
    const STYLE: Style = Style::Elixir;
    const COMMA: &'static str = ", ";
    const TAIL: &'static str = " | ";
    const REFERENCE: &'static str = "#Reference<0";

    fn atom(out: &mut String, name: &str) {
        atom(out, name);
    }

    fn float(value: f64) -> String {
        float::elixir(value)
    }

    fn pid(out: &mut String, id: u32, serial: u32) {
        let _ = write!(out, "#PID<0.{id}.{serial}>");
    }

    fn external_fun(out: &mut String, module: &str, function: &str, arity: u8) {
        out.push('&');
        atom(out, module);
        out.push('.');
        function_name(out, function);
        let _ = write!(out, "/{arity}");
    }

    fn internal_fun(out: &mut String, module: &str) {
        out.push_str("#Function<in ");
        atom(out, module);
        out.push('>');
    }

    /// `"text"` when it is printable UTF-8.
    fn text_binary(out: &mut String, bytes: &[u8]) -> bool {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.chars().all(printable) => {
                quoted(out, text);
                true
            }
            _ => false,
        }
    }

    fn bits(out: &mut String, last: u8, bits: u8) {
        let _ = write!(out, "{last}::size({bits})");
    }

    /// `'abc'` when every element is a printable ASCII character or one of the escapes
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

    fn keyword_list(out: &mut String, elements: &[Term]) -> bool {
        if !is_keyword(elements) {
            return false;
        }
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                out.push_str(Self::COMMA);
            }
            if let Term::Tuple(pair) = e {
                key(out, &pair.elements[0]);
                printer::term::<Elixir>(out, &pair.elements[1]);
            }
        }
        true
    }

    /// `%Struct{` without the struct's own keys, else `%{`; keywords when every key is an
    /// atom that is not a module alias.
    fn open_map<'a>(
        out: &mut String,
        pairs: Vec<(&'a Term, &'a Term)>,
    ) -> (Vec<(&'a Term, &'a Term)>, bool) {
        let module = pairs.iter().find_map(|(k, v)| match (k, v) {
            (Term::Atom(k), Term::Atom(v)) if k.name == "__struct__" && v.name != "nil" => {
                Some(v.name.clone())
            }
            _ => None,
        });
        let pairs: Vec<(&Term, &Term)> = match &module {
            Some(module) => {
                out.push('%');
                atom(out, module);
                out.push('{');
                pairs
                    .into_iter()
                    .filter(|(k, _)| {
                        !matches!(k, Term::Atom(a) if a.name == "__struct__" || a.name == "__exception__")
                    })
                    .collect()
            }
            None => {
                out.push_str("%{");
                pairs
            }
        };
        let keyword = pairs
            .iter()
            .all(|(k, _)| matches!(k, Term::Atom(a) if !a.name.starts_with("Elixir.")));
        (pairs, keyword)
    }

    fn key(out: &mut String, k: &Term) {
        key(out, k);
    }
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

/// A keyword key with its colon and space: `a: `, `"foo bar": `.
pub(super) fn key(out: &mut String, k: &Term) {
    let Term::Atom(a) = k else {
        printer::term::<Elixir>(out, k);
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
