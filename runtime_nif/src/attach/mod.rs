//! Attach: recording code that was not rewritten, through the VM's own call tracing.
//!
//! The controller (`elixir_scope_attach`, a process in the traced VM) opens a session here
//! ([`attach_open`]), reads each process's dictionary once ([`attach_seed`]), then sets call
//! trace patterns (`exception_trace`) and trace flags (`call`, `procs`) whose tracer is this
//! library: `{tracer, elixir_scope_nif, Session}`. From then on the VM calls the [`tracer`]'s
//! callbacks in the traced processes themselves, which record into the same ring as rewritten
//! code: call ids from the same counter, values through the same encoder, caps and redaction,
//! parents from one stack of open calls per process that rewritten calls share
//! ([`processes`]). Attached calls are therefore stored, queried, shown as trees and exported
//! like rewritten ones.
//!
//! Safety, like recon_trace: every call the VM reports counts against a rate limit (calls per
//! second) and a total limit ([`admit`]); at either the session stops accepting calls (the
//! ends of calls already open are still recorded) and tells the controller, which removes its
//! patterns and flags and closes the session ([`attach_close`]). A controller that dies
//! (killed from outside) closes its session through a monitor: flags it could not remove then
//! record nothing, and the VM drops them when it next asks (`trace_status`).
//!
//! Pausing (`elixir_scope_runtime:pause/0,1`) applies as to rewritten calls: the runtime tells
//! this library its state ([`recording_state`]).

pub(crate) mod processes;
mod tracer;

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};

use runtime_core::Recorded;
use rustc_hash::FxHasher;
use rustler::{Encoder, Env, LocalPid, Monitor, NifResult, ResourceArc, Term};
use store::{OriginKind, Outcome, ProcessStart};

use crate::atoms;
use crate::hot::{answer, current_call, record_end, record_enter, CallTerms, Entered};
use crate::links::{link_pid, LinkPid};
use crate::term::{local_pid_term, local_pid_text, self_pid_word, word};

/// Atoms of the tracer protocol and the controller's messages.
mod keys {
    rustler::atoms! {
        trace,
        discard,
        remove,
        trace_status,
        call,
        return_from,
        exception_from,
        spawned,
        extra,
        erlang,
        proc_lib,
        hibernate,
        handle_call,
        handle_event,
        stacktrace,
        attached,
        elixir_scope_cut = "$elixir_scope_cut",
        elixir_scope_attach,
        limit,
        total_limit,
        rate_limit,
        already_attached,
        not_attached,
        left_open,
        paused,
    }
}

/// The open session: what the callbacks check at every event.
struct Session {
    /// Its number, the tracer state the VM passes back (0: no session is open).
    id: AtomicU64,
    /// Whether new calls are recorded (`false` once a limit was reached).
    accepting: AtomicBool,
    /// The controller's pid word: told when a limit is reached.
    controller: AtomicU64,
    /// Whether the controller was told (once per session).
    told: AtomicBool,
    /// Calls in all, at most.
    limit: AtomicU64,
    /// Calls per second, at most.
    rate: AtomicU64,
    /// Calls counted against `limit` (those past it too).
    calls: AtomicU64,
    /// The second (`clock` ns / 10^9) `in_window` counts.
    window: AtomicU64,
    /// Calls counted in `window`.
    in_window: AtomicU64,
}

static SESSION: Session = Session {
    id: AtomicU64::new(0),
    accepting: AtomicBool::new(false),
    controller: AtomicU64::new(0),
    told: AtomicBool::new(false),
    limit: AtomicU64::new(0),
    rate: AtomicU64::new(0),
    calls: AtomicU64::new(0),
    window: AtomicU64::new(0),
    in_window: AtomicU64::new(0),
};

/// The next session's number.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// The monitor of the open session's controller.
static WATCH: Mutex<Option<ResourceArc<ControllerWatch>>> = Mutex::new(None);

/// Whether `session` (the tracer state of an event) is the open session.
fn is_current(session: Term<'_>) -> bool {
    let open = SESSION.id.load(Ordering::Acquire);
    open != 0 && session.decode::<u64>().ok() == Some(open)
}

/// Whether the open session records new calls.
fn accepting() -> bool {
    SESSION.accepting.load(Ordering::Relaxed)
}

/// Counts a call made at `now` (`clock` ns) against the limits: `true` if it may be
/// recorded. At a limit the session stops accepting calls and tells its controller
/// `{elixir_scope_attach, Session, {limit, Reason}}` (`total_limit` or `rate_limit`), once.
fn admit(env: Env<'_>, now: u64) -> bool {
    if !accepting() {
        return false;
    }
    let second = now / 1_000_000_000;
    let window = SESSION.window.load(Ordering::Relaxed);
    if window != second
        && SESSION
            .window
            .compare_exchange(window, second, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        SESSION.in_window.store(0, Ordering::Relaxed);
    }
    if SESSION.in_window.fetch_add(1, Ordering::Relaxed) >= SESSION.rate.load(Ordering::Relaxed) {
        return stop(env, keys::rate_limit());
    }
    if SESSION.calls.fetch_add(1, Ordering::Relaxed) >= SESSION.limit.load(Ordering::Relaxed) {
        return stop(env, keys::total_limit());
    }
    true
}

