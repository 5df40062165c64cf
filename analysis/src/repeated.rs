//! Repeated work: calls that did the same thing again, as Erlang Doctor's
//! `tr:call_tree_stat` finds them. Two calls are the same when their function, argument bytes
//! and outcome with result (or exception) bytes are, and so are those of every call below
//! them, in order: their subtrees hash the same. Groups of two or more are ranked by the time
//! they wasted, `(calls - 1) × mean time` (the first call was needed).
//!
//! One walk over the run's calls in id order (their values are read, and hashed with BLAKE3,
//! 128 bits kept) with the calls running in each process on a stack
//! (`walk::Stacks`): a call's subtree hash is final when it is done. Memory: one
//! entry (about 64 bytes) per distinct subtree, and the stacks. A group's subtrees include
//! those inside bigger repeated subtrees: a repeated parent lists its repeated children too.
//!
//! Values are compared as captured: two values cut by the capture caps at the same place
//! compare equal even if the full values differed. A call that did not finish (or whose end
//! was not captured) is in no group, and neither are its ancestors.

use rustc_hash::FxHashMap;

use crate::walk::{Frame, Mfa, Scope, Stacks};

/// Calls with identical subtrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedGroup {
    /// Their function.
    pub mfa: Mfa,
    /// How many calls.
    pub calls: u64,
    /// Calls in each subtree (the call and its descendants in its process).
    pub subtree_calls: u64,
    /// Their mean duration, ns.
    pub mean_ns: u64,
    /// `(calls - 1) × mean`, ns.
    pub wasted_ns: u64,
    /// The first call (its arguments and result are every call's).
    pub first: store::Call,
    /// The ids of the first few calls (at most [`SAMPLE_IDS`]).
    pub ids: Vec<u64>,
}

/// How many ids a group keeps.
pub const SAMPLE_IDS: usize = 5;

/// The repeated subtrees of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The run.
    pub run: u64,
    /// Calls looked at (in the scope).
    pub calls: u64,
    /// Distinct subtrees among them.
    pub distinct: u64,
    /// Groups of two or more, as many as there are.
    pub groups: u64,
    /// Total time wasted by all groups, ns.
    pub wasted_ns: u64,
    /// The groups that wasted the most, most first.
    pub top: Vec<RepeatedGroup>,
}

/// One distinct subtree.
#[derive(Debug)]
struct Group {
    function: u32,
    calls: u64,
    subtree_calls: u64,
    total_ns: u64,
    ids: Vec<u64>,
}

/// A running call: its function (when in the scope), start and the hash of its subtree so
/// far (`None` once something below it did not finish).
struct Running {
    function: Option<u32>,
    duration: Option<u64>,
    hash: Option<blake3::Hasher>,
    subtree_calls: u64,
}

/// The repeated subtrees of calls of `scope` in `snap`'s run, the `top` that wasted most.
/// Calls out of the scope are still part of the subtrees above them.
pub fn repeated(snap: &store::Snapshot, scope: &Scope, top: usize) -> store::Result<Repeated> {
    let mut functions = FunctionNames::default();
    let mut groups: FxHashMap<u128, Group> = FxHashMap::default();
    let mut stacks: Stacks<Running> = Stacks::default();
    let mut calls = 0u64;
    let mut done = |frame: Frame<Running>, parent: Option<&mut Frame<Running>>| {
        let running = frame.data;
        let hash = running.hash.map(|h| {
            let bytes: [u8; 16] = h.finalize().as_bytes()[..16].try_into().unwrap_or([0; 16]);
            u128::from_le_bytes(bytes)
        });
        if let Some(parent) = parent {
            parent.data.subtree_calls += running.subtree_calls;
            match (&mut parent.data.hash, hash) {
                (Some(h), Some(child)) => {
                    h.update(&child.to_le_bytes());
                }
                _ => parent.data.hash = None,
            }
        }
        if let (Some(hash), Some(function), Some(d)) = (hash, running.function, running.duration) {
            let group = groups.entry(hash).or_insert_with(|| Group {
                function,
                calls: 0,
                subtree_calls: running.subtree_calls,
                total_ns: 0,
                ids: Vec::new(),
            });
            group.calls += 1;
            group.total_ns += d;
            if group.ids.len() < SAMPLE_IDS {
                group.ids.push(frame.id);
            }
        }
    };
    let pid = scope.pid;
    snap.scan(0, |call| {
        if pid.is_some_and(|p| p != call.pid) {
            return Ok(true);
        }
        let in_scope = scope.holds(
            call.pid,
            call.start,
            scope
                .module
                .as_ref()
                .is_none_or(|name| *name == call.module),
        );
        stacks.enter(call.pid, call.parent, &mut done);
        if in_scope {
            calls += 1;
        }
        let hash = call.end.as_ref().map(|end| {
            let mut h = blake3::Hasher::new();
            for part in [call.module.as_bytes(), call.function.as_bytes()] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.update(&[call.arity]);
            h.update(&(call.args.len() as u64).to_le_bytes());
            h.update(&call.args);
            let outcome = match end.outcome {
                store::Outcome::Return => 0u8,
                store::Outcome::Exception(store::Class::Error) => 1,
                store::Outcome::Exception(store::Class::Throw) => 2,
                store::Outcome::Exception(store::Class::Exit) => 3,
            };
            h.update(&[outcome]);
            h.update(&(end.value.len() as u64).to_le_bytes());
            h.update(&end.value);
            h
        });
        stacks.push(
            call.pid,
            Frame {
                id: call.id,
                data: Running {
                    function: in_scope.then(|| functions.index(&call)),
                    duration: call.duration_ns(),
                    hash,
                    subtree_calls: 1,
                },
            },
        );
        Ok(true)
    })?;
    stacks.finish(|_, frame, parent| done(frame, parent));
    let distinct = groups.len() as u64;
    let mut repeated: Vec<Group> = groups.into_values().filter(|g| g.calls > 1).collect();
    let wasted = |g: &Group| (g.calls - 1) * (g.total_ns / g.calls);
    let groups_count = repeated.len() as u64;
    let wasted_ns = repeated.iter().map(wasted).sum();
    repeated.sort_by(|a, b| wasted(b).cmp(&wasted(a)).then(a.ids.cmp(&b.ids)));
    repeated.truncate(top);
    let names = functions.names;
    let mut top_groups = Vec::with_capacity(repeated.len());
    for g in repeated {
        let Some(first) = snap.call(g.ids[0])? else {
            continue;
        };
        top_groups.push(RepeatedGroup {
            mfa: names[g.function as usize].clone(),
            calls: g.calls,
            subtree_calls: g.subtree_calls,
            mean_ns: g.total_ns / g.calls,
            wasted_ns: wasted(&g),
            first,
            ids: g.ids,
        });
    }
    Ok(Repeated {
        run: snap.run().id,
        calls,
        distinct,
        groups: groups_count,
        wasted_ns,
        top: top_groups,
    })
}

/// Functions numbered by their names (a scan gives calls with names, not atom ids).
#[derive(Default)]
struct FunctionNames {
    index: FxHashMap<Mfa, u32>,
    names: Vec<Mfa>,
}

impl FunctionNames {
    fn index(&mut self, call: &store::Call) -> u32 {
        let mfa = Mfa {
            module: call.module.clone(),
            function: call.function.clone(),
            arity: call.arity,
        };
        if let Some(&i) = self.index.get(&mfa) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(mfa.clone());
        self.index.insert(mfa, i);
        i
    }
}
