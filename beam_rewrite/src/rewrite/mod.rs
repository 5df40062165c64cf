//! The rewrite of one beam, start to finish, and putting originals back.
//!
//! [`instrument_file`] reads a beam, recovers the original through the marker if the beam was
//! rewritten before, asks the plan what to wrap, gets abstract forms (from the `Dbgi` chunk, via
//! the helper for Elixir beams), patches them ([`crate::patch`]), has the helper compile and
//! check the result, re-emits it ([`crate::emit`]) and replaces the file atomically
//! ([`atomic`]). [`batch`] runs that over many files on a pool of helpers.

pub mod atomic;
pub mod batch;
pub mod lock;
pub mod report;

use std::path::{Path, PathBuf};

use eetf::Term;

use crate::emit;
use crate::forms;
use crate::helper::{FormsReply, Helper, HelperError, HelperPool, Lease};
use crate::patch::{self, PatchError};
use beam_format::attributes;
use beam_format::container::{self, Beam};
use beam_format::debug_info::{Backend, DebugInfo};
use beam_format::error::{Error, FormatError};
use beam_format::marker::Marker;
use beam_format::tables::Tables;
use beam_format::ChunkId;
use beam_plan::Plan;

pub use report::{FileReport, Outcome, Totals};

/// Why a file could not be rewritten or restored. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// Reading the file or decoding it failed.
    #[error(transparent)]
    Read(#[from] Error),
    /// Writing the new file failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The abstract code could not be patched.
    #[error("{path}: {source}")]
    Patch {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: PatchError,
    },
    /// The BEAM helper could not do its part.
    #[error("{path}: {step}: {source}")]
    Helper {
        /// The file.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// What went wrong.
        #[source]
        source: HelperError,
    },
}

/// The helper of one worker: taken from the run's [`HelperPool`] when first needed, replaced
/// after it fails, given back to the pool when the worker is done.
pub struct HelperSlot<'a> {
    lease: Lease<'a>,
}

impl<'a> HelperSlot<'a> {
    /// A slot that takes its helper from `pool` when first needed.
    pub fn new(pool: &'a HelperPool) -> HelperSlot<'a> {
        HelperSlot {
            lease: Lease::new(pool),
        }
    }

    fn run<T>(
        &mut self,
        path: &Path,
        step: &'static str,
        request: impl FnOnce(&mut Helper) -> Result<T, HelperError>,
    ) -> Result<T, RewriteError> {
        self.lease
            .run(request)
            .map_err(|source| RewriteError::Helper {
                path: path.to_path_buf(),
                step,
                source,
            })
    }

    /// Stops the helper instead of giving it back to the pool (see [`Lease::discard`]).
    pub fn discard(&mut self) {
        self.lease.discard();
    }

    /// Whether helpers can read Elixir's debug info (Elixir's `ebin` was found).
    fn has_elixir(&self) -> bool {
        self.lease
            .config()
            .is_ok_and(|config| config.elixir_ebin.is_some())
    }
}

/// Whether a module belongs to ElixirScope itself (its runtime must never be wrapped: the
/// wrappers call it), including the Mix tasks the runtime bundle installs.
pub fn is_elixir_scope_module(module: &str) -> bool {
    module.starts_with("elixir_scope_")
        || module == "Elixir.ElixirScope"
        || module.starts_with("Elixir.ElixirScope.")
        || module.starts_with("Elixir.Mix.Tasks.ElixirScope.")
}

/// Rewrites one beam under `plan` (with `dry_run`, does everything but compiling and writing).
pub fn instrument_file(
    path: &Path,
    plan: &Plan,
    dry_run: bool,
    helper: &mut HelperSlot<'_>,
) -> FileReport {
    let mut module = None;
    let outcome = match instrument(path, plan, dry_run, helper, &mut module) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    };
    FileReport {
        path: path.to_path_buf(),
        module,
        outcome,
    }
}

/// Puts back the original of a rewritten beam, byte for byte.
pub fn restore_file(path: &Path, dry_run: bool) -> FileReport {
    let mut module = None;
    let outcome = match restore(path, dry_run, &mut module) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    };
    FileReport {
        path: path.to_path_buf(),
        module,
        outcome,
    }
}

