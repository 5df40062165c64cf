//! Call trees: a call and what it called, with long or deep parts folded into counts.
//!
//! [`Snapshot::tree`] picks which calls to show level by level (breadth first, so the top of a
//! large tree is complete before anything deeper is shown), within [`TreeLimits`], and folds the
//! rest: a run of siblings in the middle of a long list of children, the children of a call at
//! the depth limit, and whatever did not fit in the budget of shown calls. Each fold says how
//! many direct children it hides, how many calls in all, and which functions they were.
//!
//! The result is a list of lines in display order (depth first), each a call or a fold with its
//! depth, so that the IEx helpers and the CLI render the same tree without recursion.
//! [`Tree::prefixes`] (or [`tree_prefixes`], from the depths alone) lays them out: the guides
//! drawn before each line's text (`│   │   ├── `), computed here only, so that the CLI and
//! IEx (through the runtime NIF's `tree_prefixes/1`) just put them before their texts.
//!
//! Under each shown call, the tree also names the processes that call started (a Task it ran, a
//! process it spawned that recorded calls of its own): [`TreeItem::Process`], with that
//! process's first recorded call, from which its own tree can be asked for. A process belongs to
//! the innermost call of its origin that was running when its first recorded call started (see
//! [`Snapshot::origin_call`]); at most [`TreeLimits::calls`] of them are looked at per tree.
//!
//! Counting what a fold hides decodes little: within a process calls nest and their ids grow
//! in start order, so the calls under siblings `a..b` are exactly the process's calls with ids in
//! `[a, next sibling)`, which the process index counts per block (only blocks at the range's
//! edges are decoded). A call's children are the calls of its process within its extent whose
//! parent it is, found walking the block heads.

use std::collections::{HashMap, VecDeque};

use redb::TableDefinition;

use crate::error::Result;
use crate::event::{OriginKind, SendKind};
use crate::index::Select;
use crate::model::Call;
use crate::query::Snapshot;
use crate::query_messages::SentMessage;
use crate::segment::{SERVED, STARTED};

/// The most direct children of one folded run whose functions are tallied for its summary.
pub const FOLD_SAMPLE: usize = 10_000;

/// How many functions a fold's summary names (the most frequent first).
pub const FOLD_FUNCTIONS: usize = 3;

/// How much of a tree [`Snapshot::tree`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// Levels shown below the root; the children of a call at this depth are folded.
    pub depth: u32,
    /// Children shown per call. A call with more shows its first `children - children / 5`
    /// and its last `children / 5`, and folds those in between.
    pub children: usize,
    /// Calls shown in all, the root included, handed out level by level.
    pub calls: usize,
}

impl TreeLimits {
    /// What the IEx helpers and the CLI show by default: 8 levels, 10 children per call, 50
    /// calls.
    pub const DEFAULT: TreeLimits = TreeLimits {
        depth: 8,
        children: 10,
        calls: 50,
    };

    /// Everything, up to `calls` calls.
    pub fn everything(calls: usize) -> TreeLimits {
        TreeLimits {
            depth: u32::MAX,
            children: usize::MAX,
            calls,
        }
    }

    /// The children shown at the end of a long list.
    fn tail(&self) -> usize {
        self.children / 5
    }

    /// The children shown at the start of a long list.
    fn head(&self) -> usize {
        self.children - self.tail()
    }
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits::DEFAULT
    }
}

/// A call and what it called, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The lines: the root first (depth 0), each call followed by its children.
    pub lines: Vec<TreeLine>,
    /// Calls in the tree, the root included (shown or folded).
    pub calls: u64,
    /// Calls shown.
    pub shown: usize,
    /// Where the root's work came from, when another process's call caused it.
    pub cause: Option<Cause>,
}

impl Tree {
    /// What each line is drawn after, in order: see [`tree_prefixes`].
    pub fn prefixes(&self) -> Prefixes {
        tree_prefixes(self.lines.iter().map(|line| line.depth))
    }
}

