//! What a node answers about its run when another node of its cluster asks (through
//! `elixir_scope_cluster`, over Erlang distribution): where its run is, the requests a process
//! of the other node made here, and which of its own calls was running at a moment.
//!
//! Times cross nodes as wall-clock nanoseconds (`*_unix_ns`), which each run converts with the
//! anchor it took at its start (see `store::Cluster::convert`). Calls are the maps of
//! [`crate::query`], pids as this node prints them.

use rustler::{Atom, Encoder, Env, NifResult, Term};
use store::{Call, OriginKind, RemoteProcess, Snapshot};

use crate::atoms;
use crate::query::{keys, snapshot, CallTerm};
use crate::runtime;
use crate::term::atom_text;

/// The most links one question answers.
const MAX_LINKS: usize = 10_000;

/// `run_dir()`: `{ok, Run, Dir, Segments}`, this VM's run, its directory (a binary) and the
/// sealed segments that hold it now (`[{Name, Bytes}]`, the widest at each point:
/// `store::StoreReader::sealed_segments`), or `{error, not_started | Reason}`. Lists a
/// directory: a dirty I/O scheduler.
#[rustler::nif(schedule = "DirtyIo")]
fn run_dir(env: Env<'_>) -> Term<'_> {
    let Some(rt) = runtime::get() else {
        return (atoms::error(), atoms::not_started()).encode(env);
    };
    let reader = rt.reader();
    let segments = match reader.sealed_segments(rt.run()) {
        Ok(segments) => segments,
        Err(e) => return (atoms::error(), e.to_string()).encode(env),
    };
    let dir = reader.run_dir(rt.run()).to_string_lossy().into_owned();
    (atoms::ok(), rt.run(), dir, segments).encode(env)
}

/// `links_from(Node, PidText, FromUnixNs, ToUnixNs)`: what this run did for the process
/// `PidText` of node `Node` between the two wall-clock times: the requests of it that calls
/// here served (`{request, ServerPidText, Call}`) and the processes that came from it here
/// (`{caller | ancestor, PidText, FirstCall}`), at most 10,000 of each, by start.
#[rustler::nif(schedule = "DirtyIo")]
fn links_from<'a>(
    env: Env<'a>,
    node: Term<'a>,
    text: String,
    from_unix_ns: u64,
    to_unix_ns: u64,
) -> NifResult<Term<'a>> {
    let snap = match snapshot(env, None) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let Some(node) = atom_text(node) else {
        return Err(rustler::Error::BadArg);
    };
    let remote = RemoteProcess { node, text };
    let info = &snap.run().info;
    let (from, to) = (
        info.monotonic_ns(from_unix_ns),
        info.monotonic_ns(to_unix_ns),
    );
    let answer = (|| -> store::Result<Vec<(Atom, Call)>> {
        let mut links: Vec<(Atom, Call)> = snap
            .requests_from(&remote, from, to, MAX_LINKS)?
            .into_iter()
            .map(|c| (keys::request(), c))
            .collect();
        for (process, first) in snap.started_from(&remote, from, to, MAX_LINKS)? {
            let kind = match process.origin.map(|o| o.kind) {
                Some(OriginKind::Caller) => atoms::caller(),
                Some(OriginKind::Ancestor) => atoms::ancestor(),
                None => continue,
            };
            links.push((kind, first));
        }
        links.sort_by_key(|(_, c)| c.start);
        Ok(links)
    })();
    let links = match answer {
        Ok(links) => links,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let mut to_term = CallTerm::new(&snap);
    let terms: Vec<Term<'a>> = links
        .iter()
        .map(|(kind, call)| {
            let pid = to_term.pid_text(call.pid);
            (*kind, pid, to_term.encode(env, call)).encode(env)
        })
        .collect();
    Ok(terms.encode(env))
}

/// `running_at(PidText, UnixNs)`: the innermost call of this node's process `PidText` that
/// was running at that wall-clock time (`store::Snapshot::running_at`), or `undefined`.
#[rustler::nif(schedule = "DirtyIo")]
fn running_at(env: Env<'_>, text: String, unix_ns: u64) -> Term<'_> {
    let snap = match snapshot(env, None) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let found = (|| -> store::Result<Option<Call>> {
        let Some(process) = snap.process_named(&text)? else {
            return Ok(None);
        };
        snap.running_at(process.pid, snap.run().info.monotonic_ns(unix_ns))
    })();
    match found {
        Ok(Some(call)) => CallTerm::new(&snap).encode(env, &call),
        Ok(None) => atoms::undefined().encode(env),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

/// The process of another node `root` came from, for a tree's `remote_cause`: `#{cause =>
/// request | caller | ancestor, node => Node, pid => PidText, start_unix_ns => Ns}` (the
/// client it serves a request of, or the origin of its process when it is the process's first
/// call), or `undefined`. The call that caused it is in that node's run
/// (`elixir_scope_cluster:running_at/2` there).
pub(crate) fn remote_cause_term<'a>(
    env: Env<'a>,
    snap: &Snapshot,
    root: &Call,
) -> store::Result<Term<'a>> {
    let (kind, remote) = match snap.remote_client(root.id)? {
        Some(client) => (keys::request(), client),
        None => {
            let first = snap
                .process(root.pid)?
                .is_some_and(|p| p.first_call == root.id);
            match snap.remote_origin(root.pid)? {
                Some((OriginKind::Caller, origin)) if first => (atoms::caller(), origin),
                Some((OriginKind::Ancestor, origin)) if first => (atoms::ancestor(), origin),
                _ => return Ok(atoms::undefined().encode(env)),
            }
        }
    };
    let node =
        Atom::from_str(env, &remote.node).map_or(atoms::undefined().encode(env), |a| a.encode(env));
    let pairs = [
        (keys::cause().encode(env), kind.encode(env)),
        (atoms::node().encode(env), node),
        (keys::pid().encode(env), remote.text.encode(env)),
        (
            keys::start_unix_ns().encode(env),
            snap.run().info.unix_ns(root.start).encode(env),
        ),
    ];
    Ok(Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::undefined().encode(env)))
}
