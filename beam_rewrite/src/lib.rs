//! Read, decode, rewrite and re-emit compiled BEAM files.
//!
//! A `.beam` file is an IFF container of chunks. This crate reads any beam the installed OTP
//! and Elixir produce (gzip-compressed ones too), keeps every chunk byte for byte, decodes the
//! parts the rewriter needs, and never panics on malformed input: every error names the file
//! and what is wrong.
//!
//! - [`container`] – the `FOR1`/`BEAM` container, chunk order and bytes ([`Beam`]).
//! - [`chunk`] – chunk ids and raw chunks.
//! - [`tables`] – atoms, exports, imports, local functions.
//! - [`literals`] – the literal table.
//! - [`attributes`] – module attributes and compile information.
//! - [`debug_info`] – the `Dbgi` chunk and its backend.
//! - [`etf`] – external-term-format decoding that guards `eetf` against hostile input.
//! - [`marker`] – the chunk that marks beams we rewrote and lets us restore the originals.
//! - [`summary`] – the description `elixir-scope inspect` prints.
//! - [`error`] – errors.
//!
//! Rewriting (`elixir-scope instrument` and `restore`):
//!
//! - [`discover`] – which beams a path (file, `ebin`, `_build/dev`) stands for.
//! - [`plan`] – which functions to wrap, and the plan hash that makes re-runs free.
//! - [`forms`] – Erlang abstract forms as ETF terms.
//! - [`patch`] – wrapping functions in forms: the runtime contract, tail calls, what is skipped.
//! - [`helper`] – the BEAM helper processes: debug info to forms, compiling, the loader check.
//! - [`emit`] – the rewritten beam: new code chunks, original metadata chunks, the marker.
//! - [`rewrite`] – one file start to finish, many files in parallel, restoring originals.

pub mod attributes;
pub mod chunk;
pub mod container;
pub mod debug_info;
pub mod discover;
pub mod emit;
pub mod error;
pub mod etf;
pub mod forms;
pub mod helper;
pub mod literals;
pub mod marker;
pub mod patch;
pub mod plan;
pub mod rewrite;
pub mod summary;
pub mod tables;

pub use chunk::{Chunk, ChunkId};
pub use container::Beam;
pub use debug_info::{Backend, DebugInfo};
pub use error::{Error, EtfProblem, FormatError};
pub use marker::Marker;
pub use plan::{ModulePlan, Plan};
pub use summary::Summary;
pub use tables::{FunctionRef, Tables};
