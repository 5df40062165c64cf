//! Keeping a store in shape while a run records: merging small segments (compaction) and the
//! cap on what the store holds (retention).
//!
//! **Compaction.** The recorder seals a segment every checkpoint (about a second while calls
//! come), so a long run would become thousands of files. Whenever [`FANOUT`] consecutive
//! segments of one level exist, they are merged into one segment of the next level (rows
//! copied, blocks as they are), written whole and renamed into place; its inputs are deleted
//! by a later pass, once it has existed for [`INPUTS_KEPT_FOR`]: a reader's listing of the
//! directory holds the inputs or the merged segment, never neither. A run thus
//! keeps fewer than `FANOUT` segments per level, about a logarithm of its length.
//!
//! **Retention.** The cap counts the bytes of every file of the store's runs: exactly what
//! the disk holds. Past it, the oldest runs that no VM records any more are deleted whole,
//! then the oldest segments of the recording run itself (never its newest), down to
//! [`LOW_WATER`] percent of the cap. A segment holds every index of what it holds and names
//! every atom and process it uses, so what is left reads the same with nothing dangling.
//! Merged segments stay under an eighth of the cap, so that trimming is not too coarse.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::layout::{self, SegmentFile};
use crate::segment::{self, Segment, SegmentMeta};

/// The default cap: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Deletion stops once the store is under this percentage of the cap.
pub const LOW_WATER: u64 = 90;

/// How many segments of one level are merged into one of the next.
pub const FANOUT: usize = 8;

/// The largest segment compaction writes (and at most an eighth of the cap).
pub const MAX_MERGED_BYTES: u64 = 256 << 20;

/// How long a merged segment exists before its inputs are deleted: far longer than any listing
/// of a run directory takes (microseconds for the few dozen files a run has), so that a
/// reader's listing always holds the merged segment or its inputs (a directory read while
/// files are renamed into it and removed from it may miss both: POSIX only promises the
/// entries that did not change meanwhile).
pub const INPUTS_KEPT_FOR: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether some segment of the run at `dir` lies inside another (a merge's inputs).
fn has_covered(dir: &Path) -> bool {
    let files = layout::segment_files(dir).unwrap_or_default();
    files.len() > layout::covering(files).len()
}

/// Deletes the segments of the run at `dir` that a merged segment older than
/// [`INPUTS_KEPT_FOR`] holds.
fn remove_covered(dir: &Path) {
    let Ok(files) = layout::segment_files(dir) else {
        return;
    };
    let settled = |file: &SegmentFile| {
        std::fs::metadata(&file.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= INPUTS_KEPT_FOR)
    };
    for file in &files {
        let covered = files.iter().any(|wider| {
            wider.name != file.name
                && wider.name.first <= file.name.first
                && wider.name.last >= file.name.last
                && settled(wider)
        });
        if covered {
            let _ = std::fs::remove_file(&file.path);
        }
    }
}

/// How much the store may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The cap in bytes, over every run's files.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// What one pass of [`Maintenance::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Merged segments written.
    pub merged: usize,
    /// Whole runs deleted by retention.
    pub runs_deleted: usize,
    /// Segments of the recording run deleted by retention.
    pub segments_deleted: usize,
    /// The store's bytes after the pass.
    pub bytes: u64,
}

/// Compaction and retention for the run a VM records (run them after seals, off the writer's
/// thread: [`crate::RunWriter::maintenance`] makes one).
#[derive(Debug, Clone)]
pub struct Maintenance {
    store: PathBuf,
    run: u64,
    dir: PathBuf,
    retention: Retention,
}

impl Maintenance {
    pub(crate) fn new(store: &Path, run: u64, dir: &Path, retention: Retention) -> Maintenance {
        Maintenance {
            store: store.to_path_buf(),
            run,
            dir: dir.to_path_buf(),
            retention,
        }
    }

    /// Merges what is due, applies the cap, and removes what killed writers left.
    pub fn run(&self) -> Result<MaintenanceReport> {
        self.remove_leftovers();
        let mut report = MaintenanceReport {
            merged: self.compact()?,
            ..MaintenanceReport::default()
        };
        let (runs, segments, bytes) = self.enforce_cap()?;
        report.runs_deleted = runs;
        report.segments_deleted = segments;
        report.bytes = bytes;
        Ok(report)
    }

