//! Lists of calls as a table, the way `ElixirScope.calls/1` prints them at the prompt:
//!
//! ```text
//! ID  PID        STARTED       DURATION  CALL
//! 43  <0.110.0>  14:03:21.120  1.2µs     Fixture.Basics.add(0, 1) → 1
//! ```

use store::{Call, RunInfo, Snapshot};

use crate::call;
use crate::text::{clock, duration};
use crate::tree::pid_text;

/// The table's header.
pub const HEADER: [&str; 5] = ["ID", "PID", "STARTED", "DURATION", "CALL"];

/// The table, or a line saying nothing matched.
pub fn render(calls: &[Call], snap: &Snapshot) -> Vec<String> {
    if calls.is_empty() {
        return vec!["No calls match.".to_string()];
    }
    layout(HEADER, &rows(calls, snap))
}

/// The table's rows.
pub fn rows(calls: &[Call], snap: &Snapshot) -> Vec<[String; 5]> {
    let info = &snap.run().info;
    let mut pids = std::collections::HashMap::new();
    calls
        .iter()
        .map(|c| {
            let pid = pids
                .entry(c.pid)
                .or_insert_with(|| pid_text(snap, c.pid))
                .clone();
            row(c, &pid, info)
        })
        .collect()
}

/// The tables of several runs, newest first, each under a line naming its run; the table
/// alone when there is one run.
pub fn render_runs(runs: &[(Snapshot, Vec<Call>)]) -> Vec<String> {
    if let [(snap, calls)] = runs {
        return render(calls, snap);
    }
    let mut out = Vec::new();
    for (snap, calls) in runs.iter().filter(|(_, calls)| !calls.is_empty()) {
        if !out.is_empty() {
            out.push(String::new());
        }
        out.push(run_title(snap));
        out.extend(render(calls, snap));
    }
    if out.is_empty() {
        out.push(format!("No calls match in {} runs.", runs.len()));
    }
    out
}

/// The calls of several nodes' runs (one run per node) as one list, newest first by the wall
/// clock (each run's times through its own anchor), at most `limit`: `(run index, call)`.
pub fn merged_by_time(runs: &[(Snapshot, Vec<Call>)], limit: usize) -> Vec<(usize, &Call)> {
    let mut all: Vec<(u64, usize, &Call)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, (snap, calls))| {
            let info = &snap.run().info;
            calls.iter().map(move |c| (info.unix_ns(c.start), i, c))
        })
        .collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(b.2.id.cmp(&a.2.id)));
    all.into_iter()
        .take(limit)
        .map(|(_, i, c)| (i, c))
        .collect()
}

/// The calls of several nodes as one table, newest first, with their node first:
///
/// ```text
/// NODE    ID  PID        STARTED       DURATION  CALL
/// b@host  3   <0.94.0>   14:03:21.121  1.6ms     Shop.Inventory.handle_call(…) → …
/// a@host  3   <0.99.0>   14:03:21.120  3.3ms     Shop.Inventory.reserve(:b@host, "tea", 2) → …
/// ```
pub fn render_nodes(runs: &[(Snapshot, Vec<Call>)], limit: usize) -> Vec<String> {
    let merged = merged_by_time(runs, limit);
    if merged.is_empty() {
        return vec![format!("No calls match on {} nodes.", runs.len())];
    }
    let mut pids: Vec<std::collections::HashMap<u64, String>> =
        vec![Default::default(); runs.len()];
    let rows: Vec<[String; 6]> = merged
        .iter()
        .map(|&(i, c)| {
            let snap = &runs[i].0;
            let pid = pids[i]
                .entry(c.pid)
                .or_insert_with(|| pid_text(snap, c.pid))
                .clone();
            let [id, pid, started, duration, call] = row(c, &pid, &snap.run().info);
            [
                snap.run().info.node.clone(),
                id,
                pid,
                started,
                duration,
                call,
            ]
        })
        .collect();
    layout(["NODE", "ID", "PID", "STARTED", "DURATION", "CALL"], &rows)
}

/// `Run 3 (shop@host, started 2026-12-03 14:03:21):`
pub fn run_title(snap: &Snapshot) -> String {
    let info = &snap.run().info;
    format!(
        "Run {} ({}, started {}):",
        snap.run().id,
        info.node,
        crate::text::date_time(info.started_unix_ns)
    )
}

/// Why a run may hold no matching call: the times recording was paused during it (none
/// when it never was).
pub fn paused_note(snap: &Snapshot) -> Result<Vec<String>, store::StoreError> {
    let pauses = snap.pauses()?;
    if pauses.is_empty() {
        return Ok(Vec::new());
    }
    let info = &snap.run().info;
    let stretches: Vec<String> = pauses
        .iter()
        .map(|p| {
            let until = match p.until {
                Some(t) => clock(info.unix_ns(t)),
                None if snap.run().live => "now".to_string(),
                None => "the end of the run".to_string(),
            };
            format!("from {} to {until}", clock(info.unix_ns(p.from)))
        })
        .collect();
    Ok(vec![format!(
        "Recording was paused in run {}: {}; calls made meanwhile were not recorded.",
        snap.run().id,
        stretches.join(", ")
    )])
}

fn row(c: &Call, pid: &str, info: &RunInfo) -> [String; 5] {
    [
        c.id.to_string(),
        pid.to_string(),
        clock(info.unix_ns(c.start)),
        c.duration_ns().map_or_else(|| "running".into(), duration),
        format!("{} {}", call::call_text(c), call::outcome_text(c)),
    ]
}

/// Columns padded to their widest cell, two spaces apart; the last one is not padded.
pub fn layout<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> Vec<String> {
    let header = header.map(str::to_string);
    let all: Vec<&[String; N]> = std::iter::once(&header).chain(rows.iter()).collect();
    let mut widths = [0usize; N];
    for r in &all {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    all.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
                }
            }
            line
        })
        .collect()
}
