//! What happens to the run rather than to a call: recording paused or resumed, a test that
//! finished, the VM's node name once distribution started. Each becomes one event in the ring (call id 0), which the writer stores as a row
//! of the segment it fills (`pauses`, `tests`): one writer per run, as for calls.
//!
//! These are called rarely (by the runtime's owner on pause and resume, by test framework
//! hooks once per test), so they are plain NIFs; like the hot path they do bounded work and
//! never block: under `overflow = block` a full ring answers `full`, and the caller (the
//! runtime's `?ROOM`) waits and calls again, as for calls.

use std::num::NonZeroU64;

use runtime_core::{clock, thread, Recorded};
use rustler::{Atom, Encoder, Env, Error, NifResult, Term};
use store::{Event, EventKind, RunEvent, Test, TestFramework, TestOutcome};

use crate::atoms;
use crate::runtime;
use crate::term::{atom_text, word};

/// The most bytes kept of a test's module, name or file.
const MAX_NAME_BYTES: usize = 4096;

/// The most bytes kept of a test's failure message.
const MAX_MESSAGE_BYTES: usize = 16384;

mod keys {
    rustler::atoms! {
        framework,
        name,
        file,
        line,
        message,
        duration_us,
        exunit,
        eunit,
        common_test,
        passed,
        failed,
        skipped,
        excluded,
        invalid,
    }
}

/// `paused(Paused)`: recording was paused globally (`true`) or resumed (`false`). `ok`,
/// `full` (see the module's doc) or `{error, not_started}`.
#[rustler::nif]
fn paused(env: Env<'_>, now_paused: bool) -> Term<'_> {
    push(env, RunEvent::Paused(now_paused))
}

/// `node_named(Node)`: the VM's node name is now `Node` (distribution started after the
/// runtime did): the run is renamed. `ok`, `full` or `{error, not_started}`.
#[rustler::nif]
fn node_named<'a>(env: Env<'a>, node: Term<'a>) -> NifResult<Term<'a>> {
    let name = atom_text(node).ok_or(Error::BadArg)?;
    Ok(push(env, RunEvent::Node(cut(name, MAX_NAME_BYTES))))
}

/// `test_finished(Test)`: a test finished. `Test` is a map: `framework` (`exunit`, `eunit` or
/// `common_test`), `module` (an atom), `name` (an atom or a binary), `outcome` (`passed`,
/// `failed`, `skipped`, `excluded` or `invalid`), and optionally `file` (a binary), `line`,
/// `message` (a binary), `duration_us`, `pid` (the process that ran it). Texts past 4 KiB
/// (16 KiB for the message) are cut. `ok`, `full` (see the module's doc) or
/// `{error, not_started}`.
#[rustler::nif]
fn test_finished<'a>(env: Env<'a>, test: Term<'a>) -> NifResult<Term<'a>> {
    let get = |key: Atom| test.map_get(key).ok();
    let text = |key: Atom, most: usize| -> NifResult<String> {
        Ok(match get(key) {
            None => String::new(),
            Some(t) if t.is_atom() => {
                if t == atoms::undefined().to_term(env) {
                    String::new()
                } else {
                    atom_text(t).ok_or(Error::BadArg)?
                }
            }
            Some(t) => {
                let bytes: rustler::Binary = t.decode()?;
                cut(String::from_utf8_lossy(bytes.as_slice()).into_owned(), most)
            }
        })
    };
    let framework = match get(keys::framework()) {
        Some(t) if t == keys::exunit().to_term(env) => TestFramework::ExUnit,
        Some(t) if t == keys::eunit().to_term(env) => TestFramework::EUnit,
        Some(t) if t == keys::common_test().to_term(env) => TestFramework::CommonTest,
        _ => return Err(Error::BadArg),
    };
    let outcome = match get(atoms::outcome()) {
        Some(t) if t == keys::passed().to_term(env) => TestOutcome::Passed,
        Some(t) if t == keys::failed().to_term(env) => TestOutcome::Failed,
        Some(t) if t == keys::skipped().to_term(env) => TestOutcome::Skipped,
        Some(t) if t == keys::excluded().to_term(env) => TestOutcome::Excluded,
        Some(t) if t == keys::invalid().to_term(env) => TestOutcome::Invalid,
        _ => return Err(Error::BadArg),
    };
    let number = |key: Atom| -> NifResult<u64> {
        match get(key) {
            Some(t) if t.is_number() => t.decode(),
            _ => Ok(0),
        }
    };
    let pid = match get(atoms::pid()) {
        Some(t) if t.is_pid() => NonZeroU64::new(word(t)),
        _ => None,
    };
    let test = Test {
        framework,
        module: text(atoms::module(), MAX_NAME_BYTES)?,
        name: text(keys::name(), MAX_NAME_BYTES)?,
        file: text(keys::file(), MAX_NAME_BYTES)?,
        line: number(keys::line())?.min(u64::from(u32::MAX)) as u32,
        outcome,
        message: text(keys::message(), MAX_MESSAGE_BYTES)?,
        duration_us: number(keys::duration_us())?,
        pid,
    };
    Ok(push(env, RunEvent::Test(test)))
}

/// Pushes a run event into this thread's ring lane: `ok` (kept, or dropped and counted as
/// calls are), or `full` when the runtime blocks on a full ring (nothing was counted: the
/// caller waits and pushes it again).
fn push(env: Env<'_>, event: RunEvent) -> Term<'_> {
    let Some(rt) = runtime::get() else {
        return (atoms::error(), atoms::not_started()).encode(env);
    };
    let recorded = rt.recorder().record(Event {
        call_id: 0,
        time: clock::monotonic_ns(),
        scheduler: thread::scheduler_id(),
        kind: EventKind::Run(Box::new(event)),
    });
    match recorded {
        Recorded::Full => atoms::full().encode(env),
        Recorded::Kept | Recorded::Dropped => atoms::ok().encode(env),
    }
}

/// `text` cut to at most `most` bytes, at a character boundary.
fn cut(mut text: String, most: usize) -> String {
    if text.len() > most {
        let mut end = most;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn texts_are_cut_at_character_boundaries() {
        assert_eq!(cut("abc".into(), 10), "abc");
        assert_eq!(cut("abcdef".into(), 3), "abc");
        assert_eq!(cut("aé".into(), 2), "a");
    }
}
