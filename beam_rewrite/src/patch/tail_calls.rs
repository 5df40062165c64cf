//! Tail calls to wrapped functions go straight to the inner function.
//!
//! A wrapper that records keeps its frame until the call returns (it has to report the
//! result), so a loop `loop(N) -> loop(N - 1)` through the wrapper would grow the stack by one
//! frame per iteration. Instead, a local call in tail position to a wrapped function `f/N`
//! calls the function's *tail entry*, `'es$$tail$f'/N`, one per such target in the module
//! ([`super::wrapper::tail_entry`]):
//!
//! ```erlang
//! ... -> 'es$$tail$f'(Arg1, ...).        % was f(Arg1, ...): the same call, renamed
//!
//! 'es$$tail$f'(A1, ...) ->
//!     'es$$tail'(f, A1, ...),            % tail_call(M, f, N, [A1, ...]) only while recording
//!     'es$f'(A1, ...).
//! ```
//!
//! which stays a tail call, and tells the runtime that the current call continued as `f/N`.
//! `'es$$tail'/(N+1)` is a helper per arity ([`super::wrapper::helper_forms`]): while recording
//! is paused it only checks the persistent term (no argument list is built). The call site
//! stays one plain call: reporting there (keeping the arguments across the report, in a stack
//! frame at every call site) made the compiler's register allocation and validation explode on
//! code with thousands of tail calls, such as the parsers `yecc` generates (Elixir's
//! `elixir_parser` compiled in 9 s instead of 3 s; 4 s with tail entries).
//!
//! When the tail entry's name would exceed 255 bytes, the call site does it itself (arguments
//! that are not variables or literals are bound to fresh variables first, so that they are
//! evaluated once):
//!
//! ```erlang
//! begin
//!     ES$T1 = Arg1,
//!     'es$$tail'(f, ES$T1, ...),
//!     'es$f'(ES$T1, ...)
//! end
//! ```
//!
//! and calls of arity 255 (no helper can take 256 arguments) get the report as a `case` inline.
//!
//! A remote call in tail position to a wrapped function of the module itself
//! (`?MODULE:loop(S)`, `__MODULE__.loop(s)`: a receive loop that must reach the newest code)
//! stays a remote call, since it must reach the newest code, but is told to the runtime first:
//!
//! ```erlang
//! begin
//!     ES$T1 = Arg1,                % as above
//!     case persistent_term:get(elixir_scope_recording, undefined) =:= true of
//!         true -> elixir_scope_runtime:remote_tail_call(M, f, N);
//!         false -> ok
//!     end,
//!     M:f(ES$T1, ...)
//! end
//! ```
//!
//! so that the runtime records the call the wrapper of `M:f` then makes as the current call
//! continuing (a tail call, no recorder frame): while recording, such a loop runs in constant
//! stack and shows as one call with an iteration count, like a local loop.
//!
//! Tail positions: the last expression of a clause body or `begin ... end`; the bodies of
//! `case`, `if` and `receive` clauses and of `after`; the `of` and `catch` clause bodies of a
//! `try` without `after`; the right operand of `andalso`/`orelse`. Funs are not entered: a fun
//! is its own function, whose calls go through the wrappers and are recorded as calls.

use std::collections::BTreeSet;

use eetf::Term;

use crate::forms::build::*;
use crate::forms::{self, anno};
use beam_format::tables::FunctionRef;

use super::eligibility::MAX_ATOM_BYTES;
use super::naming::{inner_name, tail_entry_name, variable, MAX_TAIL_HELPER_ARITY, TAIL_HELPER};
use super::wrapper::{remote_tail_call_report, tail_call_report};

/// Rewrites tail calls to wrapped functions, in the clauses of one function at a time.
pub struct TailCalls<'a> {
    module: &'a str,
    wrapped: &'a BTreeSet<FunctionRef>,
    /// Counter for fresh variable names, shared by the whole module.
    fresh: u32,
    /// How many calls were redirected.
    pub redirected: usize,
    /// How many remote calls to the module's own wrapped functions were marked as tail calls.
    pub remote: usize,
    /// Arities of the `'es$$tail'` helpers the redirected calls use.
    pub helper_arities: BTreeSet<u32>,
    /// The functions whose tail entries (`'es$$tail$f'`) the redirected calls use.
    pub entries: BTreeSet<FunctionRef>,
}

