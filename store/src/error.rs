//! Errors of the event store.

use std::path::PathBuf;

/// Everything that can go wrong opening, writing or querying a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another OS process (usually a running VM that records into it) holds the database.
    #[error(
        "{path}: the database is held by another process (a running VM recording into it?); \
         stop that process, or point ELIXIR_SCOPE_DB at another file"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The database's directory could not be created.
    #[error("{path}: cannot create the database directory: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database file could not be created (or made its owner's only).
    #[error("{path}: cannot create the database file: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// redb could not open the file.
    #[error("{path}: cannot open the database: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: Box<redb::DatabaseError>,
    },
    /// The file was written by an incompatible version of ElixirScope.
    #[error("{path}: unsupported store format {found} (this build reads format {expected})")]
    Format {
        /// The database file.
        path: PathBuf,
        /// The format the file declares.
        found: u32,
        /// The format this build writes.
        expected: u32,
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
