//! The wrapper function: the runtime contract of `docs/ARCHITECTURE.md`, as abstract forms.
//!
//! ```erlang
//! -file("elixir_scope:wrapper", Line).
//! f(A1, ..., AN) ->
//!     case persistent_term:get(elixir_scope_recording, undefined) =:= true
//!              orelse elixir_scope_runtime:recording(M) of
//!         false -> 'es$f'(A1, ..., AN);
//!         true ->
//!             Token = elixir_scope_runtime:enter(M, f, N, [A1, ..., AN]),
//!             try 'es$f'(A1, ..., AN) of
//!                 Result -> elixir_scope_runtime:return(Token, Result)
//!             catch
//!                 Class:Reason:Stack -> elixir_scope_runtime:exception(Token, Class, Reason, Stack)
//!             end
//!     end.
//! -file(OriginalFile, Line).
//! ```
//!
//! Every annotation is marked `generated` (no compiler warnings about our code) and carries
//! the line of the original function, so wrapper frames read `elixir_scope:wrapper:Line`.

use eetf::{ByteList, Term};

use crate::forms::anno;
use crate::forms::build::*;

use super::naming::{inner_name, variable, RECORDING_KEY, RUNTIME, WRAPPER_FILE};

/// Where a wrapper goes and what it wraps.
#[derive(Debug, Clone, Copy)]
pub struct WrapperSite<'a> {
    /// The module being rewritten.
    pub module: &'a str,
    /// The function's name.
    pub name: &'a str,
    /// Its arity.
    pub arity: u32,
    /// The line of the original function.
    pub line: i32,
    /// The `-file` in effect at the function (a string term), restored after the wrapper.
    pub file: &'a Term,
}

/// The three forms that replace nothing but follow the inner function: `-file` of the wrapper,
/// the wrapper, and `-file` back to the original.
pub fn wrapper_forms(site: &WrapperSite<'_>) -> [Term; 3] {
    let plain = int(site.line);
    [
        file_attribute(&plain, wrapper_file(), site.line),
        wrapper_function(site),
        file_attribute(&plain, site.file.clone(), site.line),
    ]
}

/// `persistent_term:get(elixir_scope_recording, undefined) =:= true`.
pub fn recording_check(a: &Term) -> Term {
    let get = remote_call(
        a,
        "persistent_term",
        "get",
        vec![atom_lit(a, RECORDING_KEY), atom_lit(a, "undefined")],
    );
    op(a, "=:=", get, atom_lit(a, "true"))
}

fn wrapper_file() -> Term {
    Term::from(ByteList::from(WRAPPER_FILE.as_bytes().to_vec()))
}

fn wrapper_function(site: &WrapperSite<'_>) -> Term {
    let a = &anno::generated(int(site.line));
    let args: Vec<Term> = (1..=site.arity)
        .map(|i| var(a, &variable(&format!("A{i}"))))
        .collect();
    let inner = inner_name(site.name);
    let call_inner = || local_call(a, &inner, args.clone());
    let token = var(a, &variable("Token"));
    let result = var(a, &variable("Result"));
    let (class, reason, stack) = (
        var(a, &variable("Class")),
        var(a, &variable("Reason")),
        var(a, &variable("Stack")),
    );
    let module = || atom_lit(a, site.module);

    let check = op(
        a,
        "orelse",
        recording_check(a),
        remote_call(a, RUNTIME, "recording", vec![module()]),
    );
    let enter = remote_call(
        a,
        RUNTIME,
        "enter",
        vec![
            module(),
            atom_lit(a, site.name),
            int_lit(a, site.arity as i32),
            list_expr(a, args.clone()),
        ],
    );
    let returned = clause(
        a,
        vec![result.clone()],
        vec![remote_call(
            a,
            RUNTIME,
            "return",
            vec![token.clone(), result],
        )],
    );
    let raised = clause(
        a,
        vec![tuple(vec![
            atom("tuple"),
            a.clone(),
            list(vec![class.clone(), reason.clone(), stack.clone()]),
        ])],
        vec![remote_call(
            a,
            RUNTIME,
            "exception",
            vec![token.clone(), class, reason, stack],
        )],
    );
    let recording = vec![
        match_expr(a, token, enter),
        try_expr(a, vec![call_inner()], vec![returned], vec![raised]),
    ];
    let body = case_expr(
        a,
        check,
        vec![
            clause(a, vec![atom_lit(a, "false")], vec![call_inner()]),
            clause(a, vec![atom_lit(a, "true")], recording),
        ],
    );
    function(a, site.name, site.arity, vec![clause(a, args, vec![body])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{self, FunctionForm};

    #[test]
    fn wraps_under_the_wrapper_file_and_restores_the_original() {
        let file = Term::from(ByteList::from(b"lib/m.ex".to_vec()));
        let site = WrapperSite {
            module: "Elixir.M",
            name: "run",
            arity: 2,
            line: 7,
            file: &file,
        };
        let [open, wrapper, close] = wrapper_forms(&site);
        assert_eq!(
            forms::attribute(&open).map(|(n, v)| (n, v.clone())),
            Some((
                "file",
                tuple(vec![
                    Term::from(ByteList::from(b"elixir_scope:wrapper".to_vec())),
                    int(7)
                ])
            ))
        );
        assert_eq!(
            forms::attribute(&close).map(|(_, v)| v.clone()),
            Some(tuple(vec![file.clone(), int(7)]))
        );
        let f = FunctionForm::of(&wrapper).expect("a function");
        assert_eq!((f.name, f.arity, f.clauses.len()), ("run", 2, 1));
        assert!(anno::is_generated(f.anno));
        assert_eq!(anno::line(f.anno), 7);
        // The wrapper calls the inner function twice (paused and recording) and the runtime.
        let mut local = Vec::new();
        let mut remote = Vec::new();
        forms::any_subterm(&wrapper, |t| {
            if let Some([_, _, callee, _]) = forms::tagged(t, "call") {
                match (
                    forms::tagged(callee, "atom"),
                    forms::tagged(callee, "remote"),
                ) {
                    (Some([_, _, name]), _) => local.push(name.to_string()),
                    (_, Some([_, _, m, f])) => remote.push(format!("{}:{}", lit(m), lit(f))),
                    _ => {}
                }
            }
            false
        });
        assert_eq!(local, ["'es$run'", "'es$run'"]);
        remote.sort();
        assert_eq!(
            remote,
            [
                "elixir_scope_runtime:enter",
                "elixir_scope_runtime:exception",
                "elixir_scope_runtime:recording",
                "elixir_scope_runtime:return",
                "persistent_term:get",
            ]
        );
    }

    fn lit(t: &Term) -> String {
        match forms::tagged(t, "atom") {
            Some([_, _, name]) => forms::atom_name(name).unwrap_or("?").to_string(),
            _ => "?".to_string(),
        }
    }
}
