//! Messages and process ends over synthetic recordings: sends linked to the calls that
//! received them, and crashes with what they caused.

use std::num::NonZeroU64;

use store::{
    AtomKey, AtomNames, CauseKind, End, Enter, Event, EventKind, Outcome, RunInfo, Send, SendKind,
    Store, TreeItem, TreeLimits,
};

struct Names;

const NAMES: &[&str] = &[
    "Elixir.Pub",
    "publish",
    "handle_cast",
    "Elixir.Sub",
    "handle_info",
];
const PUB: AtomKey = 0;
const PUBLISH: AtomKey = 1;
const HANDLE_CAST: AtomKey = 2;
const SUB: AtomKey = 3;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        NAMES.get(key as usize).map(|s| s.to_string())
    }
}

fn info() -> RunInfo {
    RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "nonode@nohost".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    }
}

/// `{restock, N}` in the external term format, without the version byte.
fn restock(n: u8) -> Vec<u8> {
    let mut out = vec![104, 2, 119, 7];
    out.extend_from_slice(b"restock");
    out.extend_from_slice(&[97, n]);
    out
}

fn enter(id: u64, time: u64, pid: u64, module: AtomKey, function: AtomKey, args: Vec<u8>) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::Enter(Enter {
            parent: None,
            pid,
            module,
            function,
            arity: if function == HANDLE_CAST { 2 } else { 1 },
            args: args.into(),
            process: None,
            client: None,
        }),
    }
}

fn ret(id: u64, time: u64) -> Event {
    Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: vec![131, 119, 2, b'o', b'k'].into(),
        }),
    }
}

/// `handle_cast(Message, 0)`'s arguments.
fn cast_args(message: &[u8]) -> Vec<u8> {
    let mut out = vec![131, 108, 0, 0, 0, 2];
    out.extend_from_slice(message);
    out.extend_from_slice(&[97, 0, 106]);
    out
}

fn send(call: u64, time: u64, receiver: u64, message: &[u8]) -> Event {
    // The destination: the atom `sub`.
    let mut payload = vec![131, 119, 3, b's', b'u', b'b', 131];
    payload.extend_from_slice(message);
    Event {
        call_id: call,
        time,
        scheduler: 1,
        kind: EventKind::Send(Send {
            kind: SendKind::Cast,
            delay_ms: 0,
            receiver: NonZeroU64::new(receiver),
            target_len: 6,
            payload: payload.into(),
        }),
    }
}

