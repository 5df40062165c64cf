//! Recorded calls and values as JSON for the page: one-line texts as the CLI prints them, and
//! each value's collapsible structure ([`term::outline`]).

use eetf::Term;
use serde_json::{json, Value};
use store::{Call, Outcome, Run};
use term::{Outline, Style};

/// The longest one-line text of a call in lists and slices, in characters.
pub const LINE_WIDTH: usize = 240;

/// `text` cut to `width` characters, ending in `…` when cut.
pub fn shorten(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A value's structure as JSON: `{kind, text}` for a leaf, plus `open`, `close` and `items`
/// (`[{key?, value}]`) for a container.
pub fn outline_json(outline: &Outline) -> Value {
    let mut v = json!({ "kind": outline.kind, "text": outline.text });
    if !outline.items.is_empty() {
        v["open"] = json!(outline.open);
        v["close"] = json!(outline.close);
        v["items"] = Value::Array(
            outline
                .items
                .iter()
                .map(|item| match &item.key {
                    Some(key) => json!({ "key": key, "value": outline_json(&item.value) }),
                    None => json!({ "value": outline_json(&item.value) }),
                })
                .collect(),
        );
    }
    v
}

/// A stored value's structure, or a note that it could not be decoded.
pub fn value_json(bytes: &[u8], style: Style) -> Value {
    match term::decode(bytes) {
        Ok(t) => outline_json(&term::outline(&t, style)),
        Err(e) => {
            json!({ "kind": "undecodable", "text": format!("<undecodable value ({} bytes): {e}>", bytes.len()) })
        }
    }
}

/// The arguments of a call, each as a value (a cut argument list ends with a cut).
pub fn arguments_json(call: &Call, style: Style) -> Value {
    let args = match term::decode(&call.args) {
        Ok(args) => args,
        Err(e) => {
            return json!([{ "kind": "undecodable", "text": format!("<undecodable arguments: {e}>") }])
        }
    };
    let Some(parts) = term::list_parts(&args) else {
        return json!([outline_json(&term::outline(&args, style))]);
    };
    let mut out: Vec<Value> = parts
        .elements
        .iter()
        .map(|a| outline_json(&term::outline(a, style)))
        .collect();
    if parts.cut {
        out.push(json!({ "kind": "cut", "text": "…" }));
    }
    Value::Array(out)
}

/// `Mod.fun(args)` on one line.
fn call_head(call: &Call, style: Style) -> String {
    let args = match term::decode(&call.args) {
        Ok(args) => match term::list_parts(&args) {
            Some(parts) => {
                let mut each: Vec<String> = parts.elements.iter().map(|a| style.term(a)).collect();
                if parts.cut {
                    each.push("…".to_string());
                }
                each.join(style.comma())
            }
            None => style.term(&args),
        },
        Err(e) => format!("<undecodable arguments: {e}>"),
    };
    format!("{}({args})", style.mf(&call.module, &call.function))
}

/// The reason and stack trace of an exception's stored `{Reason, Stacktrace}`.
fn reason_and_trace(value: &[u8]) -> Option<(Term, Option<Term>)> {
    match term::decode(value).ok()? {
        Term::Tuple(t) if t.elements.len() == 2 => {
            let mut e = t.elements.into_iter();
            let reason = e.next()?;
            Some((reason, e.next()))
        }
        other => Some((other, None)),
    }
}

/// `→ result`, `** (Error) message`, or `…` while it runs.
pub fn outcome_text(call: &Call, style: Style) -> String {
    match &call.end {
        None => "…".to_string(),
        Some(end) => match end.outcome {
            Outcome::Return => format!("→ {}", term::value(&end.value, style)),
            Outcome::Exception(class) => match reason_and_trace(&end.value) {
                Some((reason, _)) => format!("** {}", term::banner(&reason, class.as_str(), style)),
                None => format!("** ({}) <undecodable>", class.as_str()),
            },
        },
    }
}

/// How a call ended, in a word: `returned`, `raised` or `running`.
pub fn outcome_word(call: &Call) -> &'static str {
    match call.end.as_ref().map(|e| e.outcome) {
        None => "running",
        Some(Outcome::Return) => "returned",
        Some(Outcome::Exception(_)) => "raised",
    }
}

/// A call in lists: ids, process, function, times relative to the run's start, and its
/// one-line text (cut to [`LINE_WIDTH`]).
pub fn call_summary(call: &Call, run: &Run, pid_text: &str) -> Value {
    let style = Style::of_module(&call.module);
    let line = format!("{} {}", call_head(call, style), outcome_text(call, style));
    json!({
        "id": call.id,
        "parent": call.parent,
        "pid": pid_text,
        "module": call.module,
        "function": call.function,
        "arity": call.arity,
        "name": style.mfa(&call.module, &call.function, call.arity),
        "start_ns": call.start.saturating_sub(run.info.monotonic_origin_ns),
        "started_unix_ns": run.info.unix_ns(call.start),
        "duration_ns": call.duration_ns(),
        "outcome": outcome_word(call),
        "line": shorten(&line, LINE_WIDTH),
    })
}

