//! Calls as spans of time, without their values: what a timeline draws.
//!
//! [`Snapshot::scan_spans`] walks every call's head in id order (the order calls started)
//! and never decompresses a value, so a whole run's timing is read at the speed of its heads.

use crate::error::Result;
use crate::event::Outcome;
use crate::index::Select;
use crate::query::Snapshot;

/// A call's place in time: who ran it, when, and how it ended; no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSpan {
    /// Its id.
    pub id: u64,
    /// The caller's call in the same process, if recorded.
    pub parent: Option<u64>,
    /// The process (pid term word).
    pub pid: u64,
    /// The module, as an atom id of this run ([`Snapshot::atom_text`] gives its text).
    pub module: u32,
    /// The function, as an atom id of this run.
    pub function: u32,
    /// The arity.
    pub arity: u8,
    /// Monotonic start time in ns.
    pub start: u64,
    /// Monotonic end time in ns, when its end was captured.
    pub end: Option<u64>,
    /// Whether it raised.
    pub raised: bool,
}

impl Snapshot {
    /// Visits every call with an id of at least `from`, in id order, as a [`CallSpan`] (its
    /// values are never decoded); `visit` returns `false` to stop.
    pub fn scan_spans(
        &self,
        from: u64,
        mut visit: impl FnMut(&CallSpan) -> Result<bool>,
    ) -> Result<()> {
        for at in self.index.heads(Select::All, from, u64::MAX, true)? {
            let at = at?;
            let head = at.head();
            let end = match &head.end {
                Some(end) => Some((end.time, end.outcome)),
                None => self
                    .index
                    .late_end(head.id)?
                    .map(|end| (end.time, end.outcome)),
            };
            let span = CallSpan {
                id: head.id,
                parent: (head.parent != 0).then_some(head.parent),
                pid: head.pid,
                module: head.module,
                function: head.function,
                arity: head.arity,
                start: head.start,
                end: end.map(|(time, _)| time),
                raised: matches!(end, Some((_, Outcome::Exception(_)))),
            };
            if !visit(&span)? {
                break;
            }
        }
        Ok(())
    }

    /// The text of an atom id of this run, as [`CallSpan`] names modules and functions
    /// (`"?"` for an id the run does not know).
    pub fn atom_text(&self, id: u32) -> String {
        self.index.atom(id)
    }
}