fn restore(
    path: &Path,
    dry_run: bool,
    module: &mut Option<String>,
) -> Result<Outcome, RewriteError> {
    let current = Current::read(path)?;
    *module = Some(current.module.clone());
    if current.marker.is_none() {
        return Ok(Outcome::Unchanged {
            reason: "not instrumented".into(),
        });
    }
    if !dry_run {
        write(path, &current.original(path)?.bytes)?;
    }
    Ok(Outcome::Restored)
}

/// A beam as found on disk.
struct Current {
    module: String,
    marker: Option<Marker>,
    bytes: Vec<u8>,
    beam: Beam,
}

/// The original a beam was rewritten from (the beam itself if it was not).
struct Original {
    bytes: Vec<u8>,
    beam: Beam,
}

impl Current {
    fn read(path: &Path) -> Result<Current, RewriteError> {
        let format = |e: FormatError| RewriteError::Read(e.in_file(path));
        let bytes = container::read_file(path)?;
        let beam = Beam::parse(&bytes).map_err(format)?;
        let module = Tables::decode(&beam).map_err(format)?.module().to_string();
        let marker = Marker::find(&beam).map_err(format)?;
        Ok(Current {
            module,
            marker,
            bytes,
            beam,
        })
    }

    /// The original, rebuilt from the marker when there is one: only needed when the beam
    /// must be written (a run where nothing changed never rebuilds it).
    fn original(self, path: &Path) -> Result<Original, RewriteError> {
        let format = |e: FormatError| RewriteError::Read(e.in_file(path));
        match &self.marker {
            None => Ok(Original {
                bytes: self.bytes,
                beam: self.beam,
            }),
            Some(marker) => {
                let bytes = marker.original_bytes(&self.beam).map_err(format)?;
                let beam = Beam::parse(&bytes).map_err(format)?;
                Ok(Original { bytes, beam })
            }
        }
    }
}

fn instrument(
    path: &Path,
    plan: &Plan,
    dry_run: bool,
    helper: &mut HelperSlot<'_>,
    module_out: &mut Option<String>,
) -> Result<Outcome, RewriteError> {
    let format = |e: FormatError| RewriteError::Read(e.in_file(path));
    let current = Current::read(path)?;
    *module_out = Some(current.module.clone());
    let module_name = current.module.clone();
    let module = module_name.as_str();
    let skipped = |reason: &str| {
        Ok(Outcome::Skipped {
            reason: reason.to_string(),
        })
    };
    if is_elixir_scope_module(module) {
        return skipped("part of ElixirScope's runtime");
    }
    let module_plan = plan.for_module(module);
    let plan_hash = module_plan.hash();
    if current
        .marker
        .as_ref()
        .is_some_and(|m| m.plan_hash == plan_hash)
    {
        return Ok(Outcome::Unchanged {
            reason: "already instrumented under this plan".into(),
        });
    }
    let rewritten_before = current.marker.is_some();
    let original = current.original(path)?;
    let put_back = |why: &str| -> Result<Outcome, RewriteError> {
        if !rewritten_before {
            return skipped(why);
        }
        if !dry_run {
            write(path, &original.bytes)?;
        }
        Ok(Outcome::Restored)
    };
    if module_plan.selects_nothing() {
        return put_back("not selected by the plan");
    }
    let original_bytes = &original.bytes;
    let original = &original.beam;
    let Some(info) = DebugInfo::decode(original).map_err(format)? else {
        return skipped("no debug_info chunk");
    };
    if !info.has_code() {
        return skipped("compiled without debug_info");
    }
    let (forms, options) = match info.backend {
        Backend::ErlAbstractCode => erlang_forms(info.data).ok_or_else(|| {
            format(FormatError::BadChunk {
                id: ChunkId::DBGI,
                reason: "erl_abstract_code data is not {Forms, Options}".into(),
            })
        })?,
        Backend::ElixirErl | Backend::Other(_) | Backend::Encrypted(_) => {
            if info.backend == Backend::ElixirErl && !helper.has_elixir() {
                return Err(RewriteError::Helper {
                    path: path.to_path_buf(),
                    step: "turning debug info into forms",
                    source: HelperError::NoElixir,
                });
            }
            let chunk = original.require(ChunkId::DBGI).map_err(format)?;
            match helper.run(path, "turning debug info into forms", |h| {
                h.forms(module, chunk)
            })? {
                FormsReply::Forms(forms) => {
                    let options = compile_options(original).map_err(format)?;
                    (forms, options)
                }
                FormsReply::Unavailable(why) => {
                    return skipped(&format!("no usable debug info: {why}"))
                }
            }
        }
    };
    let patched = patch::patch_module(&module_plan, forms, &options).map_err(|source| {
        RewriteError::Patch {
            path: path.to_path_buf(),
            source,
        }
    })?;
    if patched.wrapped.is_empty() {
        return put_back(if !patched.skipped.is_empty() {
            "none of the planned functions can be wrapped"
        } else if patched.functions == 0 {
            "defines no functions"
        } else {
            "no function selected by the plan"
        });
    }
    let outcome = Outcome::Rewritten {
        wrapped: patched.wrapped.len(),
        skipped_functions: patched.skipped.clone(),
        tail_calls: patched.redirected_tail_calls,
    };
    if dry_run {
        return Ok(outcome);
    }
    let wrapped = patched.wrapped.clone();
    let compiled_bytes = helper.run(path, "compiling the wrapped code", |h| {
        h.compile(patched.forms, patched.options)
    })?;
    let compiled = Beam::parse(&compiled_bytes).map_err(format)?;
    let rewritten = emit::assemble(original_bytes, original, &compiled, plan_hash, wrapped);
    let bytes = rewritten.to_file_bytes();
    helper.run(path, "checking the rewritten beam with the loader", |h| {
        h.check(module, &bytes)
    })?;
    write(path, &bytes)?;
    Ok(outcome)
}

