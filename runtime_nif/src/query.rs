//! Queries from inside the VM (for IEx), over the store of the running runtime, as maps with
//! the captured values decoded back into terms. They read the store: dirty I/O schedulers.
//!
//! Times are `erlang:monotonic_time(nanosecond)` values, so they compare with the VM's clock
//! (`start_unix_ns` is the start on the wall clock). A call is `#{id, parent, pid, module,
//! function, arity, args, scheduler, start_ns, start_unix_ns, end_ns, outcome, value,
//! tail_calls}` where `outcome` is `return`, `{exception, Class}` or `running` and `pid` is the
//! pid's text.
//!
//! `tree/2` gives a call tree with folding (`store::Snapshot::tree`) as lines in display order
//! (with `remote_cause` naming the process of another node it came from, when it did: see
//! `crate::cluster`), `tree_prefixes/1` the guides that draw them (`store::tree_prefixes`),
//! `summary/0` the run's counts.

use std::collections::HashMap;

use rustler::{Atom, Encoder, Env, NifResult, Term};
use store::{
    Call, CallFilter, Cause, CauseKind, Fold, MessageLine, OriginKind, Outcome, RunInfo, SendKind,
    ServedRequest, Snapshot, StartedProcess, TestFramework, TestOutcome, TreeItem, TreeLimits,
};

use crate::atoms;
use crate::runtime;
use crate::term::{atom_text, word};

/// The most calls one query returns.
const MAX_LIMIT: usize = 100_000;

/// The atoms of the encoder's cut markers (`{'$elixir_scope_cut', Kind, Detail}`): values are
/// decoded in safe mode, which refuses atoms the VM does not have yet, and nothing but the
/// encoder may have made these.
const MARKER_ATOMS: &[&str] = &[
    "$elixir_scope_cut",
    "list",
    "more",
    "tuple",
    "map",
    "binary",
    "bitstring",
    "unknown",
    "depth",
    "integer",
    "big",
    "fun",
    "other",
    "field",
    "redacted",
    "key",
    "value",
    "argument",
    "result",
    "hidden",
];

/// A snapshot of this VM's run, or of the run an options map's `run` key names: a run
/// number, or `latest` (the newest run of the store, whichever VM records it).
pub(crate) fn snapshot<'a>(env: Env<'a>, options: Option<Term<'a>>) -> Result<Snapshot, Term<'a>> {
    for name in MARKER_ATOMS {
        let _ = Atom::from_str(env, name);
    }
    let Some(rt) = runtime::get() else {
        return Err((atoms::error(), atoms::not_started()).encode(env));
    };
    let run = match options.and_then(|o| o.map_get(atoms::run()).ok()) {
        None => Some(rt.run()),
        Some(t) if t == keys::latest().to_term(env) => None,
        Some(t) => match t.decode::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Err((atoms::error(), keys::badarg()).encode(env)),
        },
    };
    rt.reader()
        .snapshot(run)
        .map_err(|e| (atoms::error(), e.to_string()).encode(env))
}

