//! Constructors for terms and for the abstract-format expressions the rewriter emits.
//!
//! Expression constructors take the annotation first, as the abstract format does.

use eetf::{Atom, FixInteger, List, Term, Tuple};

/// An atom term.
pub fn atom(name: &str) -> Term {
    Term::from(Atom::from(name))
}

/// A small integer term.
pub fn int(value: i32) -> Term {
    Term::from(FixInteger::from(value))
}

/// A tuple term.
pub fn tuple(elements: Vec<Term>) -> Term {
    Term::from(Tuple::from(elements))
}

/// A proper list term.
pub fn list(elements: Vec<Term>) -> Term {
    Term::from(List::from(elements))
}

/// `{atom, A, Name}`: an atom literal.
pub fn atom_lit(anno: &Term, name: &str) -> Term {
    tuple(vec![atom("atom"), anno.clone(), atom(name)])
}

/// `{integer, A, Value}`: an integer literal.
pub fn int_lit(anno: &Term, value: i32) -> Term {
    tuple(vec![atom("integer"), anno.clone(), int(value)])
}

/// `{var, A, Name}`: a variable.
pub fn var(anno: &Term, name: &str) -> Term {
    tuple(vec![atom("var"), anno.clone(), atom(name)])
}

/// A list expression `[E1, ..., En]`: nested `{cons, A, H, T}` ending in `{nil, A}`.
pub fn list_expr(anno: &Term, elements: Vec<Term>) -> Term {
    elements
        .into_iter()
        .rev()
        .fold(tuple(vec![atom("nil"), anno.clone()]), |tail, head| {
            tuple(vec![atom("cons"), anno.clone(), head, tail])
        })
}

/// `{call, A, {atom, A, Name}, Args}`: a local call.
pub fn local_call(anno: &Term, name: &str, args: Vec<Term>) -> Term {
    tuple(vec![
        atom("call"),
        anno.clone(),
        atom_lit(anno, name),
        list(args),
    ])
}

/// `{call, A, {remote, A, M, F}, Args}`: a call `module:function(Args)`.
pub fn remote_call(anno: &Term, module: &str, function: &str, args: Vec<Term>) -> Term {
    let callee = tuple(vec![
        atom("remote"),
        anno.clone(),
        atom_lit(anno, module),
        atom_lit(anno, function),
    ]);
    tuple(vec![atom("call"), anno.clone(), callee, list(args)])
}

/// `{op, A, Op, Left, Right}`: a binary operator.
pub fn op(anno: &Term, operator: &str, left: Term, right: Term) -> Term {
    tuple(vec![atom("op"), anno.clone(), atom(operator), left, right])
}

/// `{match, A, Pattern, Expr}`: `Pattern = Expr`.
pub fn match_expr(anno: &Term, pattern: Term, expr: Term) -> Term {
    tuple(vec![atom("match"), anno.clone(), pattern, expr])
}

/// `{clause, A, Patterns, [], Body}`: a clause without guards.
pub fn clause(anno: &Term, patterns: Vec<Term>, body: Vec<Term>) -> Term {
    tuple(vec![
        atom("clause"),
        anno.clone(),
        list(patterns),
        list(vec![]),
        list(body),
    ])
}

/// `{'case', A, Expr, Clauses}`.
pub fn case_expr(anno: &Term, expr: Term, clauses: Vec<Term>) -> Term {
    tuple(vec![atom("case"), anno.clone(), expr, list(clauses)])
}

/// `{'try', A, Body, OfClauses, CatchClauses, []}`: a `try ... of ... catch ... end`.
pub fn try_expr(anno: &Term, body: Vec<Term>, of: Vec<Term>, catch: Vec<Term>) -> Term {
    tuple(vec![
        atom("try"),
        anno.clone(),
        list(body),
        list(of),
        list(catch),
        list(vec![]),
    ])
}

/// `{block, A, Exprs}`: `begin ... end`.
pub fn block(anno: &Term, exprs: Vec<Term>) -> Term {
    tuple(vec![atom("block"), anno.clone(), list(exprs)])
}

/// `{function, A, Name, Arity, Clauses}`: a function form.
pub fn function(anno: &Term, name: &str, arity: u32, clauses: Vec<Term>) -> Term {
    tuple(vec![
        atom("function"),
        anno.clone(),
        atom(name),
        int(arity as i32),
        list(clauses),
    ])
}

/// `-file(File, Line).`: the file (and line) that the following forms come from.
pub fn file_attribute(anno: &Term, file: Term, line: i32) -> Term {
    tuple(vec![
        atom("attribute"),
        anno.clone(),
        atom("file"),
        tuple(vec![file, int(line)]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_expressions_nest_cons_cells() {
        let a = int(1);
        let expr = list_expr(&a, vec![atom("x"), atom("y")]);
        let expected = tuple(vec![
            atom("cons"),
            a.clone(),
            atom("x"),
            tuple(vec![
                atom("cons"),
                a.clone(),
                atom("y"),
                tuple(vec![atom("nil"), a.clone()]),
            ]),
        ]);
        assert_eq!(expr, expected);
        assert_eq!(list_expr(&a, vec![]), tuple(vec![atom("nil"), a]));
    }
}