#[test]
fn each_receipt_links_to_the_send_that_delivered_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let mut writer = store.begin_run(&info()).unwrap();
    let (a, b) = (restock(1), restock(2));
    // pid 10's call 1 casts {restock, 1} to 20, twice to 30, {restock, 2} to 40 (which never
    // handles it) and to a name that no process had.
    writer
        .write(
            vec![
                enter(1, 100, 10, PUB, PUBLISH, vec![131, 106]),
                send(1, 110, 20, &a),
                send(1, 120, 30, &a),
                send(1, 130, 30, &a),
                send(1, 140, 40, &b),
                send(1, 150, 0, &b),
                ret(1, 160),
            ],
            &Names,
        )
        .unwrap();
    writer.seal(0, 0).unwrap();
    // The receipts come in a later segment; pid 30 also handles an equal message nobody
    // recorded sending before the casts (it has no link).
    writer
        .write(
            vec![
                enter(2, 50, 30, SUB, HANDLE_CAST, cast_args(&a)),
                ret(2, 55),
                enter(3, 170, 20, SUB, HANDLE_CAST, cast_args(&a)),
                ret(3, 175),
                enter(4, 180, 30, SUB, HANDLE_CAST, cast_args(&a)),
                ret(4, 185),
                enter(5, 190, 30, SUB, HANDLE_CAST, cast_args(&a)),
                ret(5, 195),
            ],
            &Names,
        )
        .unwrap();
    writer.seal(0, 0).unwrap();
    let snap = store.snapshot(None).unwrap();
    let sent = snap.sent_by(1).unwrap();
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[0].kind, SendKind::Cast);
    assert_eq!(sent[0].message[1..], a[..]);
    let received: Vec<Option<u64>> = sent.iter().map(|m| snap.received_by(m).unwrap()).collect();
    assert_eq!(received, [Some(3), Some(4), Some(5), None, None]);
    // The receiving side names the sender.
    let (message, sender) = snap
        .delivered_by(&snap.call(5).unwrap().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((message.n, sender.id), (sent[2].n, 1));
    assert!(snap
        .delivered_by(&snap.call(2).unwrap().unwrap())
        .unwrap()
        .is_none());
    let cause = snap
        .tree(4, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .unwrap();
    assert_eq!(
        (cause.kind, cause.call.id),
        (CauseKind::Message(SendKind::Cast), 1)
    );
    // The sender's tree shows each message with where it went.
    let tree = snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let lines: Vec<Option<u64>> = tree
        .lines
        .iter()
        .filter_map(|line| match &line.item {
            TreeItem::Message(m) => Some(m.received_by),
            _ => None,
        })
        .collect();
    assert_eq!(lines, received);
    // The whole run's links, for the export.
    let mut links = Vec::new();
    snap.scan_messages(|link| {
        links.push((link.sender, link.receipt));
        Ok(true)
    })
    .unwrap();
    links.sort_unstable();
    assert_eq!(links, [(1, 3), (1, 4), (1, 5)]);
}

fn exit(time: u64, pid: u64, reason: &[u8]) -> Event {
    let pid_term = vec![
        131, 88, 119, 1, b'n', 0, 0, 0, pid as u8, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    Event {
        call_id: 0,
        time,
        scheduler: 1,
        kind: EventKind::Run(Box::new(store::RunEvent::Exit(store::ProcessExit {
            pid,
            pid_term: pid_term.into(),
            reason: reason.to_vec().into(),
        }))),
    }
}

fn atom(name: &str) -> Vec<u8> {
    let mut out = vec![131, 119, name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out
}

#[test]
fn crashes_are_abnormal_exits_or_unknown_ones_after_a_call_that_raised() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let mut writer = store.begin_run(&info()).unwrap();
    let raise = |id: u64, time: u64| Event {
        call_id: id,
        time,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Exception(store::Class::Error),
            tail_calls: 0,
            value: atom("boom").into(),
        }),
    };
    // {shutdown, x}
    let mut shutdown = vec![131, 104, 2, 119, 8];
    shutdown.extend_from_slice(b"shutdown");
    shutdown.extend_from_slice(&[119, 1, b'x']);
    // {Ref, return, ok}: an erpc call's process that returned; {Ref, error, x}: one that raised.
    let erpc = |how: &str| {
        let mut out = vec![131, 104, 3, 90, 0, 3, 119, 1, b'n', 0, 0, 0, 1];
        out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
        out.extend_from_slice(&[119, how.len() as u8]);
        out.extend_from_slice(how.as_bytes());
        out.extend_from_slice(&[119, 2, b'o', b'k']);
        out
    };
    writer
        .write(
            vec![
                // 1 ends normally, 2 is shut down, 3 is killed, 4 ends for an unknown reason
                // after a call that raised, 5 for an unknown one after a call that returned;
                // 6 is an erpc call's process that returned, 7 one whose function raised.
                enter(1, 10, 1, PUB, PUBLISH, vec![131, 106]),
                ret(1, 11),
                enter(2, 12, 2, PUB, PUBLISH, vec![131, 106]),
                ret(2, 13),
                enter(3, 14, 3, PUB, PUBLISH, vec![131, 106]),
                ret(3, 15),
                enter(4, 16, 4, PUB, PUBLISH, vec![131, 106]),
                raise(4, 17),
                enter(5, 18, 5, PUB, PUBLISH, vec![131, 106]),
                ret(5, 19),
                enter(6, 25, 6, PUB, PUBLISH, vec![131, 106]),
                ret(6, 26),
                enter(7, 27, 7, PUB, PUBLISH, vec![131, 106]),
                ret(7, 28),
                exit(20, 1, &atom("normal")),
                exit(21, 2, &shutdown),
                exit(22, 3, &atom("killed")),
                exit(23, 4, &[]),
                exit(24, 5, &[]),
                exit(29, 6, &erpc("return")),
                exit(30, 7, &erpc("error")),
            ],
            &Names,
        )
        .unwrap();
    writer.seal(0, 0).unwrap();
    let snap = store.snapshot(None).unwrap();
    let normal: Vec<(u64, Option<bool>)> = snap
        .exits()
        .unwrap()
        .iter()
        .map(|e| (e.pid, e.normal()))
        .collect();
    assert_eq!(
        normal,
        [
            (1, Some(true)),
            (2, Some(true)),
            (3, Some(false)),
            (4, None),
            (5, None),
            (6, Some(true)),
            (7, Some(false))
        ]
    );
    let crashed: Vec<u64> = snap
        .crashes(10)
        .unwrap()
        .iter()
        .map(|c| c.end.pid)
        .collect();
    assert_eq!(crashed, [3, 4, 7]);
    let crash = &snap.crashes(10).unwrap()[1];
    assert_eq!(crash.culprit.as_ref().map(|c| c.id), Some(4));
    assert!(crash.end.reason.is_none());
    assert_eq!(snap.crashes(1).unwrap().len(), 1);
}