/// The guides drawn before the text of each line of a tree whose lines have these depths
/// (in display order, as [`Tree::lines`]): nothing for the root (depth 0); for a line below
/// it, per ancestor between the root and its parent `│   ` when that ancestor has siblings
/// below it, else four spaces, then `└── ` when the line is the last child of its parent
/// (no line at its depth follows before a shallower one), else `├── `:
///
/// ```text
/// #1 Shop.run()
/// ├── #2 Shop.load()
/// │   └── #3 Shop.read()
/// └── #4 Shop.save()
///     └── #5 Shop.write()
/// ```
///
/// Made one at a time: a deep tree's prefixes are long, and only drawing needs them.
pub fn tree_prefixes(depths: impl IntoIterator<Item = u32>) -> Prefixes {
    let depths: Vec<u32> = depths.into_iter().collect();
    let mut last = vec![true; depths.len()];
    // pending[d]: a line at depth d follows, with nothing shallower in between.
    let mut pending: Vec<bool> = Vec::new();
    for (i, &depth) in depths.iter().enumerate().rev() {
        let depth = depth as usize;
        last[i] = !pending.get(depth).copied().unwrap_or(false);
        pending.resize(depth + 1, false);
        pending[depth] = true;
    }
    Prefixes {
        depths,
        last,
        at: 0,
        open: Vec::new(),
    }
}

/// The prefixes of a tree's lines, in order (see [`tree_prefixes`]).
#[derive(Debug, Clone)]
pub struct Prefixes {
    depths: Vec<u32>,
    /// Per line: whether it is the last child of its parent.
    last: Vec<bool>,
    /// The next line.
    at: usize,
    /// Per depth, for the lines above the next: whether the line last seen at that depth has
    /// siblings below it.
    open: Vec<bool>,
}

impl Iterator for Prefixes {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let depth = *self.depths.get(self.at)? as usize;
        let last = self.last[self.at];
        self.at += 1;
        self.open.truncate(depth);
        let mut prefix = String::new();
        if depth > 0 {
            for &more in self.open.iter().skip(1) {
                prefix.push_str(if more { "│   " } else { "    " });
            }
            prefix.push_str(if last { "└── " } else { "├── " });
        }
        self.open.resize(depth, false);
        self.open.push(!last);
        Some(prefix)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.depths.len() - self.at;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Prefixes {}

/// The call of another process that a call's work came from: the client call that waited for
/// the request it serves, or, for a process's first call, the call that started the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// How the two are linked.
    pub kind: CauseKind,
    /// The causing process's node, when it is not the tree's (see [`crate::Cluster`]).
    pub node: Option<String>,
    /// The causing process's pid as text (as its node prints it).
    pub text: String,
    /// The causing call.
    pub call: Call,
}

/// How a [`Cause`] is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseKind {
    /// The call serves a request of the cause's process (a `handle_call/3`).
    Request,
    /// The call is the first of a process the cause started (`$callers` or `$ancestors`).
    Started(OriginKind),
    /// The call received a message the cause sent (a `handle_cast/2`, `handle_info/2` or
    /// gen_statem event; see [`crate::messages`]).
    Message(SendKind),
}

/// One line of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// 0 for the root, 1 for its children, ...
    pub depth: u32,
    /// What the line shows.
    pub item: TreeItem,
}

/// A call, or calls folded into one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeItem {
    /// A call shown.
    Call(Call),
    /// Calls not shown.
    Fold(Fold),
    /// A process the parent line's call started, shown by its first recorded call.
    Process(StartedProcess),
    /// A request the parent line's call made to another process, shown by the call that
    /// served it.
    Request(ServedRequest),
    /// A message the parent line's call sent.
    Message(MessageLine),
}

