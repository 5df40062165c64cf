//! One recorded call as text: `Mod.fun(args) → result`, exceptions as banners, and the call's
//! line in a tree or table. The IEx helpers write the same text (`ElixirScope.Format`).

use eetf::Term;
use store::{Call, Class, Outcome};

use crate::text::{count, duration, shorten, ARGUMENTS_WIDTH, VALUE_WIDTH};
use term::Style;

/// The style of a call's values: its module's.
pub fn style(call: &Call) -> Style {
    Style::of_module(&call.module)
}

/// `Fixture.Basics.sum([1, 2, 3])` or `fixture_erl:parse(<<"x">>)`, each argument cut to
/// [`VALUE_WIDTH`] and all of them to [`ARGUMENTS_WIDTH`].
pub fn call_text(call: &Call) -> String {
    let style = style(call);
    let arguments = match term::decode(&call.args) {
        Ok(args) => arguments(&args, style),
        Err(e) => format!("<undecodable arguments: {e}>"),
    };
    format!(
        "{}({})",
        style.mf(&call.module, &call.function),
        shorten(&arguments, ARGUMENTS_WIDTH)
    )
}

/// The arguments between the parentheses, each cut to [`VALUE_WIDTH`].
pub fn arguments(args: &Term, style: Style) -> String {
    let each = argument_texts(args, style);
    each.join(style.comma())
}

/// Each argument printed and cut to [`VALUE_WIDTH`]; a cut argument list ends with `…`.
pub fn argument_texts(args: &Term, style: Style) -> Vec<String> {
    term::argument_texts(args, style)
        .into_iter()
        .map(|a| {
            if a == "…" {
                a
            } else {
                shorten(&a, VALUE_WIDTH)
            }
        })
        .collect()
}

/// `→ 6`, `** (ArgumentError) boom`, or `…` while the call runs.
pub fn outcome_text(call: &Call) -> String {
    match &call.end {
        None => "…".to_string(),
        Some(end) => match end.outcome {
            Outcome::Return => format!("→ {}", result_text(&end.value, style(call))),
            Outcome::Exception(class) => exception_text(&end.value, class, style(call)),
        },
    }
}

/// A returned value, cut to [`VALUE_WIDTH`].
pub fn result_text(value: &[u8], style: Style) -> String {
    shorten(&term::value(value, style), VALUE_WIDTH)
}

/// An exception's banner from its stored `{Reason, Stacktrace}`, cut to [`VALUE_WIDTH`]:
/// Elixir `** (KeyError) message` for an exception struct with a message, `** (Mod) %Mod{…}`
/// without one, `** (throw) value` for other reasons; Erlang `** error: badarg`.
pub fn exception_text(value: &[u8], class: Class, style: Style) -> String {
    let reason = match term::decode(value) {
        Ok(Term::Tuple(t)) if t.elements.len() == 2 => t.elements[0].clone(),
        Ok(other) => other,
        Err(e) => return format!("** ({}) <undecodable: {e}>", class.as_str()),
    };
    format!(
        "** {}",
        shorten(&term::banner(&reason, class.as_str(), style), VALUE_WIDTH)
    )
}

/// What follows a call in a line: `(12µs)`, `(3.0ms, 9,999 tail calls)`, `(running)`, and
/// for the root of a tree its pid.
pub fn details(call: &Call, pid: Option<&str>) -> String {
    let mut parts = vec![match call.duration_ns() {
        Some(ns) => duration(ns),
        None => "running".to_string(),
    }];
    let tail_calls = call.end.as_ref().map_or(0, |e| e.tail_calls);
    if tail_calls > 0 {
        parts.push(format!(
            "{} tail call{}",
            count(u64::from(tail_calls)),
            if tail_calls == 1 { "" } else { "s" }
        ));
    }
    if let Some(pid) = pid {
        parts.push(style(call).pid_text(pid));
    }
    format!("({})", parts.join(", "))
}

/// A call's line: `#42 Fixture.Basics.sum([1, 2, 3]) → 6 (12µs)`.
pub fn line(call: &Call, pid: Option<&str>) -> String {
    format!(
        "#{} {} {} {}",
        call.id,
        call_text(call),
        outcome_text(call),
        details(call, pid)
    )
}

#[cfg(test)]
mod tests {
    use eetf::{Atom, ImproperList, List, Term, Tuple};

    use super::*;

    fn int(i: i32) -> Term {
        eetf::FixInteger::from(i).into()
    }

    fn atom(name: &str) -> Term {
        Atom::from(name).into()
    }

    fn marker(kind: &str, detail: Term) -> Term {
        Tuple::from(vec![atom(term::CUT), atom(kind), detail]).into()
    }

    #[test]
    fn arguments_go_between_parentheses() {
        let args: Term = List::from(vec![int(1), List::from(vec![int(2)]).into()]).into();
        assert_eq!(arguments(&args, Style::Elixir), "1, [2]");
        assert_eq!(arguments(&args, Style::Erlang), "1,[2]");
        let cut_args: Term =
            ImproperList::from((vec![int(1)], marker("list", atom("more")))).into();
        assert_eq!(arguments(&cut_args, Style::Elixir), "1, …");
        let hidden: Term = List::from(vec![int(1), marker("redacted", atom("argument"))]).into();
        assert_eq!(arguments(&hidden, Style::Elixir), "1, [REDACTED]");
        assert_eq!(Style::of_module("Elixir.Foo"), Style::Elixir);
        assert_eq!(Style::of_module("lists"), Style::Erlang);
        assert_eq!(
            Style::Elixir.mfa("Elixir.Foo.Bar", "baz?", 1),
            "Foo.Bar.baz?/1"
        );
        assert_eq!(Style::Elixir.mfa("lists", "reverse", 1), ":lists.reverse/1");
        assert_eq!(
            Style::Erlang.mfa("Elixir.Foo", "if", 0),
            "'Elixir.Foo':'if'/0"
        );
    }
}