/// Stops accepting calls and tells the controller why (once); `false`.
fn stop(env: Env<'_>, reason: rustler::Atom) -> bool {
    SESSION.accepting.store(false, Ordering::Relaxed);
    if !SESSION.told.swap(true, Ordering::AcqRel) {
        let controller = SESSION.controller.load(Ordering::Relaxed);
        // The word of a local pid (see `attach_open`).
        if let Ok(pid) = local_pid_term(env, controller).decode::<LocalPid>() {
            let session = SESSION.id.load(Ordering::Relaxed);
            let message = (
                keys::elixir_scope_attach(),
                session,
                (keys::limit(), reason),
            );
            // The controller is never traced: sending to it from a traced process is allowed.
            let _ = env.send(&pid, message);
        }
    }
    false
}

/// The calls the open session admitted so far.
fn admitted() -> u64 {
    SESSION
        .calls
        .load(Ordering::Relaxed)
        .min(SESSION.limit.load(Ordering::Relaxed))
}

/// Watches a session's controller: when it goes, so does the session.
struct ControllerWatch {
    session: u64,
}

#[rustler::resource_impl]
impl rustler::Resource for ControllerWatch {
    const IMPLEMENTS_DOWN: bool = true;

    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        // The resource stays in WATCH until the next session replaces it: dropping it here,
        // inside its own callback, could free it under us.
        let _ = close(self.session);
    }
}

/// Closes `session` if it is the open one: no event is recorded for it from now on. How many
/// recorded attached calls were left open, or `None` if it was not open.
fn close(session: u64) -> Option<u64> {
    SESSION
        .id
        .compare_exchange(session, 0, Ordering::AcqRel, Ordering::Acquire)
        .ok()?;
    SESSION.accepting.store(false, Ordering::Relaxed);
    Some(processes::close())
}

/// `attach_open(Controller, Rate, Limit, Mixed)`: opens a session traced for `Controller`
/// (told of limits, watched: the session closes if it dies), recording at most `Rate` calls a
/// second and `Limit` in all; with `Mixed`, rewritten calls share the processes' stacks of
/// open calls. Seeding starts ([`attach_seed`]). `{ok, Session}` (the tracer state to trace
/// with), or `{error, already_attached}`.
#[rustler::nif]
fn attach_open(
    env: Env<'_>,
    controller: LocalPid,
    rate: u64,
    limit: u64,
    mixed: bool,
) -> NifResult<Term<'_>> {
    let mut watch = WATCH.lock().unwrap_or_else(|e| e.into_inner());
    if SESSION.id.load(Ordering::Acquire) != 0 {
        return Ok((atoms::error(), keys::already_attached()).encode(env));
    }
    let session = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let resource = ResourceArc::new(ControllerWatch { session });
    SESSION
        .controller
        .store(word(controller.encode(env)), Ordering::Relaxed);
    SESSION.told.store(false, Ordering::Relaxed);
    SESSION.limit.store(limit, Ordering::Relaxed);
    SESSION.rate.store(rate, Ordering::Relaxed);
    SESSION.calls.store(0, Ordering::Relaxed);
    SESSION.window.store(0, Ordering::Relaxed);
    SESSION.in_window.store(0, Ordering::Relaxed);
    SESSION.accepting.store(true, Ordering::Relaxed);
    processes::open(mixed);
    SESSION.id.store(session, Ordering::Release);
    if env.monitor(&resource, &controller).is_none() {
        // The controller is gone already.
        let _ = close(session);
        return Ok((atoms::error(), atoms::not_started()).encode(env));
    }
    *watch = Some(resource);
    Ok((atoms::ok(), session).encode(env))
}

/// `attach_seed(Pid, Current, Origin)`: what the controller read in `Pid`'s dictionary:
/// `Current` its `$elixir_scope_call` (`undefined` when none), `Origin` where it came from
/// (`none`, or `{caller | ancestor, FromPid}`, `FromPid` of this node or another). Only while
/// seeding (see [`processes`]).
#[rustler::nif]
fn attach_seed<'a>(pid: Term<'a>, current: Term<'a>, origin: Term<'a>) -> NifResult<rustler::Atom> {
    pid.decode::<LocalPid>()?;
    let current = current_call(current)?.0.unwrap_or(0);
    let origin = match origin.decode::<(Term, Term)>() {
        Ok((kind, from)) => {
            let kind = if atoms::caller() == kind {
                OriginKind::Caller
            } else {
                OriginKind::Ancestor
            };
            Some((kind, link_pid(from))).filter(|(_, from)| *from != LinkPid::None)
        }
        _ => None,
    };
    processes::seed(word(pid), current, origin);
    Ok(atoms::ok())
}

/// `attach_seeded()`: the controller read every dictionary it meant to; the trace flags come
/// next.
#[rustler::nif]
fn attach_seeded() -> rustler::Atom {
    processes::seeded();
    atoms::ok()
}