/// A message a call sent, with the process and the call that received it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageLine {
    /// The message.
    pub message: SentMessage,
    /// The receiving process's pid as text, when it recorded calls (of another node: as that
    /// node prints it, whether it recorded calls or not). For a message to a name on another
    /// node (`{Name, Node}`), the name's text ([`crate::is_name_text`]) until the runs of a
    /// cluster tell the pid that held it ([`crate::Cluster::tree`]).
    pub receiver_text: Option<String>,
    /// The receiving process's node, when it is not the tree's (see [`crate::Cluster`]).
    pub node: Option<String>,
    /// The call that received it, when it was recorded and matched (of `node`'s run, when
    /// the receiver is another node's).
    pub received_by: Option<u64>,
}

/// A request a call made and waited for: a call of another process that served it (a
/// `handle_call/3` whose `From` named the call's process; see [`crate::Enter::client`]), while
/// the call was the innermost one running in its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    /// The serving process's node, when it is not the tree's (see [`crate::Cluster`]).
    pub node: Option<String>,
    /// The serving process's pid term word (in its node's run).
    pub pid: u64,
    /// Its pid as text (as its node prints it).
    pub text: String,
    /// The call that served the request.
    pub call: Call,
}

/// A process started during a call (its origin, see [`crate::ProcessOrigin`], is the call's
/// process, and the call was the innermost one running when this process's first recorded call
/// started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedProcess {
    /// Its node, when it is not the tree's (see [`crate::Cluster`]).
    pub node: Option<String>,
    /// Its pid term word (in its node's run).
    pub pid: u64,
    /// Its pid as text (as its node prints it).
    pub text: String,
    /// How it is linked: `$callers` (a Task) or `$ancestors` (a spawned or supervised process).
    pub kind: OriginKind,
    /// Its first recorded call.
    pub first: Call,
}

/// Consecutive children of one call, and everything under them, folded into one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Why they were folded.
    pub reason: FoldReason,
    /// The call whose children these are.
    pub parent: u64,
    /// The first folded child.
    pub first: u64,
    /// The last folded child.
    pub last: u64,
    /// Direct children folded.
    pub children: u64,
    /// Calls folded in all: the children and their descendants.
    pub calls: u64,
    /// The functions of the folded children, most frequent first (at most
    /// [`FOLD_FUNCTIONS`], tallied over the first [`FOLD_SAMPLE`]).
    pub functions: Vec<FunctionCount>,
    /// Whether more functions than those listed occur among the tallied children.
    pub more_functions: bool,
    /// Whether only the first [`FOLD_SAMPLE`] children were tallied (`functions` counts those).
    pub sampled: bool,
}

/// Why calls were folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FoldReason {
    /// The middle of a list of children longer than [`TreeLimits::children`].
    Children,
    /// Children of a call at [`TreeLimits::depth`].
    Depth,
    /// The budget of [`TreeLimits::calls`] ran out.
    Budget,
}

impl FoldReason {
    /// `children`, `depth` or `budget`.
    pub fn as_str(self) -> &'static str {
        match self {
            FoldReason::Children => "children",
            FoldReason::Depth => "depth",
            FoldReason::Budget => "budget",
        }
    }
}

/// How often a function occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCount {
    /// The module.
    pub module: String,
    /// The function.
    pub function: String,
    /// The arity.
    pub arity: u8,
    /// How many calls.
    pub calls: u64,
}

/// A call picked to be shown, with what is known of its children.
struct Node {
    call: Call,
    depth: u32,
    /// The id after the last call under it: its next sibling, or its parent's bound.
    bound: u64,
    kids: Vec<Kid>,
}

enum Kid {
    Shown(usize),
    Folded(Fold),
    Started(StartedProcess),
    Request(ServedRequest),
    Message(MessageLine),
}

/// The children of a call as the tree needs them.
enum Children {
    /// Few enough to show them all: every id.
    All(Vec<u64>),
    /// More than [`TreeLimits::children`] (plus one: folding one call saves nothing).
    Long {
        count: u64,
        /// The first ones, shown.
        head: Vec<u64>,
        /// The first folded one.
        first_hidden: u64,
        /// The last ones, shown.
        tail: Vec<u64>,
    },
}

