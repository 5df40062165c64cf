//! The hot path: one NIF per event of the runtime contract.
//!
//! Each does O(1) work bounded by the encoder's caps: read a few terms, take the time, encode
//! the value, push one event into this scheduler's ring shard. Nothing here locks (except the
//! atom registry the first time a thread meets an atom), blocks or touches the store. Before
//! the runtime is started they record nothing (call id 0).
//!
//! The NIFs of every recorded call (`enter/5`, `call_return/3`), of every recorded iteration
//! (`tail_call/6`) and of every recorded send (`sent/5`) are raw ([`raw_nif!`], which defines
//! and registers each, as it does the tracer's): `#[rustler::nif]` collects the
//! arguments into a `Vec` on every call (a `malloc` and a `free`, about a tenth of a recorded
//! call's cost here). They keep its guarantees: a panic is caught and raised as an Erlang
//! error, and errors become the same exceptions (`rustler::codegen_runtime::handle_nif_result`).

use std::cell::RefCell;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};

use runtime_core::encoder::{encode, encode_arguments, encode_flat, Bytes, Caps, Capture, Scratch};
use runtime_core::{clock, thread, Recorded, Recorder};
use rustler::codegen_runtime::{c_int, handle_nif_result};
use rustler::sys::{ErlNifEnv, ErlNifTerm};
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, Error, NifResult, Term};
use smallvec::SmallVec;
use store::{
    Class, End, Enter, Event, EventKind, Origin, OriginKind, Outcome, ProcessExit, ProcessStart,
    RunEvent, Send, SendKind, TailCall,
};

use crate::atoms;
use crate::attach::processes;
use crate::capture::{self, Secrets, Within};
use crate::layout::Raw;
use crate::links::{announce, link_pid, link_receiver, LinkPid};
use crate::runtime;
use crate::term::{atom_text, self_pid_word, word, Beam, Checked};

