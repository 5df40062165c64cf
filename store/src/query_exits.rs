//! Process lives in a recording: how processes that recorded calls ended, and for those that
//! crashed, what they did last and what their end caused.
//!
//! The runtime monitors every process from its first recorded call on (a watcher process
//! receives the `DOWN` and records the exit reason; see `elixir_scope_runtime`), so an exit is
//! known with its reason, or, for a process that ended before the monitor was in place, without
//! one. A *crash* is an exit whose reason is not `normal`, `shutdown` or `{shutdown, _}`, or an
//! unknown one when the process's last recorded call raised. What a crash caused is read from
//! what was recorded elsewhere: the calls that received news of it (`handle_info/2` of
//! `{'EXIT', Pid, _}` or `{'DOWN', _, process, Pid, _}`, see [`crate::messages`]) and, for a
//! process a supervisor started (`$ancestors`), the next process that supervisor started with
//! the same first function: its restart.

use crate::codec::ExitRow;
use crate::error::Result;
use crate::etf;
use crate::messages::NOTICE_EXIT;
use crate::model::{Call, ProcessOrigin};
use crate::query::Snapshot;
use crate::segment::{EXITS, NOTICES, STARTED};
use crate::writer::pair;

/// The most notices of one process's end read.
const MAX_NOTICES: usize = 100;

/// The most top-level calls after the culprit a crash names.
pub const LATER_ROOTS: usize = 5;

/// How many of a process's last calls are looked at for one that raised.
const LAST_CALLS: usize = 50;

/// The most calls that raised looked at to tell which processes ended for an unknown reason
/// after a call that raised (the newest ones).
const MAX_RAISED: usize = 100_000;

/// The most processes a supervisor started that are looked at for a restart.
const MAX_STARTED: usize = 10_000;

/// A process that recorded calls and ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEnd {
    /// Its pid term word.
    pub pid: u64,
    /// When the runtime learnt it ended (monotonic ns).
    pub time: u64,
    /// The exit reason in the external term format; `None` when it is unknown (the process
    /// ended before the runtime's monitor was in place).
    pub reason: Option<Vec<u8>>,
    /// The writer's hash of the pid's bytes (the key of the notices about it).
    pid_hash: u64,
}

impl ProcessEnd {
    /// Whether the reason says the process ended on purpose: `normal`, `shutdown`,
    /// `{shutdown, _}`, or `{Ref, return, Result}`, how the process of an `erpc` call (the
    /// distribution's remote calls: `erpc:call/4`, `:erpc.call/4`, `rpc:call/4`) hands back
    /// the result of a function that returned. `None` when the reason is unknown.
    pub fn normal(&self) -> Option<bool> {
        let reason = self.reason.as_deref()?;
        let body = etf::body(reason);
        if let Some(atom) = etf::atom(body) {
            return Some(matches!(atom, "normal" | "shutdown"));
        }
        Some(match etf::elements(reason).as_deref() {
            Some([tag, _]) => etf::atom(tag) == Some("shutdown"),
            Some([reference, how, _]) => {
                etf::is_reference(reference) && etf::atom(how) == Some("return")
            }
            _ => false,
        })
    }
}

/// A process that crashed, with what it did last and what its end caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// How it ended.
    pub end: ProcessEnd,
    /// Its pid as text.
    pub text: String,
    /// Where it came from (`$callers` or `$ancestors`), if known.
    pub origin: Option<ProcessOrigin>,
    /// The call of its origin that started it, when recorded.
    pub started_by: Option<Call>,
    /// The top-level call whose tree shows what led to the crash: the one holding the newest
    /// of its last calls that raised, else its last top-level call.
    pub culprit: Option<Call>,
    /// Its top-level calls after the culprit, oldest first (a `terminate/2` that ran after the
    /// callback that raised), at most [`LATER_ROOTS`].
    pub later: Vec<Call>,
    /// The calls of other processes that received news of its end, in order.
    pub notices: Vec<Notice>,
    /// The process that replaced it: the next one its origin started (a supervisor restarting
    /// a child) whose first recorded call has the same function, with that call.
    pub restart: Option<(String, Call)>,
}

/// A call that received news of a process's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `EXIT` (a linked process trapping exits) or `DOWN` (a monitor).
    pub kind: NoticeKind,
    /// The receiving process's pid as text.
    pub text: String,
    /// The call that received it (`handle_info/2`, ...).
    pub call: Call,
}

/// Which news of a process's end a call received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// `{'EXIT', Pid, Reason}`.
    Exit,
    /// `{'DOWN', Ref, process, Pid, Reason}`.
    Down,
}

impl NoticeKind {
    /// `EXIT` or `DOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Exit => "EXIT",
            NoticeKind::Down => "DOWN",
        }
    }
}

impl Snapshot {
    /// The processes that recorded calls and ended, in the order they ended.
    pub fn exits(&self) -> Result<Vec<ProcessEnd>> {
        let rows = self.index.byte_rows(EXITS, 0, u128::MAX)?;
        let mut out = Vec::with_capacity(rows.len());
        for (key, row) in rows {
            let row = ExitRow::decode(&row)?;
            out.push(ProcessEnd {
                pid: row.pid,
                time: (key >> 64) as u64,
                reason: (!row.reason.is_empty()).then(|| row.reason.to_vec()),
                pid_hash: row.pid_hash,
            });
        }
        Ok(out)
    }

