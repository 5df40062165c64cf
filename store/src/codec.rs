//! The byte layout of stored records (all integers little-endian).
//!
//! Calls live in blocks (see `block`); these are the records of the rows that are not in
//! blocks (late ends and tail calls, processes) and of the `run` file. Each layout starts with
//! what every reader needs and ends with the variable-length bytes, so decoding is a few
//! bounds-checked reads.
//!
//! | record | layout |
//! |---|---|
//! | end | `time:u64 scheduler:u16 outcome:u8 tail_calls:u32 value_len:u32 value` |
//! | tail call | `module:u32 function:u32 arity:u8 time:u64 args_len:u32 args` |
//! | process | `first_call:u64 origin_kind:u8 origin_pid:u64 text_len:u32 text origin_len:u32 origin_text` |
//! | send | `time:u64 kind:u8 delay_ms:u32 receiver:u64 target_len:u32 target message_len:u32 message` |
//! | exit | `pid:u64 pid_hash:u64 pid_len:u32 pid reason_len:u32 reason` |
//! | test | `framework:u8 outcome:u8 line:u32 duration_us:u64 pid:u64` then `module`, `name`, `file`, `message` (each `len:u32 bytes`) |
//! | remote process | `node`, `text` (each `len:u32 bytes`) |
//! | run | `started_unix_ns:u64 monotonic_origin_ns:u64 erlang_monotonic_ns:i64 os_pid:u32` then `node`, `otp_release`, `tool_version` (each `len:u32 bytes`), then `ended:u8` and, when 1, `ended_unix_ns:u64 captured:u64 dropped:u64 stored:u64 write_failed:u64` |
//!
//! `parent` 0 means none; `outcome` is 0 return, 1 error, 2 throw, 3 exit; `origin_kind` is 0
//! none, 1 `$callers`, 2 `$ancestors`; a send's `kind` is 0 send, 1 cast, 2 send_after, its
//! `receiver` 0 when unknown; an exit's `reason` is empty when unknown. In a test, `framework` is 0 ExUnit, 1 EUnit, 2 Common
//! Test; `outcome` 0 passed, 1 failed, 2 skipped, 3 excluded, 4 invalid; `pid` 0 none.

use std::num::NonZeroU64;

use crate::error::{Result, StoreError};
use crate::event::{Class, Outcome, RemoteProcess, SendKind, Test, TestFramework, TestOutcome};

/// The end of a call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndRow<'a> {
    pub time: u64,
    pub scheduler: u16,
    pub outcome: Outcome,
    pub tail_calls: u32,
    pub value: &'a [u8],
}

/// A tail call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TailCallRow<'a> {
    pub module: u32,
    pub function: u32,
    pub arity: u8,
    pub time: u64,
    pub args: &'a [u8],
}

/// A process as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessRow<'a> {
    pub first_call: u64,
    pub origin_kind: u8,
    pub origin_pid: u64,
    pub text: &'a str,
    pub origin_text: &'a str,
    /// Its registered name at its first call, empty when it had none. A trailing field:
    /// rows written before it existed end before it.
    pub name: &'a str,
}

/// A message a call sent, as stored (see [`crate::event::Send`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendRow<'a> {
    pub time: u64,
    pub kind: SendKind,
    pub delay_ms: u32,
    pub receiver: u64,
    pub target: &'a [u8],
    pub message: &'a [u8],
}

impl SendRow<'_> {
    /// Appends the encoded row to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.time);
        out.push(self.kind.byte());
        put_u32(out, self.delay_ms);
        put_u64(out, self.receiver);
        put_bytes(out, self.target);
        put_bytes(out, self.message);
    }

    /// Decodes a row.
    pub fn decode(bytes: &[u8]) -> Result<SendRow<'_>> {
        let mut r = Reader::new(bytes, "send");
        let row = SendRow {
            time: r.u64()?,
            kind: SendKind::of_byte(r.u8()?).ok_or_else(|| r.corrupt("unknown send kind"))?,
            delay_ms: r.u32()?,
            receiver: r.u64()?,
            target: r.bytes()?,
            message: r.bytes()?,
        };
        r.finish()?;
        Ok(row)
    }
}

/// A process's end, as stored (see [`crate::event::ProcessExit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExitRow<'a> {
    pub pid: u64,
    /// The writer's hash of `pid_term` (the key of the notices about it).
    pub pid_hash: u64,
    pub pid_term: &'a [u8],
    pub reason: &'a [u8],
}

impl ExitRow<'_> {
    /// Appends the encoded row to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.pid);
        put_u64(out, self.pid_hash);
        put_bytes(out, self.pid_term);
        put_bytes(out, self.reason);
    }

    /// Decodes a row.
    pub fn decode(bytes: &[u8]) -> Result<ExitRow<'_>> {
        let mut r = Reader::new(bytes, "exit");
        let row = ExitRow {
            pid: r.u64()?,
            pid_hash: r.u64()?,
            pid_term: r.bytes()?,
            reason: r.bytes()?,
        };
        r.finish()?;
        Ok(row)
    }
}