thread_local! {
    /// The encoder's working memory on this scheduler thread.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// What to capture of one value.
pub(crate) enum Value<'a> {
    /// A call's argument list: each argument within the caps.
    Arguments(Term<'a>),
    /// A result.
    Result(Term<'a>),
    /// `{Reason, Stacktrace}`, typed term by term (see [`Checked`]).
    Exception(Term<'a>),
}

/// Captures `value` within `caps`, redacting `secrets` and what the runtime's redaction names.
pub(crate) fn capture_value<'a>(
    rec: &Recorder,
    value: Value<'a>,
    caps: &Caps,
    secrets: &Secrets<'a>,
) -> Bytes {
    SCRATCH.with(|scratch| {
        let scratch = &mut *scratch.borrow_mut();
        let redaction = rec.redaction();
        // The fast path first, for values no rule touches (see `encode_flat`).
        let plain = match value {
            Value::Arguments(t) => Some((t, true)),
            Value::Result(t) => Some((t, false)),
            Value::Exception(_) => None,
        };
        if let Some((t, arguments)) = plain.filter(|_| secrets.is_empty()) {
            // SAFETY: a live term of this call's env.
            if let Some(raw) = unsafe { Raw::new(t.as_c_arg()) } {
                if encode_flat(raw, arguments, caps, redaction, scratch) {
                    return Bytes::from_slice(scratch.bytes());
                }
            }
        }
        let bytes = match value {
            Value::Arguments(t) => encode_arguments(
                Beam(t),
                &Capture {
                    caps,
                    redaction,
                    secrets,
                },
                scratch,
            ),
            Value::Result(t) => encode(
                Beam(t),
                &Capture {
                    caps,
                    redaction,
                    secrets,
                },
                scratch,
            ),
            Value::Exception(t) => {
                let secrets: SmallVec<[Checked<'_>; 4]> =
                    secrets.iter().map(|&s| Checked(s)).collect();
                encode(
                    Checked(Beam(t)),
                    &Capture {
                        caps,
                        redaction,
                        secrets: &secrets,
                    },
                    scratch,
                )
            }
        };
        Bytes::from_slice(bytes)
    })
}

/// Defines a raw NIF and registers it as `elixir_scope_nif:NAME/N` (`N`: the number of argument
/// patterns) in the inventory that `rustler::init!` reads, as `#[rustler::nif]` does but without
/// its per-call `Vec`: the `extern "C"` entry point hands the VM's arguments, as an array of `N`
/// terms, to a runner, which calls the body with them. The runner is [`run_nif`] (panics caught,
/// results and errors as `#[rustler::nif]` makes them) or the tracer's `callback` (always an
/// atom; its argument is the answer after a panic). Every raw NIF is written this way:
///
/// ```ignore
/// raw_nif! {
///     /// What `elixir_scope_nif:enter/5` does.
///     fn enter(env, [module, function, arity, arguments, parent]) via run_nif() { ... }
/// }
/// ```
///
/// Registering relies on rustler's hidden `codegen_runtime` (its `inventory` and `Nif`), which
/// may change in any release: the workspace pins rustler exactly.
macro_rules! raw_nif {
    (
        $(#[$doc:meta])*
        fn $name:ident($env:pat_param, [$($arg:pat_param),+ $(,)?])
            via $run:ident($($extra:expr),* $(,)?) $body:block
    ) => {
        $(#[$doc])*
        unsafe extern "C" fn $name(
            env: *mut rustler::sys::ErlNifEnv,
            argc: rustler::codegen_runtime::c_int,
            argv: *const rustler::sys::ErlNifTerm,
        ) -> rustler::sys::ErlNifTerm {
            // SAFETY: the VM's arguments, handed on as they came.
            unsafe { $run(env, argc, argv, $($extra,)* |$env, [$($arg),+]| $body) }
        }
        rustler::codegen_runtime::inventory::submit!(rustler::Nif {
            name: concat!(stringify!($name), "\0").as_ptr()
                as *const rustler::codegen_runtime::c_char,
            arity: [$(stringify!($arg)),+].len() as u32,
            flags: 0,
            raw_func: $name,
        });
    };
}
pub(crate) use raw_nif;

/// Runs a raw NIF's body: its arguments as terms of `env`, panics caught, results and errors
/// turned into terms as `#[rustler::nif]` does.
///
/// # Safety
/// `env`, `argc` and `argv` must be what the VM passed to the NIF.
pub(crate) unsafe fn run_nif<const N: usize>(
    env: *mut ErlNifEnv,
    argc: c_int,
    argv: *const ErlNifTerm,
    body: impl for<'a> FnOnce(Env<'a>, [Term<'a>; N]) -> NifResult<Term<'a>>,
) -> ErlNifTerm {
    let lifetime = ();
    // SAFETY: the VM's env, valid for this call.
    let env = unsafe { Env::new(&lifetime, env) };
    if argc as usize != N {
        // SAFETY: a live env.
        return unsafe { rustler::sys::enif_make_badarg(env.as_c_arg()) };
    }
    // SAFETY: the VM passes `argc` terms at `argv`, live for this call.
    let args: [Term; N] = std::array::from_fn(|i| unsafe { Term::new(env, *argv.add(i)) });
    let result = catch_unwind(AssertUnwindSafe(|| body(env, args)));
    match result {
        Ok(Ok(term)) => term.as_c_arg(),
        other => {
            let other = other.map(|r| r.map(|_| atoms::error()));
            // SAFETY: a live env.
            unsafe { handle_nif_result(other, env).apply(env) }
        }
    }
}

raw_nif! {
    /// `enter(Module, Function, Arity, Args, Parent)`: records a call; returns its id (0 when the
    /// ring had no room for it or the runtime is not running). `Parent` is the process's current
    /// call: `none` or `{Id, TailCalls, Depth}`.
    fn enter(env, [module, function, arity, arguments, parent]) via run_nif() {
        let arity: u8 = arity.decode()?;
        let parent = current_call(parent)?.0;
        let call = CallTerms {
            module,
            function,
            arity,
            arguments,
        };
        enter_rewritten(env, call, parent, None, None).map(|entered| entered.encode(env))
    }
}

/// `enter_request(Module, Function, Arity, Args, Parent, Client)`: `enter/5` for a call that
/// serves a request of the process `Client` (a `handle_call/3` whose `From` names it).
#[rustler::nif]
fn enter_request<'a>(
    env: Env<'a>,
    module: Term<'a>,
    function: Term<'a>,
    arity: u8,
    arguments: Term<'a>,
    parent: Term<'a>,
    client: Term<'a>,
) -> NifResult<Term<'a>> {
    let call = CallTerms {
        module,
        function,
        arity,
        arguments,
    };
    let parent = current_call(parent)?.0;
    let client = client_of(client)?;
    if announce(&[&client]) == Recorded::Full {
        return Ok(Entered::Full.encode(env));
    }
    enter_rewritten(env, call, parent, None, client.word()).map(|entered| entered.encode(env))
}

/// The client of a request: a pid (of this node or another), or `none`.
pub(crate) fn client_of(client: Term<'_>) -> NifResult<LinkPid> {
    if client.is_pid() || client.is_atom() {
        Ok(link_pid(client))
    } else {
        Err(Error::BadArg)
    }
}

/// A call as the NIFs receive it.
pub(crate) struct CallTerms<'a> {
    pub module: Term<'a>,
    pub function: Term<'a>,
    pub arity: u8,
    pub arguments: Term<'a>,
}

/// Records a process's first call, with who the process is (`PidText`, and `Name`, the name
/// it is registered under or `[]`) and where it came from. `Origin` is `none` or
/// `{caller | ancestor, Pid, PidText}`; `Client` as for `enter_request/6`.
#[allow(clippy::too_many_arguments)]
#[rustler::nif]
fn enter_first<'a>(
    env: Env<'a>,
    module: Term<'a>,
    function: Term<'a>,
    arity: u8,
    arguments: Term<'a>,
    pid_text: String,
    name: Term<'a>,
    origin: Term<'a>,
    client: Term<'a>,
) -> NifResult<Term<'a>> {
    let (mut process, origin) = process_start(env, pid_text, origin)?;
    if name.is_atom() {
        process.name = crate::term::atom_text(name);
    }
    let client = client_of(client)?;
    if announce(&[&origin, &client]) == Recorded::Full {
        return Ok(Entered::Full.encode(env));
    }
    let call = CallTerms {
        module,
        function,
        arity,
        arguments,
    };
    enter_rewritten(env, call, None, Some(process), client.word())
        .map(|entered| entered.encode(env))
}

/// Who a process is (`PidText`) and where it came from (`Origin`: `none` or
/// `{caller | ancestor, Pid, PidText}`), as recorded with its first call; with the origin's
/// link, which [`announce`] names when `Pid` is of another node (its text is then the one its
/// own node prints, not `PidText`).
pub(crate) fn process_start<'a>(
    env: Env<'a>,
    pid_text: String,
    origin: Term<'a>,
) -> NifResult<(Box<ProcessStart>, LinkPid)> {
    let (origin, link) = if origin == atoms::none().to_term(env) {
        (None, LinkPid::None)
    } else {
        let (kind, pid, text): (Term, Term, String) = origin.decode()?;
        let kind = if kind == atoms::caller().to_term(env) {
            OriginKind::Caller
        } else if kind == atoms::ancestor().to_term(env) {
            OriginKind::Ancestor
        } else {
            return Err(Error::BadArg);
        };
        if !pid.is_pid() {
            return Err(Error::BadArg);
        }
        let link = link_pid(pid);
        let text = match &link {
            LinkPid::Remote(remote) => remote.text.clone(),
            LinkPid::None | LinkPid::Local(_) => text,
        };
        let origin = link.word().map(|pid| Origin {
            kind,
            pid: pid.get(),
            text,
        });
        (origin, link)
    };
    Ok((
        Box::new(ProcessStart {
            text: pid_text,
            origin,
            name: None,
        }),
        link,
    ))
}

