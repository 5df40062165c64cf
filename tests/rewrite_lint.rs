//! The rewriter compiles patched forms without `erl_lint` (`beam_rewrite::SKIP_LINT`), as
//! Elixir compiles its own forms. That holds only while what the patch produces is lint-clean:
//! here every function of every module of Elixir's `elixir` application (Elixir debug info)
//! and of OTP's `stdlib` (Erlang debug info) is wrapped, and the result is compiled *with*
//! `erl_lint`, which must find no error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use beam_format::debug_info::Backend;
use beam_format::{attributes, Beam, ChunkId, DebugInfo, Tables};
use beam_plan::Plan;
use beam_rewrite::forms::{self, build::atom};
use beam_rewrite::{
    patch_module, FormsReply, Helper, HelperConfig, HelperPool, Launcher, Lease, SKIP_LINT,
};
use eetf::Term;
use support::{elixir_lib, otp_root};

/// The beams of one `ebin`.
fn beams(ebin: &Path) -> Vec<PathBuf> {
    let mut beams: Vec<PathBuf> = std::fs::read_dir(ebin)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "beam"))
        .collect();
    beams.sort();
    beams
}

/// Patches every function of the beam at `path` and compiles the result with `erl_lint`;
/// returns the compiler's complaint, if any (`None` also for modules without code).
fn lint_patched(path: &Path, helper: &mut Lease<'_>) -> Option<String> {
    let bytes = std::fs::read(path).unwrap();
    let beam = Beam::parse(&bytes).unwrap();
    let module = Tables::decode(&beam).unwrap().module().to_string();
    let info = DebugInfo::decode(&beam).unwrap()?;
    if !info.has_code() {
        return None;
    }
    let (forms, options) = match info.backend {
        Backend::ErlAbstractCode => {
            let Term::Tuple(data) = info.data else {
                panic!("{path:?}: erl_abstract_code data")
            };
            let forms = forms::list_elements(&data.elements[0]).unwrap().to_vec();
            let options = forms::list_elements(&data.elements[1]).unwrap().to_vec();
            (forms, options)
        }
        _ => {
            let dbgi = beam.require(ChunkId::DBGI).unwrap();
            let reply = helper.run(|h: &mut Helper| h.forms(&module, dbgi)).unwrap();
            let FormsReply::Forms(forms) = reply else {
                return None;
            };
            let compile_info = attributes::compile_info(&beam).unwrap();
            let options = attributes::values(&compile_info, "options")
                .next()
                .and_then(forms::list_elements)
                .map(<[Term]>::to_vec)
                .unwrap_or_default();
            (forms, options)
        }
    };
    let plan = Plan::everything().for_module(&module);
    let patched = patch_module(&plan, forms, &options).unwrap();
    let skip_lint: Vec<Term> = SKIP_LINT.iter().map(|name| atom(name)).collect();
    assert!(
        patched.options.starts_with(&skip_lint),
        "{path:?}: {:?}",
        patched.options
    );
    let with_lint = patched.options[skip_lint.len()..].to_vec();
    helper
        .run(|h: &mut Helper| h.compile(patched.forms, with_lint))
        .err()
        .map(|e| format!("{}: {e}", path.display()))
}

#[test]
fn patched_forms_of_elixir_and_stdlib_are_lint_clean() {
    let mut files = beams(&elixir_lib().join("elixir/ebin"));
    let stdlib = std::fs::read_dir(otp_root().join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("stdlib-"))
        })
        .expect("OTP's stdlib");
    files.extend(beams(&stdlib.join("ebin")));
    assert!(files.len() > 300, "found {} beams", files.len());

    let helpers = HelperPool::new(Launcher::new(HelperConfig::discover().unwrap()).unwrap());
    let next = AtomicUsize::new(0);
    let complaints = Mutex::new(Vec::new());
    let linted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            std::thread::Builder::new()
                .stack_size(beam_format::etf::LARGE_STACK_BYTES)
                .spawn_scoped(scope, || {
                    let mut helper = Lease::new(&helpers);
                    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if let Some(complaint) = lint_patched(path, &mut helper) {
                            complaints.lock().unwrap().push(complaint);
                        }
                        linted.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .unwrap();
        }
    });
    assert_eq!(linted.into_inner(), files.len());
    assert_eq!(complaints.into_inner().unwrap(), Vec::<String>::new());
}
