//! Runs of several nodes read together: the links between calls of different nodes of a
//! cluster.
//!
//! Each node records into its own run. A link that crosses nodes is recorded on one side only,
//! the side where the BEAM hands over the other's pid: a `handle_call/3` whose `From` names a
//! process of another node records that client, a process whose `$callers` or `$ancestors`
//! head is on another node (a Task started there) records that origin, and a message sent to
//! a pid of another node records that receiver. Such a pid is stored as its
//! [`crate::remote_key`] (a hash of its node and of its text as its node prints it) in place of
//! a local pid's word, and the run names the key ([`crate::RemoteProcess`]). So:
//!
//! - from the serving side, [`Snapshot::remote_client`] and [`Snapshot::remote_origin`] name
//!   the process of the other node;
//! - from the client side, the requests one of its processes made are found in the other
//!   node's run by computing that process's key ([`Snapshot::requests_from`],
//!   [`Snapshot::started_from`]): the `served` and `started` indexes are keyed by it;
//! - a message is matched as within one run (see [`crate::messages`]), across runs: the sends
//!   of the other runs to the receiving process's key (the `mailbox` index is keyed by
//!   receiver and message hash) against the receipts of equal messages that no send of the
//!   receiver's own run took, times through the wall clock ([`Cluster::deliveries`]). A
//!   message to a *name* on another node (`{Name, Node}`, `GenServer.cast({Name, node}, _)`)
//!   names no pid when it is sent: it is linked through a key of the node and the name, and
//!   the receiving run knows the name each process was registered under at its first call
//!   ([`crate::Process::name`]); a process takes what was sent to its name from its first
//!   call on.
//!
//! Which call of the client waited is then found as for a request within one node: the
//! innermost call of the client process running when the serving call started
//! ([`Snapshot::running_at`]); the client process is blocked in `gen:do_call` for the whole
//! request, so no other call of it starts meanwhile. The two runs' times are compared through
//! the wall clock each run anchored at its start ([`Cluster::convert`]): on one machine both
//! runs' clocks are `CLOCK_MONOTONIC` (the anchors agree to a few microseconds, the VMs' fast
//! clocks drift apart by about 1 ppm); across machines the clocks agree as well as NTP keeps
//! them. A client call that ends or starts within that error of the request can be taken for
//! the one that waited; a request whose time falls in no call of the client is left out.
//!
//! A [`Cluster`] is one snapshot per node; [`Cluster::tree`] is a node's call tree with what
//! other nodes did for it, [`Cluster::requests`] every request across nodes and
//! [`Cluster::started`] every process started from another node (for exports).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::error::Result;
use crate::event::{is_name_text, is_remote_key, OriginKind, RemoteProcess, SendKind};
use crate::index::Select;
use crate::messages::{self, Mail};
use crate::model::{Call, Process, RunInfo};
use crate::query::Snapshot;
use crate::query_tree::{
    Cause, CauseKind, ServedRequest, StartedProcess, Tree, TreeItem, TreeLimits, TreeLine,
};
use crate::segment::{SERVED, STARTED};

/// The most links of one kind a tree looks for in one other run.
const MOST_LINKS: usize = 10_000;

impl Snapshot {
    /// The process of another node whose request call `id` served, when it served one.
    pub fn remote_client(&self, id: u64) -> Result<Option<RemoteProcess>> {
        match self.index.client_of(id)? {
            Some(key) if is_remote_key(key) => self.index.remote_process(key),
            _ => Ok(None),
        }
    }

    /// The process of another node that process `pid` came from (`$callers` or
    /// `$ancestors`), when it came from one.
    pub fn remote_origin(&self, pid: u64) -> Result<Option<(OriginKind, RemoteProcess)>> {
        let Some(origin) = self.process(pid)?.and_then(|p| p.origin) else {
            return Ok(None);
        };
        if !is_remote_key(origin.pid) {
            return Ok(None);
        }
        Ok(self
            .index
            .remote_process(origin.pid)?
            .map(|remote| (origin.kind, remote)))
    }

    /// The calls of this run that served requests of `client` (a process of another node)
    /// and started from `from` to `to` (this run's clock), at most `most`, in start order.
    pub fn requests_from(
        &self,
        client: &RemoteProcess,
        from: u64,
        to: u64,
        most: usize,
    ) -> Result<Vec<Call>> {
        self.linked_from(SERVED, client, from, to, most)
    }

