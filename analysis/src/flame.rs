//! Flame graphs: a run's calls as stacks of functions, for the tools that draw them.
//!
//! - [`folded`]: every distinct stack (root function first) with the own time spent in it,
//!   summed over the run's processes: the input of inferno and flamegraph.pl (`a;b;c 1200`).
//! - [`evented`]: per process, an open event when a call starts and a close event when it
//!   ends, properly nested: speedscope's "evented" profiles.
//!
//! Both walk the call heads in id order with the calls running in each process on a stack
//! (`walk::Stacks`); no argument or result is read. Times are nanoseconds.
//! [`folded`] keeps one node per distinct stack (a trie); [`evented`] keeps two events (16
//! bytes each) per call until the file is written.

use rustc_hash::FxHashMap;

use crate::walk::{Frame, Functions, Mfa, ModuleFilter, Scope, Stacks};

/// A stack: a node of the trie of stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackNode {
    /// The stack it extends (`None` for a stack of one function).
    pub parent: Option<u32>,
    /// Its innermost function (an index into [`Folded::functions`]).
    pub function: u32,
    /// Calls that had this stack.
    pub calls: u64,
    /// Their own time (less their recorded children's), ns.
    pub own_ns: u64,
}

/// The distinct stacks of a run with their own time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The functions the stacks name.
    pub functions: Vec<Mfa>,
    /// The stacks, each after the stack it extends.
    pub nodes: Vec<StackNode>,
}

impl Folded {
    /// Each stack with its own time, as function indexes root first, in the order the stacks
    /// were first met; stacks with no own time left out.
    pub fn lines(&self) -> impl Iterator<Item = (Vec<u32>, u64)> + '_ {
        self.nodes.iter().filter(|n| n.own_ns > 0).map(move |node| {
            let mut path = vec![node.function];
            let mut at = node.parent;
            while let Some(i) = at {
                let n = &self.nodes[i as usize];
                path.push(n.function);
                at = n.parent;
            }
            path.reverse();
            (path, node.own_ns)
        })
    }
}

/// The distinct stacks of the calls of `scope` (a call out of the scope is not a frame: its
/// in-scope callees stack on its nearest in-scope caller).
pub fn folded(snap: &store::Snapshot, scope: &Scope) -> store::Result<Folded> {
    let mut functions = Functions::default();
    let mut modules = ModuleFilter::new(scope);
    let mut nodes: Vec<StackNode> = Vec::new();
    let mut own: Vec<i64> = Vec::new();
    let mut children: FxHashMap<(Option<u32>, u32), u32> = FxHashMap::default();
    // A frame holds the node of the nearest in-scope call at or above it.
    let mut stacks: Stacks<Option<u32>> = Stacks::default();
    snap.scan_heads(0, scope.pid, |call| {
        let in_scope = scope.holds(call.pid, call.start, modules.holds(snap, call.module));
        let parent = stacks.enter(call.pid, call.parent, |_, _| {});
        let parent_node = parent.and_then(|p| p.data);
        let duration = call.duration_ns();
        let node = if in_scope {
            let function = functions.index(call.module, call.function, call.arity);
            let next = nodes.len() as u32;
            let node = *children.entry((parent_node, function)).or_insert_with(|| {
                nodes.push(StackNode {
                    parent: parent_node,
                    function,
                    calls: 0,
                    own_ns: 0,
                });
                own.push(0);
                next
            });
            nodes[node as usize].calls += 1;
            if let Some(d) = duration {
                own[node as usize] += d as i64;
            }
            Some(node)
        } else {
            parent_node
        };
        // Time spent in an in-scope call is its own unless an in-scope callee took it.
        if let (true, Some(p), Some(d)) = (in_scope, parent_node, duration) {
            own[p as usize] -= d as i64;
        }
        stacks.push(
            call.pid,
            Frame {
                id: call.id,
                data: node,
            },
        );
        Ok(true)
    })?;
    for (node, own) in nodes.iter_mut().zip(own) {
        node.own_ns = own.max(0) as u64;
    }
    Ok(Folded {
        functions: functions.names(snap),
        nodes,
    })
}

/// A frame opening or closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEvent {
    /// Opens (a call starts) or closes (it ends).
    pub open: bool,
    /// The function (an index into [`Evented::functions`]).
    pub function: u32,
    /// When (monotonic ns).
    pub at: u64,
}

/// One process's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEvents {
    /// The process (pid term word).
    pub pid: u64,
    /// Its first event's time (monotonic ns).
    pub start: u64,
    /// Its last event's time.
    pub end: u64,
    /// Open and close events, nested, in time order (never going back).
    pub events: Vec<FrameEvent>,
}

/// A run's calls as open and close events per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evented {
    /// The functions the events name.
    pub functions: Vec<Mfa>,
    /// The processes, in the order of their first call.
    pub processes: Vec<ProcessEvents>,
}

/// The calls of `scope` as nested open and close events per process. A call that did not
/// finish (or whose end was not captured) closes when the process's next call outside it
/// starts, or at the process's last event; a time that would go back (clocks of different
/// schedulers) is taken as the previous event's.
pub fn evented(snap: &store::Snapshot, scope: &Scope) -> store::Result<Evented> {
    let mut functions = Functions::default();
    let mut modules = ModuleFilter::new(scope);
    let mut processes: Vec<ProcessEvents> = Vec::new();
    let mut by_pid: FxHashMap<u64, usize> = FxHashMap::default();
    // A frame holds the call's function and end time, when it is in the scope.
    let mut stacks: Stacks<Option<(u32, Option<u64>)>> = Stacks::default();
    fn close(p: &mut ProcessEvents, function: u32, end: Option<u64>) {
        let at = end.unwrap_or(p.end).max(p.end);
        p.end = at;
        p.events.push(FrameEvent {
            open: false,
            function,
            at,
        });
    }
    snap.scan_heads(0, scope.pid, |call| {
        let in_scope = scope.holds(call.pid, call.start, modules.holds(snap, call.module));
        let slot = *by_pid.entry(call.pid).or_insert_with(|| {
            processes.push(ProcessEvents {
                pid: call.pid,
                start: call.start,
                end: call.start,
                events: Vec::new(),
            });
            processes.len() - 1
        });
        let p = &mut processes[slot];
        stacks.enter(call.pid, call.parent, |frame, _| {
            if let Some((function, end)) = frame.data {
                close(p, function, end);
            }
        });
        let data = in_scope.then(|| {
            let function = functions.index(call.module, call.function, call.arity);
            let at = call.start.max(p.end);
            p.end = at;
            p.events.push(FrameEvent {
                open: true,
                function,
                at,
            });
            (function, call.end.map(|(time, _)| time))
        });
        stacks.push(call.pid, Frame { id: call.id, data });
        Ok(true)
    })?;
    stacks.finish(|pid, frame, _| {
        if let (Some((function, end)), Some(&slot)) = (frame.data, by_pid.get(&pid)) {
            close(&mut processes[slot], function, end);
        }
    });
    processes.retain(|p| !p.events.is_empty());
    Ok(Evented {
        functions: functions.names(snap),
        processes,
    })
}
