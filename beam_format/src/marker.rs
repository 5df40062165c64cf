//! The marker chunk (`EScp`) that every rewritten beam carries.
//!
//! It says that the beam is ours, under which plan it was rewritten, which functions are
//! wrapped, and holds what is needed to give back the original file byte for byte: the original
//! chunk order, and the bytes of every original chunk that the rewritten beam does not keep
//! unchanged (zlib-compressed). It is one ETF term, so Erlang can read it too:
//! `beam_lib:chunks(File, ["EScp"])`.
//!
//! ```text
//! #{format => 1,
//!   tool_version => <<"0.1.0">>,
//!   plan_hash => <<"9f1c...">>,           % hex BLAKE3 of the plan for this module
//!   original_hash => <<"77ab...">>,       % hex BLAKE3 of the original file's bytes
//!   wrapped => [{Name :: atom(), Arity :: integer()}],
//!   original_chunks => [{<<"Code">>, kept} | {<<"Code">>, {stored, ZlibBytes}}],
//!   original_file => none | ZlibBytes}   % whole original file, for gzip-compressed beams
//! ```

use std::io::{Read, Write};

use eetf::{Atom, Binary, FixInteger, List, Map, Term, Tuple};

use crate::chunk::{Chunk, ChunkId};
use crate::container::Beam;
use crate::error::{EtfProblem, FormatError};
use crate::etf;
use crate::tables::FunctionRef;

/// Version of the marker's own layout.
pub const FORMAT: i32 = 1;

/// How an original chunk is kept for restoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginalChunk {
    /// The rewritten beam holds a chunk with this id and the very same bytes.
    Kept(ChunkId),
    /// The original bytes of this chunk.
    Stored(ChunkId, Vec<u8>),
}

/// What the marker chunk says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Version of the `elixir-scope` that rewrote the beam.
    pub tool_version: String,
    /// Hash of the plan the beam was rewritten with.
    pub plan_hash: String,
    /// Hash of the original file.
    pub original_hash: String,
    /// The wrapped functions.
    pub wrapped: Vec<FunctionRef>,
    /// The original chunks in file order.
    pub original_chunks: Vec<OriginalChunk>,
    /// The whole original file, when it was gzip-compressed (its bytes cannot be rebuilt).
    pub original_file: Option<Vec<u8>>,
}

/// Hex BLAKE3 hash of some bytes, as used for `original_hash` and plan hashes.
pub fn hash_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

impl Marker {
    /// Describes how to rebuild `original` from `rewritten` (which does not hold the marker
    /// yet): chunks present unchanged in `rewritten` are referenced, the others stored.
    pub fn for_rewrite(
        original_bytes: &[u8],
        original: &Beam,
        rewritten: &Beam,
        plan_hash: String,
        wrapped: Vec<FunctionRef>,
    ) -> Marker {
        let original_chunks = original
            .chunks
            .iter()
            .map(|c| {
                if rewritten.chunk(c.id).is_some_and(|r| r.data == c.data) {
                    OriginalChunk::Kept(c.id)
                } else {
                    OriginalChunk::Stored(c.id, c.data.clone())
                }
            })
            .collect();
        Marker {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            plan_hash,
            original_hash: hash_hex(original_bytes),
            wrapped,
            original_chunks,
            original_file: original.compressed.then(|| original_bytes.to_vec()),
        }
    }

    /// Reads the marker of a beam; `None` if the beam is not one we rewrote.
    pub fn find(beam: &Beam) -> Result<Option<Marker>, FormatError> {
        beam.chunk(ChunkId::MARKER)
            .map(|c| Marker::decode(&c.data))
            .transpose()
    }