impl<'a> TailCalls<'a> {
    /// For a module whose `wrapped` functions get inner functions.
    pub fn new(module: &'a str, wrapped: &'a BTreeSet<FunctionRef>) -> TailCalls<'a> {
        TailCalls {
            module,
            wrapped,
            fresh: 0,
            redirected: 0,
            remote: 0,
            helper_arities: BTreeSet::new(),
            entries: BTreeSet::new(),
        }
    }

    /// Rewrites the tail calls in a function's clauses (a list of `{clause, ...}`).
    pub fn in_clauses(&mut self, clauses: &mut Term) {
        let Some(clauses) = forms::list_elements_mut(clauses) else {
            return;
        };
        for clause in clauses {
            if let Some(elements) = forms::tuple_elements_mut(clause) {
                if forms::atom_name(&elements[0]) == Some("clause") && elements.len() == 5 {
                    self.in_body(&mut elements[4]);
                }
            }
        }
    }

    /// A body: a list of expressions whose last one is in tail position.
    fn in_body(&mut self, body: &mut Term) {
        if let Some(last) = forms::list_elements_mut(body).and_then(|b| b.last_mut()) {
            self.in_tail(last);
        }
    }

    fn in_tail(&mut self, expr: &mut Term) {
        let Some(tag) = forms::tag(expr).map(str::to_string) else {
            return;
        };
        if tag == "call" {
            if let Some(redirect) = self.redirect(expr).or_else(|| self.mark_remote(expr)) {
                *expr = redirect;
            }
            return;
        }
        let Some(e) = forms::tuple_elements_mut(expr) else {
            return;
        };
        match (tag.as_str(), e.len()) {
            ("block", 3) => self.in_body(&mut e[2]),
            ("case", 4) => self.in_clauses(&mut e[3]),
            ("if", 3) => self.in_clauses(&mut e[2]),
            ("receive", 3) => self.in_clauses(&mut e[2]),
            ("receive", 5) => {
                self.in_clauses(&mut e[2]);
                self.in_body(&mut e[4]);
            }
            ("try", 6) if forms::list_elements(&e[5]).is_some_and(<[Term]>::is_empty) => {
                self.in_clauses(&mut e[3]);
                self.in_clauses(&mut e[4]);
            }
            ("op", 5) if matches!(forms::atom_name(&e[2]), Some("andalso" | "orelse")) => {
                self.in_tail(&mut e[4]);
            }
            _ => {}
        }
    }

    /// The replacement of `{call, A, {atom, _, f}, Args}` when `f/N` is wrapped.
    fn redirect(&mut self, call: &Term) -> Option<Term> {
        let [_, call_anno, callee, args] = forms::tagged(call, "call")? else {
            return None;
        };
        let [_, name_anno, name] = forms::tagged(callee, "atom")? else {
            return None;
        };
        let name = forms::atom_name(name)?;
        let args = forms::list_elements(args)?;
        let target = FunctionRef {
            name: name.to_string(),
            arity: u32::try_from(args.len()).ok()?,
        };
        if !self.wrapped.contains(&target) {
            return None;
        }
        self.redirected += 1;
        let entry = tail_entry_name(name);
        if target.arity <= MAX_TAIL_HELPER_ARITY && entry.len() <= MAX_ATOM_BYTES {
            self.helper_arities.insert(target.arity);
            self.entries.insert(target);
            let callee = tuple(vec![atom("atom"), name_anno.clone(), atom(&entry)]);
            return Some(tuple(vec![
                atom("call"),
                call_anno.clone(),
                callee,
                list(args.to_vec()),
            ]));
        }
        let a = &anno::generated(anno::location(call_anno));
        let (mut exprs, values) = self.bind_arguments(a, args);
        if target.arity <= MAX_TAIL_HELPER_ARITY {
            self.helper_arities.insert(target.arity);
            let mut helper_args = vec![atom_lit(a, name)];
            helper_args.extend(values.iter().cloned());
            exprs.push(local_call(a, TAIL_HELPER, helper_args));
        } else {
            let function = atom_lit(a, name);
            exprs.push(tail_call_report(
                a,
                self.module,
                function,
                target.arity,
                values.clone(),
            ));
        }
        let inner = tuple(vec![
            atom("atom"),
            name_anno.clone(),
            atom(&inner_name(name)),
        ]);
        exprs.push(tuple(vec![
            atom("call"),
            call_anno.clone(),
            inner,
            list(values),
        ]));
        Some(block(a, exprs))
    }
}

