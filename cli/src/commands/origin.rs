//! `elixir-scope origin VALUE`: where a value came from: the first calls that returned it
//! (anywhere in their result) without having been given it.

use std::process::ExitCode;

use crate::commands::search::parse_value;
use crate::query::filter::{at_least_one, Syntax};
use crate::query::{json, table, QueryError, Source};

/// Arguments of `origin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// The value, as Elixir or Erlang code (see `search`).
    #[arg(value_name = "VALUE")]
    pub value: String,
    /// The language VALUE is written in.
    #[arg(long, value_enum, default_value = "elixir")]
    pub syntax: Syntax,
    /// At most this many calls, earliest first (at least 1).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub limit: usize,
    /// Print the calls as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// Prints the calls; exits 1 when the recording cannot be read or the value does not parse.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(origin(args))
}

fn origin(args: &Args) -> Result<String, QueryError> {
    let value = parse_value(&args.value, args.syntax)?;
    let snap = args.source.snapshot()?;
    let calls = analysis::origin(&snap, &value, args.limit)?;
    if args.json {
        let calls: Vec<serde_json::Value> =
            calls.iter().map(|c| json::call_json(c, &snap)).collect();
        return Ok(serde_json::Value::Array(calls).to_string());
    }
    if calls.is_empty() {
        return Ok(format!(
            "No recorded call of run {} returned {} without being given it.",
            snap.run().id,
            args.value
        ));
    }
    Ok(table::render(&calls, &snap).join("\n"))
}
