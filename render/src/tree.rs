//! A call tree as text, the way `ElixirScope.show_trace/2` prints it:
//!
//! ```text
//! #1 Fixture.Loop.run(10000) → :ok (4.1ms, #PID<0.110.0>)
//! ├── #2 Fixture.Loop.step(1) → 1 (1.2µs)
//! ├── … 9,990 more calls #10..#9999: Fixture.Loop.step/1 ×9,990
//! └── #10001 Fixture.Loop.step(10000) → 10000 (0.9µs)
//! 12 of 10,001 calls shown
//! ```
//!
//! A process a call started (a Task) follows that call's children, by its first call:
//! `⇢ <0.151.0> (task) #57 Shop.Worker.run(3) → :ok (1.2ms)`; so does a request it waited for,
//! by the call that served it. When another process's call caused the root (the client of a
//! request it serves, or the call that started its process), a first line names it:
//! `⇠ <0.96.0> (request) #13 Shop.Inventory.reserve("tea", 2) → {:ok, 8} (29µs)`.
//!
//! In a cluster's tree (`store::Cluster::tree`), what happened on another node names the node
//! before the pid: `⇢ b@host <0.160.0> (request) #7 Cluster.Inventory.handle_call(…) → …`.
//!
//! A message a call sent is a line among its children, where it was sent, with the call that
//! received it when that is known: `→ cast <0.188.0> {:restock, "tea"} ⇢ #27`; the receiving
//! call's tree names the sender: `⇠ sent by <0.96.0> (cast) #13 Shop.Supplier.deliver("tea")
//! → :ok (29µs)`.

use store::{
    Cause, CauseKind, Fold, FoldReason, MessageLine, OriginKind, SendKind, ServedRequest, Snapshot,
    StartedProcess, Tree, TreeItem,
};

use crate::call;
use crate::text::{count, counted, duration, shorten, VALUE_WIDTH};
use term::Style;

/// The lines of a tree, with the footer when something was folded: each line's text after
/// the guides the store laid out ([`Tree::prefixes`]).
pub fn render(tree: &Tree, snap: &Snapshot) -> Vec<String> {
    let mut styles: Vec<Style> = Vec::new(); // per depth: the style of the call shown there
    let mut lines = Vec::with_capacity(tree.lines.len() + 2);
    if let Some(cause) = &tree.cause {
        lines.push(cause_text(cause));
    }
    for (line, prefix) in tree.lines.iter().zip(tree.prefixes()) {
        let depth = line.depth as usize;
        let text = match &line.item {
            TreeItem::Call(c) => {
                styles.truncate(depth);
                styles.push(call::style(c));
                let pid = (depth == 0).then(|| pid_text(snap, c.pid));
                call::line(c, pid.as_deref())
            }
            TreeItem::Fold(f) => fold_text(f),
            TreeItem::Process(p) => started_text(p),
            TreeItem::Request(r) => request_text(r),
            TreeItem::Message(m) => {
                let style = depth
                    .checked_sub(1)
                    .and_then(|d| styles.get(d))
                    .copied()
                    .unwrap_or(Style::Elixir);
                message_text(m, style)
            }
        };
        lines.push(format!("{prefix}{text}"));
    }
    if (tree.shown as u64) < tree.calls {
        lines.push(format!(
            "{} of {} shown",
            count(tree.shown as u64),
            counted(tree.calls, "call", "calls")
        ));
    }
    lines
}

/// The text of a process: `<0.110.0>`, or `<unknown>`.
pub fn pid_text(snap: &Snapshot, pid: u64) -> String {
    match snap.process(pid) {
        Ok(Some(p)) => p.text,
        _ => "<unknown>".to_string(),
    }
}

/// `⇢ <0.151.0> (task) #57 Shop.Worker.run(3) → :ok (1.2ms)`: a process the parent line's
/// call started (`task`: linked by `$callers`; `spawned`: by `$ancestors`), by its first call.
/// On another node, its name comes first: `⇢ b@host <0.151.0> (task) #7 ...` (the call id is
/// that node's run's).
pub fn started_text(process: &StartedProcess) -> String {
    let how = match process.kind {
        OriginKind::Caller => "task",
        OriginKind::Ancestor => "spawned",
    };
    format!(
        "⇢ {} ({how}) {}",
        process_text(process.node.as_deref(), &process.text),
        call::line(&process.first, None)
    )
}

/// `⇢ <0.160.0> (request) #58 Shop.Inventory.handle_call(…) → …`: a request the parent
/// line's call waited for, by the call of the other process that served it (of another node:
/// `⇢ b@host <0.160.0> (request) ...`).
pub fn request_text(request: &ServedRequest) -> String {
    format!(
        "⇢ {} (request) {}",
        process_text(request.node.as_deref(), &request.text),
        call::line(&request.call, None)
    )
}