/// What the NIFs of a call's start answer: its id (0 when it was dropped, or nothing
/// records), or `full` when the runtime blocks on a full ring: the caller waits and calls
/// again.
pub(crate) enum Entered {
    /// The call's id.
    Id(u64),
    /// The ring is full: wait and call again.
    Full,
}

impl Encoder for Entered {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            Entered::Id(id) => id.encode(env),
            Entered::Full => atoms::full().encode(env),
        }
    }
}

/// What the NIFs of a call's end and tail calls answer: `ok`, or `full` (see [`Entered`]).
pub(crate) fn answer(env: Env<'_>, recorded: Recorded) -> Term<'_> {
    match recorded {
        Recorded::Full => atoms::full().to_term(env),
        Recorded::Kept | Recorded::Dropped => atoms::ok().to_term(env),
    }
}

/// Where and when a call happened, when not in the calling process now: the pid's word and
/// the time (`runtime_core::clock` ns). The attach tracer's callbacks run in the traced
/// process but outside any NIF call of it, and attach's own records are made at given times.
#[derive(Clone, Copy)]
pub(crate) struct Elsewhere {
    /// The word of the (local) pid that made the call.
    pub pid: u64,
    /// When, in `runtime_core::clock` nanoseconds.
    pub time: u64,
}

/// Records a rewritten call's start under `parent` (the process's current call as its
/// dictionary holds it), through [`record_enter`]. While an attach session shares trees, the
/// process's stack of open calls ([`processes`]) gives the parent instead (an attached call
/// may be open above the current rewritten call) and gets the new call.
fn enter_rewritten<'a>(
    env: Env<'a>,
    call: CallTerms<'a>,
    parent: Option<u64>,
    process: Option<Box<ProcessStart>>,
    client: Option<NonZeroU64>,
) -> NifResult<Entered> {
    if !processes::sharing() {
        return record_enter(env, call, parent, process, client, None);
    }
    let pid = self_pid_word(env);
    let parent = processes::rewritten_parent(pid, parent);
    let entered = record_enter(env, call, parent, process, client, None)?;
    if let Entered::Id(id) = entered {
        processes::rewritten_started(pid, id);
    }
    Ok(entered)
}

