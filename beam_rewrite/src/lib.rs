//! Read, decode, rewrite and re-emit compiled BEAM files.
//!
//! A `.beam` file is an IFF container of chunks. This crate reads any beam the installed OTP
//! and Elixir produce (gzip-compressed ones too), keeps every chunk byte for byte, decodes the
//! parts the rewriter needs, and never panics on malformed input: every error names the file
//! and what is wrong.
//!
//! The file format is the `beam_format` crate's (the container, tables, debug info, guarded ETF
//! decoding, the marker of rewritten beams) and the plan the `beam_plan` crate's; callers use
//! both crates directly.
//!
//! Rewriting (`elixir-scope instrument` and `restore`):
//!
//! - [`forms`] – Erlang abstract forms as ETF terms.
//! - [`patch`] – wrapping functions in forms: the runtime contract, tail calls, what is skipped.
//! - [`helper`] – the BEAM helper processes: debug info to forms, compiling, the loader check.
//! - [`emit`] – the rewritten beam: new code chunks, original metadata chunks, the marker.
//! - [`rewrite`] – one file start to finish, many files in parallel, restoring originals.

pub mod emit;
pub mod forms;
pub mod helper;
pub mod patch;
pub mod rewrite;
