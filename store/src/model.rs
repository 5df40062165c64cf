//! What queries return: runs, calls, processes and tail calls, with atoms resolved to text.

use serde::{Deserialize, Serialize};

use crate::codec::{put_bytes, put_u32, put_u64, Reader};
use crate::error::Result;
use crate::event::{Class, OriginKind, Outcome, Test};

/// What the runtime knows about a run when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// Wall-clock time at the start, in nanoseconds since the UNIX epoch.
    pub started_unix_ns: u64,
    /// `CLOCK_MONOTONIC` in nanoseconds at the same instant: event times are on this clock.
    pub monotonic_origin_ns: u64,
    /// `erlang:monotonic_time(nanosecond)` at the same instant.
    pub erlang_monotonic_ns: i64,
    /// The OS process id of the VM.
    pub os_pid: u32,
    /// `node()`.
    pub node: String,
    /// `erlang:system_info(otp_release)`.
    pub otp_release: String,
    /// The ElixirScope version that recorded it.
    pub tool_version: String,
}

/// The recorder's counters of a run: what was captured, and where it went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Events the hot path produced.
    pub captured: u64,
    /// Events dropped because the ring was full.
    pub dropped: u64,
    /// Events written into sealed segments (queryable, on disk).
    pub stored: u64,
    /// Events lost because the store could not write them (a full disk, for longer than the
    /// writer could hold them).
    pub write_failed: u64,
}

impl Counters {
    /// Every event that did not reach the store, whatever the reason.
    pub fn lost(&self) -> u64 {
        self.dropped + self.write_failed
    }
}

/// What the runtime reports when a run stops normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Wall-clock time at the end, in nanoseconds since the UNIX epoch.
    pub ended_unix_ns: u64,
    /// The final counters.
    pub counters: Counters,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The run's number (1, 2, ... in the order runs started, across every VM of the project).
    pub id: u64,
    /// How it started.
    pub info: RunInfo,
    /// How it ended, when the VM stopped normally.
    pub summary: Option<RunSummary>,
    /// Whether a VM is recording it now.
    pub live: bool,
    /// The latest counters known: the summary's for a run that ended, else those its newest
    /// segment recorded (a live run's, or those of a VM that was killed).
    pub counters: Counters,
}

impl Run {
    /// How the run stands, in a word: `recording`, `ended`, or `killed` (its VM stopped
    /// without writing a summary).
    pub fn state(&self) -> &'static str {
        match (self.live, self.summary.is_some()) {
            (true, _) => "recording",
            (false, true) => "ended",
            (false, false) => "killed",
        }
    }
}

impl RunInfo {
    /// Wall-clock time (ns since the UNIX epoch) of a monotonic event time of this run.
    pub fn unix_ns(&self, monotonic_ns: u64) -> u64 {
        let delta = monotonic_ns as i128 - self.monotonic_origin_ns as i128;
        (self.started_unix_ns as i128 + delta).clamp(0, u64::MAX as i128) as u64
    }

