//! One printer for both syntaxes: the shape of every term (tuples, lists, maps, binaries,
//! cuts) is written here once, and a [`Dialect`] supplies the tokens and the few forms where
//! Elixir and Erlang differ (atoms, charlists, structs and keyword lists, funs, pids).

use std::fmt::Write as _;

use eetf::Term;

use super::{cut, list_parts, map_pairs, more, standalone_cut, Cut, Style};

/// What one syntax prints its own way.
pub(super) trait Dialect {
    /// The style this dialect prints (for the cut markers).
    const STYLE: Style;
    /// What separates elements: `", "` or `","`.
    const COMMA: &'static str;
    /// What comes before an improper list's tail: `" | "` or `"|"`.
    const TAIL: &'static str;
    /// How a reference starts: `#Reference<0` or `#Ref<0`.
    const REFERENCE: &'static str;

    /// An atom: `:ok`, `Foo.Bar` / `ok`, `'Elixir.Foo.Bar'`.
    fn atom(out: &mut String, name: &str);
    /// A float, shortest round-trip form in the syntax's notation.
    fn float(value: f64) -> String;
    /// A pid of this node: `#PID<0.1.0>` / `<0.1.0>`.
    fn pid(out: &mut String, id: u32, serial: u32);
    /// `&Mod.fun/1` / `fun mod:fun/1`.
    fn external_fun(out: &mut String, module: &str, function: &str, arity: u8);
    /// A fun defined in `module`: `#Function<in Mod>` / `#Fun<mod>`.
    fn internal_fun(out: &mut String, module: &str);
    /// Writes a binary as text when this syntax shows it as text; `false` (nothing written)
    /// when it shows its bytes.
    fn text_binary(out: &mut String, bytes: &[u8]) -> bool;
    /// The last byte of a bitstring with its size in bits: `7::size(3)` / `7:3`.
    fn bits(out: &mut String, last: u8, bits: u8);
    /// Writes a proper list as a charlist when this syntax shows its elements as one;
    /// `false` (nothing written) otherwise.
    fn charlist(out: &mut String, elements: &[Term]) -> bool;
    /// Writes a keyword list's elements (`a: 1, b: 2`) when this syntax has them; `false`
    /// (nothing written) otherwise.
    fn keyword_list(out: &mut String, elements: &[Term]) -> bool;
    /// Opens a map (`%{`, `%Struct{`, `#{`) and returns the pairs to print and whether they
    /// print as keywords (`a: 1`).
    fn open_map<'a>(
        out: &mut String,
        pairs: Vec<(&'a Term, &'a Term)>,
    ) -> (Vec<(&'a Term, &'a Term)>, bool);
    /// A keyword key with what follows it: `a: `.
    fn key(out: &mut String, key: &Term);
}

/// Writes `t` in dialect `D`.
pub(super) fn term<D: Dialect>(out: &mut String, t: &Term) {
    if let Some(c) = cut(t) {
        standalone_cut(out, &c, D::STYLE);
        return;
    }
    match t {
        Term::Atom(a) => D::atom(out, &a.name),
        Term::FixInteger(i) => {
            let _ = write!(out, "{}", i.value);
        }
        Term::BigInteger(b) => {
            let _ = write!(out, "{}", b.value);
        }
        Term::Float(f) => out.push_str(&D::float(f.value)),
        Term::Pid(p) => D::pid(out, p.id, p.serial),
        Term::Port(p) => {
            let _ = write!(out, "#Port<0.{}>", p.id);
        }
        Term::Reference(r) => {
            out.push_str(D::REFERENCE);
            for n in r.id.iter().rev() {
                let _ = write!(out, ".{n}");
            }
            out.push('>');
        }
        Term::ExternalFun(f) => D::external_fun(out, &f.module.name, &f.function.name, f.arity),
        Term::InternalFun(f) => {
            let module = match &**f {
                eetf::InternalFun::Old { module, .. } | eetf::InternalFun::New { module, .. } => {
                    &module.name
                }
            };
            D::internal_fun(out, module);
        }
        Term::Binary(b) => binary::<D>(out, &b.bytes),
        Term::BitBinary(b) => bitstring::<D>(out, &b.bytes, b.tail_bits_size),
        Term::Tuple(tuple) => {
            out.push('{');
            let n = tuple.elements.len();
            for (i, e) in tuple.elements.iter().enumerate() {
                if i > 0 {
                    out.push_str(D::COMMA);
                }
                match cut(e) {
                    Some(Cut::Tuple(count)) if i + 1 == n => out.push_str(&more(count)),
                    _ => term::<D>(out, e),
                }
            }
            out.push('}');
        }
        Term::Map(m) => map::<D>(out, m),
        Term::List(_) | Term::ByteList(_) | Term::ImproperList(_) => list::<D>(out, t),
    }
}

fn list<D: Dialect>(out: &mut String, t: &Term) {
    let Some(parts) = list_parts(t) else {
        return;
    };
    if parts.elements.is_empty() && parts.tail.is_none() {
        out.push_str(if parts.cut { "[…]" } else { "[]" });
        return;
    }
    if parts.tail.is_none() && D::charlist(out, &parts.elements) {
        if parts.cut {
            out.push('…');
        }
        return;
    }
    out.push('[');
    if parts.tail.is_some() || !D::keyword_list(out, &parts.elements) {
        for (i, e) in parts.elements.iter().enumerate() {
            if i > 0 {
                out.push_str(D::COMMA);
            }
            term::<D>(out, e);
        }
    }
    if parts.cut {
        out.push_str(D::COMMA);
        out.push('…');
    }
    if let Some(tail) = parts.tail {
        out.push_str(D::TAIL);
        term::<D>(out, tail);
    }
    out.push(']');
}

fn map<D: Dialect>(out: &mut String, m: &eetf::Map) {
    let (pairs, omitted) = map_pairs(m);
    let (pairs, keyword) = D::open_map(out, pairs);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(D::COMMA);
        }
        if keyword {
            D::key(out, k);
        } else {
            term::<D>(out, k);
            out.push_str(" => ");
        }
        term::<D>(out, v);
    }
    if let Some(n) = omitted {
        if !pairs.is_empty() {
            out.push_str(D::COMMA);
        }
        out.push_str(&more(n));
    }
    out.push('}');
}

/// A binary as text when the dialect shows it so, else its bytes: `<<1, 2, 3>>`.
fn binary<D: Dialect>(out: &mut String, bytes: &[u8]) {
    if D::text_binary(out, bytes) {
        return;
    }
    out.push_str("<<");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(D::COMMA);
        }
        let _ = write!(out, "{b}");
    }
    out.push_str(">>");
}

fn bitstring<D: Dialect>(out: &mut String, bytes: &[u8], tail_bits: u8) {
    let Some((&last, whole)) = bytes.split_last() else {
        out.push_str("<<>>");
        return;
    };
    if tail_bits == 0 || tail_bits >= 8 {
        binary::<D>(out, bytes);
        return;
    }
    out.push_str("<<");
    for b in whole {
        let _ = write!(out, "{b}{}", D::COMMA);
    }
    D::bits(out, last, tail_bits);
    out.push_str(">>");
}