/// `enter`, as the process's first call: it says who the process is (`text`).
fn first(event: Event, text: &str) -> Event {
    let mut event = event;
    if let EventKind::Enter(e) = &mut event.kind {
        e.process = Some(Box::new(store::ProcessStart {
            text: text.into(),
            name: None,
            origin: None,
        }));
    }
    event
}

#[test]
fn a_message_to_a_pid_of_another_node_links_across_their_runs() {
    // Node b's clock reads 1,000,000 more than a's at the same wall-clock instant.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let a_info = RunInfo {
        node: "a@host".into(),
        ..info()
    };
    let b_info = RunInfo {
        node: "b@host".into(),
        monotonic_origin_ns: 1_000_000,
        ..info()
    };
    let b_time = |a_time: u64| a_time + 1_000_000;
    let mut a = store.begin_run(&a_info).unwrap();
    let mut b = store.begin_run(&b_info).unwrap();
    let message = restock(1);
    // a: pid 10's call 1 casts {restock, 1} twice to b's <0.20.0>, then once to b's <0.30.0>
    // (which records nothing), the runtime naming each process of b before the send.
    let sub = store::RemoteProcess {
        node: "b@host".into(),
        text: "<0.20.0>".into(),
    };
    let silent = store::RemoteProcess {
        node: "b@host".into(),
        text: "<0.30.0>".into(),
    };
    let named = |time: u64, remote: &store::RemoteProcess| Event {
        call_id: 0,
        time,
        scheduler: 1,
        kind: EventKind::Run(Box::new(store::RunEvent::Remote(remote.clone()))),
    };
    a.write(
        vec![
            first(enter(1, 100, 10, PUB, PUBLISH, vec![131, 106]), "<0.10.0>"),
            named(109, &sub),
            send(1, 110, sub.key(), &message),
            named(119, &sub),
            send(1, 120, sub.key(), &message),
            named(129, &silent),
            send(1, 130, silent.key(), &message),
            ret(1, 140),
        ],
        &Names,
    )
    .unwrap();
    a.seal(0, 0).unwrap();
    // b: pid 40 casts the same message to pid 20 locally first; pid 20 handles three.
    b.write(
        vec![
            first(
                enter(1, b_time(90), 40, PUB, PUBLISH, vec![131, 106]),
                "<0.40.0>",
            ),
            send(1, b_time(95), 20, &message),
            ret(1, b_time(96)),
            first(
                enter(2, b_time(112), 20, SUB, HANDLE_CAST, cast_args(&message)),
                "<0.20.0>",
            ),
            ret(2, b_time(113)),
            enter(3, b_time(114), 20, SUB, HANDLE_CAST, cast_args(&message)),
            ret(3, b_time(115)),
            enter(4, b_time(125), 20, SUB, HANDLE_CAST, cast_args(&message)),
            ret(4, b_time(126)),
        ],
        &Names,
    )
    .unwrap();
    b.seal(0, 0).unwrap();
    let (a_snap, b_snap) = (
        store.snapshot(Some(a.run())).unwrap(),
        store.snapshot(Some(b.run())).unwrap(),
    );
    // Alone, a's tree names where each message went, and links none.
    let alone = a_snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let sent: Vec<(Option<String>, Option<String>, Option<u64>)> = alone
        .lines
        .iter()
        .filter_map(|line| match &line.item {
            TreeItem::Message(m) => Some((m.node.clone(), m.receiver_text.clone(), m.received_by)),
            _ => None,
        })
        .collect();
    let b_node = Some("b@host".to_string());
    assert_eq!(
        sent,
        [
            (b_node.clone(), Some("<0.20.0>".into()), None),
            (b_node.clone(), Some("<0.20.0>".into()), None),
            (b_node.clone(), Some("<0.30.0>".into()), None),
        ]
    );
    // Alone, b's first receipt takes b's own send; the other two have no sender.
    assert_eq!(
        b_snap
            .tree(2, &TreeLimits::DEFAULT)
            .unwrap()
            .unwrap()
            .cause
            .map(|c| c.call.id),
        Some(1)
    );
    assert!(b_snap
        .tree(3, &TreeLimits::DEFAULT)
        .unwrap()
        .unwrap()
        .cause
        .is_none());

    let cluster = store::Cluster::new(vec![a_snap, b_snap]);
    // Together: a's two casts to <0.20.0> were received by b's calls 3 and 4, in order.
    let tree = cluster.tree(0, 1, &TreeLimits::DEFAULT).unwrap().unwrap();
    let received: Vec<Option<u64>> = tree
        .lines
        .iter()
        .filter_map(|line| match &line.item {
            TreeItem::Message(m) => Some(m.received_by),
            _ => None,
        })
        .collect();
    assert_eq!(received, [Some(3), Some(4), None]);
    for (id, sender) in [
        (2, None),
        (3, Some(("a@host", 1))),
        (4, Some(("a@host", 1))),
    ] {
        let cause = cluster
            .tree(1, id, &TreeLimits::DEFAULT)
            .unwrap()
            .unwrap()
            .cause
            .unwrap();
        assert_eq!(cause.kind, CauseKind::Message(SendKind::Cast));
        match sender {
            Some((node, call)) => {
                assert_eq!((cause.node.as_deref(), cause.call.id), (Some(node), call));
                assert_eq!(cause.text, "<0.10.0>");
            }
            None => assert_eq!((cause.node, cause.call.id), (None, 1)),
        }
    }
    // Every message across nodes, for the export.
    let across: Vec<(usize, u64, usize, u64, SendKind)> = cluster
        .messages()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m.sender_run,
                m.sender.id,
                m.receiver_run,
                m.receipt.id,
                m.kind,
            )
        })
        .collect();
    assert_eq!(
        across,
        [(0, 1, 1, 3, SendKind::Cast), (0, 1, 1, 4, SendKind::Cast)]
    );
}

