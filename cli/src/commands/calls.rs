//! `elixir-scope calls [--db PATH] [--run N] [filters] [--json]`: recorded calls, newest first.

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

/// Lists the calls; exits 1 when the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(list(args))
}

fn list(args: &Args) -> Result<String, QueryError> {
    let snap = args.source.snapshot()?;
    let filter = args.filters.to_filter(&snap)?;
    let calls = snap.calls(&filter)?;
    if args.json {
        let calls: Vec<serde_json::Value> =
            calls.iter().map(|c| json::call_json(c, &snap)).collect();
        return Ok(serde_json::Value::Array(calls).to_string());
    }
    let mut lines = table::render(&calls, &snap);
    if calls.is_empty() {
        lines.extend(table::paused_note(&snap)?);
    }
    Ok(lines.join("\n"))
}
