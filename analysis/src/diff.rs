//! Two runs compared: which functions appeared or disappeared, which changed their number of
//! calls or their total or mean time by more than a threshold, and which calls with the same
//! arguments returned something else ("it worked yesterday").
//!
//! Functions are compared by name (module, function, arity), with the figures of
//! [`crate::profile::profile`] of each run. Results: each run is walked once; a call's key is
//! a hash of its function and argument bytes, its result a hash of its outcome and result (or
//! exception) bytes (BLAKE3, 64 bits kept: with a million keys the chance of any collision is
//! about 3 in 10^8). Run A keeps, per key, its first call and result hash, and whether the
//! result varied within the run (then the key is not compared: a function of time or state);
//! run B keeps the same for keys that A has. Memory is bounded: at most [`MAX_KEYS`] keys of
//! A are kept (about 40 bytes each); `capped` says when some were not.
//!
//! Values are compared as captured: arguments cut by the capture caps (long lists, binaries,
//! deep terms) are keyed by what was kept, so calls whose arguments differed only beyond the
//! cut are paired, and results that differ only beyond the cut compare equal. Pids, refs,
//! ports and the environment of anonymous functions differ between runs by nature: they
//! compare equal to any other pid, ref, port or anonymous function (`{:ok, #PID<0.187.0>}` in
//! one run is `{:ok, #PID<0.200.0>}` in the other). A value is decoded for that only when its
//! bytes hold one of their tags; others are hashed as they are.

use rustc_hash::FxHashMap;

use crate::profile::{profile, FunctionProfile};
use crate::walk::{Mfa, Scope};

/// At most this many distinct (function, arguments) keys of the first run are compared.
pub const MAX_KEYS: usize = 2_000_000;

/// What is compared, and how much is listed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffOptions {
    /// A function's total or mean time changed when it moved by more than this percentage.
    pub threshold_pct: f64,
    /// At most this many changed results are returned with their calls (all are counted).
    pub results: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            threshold_pct: 20.0,
            results: 20,
        }
    }
}

/// A function's figures in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionFigures {
    /// Calls.
    pub calls: u64,
    /// Total time, ns.
    pub total_ns: u64,
    /// Mean time, ns.
    pub mean_ns: u64,
}

impl From<&FunctionProfile> for FunctionFigures {
    fn from(f: &FunctionProfile) -> Self {
        FunctionFigures {
            calls: f.calls,
            total_ns: f.total_ns,
            mean_ns: f.mean_ns,
        }
    }
}

/// How a function changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Only run B called it.
    Appeared,
    /// Only run A called it.
    Disappeared,
    /// Both did, with a different number of calls or a time beyond the threshold.
    Changed,
}

impl Change {
    /// `appeared`, `disappeared`, `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Appeared => "appeared",
            Change::Disappeared => "disappeared",
            Change::Changed => "changed",
        }
    }
}

/// A function that changed between the runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionChange {
    /// The function.
    pub mfa: Mfa,
    /// How.
    pub change: Change,
    /// Its figures in run A.
    pub a: Option<FunctionFigures>,
    /// Its figures in run B.
    pub b: Option<FunctionFigures>,
}

/// Calls of the same function with the same arguments that gave different results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultChange {
    /// The call in run A (the first with these arguments).
    pub a: store::Call,
    /// The call in run B.
    pub b: store::Call,
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDiff {
    /// The first run.
    pub run_a: u64,
    /// The second run.
    pub run_b: u64,
    /// Functions that appeared, disappeared or changed, by name.
    pub functions: Vec<FunctionChange>,
    /// (function, arguments) keys called in both runs with a result that did not vary within
    /// either.
    pub compared: u64,
    /// Of them, those whose result differs.
    pub results_changed: u64,
    /// The first of them (by run A's call id), at most [`DiffOptions::results`].
    pub results: Vec<ResultChange>,
    /// Whether run A had more than [`MAX_KEYS`] keys (the rest were not compared).
    pub capped: bool,
}

/// What a run keeps per key.
#[derive(Debug, Clone, Copy)]
struct Seen {
    result: u64,
    id: u64,
    varies: bool,
}

impl Seen {
    fn update(&mut self, result: u64) {
        if result != self.result {
            self.varies = true;
        }
    }
}

