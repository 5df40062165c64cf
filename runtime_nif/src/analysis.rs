//! Where the time went and what changed between runs, for IEx (`ElixirScope.profile/1`,
//! `ElixirScope.diff/3`): thin functions over the `analysis` crate, on dirty I/O schedulers
//! (each walks a whole run), returning maps.

use rustler::{Atom, Encoder, Env, NifResult, Term};
use store::Snapshot;

use analysis::diff::{DiffOptions, FunctionFigures};
use analysis::profile::SortBy;
use analysis::walk::{Mfa, Scope};

use crate::atoms;
use crate::query::{snapshot, CallTerm};

mod keys {
    rustler::atoms! {
        sort,
        top,
        functions,
        unfinished,
        total_ns,
        own_ns,
        mean_ns,
        p50_ns,
        p99_ns,
        threshold,
        run_a,
        run_b,
        change,
        a,
        b,
        compared,
        results_changed,
        results,
        capped,
        badarg,
    }
}

fn error<'a>(env: Env<'a>, e: impl std::fmt::Display) -> Term<'a> {
    (atoms::error(), e.to_string()).encode(env)
}

fn badarg(env: Env<'_>) -> Term<'_> {
    (atoms::error(), keys::badarg()).encode(env)
}

/// An atom of a name, or `undefined` if the VM refuses it.
fn atom<'a>(env: Env<'a>, text: &str) -> Term<'a> {
    Atom::from_str(env, text).map_or(atoms::undefined().encode(env), |a| a.encode(env))
}

fn map<'a>(env: Env<'a>, pairs: &[(Term<'a>, Term<'a>)]) -> Term<'a> {
    Term::map_from_pairs(env, pairs).unwrap_or(atoms::undefined().encode(env))
}

fn mfa_pairs<'a>(env: Env<'a>, mfa: &Mfa) -> [(Term<'a>, Term<'a>); 3] {
    [
        (atoms::module().encode(env), atom(env, &mfa.module)),
        (atoms::function().encode(env), atom(env, &mfa.function)),
        (atoms::arity().encode(env), mfa.arity.encode(env)),
    ]
}

/// The profile of this VM's run (or `run`'s: a number or `latest`): `#{run, calls,
/// functions => [#{module, function, arity, calls, unfinished, total_ns, own_ns, mean_ns,
/// p50_ns, p99_ns, exceptions}]}`, sorted by `sort` (`own`, `total`, `count`, `mean`, `p99`,
/// `exceptions`; default `own`), the first `top` (default 20).
#[rustler::nif(schedule = "DirtyIo")]
fn profile<'a>(env: Env<'a>, options: Term<'a>) -> NifResult<Term<'a>> {
    let snap = match snapshot(env, Some(options)) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let sort = match options.map_get(keys::sort()) {
        Err(_) => SortBy::Own,
        Ok(t) => match t.atom_to_string().ok().and_then(|s| SortBy::parse(&s)) {
            Some(key) => key,
            None => return Ok(badarg(env)),
        },
    };
    let top = match options.map_get(keys::top()) {
        Err(_) => 20,
        Ok(t) => match t.decode::<usize>() {
            Ok(n) => n,
            Err(_) => return Ok(badarg(env)),
        },
    };
    let mut profile = match analysis::profile::profile(&snap, &Scope::default()) {
        Ok(p) => p,
        Err(e) => return Ok(error(env, e)),
    };
    profile.sort(sort);
    profile.truncate(top);
    let functions: Vec<Term<'a>> = profile
        .functions
        .iter()
        .map(|f| {
            let mut pairs = mfa_pairs(env, &f.mfa).to_vec();
            pairs.extend([
                (atoms::calls().encode(env), f.calls.encode(env)),
                (keys::unfinished().encode(env), f.unfinished.encode(env)),
                (keys::total_ns().encode(env), f.total_ns.encode(env)),
                (keys::own_ns().encode(env), f.own_ns.encode(env)),
                (keys::mean_ns().encode(env), f.mean_ns.encode(env)),
                (keys::p50_ns().encode(env), f.p50_ns.encode(env)),
                (keys::p99_ns().encode(env), f.p99_ns.encode(env)),
                (atoms::exceptions().encode(env), f.exceptions.encode(env)),
            ]);
            map(env, &pairs)
        })
        .collect();
    Ok(map(
        env,
        &[
            (atoms::run().encode(env), profile.run.encode(env)),
            (atoms::calls().encode(env), profile.calls.encode(env)),
            (keys::functions().encode(env), functions.encode(env)),
        ],
    ))
}

