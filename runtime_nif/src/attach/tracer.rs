//! The tracer: `elixir_scope_nif` as an `erl_tracer` module.
//!
//! The controller traces with `{tracer, elixir_scope_nif, Session}`, so the VM calls
//! [`enabled`] and then [`trace`] in the traced process itself, at each call, return and
//! exception of a traced function and at each spawn and exit of a traced process. They record
//! into the ring as the hot path does, with no tracer process, no trace message and no copy of
//! the arguments.
//!
//! - `call` `{M, F, Args}`: admitted against the limits ([`super::admit`]), then recorded
//!   under the innermost open call of the process ([`processes`]) unless recording is paused
//!   for `M` or too many calls are open; either way pushed onto the process's stack, since the
//!   VM will report its end.
//! - `return_from` (the result in the options' `extra`) and `exception_from` (`{Class,
//!   Reason}` there): the process's innermost attached call ended. The VM gives no stack
//!   trace: the exception is stored as `{Reason, {'$elixir_scope_cut', stacktrace, attached}}`,
//!   which every printer shows as "no stack trace", never as an empty one.
//! - `spawned` (the spawner is the message): where the process came from; `exit`: its entry
//!   goes. A call of `proc_lib:hibernate/3` or `erlang:hibernate/3` empties its stack.
//!
//! Both callbacks answer for another session's state (`Session` of flags left by a controller
//! that is gone) by discarding, and `remove` for its `trace_status`, so the VM drops such
//! flags. Nothing here raises, panics across the boundary, waits or allocates beyond the
//! encoder's caps: a full ring under `overflow = block` drops the event and counts it (the
//! traced process cannot wait inside a trace callback).

use std::panic::{catch_unwind, AssertUnwindSafe};

use runtime_core::{clock, Recorded};
use rustler::codegen_runtime::c_int;
use rustler::sys::{ErlNifEnv, ErlNifTerm};
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, NifResult, Term};
use store::{Class, Origin, Outcome, ProcessStart};

use super::processes::{self, AttachedStart, Open};
use super::{admit, is_current, keys, paused};
use crate::atoms;
use crate::hot::{raw_nif, record_end, record_enter, CallTerms, Elsewhere, Entered};
use crate::links::{announce, link_pid, LinkPid};
use crate::runtime;
use crate::term::{local_pid_text, word, Beam};

/// Runs a tracer callback: its arguments as terms, panics caught; always answers an atom.
///
/// # Safety
/// `env`, `argc` and `argv` must be what the VM passed to the callback.
unsafe fn callback<const N: usize>(
    env: *mut ErlNifEnv,
    argc: c_int,
    argv: *const ErlNifTerm,
    fallback: rustler::Atom,
    body: impl for<'a> FnOnce(Env<'a>, [Term<'a>; N]) -> rustler::Atom,
) -> ErlNifTerm {
    let lifetime = ();
    // SAFETY: the VM's env, valid for this call.
    let env = unsafe { Env::new(&lifetime, env) };
    if argc as usize != N {
        return fallback.as_c_arg();
    }
    // SAFETY: the VM passes `argc` terms at `argv`, live for this call.
    let args: [Term; N] = std::array::from_fn(|i| unsafe { Term::new(env, *argv.add(i)) });
    catch_unwind(AssertUnwindSafe(|| body(env, args)))
        .unwrap_or(fallback)
        .as_c_arg()
}

raw_nif! {
    /// `enabled(Tag, Session, Tracee)`: whether the VM builds the event and calls [`trace`]. For
    /// the open session: `trace` for calls while it accepts them, for ends (of calls already
    /// open), spawns and exits; `trace` to `trace_status`. Otherwise `discard`, and `remove` to
    /// `trace_status`.
    fn enabled(_env, [tag, session, _tracee]) via callback(keys::discard()) {
        let current = is_current(session);
        if keys::trace_status() == tag {
            return if current {
                keys::trace()
            } else {
                keys::remove()
            };
        }
        let wanted = current
            && if keys::call() == tag {
                super::accepting()
            } else {
                keys::return_from() == tag
                    || keys::exception_from() == tag
                    || keys::spawned() == tag
                    || atoms::exit() == tag
            };
        if wanted {
            keys::trace()
        } else {
            keys::discard()
        }
    }
}

raw_nif! {
    /// `trace(Tag, Session, Tracee, Message, Options)`: records the event (see the module's doc).
    /// Answers `ok` (the VM ignores it).
    fn trace(env, [tag, session, tracee, message, options]) via callback(atoms::ok()) {
        if is_current(session) && tracee.is_pid() {
            let pid = word(tracee);
            if keys::call() == tag {
                called(env, pid, message);
            } else if keys::return_from() == tag {
                ended(env, pid, options, false);
            } else if keys::exception_from() == tag {
                ended(env, pid, options, true);
            } else if keys::spawned() == tag {
                let parent = link_pid(message);
                if parent != LinkPid::None {
                    processes::spawned(pid, parent);
                }
            } else if atoms::exit() == tag {
                processes::exited(pid);
            }
        }
        atoms::ok()
    }
}

/// A traced call of `pid`: `message` is `{M, F, Args}`.
fn called<'a>(env: Env<'a>, pid: u64, message: Term<'a>) {
    let Some(&[module, function, arguments]) = Beam(message).tuple() else {
        return;
    };
    // SAFETY: the elements of `message`'s tuple live as long as its env.
    let [module, function, arguments] =
        [module, function, arguments].map(|t| unsafe { Term::new(env, t) });
    if (keys::proc_lib() == module || keys::erlang() == module) && keys::hibernate() == function {
        // `proc_lib:hibernate/3`, `erlang:hibernate/3`: the process's stack goes, and so do
        // its open calls (whatever pattern the controller or a target put there).
        processes::stack_discarded(pid);
        return;
    }
    let now = clock::monotonic_ns();
    if !admit(env, now) || paused(module) {
        processes::attached_unrecorded(pid);
        return;
    }
    let AttachedStart::Record { parent, introduce } = processes::attached_start(pid) else {
        return;
    };
    let id = record_call(
        env,
        pid,
        now,
        [module, function, arguments],
        parent,
        introduce,
    )
    .unwrap_or(0);
    processes::attached_started(pid, id);
}

