use std::collections::BTreeSet;

use beam_rewrite::forms::anno;
use beam_rewrite::forms::build::*;
use beam_rewrite::SkipReason;

use super::*;
use crate::facts::{Call, Effect, FunctionFacts, LoopContext, Target};
use crate::test_support::module;

fn f<'a>(m: &'a ModuleFacts, name: &str, arity: u32) -> &'a FunctionFacts {
    m.function(&FunctionRef {
        name: name.into(),
        arity,
    })
    .unwrap_or_else(|| panic!("{}: no {name}/{arity}", m.module))
}

fn effects(m: &ModuleFacts, name: &str, arity: u32) -> Vec<Effect> {
    f(m, name, arity).effects.iter().copied().collect()
}

fn calls_to<'a>(m: &'a ModuleFacts, from: &str, arity: u32, to: &str) -> Vec<&'a Call> {
    f(m, from, arity)
        .calls
        .iter()
        .filter(|c| c.target.name == to)
        .collect()
}

#[test]
fn functions_exports_arities_clauses_and_sizes() {
    let erl = module("facts_erl");
    assert!(!erl.elixir);
    assert_eq!(
        erl.file.as_deref().map(|f| f.ends_with("facts_erl.erl")),
        Some(true)
    );
    let multi = f(erl, "multi", 1);
    assert!(!multi.exported);
    assert_eq!(multi.clauses, 3);
    assert_eq!(multi.size, 3, "one integer per clause body");
    let leaf = f(erl, "leaf", 1);
    assert!(leaf.exported);
    assert_eq!(leaf.size, 3, "X + 1: op, var, integer");
    assert_eq!(f(erl, "loop", 1).clauses, 2);
    // Guards count, patterns do not: is_integer(X), X > 0, multi(X) | multi(c).
    assert_eq!(f(erl, "guarded", 1).size, 2 + 3 + 2 + 2);
    let elixir = module("Elixir.FactsEx");
    assert!(elixir.elixir);
    assert!(f(elixir, "add", 2).exported);
    assert!(!f(elixir, "priv", 1).exported);
    assert!(f(elixir, "big", 1).size > 12);
}

#[test]
fn behaviours_callbacks_and_protocols() {
    assert_eq!(module("facts_erl").behaviours, ["gen_server"]);
    assert_eq!(module("Elixir.FactsEx").behaviours, ["Elixir.GenServer"]);
    assert_eq!(
        module("Elixir.FactsEx.Behaviour").declared_callbacks,
        [FunctionRef {
            name: "run".into(),
            arity: 1
        }]
    );
    assert_eq!(
        module("Elixir.FactsEx.Impl").behaviours,
        ["Elixir.FactsEx.Behaviour"]
    );
    let show = module("Elixir.FactsEx.Show.Integer");
    assert_eq!(
        show.implements_protocol.as_deref(),
        Some("Elixir.FactsEx.Show")
    );
    assert!(show.behaviours.contains(&"Elixir.FactsEx.Show".to_string()));
    assert!(module("Elixir.FactsEx.Show").is_protocol);
    assert!(module("Elixir.FactsEx.Plug").is_plug_like());
    assert!(!module("Elixir.FactsEx.Impl").is_plug_like());
}

#[test]
fn side_effects_in_erlang_and_elixir_spellings() {
    let erl = module("facts_erl");
    let cases = [
        ("sender", 1, Effect::Send),
        ("recv", 0, Effect::Receive),
        ("spawner", 0, Effect::Spawn),
        ("start", 0, Effect::Spawn),
        ("ets_user", 0, Effect::SharedState),
        ("printer", 1, Effect::Io),
        ("reader", 1, Effect::File),
        ("thrower", 1, Effect::Raise),
        ("dict_user", 0, Effect::Process),
        ("clock", 0, Effect::Nondeterministic),
    ];
    for (name, arity, effect) in cases {
        assert_eq!(effects(erl, name, arity), [effect], "{name}/{arity}");
    }
    assert!(f(erl, "leaf", 1).effects.is_empty());
    assert!(f(erl, "leaf", 1).locally_pure());
    let ex = module("Elixir.FactsEx");
    let cases = [
        ("log", 1, Effect::Io),
        ("tell", 1, Effect::Send),
        ("psend", 1, Effect::Send),
        ("task", 0, Effect::Spawn),
        ("read", 1, Effect::File),
        ("ets", 0, Effect::SharedState),
        ("start_link", 1, Effect::Spawn),
    ];
    for (name, arity, effect) in cases {
        assert_eq!(effects(ex, name, arity), [effect], "{name}/{arity}");
    }
    assert!(f(ex, "add", 2).locally_pure());
    assert!(f(ex, "big", 1).locally_pure(), "{:?}", f(ex, "big", 1));
}

