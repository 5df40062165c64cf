//! Errors of the runtime.

use std::time::Duration;

/// What can go wrong starting, flushing or stopping the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The store could not be opened or the run registered.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A background thread could not be started.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        /// Which thread.
        name: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The drain did not answer in time.
    #[error("the drain did not finish within {0:?}")]
    Timeout(Duration),
    /// The drain threads are gone (stopped, or a write failed fatally).
    #[error("the runtime is stopped")]
    Stopped,
    /// The store refused a write.
    #[error("writing to the store failed: {0}")]
    Write(String),
}