/// Records a call's start: its id, `parent`, and for a process's first call who the process
/// is; `elsewhere` for a call of another process or time (see [`Elsewhere`]).
pub(crate) fn record_enter<'a>(
    env: Env<'a>,
    call: CallTerms<'a>,
    parent: Option<u64>,
    process: Option<Box<ProcessStart>>,
    client: Option<NonZeroU64>,
    elsewhere: Option<Elsewhere>,
) -> NifResult<Entered> {
    let CallTerms {
        module,
        function,
        arity,
        arguments,
    } = call;
    let Some(rt) = runtime::get() else {
        return Ok(Entered::Id(0));
    };
    let rec = rt.recorder();
    let (module, function) = (atom_key(rec, module)?, atom_key(rec, function)?);
    let id = rec.next_call_id();
    let Within {
        value,
        caps,
        secrets,
    } = capture::within(env, arguments, rec.caps());
    let buf = capture_value(rec, Value::Arguments(value), &caps, &secrets);
    let (pid, time) = match elsewhere {
        Some(at) => (at.pid, at.time),
        None => (self_pid_word(env), clock::monotonic_ns()),
    };
    let recorded = rec.record(Event {
        call_id: id,
        time,
        scheduler: thread::scheduler_id(),
        kind: EventKind::Enter(Enter {
            parent: parent.and_then(NonZeroU64::new),
            pid,
            module,
            function,
            arity,
            args: buf,
            process,
            client,
        }),
    });
    // A call whose start was dropped is no call: id 0, so that its end is dropped too and its
    // callees are recorded without a parent.
    Ok(match recorded {
        Recorded::Kept => Entered::Id(id),
        Recorded::Dropped => Entered::Id(0),
        Recorded::Full => Entered::Full,
    })
}

