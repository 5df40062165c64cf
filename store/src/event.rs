//! Events: what the runtime captures, in the order it captures them.
//!
//! The hot path builds these plain values; the writer turns them into rows. A call produces an
//! [`Enter`] and, when it finishes, an [`End`]; calls that continue through local tail calls also
//! produce [`TailCall`]s, and calls that send messages [`Send`]s. Values (arguments, results, exception reasons) are already encoded in
//! the external term format by the bounded encoder, so the store never sees a live term.

use std::num::NonZeroU64;

/// Captured bytes (a value in the external term format): small ones (most arguments and
/// results) are stored inline, so capturing them allocates nothing.
pub type Bytes = smallvec::SmallVec<[u8; INLINE_BYTES]>;

/// How many bytes a [`Bytes`] holds without allocating.
pub const INLINE_BYTES: usize = 40;

/// An atom as the runtime knows it (in the NIF: the atom's term word, stable for the VM's
/// lifetime). The writer asks an [`AtomNames`] for the text the first time it meets a key.
pub type AtomKey = u64;

/// Gives the text of atoms the writer has not met yet.
pub trait AtomNames {
    /// The text of `key`, or `None` when it is unknown (stored as `"?"`).
    fn name(&self, key: AtomKey) -> Option<String>;
}

/// One captured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The call this event belongs to (unique per run, increasing in the order calls start).
    pub call_id: u64,
    /// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`; see [`crate::RunInfo`] for conversions).
    pub time: u64,
    /// The scheduler that captured it (1-based; 0 when not a normal scheduler).
    pub scheduler: u16,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A wrapped function was called.
    Enter(Enter),
    /// The call returned or raised.
    End(End),
    /// The call continued through a local tail call to another wrapped function.
    TailCall(TailCall),
    /// The call sent a message (rewritten code reports it right before the send).
    Send(Send),
    /// Something that happened to the run rather than to a call (`call_id` is 0).
    Run(Box<RunEvent>),
}

/// What happens to a run as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// Recording was paused globally (`true`), or resumed (`false`).
    Paused(bool),
    /// A test finished (the recording comes from a test run).
    Test(Test),
    /// The VM's node name became this (`node()`): distribution started after recording did
    /// (`net_kernel:start/1`, `Node.start/2`), so the run, created as `nonode@nohost`, is
    /// renamed.
    Node(String),
    /// A process of another node that calls of this run name (the client of a request, the
    /// origin of a process): what its key ([`remote_key`]) stands for. Sent before each
    /// event that uses the key, so the segment holding that event names it too.
    Remote(RemoteProcess),
    /// A process that recorded calls ended.
    Exit(ProcessExit),
}

/// A process that recorded calls ended (the runtime monitors every process once it records
/// its first call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessExit {
    /// The process (pid term word, as [`Enter::pid`]).
    pub pid: u64,
    /// The pid itself in the external term format, as messages about it (`{'EXIT', Pid, _}`,
    /// `{'DOWN', _, process, Pid, _}`) hold it.
    pub pid_term: Bytes,
    /// The exit reason in the external term format (captured within the exception caps);
    /// empty when unknown (the process ended before the runtime's monitor was in place).
    pub reason: Bytes,
}

/// A process of another node, as that node names it: where a link to it leads (see
/// [`remote_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteProcess {
    /// Its node (`shop@host`).
    pub node: String,
    /// Its pid as its own node prints it (`<0.120.0>`), or, for a message sent to
    /// `{Name, Node}`, the name it was sent to (the atom's text, `Elixir.Shop.Inventory`):
    /// the receiving node's run knows which of its processes held that name
    /// ([`crate::Process::name`]).
    pub text: String,
}

impl RemoteProcess {
    /// The key that stands for this process where a pid term word would (see [`remote_key`]).
    pub fn key(&self) -> u64 {
        remote_key(&self.node, &self.text)
    }

    /// Whether it names the process by a registered name rather than by its pid.
    pub fn is_name(&self) -> bool {
        is_name_text(&self.text)
    }
}

/// Whether a process's text is a registered name (a pid prints as `<...>`).
pub fn is_name_text(text: &str) -> bool {
    !text.starts_with('<')
}

