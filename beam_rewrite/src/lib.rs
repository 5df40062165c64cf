//! Read, decode, rewrite and re-emit compiled BEAM files.
//!
//! A `.beam` file is an IFF container of chunks. This crate reads any beam the installed OTP
//! and Elixir produce (gzip-compressed ones too), keeps every chunk byte for byte, decodes the
//! parts the rewriter needs, and never panics on malformed input: every error names the file
//! and what is wrong.
//!
//! The file format is the `beam_format` crate's (re-exported here under the same paths):
//! [`container`] ([`Beam`]), [`chunk`], [`tables`], [`literals`], [`attributes`],
//! [`debug_info`], [`etf`] (guarded decoding), [`marker`] (the chunk of beams we rewrote),
//! [`summary`] (what `elixir-scope inspect` prints) and [`error`].
//!
//! Rewriting (`elixir-scope instrument` and `restore`):
//!
//! - [`plan`] – which functions to wrap, and the plan hash that makes re-runs free.
//! - [`forms`] – Erlang abstract forms as ETF terms.
//! - [`patch`] – wrapping functions in forms: the runtime contract, tail calls, what is skipped.
//! - [`helper`] – the BEAM helper processes: debug info to forms, compiling, the loader check.
//! - [`emit`] – the rewritten beam: new code chunks, original metadata chunks, the marker.
//! - [`rewrite`] – one file start to finish, many files in parallel, restoring originals.

pub use beam_format::{
    attributes, chunk, container, debug_info, error, etf, literals, marker, summary, tables,
};

pub mod emit;
pub mod forms;
pub mod helper;
pub mod patch;
pub use beam_plan as plan;
pub mod rewrite;

pub use chunk::{Chunk, ChunkId};
pub use container::Beam;
pub use debug_info::{Backend, DebugInfo};
pub use error::{Error, EtfProblem, FormatError};
pub use marker::Marker;
pub use plan::{ModulePlan, Plan};
pub use summary::Summary;
pub use tables::{FunctionRef, Tables};