raw_nif! {
    /// `call_return(Current, Parent, Result)`: records that the call `Current`
    /// (`{Id, TailCalls, Depth}`) returned `Result`; `Parent` is the current call the process goes
    /// back to (the token `enter/4` gave).
    fn call_return(env, [current, parent, result]) via run_nif() {
        let secrets = capture::secrets_of_call(current);
        let recorded = end_rewritten(env, current, parent, Outcome::Return, result, &secrets)?;
        Ok(answer(env, recorded))
    }
}

/// `call_exception(Current, Parent, Class, Reason, Stacktrace)`: records that the call
/// `Current` raised (`Parent` as for `call_return/3`); the value stored is
/// `{Reason, Stacktrace}`.
#[rustler::nif]
fn call_exception<'a>(
    env: Env<'a>,
    current: Term<'a>,
    parent: Term<'a>,
    class: Term<'a>,
    reason: Term<'a>,
    stack: Term<'a>,
) -> NifResult<Term<'a>> {
    // Only error, throw and exit exist; never raise from here (the caller is re-raising).
    let class = if class == atoms::throw().to_term(env) {
        Class::Throw
    } else if class == atoms::exit().to_term(env) {
        Class::Exit
    } else {
        Class::Error
    };
    let value = make_tuple(env, &[reason, stack]);
    let secrets = capture::secrets_of_call(current);
    let recorded = end_rewritten(
        env,
        current,
        parent,
        Outcome::Exception(class),
        value,
        &secrets,
    )?;
    Ok(answer(env, recorded))
}

/// Records the end of the rewritten call `current` (see [`record_end`]); while an attach
/// session shares trees, pops it from the process's stack of open calls, which goes back to
/// `parent`.
fn end_rewritten<'a>(
    env: Env<'a>,
    current: Term<'a>,
    parent: Term<'a>,
    outcome: Outcome,
    value: Term<'a>,
    secrets: &Secrets<'a>,
) -> NifResult<Recorded> {
    let (id, tail_calls) = current_call(current)?;
    let recorded = record_end(env, id, tail_calls, outcome, value, secrets, None)?;
    if processes::sharing() && recorded != Recorded::Full {
        processes::rewritten_ended(self_pid_word(env), id.unwrap_or(0), current_call(parent)?.0);
    }
    Ok(recorded)
}

/// Records the end of the call `id` (`None`: its start was dropped, so is its end) with
/// `value` (a result, or `{Reason, Stacktrace}`), at `at` (`runtime_core::clock` ns) or now.
pub(crate) fn record_end<'a>(
    env: Env<'a>,
    id: Option<u64>,
    tail_calls: u32,
    outcome: Outcome,
    value: Term<'a>,
    secrets: &Secrets<'a>,
    at: Option<u64>,
) -> NifResult<Recorded> {
    let Some(rt) = runtime::get() else {
        return Ok(Recorded::Dropped);
    };
    let rec = rt.recorder();
    let Some(id) = id else {
        // A call whose start was dropped (no room): its end goes too.
        rec.skipped();
        return Ok(Recorded::Dropped);
    };
    let time = at.unwrap_or_else(clock::monotonic_ns);
    let buf = match outcome {
        Outcome::Return => {
            let within = capture::within(env, value, rec.caps());
            let mut all = secrets.clone();
            all.extend(within.secrets);
            capture_value(rec, Value::Result(within.value), &within.caps, &all)
        }
        // A stack trace can hold what is not a value (see `Checked`).
        Outcome::Exception(_) => {
            capture_value(rec, Value::Exception(value), rec.exception_caps(), secrets)
        }
    };
    Ok(rec.record(Event {
        call_id: id,
        time,
        scheduler: thread::scheduler_id(),
        kind: EventKind::End(End {
            outcome,
            tail_calls,
            value: buf,
        }),
    }))
}

