//! The store on disk: a directory per project, a directory per run, sealed segment files.
//!
//! ```text
//! .elixir_scope/                the store (0700), with a `.gitignore` of `*`
//!   runs/
//!     7/                        run 7: numbered by renaming a prepared directory into place
//!       run                     the run's RunInfo, and its RunSummary once the VM stopped
//!       lock                    locked (flock) by the recording VM while it records
//!       0-00000001-00000001.seg a sealed segment: level 0, the run's segment 1 (a redb file)
//!       1-00000001-00000008.seg segments 1 to 8, merged by compaction (level 1)
//!       *.tmp                   being written: readers never open them
//! ```
//!
//! Every VM records into its own run directory, so any number of VMs record into one project
//! at once without sharing a file. A segment is written whole and never changed after it is
//! renamed into place, so readers open sealed segments without any lock the writer could wait
//! on, and what they read cannot change under them. Files are 0600 and directories 0700:
//! recordings hold arguments.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StoreError};
use crate::private;

/// The store's directory in a project, relative to its root.
pub const DEFAULT_RELATIVE_PATH: &str = ".elixir_scope";

/// The file of the single-file store of earlier versions, which this version does not read.
pub const OLD_STORE_FILE: &str = "trace.redb";

const RUNS: &str = "runs";
const RUN_FILE: &str = "run";
const LOCK_FILE: &str = "lock";
const SEGMENT_EXT: &str = "seg";
const TEMP_EXT: &str = "tmp";

/// Creates the store's directory (0700, with a `.gitignore` that keeps recordings out of
/// commits) and its `runs/`, when missing; narrows an existing one of this user's to 0700.
pub(crate) fn create_store(dir: &Path) -> Result<()> {
    private::claim_dir(dir).at(dir, "creating the recording's directory")?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        write_atomically(
            &ignore,
            b"# ElixirScope recordings hold arguments: never commit them.\n*\n",
        )?;
    }
    create_dir(&dir.join(RUNS))
}

/// Creates `dir` and its missing parents; the directories it creates are 0700.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    private::create_dir_all(dir).at(dir, "creating the directory")
}

/// The directory of the runs.
pub(crate) fn runs_dir(store: &Path) -> PathBuf {
    store.join(RUNS)
}

/// The directory of run `run`.
pub(crate) fn run_dir(store: &Path, run: u64) -> PathBuf {
    store.join(RUNS).join(run.to_string())
}

