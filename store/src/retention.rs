//! The retention cap: how much a store may hold, and dropping the oldest data to stay under it.
//!
//! The writer keeps an estimate of the bytes each run's rows take on disk (key and value bytes
//! plus a per-entry overhead, times the B-tree's slack, see [`entry_bytes`]); at every durable
//! commit, while the total is over the cap, it deletes the oldest runs whole, then the oldest
//! calls of the current run (with their index entries), until the total is under
//! [`LOW_WATER`] of the cap. redb reuses the freed pages, so the file stops growing at about the
//! cap; it does not shrink.

use redb::{ReadableTable, WriteTransaction};

use crate::codec::CallRow;
use crate::error::{Context, Result};
use crate::schema::{mfa_key, pair, RunTables, RUNS, RUN_BYTES};

/// The default cap: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Deletion stops once the estimate is under this fraction of the cap (in percent).
pub const LOW_WATER: u64 = 90;

/// At most this many calls of the current run are deleted per durable commit, so that one
/// commit stays short; the next commit continues.
pub const MAX_CALLS_DELETED_PER_COMMIT: usize = 200_000;

/// The per-entry overhead redb adds to key and value bytes.
const ENTRY_OVERHEAD: u64 = 8;

/// How much of the cap the store may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The cap in bytes (an estimate of what the rows take on disk).
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// The estimated disk bytes of a row with a key of `key` bytes and a value of `value` bytes:
/// B-tree leaves split half full when keys arrive out of order, and appends leave them nearly
/// full, so the estimate counts the row one and a half times.
pub fn entry_bytes(key: usize, value: usize) -> u64 {
    (key as u64 + value as u64 + ENTRY_OVERHEAD) * 3 / 2
}

/// Deletes the oldest data until the total estimate is under the low-water mark. `current` is
/// the run being written and `current_bytes` its estimate (updated). Returns how many runs and
/// calls it deleted.
pub(crate) fn enforce(
    txn: &WriteTransaction,
    current: u64,
    current_bytes: &mut u64,
    retention: Retention,
) -> Result<(usize, usize)> {
    let mut older = older_runs(txn, current)?;
    let mut total = *current_bytes + older.iter().map(|(_, b)| b).sum::<u64>();
    if total <= retention.max_bytes {
        return Ok((0, 0));
    }
    let target = retention.max_bytes / 100 * LOW_WATER;
    let mut runs_deleted = 0;
    older.reverse(); // pop the oldest first
    while total > target {
        let Some((run, bytes)) = older.pop() else {
            break;
        };
        delete_run(txn, run)?;
        total -= bytes;
        runs_deleted += 1;
    }
    let mut calls_deleted = 0;
    if total > target {
        let excess = total - target;
        let goal = current_bytes.saturating_sub(excess);
        calls_deleted = delete_oldest_calls(txn, current, current_bytes, goal)?;
    }
    Ok((runs_deleted, calls_deleted))
}

/// The runs before `current` with their estimates, oldest first.
fn older_runs(txn: &WriteTransaction, current: u64) -> Result<Vec<(u64, u64)>> {
    let runs = txn.open_table(RUNS).during("retention")?;
    let bytes = txn.open_table(RUN_BYTES).during("retention")?;
    let mut out = Vec::new();
    for entry in runs.range(..current).during("retention")? {
        let (run, _) = entry.during("retention")?;
        let run = run.value();
        let b = bytes.get(run).during("retention")?.map_or(0, |v| v.value());
        out.push((run, b));
    }
    Ok(out)
}

/// Deletes a run: its tables and its records.
pub(crate) fn delete_run(txn: &WriteTransaction, run: u64) -> Result<()> {
    let t = RunTables::new(run);
    txn.delete_table(t.calls()).during("deleting a run")?;
    txn.delete_table(t.ends()).during("deleting a run")?;
    txn.delete_table(t.children()).during("deleting a run")?;
    txn.delete_table(t.by_pid()).during("deleting a run")?;
    txn.delete_table(t.by_mfa()).during("deleting a run")?;
    txn.delete_table(t.exceptions()).during("deleting a run")?;
    txn.delete_table(t.tail_calls()).during("deleting a run")?;
    txn.delete_table(t.processes()).during("deleting a run")?;
    txn.delete_table(t.started()).during("deleting a run")?;
    txn.delete_table(t.served()).during("deleting a run")?;
    txn.delete_table(t.clients()).during("deleting a run")?;
    txn.open_table(RUNS)
        .during("deleting a run")?
        .remove(run)
        .during("deleting a run")?;
    txn.open_table(RUN_BYTES)
        .during("deleting a run")?
        .remove(run)
        .during("deleting a run")?;
    Ok(())
}

/// Deletes the oldest calls of `run`, with every row that refers to them, until its estimate
/// is at most `goal` (or [`MAX_CALLS_DELETED_PER_COMMIT`] were deleted).
fn delete_oldest_calls(
    txn: &WriteTransaction,
    run: u64,
    run_bytes: &mut u64,
    goal: u64,
) -> Result<usize> {
    const DURING: &str = "deleting the oldest calls";
    let t = RunTables::new(run);
    let mut calls = txn.open_table(t.calls()).during(DURING)?;
    let mut ends = txn.open_table(t.ends()).during(DURING)?;
    let mut children = txn.open_table(t.children()).during(DURING)?;
    let mut by_pid = txn.open_table(t.by_pid()).during(DURING)?;
    let mut by_mfa = txn.open_table(t.by_mfa()).during(DURING)?;
    let mut exceptions = txn.open_table(t.exceptions()).during(DURING)?;
    let mut tail_calls = txn.open_table(t.tail_calls()).during(DURING)?;
    let mut deleted = 0;
    while *run_bytes > goal && deleted < MAX_CALLS_DELETED_PER_COMMIT {
        let Some((id, row)) = calls.pop_first().during(DURING)? else {
            break;
        };
        let id = id.value();
        let bytes = row.value();
        let mut freed = entry_bytes(8, bytes.len());
        let row = CallRow::decode(bytes)?;
        if row.parent != 0
            && children
                .remove(pair(row.parent, id))
                .during(DURING)?
                .is_some()
        {
            freed += entry_bytes(16, 0);
        }
        if by_pid.remove(pair(row.pid, id)).during(DURING)?.is_some() {
            freed += entry_bytes(16, 8);
        }
        if by_mfa
            .remove(mfa_key(row.module, row.function, id))
            .during(DURING)?
            .is_some()
        {
            freed += entry_bytes(16, 0);
        }
        if let Some(end) = ends.remove(id).during(DURING)? {
            freed += entry_bytes(8, end.value().len());
        }
        if exceptions.remove(id).during(DURING)?.is_some() {
            freed += entry_bytes(8, 8);
        }
        for entry in tail_calls
            .extract_from_if(pair(id, 0)..=pair(id, u64::MAX), |_, _| true)
            .during(DURING)?
        {
            let (_, v) = entry.during(DURING)?;
            freed += entry_bytes(16, v.value().len());
        }
        *run_bytes = run_bytes.saturating_sub(freed);
        deleted += 1;
    }
    // The children of deleted calls keep their (now dangling) parent ids: queries treat a
    // missing parent as "not recorded".
    Ok(deleted)
}