raw_nif! {
    /// `tail_call(Id, Index, Module, Function, Arity, Args)`: records tail call number `Index` of
    /// call `Id`: it continued as `Module:Function/Arity`.
    fn tail_call(env, [id, index, module, function, arity, arguments]) via run_nif() {
        let (id, index, arity): (u64, u32, u8) =
            (id.decode()?, index.decode()?, arity.decode()?);
        let recorded =
            record_tail_call(env, id, index, module, function, arity, arguments)?;
        Ok(answer(env, recorded))
    }
}

fn record_tail_call<'a>(
    env: Env<'a>,
    id: u64,
    index: u32,
    module: Term<'a>,
    function: Term<'a>,
    arity: u8,
    arguments: Term<'a>,
) -> NifResult<Recorded> {
    let Some(rt) = runtime::get() else {
        return Ok(Recorded::Dropped);
    };
    let rec = rt.recorder();
    if id == 0 {
        // A tail call of a call whose start was dropped (no room).
        rec.skipped();
        return Ok(Recorded::Dropped);
    }
    let (module, function) = (atom_key(rec, module)?, atom_key(rec, function)?);
    let Within {
        value,
        caps,
        secrets,
    } = capture::within(env, arguments, rec.caps());
    let buf = capture_value(rec, Value::Arguments(value), &caps, &secrets);
    Ok(rec.record(Event {
        call_id: id,
        time: clock::monotonic_ns(),
        scheduler: thread::scheduler_id(),
        kind: EventKind::TailCall(TailCall {
            index,
            module,
            function,
            arity,
            args: buf,
        }),
    }))
}

raw_nif! {
    /// `sent(Current, Kind, Dest, Receiver, Message)`: records that the process's current call
    /// (`Current`, the entry `return/2` takes) sent `Message` to `Dest` (as given: a pid, a name,
    /// ...); `Receiver` is the pid it went to, of this node or another, or `{Name, Node}` for a
    /// name on another node (`undefined` when unknown; see [`crate::links`]), `Kind` `send`,
    /// `cast` or `{send_after, Milliseconds}`. One event, with the message captured within the
    /// runtime's caps and the current call's secrets.
    fn sent(env, [current, kind, dest, receiver, message]) via run_nif() {
        let recorded = record_send(env, current, kind, dest, receiver, message)?;
        Ok(answer(env, recorded))
    }
}

fn record_send<'a>(
    env: Env<'a>,
    current: Term<'a>,
    kind: Term<'a>,
    dest: Term<'a>,
    receiver: Term<'a>,
    message: Term<'a>,
) -> NifResult<Recorded> {
    let Some(rt) = runtime::get() else {
        return Ok(Recorded::Dropped);
    };
    let rec = rt.recorder();
    let (Some(id), _) = current_call(current)? else {
        // Not inside a recorded call (or its start was dropped): nothing to attach it to.
        return Ok(Recorded::Dropped);
    };
    let (kind, delay_ms) = if kind == atoms::send().to_term(env) {
        (SendKind::Send, 0)
    } else if kind == atoms::cast().to_term(env) {
        (SendKind::Cast, 0)
    } else {
        let (tag, delay): (Term, Term) = kind.decode()?;
        if tag != atoms::send_after().to_term(env) {
            return Err(Error::BadArg);
        }
        // An out-of-range delay makes the send itself raise; record what fits.
        let delay = delay.decode::<u64>().unwrap_or(0).min(u32::MAX as u64) as u32;
        (SendKind::SendAfter, delay)
    };
    let receiver = link_receiver(receiver);
    if announce(&[&receiver]) == Recorded::Full {
        return Ok(Recorded::Full);
    }
    let receiver = receiver.word();
    let secrets = capture::secrets_of_call(current);
    let caps = rec.caps();
    let mut payload = capture_value(rec, Value::Result(dest), caps, &secrets);
    let target_len = payload.len().min(u16::MAX as usize) as u16;
    payload.truncate(target_len as usize);
    payload.extend_from_slice(&capture_value(rec, Value::Result(message), caps, &secrets));
    Ok(rec.record(Event {
        call_id: id,
        time: clock::monotonic_ns(),
        scheduler: thread::scheduler_id(),
        kind: EventKind::Send(Send {
            kind,
            delay_ms,
            receiver,
            target_len,
            payload,
        }),
    }))
}

