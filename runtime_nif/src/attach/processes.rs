//! The open calls of each process while attached: what gives attached and rewritten calls their
//! parents in one tree.
//!
//! A rewritten call's parent is the process's current recorded call, which the runtime keeps
//! in the process dictionary (`$elixir_scope_call`); an attached call's parent is known only to
//! this library, which sees the traced process's calls and ends as they happen (see
//! [`super::tracer`]). While a session shares trees ([`sharing`]: rewritten code is loaded),
//! both paths keep one stack per process here, innermost last, and take their parent from it:
//! a rewritten call under an attached one, an attached call under a rewritten one, at any
//! depth, in every process at once.
//!
//! Why it is sound. Only the process itself pushes and pops its own stack (rewritten calls
//! through the hot-path NIFs it calls, attached calls through the tracer callbacks the VM runs
//! in it), so a stack is never raced. What the stacks cannot know are the rewritten calls
//! already open when the session opened: the controller reads each process's dictionary once
//! ([`seed`]) and gives its current call as the process's `base`. That read races with the
//! process, so a seed only fills a process that has no entry yet, and every rewritten start
//! or end while seeding creates the entry first: an entry that exists is at least as recent as
//! any read of the dictionary. Attached calls begin only after seeding (the trace flags are
//! set after it), and idle entries are removed ([`prune`]) only after it.
//!
//! A process that hibernates loses its stack: the runtime says so for rewritten code
//! (`stack_discarded/0`), and the tracer sees calls of `proc_lib:hibernate/3` (gen_server,
//! gen_statem) and of `erlang:hibernate/3` through `apply/3` (a direct call of it is an
//! instruction that call tracing does not see). A process that exits loses its entry (the
//! `exit` trace event).

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::LazyLock;

use dashmap::DashMap;
use rustc_hash::FxHasher;
use store::OriginKind;

use crate::links::LinkPid;

/// Whether a session shares its trees with rewritten code. Read by every rewritten call's
/// start and end: one relaxed load when nothing is attached.
static SHARING: AtomicBool = AtomicBool::new(false);

/// Whether the controller is still reading dictionaries (see the module's doc).
static SEEDING: AtomicBool = AtomicBool::new(false);

/// Attached calls that were open in processes that exited.
static ABANDONED: AtomicU64 = AtomicU64::new(0);

/// Each process's state, by pid word. Many shards: a scheduler waits for a shard's lock only
/// while another holds it for a few entries.
static PROCESSES: LazyLock<DashMap<u64, Process, BuildHasherDefault<FxHasher>>> =
    LazyLock::new(|| DashMap::with_hasher_and_shard_amount(BuildHasherDefault::default(), 256));

/// How many entries there may be before [`prune`] looks for idle ones.
const PRUNE_ABOVE: usize = 10_000;

/// The most calls, rewritten and attached, open at once in one process that this keeps; an
/// attached call deeper than that is not recorded (as rewritten calls past the runtime's own
/// depth cap of 1,000).
pub(crate) const MAX_OPEN: usize = 1000;

/// An open call of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// A rewritten call (0: its start was dropped).
    Rewritten(u64),
    /// An attached call (0: its start was dropped).
    Attached(u64),
    /// An attached call not recorded (its module paused, too deep, over a limit): calls under
    /// it go under the call around it (`under`, 0: none), as under a paused rewritten call.
    Unrecorded {
        /// The innermost recorded call below it when it started.
        under: u64,
    },
}

impl Open {
    /// The parent of a call made under it.
    fn parent_of_callees(self) -> u64 {
        match self {
            Open::Rewritten(id) | Open::Attached(id) => id,
            Open::Unrecorded { under } => under,
        }
    }
}

/// One process's state while attached.
#[derive(Debug, Default)]
pub(crate) struct Process {
    /// Its open calls, innermost last.
    open: Vec<Open>,
    /// The rewritten call open under all of `open` (0: none): the current call its dictionary
    /// held when read, or the parent a rewritten call that was not on the stack ended into.
    base: u64,
    /// Whether its first attached call said who it is.
    introduced: bool,
    /// Where it came from (`$callers`, `$ancestors`, or who spawned it; a process of this
    /// node or another), until its first attached call records it.
    origin: Option<(OriginKind, LinkPid)>,
}

