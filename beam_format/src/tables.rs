//! The tables of a beam: atoms, exports, imports, local functions and funs.
//!
//! Decoding is `beam_file`'s typed chunks; before each we check that the entry count fits the
//! chunk, because `beam_file` reserves memory for whatever count it reads.

use beam_file::chunk::{AtomChunk, Chunk as _, ExpTChunk, FunTChunk, ImpTChunk, LocTChunk};
use serde::Serialize;

use crate::chunk::{Chunk, ChunkId};
use crate::container::{u32_at, Beam};
use crate::error::FormatError;

/// A function of the module: name and arity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// The number of arguments.
    pub arity: u32,
}

impl std::fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.name, self.arity)
    }
}

/// A function another module exports that this one calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Import {
    /// The module called.
    pub module: String,
    /// The function called.
    pub function: String,
    /// Its arity.
    pub arity: u32,
}

/// The decoded tables of a beam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tables {
    /// The atom table; atom 1 is the module name.
    pub atoms: Vec<String>,
    /// Exported functions, in table order.
    pub exports: Vec<FunctionRef>,
    /// Functions called in other modules.
    pub imports: Vec<Import>,
    /// Functions that are not exported (including compiler-generated ones for funs).
    pub locals: Vec<FunctionRef>,
    /// Number of entries of the fun table.
    pub funs: usize,
}

impl Tables {
    /// Decodes the atom, export, import, local and fun tables of a beam.
    pub fn decode(beam: &Beam) -> Result<Tables, FormatError> {
        let atoms = atoms(beam.atom_chunk()?)?;
        let name = |id: u32, chunk| {
            atoms
                .get((id as usize).wrapping_sub(1))
                .cloned()
                .ok_or_else(|| bad(chunk, format!("atom index {id} is outside the atom table")))
        };
        let function = |f: u32, arity: u32, chunk| -> Result<FunctionRef, FormatError> {
            Ok(FunctionRef {
                name: name(f, chunk)?,
                arity,
            })
        };

        let exports = match beam.chunk(ChunkId::EXPT) {
            Some(c) => typed::<ExpTChunk>(c, 12)?
                .exports
                .iter()
                .map(|e| function(e.function, e.arity, ChunkId::EXPT))
                .collect::<Result<_, _>>()?,
            None => return Err(FormatError::MissingChunk(ChunkId::EXPT)),
        };
        let imports = match beam.chunk(ChunkId::IMPT) {
            Some(c) => typed::<ImpTChunk>(c, 12)?
                .imports
                .iter()
                .map(|i| {
                    Ok(Import {
                        module: name(i.module, ChunkId::IMPT)?,
                        function: name(i.function, ChunkId::IMPT)?,
                        arity: i.arity,
                    })
                })
                .collect::<Result<_, FormatError>>()?,
            None => Vec::new(),
        };
        let locals = match beam.chunk(ChunkId::LOCT) {
            Some(c) => typed::<LocTChunk>(c, 12)?
                .locals
                .iter()
                .map(|l| function(l.function, l.arity, ChunkId::LOCT))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let funs = match beam.chunk(ChunkId::FUNT) {
            Some(c) => typed::<FunTChunk>(c, 24)?.functions.len(),
            None => 0,
        };
        Ok(Tables {
            atoms,
            exports,
            imports,
            locals,
            funs,
        })
    }

    /// The module's name: the first atom.
    pub fn module(&self) -> &str {
        // `atoms` rejects an empty table, so there is always a first atom.
        &self.atoms[0]
    }
}

/// Decodes an `AtU8` or `Atom` chunk.
pub fn atoms(chunk: &Chunk) -> Result<Vec<String>, FormatError> {
    let data = &chunk.data;
    if data.len() < 4 {
        return Err(bad(chunk.id, "shorter than its count field".into()));
    }
    let count = u32_at(data, 0);
    if count & 0x8000_0000 != 0 {
        return Err(bad(
            chunk.id,
            "uses the long-atom encoding of OTP 26 and later, which is not supported".into(),
        ));
    }
    if count == 0 {
        return Err(bad(chunk.id, "is empty: no module name".into()));
    }
    // Each atom takes at least its length byte.
    if count as usize > data.len() - 4 {
        return Err(bad(
            chunk.id,
            format!("declares {count} atoms in {} bytes", data.len()),
        ));
    }
    let decoded = AtomChunk::decode_data(&chunk.id.0, data.as_slice())
        .map_err(|e| bad(chunk.id, e.to_string()))?;
    Ok(decoded.atoms.into_iter().map(|a| a.name).collect())
}

/// Decodes a table chunk made of a count and fixed-size entries.
fn typed<T: beam_file::chunk::Chunk>(chunk: &Chunk, entry: usize) -> Result<T, FormatError> {
    let data = &chunk.data;
    if data.len() < 4 {
        return Err(bad(chunk.id, "shorter than its count field".into()));
    }
    let count = u32_at(data, 0) as usize;
    if count.checked_mul(entry).map(|n| n + 4) != Some(data.len()) {
        return Err(bad(
            chunk.id,
            format!(
                "declares {count} entries of {entry} bytes in {} bytes",
                data.len()
            ),
        ));
    }
    T::decode_data(&chunk.id.0, data.as_slice()).map_err(|e| bad(chunk.id, e.to_string()))
}

fn bad(id: ChunkId, reason: String) -> FormatError {
    FormatError::BadChunk { id, reason }
}