    /// The last pass, when the run ends: what [`Maintenance::run`] does, then, once the newest
    /// merged segment is old enough, the inputs it holds (an ended run keeps no copies).
    pub fn finish(&self) -> Result<MaintenanceReport> {
        let report = self.run()?;
        if has_covered(&self.dir) {
            std::thread::sleep(INPUTS_KEPT_FOR);
            remove_covered(&self.dir);
        }
        Ok(report)
    }

    /// Temporary files of runs no VM records any more, and run directories a VM was killed
    /// while creating (older than a minute).
    fn remove_leftovers(&self) {
        remove_covered(&self.dir);
        for (run, dir) in layout::runs(&self.store).unwrap_or_default() {
            if run != self.run && !layout::is_live(&dir) {
                layout::remove_temporary_files(&dir);
                remove_covered(&dir);
            }
        }
        layout::remove_abandoned_runs(&self.store, std::time::Duration::from_secs(60));
    }

    fn max_merged(&self) -> u64 {
        MAX_MERGED_BYTES.min((self.retention.max_bytes / 8).max(1 << 20))
    }

    /// Merges every run of [`FANOUT`] consecutive segments of one level; returns how many
    /// merged segments it wrote.
    pub fn compact(&self) -> Result<usize> {
        let mut merged = 0;
        while let Some(inputs) = self.due()? {
            let segments: Vec<Segment> = inputs
                .iter()
                .map(|f| Segment::open(&f.path))
                .collect::<Result<_>>()?;
            let last = segments.last().expect("FANOUT inputs");
            let meta = SegmentMeta {
                run: self.run,
                level: inputs[0].name.level + 1,
                first: inputs[0].name.first,
                last: last.meta.last,
                counters: last.meta.counters,
            };
            segment::merge(&self.dir, &segments, &meta)?;
            // The inputs stay until a later pass (see `remove_covered`): a reader listing the
            // directory while the merged segment appears must still find them.
            merged += 1;
        }
        Ok(merged)
    }

    /// The first [`FANOUT`] consecutive segments of one level that fit in a merged segment.
    fn due(&self) -> Result<Option<Vec<SegmentFile>>> {
        let files = layout::covering(layout::segment_files(&self.dir)?);
        for window in files.windows(FANOUT) {
            let level = window[0].name.level;
            let same = window.iter().all(|f| f.name.level == level);
            let contiguous = window
                .windows(2)
                .all(|p| p[1].name.first == p[0].name.last + 1);
            let bytes: u64 = window.iter().map(|f| f.bytes).sum();
            if same && contiguous && bytes <= self.max_merged() {
                return Ok(Some(window.to_vec()));
            }
        }
        Ok(None)
    }

    /// Deletes the oldest data while the store is over the cap; returns the runs and the
    /// segments deleted and the bytes left.
    fn enforce_cap(&self) -> Result<(usize, usize, u64)> {
        let mut total = layout::bytes_under(&layout::runs_dir(&self.store));
        let cap = self.retention.max_bytes;
        if total <= cap {
            return Ok((0, 0, total));
        }
        let target = cap / 100 * LOW_WATER;
        let mut runs_deleted = 0;
        for (run, dir) in layout::runs(&self.store)? {
            if total <= target {
                break;
            }
            if run == self.run || layout::is_live(&dir) {
                continue;
            }
            let bytes = layout::bytes_under(&dir);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    total = total.saturating_sub(bytes);
                    runs_deleted += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Another VM's retention took it first.
                    total = total.saturating_sub(bytes);
                }
                Err(_) => {}
            }
        }
        let mut segments_deleted = 0;
        if total > target {
            let all = layout::segment_files(&self.dir)?;
            let files = layout::covering(all.clone());
            let oldest = &files[..files.len().saturating_sub(1)];
            for file in oldest {
                if total <= target {
                    break;
                }
                // The segment, and the inputs of it that a merge left for a later pass (else
                // they would show again).
                let covered = all
                    .iter()
                    .filter(|f| f.name.first >= file.name.first && f.name.last <= file.name.last);
                for f in covered {
                    if std::fs::remove_file(&f.path).is_ok() {
                        total = total.saturating_sub(f.bytes);
                    }
                }
                segments_deleted += 1;
            }
        }
        Ok((runs_deleted, segments_deleted, total))
    }
}
