//! Queries from inside the VM (for IEx), over the store of the running runtime, as maps with
//! the captured values decoded back into terms. They read the store: dirty I/O schedulers.
//!
//! Times are `erlang:monotonic_time(nanosecond)` values, so they compare with the VM's clock.
//! A call is `#{id, parent, pid, module, function, arity, args, scheduler, start_ns, end_ns,
//! outcome, value, tail_calls}` where `outcome` is `return`, `{exception, Class}` or `running`
//! and `pid` is the pid's text.

use std::collections::HashMap;

use rustler::{Atom, Encoder, Env, NifResult, Term};
use store::{Call, CallFilter, Outcome, RunInfo, Snapshot};

use crate::atoms;
use crate::runtime;
use crate::term::{atom_text, word};

/// The most calls one query returns.
const MAX_LIMIT: usize = 100_000;

fn snapshot<'a>(env: Env<'a>) -> Result<Snapshot, Term<'a>> {
    let Some(rt) = runtime::get() else {
        return Err((atoms::error(), atoms::not_started()).encode(env));
    };
    rt.store()
        .snapshot(Some(rt.run()))
        .map_err(|e| (atoms::error(), e.to_string()).encode(env))
}

/// The call with this id, or `undefined`.
#[rustler::nif(schedule = "DirtyIo")]
fn call(env: Env<'_>, id: u64) -> Term<'_> {
    let snap = match snapshot(env) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match snap.call(id) {
        Ok(Some(call)) => CallTerm::new(&snap).encode(env, &call),
        Ok(None) => atoms::undefined().encode(env),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

/// The direct children of a call, in start order.
#[rustler::nif(schedule = "DirtyIo")]
fn children(env: Env<'_>, id: u64, limit: usize) -> Term<'_> {
    let snap = match snapshot(env) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match snap.children(id, limit.min(MAX_LIMIT)) {
        Ok(calls) => list(env, &snap, &calls),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

/// `#{calls => [Call], truncated => boolean()}` for a call and its descendants, or `undefined`.
#[rustler::nif(schedule = "DirtyIo")]
fn subtree(env: Env<'_>, id: u64, limit: usize) -> NifResult<Term<'_>> {
    let snap = match snapshot(env) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    Ok(match snap.subtree(id, limit.min(MAX_LIMIT)) {
        Ok(Some(tree)) => Term::map_from_pairs(
            env,
            &[
                (atoms::calls().encode(env), list(env, &snap, &tree.calls)),
                (atoms::truncated().encode(env), tree.truncated.encode(env)),
            ],
        )?,
        Ok(None) => atoms::undefined().encode(env),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    })
}

/// Calls matching a filter map (keys `module`, `function`, `arity`, `pid`, `since_ns`,
/// `until_ns`, `exceptions`, `limit`; all optional), newest first.
#[rustler::nif(schedule = "DirtyIo")]
fn calls<'a>(env: Env<'a>, filter: Term<'a>) -> NifResult<Term<'a>> {
    let snap = match snapshot(env) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let info = snap.run().info.clone();
    let get = |key: Atom| filter.map_get(key).ok();
    let text = |key: Atom| get(key).and_then(atom_text);
    let time = |key: Atom| -> NifResult<Option<u64>> {
        Ok(match get(key) {
            Some(t) => Some(from_erlang_ns(&info, t.decode::<i64>()?)),
            None => None,
        })
    };
    let query = CallFilter {
        module: text(atoms::module()),
        function: text(atoms::function()),
        arity: get(atoms::arity()).map(|t| t.decode()).transpose()?,
        pid: get(atoms::pid()).filter(|t| t.is_pid()).map(word),
        since: time(atoms::since_ns())?,
        until: time(atoms::until_ns())?,
        exceptions_only: get(atoms::exceptions())
            .map(|t| t.decode())
            .transpose()?
            .unwrap_or(false),
        limit: get(atoms::limit())
            .map(|t| t.decode::<usize>())
            .transpose()?
            .unwrap_or(0)
            .min(MAX_LIMIT),
        scan_limit: 0,
    };
    Ok(match snap.calls(&query) {
        Ok(calls) => list(env, &snap, &calls),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    })
}

fn from_erlang_ns(info: &RunInfo, erlang_ns: i64) -> u64 {
    let delta = erlang_ns as i128 - info.erlang_monotonic_ns as i128;
    (info.monotonic_origin_ns as i128 + delta).clamp(0, u64::MAX as i128) as u64
}

fn list<'a>(env: Env<'a>, snap: &Snapshot, calls: &[Call]) -> Term<'a> {
    let mut to_term = CallTerm::new(snap);
    let terms: Vec<Term<'a>> = calls.iter().map(|c| to_term.encode(env, c)).collect();
    terms.encode(env)
}

/// Turns stored calls into maps, remembering pid texts.
struct CallTerm<'s> {
    snap: &'s Snapshot,
    pids: HashMap<u64, String>,
}

impl<'s> CallTerm<'s> {
    fn new(snap: &'s Snapshot) -> Self {
        CallTerm {
            snap,
            pids: HashMap::new(),
        }
    }

    fn pid_text(&mut self, pid: u64) -> String {
        if let Some(t) = self.pids.get(&pid) {
            return t.clone();
        }
        let text = match self.snap.process(pid) {
            Ok(Some(p)) => p.text,
            _ => String::from("<unknown>"),
        };
        self.pids.insert(pid, text.clone());
        text
    }

    fn encode<'a>(&mut self, env: Env<'a>, call: &Call) -> Term<'a> {
        let info = &self.snap.run().info;
        let undefined = atoms::undefined().encode(env);
        let (end_ns, outcome, value, tail_calls) = match &call.end {
            Some(end) => (
                info.erlang_monotonic_ns(end.time).encode(env),
                match end.outcome {
                    Outcome::Return => atoms::r#return().encode(env),
                    Outcome::Exception(class) => (
                        atoms::exception(),
                        Atom::from_str(env, class.as_str()).map_or(undefined, |a| a.encode(env)),
                    )
                        .encode(env),
                },
                decode(env, &end.value),
                end.tail_calls.encode(env),
            ),
            None => (
                undefined,
                atoms::running().encode(env),
                undefined,
                0u32.encode(env),
            ),
        };
        let atom = |text: &str| Atom::from_str(env, text).map_or(undefined, |a| a.encode(env));
        let pairs = [
            (atoms::id().encode(env), call.id.encode(env)),
            (
                atoms::parent().encode(env),
                call.parent.map_or(undefined, |p| p.encode(env)),
            ),
            (
                atoms::pid().encode(env),
                self.pid_text(call.pid).encode(env),
            ),
            (atoms::module().encode(env), atom(&call.module)),
            (atoms::function().encode(env), atom(&call.function)),
            (atoms::arity().encode(env), call.arity.encode(env)),
            (atoms::args().encode(env), decode(env, &call.args)),
            (atoms::scheduler().encode(env), call.scheduler.encode(env)),
            (
                atoms::start_ns().encode(env),
                info.erlang_monotonic_ns(call.start).encode(env),
            ),
            (atoms::end_ns().encode(env), end_ns),
            (atoms::outcome().encode(env), outcome),
            (atoms::value().encode(env), value),
            (atoms::tail_calls().encode(env), tail_calls),
        ];
        Term::map_from_pairs(env, &pairs).unwrap_or(undefined)
    }
}

/// A captured value as a term; `{'$elixir_scope_undecodable', Bytes}` when the VM refuses it
/// (an atom that no longer exists, in safe mode).
fn decode<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    match env.binary_to_term(bytes) {
        Some((term, _)) => term,
        None => {
            let mut bin = rustler::NewBinary::new(env, bytes.len());
            bin.as_mut_slice().copy_from_slice(bytes);
            let marker = Atom::from_str(env, "$elixir_scope_undecodable")
                .map_or(atoms::undefined().encode(env), |a| a.encode(env));
            (marker, Term::from(bin)).encode(env)
        }
    }
}
