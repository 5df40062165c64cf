//! Patterns and value searches from inside the VM (for IEx), answered by the `analysis`
//! crate as the CLI's are: `calls/1` takes `match`, `result`, `exception` (pattern texts) and
//! `syntax` (`elixir` or `erlang`); `search/2` and `origin/2` take `{value, Bytes}` (a term
//! as `term_to_binary/1` gives it) or `{pattern, Text}`, and options `run`, `limit`,
//! `syntax`. A pattern that does not parse is `{error, {bad_pattern, Message}}`, the message
//! pointing at the column.

use analysis::{CallQuery, Dialect, QueryError, ValuePattern};
use rustler::{Atom, Binary, Encoder, Env, NifResult, Term};
use store::Snapshot;

use crate::atoms;
use crate::query::{snapshot, CallTerm};
use crate::term::atom_text;

/// The most calls a search returns.
const MAX_LIMIT: usize = 100_000;

mod keys {
    rustler::atoms! {
        r#match = "match",
        result,
        exception,
        syntax,
        erlang,
        value,
        pattern,
        limit,
        found,
        arguments,
        bad_pattern,
    }
}

/// The patterns of a `calls/1` filter map (none: a query that keeps every call).
pub(crate) fn call_query(filter: Term<'_>) -> Result<CallQuery, QueryError> {
    let text = |key: Atom| -> Option<String> { filter.map_get(key).ok()?.decode().ok() };
    CallQuery::parse(
        text(keys::r#match()).as_deref(),
        text(keys::result()).as_deref(),
        text(keys::exception()).as_deref(),
        dialect(filter),
    )
}

/// `{error, {bad_pattern, Message}}`.
pub(crate) fn bad_pattern<'a>(env: Env<'a>, e: &QueryError) -> Term<'a> {
    (atoms::error(), (keys::bad_pattern(), e.to_string())).encode(env)
}

fn dialect(options: Term<'_>) -> Dialect {
    match options.map_get(keys::syntax()).ok().and_then(atom_text) {
        Some(s) if s == "erlang" => Dialect::Erlang,
        _ => Dialect::Elixir,
    }
}

/// The value a search looks for: `{value, Bytes}` or `{pattern, Text}`.
fn wanted(spec: Term<'_>, options: Term<'_>) -> NifResult<Result<ValuePattern, QueryError>> {
    let (kind, what): (Atom, Term<'_>) = spec.decode()?;
    if kind == keys::value() {
        let bytes: Binary<'_> = what.decode()?;
        return Ok(ValuePattern::of_value(bytes.as_slice(), dialect(options))
            .map_err(|source| QueryError::Damaged { call: 0, source }));
    }
    if kind == keys::pattern() {
        let text: String = what.decode()?;
        return Ok(
            ValuePattern::parse(&text, dialect(options)).map_err(|source| QueryError::Pattern {
                what: "pattern",
                source,
            }),
        );
    }
    Err(rustler::Error::BadArg)
}

fn limit(options: Term<'_>, default: usize) -> NifResult<usize> {
    Ok(match options.map_get(keys::limit()) {
        Ok(t) => t.decode::<usize>()?.clamp(1, MAX_LIMIT),
        Err(_) => default,
    })
}

/// The snapshot the options name and the value the spec names, or the term that says why not.
fn prepare<'a>(
    env: Env<'a>,
    spec: Term<'a>,
    options: Term<'a>,
) -> NifResult<Result<(Snapshot, ValuePattern), Term<'a>>> {
    let snap = match snapshot(env, Some(options)) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(match wanted(spec, options)? {
        Ok(v) => Ok((snap, v)),
        Err(e) => Err(bad_pattern(env, &e)),
    })
}

/// The calls whose arguments, result or exception hold the value, oldest first, each map
/// with `found => arguments | result | exception`.
#[rustler::nif(schedule = "DirtyIo")]
fn search<'a>(env: Env<'a>, spec: Term<'a>, options: Term<'a>) -> NifResult<Term<'a>> {
    let (snap, value) = match prepare(env, spec, options)? {
        Ok(ready) => ready,
        Err(why) => return Ok(why),
    };
    let found = match analysis::search(&snap, &value, 0, u64::MAX, limit(options, 20)?) {
        Ok(found) => found,
        Err(e) => return Ok((atoms::error(), e.to_string()).encode(env)),
    };
    let mut to_term = CallTerm::new(&snap);
    let mut out = Vec::with_capacity(found.len());
    for (call, at) in &found {
        let place = match at {
            analysis::select::Found::Arguments => keys::arguments(),
            analysis::select::Found::Result => keys::result(),
            analysis::select::Found::Exception => keys::exception(),
        };
        let map = to_term.encode(env, call);
        out.push(map.map_put(keys::found(), place).unwrap_or(map));
    }
    Ok(out.encode(env))
}

/// The calls that returned the value without being given it, earliest first.
#[rustler::nif(schedule = "DirtyIo")]
fn origin<'a>(env: Env<'a>, spec: Term<'a>, options: Term<'a>) -> NifResult<Term<'a>> {
    let (snap, value) = match prepare(env, spec, options)? {
        Ok(ready) => ready,
        Err(why) => return Ok(why),
    };
    Ok(match analysis::origin(&snap, &value, limit(options, 1)?) {
        Ok(calls) => crate::query::list(env, &snap, &calls),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    })
}