/// The key that stands for a process of another node where links hold a pid term word (a
/// request's [`Enter::client`], a process's [`Origin::pid`]): a remote pid has no word that
/// names it for good (it is a boxed term), and the other node's run knows the process by its
/// node and text. The key is the first 64 bits of the BLAKE3 hash of `node`, a zero byte and
/// `text`, with its low three bits `100`: a local pid's word ends in `0011` (an immediate), so
/// no key is ever a local pid, and a reader finds the requests one process of another node
/// made here by computing its key. Stable across versions: it is stored.
pub fn remote_key(node: &str, text: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(node.as_bytes());
    hasher.update(&[0]);
    hasher.update(text.as_bytes());
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    (u64::from_le_bytes(first) & !0b111) | REMOTE_KEY_TAG
}

/// The low three bits of every [`remote_key`].
const REMOTE_KEY_TAG: u64 = 0b100;

/// Whether a pid word of a link is a [`remote_key`] (a process of another node).
pub fn is_remote_key(word: u64) -> bool {
    word & 0b111 == REMOTE_KEY_TAG
}

/// A test that ran, as its framework reported it once it finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Which framework ran it.
    pub framework: TestFramework,
    /// Its module (`Elixir.ShopTest`, `shop_SUITE`), as the atom's text.
    pub module: String,
    /// Its name (`test places an order`, a Common Test case, an EUnit function).
    pub name: String,
    /// The file it is written in (empty when unknown).
    pub file: String,
    /// Its line in the file (0 when unknown).
    pub line: u32,
    /// How it came out.
    pub outcome: TestOutcome,
    /// Why it failed (the framework's own text), or why it was skipped; empty otherwise.
    pub message: String,
    /// How long it ran, in microseconds.
    pub duration_us: u64,
    /// The process that ran it (a pid's term word, as [`Enter::pid`]): its calls, and those of
    /// the processes it started, are the test's. `None` when no call of it was recorded.
    pub pid: Option<NonZeroU64>,
}

/// How a test came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestOutcome {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// It was skipped (`@tag :skip`, a Common Test `{skip, _}`).
    Skipped,
    /// It was excluded by a filter (`--exclude`, `--only`).
    Excluded,
    /// It could not run (its `setup_all` failed).
    Invalid,
}

impl TestOutcome {
    /// The outcome in a word, as the CLI and IEx print it.
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Excluded => "excluded",
            TestOutcome::Invalid => "invalid",
        }
    }
}

/// Which test framework ran a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestFramework {
    /// ExUnit (`mix test`).
    ExUnit,
    /// EUnit.
    EUnit,
    /// Common Test.
    CommonTest,
}

impl TestFramework {
    /// The framework's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TestFramework::ExUnit => "ExUnit",
            TestFramework::EUnit => "EUnit",
            TestFramework::CommonTest => "Common Test",
        }
    }
}

/// A call starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enter {
    /// The caller's call in the same process, if any (call ids start at 1).
    pub parent: Option<NonZeroU64>,
    /// The process (the pid's term word: unique for the VM's lifetime).
    pub pid: u64,
    /// The module.
    pub module: AtomKey,
    /// The function.
    pub function: AtomKey,
    /// The arity.
    pub arity: u8,
    /// The arguments as one list, in the external term format.
    pub args: Bytes,
    /// Set on the first call a process records: who the process is and where it came from.
    pub process: Option<Box<ProcessStart>>,
    /// Set on a call that serves a request of another process, waiting for the reply: a
    /// `handle_call/3` whose `From` is `{Pid, Tag}`. The client's pid term word, or the
    /// [`remote_key`] of a client on another node.
    pub client: Option<NonZeroU64>,
}

/// A call finishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Returned, or raised with a class.
    pub outcome: Outcome,
    /// How many local tail calls the call made (see [`TailCall`]).
    pub tail_calls: u32,
    /// The result, or `{Reason, Stacktrace}` for an exception, in the external term format.
    pub value: Bytes,
}

/// How a call finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It returned a value.
    Return,
    /// It raised an exception of this class.
    Exception(Class),
}

/// The class of an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `error`
    Error,
    /// `throw`
    Throw,
    /// `exit`
    Exit,
}

