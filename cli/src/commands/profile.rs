//! `elixir-scope profile [--db PATH] [--run N] [--sort KEY] [--top N] [--json]`: where a run's
//! time went, per function (`analysis::profile`); with `--repeated`, the calls that did the
//! same work again (`analysis::repeated`).
//!
//! `--repeated` is a mode of `profile` rather than a command of its own: it answers the same
//! question (where did the time go?) over the same calls (`--module`, `--pid`, `--since`,
//! `--until`), listed the same way (`--top`, `--json`).

use std::fmt::Write as _;
use std::process::ExitCode;

use analysis::profile::{Profile, SortBy};
use analysis::repeated::Repeated;
use analysis::walk::Scope;
use serde_json::{json, Value};
use store::Snapshot;

use crate::query::call::{call_text, outcome_text};
use crate::query::filter::{CallScope, Filters};
use crate::query::json::call_json;
use crate::query::text::{count, counted, duration};
use crate::query::{QueryError, Source};

/// Arguments of `profile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// Which column to sort by, largest first: own, total, count, mean, p99, exceptions.
    #[arg(long, value_name = "KEY", default_value = "own", value_parser = sort_key)]
    pub sort: SortBy,
    /// How many functions (or groups, with --repeated) to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// List repeated identical subtrees instead (same function, arguments and result, and
    /// the same below), ranked by the time they wasted: (calls - 1) x mean time.
    #[arg(long)]
    pub repeated: bool,
    /// Which calls, as `calls` takes them (own time still leaves out every recorded child,
    /// in scope or not).
    #[command(flatten)]
    pub scope: CallScope,
    /// Print everything as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn sort_key(text: &str) -> Result<SortBy, String> {
    SortBy::parse(text)
        .ok_or_else(|| format!("unknown sort key {text:?} (one of {})", SortBy::NAMES))
}

/// Prints the profile; exits 1 when the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(profile(args))
}

fn profile(args: &Args) -> Result<String, QueryError> {
    let snap = args.source.snapshot()?;
    let scope = scope(args, &snap)?;
    if args.repeated {
        let repeated = analysis::repeated::repeated(&snap, &scope, args.top)?;
        return Ok(if args.json {
            repeated_json(&repeated, &snap).to_string()
        } else {
            repeated_text(&repeated)
        });
    }
    let mut profile = analysis::profile::profile(&snap, &scope)?;
    profile.sort(args.sort);
    let functions = profile.functions.len();
    profile.truncate(args.top);
    if args.json {
        return Ok(profile_json(&profile, functions, args.sort).to_string());
    }
    Ok(profile_text(&profile, functions, args.sort))
}

/// The scope of the filter options, through the `calls` filters' parsing.
fn scope(args: &Args, snap: &Snapshot) -> Result<Scope, QueryError> {
    let filters = Filters {
        scope: args.scope.clone(),
        ..Filters::default()
    };
    let filter = filters.to_filter(snap)?;
    Ok(Scope {
        pid: filter.pid,
        since: filter.since,
        until: filter.until,
        module: filter.module,
    })
}

/// The header columns of the profile table.
const PROFILE_HEADER: [&str; 8] = [
    "CALLS", "TOTAL", "OWN", "MEAN", "P50", "P99", "EXC", "FUNCTION",
];

fn profile_text(profile: &Profile, functions: usize, sort: SortBy) -> String {
    if profile.functions.is_empty() {
        return format!("Run {}: no calls.", profile.run);
    }
    let mut rows = vec![PROFILE_HEADER.map(str::to_string)];
    for f in &profile.functions {
        rows.push([
            count(f.calls),
            duration(f.total_ns),
            duration(f.own_ns),
            duration(f.mean_ns),
            duration(f.p50_ns),
            duration(f.p99_ns),
            count(f.exceptions),
            f.mfa.text(),
        ]);
    }
    let mut out = format!(
        "Run {}: {} in {}, by {}{}\n",
        profile.run,
        counted(profile.calls, "call", "calls"),
        counted(functions as u64, "function", "functions"),
        match sort {
            SortBy::Own | SortBy::Total | SortBy::Mean => format!("{} time", sort.as_str()),
            _ => sort.as_str().to_string(),
        },
        if profile.functions.len() < functions {
            format!(" (top {})", profile.functions.len())
        } else {
            String::new()
        }
    );
    for line in columns(&rows, 7) {
        let _ = writeln!(out, "{line}");
    }
    out.trim_end().to_string()
}

