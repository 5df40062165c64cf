//! Patching whole modules, built as forms by hand.

use eetf::{ByteList, Term};

use super::*;
use crate::forms::build::*;
use beam_plan::Plan;

fn file_attr(name: &str) -> Term {
    file_attribute(
        &int(1),
        Term::from(ByteList::from(name.as_bytes().to_vec())),
        1,
    )
}

fn attr(name: &str, value: Term) -> Term {
    tuple(vec![atom("attribute"), int(1), atom(name), value])
}

fn fa(name: &str, arity: i32) -> Term {
    tuple(vec![atom(name), int(arity)])
}

/// ```erlang
/// -file("m.erl", 1).
/// -module(m).
/// -export([loop/2, id/1]).
/// -compile([{inline, [{id, 1}]}]).
/// loop(0, Acc) -> Acc;
/// loop(N, Acc) -> loop(N - 1, id(Acc) + 1).
/// id(X) -> X.
/// ```
fn module_m(extra: Vec<Term>) -> Vec<Term> {
    let a = int(5);
    let n = var(&a, "N");
    let acc = var(&a, "Acc");
    let loop_fn = function(
        &a,
        "loop",
        2,
        vec![
            clause(&a, vec![int_lit(&a, 0), acc.clone()], vec![acc.clone()]),
            clause(
                &a,
                vec![n.clone(), acc.clone()],
                vec![local_call(
                    &int(6),
                    "loop",
                    vec![
                        op(&a, "-", n, int_lit(&a, 1)),
                        op(&a, "+", local_call(&a, "id", vec![acc]), int_lit(&a, 1)),
                    ],
                )],
            ),
        ],
    );
    let x = var(&int(7), "X");
    let id_fn = function(
        &int(7),
        "id",
        1,
        vec![clause(&int(7), vec![x.clone()], vec![x])],
    );
    let mut forms = vec![
        file_attr("m.erl"),
        attr("module", atom("m")),
        attr("export", list(vec![fa("loop", 2), fa("id", 1)])),
        attr(
            "compile",
            list(vec![tuple(vec![atom("inline"), list(vec![fa("id", 1)])])]),
        ),
    ];
    forms.extend(extra);
    forms.push(loop_fn);
    forms.push(id_fn);
    forms.push(tuple(vec![atom("eof"), int(8)]));
    forms
}

fn everything(module: &str) -> ModulePlan {
    Plan::everything().for_module(module)
}

fn function_names(forms: &[Term]) -> Vec<String> {
    forms
        .iter()
        .filter_map(FunctionForm::of)
        .map(|f| format!("{}/{}", f.name, f.arity))
        .collect()
}

