//! A run in the Chrome trace event format (JSON object form), for Perfetto (ui.perfetto.dev)
//! and chrome://tracing.
//!
//! - One process (`pid` 1), named after the node and run; one thread per BEAM process
//!   (`tid` 1, 2, ... in the order they first recorded a call), named by its pid (and where it
//!   came from: `<0.120.0> (from <0.110.0>)`).
//! - One complete event (`"ph": "X"`) per finished call: `ts` and `dur` in microseconds since
//!   the run started (three decimals: nanoseconds), named `Mod.fun/arity` (or `mod:fun/arity`),
//!   with `args` holding the call id, its parent, the arguments and the result as text. Within a
//!   process calls nest, so slices nest exactly like the call tree. A call that never finished
//!   is a begin event (`"ph": "B"`) without an end: the viewers draw it to the end of the trace.
//! - A call that raised has category `exception`, the banner in `args.exception`, and an instant
//!   event (`"ph": "i"`) at the moment it raised.
//!
//! - A process that came from a call (a Task from its caller's call, a spawned process from
//!   its parent's, see `Snapshot::origin_call`) gets a flow arrow (`"ph": "s"` on the origin's
//!   thread inside that call's slice, `"ph": "f"` at its first call), id the first call's id.
//! - A request (a `handle_call/3` serving another process, see `Snapshot::scan_requests`) gets
//!   a flow arrow from the client's call that waited for it (`Snapshot::running_call`) to the
//!   serving call, category `request`, id the serving call's id.
//! - A message whose receipt was recorded (see `store::messages`: a cast, a send, a timer,
//!   received by a `handle_cast/2`, `handle_info/2` or gen_statem event) gets a flow arrow from
//!   the sending call, at the moment it was sent, to the call that received it, category
//!   `message`, named by how it was sent.
//!
//! The run is streamed with `Snapshot::scan` (calls in id order) into a buffered file: memory
//! stays bounded by the number of processes, whatever the size of the run.
//!
//! A cluster's runs ([`write_cluster`]: `export --cluster`) go into one trace: each node is a
//! process (`pid` 1, 2, ... in the cluster's order, named after the node and run), holding
//! its BEAM processes as threads; times are on one axis, microseconds since the earliest run
//! started (each run's times through its own wall-clock anchor); flow ids carry the run's
//! index (`run << 44`), so that they stay apart; and every request that crossed nodes
//! (`store::Cluster::requests`) gets an arrow from the client's call that waited, on its
//! node, to the serving call on the other node (category `request`), every process started
//! from another node (`store::Cluster::started`: a Task started there) one from the call that
//! started it to its first call (category `process`), and every message sent to a pid of
//! another node and received by a recorded callback there (`store::Cluster::messages`) one
//! from the sending call to the receiving call (category `message`).

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::{json, Value};
use store::{
    Call, Cluster, CrossMessage, CrossRequest, CrossStart, MessageLink, Outcome, Snapshot,
};

use crate::call::{self, argument_texts};
use crate::text::rfc3339;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exported {
    /// Calls written.
    pub calls: u64,
    /// Processes (tracks) written.
    pub processes: u64,
    /// Calls that raised.
    pub exceptions: u64,
    /// Message arrows drawn.
    pub messages: u64,
}

/// Writes the snapshot's run to `out`.
pub fn write(snap: &Snapshot, out: &mut impl Write) -> Result<Exported, ExportError> {
    let run = snap.run();
    let other = json!({
        "tool": "elixir-scope",
        "tool_version": run.info.tool_version,
        "run": run.id,
        "node": run.info.node,
        "otp_release": run.info.otp_release,
        "started": rfc3339(run.info.started_unix_ns),
    });
    write_runs(std::slice::from_ref(snap), &Across::default(), other, out)
}

/// Writes a cluster's runs to `out`, a process per node, with the requests, processes and
/// messages that crossed nodes as arrows.
pub fn write_cluster(cluster: &Cluster, out: &mut impl Write) -> Result<Exported, ExportError> {
    let runs = cluster.snapshots();
    let nodes: Vec<Value> = runs
        .iter()
        .map(|s| {
            let info = &s.run().info;
            json!({
                "node": info.node,
                "run": s.run().id,
                "otp_release": info.otp_release,
                "started": rfc3339(info.started_unix_ns),
            })
        })
        .collect();
    let other = json!({
        "tool": "elixir-scope",
        "tool_version": runs.first().map(|s| s.run().info.tool_version.clone()),
        "nodes": nodes,
    });
    let across = Across {
        requests: cluster.requests()?,
        started: cluster.started()?,
        messages: cluster.messages()?,
    };
    write_runs(runs, &across, other, out)
}

