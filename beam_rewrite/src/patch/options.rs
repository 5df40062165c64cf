//! The compile options patched forms are compiled with.
//!
//! They are the module's original options (the `Dbgi` options of Erlang beams, the `CInf`
//! options of Elixir ones) minus what would not apply to forms or would change the output:
//! the input format (`from_core`, ...), parse transforms (the forms are already transformed),
//! debug info (the original `Dbgi` chunk is kept instead), compression (the rewriter compresses
//! when the original was compressed), listings and error reporting. `-compile` attributes in
//! the forms lose the same options (a `-compile({parse_transform, M})` stays in the forms after
//! the transform ran). `{inline, ...}` follows the clauses into the inner function, and
//! `export_all` becomes an explicit export list (see [`super::patch_module`]) so that inner
//! functions are never exported.
//!
//! Two options are added: [`SKIP_LINT`], `from_abstr` and `no_lint`, which skip `erl_lint`
//! (about 8% of the compile of patched forms). The forms were checked when the module was
//! first compiled (Elixir does not run `erl_lint` at all: it hands its forms to `v3_core`
//! directly), and what the patch adds is checked by the rewriter's tests, on every installed
//! Elixir and OTP beam; the compiler's own validator and the loader check still run on every
//! rewritten beam.

use std::collections::BTreeSet;

use eetf::Term;

use crate::forms;
use crate::forms::build::atom;
use beam_format::tables::FunctionRef;

use super::inline::rename_inline;

/// Atoms that are dropped.
const DROPPED: &[&str] = &[
    "from_core",
    "from_asm",
    "from_abstr",
    "no_core_prepare",
    "debug_info",
    "encrypt_debug_info",
    "compressed",
    "binary",
    "report",
    "report_errors",
    "report_warnings",
    "return",
    "return_errors",
    "return_warnings",
    "warnings_as_errors",
    "verbose",
    "export_all",
    "makedep",
    "makedep_side_effect",
    "asm",
    "P",
    "E",
    "S",
];

/// Tags of `{Tag, ...}` options that are dropped.
const DROPPED_TAGGED: &[&str] = &[
    "parse_transform",
    "core_transform",
    "debug_info",
    "debug_info_key",
    "outdir",
    "cwd",
    "warnings_as_errors",
];

/// The options that make `compile:forms` take the forms as checked abstract code and skip
/// `erl_lint` (see the module documentation).
pub const SKIP_LINT: [&str; 2] = ["from_abstr", "no_lint"];

/// The options for compiling the patched forms of a module originally compiled with
/// `original`.
pub fn for_recompile(original: &[Term], wrapped: &BTreeSet<FunctionRef>) -> Vec<Term> {
    let kept = original
        .iter()
        .filter(|option| !is_dropped(option))
        .cloned()
        .map(|mut option| {
            rename_inline(&mut option, wrapped);
            option
        });
    SKIP_LINT
        .iter()
        .map(|name| atom(name))
        .chain(kept)
        .collect()
}

/// Whether the options (or a `-compile` attribute's value) ask for `export_all`.
pub fn has_export_all(options: &Term) -> bool {
    match options {
        Term::List(list) => list.elements.iter().any(has_export_all),
        other => forms::atom_name(other) == Some("export_all"),
    }
}

/// Removes from a `-compile` attribute's value what [`for_recompile`] removes from the
/// options: `-compile({parse_transform, M})` stays in the forms after the transform ran, and
/// must not run again on its own output. Also removes `export_all` (see `has_export_all`).
pub fn strip_from_attribute(options: &mut Term) {
    match options {
        Term::List(list) => list.elements.retain(|o| !is_dropped(o)),
        other if is_dropped(other) => *other = Term::from(eetf::List::nil()),
        _ => {}
    }
}

fn is_dropped(option: &Term) -> bool {
    match option {
        Term::Atom(atom) => {
            let name = atom.name.as_str();
            DROPPED.contains(&name) || is_listing(name)
        }
        Term::Tuple(_) => forms::tag(option)
            .is_some_and(|tag| DROPPED_TAGGED.contains(&tag) || tag.starts_with("makedep")),
        _ => false,
    }
}

/// Options that stop compilation early or write listings: `to_core`, `dssa`, ...
fn is_listing(name: &str) -> bool {
    const LISTINGS: &[&str] = &[
        "dpp",
        "dabstr",
        "dexp",
        "dcore",
        "dcopt",
        "dcorefold",
        "dinline",
        "dkern",
        "dssa",
        "dssaopt",
        "dssashare",
        "dssabsm",
        "dbool",
        "dalias",
        "dprep",
        "drecv",
        "dthrow",
        "dtrim",
        "dcbsm",
        "dcg",
        "dclean",
        "dblk",
        "djmp",
        "dopt",
        "dprecg",
        "doldcg",
        "doldinline",
        "da",
        "dz",
        "diffable",
    ];
    name.starts_with("to_") || LISTINGS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::build::{int, list, tuple};

    #[test]
    fn keeps_what_shapes_the_code_and_drops_the_rest() {
        let original = vec![
            atom("no_spawn_compiler_process"),
            atom("from_core"),
            atom("no_core_prepare"),
            atom("no_auto_import"),
            atom("debug_info"),
            tuple(vec![atom("debug_info"), atom("x")]),
            tuple(vec![atom("parse_transform"), atom("lager_transform")]),
            tuple(vec![atom("i"), atom("include")]),
            atom("warnings_as_errors"),
            atom("to_core"),
            atom("dssa"),
            atom("compressed"),
            atom("inline"),
            tuple(vec![
                atom("inline"),
                list(vec![tuple(vec![atom("f"), int(1)])]),
            ]),
            atom("deterministic"),
        ];
        let wrapped = BTreeSet::from([FunctionRef {
            name: "f".into(),
            arity: 1,
        }]);
        let kept = for_recompile(&original, &wrapped);
        let expected = vec![
            atom("from_abstr"),
            atom("no_lint"),
            atom("no_spawn_compiler_process"),
            atom("no_auto_import"),
            tuple(vec![atom("i"), atom("include")]),
            atom("inline"),
            tuple(vec![
                atom("inline"),
                list(vec![tuple(vec![atom("es$f"), int(1)])]),
            ]),
            atom("deterministic"),
        ];
        assert_eq!(kept, expected);
    }

    #[test]
    fn strips_compile_attributes_of_transforms_and_export_all() {
        let transform = tuple(vec![atom("parse_transform"), atom("lager_transform")]);
        let mut options = list(vec![
            atom("export_all"),
            atom("nowarn_export_all"),
            transform.clone(),
            tuple(vec![atom("inline"), list(vec![])]),
        ]);
        assert!(has_export_all(&options));
        strip_from_attribute(&mut options);
        assert_eq!(
            options,
            list(vec![
                atom("nowarn_export_all"),
                tuple(vec![atom("inline"), list(vec![])])
            ])
        );
        let mut single = atom("export_all");
        assert!(has_export_all(&single));
        strip_from_attribute(&mut single);
        assert!(!has_export_all(&single));
        let mut single = transform;
        strip_from_attribute(&mut single);
        assert_eq!(single, list(vec![]));
    }
}
