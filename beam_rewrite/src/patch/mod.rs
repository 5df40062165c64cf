//! Wrapping planned functions: the Rust half of a rewrite, over a module's abstract forms.
//!
//! For every planned function that can be wrapped ([`eligibility`]), the original function
//! form is renamed to its inner name (`'es$f'`) and followed by a wrapper under the original
//! name ([`wrapper`]); local tail calls to wrapped functions go to the inner function instead
//! ([`tail_calls`]); stack traces caught inside the module are cleaned where they are bound
//! ([`catch_sites`]), and so are the answers of `process_info` calls ([`introspection`]); sends
//! are reported to the runtime right before they happen ([`sends`]). Every call the patched code
//! makes into ElixirScope's modules is one of [`contract`]'s. The result is what the BEAM
//! helper compiles, with the options [`options::for_recompile`] derives from the original ones.
//!
//! Everything here is pure: forms in, forms out; it is tested without a VM.

pub mod catch_sites;
pub mod contract;
pub mod eligibility;
pub mod inline;
pub mod introspection;
pub mod naming;
pub mod options;
pub mod sends;
pub mod tail_calls;
pub mod wrapper;

use std::collections::{BTreeMap, BTreeSet};

use eetf::Term;
use serde::Serialize;

pub use eligibility::{SkipReason, WrapFacts};

use crate::forms::build::{atom, int, list, tuple};
use crate::forms::{self, anno, FunctionForm};
use beam_format::tables::FunctionRef;
use beam_plan::{Capture, ModulePlan};

use tail_calls::TailCalls;
use wrapper::{wrapper_forms, WrapperSite};

/// A planned function left unwrapped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFunction {
    /// The function.
    pub function: FunctionRef,
    /// Why it is not wrapped.
    pub reason: SkipReason,
}

/// The outcome of patching a module.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    /// The new forms (the original ones when nothing could be wrapped).
    pub forms: Vec<Term>,
    /// The options to compile them with.
    pub options: Vec<Term>,
    /// The wrapped functions, sorted.
    pub wrapped: Vec<FunctionRef>,
    /// Planned functions left unwrapped.
    pub skipped: Vec<SkippedFunction>,
    /// How many functions the forms define.
    pub functions: usize,
    /// How many local tail calls now go straight to an inner function.
    pub redirected_tail_calls: usize,
    /// How many catch clauses now clean the stack trace they bind.
    pub cleaned_catch_clauses: usize,
    /// How many `process_info` calls now clean their answer.
    pub cleaned_process_info_calls: usize,
    /// How many sends are now reported to the runtime before they happen.
    pub reported_sends: usize,
}

/// Why a module's forms could not be patched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// No `-module` attribute.
    #[error("the abstract code has no -module attribute")]
    NoModule,
    /// The forms are another module's.
    #[error("the abstract code is for module {found}, not {expected}")]
    WrongModule {
        /// The module the beam says it is.
        expected: String,
        /// The module the forms define.
        found: String,
    },
    /// The module defines a function under a name the rewriter reserves for its helpers.
    #[error("the module defines {function}, a name the rewriter reserves for its own helpers")]
    ReservedName {
        /// The function.
        function: FunctionRef,
    },
    /// A function comes before any `-file` attribute, so the file to restore after its
    /// wrapper is unknown.
    #[error("function {function} comes before any -file attribute")]
    NoFile {
        /// The function.
        function: FunctionRef,
    },
}

