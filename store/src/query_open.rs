//! Reading a store without writing it: [`StoreReader`] opens the file read-only, so that any
//! number of processes (the CLI's commands) read it at once, as long as no VM records into it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Builder, DatabaseError, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableError};

use crate::error::{Context, Result, StoreError};
use crate::model::Run;
use crate::query::Snapshot;
use crate::schema::{FORMAT, META, RUNS};
use crate::store::DEFAULT_CACHE_BYTES;

/// A store opened read-only. Cheap to clone.
#[derive(Clone)]
pub struct StoreReader {
    db: Arc<ReadOnlyDatabase>,
    path: PathBuf,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("path", &self.path)
            .finish()
    }
}

impl StoreReader {
    /// Opens an existing store read-only. A store that was not closed cleanly (its VM was
    /// killed) is first repaired by opening it for writing once, as the runtime would. Fails
    /// with [`StoreError::Locked`] while a VM records into it.
    pub fn open(path: impl AsRef<Path>) -> Result<StoreReader> {
        let path = path.as_ref().to_path_buf();
        match open_read_only(&path) {
            Err(StoreError::Open { source, .. })
                if matches!(*source, DatabaseError::RepairAborted) =>
            {
                drop(crate::Store::open(&path)?);
                open_read_only(&path)
            }
            other => other,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>> {
        const DURING: &str = "listing runs";
        let txn = self.db.begin_read().during(DURING)?;
        let runs = match txn.open_table(RUNS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e).during(DURING),
        };
        let mut out = Vec::new();
        for entry in runs.iter().during(DURING)? {
            let (id, bytes) = entry.during(DURING)?;
            out.push(Run::decode(id.value(), bytes.value())?);
        }
        Ok(out)
    }

    /// A consistent view of run `run` (the latest when `None`).
    pub fn snapshot(&self, run: Option<u64>) -> Result<Snapshot> {
        let txn = self.db.begin_read().during("starting a query")?;
        Snapshot::in_transaction(self.db.clone(), txn, run)
    }
}

fn open_read_only(path: &Path) -> Result<StoreReader> {
    let db = Builder::new()
        .set_cache_size(DEFAULT_CACHE_BYTES)
        .open_read_only(path)
        .map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                path: path.to_path_buf(),
            },
            other => StoreError::Open {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        })?;
    check_format(&db, path)?;
    Ok(StoreReader {
        db: Arc::new(db),
        path: path.to_path_buf(),
    })
}

fn check_format(db: &ReadOnlyDatabase, path: &Path) -> Result<()> {
    const DURING: &str = "opening";
    let txn = db.begin_read().during(DURING)?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(StoreError::Corrupt {
                what: "meta",
                problem: "no format: not an ElixirScope store",
            })
        }
        Err(e) => return Err(e).during(DURING),
    };
    let found = meta
        .get("format")
        .during(DURING)?
        .map(|v| <[u8; 4]>::try_from(v.value()).map(u32::from_le_bytes));
    match found {
        Some(Ok(FORMAT)) => Ok(()),
        Some(Ok(found)) => Err(StoreError::Format {
            path: path.to_path_buf(),
            found,
            expected: FORMAT,
        }),
        _ => Err(StoreError::Corrupt {
            what: "meta",
            problem: "format is not a u32",
        }),
    }
}
