//! `elixir-scope calls [--db PATH] [--run N|all|A..B] [filters] [--json]`: recorded calls,
//! newest first, filtered by the options and by Elixir or Erlang patterns.

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
            args.filters.calls(&query, &snap, left)?
        };
        left -= calls.len();
        runs.push((snap, calls));
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
