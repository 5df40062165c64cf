//! Messages in a recording: what a call sent, which call received it, and what delivered the
//! message a call received (the matching is [`crate::messages`]'s).

use crate::codec::SendRow;
use crate::error::Result;
use crate::event::SendKind;
use crate::index::RunIndex;
use crate::messages::{self, Mail};
use crate::model::Call;
use crate::query::Snapshot;
use crate::segment::{MailboxRow, ReceiptRow, MAILBOX, RECEIPTS, SENDS};
use crate::writer::pair;

/// A message a recorded call sent (see [`crate::event::Send`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The call that sent it.
    pub call_id: u64,
    /// Its number among the run's sends (their order of arrival at the writer).
    pub n: u64,
    /// When it was sent (monotonic ns).
    pub time: u64,
    /// How.
    pub kind: SendKind,
    /// A `send_after`'s delay in milliseconds (0 otherwise).
    pub delay_ms: u32,
    /// The receiving process's pid term word, when the runtime could tell it.
    pub receiver: Option<u64>,
    /// The destination as given, in the external term format.
    pub target: Vec<u8>,
    /// The message, in the external term format (within the capture caps).
    pub message: Vec<u8>,
}

/// A message matched with the call that received it (see [`Snapshot::scan_messages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLink {
    /// The call that sent it.
    pub sender: u64,
    /// Its number among the run's sends (see [`SentMessage::n`]).
    pub n: u64,
    /// When it was sent (monotonic ns).
    pub sent: u64,
    /// The call that received it.
    pub receipt: u64,
    /// The receiving process's pid term word.
    pub receiver: u64,
}

/// The most sends of one group of equal messages to one process a match reads: past it the
/// earliest are matched and later ones stay unlinked (a process that received millions of
/// identical `:tick`s).
const MAX_GROUP: usize = 1_000_000;

impl Snapshot {
    /// The messages call `id` sent, in the order it sent them.
    pub fn sent_by(&self, id: u64) -> Result<Vec<SentMessage>> {
        self.sent_between(id, id)
    }

    /// The messages the calls with ids in `[lo, hi]` sent, by call, each call's in the order
    /// it sent them.
    pub fn sent_between(&self, lo: u64, hi: u64) -> Result<Vec<SentMessage>> {
        let rows = self
            .index
            .byte_rows(SENDS, pair(lo, 0), pair(hi, u64::MAX))?;
        let mut out = Vec::with_capacity(rows.len());
        for (key, row) in rows {
            out.push(sent(key, &SendRow::decode(&row)?));
        }
        out.sort_by_key(|m| (m.call_id, m.time, m.n));
        Ok(out)
    }

    /// The call that received `message` (a `handle_cast/2`, `handle_info/2` or gen_statem
    /// event of its receiver; see [`crate::messages`] for how they are matched), if recorded.
    pub fn received_by(&self, message: &SentMessage) -> Result<Option<u64>> {
        let Some(receiver) = message.receiver else {
            return Ok(None);
        };
        let hash = messages::hash(&message.message);
        let group = Group::read(&self.index, receiver, hash)?;
        Ok(group
            .pairs()
            .into_iter()
            .find(|&(s, _)| group.sends[s].0 == (message.call_id, message.n))
            .map(|(_, r)| group.receipts[r].0))
    }

    /// For a call that received a message: the message and the call that sent it, when it
    /// was recorded.
    pub fn delivered_by(&self, call: &Call) -> Result<Option<(SentMessage, Call)>> {
        let Some(receipt) = messages::receipt(&call.function, call.arity, &call.args) else {
            return Ok(None);
        };
        let group = Group::read(&self.index, call.pid, receipt.hash)?;
        let Some((s, _)) = group
            .pairs()
            .into_iter()
            .find(|&(_, r)| group.receipts[r].0 == call.id)
        else {
            return Ok(None);
        };
        let (sender, n) = group.sends[s].0;
        let Some(message) = self.sent_by(sender)?.into_iter().find(|m| m.n == n) else {
            return Ok(None);
        };
        Ok(self.call(sender)?.map(|sender| (message, sender)))
    }

