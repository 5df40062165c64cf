//! Calls, folds and trees as JSON (`--json`): values printed as text in their module's style.

use serde_json::{json, Value};
use store::{
    Call, CauseKind, Cluster, Fold, MessageLine, OriginKind, Outcome, Snapshot, Tree, TreeItem,
};

use crate::call;
use crate::text::rfc3339;
use crate::tree::{self, pid_text};

/// A call: ids, process, function, arguments and result as text, times.
pub fn call_json(c: &Call, snap: &Snapshot) -> Value {
    let style = call::style(c);
    let info = &snap.run().info;
    let args: Vec<String> = match term::decode(&c.args) {
        Ok(args) => call::argument_texts(&args, style),
        Err(e) => vec![format!("<undecodable arguments: {e}>")],
    };
    let (outcome, result, exception) = match &c.end {
        None => ("running", Value::Null, Value::Null),
        Some(end) => match end.outcome {
            Outcome::Return => (
                "return",
                Value::String(term::value(&end.value, style)),
                Value::Null,
            ),
            Outcome::Exception(class) => (
                class.as_str(),
                Value::Null,
                Value::String(call::exception_text(&end.value, class, style)),
            ),
        },
    };
    json!({
        "run": snap.run().id,
        "node": info.node,
        "id": c.id,
        "parent": c.parent,
        "pid": pid_text(snap, c.pid),
        "module": c.module,
        "function": c.function,
        "arity": c.arity,
        "mfa": style.mfa(&c.module, &c.function, c.arity),
        "args": args,
        "outcome": outcome,
        "result": result,
        "exception": exception,
        "start": rfc3339(info.unix_ns(c.start)),
        "start_unix_ns": info.unix_ns(c.start),
        "duration_ns": c.duration_ns(),
        "tail_calls": c.end.as_ref().map_or(0, |e| e.tail_calls),
        "scheduler": c.scheduler,
        "line": call::line(c, None),
    })
}

/// A fold: why, which children, how many calls, and their functions.
pub fn fold_json(f: &Fold) -> Value {
    let functions: Vec<Value> = f
        .functions
        .iter()
        .map(|fc| {
            json!({
                "module": fc.module,
                "function": fc.function,
                "arity": fc.arity,
                "mfa": term::Style::of_module(&fc.module).mfa(&fc.module, &fc.function, fc.arity),
                "calls": fc.calls,
            })
        })
        .collect();
    json!({
        "reason": f.reason.as_str(),
        "parent": f.parent,
        "first": f.first,
        "last": f.last,
        "children": f.children,
        "calls": f.calls,
        "functions": functions,
        "more_functions": f.more_functions,
        "sampled": f.sampled,
    })
}

/// A message a call sent: how, to whom (`node`: the receiver's, when it is another node's),
/// what (in the sender's `style`), and the call that received it when known (of `node`'s
/// run).
pub fn message_json(line: &MessageLine, style: term::Style) -> Value {
    let m = &line.message;
    json!({
        "sender": m.call_id,
        "kind": m.kind.as_str(),
        "delay_ms": m.delay_ms,
        "target": tree::target_text(line, style),
        "receiver": line.receiver_text,
        "node": line.node,
        "message": term::value(&m.message, style),
        "received_by": line.received_by,
        "line": tree::message_text(line, style),
    })
}

/// A tree: its lines in display order, each with its depth and a call, a fold, a process the
/// parent line's call started, or a request it waited for.
pub fn tree_json(tree: &Tree, snap: &Snapshot) -> Value {
    tree_json_in(tree, snap, &|_| None)
}

/// A tree of a cluster (`store::Cluster::tree`) whose root is a call of `snap`'s run: the
/// calls of other nodes are read in their runs, among `cluster`'s.
pub fn cluster_tree_json(tree: &Tree, snap: &Snapshot, cluster: &Cluster) -> Value {
    tree_json_in(tree, snap, &|node| {
        cluster.run_of(node).map(|i| &cluster.snapshots()[i])
    })
}

/// A tree; `run_of` gives the run of another node's lines.
fn tree_json_in<'s>(
    tree: &Tree,
    snap: &'s Snapshot,
    run_of: &dyn Fn(&str) -> Option<&'s Snapshot>,
) -> Value {
    let of = |node: &Option<String>| node.as_deref().and_then(run_of).unwrap_or(snap);
    // The style of the call shown at each depth: a message is printed in its sender's.
    let mut styles: Vec<term::Style> = Vec::new();
    let lines: Vec<Value> = tree
        .lines
        .iter()
        .map(|line| match &line.item {
            TreeItem::Call(c) => {
                styles.truncate(line.depth as usize);
                styles.push(call::style(c));
                json!({ "depth": line.depth, "call": call_json(c, snap) })
            }
            TreeItem::Message(m) => {
                let style = (line.depth as usize)
                    .checked_sub(1)
                    .and_then(|d| styles.get(d))
                    .copied()
                    .unwrap_or(term::Style::Elixir);
                json!({ "depth": line.depth, "message": message_json(m, style) })
            }
            TreeItem::Fold(f) => json!({ "depth": line.depth, "fold": fold_json(f) }),
            TreeItem::Process(p) => json!({
                "depth": line.depth,
                "process": {
                    "node": p.node,
                    "pid": p.text,
                    "origin": match p.kind {
                        OriginKind::Caller => "caller",
                        OriginKind::Ancestor => "ancestor",
                    },
                    "first": call_json(&p.first, of(&p.node)),
                },
            }),
            TreeItem::Request(r) => json!({
                "depth": line.depth,
                "request": {
                    "node": r.node,
                    "pid": r.text,
                    "served_by": call_json(&r.call, of(&r.node)),
                },
            }),
        })
        .collect();
    let cause = tree.cause.as_ref().map(|c| {
        json!({
            "kind": match c.kind {
                CauseKind::Request => "request",
                CauseKind::Started(OriginKind::Caller) => "caller",
                CauseKind::Started(OriginKind::Ancestor) => "ancestor",
                CauseKind::Message(how) => how.as_str(),
            },
            "node": c.node,
            "pid": c.text,
            "call": call_json(&c.call, of(&c.node)),
        })
    });
    json!({
        "run": snap.run().id,
        "calls": tree.calls,
        "shown": tree.shown,
        "cause": cause,
        "lines": lines,
    })
}
