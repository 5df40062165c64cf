//! Starting the runtime, flushing, and its counters.

use std::path::PathBuf;
use std::time::Duration;

use runtime_core::{clock, Config, Pipeline};
use rustler::{Atom, Encoder, Env, NifResult, Term};
use settings::SettingError;
use store::RunInfo;

use crate::atoms;
use crate::runtime;
use crate::settings_map;
use crate::term::atom_text;

/// Whether the NIF library is loaded (the Erlang stub answers `false`).
#[rustler::nif]
fn loaded() -> bool {
    true
}

/// Starts the runtime with the settings in `Config` (a map; every key optional, see
/// `elixir_scope_runtime`). Returns `{ok, #{run => N, db_path => Path}}`,
/// `{error, {bad_setting, Key, Message}}` for a value the settings table refuses, or
/// `{error, Message}`. Opening the store is I/O: this runs on a dirty I/O scheduler.
#[rustler::nif(schedule = "DirtyIo")]
fn start<'a>(env: Env<'a>, config: Term<'a>) -> NifResult<Term<'a>> {
    if let Some(rt) = runtime::get() {
        return Ok((atoms::ok(), started(env, rt)).encode(env));
    }
    let (config, info) = match read_config(config) {
        Ok(read) => read,
        Err(e) => return Ok((atoms::error(), bad_setting(env, &e)).encode(env)),
    };
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

/// The configuration and the run's description `map` gives: the settings (a loop over the
/// `settings` table, each value checked, see [`settings_map::read`]) and `node` and
/// `otp_release`, which `elixir_scope_runtime` adds.
fn read_config(map: Term<'_>) -> Result<(Config, RunInfo), SettingError> {
    let values = settings_map::read(map)?;
    let db_path = match values.path(&settings::DB_PATH) {
        Some(path) => path.to_path_buf(),
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            store::resolve_path(&cwd, &cwd)
        }
    };
    let config = Config::from_settings(db_path, &values);
    let node = match map.map_get(atoms::node()) {
        Ok(t) => atom_text(t).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let otp_release = match map.map_get(atoms::otp_release()) {
        Ok(t) => t.decode::<String>().unwrap_or_default(),
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
        otp_release,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    Ok((config, info))
}

/// `{bad_setting, Key, Message}`.
fn bad_setting<'a>(env: Env<'a>, error: &SettingError) -> Term<'a> {
    let key = Atom::from_str(env, error.key).unwrap_or_else(|_| atoms::undefined());
    (atoms::bad_setting(), key, error.to_string()).encode(env)
}

/// The keys of the runtime's settings (`elixir_scope_runtime` takes these from the
/// application environment and refuses others in `start/1`).
#[rustler::nif]
fn settings(env: Env<'_>) -> Vec<Atom> {
    settings_map::keys(env)
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
