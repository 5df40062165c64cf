//! An exception's one-line banner, as IEx and the CLI write it after `** `.

use eetf::Term;

use crate::Style;

/// The banner of an exception of `class` (`error`, `throw`, `exit`) with `reason`, without
/// its `** ` and without shortening: Elixir `(KeyError) message` for an exception struct with
/// a binary message, `(Mod) %Mod{…}` without one, `(throw) value` for other reasons; Erlang
/// `error: badarg`.
pub fn banner(reason: &Term, class: &str, style: Style) -> String {
    if style == Style::Erlang {
        return format!("{class}: {}", style.term(reason));
    }
    if let (true, Some((module, message))) = (class == "error", exception_struct(reason)) {
        let module = style.module(&module);
        return match message {
            Some(message) => format!("({module}) {message}"),
            None => format!("({module}) {}", style.term(reason)),
        };
    }
    format!("({class}) {}", style.term(reason))
}

/// An Elixir exception's module and message (a binary `message` field, newlines as spaces).
fn exception_struct(reason: &Term) -> Option<(String, Option<String>)> {
    let Term::Map(map) = reason else {
        return None;
    };
    let field = |name: &str| {
        map.map.iter().find_map(|(k, v)| match k {
            Term::Atom(a) if a.name == name => Some(v),
            _ => None,
        })
    };
    let is_exception = matches!(field("__exception__"), Some(Term::Atom(a)) if a.name == "true");
    let Some(Term::Atom(module)) = field("__struct__") else {
        return None;
    };
    if !is_exception {
        return None;
    }
    let message = match field("message") {
        Some(Term::Binary(b)) => std::str::from_utf8(&b.bytes)
            .ok()
            .map(|m| m.replace('\n', " ")),
        _ => None,
    };
    Some((module.name.clone(), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eetf::{Atom, Binary, Map};

    #[test]
    fn elixir_exceptions_read_as_iex_writes_them() {
        let reason = Term::from(Map::from([
            (
                Term::from(Atom::from("__struct__")),
                Term::from(Atom::from("Elixir.ArgumentError")),
            ),
            (
                Term::from(Atom::from("__exception__")),
                Term::from(Atom::from("true")),
            ),
            (
                Term::from(Atom::from("message")),
                Term::from(Binary::from(b"bad\ncode".to_vec())),
            ),
        ]));
        assert_eq!(
            banner(&reason, "error", Style::Elixir),
            "(ArgumentError) bad code"
        );
        let atom = Term::from(Atom::from("badarg"));
        assert_eq!(banner(&atom, "error", Style::Erlang), "error: badarg");
        assert_eq!(banner(&atom, "throw", Style::Elixir), "(throw) :badarg");
    }
}
