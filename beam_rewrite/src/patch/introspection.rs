//! What rewritten code learns about its own process is cleaned where it asks.
//!
//! Inside a rewritten module the original clauses run under their inner names (`'es$f'`),
//! below recorder frames (`'es$$record'`), and the runtime keeps its per-process state in the
//! process dictionary (keys `'$elixir_scope_...'`). Code that looks at a process's current
//! function or stack (gproc's `gproc:info(Pid, current_function)` parses `process_info(Pid,
//! backtrace)`) would see those names and frames where the original saw its own, and code that
//! reads the whole dictionary would see the runtime's keys (PropEr checks `get() =:= []` after
//! its tests and copies `get()` into the processes it spawns). So, like caught stack traces
//! ([`super::catch_sites`]), the answers are cleaned where they are obtained: in every function
//! and fun of a rewritten module, a call
//!
//! ```erlang
//! erlang:process_info(Pid, Item)
//! %% becomes
//! elixir_scope_stacktrace:clean_process_info(erlang:process_info(Pid, Item))
//! ```
//!
//! and likewise for these (auto-imported local calls and Elixir's `Process` functions too):
//!
//! | call | cleaned by | what the cleaning does |
//! |---|---|---|
//! | `process_info/1,2`, `Process.info/1,2` | `clean_process_info/1` | original names in `current_function`, `current_location`, `current_stacktrace` and the `backtrace` text, without recorder frames; no runtime keys in `dictionary` |
//! | `get/0`, `Process.get/0` | `clean_dictionary/1` | drops the runtime's entries |
//! | `get_keys/0,1`, `Process.get_keys/0,1` | `clean_keys/1` | drops the runtime's keys |
//! | `erase/0` | `clean_erased/1` | puts the runtime's entries back, returns the others |
//! | `fun_info/1,2`, `Function.info/1,2` | `clean_fun_info/1` | the original `name` of funs defined in wrapped functions (`-f/1-fun-0-`, not `-es$f/1-fun-0-`; PropEr names the function of a failing `?SUCHTHAT` from it) |
//!
//! Every other answer is left as it is.
//!
//! Hibernating discards the process's stack, recorder frames included: `erlang:hibernate(M, F,
//! Args)` and `proc_lib:hibernate(M, F, Args)` become `...(M, F,
//! elixir_scope_runtime:discarding_stack(Args))`, so that the runtime knows that the calls it
//! holds open in the process will never end (a hibernating receive loop would otherwise nest
//! every wake-up under calls that no longer exist, until the depth cap stopped recording it).

use eetf::Term;

use crate::forms::build::*;
use crate::forms::{self, anno};
use beam_format::tables::FunctionRef;

use super::contract::{
    self, Callee, CLEAN_DICTIONARY, CLEAN_ERASED, CLEAN_FUN_INFO, CLEAN_KEYS, CLEAN_PROCESS_INFO,
    DISCARDING_STACK,
};
use super::eligibility::WrapFacts;

/// The calls whose answers are cleaned: module (`None` for an auto-imported local call),
/// function, arity, and the cleaning function of `elixir_scope_stacktrace`.
const CLEANED: &[(Option<&str>, &str, usize, Callee)] = &[
    (Some("erlang"), "process_info", 1, CLEAN_PROCESS_INFO),
    (Some("erlang"), "process_info", 2, CLEAN_PROCESS_INFO),
    (None, "process_info", 1, CLEAN_PROCESS_INFO),
    (None, "process_info", 2, CLEAN_PROCESS_INFO),
    (Some("Elixir.Process"), "info", 1, CLEAN_PROCESS_INFO),
    (Some("Elixir.Process"), "info", 2, CLEAN_PROCESS_INFO),
    (Some("erlang"), "get", 0, CLEAN_DICTIONARY),
    (None, "get", 0, CLEAN_DICTIONARY),
    (Some("Elixir.Process"), "get", 0, CLEAN_DICTIONARY),
    (Some("erlang"), "get_keys", 0, CLEAN_KEYS),
    (Some("erlang"), "get_keys", 1, CLEAN_KEYS),
    (None, "get_keys", 0, CLEAN_KEYS),
    (None, "get_keys", 1, CLEAN_KEYS),
    (Some("Elixir.Process"), "get_keys", 0, CLEAN_KEYS),
    (Some("Elixir.Process"), "get_keys", 1, CLEAN_KEYS),
    (Some("erlang"), "erase", 0, CLEAN_ERASED),
    (None, "erase", 0, CLEAN_ERASED),
    (Some("erlang"), "fun_info", 1, CLEAN_FUN_INFO),
    (Some("erlang"), "fun_info", 2, CLEAN_FUN_INFO),
    (Some("Elixir.Function"), "info", 1, CLEAN_FUN_INFO),
    (Some("Elixir.Function"), "info", 2, CLEAN_FUN_INFO),
];

