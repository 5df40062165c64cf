//! Stored calls read in place: [`CallView`] borrows a call's head and values from its decoded
//! block, so a scan over a whole run (a pattern, a search, a profile) copies nothing until it
//! keeps a call ([`CallView::to_call`]).

use std::borrow::Cow;

use crate::error::Result;
use crate::event::{Class, Outcome};
use crate::index::{HeadRef, OwnedEnd, Select, Values};
use crate::model::Call;
use crate::query::{CallFilter, Snapshot};
use crate::query_heads::CallHead;

/// A stored call, borrowed from its block: its head ([`CallHead`]) and its values in place.
pub struct CallView<'s> {
    snap: &'s Snapshot,
    at: &'s HeadRef,
    head: CallHead,
    late: Option<OwnedEnd>,
}

impl<'s> CallView<'s> {
    pub(crate) fn new(snap: &'s Snapshot, at: &'s HeadRef) -> Result<CallView<'s>> {
        let (head, late) = snap.head_at(at)?;
        Ok(CallView {
            snap,
            at,
            head,
            late,
        })
    }

    /// Its head: ids, process, times, outcome.
    pub fn head(&self) -> &CallHead {
        &self.head
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.head.id
    }

    /// The caller's call in the same process, if recorded.
    pub fn parent(&self) -> Option<u64> {
        self.head.parent
    }

    /// The process (pid term word).
    pub fn pid(&self) -> u64 {
        self.head.pid
    }

    /// The module.
    pub fn module(&self) -> &'s str {
        self.snap.index.atom_str(self.head.module)
    }

    /// The function.
    pub fn function(&self) -> &'s str {
        self.snap.index.atom_str(self.head.function)
    }

    /// The arity.
    pub fn arity(&self) -> u8 {
        self.head.arity
    }

    /// Monotonic start time in ns.
    pub fn start(&self) -> u64 {
        self.head.start
    }

    /// Monotonic end time in ns, when its end was captured.
    pub fn end(&self) -> Option<u64> {
        self.head.end_time()
    }

    /// How it finished, when its end was captured.
    pub fn outcome(&self) -> Option<Outcome> {
        self.head.end.map(|(_, outcome)| outcome)
    }

    /// The exception class, when it raised.
    pub fn exception(&self) -> Option<Class> {
        match self.outcome()? {
            Outcome::Exception(class) => Some(class),
            Outcome::Return => None,
        }
    }

    /// How long it ran, in ns, when it finished.
    pub fn duration_ns(&self) -> Option<u64> {
        self.end().map(|end| end.saturating_sub(self.start()))
    }

    /// The arguments as one list, in the external term format (see [`Call::args`]).
    pub fn args(&self) -> Result<&[u8]> {
        self.at.block.value(self.at.head().args)
    }

    /// The result, or `{Reason, Stacktrace}` for an exception, when its end was captured.
    pub fn value(&self) -> Result<Option<Cow<'_, [u8]>>> {
        match (&self.at.head().end, &self.late) {
            (Some(end), _) => Ok(Some(Cow::Borrowed(self.at.block.value(end.value)?))),
            (None, Some(late)) => Ok(Some(Cow::Borrowed(&late.value))),
            (None, None) => Ok(None),
        }
    }

    /// The call, copied out of its block.
    pub fn to_call(&self) -> Result<Call> {
        self.snap.call_at(self.at)
    }
}

impl Snapshot {
    /// Visits every call with an id in `[from, to]`, in id order, read in place; `visit`
    /// returns `false` to stop. For scans of whole runs.
    pub fn scan_views(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(&CallView<'_>) -> Result<bool>,
    ) -> Result<()> {
        let heads = self.index.heads(Select::All, from, to, true)?;
        for at in heads.reading(Values::All) {
            let at = at?;
            if !visit(&CallView::new(self, &at)?)? {
                break;
            }
        }
        Ok(())
    }

    /// Calls matching `filter` for which `keep` holds, newest first (see
    /// [`Snapshot::calls`], which is this with a `keep` that holds for every call). `keep`
    /// sees each candidate in place: a pattern over arguments copies only the calls it keeps.
    pub fn calls_where(
        &self,
        filter: &CallFilter,
        mut keep: impl FnMut(&CallView<'_>) -> Result<bool>,
    ) -> Result<Vec<Call>> {
        let mut out = Vec::new();
        self.walk_filtered(filter, |at| {
            let view = CallView::new(self, at)?;
            if filter.exceptions_only && view.exception().is_none() {
                return Ok(false);
            }
            if !keep(&view)? {
                return Ok(false);
            }
            out.push(view.to_call()?);
            Ok(true)
        })?;
        Ok(out)
    }
}
