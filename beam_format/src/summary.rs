//! A one-screen description of a beam: what `elixir-scope inspect` prints.

use std::path::Path;

use serde::Serialize;

use crate::container::Beam;
use crate::debug_info::DebugInfo;
use crate::error::Error;
use crate::marker::Marker;
use crate::tables::Tables;

/// What `elixir-scope inspect` shows of one beam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The file.
    pub path: String,
    /// The module's name as the BEAM knows it (`Elixir.Enum`, `lists`).
    pub module: String,
    /// The debug-info backend (`erl_abstract_code`, `elixir_erl`), or `none`.
    pub debug_info: String,
    /// Whether the file is gzip-compressed.
    pub compressed: bool,
    /// Every chunk in file order with its size in bytes.
    pub chunks: Vec<ChunkSize>,
    /// Number of exported functions.
    pub exports: usize,
    /// Number of functions, exported or local (including those the compiler made for funs).
    pub functions: usize,
    /// Present when ElixirScope rewrote this beam.
    pub instrumented: Option<Instrumented>,
}

/// A chunk's id and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkSize {
    /// The chunk's id, such as `Code`.
    pub id: String,
    /// Its size in bytes, without padding.
    pub size: usize,
}

/// What the marker chunk of a rewritten beam says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instrumented {
    /// The `elixir-scope` version that rewrote it.
    pub tool_version: String,
    /// The hash of the plan it was rewritten with.
    pub plan_hash: String,
    /// The hash of the original file.
    pub original_hash: String,
    /// How many functions are wrapped.
    pub wrapped: usize,
}

impl Summary {
    /// Reads a beam and describes it; errors name the file.
    pub fn of_file(path: &Path) -> Result<Summary, Error> {
        let beam = Beam::read(path)?;
        Summary::of_beam(path, &beam).map_err(|e| e.in_file(path))
    }

    /// Describes an already parsed beam.
    pub fn of_beam(path: &Path, beam: &Beam) -> Result<Summary, crate::FormatError> {
        let tables = Tables::decode(beam)?;
        let debug_info = match DebugInfo::decode(beam)? {
            Some(info) if info.has_code() => info.backend.to_string(),
            _ => "none".to_string(),
        };
        let instrumented = Marker::find(beam)?.map(|m| Instrumented {
            tool_version: m.tool_version,
            plan_hash: m.plan_hash,
            original_hash: m.original_hash,
            wrapped: m.wrapped.len(),
        });
        Ok(Summary {
            path: path.display().to_string(),
            module: tables.module().to_string(),
            debug_info,
            compressed: beam.compressed,
            chunks: beam
                .chunks
                .iter()
                .map(|c| ChunkSize {
                    id: c.id.as_text(),
                    size: c.data.len(),
                })
                .collect(),
            exports: tables.exports.len(),
            functions: tables.exports.len() + tables.locals.len(),
            instrumented,
        })
    }
}
