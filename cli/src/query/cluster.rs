//! The runs of a cluster's nodes, read together (`store::Cluster`).
//!
//! Nodes that share a project directory record into one store, each into its own run named
//! after its node: [`peers_in_store`] finds, for a run of a distributed node, the runs of the
//! other nodes that recorded at the same time, so that a tree shows what other nodes did for
//! its calls without any option.

use store::{Run, Snapshot, StoreReader};

use super::db::QueryError;

/// The name a VM has before it is a node: its runs belong to no cluster.
pub const NO_NODE: &str = "nonode@nohost";

/// For the run of `snap`, when it is a node's: the runs of the store that other nodes
/// recorded while it did (for each node, its latest such run), oldest first.
pub fn peers_in_store(store: &StoreReader, snap: &Snapshot) -> Result<Vec<Snapshot>, QueryError> {
    let mine = snap.run();
    if mine.info.node == NO_NODE {
        return Ok(Vec::new());
    }
    let mut latest: Vec<Run> = Vec::new();
    for run in store.runs()? {
        if run.id == mine.id
            || run.info.node == NO_NODE
            || run.info.node == mine.info.node
            || !overlap(&run, mine)
        {
            continue;
        }
        match latest.iter_mut().find(|r| r.info.node == run.info.node) {
            Some(known) if known.id < run.id => *known = run,
            Some(_) => {}
            None => latest.push(run),
        }
    }
    latest.sort_by_key(|r| r.id);
    latest
        .into_iter()
        .map(|r| Ok(store.snapshot(Some(r.id))?))
        .collect()
}

/// Whether two runs recorded at the same time (on the wall clock; a run without a summary,
/// live or killed, is taken to go on).
pub fn overlap(a: &Run, b: &Run) -> bool {
    let end = |r: &Run| r.summary.map_or(u64::MAX, |s| s.ended_unix_ns);
    a.info.started_unix_ns <= end(b) && b.info.started_unix_ns <= end(a)
}
