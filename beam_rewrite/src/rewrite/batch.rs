//! Rewriting many beams at once: `jobs` worker threads, each with its own helper process (from
//! the run's [`HelperPool`]).
//!
//! Files are handed out largest first, so that the biggest modules do not end up last on one
//! worker while the others idle. Helpers start only when a file needs one: a run where nothing
//! changed starts no `erl` at all. Each worker runs on a large stack (abstract code nests deep,
//! see [`beam_format::etf::spawn_with_large_stack`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::helper::HelperPool;
use beam_format::etf::spawn_with_large_stack;
use beam_plan::Plan;

use super::{instrument_file, FileReport, HelperSlot};

/// How to run a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Worker threads, and at most as many helper processes.
    pub jobs: usize,
    /// Do everything but compiling and writing.
    pub dry_run: bool,
}

/// Rewrites `files` under `plan`; calls `progress` (from the workers) as each file is done and
/// returns the reports in the order of `files`.
pub fn instrument_all(
    files: &[PathBuf],
    plan: &Plan,
    options: BatchOptions,
    helpers: &HelperPool,
    progress: &(dyn Fn(&FileReport) + Sync),
) -> Vec<FileReport> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    let size = |i: &usize| std::fs::metadata(&files[*i]).map(|m| m.len()).unwrap_or(0);
    order.sort_by_key(|i| std::cmp::Reverse(size(i)));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileReport>>> = Mutex::new(vec![None; files.len()]);
    let workers = options.jobs.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        for n in 0..workers {
            let (next, results, order) = (&next, &results, &order);
            let worker = move || {
                let mut helper = HelperSlot::new(helpers);
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let path = &files[index];
                    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        instrument_file(path, plan, options.dry_run, &mut helper)
                    }));
                    let report = attempt.unwrap_or_else(|_| {
                        // A bug of ours, not of the file: report it and go on with a fresh helper.
                        helper.discard();
                        FileReport {
                            path: path.clone(),
                            module: None,
                            outcome: super::Outcome::Failed {
                                error: format!(
                                    "{}: internal error of the rewriter (please report it)",
                                    path.display()
                                ),
                            },
                        }
                    });
                    progress(&report);
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(report);
                    }
                }
            };
            spawn_with_large_stack(scope, format!("rewrite-{n}"), worker)
                .expect("spawning a rewrite worker");
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .zip(files)
        .map(|(report, path)| {
            report.unwrap_or_else(|| FileReport {
                path: path.clone(),
                module: None,
                outcome: super::Outcome::Failed {
                    error: format!("{}: the worker rewriting it stopped", path.display()),
                },
            })
        })
        .collect()
}