    /// The processes of this run that came from `origin` (a process of another node: a Task
    /// it started here, through `Task.Supervisor` for instance) whose first call started from
    /// `from` to `to` (this run's clock), at most `most`, with their first calls.
    pub fn started_from(
        &self,
        origin: &RemoteProcess,
        from: u64,
        to: u64,
        most: usize,
    ) -> Result<Vec<(Process, Call)>> {
        let mut out = Vec::new();
        for first in self.linked_from(STARTED, origin, from, to, most)? {
            if let Some(process) = self.process(first.pid)? {
                out.push((process, first));
            }
        }
        Ok(out)
    }

    /// The calls of a `key << 64 | call` index under `remote`'s key that started from `from`
    /// to `to`.
    fn linked_from(
        &self,
        index: redb::TableDefinition<'static, u128, u64>,
        remote: &RemoteProcess,
        from: u64,
        to: u64,
        most: usize,
    ) -> Result<Vec<Call>> {
        let (lo, hi) = self.id_bounds(Some(from), Some(to))?;
        if lo > hi {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (id, _) in self.index.links(index, remote.key(), lo, hi, usize::MAX)? {
            let Some(call) = self.call(id)? else { continue };
            if (from..=to).contains(&call.start) {
                out.push(call);
                if out.len() >= most {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The innermost call of process `pid` that was running at `time` (this run's clock):
    /// its last call that started by then, or the nearest of that call's ancestors still
    /// running then.
    pub fn running_at(&self, pid: u64, time: u64) -> Result<Option<Call>> {
        // Calls start in about id order: none that started by `time` has an id past this.
        let (_, hi) = self.id_bounds(None, Some(time))?;
        let mut last = None;
        for at in self.index.heads(Select::Pid(pid), 0, hi, false)? {
            let at = at?;
            if at.head().start <= time {
                last = Some(self.call_at(&at)?);
                break;
            }
        }
        let mut next = last;
        while let Some(candidate) = next {
            if candidate.end.as_ref().is_none_or(|e| e.time >= time) {
                return Ok(Some(candidate));
            }
            next = match candidate.parent {
                Some(parent) => self.call(parent)?,
                None => None,
            };
        }
        Ok(None)
    }

    /// The processes registered under `name` at their first call, in the order they started.
    pub fn processes_named(&self, name: &str) -> Result<Vec<Process>> {
        let mut named: Vec<Process> = self
            .processes()?
            .into_iter()
            .filter(|p| p.name.as_deref() == Some(name))
            .collect();
        named.sort_by_key(|p| p.first_call);
        Ok(named)
    }

    /// The process whose pid this run printed as `text` (`<0.120.0>`), or, for a name
    /// (`Elixir.Shop.Inventory`), the last process registered under it at its first call.
    pub fn process_named(&self, text: &str) -> Result<Option<Process>> {
        let processes = self.processes()?;
        if !is_name_text(text) {
            return Ok(processes.into_iter().find(|p| p.text == text));
        }
        Ok(processes
            .into_iter()
            .filter(|p| p.name.as_deref() == Some(text))
            .max_by_key(|p| p.first_call))
    }
}

/// A request that crossed nodes: a call of one run waited for a call of another run that
/// served it (see [`Cluster::requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossRequest {
    /// The client's run, as an index into [`Cluster::snapshots`].
    pub client_run: usize,
    /// The client's call that waited.
    pub waiting: Call,
    /// The server's run.
    pub server_run: usize,
    /// The call that served the request.
    pub serving: Call,
}

/// A process one node started from another: the call of one run that was running when a
/// process of another run, which came from its process (`$callers` or `$ancestors` on
/// another node: a Task started there), made its first call (see [`Cluster::started`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossStart {
    /// The origin's run, as an index into [`Cluster::snapshots`].
    pub origin_run: usize,
    /// The origin's call that was running.
    pub origin: Call,
    /// How the process is linked to its origin.
    pub kind: OriginKind,
    /// The process's run.
    pub run: usize,
    /// The process's first call.
    pub first: Call,
}

/// A message that crossed nodes: a call of one run sent it to a process of another run, whose
/// call received it (see [`Cluster::messages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossMessage {
    /// The sender's run, as an index into [`Cluster::snapshots`].
    pub sender_run: usize,
    /// The call that sent it.
    pub sender: Call,
    /// Its number among its run's sends.
    pub n: u64,
    /// When it was sent (the sender's run's clock).
    pub sent: u64,
    /// How it was sent.
    pub kind: SendKind,
    /// The receiver's run.
    pub receiver_run: usize,
    /// The call that received it.
    pub receipt: Call,
}

/// A message from another run matched with the call of a process that received it (see
/// [`Cluster::deliveries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's run, as an index into [`Cluster::snapshots`].
    pub sender_run: usize,
    /// The call that sent it (of the sender's run).
    pub sender: u64,
    /// Its number among its run's sends.
    pub n: u64,
    /// When it was sent (the sender's run's clock).
    pub sent: u64,
    /// The call that received it (of the receiver's run).
    pub receipt: u64,
}

/// One run per node of a cluster, read together: call trees and requests that cross nodes.
/// The runs come from one store (nodes that share a project directory) or from several (a
/// copy of each node's run); what links them is the nodes' names.
pub struct Cluster {
    snapshots: Vec<Snapshot>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.snapshots.iter().map(|s| &s.run().info.node))
            .finish()
    }
}