impl TailCalls<'_> {
    /// The replacement of `{call, A, {remote, _, {atom, _, M}, {atom, _, f}}, Args}` when `M`
    /// is this module and `f/N` is wrapped: the arguments evaluated first, then the report,
    /// then the same remote call.
    fn mark_remote(&mut self, call: &Term) -> Option<Term> {
        let [_, call_anno, callee, args] = forms::tagged(call, "call")? else {
            return None;
        };
        let [_, _, module, name] = forms::tagged(callee, "remote")? else {
            return None;
        };
        let module_name = forms::tagged(module, "atom").and_then(|e| forms::atom_name(&e[2]))?;
        let name = forms::tagged(name, "atom").and_then(|e| forms::atom_name(&e[2]))?;
        let args = forms::list_elements(args)?;
        let target = FunctionRef {
            name: name.to_string(),
            arity: u32::try_from(args.len()).ok()?,
        };
        if module_name != self.module || !self.wrapped.contains(&target) {
            return None;
        }
        self.remote += 1;
        let a = &anno::generated(anno::location(call_anno));
        let (mut exprs, values) = self.bind_arguments(a, args);
        exprs.push(remote_tail_call_report(a, self.module, name, target.arity));
        exprs.push(tuple(vec![
            atom("call"),
            call_anno.clone(),
            callee.clone(),
            list(values),
        ]));
        Some(block(a, exprs))
    }

    /// Binds the arguments that are not simple to fresh variables, in order: the bindings,
    /// and the values to pass.
    fn bind_arguments(&mut self, a: &Term, args: &[Term]) -> (Vec<Term>, Vec<Term>) {
        let mut exprs = Vec::new();
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            if is_simple(arg) {
                values.push(arg.clone());
            } else {
                self.fresh += 1;
                let v = var(a, &variable(&format!("T{}", self.fresh)));
                exprs.push(match_expr(a, v.clone(), arg.clone()));
                values.push(v);
            }
        }
        (exprs, values)
    }
}