impl Process {
    /// The parent of a call starting now: the innermost recorded open call's id (0: none, or
    /// its start was dropped). Constant time: an unrecorded call carries the id under it.
    fn innermost(&self) -> u64 {
        self.open
            .last()
            .map_or(self.base, |open| open.parent_of_callees())
    }

    /// Pushes an attached call that is not recorded.
    fn push_unrecorded(&mut self) {
        let under = self.innermost();
        self.open.push(Open::Unrecorded { under });
    }

    /// Whether the entry says nothing that absence would not.
    fn idle(&self) -> bool {
        self.open.is_empty() && self.base == 0 && !self.introduced && self.origin.is_none()
    }

    /// The attached calls it has open that were recorded.
    fn recorded_attached(&self) -> u64 {
        self.open
            .iter()
            .filter(|open| matches!(open, Open::Attached(id) if *id != 0))
            .count() as u64
    }
}

/// Whether rewritten calls share stacks with attached ones now.
#[inline]
pub(crate) fn sharing() -> bool {
    SHARING.load(Ordering::Relaxed)
}

/// Starts a session's stacks: empty; rewritten calls share them if `share`; seeding until
/// [`seeded`].
pub(crate) fn open(share: bool) {
    PROCESSES.clear();
    ABANDONED.store(0, Ordering::Relaxed);
    SEEDING.store(true, Ordering::SeqCst);
    SHARING.store(share, Ordering::SeqCst);
}

/// Ends a session's stacks; returns how many recorded attached calls were left open (in live
/// processes and in processes that exited).
pub(crate) fn close() -> u64 {
    SHARING.store(false, Ordering::SeqCst);
    let open: u64 = PROCESSES
        .iter()
        .map(|entry| entry.value().recorded_attached())
        .sum();
    PROCESSES.clear();
    open + ABANDONED.swap(0, Ordering::Relaxed)
}

/// The controller read `pid`'s dictionary: `current` is its current rewritten call (0: none),
/// `origin` where it came from. Fills a process that has no entry yet (see the module's doc);
/// the origin is kept either way.
pub(crate) fn seed(pid: u64, current: u64, origin: Option<(OriginKind, LinkPid)>) {
    let mut entry = PROCESSES.entry(pid).or_insert_with(|| Process {
        base: current,
        ..Process::default()
    });
    if entry.origin.is_none() && !entry.introduced {
        entry.origin = origin;
    }
}

/// Seeding is over: idle entries may go from now on.
pub(crate) fn seeded() {
    SEEDING.store(false, Ordering::SeqCst);
}

/// Removes, once there are more than [`PRUNE_ABOVE`] entries, those that say nothing that
/// absence would not (never while seeding): processes that exited unseen (not traced), and
/// processes with nothing open. The controller calls it now and then; an idle entry that
/// stays is harmless, so the hot paths leave them. Each shard is locked only to find its idle
/// entries, and each entry only to remove it. How many entries remain.
pub(crate) fn prune() -> usize {
    if SEEDING.load(Ordering::SeqCst) || PROCESSES.len() <= PRUNE_ABOVE {
        return PROCESSES.len();
    }
    let idle: Vec<u64> = PROCESSES
        .iter()
        .filter(|entry| entry.value().idle())
        .map(|entry| *entry.key())
        .collect();
    for pid in idle {
        PROCESSES.remove_if(&pid, |_, process| process.idle());
    }
    PROCESSES.len()
}

/// The parent of a rewritten call starting in `pid`, whose dictionary says `dictionary`
/// (its current call, `None` for none): the innermost open call here when the process has an
/// entry (an attached call may be open above its current rewritten call), else the
/// dictionary's, which the new entry then starts from.
pub(crate) fn rewritten_parent(pid: u64, dictionary: Option<u64>) -> Option<u64> {
    let entry = PROCESSES.entry(pid).or_insert_with(|| Process {
        base: dictionary.unwrap_or(0),
        ..Process::default()
    });
    Some(entry.innermost()).filter(|&id| id != 0)
}