/// `exited(Pid, Reason)`: records that `Pid`, a process that recorded calls, ended with
/// `Reason` (captured within the exception caps), or with a reason nobody knows when `Reason`
/// is `'$elixir_scope_unknown_reason'` (it ended before the runtime's monitor was in place).
/// A run event: the runtime's watcher process calls it, once per process.
#[rustler::nif]
fn exited<'a>(env: Env<'a>, pid: Term<'a>, reason: Term<'a>) -> NifResult<Term<'a>> {
    let Some(rt) = runtime::get() else {
        return Ok(atoms::ok().to_term(env));
    };
    if !pid.is_pid() {
        return Err(Error::BadArg);
    }
    let rec = rt.recorder();
    let none = Secrets::new();
    let pid_term = capture_value(rec, Value::Result(pid), rec.caps(), &none);
    let reason = if reason == atoms::unknown_reason().to_term(env) {
        Bytes::new()
    } else {
        capture_value(rec, Value::Exception(reason), rec.exception_caps(), &none)
    };
    let recorded = rec.record(Event {
        call_id: 0,
        time: clock::monotonic_ns(),
        scheduler: thread::scheduler_id(),
        kind: EventKind::Run(Box::new(RunEvent::Exit(ProcessExit {
            pid: word(pid),
            pid_term,
            reason,
        }))),
    });
    Ok(answer(env, recorded))
}

/// The atom's key, registering its text the first time this thread meets it.
pub(crate) fn atom_key(rec: &Recorder, atom: Term<'_>) -> NifResult<u64> {
    if !atom.is_atom() {
        return Err(Error::BadArg);
    }
    let key = word(atom);
    rec.atoms().ensure(key, || atom_text(atom));
    Ok(key)
}

/// Reads the process's current call as the runtime module keeps it: `none`, or a tuple whose
/// first two elements are the id and the tail-call count (`{Id, TailCalls, Depth}`, with an
/// announcement as fourth element after `remote_tail_call/3`). Id 0 (recorded while the
/// runtime was not running) is no call. Anything else (someone erased or overwrote the process
/// dictionary) is no call either: recording must never make `return/2` or `exception/4` raise.
pub(crate) fn current_call(term: Term<'_>) -> NifResult<(Option<u64>, u32)> {
    let Some(elements) = Beam(term).tuple().filter(|e| e.len() >= 2) else {
        return Ok((None, 0));
    };
    // SAFETY: the elements belong to `term`'s tuple, which lives as long as its env.
    let (id, n) = unsafe {
        (
            Term::new(term.get_env(), elements[0]),
            Term::new(term.get_env(), elements[1]),
        )
    };
    let Ok(id) = id.decode::<u64>() else {
        return Ok((None, 0));
    };
    // A loop can run more than 2^32 iterations: the count saturates.
    let tail_calls = n
        .decode::<u64>()
        .map_or(u32::MAX, |n| n.min(u32::MAX as u64) as u32);
    Ok(((id != 0).then_some(id), tail_calls))
}
