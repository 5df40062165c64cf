//! Opening a store, and the runs it holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableError};

use crate::error::{Context, Result, StoreError};
use crate::model::{Run, RunInfo};
use crate::query::Snapshot;
use crate::retention::Retention;
use crate::schema::{ATOMS, ATOM_IDS, FORMAT, META, RUNS, RUN_BYTES};
use crate::writer::RunWriter;

/// The environment variable that overrides where the database lives.
pub const DB_ENV: &str = "ELIXIR_SCOPE_DB";

/// The database path under a working directory, when `ELIXIR_SCOPE_DB` does not say otherwise.
pub const DEFAULT_RELATIVE_PATH: &str = ".elixir_scope/trace.redb";

/// redb's page cache size when not given: 64 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// Where the database of a VM running in `cwd` for the project at `root` lives:
/// `$ELIXIR_SCOPE_DB` when set and not empty (relative paths are taken from `cwd`), else
/// `root/.elixir_scope/trace.redb`.
pub fn resolve_path(cwd: &Path, root: &Path) -> PathBuf {
    match std::env::var_os(DB_ENV) {
        Some(path) if !path.is_empty() => cwd.join(path),
        _ => cwd.join(root).join(DEFAULT_RELATIVE_PATH),
    }
}

/// An open event store. Cheap to clone; every clone shares the one redb database.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating it (and its directory) when missing. Fails with
    /// [`StoreError::Locked`] when another OS process holds it.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`Store::open`] with redb's page cache limited to `cache_bytes`.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Created here, readable by its owner only, before redb initializes it.
        crate::private::create_file(&path).map_err(|source| StoreError::CreateFile {
            path: path.clone(),
            source,
        })?;
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::Locked { path: path.clone() },
                other => StoreError::Open {
                    path: path.clone(),
                    source: Box::new(other),
                },
            })?;
        let store = Store {
            db: Arc::new(db),
            path,
        };
        store.check_format()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the format on a new store, or checks it on an existing one; creates the global
    /// tables.
    fn check_format(&self) -> Result<()> {
        let txn = self.db.begin_write().during("opening")?;
        {
            let mut meta = txn.open_table(META).during("opening")?;
            let found = meta
                .get("format")
                .during("opening")?
                .map(|v| <[u8; 4]>::try_from(v.value()).map(u32::from_le_bytes));
            match found {
                None => {
                    meta.insert("format", FORMAT.to_le_bytes().as_slice())
                        .during("opening")?;
                }
                Some(Ok(FORMAT)) => {}
                Some(Ok(found)) => {
                    return Err(StoreError::Format {
                        path: self.path.clone(),
                        found,
                        expected: FORMAT,
                    })
                }
                Some(Err(_)) => {
                    return Err(StoreError::Corrupt {
                        what: "meta",
                        problem: "format is not a u32",
                    })
                }
            }
            txn.open_table(RUNS).during("opening")?;
            txn.open_table(RUN_BYTES).during("opening")?;
            txn.open_table(ATOMS).during("opening")?;
            txn.open_table(ATOM_IDS).during("opening")?;
        }
        txn.commit().during("opening")?;
        Ok(())
    }

    /// Starts a new run and returns its writer. Retention applies from its first durable commit.
    pub fn begin_run(&self, info: &RunInfo, retention: Retention) -> Result<RunWriter> {
        RunWriter::begin(self.db.clone(), info, retention)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>> {
        let txn = self.db.begin_read().during("listing runs")?;
        let runs = match txn.open_table(RUNS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e).during("listing runs"),
        };
        let mut out = Vec::new();
        for entry in runs.iter().during("listing runs")? {
            let (id, bytes) = entry.during("listing runs")?;
            out.push(Run::decode(id.value(), bytes.value())?);
        }
        Ok(out)
    }

    /// A consistent view of run `run` (the latest when `None`) for queries.
    pub fn snapshot(&self, run: Option<u64>) -> Result<Snapshot> {
        Snapshot::new(self.db.clone(), run)
    }
}
