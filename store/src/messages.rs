//! Messages: which send delivered the message a call received.
//!
//! A message carries no id, so a send and the call that received it are matched by what the
//! BEAM guarantees and what both sides recorded:
//!
//! - the sending call records the send ([`crate::event::Send`]): the receiving process, when
//!   the runtime could tell it (a local pid, or a name registered at that moment), and the
//!   message;
//! - the receiving side is a call whose arguments hold the message: `handle_cast/2` and
//!   `handle_info/2` (the first argument), a gen_statem event, `State(cast | info, Msg, Data)`
//!   or `handle_event(cast | info, Msg, State, Data)` (the second) — the writer recognises them
//!   by name, arity and shape ([`receipt`]), at no cost on the recording side;
//! - both are reduced to the receiving process and a hash of the message's captured bytes
//!   (the same encoder and caps capture a message and an argument, so equal messages give
//!   equal bytes), and within one such group the BEAM delivers in order per sender; the k-th
//!   receipt takes the earliest send not taken yet that was available before it started
//!   ([`match_group`]). A `send_after` is available once its delay passed.
//!
//! Limits (README, "Limitations"): a message sent by code that was not rewritten has no send,
//! so the group's order can pair a later receipt with it only if an equal message was also
//! sent by recorded code; a message that was never received by a recorded callback (dropped
//! by a selective `receive`, a cancelled timer, a receiver that died) stays in its group and
//! shifts the pairs of later equal messages to the same process by one; sends to names
//! through `:global` or `{:via, ...}` are recorded without a receiver and never linked; two
//! senders racing equal messages to one process may be credited the wrong way round (the
//! messages are equal, so only the sender is wrong); the hash covers the captured bytes, so
//! messages that differ only past the caps count as equal.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::etf;

/// How the writer recognised a call that received a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The hash of the message received.
    pub hash: u64,
    /// When the message is news of a process's end: the hash of that pid's bytes, and 1 for
    /// `{'EXIT', Pid, _}`, 2 for `{'DOWN', _, process, Pid, _}`.
    pub notice: Option<(u64, u8)>,
}

/// A notice `{'EXIT', Pid, Reason}`.
pub const NOTICE_EXIT: u8 = 1;
/// A notice `{'DOWN', Ref, process, Pid, Reason}`.
pub const NOTICE_DOWN: u8 = 2;

/// The hash of a value's bytes (version byte or not: it is skipped).
pub(crate) fn hash(value: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(etf::body(value));
    h.finish()
}

/// The group of a receiver and a message hash: the high half of the keys of `mailbox` and
/// `receipts`, so that one range read gives all the sends and receipts of equal messages to
/// one process (rows keep both, to tell apart groups that hash alike).
pub(crate) fn group(receiver: u64, hash: u64) -> u64 {
    let mut h = FxHasher::default();
    h.write_u64(receiver);
    h.write_u64(hash);
    h.finish()
}

/// Whether a call of `function/arity` with these captured arguments received a message, and
/// which (see the module documentation for the shapes).
pub(crate) fn receipt(function: &str, arity: u8, args: &[u8]) -> Option<Receipt> {
    let position = match (function, arity) {
        ("handle_cast" | "handle_info", 2) => 0,
        ("handle_call", 3) => return None,
        ("handle_event", 4) | (_, 3) => 1,
        _ => return None,
    };
    // Most calls of arity 3 are no gen_statem event: the first argument's first bytes say so
    // before the list is read (`LIST_EXT` and its length take 5 bytes).
    if position == 1 && !matches!(etf::atom(etf::body(args).get(5..)?), Some("cast" | "info")) {
        return None;
    }
    let args = etf::elements(args)?;
    let message = *args.get(position)?;
    Some(Receipt {
        hash: hash(message),
        notice: notice(message),
    })
}

/// `{'EXIT', Pid, _}` or `{'DOWN', _, process, Pid, _}`: the pid's hash and which.
fn notice(message: &[u8]) -> Option<(u64, u8)> {
    let parts = etf::elements(message)?;
    match (etf::atom(parts.first()?)?, parts.len()) {
        ("EXIT", 3) if etf::is_pid(parts[1]) => Some((hash(parts[1]), NOTICE_EXIT)),
        ("DOWN", 5) if etf::atom(parts[2]) == Some("process") && etf::is_pid(parts[3]) => {
            Some((hash(parts[3]), NOTICE_DOWN))
        }
        _ => None,
    }
}

/// One side of a group: a send (`available`, its number `n`) or a receipt (`start`, its call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mail {
    /// When: a send's availability, a receipt's start.
    pub time: u64,
    /// A send's number, a receipt's call id: the order among equal times.
    pub order: u64,
}

