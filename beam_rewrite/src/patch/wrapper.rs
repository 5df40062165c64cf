//! The wrappers, and the two helpers every rewritten module gets: the runtime contract of
//! `docs/ARCHITECTURE.md`, as abstract forms.
//!
//! ```erlang
//! -file("elixir_scope:wrapper", Line).
//! f(A1, ..., AN) ->
//!     case elixir_scope_gate:on(M) of
//!         true -> 'es$$record'(f, N, [A1, ..., AN], fun 'es$f'/N);
//!         _ -> 'es$f'(A1, ..., AN)                     % paused: a tail call
//!     end.
//! -file(OriginalFile, Line).
//!
//! %% Once per module, after all functions:
//! -file("elixir_scope:wrapper", 1).
//! 'es$$record'(F, N, Args, Inner) ->
//!     case elixir_scope_runtime:enter(M, F, N, Args) of
//!         deep -> erlang:apply(Inner, Args);           % too many open calls: no frame
//!         Token ->
//!             try erlang:apply(Inner, Args) of
//!                 Result -> elixir_scope_runtime:return(Token, Result)
//!             catch
//!                 Class:Reason:Stack ->
//!                     elixir_scope_runtime:exception(Token, Class, Reason, Stack)
//!             end
//!     end.
//! %% In a module with functions that have capture options, one clause per such function
//! %% comes first, the same but for enter/5 with the options as a literal:
//! 'es$$record'(login, 2, Args, Inner) ->
//!     case elixir_scope_runtime:enter(M, login, 2, Args, {false, #{max_bytes => 256}}) of ...
//! 'es$$tail'(F, A1, ..., AN) ->                      % one per arity of redirected tail calls
//!     case persistent_term:get(elixir_scope_recording, undefined) =:= true of
//!         true -> elixir_scope_runtime:tail_call(M, F, N, [A1, ..., AN]);
//!         false -> ok
//!     end.
//! 'es$$tail$f'(A1, ..., AN) ->                       % one per target of local tail calls
//!     'es$$tail'(f, A1, ..., AN),
//!     'es$f'(A1, ..., AN).
//! 'es$$send'(Kind, Dest, Message) ->                 % when the module sends (super::sends)
//!     case elixir_scope_gate:on(M) of
//!         true -> elixir_scope_runtime:sending(Kind, Dest, Message);
//!         _ -> ok
//!     end.
//! ```
//!
//! `deep` is the runtime's answer when the process already has too many recorded calls open
//! (its depth cap): the recorder then tail-calls the function, leaving no frame, so a loop
//! through a remote self-call (`?MODULE:loop(S)`, which keeps every recorded iteration open)
//! stops growing the stack once it reaches the cap.
//!
//! The recording branch lives in one function per module rather than in every wrapper: a
//! `try` costs the compiler about 3 ms per function (its SSA passes), which made rewriting
//! slower than recompiling with `cover`; shared, it is compiled once. The runtime sees the same
//! calls in the same order either way, and the wrapper leaves no frame of its own (both
//! branches are tail calls); `'es$$record'` frames carry the wrapper file and are dropped by
//! `elixir_scope_stacktrace:clean/1`.
//!
//! The check is a call to the gate module `elixir_scope_gate`, which the runtime regenerates
//! and loads at every start, pause and resume: a function of constant clauses (`on(_) ->
//! false` while paused), so a paused call costs one remote call that returns a constant (about
//! 2.5 ns here, against 9 ns for the `persistent_term:get/2` the check read before, and 19 ns
//! when a paused runtime had to answer through `recording/1`). Anything but `true` runs the
//! original code. The installed default gate asks `elixir_scope_runtime:recording/1`, which
//! starts the runtime on first use.
//!
//! Every annotation is marked `generated` (no compiler warnings about our code).

use std::collections::{BTreeMap, BTreeSet};

use eetf::{ByteList, Term};