/// A call's key and result hash; `None` while it runs.
fn hashes(call: &store::Call) -> Option<(u64, u64)> {
    let end = call.end.as_ref()?;
    let mut key = blake3::Hasher::new();
    for part in [call.module.as_bytes(), call.function.as_bytes()] {
        key.update(&(part.len() as u64).to_le_bytes());
        key.update(part);
    }
    key.update(&[call.arity]);
    value_hash(&mut key, &call.args);
    let mut result = blake3::Hasher::new();
    result.update(match end.outcome {
        store::Outcome::Return => b"r",
        store::Outcome::Exception(store::Class::Error) => b"e",
        store::Outcome::Exception(store::Class::Throw) => b"t",
        store::Outcome::Exception(store::Class::Exit) => b"x",
    });
    value_hash(&mut result, &end.value);
    let short = |h: blake3::Hasher| {
        let bytes = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes.as_bytes()[..8]);
        u64::from_le_bytes(first)
    };
    Some((short(key), short(result)))
}

/// The external term format's tags of pids, ports, references and anonymous functions.
const RUN_BOUND_TAGS: [u8; 9] = [
    etf_tag::NEW_PID,
    etf_tag::PID,
    etf_tag::NEW_PORT,
    etf_tag::PORT,
    etf_tag::V4_PORT,
    etf_tag::NEWER_REFERENCE,
    etf_tag::NEW_REFERENCE,
    etf_tag::REFERENCE,
    etf_tag::NEW_FUN,
];

/// Feeds a stored value: its bytes, or, when they may hold a pid, port, reference or
/// anonymous function, its decoded term with those masked (see the module documentation).
fn value_hash(h: &mut blake3::Hasher, bytes: &[u8]) {
    if bytes.iter().any(|b| RUN_BOUND_TAGS.contains(b)) {
        if let Ok(term) = term::decode(bytes) {
            h.update(b"T");
            feed(h, &term);
            return;
        }
    }
    h.update(b"B");
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Feeds a term's structure, pids, ports, references and anonymous functions masked, map
/// entries in an order of their own hashes (a decoded map's order is not the encoded one).
fn feed(h: &mut blake3::Hasher, term: &eetf::Term) {
    use eetf::Term;
    let len = |h: &mut blake3::Hasher, n: usize| {
        h.update(&(n as u64).to_le_bytes());
    };
    match term {
        Term::Pid(_) => {
            h.update(b"p");
        }
        Term::Port(_) => {
            h.update(b"o");
        }
        Term::Reference(_) => {
            h.update(b"r");
        }
        Term::InternalFun(_) => {
            h.update(b"f");
        }
        Term::ExternalFun(f) => {
            h.update(b"F");
            for name in [&f.module.name, &f.function.name] {
                len(h, name.len());
                h.update(name.as_bytes());
            }
            h.update(&[f.arity]);
        }
        Term::Atom(a) => {
            h.update(b"a");
            len(h, a.name.len());
            h.update(a.name.as_bytes());
        }
        Term::FixInteger(i) => {
            h.update(b"i");
            h.update(&i.value.to_le_bytes());
        }
        Term::BigInteger(i) => {
            let text = i.value.to_string();
            h.update(b"I");
            len(h, text.len());
            h.update(text.as_bytes());
        }
        Term::Float(f) => {
            h.update(b"d");
            h.update(&f.value.to_bits().to_le_bytes());
        }
        Term::Binary(b) => {
            h.update(b"b");
            len(h, b.bytes.len());
            h.update(&b.bytes);
        }
        Term::BitBinary(b) => {
            h.update(b"B");
            len(h, b.bytes.len());
            h.update(&b.bytes);
            h.update(&[b.tail_bits_size]);
        }
        Term::ByteList(l) => {
            h.update(b"s");
            len(h, l.bytes.len());
            h.update(&l.bytes);
        }
        Term::List(l) => {
            h.update(b"l");
            len(h, l.elements.len());
            l.elements.iter().for_each(|e| feed(h, e));
        }
        Term::ImproperList(l) => {
            h.update(b"L");
            len(h, l.elements.len());
            l.elements.iter().for_each(|e| feed(h, e));
            feed(h, &l.last);
        }
        Term::Tuple(t) => {
            h.update(b"t");
            len(h, t.elements.len());
            t.elements.iter().for_each(|e| feed(h, e));
        }
        Term::Map(m) => {
            let mut entries: Vec<[u8; 32]> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let mut entry = blake3::Hasher::new();
                    feed(&mut entry, k);
                    feed(&mut entry, v);
                    *entry.finalize().as_bytes()
                })
                .collect();
            entries.sort_unstable();
            h.update(b"m");
            len(h, entries.len());
            entries.iter().for_each(|e| {
                h.update(e);
            });
        }
    }
}