impl EndRow<'_> {
    /// Appends the encoded row to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.time);
        put_u16(out, self.scheduler);
        out.push(outcome_byte(self.outcome));
        put_u32(out, self.tail_calls);
        put_bytes(out, self.value);
    }

    /// Decodes a row stored on its own.
    pub fn decode(bytes: &[u8]) -> Result<EndRow<'_>> {
        let mut r = Reader::new(bytes, "end");
        let row = EndRow::read(&mut r)?;
        r.finish()?;
        Ok(row)
    }

    fn read<'a>(r: &mut Reader<'a>) -> Result<EndRow<'a>> {
        Ok(EndRow {
            time: r.u64()?,
            scheduler: r.u16()?,
            outcome: byte_outcome(r.u8()?).ok_or_else(|| r.corrupt("unknown outcome"))?,
            tail_calls: r.u32()?,
            value: r.bytes()?,
        })
    }
}

impl TailCallRow<'_> {
    /// Appends the encoded row to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.module);
        put_u32(out, self.function);
        out.push(self.arity);
        put_u64(out, self.time);
        put_bytes(out, self.args);
    }

    /// Decodes a row.
    pub fn decode(bytes: &[u8]) -> Result<TailCallRow<'_>> {
        let mut r = Reader::new(bytes, "tail call");
        let row = TailCallRow {
            module: r.u32()?,
            function: r.u32()?,
            arity: r.u8()?,
            time: r.u64()?,
            args: r.bytes()?,
        };
        r.finish()?;
        Ok(row)
    }
}

impl ProcessRow<'_> {
    /// Appends the encoded row to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.first_call);
        out.push(self.origin_kind);
        put_u64(out, self.origin_pid);
        put_bytes(out, self.text.as_bytes());
        put_bytes(out, self.origin_text.as_bytes());
        if !self.name.is_empty() {
            put_bytes(out, self.name.as_bytes());
        }
    }

    /// Decodes a row.
    pub fn decode(bytes: &[u8]) -> Result<ProcessRow<'_>> {
        let mut r = Reader::new(bytes, "process");
        let row = ProcessRow {
            first_call: r.u64()?,
            origin_kind: r.u8()?,
            origin_pid: r.u64()?,
            text: r.str()?,
            origin_text: r.str()?,
            name: if r.is_done() { "" } else { r.str()? },
        };
        r.finish()?;
        Ok(row)
    }
}

/// Appends the record of a test to `out`.
pub(crate) fn encode_test(test: &Test, out: &mut Vec<u8>) {
    out.push(match test.framework {
        TestFramework::ExUnit => 0,
        TestFramework::EUnit => 1,
        TestFramework::CommonTest => 2,
    });
    out.push(match test.outcome {
        TestOutcome::Passed => 0,
        TestOutcome::Failed => 1,
        TestOutcome::Skipped => 2,
        TestOutcome::Excluded => 3,
        TestOutcome::Invalid => 4,
    });
    put_u32(out, test.line);
    put_u64(out, test.duration_us);
    put_u64(out, test.pid.map_or(0, NonZeroU64::get));
    for text in [&test.module, &test.name, &test.file, &test.message] {
        put_bytes(out, text.as_bytes());
    }
}

/// Decodes the record of a test.
pub(crate) fn decode_test(bytes: &[u8]) -> Result<Test> {
    let mut r = Reader::new(bytes, "test");
    let framework = match r.u8()? {
        0 => TestFramework::ExUnit,
        1 => TestFramework::EUnit,
        2 => TestFramework::CommonTest,
        _ => return Err(r.corrupt("unknown test framework")),
    };
    let outcome = match r.u8()? {
        0 => TestOutcome::Passed,
        1 => TestOutcome::Failed,
        2 => TestOutcome::Skipped,
        3 => TestOutcome::Excluded,
        4 => TestOutcome::Invalid,
        _ => return Err(r.corrupt("unknown test outcome")),
    };
    let test = Test {
        framework,
        outcome,
        line: r.u32()?,
        duration_us: r.u64()?,
        pid: NonZeroU64::new(r.u64()?),
        module: r.str()?.to_string(),
        name: r.str()?.to_string(),
        file: r.str()?.to_string(),
        message: r.str()?.to_string(),
    };
    r.finish()?;
    Ok(test)
}

/// Encodes the record of a process of another node.
pub(crate) fn encode_remote(remote: &RemoteProcess, out: &mut Vec<u8>) {
    put_bytes(out, remote.node.as_bytes());
    put_bytes(out, remote.text.as_bytes());
}

/// Decodes the record of a process of another node.
pub(crate) fn decode_remote(bytes: &[u8]) -> Result<RemoteProcess> {
    let mut r = Reader::new(bytes, "remote process");
    let remote = RemoteProcess {
        node: r.str()?.to_string(),
        text: r.str()?.to_string(),
    };
    r.finish()?;
    Ok(remote)
}

/// The byte that stores an outcome.
pub(crate) fn outcome_byte(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Return => 0,
        Outcome::Exception(Class::Error) => 1,
        Outcome::Exception(Class::Throw) => 2,
        Outcome::Exception(Class::Exit) => 3,
    }
}