use crate::forms::anno;
use crate::forms::build::*;
use beam_format::tables::FunctionRef;
use beam_plan::Capture;

use super::contract::{
    self, ENTER, ENTER_CAPTURED, EXCEPTION, GATE_ON, RECORDING_KEY, REMOTE_TAIL_CALL, RETURN,
    SENDING, TAIL_CALL, TAIL_CALL_CAPTURED,
};
use super::naming::{
    inner_name, tail_entry_name, variable, RECORDER, SEND_HELPER, TAIL_HELPER, WRAPPER_FILE,
};

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

/// The three forms that follow the inner function: `-file` of the wrapper, the wrapper, and
/// `-file` back to the original.
pub fn wrapper_forms(site: &WrapperSite<'_>) -> [Term; 3] {
    let plain = int(site.line);
    [
        file_attribute(&plain, wrapper_file(), site.line),
        wrapper_function(site),
        file_attribute(&plain, site.file.clone(), site.line),
    ]
}

/// The module's helpers, under the wrapper file: `'es$$record'/4` (with a clause per function
/// in `capture`), `'es$$tail'/(N+1)` for each arity `N` in `tail_arities`, and the tail entry
/// of each function of `tail_entries`.
pub fn helper_forms(
    module: &str,
    tail_arities: &[u32],
    tail_entries: &BTreeSet<FunctionRef>,
    capture: &BTreeMap<FunctionRef, Capture>,
    reports_sends: bool,
    file: &Term,
) -> Vec<Term> {
    let plain = int(1);
    let mut forms = vec![
        file_attribute(&plain, wrapper_file(), 1),
        recorder_function(module, capture),
    ];
    forms.extend(
        tail_arities
            .iter()
            .map(|&n| tail_helper(module, n, capture)),
    );
    forms.extend(tail_entries.iter().map(tail_entry));
    if reports_sends {
        forms.push(send_helper(module));
    }
    forms.push(file_attribute(&plain, file.clone(), 1));
    forms
}

/// `'es$$send'(Kind, Dest, Message) -> case elixir_scope_gate:on(M) of true ->
/// elixir_scope_runtime:sending(Kind, Dest, Message); _ -> ok end.`: what a send site calls
/// right before it sends (see [`super::sends`]). It returns `ok` and never raises.
pub fn send_helper(module: &str) -> Term {
    let a = &anno::generated(int(1));
    let args: Vec<Term> = ["Kind", "Dest", "Message"]
        .iter()
        .map(|name| var(a, &variable(name)))
        .collect();
    let check = contract::call(a, GATE_ON, vec![atom_lit(a, module)]);
    let report = contract::call(a, SENDING, args.clone());
    let body = case_expr(
        a,
        check,
        vec![
            clause(a, vec![atom_lit(a, "true")], vec![report]),
            clause(a, vec![var(a, "_")], vec![atom_lit(a, "ok")]),
        ],
    );
    function(a, SEND_HELPER, 3, vec![clause(a, args, vec![body])])
}

/// `'es$$tail$f'(A1, ..., AN) -> 'es$$tail'(f, A1, ..., AN), 'es$f'(A1, ..., AN).`: where local
/// tail calls to `f/N` go (see [`super::tail_calls`]). It leaves no frame behind: its call to
/// the inner function is a tail call.
pub fn tail_entry(target: &FunctionRef) -> Term {
    let a = &anno::generated(int(1));
    let args: Vec<Term> = (1..=target.arity)
        .map(|i| var(a, &variable(&format!("A{i}"))))
        .collect();
    let mut report_args = vec![atom_lit(a, &target.name)];
    report_args.extend(args.iter().cloned());
    let body = vec![
        local_call(a, TAIL_HELPER, report_args),
        local_call(a, &inner_name(&target.name), args.clone()),
    ];
    function(
        a,
        &tail_entry_name(&target.name),
        target.arity,
        vec![clause(a, args, body)],
    )
}