/// Pairs the sends and the receipts of one group (see the module documentation): for each
/// receipt in start order, the earliest send not taken yet that was available before it
/// started. Returns `(send index, receipt index)` pairs of the slices as given.
pub(crate) fn match_group(sends: &[Mail], receipts: &[Mail]) -> Vec<(usize, usize)> {
    let mut sends: Vec<(usize, &Mail)> = sends.iter().enumerate().collect();
    sends.sort_by_key(|(_, m)| (m.time, m.order));
    let mut receipts: Vec<(usize, &Mail)> = receipts.iter().enumerate().collect();
    receipts.sort_by_key(|(_, m)| (m.order, m.time));
    let mut pairs = Vec::new();
    let mut next = 0;
    for (r, receipt) in receipts {
        if let Some(&(s, send)) = sends.get(next) {
            if send.time <= receipt.time {
                pairs.push((s, r));
                next += 1;
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `term_to_binary(Args)` for argument lists of a few receiving callbacks.
    fn args(terms: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![131, 108, 0, 0, 0, terms.len() as u8];
        for t in terms {
            out.extend_from_slice(t);
        }
        out.push(106);
        out
    }

    const RESTOCK: &[u8] = &[
        104, 2, 119, 7, b'r', b'e', b's', b't', b'o', b'c', b'k', 97, 3,
    ];
    const STATE: &[u8] = &[97, 1];
    const CAST: &[u8] = &[119, 4, b'c', b'a', b's', b't'];
    const CALL: &[u8] = &[119, 4, b'c', b'a', b'l', b'l'];

    #[test]
    fn recognises_receiving_callbacks_and_hashes_their_message_as_a_send_would() {
        let mut sent = vec![131];
        sent.extend_from_slice(RESTOCK);
        let expected = hash(&sent);
        let cast = receipt("handle_cast", 2, &args(&[RESTOCK, STATE])).unwrap();
        assert_eq!(cast.hash, expected);
        assert_eq!(cast.notice, None);
        let info = receipt("handle_info", 2, &args(&[RESTOCK, STATE])).unwrap();
        assert_eq!(info.hash, expected);
        let state_function = receipt("selling", 3, &args(&[CAST, RESTOCK, STATE])).unwrap();
        assert_eq!(state_function.hash, expected);
        let event = receipt("handle_event", 4, &args(&[CAST, RESTOCK, STATE, STATE])).unwrap();
        assert_eq!(event.hash, expected);
        assert_eq!(receipt("selling", 3, &args(&[CALL, RESTOCK, STATE])), None);
        assert_eq!(
            receipt("handle_call", 3, &args(&[CAST, STATE, STATE])),
            None
        );
        assert_eq!(receipt("handle_cast", 2, &[131, 97]), None);
    }

    #[test]
    fn exit_and_down_messages_are_notices_about_their_pid() {
        let pid: &[u8] = &[88, 119, 1, b'n', 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut exit = vec![104, 3, 119, 4, b'E', b'X', b'I', b'T'];
        exit.extend_from_slice(pid);
        exit.extend_from_slice(&[119, 6, b'n', b'o', b'r', b'm', b'a', b'l']);
        let got = receipt("handle_info", 2, &args(&[&exit, STATE])).unwrap();
        assert_eq!(got.notice, Some((hash(pid), NOTICE_EXIT)));
        let mut down = vec![104, 5, 119, 4, b'D', b'O', b'W', b'N', 97, 7];
        down.extend_from_slice(&[119, 7, b'p', b'r', b'o', b'c', b'e', b's', b's']);
        down.extend_from_slice(pid);
        down.extend_from_slice(&[119, 4, b'k', b'i', b'l', b'l']);
        let got = receipt("handle_info", 2, &args(&[&down, STATE])).unwrap();
        assert_eq!(got.notice, Some((hash(pid), NOTICE_DOWN)));
    }

    fn mail(time: u64, order: u64) -> Mail {
        Mail { time, order }
    }

    #[test]
    fn receipts_take_the_earliest_available_send_in_order() {
        // Three equal casts queued before the receiver handled any.
        let sends = [mail(10, 1), mail(20, 2), mail(30, 3)];
        let receipts = [mail(40, 100), mail(50, 101), mail(60, 102)];
        assert_eq!(match_group(&sends, &receipts), vec![(0, 0), (1, 1), (2, 2)]);
        // A receipt with no send before it (an unrecorded sender) takes none, and does not
        // take a later one.
        let receipts = [mail(5, 90), mail(40, 100)];
        assert_eq!(match_group(&sends, &receipts), vec![(0, 1)]);
        // A timer set first but due later comes after a plain send made meanwhile.
        let sends = [mail(1_000, 1), mail(500, 2)];
        let receipts = [mail(600, 100), mail(1_100, 101)];
        assert_eq!(match_group(&sends, &receipts), vec![(1, 0), (0, 1)]);
    }
}