/// Wraps every call inside `term` (a function's clauses) whose answer is cleaned (see the
/// module documentation) in its cleaning function. Returns how many calls changed.
pub fn clean_process_info_calls(term: &mut Term, facts: &WrapFacts) -> usize {
    let mut changed = 0;
    // Iterative: abstract code nests as deep as its longest list literal.
    let mut stack: Vec<&mut Term> = vec![term];
    while let Some(t) = stack.pop() {
        if discards_stack(t) {
            let elements = forms::tuple_elements_mut(t).expect("a call");
            let a = anno::generated(anno::location(&elements[1]));
            let args = forms::list_elements_mut(&mut elements[3]).expect("arguments");
            let original = std::mem::replace(&mut args[2], atom("undefined"));
            args[2] = contract::call(&a, DISCARDING_STACK, vec![original]);
            changed += 1;
            stack.extend(args.iter_mut());
            continue;
        }
        if let Some(cleaner) = cleaner_of(t, facts) {
            let call = std::mem::replace(t, atom("undefined"));
            let a = anno::generated(anno::location(
                &forms::tuple_elements(&call).expect("a call")[1],
            ));
            *t = contract::call(&a, cleaner, vec![call]);
            changed += 1;
            // The original call is now the argument: visit its own arguments.
            let args = &mut forms::tuple_elements_mut(t).expect("a call")[3];
            let inner = &mut forms::list_elements_mut(args).expect("arguments")[0];
            stack.push(&mut forms::tuple_elements_mut(inner).expect("a call")[3]);
            continue;
        }
        match t {
            Term::Tuple(x) => stack.extend(x.elements.iter_mut()),
            Term::List(x) => stack.extend(x.elements.iter_mut()),
            _ => {}
        }
    }
    changed
}

/// Whether `term` is a call `erlang:hibernate/3` or `proc_lib:hibernate/3`.
fn discards_stack(term: &Term) -> bool {
    let Some([_, _, callee, args]) = forms::tagged(term, "call") else {
        return false;
    };
    let Some([_, _, module, function]) = forms::tagged(callee, "remote") else {
        return false;
    };
    fn name(t: &Term) -> Option<&str> {
        match forms::tagged(t, "atom") {
            Some([_, _, name]) => forms::atom_name(name),
            _ => None,
        }
    }
    matches!(name(module), Some("erlang" | "proc_lib"))
        && name(function) == Some("hibernate")
        && forms::list_elements(args).map(<[Term]>::len) == Some(3)
}

