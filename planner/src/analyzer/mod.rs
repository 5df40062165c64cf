//! The CodeAnalyzer: from a module's abstract forms to [`ModuleFacts`].
//!
//! One pass over the forms reads the attributes (module, file, behaviours, callbacks, exports,
//! protocol markers) and, per function, [`walk`]s its clauses without recursion (abstract code
//! nests as deep as its longest list literal): size, calls and references with the loop they
//! sit in, side effects ([`crate::effects`]). Whether a function can be wrapped is the
//! rewriter's own rule ([`beam_rewrite::WrapFacts`]), asked here so that the plan says exactly
//! what the rewriter will do.

mod walk;

use std::collections::BTreeSet;

use beam_format::FunctionRef;
use beam_rewrite::forms::{self, anno, FunctionForm};
use beam_rewrite::{has_export_all, SkipReason, WrapFacts};
use eetf::Term;

use crate::facts::{FunctionFacts, Generated, ModuleFacts};

/// Why forms could not be analyzed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyzeError {
    /// The forms have no `-module` attribute.
    #[error("the abstract code has no -module attribute")]
    NoModule,
}

/// Analyzes a module's forms; `elixir` says whether they came from Elixir's debug info.
pub fn analyze(forms: &[Term], elixir: bool) -> Result<ModuleFacts, AnalyzeError> {
    let eligibility = WrapFacts::scan(forms);
    if eligibility.module.is_empty() {
        return Err(AnalyzeError::NoModule);
    }
    let module = eligibility.module.clone();
    let mut facts = ModuleFacts {
        module: module.clone(),
        file: None,
        elixir,
        behaviours: Vec::new(),
        declared_callbacks: Vec::new(),
        implements_protocol: None,
        is_protocol: eligibility.is_protocol,
        functions: Vec::new(),
    };
    let mut exports = BTreeSet::new();
    let mut export_all = false;
    let mut current_file: Option<String> = None;
    let mut pending = Vec::new();
    for form in forms {
        if let Some((name, value)) = forms::attribute(form) {
            match name {
                "file" => {
                    let file = forms::tuple_elements(value)
                        .and_then(|v| v.first())
                        .and_then(string_value);
                    if facts.file.is_none() {
                        facts.file.clone_from(&file);
                    }
                    current_file = file;
                }
                "behaviour" | "behavior" => {
                    if let Some(b) = forms::atom_name(value) {
                        if !facts.behaviours.iter().any(|x| x == b) {
                            facts.behaviours.push(b.to_string());
                        }
                    }
                }
                "callback" => {
                    if let Some((n, a)) = forms::tuple_elements(value)
                        .and_then(|v| v.first())
                        .and_then(forms::name_arity)
                    {
                        facts.declared_callbacks.push(function_ref(n, a));
                    }
                }
                "export" => exports.extend(
                    forms::list_elements(value)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(forms::name_arity)
                        .map(|(n, a)| function_ref(n, a)),
                ),
                "compile" => export_all |= has_export_all(value),
                "__impl__" => {
                    facts.implements_protocol = forms::list_elements(value)
                        .unwrap_or_default()
                        .iter()
                        .find_map(|p| match forms::tuple_elements(p) {
                            Some([k, v]) if forms::atom_name(k) == Some("protocol") => {
                                forms::atom_name(v).map(str::to_string)
                            }
                            _ => None,
                        });
                }
                _ => {}
            }
            continue;
        }
        if let Some(function) = FunctionForm::of(form) {
            let injected_from = match (&current_file, &facts.file) {
                (Some(now), Some(own)) if now != own => Some(now.clone()),
                _ => None,
            };
            pending.push((function, injected_from));
        }
    }
    for (function, injected_from) in pending {
        let f = function_ref(function.name, function.arity);
        let cannot_wrap = eligibility.skip_reason(&function);
        let generated = if anno::is_generated(function.anno) {
            Some(Generated::Annotated)
        } else if matches!(
            cannot_wrap,
            Some(SkipReason::CompilerGenerated | SkipReason::Macro)
        ) {
            Some(Generated::Name)
        } else {
            None
        };
        let walked = walk::function(&module, &eligibility.defined, &function);
        facts.functions.push(FunctionFacts {
            exported: export_all || exports.contains(&f),
            function: f,
            line: anno::line(function.anno),
            clauses: function.clauses.len(),
            size: walked.size,
            generated,
            injected_from,
            cannot_wrap,
            effects: walked.effects,
            unknown_calls: walked.unknown_calls,
            dynamic_calls: walked.dynamic_calls,
            calls: walked.calls,
        });
    }
    if let Some(protocol) = &facts.implements_protocol {
        if !facts.behaviours.contains(protocol) {
            facts.behaviours.push(protocol.clone());
        }
    }
    Ok(facts)
}

/// `Elixir.Enum:reduce/3` as people write it: `Enum.reduce/3`; Erlang ones stay `lists:map/2`.
pub fn readable(function: &str) -> String {
    match function.strip_prefix("Elixir.") {
        Some(rest) => rest.replacen(':', ".", 1),
        None => function.to_string(),
    }
}

/// A module name as people write it: `Enum`, `lists`.
pub fn readable_module(module: &str) -> &str {
    module.strip_prefix("Elixir.").unwrap_or(module)
}

fn function_ref(name: &str, arity: u32) -> FunctionRef {
    FunctionRef {
        name: name.to_string(),
        arity,
    }
}

/// The text of a string term (a charlist, or a binary).
fn string_value(term: &Term) -> Option<String> {
    match term {
        Term::ByteList(b) => Some(String::from_utf8_lossy(&b.bytes).into_owned()),
        Term::Binary(b) => Some(String::from_utf8_lossy(&b.bytes).into_owned()),
        Term::List(l) => l
            .elements
            .iter()
            .map(|c| forms::int_value(c).and_then(|i| char::from_u32(i as u32)))
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
