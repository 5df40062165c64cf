//! Stack traces caught inside rewritten code are cleaned where they are bound.
//!
//! An exception that passes through a recording wrapper is re-raised with a clean stack trace
//! (see the runtime contract). One that is raised and caught without leaving a wrapped call,
//! for example `try ... rescue e -> Logger.error(Exception.format(:error, e, __STACKTRACE__))`
//! inside one function, or one raised while recording is paused, would show the wrapper frames
//! and inner names of the rewritten code. So every catch clause that binds the stack trace,
//! in every function and fun of a rewritten module, gets it cleaned first:
//!
//! ```erlang
//! catch Class:Reason:Stack -> Body
//! %% becomes
//! catch Class:Reason:ES$S1 -> Stack = elixir_scope_stacktrace:clean(ES$S1), Body
//! ```
//!
//! `clean/1` is idempotent, so traces that were already cleaned stay as they are.

use eetf::Term;

use crate::forms::build::*;
use crate::forms::{self, anno};

use super::contract::{self, CLEAN};
use super::naming::variable;

/// Cleans the stack traces bound by every catch clause inside `term` (a function's clauses);
/// `fresh` numbers the new variables across the module. Returns how many clauses changed.
pub fn clean_caught_stacktraces(term: &mut Term, fresh: &mut u32) -> usize {
    let mut changed = 0;
    // Iterative: abstract code nests as deep as its longest list literal.
    let mut stack: Vec<&mut Term> = vec![term];
    while let Some(t) = stack.pop() {
        if forms::tag(t) == Some("try") {
            if let Some(e) = forms::tuple_elements_mut(t) {
                if e.len() == 6 {
                    if let Some(clauses) = forms::list_elements_mut(&mut e[4]) {
                        for clause in clauses {
                            changed += usize::from(clean_clause(clause, fresh));
                        }
                    }
                }
            }
        }
        match t {
            Term::Tuple(x) => stack.extend(x.elements.iter_mut()),
            Term::List(x) => stack.extend(x.elements.iter_mut()),
            _ => {}
        }
    }
    changed
}

/// `{clause, A, [{tuple, _, [Class, Reason, {var, _, Stack}]}], Guards, Body}`.
fn clean_clause(clause: &mut Term, fresh: &mut u32) -> bool {
    let Some([_, _, patterns, _, body]) = forms::tuple_elements_mut(clause).map(Vec::as_mut_slice)
    else {
        return false;
    };
    let Some([pattern]) = forms::list_elements_mut(patterns).map(Vec::as_mut_slice) else {
        return false;
    };
    let Some([_, _, parts]) = forms::tuple_elements_mut(pattern).map(Vec::as_mut_slice) else {
        return false;
    };
    let Some([_, _, stack_var]) = forms::list_elements_mut(parts).map(Vec::as_mut_slice) else {
        return false;
    };
    let Some([tag, var_anno, name]) = forms::tuple_elements_mut(stack_var).map(Vec::as_mut_slice)
    else {
        return false;
    };
    if forms::atom_name(tag) != Some("var") || matches!(forms::atom_name(name), None | Some("_")) {
        return false;
    }
    *fresh += 1;
    let raw = variable(&format!("S{fresh}"));
    let a = anno::generated(anno::location(var_anno));
    let original = std::mem::replace(name, atom(&raw));
    let bound = tuple(vec![atom("var"), var_anno.clone(), original]);
    let clean = contract::call(&a, CLEAN, vec![var(&a, &raw)]);
    if let Some(body) = forms::list_elements_mut(body) {
        body.insert(0, match_expr(&a, bound, clean));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catch_clause(stack: &str) -> Term {
        let a = int(3);
        let pattern = tuple(vec![
            atom("tuple"),
            a.clone(),
            list(vec![var(&a, "C"), var(&a, "R"), var(&a, stack)]),
        ]);
        tuple(vec![
            atom("clause"),
            a.clone(),
            list(vec![pattern]),
            list(vec![]),
            list(vec![var(&a, stack)]),
        ])
    }

    fn try_with(clauses: Vec<Term>) -> Term {
        let a = int(2);
        tuple(vec![
            atom("try"),
            a.clone(),
            list(vec![atom_lit(&a, "x")]),
            list(vec![]),
            list(clauses),
            list(vec![]),
        ])
    }

    #[test]
    fn binds_the_original_variable_to_the_cleaned_trace() {
        // A try inside a fun inside a case: every depth is visited.
        let a = int(1);
        let fun = tuple(vec![
            atom("fun"),
            a.clone(),
            tuple(vec![
                atom("clauses"),
                list(vec![clause(
                    &a,
                    vec![],
                    vec![try_with(vec![catch_clause("St"), catch_clause("_")])],
                )]),
            ]),
        ]);
        let mut body = list(vec![case_expr(
            &a,
            var(&a, "X"),
            vec![clause(&a, vec![], vec![fun])],
        )]);
        let mut fresh = 0;
        assert_eq!(clean_caught_stacktraces(&mut body, &mut fresh), 1);
        assert_eq!(fresh, 1);
        let mut found = None;
        forms::any_subterm(&body, |t| {
            if let Some([_, _, bound, call]) = forms::tagged(t, "match") {
                found = Some((bound.clone(), call.clone()));
            }
            false
        });
        let (bound, call) = found.expect("a match was added");
        assert_eq!(bound, var(&int(3), "St"));
        assert!(forms::any_subterm(&call, |t| t == &atom("clean")));
        assert!(forms::any_subterm(&call, |t| t == &atom("ES$S1")));
        // The pattern now binds the raw trace.
        assert!(forms::any_subterm(&body, |t| t == &var(&int(3), "ES$S1")));
    }
}