/// `attach_close(Session)`: closes the session (its flags record nothing from now on).
/// `{ok, #{calls, left_open}}`: the calls it admitted, and the recorded calls still open
/// (they stay `running` in the recording); `{error, not_attached}` if it was not open.
#[rustler::nif]
fn attach_close(env: Env<'_>, session: u64) -> NifResult<Term<'_>> {
    let calls = admitted();
    match close(session) {
        Some(open) => {
            let info = Term::map_from_pairs(
                env,
                &[
                    (atoms::calls().encode(env), calls.encode(env)),
                    (keys::left_open().encode(env), open.encode(env)),
                ],
            )?;
            Ok((atoms::ok(), info).encode(env))
        }
        None => Ok((atoms::error(), keys::not_attached()).encode(env)),
    }
}

/// `attach_prune()`: forgets what the processes' stacks hold for nothing (processes that
/// exited unseen, stacks that are empty); the controller calls it every second. How many
/// processes the stacks still hold.
#[rustler::nif(schedule = "DirtyCpu")]
fn attach_prune() -> usize {
    processes::prune()
}

/// `attach_calls()`: the calls the open session admitted so far (0 when none is open).
#[rustler::nif]
fn attach_calls() -> u64 {
    if SESSION.id.load(Ordering::Acquire) == 0 {
        0
    } else {
        admitted()
    }
}

/// `attach_note(Function, Args, Result, Introduce)`: records, in the calling process (the
/// controller) and now, a call `elixir_scope_attach:Function(Args...)` that returned `Result`:
/// what was attached, why it stopped. `Introduce` for the process's first. `ok`, or `full`
/// when the ring had no room under `overflow = block` (nothing recorded: call again).
#[rustler::nif]
fn attach_note<'a>(
    env: Env<'a>,
    function: Term<'a>,
    arguments: Term<'a>,
    result: Term<'a>,
    introduce: bool,
) -> NifResult<Term<'a>> {
    let pid = self_pid_word(env);
    let process = introduce.then(|| {
        Box::new(ProcessStart {
            text: local_pid_text(env, pid),
            origin: None,
            name: None,
        })
    });
    let call = CallTerms {
        module: keys::elixir_scope_attach().encode(env),
        function,
        arity: arguments.list_length()?.min(255) as u8,
        arguments,
    };
    let id = match record_enter(env, call, None, process, None, None)? {
        Entered::Full => return Ok(atoms::full().encode(env)),
        Entered::Id(id) => id,
    };
    let recorded = record_end(
        env,
        (id != 0).then_some(id),
        0,
        Outcome::Return,
        result,
        &Default::default(),
        None,
    )?;
    Ok(answer(
        env,
        if recorded == Recorded::Full {
            Recorded::Dropped
        } else {
            recorded
        },
    ))
}

/// What recording is paused for, as the runtime's state says.
struct Paused {
    /// Everything (globally paused, or not running).
    all: AtomicBool,
    /// Whether `modules` has any.
    some: AtomicBool,
    /// Modules paused on their own (atom words).
    modules: RwLock<HashSet<u64, BuildHasherDefault<FxHasher>>>,
}

static PAUSED: LazyLock<Paused> = LazyLock::new(|| Paused {
    all: AtomicBool::new(false),
    some: AtomicBool::new(false),
    modules: RwLock::new(HashSet::default()),
});

/// Whether recording is paused for `module` (an atom).
fn paused(module: Term<'_>) -> bool {
    if PAUSED.all.load(Ordering::Relaxed) {
        return true;
    }
    PAUSED.some.load(Ordering::Relaxed)
        && PAUSED
            .modules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&word(module))
}

/// `recording_state(State)`: the runtime's state as it publishes it: `{running, Paused}` or
/// `{paused, Paused}`, `Paused` a map whose keys are the modules paused on their own;
/// anything else records nothing. Attached calls are recorded as rewritten ones would be.
#[rustler::nif]
fn recording_state(state: Term<'_>) -> rustler::Atom {
    let (all, modules) = match state.decode::<(Term, Term)>() {
        Ok((mode, paused_modules)) if atoms::running() == mode || keys::paused() == mode => {
            let modules = rustler::types::map::MapIterator::new(paused_modules)
                .map(|pairs| pairs.map(|(module, _)| word(module)).collect())
                .unwrap_or_default();
            (keys::paused() == mode, modules)
        }
        _ => (true, HashSet::default()),
    };
    let mut held = PAUSED.modules.write().unwrap_or_else(|e| e.into_inner());
    PAUSED.some.store(!modules.is_empty(), Ordering::Relaxed);
    *held = modules;
    PAUSED.all.store(all, Ordering::Relaxed);
    atoms::ok()
}

/// `stack_discarded()`: the calling process discards its stack (it hibernates): none of its
/// calls is open any more.
#[rustler::nif]
fn stack_discarded(env: Env<'_>) -> rustler::Atom {
    if SESSION.id.load(Ordering::Acquire) != 0 {
        processes::stack_discarded(self_pid_word(env));
    }
    atoms::ok()
}
