//! `elixir-scope calls [--db PATH] [--run N|all|A..B | --node NAME [--cookie C] [--cluster]]
//! [filters] [--json]`: recorded calls, newest first, filtered by the options and by Elixir or
//! Erlang patterns; with `--cluster`, the calls of every node merged by time, each with its
//! node.

use std::process::ExitCode;

use crate::query::filter::Filters;
use crate::query::{json, table, QueryError, Source};

/// Arguments of `calls`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// Which calls.
    #[command(flatten)]
    pub filters: Filters,
    /// Print the calls as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// Lists the calls; exits 1 when the recording cannot be read or a pattern is wrong.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(list(args))
}

fn list(args: &Args) -> Result<String, QueryError> {
    let query = args.filters.query()?;
    let mut left = args.filters.limit;
    let mut runs = Vec::new();
    for snap in args.source.snapshots()? {
        let calls = if left == 0 {
            Vec::new()
        } else {
            match args.filters.calls(&query, &snap, left) {
                // A process or test of one node is no other node's: those have none of its calls.
                Err(QueryError::NoSuchProcess { .. } | QueryError::NoSuchTest { .. })
                    if args.source.is_cluster() =>
                {
                    Vec::new()
                }
                other => other?,
            }
        };
        // Runs of several nodes are merged by time: each gives its newest `limit`.
        if !args.source.is_cluster() {
            left -= calls.len();
        }
        runs.push((snap, calls));
    }
    if args.source.is_cluster() {
        // One list of every node's calls, by time: each node's newest `limit`, merged.
        if args.json {
            let calls: Vec<serde_json::Value> = table::merged_by_time(&runs, args.filters.limit)
                .into_iter()
                .map(|(i, c)| json::call_json(c, &runs[i].0))
                .collect();
            return Ok(serde_json::Value::Array(calls).to_string());
        }
        return Ok(table::render_nodes(&runs, args.filters.limit).join("\n"));
    }
    if args.json {
        let calls: Vec<serde_json::Value> = runs
            .iter()
            .flat_map(|(snap, calls)| calls.iter().map(|c| json::call_json(c, snap)))
            .collect();
        return Ok(serde_json::Value::Array(calls).to_string());
    }
    let mut lines = table::render_runs(&runs);
    if let [(snap, calls)] = runs.as_slice() {
        if calls.is_empty() {
            lines.extend(table::paused_note(snap)?);
        }
    }
    Ok(lines.join("\n"))
}