/// `persistent_term:get(elixir_scope_recording, undefined)`.
fn recording_term(a: &Term) -> Term {
    remote_call(
        a,
        "persistent_term",
        "get",
        vec![atom_lit(a, RECORDING_KEY), atom_lit(a, "undefined")],
    )
}

/// `persistent_term:get(elixir_scope_recording, undefined) =:= true`.
pub fn recording_check(a: &Term) -> Term {
    op(a, "=:=", recording_term(a), atom_lit(a, "true"))
}

/// `case <recording_check> of true -> elixir_scope_runtime:tail_call(M, F, N, Args); false ->
/// ok end`, with `function` an expression for `F`.
pub fn tail_call_report(
    a: &Term,
    module: &str,
    function: Term,
    arity: u32,
    args: Vec<Term>,
) -> Term {
    let report = contract::call(
        a,
        TAIL_CALL,
        vec![
            atom_lit(a, module),
            function,
            int_lit(a, arity as i32),
            list_expr(a, args),
        ],
    );
    when_recording(a, report)
}

/// `case <recording_check> of true -> elixir_scope_runtime:remote_tail_call(M, F, N); false ->
/// ok end`: said right before a remote call in tail position to the module's own wrapped
/// `F/N` (`?MODULE:loop(S)`), so that the runtime records that call as the current call
/// continuing (a tail call), not as a new call that would stay open.
pub fn remote_tail_call_report(a: &Term, module: &str, function: &str, arity: u32) -> Term {
    let report = contract::call(
        a,
        REMOTE_TAIL_CALL,
        vec![
            atom_lit(a, module),
            atom_lit(a, function),
            int_lit(a, arity as i32),
        ],
    );
    when_recording(a, report)
}

/// `case <recording_check> of true -> Report; false -> ok end`.
fn when_recording(a: &Term, report: Term) -> Term {
    case_expr(
        a,
        recording_check(a),
        vec![
            clause(a, vec![atom_lit(a, "true")], vec![report]),
            clause(a, vec![atom_lit(a, "false")], vec![atom_lit(a, "ok")]),
        ],
    )
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
    let check = contract::call(a, GATE_ON, vec![atom_lit(a, site.module)]);
    let inner_fun = tuple(vec![
        atom("fun"),
        a.clone(),
        tuple(vec![atom("function"), atom(&inner), int(site.arity as i32)]),
    ]);
    let record = local_call(
        a,
        RECORDER,
        vec![
            atom_lit(a, site.name),
            int_lit(a, site.arity as i32),
            list_expr(a, args.clone()),
            inner_fun,
        ],
    );
    let body = case_expr(
        a,
        check,
        vec![
            clause(a, vec![atom_lit(a, "true")], vec![record]),
            clause(
                a,
                vec![var(a, "_")],
                vec![local_call(a, &inner, args.clone())],
            ),
        ],
    );
    function(a, site.name, site.arity, vec![clause(a, args, vec![body])])
}

/// `'es$$record'(F, N, Args, Inner)`: the recording branch of every wrapper of the module;
/// `deep` from `enter/4` runs the function in tail position, unrecorded. Functions with
/// capture options get a clause of their own first, calling `enter/5` with the options.
fn recorder_function(module: &str, capture: &BTreeMap<FunctionRef, Capture>) -> Term {
    let a = &anno::generated(int(1));
    let v = |name: &str| var(a, &variable(name));
    let mut clauses: Vec<Term> = capture
        .iter()
        .map(|(function, options)| {
            let (name, arity) = (
                atom_lit(a, &function.name),
                int_lit(a, function.arity as i32),
            );
            let enter = contract::call(
                a,
                ENTER_CAPTURED,
                vec![
                    atom_lit(a, module),
                    name.clone(),
                    arity.clone(),
                    v("Args"),
                    options_literal(a, options),
                ],
            );
            let params = vec![name, arity, v("Args"), v("Inner")];
            clause(a, params, vec![recorder_body(a, enter)])
        })
        .collect();
    let enter = contract::call(
        a,
        ENTER,
        vec![atom_lit(a, module), v("F"), v("N"), v("Args")],
    );
    let params = vec![v("F"), v("N"), v("Args"), v("Inner")];
    clauses.push(clause(a, params, vec![recorder_body(a, enter)]));
    function(a, RECORDER, 4, clauses)
}

