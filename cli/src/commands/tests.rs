//! `elixir-scope tests [--db PATH] [--run N] [--failed] [--roots N] [--json]`: the tests a
//! recording made by a test run knows, each with the calls it made at its top level, and for
//! a failed test the call tree that led to the failure.
//!
//! ```text
//! failed   ShopTest: test refuses a bad card (test/shop_test.exs:20, 2.1ms)
//!   #54 Shop.Checkout.place(%{card: "4485 …"}) ** (Shop.PaymentError) … (610µs)
//!     Assertion with == failed
//!     code:  assert Shop.Checkout.place(order) == :ok
//!   the calls that led to it (elixir-scope trace 54):
//!   #54 Shop.Checkout.place(%{card: "4485 …"}) ** (Shop.PaymentError) … (610µs, <0.96.0>)
//!   └── #55 luhn:valid(<<"4485 …">>) → false (19µs)
//! 1 test: 1 failed
//! ```

use std::process::ExitCode;

use serde_json::{json, Value};
use store::{Call, RecordedTest, Snapshot, TestOutcome, TreeLimits};

use crate::query::text::{count, counted, duration};
use crate::query::{call, json, tree, QueryError, Source};

/// Arguments of `tests`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// Only the tests that failed (or could not run), each with the call tree that led to it.
    #[arg(long)]
    pub failed: bool,
    /// The most top-level calls shown per test.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub roots: usize,
    /// Print the tests as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// The limits of the tree shown under a failed test: enough to see what led to the failure.
const FAILURE_TREE: TreeLimits = TreeLimits {
    depth: 6,
    children: 8,
    calls: 30,
};

/// Lists the tests; exits 1 when the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(list(args))
}

/// A test with what the report shows of it.
struct Shown {
    test: RecordedTest,
    roots: Vec<Call>,
    /// For a failed test: the top-level call whose tree led to the failure.
    culprit: Option<u64>,
}

fn list(args: &Args) -> Result<String, QueryError> {
    let snap = args.source.snapshot()?;
    let mut shown = Vec::new();
    for test in snap.tests()? {
        let failed = matches!(
            test.test.outcome,
            TestOutcome::Failed | TestOutcome::Invalid
        );
        if args.failed && !failed {
            continue;
        }
        let roots = match test.test.pid {
            Some(pid) => snap.test_roots(pid.get(), args.roots)?,
            None => Vec::new(),
        };
        let culprit = failed.then(|| culprit(&roots)).flatten();
        shown.push(Shown {
            test,
            roots,
            culprit,
        });
    }
    if args.json {
        return to_json(&shown, &snap);
    }
    if shown.is_empty() {
        return nothing_recorded(&snap, args.failed);
    }
    let mut lines = Vec::new();
    for s in &shown {
        lines.extend(test_lines(s, &snap)?);
    }
    lines.push(summary(&shown));
    Ok(lines.join("\n"))
}

/// The call that led to a failure: the last top-level call that raised, else the last one.
fn culprit(roots: &[Call]) -> Option<u64> {
    roots
        .iter()
        .rev()
        .find(|c| c.exception().is_some())
        .or(roots.last())
        .map(|c| c.id)
}

fn test_lines(s: &Shown, snap: &Snapshot) -> Result<Vec<String>, QueryError> {
    let t = &s.test.test;
    let mut lines = vec![format!("{:<7}  {}", t.outcome.as_str(), title(&s.test))];
    for root in &s.roots {
        lines.push(format!("  {}", call::line(root, None)));
    }
    if matches!(t.outcome, TestOutcome::Failed | TestOutcome::Invalid) {
        lines.extend(t.message.lines().map(|l| format!("    {l}")));
        if let Some(id) = s.culprit {
            if let Some(tree) = snap.tree(id, &FAILURE_TREE)? {
                lines.push(format!(
                    "  the calls that led to it (elixir-scope trace {id}):"
                ));
                lines.extend(tree::render(&tree, snap).iter().map(|l| format!("  {l}")));
            }
        }
    }
    Ok(lines)
}

/// `ShopTest: test pays (test/shop_test.exs:12, 3.4ms)`.
fn title(test: &RecordedTest) -> String {
    let t = &test.test;
    let module = t.module.strip_prefix("Elixir.").unwrap_or(&t.module);
    let file = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            std::path::Path::new(&t.file)
                .strip_prefix(cwd)
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| t.file.clone());
    let place = match (t.file.is_empty(), t.line) {
        (true, _) => String::new(),
        (false, 0) => format!("{file}, "),
        (false, line) => format!("{file}:{line}, "),
    };
    format!(
        "{module}: {} ({place}{})",
        t.name,
        duration(t.duration_us.saturating_mul(1000))
    )
}

fn summary(shown: &[Shown]) -> String {
    let outcomes = [
        TestOutcome::Passed,
        TestOutcome::Failed,
        TestOutcome::Skipped,
        TestOutcome::Excluded,
        TestOutcome::Invalid,
    ];
    let by: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let n = shown.iter().filter(|s| s.test.test.outcome == *o).count() as u64;
            (n > 0).then(|| format!("{} {}", count(n), o.as_str()))
        })
        .collect();
    format!(
        "{}: {}",
        counted(shown.len() as u64, "test", "tests"),
        by.join(", ")
    )
}

fn nothing_recorded(snap: &Snapshot, failed: bool) -> Result<String, QueryError> {
    let all = snap.tests()?.len();
    let run = snap.run().id;
    Ok(if all == 0 {
        format!(
            "Run {run} recorded no test: tests are recorded when `mix test` runs with the \
             compile alias of the README (it adds ElixirScope.ExUnitFormatter to ExUnit's \
             formatters)."
        )
    } else if failed {
        format!("No test failed in run {run} ({all} recorded: `elixir-scope tests` lists them).")
    } else {
        "No tests match.".to_string()
    })
}

fn to_json(shown: &[Shown], snap: &Snapshot) -> Result<String, QueryError> {
    let mut out = Vec::new();
    for s in shown {
        let t = &s.test.test;
        let tree = match s.culprit {
            Some(id) => snap
                .tree(id, &FAILURE_TREE)?
                .map(|tree| json::tree_json(&tree, snap)),
            None => None,
        };
        out.push(json!({
            "framework": t.framework.as_str(),
            "module": t.module,
            "name": t.name,
            "file": t.file,
            "line": t.line,
            "outcome": t.outcome.as_str(),
            "message": t.message,
            "duration_us": t.duration_us,
            "pid": t.pid.map(|p| tree::pid_text(snap, p.get())),
            "roots": s.roots.iter().map(|c| json::call_json(c, snap)).collect::<Vec<Value>>(),
            "failure_tree": tree,
        }));
    }
    Ok(Value::Array(out).to_string())
}
