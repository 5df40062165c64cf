//! The BEAM file format, apart from what is done with it: read any beam the installed OTP and
//! Elixir produce (gzip-compressed ones too), keep every chunk byte for byte, decode the parts
//! a rewriter or an inspector needs, and never panic on malformed input: every error names the
//! file and what is wrong.
//!
//! - [`container`] – the `FOR1`/`BEAM` container, chunk order and bytes ([`Beam`]).
//! - [`chunk`] – chunk ids and raw chunks.
//! - [`tables`] – atoms, exports, imports, local functions.
//! - [`literals`] – the literal table.
//! - [`attributes`] – module attributes and compile information.
//! - [`debug_info`] – the `Dbgi` chunk and its backend.
//! - [`etf`] – external-term-format decoding that guards `eetf` against hostile input.
//! - [`marker`] – the chunk that marks beams ElixirScope rewrote and lets it restore the
//!   originals.
//! - [`summary`] – the description `elixir-scope inspect` prints.
//! - [`error`] – errors.

pub mod attributes;
pub mod chunk;
pub mod container;
pub mod debug_info;
pub mod error;
pub mod etf;
pub mod literals;
pub mod marker;
pub mod summary;
pub mod tables;

pub use chunk::{Chunk, ChunkId};
pub use container::Beam;
pub use debug_info::{Backend, DebugInfo};
pub use error::{Error, EtfProblem, FormatError};
pub use marker::Marker;
pub use summary::Summary;
pub use tables::{FunctionRef, Tables};
