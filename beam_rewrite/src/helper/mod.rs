//! The BEAM helper: `erl` processes that do what only the BEAM can do for the rewriter.
//!
//! The helper's source (`beam_rewrite/erlang/elixir_scope_helper.erl`) is embedded in this
//! crate. Every [`Helper`] is an `erl -noshell -noinput` process, started by a [`Launcher`]
//! with the source on its command line, that compiles it in memory with the user's own OTP,
//! loads it and serves requests: ETF terms in `{packet, 4}` frames on
//! its stdin and stdout. See the module documentation of the Erlang source for the requests.
//! Given a cache directory ([`HelperConfig::compiled_cache`]: `instrument` gives the project's
//! plan cache), a helper keeps its compiled beam there under a name made of the source's hash
//! and the VM's OTP release and ERTS version, so a beam never comes from another source or
//! OTP, and the next start loads it instead of compiling (80-100 ms of the edit-compile loop).
//!
//! A helper runs in `/` with `.` removed from its code path (no module is ever loaded from the
//! user's working directory), loads only trusted debug-info backends
//! ([`TRUSTED_BACKENDS`](config::TRUSTED_BACKENDS)), and halts when its stdin ends: when the
//! run ends or is killed, even mid-request.
//!
//! A helper that dies, answers garbage or takes longer than the timeout is killed and reported
//! as an error of the request at hand; the caller starts a fresh one for the next request.
//! A run shares its helpers between its steps through a [`HelperPool`].

mod client;
mod config;
mod pool;

pub use client::{FormsReply, Helper, Hidden, InspectPair};
pub use config::{HelperConfig, Launcher, HELPER_SOURCE};
pub use pool::{HelperPool, Lease};

use std::path::PathBuf;
use std::time::Duration;

/// A problem with the BEAM helper or a request it could not serve.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// A program of the toolchain (`erl`) is not on `PATH`.
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
    /// Elixir's `ebin` directory was needed but not found.
    #[error("this is an Elixir beam, and its debug info needs Elixir's compiler, but `elixir` is not on PATH; install Elixir (apt-get install elixir)")]
    NoElixir,
    /// A module named as a debug-info backend to trust is not a module name.
    #[error("ELIXIR_SCOPE_DEBUG_INFO_BACKENDS: {0:?} is not a module name")]
    BadBackend(String),
    /// `erl` could not be started.
    #[error("cannot start {erl}: {source}")]
    Start {
        /// The `erl` executable.
        erl: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The helper exited or closed its output.
    #[error("the BEAM helper stopped ({status}){stderr}")]
    Died {
        /// Its exit status, if known.
        status: String,
        /// The end of what it wrote to stderr (with a leading newline), if anything.
        stderr: String,
    },
    /// The helper did not answer in time, and was killed.
    #[error("the BEAM helper did not answer within {} s and was stopped", .0.as_secs())]
    Timeout(Duration),
    /// The helper's reply could not be read.
    #[error("the BEAM helper sent a malformed reply: {0}")]
    Protocol(String),
    /// The BEAM refused the request (a compile error, a beam the loader rejects, ...).
    #[error("{0}")]
    Refused(String),
}

impl HelperError {
    /// Whether the helper process is unusable after this error (it must be replaced).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, HelperError::Refused(_) | HelperError::NoElixir)
    }
}