/// A position among a call's children: a child, or the folded middle of a long list.
#[derive(Clone, Copy)]
enum Slot {
    Child(u64),
    Middle { first: u64, count: u64 },
}

impl Slot {
    fn first(self) -> u64 {
        match self {
            Slot::Child(id) | Slot::Middle { first: id, .. } => id,
        }
    }
}

impl Children {
    fn count(&self) -> u64 {
        match self {
            Children::All(ids) => ids.len() as u64,
            Children::Long { count, .. } => *count,
        }
    }

    fn slots(&self) -> Vec<Slot> {
        match self {
            Children::All(ids) => ids.iter().map(|&id| Slot::Child(id)).collect(),
            Children::Long {
                count,
                head,
                first_hidden,
                tail,
            } => {
                let mut slots: Vec<Slot> = head.iter().map(|&id| Slot::Child(id)).collect();
                slots.push(Slot::Middle {
                    first: *first_hidden,
                    count: count - (head.len() + tail.len()) as u64,
                });
                slots.extend(tail.iter().map(|&id| Slot::Child(id)));
                slots
            }
        }
    }
}

/// Where a fold's children are: the first, and the bound of everything under them.
struct Span {
    first: u64,
    bound: u64,
    children: u64,
}

impl Snapshot {
    /// The tree under call `id` within `limits` (see the module documentation), or `None` when
    /// there is no such call.
    pub fn tree(&self, id: u64, limits: &TreeLimits) -> Result<Option<Tree>> {
        let Some(root) = self.call(id)? else {
            return Ok(None);
        };
        // No call shows more children than the whole budget: bounding them by it bounds the
        // ids held per call too.
        let limits = TreeLimits {
            children: limits.children.clamp(1, limits.calls.max(1)),
            calls: limits.calls.max(1),
            ..*limits
        };
        let pid = root.pid;
        let bound = self.subtree_bound(&root)?;
        let calls = 1 + self.count_in_process(pid, id + 1, bound)?;
        let mut nodes = vec![Node {
            call: root,
            depth: 0,
            bound,
            kids: Vec::new(),
        }];
        let mut budget = limits.calls - 1;
        let mut queue = VecDeque::from([0usize]);
        while let Some(at) = queue.pop_front() {
            let (parent, depth, parent_bound) = {
                let n = &nodes[at];
                (n.call.id, n.depth, n.bound)
            };
            let children = self.children_for_tree(parent, pid, parent_bound, &limits)?;
            let count = children.count();
            if count == 0 {
                continue;
            }
            let slots = children.slots();
            if depth >= limits.depth {
                let span = Span {
                    first: slots[0].first(),
                    bound: parent_bound,
                    children: count,
                };
                let fold = self.fold(FoldReason::Depth, pid, parent, span)?;
                nodes[at].kids = vec![Kid::Folded(fold)];
                continue;
            }
            let bound_after = |i: usize| slots.get(i + 1).map_or(parent_bound, |s| s.first());
            let mut kids = Vec::new();
            let mut position = 0u64;
            for (i, slot) in slots.iter().enumerate() {
                match *slot {
                    Slot::Middle { first, count } => {
                        let span = Span {
                            first,
                            bound: bound_after(i),
                            children: count,
                        };
                        kids.push(Kid::Folded(self.fold(
                            FoldReason::Children,
                            pid,
                            parent,
                            span,
                        )?));
                        position += count;
                    }
                    Slot::Child(child) if budget == 0 => {
                        let span = Span {
                            first: child,
                            bound: parent_bound,
                            children: count - position,
                        };
                        kids.push(Kid::Folded(self.fold(
                            FoldReason::Budget,
                            pid,
                            parent,
                            span,
                        )?));
                        break;
                    }
                    Slot::Child(child) => {
                        position += 1;
                        let Some(call) = self.call(child)? else {
                            continue;
                        };
                        budget -= 1;
                        nodes.push(Node {
                            call,
                            depth: depth + 1,
                            bound: bound_after(i),
                            kids: Vec::new(),
                        });
                        kids.push(Kid::Shown(nodes.len() - 1));
                        queue.push_back(nodes.len() - 1);
                    }
                }
            }
            nodes[at].kids = kids;
        }
        self.add_started_processes(&mut nodes, pid, bound, limits.calls)?;
        self.add_served_requests(&mut nodes, pid, bound, limits.calls)?;
        self.add_sent_messages(&mut nodes, bound, limits.calls)?;
        let cause = self.cause(&nodes[0].call)?;
        let mut tree = flatten(nodes, calls);
        tree.cause = cause;
        Ok(Some(tree))
    }

