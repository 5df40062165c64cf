//! A store: the directory of a project's recordings, where runs are created and read.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::layout;
use crate::model::{Run, RunInfo};
use crate::query::Snapshot;
use crate::reader::StoreReader;
use crate::writer::RunWriter;

/// The environment variable that overrides where the store lives.
pub const DB_ENV: &str = "ELIXIR_SCOPE_DB";

pub use crate::layout::DEFAULT_RELATIVE_PATH;

/// Where the store of a VM running in `cwd` for the project at `root` lives:
/// `$ELIXIR_SCOPE_DB` when set and not empty (relative paths are taken from `cwd`), else
/// `root/.elixir_scope`.
pub fn resolve_path(cwd: &Path, root: &Path) -> PathBuf {
    match std::env::var_os(DB_ENV) {
        Some(path) if !path.is_empty() => cwd.join(path),
        _ => cwd.join(root).join(DEFAULT_RELATIVE_PATH),
    }
}

/// A store opened to record into (and to read). Any number of processes open one store at
/// once: each run is written by one [`RunWriter`] into its own directory.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// Opens the store at `path` (a directory), creating it when missing (0700, with a
    /// `.gitignore` of `*`). A file there, such as the single `trace.redb` of earlier
    /// versions, is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if path.is_file() {
            return Err(crate::StoreError::OldFormat { path });
        }
        layout::create_store(&path)?;
        Ok(Store { path })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a new run (the next number; live until its writer is dropped) and returns its
    /// writer.
    pub fn begin_run(&self, info: &RunInfo) -> Result<RunWriter> {
        RunWriter::begin(&self.path, info)
    }

    /// The store for reading.
    pub fn reader(&self) -> StoreReader {
        StoreReader::at(&self.path)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>> {
        self.reader().runs()
    }

    /// A consistent view of run `run` (the latest when `None`) for queries.
    pub fn snapshot(&self, run: Option<u64>) -> Result<Snapshot> {
        self.reader().snapshot(run)
    }
}