fn byte_outcome(byte: u8) -> Option<Outcome> {
    Some(match byte {
        0 => Outcome::Return,
        1 => Outcome::Exception(Class::Error),
        2 => Outcome::Exception(Class::Throw),
        3 => Outcome::Exception(Class::Exit),
        _ => return None,
    })
}

/// Appends a little-endian `u16`.
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian `u32`.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian `u64`.
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `len:u32 bytes` (longer inputs are cut at `u32::MAX`, which the encoder's caps never
/// reach).
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(u32::MAX as usize);
    put_u32(out, len as u32);
    out.extend_from_slice(&bytes[..len]);
}

/// Bounds-checked reads over a record.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Reads `bytes`, a record of kind `what` (named in errors).
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, what }
    }

    /// An error about this record.
    pub fn corrupt(&self, problem: &'static str) -> StoreError {
        StoreError::Corrupt {
            what: self.what,
            problem,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Reads a byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads an `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Reads `len:u32 bytes`.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// Reads `len:u32 bytes` holding UTF-8.
    pub fn str(&mut self) -> Result<&'a str> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| self.corrupt("text is not UTF-8"))
    }

    /// Whether the whole record has been read.
    pub fn is_done(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Checks that nothing is left.
    pub fn finish(&self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_padded_records_are_errors_not_panics() {
        let mut bytes = Vec::new();
        EndRow {
            time: 1_000_500,
            scheduler: 2,
            outcome: Outcome::Exception(Class::Throw),
            tail_calls: 9,
            value: b"\x83d\x00\x02ok",
        }
        .encode(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(EndRow::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes.push(0);
        assert!(EndRow::decode(&bytes).is_err());
    }

    #[test]
    fn unknown_outcomes_are_rejected() {
        let mut bytes = Vec::new();
        EndRow {
            time: 1,
            scheduler: 1,
            outcome: Outcome::Return,
            tail_calls: 0,
            value: &[],
        }
        .encode(&mut bytes);
        bytes[10] = 9;
        assert!(EndRow::decode(&bytes).is_err());
    }

    #[test]
    fn tests_round_trip_and_bad_ones_are_errors() {
        let test = Test {
            framework: TestFramework::ExUnit,
            module: "Elixir.ShopTest".into(),
            name: "test pays".into(),
            file: "test/shop_test.exs".into(),
            line: 12,
            outcome: TestOutcome::Failed,
            message: "Assertion with == failed".into(),
            duration_us: 1234,
            pid: NonZeroU64::new(77),
        };
        let mut bytes = Vec::new();
        encode_test(&test, &mut bytes);
        assert_eq!(decode_test(&bytes).unwrap(), test);
        assert!(decode_test(&bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad[1] = 9;
        assert!(decode_test(&bad).is_err());
    }

    #[test]
    fn sends_and_exits_round_trip_and_bad_ones_are_errors() {
        let send = SendRow {
            time: 7,
            kind: SendKind::SendAfter,
            delay_ms: 100,
            receiver: 42,
            target: b"\x83d\x00\x01a",
            message: b"\x83a\x01",
        };
        let mut bytes = Vec::new();
        send.encode(&mut bytes);
        assert_eq!(SendRow::decode(&bytes).unwrap(), send);
        assert!(SendRow::decode(&bytes[..bytes.len() - 1]).is_err());
        bytes[8] = 9;
        assert!(SendRow::decode(&bytes).is_err());
        let exit = ExitRow {
            pid: 3,
            pid_hash: 4,
            pid_term: b"pid",
            reason: b"",
        };
        bytes.clear();
        exit.encode(&mut bytes);
        assert_eq!(ExitRow::decode(&bytes).unwrap(), exit);
        assert!(ExitRow::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn processes_and_tail_calls_round_trip() {
        let p = ProcessRow {
            first_call: 5,
            origin_kind: 1,
            origin_pid: 99,
            text: "<0.90.0>",
            origin_text: "<0.80.0>",
            name: "",
        };
        let mut bytes = Vec::new();
        p.encode(&mut bytes);
        assert_eq!(ProcessRow::decode(&bytes).unwrap(), p);
        // A registered name is a trailing field: rows without it (written before it existed,
        // or of unnamed processes) read as unnamed.
        let named = ProcessRow {
            name: "Elixir.Shop.Inventory",
            ..p.clone()
        };
        let mut with_name = Vec::new();
        named.encode(&mut with_name);
        assert_eq!(ProcessRow::decode(&with_name).unwrap(), named);
        assert!(with_name.starts_with(&bytes));
        assert!(ProcessRow::decode(&with_name[..with_name.len() - 1]).is_err());
        let t = TailCallRow {
            module: 1,
            function: 2,
            arity: 3,
            time: 4,
            args: b"xyz",
        };
        bytes.clear();
        t.encode(&mut bytes);
        assert_eq!(TailCallRow::decode(&bytes).unwrap(), t);
    }
}
