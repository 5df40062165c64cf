//! What rewritten code learns about itself from `process_info` is cleaned where it asks.
//!
//! Inside a rewritten module the original clauses run under their inner names (`'es$f'`),
//! below recorder frames (`'es$$record'`). Code that looks at a process's current function or
//! stack (gproc's `gproc:info(Pid, current_function)` parses `process_info(Pid, backtrace)`;
//! code that logs where a process is stuck) would see those names and frames where the original
//! saw its own. So, like caught stack traces ([`super::catch_sites`]), the answers are cleaned
//! where they are obtained: in every function and fun of a rewritten module, a call
//!
//! ```erlang
//! erlang:process_info(Pid, Item)      % also process_info/1, the auto-imported local call,
//!                                     % and Elixir's Process.info/1,2
//! %% becomes
//! elixir_scope_stacktrace:clean_process_info(erlang:process_info(Pid, Item))
//! ```
//!
//! `clean_process_info/1` gives `current_function`, `current_location`, `current_stacktrace`
//! and `backtrace` (alone or in a list of items) their original names and drops the recorder's
//! frames; it leaves every other answer as it is.

use eetf::Term;

use crate::forms::build::*;
use crate::forms::{self, anno};
use crate::tables::FunctionRef;

use super::catch_sites::STACKTRACE_MODULE;
use super::eligibility::ModuleFacts;

/// The function of [`STACKTRACE_MODULE`] that cleans `process_info` answers.
pub const CLEAN_PROCESS_INFO: &str = "clean_process_info";

/// Wraps every call inside `term` (a function's clauses) that asks `process_info` in
/// `clean_process_info/1`. Returns how many calls changed.
pub fn clean_process_info_calls(term: &mut Term, facts: &ModuleFacts) -> usize {
    let mut changed = 0;
    // Iterative: abstract code nests as deep as its longest list literal.
    let mut stack: Vec<&mut Term> = vec![term];
    while let Some(t) = stack.pop() {
        if asks_process_info(t, facts) {
            let call = std::mem::replace(t, atom("undefined"));
            let a = anno::generated(anno::location(
                &forms::tuple_elements(&call).expect("a call")[1],
            ));
            *t = remote_call(&a, STACKTRACE_MODULE, CLEAN_PROCESS_INFO, vec![call]);
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

/// `{call, _, Callee, Args}` calling `erlang:process_info/1,2`, `process_info/1,2` (the BIF,
/// when the module defines no function of that name) or `'Elixir.Process':info/1,2`.
fn asks_process_info(term: &Term, facts: &ModuleFacts) -> bool {
    let Some([_, _, callee, args]) = forms::tagged(term, "call") else {
        return false;
    };
    let Some(arity) = forms::list_elements(args).map(<[Term]>::len) else {
        return false;
    };
    if !(1..=2).contains(&arity) {
        return false;
    }
    if let Some([_, _, name]) = forms::tagged(callee, "atom") {
        return forms::atom_name(name) == Some("process_info")
            && !facts.defined.contains(&FunctionRef {
                name: "process_info".to_string(),
                arity: arity as u32,
            });
    }
    let Some([_, _, module, function]) = forms::tagged(callee, "remote") else {
        return false;
    };
    let literal = |t: &Term| match forms::tagged(t, "atom") {
        Some([_, _, name]) => forms::atom_name(name).map(str::to_string),
        _ => None,
    };
    matches!(
        (literal(module).as_deref(), literal(function).as_deref()),
        (Some("erlang"), Some("process_info")) | (Some("Elixir.Process"), Some("info"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(defined: &[(&str, u32)]) -> ModuleFacts {
        ModuleFacts {
            module: "m".to_string(),
            defined: defined
                .iter()
                .map(|(name, arity)| FunctionRef {
                    name: name.to_string(),
                    arity: *arity,
                })
                .collect(),
            ..ModuleFacts::default()
        }
    }

    fn count_cleaning(term: &Term) -> usize {
        let mut n = 0;
        forms::any_subterm(term, |t| {
            n += usize::from(t == &atom(CLEAN_PROCESS_INFO));
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
        assert!(forms::any_subterm(callee, |t| t == &atom(STACKTRACE_MODULE)));
        assert_eq!(
            forms::list_elements(args).unwrap(),
            &[local_call(&a, "process_info", vec![pid, item])]
        );
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