    /// Visits every message whose receipt was recorded, group by group, until `visit` answers
    /// `false`. Memory: the rows of a sixteenth of the run's groups at a time.
    pub fn scan_messages(&self, mut visit: impl FnMut(MessageLink) -> Result<bool>) -> Result<()> {
        const SLICES: u64 = 16;
        let width = u64::MAX / SLICES + 1;
        for slice in 0..SLICES {
            let (lo, hi) = (slice * width, (slice * width).saturating_add(width - 1));
            let sends = self
                .index
                .value_rows(MAILBOX, pair(lo, 0), pair(hi, u64::MAX))?;
            if sends.is_empty() {
                continue;
            }
            let receipts = self
                .index
                .value_rows(RECEIPTS, pair(lo, 0), pair(hi, u64::MAX))?;
            let mut r = 0;
            let mut s = 0;
            while s < sends.len() {
                let group = (sends[s].0 >> 64) as u64;
                let s_end = s + sends[s..].partition_point(|(k, _)| (k >> 64) as u64 == group);
                while r < receipts.len() && ((receipts[r].0 >> 64) as u64) < group {
                    r += 1;
                }
                let r_end = r + receipts[r..].partition_point(|(k, _)| (k >> 64) as u64 == group);
                let found = Group::from_rows(&sends[s..s_end], &receipts[r..r_end]);
                for (s, r) in found.pairs() {
                    let ((sender, n), _, _, sent) = found.sends[s];
                    if !visit(MessageLink {
                        sender,
                        n,
                        sent,
                        receipt: found.receipts[r].0,
                        receiver: found.receipts[r].1 .0,
                    })? {
                        return Ok(());
                    }
                }
                s = s_end;
                r = r_end;
            }
        }
        Ok(())
    }
}

/// A send to one process of messages with one hash, as [`Snapshot::sends_to`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendTo {
    /// The call that sent it.
    pub call: u64,
    /// Its number among the run's sends.
    pub n: u64,
    /// When it was sent.
    pub sent: u64,
    /// When it could be received (a `send_after`: once its delay passed).
    pub available: u64,
}

impl Snapshot {
    /// The sends of this run to `receiver` (a pid term word, or a process of another node's
    /// [`crate::remote_key`]) of messages hashing to `hash`, in send order.
    pub(crate) fn sends_to(&self, receiver: u64, hash: u64) -> Result<Vec<SendTo>> {
        let group = Group::read(&self.index, receiver, hash)?;
        let mut out: Vec<SendTo> = group
            .sends
            .iter()
            .map(|&((call, n), _, mail, sent)| SendTo {
                call,
                n,
                sent,
                available: mail.time,
            })
            .collect();
        out.sort_by_key(|s| s.n);
        Ok(out)
    }

    /// The calls of process `pid` that received a message hashing to `hash` and that no send
    /// of this run delivered, as `(call, start)`, in start order.
    pub(crate) fn receipts_unmatched(&self, pid: u64, hash: u64) -> Result<Vec<(u64, u64)>> {
        let group = Group::read(&self.index, pid, hash)?;
        let matched: Vec<usize> = group.pairs().into_iter().map(|(_, r)| r).collect();
        let mut out: Vec<(u64, u64)> = group
            .receipts
            .iter()
            .enumerate()
            .filter(|(i, _)| !matched.contains(i))
            .map(|(_, &(call, _, mail))| (call, mail.time))
            .collect();
        out.sort_by_key(|&(call, start)| (start, call));
        Ok(out)
    }

