//! Calls made by another process: what the attach tracer (`elixir_scope_attach`, which turns
//! the VM's own call trace messages into recorded calls) records.
//!
//! The hot path ([`crate::hot`]) records the calling process's own calls, now. A tracer
//! process receives `{trace_ts, Pid, call, {M, F, Args}, Ts}` some time after `Pid` made the
//! call, so these NIFs take the pid and the trace message's timestamp instead, and keep
//! everything else the same: call ids from the same counter, values through the same encoder
//! within the runtime's caps and redaction, the same events in the same ring. Attached calls
//! are therefore stored, queried, shown as trees and exported exactly like rewritten ones.
//!
//! Times: the trace timestamp is `erlang:monotonic_time` in nanoseconds (the tracer asks for
//! `monotonic_timestamp` and converts); the event's time is the runtime's clock now, minus how
//! long ago the VM's monotonic clock says the call happened (`enif_monotonic_time`), so that
//! durations are the calls' own, not when the tracer got round to them.

use runtime_core::Recorded;
use rustler::{Encoder, Env, Error, NifResult, Term};
use store::{Class, Outcome};

use crate::atoms;
use crate::hot::{
    announce, answer, client_of, process_start, record_end, record_enter, CallTerms, Elsewhere,
    LinkPid,
};
use crate::term::word;

/// `attached_enter(Pid, Module, Function, Arity, Args, Parent, TraceNs, Process, Client)`:
/// records that the local process `Pid` called `Module:Function/Arity` with `Args` at
/// `TraceNs` (`erlang:monotonic_time(nanosecond)`), under the call `Parent` (0: none).
/// `Process` is `none`, or `{PidText, Origin}` with the first call the tracer sees of `Pid`
/// (`Origin` as for `enter_first/7`); `Client` as for `enter_request/6` (`none`, or the pid
/// waiting for the reply of a `handle_call/3`). Returns the call's id (0 when dropped or not
/// recording) or `full` (under `overflow = block`: wait and call again).
#[allow(clippy::too_many_arguments)]
#[rustler::nif]
fn attached_enter<'a>(
    env: Env<'a>,
    pid: Term<'a>,
    module: Term<'a>,
    function: Term<'a>,
    arity: u8,
    arguments: Term<'a>,
    parent: u64,
    trace_ns: i64,
    process: Term<'a>,
    client: Term<'a>,
) -> NifResult<Term<'a>> {
    if !pid.is_pid() {
        return Err(Error::BadArg);
    }
    let (process, origin) = if process == atoms::none().to_term(env) {
        (None, LinkPid::None)
    } else {
        let (text, origin): (String, Term) = process.decode()?;
        let (process, origin) = process_start(env, text, origin)?;
        (Some(process), origin)
    };
    let client = client_of(env, client)?;
    if announce(&[&origin, &client]) == Recorded::Full {
        return Ok(atoms::full().encode(env));
    }
    let call = CallTerms {
        module,
        function,
        arity,
        arguments,
    };
    let elsewhere = Elsewhere {
        pid: word(pid),
        time: clock_at(trace_ns),
    };
    let parent = (parent != 0).then_some(parent);
    record_enter(env, call, parent, process, client.word(), Some(elsewhere)).map(|e| e.encode(env))
}

/// `attached_return(Id, Result, TraceNs)`: the attached call `Id` returned `Result`. `ok` or
/// `full`.
#[rustler::nif]
fn attached_return<'a>(
    env: Env<'a>,
    id: u64,
    result: Term<'a>,
    trace_ns: i64,
) -> NifResult<Term<'a>> {
    let recorded = record_end(
        env,
        (id != 0).then_some(id),
        0,
        Outcome::Return,
        result,
        &Default::default(),
        Some(clock_at(trace_ns)),
    )?;
    Ok(answer(env, recorded))
}

/// `attached_exception(Id, Class, Reason, TraceNs)`: the attached call `Id` raised. The trace
/// message carries no stack trace: the stored value is `{Reason, []}`. `ok` or `full`.
#[rustler::nif]
fn attached_exception<'a>(
    env: Env<'a>,
    id: u64,
    class: Term<'a>,
    reason: Term<'a>,
    trace_ns: i64,
) -> NifResult<Term<'a>> {
    let class = if class == atoms::throw().to_term(env) {
        Class::Throw
    } else if class == atoms::exit().to_term(env) {
        Class::Exit
    } else {
        Class::Error
    };
    let value = rustler::types::tuple::make_tuple(env, &[reason, Vec::<Term>::new().encode(env)]);
    let recorded = record_end(
        env,
        (id != 0).then_some(id),
        0,
        Outcome::Exception(class),
        value,
        &Default::default(),
        Some(clock_at(trace_ns)),
    )?;
    Ok(answer(env, recorded))
}

/// The runtime's clock at the VM's monotonic instant `trace_ns`: now, minus how long ago that
/// was (never in the future).
fn clock_at(trace_ns: i64) -> u64 {
    let now = runtime_core::clock::monotonic_ns();
    // SAFETY: a plain call of the NIF API, valid on any thread of the VM.
    let vm_now =
        unsafe { rustler::sys::enif_monotonic_time(rustler::sys::ErlNifTimeUnit::ERL_NIF_NSEC) };
    let ago = u64::try_from(vm_now.saturating_sub(trace_ns)).unwrap_or(0);
    now.saturating_sub(ago)
}