#[test]
fn unknown_and_dynamic_calls() {
    let erl = module("facts_erl");
    let unknown = f(erl, "unknown", 0);
    assert_eq!(
        unknown.unknown_calls,
        BTreeSet::from([Target {
            module: "other_mod".into(),
            name: "call".into(),
            arity: 0
        }])
    );
    assert!(!unknown.locally_pure());
    assert!(f(erl, "dyn", 2).dynamic_calls);
    assert!(!f(erl, "leaf", 1).dynamic_calls);
}

#[test]
fn calls_references_and_the_loops_they_sit_in() {
    let erl = module("facts_erl");
    let by_map = calls_to(erl, "uses_leaf", 1, "leaf");
    assert_eq!(by_map.len(), 1);
    assert!(by_map[0].reference);
    assert_eq!(
        by_map[0].in_loop,
        Some(LoopContext::HigherOrder {
            function: "lists:map/2".into()
        })
    );
    let in_comprehension = calls_to(erl, "comp", 1, "private_leaf");
    assert_eq!(
        in_comprehension[0].in_loop,
        Some(LoopContext::Comprehension)
    );
    assert!(!in_comprehension[0].reference);
    let plain = calls_to(erl, "ping", 1, "pong");
    assert_eq!(plain[0].in_loop, None);
    let remote_self = calls_to(erl, "self_remote", 1, "self_remote");
    assert_eq!(
        remote_self[0].target.module, "facts_erl",
        "?MODULE:f is a self call"
    );

    let ex = module("Elixir.FactsEx");
    let in_fun = calls_to(ex, "sum", 1, "add");
    assert_eq!(
        in_fun[0].in_loop,
        Some(LoopContext::HigherOrder {
            function: "Elixir.Enum:reduce/3".into()
        })
    );
    let capture = calls_to(ex, "double_all", 1, "double");
    assert!(capture[0].reference);
    assert!(capture[0].in_loop.is_some());
    let cross = calls_to(module("Elixir.FactsEx.Walker"), "a", 1, "b");
    assert_eq!(cross[0].target.module, "Elixir.FactsEx.Walker2");
}

#[test]
fn generated_code_and_what_cannot_be_wrapped() {
    let ex = module("Elixir.FactsEx");
    let info = f(ex, "__info__", 1);
    assert_eq!(info.generated, Some(Generated::Name));
    assert_eq!(info.cannot_wrap, Some(SkipReason::CompilerGenerated));
    let child_spec = f(ex, "child_spec", 1);
    assert!(
        child_spec
            .injected_from
            .as_deref()
            .is_some_and(|file| file.ends_with("gen_server.ex")),
        "{child_spec:?}"
    );
    assert_eq!(f(ex, "add", 2).injected_from, None);
    assert_eq!(f(ex, "add", 2).cannot_wrap, None);
    let protocol = module("Elixir.FactsEx.Show");
    assert_eq!(
        f(protocol, "impl_for", 1).cannot_wrap,
        Some(SkipReason::CompilerGenerated)
    );

    // An annotated function, built by hand: the compiler marks what it generates.
    let a = int(3);
    let forms = vec![
        tuple(vec![
            atom("attribute"),
            int(1),
            atom("file"),
            tuple(vec![list(vec![int(109)]), int(1)]),
        ]),
        tuple(vec![atom("attribute"), int(1), atom("module"), atom("m")]),
        function(
            &anno::generated(int(3)),
            "made",
            1,
            vec![clause(&a, vec![var(&a, "X")], vec![var(&a, "X")])],
        ),
        function(
            &a,
            "own",
            0,
            vec![clause(&a, vec![], vec![atom_lit(&a, "ok")])],
        ),
    ];
    let facts = analyze(&forms, false).unwrap();
    assert_eq!(facts.file.as_deref(), Some("m"));
    assert_eq!(facts.functions[0].generated, Some(Generated::Annotated));
    assert_eq!(facts.functions[1].generated, None);
    assert_eq!(facts.functions[1].size, 1);
    assert_eq!(analyze(&forms[2..], false), Err(AnalyzeError::NoModule));
}

#[test]
fn deep_forms_are_walked_without_recursion() {
    beam_format::etf::with_large_stack(|| {
        let a = int(1);
        let mut body = nil_expr(&a);
        for i in 0..100_000 {
            body = tuple(vec![atom("cons"), a.clone(), int_lit(&a, i), body]);
        }
        let forms = vec![
            tuple(vec![
                atom("attribute"),
                int(1),
                atom("module"),
                atom("deep"),
            ]),
            function(&a, "big", 0, vec![clause(&a, vec![], vec![body])]),
        ];
        let facts = analyze(&forms, false).unwrap();
        assert_eq!(facts.functions[0].size, 200_001);
    });
}

fn nil_expr(a: &eetf::Term) -> eetf::Term {
    tuple(vec![atom("nil"), a.clone()])
}
