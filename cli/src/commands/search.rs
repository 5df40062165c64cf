//! `elixir-scope search VALUE`: the calls whose arguments, result or exception hold a value
//! anywhere (Erlang Doctor's `tr:contains_data`), oldest first.

use std::process::ExitCode;

use analysis::select::Found;
use analysis::ValuePattern;

use crate::query::filter::{at_least_one, Syntax};
use crate::query::{json, table, QueryError, Source};

/// Arguments of `search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// The value, as Elixir or Erlang code: '"joe@example.com"', 42, ':out_of_stock', or a
    /// pattern ('{:error, _}', '%{sku: "tea"}').
    #[arg(value_name = "VALUE")]
    pub value: String,
    /// The language VALUE is written in.
    #[arg(long, value_enum, default_value = "elixir")]
    pub syntax: Syntax,
    /// At most this many calls (at least 1).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one)]
    pub limit: usize,
    /// Print the calls as a JSON array (each with `found`: arguments, result or exception).
    #[arg(long)]
    pub json: bool,
}

/// Prints the calls; exits 1 when the recording cannot be read or the value does not parse.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(search(args))
}

fn search(args: &Args) -> Result<String, QueryError> {
    let value = parse_value(&args.value, args.syntax)?;
    let mut left = args.limit;
    let mut runs = Vec::new();
    for snap in args.source.snapshots()? {
        let found = if left == 0 {
            Vec::new()
        } else {
            analysis::search(&snap, &value, 0, u64::MAX, left)?
        };
        // Each node of a cluster gets the whole limit (its run under its own title).
        if !args.source.is_cluster() {
            left -= found.len();
        }
        runs.push((snap, found));
    }
    if args.json {
        let calls: Vec<serde_json::Value> = runs
            .iter()
            .flat_map(|(snap, found)| {
                found.iter().map(|(c, at)| {
                    let mut object = json::call_json(c, snap);
                    object["found"] = found_name(*at).into();
                    object
                })
            })
            .collect();
        return Ok(serde_json::Value::Array(calls).to_string());
    }
    let mut out = Vec::new();
    let several = runs.len() > 1;
    for (snap, found) in runs.iter().filter(|(_, f)| !f.is_empty()) {
        if several {
            if !out.is_empty() {
                out.push(String::new());
            }
            out.push(table::run_title(snap));
        }
        let calls: Vec<store::Call> = found.iter().map(|(c, _)| c.clone()).collect();
        let rows: Vec<[String; 6]> = table::rows(&calls, snap)
            .into_iter()
            .zip(found)
            .map(|([id, pid, start, duration, call], (_, at))| {
                [id, pid, start, duration, found_name(*at).to_string(), call]
            })
            .collect();
        out.extend(table::layout(
            ["ID", "PID", "STARTED", "DURATION", "FOUND IN", "CALL"],
            &rows,
        ));
    }
    if out.is_empty() {
        out.push(format!("No recorded call holds {}.", args.value));
    }
    Ok(out.join("\n"))
}

/// A value as given on the command line, parsed as a pattern.
pub fn parse_value(text: &str, syntax: Syntax) -> Result<ValuePattern, QueryError> {
    ValuePattern::parse(text, syntax.dialect()).map_err(|source| {
        QueryError::Analysis(analysis::QueryError::Pattern {
            what: "VALUE",
            source,
        })
    })
}

fn found_name(found: Found) -> &'static str {
    match found {
        Found::Arguments => "arguments",
        Found::Result => "result",
        Found::Exception => "exception",
    }
}