    /// The entries of an index keyed `pid << 64 | call` (`started`, `served`) for `pid` whose
    /// calls started while the tree's root ran (ids from `root` up to its `bound`), at most
    /// `most`, as `(call, value)`.
    fn links_during(
        &self,
        index: TableDefinition<'static, u128, u64>,
        root: u64,
        pid: u64,
        bound: u64,
        most: usize,
    ) -> Result<Vec<(u64, u64)>> {
        self.index
            .links(index, pid, root, bound.saturating_sub(1).max(root), most)
    }

    /// Adds, under each shown call, the processes it started (at most `most` looked at): those
    /// whose origin is `pid` and whose first recorded call came while the tree's root ran.
    fn add_started_processes(
        &self,
        nodes: &mut [Node],
        pid: u64,
        bound: u64,
        most: usize,
    ) -> Result<()> {
        let shown = shown_index(nodes);
        let entries = self.links_during(STARTED, nodes[0].call.id, pid, bound, most)?;
        for (first, child) in entries {
            let Some(origin) = self.origin_call(child)? else {
                continue;
            };
            let Some(&at) = shown.get(&origin.id) else {
                continue;
            };
            let (Some(process), Some(first)) = (self.process(child)?, self.call(first)?) else {
                continue;
            };
            let Some(kind) = process.origin.map(|o| o.kind) else {
                continue;
            };
            nodes[at].kids.push(Kid::Started(StartedProcess {
                node: None,
                pid: child,
                text: process.text,
                kind,
                first,
            }));
        }
        Ok(())
    }

    /// The call of another process that `call`'s work came from (see [`Cause`]).
    pub fn cause(&self, call: &Call) -> Result<Option<Cause>> {
        let text = |pid| -> Result<String> {
            Ok(self
                .process(pid)?
                .map_or_else(|| "<unknown>".to_string(), |p| p.text))
        };
        if let Some(client) = self.index.client_of(call.id)? {
            if let Some(waiting) = self.running_call(client, call)? {
                return Ok(Some(Cause {
                    kind: CauseKind::Request,
                    node: None,
                    text: text(client)?,
                    call: waiting,
                }));
            }
        }
        if let Some((message, sender)) = self.delivered_by(call)? {
            return Ok(Some(Cause {
                kind: CauseKind::Message(message.kind),
                node: None,
                text: text(sender.pid)?,
                call: sender,
            }));
        }
        let Some(process) = self.process(call.pid)? else {
            return Ok(None);
        };
        let (Some(origin), true) = (process.origin, process.first_call == call.id) else {
            return Ok(None);
        };
        // `call` is the process's first call: what `origin_call` would read again.
        Ok(self
            .running_call(origin.pid, call)?
            .map(|origin_call| Cause {
                kind: CauseKind::Started(origin.kind),
                node: None,
                text: origin.text,
                call: origin_call,
            }))
    }

    /// Adds, under each shown call, the requests it waited for (at most `most` looked at):
    /// calls of other processes that served a request of `pid` and started while the tree's
    /// root ran.
    fn add_served_requests(
        &self,
        nodes: &mut [Node],
        pid: u64,
        bound: u64,
        most: usize,
    ) -> Result<()> {
        let shown = shown_index(nodes);
        let entries = self.links_during(SERVED, nodes[0].call.id, pid, bound, most)?;
        for (id, server) in entries {
            let Some(call) = self.call(id)? else {
                continue;
            };
            let Some(waiting) = self.running_call(pid, &call)? else {
                continue;
            };
            let Some(&at) = shown.get(&waiting.id) else {
                continue;
            };
            let text = self
                .process(server)?
                .map_or_else(|| "<unknown>".to_string(), |p| p.text);
            nodes[at].kids.push(Kid::Request(ServedRequest {
                node: None,
                pid: server,
                text,
                call,
            }));
        }
        Ok(())
    }

