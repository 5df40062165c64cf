//! `elixir-scope log [filters] [--format FORMAT]`: a line about each matching call, oldest
//! first, as if a log statement had been there when it ran (`analysis::log`).

use std::collections::HashMap;
use std::process::ExitCode;

use analysis::log::{LogFormat, DEFAULT_FORMAT};

use crate::query::filter::Filters;
use crate::query::tree::pid_text;
use crate::query::{QueryError, Source};

/// Arguments of `log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// Which calls (the newest --limit of them, printed oldest first).
    #[command(flatten)]
    pub filters: Filters,
    /// The line, with #{...} placeholders: id, parent, pid, mfa, module, function, arity,
    /// args, result, outcome, duration (µs), start (µs into the run).
    #[arg(long, value_name = "FORMAT", default_value = DEFAULT_FORMAT)]
    pub format: String,
}

/// Prints the lines; exits 1 when the recording cannot be read or a pattern or the format is
/// wrong.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(log(args))
}

fn log(args: &Args) -> Result<String, QueryError> {
    let format = LogFormat::parse(&args.format).map_err(|source| {
        QueryError::Analysis(analysis::QueryError::Pattern {
            what: "--format",
            source,
        })
    })?;
    let query = args.filters.query()?;
    let mut left = args.filters.limit;
    let mut lines = Vec::new();
    for snap in args.source.snapshots()? {
        if left == 0 {
            break;
        }
        let calls = args.filters.calls(&query, &snap, left)?;
        // Each node of a cluster gets the whole limit.
        if !args.source.is_cluster() {
            left -= calls.len();
        }
        let mut pids = HashMap::new();
        let origin = snap.run().info.monotonic_origin_ns;
        // Runs come newest first and calls newest first: reversed at the end, oldest first.
        for call in &calls {
            let pid = pids
                .entry(call.pid)
                .or_insert_with(|| pid_text(&snap, call.pid));
            lines.push(format.line(call, pid, origin));
        }
    }
    lines.reverse();
    Ok(lines.join("\n"))
}