    /// The `(receiver, hash)` of every group of this run's sends whose receiver is a process of
    /// another node (its [`crate::remote_key`]), once each. Memory: the rows of a sixteenth of
    /// the run's sends at a time, and the groups found.
    pub(crate) fn remote_mail_groups(&self) -> Result<Vec<(u64, u64)>> {
        const SLICES: u64 = 16;
        let width = u64::MAX / SLICES + 1;
        let mut out = Vec::new();
        for slice in 0..SLICES {
            let (lo, hi) = (slice * width, (slice * width).saturating_add(width - 1));
            for (_, (receiver, hash, ..)) in
                self.index
                    .value_rows(MAILBOX, pair(lo, 0), pair(hi, u64::MAX))?
            {
                if crate::is_remote_key(receiver) {
                    out.push((receiver, hash));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// A send of a [`Group`]: `(sending call, send number)`, its `(receiver, hash)`, its
/// [`Mail`] and when it was sent.
type GroupSend = ((u64, u64), (u64, u64), Mail, u64);

/// The sends and receipts of one group, each kept per `(receiver, hash)` (a group's rows may
/// mix two that hash alike).
struct Group {
    /// `(sending call, send number)`, its `(receiver, hash)`, its [`Mail`] and when it was
    /// sent.
    sends: Vec<GroupSend>,
    /// Receiving call, with its [`Mail`].
    receipts: Vec<(u64, (u64, u64), Mail)>,
}

impl Group {
    fn read(index: &RunIndex, receiver: u64, hash: u64) -> Result<Group> {
        let group = messages::group(receiver, hash);
        let range = (pair(group, 0), pair(group, u64::MAX));
        let mut sends = index.value_rows(MAILBOX, range.0, range.1)?;
        sends.retain(|(_, (r, h, ..))| (*r, *h) == (receiver, hash));
        sends.truncate(MAX_GROUP);
        let mut receipts = index.value_rows(RECEIPTS, range.0, range.1)?;
        receipts.retain(|(_, (r, h, _))| (*r, *h) == (receiver, hash));
        Ok(Group::from_rows(&sends, &receipts))
    }

    fn from_rows(sends: &[(u128, MailboxRow)], receipts: &[(u128, ReceiptRow)]) -> Group {
        Group {
            sends: sends
                .iter()
                .take(MAX_GROUP)
                .map(|&(key, (receiver, hash, call, time, available))| {
                    let n = key as u64;
                    let mail = Mail {
                        time: available,
                        order: n,
                    };
                    ((call, n), (receiver, hash), mail, time)
                })
                .collect(),
            receipts: receipts
                .iter()
                .map(|&(key, (receiver, hash, start))| {
                    let call = key as u64;
                    (
                        call,
                        (receiver, hash),
                        Mail {
                            time: start,
                            order: call,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The matched pairs, as indexes of `sends` and `receipts`: each `(receiver, hash)` of the
    /// group matched on its own.
    fn pairs(&self) -> Vec<(usize, usize)> {
        let mut keys: Vec<(u64, u64)> = self.sends.iter().map(|s| s.1).collect();
        keys.extend(self.receipts.iter().map(|r| r.1));
        keys.sort_unstable();
        keys.dedup();
        let mut out = Vec::new();
        for key in keys {
            let (sends, sent): (Vec<usize>, Vec<Mail>) = self
                .sends
                .iter()
                .enumerate()
                .filter(|(_, s)| s.1 == key)
                .map(|(i, s)| (i, s.2))
                .unzip();
            let (receipts, received): (Vec<usize>, Vec<Mail>) = self
                .receipts
                .iter()
                .enumerate()
                .filter(|(_, r)| r.1 == key)
                .map(|(i, r)| (i, r.2))
                .unzip();
            out.extend(
                messages::match_group(&sent, &received)
                    .into_iter()
                    .map(|(s, r)| (sends[s], receipts[r])),
            );
        }
        out
    }
}

fn sent(key: u128, row: &SendRow<'_>) -> SentMessage {
    SentMessage {
        call_id: (key >> 64) as u64,
        n: key as u64,
        time: row.time,
        kind: row.kind,
        delay_ms: row.delay_ms,
        receiver: (row.receiver != 0).then_some(row.receiver),
        target: row.target.to_vec(),
        message: row.message.to_vec(),
    }
}