/// The links between calls of different runs of a trace (none for one run).
#[derive(Default)]
struct Across {
    requests: Vec<CrossRequest>,
    started: Vec<CrossStart>,
    messages: Vec<CrossMessage>,
}

/// Writes `runs` (a process each) and the arrows of `across` to `out`.
fn write_runs(
    runs: &[Snapshot],
    across: &Across,
    other: Value,
    out: &mut impl Write,
) -> Result<Exported, ExportError> {
    let origin = runs
        .iter()
        .map(|s| s.run().info.started_unix_ns)
        .min()
        .unwrap_or(0);
    let mut writer = Events {
        out,
        first: true,
        origin,
        tids: HashMap::new(),
        exported: Exported::default(),
    };
    writer.out.write_all(b"{\"traceEvents\":[\n")?;
    for (at, snap) in runs.iter().enumerate() {
        let run = snap.run();
        writer.event(&json!({
            "name": "process_name", "ph": "M", "pid": at + 1, "tid": 0,
            "args": {"name": format!("{} (run {}, OS pid {})", run.info.node, run.id, run.info.os_pid)},
        }))?;
        if runs.len() > 1 {
            writer.event(&json!({
                "name": "process_sort_index", "ph": "M", "pid": at + 1, "tid": 0,
                "args": {"sort_index": at + 1},
            }))?;
        }
    }
    let mut failure = None;
    for (at, snap) in runs.iter().enumerate() {
        let run = Run { at, snap };
        snap.scan(0, |c| match writer.call(run, &c) {
            Ok(()) => Ok(true),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        })?;
        if let Some(e) = failure {
            return Err(ExportError::Io(e));
        }
        snap.scan_requests(
            |client, id, _server| match writer.request(run, client, id) {
                Ok(()) => Ok(true),
                Err(e) => {
                    failure = Some(e);
                    Ok(false)
                }
            },
        )?;
        if let Some(e) = failure {
            return Err(ExportError::Io(e));
        }
        snap.scan_messages(|link| match writer.message(run, &link) {
            Ok(()) => Ok(true),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        })?;
        if let Some(e) = failure {
            return Err(ExportError::Io(e));
        }
    }
    for request in &across.requests {
        let client = Run {
            at: request.client_run,
            snap: &runs[request.client_run],
        };
        let server = Run {
            at: request.server_run,
            snap: &runs[request.server_run],
        };
        writer.arrow(client, &request.waiting, server, &request.serving)?;
    }
    for message in &across.messages {
        let sender = Run {
            at: message.sender_run,
            snap: &runs[message.sender_run],
        };
        let receiver = Run {
            at: message.receiver_run,
            snap: &runs[message.receiver_run],
        };
        writer.message_across(sender, message, receiver)?;
    }
    for start in &across.started {
        let origin = Run {
            at: start.origin_run,
            snap: &runs[start.origin_run],
        };
        let run = Run {
            at: start.run,
            snap: &runs[start.run],
        };
        writer.started_from(origin, &start.origin, run, &start.first)?;
    }
    write!(
        writer.out,
        "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{other}}}\n"
    )?;
    Ok(writer.exported)
}

/// A run of the trace: its index (its process is `at + 1`) and snapshot.
#[derive(Clone, Copy)]
struct Run<'s> {
    at: usize,
    snap: &'s Snapshot,
}

