//! `elixir-scope stats [--db PATH] [--run N] [--top N] [--json]`: the runs a recording holds,
//! and for one of them its counts and most called functions.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{json, Value};
use store::{Run, RunCounts, StoreReader};

use crate::query::text::{count, date_time, duration};
use crate::query::{QueryError, Source};
use term::Style;

/// Arguments of `stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// How many of the most called functions to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print everything as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Prints the statistics; exits 1 when the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(stats(args))
}

fn stats(args: &Args) -> Result<String, QueryError> {
    let (store, chosen) = args.source.store_and_run()?;
    let path = store.path().to_path_buf();
    let runs = store.runs()?;
    let mut counted = Vec::with_capacity(runs.len());
    for run in &runs {
        counted.push((run, store.snapshot(Some(run.id))?.counts()?));
    }
    let snap = store.snapshot(chosen)?;
    let chosen = snap.run().id;
    let top = snap.top_functions(args.top)?;
    if args.json {
        return Ok(to_json(&store, &counted, chosen, &top).to_string());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        path.display(),
        crate::query::text::counted(runs.len() as u64, "run", "runs")
    );
    for line in runs_table(&counted) {
        let _ = writeln!(out, "  {line}");
    }
    let counts = counted
        .iter()
        .find(|(r, _)| r.id == chosen)
        .map(|(_, c)| *c)
        .unwrap_or_default();
    let _ = writeln!(out, "\nRun {chosen}:");
    for (name, n) in [
        ("calls", counts.calls),
        ("exceptions", counts.exceptions),
        ("processes", counts.processes),
        ("tail calls", counts.tail_calls),
    ] {
        let _ = writeln!(out, "  {name:<12} {}", count(n));
    }
    if !top.is_empty() {
        let _ = writeln!(out, "  most called:");
        let width = top.iter().map(|f| count(f.calls).len()).max().unwrap_or(0);
        for f in &top {
            let _ = writeln!(
                out,
                "    {:>width$}  {}",
                count(f.calls),
                Style::of_module(&f.module).mf(&f.module, &f.function)
            );
        }
    }
    Ok(out.trim_end().to_string())
}

fn runs_table(runs: &[(&Run, RunCounts)]) -> Vec<String> {
    let mut rows = vec![[
        "RUN".to_string(),
        "STARTED".into(),
        "NODE".into(),
        "STATE".into(),
        "CALLS".into(),
        "EXCEPTIONS".into(),
        "DROPPED".into(),
        "ENDED".into(),
    ]];
    for (run, counts) in runs {
        rows.push([
            run.id.to_string(),
            date_time(run.info.started_unix_ns),
            run.info.node.clone(),
            run.state().to_string(),
            count(counts.calls),
            count(counts.exceptions),
            count(run.counters.lost()),
            ended(run),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    if i + 1 == row.len() {
                        cell.clone()
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            cells.join("  ")
        })
        .collect()
}

/// How a run ended: `after 2.1s: 2,406 events captured`, or how it stands (recording, or
/// stopped without a summary: killed or crashed), with what it captured so far.
fn ended(run: &Run) -> String {
    let captured = count(run.counters.captured);
    match (&run.summary, run.live) {
        (Some(s), _) => format!(
            "after {}: {captured} events captured",
            duration(s.ended_unix_ns.saturating_sub(run.info.started_unix_ns))
        ),
        (None, true) => format!("recording: {captured} events captured so far"),
        (None, false) => format!(
            "no normal stop recorded (killed?): {captured} events captured by its last seal"
        ),
    }
}

fn to_json(
    store: &StoreReader,
    runs: &[(&Run, RunCounts)],
    chosen: u64,
    top: &[store::FunctionCalls],
) -> Value {
    let runs: Vec<Value> = runs
        .iter()
        .map(|(run, c)| {
            json!({
                "run": run.id,
                "started": crate::query::text::rfc3339(run.info.started_unix_ns),
                "node": run.info.node,
                "otp_release": run.info.otp_release,
                "os_pid": run.info.os_pid,
                "tool_version": run.info.tool_version,
                "calls": c.calls,
                "exceptions": c.exceptions,
                "processes": c.processes,
                "tail_calls": c.tail_calls,
                "state": run.state(),
                "counters": {
                    "captured": run.counters.captured,
                    "dropped": run.counters.dropped,
                    "stored": run.counters.stored,
                    "write_failed": run.counters.write_failed,
                },
                "ended": run.summary.map(|s| crate::query::text::rfc3339(s.ended_unix_ns)),
            })
        })
        .collect();
    let top: Vec<Value> = top
        .iter()
        .map(|f| {
            json!({
                "module": f.module,
                "function": f.function,
                "calls": f.calls,
                "mf": Style::of_module(&f.module).mf(&f.module, &f.function),
            })
        })
        .collect();
    json!({
        "db": store.path().display().to_string(),
        "runs": runs,
        "run": chosen,
        "top": top,
    })
}
