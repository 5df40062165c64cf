//! Starting the runtime, flushing, and its counters.

use std::path::PathBuf;
use std::time::Duration;

use runtime_core::encoder::{Caps, Redaction};
use runtime_core::{clock, Config, DropPolicy, Overflow, Pipeline};
use rustler::{Atom, Decoder, Encoder, Env, NifResult, Term};
use store::{Retention, RunInfo};

use crate::atoms;
use crate::runtime;
use crate::term::atom_text;

/// Whether the NIF library is loaded (the Erlang stub answers `false`).
#[rustler::nif]
fn loaded() -> bool {
    true
}

/// Starts the runtime with the settings in `Config` (a map; every key optional, see
/// `elixir_scope_runtime`). Returns `{ok, #{run => N, db_path => Path}}` or
/// `{error, Message}`. Opening the store is I/O: this runs on a dirty I/O scheduler.
#[rustler::nif(schedule = "DirtyIo")]
fn start<'a>(env: Env<'a>, config: Term<'a>) -> NifResult<Term<'a>> {
    if let Some(rt) = runtime::get() {
        return Ok((atoms::ok(), started(env, rt)).encode(env));
    }
    let (config, info) = read_config(config)?;
    match Pipeline::start(config, &info) {
        Ok(pipeline) => {
            runtime::install(pipeline);
            let rt = runtime::get().ok_or(rustler::Error::BadArg)?;
            Ok((atoms::ok(), started(env, rt)).encode(env))
        }
        Err(e) => Ok((atoms::error(), e.to_string()).encode(env)),
    }
}

fn started<'a>(env: Env<'a>, rt: &Pipeline) -> Term<'a> {
    let path = rt.store().path().to_string_lossy().into_owned();
    rustler::Term::map_from_pairs(
        env,
        &[
            (atoms::run().encode(env), rt.run().encode(env)),
            (atoms::db_path().encode(env), path.encode(env)),
        ],
    )
    .unwrap_or_else(|_| atoms::ok().encode(env))
}