impl Run<'_> {
    /// The trace's process of this run.
    fn pid(self) -> usize {
        self.at + 1
    }

    /// A flow id of this run's: `id` with the run's index above the ids (`id` below 2^44).
    fn flow(self, id: u64) -> u64 {
        (self.at as u64) << 44 | (id & ((1 << 44) - 1))
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing failed.
    #[error("writing the trace: {0}")]
    Io(#[from] io::Error),
    /// Reading the run failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

struct Events<'w, W: Write> {
    out: &'w mut W,
    first: bool,
    /// The earliest run's start, wall-clock ns: the time axis's 0.
    origin: u64,
    /// The thread of each (run, pid).
    tids: HashMap<(usize, u64), u64>,
    exported: Exported,
}

impl<W: Write> Events<'_, W> {
    fn event(&mut self, event: &Value) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, event).map_err(io::Error::from)
    }

    /// The thread of a process of `run`, naming it the first time.
    fn tid(&mut self, run: Run, pid: u64) -> io::Result<u64> {
        if let Some(&tid) = self.tids.get(&(run.at, pid)) {
            return Ok(tid);
        }
        let tid = self.tids.len() as u64 + 1;
        self.tids.insert((run.at, pid), tid);
        self.exported.processes += 1;
        let name = match run.snap.process(pid) {
            Ok(Some(p)) => match p.origin {
                Some(origin) => format!("{} (from {})", p.text, origin.text),
                None => p.text,
            },
            _ => format!("process {tid}"),
        };
        self.event(&json!({
            "name": "thread_name", "ph": "M", "pid": run.pid(), "tid": tid, "args": {"name": name},
        }))?;
        self.event(&json!({
            "name": "thread_sort_index", "ph": "M", "pid": run.pid(), "tid": tid,
            "args": {"sort_index": tid},
        }))?;
        Ok(tid)
    }

    /// The arrow from the call that started `first`'s process to `first`, when there is one
    /// (an unreadable origin draws no arrow).
    fn flow_from_origin(&mut self, run: Run, first: &Call, tid: u64) -> io::Result<()> {
        let Ok(Some(origin)) = run.snap.origin_call(first.pid) else {
            return Ok(());
        };
        let from = self.tid(run, origin.pid)?;
        let ts = self.ts(run, first.start);
        let flow = run.flow(first.id);
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "s", "id": flow, "ts": ts,
            "pid": run.pid(), "tid": from, "args": {"from": origin.id},
        }))?;
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "f", "bp": "e", "id": flow,
            "ts": ts, "pid": run.pid(), "tid": tid,
        }))
    }

    /// The arrow from the call `origin` (of another node's run) to `first`, the first call of
    /// a process it started there.
    fn started_from(
        &mut self,
        origin_run: Run,
        origin: &Call,
        run: Run,
        first: &Call,
    ) -> io::Result<()> {
        let (from, to) = (self.tid(origin_run, origin.pid)?, self.tid(run, first.pid)?);
        let ts = self.ts(run, first.start);
        let flow = run.flow(first.id);
        let node = |r: Run| r.snap.run().info.node.clone();
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "s", "id": flow, "ts": ts,
            "pid": origin_run.pid(), "tid": from,
            "args": {"from": origin.id, "from_node": node(origin_run), "to_node": node(run)},
        }))?;
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "f", "bp": "e", "id": flow,
            "ts": ts, "pid": run.pid(), "tid": to,
        }))
    }

    /// The arrow from the call of `client` that waited for the request served by call `id` to
    /// that call (a request whose calls are not both stored draws no arrow).
    fn request(&mut self, run: Run, client: u64, id: u64) -> io::Result<()> {
        let Ok(Some(served)) = run.snap.call(id) else {
            return Ok(());
        };
        let Ok(Some(waiting)) = run.snap.running_call(client, &served) else {
            return Ok(());
        };
        self.arrow(run, &waiting, run, &served)
    }

    /// A request's arrow: from `waiting` (of `client`'s run) to `served` (of `server`'s), at
    /// the moment the serving call started.
    fn arrow(&mut self, client: Run, waiting: &Call, server: Run, served: &Call) -> io::Result<()> {
        let (from, to) = (
            self.tid(client, waiting.pid)?,
            self.tid(server, served.pid)?,
        );
        let ts = self.ts(server, served.start);
        // Apart from the process arrows' ids (first call ids), in case a server's first call
        // served a request.
        let flow = REQUEST_FLOWS | server.flow(served.id);
        let mut args = json!({"from": waiting.id, "to": served.id});
        if client.at != server.at {
            let node = |run: Run| run.snap.run().info.node.clone();
            args["from_node"] = json!(node(client));
            args["to_node"] = json!(node(server));
        }
        self.event(&json!({
            "name": "request", "cat": "request", "ph": "s", "id": flow, "ts": ts,
            "pid": client.pid(), "tid": from, "args": args,
        }))?;
        self.event(&json!({
            "name": "request", "cat": "request", "ph": "f", "bp": "e", "id": flow,
            "ts": ts, "pid": server.pid(), "tid": to,
        }))
    }

    /// The arrow from the call that sent a message to the call that received it, both of
    /// `run` (a message whose calls are not both stored draws no arrow).
    fn message(&mut self, run: Run, link: &MessageLink) -> io::Result<()> {
        let (Ok(Some(sender)), Ok(Some(receipt))) =
            (run.snap.call(link.sender), run.snap.call(link.receipt))
        else {
            return Ok(());
        };
        let how = run
            .snap
            .sent_by(sender.id)
            .ok()
            .and_then(|sent| sent.into_iter().find(|m| m.n == link.n))
            .map_or("message", |m| m.kind.as_str());
        let (from, to) = (self.tid(run, sender.pid)?, self.tid(run, receipt.pid)?);
        self.exported.messages += 1;
        let flow = MESSAGE_FLOWS | run.flow(link.n);
        self.event(&json!({
            "name": how, "cat": "message", "ph": "s", "id": flow, "ts": self.ts(run, link.sent),
            "pid": run.pid(), "tid": from, "args": {"from": sender.id, "to": receipt.id},
        }))?;
        self.event(&json!({
            "name": how, "cat": "message", "ph": "f", "bp": "e", "id": flow,
            "ts": self.ts(run, receipt.start), "pid": run.pid(), "tid": to,
        }))
    }

    /// The arrow of a message from a call of `sender`'s run to the call of another node's run
    /// (`receiver`) that received it.
    fn message_across(
        &mut self,
        sender: Run,
        message: &CrossMessage,
        receiver: Run,
    ) -> io::Result<()> {
        let (from, to) = (
            self.tid(sender, message.sender.pid)?,
            self.tid(receiver, message.receipt.pid)?,
        );
        self.exported.messages += 1;
        let flow = MESSAGE_FLOWS | sender.flow(message.n);
        let node = |r: Run| r.snap.run().info.node.clone();
        let how = message.kind.as_str();
        self.event(&json!({
            "name": how, "cat": "message", "ph": "s", "id": flow,
            "ts": self.ts(sender, message.sent), "pid": sender.pid(), "tid": from,
            "args": {"from": message.sender.id, "to": message.receipt.id,
                     "from_node": node(sender), "to_node": node(receiver)},
        }))?;
        self.event(&json!({
            "name": how, "cat": "message", "ph": "f", "bp": "e", "id": flow,
            "ts": self.ts(receiver, message.receipt.start), "pid": receiver.pid(), "tid": to,
        }))
    }

    /// Microseconds since the earliest run started, to the nanosecond, of a time of `run`.
    fn ts(&self, run: Run, ns: u64) -> Value {
        micros(run.snap.run().info.unix_ns(ns).saturating_sub(self.origin))
    }

    fn call(&mut self, run: Run, c: &Call) -> io::Result<()> {
        let first_of_process = !self.tids.contains_key(&(run.at, c.pid));
        let tid = self.tid(run, c.pid)?;
        if first_of_process {
            self.flow_from_origin(run, c, tid)?;
        }
        let style = call::style(c);
        let name = style.mfa(&c.module, &c.function, c.arity);
        let arguments = match term::decode(&c.args) {
            Ok(args) => argument_texts(&args, style).join(style.comma()),
            Err(e) => format!("<undecodable: {e}>"),
        };
        let mut args = json!({"id": c.id, "parent": c.parent, "args": arguments});
        self.exported.calls += 1;
        let Some(end) = &c.end else {
            return self.event(&json!({
                "name": name, "cat": "call", "ph": "B", "ts": self.ts(run, c.start),
                "pid": run.pid(), "tid": tid, "args": args,
            }));
        };
        args["tail_calls"] = json!(end.tail_calls);
        let dur = micros(end.time.saturating_sub(c.start));
        match end.outcome {
            Outcome::Return => {
                args["result"] = json!(term::value(&end.value, style));
                self.event(&json!({
                    "name": name, "cat": "call", "ph": "X", "ts": self.ts(run, c.start), "dur": dur,
                    "pid": run.pid(), "tid": tid, "args": args,
                }))
            }
            Outcome::Exception(class) => {
                self.exported.exceptions += 1;
                let banner = call::exception_text(&end.value, class, style);
                args["exception"] = json!(banner);
                args["class"] = json!(class.as_str());
                self.event(&json!({
                    "name": name, "cat": "exception", "ph": "X", "ts": self.ts(run, c.start),
                    "dur": dur, "pid": run.pid(), "tid": tid, "args": args, "cname": "terrible",
                }))?;
                self.event(&json!({
                    "name": banner, "cat": "exception", "ph": "i", "s": "t",
                    "ts": self.ts(run, end.time), "pid": run.pid(), "tid": tid, "args": {"id": c.id},
                }))
            }
        }
    }
}

/// Added to a serving call's id to make its request arrow's id (below 2^53: JSON numbers stay
/// exact).
const REQUEST_FLOWS: u64 = 1 << 52;

/// Added to a send's number (with its run's index, see `Run::flow`) to make its message
/// arrow's id: apart from the request arrows' while a run has fewer than 2^44 calls, and below
/// 2^53.
const MESSAGE_FLOWS: u64 = 3 << 51;

/// Nanoseconds as microseconds with three decimals (a JSON number).
fn micros(ns: u64) -> Value {
    let text = format!("{}.{:03}", ns / 1_000, ns % 1_000);
    serde_json::from_str(&text).unwrap_or_else(|_| json!(ns as f64 / 1_000.0))
}