/// `{Forms, Options}` of the `erl_abstract_code` backend.
fn erlang_forms(data: Term) -> Option<(Vec<Term>, Vec<Term>)> {
    let Term::Tuple(tuple) = data else {
        return None;
    };
    let mut elements = tuple.elements.into_iter();
    match (elements.next(), elements.next(), elements.next()) {
        (Some(Term::List(forms)), Some(options), None) => {
            let options = forms::list_elements(&options)?.to_vec();
            Some((forms.elements, options))
        }
        _ => None,
    }
}

/// The `options` of the `CInf` chunk: how the module was compiled.
fn compile_options(beam: &Beam) -> Result<Vec<Term>, FormatError> {
    let info = attributes::compile_info(beam)?;
    let options = attributes::values(&info, "options")
        .next()
        .and_then(forms::list_elements)
        .map(<[Term]>::to_vec)
        .unwrap_or_default();
    Ok(options)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), RewriteError> {
    atomic::replace_file(path, bytes).map_err(|source| RewriteError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_own_modules() {
        for own in [
            "elixir_scope_runtime",
            "elixir_scope_stacktrace",
            "Elixir.ElixirScope",
            "Elixir.ElixirScope.IEx",
            "Elixir.Mix.Tasks.ElixirScope.Reload",
        ] {
            assert!(is_elixir_scope_module(own), "{own}");
        }
        for other in [
            "elixir",
            "Elixir.ElixirScopeless",
            "Elixir.MyApp",
            "Elixir.Mix.Tasks.Compile",
        ] {
            assert!(!is_elixir_scope_module(other), "{other}");
        }
    }

    #[test]
    fn reads_erl_abstract_code_data() {
        use crate::forms::build::{atom, list, tuple};
        let data = tuple(vec![
            list(vec![atom("form")]),
            list(vec![atom("debug_info")]),
        ]);
        let (forms, options) = erlang_forms(data).unwrap();
        assert_eq!(forms, [atom("form")]);
        assert_eq!(options, [atom("debug_info")]);
        assert!(erlang_forms(atom("none")).is_none());
    }

    #[test]
    fn restore_leaves_unmarked_beams_and_reports_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.beam");
        std::fs::write(&broken, b"FOR1").unwrap();
        let report = restore_file(&broken, false);
        match report.outcome {
            Outcome::Failed { error } => assert!(error.contains("broken.beam"), "{error}"),
            other => panic!("{other:?}"),
        }
    }
}