/// Wraps the functions `plan` selects in a module's `forms`, originally compiled with
/// `original_options`.
pub fn patch_module(
    plan: &ModulePlan,
    forms: Vec<Term>,
    original_options: &[Term],
) -> Result<Patched, PatchError> {
    let facts = WrapFacts::scan(&forms);
    if facts.module.is_empty() {
        return Err(PatchError::NoModule);
    }
    if facts.module != plan.module {
        return Err(PatchError::WrongModule {
            expected: plan.module.clone(),
            found: facts.module,
        });
    }
    if let Some(function) = facts.defined.iter().find(|f| naming::is_reserved(&f.name)) {
        return Err(PatchError::ReservedName {
            function: function.clone(),
        });
    }
    let (wrapped, skipped) = choose(plan, &facts, &forms);
    let options = options::for_recompile(original_options, &wrapped);
    if wrapped.is_empty() {
        return Ok(Patched {
            forms,
            options,
            wrapped: Vec::new(),
            skipped,
            functions: facts.defined.len(),
            redirected_tail_calls: 0,
            cleaned_catch_clauses: 0,
            cleaned_process_info_calls: 0,
            reported_sends: 0,
        });
    }
    let export_all = original_options.iter().any(options::has_export_all)
        || forms.iter().any(|f| {
            forms::attribute(f).is_some_and(|(n, v)| n == "compile" && options::has_export_all(v))
        });
    let mut tail_calls = TailCalls::new(&facts.module, &wrapped);
    let mut fresh_stack_vars = 0;
    let mut cleaned_catch_clauses = 0;
    let mut cleaned_process_info_calls = 0;
    let mut fresh_send_vars = 0;
    let mut reported_sends = 0;
    let report_sends = sends::reports_sends_of(&facts.module);
    let mut file: Option<Term> = None;
    let mut out = Vec::with_capacity(forms.len() + 3 * wrapped.len() + 1);
    for mut form in forms {
        if let Some((name, _)) = forms::attribute(&form) {
            let name = name.to_string();
            let value = &mut forms::tuple_elements_mut(&mut form).expect("an attribute")[3];
            match name.as_str() {
                "file" => {
                    file = forms::tuple_elements(value)
                        .and_then(|v| v.first())
                        .cloned()
                }
                "compile" => {
                    inline::rename_inline(value, &wrapped);
                    options::strip_from_attribute(value);
                }
                _ => {}
            }
            let is_module = name == "module";
            out.push(form);
            if is_module && export_all {
                out.push(export_everything(&facts));
            }
            continue;
        }
        let Some(function) = FunctionForm::of(&form) else {
            out.push(form);
            continue;
        };
        let target = FunctionRef {
            name: function.name.to_string(),
            arity: function.arity,
        };
        let line = anno::line(function.anno);
        let elements = forms::tuple_elements_mut(&mut form).expect("a function form");
        tail_calls.in_clauses(&mut elements[4]);
        cleaned_catch_clauses +=
            catch_sites::clean_caught_stacktraces(&mut elements[4], &mut fresh_stack_vars);
        cleaned_process_info_calls +=
            introspection::clean_process_info_calls(&mut elements[4], &facts);
        if report_sends {
            reported_sends += sends::report_sends(&mut elements[4], &mut fresh_send_vars);
        }
        if !wrapped.contains(&target) {
            out.push(form);
            continue;
        }
        let file = file.as_ref().ok_or_else(|| PatchError::NoFile {
            function: target.clone(),
        })?;
        elements[2] = atom(&naming::inner_name(&target.name));
        out.push(form);
        out.extend(wrapper_forms(&WrapperSite {
            module: &facts.module,
            name: &target.name,
            arity: target.arity,
            line,
            file,
        }));
    }
    let redirected_tail_calls = tail_calls.redirected;
    let helper_arities: Vec<u32> = tail_calls.helper_arities.iter().copied().collect();
    let file = file.ok_or_else(|| PatchError::NoFile {
        function: wrapped
            .iter()
            .next()
            .cloned()
            .expect("something is wrapped"),
    })?;
    let capture: BTreeMap<FunctionRef, Capture> = plan
        .capture
        .iter()
        .filter(|(function, _)| wrapped.contains(*function))
        .map(|(function, options)| (function.clone(), options.clone()))
        .collect();
    let helpers = wrapper::helper_forms(
        &facts.module,
        &helper_arities,
        &tail_calls.entries,
        &capture,
        reported_sends > 0,
        &file,
    );
    let at = match out.last() {
        Some(last) if forms::tag(last) == Some("eof") => out.len() - 1,
        _ => out.len(),
    };
    out.splice(at..at, helpers);
    Ok(Patched {
        forms: out,
        options,
        wrapped: wrapped.into_iter().collect(),
        skipped,
        functions: facts.defined.len(),
        redirected_tail_calls,
        cleaned_catch_clauses,
        cleaned_process_info_calls,
        reported_sends,
    })
}

/// Splits the planned functions into those to wrap and those to skip.
fn choose(
    plan: &ModulePlan,
    facts: &WrapFacts,
    forms: &[Term],
) -> (BTreeSet<FunctionRef>, Vec<SkippedFunction>) {
    let mut wrapped = BTreeSet::new();
    let mut skipped = Vec::new();
    for function in forms.iter().filter_map(FunctionForm::of) {
        let target = FunctionRef {
            name: function.name.to_string(),
            arity: function.arity,
        };
        if !plan.selects(&target) {
            continue;
        }
        match facts.skip_reason(&function) {
            Some(reason) => skipped.push(SkippedFunction {
                function: target,
                reason,
            }),
            None => {
                wrapped.insert(target);
            }
        }
    }
    (wrapped, skipped)
}

/// `-export([...])` of every function the original forms define (replaces `export_all`).
fn export_everything(facts: &WrapFacts) -> Term {
    let functions = facts
        .defined
        .iter()
        .map(|f| tuple(vec![atom(&f.name), int(f.arity as i32)]))
        .collect();
    tuple(vec![
        atom("attribute"),
        int(0),
        atom("export"),
        list(functions),
    ])
}

#[cfg(test)]
mod tests;