impl Cluster {
    /// The cluster of these runs (one per node: when two share a node's name, the first is
    /// the one links lead to).
    pub fn new(snapshots: Vec<Snapshot>) -> Cluster {
        Cluster { snapshots }
    }

    /// The runs, in the order given.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }

    /// The run of node `node`.
    pub fn run_of(&self, node: &str) -> Option<usize> {
        self.snapshots
            .iter()
            .position(|s| s.run().info.node == node)
    }

    /// `time` of the run described by `from` on the clock of the run described by `to`:
    /// through the wall-clock instant each run anchored at its start.
    pub fn convert(from: &RunInfo, to: &RunInfo, time: u64) -> u64 {
        to.monotonic_ns(from.unix_ns(time))
    }

    /// The tree under call `id` of run `at` (see [`Snapshot::tree`]), with what other nodes
    /// did for it: under each shown call, the requests it made that calls of other nodes
    /// served and the processes it started there, and, as the tree's cause, the call of
    /// another node it serves a request of or whose process started its own. `None` when the
    /// run has no such call.
    pub fn tree(&self, at: usize, id: u64, limits: &TreeLimits) -> Result<Option<Tree>> {
        let snap = &self.snapshots[at];
        let Some(mut tree) = snap.tree(id, limits)? else {
            return Ok(None);
        };
        let Some(TreeItem::Call(root)) = tree.lines.first().map(|l| l.item.clone()) else {
            return Ok(Some(tree));
        };
        if tree.cause.is_none() {
            tree.cause = self.remote_cause(at, &root)?;
        }
        let Some(process) = snap.process(root.pid)? else {
            return Ok(Some(tree));
        };
        let me = RemoteProcess {
            node: snap.run().info.node.clone(),
            text: process.text,
        };
        let info = &snap.run().info;
        // While the root ran: to its end, or to the last event of the run when it did not end.
        let until = root.end.as_ref().map_or(u64::MAX, |e| e.time);
        let mut links: Vec<(u64, TreeItem)> = Vec::new();
        for (other, theirs) in self.snapshots.iter().enumerate() {
            if other == at || theirs.run().info.node == me.node {
                continue;
            }
            let their = &theirs.run().info;
            let from = Cluster::convert(info, their, root.start);
            let to = if until == u64::MAX {
                u64::MAX
            } else {
                Cluster::convert(info, their, until)
            };
            for call in theirs.requests_from(&me, from, to, MOST_LINKS)? {
                let text = theirs
                    .process(call.pid)?
                    .map_or_else(|| "<unknown>".to_string(), |p| p.text);
                links.push((
                    Cluster::convert(their, info, call.start),
                    TreeItem::Request(ServedRequest {
                        node: Some(their.node.clone()),
                        pid: call.pid,
                        text,
                        call,
                    }),
                ));
            }
            for (started, first) in theirs.started_from(&me, from, to, MOST_LINKS)? {
                let Some(kind) = started.origin.as_ref().map(|o| o.kind) else {
                    continue;
                };
                links.push((
                    Cluster::convert(their, info, first.start),
                    TreeItem::Process(StartedProcess {
                        node: Some(their.node.clone()),
                        pid: started.pid,
                        text: started.text,
                        kind,
                        first,
                    }),
                ));
            }
        }
        links.sort_by_key(|(time, _)| *time);
        for (time, item) in links {
            let Some(waiting) = snap.running_at(root.pid, time)? else {
                continue;
            };
            place_under(&mut tree, waiting.id, item);
        }
        self.receive_remote_messages(at, &mut tree)?;
        Ok(Some(tree))
    }

