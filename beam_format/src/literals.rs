//! The literal table (`LitT`): the constant terms the code refers to.
//!
//! `beam_file` decodes this chunk too, but sizes each literal's buffer from the (untrusted)
//! length field before reading it, so a hostile chunk can make it allocate gigabytes. We inflate
//! with a cap instead and split the entries ourselves; the format is a count and length-prefixed
//! ETF terms.

use std::io::Read;

use eetf::Term;

use crate::chunk::{Chunk, ChunkId};
use crate::container::u32_at;
use crate::error::FormatError;
use crate::etf;

/// Largest inflated literal table accepted.
const MAX_LITERAL_TABLE_BYTES: u64 = crate::container::MAX_BEAM_BYTES;

/// Decodes every literal of a `LitT` chunk, in table order.
pub fn decode(chunk: &Chunk) -> Result<Vec<Term>, FormatError> {
    let table = inflate(chunk)?;
    let bad = |reason: String| FormatError::BadChunk {
        id: ChunkId::LITT,
        reason,
    };
    if table.len() < 4 {
        return Err(bad("shorter than its count field".into()));
    }
    let count = u32_at(&table, 0) as usize;
    let mut pos = 4;
    let mut literals = Vec::with_capacity(count.min(table.len() / 4));
    for index in 0..count {
        if table.len() - pos < 4 {
            return Err(bad(format!("literal {index} is truncated")));
        }
        let size = u32_at(&table, pos) as usize;
        pos += 4;
        if table.len() - pos < size {
            return Err(bad(format!("literal {index} declares {size} bytes")));
        }
        let term = etf::decode(&table[pos..pos + size]).map_err(|reason| FormatError::BadTerm {
            context: format!("literal {index}"),
            reason,
        })?;
        literals.push(term);
        pos += size;
    }
    if pos != table.len() {
        return Err(bad(format!(
            "{} bytes after the last literal",
            table.len() - pos
        )));
    }
    Ok(literals)
}

fn inflate(chunk: &Chunk) -> Result<Vec<u8>, FormatError> {
    let bad = |reason: String| FormatError::BadChunk {
        id: ChunkId::LITT,
        reason,
    };
    let data = &chunk.data;
    if data.len() < 4 {
        return Err(bad("shorter than its size field".into()));
    }
    let declared = u64::from(u32_at(data, 0));
    if declared == 0 {
        // Stored uncompressed (newer compilers do this for small tables).
        return Ok(data[4..].to_vec());
    }
    if declared > MAX_LITERAL_TABLE_BYTES {
        return Err(bad(format!("declares {declared} inflated bytes")));
    }
    let mut table = Vec::new();
    flate2::read::ZlibDecoder::new(&data[4..])
        .take(declared + 1)
        .read_to_end(&mut table)
        .map_err(|e| bad(format!("does not inflate: {e}")))?;
    if table.len() as u64 != declared {
        return Err(bad(format!(
            "inflates to {} bytes, {declared} declared",
            table.len()
        )));
    }
    Ok(table)
}