/// Compares run `a` with run `b`.
pub fn diff(
    a: &store::Snapshot,
    b: &store::Snapshot,
    options: DiffOptions,
) -> store::Result<RunDiff> {
    let functions = function_changes(a, b, options.threshold_pct)?;
    let mut in_a: FxHashMap<u64, Seen> = FxHashMap::default();
    let mut capped = false;
    a.scan(0, |call| {
        let Some((key, result)) = hashes(&call) else {
            return Ok(true);
        };
        let full = in_a.len() >= MAX_KEYS;
        match in_a.get_mut(&key) {
            Some(seen) => seen.update(result),
            None if !full => {
                in_a.insert(
                    key,
                    Seen {
                        result,
                        id: call.id,
                        varies: false,
                    },
                );
            }
            None => capped = true,
        }
        Ok(true)
    })?;
    let mut in_b: FxHashMap<u64, Seen> = FxHashMap::default();
    b.scan(0, |call| {
        let Some((key, result)) = hashes(&call) else {
            return Ok(true);
        };
        if in_a.get(&key).is_none_or(|s| s.varies) {
            return Ok(true);
        }
        in_b.entry(key)
            .and_modify(|seen| seen.update(result))
            .or_insert(Seen {
                result,
                id: call.id,
                varies: false,
            });
        Ok(true)
    })?;
    let mut compared = 0u64;
    let mut changed: Vec<(u64, u64)> = Vec::new();
    for (key, seen_b) in &in_b {
        let Some(seen_a) = in_a.get(key) else {
            continue;
        };
        if seen_a.varies || seen_b.varies {
            continue;
        }
        compared += 1;
        if seen_a.result != seen_b.result {
            changed.push((seen_a.id, seen_b.id));
        }
    }
    changed.sort_unstable();
    let results_changed = changed.len() as u64;
    let mut results = Vec::new();
    for (id_a, id_b) in changed.into_iter().take(options.results) {
        if let (Some(call_a), Some(call_b)) = (a.call(id_a)?, b.call(id_b)?) {
            results.push(ResultChange {
                a: call_a,
                b: call_b,
            });
        }
    }
    Ok(RunDiff {
        run_a: a.run().id,
        run_b: b.run().id,
        functions,
        compared,
        results_changed,
        results,
        capped,
    })
}

/// Whether `b` moved from `a` by more than `pct` percent (any move from zero counts).
fn beyond(a: u64, b: u64, pct: f64) -> bool {
    if a == 0 {
        return b != 0;
    }
    (b as f64 - a as f64).abs() / a as f64 * 100.0 > pct
}

/// The functions that appeared, disappeared or changed, by name: appeared and disappeared
/// first, then changed, each by name.
fn function_changes(
    a: &store::Snapshot,
    b: &store::Snapshot,
    threshold_pct: f64,
) -> store::Result<Vec<FunctionChange>> {
    let scope = Scope::default();
    let of = |snap| -> store::Result<FxHashMap<Mfa, FunctionFigures>> {
        Ok(profile(snap, &scope)?
            .functions
            .iter()
            .map(|f| (f.mfa.clone(), FunctionFigures::from(f)))
            .collect())
    };
    let (in_a, in_b) = (of(a)?, of(b)?);
    let mut out = Vec::new();
    for (mfa, fa) in &in_a {
        match in_b.get(mfa) {
            None => out.push(FunctionChange {
                mfa: mfa.clone(),
                change: Change::Disappeared,
                a: Some(*fa),
                b: None,
            }),
            Some(fb) => {
                if fa.calls != fb.calls
                    || beyond(fa.total_ns, fb.total_ns, threshold_pct)
                    || beyond(fa.mean_ns, fb.mean_ns, threshold_pct)
                {
                    out.push(FunctionChange {
                        mfa: mfa.clone(),
                        change: Change::Changed,
                        a: Some(*fa),
                        b: Some(*fb),
                    });
                }
            }
        }
    }
    for (mfa, fb) in &in_b {
        if !in_a.contains_key(mfa) {
            out.push(FunctionChange {
                mfa: mfa.clone(),
                change: Change::Appeared,
                a: None,
                b: Some(*fb),
            });
        }
    }
    let rank = |c: Change| match c {
        Change::Appeared => 0,
        Change::Disappeared => 1,
        Change::Changed => 2,
    };
    out.sort_by(|x, y| {
        rank(x.change)
            .cmp(&rank(y.change))
            .then_with(|| x.mfa.cmp(&y.mfa))
    });
    Ok(out)
}
