//! Recorded values as text (shared by the CLI, the runtime's IEx queries and the analyses): Elixir's `inspect` or Erlang's `~p`, with what the capture cut
//! marked the same way the IEx helpers mark it.
//!
//! Values are stored in the external term format, cut by the runtime's encoder where its caps
//! applied (`{'$elixir_scope_cut', Kind, Detail}` markers, see docs/ARCHITECTURE.md). They are
//! decoded with `beam_format::etf::decode` (guarded: outside input never panics) and printed
//! in the style of the module that produced them ([`Style::of_module`]): Elixir modules'
//! values as `inspect/2` prints them on one line, Erlang modules' as `io_lib:format("~0tp")`.
//!
//! | cut | Elixir | Erlang |
//! |---|---|---|
//! | list (a last element, or an improper tail in recordings before 0.1's issue 12) | `[1, 2, …]`, `'abc'…` | `[1,2,…]`, `"abc"…` |
//! | struct field not captured | `%User{name: "ada", age: …}` | `#{age => …,…}` |
//! | redacted (by key, struct field, rule or secret value) | `[REDACTED]` | `[REDACTED]` |
//! | tuple | `{1, 2, …(3 more)}` | `{1,2,…(3 more)}` |
//! | map | `%{a: 1, …(3 more)}` | `#{a => 1,…(3 more)}` |
//! | binary | `"abc"…(1000 bytes)` | `<<"abc">>…(1000 bytes)` |
//! | too deep | `[…]`, `{…}`, `%{…}` | `[…]`, `{…}`, `#{…}` |
//! | bitstring | `<<…>>` | `<<…>>` |
//! | big integer | `…(big integer)` | `…(big integer)` |
//! | fun | its text, `#Fun<m.1.2>` | the same |
//! | stack trace not recorded (an attached call's exception) | `(no stack trace: attached call)` | the same |
//! | other | `…` | `…` |

pub mod banner;
mod elixir;
mod erlang;
pub mod float;
pub mod order;
pub mod outline;
mod printer;

pub use banner::banner;
pub use outline::{outline, Item, Outline};

use eetf::Term;

/// The atom that starts every cut marker.
pub const CUT: &str = "$elixir_scope_cut";

/// How to print terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// `inspect/2`: `%{a: [1, 2]}`, `"text"`, `Foo.Bar`, `#PID<0.1.0>`.
    Elixir,
    /// `~p`: `#{a => [1,2]}`, `<<"text">>`, `'Elixir.Foo.Bar'`, `<0.1.0>`.
    Erlang,
}

impl Style {
    /// Elixir for modules named `Elixir.*`, Erlang for the others.
    pub fn of_module(module: &str) -> Style {
        if module == "Elixir" || module.starts_with("Elixir.") {
            Style::Elixir
        } else {
            Style::Erlang
        }
    }

    /// Prints one term.
    pub fn term(self, term: &Term) -> String {
        let mut out = String::new();
        match self {
            Style::Elixir => printer::term::<elixir::Elixir>(&mut out, term),
            Style::Erlang => printer::term::<erlang::Erlang>(&mut out, term),
        }
        out
    }

    /// Prints an atom as a module name: `Foo.Bar`, `:lists` / `'Elixir.Foo.Bar'`, `lists`.
    pub fn module(self, module: &str) -> String {
        let mut out = String::new();
        match self {
            Style::Elixir => elixir::atom(&mut out, module),
            Style::Erlang => erlang::atom(&mut out, module),
        }
        out
    }

    /// Prints a function name as it follows a module: `sum`, `"odd name"` / `sum`, `'odd name'`.
    pub fn function(self, function: &str) -> String {
        let mut out = String::new();
        match self {
            Style::Elixir => elixir::function_name(&mut out, function),
            Style::Erlang => erlang::atom(&mut out, function),
        }
        out
    }

    /// `Mod.fun` or `mod:fun`.
    pub fn mf(self, module: &str, function: &str) -> String {
        let separator = match self {
            Style::Elixir => ".",
            Style::Erlang => ":",
        };
        format!(
            "{}{separator}{}",
            self.module(module),
            self.function(function)
        )
    }

