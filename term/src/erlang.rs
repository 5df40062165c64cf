//! Terms as OTP 25 prints them with `io_lib:format("~0tp", [Term])` (one line; `+pc latin1`,
//! the default), with cuts marked.

use std::fmt::Write as _;

use eetf::Term;

use super::printer::{self, Dialect};
use super::{float, small_int, Style};

/// Words that are atoms only when quoted.
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
    "rem", "try", "when", "xor",
];

/// Erlang's `~0tp`.
pub(super) struct Erlang;

impl Dialect for Erlang {
    const STYLE: Style = Style::Erlang;
    const COMMA: &'static str = ",";
    const TAIL: &'static str = "|";
    const REFERENCE: &'static str = "#Ref<0";

    fn atom(out: &mut String, name: &str) {
        atom(out, name);
    }

    fn float(value: f64) -> String {
        float::erlang(value)
    }

    fn pid(out: &mut String, id: u32, serial: u32) {
        let _ = write!(out, "<0.{id}.{serial}>");
    }

    fn external_fun(out: &mut String, module: &str, function: &str, arity: u8) {
        out.push_str("fun ");
        atom(out, module);
        out.push(':');
        atom(out, function);
        let _ = write!(out, "/{arity}");
    }

    fn internal_fun(out: &mut String, module: &str) {
        out.push_str("#Fun<");
        out.push_str(module);
        out.push('>');
    }

    /// `<<"text">>` when its bytes are printable Latin-1 (or, when it is valid UTF-8, its
    /// characters are: then `<<"é"/utf8>>`).
    fn text_binary(out: &mut String, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return false;
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
        let Some((chars, utf8)) = text else {
            return false;
        };
        out.push_str("<<\"");
        for c in chars {
            escape(out, c, '"');
        }
        out.push_str(if utf8 { "\"/utf8>>" } else { "\">>" });
        true
    }

    fn bits(out: &mut String, last: u8, bits: u8) {
        let _ = write!(out, "{last}:{bits}");
    }

    /// `"abc"` when every element is a printable Latin-1 character.
    fn charlist(out: &mut String, elements: &[Term]) -> bool {
        let chars: Option<Vec<char>> = elements
            .iter()
            .map(|e| {
                small_int(e)
                    .and_then(|c| char::from_u32(c as u32))
                    .filter(|&c| latin1_printable(c))
            })
            .collect();
        let Some(chars) = chars else {
            return false;
        };
        out.push('"');
        for c in chars {
            escape(out, c, '"');
        }
        out.push('"');
        true
    }

    fn keyword_list(_out: &mut String, _elements: &[Term]) -> bool {
        false
    }

    fn open_map<'a>(
        out: &mut String,
        pairs: Vec<(&'a Term, &'a Term)>,
    ) -> (Vec<(&'a Term, &'a Term)>, bool) {
        out.push_str("#{");
        (pairs, false)
    }

    fn key(out: &mut String, key: &Term) {
        printer::term::<Erlang>(out, key);
        out.push_str(" => ");
    }
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