    /// The bytes of the original file, rebuilt from `beam` (the rewritten beam) and checked
    /// against `original_hash`.
    pub fn original_bytes(&self, beam: &Beam) -> Result<Vec<u8>, FormatError> {
        let bytes = match &self.original_file {
            Some(file) => file.clone(),
            None => {
                let chunks = self
                    .original_chunks
                    .iter()
                    .map(|original| match original {
                        OriginalChunk::Stored(id, data) => Ok(Chunk {
                            id: *id,
                            data: data.clone(),
                        }),
                        OriginalChunk::Kept(id) => beam
                            .chunk(*id)
                            .cloned()
                            .ok_or(FormatError::MissingChunk(*id)),
                    })
                    .collect::<Result<_, _>>()?;
                Beam {
                    chunks,
                    compressed: false,
                }
                .to_container_bytes()
            }
        };
        if hash_hex(&bytes) != self.original_hash {
            return Err(FormatError::BadChunk {
                id: ChunkId::MARKER,
                reason: "the rebuilt original does not match the recorded hash".into(),
            });
        }
        Ok(bytes)
    }

    /// The marker as a chunk.
    pub fn to_chunk(&self) -> Chunk {
        Chunk {
            id: ChunkId::MARKER,
            data: etf::encode(&self.to_term()),
        }
    }

    fn to_term(&self) -> Term {
        let bin = |s: &str| Term::from(Binary::from(s.as_bytes()));
        let atom = |s: &str| Term::from(Atom::from(s));
        let wrapped: Vec<Term> = self
            .wrapped
            .iter()
            .map(|f| tuple(vec![atom(&f.name), int(f.arity as i32)]))
            .collect();
        let chunks: Vec<Term> = self
            .original_chunks
            .iter()
            .map(|c| match c {
                OriginalChunk::Kept(id) => {
                    tuple(vec![Term::from(Binary::from(&id.0[..])), atom("kept")])
                }
                OriginalChunk::Stored(id, data) => tuple(vec![
                    Term::from(Binary::from(&id.0[..])),
                    tuple(vec![atom("stored"), Term::from(Binary::from(zlib(data)))]),
                ]),
            })
            .collect();
        let original_file = match &self.original_file {
            Some(file) => Term::from(Binary::from(zlib(file))),
            None => atom("none"),
        };
        let entries = [
            (atom("format"), int(FORMAT)),
            (atom("tool_version"), bin(&self.tool_version)),
            (atom("plan_hash"), bin(&self.plan_hash)),
            (atom("original_hash"), bin(&self.original_hash)),
            (atom("wrapped"), Term::from(List::from(wrapped))),
            (atom("original_chunks"), Term::from(List::from(chunks))),
            (atom("original_file"), original_file),
        ];
        Term::from(Map::from(entries))
    }

    /// Decodes the marker chunk's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Marker, FormatError> {
        let bad = |reason: String| FormatError::BadTerm {
            context: "the EScp marker chunk".into(),
            reason: EtfProblem::Shape(reason),
        };
        let term = etf::decode(bytes).map_err(|reason| FormatError::BadTerm {
            context: "the EScp marker chunk".into(),
            reason,
        })?;
        let Term::Map(map) = term else {
            return Err(bad("not a map".into()));
        };
        let get = |key: &str| {
            map.map
                .get(&Term::from(Atom::from(key)))
                .ok_or_else(|| bad(format!("no {key}")))
        };
        let text = |key: &str| match get(key)? {
            Term::Binary(b) => {
                String::from_utf8(b.bytes.clone()).map_err(|_| bad(format!("{key} is not UTF-8")))
            }
            _ => Err(bad(format!("{key} is not a binary"))),
        };
        match get("format")? {
            Term::FixInteger(FixInteger { value: FORMAT }) => {}
            other => return Err(bad(format!("unknown marker format {other}"))),
        }
        let wrapped = list(get("wrapped")?)
            .ok_or_else(|| bad("wrapped is not a list".into()))?
            .iter()
            .map(|t| match pair(t) {
                Some((Term::Atom(name), Term::FixInteger(arity))) if arity.value >= 0 => {
                    Ok(FunctionRef {
                        name: name.name.clone(),
                        arity: arity.value as u32,
                    })
                }
                _ => Err(bad(format!("bad wrapped entry {t}"))),
            })
            .collect::<Result<_, _>>()?;
        let original_chunks = list(get("original_chunks")?)
            .ok_or_else(|| bad("original_chunks is not a list".into()))?
            .iter()
            .map(|t| {
                let entry = || bad(format!("bad original_chunks entry {t}"));
                let (Term::Binary(id), how) = pair(t).ok_or_else(entry)? else {
                    return Err(entry());
                };
                let id = ChunkId(id.bytes.as_slice().try_into().map_err(|_| entry())?);
                match how {
                    Term::Atom(a) if a.name == "kept" => Ok(OriginalChunk::Kept(id)),
                    _ => match pair(how) {
                        Some((Term::Atom(a), Term::Binary(data))) if a.name == "stored" => Ok(
                            OriginalChunk::Stored(id, unzlib(&data.bytes).ok_or_else(entry)?),
                        ),
                        _ => Err(entry()),
                    },
                }
            })
            .collect::<Result<_, _>>()?;
        let original_file = match get("original_file")? {
            Term::Atom(a) if a.name == "none" => None,
            Term::Binary(b) => {
                Some(unzlib(&b.bytes).ok_or_else(|| bad("original_file does not inflate".into()))?)
            }
            _ => return Err(bad("bad original_file".into())),
        };
        Ok(Marker {
            tool_version: text("tool_version")?,
            plan_hash: text("plan_hash")?,
            original_hash: text("original_hash")?,
            wrapped,
            original_chunks,
            original_file,
        })
    }
}

