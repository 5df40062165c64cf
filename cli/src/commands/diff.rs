//! `elixir-scope diff RUN_A RUN_B [--db PATH] [--threshold PCT] [--limit N] [--json]`: what
//! changed from one run to another (`analysis::diff`): functions that appeared or
//! disappeared, changed their number of calls or their total or mean time by more than the
//! threshold, and calls with the same arguments that returned something else.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use analysis::diff::{DiffOptions, FunctionFigures, RunDiff};
use serde_json::{json, Value};
use store::Snapshot;

use crate::query::call::{call_text, outcome_text};
use crate::query::json::call_json;
use crate::query::text::{count, counted, duration};
use crate::query::{QueryError, Source};

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run to compare from (`elixir-scope stats` lists them).
    #[arg(value_name = "RUN_A")]
    pub run_a: u64,
    /// The run to compare with.
    #[arg(value_name = "RUN_B")]
    pub run_b: u64,
    /// The recording (as for the other commands).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A function's total or mean time changed when it moved by more than this percentage.
    #[arg(long, value_name = "PCT", default_value_t = 20.0, value_parser = percentage)]
    pub threshold: f64,
    /// At most this many calls with a changed result are shown (all are counted).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print everything as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn percentage(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
        _ => Err(format!(
            "{text:?} is not a percentage (0 or more, such as 20)"
        )),
    }
}

/// Prints the differences; exits 1 when a run cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(diff(args))
}

fn diff(args: &Args) -> Result<String, QueryError> {
    let source = Source {
        db: args.db.clone(),
        ..Source::default()
    };
    let store = source.open()?;
    let a = store.snapshot(Some(args.run_a))?;
    let b = store.snapshot(Some(args.run_b))?;
    let options = DiffOptions {
        threshold_pct: args.threshold,
        results: args.limit,
    };
    let d = analysis::diff::diff(&a, &b, options)?;
    if args.json {
        return Ok(to_json(&d, args.threshold, &a, &b).to_string());
    }
    Ok(text(&d, args.threshold))
}

fn figures(f: Option<&FunctionFigures>) -> String {
    match f {
        Some(f) => format!(
            "{}, {} total, {} mean",
            counted(f.calls, "call", "calls"),
            duration(f.total_ns),
            duration(f.mean_ns)
        ),
        None => "-".to_string(),
    }
}

fn text(d: &RunDiff, threshold: f64) -> String {
    let mut out = format!("Run {} → run {}:\n", d.run_a, d.run_b);
    if d.functions.is_empty() {
        let _ = writeln!(
            out,
            "  no function appeared, disappeared, or changed its calls or time by more than \
             {threshold}%"
        );
    } else {
        let _ = writeln!(
            out,
            "  functions (time changes beyond {threshold}%, any change of calls):"
        );
        let width = d
            .functions
            .iter()
            .map(|f| f.mfa.text().chars().count())
            .max()
            .unwrap_or(0);
        for f in &d.functions {
            let name = f.mfa.text();
            let detail = match (f.a.as_ref(), f.b.as_ref()) {
                (Some(_), Some(_)) => {
                    format!("{} → {}", figures(f.a.as_ref()), figures(f.b.as_ref()))
                }
                (None, b) => figures(b),
                (a, None) => figures(a),
            };
            let _ = writeln!(
                out,
                "    {:<11} {name:<width$}  {detail}",
                f.change.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "  results: {} of {} calls with the same arguments in both runs returned something else{}",
        count(d.results_changed),
        count(d.compared),
        if d.capped {
            " (run A had too many distinct arguments: not all were compared)"
        } else {
            ""
        }
    );
    for change in &d.results {
        let _ = writeln!(out, "    {}", call_text(&change.a));
        let _ = writeln!(
            out,
            "      run {} #{}: {}",
            d.run_a,
            change.a.id,
            outcome_text(&change.a)
        );
        let _ = writeln!(
            out,
            "      run {} #{}: {}",
            d.run_b,
            change.b.id,
            outcome_text(&change.b)
        );
    }
    if (d.results.len() as u64) < d.results_changed {
        let _ = writeln!(
            out,
            "    … {} more (--limit shows more)",
            count(d.results_changed - d.results.len() as u64)
        );
    }
    out.trim_end().to_string()
}

fn figures_json(f: Option<&FunctionFigures>) -> Value {
    match f {
        Some(f) => json!({"calls": f.calls, "total_ns": f.total_ns, "mean_ns": f.mean_ns}),
        None => Value::Null,
    }
}

fn to_json(d: &RunDiff, threshold: f64, a: &Snapshot, b: &Snapshot) -> Value {
    let functions: Vec<Value> = d
        .functions
        .iter()
        .map(|f| {
            json!({
                "module": f.mfa.module,
                "function": f.mfa.function,
                "arity": f.mfa.arity,
                "mfa": f.mfa.text(),
                "change": f.change.as_str(),
                "a": figures_json(f.a.as_ref()),
                "b": figures_json(f.b.as_ref()),
            })
        })
        .collect();
    let results: Vec<Value> = d
        .results
        .iter()
        .map(|r| json!({"a": call_json(&r.a, a), "b": call_json(&r.b, b)}))
        .collect();
    json!({
        "run_a": d.run_a,
        "run_b": d.run_b,
        "threshold_pct": threshold,
        "functions": functions,
        "compared": d.compared,
        "results_changed": d.results_changed,
        "capped": d.capped,
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_is_a_non_negative_percentage() {
        assert_eq!(percentage("20"), Ok(20.0));
        assert_eq!(percentage("12.5%"), Ok(12.5));
        assert_eq!(
            percentage("-3"),
            Err("\"-3\" is not a percentage (0 or more, such as 20)".to_string())
        );
        assert!(percentage("lots").is_err());
        assert!(percentage("inf").is_err());
    }
}
