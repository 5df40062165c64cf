//! Patterns' words: one tokenizer for both dialects, each token with the column it starts at.

use super::{Dialect, PatternError};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// `"..."`: an Elixir binary, an Erlang string (a list of characters).
    Str(String),
    /// `'...'`: an Elixir charlist, an Erlang quoted atom.
    Quoted(String),
    /// Elixir `:name` or `:"name"`.
    Atom(String),
    /// An identifier (`foo`, `Foo` in Erlang, `_`, `_x`, `valid?`).
    Ident(String),
    /// An Elixir alias, dotted: `Shop.Checkout`.
    Alias(String),
    /// An Elixir keyword key: `customer:` (the colon and the space after it consumed).
    Key(String),
    /// Punctuation and operators.
    Punct(&'static str),
    /// The end.
    End,
}

/// Operators and punctuation, longest first.
const PUNCT: &[&str] = &[
    "===", "!==", "=:=", "=/=", "<<", ">>", "<>", "=>", ":=", "==", "!=", "/=", "=<", "<=", ">=",
    "::", "%{", "#{", "(", ")", "{", "}", "[", "]", ",", "|", "<", ">", "/", ".", ":", "%", "#",
    "-", "+", ";", "^", "=",
];

/// The tokens of `text`, each with its column (1-based, in characters).
pub(crate) fn tokens(text: &str, dialect: Dialect) -> Result<Vec<(Tok, usize)>, PatternError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let error = |at: usize, message: String| PatternError::new(text, at + 1, message);
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let (tok, next) = number(&chars, i, dialect).map_err(|m| error(start, m))?;
            out.push((tok, start + 1));
            i = next;
            continue;
        }
        if c == '"' || c == '\'' {
            let (s, next) = quoted(&chars, i).map_err(|m| error(start, m))?;
            let tok = if c == '"' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            };
            out.push((tok, start + 1));
            i = next;
            continue;
        }
        if dialect == Dialect::Elixir && c == '?' && i + 1 < chars.len() {
            out.push((Tok::Int(chars[i + 1] as i128), start + 1));
            i += 2;
            continue;
        }
        if dialect == Dialect::Erlang && c == '$' && i + 1 < chars.len() {
            out.push((Tok::Int(chars[i + 1] as i128), start + 1));
            i += 2;
            continue;
        }
        if dialect == Dialect::Elixir && c == ':' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if next == '"' {
                let (s, end) = quoted(&chars, i + 1).map_err(|m| error(start, m))?;
                out.push((Tok::Atom(s), start + 1));
                i = end;
                continue;
            }
            if is_ident_start(next) {
                let end = ident_end(&chars, i + 1, true);
                out.push((Tok::Atom(chars[i + 1..end].iter().collect()), start + 1));
                i = end;
                continue;
            }
        }
        if is_ident_start(c) {
            let end = ident_end(&chars, i, dialect == Dialect::Elixir);
            let word: String = chars[i..end].iter().collect();
            i = end;
            if dialect == Dialect::Elixir && c.is_ascii_uppercase() {
                // An alias: capitalized segments joined by dots.
                let mut alias = word;
                while i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_uppercase() {
                    let end = ident_end(&chars, i + 1, false);
                    alias.push('.');
                    alias.extend(&chars[i + 1..end]);
                    i = end;
                }
                out.push((Tok::Alias(alias), start + 1));
                continue;
            }
            if dialect == Dialect::Elixir
                && i + 1 < chars.len()
                && chars[i] == ':'
                && chars[i + 1].is_whitespace()
            {
                out.push((Tok::Key(word), start + 1));
                i += 1;
                continue;
            }
            out.push((Tok::Ident(word), start + 1));
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        match PUNCT.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                out.push((Tok::Punct(p), start + 1));
                i += p.chars().count();
            }
            None => return Err(error(start, format!("unexpected `{c}`"))),
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// The end of an identifier from `i`; Elixir's may end in `?` or `!`.
fn ident_end(chars: &[char], mut i: usize, elixir: bool) -> usize {
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '@') {
        i += 1;
    }
    if elixir && i < chars.len() && (chars[i] == '?' || chars[i] == '!') {
        i += 1;
    }
    i
}

/// A number from `i`: `1_000`, `0x1F`, `16#1F` (Erlang), `1.5`, `2.0e3`.
fn number(chars: &[char], mut i: usize, dialect: Dialect) -> Result<(Tok, usize), String> {
    let start = i;
    let digits = |i: &mut usize, radix: u32| {
        let s = *i;
        while *i < chars.len() && (chars[*i].is_digit(radix) || chars[*i] == '_') {
            *i += 1;
        }
        chars[s..*i]
            .iter()
            .filter(|c| **c != '_')
            .collect::<String>()
    };
    if chars[i] == '0' && i + 1 < chars.len() && matches!(chars[i + 1], 'x' | 'b' | 'o') {
        let radix = match chars[i + 1] {
            'x' => 16,
            'b' => 2,
            _ => 8,
        };
        i += 2;
        let text = digits(&mut i, radix);
        let n = i128::from_str_radix(&text, radix).map_err(|_| "a number too large".to_string())?;
        return Ok((Tok::Int(n), i));
    }
    let int = digits(&mut i, 10);
    if dialect == Dialect::Erlang && i < chars.len() && chars[i] == '#' {
        let radix: u32 = int.parse().map_err(|_| "a bad radix".to_string())?;
        if !(2..=36).contains(&radix) {
            return Err(format!("radix {radix} is not between 2 and 36"));
        }
        i += 1;
        let text = digits(&mut i, radix);
        let n = i128::from_str_radix(&text, radix).map_err(|_| "a bad number".to_string())?;
        return Ok((Tok::Int(n), i));
    }
    if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
        i += 1;
        let frac = digits(&mut i, 10);
        let mut text = format!("{int}.{frac}");
        if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
            let mut j = i + 1;
            if j < chars.len() && (chars[j] == '-' || chars[j] == '+') {
                j += 1;
            }
            if j < chars.len() && chars[j].is_ascii_digit() {
                let sign_at = i + 1;
                i = j;
                let exp = digits(&mut i, 10);
                let sign = if chars[sign_at] == '-' { "-" } else { "" };
                text = format!("{text}e{sign}{exp}");
            }
        }
        let f: f64 = text.parse().map_err(|_| "a bad float".to_string())?;
        return Ok((Tok::Float(f), i));
    }
    let n: i128 = int.parse().map_err(|_| {
        format!(
            "`{}` is too large a number",
            chars[start..i].iter().collect::<String>()
        )
    })?;
    Ok((Tok::Int(n), i))
}

/// A quoted text from the quote at `i`, with escapes; and the position after it.
fn quoted(chars: &[char], i: usize) -> Result<(String, usize), String> {
    let quote = chars[i];
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            c if c == quote => return Ok((out, j + 1)),
            '\\' if j + 1 < chars.len() => {
                out.push(match chars[j + 1] {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    's' => ' ',
                    '0' => '\0',
                    'e' => '\u{1b}',
                    other => other,
                });
                j += 2;
            }
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(format!("this {quote} is never closed"))
}