/// Records the call, made at `now`; its id, 0 when dropped (or the runtime is not running).
fn record_call<'a>(
    env: Env<'a>,
    pid: u64,
    now: u64,
    [module, function, arguments]: [Term<'a>; 3],
    parent: u64,
    introduce: Option<Option<(store::OriginKind, LinkPid)>>,
) -> NifResult<u64> {
    let arity = arguments.list_length()?.min(255) as u8;
    let mut origin_link = LinkPid::None;
    let process = introduce.map(|origin| {
        Box::new(ProcessStart {
            text: local_pid_text(env, pid),
            origin: origin.and_then(|(kind, from)| {
                let origin = Origin {
                    kind,
                    pid: from.word()?.get(),
                    text: match &from {
                        LinkPid::Remote(remote) => remote.text.clone(),
                        LinkPid::Local(from) => local_pid_text(env, *from),
                        LinkPid::None => return None,
                    },
                };
                origin_link = from;
                Some(origin)
            }),
            name: None,
        })
    });
    let client = request_client(function, arguments, pid);
    let call = CallTerms {
        module,
        function,
        arity,
        arguments,
    };
    let at = Elsewhere { pid, time: now };
    let entered = if announce(&[&origin_link, &client]) == Recorded::Full {
        Entered::Full
    } else {
        record_enter(env, call, Some(parent), process, client.word(), Some(at))?
    };
    Ok(match entered {
        Entered::Id(id) => id,
        Entered::Full => {
            // The traced process cannot wait here: dropped, and counted.
            if let Some(rt) = runtime::get() {
                rt.recorder().skipped();
            }
            0
        }
    })
}

/// The process waiting for the reply of a call that serves a request, as the runtime records
/// it for rewritten calls (`elixir_scope_runtime:client/3`): `From` of `handle_call(Request,
/// From, State)`, of a gen_statem state function `State({call, From}, Content, Data)` or of
/// its `handle_event({call, From}, Content, State, Data)`, when it is another process, of this
/// node or another.
fn request_client<'a>(function: Term<'a>, arguments: Term<'a>, pid: u64) -> LinkPid {
    let Some(from) = request_from(function, arguments) else {
        return LinkPid::None;
    };
    let Ok((client, _tag)) = from.decode::<(Term, Term)>() else {
        return LinkPid::None;
    };
    match link_pid(client) {
        LinkPid::Local(client) if client == pid => LinkPid::None,
        link => link,
    }
}

/// `From` of a call that serves a request (see [`request_client`]).
fn request_from<'a>(function: Term<'a>, arguments: Term<'a>) -> Option<Term<'a>> {
    let mut items = arguments.into_list_iterator().ok()?;
    let first: [Option<Term>; 5] = std::array::from_fn(|_| items.next());
    match first {
        [Some(_), Some(from), Some(_), None, None] if keys::handle_call() == function => Some(from),
        [Some(event), Some(_), Some(_), None, None] => call_from(event),
        [Some(event), Some(_), Some(_), Some(_), None] if keys::handle_event() == function => {
            call_from(event)
        }
        _ => None,
    }
}

/// `From` of `{call, From}`.
fn call_from(event: Term<'_>) -> Option<Term<'_>> {
    let (tag, from): (Term, Term) = event.decode().ok()?;
    (keys::call() == tag).then_some(from)
}

/// The innermost attached call of `pid` returned (`exception`: raised); `options` holds the
/// result, or `{Class, Reason}`, under `extra`.
fn ended<'a>(env: Env<'a>, pid: u64, options: Term<'a>, exception: bool) {
    let Some(Open::Attached(id)) = processes::attached_ended(pid) else {
        return;
    };
    if id == 0 {
        // Its start was dropped: so is its end.
        if let Some(rt) = runtime::get() {
            rt.recorder().skipped();
        }
        return;
    }
    let Ok(extra) = options.map_get(keys::extra()) else {
        return;
    };
    let (outcome, value) = if exception {
        let Ok((class, reason)) = extra.decode::<(Term, Term)>() else {
            return;
        };
        let class = if atoms::throw() == class {
            Class::Throw
        } else if atoms::exit() == class {
            Class::Exit
        } else {
            Class::Error
        };
        (
            Outcome::Exception(class),
            make_tuple(env, &[reason, no_stacktrace(env)]),
        )
    } else {
        (Outcome::Return, extra)
    };
    if let Ok(Recorded::Full) =
        record_end(env, Some(id), 0, outcome, value, &Default::default(), None)
    {
        if let Some(rt) = runtime::get() {
            rt.recorder().skipped();
        }
    }
}

/// What an attached exception stores in place of its stack trace, which the VM's call trace
/// does not give: the cut marker `{'$elixir_scope_cut', stacktrace, attached}`.
fn no_stacktrace(env: Env<'_>) -> Term<'_> {
    make_tuple(
        env,
        &[
            keys::elixir_scope_cut().encode(env),
            keys::stacktrace().encode(env),
            keys::attached().encode(env),
        ],
    )
}
