//! The BEAM container: an IFF file (`FOR1`, size, `BEAM`) holding chunks, possibly gzipped.
//!
//! [`Beam`] keeps every chunk in file order with its bytes untouched, so that writing an
//! unmodified beam back gives the same bytes. Parsing is done by the `beam_file` crate, after a
//! bounds check of our own: `beam_file` trusts the sizes it reads (a hostile size makes it
//! allocate gigabytes or underflow), and rejects gzip-compressed beams, which we inflate first.

use std::io::{Read, Write};
use std::path::Path;

use beam_file::chunk::{Chunk as _, RawChunk};
use beam_file::RawBeamFile;
use flate2::read::GzDecoder;

use crate::chunk::{Chunk, ChunkId};
use crate::error::{Error, FormatError};

/// The largest BEAM file we accept, and the most a gzip-compressed one may inflate to: 128 MiB,
/// over 100 times the biggest beam of OTP 25 and Elixir 1.14 (`elixir_parser`, 1 MB). A
/// 13 MB gzip bomb used to inflate to the former 1 GiB limit in every job.
pub const MAX_BEAM_BYTES: u64 = 128 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const HEADER_LEN: usize = 12;
const CHUNK_HEADER_LEN: usize = 8;

/// A BEAM file: its chunks in file order, and whether the file was gzip-compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beam {
    /// Every chunk, in the order of the file.
    pub chunks: Vec<Chunk>,
    /// Whether the file was gzip-compressed (`compile` option `compressed`).
    pub compressed: bool,
}

impl Beam {
    /// Reads and parses a BEAM file; errors name the file.
    pub fn read(path: &Path) -> Result<Beam, Error> {
        let bytes = read_file(path)?;
        Beam::parse(&bytes).map_err(|e| e.in_file(path))
    }

    /// Parses the bytes of a BEAM file, gzip-compressed or not.
    pub fn parse(bytes: &[u8]) -> Result<Beam, FormatError> {
        if bytes.is_empty() {
            return Err(FormatError::Empty);
        }
        if bytes.starts_with(&GZIP_MAGIC) {
            let inflated = gunzip(bytes)?;
            let chunks = parse_container(&inflated)?;
            return Ok(Beam {
                chunks,
                compressed: true,
            });
        }
        Ok(Beam {
            chunks: parse_container(bytes)?,
            compressed: false,
        })
    }