    /// Fills in, for the messages of a tree of run `at` sent to processes of other nodes, the
    /// calls that received them.
    fn receive_remote_messages(&self, at: usize, tree: &mut Tree) -> Result<()> {
        for line in &mut tree.lines {
            let TreeItem::Message(line) = &mut line.item else {
                continue;
            };
            let (Some(node), Some(text)) = (&line.node, &line.receiver_text) else {
                continue;
            };
            let Some(theirs) = self.run_of(node) else {
                continue;
            };
            let candidates = if is_name_text(text) {
                self.snapshots[theirs].processes_named(text)?
            } else {
                self.snapshots[theirs]
                    .process_named(text)?
                    .into_iter()
                    .collect()
            };
            let sent = &line.message;
            for process in candidates {
                let delivered = self
                    .deliveries(theirs, process.pid, messages::hash(&sent.message))?
                    .into_iter()
                    .find(|d| d.sender_run == at && d.sender == sent.call_id && d.n == sent.n);
                if let Some(delivery) = delivered {
                    line.received_by = Some(delivery.receipt);
                    // A name leads to the pid that held it.
                    line.receiver_text = Some(process.text);
                    break;
                }
            }
        }
        Ok(())
    }

    /// The messages that processes of other runs sent to process `pid` of run `at` (by its
    /// [`crate::remote_key`]) with a message hashing to `hash`, each matched with the call of
    /// `pid` that received it, as within one run (see [`crate::messages`]): among the receipts
    /// no send of `at`'s own run took, in time order (each run's times through the wall
    /// clock).
    pub fn deliveries(&self, at: usize, pid: u64, hash: u64) -> Result<Vec<Delivery>> {
        let snap = &self.snapshots[at];
        let Some(process) = snap.process(pid)? else {
            return Ok(Vec::new());
        };
        let info = &snap.run().info;
        let key = |text: &str| {
            RemoteProcess {
                node: info.node.clone(),
                text: text.to_string(),
            }
            .key()
        };
        // Sent to its pid, or to its name (`{Name, Node}`) once it held the name: a name
        // passes from process to process (a restarted server), and a process receives nothing
        // sent to its name before its first recorded call.
        let mut keys = vec![(key(&process.text), 0)];
        if let Some(name) = &process.name {
            let since = snap.call(process.first_call)?.map_or(0, |c| c.start);
            keys.push((key(name), since));
        }
        let mut sends = Vec::new();
        let mut mails = Vec::new();
        for (other, theirs) in self.snapshots.iter().enumerate() {
            if other == at || theirs.run().info.node == info.node {
                continue;
            }
            for &(key, since) in &keys {
                for send in theirs.sends_to(key, hash)? {
                    let time = Cluster::convert(&theirs.run().info, info, send.available);
                    if time < since {
                        continue;
                    }
                    mails.push(Mail {
                        time,
                        order: send.n,
                    });
                    sends.push((other, send));
                }
            }
        }
        if sends.is_empty() {
            return Ok(Vec::new());
        }
        let receipts = snap.receipts_unmatched(pid, hash)?;
        let received: Vec<Mail> = receipts
            .iter()
            .map(|&(call, start)| Mail {
                time: start,
                order: call,
            })
            .collect();
        Ok(messages::match_group(&mails, &received)
            .into_iter()
            .map(|(s, r)| {
                let (sender_run, send) = sends[s];
                Delivery {
                    sender_run,
                    sender: send.call,
                    n: send.n,
                    sent: send.sent,
                    receipt: receipts[r].0,
                }
            })
            .collect())
    }