#[test]
fn a_message_to_a_name_on_another_node_reaches_the_process_that_held_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let a_info = RunInfo {
        node: "a@host".into(),
        ..info()
    };
    let b_info = RunInfo {
        node: "b@host".into(),
        ..info()
    };
    let mut a = store.begin_run(&a_info).unwrap();
    let mut b = store.begin_run(&b_info).unwrap();
    let message = restock(2);
    // a: pid 10's call 1 casts to `{'Elixir.Inv', 'b@host'}` twice: before and after the
    // server there crashed and was started again under the same name.
    let name = store::RemoteProcess {
        node: "b@host".into(),
        text: "Elixir.Inv".into(),
    };
    assert!(name.is_name());
    let named = |time: u64| Event {
        call_id: 0,
        time,
        scheduler: 1,
        kind: EventKind::Run(Box::new(store::RunEvent::Remote(name.clone()))),
    };
    a.write(
        vec![
            first(enter(1, 100, 10, PUB, PUBLISH, vec![131, 106]), "<0.10.0>"),
            named(109),
            send(1, 110, name.key(), &message),
            named(159),
            send(1, 160, name.key(), &message),
            ret(1, 170),
        ],
        &Names,
    )
    .unwrap();
    a.seal(0, 0).unwrap();
    // b: the server <0.20.0>, registered as Elixir.Inv at its first call, handles one cast;
    // then <0.50.0> holds the name and handles the other.
    let registered = |event: Event, text: &str| {
        let mut event = first(event, text);
        if let EventKind::Enter(e) = &mut event.kind {
            if let Some(p) = e.process.as_mut() {
                p.name = Some("Elixir.Inv".into());
            }
        }
        event
    };
    b.write(
        vec![
            registered(enter(1, 90, 20, SUB, PUBLISH, vec![131, 106]), "<0.20.0>"),
            ret(1, 91),
            enter(2, 112, 20, SUB, HANDLE_CAST, cast_args(&message)),
            ret(2, 113),
            registered(enter(3, 150, 50, SUB, PUBLISH, vec![131, 106]), "<0.50.0>"),
            ret(3, 151),
            enter(4, 165, 50, SUB, HANDLE_CAST, cast_args(&message)),
            ret(4, 166),
        ],
        &Names,
    )
    .unwrap();
    b.seal(0, 0).unwrap();
    let (a_snap, b_snap) = (
        store.snapshot(Some(a.run())).unwrap(),
        store.snapshot(Some(b.run())).unwrap(),
    );
    assert_eq!(
        b_snap.process(20).unwrap().and_then(|p| p.name).as_deref(),
        Some("Elixir.Inv")
    );
    let sent = |tree: store::Tree| -> Vec<(Option<String>, Option<String>, Option<u64>)> {
        tree.lines
            .iter()
            .filter_map(|line| match &line.item {
                TreeItem::Message(m) => {
                    Some((m.node.clone(), m.receiver_text.clone(), m.received_by))
                }
                _ => None,
            })
            .collect()
    };
    // Alone, a's tree names the node and the name.
    let b_node = Some("b@host".to_string());
    let name_text = Some("Elixir.Inv".to_string());
    assert_eq!(
        sent(a_snap.tree(1, &TreeLimits::DEFAULT).unwrap().unwrap()),
        [
            (b_node.clone(), name_text.clone(), None),
            (b_node.clone(), name_text, None)
        ]
    );
    // Together: each cast reached the process that held the name when it was sent.
    let cluster = store::Cluster::new(vec![a_snap, b_snap]);
    assert_eq!(
        sent(cluster.tree(0, 1, &TreeLimits::DEFAULT).unwrap().unwrap()),
        [
            (b_node.clone(), Some("<0.20.0>".into()), Some(2)),
            (b_node, Some("<0.50.0>".into()), Some(4))
        ]
    );
    for id in [2, 4] {
        let cause = cluster
            .tree(1, id, &TreeLimits::DEFAULT)
            .unwrap()
            .unwrap()
            .cause
            .unwrap();
        assert_eq!(cause.kind, CauseKind::Message(SendKind::Cast));
        assert_eq!((cause.node.as_deref(), cause.call.id), (Some("a@host"), 1));
    }
    let across: Vec<(u64, u64)> = cluster
        .messages()
        .unwrap()
        .iter()
        .map(|m| (m.sender.id, m.receipt.id))
        .collect();
    assert_eq!(across, [(1, 2), (1, 4)]);
}
