//! Chunks: the named sections of a BEAM file, and the ids of the ones we know.

use std::fmt;

/// The four-byte name of a chunk, such as `Code` or `Dbgi`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(pub [u8; 4]);

impl ChunkId {
    /// Atom table (latin-1 atoms, old compilers).
    pub const ATOM: ChunkId = ChunkId(*b"Atom");
    /// Atom table (UTF-8 atoms).
    pub const ATU8: ChunkId = ChunkId(*b"AtU8");
    /// The bytecode.
    pub const CODE: ChunkId = ChunkId(*b"Code");
    /// String table.
    pub const STRT: ChunkId = ChunkId(*b"StrT");
    /// Import table.
    pub const IMPT: ChunkId = ChunkId(*b"ImpT");
    /// Export table.
    pub const EXPT: ChunkId = ChunkId(*b"ExpT");
    /// Local function table.
    pub const LOCT: ChunkId = ChunkId(*b"LocT");
    /// Fun (lambda) table.
    pub const FUNT: ChunkId = ChunkId(*b"FunT");
    /// Literal table (zlib-compressed terms).
    pub const LITT: ChunkId = ChunkId(*b"LitT");
    /// Line number table.
    pub const LINE: ChunkId = ChunkId(*b"Line");
    /// Type information for the JIT (OTP 25+).
    pub const TYPE: ChunkId = ChunkId(*b"Type");
    /// Metadata (OTP 26+).
    pub const META: ChunkId = ChunkId(*b"Meta");
    /// Module attributes, as one term.
    pub const ATTR: ChunkId = ChunkId(*b"Attr");
    /// Compilation information, as one term.
    pub const CINF: ChunkId = ChunkId(*b"CInf");
    /// Debug information (`{debug_info_v1, Backend, Data}`).
    pub const DBGI: ChunkId = ChunkId(*b"Dbgi");
    /// Old-style abstract code (before OTP 20).
    pub const ABST: ChunkId = ChunkId(*b"Abst");
    /// EEP 48 documentation.
    pub const DOCS: ChunkId = ChunkId(*b"Docs");
    /// Elixir's checker information.
    pub const EXCK: ChunkId = ChunkId(*b"ExCk");
    /// ElixirScope's marker: present in every beam the rewriter produced.
    pub const MARKER: ChunkId = ChunkId(*b"EScp");

    /// The id as text, with bytes outside printable ASCII escaped.
    pub fn as_text(&self) -> String {
        self.0.escape_ascii().to_string()
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_text())
    }
}

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One chunk of a BEAM file: its id and its bytes, exactly as stored (without padding).
#[derive(Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The chunk's name.
    pub id: ChunkId,
    /// The chunk's content.
    pub data: Vec<u8>,
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({}, {} bytes)", self.id, self.data.len())
    }
}
