//! Errors of the event store, and the guard that turns a panic inside redb into one.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Everything that can go wrong opening, writing or querying a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory operation failed.
    #[error("{path}: {during}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the store was doing.
        during: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A recording of the single-file format of earlier versions.
    #[error(
        "{path}: a recording of an earlier ElixirScope (one trace.redb file), which this \
         version no longer reads; recordings now live in a directory of runs \
         (.elixir_scope/runs/). Record again; the old file can be deleted"
    )]
    OldFormat {
        /// The old file.
        path: PathBuf,
    },
    /// redb could not open a segment file.
    #[error("{path}: cannot open the segment: {source}")]
    Open {
        /// The segment file.
        path: PathBuf,
        /// redb's error.
        source: Box<redb::DatabaseError>,
    },
    /// A segment written by an incompatible version of ElixirScope.
    #[error("{path}: unsupported segment format {found} (this build reads format {expected})")]
    Format {
        /// The segment file.
        path: PathBuf,
        /// The format the file declares.
        found: u32,
        /// The format this build writes.
        expected: u32,
    },
    /// A file whose content is damaged (it failed a checksum or could not be parsed).
    #[error(
        "{path}: the recording is damaged ({problem}); the other runs and segments still read"
    )]
    Damaged {
        /// The damaged file.
        path: PathBuf,
        /// What was found.
        problem: String,
    },
    /// A record could not be decoded.
    #[error("corrupt {what} record: {problem}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A run that is not in the store.
    #[error("run {0} is not in the store")]
    NoSuchRun(u64),
    /// A query on a store that holds no run yet.
    #[error("the store holds no recorded run yet")]
    NoRuns,
    /// The run's writer stopped (after an error) and takes no more events.
    #[error("the run's writer stopped: {0}")]
    Stopped(String),
    /// An error inside redb while reading or writing.
    #[error("database error during {during}: {source}")]
    Redb {
        /// What the store was doing.
        during: &'static str,
        /// redb's error.
        source: Box<redb::Error>,
    },
}

/// Results of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches what the store was doing to a redb error.
pub(crate) trait Context<T> {
    /// Converts the error into [`StoreError::Redb`] with `during` as context.
    fn during(self, during: &'static str) -> Result<T>;
}

impl<T, E: Into<redb::Error>> Context<T> for std::result::Result<T, E> {
    fn during(self, during: &'static str) -> Result<T> {
        self.map_err(|e| StoreError::Redb {
            during,
            source: Box::new(e.into()),
        })
    }
}

/// Attaches a path and what the store was doing to an I/O error.
pub(crate) trait IoContext<T> {
    /// Converts the error into [`StoreError::Io`].
    fn at(self, path: &Path, during: &'static str) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &Path, during: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            during,
            source,
        })
    }
}

thread_local! {
    /// How many [`guarded`] calls this thread is inside: their panics are reported as errors,
    /// so the panic hook stays quiet for them.
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, turning a panic into [`StoreError::Damaged`] naming `path`. redb trusts the
/// pages it reads and panics on some damaged files (`entered unreachable code` in its B-tree);
/// a damaged recording must give an error naming it, never take the CLI or the VM down. The
/// panic message is not printed (a process-wide hook, installed once, stays quiet while a
/// guarded call runs and defers to the previous hook otherwise).
pub(crate) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    match result {
        Ok(result) => result,
        Err(panic) => {
            let problem = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the database reader failed".to_string());
            Err(StoreError::Damaged {
                path: path.to_path_buf(),
                problem,
            })
        }
    }
}