/// `{Arguments, Result, #{Cap => Value}}`: capture options as the runtime's `enter/5` takes
/// them. `Arguments` is `true`, `false` (every argument redacted) or the list of redacted
/// positions; `Result` whether the result is recorded.
fn options_literal(a: &Term, options: &Capture) -> Term {
    let caps = options
        .caps
        .iter()
        .map(|(key, &value)| {
            // Caps the runtime accepts are at most 2^20.
            let value = value.min(i32::MAX as u64) as i32;
            tuple(vec![
                atom("map_field_assoc"),
                a.clone(),
                atom_lit(a, key),
                int_lit(a, value),
            ])
        })
        .collect();
    let arguments = match (options.arguments, options.redact_args.as_slice()) {
        (false, _) => atom_lit(a, "false"),
        (true, []) => atom_lit(a, "true"),
        (true, positions) => list_expr(
            a,
            positions
                .iter()
                .map(|&p| int_lit(a, i32::from(p)))
                .collect(),
        ),
    };
    tuple(vec![
        atom("tuple"),
        a.clone(),
        list(vec![
            arguments,
            atom_lit(a, if options.result { "true" } else { "false" }),
            tuple(vec![atom("map"), a.clone(), list(caps)]),
        ]),
    ])
}

/// `case Enter of deep -> apply(Inner, Args); Token -> try ... end end`.
fn recorder_body(a: &Term, enter: Term) -> Term {
    let v = |name: &str| var(a, &variable(name));
    let token = v("Token");
    let result = v("Result");
    let (class, reason, stack) = (v("Class"), v("Reason"), v("Stack"));
    let apply = remote_call(a, "erlang", "apply", vec![v("Inner"), v("Args")]);
    let returned = clause(
        a,
        vec![result.clone()],
        vec![contract::call(a, RETURN, vec![token.clone(), result])],
    );
    let raised = clause(
        a,
        vec![tuple(vec![
            atom("tuple"),
            a.clone(),
            list(vec![class.clone(), reason.clone(), stack.clone()]),
        ])],
        vec![contract::call(
            a,
            EXCEPTION,
            vec![token.clone(), class, reason, stack],
        )],
    );
    let recorded = try_expr(a, vec![apply.clone()], vec![returned], vec![raised]);
    case_expr(
        a,
        enter,
        vec![
            clause(a, vec![atom_lit(a, "deep")], vec![apply]),
            clause(a, vec![token], vec![recorded]),
        ],
    )
}

