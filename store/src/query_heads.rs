//! Walking a run's calls by their heads only: who called what, in which process, when, and
//! how it ended, without reading (or decompressing) any argument or result. What queries that
//! look at the time of every call read (profiles, flame graphs): a block's values are
//! decompressed on first use, and a walk over heads never uses them.

use crate::error::Result;
use crate::index::{HeadRef, OwnedEnd, Select};
use crate::query::Snapshot;
use crate::Outcome;

/// A call as its head tells it: no values. Module and function are the run's atom ids
/// ([`Snapshot::atom_text`] gives their text), the same for every call of one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHead {
    /// Its id.
    pub id: u64,
    /// The caller's call in the same process, if it was recorded.
    pub parent: Option<u64>,
    /// The process (pid term word).
    pub pid: u64,
    /// The module's atom id.
    pub module: u32,
    /// The function's atom id.
    pub function: u32,
    /// The arity.
    pub arity: u8,
    /// Monotonic start time in ns.
    pub start: u64,
    /// When it ended (monotonic ns) and how; `None` while it runs or if its end was not
    /// captured.
    pub end: Option<(u64, Outcome)>,
}

impl CallHead {
    /// How long it ran, in ns, when it finished.
    pub fn duration_ns(&self) -> Option<u64> {
        self.end.map(|(time, _)| time.saturating_sub(self.start))
    }

    /// When it ended (monotonic ns), if its end was captured.
    pub fn end_time(&self) -> Option<u64> {
        self.end.map(|(time, _)| time)
    }

    /// Whether it raised.
    pub fn raised(&self) -> bool {
        matches!(self.end, Some((_, Outcome::Exception(_))))
    }
}

impl Snapshot {
    /// Visits the heads of the calls with ids of at least `from` (of process `pid` only, when
    /// given), in id order, until `visit` answers `false`. A call whose end came after its
    /// block was written costs a point read of its late end; nothing else reads a value.
    pub fn scan_heads(
        &self,
        from: u64,
        pid: Option<u64>,
        mut visit: impl FnMut(&CallHead) -> Result<bool>,
    ) -> Result<()> {
        let select = pid.map_or(Select::All, Select::Pid);
        for at in self.index.heads(select, from, u64::MAX, true)? {
            let (call, _) = self.head_at(&at?)?;
            if !visit(&call)? {
                break;
            }
        }
        Ok(())
    }

    /// The head of the call at `at`, and its late end when its end came after its block was
    /// written (a point read).
    pub(crate) fn head_at(&self, at: &HeadRef) -> Result<(CallHead, Option<OwnedEnd>)> {
        let head = at.head();
        let late = match head.end {
            Some(_) => None,
            None => self.index.late_end(head.id)?,
        };
        let end = match (&head.end, &late) {
            (Some(end), _) => Some((end.time, end.outcome)),
            (None, Some(late)) => Some((late.time, late.outcome)),
            (None, None) => None,
        };
        let call = CallHead {
            id: head.id,
            parent: (head.parent != 0).then_some(head.parent),
            pid: head.pid,
            module: head.module,
            function: head.function,
            arity: head.arity,
            start: head.start,
            end,
        };
        Ok((call, late))
    }

    /// The text of one of the run's atom ids (a [`CallHead`]'s module or function; `"?"` for
    /// an id the run does not hold).
    pub fn atom_text(&self, id: u32) -> String {
        self.index.atom(id)
    }
}
