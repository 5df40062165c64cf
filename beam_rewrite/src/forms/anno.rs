//! Annotations (`erl_anno`): the second element of every form and expression.
//!
//! An annotation is a line (`7`), a line and column (`{7, 3}`), or a list of properties such as
//! `[{location, 7}, {generated, true}]`.

use eetf::Term;

use super::build::{atom, int, list, tuple};
use super::{atom_name, int_value, list_elements};

/// The location an annotation holds: `Line` or `{Line, Column}`; line 0 when it has none.
pub fn location(anno: &Term) -> Term {
    match anno {
        Term::FixInteger(_) => anno.clone(),
        Term::Tuple(t) if t.elements.len() == 2 && t.elements.iter().all(is_int) => anno.clone(),
        Term::List(_) => property(anno, "location")
            .map(location)
            .unwrap_or_else(|| int(0)),
        _ => int(0),
    }
}

/// The line an annotation holds, 0 when it has none.
pub fn line(anno: &Term) -> i32 {
    match location(anno) {
        Term::FixInteger(line) => line.value,
        Term::Tuple(t) => t.elements.first().and_then(int_value).unwrap_or(0),
        _ => 0,
    }
}

/// Whether the annotation marks compiler-generated code (`{generated, true}`).
pub fn is_generated(anno: &Term) -> bool {
    property(anno, "generated").and_then(atom_name) == Some("true")
}

/// The annotation of code the rewriter adds at `location`: marked `generated`, so that the
/// compiler does not warn about it.
pub fn generated(location: Term) -> Term {
    list(vec![
        tuple(vec![atom("generated"), atom("true")]),
        tuple(vec![atom("location"), location]),
    ])
}

fn property<'a>(anno: &'a Term, key: &str) -> Option<&'a Term> {
    list_elements(anno)?.iter().find_map(|p| match p {
        Term::Tuple(t) if t.elements.len() == 2 && atom_name(&t.elements[0]) == Some(key) => {
            Some(&t.elements[1])
        }
        _ => None,
    })
}

fn is_int(term: &Term) -> bool {
    matches!(term, Term::FixInteger(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_annotation_shape() {
        let line_col = tuple(vec![int(7), int(3)]);
        let props = list(vec![
            tuple(vec![atom("location"), line_col.clone()]),
            tuple(vec![atom("generated"), atom("true")]),
        ]);
        assert_eq!(line(&int(7)), 7);
        assert_eq!(location(&line_col), line_col);
        assert_eq!(line(&props), 7);
        assert!(is_generated(&props));
        assert!(!is_generated(&int(7)));
        assert_eq!(line(&atom("junk")), 0);
        let made = generated(int(12));
        assert!(is_generated(&made));
        assert_eq!(line(&made), 12);
    }
}