    /// The call of another node that sent the message `call` (of run `at`) received, when it
    /// is a receiving callback and the message came from another node.
    fn message_cause(&self, at: usize, call: &Call) -> Result<Option<Cause>> {
        let Some(receipt) = messages::receipt(&call.function, call.arity, &call.args) else {
            return Ok(None);
        };
        let Some(delivery) = self
            .deliveries(at, call.pid, receipt.hash)?
            .into_iter()
            .find(|d| d.receipt == call.id)
        else {
            return Ok(None);
        };
        let theirs = &self.snapshots[delivery.sender_run];
        let Some(sender) = theirs.call(delivery.sender)? else {
            return Ok(None);
        };
        let kind = theirs
            .sent_by(sender.id)?
            .into_iter()
            .find(|m| m.n == delivery.n)
            .map_or(SendKind::Send, |m| m.kind);
        let text = theirs
            .process(sender.pid)?
            .map_or_else(|| "<unknown>".to_string(), |p| p.text);
        Ok(Some(Cause {
            kind: CauseKind::Message(kind),
            node: Some(theirs.run().info.node.clone()),
            text,
            call: sender,
        }))
    }

    /// The call of another node that `call` (of run `at`) came from: the client call that
    /// waited for the request it serves, the call that sent the message it received, or the
    /// call that started its process (for the process's first call).
    pub fn remote_cause(&self, at: usize, call: &Call) -> Result<Option<Cause>> {
        let snap = &self.snapshots[at];
        let client = snap.remote_client(call.id)?;
        if client.is_none() {
            if let Some(cause) = self.message_cause(at, call)? {
                return Ok(Some(cause));
            }
        }
        let (kind, remote) = match client {
            Some(client) => (CauseKind::Request, client),
            None => {
                let first = snap
                    .process(call.pid)?
                    .is_some_and(|p| p.first_call == call.id);
                match snap.remote_origin(call.pid)? {
                    Some((kind, origin)) if first => (CauseKind::Started(kind), origin),
                    _ => return Ok(None),
                }
            }
        };
        let Some(theirs) = self.run_of(&remote.node).map(|i| &self.snapshots[i]) else {
            return Ok(None);
        };
        let Some(process) = theirs.process_named(&remote.text)? else {
            return Ok(None);
        };
        let time = Cluster::convert(&snap.run().info, &theirs.run().info, call.start);
        Ok(theirs.running_at(process.pid, time)?.map(|waiting| Cause {
            kind,
            node: Some(remote.node),
            text: remote.text,
            call: waiting,
        }))
    }

    /// Every request whose client and server are on different nodes of the cluster, with
    /// the client call that waited (by run, then by serving call).
    pub fn requests(&self) -> Result<Vec<CrossRequest>> {
        let mut named = ProcessNames::default();
        let mut out = Vec::new();
        for (server_run, snap) in self.snapshots.iter().enumerate() {
            let mut served = Vec::new();
            snap.scan_requests(|client, id, _server| {
                if is_remote_key(client) {
                    served.push((client, id));
                }
                Ok(true)
            })?;
            for (key, id) in served {
                let Some(remote) = snap.index.remote_process(key)? else {
                    continue;
                };
                let (Some(client_run), Some(serving)) = (self.run_of(&remote.node), snap.call(id)?)
                else {
                    continue;
                };
                let theirs = &self.snapshots[client_run];
                let Some(pid) = named.pid(theirs, client_run, &remote.text)? else {
                    continue;
                };
                let time = Cluster::convert(&snap.run().info, &theirs.run().info, serving.start);
                if let Some(waiting) = theirs.running_at(pid, time)? {
                    out.push(CrossRequest {
                        client_run,
                        waiting,
                        server_run,
                        serving,
                    });
                }
            }
        }
        Ok(out)
    }
}