/// `'es$$tail'(F, A1, ..., AN)`: reports a tail call to `F/N` while recording. Functions of
/// that arity with capture options get a clause of their own first, reporting through
/// `tail_call/5` with the options (so that hidden arguments stay hidden).
fn tail_helper(module: &str, arity: u32, capture: &BTreeMap<FunctionRef, Capture>) -> Term {
    let a = &anno::generated(int(1));
    let args: Vec<Term> = (1..=arity)
        .map(|i| var(a, &variable(&format!("A{i}"))))
        .collect();
    let mut clauses: Vec<Term> = capture
        .iter()
        .filter(|(function, _)| function.arity == arity)
        .map(|(function, options)| {
            let name = atom_lit(a, &function.name);
            let report = contract::call(
                a,
                TAIL_CALL_CAPTURED,
                vec![
                    atom_lit(a, module),
                    name.clone(),
                    int_lit(a, arity as i32),
                    list_expr(a, args.clone()),
                    options_literal(a, options),
                ],
            );
            let body = when_recording(a, report);
            let mut params = vec![name];
            params.extend(args.iter().cloned());
            clause(a, params, vec![body])
        })
        .collect();
    let function_var = var(a, &variable("F"));
    let body = tail_call_report(a, module, function_var.clone(), arity, args.clone());
    let mut params = vec![function_var];
    params.extend(args);
    clauses.push(clause(a, params, vec![body]));
    function(a, TAIL_HELPER, arity + 1, clauses)
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
        // Paused (the gate says anything but true): a tail call to the inner function;
        // recording: to the module's recorder, with the inner function as a fun.
        let calls = calls_in(&wrapper);
        assert_eq!(calls, ["'es$$record'", "'es$run'", "elixir_scope_gate:on"]);
        assert!(forms::any_subterm(&wrapper, |t| {
            t == &tuple(vec![atom("function"), atom("es$run"), int(2)])
        }));
    }

    #[test]
    fn helpers_call_the_runtime_as_the_contract_says() {
        let file = Term::from(ByteList::from(b"m.erl".to_vec()));
        let entries = BTreeSet::from([FunctionRef {
            name: "loop".into(),
            arity: 3,
        }]);
        let forms = helper_forms("m", &[0, 3], &entries, &BTreeMap::new(), false, &file);
        let names: Vec<String> = forms
            .iter()
            .filter_map(FunctionForm::of)
            .map(|f| format!("{}/{}", f.name, f.arity))
            .collect();
        assert_eq!(
            names,
            [
                "es$$record/4",
                "es$$tail/1",
                "es$$tail/4",
                "es$$tail$loop/3"
            ]
        );
        assert_eq!(
            calls_in(&forms[1]),
            [
                "elixir_scope_runtime:enter",
                "elixir_scope_runtime:exception",
                "elixir_scope_runtime:return",
                "erlang:apply",
                "erlang:apply"
            ]
        );
        assert_eq!(
            calls_in(&forms[3]),
            ["elixir_scope_runtime:tail_call", "persistent_term:get"]
        );
        // The tail entry reports, then jumps to the inner function (its last call).
        let entry = FunctionForm::of(&forms[4]).expect("the tail entry");
        let [_, _, params, _, body] = forms::tagged(&entry.clauses[0], "clause").unwrap() else {
            panic!("a clause")
        };
        let body = forms::list_elements(body).unwrap();
        assert_eq!(body.len(), 2);
        let report = forms::tagged(&body[0], "call").unwrap();
        assert_eq!(lit(&report[2]), "es$$tail");
        let inner = forms::tagged(&body[1], "call").unwrap();
        assert_eq!(lit(&inner[2]), "es$loop");
        assert_eq!(&inner[3], params, "the entry's arguments, in order");
        assert_eq!(forms::attribute(&forms[0]).map(|(n, _)| n), Some("file"));
        assert_eq!(
            forms::attribute(&forms[5]).map(|(_, v)| v.clone()),
            Some(tuple(vec![file, int(1)]))
        );
    }

    #[test]
    fn the_recorder_runs_the_function_without_a_frame_when_the_runtime_says_deep() {
        let file = Term::from(ByteList::from(b"m.erl".to_vec()));
        let forms = helper_forms("m", &[], &BTreeSet::new(), &BTreeMap::new(), false, &file);
        let recorder = FunctionForm::of(&forms[1]).expect("the recorder");
        let [_, _, _, _, body] = forms::tagged(&recorder.clauses[0], "clause").unwrap() else {
            panic!("a clause")
        };
        let body = forms::list_elements(body).unwrap();
        assert_eq!(body.len(), 1, "the case on enter/4 is the whole body");
        let [_, _, scrutinee, clauses] = forms::tagged(&body[0], "case").unwrap() else {
            panic!("a case")
        };
        assert_eq!(calls_in(scrutinee), ["elixir_scope_runtime:enter"]);
        let clauses = forms::list_elements(clauses).unwrap();
        assert_eq!(clauses.len(), 2);
        let [_, _, deep, _, deep_body] = forms::tagged(&clauses[0], "clause").unwrap() else {
            panic!("a clause")
        };
        assert_eq!(
            forms::list_elements(deep).map(|p| p.iter().map(lit).collect::<Vec<_>>()),
            Some(vec!["deep".to_string()])
        );
        // The deep branch's body is the bare apply: a tail call, no try around it.
        let deep_body = forms::list_elements(deep_body).unwrap();
        assert_eq!(deep_body.len(), 1);
        assert_eq!(forms::tag(&deep_body[0]), Some("call"));
        assert_eq!(calls_in(&deep_body[0]), ["erlang:apply"]);
        let [_, _, _, _, token_body] = forms::tagged(&clauses[1], "clause").unwrap() else {
            panic!("a clause")
        };
        let token_body = forms::list_elements(token_body).unwrap();
        assert_eq!(forms::tag(&token_body[0]), Some("try"));
    }

    #[test]
    fn functions_with_capture_options_get_their_own_recorder_clause_first() {
        let file = Term::from(ByteList::from(b"m.erl".to_vec()));
        let login = FunctionRef {
            name: "login".into(),
            arity: 2,
        };
        let options = Capture {
            arguments: false,
            caps: BTreeMap::from([("max_bytes".to_string(), 256)]),
            ..Capture::default()
        };
        let forms = helper_forms(
            "m",
            &[],
            &BTreeSet::new(),
            &BTreeMap::from([(login, options)]),
            false,
            &file,
        );
        let recorder = FunctionForm::of(&forms[1]).expect("the recorder");
        assert_eq!((recorder.name, recorder.arity), ("es$$record", 4));
        assert_eq!(recorder.clauses.len(), 2);
        let [_, _, patterns, _, _] = forms::tagged(&recorder.clauses[0], "clause").unwrap() else {
            panic!("a clause")
        };
        let patterns = forms::list_elements(patterns).unwrap();
        assert_eq!(lit(&patterns[0]), "login");
        assert_eq!(patterns[1], int_lit(&anno::generated(int(1)), 2));
        // The options clause calls enter/5 with {false, true, #{max_bytes => 256}}; the last,
        // enter/4.
        let enters = |clause: &Term| {
            let mut arities = Vec::new();
            forms::any_subterm(clause, |t| {
                if let Some([_, _, callee, args]) = forms::tagged(t, "call") {
                    if forms::tagged(callee, "remote").is_some_and(|r| lit(&r[3]) == "enter") {
                        arities.push(forms::list_elements(args).map_or(0, |a| a.len()));
                    }
                }
                false
            });
            arities
        };
        assert_eq!(enters(&recorder.clauses[0]), [5]);
        assert_eq!(enters(&recorder.clauses[1]), [4]);
        assert!(forms::any_subterm(&recorder.clauses[0], |t| {
            forms::tagged(t, "map_field_assoc").is_some_and(|f| lit(&f[2]) == "max_bytes")
        }));
    }

    /// Every function called in `form`, sorted: `'local'` or `module:function`.
    fn calls_in(form: &Term) -> Vec<String> {
        let mut calls = Vec::new();
        forms::any_subterm(form, |t| {
            if let Some([_, _, callee, _]) = forms::tagged(t, "call") {
                match (
                    forms::tagged(callee, "atom"),
                    forms::tagged(callee, "remote"),
                ) {
                    (Some([_, _, name]), _) => calls.push(name.to_string()),
                    (_, Some([_, _, m, f])) => calls.push(format!("{}:{}", lit(m), lit(f))),
                    _ => {}
                }
            }
            false
        });
        calls.sort();
        calls
    }

    fn lit(t: &Term) -> String {
        match forms::tagged(t, "atom") {
            Some([_, _, name]) => forms::atom_name(name).unwrap_or("?").to_string(),
            _ => "?".to_string(),
        }
    }
}