/// Rows as columns two spaces apart: the first `numbers` right-aligned, the last not padded.
fn columns<const N: usize>(rows: &[[String; N]], numbers: usize) -> Vec<String> {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i + 1 == N {
                    line.push_str(cell);
                } else if i < numbers {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                    line.push_str("  ");
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            line
        })
        .collect()
}

fn profile_json(profile: &Profile, functions: usize, sort: SortBy) -> Value {
    let rows: Vec<Value> = profile
        .functions
        .iter()
        .map(|f| {
            json!({
                "module": f.mfa.module,
                "function": f.mfa.function,
                "arity": f.mfa.arity,
                "mfa": f.mfa.text(),
                "calls": f.calls,
                "unfinished": f.unfinished,
                "total_ns": f.total_ns,
                "own_ns": f.own_ns,
                "mean_ns": f.mean_ns,
                "p50_ns": f.p50_ns,
                "p99_ns": f.p99_ns,
                "exceptions": f.exceptions,
            })
        })
        .collect();
    json!({
        "run": profile.run,
        "calls": profile.calls,
        "sort": sort.as_str(),
        "function_count": functions,
        "functions": rows,
    })
}

fn repeated_text(r: &Repeated) -> String {
    let mut out = format!(
        "Run {}: {} repeated identical subtrees among {} ({} distinct), {} wasted in all\n",
        r.run,
        count(r.groups),
        counted(r.calls, "call", "calls"),
        count(r.distinct),
        duration(r.wasted_ns)
    );
    if r.top.is_empty() {
        out.push_str("No call repeated the same work.");
        return out;
    }
    let mut rows = vec![["WASTED", "CALLS", "MEAN", "SUBTREE", "IDS", "CALL"].map(str::to_string)];
    for g in &r.top {
        let ids: Vec<String> = g.ids.iter().map(|id| format!("#{id}")).collect();
        let more = if g.calls > g.ids.len() as u64 {
            ",…"
        } else {
            ""
        };
        rows.push([
            duration(g.wasted_ns),
            count(g.calls),
            duration(g.mean_ns),
            count(g.subtree_calls),
            format!("{}{more}", ids.join(",")),
            format!("{} {}", call_text(&g.first), outcome_text(&g.first)),
        ]);
    }
    for line in columns(&rows, 4) {
        let _ = writeln!(out, "{line}");
    }
    out.trim_end().to_string()
}

fn repeated_json(r: &Repeated, snap: &Snapshot) -> Value {
    let top: Vec<Value> = r
        .top
        .iter()
        .map(|g| {
            json!({
                "module": g.mfa.module,
                "function": g.mfa.function,
                "arity": g.mfa.arity,
                "mfa": g.mfa.text(),
                "calls": g.calls,
                "subtree_calls": g.subtree_calls,
                "mean_ns": g.mean_ns,
                "wasted_ns": g.wasted_ns,
                "ids": g.ids,
                "call": call_json(&g.first, snap),
            })
        })
        .collect();
    json!({
        "run": r.run,
        "calls": r.calls,
        "distinct": r.distinct,
        "groups": r.groups,
        "wasted_ns": r.wasted_ns,
        "top": top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_parse_and_a_bad_one_names_the_good_ones() {
        assert_eq!(sort_key("p99"), Ok(SortBy::P99));
        assert_eq!(sort_key("count"), Ok(SortBy::Count));
        assert_eq!(
            sort_key("speed"),
            Err(
                "unknown sort key \"speed\" (one of own, total, count, mean, p99, exceptions)"
                    .to_string()
            )
        );
    }

    #[test]
    fn numbers_are_right_aligned_and_the_last_column_is_not_padded() {
        let rows = [
            ["CALLS", "FUNCTION", "X"].map(str::to_string),
            ["1,000", "f", "long text"].map(str::to_string),
        ];
        assert_eq!(
            columns(&rows, 1),
            vec!["CALLS  FUNCTION  X", "1,000  f         long text"]
        );
        let rows = [
            ["N", "F"].map(str::to_string),
            ["12", "g"].map(str::to_string),
        ];
        assert_eq!(columns(&rows, 1), vec![" N  F", "12  g"]);
    }
}