    /// `Mod.fun/1` or `mod:fun/1`.
    pub fn mfa(self, module: &str, function: &str, arity: u8) -> String {
        format!("{}/{arity}", self.mf(module, function))
    }

    /// What separates elements: `", "` or `","`.
    pub fn comma(self) -> &'static str {
        match self {
            Style::Elixir => ", ",
            Style::Erlang => ",",
        }
    }

    /// A pid from its text `<0.110.0>`: `#PID<0.110.0>` or `<0.110.0>`.
    pub fn pid_text(self, text: &str) -> String {
        match self {
            Style::Elixir => format!("#PID{text}"),
            Style::Erlang => text.to_string(),
        }
    }
}

/// A stored value decoded, or why it could not be.
pub fn decode(bytes: &[u8]) -> Result<Term, String> {
    beam_format::etf::decode(bytes).map_err(|e| e.to_string())
}

/// A stored value printed, or a note saying it could not be decoded.
pub fn value(bytes: &[u8], style: Style) -> String {
    match decode(bytes) {
        Ok(term) => style.term(&term),
        Err(e) => format!("<undecodable value ({} bytes): {e}>", bytes.len()),
    }
}

/// What a cut marker says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cut<'a> {
    /// The rest of a list.
    List,
    /// The rest of a tuple: how many elements.
    Tuple(&'a Term),
    /// The rest of a map: how many pairs.
    Map(&'a Term),
    /// A long binary: its size and the prefix kept.
    Binary { size: &'a Term, prefix: &'a Term },
    /// A bitstring.
    Bitstring,
    /// A list, tuple or map nested too deep.
    Depth(&'a str),
    /// An integer of 2^1024 or more.
    Integer,
    /// A fun, with its text.
    Fun(&'a Term),
    /// A struct field whose value was not captured.
    Field,
    /// A value redacted: never recorded.
    Redacted,
    /// An exception's stack trace, never recorded: the VM's call trace, through which an
    /// attached call was recorded, gives none.
    NoStacktrace,
    /// Anything else.
    Other,
}

/// How a redacted value prints, in every style (and in IEx, `ElixirScope.Format`).
pub const REDACTED: &str = "[REDACTED]";

/// How the stack trace of an attached call's exception prints (it was never recorded), in
/// every style (and in IEx, `ElixirScope.Format`).
pub const NO_STACKTRACE: &str = "(no stack trace: attached call)";

/// The cut marker this term is, if it is one.
pub(crate) fn cut(term: &Term) -> Option<Cut<'_>> {
    let Term::Tuple(t) = term else {
        return None;
    };
    let [Term::Atom(tag), Term::Atom(kind), detail] = t.elements.as_slice() else {
        return None;
    };
    if tag.name != CUT {
        return None;
    }
    Some(match (kind.name.as_str(), detail) {
        ("list", _) => Cut::List,
        ("tuple", n) => Cut::Tuple(n),
        ("map", n) => Cut::Map(n),
        ("binary", Term::Tuple(sp)) if sp.elements.len() == 2 => Cut::Binary {
            size: &sp.elements[0],
            prefix: &sp.elements[1],
        },
        ("bitstring", _) => Cut::Bitstring,
        ("depth", Term::Atom(kind)) => Cut::Depth(kind.name.as_str()),
        ("integer", _) => Cut::Integer,
        ("fun", text) => Cut::Fun(text),
        ("field", _) => Cut::Field,
        // `hidden`: arguments hidden by a rule, as recorded before redaction had a name.
        ("redacted" | "hidden", _) => Cut::Redacted,
        ("stacktrace", _) => Cut::NoStacktrace,
        _ => Cut::Other,
    })
}

/// The count a tuple or map cut carries, as text.
pub(crate) fn more(n: &Term) -> String {
    match n {
        Term::FixInteger(i) => format!("…({} more)", i.value),
        Term::BigInteger(b) => format!("…({} more)", b.value),
        _ => "…".to_string(),
    }
}

/// A cut marker on its own (not as a list tail, a tuple's last element or a map pair).
fn standalone_cut(out: &mut String, cut: &Cut<'_>, style: Style) {
    match cut {
        Cut::List => out.push_str("[…]"),
        Cut::Tuple(n) | Cut::Map(n) => out.push_str(&more(n)),
        Cut::Binary { size, prefix } => {
            out.push_str(&style.term(prefix));
            match size {
                Term::FixInteger(i) => out.push_str(&format!("…({} bytes)", i.value)),
                Term::BigInteger(b) => out.push_str(&format!("…({} bytes)", b.value)),
                _ => out.push('…'),
            }
        }
        Cut::Bitstring => out.push_str("<<…>>"),
        Cut::Depth("tuple") => out.push_str("{…}"),
        Cut::Depth("map") => out.push_str(match style {
            Style::Elixir => "%{…}",
            Style::Erlang => "#{…}",
        }),
        Cut::Depth(_) => out.push_str("[…]"),
        Cut::Integer => out.push_str("…(big integer)"),
        Cut::Fun(Term::Binary(text)) => out.push_str(&String::from_utf8_lossy(&text.bytes)),
        Cut::Redacted => out.push_str(REDACTED),
        Cut::NoStacktrace => out.push_str(NO_STACKTRACE),
        Cut::Fun(_) | Cut::Field | Cut::Other => out.push('…'),
    }
}

/// A call's arguments (stored as one list) printed one by one; a list the capture cut ends
/// with `…`, an improper tail (older recordings) with `| tail`. Not a list: the value whole.
pub fn argument_texts(args: &Term, style: Style) -> Vec<String> {
    let Some(parts) = list_parts(args) else {
        return vec![style.term(args)];
    };
    let mut out: Vec<String> = parts.elements.iter().map(|a| style.term(a)).collect();
    if parts.cut {
        out.push("…".to_string());
    }
    if let Some(tail) = parts.tail {
        out.push(format!("| {}", style.term(tail)));
    }
    out
}

/// A list's parts: elements, whether a list cut ends it, and any other improper tail.
pub struct ListParts<'a> {
    /// The elements before any cut or tail (strings' characters as integers).
    pub elements: Vec<Term>,
    /// Whether the capture cut the list (its last element is a list cut marker).
    pub cut: bool,
    /// An improper tail, if any.
    pub tail: Option<&'a Term>,
}

/// A list's parts (a string, `Term::ByteList`, as its characters), or `None` for a non-list.
pub fn list_parts(term: &Term) -> Option<ListParts<'_>> {
    match term {
        Term::List(l) => {
            // A cut list ends in the marker.
            let cut_at = l
                .elements
                .last()
                .filter(|last| matches!(cut(last), Some(Cut::List)))
                .map(|_| l.elements.len() - 1);
            Some(ListParts {
                elements: l.elements[..cut_at.unwrap_or(l.elements.len())].to_vec(),
                cut: cut_at.is_some(),
                tail: None,
            })
        }
        Term::ByteList(b) => Some(ListParts {
            elements: b
                .bytes
                .iter()
                .map(|&c| Term::from(eetf::FixInteger::from(c as i32)))
                .collect(),
            cut: false,
            tail: None,
        }),
        Term::ImproperList(l) => {
            let is_cut = matches!(cut(&l.last), Some(Cut::List));
            Some(ListParts {
                elements: l.elements.clone(),
                cut: is_cut,
                tail: (!is_cut).then_some(&*l.last),
            })
        }
        _ => None,
    }
}

/// A map's pairs in term order, without a cut pair, and the cut's count if there was one.
pub(crate) fn map_pairs(map: &eetf::Map) -> (Vec<(&Term, &Term)>, Option<&Term>) {
    let mut pairs: Vec<(&Term, &Term)> = Vec::with_capacity(map.map.len());
    let mut omitted = None;
    for (k, v) in &map.map {
        if let (Term::Atom(a), Some(Cut::Map(n))) = (k, cut(v)) {
            if a.name == CUT {
                omitted = Some(n);
                continue;
            }
        }
        pairs.push((k, v));
    }
    pairs.sort_by(|a, b| order::compare(a.0, b.0));
    (pairs, omitted)
}

/// Integers that are characters, for string checks.
pub(crate) fn small_int(term: &Term) -> Option<i64> {
    match term {
        Term::FixInteger(i) => Some(i64::from(i.value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
