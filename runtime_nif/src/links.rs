//! Pids that links hold: a request's client, a process's origin, a message's receiver.
//!
//! A process of this node is linked by its pid term word (an immediate: the same for the VM's
//! lifetime). A process of another node has no such word (an external pid is a boxed term),
//! and the other node's run knows it by its node and its pid as that node prints it
//! (`<0.120.0>`; here it prints `<X.120.0>`, `X` this node's number for that node): a link to
//! it holds [`store::remote_key`] of the two, and the run records what the key stands for
//! ([`announce`]) ahead of the event that uses it. A message to a name on another node
//! (`{Name, Node}`) is linked the same way by the node and the name's text. The rewritten hot path, the attach tracer
//! and the message sends all go through [`link_pid`].

use std::num::NonZeroU64;

use runtime_core::{clock, thread, Recorded};
use rustler::{LocalPid, Term};
use store::{Event, EventKind, RemoteProcess, RunEvent};

use crate::runtime;
use crate::term::{atom_text, word};

/// A pid as links take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkPid {
    /// No process.
    None,
    /// A local pid's word.
    Local(u64),
    /// A process of another node.
    Remote(RemoteProcess),
}

impl LinkPid {
    /// What the link stores: a local pid's word or a remote key.
    pub(crate) fn word(&self) -> Option<NonZeroU64> {
        match self {
            LinkPid::None => None,
            LinkPid::Local(word) => NonZeroU64::new(*word),
            LinkPid::Remote(remote) => NonZeroU64::new(remote.key()),
        }
    }
}

/// The link of `term`: a local pid, a pid of another node, or [`LinkPid::None`] for anything
/// else (`none`, `undefined`, a name).
pub(crate) fn link_pid(term: Term<'_>) -> LinkPid {
    if !term.is_pid() {
        return LinkPid::None;
    }
    if term.decode::<LocalPid>().is_ok() {
        return LinkPid::Local(word(term));
    }
    remote_process(term).map_or(LinkPid::None, LinkPid::Remote)
}

/// The link of a message's receiver: [`link_pid`], or for `{Name, Node}` (a name on another
/// node, which no pid here stands for) the node and the name: that node's run knows which
/// process held the name ([`store::Process::name`]).
pub(crate) fn link_receiver(term: Term<'_>) -> LinkPid {
    if term.is_pid() {
        return link_pid(term);
    }
    let Ok((name, node)) = term.decode::<(Term, Term)>() else {
        return LinkPid::None;
    };
    match (atom_text(name), atom_text(node)) {
        (Some(text), Some(node)) if !text.is_empty() && !text.starts_with('<') => {
            LinkPid::Remote(RemoteProcess { node, text })
        }
        _ => LinkPid::None,
    }
}

/// A pid of another node as its own node names it: its node, and `<0.ID.Serial>` from the
/// pid's external form (`NEW_PID_EXT` or `PID_EXT`: the node's atom, then ID and serial, the
/// numbers its own node prints). `None` for a local pid or anything else.
pub(crate) fn remote_process(term: Term<'_>) -> Option<RemoteProcess> {
    if !term.is_pid() || term.decode::<LocalPid>().is_ok() {
        return None;
    }
    let bytes = term.to_binary();
    match eetf::Term::decode(bytes.as_slice()).ok()? {
        eetf::Term::Pid(pid) => Some(RemoteProcess {
            node: pid.node.name,
            text: format!("<0.{}.{}>", pid.id, pid.serial),
        }),
        _ => None,
    }
}

/// Records the names of the processes of other nodes that the next event links to (one run
/// event each, in this thread's ring lane ahead of it, so the writer files the name in the
/// segment that holds the link). [`Recorded::Full`] when the ring had no room: nothing
/// further is recorded, and the caller answers `full` (the runtime waits and calls again) or,
/// where nothing may wait (the attach tracer), drops the event.
pub(crate) fn announce(links: &[&LinkPid]) -> Recorded {
    let Some(rt) = runtime::get() else {
        return Recorded::Kept;
    };
    for link in links {
        if let LinkPid::Remote(remote) = link {
            let recorded = rt.recorder().record(Event {
                call_id: 0,
                time: clock::monotonic_ns(),
                scheduler: thread::scheduler_id(),
                kind: EventKind::Run(Box::new(RunEvent::Remote(remote.clone()))),
            });
            if recorded == Recorded::Full {
                return Recorded::Full;
            }
        }
    }
    Recorded::Kept
}