/// `→ cast <0.188.0> {:restock, "tea"} ⇢ #27`: a message the parent line's call sent (in
/// `style`, its module's), to whom (a name the process was registered under is followed by
/// the process when it recorded calls; a process of another node follows its node:
/// `b@host <0.93.0>`), and the call that received it, when known (of another node: `⇢ b@host
/// #27`).
pub fn message_text(line: &MessageLine, style: Style) -> String {
    let m = &line.message;
    let how = match m.kind {
        SendKind::SendAfter => format!("send_after {}", duration(m.delay_ms as u64 * 1_000_000)),
        kind => kind.as_str().to_string(),
    };
    let to = target_text(line, style);
    let message = shorten(&term::value(&m.message, style), VALUE_WIDTH);
    match (line.received_by, &line.node) {
        (Some(id), Some(node)) => format!("→ {how} {to} {message} ⇢ {node} #{id}"),
        (Some(id), None) => format!("→ {how} {to} {message} ⇢ #{id}"),
        (None, _) => format!("→ {how} {to} {message}"),
    }
}

/// A message's destination: a pid as `<0.188.0>` (of another node: `b@host <0.93.0>`), a
/// name in `style` followed by the process it named when that is known (`Shop.Inventory
/// (<0.188.0>)`).
pub fn target_text(line: &MessageLine, style: Style) -> String {
    let target = &line.message.target;
    let receiver = line
        .receiver_text
        .as_deref()
        .filter(|text| !store::is_name_text(text))
        .map(|text| process_text(line.node.as_deref(), text));
    match term::decode(target) {
        Ok(eetf::Term::Pid(_)) => receiver.unwrap_or_else(|| term::value(target, Style::Erlang)),
        _ => {
            let name = shorten(&term::value(target, style), VALUE_WIDTH);
            match receiver {
                Some(pid) => format!("{name} ({pid})"),
                None => name,
            }
        }
    }
}

/// `⇠ <0.96.0> (request) #13 Shop.Inventory.reserve("tea", 2) → {:ok, 8} (29µs)`: the call of
/// another process the tree's root came from (`task` and `spawned` as for started processes;
/// of another node: `⇠ a@host <0.96.0> (request) ...`); for a message,
/// `⇠ sent by <0.96.0> (cast) #13 ...`.
pub fn cause_text(cause: &Cause) -> String {
    let by = if matches!(cause.kind, CauseKind::Message(_)) {
        "sent by "
    } else {
        ""
    };
    format!(
        "⇠ {by}{} ({}) {}",
        process_text(cause.node.as_deref(), &cause.text),
        cause_kind(cause.kind),
        call::line(&cause.call, None)
    )
}

/// A process as the tree names it: its pid, after its node's name when it is another node's.
pub fn process_text(node: Option<&str>, text: &str) -> String {
    match node {
        Some(node) => format!("{node} {text}"),
        None => text.to_string(),
    }
}

/// `request`, `task`, `spawned`, or how a message was sent (`cast`, `send`, `send_after`).
pub fn cause_kind(kind: CauseKind) -> &'static str {
    match kind {
        CauseKind::Request => "request",
        CauseKind::Started(OriginKind::Caller) => "task",
        CauseKind::Started(OriginKind::Ancestor) => "spawned",
        CauseKind::Message(how) => how.as_str(),
    }
}

/// `… 9,990 more calls #10..#9999 (19,980 in all): Fixture.Loop.step/1 ×9,990`.
pub fn fold_text(fold: &Fold) -> String {
    let what = match fold.reason {
        FoldReason::Depth => counted(fold.children, "call", "calls"),
        FoldReason::Children | FoldReason::Budget => {
            counted(fold.children, "more call", "more calls")
        }
    };
    let ids = if fold.children == 1 {
        format!("#{}", fold.first)
    } else {
        format!("#{}..#{}", fold.first, fold.last)
    };
    let all = if fold.calls != fold.children {
        format!(" ({} in all)", count(fold.calls))
    } else {
        String::new()
    };
    let mut functions: Vec<String> = fold
        .functions
        .iter()
        .map(|f| {
            format!(
                "{} ×{}",
                Style::of_module(&f.module).mfa(&f.module, &f.function, f.arity),
                count(f.calls)
            )
        })
        .collect();
    if fold.more_functions || fold.sampled {
        functions.push("…".to_string());
    }
    format!("… {what} {ids}{all}: {}", functions.join(", "))
}
