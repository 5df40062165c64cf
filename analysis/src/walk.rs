//! What the analyses of where time goes share: which calls they look at ([`Scope`]), a
//! function named as people read it ([`Mfa`]), and the calls running in each process while a
//! run is walked in id order (`Stacks`).
//!
//! Within a process calls nest, and a call's parent is the process's innermost recorded call
//! running when it started. Walking the run in id order (the order calls started), the calls
//! running in a process when a call starts are therefore its parent and the parent's
//! ancestors: everything the process's stack held above the parent has finished. So one
//! stack per process, as deep as calls nest, gives every call its parent's frame and tells
//! when a call is done (no more children can come), without holding the run in memory.

use rustc_hash::FxHashMap;
use serde::Serialize;

/// Which calls an analysis counts (all that are set must hold). Calls outside the scope are
/// still walked: a parent's own time is its time less that of all its recorded children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only calls of this process (pid term word).
    pub pid: Option<u64>,
    /// Only calls that started at or after this monotonic time (ns).
    pub since: Option<u64>,
    /// Only calls that started at or before this monotonic time (ns).
    pub until: Option<u64>,
    /// Only calls of this module (the atom's text: `Elixir.Shop.Cart`, `lists`).
    pub module: Option<String>,
}

impl Scope {
    /// Whether a call of process `pid` started at `start` is in the scope, given whether its
    /// module is.
    pub(crate) fn holds(&self, pid: u64, start: u64, module_in_scope: bool) -> bool {
        module_in_scope
            && self.pid.is_none_or(|p| p == pid)
            && self.since.is_none_or(|t| start >= t)
            && self.until.is_none_or(|t| start <= t)
    }
}

/// Whether a run's module atom ids are in a scope's module, each name compared once.
pub(crate) struct ModuleFilter<'a> {
    module: Option<&'a str>,
    known: FxHashMap<u32, bool>,
}

impl<'a> ModuleFilter<'a> {
    /// The filter of `scope`.
    pub(crate) fn new(scope: &'a Scope) -> ModuleFilter<'a> {
        ModuleFilter {
            module: scope.module.as_deref(),
            known: FxHashMap::default(),
        }
    }

    /// Whether module atom `id` of `snap`'s run is in the scope.
    pub(crate) fn holds(&mut self, snap: &store::Snapshot, id: u32) -> bool {
        let Some(module) = self.module else {
            return true;
        };
        *self
            .known
            .entry(id)
            .or_insert_with(|| snap.atom_text(id) == module)
    }
}

/// A function: module, function and arity, as the atoms' texts (`Elixir.Shop.Cart`, `add`, 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Mfa {
    /// The module.
    pub module: String,
    /// The function.
    pub function: String,
    /// The arity.
    pub arity: u8,
}

impl Mfa {
    /// `Shop.Cart.add/2` or `lists:keyfind/3`, in the module's style.
    pub fn text(&self) -> String {
        term::Style::of_module(&self.module).mfa(&self.module, &self.function, self.arity)
    }
}

/// The functions a walk met, numbered in the order first met: a run's atom ids
/// `(module, function, arity)` to a small index, and back to names at the end.
#[derive(Debug, Default)]
pub(crate) struct Functions {
    index: FxHashMap<(u32, u32, u8), u32>,
    keys: Vec<(u32, u32, u8)>,
}

impl Functions {
    /// The index of a function, numbering it when new.
    pub(crate) fn index(&mut self, module: u32, function: u32, arity: u8) -> u32 {
        let next = self.keys.len() as u32;
        let key = (module, function, arity);
        *self.index.entry(key).or_insert_with(|| {
            self.keys.push(key);
            next
        })
    }

    /// How many functions were met.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The functions' names, by index.
    pub(crate) fn names(&self, snap: &store::Snapshot) -> Vec<Mfa> {
        let mut atoms: FxHashMap<u32, String> = FxHashMap::default();
        let mut text = |id: u32| {
            atoms
                .entry(id)
                .or_insert_with(|| snap.atom_text(id))
                .clone()
        };
        self.keys
            .iter()
            .map(|&(m, f, arity)| Mfa {
                module: text(m),
                function: text(f),
                arity,
            })
            .collect()
    }
}