fn file_names(forms: &[Term]) -> Vec<String> {
    forms
        .iter()
        .filter_map(forms::attribute)
        .filter(|(n, _)| *n == "file")
        .map(|(_, v)| match &forms::tuple_elements(v).unwrap()[0] {
            Term::ByteList(b) => String::from_utf8_lossy(&b.bytes).into_owned(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn wraps_every_function_and_keeps_the_rest_in_place() {
    let patched = patch_module(&everything("m"), module_m(vec![]), &[atom("debug_info")]).unwrap();
    assert_eq!(
        function_names(&patched.forms),
        [
            "es$loop/2",
            "loop/2",
            "es$id/1",
            "id/1",
            "es$$record/4",
            "es$$tail/3",
            "es$$tail$loop/2"
        ]
    );
    assert_eq!(
        file_names(&patched.forms),
        [
            "m.erl",
            "elixir_scope:wrapper",
            "m.erl",
            "elixir_scope:wrapper",
            "m.erl",
            "elixir_scope:wrapper",
            "m.erl"
        ]
    );
    let wrapped: Vec<String> = patched.wrapped.iter().map(|f| f.to_string()).collect();
    assert_eq!(wrapped, ["id/1", "loop/2"]);
    assert!(patched.skipped.is_empty());
    assert_eq!(patched.redirected_tail_calls, 1, "loop's self call");
    assert_eq!(
        patched.options,
        [atom("from_abstr"), atom("no_lint")],
        "debug_info is dropped"
    );

    // The inline directive follows the clauses into the inner function.
    let compile = patched
        .forms
        .iter()
        .filter_map(forms::attribute)
        .find(|(n, _)| *n == "compile")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(
        compile,
        list(vec![tuple(vec![
            atom("inline"),
            list(vec![fa("es$id", 1)])
        ])])
    );
    // The last form is still eof.
    assert_eq!(forms::tag(patched.forms.last().unwrap()), Some("eof"));
}

#[test]
fn non_tail_calls_still_go_through_the_wrapper() {
    let patched = patch_module(&everything("m"), module_m(vec![]), &[]).unwrap();
    let inner_loop = patched
        .forms
        .iter()
        .find(|f| FunctionForm::of(f).is_some_and(|f| f.name == "es$loop"))
        .unwrap();
    // `id(Acc)` is an argument, not a tail call: it keeps calling the wrapper `id`.
    assert!(forms::any_subterm(inner_loop, |t| t == &atom("id")));
    assert!(!forms::any_subterm(inner_loop, |t| t == &atom("es$id")));
    assert!(forms::any_subterm(inner_loop, |t| t == &atom("es$loop")));
}

#[test]
fn follows_the_plan_and_records_skips() {
    let plan = Plan::from_patterns(["m:loop/2", "m:module_info/*"], Vec::<&str>::new())
        .unwrap()
        .for_module("m");
    let mut forms = module_m(vec![]);
    let a = int(9);
    forms.insert(
        4,
        function(
            &a,
            "module_info",
            0,
            vec![clause(&a, vec![], vec![atom_lit(&a, "ok")])],
        ),
    );
    let patched = patch_module(&plan, forms, &[]).unwrap();
    assert_eq!(
        function_names(&patched.forms),
        [
            "module_info/0",
            "es$loop/2",
            "loop/2",
            "id/1",
            "es$$record/4",
            "es$$tail/3",
            "es$$tail$loop/2"
        ]
    );
    assert_eq!(
        patched.skipped,
        [SkippedFunction {
            function: FunctionRef {
                name: "module_info".into(),
                arity: 0
            },
            reason: SkipReason::CompilerGenerated
        }]
    );
}

#[test]
fn nothing_wrappable_leaves_the_forms_alone() {
    let forms = module_m(vec![]);
    let plan = Plan::from_patterns(["m:absent/1"], Vec::<&str>::new())
        .unwrap()
        .for_module("m");
    let patched = patch_module(&plan, forms.clone(), &[]).unwrap();
    assert!(patched.wrapped.is_empty());
    assert_eq!(patched.forms, forms);
}

#[test]
fn export_all_becomes_an_explicit_export_list() {
    let forms = module_m(vec![attr("compile", atom("export_all"))]);
    let patched = patch_module(&everything("m"), forms, &[atom("export_all")]).unwrap();
    assert!(!patched.options.contains(&atom("export_all")));
    let exports: Vec<&Term> = patched
        .forms
        .iter()
        .filter_map(forms::attribute)
        .filter(|(n, _)| *n == "export")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0], &list(vec![fa("id", 1), fa("loop", 2)]));
    assert!(!patched
        .forms
        .iter()
        .filter_map(forms::attribute)
        .any(|(n, v)| n == "compile" && options::has_export_all(v)));
}

#[test]
fn refuses_forms_it_cannot_place_wrappers_in() {
    let forms = module_m(vec![]);
    assert_eq!(
        patch_module(&everything("other"), forms.clone(), &[]),
        Err(PatchError::WrongModule {
            expected: "other".into(),
            found: "m".into()
        })
    );
    assert_eq!(
        patch_module(&everything("m"), forms[1..].to_vec(), &[]).unwrap_err(),
        PatchError::NoFile {
            function: FunctionRef {
                name: "loop".into(),
                arity: 2
            }
        }
    );
    let mut reserved = forms.clone();
    let a = int(1);
    reserved.insert(
        4,
        function(
            &a,
            "es$$record",
            4,
            vec![clause(&a, vec![], vec![atom_lit(&a, "x")])],
        ),
    );
    assert!(matches!(
        patch_module(&everything("m"), reserved, &[]),
        Err(PatchError::ReservedName { .. })
    ));
    let no_module: Vec<Term> = forms
        .into_iter()
        .filter(|f| forms::attribute(f).map(|(n, _)| n) != Some("module"))
        .collect();
    assert_eq!(
        patch_module(&everything("m"), no_module, &[]).unwrap_err(),
        PatchError::NoModule
    );
}
