//! `{inline, [{f, N}]}` compile options follow the original clauses into the inner function.
//!
//! Asking to inline `f/N` means "put the body of `f` where it is called". After wrapping, the
//! body lives in `'es$f'/N`, and inlining the wrapper instead would put its `try` (and its
//! frames, compiled under the wrapper's file) into every caller. So the option is renamed.

use std::collections::BTreeSet;

use eetf::Term;

use crate::forms::{self, build::atom};
use beam_format::tables::FunctionRef;

use super::naming::inner_name;

/// Renames wrapped functions in an `{inline, ...}` option, or in a list of options
/// (`-compile([...])` takes either form).
pub fn rename_inline(option: &mut Term, wrapped: &BTreeSet<FunctionRef>) {
    if let Some(options) = forms::list_elements_mut(option) {
        for option in options {
            rename_inline(option, wrapped);
        }
        return;
    }
    let Some(elements) = forms::tuple_elements_mut(option) else {
        return;
    };
    if elements.len() != 2 || forms::atom_name(&elements[0]) != Some("inline") {
        return;
    }
    match forms::list_elements_mut(&mut elements[1]) {
        Some(functions) => functions.iter_mut().for_each(|f| rename(f, wrapped)),
        None => rename(&mut elements[1], wrapped),
    }
}

fn rename(name_arity: &mut Term, wrapped: &BTreeSet<FunctionRef>) {
    let Some((name, arity)) = forms::name_arity(name_arity) else {
        return;
    };
    let target = FunctionRef {
        name: name.to_string(),
        arity,
    };
    if wrapped.contains(&target) {
        if let Some(elements) = forms::tuple_elements_mut(name_arity) {
            elements[0] = atom(&inner_name(&target.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::build::{int, list, tuple};

    #[test]
    fn renames_wrapped_functions_only() {
        let wrapped = BTreeSet::from([FunctionRef {
            name: "reduce".into(),
            arity: 3,
        }]);
        let fa = |n: &str, a: i32| tuple(vec![atom(n), int(a)]);
        let mut options = list(vec![
            atom("no_auto_import"),
            tuple(vec![
                atom("inline"),
                list(vec![fa("reduce", 3), fa("other", 1)]),
            ]),
            tuple(vec![atom("inline"), fa("reduce", 3)]),
        ]);
        rename_inline(&mut options, &wrapped);
        let expected = list(vec![
            atom("no_auto_import"),
            tuple(vec![
                atom("inline"),
                list(vec![fa("es$reduce", 3), fa("other", 1)]),
            ]),
            tuple(vec![atom("inline"), fa("es$reduce", 3)]),
        ]);
        assert_eq!(options, expected);
    }
}
