//! A beam's original code: its module, the hash of its original bytes, and its abstract forms.
//!
//! Beams the rewriter changed carry their original in the marker chunk
//! ([`beam_format::Marker::original_bytes`]); the planner always works from that original,
//! never from the wrapped code, so planning before and after `instrument` gives the same plan
//! (and the same cache keys: the marker's `original_hash`).

use std::path::{Path, PathBuf};

use beam_format::container::{self, Beam};
use beam_format::debug_info::{Backend, DebugInfo};
use beam_format::error::FormatError;
use beam_format::{ChunkId, Marker, Tables};
use beam_rewrite::forms;
use beam_rewrite::{FormsReply, HelperError};
use eetf::Term;

/// Why a beam's code could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file cannot be read or is not a beam.
    #[error(transparent)]
    Read(#[from] beam_format::Error),
    /// The BEAM helper could not turn the debug info into forms.
    #[error("{path}: turning debug info into forms: {source}")]
    Helper {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: HelperError,
    },
}

/// What the planner needs to know about a beam before analyzing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeamInfo {
    /// The module.
    pub module: String,
    /// Hex BLAKE3 of the original file (the marker's `original_hash` for rewritten beams).
    pub hash: String,
    /// Whether the file is a rewritten beam.
    pub rewritten: bool,
}

/// Reads a beam's module and original hash (cheap: no debug info is decoded).
pub fn read_info(path: &Path) -> Result<BeamInfo, SourceError> {
    let format = |e: FormatError| SourceError::Read(e.in_file(path));
    let bytes = container::read_file(path)?;
    let beam = Beam::parse(&bytes).map_err(format)?;
    let module = Tables::decode(&beam).map_err(format)?.module().to_string();
    let marker = Marker::find(&beam).map_err(format)?;
    Ok(BeamInfo {
        module,
        rewritten: marker.is_some(),
        hash: match marker {
            Some(marker) => marker.original_hash,
            None => beam_format::marker::hash_hex(&bytes),
        },
    })
}

/// Asks a BEAM helper for the forms of `module` from its `Dbgi` chunk.
pub type AskForms<'a> = dyn FnMut(&str, &[u8]) -> Result<FormsReply, HelperError> + 'a;

/// A beam's abstract code, or why there is none.
#[derive(Debug)]
pub enum Code {
    /// The forms, and whether they came from Elixir.
    Forms {
        /// The module's forms.
        forms: Vec<Term>,
        /// Whether the debug info is Elixir's.
        elixir: bool,
    },
    /// No usable debug info (the reason, as the rewriter words it).
    Unavailable(String),
    /// No debug info this machine can use now, though another could: the helper could not
    /// turn it into forms (encrypted without the key, a backend that is not trusted or not
    /// installed). It depends on more than the beam, so it is never cached.
    UnavailableHere(String),
}

/// Reads the original code of the beam at `path`. Debug info of backends other than
/// `erl_abstract_code` goes through `helper(module, dbgi_chunk)`. Call it on a large stack
/// ([`beam_format::etf::with_large_stack`]): forms nest deeply.
pub fn code(path: &Path, helper: &mut AskForms<'_>) -> Result<Code, SourceError> {
    let format = |e: FormatError| SourceError::Read(e.in_file(path));
    let bytes = container::read_file(path)?;
    let beam = Beam::parse(&bytes).map_err(format)?;
    let module = Tables::decode(&beam).map_err(format)?.module().to_string();
    let original = match Marker::find(&beam).map_err(format)? {
        Some(marker) => {
            let original_bytes = marker.original_bytes(&beam).map_err(format)?;
            Beam::parse(&original_bytes).map_err(format)?
        }
        None => beam,
    };
    let Some(info) = DebugInfo::decode(&original).map_err(format)? else {
        return Ok(Code::Unavailable("no debug_info chunk".into()));
    };
    if !info.has_code() {
        return Ok(Code::Unavailable("compiled without debug_info".into()));
    }
    match info.backend {
        Backend::ErlAbstractCode => {
            let forms = erlang_forms(info.data).ok_or_else(|| {
                format(FormatError::BadChunk {
                    id: ChunkId::DBGI,
                    reason: "erl_abstract_code data is not {Forms, Options}".into(),
                })
            })?;
            Ok(Code::Forms {
                forms,
                elixir: false,
            })
        }
        backend => {
            let chunk = original.require(ChunkId::DBGI).map_err(format)?;
            match helper(&module, chunk) {
                Ok(FormsReply::Forms(forms)) => Ok(Code::Forms {
                    forms,
                    elixir: backend == Backend::ElixirErl,
                }),
                Ok(FormsReply::Unavailable(why)) => Ok(Code::UnavailableHere(format!(
                    "no usable debug info: {why}"
                ))),
                Err(source) => Err(SourceError::Helper {
                    path: path.to_path_buf(),
                    source,
                }),
            }
        }
    }
}

/// The forms of `{Forms, Options}` (`erl_abstract_code`'s data).
fn erlang_forms(data: Term) -> Option<Vec<Term>> {
    let Term::Tuple(tuple) = data else {
        return None;
    };
    let mut elements = tuple.elements.into_iter();
    match (elements.next(), elements.next(), elements.next()) {
        (Some(Term::List(forms)), Some(options), None)
            if forms::list_elements(&options).is_some() =>
        {
            Some(forms.elements)
        }
        _ => None,
    }
}
