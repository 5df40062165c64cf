//! Reading a store: its runs, live or finished, and snapshots of them. A reader takes no lock
//! that a writer waits for and writes nothing: any number of readers (the CLI, IEx in other
//! VMs, the web UI) read while VMs record, and a store on a read-only file system reads fine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result, StoreError};
use crate::index::ReaderCache;
use crate::layout;
use crate::model::Run;
use crate::query::Snapshot;
use crate::segment::Segment;

/// A store opened for reading. Cheap to clone (clones share what they keep of the store's
/// segments: keep one reader to make later snapshots cheap).
#[derive(Clone)]
pub struct StoreReader {
    path: PathBuf,
    cache: Arc<ReaderCache>,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("path", &self.path)
            .finish()
    }
}

impl StoreReader {
    /// Opens an existing store (a directory; a single-file recording of earlier versions gets
    /// [`StoreError::OldFormat`]).
    pub fn open(path: impl AsRef<Path>) -> Result<StoreReader> {
        let path = path.as_ref();
        layout::check_not_old_format(path)?;
        std::fs::read_dir(path).at(path, "opening the recording")?;
        Ok(StoreReader::at(path))
    }

    pub(crate) fn at(path: &Path) -> StoreReader {
        StoreReader {
            path: path.to_path_buf(),
            cache: Arc::default(),
        }
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every run, oldest first, with whether it records now and its latest counters. A run
    /// whose `run` file cannot be read is left out (asking for it by number says why).
    pub fn runs(&self) -> Result<Vec<Run>> {
        let mut out = Vec::new();
        for (id, dir) in layout::runs(&self.path)? {
            if let Ok(run) = read_run(id, &dir) {
                out.push(run);
            }
        }
        Ok(out)
    }

    /// The directory of run `id` (its `run` file and sealed segments: each segment is
    /// written whole and never changed, so a copy of the directory taken file by file reads as
    /// the run did, up to the newest segment copied; see `elixir-scope --cluster`).
    pub fn run_dir(&self, id: u64) -> PathBuf {
        layout::run_dir(&self.path, id)
    }

    /// The sealed segment files that hold run `id` now, as `(file name, bytes)`: the widest
    /// segment at each point, as a snapshot reads them (inputs of a compaction that are still
    /// on disk are left out). With the `run` file, a copy of these is the run as it was sealed
    /// (how `elixir-scope --cluster` copies another machine's run).
    pub fn sealed_segments(&self, id: u64) -> Result<Vec<(String, u64)>> {
        let dir = layout::run_dir(&self.path, id);
        Ok(layout::covering(layout::segment_files(&dir)?)
            .into_iter()
            .map(|f| (f.name.file_name(), f.bytes))
            .collect())
    }

    /// Run `id`.
    pub fn run(&self, id: u64) -> Result<Run> {
        let dir = layout::run_dir(&self.path, id);
        if !layout::run_file(&dir).is_file() {
            return Err(StoreError::NoSuchRun(id));
        }
        read_run(id, &dir)
    }

    /// A consistent view of run `run` (the latest when `None`): the segments it had sealed at
    /// this moment.
    pub fn snapshot(&self, run: Option<u64>) -> Result<Snapshot> {
        let run = match run {
            Some(id) => self.run(id)?,
            None => {
                let (id, dir) = layout::runs(&self.path)?.pop().ok_or(StoreError::NoRuns)?;
                read_run(id, &dir)?
            }
        };
        let dir = layout::run_dir(&self.path, run.id);
        Snapshot::open(run, &dir, &self.cache)
    }
}

/// A run from its directory: its `run` file, whether it is live, its latest counters.
fn read_run(id: u64, dir: &Path) -> Result<Run> {
    let file = layout::run_file(dir);
    let bytes = std::fs::read(&file).at(&file, "reading the run")?;
    let mut run = Run::decode(id, &bytes).map_err(|e| StoreError::Damaged {
        path: file.clone(),
        problem: e.to_string(),
    })?;
    run.live = layout::is_live(dir);
    if run.summary.is_none() {
        let newest = layout::covering(layout::segment_files(dir)?).pop();
        if let Some(newest) = newest {
            if let Ok(segment) = Segment::open(&newest.path) {
                run.counters = segment.meta.counters;
            }
        }
    }
    Ok(run)
}