    /// The uncompressed container bytes (`FOR1` ... ) of this beam.
    pub fn to_container_bytes(&self) -> Vec<u8> {
        let raw = RawBeamFile {
            chunks: self
                .chunks
                .iter()
                .map(|c| RawChunk {
                    id: c.id.0,
                    data: c.data.clone(),
                })
                .collect(),
        };
        let mut out = Vec::with_capacity(self.chunks.iter().map(|c| c.data.len() + 12).sum());
        raw.to_writer(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// The bytes of the file: the container, gzip-compressed if the original was.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let container = self.to_container_bytes();
        if !self.compressed {
            return container;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&container)
            .and_then(|_| gz.finish())
            .expect("compressing into a Vec cannot fail")
    }

    /// The first chunk with this id.
    pub fn chunk(&self, id: ChunkId) -> Option<&Chunk> {
        self.chunks.iter().find(|c| c.id == id)
    }

    /// The data of the first chunk with this id, or an error naming the missing chunk.
    pub fn require(&self, id: ChunkId) -> Result<&[u8], FormatError> {
        self.chunk(id)
            .map(|c| c.data.as_slice())
            .ok_or(FormatError::MissingChunk(id))
    }

    /// The atom table's data: `AtU8` or, in old beams, `Atom`.
    pub fn atom_chunk(&self) -> Result<&Chunk, FormatError> {
        self.chunk(ChunkId::ATU8)
            .or_else(|| self.chunk(ChunkId::ATOM))
            .ok_or(FormatError::MissingChunk(ChunkId::ATU8))
    }
}

/// Reads a whole file (following symbolic links), refusing directories, pipes, devices and
/// files larger than [`MAX_BEAM_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(Error::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        // Reading a pipe would wait for a writer; a device may never end.
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_BEAM_BYTES {
        return Err(FormatError::SizeMismatch {
            declared: MAX_BEAM_BYTES,
            actual: meta.len(),
        }
        .in_file(path));
    }
    std::fs::read(path).map_err(io)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_BEAM_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| FormatError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_BEAM_BYTES {
        return Err(FormatError::Gzip(format!(
            "inflates to more than {MAX_BEAM_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// Checks every size in the container before `beam_file` reads it, then lets it read.
fn parse_container(bytes: &[u8]) -> Result<Vec<Chunk>, FormatError> {
    check_container(bytes)?;
    let raw = RawBeamFile::from_reader(bytes).map_err(|e| FormatError::BadChunk {
        id: ChunkId(*b"FOR1"),
        reason: e.to_string(),
    })?;
    Ok(raw
        .chunks
        .into_iter()
        .map(|c| Chunk {
            id: ChunkId(*c.id()),
            data: c.data,
        })
        .collect())
}

fn check_container(bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.len() < HEADER_LEN {
        if bytes.len() >= 4 && &bytes[..4] != b"FOR1" {
            return Err(FormatError::BadMagic {
                found: ChunkId(id_at(bytes, 0)),
            });
        }
        return Err(FormatError::TooShort { len: bytes.len() });
    }
    let magic = id_at(bytes, 0);
    if &magic != b"FOR1" {
        return Err(FormatError::BadMagic {
            found: ChunkId(magic),
        });
    }
    let declared = u64::from(u32_at(bytes, 4));
    let actual = (bytes.len() - 8) as u64;
    if declared != actual {
        return Err(FormatError::SizeMismatch { declared, actual });
    }
    let form = id_at(bytes, 8);
    if &form != b"BEAM" {
        return Err(FormatError::NotBeam {
            found: ChunkId(form),
        });
    }
    let mut offset = HEADER_LEN;
    while offset < bytes.len() {
        if bytes.len() - offset < CHUNK_HEADER_LEN {
            return Err(FormatError::TruncatedChunkHeader { offset });
        }
        let id = ChunkId(id_at(bytes, offset));
        let size = u64::from(u32_at(bytes, offset + 4));
        let padded = (size + 3) & !3;
        let available = (bytes.len() - offset - CHUNK_HEADER_LEN) as u64;
        if padded > available {
            return Err(FormatError::ChunkOverrun {
                id,
                offset,
                size,
                available,
            });
        }
        offset += CHUNK_HEADER_LEN + padded as usize;
    }
    Ok(())
}

fn id_at(bytes: &[u8], at: usize) -> [u8; 4] {
    let mut id = [0; 4];
    id.copy_from_slice(&bytes[at..at + 4]);
    id
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(id_at(bytes, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let beam = Beam {
            chunks: chunks
                .iter()
                .map(|(id, data)| Chunk {
                    id: ChunkId(**id),
                    data: data.to_vec(),
                })
                .collect(),
            compressed: false,
        };
        beam.to_container_bytes()
    }

    #[test]
    fn round_trips_chunks_with_padding() {
        let bytes = container(&[(b"AtU8", b"\0\0\0\x01\x01m"), (b"Code", b"abcdefgh")]);
        assert_eq!(bytes.len(), 12 + 8 + 8 + 8 + 8);
        let beam = Beam::parse(&bytes).unwrap();
        assert_eq!(beam.chunks.len(), 2);
        assert_eq!(beam.chunks[0].data, b"\0\0\0\x01\x01m");
        assert_eq!(beam.to_container_bytes(), bytes);
    }

    #[test]
    fn gzip_round_trip_keeps_the_flag() {
        let plain = container(&[(b"Code", b"xyz")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let beam = Beam::parse(&gz.finish().unwrap()).unwrap();
        assert!(beam.compressed);
        assert_eq!(beam.to_container_bytes(), plain);
        let again = Beam::parse(&beam.to_file_bytes()).unwrap();
        assert_eq!(again, beam);
    }

    #[test]
    fn a_gzip_bomb_stops_inflating_at_the_limit() {
        // A valid container header followed by 144 MiB of zeros, about 150 KB compressed
        // (the limit used to be 1 GiB, and a bomb cost that much in every job).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&container(&[(b"Code", b"xyz")])).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..144 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let error = Beam::parse(&bomb).unwrap_err().to_string();
        assert!(
            error.contains(&format!("inflates to more than {MAX_BEAM_BYTES} bytes")),
            "{error}"
        );
    }

    #[test]
    fn rejects_malformed_containers_with_a_reason() {
        let good = container(&[(b"Code", b"abcd")]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (b"FOR1\0\0".to_vec(), "shorter than the 12-byte"),
            (b"XXXX\0\0\0\x04BEAM".to_vec(), "wrong magic"),
            (b"FOR1\0\0\0\x04JUNK".to_vec(), "wrong form type"),
            (good[..good.len() - 2].to_vec(), "declares"),
            (
                {
                    let mut b = good.clone();
                    b[19] = 200; // chunk size larger than the file
                    b
                },
                "declares 200 bytes",
            ),
            (
                {
                    let mut b = b"FOR1\0\0\0\x08BEAMCo".to_vec();
                    b[7] = 6;
                    b
                },
                "truncated chunk header",
            ),
            (vec![0x1f, 0x8b, 1, 2, 3], "gzip"),
        ];
        for (bytes, expected) in cases {
            let err = Beam::parse(&bytes).expect_err(expected).to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_chunks_round_trip(
            chunks in proptest::collection::vec(
                (proptest::array::uniform4(proptest::num::u8::ANY),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..64)),
                0..8),
            compressed in proptest::bool::ANY,
        ) {
            let beam = Beam {
                chunks: chunks
                    .into_iter()
                    .map(|(id, data)| Chunk { id: ChunkId(id), data })
                    .collect(),
                compressed,
            };
            let bytes = beam.to_file_bytes();
            proptest::prop_assert_eq!(Beam::parse(&bytes).unwrap(), beam);
        }

        #[test]
        fn cut_or_corrupted_beams_give_errors_not_panics(
            cut in 0usize..200,
            flip in proptest::option::of((0usize..200, proptest::num::u8::ANY)),
        ) {
            let mut bytes = container(&[(b"AtU8", b"\0\0\0\x01\x01m"), (b"Code", &[7; 40])]);
            if let Some((at, byte)) = flip {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes.truncate(cut.min(bytes.len()));
            let _ = Beam::parse(&bytes);
        }
    }
}