/// A rewritten call started in `pid` with id `id` (0: dropped), after [`rewritten_parent`].
pub(crate) fn rewritten_started(pid: u64, id: u64) {
    push(pid, Open::Rewritten(id));
}

/// The rewritten call `id` (0: its start was dropped) of `pid` ended; `parent` is the call the
/// process's dictionary goes back to.
pub(crate) fn rewritten_ended(pid: u64, id: u64, parent: Option<u64>) {
    let parent = parent.unwrap_or(0);
    match PROCESSES.get_mut(&pid) {
        Some(mut process) => {
            match process
                .open
                .iter()
                .rposition(|open| *open == Open::Rewritten(id))
            {
                Some(at) => process.open.truncate(at),
                None => {
                    // A call open before the session (the base, or below it): everything
                    // above it has ended too.
                    process.open.clear();
                    process.base = parent;
                }
            }
        }
        None if parent != 0 || SEEDING.load(Ordering::SeqCst) => {
            PROCESSES.entry(pid).or_insert_with(|| Process {
                base: parent,
                ..Process::default()
            });
        }
        None => {}
    }
}

/// `pid` discarded its stack (it hibernates): no call of it is open any more.
pub(crate) fn stack_discarded(pid: u64) {
    if let Some(mut process) = PROCESSES.get_mut(&pid) {
        process.open.clear();
        process.base = 0;
    }
}

/// How an attached call starting in a process is recorded.
pub(crate) enum AttachedStart {
    /// Record it under `parent`; `introduce` when it is the process's first.
    Record {
        /// The innermost open call (0: none).
        parent: u64,
        /// `Some(origin)` for the process's first attached call.
        introduce: Option<Option<(OriginKind, LinkPid)>>,
    },
    /// Too many calls open: not recorded.
    TooDeep,
}

/// An attached call starts in `pid`: its parent, and whether to introduce the process (see
/// [`AttachedStart`]). A call too deep is pushed as unrecorded here; a recorded one is pushed
/// by [`attached_started`] once it has an id.
pub(crate) fn attached_start(pid: u64) -> AttachedStart {
    let mut process = PROCESSES.entry(pid).or_default();
    if process.open.len() >= MAX_OPEN {
        process.push_unrecorded();
        return AttachedStart::TooDeep;
    }
    let introduce = (!process.introduced).then(|| {
        process.introduced = true;
        process.origin.take()
    });
    AttachedStart::Record {
        parent: process.innermost(),
        introduce,
    }
}

/// Pushes an attached call that was not recorded (paused, over a limit) onto `pid`'s stack.
pub(crate) fn attached_unrecorded(pid: u64) {
    PROCESSES.entry(pid).or_default().push_unrecorded();
}

/// Pushes the attached call `id` (0: dropped) onto `pid`'s stack.
pub(crate) fn attached_started(pid: u64, id: u64) {
    push(pid, Open::Attached(id));
}

/// The innermost attached call of `pid` ended: pops it (and whatever is above it) and returns
/// it; `None` when `pid` has none open (a call that began before the session).
pub(crate) fn attached_ended(pid: u64) -> Option<Open> {
    let mut process = PROCESSES.get_mut(&pid)?;
    let at = process
        .open
        .iter()
        .rposition(|open| !matches!(open, Open::Rewritten(_)))?;
    let ended = process.open[at];
    process.open.truncate(at);
    Some(ended)
}

/// `pid` was spawned by `parent` (its origin, until its first attached call).
pub(crate) fn spawned(pid: u64, parent: LinkPid) {
    PROCESSES.entry(pid).or_default().origin = Some((OriginKind::Ancestor, parent));
}

/// `pid` exited: its entry goes; its recorded attached calls still open are counted.
pub(crate) fn exited(pid: u64) {
    if let Some((_, process)) = PROCESSES.remove(&pid) {
        ABANDONED.fetch_add(process.recorded_attached(), Ordering::Relaxed);
    }
}

fn push(pid: u64, open: Open) {
    PROCESSES.entry(pid).or_default().open.push(open);
}
