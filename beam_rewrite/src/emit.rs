//! Re-emitting a rewritten beam: the compiler's new code chunks, the original's other chunks,
//! and the marker.
//!
//! The chunks that tools read keep their original bytes: `Dbgi` (Mix's protocol consolidation
//! needs the original `elixir_erl` backend, and the original code is what a later rewrite under
//! another plan starts from), `CInf` (doctests need its `source`), `Attr`, `Docs`, `ExCk`, and
//! any chunk this crate does not know. Only the chunks that hold code come from the compiler.

use beam_format::chunk::{Chunk, ChunkId};
use beam_format::container::Beam;
use beam_format::marker::Marker;
use beam_format::tables::FunctionRef;

/// Chunks that hold code: always the newly compiled ones, never the original's.
pub const CODE_CHUNKS: &[ChunkId] = &[
    ChunkId::ATOM,
    ChunkId::ATU8,
    ChunkId::CODE,
    ChunkId::STRT,
    ChunkId::IMPT,
    ChunkId::EXPT,
    ChunkId::LOCT,
    ChunkId::FUNT,
    ChunkId::LITT,
    ChunkId::LINE,
    ChunkId::TYPE,
    ChunkId::META,
];

/// Chunks the compiler writes that are replaced by (or dropped in favour of) the original's.
pub const ORIGINAL_METADATA: &[ChunkId] = &[
    ChunkId::DBGI,
    ChunkId::CINF,
    ChunkId::ATTR,
    ChunkId::ABST,
    ChunkId::DOCS,
    ChunkId::EXCK,
];

/// The rewritten beam: `compiled`'s code chunks, `original`'s other chunks, and a marker that
/// can rebuild `original_bytes`. Compressed like the original.
pub fn assemble(
    original_bytes: &[u8],
    original: &Beam,
    compiled: &Beam,
    plan_hash: String,
    wrapped: Vec<FunctionRef>,
) -> Beam {
    let mut chunks: Vec<Chunk> = compiled
        .chunks
        .iter()
        .filter(|c| !ORIGINAL_METADATA.contains(&c.id) && c.id != ChunkId::MARKER)
        .cloned()
        .collect();
    for chunk in &original.chunks {
        let taken = chunks.iter().any(|c| c.id == chunk.id);
        if !taken && !CODE_CHUNKS.contains(&chunk.id) && chunk.id != ChunkId::MARKER {
            chunks.push(chunk.clone());
        }
    }
    let mut rewritten = Beam {
        chunks,
        compressed: original.compressed,
    };
    let marker = Marker::for_rewrite(original_bytes, original, &rewritten, plan_hash, wrapped);
    rewritten.chunks.push(marker.to_chunk());
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;
    use beam_format::marker::OriginalChunk;

    fn beam(chunks: &[(&[u8; 4], &[u8])]) -> Beam {
        Beam {
            chunks: chunks
                .iter()
                .map(|(id, data)| Chunk {
                    id: ChunkId(**id),
                    data: data.to_vec(),
                })
                .collect(),
            compressed: false,
        }
    }

    #[test]
    fn takes_code_from_the_compiler_and_the_rest_from_the_original() {
        let original = beam(&[
            (b"AtU8", b"old atoms"),
            (b"Code", b"old code"),
            (b"Attr", b"attrs"),
            (b"CInf", b"cinf"),
            (b"Dbgi", b"elixir dbgi"),
            (b"Docs", b"docs"),
            (b"ExCk", b"exck"),
            (b"Xtra", b"unknown"),
        ]);
        let compiled = beam(&[
            (b"AtU8", b"new atoms"),
            (b"Code", b"new code"),
            (b"Attr", b"recompiled attrs"),
            (b"CInf", b"recompiled cinf"),
            (b"Dbgi", b"none"),
            (b"Line", b"lines"),
        ]);
        let bytes = original.to_container_bytes();
        let out = assemble(&bytes, &original, &compiled, "plan".into(), vec![]);
        let ids: Vec<String> = out.chunks.iter().map(|c| c.id.as_text()).collect();
        assert_eq!(
            ids,
            ["AtU8", "Code", "Line", "Attr", "CInf", "Dbgi", "Docs", "ExCk", "Xtra", "EScp"]
        );
        assert_eq!(out.chunk(ChunkId::CODE).unwrap().data, b"new code");
        assert_eq!(out.chunk(ChunkId::DBGI).unwrap().data, b"elixir dbgi");
        assert_eq!(out.chunk(ChunkId::CINF).unwrap().data, b"cinf");

        let marker = Marker::find(&out).unwrap().expect("a marker");
        assert_eq!(marker.original_bytes(&out).unwrap(), bytes);
        assert!(matches!(
            marker.original_chunks[1],
            OriginalChunk::Stored(..)
        ));
        assert!(matches!(marker.original_chunks[4], OriginalChunk::Kept(_)));
    }
}
