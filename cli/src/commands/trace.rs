//! `elixir-scope trace [--db PATH] [--run N | --node NAME [--cookie C] [--cluster]] CALL_ID
//! [--depth D] [--children C] [--calls N] [--json]`: the call tree under a call, folded like
//! `ElixirScope.show_trace/2` folds it, with what other nodes of a cluster did for its calls.

use std::process::ExitCode;

use store::TreeLimits;

use crate::query::filter::at_least_one;
use crate::query::{db, json, tree, QueryError, Source};

/// Arguments of `trace`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// The call whose tree to show (the ID column of `elixir-scope calls`).
    #[arg(value_name = "CALL_ID")]
    pub call: u64,
    /// Levels shown below the call; deeper calls are folded into a count.
    #[arg(long, value_name = "D", default_value_t = TreeLimits::DEFAULT.depth)]
    pub depth: u32,
    /// Children shown per call (at least 1); the middle of longer lists is folded into a count.
    #[arg(long, value_name = "C", default_value_t = TreeLimits::DEFAULT.children,
          value_parser = at_least_one)]
    pub children: usize,
    /// Calls shown in all (at least 1), handed out level by level.
    #[arg(long, value_name = "N", default_value_t = TreeLimits::DEFAULT.calls,
          value_parser = at_least_one)]
    pub calls: usize,
    /// Print the tree as JSON: its lines in order, each a call or a fold with its depth.
    #[arg(long)]
    pub json: bool,
}

/// Prints the tree; exits 1 when the call is not in the run or the recording cannot be read.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(show(args))
}

fn show(args: &Args) -> Result<String, QueryError> {
    // The call's run first, with the runs of the other nodes of its cluster: those given by
    // --cluster, else those that recorded into the same store meanwhile.
    let cluster = args.source.cluster()?;
    let snap = &cluster.snapshots()[0];
    db::call(snap, args.call)?;
    let limits = TreeLimits {
        depth: args.depth,
        children: args.children,
        calls: args.calls,
    };
    let Some(tree) = cluster.tree(0, args.call, &limits)? else {
        return Err(db::no_such_call(snap, args.call)?);
    };
    if args.json {
        return Ok(json::cluster_tree_json(&tree, snap, &cluster).to_string());
    }
    Ok(tree::render(&tree, snap).join("\n"))
}