    /// Adds, under each shown call, the messages it sent (at most `most`), among its children
    /// by time: before the first child shown that started after the message was sent.
    fn add_sent_messages(&self, nodes: &mut [Node], bound: u64, most: usize) -> Result<()> {
        let shown = shown_index(nodes);
        // Per shown call (at most the tree's budget): a range over the whole root's extent
        // would hold every other process's sends of that time too.
        let mut ids: Vec<u64> = shown.keys().copied().filter(|&id| id < bound).collect();
        ids.sort_unstable();
        let mut sent = Vec::new();
        for id in ids {
            if sent.len() >= most {
                break;
            }
            sent.extend(self.sent_by(id)?);
        }
        for message in sent.into_iter().take(most) {
            let at = shown[&message.call_id];
            let (receiver_text, node) = match message.receiver {
                Some(key) if crate::is_remote_key(key) => match self.index.remote_process(key)? {
                    Some(remote) => (Some(remote.text), Some(remote.node)),
                    None => (None, None),
                },
                Some(pid) => (self.process(pid)?.map(|p| p.text), None),
                None => (None, None),
            };
            let received_by = self.received_by(&message)?;
            let time = message.time;
            let kids = &nodes[at].kids;
            let position = kids
                .iter()
                .position(|kid| match kid {
                    Kid::Shown(i) => nodes[*i].call.start > time,
                    Kid::Started(_) | Kid::Request(_) => true,
                    Kid::Folded(_) | Kid::Message(_) => false,
                })
                .unwrap_or(kids.len());
            nodes[at].kids.insert(
                position,
                Kid::Message(MessageLine {
                    message,
                    receiver_text,
                    node,
                    received_by,
                }),
            );
        }
        Ok(())
    }

    /// The children of `parent` (of process `pid`, its calls ending before `bound`) the tree
    /// needs.
    fn children_for_tree(
        &self,
        parent: u64,
        pid: u64,
        bound: u64,
        limits: &TreeLimits,
    ) -> Result<Children> {
        // Enough to show them all when there are few; else the head, the first folded one
        // and the tail.
        let keep = limits.children.saturating_add(1);
        let mut ids = Vec::new();
        let mut tail = VecDeque::with_capacity(limits.tail() + 1);
        let mut count = 0u64;
        for at in self
            .index
            .heads(Select::Pid(pid), parent + 1, bound.saturating_sub(1), true)?
        {
            let at = at?;
            if at.head().parent != parent {
                continue;
            }
            let id = at.head().id;
            if ids.len() < keep {
                ids.push(id);
            }
            if limits.tail() > 0 {
                if tail.len() == limits.tail() {
                    tail.pop_front();
                }
                tail.push_back(id);
            }
            count += 1;
        }
        if count <= keep as u64 {
            return Ok(Children::All(ids));
        }
        let head_len = limits.head();
        let first_hidden = ids[head_len];
        ids.truncate(head_len);
        Ok(Children::Long {
            count,
            head: ids,
            first_hidden,
            tail: tail.into_iter().collect(),
        })
    }

    /// Folds `span.children` children of `parent` from `span.first` on.
    fn fold(&self, reason: FoldReason, pid: u64, parent: u64, span: Span) -> Result<Fold> {
        let calls = self.count_in_process(pid, span.first, span.bound)?;
        let tally = self.tally_children(parent, pid, &span)?;
        Ok(Fold {
            reason,
            parent,
            first: span.first,
            last: tally.last.unwrap_or(span.first),
            children: span.children,
            calls: calls.max(span.children),
            functions: tally.functions,
            more_functions: tally.more,
            sampled: span.children > FOLD_SAMPLE as u64,
        })
    }