    /// The processes that crashed (see the module documentation), in the order they ended, at
    /// most `limit`, each with what it did last and what its end caused.
    pub fn crashes(&self, limit: usize) -> Result<Vec<Crash>> {
        let mut out = Vec::new();
        // The processes that have a call that raised, asked for only when an exit's reason is
        // unknown (many short Tasks may have one): the `exceptions` index, usually small.
        let mut raised: Option<std::collections::HashSet<u64>> = None;
        for end in self.exits()? {
            if out.len() >= limit {
                break;
            }
            let crashed = match end.normal() {
                Some(normal) => !normal,
                None => {
                    let raised = match &mut raised {
                        Some(raised) => raised,
                        None => raised.insert(self.raising_processes()?),
                    };
                    raised.contains(&end.pid)
                        && self
                            .last_calls(end.pid)?
                            .first()
                            .is_some_and(|c| c.exception().is_some())
                }
            };
            if crashed {
                out.push(self.crash(end)?);
            }
        }
        Ok(out)
    }

    fn crash(&self, end: ProcessEnd) -> Result<Crash> {
        let last = self.last_calls(end.pid)?;
        let newest = last.first().map(|c| c.id);
        let culprit = match last
            .iter()
            .find(|c| c.exception().is_some())
            .or(last.first())
        {
            Some(call) => Some(self.root_of(call.clone())?),
            None => None,
        };
        let process = self.process(end.pid)?;
        let text = process
            .as_ref()
            .map_or_else(|| "<unknown>".to_string(), |p| p.text.clone());
        let origin = process.as_ref().and_then(|p| p.origin.clone());
        let started_by = self.origin_call(end.pid)?;
        let notices = self.notices(end.pid_hash)?;
        let restart = match (&origin, &process) {
            (Some(origin), Some(process)) => {
                let after = newest.unwrap_or(process.first_call);
                self.restart(origin.pid, end.pid, process.first_call, after)?
            }
            _ => None,
        };
        let later = match &culprit {
            Some(root) => self.later_roots(end.pid, root.id)?,
            None => Vec::new(),
        };
        Ok(Crash {
            end,
            text,
            origin,
            started_by,
            culprit,
            later,
            notices,
            restart,
        })
    }

    /// The processes that made a call that raised (at most [`MAX_RAISED`] calls looked at).
    fn raising_processes(&self) -> Result<std::collections::HashSet<u64>> {
        let mut out = std::collections::HashSet::new();
        for id in self
            .index
            .exceptions(0, u64::MAX)?
            .into_iter()
            .take(MAX_RAISED)
        {
            if let Some(at) = self.index.locate(id)? {
                out.insert(at.head().pid);
            }
        }
        Ok(out)
    }

    /// The last calls process `pid` recorded, newest first (at most [`LAST_CALLS`]).
    fn last_calls(&self, pid: u64) -> Result<Vec<Call>> {
        self.calls(&crate::CallFilter {
            pid: Some(pid),
            limit: LAST_CALLS,
            ..Default::default()
        })
    }

    /// The top-level call above `call` (in its process).
    fn root_of(&self, mut call: Call) -> Result<Call> {
        while let Some(parent) = call.parent {
            match self.call(parent)? {
                Some(up) => call = up,
                None => break,
            }
        }
        Ok(call)
    }

    /// The top-level calls of process `pid` after call `root`, oldest first.
    fn later_roots(&self, pid: u64, root: u64) -> Result<Vec<Call>> {
        let mut later: Vec<Call> = self
            .calls(&crate::CallFilter {
                pid: Some(pid),
                limit: LAST_CALLS,
                ..Default::default()
            })?
            .into_iter()
            .filter(|c| c.id > root && c.parent.is_none())
            .collect();
        later.reverse();
        later.truncate(LATER_ROOTS);
        Ok(later)
    }

    /// The calls that received news of the end of the process whose pid hashes to `hash`.
    fn notices(&self, hash: u64) -> Result<Vec<Notice>> {
        let rows = self
            .index
            .value_rows(NOTICES, pair(hash, 0), pair(hash, u64::MAX))?;
        let mut out = Vec::new();
        for (key, kind) in rows.into_iter().take(MAX_NOTICES) {
            let Some(call) = self.call(key as u64)? else {
                continue;
            };
            let text = self
                .process(call.pid)?
                .map_or_else(|| "<unknown>".to_string(), |p| p.text);
            let kind = if kind == NOTICE_EXIT {
                NoticeKind::Exit
            } else {
                NoticeKind::Down
            };
            out.push(Notice { kind, text, call });
        }
        Ok(out)
    }

    /// The first process `origin` started after call `after` whose first call is the same
    /// function as `first`'s (of the process `dead`).
    fn restart(
        &self,
        origin: u64,
        dead: u64,
        first: u64,
        after: u64,
    ) -> Result<Option<(String, Call)>> {
        let Some(first) = self.call(first)? else {
            return Ok(None);
        };
        let started = self.index.links(
            STARTED,
            origin,
            after.saturating_add(1),
            u64::MAX,
            MAX_STARTED,
        )?;
        for (first_call, pid) in started {
            if pid == dead {
                continue;
            }
            let Some(call) = self.call(first_call)? else {
                continue;
            };
            if (call.module.as_str(), call.function.as_str(), call.arity)
                == (first.module.as_str(), first.function.as_str(), first.arity)
            {
                let text = self
                    .process(pid)?
                    .map_or_else(|| "<unknown>".to_string(), |p| p.text);
                return Ok(Some((text, call)));
            }
        }
        Ok(None)
    }
}
