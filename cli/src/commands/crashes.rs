//! `elixir-scope crashes [--db PATH] [--run N | --node NAME [--cookie C] [--cluster]]
//! [--limit N] [--json]`: the processes of a run that crashed, each with its exit reason, the
//! call that started it, the calls of other processes that received news of its end (`EXIT`,
//! `DOWN`), the process that replaced it (a supervisor's restart), and the tree of what it did
//! last (with what other nodes of its cluster did for it: the call of another node whose
//! request or message it was handling). With `--cluster`, every node's crashes, each node's
//! under its run's title.
//!
//! ```text
//! crashed  <0.160.0> at 14:02:11.530: ** (ArgumentError) cannot work -1
//!   started by <0.150.0> (spawned) #40 Lives.Sup.init(:ok) → {:ok, …} (21µs)
//!   DOWN received by <0.170.0> #57 Lives.Watcher.handle_info({:DOWN, …}, nil) → … (3µs)
//!   restarted as <0.171.0> #58 Lives.Worker.init(:ok) → {:ok, 0} (1.1µs)
//!   what led to it (elixir-scope trace 52):
//!   ⇠ sent by <0.96.0> (cast) #51 Lives.Worker.work(-1) → :ok (2.0µs)
//!   #52 Lives.Worker.handle_cast({:work, -1}, 3) ** (ArgumentError) cannot work -1 (40µs, <0.160.0>)
//!   then #53 Lives.Worker.terminate({%ArgumentError{…}, […]}, 3) → :ok (1.5µs)
//! 1 crash of 12 processes that ended
//! ```

use std::process::ExitCode;

use serde_json::{json, Value};
use store::{Class, Cluster, Crash, Snapshot, TreeLimits};

use crate::query::text::{clock, counted, rfc3339};
use crate::query::{call, json, tree, QueryError, Source};

/// Arguments of `crashes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// The most crashes shown (the first ones of the run; of each node's run with --cluster).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = crate::query::filter::at_least_one)]
    pub limit: usize,
    /// Print the crashes as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// The limits of the tree of what a crashed process did last.
const LAST_CALLS: TreeLimits = TreeLimits {
    depth: 6,
    children: 8,
    calls: 30,
};

/// Lists the crashes; exits 1 when the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(list(args))
}

fn list(args: &Args) -> Result<String, QueryError> {
    // The run first, with the runs of the other nodes of its cluster (its trees cross nodes);
    // with --cluster each node's crashes are listed.
    let cluster = args.source.cluster()?;
    let listed = if args.source.is_cluster() {
        cluster.snapshots().len()
    } else {
        1
    };
    let mut found = Vec::with_capacity(listed);
    for snap in &cluster.snapshots()[..listed] {
        found.push(snap.crashes(args.limit)?);
    }
    if args.json {
        return to_json(&found, &cluster);
    }
    let mut out = Vec::new();
    for (at, crashes) in found.iter().enumerate() {
        let snap = &cluster.snapshots()[at];
        if listed > 1 {
            if !out.is_empty() {
                out.push(String::new());
            }
            out.push(crate::query::table::run_title(snap));
        }
        let ended = snap.exits()?.len() as u64;
        if crashes.is_empty() {
            out.push(format!(
                "No process crashed in run {} ({} ended).",
                snap.run().id,
                counted(
                    ended,
                    "process that recorded calls",
                    "processes that recorded calls"
                )
            ));
            continue;
        }
        for crash in crashes {
            out.extend(crash_lines(crash, &cluster, at)?);
        }
        out.push(format!(
            "{} of {} that ended",
            counted(crashes.len() as u64, "crash", "crashes"),
            counted(ended, "process", "processes")
        ));
    }
    Ok(out.join("\n"))
}

/// `** (ArgumentError) cannot work -1` for a process that exited with an error and its stack
/// trace (`{Reason, Stacktrace}`), `** (exit) killed` for other reasons; for a reason nobody
/// knows, the exception of the culprit call.
pub fn reason_text(crash: &Crash) -> String {
    let Some(reason) = &crash.end.reason else {
        return match crash.culprit.as_ref() {
            Some(c) => match (&c.end, c.exception()) {
                (Some(end), Some(class)) => format!(
                    "{} (its call's: the process ended before it was watched)",
                    call::exception_text(&end.value, class, call::style(c))
                ),
                _ => UNKNOWN.to_string(),
            },
            None => UNKNOWN.to_string(),
        };
    };
    let errored = matches!(
        term::decode(reason),
        Ok(eetf::Term::Tuple(t)) if t.elements.len() == 2
            && matches!(t.elements[1], eetf::Term::List(_))
    );
    let class = if errored { Class::Error } else { Class::Exit };
    if errored {
        call::exception_text(reason, class, term::Style::Elixir)
    } else {
        // The whole reason: `exception_text` would take the first of a pair.
        format!(
            "** {}",
            crate::query::text::shorten(
                &term::decode(reason)
                    .map(|r| term::banner(&r, "exit", term::Style::Elixir))
                    .unwrap_or_else(|e| format!("(exit) <undecodable: {e}>")),
                crate::query::text::VALUE_WIDTH
            )
        )
    }
}