    /// The most frequent functions among the `span.children` children of `parent` from
    /// `span.first` on.
    fn tally_children(&self, parent: u64, pid: u64, span: &Span) -> Result<Tally> {
        // (module, function, arity) -> (calls, first id): counted, then ordered.
        let mut tally: HashMap<Mfa, (u64, u64)> = HashMap::new();
        let mut seen = 0u64;
        let mut last = None;
        for at in self.index.heads(
            Select::Pid(pid),
            span.first,
            span.bound.saturating_sub(1),
            true,
        )? {
            let at = at?;
            let head = at.head();
            if head.parent != parent {
                continue;
            }
            seen += 1;
            if seen <= FOLD_SAMPLE as u64 {
                let slot = tally
                    .entry((head.module, head.function, head.arity))
                    .or_insert((0, head.id));
                slot.0 += 1;
            }
            last = Some(head.id);
            if seen >= span.children {
                break;
            }
        }
        let mut counted: Vec<(Mfa, (u64, u64))> = tally.into_iter().collect();
        // Most frequent first; ties in the order they first occur.
        counted.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
        let more = counted.len() > FOLD_FUNCTIONS;
        let mut functions = Vec::new();
        for ((module, function, arity), (n, _)) in counted.into_iter().take(FOLD_FUNCTIONS) {
            functions.push(FunctionCount {
                module: self.index.atom(module),
                function: self.index.atom(function),
                arity,
                calls: n,
            });
        }
        Ok(Tally {
            functions,
            more,
            last,
        })
    }

    /// How many calls process `pid` made with ids in `[from, to)`.
    pub(crate) fn count_in_process(&self, pid: u64, from: u64, to: u64) -> Result<u64> {
        if to <= from {
            return Ok(0);
        }
        self.index.count(Select::Pid(pid), from, to - 1)
    }

    /// The id after the last call under `root`: the first call of its process that started
    /// after it ended (when its end was not captured: after every later call of the process).
    fn subtree_bound(&self, root: &Call) -> Result<u64> {
        match self.index.locate(root.id)? {
            Some(at) => self.subtree_bound_of(&at),
            None => Ok(root.id + 1),
        }
    }
}

/// Interned module and function, and the arity.
type Mfa = (u32, u32, u8);

/// What [`Snapshot::tally_children`] found.
#[derive(Default)]
struct Tally {
    functions: Vec<FunctionCount>,
    more: bool,
    last: Option<u64>,
}

/// Where each shown call is in `nodes`, by id.
fn shown_index(nodes: &[Node]) -> HashMap<u64, usize> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.call.id, i))
        .collect()
}

/// The picked calls in display order: each call, then its children.
fn flatten(nodes: Vec<Node>, calls: u64) -> Tree {
    let shown = nodes.len();
    let mut nodes: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let mut lines = Vec::new();
    let mut stack = vec![(Kid::Shown(0), 0u32)];
    while let Some((kid, depth)) = stack.pop() {
        match kid {
            Kid::Shown(i) => {
                let Some(node) = nodes.get_mut(i).and_then(Option::take) else {
                    continue;
                };
                lines.push(TreeLine {
                    depth: node.depth,
                    item: TreeItem::Call(node.call),
                });
                for kid in node.kids.into_iter().rev() {
                    stack.push((kid, node.depth + 1));
                }
            }
            Kid::Folded(fold) => lines.push(TreeLine {
                depth,
                item: TreeItem::Fold(fold),
            }),
            Kid::Started(process) => lines.push(TreeLine {
                depth,
                item: TreeItem::Process(process),
            }),
            Kid::Request(request) => lines.push(TreeLine {
                depth,
                item: TreeItem::Request(request),
            }),
            Kid::Message(message) => lines.push(TreeLine {
                depth,
                item: TreeItem::Message(message),
            }),
        }
    }
    Tree {
        lines,
        calls,
        shown,
        cause: None,
    }
}