/// A call running in its process, with what an analysis keeps about it.
#[derive(Debug)]
pub(crate) struct Frame<T> {
    /// The call's id.
    pub id: u64,
    /// What the analysis keeps.
    pub data: T,
}

/// The calls running in each process at the point a walk in id order has reached (see the
/// module documentation).
#[derive(Debug)]
pub(crate) struct Stacks<T> {
    by_pid: FxHashMap<u64, Vec<Frame<T>>>,
}

impl<T> Default for Stacks<T> {
    fn default() -> Self {
        Stacks {
            by_pid: FxHashMap::default(),
        }
    }
}

impl<T> Stacks<T> {
    /// Makes room for a call of `pid` whose parent is `parent`: the frames above the parent
    /// (all of them when the parent is not running in the process, or there is none) are done
    /// and popped, innermost first, each handed to `done` with its parent's frame (the frame
    /// below it). Returns the parent's frame.
    pub(crate) fn enter(
        &mut self,
        pid: u64,
        parent: Option<u64>,
        mut done: impl FnMut(Frame<T>, Option<&mut Frame<T>>),
    ) -> Option<&mut Frame<T>> {
        let stack = self.by_pid.entry(pid).or_default();
        let keep = match parent {
            Some(parent) => stack
                .iter()
                .rposition(|f| f.id == parent)
                .map_or(0, |i| i + 1),
            None => 0,
        };
        while stack.len() > keep {
            let Some(frame) = stack.pop() else { break };
            done(frame, stack.last_mut());
        }
        stack.last_mut()
    }

    /// Pushes a call's frame on its process's stack (after [`Stacks::enter`]).
    pub(crate) fn push(&mut self, pid: u64, frame: Frame<T>) {
        self.by_pid.entry(pid).or_default().push(frame);
    }

    /// Pops every frame left (the walk is over), innermost first, as [`Stacks::enter`] does;
    /// `done` gets the process too.
    pub(crate) fn finish(mut self, mut done: impl FnMut(u64, Frame<T>, Option<&mut Frame<T>>)) {
        let mut pids: Vec<u64> = self.by_pid.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            let Some(stack) = self.by_pid.get_mut(&pid) else {
                continue;
            };
            while let Some(frame) = stack.pop() {
                done(pid, frame, stack.last_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_pops_what_ran_above_its_parent_innermost_first() {
        let mut stacks: Stacks<&str> = Stacks::default();
        let mut done = Vec::new();
        stacks.enter(1, None, |f, _| done.push(f.id));
        stacks.push(1, Frame { id: 1, data: "a" });
        let parent = stacks.enter(1, Some(1), |f, _| done.push(f.id));
        assert_eq!(parent.map(|f| f.id), Some(1));
        stacks.push(1, Frame { id: 2, data: "b" });
        stacks.enter(1, Some(2), |f, _| done.push(f.id));
        stacks.push(1, Frame { id: 3, data: "c" });
        // 4 is a second child of 1: 3 and 2 are done, 3 first, each with its parent.
        let mut with_parents = Vec::new();
        stacks.enter(1, Some(1), |f, p| {
            with_parents.push((f.id, p.map(|p| p.id)))
        });
        assert_eq!(with_parents, vec![(3, Some(2)), (2, Some(1))]);
        stacks.push(1, Frame { id: 4, data: "d" });
        // Another process's stack is its own.
        assert!(stacks.enter(2, Some(1), |_, _| unreachable!()).is_none());
        let mut rest = Vec::new();
        stacks.finish(|pid, f, p| rest.push((pid, f.id, p.map(|p| p.id))));
        assert_eq!(rest, vec![(1, 4, Some(1)), (1, 1, None)]);
        assert!(done.is_empty());
    }

    #[test]
    fn a_parent_not_running_pops_everything() {
        let mut stacks: Stacks<()> = Stacks::default();
        stacks.push(7, Frame { id: 1, data: () });
        stacks.push(7, Frame { id: 2, data: () });
        let mut done = Vec::new();
        assert!(stacks.enter(7, Some(99), |f, _| done.push(f.id)).is_none());
        assert_eq!(done, vec![2, 1]);
    }
}