/// Every run of the store this VM records into, oldest first: `#{run, node, os_pid,
/// started_unix_ns, state => recording | ended | killed, captured, dropped, stored,
/// write_failed, this => boolean()}` (`this`: the run of this VM). Reads a directory and a
/// file per run: a dirty I/O scheduler.
#[rustler::nif(schedule = "DirtyIo")]
fn runs(env: Env<'_>) -> NifResult<Term<'_>> {
    let Some(rt) = runtime::get() else {
        return Ok((atoms::error(), atoms::not_started()).encode(env));
    };
    let runs = match rt.reader().runs() {
        Ok(runs) => runs,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let state = match run.state() {
            "recording" => keys::recording(),
            "ended" => keys::ended(),
            _ => keys::killed(),
        };
        let c = run.counters;
        out.push(Term::map_from_pairs(
            env,
            &[
                (atoms::run().encode(env), run.id.encode(env)),
                (atoms::node().encode(env), run.info.node.encode(env)),
                (keys::os_pid().encode(env), run.info.os_pid.encode(env)),
                (
                    keys::started_unix_ns().encode(env),
                    run.info.started_unix_ns.encode(env),
                ),
                (keys::state().encode(env), state.encode(env)),
                (atoms::captured().encode(env), c.captured.encode(env)),
                (atoms::dropped().encode(env), c.dropped.encode(env)),
                (atoms::stored().encode(env), c.stored.encode(env)),
                (
                    atoms::write_failed().encode(env),
                    c.write_failed.encode(env),
                ),
                (keys::this().encode(env), (run.id == rt.run()).encode(env)),
            ],
        )?);
    }
    Ok(out.encode(env))
}

/// The call with this id, or `undefined`.
#[rustler::nif(schedule = "DirtyIo")]
fn call(env: Env<'_>, id: u64) -> Term<'_> {
    let snap = match snapshot(env, None) {
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
    let snap = match snapshot(env, None) {
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
    let snap = match snapshot(env, None) {
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
/// `until_ns`, `exceptions`, `limit`, `run`; all optional), newest first.
#[rustler::nif(schedule = "DirtyIo")]
fn calls<'a>(env: Env<'a>, filter: Term<'a>) -> NifResult<Term<'a>> {
    let snap = match snapshot(env, Some(filter)) {
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
        since: match time(atoms::since_ns())? {
            Some(t) => Some(t),
            None => unix_time(&info, get(keys::since_unix_ns()))?,
        },
        until: match time(atoms::until_ns())? {
            Some(t) => Some(t),
            None => unix_time(&info, get(keys::until_unix_ns()))?,
        },
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
        pids: None,
    };
    let query = match get(keys::test()) {
        None => query,
        Some(name) => {
            let name: String = name.decode()?;
            match snap.processes_of_tests_named(&name) {
                Ok(Some(pids)) => CallFilter {
                    pids: Some(pids),
                    ..query
                },
                Ok(None) => return Ok((atoms::error(), (keys::no_test(), name)).encode(env)),
                Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
            }
        }
    };
    let patterns = match crate::search::call_query(filter) {
        Ok(patterns) => patterns,
        Err(e) => return Ok(crate::search::bad_pattern(env, &e)),
    };
    Ok(match patterns.calls(&snap, &query) {
        Ok(calls) => list(env, &snap, &calls),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    })
}

/// A wall-clock filter time (ns since the UNIX epoch) as an event time of the run.
fn unix_time(info: &RunInfo, term: Option<Term<'_>>) -> NifResult<Option<u64>> {
    Ok(match term {
        Some(t) => Some(info.monotonic_ns(t.decode::<i64>()?.max(0) as u64)),
        None => None,
    })
}

/// The atoms only the queries use.
pub(crate) mod keys {
    rustler::atoms! {
        since_unix_ns,
        until_unix_ns,
        start_unix_ns,
        depth,
        children,
        infinity,
        lines,
        shown,
        fold,
        first,
        last,
        functions,
        more_functions,
        sampled,
        exceptions,
        processes,
        tail_calls,
        process,
        origin,
        request,
        served_by,
        cause,
        kind,
        ended_ns,
        ended_unix_ns,
        reason,
        unknown,
        started_by,
        notices,
        restart,
        culprit,
        later,
        send,
        cast,
        send_after,
        delay_ms,
        target,
        receiver,
        node,
        received_by,
        sender,
        pid,
        call,
        latest,
        os_pid,
        started_unix_ns,
        state,
        recording,
        ended,
        killed,
        this,
        badarg,
        test,
        no_test,
        failed,
        roots,
        name,
        file,
        line,
        message,
        duration_us,
        framework,
        finished_ns,
        pauses,
        remote_cause,
    }
}

/// The run's tests, in the order they finished (options: `run`, `failed => true` for only
/// those that failed or could not run, `roots` the most top-level calls per test, default 10):
/// `#{module, name, file, line, outcome, message, duration_us, framework, finished_ns, pid =>
/// PidText | undefined, roots => [Call]}` (`roots`: the calls the test made at its top level,
/// `store::Snapshot::test_roots`).
#[rustler::nif(schedule = "DirtyIo")]
fn tests<'a>(env: Env<'a>, options: Term<'a>) -> NifResult<Term<'a>> {
    let snap = match snapshot(env, Some(options)) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let failed_only: bool = match options.map_get(keys::failed()) {
        Ok(t) => t.decode()?,
        Err(_) => false,
    };
    let most_roots: usize = match options.map_get(keys::roots()) {
        Ok(t) => t.decode::<usize>()?.min(MAX_LIMIT),
        Err(_) => 10,
    };
    let tests = match snap.tests() {
        Ok(tests) => tests,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let info = snap.run().info.clone();
    let undefined = atoms::undefined().encode(env);
    let atom = |text: &str| Atom::from_str(env, text).map_or(undefined, |a| a.encode(env));
    let mut to_term = CallTerm::new(&snap);
    let mut out = Vec::new();
    for recorded in tests {
        let t = &recorded.test;
        if failed_only && !matches!(t.outcome, TestOutcome::Failed | TestOutcome::Invalid) {
            continue;
        }
        let roots = match t.pid {
            Some(pid) => match snap.test_roots(pid.get(), most_roots) {
                Ok(roots) => roots,
                Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
            },
            None => Vec::new(),
        };
        let roots: Vec<Term<'a>> = roots.iter().map(|c| to_term.encode(env, c)).collect();
        let pid = match t.pid {
            Some(pid) => to_term.pid_text(pid.get()).encode(env),
            None => undefined,
        };
        let framework = match t.framework {
            TestFramework::ExUnit => "exunit",
            TestFramework::EUnit => "eunit",
            TestFramework::CommonTest => "common_test",
        };
        out.push(Term::map_from_pairs(
            env,
            &[
                (atoms::module().encode(env), atom(&t.module)),
                (keys::name().encode(env), t.name.encode(env)),
                (keys::file().encode(env), t.file.encode(env)),
                (keys::line().encode(env), t.line.encode(env)),
                (atoms::outcome().encode(env), atom(t.outcome.as_str())),
                (keys::message().encode(env), t.message.encode(env)),
                (keys::duration_us().encode(env), t.duration_us.encode(env)),
                (keys::framework().encode(env), atom(framework)),
                (
                    keys::finished_ns().encode(env),
                    info.erlang_monotonic_ns(recorded.finished).encode(env),
                ),
                (atoms::pid().encode(env), pid),
                (keys::roots().encode(env), roots.encode(env)),
            ],
        )?);
    }
    Ok(out.encode(env))
}

/// The tree under call `Id` as `#{calls => N, shown => S, lines => [{Depth, Line}]}` where a
/// line is a call map, a fold map `#{fold => children | depth | budget, parent, first, last,
/// children, calls, functions => [{Module, Function, Arity, Count}], more_functions, sampled}`,
/// a started process `#{process => PidText, origin => caller | ancestor, first => Call}`, or a
/// request the parent line's call waited for `#{request => PidText, served_by => Call}` (the
/// serving process and call); `cause` is `undefined` or, when another process's call caused
/// the root, `#{cause => request | caller | ancestor, pid => PidText, call => Call}`;
/// `undefined` when there is no such call. `Limits` is `#{depth, children, calls}` (integers,
/// or `infinity` for depth and children; calls at most 100,000).
#[rustler::nif(schedule = "DirtyIo")]
fn tree<'a>(env: Env<'a>, id: u64, limits: Term<'a>) -> NifResult<Term<'a>> {
    let limits_map = limits;
    let limit = |key: Atom, default: u64| -> NifResult<u64> {
        match limits.map_get(key) {
            Err(_) => Ok(default),
            Ok(t) if t == keys::infinity().to_term(env) => Ok(u64::MAX),
            Ok(t) => t.decode::<u64>(),
        }
    };
    let defaults = TreeLimits::DEFAULT;
    let limits = TreeLimits {
        depth: limit(keys::depth(), u64::from(defaults.depth))?.min(u64::from(u32::MAX)) as u32,
        children: limit(keys::children(), defaults.children as u64)?.min(usize::MAX as u64)
            as usize,
        calls: limit(atoms::calls(), defaults.calls as u64)?.clamp(1, MAX_LIMIT as u64) as usize,
    };
    let snap = match snapshot(env, Some(limits_map)) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let tree = match snap.tree(id, &limits) {
        Ok(Some(tree)) => tree,
        Ok(None) => return Ok(atoms::undefined().encode(env)),
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let mut to_term = CallTerm::new(&snap);
    let lines: Vec<Term<'a>> = tree
        .lines
        .iter()
        .map(|line| {
            let item = match &line.item {
                TreeItem::Call(c) => to_term.encode(env, c),
                TreeItem::Fold(f) => fold_term(env, f),
                TreeItem::Process(p) => process_term(env, p, &mut to_term),
                TreeItem::Request(r) => request_term(env, r, &mut to_term),
                TreeItem::Message(m) => message_term(env, m),
            };
            (line.depth, item).encode(env)
        })
        .collect();
    let cause = match &tree.cause {
        Some(cause) => cause_term(env, cause, &mut to_term),
        None => atoms::undefined().encode(env),
    };
    // A cause on another node: named here, read there (see `crate::cluster`).
    let remote_cause = match (&tree.cause, tree.lines.first().map(|l| &l.item)) {
        (None, Some(TreeItem::Call(root))) => crate::cluster::remote_cause_term(env, &snap, root),
        _ => Ok(atoms::undefined().encode(env)),
    };
    let remote_cause = match remote_cause {
        Ok(term) => term,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    Term::map_from_pairs(
        env,
        &[
            (atoms::calls().encode(env), tree.calls.encode(env)),
            (keys::shown().encode(env), tree.shown.encode(env)),
            (keys::lines().encode(env), lines.encode(env)),
            (keys::cause().encode(env), cause),
            (keys::remote_cause().encode(env), remote_cause),
        ],
    )
}

/// `tree_prefixes(Depths)`: the guides drawn before the lines of a tree whose lines have these
/// depths (`tree/2`'s, in display order; after IEx put lines of other nodes in, see
/// `elixir_scope_cluster`), as binaries: `store::tree_prefixes`, the layout the CLI draws, so
/// that IEx only puts each before its line's text. A depth that is not an integer from 0 to
/// 2^32 - 1 is a `badarg`.
#[rustler::nif(schedule = "DirtyCpu")]
fn tree_prefixes(depths: Vec<u32>) -> Vec<String> {
    store::tree_prefixes(depths).collect()
}

/// The processes of the run that crashed (`store::Snapshot::crashes`), at most `limit` of
/// `Options` (20): `#{pid => PidText, ended_ns, ended_unix_ns, reason => Reason | unknown,
/// origin => PidText | undefined, started_by => Call | undefined, notices => [#{kind =>
/// 'EXIT' | 'DOWN', pid => PidText, call => Call}], restart => #{pid => PidText, first =>
/// Call} | undefined, culprit => Call | undefined, later => [Call]}`.
#[rustler::nif(schedule = "DirtyIo")]
fn crashes<'a>(env: Env<'a>, options: Term<'a>) -> NifResult<Term<'a>> {
    let snap = match snapshot(env, Some(options)) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let limit: usize = match options.map_get(atoms::limit()) {
        Ok(t) => t.decode::<usize>()?.min(MAX_LIMIT),
        Err(_) => 20,
    };
    let crashes = match snap.crashes(limit) {
        Ok(crashes) => crashes,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let info = snap.run().info.clone();
    let undefined = atoms::undefined().encode(env);
    let mut to_term = CallTerm::new(&snap);
    let mut out = Vec::with_capacity(crashes.len());
    for crash in &crashes {
        let mut call = |c: &Option<Call>| match c {
            Some(c) => to_term.encode(env, c),
            None => undefined,
        };
        let started_by = call(&crash.started_by);
        let culprit = call(&crash.culprit);
        let notices: Vec<Term<'a>> = crash
            .notices
            .iter()
            .map(|n| {
                let kind =
                    Atom::from_str(env, n.kind.as_str()).map_or(undefined, |a| a.encode(env));
                Term::map_from_pairs(
                    env,
                    &[
                        (keys::kind().encode(env), kind),
                        (atoms::pid().encode(env), n.text.encode(env)),
                        (keys::call().encode(env), to_term.encode(env, &n.call)),
                    ],
                )
                .unwrap_or(undefined)
            })
            .collect();
        let restart = match &crash.restart {
            Some((text, first)) => Term::map_from_pairs(
                env,
                &[
                    (atoms::pid().encode(env), text.encode(env)),
                    (keys::first().encode(env), to_term.encode(env, first)),
                ],
            )
            .unwrap_or(undefined),
            None => undefined,
        };
        let later: Vec<Term<'a>> = crash.later.iter().map(|c| to_term.encode(env, c)).collect();
        let reason = match &crash.end.reason {
            Some(bytes) => decode(env, bytes),
            None => keys::unknown().encode(env),
        };
        out.push(Term::map_from_pairs(
            env,
            &[
                (atoms::pid().encode(env), crash.text.encode(env)),
                (
                    keys::ended_ns().encode(env),
                    info.erlang_monotonic_ns(crash.end.time).encode(env),
                ),
                (
                    keys::ended_unix_ns().encode(env),
                    info.unix_ns(crash.end.time).encode(env),
                ),
                (keys::reason().encode(env), reason),
                (
                    keys::origin().encode(env),
                    crash
                        .origin
                        .as_ref()
                        .map_or(undefined, |o| o.text.encode(env)),
                ),
                (keys::started_by().encode(env), started_by),
                (keys::notices().encode(env), notices.encode(env)),
                (keys::restart().encode(env), restart),
                (keys::culprit().encode(env), culprit),
                (keys::later().encode(env), later.encode(env)),
            ],
        )?);
    }
    Ok(out.encode(env))
}

/// `#{cause => request | caller | ancestor | send | cast | send_after, pid => PidText, call =>
/// Call}` (a message's cause is the call that sent it).
fn cause_term<'a>(env: Env<'a>, cause: &Cause, to_term: &mut CallTerm) -> Term<'a> {
    let kind = match cause.kind {
        CauseKind::Request => keys::request(),
        CauseKind::Started(OriginKind::Caller) => atoms::caller(),
        CauseKind::Started(OriginKind::Ancestor) => atoms::ancestor(),
        CauseKind::Message(how) => send_kind(how),
    };
    let pairs = [
        (keys::cause().encode(env), kind.encode(env)),
        (keys::pid().encode(env), cause.text.encode(env)),
        (keys::call().encode(env), to_term.encode(env, &cause.call)),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::undefined().encode(env))
}

/// `#{process => PidText, origin => caller | ancestor, first => Call}`.
fn process_term<'a>(env: Env<'a>, process: &StartedProcess, to_term: &mut CallTerm) -> Term<'a> {
    let origin = match process.kind {
        OriginKind::Caller => atoms::caller(),
        OriginKind::Ancestor => atoms::ancestor(),
    };
    let pairs = [
        (keys::process().encode(env), process.text.encode(env)),
        (keys::origin().encode(env), origin.encode(env)),
        (
            keys::first().encode(env),
            to_term.encode(env, &process.first),
        ),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::undefined().encode(env))
}

/// `send`, `cast` or `send_after`.
fn send_kind(kind: SendKind) -> Atom {
    match kind {
        SendKind::Send => keys::send(),
        SendKind::Cast => keys::cast(),
        SendKind::SendAfter => keys::send_after(),
    }
}

/// `#{message => Message, send => send | cast | send_after, delay_ms => N, target => Dest,
/// receiver => PidText | undefined, received_by => Id | undefined, sender => Id, node => Node
/// | undefined}` (`node`: the receiver's when it is another node's, `PidText` then as that
/// node prints it).
fn message_term<'a>(env: Env<'a>, line: &MessageLine) -> Term<'a> {
    let undefined = atoms::undefined().encode(env);
    let m = &line.message;
    let pairs = [
        (keys::message().encode(env), decode(env, &m.message)),
        (keys::send().encode(env), send_kind(m.kind).encode(env)),
        (keys::delay_ms().encode(env), m.delay_ms.encode(env)),
        (keys::target().encode(env), decode(env, &m.target)),
        (
            keys::receiver().encode(env),
            line.receiver_text
                .as_ref()
                .map_or(undefined, |t| t.encode(env)),
        ),
        (
            keys::received_by().encode(env),
            line.received_by.map_or(undefined, |id| id.encode(env)),
        ),
        (keys::sender().encode(env), m.call_id.encode(env)),
        (
            keys::node().encode(env),
            line.node.as_deref().map_or(undefined, |node| {
                Atom::from_str(env, node).map_or(undefined, |a| a.encode(env))
            }),
        ),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or(undefined)
}

/// `#{request => PidText, served_by => Call}`.
fn request_term<'a>(env: Env<'a>, request: &ServedRequest, to_term: &mut CallTerm) -> Term<'a> {
    let pairs = [
        (keys::request().encode(env), request.text.encode(env)),
        (
            keys::served_by().encode(env),
            to_term.encode(env, &request.call),
        ),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| atoms::undefined().encode(env))
}

fn fold_term<'a>(env: Env<'a>, fold: &Fold) -> Term<'a> {
    let undefined = atoms::undefined().encode(env);
    let atom = |text: &str| Atom::from_str(env, text).map_or(undefined, |a| a.encode(env));
    let functions: Vec<Term<'a>> = fold
        .functions
        .iter()
        .map(|f| (atom(&f.module), atom(&f.function), f.arity, f.calls).encode(env))
        .collect();
    let pairs = [
        (keys::fold().encode(env), atom(fold.reason.as_str())),
        (atoms::parent().encode(env), fold.parent.encode(env)),
        (keys::first().encode(env), fold.first.encode(env)),
        (keys::last().encode(env), fold.last.encode(env)),
        (keys::children().encode(env), fold.children.encode(env)),
        (atoms::calls().encode(env), fold.calls.encode(env)),
        (keys::functions().encode(env), functions.encode(env)),
        (
            keys::more_functions().encode(env),
            fold.more_functions.encode(env),
        ),
        (keys::sampled().encode(env), fold.sampled.encode(env)),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or(undefined)
}

/// `#{run, calls, exceptions, processes, tail_calls, pauses}` of the running run: table sizes,
/// so the cost does not grow with the run, and when recording was paused (`[{FromNs, UntilNs |
/// undefined}]`, `erlang:monotonic_time(nanosecond)` values).
#[rustler::nif(schedule = "DirtyIo")]
fn summary(env: Env<'_>) -> NifResult<Term<'_>> {
    let snap = match snapshot(env, None) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let counts = match snap.counts() {
        Ok(c) => c,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let pauses = match snap.pauses() {
        Ok(p) => p,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let info = &snap.run().info;
    let pauses: Vec<Term<'_>> = pauses
        .iter()
        .map(|p| {
            let until = match p.until {
                Some(t) => info.erlang_monotonic_ns(t).encode(env),
                None => atoms::undefined().encode(env),
            };
            (info.erlang_monotonic_ns(p.from), until).encode(env)
        })
        .collect();
    Term::map_from_pairs(
        env,
        &[
            (keys::pauses().encode(env), pauses.encode(env)),
            (atoms::run().encode(env), snap.run().id.encode(env)),
            (atoms::calls().encode(env), counts.calls.encode(env)),
            (
                keys::exceptions().encode(env),
                counts.exceptions.encode(env),
            ),
            (keys::processes().encode(env), counts.processes.encode(env)),
            (
                keys::tail_calls().encode(env),
                counts.tail_calls.encode(env),
            ),
        ],
    )
}

pub(crate) fn from_erlang_ns(info: &RunInfo, erlang_ns: i64) -> u64 {
    let delta = erlang_ns as i128 - info.erlang_monotonic_ns as i128;
    (info.monotonic_origin_ns as i128 + delta).clamp(0, u64::MAX as i128) as u64
}

pub(crate) fn list<'a>(env: Env<'a>, snap: &Snapshot, calls: &[Call]) -> Term<'a> {
    let mut to_term = CallTerm::new(snap);
    let terms: Vec<Term<'a>> = calls.iter().map(|c| to_term.encode(env, c)).collect();
    terms.encode(env)
}

/// Turns stored calls into maps, remembering pid texts.
pub(crate) struct CallTerm<'s> {
    snap: &'s Snapshot,
    pids: HashMap<u64, String>,
}

impl<'s> CallTerm<'s> {
    pub(crate) fn new(snap: &'s Snapshot) -> Self {
        CallTerm {
            snap,
            pids: HashMap::new(),
        }
    }

    pub(crate) fn pid_text(&mut self, pid: u64) -> String {
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

    pub(crate) fn encode<'a>(&mut self, env: Env<'a>, call: &Call) -> Term<'a> {
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
            (
                keys::start_unix_ns().encode(env),
                info.unix_ns(call.start).encode(env),
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