/// Everything about one call's values: arguments, result or exception (class, banner,
/// reason and stack trace), each with its structure.
pub fn call_values(call: &Call) -> Value {
    let style = Style::of_module(&call.module);
    let mut v = json!({
        "style": match style { Style::Elixir => "elixir", Style::Erlang => "erlang" },
        "args": arguments_json(call, style),
    });
    if let Some(end) = &call.end {
        v["tail_calls"] = json!(end.tail_calls);
        match end.outcome {
            Outcome::Return => v["result"] = value_json(&end.value, style),
            Outcome::Exception(class) => {
                let (reason, trace) = match reason_and_trace(&end.value) {
                    Some((r, t)) => (Some(r), t),
                    None => (None, None),
                };
                v["exception"] = json!({
                    "class": class.as_str(),
                    "banner": reason.as_ref().map(|r| term::banner(r, class.as_str(), style)),
                    "reason": reason.as_ref().map(|r| outline_json(&term::outline(r, style))),
                    "stacktrace": trace.as_ref().map(|t| stacktrace(t, style)).unwrap_or_default(),
                });
            }
        }
    }
    v
}

/// A stack trace's entries, one text each: `lib/shop.ex:7: Shop.fun/1` (Elixir) or
/// `shop:fun/1 (shop.erl, line 7)` (Erlang).
pub fn stacktrace(trace: &Term, style: Style) -> Vec<String> {
    let Some(parts) = term::list_parts(trace) else {
        return vec![style.term(trace)];
    };
    parts
        .elements
        .iter()
        .map(|entry| match entry {
            Term::Tuple(t) if t.elements.len() == 4 => {
                let (m, f) = match (&t.elements[0], &t.elements[1]) {
                    (Term::Atom(m), Term::Atom(f)) => (m.name.as_str(), f.name.as_str()),
                    _ => return style.term(entry),
                };
                let arity = match &t.elements[2] {
                    Term::FixInteger(a) => a.value.to_string(),
                    other => term::list_parts(other)
                        .map_or_else(|| style.term(other), |p| p.elements.len().to_string()),
                };
                let function = format!("{}/{arity}", style.mf(m, f));
                let (file, line) = location(&t.elements[3]);
                match (style, file) {
                    (Style::Elixir, Some(file)) => match line {
                        Some(line) => format!("{file}:{line}: {function}"),
                        None => format!("{file}: {function}"),
                    },
                    (Style::Erlang, Some(file)) => match line {
                        Some(line) => format!("{function} ({file}, line {line})"),
                        None => format!("{function} ({file})"),
                    },
                    (_, None) => function,
                }
            }
            other => style.term(other),
        })
        .collect()
}

/// The `file` and `line` of a stack trace entry's location list.
fn location(loc: &Term) -> (Option<String>, Option<i32>) {
    let (mut file, mut line) = (None, None);
    if let Some(parts) = term::list_parts(loc) {
        for e in &parts.elements {
            if let Term::Tuple(t) = e {
                match (t.elements.first(), t.elements.get(1)) {
                    (Some(Term::Atom(k)), Some(v)) if k.name == "file" => {
                        file = term::list_parts(v).map(|p| {
                            p.elements
                                .iter()
                                .filter_map(|c| match c {
                                    Term::FixInteger(i) => char::from_u32(i.value as u32),
                                    _ => None,
                                })
                                .collect::<String>()
                        });
                    }
                    (Some(Term::Atom(k)), Some(Term::FixInteger(v))) if k.name == "line" => {
                        line = Some(v.value);
                    }
                    _ => {}
                }
            }
        }
    }
    (file, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_counts_characters_not_bytes() {
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn stack_trace_entries_read_like_elixir_prints_them() {
        use eetf::{Atom, ByteList, FixInteger, List, Tuple};
        let loc = List::from(vec![
            Term::from(Tuple::from(vec![
                Term::from(Atom::from("file")),
                Term::from(ByteList::from(b"lib/shop.ex".to_vec())),
            ])),
            Term::from(Tuple::from(vec![
                Term::from(Atom::from("line")),
                Term::from(FixInteger::from(7)),
            ])),
        ]);
        let entry = Term::from(Tuple::from(vec![
            Term::from(Atom::from("Elixir.Shop")),
            Term::from(Atom::from("price")),
            Term::from(FixInteger::from(1)),
            Term::from(loc),
        ]));
        let trace = Term::from(List::from(vec![entry]));
        assert_eq!(
            stacktrace(&trace, Style::Elixir),
            ["lib/shop.ex:7: Shop.price/1"]
        );
        assert_eq!(
            stacktrace(&trace, Style::Erlang),
            ["'Elixir.Shop':price/1 (lib/shop.ex, line 7)"]
        );
    }
}
