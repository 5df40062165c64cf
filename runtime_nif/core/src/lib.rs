//! The ElixirScope runtime without the BEAM: everything the NIF does that is not talking to
//! the VM, as plain Rust that tests and benchmarks can drive.
//!
//! - [`encoder`] – the bounded term encoder and the [`TermView`](encoder::TermView) it reads
//!   terms through.
//! - [`ring`] – the sharded lock-free ring and its drop policies.
//! - [`recorder`] – the hot path's shared state: call ids, ring, atoms, caps.
//! - [`pipeline`] – the drain: collector thread, channel, writer thread; flush, stop, stats.
//! - [`config`] – settings, defaults and the memory bound.
//! - [`atoms`] – the text of the atoms events refer to.
//! - [`thread`] – scheduler ids and ring shards of threads.
//! - [`clock`] – event time.
//! - [`error`] – errors.

pub mod atoms;
pub mod clock;
pub mod config;
pub mod encoder;
pub mod error;
pub mod pipeline;
pub mod recorder;
pub mod ring;
pub mod thread;

pub use config::{Config, Overflow};
pub use error::RuntimeError;
pub use pipeline::{Pipeline, Stats};
pub use recorder::{Recorded, Recorder};
pub use ring::DropPolicy;
