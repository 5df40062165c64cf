//! A value laid out for display with collapsible structure: each container (list, tuple,
//! map, struct) is a node with its brackets and its elements, each element printed in full
//! by [`Style::term`], so a viewer shows a value folded on one line and unfolds it level by
//! level. The capture's cut markers appear as the one-line printer shows them (`…`,
//! `…(3 more)`, `[REDACTED]`): this module decides only where lines break, never how a value
//! reads.

use eetf::Term;

use crate::{cut, list_parts, map_pairs, more, Cut, Style};

/// Containers nested deeper than this are shown as their text only.
pub const MAX_DEPTH: usize = 32;

/// At most this many nodes are laid out per value; the rest are shown as text only.
pub const MAX_NODES: usize = 5_000;

/// One value: its text on one line, and for a container its brackets and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    /// What it is: `list`, `tuple`, `map`, `struct`, `atom`, `integer`, `float`, `binary`,
    /// `bitstring`, `pid`, `port`, `reference`, `fun`, `cut`.
    pub kind: &'static str,
    /// The value on one line, as [`Style::term`] prints it.
    pub text: String,
    /// For a container: what opens it (`[`, `{`, `%{`, `%User{`, `#{`).
    pub open: String,
    /// For a container: what closes it.
    pub close: String,
    /// For a container: its elements in display order (empty for a leaf, or a container
    /// beyond [`MAX_DEPTH`] or [`MAX_NODES`]).
    pub items: Vec<Item>,
}

/// An element of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What precedes it: a map key with its separator (`name: `, `"k" => `, `k => `), the
    /// improper tail's `| `, or nothing.
    pub key: Option<String>,
    /// The element.
    pub value: Outline,
}

/// Lays out `term` in `style` (see the module documentation).
pub fn outline(term: &Term, style: Style) -> Outline {
    let mut budget = MAX_NODES;
    node(term, style, 0, &mut budget)
}

fn leaf(kind: &'static str, text: String) -> Outline {
    Outline {
        kind,
        text,
        open: String::new(),
        close: String::new(),
        items: Vec::new(),
    }
}

fn cut_item(text: String) -> Item {
    Item {
        key: None,
        value: leaf("cut", text),
    }
}

fn node(term: &Term, style: Style, depth: usize, budget: &mut usize) -> Outline {
    *budget = budget.saturating_sub(1);
    let text = style.term(term);
    if cut(term).is_some() {
        return leaf("cut", text);
    }
    let kind = kind_of(term);
    let container = matches!(kind, "list" | "tuple" | "map");
    if !container || depth >= MAX_DEPTH || *budget == 0 {
        return leaf(kind, text);
    }
    let child = |t: &Term, budget: &mut usize| node(t, style, depth + 1, budget);
    match term {
        Term::Tuple(tuple) if !tuple.elements.is_empty() => {
            let n = tuple.elements.len();
            let mut items = Vec::with_capacity(n);
            for (i, e) in tuple.elements.iter().enumerate() {
                match cut(e) {
                    Some(Cut::Tuple(count)) if i + 1 == n => items.push(cut_item(more(count))),
                    _ => items.push(Item {
                        key: None,
                        value: child(e, budget),
                    }),
                }
            }
            container_node("tuple", text, "{", "}", items)
        }
        Term::Map(map) => {
            let (pairs, omitted) = map_pairs(map);
            let module = pairs.iter().find_map(|(k, v)| match (k, v) {
                (Term::Atom(k), Term::Atom(v)) if k.name == "__struct__" && v.name != "nil" => {
                    Some(v.name.clone())
                }
                _ => None,
            });
            let pairs: Vec<(&Term, &Term)> = match (&module, style) {
                (Some(_), Style::Elixir) => pairs
                    .into_iter()
                    .filter(|(k, _)| {
                        !matches!(k, Term::Atom(a) if a.name == "__struct__" || a.name == "__exception__")
                    })
                    .collect(),
                _ => pairs,
            };
            if pairs.is_empty() && omitted.is_none() {
                return leaf("map", text);
            }
            let keyword = style == Style::Elixir
                && pairs
                    .iter()
                    .all(|(k, _)| matches!(k, Term::Atom(a) if !a.name.starts_with("Elixir.")));
            let mut items = Vec::with_capacity(pairs.len() + 1);
            for (k, v) in pairs {
                let key = if keyword {
                    let mut out = String::new();
                    crate::elixir::key(&mut out, k);
                    out
                } else {
                    format!("{} => ", style.term(k))
                };
                items.push(Item {
                    key: Some(key),
                    value: child(v, budget),
                });
            }
            if let Some(n) = omitted {
                items.push(cut_item(more(n)));
            }
            let (kind, open) = match (&module, style) {
                (Some(m), Style::Elixir) => ("struct", format!("%{}{{", style.module(m))),
                (_, Style::Elixir) => ("map", "%{".to_string()),
                (_, Style::Erlang) => ("map", "#{".to_string()),
            };
            container_node(kind, text, &open, "}", items)
        }
        _ => {
            // Lists: strings, charlists and empty lists stay on one line.
            if !text.starts_with('[') || text == "[]" || text == "[…]" {
                return leaf("list", text);
            }
            let Some(parts) = list_parts(term) else {
                return leaf("list", text);
            };
            let keyword = style == Style::Elixir
                && parts.tail.is_none()
                && crate::elixir::is_keyword(&parts.elements);
            let mut items = Vec::with_capacity(parts.elements.len() + 2);
            for e in &parts.elements {
                match (keyword, e) {
                    (true, Term::Tuple(pair)) => {
                        let mut key = String::new();
                        crate::elixir::key(&mut key, &pair.elements[0]);
                        items.push(Item {
                            key: Some(key),
                            value: child(&pair.elements[1], budget),
                        });
                    }
                    _ => items.push(Item {
                        key: None,
                        value: child(e, budget),
                    }),
                }
            }
            if parts.cut {
                items.push(cut_item("…".to_string()));
            }
            if let Some(tail) = parts.tail {
                items.push(Item {
                    key: Some("| ".to_string()),
                    value: child(tail, budget),
                });
            }
            container_node("list", text, "[", "]", items)
        }
    }
}