/// The cleaning function for `term` if it is a call `{call, _, Callee, Args}` listed in
/// [`CLEANED`] (a local call only when the module defines no function of that name and arity:
/// then it is the auto-imported BIF).
fn cleaner_of(term: &Term, facts: &WrapFacts) -> Option<Callee> {
    let [_, _, callee, args] = forms::tagged(term, "call")? else {
        return None;
    };
    let arity = forms::list_elements(args)?.len();
    let literal = |t: &Term| match forms::tagged(t, "atom") {
        Some([_, _, name]) => forms::atom_name(name).map(str::to_string),
        _ => None,
    };
    let (module, function) = if let Some(name) = literal(callee) {
        let local = FunctionRef {
            name: name.clone(),
            arity: arity as u32,
        };
        if facts.defined.contains(&local) {
            return None;
        }
        (None, name)
    } else {
        let [_, _, module, function] = forms::tagged(callee, "remote")? else {
            return None;
        };
        (Some(literal(module)?), literal(function)?)
    };
    CLEANED
        .iter()
        .find(|(m, f, a, _)| *m == module.as_deref() && *f == function && *a == arity)
        .map(|(_, _, _, cleaner)| *cleaner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(defined: &[(&str, u32)]) -> WrapFacts {
        WrapFacts {
            module: "m".to_string(),
            defined: defined
                .iter()
                .map(|(name, arity)| FunctionRef {
                    name: name.to_string(),
                    arity: *arity,
                })
                .collect(),
            ..WrapFacts::default()
        }
    }

    fn count_cleaning(term: &Term) -> usize {
        let mut n = 0;
        forms::any_subterm(term, |t| {
            n += usize::from(t == &atom(CLEAN_PROCESS_INFO.function));
            false
        });
        n
    }

    #[test]
    fn wraps_bif_remote_and_elixir_calls_once() {
        let a = int(1);
        let pid = var(&a, "P");
        let item = atom_lit(&a, "current_function");
        let mut body = list(vec![
            local_call(&a, "process_info", vec![pid.clone(), item.clone()]),
            remote_call(&a, "erlang", "process_info", vec![pid.clone()]),
            remote_call(
                &a,
                "Elixir.Process",
                "info",
                vec![pid.clone(), item.clone()],
            ),
            // Not process_info: another arity, another module, another function.
            remote_call(&a, "erlang", "process_info", vec![]),
            remote_call(&a, "lists", "process_info", vec![pid.clone()]),
            remote_call(&a, "erlang", "self", vec![]),
            // Nested in arguments: both are wrapped.
            remote_call(
                &a,
                "erlang",
                "process_info",
                vec![local_call(&a, "process_info", vec![pid.clone()])],
            ),
        ]);
        assert_eq!(clean_process_info_calls(&mut body, &facts(&[])), 5);
        assert_eq!(count_cleaning(&body), 5);
        let first = &forms::list_elements(&body).unwrap()[0];
        let [_, _, callee, args] = forms::tagged(first, "call").unwrap() else {
            unreachable!()
        };
        assert!(forms::any_subterm(callee, |t| t == &atom(contract::STACKTRACE)));
        assert_eq!(
            forms::list_elements(args).unwrap(),
            &[local_call(&a, "process_info", vec![pid, item])]
        );
    }

    #[test]
    fn dictionary_reads_get_their_own_cleaning() {
        let a = int(1);
        let mut body = list(vec![
            local_call(&a, "get", vec![]),
            remote_call(&a, "erlang", "get_keys", vec![atom_lit(&a, "v")]),
            remote_call(&a, "Elixir.Process", "get_keys", vec![]),
            local_call(&a, "erase", vec![]),
            // Reading or erasing one key shows nothing of the runtime: left alone.
            local_call(&a, "get", vec![atom_lit(&a, "k")]),
            remote_call(&a, "erlang", "erase", vec![atom_lit(&a, "k")]),
            remote_call(&a, "Elixir.Process", "get", vec![atom_lit(&a, "k")]),
        ]);
        assert_eq!(clean_process_info_calls(&mut body, &facts(&[])), 4);
        let cleaners: Vec<&str> = forms::list_elements(&body).unwrap()[..4]
            .iter()
            .map(|call| {
                let [_, _, callee, _] = forms::tagged(call, "call").unwrap() else {
                    unreachable!()
                };
                let [_, _, _, function] = forms::tagged(callee, "remote").unwrap() else {
                    unreachable!()
                };
                forms::atom_name(&forms::tuple_elements(function).unwrap()[2]).unwrap()
            })
            .collect();
        assert_eq!(
            cleaners,
            [
                "clean_dictionary",
                "clean_keys",
                "clean_keys",
                "clean_erased"
            ]
        );
    }

    #[test]
    fn hibernating_tells_the_runtime_with_its_argument_list() {
        let a = int(1);
        let m = atom_lit(&a, "m");
        let f = atom_lit(&a, "loop");
        let args = var(&a, "Args");
        let mut body = list(vec![
            remote_call(
                &a,
                "erlang",
                "hibernate",
                vec![m.clone(), f.clone(), args.clone()],
            ),
            remote_call(
                &a,
                "proc_lib",
                "hibernate",
                vec![m.clone(), f.clone(), args.clone()],
            ),
            // Another arity, another module: left alone.
            remote_call(&a, "proc_lib", "hibernate", vec![m.clone(), f.clone()]),
            remote_call(&a, "gen_server", "hibernate", vec![m, f, args.clone()]),
        ]);
        assert_eq!(clean_process_info_calls(&mut body, &facts(&[])), 2);
        let calls = forms::list_elements(&body).unwrap();
        for call in &calls[..2] {
            let [_, _, _, call_args] = forms::tagged(call, "call").unwrap() else {
                unreachable!()
            };
            let third = &forms::list_elements(call_args).unwrap()[2];
            let g = anno::generated(anno::location(&a));
            assert_eq!(
                third,
                &contract::call(&g, DISCARDING_STACK, vec![args.clone()])
            );
        }
        assert!(!forms::any_subterm(&calls[2], |t| t == &atom(DISCARDING_STACK.function)));
        assert!(!forms::any_subterm(&calls[3], |t| t == &atom(DISCARDING_STACK.function)));
    }

    #[test]
    fn a_local_function_named_process_info_is_left_alone() {
        let a = int(1);
        let mut body = list(vec![
            local_call(&a, "process_info", vec![var(&a, "P"), var(&a, "I")]),
            local_call(&a, "process_info", vec![var(&a, "P")]),
        ]);
        assert_eq!(
            clean_process_info_calls(&mut body, &facts(&[("process_info", 2)])),
            1
        );
    }
}