/// The runs of a store, by number.
pub(crate) fn runs(store: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = store.join(RUNS);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at(&dir, "listing runs"),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.at(&dir, "listing runs")?;
        let name = entry.file_name();
        let Some(run) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if entry.path().join(RUN_FILE).is_file() {
            out.push((run, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(run, _)| *run);
    Ok(out)
}

/// A run directory that a VM records into: created with its `run` file and locked, so that it
/// is live from the moment readers can see it.
pub(crate) struct NewRun {
    /// The run's number.
    pub run: u64,
    /// Its directory.
    pub dir: PathBuf,
    /// The lock file, locked while the run records.
    pub lock: File,
}

/// Allocates the next run number and creates its directory holding `run_file` (the encoded
/// run record). Numbers are allocated without a shared lock: a prepared directory is renamed
/// to the next free number, and renaming onto a number another VM took first fails (a run
/// directory is never empty), so the next number is tried.
pub(crate) fn create_run(store: &Path, run_file: &[u8]) -> Result<NewRun> {
    create_store(store)?;
    let runs_dir = store.join(RUNS);
    let staging = runs_dir.join(format!(
        ".new-{}-{}.{TEMP_EXT}",
        std::process::id(),
        crate::clock_ns()
    ));
    create_dir(&staging)?;
    let prepared = (|| {
        write_atomically(&staging.join(RUN_FILE), run_file)?;
        let lock = private_file(&staging.join(LOCK_FILE), false)?;
        lock.try_lock()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .at(&staging.join(LOCK_FILE), "locking the new run")?;
        Ok(lock)
    })();
    let lock = match prepared {
        Ok(lock) => lock,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let mut run = runs(store)?.last().map_or(1, |(n, _)| n + 1);
    loop {
        let dir = run_dir(store, run);
        match std::fs::rename(&staging, &dir) {
            Ok(()) => {
                sync_dir(&runs_dir);
                return Ok(NewRun { run, dir, lock });
            }
            Err(e)
                if dir.exists()
                    || matches!(
                        e.kind(),
                        std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists
                    ) =>
            {
                run += 1;
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e).at(&dir, "creating the run's directory");
            }
        }
    }
}

/// The `run` file of a run directory.
pub(crate) fn run_file(dir: &Path) -> PathBuf {
    dir.join(RUN_FILE)
}

/// Whether a VM is recording into the run at `dir` now (it holds the run's lock). A run whose
/// VM stopped, or was killed, is not live: the lock goes with the process.
pub(crate) fn is_live(dir: &Path) -> bool {
    let Ok(file) = File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

/// A sealed segment's name: its compaction level and the range of the run's segment numbers
/// it holds (a level-0 segment holds one: `first == last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SegmentName {
    /// 0 when written by the recorder, one more than its inputs' when merged.
    pub level: u32,
    /// The first segment number it holds.
    pub first: u64,
    /// The last segment number it holds.
    pub last: u64,
}

impl SegmentName {
    /// The file name: `LEVEL-FIRST-LAST.seg`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{:08}-{:08}.{SEGMENT_EXT}",
            self.level, self.first, self.last
        )
    }

    /// The name of a segment file, or `None` for any other file.
    pub fn parse(file_name: &str) -> Option<SegmentName> {
        let stem = file_name.strip_suffix(&format!(".{SEGMENT_EXT}"))?;
        let mut parts = stem.splitn(3, '-');
        let level = parts.next()?.parse().ok()?;
        let first = parts.next()?.parse().ok()?;
        let last = parts.next()?.parse().ok()?;
        (first <= last).then_some(SegmentName { level, first, last })
    }
}

/// A segment file found in a run directory.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    /// What it holds.
    pub name: SegmentName,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Every sealed segment of a run directory, merged or not, by first segment number.
pub(crate) fn segment_files(dir: &Path) -> Result<Vec<SegmentFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at(dir, "listing segments"),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.at(dir, "listing segments")?;
        let Some(name) = entry.file_name().to_str().and_then(SegmentName::parse) else {
            continue;
        };
        let bytes = match entry.metadata() {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).at(&entry.path(), "reading a segment's size"),
        };
        out.push(SegmentFile {
            name,
            path: entry.path(),
            bytes,
        });
    }
    out.sort_by_key(|s| (s.name.first, std::cmp::Reverse(s.name.last)));
    Ok(out)
}

/// The segments a reader opens: the widest segment at each point, so that each segment number
/// is read once (while compaction writes a merged segment, its inputs and the merged one both
/// exist for a moment).
pub(crate) fn covering(files: Vec<SegmentFile>) -> Vec<SegmentFile> {
    let mut out: Vec<SegmentFile> = Vec::new();
    for file in files {
        match out.last() {
            Some(prev) if file.name.first <= prev.name.last => {
                // Inside (or overlapping) one already chosen: files are sorted by first, widest
                // first, so the chosen one covers at least as much from this point.
                if file.name.last > prev.name.last && file.name.first == prev.name.first {
                    *out.last_mut().expect("a last") = file;
                }
            }
            _ => out.push(file),
        }
    }
    out
}

/// The path of a temporary file in `dir`, for something being written.
pub(crate) fn temp_path(dir: &Path, what: &str) -> PathBuf {
    dir.join(format!(
        ".{what}-{}-{}.{TEMP_EXT}",
        std::process::id(),
        crate::clock_ns()
    ))
}