fn tuple(elements: Vec<Term>) -> Term {
    Term::from(Tuple::from(elements))
}

fn int(value: i32) -> Term {
    Term::from(FixInteger::from(value))
}

fn list(term: &Term) -> Option<&[Term]> {
    match term {
        Term::List(l) => Some(&l.elements),
        _ => None,
    }
}

fn pair(term: &Term) -> Option<(&Term, &Term)> {
    match term {
        Term::Tuple(t) if t.elements.len() == 2 => Some((&t.elements[0], &t.elements[1])),
        _ => None,
    }
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data)
        .and_then(|_| z.finish())
        .expect("compressing into a Vec cannot fail")
}

fn unzlib(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(crate::container::MAX_BEAM_BYTES)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &[u8; 4], data: &[u8]) -> Chunk {
        Chunk {
            id: ChunkId(*id),
            data: data.to_vec(),
        }
    }

    #[test]
    fn restores_the_original_from_a_rewritten_beam() {
        let original = Beam {
            chunks: vec![
                chunk(b"AtU8", b"old atoms"),
                chunk(b"Code", b"old"),
                chunk(b"Dbgi", b"dbg"),
            ],
            compressed: false,
        };
        let original_bytes = original.to_container_bytes();
        let mut rewritten = Beam {
            chunks: vec![
                chunk(b"AtU8", b"new atoms"),
                chunk(b"Code", b"new code"),
                chunk(b"Dbgi", b"dbg"),
            ],
            compressed: false,
        };
        let wrapped = vec![FunctionRef {
            name: "run".into(),
            arity: 2,
        }];
        let marker =
            Marker::for_rewrite(&original_bytes, &original, &rewritten, "p1".into(), wrapped);
        assert_eq!(
            marker.original_chunks[2],
            OriginalChunk::Kept(ChunkId::DBGI)
        );
        rewritten.chunks.push(marker.to_chunk());

        let reread = Beam::parse(&rewritten.to_container_bytes()).unwrap();
        let found = Marker::find(&reread).unwrap().expect("a marker");
        assert_eq!(found, marker);
        assert_eq!(found.original_bytes(&reread).unwrap(), original_bytes);
    }

    #[test]
    fn a_tampered_beam_does_not_restore() {
        let original = Beam {
            chunks: vec![chunk(b"Code", b"old"), chunk(b"Dbgi", b"dbg")],
            compressed: false,
        };
        let bytes = original.to_container_bytes();
        let mut rewritten = Beam {
            chunks: vec![chunk(b"Code", b"new"), chunk(b"Dbgi", b"dbg")],
            compressed: false,
        };
        let marker = Marker::for_rewrite(&bytes, &original, &rewritten, "p".into(), vec![]);
        rewritten.chunks[1].data = b"changed".to_vec();
        let err = marker.original_bytes(&rewritten).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}
