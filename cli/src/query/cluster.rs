//! The runs of a cluster's nodes, read together (`store::Cluster`).
//!
//! Nodes that share a project directory record into one store, each into its own run named
//! after its node: [`peers_in_store`] finds, for a run of a distributed node, the runs of the
//! other nodes that recorded at the same time, so that a tree shows what other nodes did for
//! its calls without any option. Nodes elsewhere are reached over Erlang distribution
//! ([`fetch_runs`]: `--node NAME --cookie C [--cluster]`).

use std::path::PathBuf;
use std::process::Stdio;

use store::{Run, Snapshot, StoreReader};
use toolchain::Tool;

use super::db::QueryError;
use crate::bundle;
use crate::commands::attach::{self, Target, CONNECT};

/// The name a VM has before it is a node: its runs belong to no cluster.
pub const NO_NODE: &str = "nonode@nohost";

/// For the run of `snap`, when it is a node's: the runs of the store that other nodes
/// recorded while it did (see [`peer_runs`]).
pub fn peers_in_store(store: &StoreReader, snap: &Snapshot) -> Result<Vec<Snapshot>, QueryError> {
    peer_runs(&store.runs()?, snap.run())
        .into_iter()
        .map(|id| Ok(store.snapshot(Some(id))?))
        .collect()
}

/// Among `runs`, those other nodes recorded while `mine` did (for each node, its latest such
/// run), oldest first; none when `mine` is not a node's.
pub fn peer_runs(runs: &[Run], mine: &Run) -> Vec<u64> {
    if mine.info.node == NO_NODE {
        return Vec::new();
    }
    let mut latest: Vec<&Run> = Vec::new();
    for run in runs {
        if run.id == mine.id
            || run.info.node == NO_NODE
            || run.info.node == mine.info.node
            || !overlap(run, mine)
        {
            continue;
        }
        match latest.iter_mut().find(|r| r.info.node == run.info.node) {
            Some(known) if known.id < run.id => *known = run,
            Some(_) => {}
            None => latest.push(run),
        }
    }
    let mut ids: Vec<u64> = latest.into_iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids
}

/// Whether two runs recorded at the same time (on the wall clock; a run without a summary,
/// live or killed, is taken to go on).
pub fn overlap(a: &Run, b: &Run) -> bool {
    let end = |r: &Run| r.summary.map_or(u64::MAX, |s| s.ended_unix_ns);
    a.info.started_unix_ns <= end(b) && b.info.started_unix_ns <= end(a)
}

/// A node's run found over Erlang distribution: the store that holds it here (the node's own,
/// when this machine reads it, else a mirror) and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRun {
    /// The node.
    pub node: String,
    /// The store directory holding its run, on this machine.
    pub store: PathBuf,
    /// The run's number in that store.
    pub run: u64,
}

/// Reaches `target` over Erlang distribution as a hidden node (the attach command's helper,
/// with the runtime bundle on its code path for `elixir_scope_cluster`) and gets the run it
/// records now, and when `cluster` those of every node it is connected to: each node's store
/// is read where it is when this machine sees the same files (nodes sharing a project
/// directory), else its sealed segments are copied into a mirror under
/// `$XDG_CACHE_HOME/elixir-scope/cluster/NODE` (only the segments the mirror lacks: sealed
/// segments never change). Nodes that cannot answer are named on standard error and left out.
/// With `copy`, runs this machine could read in place are copied too.
pub fn fetch_runs(target: &Target, cluster: bool, copy: bool) -> Result<Vec<NodeRun>, QueryError> {
    attach::check_node(&target.node).map_err(cluster_error)?;
    let runtime = attach::runtime_dir(None).map_err(cluster_error)?;
    let mirror = cache_dir()?.join("elixir-scope").join("cluster");
    let script = format!(
        "{CONNECT} elixir_scope_cluster:fetch(Target, #{{cluster => {cluster}, copy => {copy}}}, \
         {mirror}), halt(0).",
        mirror = bundle::erlang_chars(&mirror),
    );
    let output = attach::hidden_node(target, &script, Some(&runtime))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| QueryError::Cluster(toolchain::not_started(Tool::Erl, e).to_string()))?;
    if !output.status.success() {
        return Err(QueryError::Cluster(format!(
            "{}: the cluster could not be read (said above)",
            target.node
        )));
    }
    let mut runs = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["elixir-scope", "run", node, run, store] => {
                let (Ok(run), Some(store)) = (run.parse::<u64>(), decoded(store)) else {
                    continue;
                };
                runs.push(NodeRun {
                    node: node.to_string(),
                    store: PathBuf::from(store),
                    run,
                });
            }
            ["elixir-scope", "skip", node, why] => {
                let why = decoded(why).unwrap_or_default();
                eprintln!("{node}: left out: {why}");
            }
            _ => {}
        }
    }
    if runs.is_empty() {
        return Err(QueryError::Cluster(format!(
            "{}: no node answered with a recording",
            target.node
        )));
    }
    Ok(runs)
}

fn cluster_error(e: attach::AttachError) -> QueryError {
    QueryError::Cluster(e.to_string())
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_dir() -> Result<PathBuf, QueryError> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| {
            QueryError::Cluster(
                "no cache directory for copies of other machines' runs ($XDG_CACHE_HOME and \
                 $HOME are unset)"
                    .to_string(),
            )
        })
}

/// Base64 of UTF-8, as `elixir_scope_cluster:fetch/3` writes paths and reasons.
fn decoded(text: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_back() {
        // What Erlang's base64:encode(<<"/tmp/é\tx">>) gives.
        assert_eq!(decoded("L3RtcC/DqQl4").as_deref(), Some("/tmp/é\tx"));
        assert_eq!(decoded("not base64!"), None);
    }
}