/// What a crash whose reason and calls say nothing reads as.
const UNKNOWN: &str = "an unknown reason (it ended before it was watched)";

fn crash_lines(crash: &Crash, cluster: &Cluster, run: usize) -> Result<Vec<String>, QueryError> {
    let snap = &cluster.snapshots()[run];
    let at = clock(snap.run().info.unix_ns(crash.end.time));
    let mut lines = vec![format!(
        "crashed  {} at {at}: {}",
        crash.text,
        reason_text(crash)
    )];
    if let (Some(origin), Some(by)) = (&crash.origin, &crash.started_by) {
        let how = match origin.kind {
            store::OriginKind::Caller => "task",
            store::OriginKind::Ancestor => "spawned",
        };
        lines.push(format!(
            "  started by {} ({how}) {}",
            origin.text,
            call::line(by, None)
        ));
    } else if let Some(origin) = &crash.origin {
        lines.push(format!("  started by {}", origin.text));
    }
    for notice in &crash.notices {
        lines.push(format!(
            "  {} received by {} {}",
            notice.kind.as_str(),
            notice.text,
            call::line(&notice.call, None)
        ));
    }
    if let Some((text, first)) = &crash.restart {
        lines.push(format!("  restarted as {text} {}", call::line(first, None)));
    }
    if let Some(root) = &crash.culprit {
        if let Some(tree) = cluster.tree(run, root.id, &LAST_CALLS)? {
            lines.push(format!(
                "  what led to it (elixir-scope trace {}):",
                root.id
            ));
            lines.extend(tree::render(&tree, snap).iter().map(|l| format!("  {l}")));
        }
    }
    for later in &crash.later {
        lines.push(format!("  then {}", call::line(later, None)));
    }
    Ok(lines)
}

/// Each run's crashes (`found[i]` of the cluster's run `i`), as one JSON array; each crash
/// names its node.
fn to_json(found: &[Vec<Crash>], cluster: &Cluster) -> Result<String, QueryError> {
    let mut out = Vec::new();
    for (run, crashes) in found.iter().enumerate() {
        let snap = &cluster.snapshots()[run];
        for crash in crashes {
            out.push(crash_json(crash, snap, cluster, run)?);
        }
    }
    Ok(Value::Array(out).to_string())
}

fn crash_json(
    crash: &Crash,
    snap: &Snapshot,
    cluster: &Cluster,
    run: usize,
) -> Result<Value, QueryError> {
    let info = &snap.run().info;
    let tree = match &crash.culprit {
        Some(root) => cluster
            .tree(run, root.id, &LAST_CALLS)?
            .map(|tree| json::cluster_tree_json(&tree, snap, cluster)),
        None => None,
    };
    let notices: Vec<Value> = crash
        .notices
        .iter()
        .map(|n| {
            json!({
                "kind": n.kind.as_str(),
                "pid": n.text,
                "call": json::call_json(&n.call, snap),
            })
        })
        .collect();
    Ok(json!({
        "node": info.node,
        "run": snap.run().id,
        "pid": crash.text,
        "ended": rfc3339(info.unix_ns(crash.end.time)),
        "ended_unix_ns": info.unix_ns(crash.end.time),
        "reason": crash.end.reason.as_ref().map(|r| term::value(r, term::Style::Elixir)),
        "reason_known": crash.end.reason.is_some(),
        "banner": reason_text(crash),
        "origin": crash.origin.as_ref().map(|o| o.text.clone()),
        "started_by": crash.started_by.as_ref().map(|c| json::call_json(c, snap)),
        "notices": notices,
        "restart": crash.restart.as_ref().map(|(text, first)| json!({
            "pid": text,
            "first": json::call_json(first, snap),
        })),
        "culprit": crash.culprit.as_ref().map(|c| c.id),
        "tree": tree,
        "later": crash.later.iter().map(|c| json::call_json(c, snap)).collect::<Vec<Value>>(),
    }))
}