/// Arguments that can be used twice without evaluating anything twice.
fn is_simple(arg: &Term) -> bool {
    match forms::tag(arg) {
        Some("var") => forms::tagged(arg, "var")
            .and_then(|e| e.get(2))
            .and_then(forms::atom_name)
            .is_some_and(|name| name != "_"),
        Some("atom" | "integer" | "char" | "float" | "string" | "nil") => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Term {
        int(5)
    }

    fn call(name: &str, args: Vec<Term>) -> Term {
        local_call(&a(), name, args)
    }

    fn wrapped() -> BTreeSet<FunctionRef> {
        BTreeSet::from([FunctionRef {
            name: "loop".into(),
            arity: 1,
        }])
    }

    /// Rewrites one clause whose body is `body` and returns the new body.
    fn rewrite(body: Vec<Term>) -> (Vec<Term>, usize) {
        let wrapped = wrapped();
        let mut t = TailCalls::new("m", &wrapped);
        let mut clauses = list(vec![clause(&a(), vec![], body)]);
        t.in_clauses(&mut clauses);
        let clause = &forms::list_elements(&clauses).unwrap()[0];
        let body = forms::list_elements(&forms::tagged(clause, "clause").unwrap()[4])
            .unwrap()
            .to_vec();
        (body, t.redirected)
    }

    fn calls_inner(expr: &Term) -> bool {
        forms::any_subterm(expr, |t| t == &atom("es$loop"))
    }

    #[test]
    fn redirects_a_self_tail_call_to_the_tail_entry() {
        let minus = op(&a(), "-", var(&a(), "N"), int_lit(&a(), 1));
        let (body, n) = rewrite(vec![call("loop", vec![minus.clone()])]);
        assert_eq!(n, 1);
        let [_, call_anno, callee, args] = forms::tagged(&body[0], "call").unwrap() else {
            panic!("not a call")
        };
        assert_eq!(call_anno, &a(), "the call keeps its annotation");
        assert_eq!(callee, &atom_lit(&a(), "es$$tail$loop"));
        assert_eq!(
            args,
            &list(vec![minus]),
            "the same arguments, evaluated once"
        );
    }

    #[test]
    fn a_long_name_reports_at_the_call_site_and_keeps_simple_arguments() {
        let name = "l".repeat(250); // its inner name fits, its tail entry's does not
        let wrapped = BTreeSet::from([FunctionRef {
            name: name.clone(),
            arity: 1,
        }]);
        let mut t = TailCalls::new("m", &wrapped);
        let x = var(&a(), "X");
        let mut clauses = list(vec![clause(
            &a(),
            vec![],
            vec![call(&name, vec![x.clone()])],
        )]);
        t.in_clauses(&mut clauses);
        assert_eq!((t.redirected, t.entries.len()), (1, 0));
        let clause = &forms::list_elements(&clauses).unwrap()[0];
        let body = forms::list_elements(&forms::tagged(clause, "clause").unwrap()[4]).unwrap();
        let [_, _, exprs] = forms::tagged(&body[0], "block").unwrap() else {
            panic!("not a block")
        };
        let exprs = forms::list_elements(exprs).unwrap();
        assert_eq!(exprs.len(), 2, "no binding for a variable argument");
        let last = forms::tagged(&exprs[1], "call").unwrap();
        assert_eq!(last[1], a(), "the inner call keeps the call's annotation");
        assert_eq!(last[3], list(vec![x.clone()]));
        assert!(forms::any_subterm(&exprs[1], |t| t == &atom(&inner_name(&name))));
        let report = forms::tagged(&exprs[0], "call").unwrap();
        assert_eq!(
            forms::tagged(&report[2], "atom").unwrap()[2],
            atom("es$$tail")
        );
        let generated = anno::generated(a());
        assert_eq!(report[3], list(vec![atom_lit(&generated, &name), x]));
    }

    #[test]
    fn reports_which_helpers_it_needs_and_inlines_the_widest() {
        let wide: u32 = 255;
        let wrapped = BTreeSet::from([
            FunctionRef {
                name: "loop".into(),
                arity: 1,
            },
            FunctionRef {
                name: "wide".into(),
                arity: wide,
            },
        ]);
        let mut t = TailCalls::new("m", &wrapped);
        let args = (0..wide).map(|i| var(&a(), &format!("X{i}"))).collect();
        let mut clauses = list(vec![
            clause(&a(), vec![], vec![call("loop", vec![var(&a(), "X")])]),
            clause(&a(), vec![], vec![call("wide", args)]),
        ]);
        t.in_clauses(&mut clauses);
        assert_eq!(t.redirected, 2);
        assert_eq!(t.helper_arities, BTreeSet::from([1]));
        assert_eq!(t.entries.len(), 1, "loop/1's");
        assert!(forms::any_subterm(&clauses, |t| t == &atom("tail_call")));
    }

    #[test]
    fn finds_every_tail_position_and_nothing_else() {
        let tail = || call("loop", vec![var(&a(), "X")]);
        let clause_with = |e: Term| clause(&a(), vec![var(&a(), "_")], vec![e]);
        let cases = vec![
            (block(&a(), vec![tail(), tail()]), 1),
            (
                case_expr(
                    &a(),
                    var(&a(), "X"),
                    vec![clause_with(tail()), clause_with(tail())],
                ),
                2,
            ),
            (
                tuple(vec![atom("if"), a(), list(vec![clause_with(tail())])]),
                1,
            ),
            (
                tuple(vec![
                    atom("receive"),
                    a(),
                    list(vec![clause_with(tail())]),
                    int_lit(&a(), 0),
                    list(vec![tail()]),
                ]),
                2,
            ),
            (
                tuple(vec![
                    atom("try"),
                    a(),
                    list(vec![tail()]),
                    list(vec![clause_with(tail())]),
                    list(vec![clause_with(tail())]),
                    list(vec![]),
                ]),
                2,
            ),
            (
                tuple(vec![
                    atom("try"),
                    a(),
                    list(vec![tail()]),
                    list(vec![clause_with(tail())]),
                    list(vec![]),
                    list(vec![atom_lit(&a(), "done")]),
                ]),
                0,
            ),
            (op(&a(), "andalso", tail(), tail()), 1),
            (op(&a(), "+", tail(), tail()), 0),
            (tuple(vec![atom("catch"), a(), tail()]), 0),
            (
                tuple(vec![
                    atom("fun"),
                    a(),
                    tuple(vec![atom("clauses"), list(vec![clause_with(tail())])]),
                ]),
                0,
            ),
            (call("loop", vec![var(&a(), "X"), var(&a(), "Y")]), 0),
            (call("other", vec![var(&a(), "X")]), 0),
            (remote_call(&a(), "m", "loop", vec![var(&a(), "X")]), 0),
            (remote_call(&a(), "other", "loop", vec![var(&a(), "X")]), 0),
        ];
        for (expr, expected) in cases {
            let (_, n) = rewrite(vec![expr.clone()]);
            assert_eq!(n, expected, "{expr}");
        }
        let (_, n) = rewrite(vec![tail(), atom_lit(&a(), "ok")]);
        assert_eq!(n, 0, "a call before the last expression is not a tail call");
    }

    /// Rewrites one clause whose body is `body`; returns the new body and the remote calls
    /// marked.
    fn rewrite_remote(body: Vec<Term>) -> (Vec<Term>, usize) {
        let wrapped = wrapped();
        let mut t = TailCalls::new("m", &wrapped);
        let mut clauses = list(vec![clause(&a(), vec![], body)]);
        t.in_clauses(&mut clauses);
        let clause = &forms::list_elements(&clauses).unwrap()[0];
        let body = forms::list_elements(&forms::tagged(clause, "clause").unwrap()[4])
            .unwrap()
            .to_vec();
        (body, t.remote)
    }

    #[test]
    fn marks_a_remote_self_tail_call_and_keeps_it_remote() {
        let minus = op(&a(), "-", var(&a(), "N"), int_lit(&a(), 1));
        let remote = remote_call(&a(), "m", "loop", vec![minus.clone()]);
        let (body, n) = rewrite_remote(vec![remote.clone()]);
        assert_eq!(n, 1);
        let [_, _, exprs] = forms::tagged(&body[0], "block").unwrap() else {
            panic!("not a block")
        };
        let exprs = forms::list_elements(exprs).unwrap();
        assert_eq!(exprs.len(), 3, "binding, report, call");
        let [_, _, bound, value] = forms::tagged(&exprs[0], "match").unwrap() else {
            panic!("not a match")
        };
        assert_eq!(value, &minus, "the argument is evaluated before the report");
        assert!(forms::any_subterm(&exprs[1], |t| t == &atom("remote_tail_call")));
        let [_, call_anno, callee, args] = forms::tagged(&exprs[2], "call").unwrap() else {
            panic!("not a call")
        };
        let [_, _, original_callee, _] = forms::tagged(&remote, "call").unwrap() else {
            panic!("not a call")
        };
        assert_eq!(call_anno, &a());
        assert_eq!(callee, original_callee, "still the remote call to m:loop");
        assert_eq!(args, &list(vec![bound.clone()]));
        assert!(!calls_inner(&body[0]), "never the inner function");

        // Not in tail position, to another module, to an unwrapped function: untouched.
        for body in [
            vec![remote.clone(), atom_lit(&a(), "ok")],
            vec![remote_call(&a(), "other", "loop", vec![var(&a(), "X")])],
            vec![remote_call(&a(), "m", "step", vec![var(&a(), "X")])],
        ] {
            let (rewritten, n) = rewrite_remote(body.clone());
            assert_eq!((rewritten, n), (body, 0));
        }
    }
}