/// A snapshot of run `run` of the store this VM records into.
fn run_snapshot<'a>(env: Env<'a>, run: u64) -> Result<Snapshot, Term<'a>> {
    let options = Term::map_new(env)
        .map_put(atoms::run().encode(env), run.encode(env))
        .map_err(|_| badarg(env))?;
    snapshot(env, Some(options))
}

fn figures<'a>(env: Env<'a>, f: Option<&FunctionFigures>) -> Term<'a> {
    match f {
        None => atoms::undefined().encode(env),
        Some(f) => map(
            env,
            &[
                (atoms::calls().encode(env), f.calls.encode(env)),
                (keys::total_ns().encode(env), f.total_ns.encode(env)),
                (keys::mean_ns().encode(env), f.mean_ns.encode(env)),
            ],
        ),
    }
}

/// Run `run_a` compared with run `run_b` (see `analysis::diff`): `#{run_a, run_b, functions
/// => [#{module, function, arity, change => appeared | disappeared | changed, a, b}],
/// compared, results_changed, capped, results => [#{a => Call, b => Call}]}` where `a` and
/// `b` of a function are `#{calls, total_ns, mean_ns}` or `undefined`. Options: `threshold`
/// (percent, default 20), `limit` (results listed, default 20).
#[rustler::nif(schedule = "DirtyIo")]
fn diff<'a>(env: Env<'a>, run_a: u64, run_b: u64, options: Term<'a>) -> NifResult<Term<'a>> {
    let mut diff_options = DiffOptions::default();
    if let Ok(t) = options.map_get(keys::threshold()) {
        match t
            .decode::<f64>()
            .or_else(|_| t.decode::<i64>().map(|n| n as f64))
        {
            Ok(p) if p >= 0.0 && p.is_finite() => diff_options.threshold_pct = p,
            _ => return Ok(badarg(env)),
        }
    }
    if let Ok(t) = options.map_get(atoms::limit()) {
        match t.decode::<usize>() {
            Ok(n) => diff_options.results = n,
            Err(_) => return Ok(badarg(env)),
        }
    }
    let a = match run_snapshot(env, run_a) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let b = match run_snapshot(env, run_b) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let d = match analysis::diff::diff(&a, &b, diff_options) {
        Ok(d) => d,
        Err(e) => return Ok(error(env, e)),
    };
    let functions: Vec<Term<'a>> = d
        .functions
        .iter()
        .map(|f| {
            let mut pairs = mfa_pairs(env, &f.mfa).to_vec();
            pairs.extend([
                (keys::change().encode(env), atom(env, f.change.as_str())),
                (keys::a().encode(env), figures(env, f.a.as_ref())),
                (keys::b().encode(env), figures(env, f.b.as_ref())),
            ]);
            map(env, &pairs)
        })
        .collect();
    let (mut in_a, mut in_b) = (CallTerm::new(&a), CallTerm::new(&b));
    let results: Vec<Term<'a>> = d
        .results
        .iter()
        .map(|r| {
            map(
                env,
                &[
                    (keys::a().encode(env), in_a.encode(env, &r.a)),
                    (keys::b().encode(env), in_b.encode(env, &r.b)),
                ],
            )
        })
        .collect();
    Ok(map(
        env,
        &[
            (keys::run_a().encode(env), d.run_a.encode(env)),
            (keys::run_b().encode(env), d.run_b.encode(env)),
            (keys::functions().encode(env), functions.encode(env)),
            (keys::compared().encode(env), d.compared.encode(env)),
            (
                keys::results_changed().encode(env),
                d.results_changed.encode(env),
            ),
            (keys::capped().encode(env), d.capped.encode(env)),
            (keys::results().encode(env), results.encode(env)),
        ],
    ))
}