fn container_node(
    kind: &'static str,
    text: String,
    open: &str,
    close: &str,
    items: Vec<Item>,
) -> Outline {
    Outline {
        kind,
        text,
        open: open.to_string(),
        close: close.to_string(),
        items,
    }
}

fn kind_of(term: &Term) -> &'static str {
    match term {
        Term::Atom(_) => "atom",
        Term::FixInteger(_) | Term::BigInteger(_) => "integer",
        Term::Float(_) => "float",
        Term::Pid(_) => "pid",
        Term::Port(_) => "port",
        Term::Reference(_) => "reference",
        Term::ExternalFun(_) | Term::InternalFun(_) => "fun",
        Term::Binary(_) => "binary",
        Term::BitBinary(_) => "bitstring",
        Term::Tuple(_) => "tuple",
        Term::Map(_) => "map",
        Term::List(_) | Term::ByteList(_) | Term::ImproperList(_) => "list",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &[u8]) -> Term {
        crate::decode(text).unwrap()
    }

    /// `%{a: [1, 2], b: {:ok, "x"}}` in the external term format, built with eetf.
    fn sample() -> Term {
        use eetf::{Atom, Binary, FixInteger, List, Map, Tuple};
        let list = List::from(vec![
            Term::from(FixInteger::from(1)),
            Term::from(FixInteger::from(2)),
        ]);
        let tuple = Tuple::from(vec![
            Term::from(Atom::from("ok")),
            Term::from(Binary::from(b"x".to_vec())),
        ]);
        Term::from(Map::from([
            (Term::from(Atom::from("a")), Term::from(list)),
            (Term::from(Atom::from("b")), Term::from(tuple)),
        ]))
    }

    #[test]
    fn a_map_unfolds_into_keyword_keys_and_printed_elements() {
        let o = outline(&sample(), Style::Elixir);
        assert_eq!(o.kind, "map");
        assert_eq!(o.text, "%{a: [1, 2], b: {:ok, \"x\"}}");
        assert_eq!((o.open.as_str(), o.close.as_str()), ("%{", "}"));
        let keys: Vec<_> = o.items.iter().map(|i| i.key.clone().unwrap()).collect();
        assert_eq!(keys, ["a: ", "b: "]);
        assert_eq!(o.items[0].value.text, "[1, 2]");
        assert_eq!(o.items[0].value.items.len(), 2);
        assert_eq!(o.items[1].value.items[1].value.text, "\"x\"");
        assert_eq!(o.items[1].value.items[1].value.kind, "binary");
    }

    #[test]
    fn erlang_style_uses_arrows_and_its_own_text() {
        let o = outline(&sample(), Style::Erlang);
        assert_eq!(o.open, "#{");
        assert_eq!(o.items[0].key.as_deref(), Some("a => "));
        assert_eq!(o.items[1].value.text, "{ok,<<\"x\">>}");
    }

    #[test]
    fn cut_markers_read_as_the_printer_shows_them() {
        use eetf::{Atom, FixInteger, List, Tuple};
        let marker = |kind: &str, detail: Term| {
            Term::from(Tuple::from(vec![
                Term::from(Atom::from(crate::CUT)),
                Term::from(Atom::from(kind)),
                detail,
            ]))
        };
        // {1, …(3 more)} and [1, …]
        let tuple = Term::from(Tuple::from(vec![
            Term::from(FixInteger::from(1)),
            marker("tuple", Term::from(FixInteger::from(3))),
        ]));
        let o = outline(&tuple, Style::Elixir);
        assert_eq!(o.text, "{1, …(3 more)}");
        assert_eq!(o.items[1].value.kind, "cut");
        assert_eq!(o.items[1].value.text, "…(3 more)");
        let list = Term::from(List::from(vec![
            Term::from(FixInteger::from(1)),
            marker("list", Term::from(Atom::from("nil"))),
        ]));
        let o = outline(&list, Style::Elixir);
        assert_eq!(o.text, "[1, …]");
        assert_eq!(o.items.len(), 2);
        assert_eq!(
            (o.items[1].value.kind, o.items[1].value.text.as_str()),
            ("cut", "…")
        );
        let redacted = marker("redacted", Term::from(Atom::from("nil")));
        assert_eq!(outline(&redacted, Style::Elixir).text, "[REDACTED]");
        // The decoded form of a binary on the wire takes the same path.
        let bytes = [131, 104, 1, 97, 7];
        assert_eq!(
            outline(&decode(&bytes), Style::Elixir).items[0].value.text,
            "7"
        );
    }

    #[test]
    fn deep_values_stop_unfolding_at_the_depth_limit() {
        use eetf::{FixInteger, Tuple};
        let mut t = Term::from(FixInteger::from(0));
        for _ in 0..(MAX_DEPTH + 5) {
            t = Term::from(Tuple::from(vec![t]));
        }
        let mut o = outline(&t, Style::Elixir);
        let mut depth = 0;
        while let Some(first) = o.items.first() {
            o = first.value.clone();
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert_eq!(o.kind, "tuple");
        assert!(o.text.starts_with("{{{"));
    }
}
