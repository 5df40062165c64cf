//! One rewriting run at a time per build: [`BuildLock`].
//!
//! Two `instrument` runs over the same beams at once (two `mix compile`s of one project) would
//! each rewrite part of them under its own plan, and `restore` during an `instrument` would
//! undo half of it. A run therefore locks every directory it may write to (each beam's, and
//! each linked beam's target's) before it plans, and holds the locks until it is done; a
//! second run waits. The locks are `flock`s on the directories themselves: they need no lock
//! file (nothing is added to an `ebin`, whose files Mix copies into releases), work with or
//! without a project root or a plan cache, and die with the process that holds them, so a
//! killed run never leaves a stale lock.
//!
//! Under the locks, temporary files that killed runs left ([`atomic::remove_leftovers`]) are
//! removed: no other run can be writing them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::atomic;

/// Locks on the directories of a run's beams, released when dropped.
#[derive(Debug)]
pub struct BuildLock {
    held: Vec<(PathBuf, File)>,
    leftovers_removed: usize,
}

/// Why the locks could not be taken.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot lock the directory against other elixir-scope runs: {source}")]
pub struct LockError {
    /// The directory.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: io::Error,
}

impl BuildLock {
    /// Locks the directories `beams` live in (in a fixed order, so that two runs cannot
    /// deadlock), waiting for other runs to finish; `waiting` is called once, with the
    /// directory, before the first wait. Then removes leftover temporary files there.
    pub fn acquire(beams: &[PathBuf], waiting: impl FnOnce(&Path)) -> Result<BuildLock, LockError> {
        let mut waiting = Some(waiting);
        let mut held = Vec::new();
        for dir in directories_of(beams) {
            let error = |source| LockError {
                path: dir.clone(),
                source,
            };
            let file = File::open(&dir).map_err(error)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    if let Some(waiting) = waiting.take() {
                        waiting(&dir);
                    }
                    file.lock().map_err(error)?;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(error(e)),
            }
            held.push((dir, file));
        }
        let leftovers_removed = held
            .iter()
            .map(|(dir, _)| atomic::remove_leftovers(dir).unwrap_or(0))
            .sum();
        Ok(BuildLock {
            held,
            leftovers_removed,
        })
    }

    /// The directories locked.
    pub fn directories(&self) -> impl Iterator<Item = &Path> {
        self.held.iter().map(|(dir, _)| dir.as_path())
    }

    /// How many temporary files of killed runs were removed.
    pub fn leftovers_removed(&self) -> usize {
        self.leftovers_removed
    }
}

/// The directories a run over `beams` may write to, canonical, each once, sorted.
fn directories_of(beams: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for beam in beams {
        let parent = beam
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        dirs.extend(std::fs::canonicalize(parent));
        // A linked beam is replaced next to its target.
        if let Some(target_dir) = std::fs::canonicalize(beam)
            .ok()
            .and_then(|t| t.parent().map(Path::to_path_buf))
        {
            dirs.insert(target_dir);
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let beam = dir.path().join("m.beam");
        std::fs::write(&beam, b"").unwrap();
        let first = BuildLock::acquire(std::slice::from_ref(&beam), |_| {
            panic!("nothing to wait for")
        })
        .unwrap();
        let (told, waited) = std::sync::mpsc::channel();
        let second = std::thread::spawn({
            let beam = beam.clone();
            move || {
                BuildLock::acquire(&[beam], |dir| told.send(dir.to_path_buf()).unwrap())
                    .unwrap()
                    .directories()
                    .count()
            }
        });
        let dir_waited_on = waited.recv().unwrap();
        assert_eq!(dir_waited_on, std::fs::canonicalize(dir.path()).unwrap());
        assert!(!second.is_finished());
        drop(first);
        assert_eq!(second.join().unwrap(), 1);
    }

    #[test]
    fn locks_the_directories_of_links_and_of_their_targets_and_cleans_them() {
        let dir = tempfile::tempdir().unwrap();
        let (ebin, store) = (dir.path().join("ebin"), dir.path().join("store"));
        std::fs::create_dir(&ebin).unwrap();
        std::fs::create_dir(&store).unwrap();
        std::fs::write(store.join("m.beam"), b"").unwrap();
        std::fs::write(store.join("m.beam.es-tmpXyZ123"), b"").unwrap();
        std::fs::write(ebin.join("n.beam.es-tmpAbC456"), b"").unwrap();
        std::os::unix::fs::symlink("../store/m.beam", ebin.join("m.beam")).unwrap();
        let lock = BuildLock::acquire(&[ebin.join("m.beam")], |_| {}).unwrap();
        let locked: Vec<&Path> = lock.directories().collect();
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap();
        assert_eq!(locked, [canonical(&ebin), canonical(&store)]);
        assert_eq!(lock.leftovers_removed(), 2);
        assert!(!store.join("m.beam.es-tmpXyZ123").exists());
        assert!(store.join("m.beam").exists());
    }
}