/// Removes temporary files that a killed writer left in `dir`.
pub(crate) fn remove_temporary_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == TEMP_EXT) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes run directories that a VM was killed while preparing (`runs/.new-*`), once older
/// than `age`.
pub(crate) fn remove_abandoned_runs(store: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(runs_dir(store)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if name.to_string_lossy().starts_with(".new-") && old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Creates a file readable and writable by its owner only (never an existing one when
/// `fresh`).
pub(crate) fn private_file(path: &Path, fresh: bool) -> Result<File> {
    let file = if fresh {
        private::create_new_file(path)
    } else {
        private::create_file(path)
    };
    file.at(path, "creating a file")
}

/// Replaces `path` with `bytes` (0600): a temporary file, synced, renamed over it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = temp_path(dir, "write");
    let written = (|| {
        let mut file = private_file(&temp, true)?;
        file.write_all(bytes).at(&temp, "writing")?;
        file.sync_all().at(&temp, "syncing")?;
        std::fs::rename(&temp, path).at(path, "replacing")
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir);
    Ok(())
}

/// Makes a directory's entries durable (a rename into it); best effort.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The bytes a directory's files take, recursively.
pub(crate) fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(t) if t.is_dir() => total += bytes_under(&entry.path()),
            Ok(_) => total += entry.metadata().map_or(0, |m| m.len()),
            Err(_) => {}
        }
    }
    total
}

/// Refuses a path that holds a store of the format before runs had directories.
pub(crate) fn check_not_old_format(path: &Path) -> Result<()> {
    let old = if path.is_file() {
        Some(path.to_path_buf())
    } else if path.join(OLD_STORE_FILE).is_file() && !path.join(RUNS).is_dir() {
        Some(path.join(OLD_STORE_FILE))
    } else {
        None
    };
    match old {
        Some(file) => Err(StoreError::OldFormat { path: file }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_other_files_are_not_segments() {
        let name = SegmentName {
            level: 2,
            first: 9,
            last: 72,
        };
        assert_eq!(name.file_name(), "2-00000009-00000072.seg");
        assert_eq!(SegmentName::parse(&name.file_name()), Some(name));
        for other in [
            "run",
            "lock",
            "0-1.seg",
            "x-1-2.seg",
            "0-5-4.seg",
            ".w-1-2.tmp",
        ] {
            assert_eq!(SegmentName::parse(other), None, "{other}");
        }
    }

    fn file(level: u32, first: u64, last: u64) -> SegmentFile {
        SegmentFile {
            name: SegmentName { level, first, last },
            path: PathBuf::new(),
            bytes: 0,
        }
    }

    #[test]
    fn readers_take_the_widest_segment_at_each_point() {
        let mut files = vec![
            file(0, 1, 1),
            file(0, 2, 2),
            file(1, 1, 8),
            file(0, 9, 9),
            file(0, 8, 8),
        ];
        files.sort_by_key(|s| (s.name.first, std::cmp::Reverse(s.name.last)));
        let chosen: Vec<_> = covering(files).iter().map(|f| f.name).collect();
        assert_eq!(
            chosen,
            vec![
                SegmentName {
                    level: 1,
                    first: 1,
                    last: 8
                },
                SegmentName {
                    level: 0,
                    first: 9,
                    last: 9
                }
            ]
        );
    }

    #[test]
    fn runs_get_the_next_number_and_start_locked() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let a = create_run(&store, b"a").unwrap();
        let b = create_run(&store, b"b").unwrap();
        assert_eq!((a.run, b.run), (1, 2));
        assert!(is_live(&a.dir));
        drop(a);
        assert!(!is_live(&run_dir(&store, 1)));
        assert!(is_live(&b.dir));
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store), private::DIR_MODE);
        assert_eq!(mode(&b.dir), private::DIR_MODE);
        assert_eq!(mode(&b.dir.join(RUN_FILE)), private::FILE_MODE);
        assert_eq!(
            std::fs::read_to_string(store.join(".gitignore"))
                .unwrap()
                .lines()
                .last(),
            Some("*")
        );
        assert_eq!(
            runs(&store)
                .unwrap()
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
