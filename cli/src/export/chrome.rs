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

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::{json, Value};
use store::{Call, MessageLink, Outcome, Snapshot};

use crate::query::call::{self, argument_texts};
use crate::query::text::rfc3339;

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
    let mut writer = Events {
        out,
        first: true,
        origin: run.info.monotonic_origin_ns,
        tids: HashMap::new(),
        exported: Exported::default(),
    };
    writer.out.write_all(b"{\"traceEvents\":[\n")?;
    writer.event(&json!({
        "name": "process_name", "ph": "M", "pid": 1, "tid": 0,
        "args": {"name": format!("{} (run {}, OS pid {})", run.info.node, run.id, run.info.os_pid)},
    }))?;
    let mut failure = None;
    snap.scan(0, |c| match writer.call(snap, &c) {
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
        |client, id, _server| match writer.request(snap, client, id) {
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
    snap.scan_messages(|link| match writer.message(snap, &link) {
        Ok(()) => Ok(true),
        Err(e) => {
            failure = Some(e);
            Ok(false)
        }
    })?;
    if let Some(e) = failure {
        return Err(ExportError::Io(e));
    }
    let other = json!({
        "tool": "elixir-scope",
        "tool_version": run.info.tool_version,
        "run": run.id,
        "node": run.info.node,
        "otp_release": run.info.otp_release,
        "started": rfc3339(run.info.started_unix_ns),
    });
    write!(
        writer.out,
        "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{other}}}\n"
    )?;
    Ok(writer.exported)
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
    origin: u64,
    tids: HashMap<u64, u64>,
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

    /// The thread of a process, naming it the first time.
    fn tid(&mut self, snap: &Snapshot, pid: u64) -> io::Result<u64> {
        if let Some(&tid) = self.tids.get(&pid) {
            return Ok(tid);
        }
        let tid = self.tids.len() as u64 + 1;
        self.tids.insert(pid, tid);
        self.exported.processes += 1;
        let name = match snap.process(pid) {
            Ok(Some(p)) => match p.origin {
                Some(origin) => format!("{} (from {})", p.text, origin.text),
                None => p.text,
            },
            _ => format!("process {tid}"),
        };
        self.event(&json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name},
        }))?;
        self.event(&json!({
            "name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid,
            "args": {"sort_index": tid},
        }))?;
        Ok(tid)
    }

    /// The arrow from the call that started `first`'s process to `first`, when there is one
    /// (an unreadable origin draws no arrow).
    fn flow_from_origin(&mut self, snap: &Snapshot, first: &Call, tid: u64) -> io::Result<()> {
        let Ok(Some(origin)) = snap.origin_call(first.pid) else {
            return Ok(());
        };
        let from = self.tid(snap, origin.pid)?;
        let ts = self.ts(first.start);
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "s", "id": first.id, "ts": ts,
            "pid": 1, "tid": from, "args": {"from": origin.id},
        }))?;
        self.event(&json!({
            "name": "started", "cat": "process", "ph": "f", "bp": "e", "id": first.id,
            "ts": ts, "pid": 1, "tid": tid,
        }))
    }

    /// The arrow from the call of `client` that waited for the request served by call `id` to
    /// that call (a request whose calls are not both stored draws no arrow).
    fn request(&mut self, snap: &Snapshot, client: u64, id: u64) -> io::Result<()> {
        let Ok(Some(served)) = snap.call(id) else {
            return Ok(());
        };
        let Ok(Some(waiting)) = snap.running_call(client, &served) else {
            return Ok(());
        };
        let (from, to) = (self.tid(snap, waiting.pid)?, self.tid(snap, served.pid)?);
        let ts = self.ts(served.start);
        // Apart from the process arrows' ids (first call ids), in case a server's first call
        // served a request.
        let flow = REQUEST_FLOWS | served.id;
        self.event(&json!({
            "name": "request", "cat": "request", "ph": "s", "id": flow, "ts": ts,
            "pid": 1, "tid": from, "args": {"from": waiting.id, "to": served.id},
        }))?;
        self.event(&json!({
            "name": "request", "cat": "request", "ph": "f", "bp": "e", "id": flow,
            "ts": ts, "pid": 1, "tid": to,
        }))
    }

    /// The arrow from the call that sent a message to the call that received it (a message
    /// whose calls are not both stored draws no arrow).
    fn message(&mut self, snap: &Snapshot, link: &MessageLink) -> io::Result<()> {
        let (Ok(Some(sender)), Ok(Some(receipt))) =
            (snap.call(link.sender), snap.call(link.receipt))
        else {
            return Ok(());
        };
        let how = snap
            .sent_by(sender.id)
            .ok()
            .and_then(|sent| sent.into_iter().find(|m| m.n == link.n))
            .map_or("message", |m| m.kind.as_str());
        let (from, to) = (self.tid(snap, sender.pid)?, self.tid(snap, receipt.pid)?);
        self.exported.messages += 1;
        let flow = MESSAGE_FLOWS | link.n;
        self.event(&json!({
            "name": how, "cat": "message", "ph": "s", "id": flow, "ts": self.ts(link.sent),
            "pid": 1, "tid": from, "args": {"from": sender.id, "to": receipt.id},
        }))?;
        self.event(&json!({
            "name": how, "cat": "message", "ph": "f", "bp": "e", "id": flow,
            "ts": self.ts(receipt.start), "pid": 1, "tid": to,
        }))
    }

    /// Microseconds since the run started, to the nanosecond.
    fn ts(&self, ns: u64) -> Value {
        micros(ns.saturating_sub(self.origin))
    }

    fn call(&mut self, snap: &Snapshot, c: &Call) -> io::Result<()> {
        let first_of_process = !self.tids.contains_key(&c.pid);
        let tid = self.tid(snap, c.pid)?;
        if first_of_process {
            self.flow_from_origin(snap, c, tid)?;
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
                "name": name, "cat": "call", "ph": "B", "ts": self.ts(c.start),
                "pid": 1, "tid": tid, "args": args,
            }));
        };
        args["tail_calls"] = json!(end.tail_calls);
        let dur = micros(end.time.saturating_sub(c.start));
        match end.outcome {
            Outcome::Return => {
                args["result"] = json!(term::value(&end.value, style));
                self.event(&json!({
                    "name": name, "cat": "call", "ph": "X", "ts": self.ts(c.start), "dur": dur,
                    "pid": 1, "tid": tid, "args": args,
                }))
            }
            Outcome::Exception(class) => {
                self.exported.exceptions += 1;
                let banner = call::exception_text(&end.value, class, style);
                args["exception"] = json!(banner);
                args["class"] = json!(class.as_str());
                self.event(&json!({
                    "name": name, "cat": "exception", "ph": "X", "ts": self.ts(c.start),
                    "dur": dur, "pid": 1, "tid": tid, "args": args, "cname": "terrible",
                }))?;
                self.event(&json!({
                    "name": banner, "cat": "exception", "ph": "i", "s": "t",
                    "ts": self.ts(end.time), "pid": 1, "tid": tid, "args": {"id": c.id},
                }))
            }
        }
    }
}

/// Added to a serving call's id to make its request arrow's id (below 2^53: JSON numbers stay
/// exact).
const REQUEST_FLOWS: u64 = 1 << 52;

/// Added to a send's number to make its message arrow's id: apart from the request arrows'
/// while a run has fewer than 2^51 calls, and below 2^53.
const MESSAGE_FLOWS: u64 = 3 << 51;

/// Nanoseconds as microseconds with three decimals (a JSON number).
fn micros(ns: u64) -> Value {
    let text = format!("{}.{:03}", ns / 1_000, ns % 1_000);
    serde_json::from_str(&text).unwrap_or_else(|_| json!(ns as f64 / 1_000.0))
}
