//! Erlang abstract forms (the `erl_parse` format) as ETF terms.
//!
//! The rewriter receives a module's forms as [`eetf::Term`]s, changes a few shapes in them and
//! sends them back to the compiler. This module reads those shapes; [`build`] makes new ones and
//! [`anno`] handles annotations (line, column, `generated`).
//!
//! Forms are `{attribute, Anno, Name, Value}`, `{function, Anno, Name, Arity, Clauses}`,
//! `{eof, Anno}` and a few others; see the "Abstract Format" chapter of the ERTS user's guide.

pub mod anno;
pub mod build;

use eetf::Term;

/// The name of an atom term.
pub fn atom_name(term: &Term) -> Option<&str> {
    match term {
        Term::Atom(atom) => Some(&atom.name),
        _ => None,
    }
}

/// The value of a small integer term.
pub fn int_value(term: &Term) -> Option<i32> {
    match term {
        Term::FixInteger(i) => Some(i.value),
        _ => None,
    }
}

/// The elements of a proper list term (the empty list included).
pub fn list_elements(term: &Term) -> Option<&[Term]> {
    match term {
        Term::List(list) => Some(&list.elements),
        _ => None,
    }
}

/// The elements of a proper list term, to change them in place.
pub fn list_elements_mut(term: &mut Term) -> Option<&mut Vec<Term>> {
    match term {
        Term::List(list) => Some(&mut list.elements),
        _ => None,
    }
}

/// The elements of a tuple whose first element is the atom `tag` (`{tag, ...}`).
pub fn tagged<'a>(term: &'a Term, tag: &str) -> Option<&'a [Term]> {
    match term {
        Term::Tuple(t) if t.elements.first().and_then(atom_name) == Some(tag) => Some(&t.elements),
        _ => None,
    }
}

/// The tag of a tuple whose first element is an atom.
pub fn tag(term: &Term) -> Option<&str> {
    match term {
        Term::Tuple(t) => t.elements.first().and_then(atom_name),
        _ => None,
    }
}

/// The elements of a tuple.
pub fn tuple_elements(term: &Term) -> Option<&[Term]> {
    match term {
        Term::Tuple(t) => Some(&t.elements),
        _ => None,
    }
}

/// The elements of a tuple, to change them in place.
pub fn tuple_elements_mut(term: &mut Term) -> Option<&mut Vec<Term>> {
    match term {
        Term::Tuple(t) => Some(&mut t.elements),
        _ => None,
    }
}

/// A `{function, Anno, Name, Arity, Clauses}` form, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct FunctionForm<'a> {
    /// The form's annotation.
    pub anno: &'a Term,
    /// The function's name.
    pub name: &'a str,
    /// The function's arity.
    pub arity: u32,
    /// Its clauses: `{clause, Anno, Patterns, Guards, Body}`.
    pub clauses: &'a [Term],
}

impl<'a> FunctionForm<'a> {
    /// Reads a function form; `None` for any other form.
    pub fn of(form: &'a Term) -> Option<FunctionForm<'a>> {
        match tagged(form, "function")? {
            [_, anno, name, arity, clauses] => Some(FunctionForm {
                anno,
                name: atom_name(name)?,
                arity: u32::try_from(int_value(arity)?).ok()?,
                clauses: list_elements(clauses)?,
            }),
            _ => None,
        }
    }
}

/// An `{attribute, Anno, Name, Value}` form: its name and value.
pub fn attribute(form: &Term) -> Option<(&str, &Term)> {
    match tagged(form, "attribute")? {
        [_, _, name, value] => Some((atom_name(name)?, value)),
        _ => None,
    }
}

/// Reads `{Name, Arity}` (as in `-export` and `-on_load`).
pub fn name_arity(term: &Term) -> Option<(&str, u32)> {
    match term {
        Term::Tuple(t) => match t.elements.as_slice() {
            [name, arity] => Some((atom_name(name)?, u32::try_from(int_value(arity)?).ok()?)),
            _ => None,
        },
        _ => None,
    }
}

/// Calls `visit` on every term inside `term` (itself included), depth first, without recursion
/// (abstract code nests as deep as its longest list literal).
pub fn any_subterm(term: &Term, mut visit: impl FnMut(&Term) -> bool) -> bool {
    let mut stack = vec![term];
    while let Some(t) = stack.pop() {
        if visit(t) {
            return true;
        }
        match t {
            Term::Tuple(x) => stack.extend(x.elements.iter()),
            Term::List(x) => stack.extend(x.elements.iter()),
            Term::ImproperList(x) => {
                stack.extend(x.elements.iter());
                stack.push(&x.last);
            }
            Term::Map(x) => stack.extend(x.map.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn reads_function_forms_and_attributes() {
        let f = tuple(vec![
            atom("function"),
            int(3),
            atom("run"),
            int(2),
            list(vec![]),
        ]);
        let form = FunctionForm::of(&f).expect("a function");
        assert_eq!((form.name, form.arity, form.clauses.len()), ("run", 2, 0));
        assert!(FunctionForm::of(&atom("function")).is_none());

        let on_load = tuple(vec![
            atom("attribute"),
            int(1),
            atom("on_load"),
            tuple(vec![atom("init"), int(0)]),
        ]);
        let (name, value) = attribute(&on_load).expect("an attribute");
        assert_eq!(name, "on_load");
        assert_eq!(name_arity(value), Some(("init", 0)));
    }

    #[test]
    fn finds_subterms_in_deep_terms_without_recursing() {
        // Dropping the term recurses: the large stack is for that, not for the search.
        beam_format::etf::with_large_stack(|| {
            let mut deep = atom("needle");
            for _ in 0..100_000 {
                deep = tuple(vec![atom("cons"), deep]);
            }
            assert!(any_subterm(&deep, |t| atom_name(t) == Some("needle")));
            assert!(!any_subterm(&deep, |t| atom_name(t) == Some("hay")));
        });
    }
}