impl Class {
    /// The class as Erlang spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Error => "error",
            Class::Throw => "throw",
            Class::Exit => "exit",
        }
    }
}

/// A local tail call to a wrapped function: the current call continued as `function/arity`.
/// Only the first few per call are captured (their index counts from 0); the call's [`End`]
/// carries the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCall {
    /// The position among the call's tail calls, from 0.
    pub index: u32,
    /// The module.
    pub module: AtomKey,
    /// The function.
    pub function: AtomKey,
    /// The arity.
    pub arity: u8,
    /// The arguments as one list, in the external term format.
    pub args: Bytes,
}

/// A message sent by a recorded call: to whom, how, and a bounded capture of the message (the
/// same caps and redaction as arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// How it was sent.
    pub kind: SendKind,
    /// For [`SendKind::SendAfter`]: the delay in milliseconds (0 otherwise).
    pub delay_ms: u32,
    /// The receiving process when the runtime could tell it (a pid, or a name registered
    /// when the message was sent): its pid term word, or for a process of another node its
    /// [`remote_key`].
    pub receiver: Option<NonZeroU64>,
    /// How many of `payload`'s bytes are the destination.
    pub target_len: u16,
    /// The destination as given (a pid, a name, `{Name, Node}`, ...), then the message, each a
    /// value in the external term format (version byte first). For a cast the message is what
    /// `handle_cast/2` receives, without gen_server's `{'$gen_cast', _}` envelope.
    pub payload: Bytes,
}

impl Send {
    /// The destination's bytes.
    pub fn target(&self) -> &[u8] {
        &self.payload[..(self.target_len as usize).min(self.payload.len())]
    }

    /// The message's bytes.
    pub fn message(&self) -> &[u8] {
        &self.payload[(self.target_len as usize).min(self.payload.len())..]
    }
}

/// How a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendKind {
    /// `!`, `erlang:send/2,3`, `Process.send/3`.
    Send,
    /// `GenServer.cast/2`, `gen_server:cast/2`, `gen_statem:cast/2`.
    Cast,
    /// `Process.send_after/3,4`, `erlang:send_after/3,4`: delivered after a delay.
    SendAfter,
}

impl SendKind {
    /// `send`, `cast` or `send_after`.
    pub fn as_str(self) -> &'static str {
        match self {
            SendKind::Send => "send",
            SendKind::Cast => "cast",
            SendKind::SendAfter => "send_after",
        }
    }

    /// The byte that stores it.
    pub(crate) fn byte(self) -> u8 {
        match self {
            SendKind::Send => 0,
            SendKind::Cast => 1,
            SendKind::SendAfter => 2,
        }
    }

    /// The kind a stored byte names.
    pub(crate) fn of_byte(byte: u8) -> Option<SendKind> {
        Some(match byte {
            0 => SendKind::Send,
            1 => SendKind::Cast,
            2 => SendKind::SendAfter,
            _ => return None,
        })
    }
}

/// Who a process is, recorded with its first recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStart {
    /// The pid as `pid_to_list/1` prints it.
    pub text: String,
    /// Where the process came from, if known.
    pub origin: Option<Origin>,
    /// The name it is registered under (the atom's text), if any.
    pub name: Option<String>,
}

/// The process a process came from: the head of its `$callers` (Tasks, and anything started
/// through `Task.Supervisor`) or else of its `$ancestors` (processes started by `proc_lib`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Which list it came from.
    pub kind: OriginKind,
    /// The origin's pid (term word, as [`Enter::pid`]), or the [`remote_key`] of an origin on
    /// another node.
    pub pid: u64,
    /// The origin's pid as text.
    pub text: String,
}

/// Which process-dictionary list an [`Origin`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginKind {
    /// `$callers`
    Caller,
    /// `$ancestors`
    Ancestor,
}

#[cfg(test)]
mod tests {
    /// Every event of the ring is two cache lines at most, sends included.
    #[test]
    fn an_event_stays_within_two_cache_lines() {
        assert!(
            std::mem::size_of::<super::Event>() <= 136,
            "{}",
            std::mem::size_of::<super::Event>()
        );
    }
}
