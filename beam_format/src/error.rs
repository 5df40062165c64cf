//! Errors of the BEAM codec.
//!
//! [`FormatError`] says what is wrong with some bytes; [`Error`] adds the file it came from, so
//! that every message a user sees names the file and the problem.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::chunk::ChunkId;

/// A problem with a file: the path and what went wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path is a directory, not a `.beam` file.
    #[error("{path}: is a directory, not a .beam file")]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The path is neither a regular file nor a directory (a pipe, a device, a socket).
    #[error("{path}: not a regular file, so not a .beam file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file's bytes are not a valid BEAM file.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with its bytes.
        #[source]
        source: FormatError,
    },
}

impl Error {
    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. }
            | Error::IsDirectory { path }
            | Error::NotAFile { path }
            | Error::Format { path, .. } => path,
        }
    }
}

/// What is wrong with the bytes of a BEAM file or of a term inside it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file is empty.
    #[error("empty file (0 bytes), not a BEAM file")]
    Empty,
    /// The file is shorter than the 12-byte `FOR1`/`BEAM` header.
    #[error("truncated: {len} bytes is shorter than the 12-byte BEAM header")]
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// The first four bytes are not `FOR1`.
    #[error("wrong magic {found}: expected \"FOR1\" (or a gzip-compressed BEAM file)")]
    BadMagic {
        /// The bytes found.
        found: ChunkId,
    },
    /// The form type is not `BEAM`.
    #[error("wrong form type {found}: expected \"BEAM\"")]
    NotBeam {
        /// The bytes found.
        found: ChunkId,
    },
    /// The header's size field disagrees with the file's length.
    #[error("truncated or padded: the header declares {declared} bytes of content, the file has {actual}")]
    SizeMismatch {
        /// Bytes the header declares after the size field.
        declared: u64,
        /// Bytes actually present after the size field.
        actual: u64,
    },
    /// A chunk header is cut off.
    #[error("truncated chunk header at byte {offset}")]
    TruncatedChunkHeader {
        /// Offset of the chunk header in the container.
        offset: usize,
    },
    /// A chunk claims more bytes than the file holds.
    #[error("chunk {id} at byte {offset} declares {size} bytes, only {available} remain")]
    ChunkOverrun {
        /// The chunk.
        id: ChunkId,
        /// Offset of the chunk header in the container.
        offset: usize,
        /// The declared size.
        size: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// The gzip layer of a compressed BEAM file is broken or too large.
    #[error("bad gzip compression: {0}")]
    Gzip(String),
    /// A chunk's content is malformed.
    #[error("malformed {id} chunk: {reason}")]
    BadChunk {
        /// The chunk.
        id: ChunkId,
        /// What is wrong.
        reason: String,
    },
    /// A chunk that is needed is absent.
    #[error("no {0} chunk")]
    MissingChunk(ChunkId),
    /// A term in the external term format is malformed.
    #[error("bad term in {context}: {reason}")]
    BadTerm {
        /// Where the term came from (a chunk id, "debug_info", ...).
        context: String,
        /// What is wrong.
        reason: EtfProblem,
    },
}

/// What is wrong with an external-term-format (ETF) encoded term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtfProblem {
    /// The bytes end in the middle of a term.
    Truncated,
    /// The first byte is not the ETF version 131.
    BadVersion(u8),
    /// A tag this decoder does not accept (unknown, or one only the distribution protocol uses).
    UnsupportedTag(u8),
    /// A count or size field that cannot be right for the bytes that remain.
    BadLength(u64),
    /// A bit binary whose last-byte bit count is outside 1..=8.
    BadBitCount(u8),
    /// Nesting deeper than the decoder accepts.
    TooDeep(usize),
    /// Bytes left after the term.
    TrailingBytes(usize),
    /// The compressed term does not inflate to its declared size.
    BadCompression(String),
    /// The term decoder rejected the bytes.
    Decode(String),
    /// The term is well-formed but not of the shape expected.
    Shape(String),
}

impl fmt::Display for EtfProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtfProblem::Truncated => write!(f, "the term is truncated"),
            EtfProblem::BadVersion(v) => write!(f, "version byte {v}, expected 131"),
            EtfProblem::UnsupportedTag(t) => write!(f, "unsupported term tag {t}"),
            EtfProblem::BadLength(n) => write!(f, "impossible length {n}"),
            EtfProblem::BadBitCount(n) => write!(f, "bit binary with {n} bits in its last byte"),
            EtfProblem::TooDeep(d) => write!(f, "nested deeper than {d} levels"),
            EtfProblem::TrailingBytes(n) => write!(f, "{n} bytes after the end of the term"),
            EtfProblem::BadCompression(why) => write!(f, "bad compressed term: {why}"),
            EtfProblem::Decode(why) => write!(f, "{why}"),
            EtfProblem::Shape(why) => write!(f, "{why}"),
        }
    }
}

impl FormatError {
    /// Attaches the file this error came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::Format {
            path: path.into(),
            source: self,
        }
    }
}