impl Cluster {
    /// Every message that a process of one node sent to a pid of another and a recorded call
    /// there received (see [`Cluster::deliveries`]), by receiving run and process.
    pub fn messages(&self) -> Result<Vec<CrossMessage>> {
        let mut named = ProcessNames::default();
        let mut receivers: Vec<(usize, u64, u64)> = Vec::new();
        for snap in &self.snapshots {
            for (key, hash) in snap.remote_mail_groups()? {
                let Some(remote) = snap.index.remote_process(key)? else {
                    continue;
                };
                let Some(run) = self.run_of(&remote.node) else {
                    continue;
                };
                for &pid in named.pids(&self.snapshots[run], run, &remote.text)? {
                    receivers.push((run, pid, hash));
                }
            }
        }
        receivers.sort_unstable();
        receivers.dedup();
        let mut out = Vec::new();
        for (run, pid, hash) in receivers {
            for d in self.deliveries(run, pid, hash)? {
                let theirs = &self.snapshots[d.sender_run];
                let (Some(sender), Some(receipt)) =
                    (theirs.call(d.sender)?, self.snapshots[run].call(d.receipt)?)
                else {
                    continue;
                };
                let kind = theirs
                    .sent_by(sender.id)?
                    .into_iter()
                    .find(|m| m.n == d.n)
                    .map_or(SendKind::Send, |m| m.kind);
                out.push(CrossMessage {
                    sender_run: d.sender_run,
                    sender,
                    n: d.n,
                    sent: d.sent,
                    kind,
                    receiver_run: run,
                    receipt,
                });
            }
        }
        Ok(out)
    }

    /// Every process whose origin is on another node of the cluster, with the origin's call
    /// that was running when it made its first call (by run, then by process).
    pub fn started(&self) -> Result<Vec<CrossStart>> {
        let mut named = ProcessNames::default();
        let mut out = Vec::new();
        for (run, snap) in self.snapshots.iter().enumerate() {
            for process in snap.processes()? {
                let Some((kind, remote)) = snap.remote_origin(process.pid)? else {
                    continue;
                };
                let (Some(origin_run), Some(first)) =
                    (self.run_of(&remote.node), snap.call(process.first_call)?)
                else {
                    continue;
                };
                let theirs = &self.snapshots[origin_run];
                let Some(pid) = named.pid(theirs, origin_run, &remote.text)? else {
                    continue;
                };
                let time = Cluster::convert(&snap.run().info, &theirs.run().info, first.start);
                if let Some(origin) = theirs.running_at(pid, time)? {
                    out.push(CrossStart {
                        origin_run,
                        origin,
                        kind,
                        run,
                        first,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The pids of runs' processes by their text, each run's read once (for listings of every
/// link, where one run's processes are looked up many times).
#[derive(Default)]
struct ProcessNames {
    runs: HashMap<usize, HashMap<String, Vec<u64>>>,
}

impl ProcessNames {
    /// The pid of the process `text` of run `at` (`snap`).
    fn pid(&mut self, snap: &Snapshot, at: usize, text: &str) -> Result<Option<u64>> {
        Ok(self.pids(snap, at, text)?.first().copied())
    }

    /// The processes of run `at` (`snap`) printed as `text`, or registered under the name
    /// `text` at their first call (several when the name passed from one to the next).
    fn pids(&mut self, snap: &Snapshot, at: usize, text: &str) -> Result<&[u64]> {
        let names = match self.runs.entry(at) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let mut names: HashMap<String, Vec<u64>> = HashMap::new();
                for p in snap.processes()? {
                    if let Some(name) = p.name {
                        names.entry(name).or_default().push(p.pid);
                    }
                    names.entry(p.text).or_default().push(p.pid);
                }
                slot.insert(names)
            }
        };
        Ok(names.get(text).map_or(&[], |pids| pids.as_slice()))
    }
}

/// Puts `item` as the last child of the tree's line showing call `parent` (nothing when that
/// call is not shown).
fn place_under(tree: &mut Tree, parent: u64, item: TreeItem) {
    let Some(at) = tree
        .lines
        .iter()
        .position(|l| matches!(&l.item, TreeItem::Call(c) if c.id == parent))
    else {
        return;
    };
    let depth = tree.lines[at].depth;
    let end = tree.lines[at + 1..]
        .iter()
        .position(|l| l.depth <= depth)
        .map_or(tree.lines.len(), |n| at + 1 + n);
    tree.lines.insert(
        end,
        TreeLine {
            depth: depth + 1,
            item,
        },
    );
}