    /// `erlang:monotonic_time(nanosecond)` of a monotonic event time of this run.
    pub fn erlang_monotonic_ns(&self, monotonic_ns: u64) -> i64 {
        let delta = monotonic_ns as i128 - self.monotonic_origin_ns as i128;
        (self.erlang_monotonic_ns as i128 + delta).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// The monotonic event time of a wall-clock time (ns since the UNIX epoch) in this run.
    pub fn monotonic_ns(&self, unix_ns: u64) -> u64 {
        let delta = unix_ns as i128 - self.started_unix_ns as i128;
        (self.monotonic_origin_ns as i128 + delta).clamp(0, u64::MAX as i128) as u64
    }
}

impl Run {
    /// The `run` file's bytes.
    pub(crate) fn encode(info: &RunInfo, summary: Option<&RunSummary>) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        put_u64(&mut out, info.started_unix_ns);
        put_u64(&mut out, info.monotonic_origin_ns);
        put_u64(&mut out, info.erlang_monotonic_ns as u64);
        put_u32(&mut out, info.os_pid);
        put_bytes(&mut out, info.node.as_bytes());
        put_bytes(&mut out, info.otp_release.as_bytes());
        put_bytes(&mut out, info.tool_version.as_bytes());
        match summary {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                put_u64(&mut out, s.ended_unix_ns);
                put_u64(&mut out, s.counters.captured);
                put_u64(&mut out, s.counters.dropped);
                put_u64(&mut out, s.counters.stored);
                put_u64(&mut out, s.counters.write_failed);
            }
        }
        out
    }

    /// A run from its `run` file; `live` and `counters` are the reader's to fill.
    pub(crate) fn decode(id: u64, bytes: &[u8]) -> Result<Run> {
        let mut r = Reader::new(bytes, "run");
        let info = RunInfo {
            started_unix_ns: r.u64()?,
            monotonic_origin_ns: r.u64()?,
            erlang_monotonic_ns: r.i64()?,
            os_pid: r.u32()?,
            node: r.str()?.to_owned(),
            otp_release: r.str()?.to_owned(),
            tool_version: r.str()?.to_owned(),
        };
        let summary = match r.u8()? {
            0 => None,
            _ => Some(RunSummary {
                ended_unix_ns: r.u64()?,
                counters: Counters {
                    captured: r.u64()?,
                    dropped: r.u64()?,
                    stored: r.u64()?,
                    write_failed: r.u64()?,
                },
            }),
        };
        r.finish()?;
        Ok(Run {
            id,
            info,
            counters: summary.map(|s| s.counters).unwrap_or_default(),
            summary,
            live: false,
        })
    }
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its id, unique within the run.
    pub id: u64,
    /// The caller's call in the same process, if it was recorded.
    pub parent: Option<u64>,
    /// The process (pid term word; [`crate::Snapshot::process`] gives its text).
    pub pid: u64,
    /// The module.
    pub module: String,
    /// The function.
    pub function: String,
    /// The arity.
    pub arity: u8,
    /// The scheduler it started on (0: unknown).
    pub scheduler: u16,
    /// Monotonic start time in ns.
    pub start: u64,
    /// The arguments as one list, in the external term format, cut where the encoder's caps
    /// applied (see the runtime's documentation for the markers).
    pub args: Vec<u8>,
    /// How it finished; `None` while it runs, or if its end was not captured.
    pub end: Option<CallEnd>,
}

/// How a call finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// Monotonic end time in ns.
    pub time: u64,
    /// The scheduler it ended on.
    pub scheduler: u16,
    /// Returned or raised.
    pub outcome: Outcome,
    /// The number of local tail calls it made.
    pub tail_calls: u32,
    /// The result, or `{Reason, Stacktrace}` for an exception, in the external term format.
    pub value: Vec<u8>,
}

impl Call {
    /// How long it ran, in ns, when it finished.
    pub fn duration_ns(&self) -> Option<u64> {
        self.end.as_ref().map(|e| e.time.saturating_sub(self.start))
    }

    /// The exception class, when it raised.
    pub fn exception(&self) -> Option<Class> {
        match self.end.as_ref()?.outcome {
            Outcome::Exception(class) => Some(class),
            Outcome::Return => None,
        }
    }
}

/// A stored tail call (see [`crate::TailCall`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTailCall {
    /// The call that made it.
    pub call_id: u64,
    /// Its position among the call's tail calls, from 0.
    pub index: u32,
    /// The module.
    pub module: String,
    /// The function it continued as.
    pub function: String,
    /// The arity.
    pub arity: u8,
    /// Monotonic time in ns.
    pub time: u64,
    /// The arguments as one list, in the external term format.
    pub args: Vec<u8>,
}

/// A process that recorded calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its pid term word.
    pub pid: u64,
    /// Its pid as text, `<0.123.0>`.
    pub text: String,
    /// Its first recorded call.
    pub first_call: u64,
    /// Where it came from.
    pub origin: Option<ProcessOrigin>,
    /// The name it was registered under at its first recorded call (`Elixir.Shop.Inventory`,
    /// as the atom's text), if any: how a message to `{Name, Node}` from another node finds it.
    pub name: Option<String>,
}

/// Where a process came from (see [`crate::Origin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOrigin {
    /// `$callers` or `$ancestors`.
    pub kind: OriginKind,
    /// The origin's pid term word.
    pub pid: u64,
    /// The origin's pid as text.
    pub text: String,
}

/// A test the run recorded (see [`crate::Test`]), with when it was reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTest {
    /// When its framework reported it finished (monotonic ns, as call times).
    pub finished: u64,
    /// The test.
    pub test: Test,
}

impl RecordedTest {
    /// When it started (monotonic ns): its end less its duration.
    pub fn started(&self) -> u64 {
        self.finished
            .saturating_sub(self.test.duration_us.saturating_mul(1_000))
    }
}

/// A stretch of a run during which recording was paused globally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// When recording paused (monotonic ns).
    pub from: u64,
    /// When it resumed; `None` when it did not (paused until the run ended, or until now).
    pub until: Option<u64>,
}