fn read_config(map: Term<'_>) -> NifResult<(Config, RunInfo)> {
    let path: Option<String> = opt(map, atoms::db_path())?;
    let db_path = match path {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            store::resolve_path(&cwd, &cwd)
        }
    };
    let mut c = Config::new(db_path);
    let usize_opt =
        |key| -> NifResult<Option<usize>> { opt::<u64>(map, key).map(|v| v.map(|v| v as usize)) };
    if let Some(v) = usize_opt(atoms::shards())? {
        c.shards = v;
    }
    if let Some(v) = usize_opt(atoms::ring_capacity())? {
        c.ring_capacity = v;
    }
    if let Some(v) = usize_opt(atoms::ring_bytes())? {
        c.ring_bytes = v;
    }
    if let Some(policy) = opt::<Atom>(map, atoms::drop_policy())? {
        c.drop_policy = if policy == atoms::drop_oldest() {
            DropPolicy::DropOldest
        } else if policy == atoms::drop_newest() {
            DropPolicy::DropNewest
        } else {
            return Err(rustler::Error::BadArg);
        };
    }
    if let Some(overflow) = opt::<Atom>(map, atoms::overflow())? {
        c.overflow = if overflow == atoms::block() {
            Overflow::Block
        } else if overflow == atoms::drop() {
            Overflow::Drop
        } else {
            return Err(rustler::Error::BadArg);
        };
    }
    c.caps = caps_over(map, &c.caps)?;
    c.redaction = redaction(map)?;
    if let Some(v) = usize_opt(atoms::batch_events())? {
        c.batch_events = v;
    }
    if let Some(v) = usize_opt(atoms::batch_bytes())? {
        c.batch_bytes = v;
    }
    if let Some(v) = usize_opt(atoms::channel_batches())? {
        c.channel_batches = v;
    }
    if let Some(ms) = opt::<u64>(map, atoms::commit_interval_ms())? {
        c.commit_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = opt::<u64>(map, atoms::checkpoint_interval_ms())? {
        c.checkpoint_interval = Duration::from_millis(ms);
    }
    if let Some(bytes) = opt::<u64>(map, atoms::retention_bytes())? {
        c.retention = Retention { max_bytes: bytes };
    }
    let node = match map.map_get(atoms::node()) {
        Ok(t) => atom_text(t).unwrap_or_default(),
        Err(_) => String::new(),
    };
    clock::calibrate();
    let info = RunInfo {
        started_unix_ns: clock::unix_ns(),
        monotonic_origin_ns: clock::monotonic_ns(),
        // SAFETY: reading the VM's clock.
        erlang_monotonic_ns: unsafe {
            rustler::sys::enif_monotonic_time(rustler::sys::ErlNifTimeUnit::ERL_NIF_NSEC)
        },
        os_pid: std::process::id(),
        node,
        otp_release: opt(map, atoms::otp_release())?.unwrap_or_default(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    Ok((c, info))
}

/// What the runtime redacts by name: `redact_keys` (binaries, atoms or charlists; the default
/// list when absent) and `redact_fields` (`[{Module, [Field]}]` or `#{Module => [Field]}`).
fn redaction(map: Term<'_>) -> NifResult<Redaction> {
    let keys = match map.map_get(atoms::redact_keys()) {
        Ok(list) => Some(
            list.decode::<Vec<Term>>()?
                .into_iter()
                .map(name)
                .collect::<NifResult<Vec<Vec<u8>>>>()?,
        ),
        Err(_) => None,
    };
    let mut fields: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    if let Ok(structs) = map.map_get(atoms::redact_fields()) {
        let pairs: Vec<(Term, Term)> = if structs.is_map() {
            structs
                .decode::<std::collections::HashMap<Term, Term>>()?
                .into_iter()
                .collect()
        } else {
            structs.decode()?
        };
        for (module, names) in pairs {
            let names = names
                .decode::<Vec<Term>>()?
                .into_iter()
                .map(name)
                .collect::<NifResult<Vec<Vec<u8>>>>()?;
            fields.push((name(module)?, names));
        }
    }
    let base = match keys {
        Some(keys) => Redaction::new(keys, std::iter::empty::<(&[u8], Vec<&[u8]>)>()),
        None => Redaction::default(),
    };
    Ok(base.with_structs(fields))
}

/// A name given as an atom, a binary or a charlist, as UTF-8 bytes.
fn name(term: Term<'_>) -> NifResult<Vec<u8>> {
    if term.is_atom() {
        return atom_text(term)
            .map(String::into_bytes)
            .ok_or(rustler::Error::BadArg);
    }
    if let Ok(binary) = term.decode::<rustler::Binary>() {
        return Ok(binary.as_slice().to_vec());
    }
    term.decode::<String>().map(String::into_bytes)
}

/// `base` with the caps `map` sets (`max_nodes`, `max_string`, ...) replaced.
pub(crate) fn caps_over(map: Term<'_>, base: &Caps) -> NifResult<Caps> {
    Ok(Caps {
        max_nodes: opt(map, atoms::max_nodes())?.unwrap_or(base.max_nodes),
        max_string: opt(map, atoms::max_string())?.unwrap_or(base.max_string),
        max_depth: opt(map, atoms::max_depth())?.unwrap_or(base.max_depth),
        max_elements: opt(map, atoms::max_elements())?.unwrap_or(base.max_elements),
        max_binary: opt(map, atoms::max_binary())?.unwrap_or(base.max_binary),
        max_bytes: opt(map, atoms::max_bytes())?.unwrap_or(base.max_bytes),
    })
}

/// The value under `key`, if present; a present value of the wrong type is `badarg`.
fn opt<'a, T: Decoder<'a>>(map: Term<'a>, key: Atom) -> NifResult<Option<T>> {
    match map.map_get(key) {
        Ok(v) => v.decode().map(Some),
        Err(_) => Ok(None),
    }
}

/// Returns `ok` once every event captured before the call is stored and on disk, or
/// `{error, timeout | not_started | Message}`. Waits: runs on a dirty I/O scheduler.
#[rustler::nif(schedule = "DirtyIo")]
fn flush(env: Env<'_>, timeout_ms: u64) -> Term<'_> {
    let Some(rt) = runtime::get() else {
        return (atoms::error(), atoms::not_started()).encode(env);
    };
    match rt.flush(Duration::from_millis(timeout_ms)) {
        Ok(()) => atoms::ok().encode(env),
        Err(runtime_core::RuntimeError::Timeout(_)) => {
            (atoms::error(), atoms::timeout()).encode(env)
        }
        Err(runtime_core::RuntimeError::Stopped) => (atoms::error(), atoms::stopped()).encode(env),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

/// The counters: `#{captured, dropped, in_ring, stored, durable, write_failed, last_error,
/// run, memory_bound}`, or `{error, not_started}`.
#[rustler::nif]
fn stats(env: Env<'_>) -> NifResult<Term<'_>> {
    let Some(rt) = runtime::get() else {
        return Ok((atoms::error(), atoms::not_started()).encode(env));
    };
    let s = rt.stats();
    let last_error = match &s.last_error {
        Some(e) => e.encode(env),
        None => atoms::undefined().encode(env),
    };
    let pairs = [
        (atoms::captured().encode(env), s.captured.encode(env)),
        (atoms::dropped().encode(env), s.dropped.encode(env)),
        (atoms::in_ring().encode(env), s.in_ring.encode(env)),
        (atoms::stored().encode(env), s.stored.encode(env)),
        (atoms::durable().encode(env), s.durable.encode(env)),
        (
            atoms::write_failed().encode(env),
            s.write_failed.encode(env),
        ),
        (atoms::last_error().encode(env), last_error),
        (atoms::run().encode(env), s.run.encode(env)),
        (
            atoms::memory_bound().encode(env),
            (rt.memory_bound() as u64).encode(env),
        ),
    ];
    Term::map_from_pairs(env, &pairs)
}
