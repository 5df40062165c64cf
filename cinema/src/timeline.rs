//! A run's calls as lanes of slices in memory, answering "what is in this window at this
//! pixel width" fast enough to zoom and pan through millions of calls.
//!
//! Built once per run from [`store::Snapshot::scan_heads`] (heads only, no value decoded) and
//! extended with the calls a live run sealed since. One lane per process, in the order of
//! their first calls; a lane's slots are its calls in id order (which, within a process, is
//! start order), each with its depth in the process's stack. Two indexes serve the window
//! query ([`Timeline::window`]) without looking at calls narrower than a pixel:
//!
//! - **by duration**: a lane's slots bucketed by `floor(log2(duration))`, each bucket in start
//!   order. Calls at least a pixel wide are in the buckets of durations of at least a pixel,
//!   and a call of bucket `k` that overlaps the window started less than `2^(k+1)` ns before
//!   it: each bucket is a binary search and a walk over what it returns (plus a few calls of
//!   the pixel's own bucket that are narrower and skipped).
//! - **busy spans**: the lane's top-level calls merged into spans, kept at coarser and
//!   coarser resolutions (gaps under 4, 16, 64, ... ns joined; a level is kept when it is at
//!   least a quarter smaller than the last one kept). The window takes the coarsest level
//!   whose gaps are under [`BUSY_JOIN_PX`] pixels and joins what is closer than that, so the
//!   rest of a lane's activity reads as merged "busy" spans whatever the number of calls
//!   under them (at most a fourth of the window's width per lane).
//!
//! Exceptions narrower than a pixel come back as marks; process starts (Tasks, spawned
//! processes), requests (a `GenServer.call` served by another process) and messages (a send
//! and the callback that received it) as links between lanes.

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use store::{CallHead, OriginKind, Snapshot, StoreReader};
use term::Style;

use crate::error::CinemaError;

/// The most slices one window returns; past it the narrowest are dropped (`truncated`).
pub const MAX_SLICES: usize = 40_000;

/// The most exception marks and links one window returns.
pub const MAX_MARKS: usize = 2_000;

/// Busy spans closer than this many pixels are joined: a lane that is busy every other pixel
/// reads as busy, and a window's busy spans stay under a fourth of its width per lane.
pub const BUSY_JOIN_PX: u64 = 3;

/// A slot's flags.
const RAISED: u8 = 1;
/// The call had not ended when the timeline last looked.
const RUNNING: u8 = 2;

/// The end of a call that has not ended.
pub(crate) const OPEN: u64 = u64::MAX;

/// One call in a lane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// The call's id.
    pub(crate) id: u64,
    /// When it started (monotonic ns).
    pub(crate) start: u64,
    /// When it ended ([`OPEN`] while it runs).
    pub(crate) end: u64,
    /// Its function (an index of [`Timeline::function_parts`]).
    pub(crate) function: u32,
    /// Its depth in the process's stack.
    pub(crate) depth: u16,
    flags: u8,
}

/// A resolution of a lane's busy spans.
#[derive(Debug, Clone)]
struct BusyLevel {
    /// Gaps under this many ns are joined.
    gap: u64,
    /// Disjoint spans in time order.
    spans: Vec<(u64, u64)>,
}

/// One process's calls.
#[derive(Debug)]
pub(crate) struct Lane {
    /// The pid's text.
    pub(crate) text: String,
    /// Where the process came from: its origin's pid text and word, and the link's kind.
    origin: Option<(String, u64, &'static str)>,
    /// Its calls in id (start) order.
    pub(crate) slots: Vec<Slot>,
    /// How many of its calls that were running have ended since it was built: what the
    /// indexes built over its slots compare to know they are stale.
    pub(crate) ended: u64,
    /// Slot positions by duration bucket, each in start order.
    by_duration: Vec<Vec<u32>>,
    /// Positions of slots still running.
    running: Vec<u32>,
    /// Positions of slots that raised, in start order.
    raised: Vec<u32>,
    /// Busy spans, finest first; rebuilt when the lane grew.
    busy: Vec<BusyLevel>,
    busy_stale: bool,
    /// Open calls (id) while building depths.
    stack: Vec<u64>,
    max_depth: u16,
}

/// What one lane shows of a window, before it becomes JSON.
struct LaneWindow {
    lane: usize,
    slices: Vec<Slot>,
    busy: Vec<(u64, u64)>,
    marks: Vec<(u64, u64)>,
}

/// A link between lanes: a process started, a request served, or a message received.
#[derive(Debug, Clone, Copy)]
struct Link {
    time: u64,
    from: u32,
    to: u32,
    /// The call at the link's end (a process's first call, the serving call).
    call: u64,
    kind: &'static str,
}

/// A function as the run's atoms name it: module, function, arity.
#[derive(Debug, Clone)]
pub(crate) struct FunctionParts {
    /// The module's atom.
    pub(crate) module: String,
    /// The function's name.
    pub(crate) function: String,
    /// Its arity.
    pub(crate) arity: u8,
}

/// What a lane's process is, as far as its calls and the processes it started tell (see
/// [`Timeline::overview`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Role {
    /// `application`, `supervisor`, `server`, `task` or `process`.
    kind: &'static str,
    /// The module it runs (`Shop.Stock`), a Task's first function.
    name: Option<String>,
}

/// A run's timeline (see the module documentation).
#[derive(Debug)]
pub struct Timeline {
    run: u64,
    origin: u64,
    last_id: u64,
    last_time: u64,
    calls: u64,
    functions: Vec<String>,
    /// Each function's module, name and arity (indexed like `functions`).
    pub(crate) function_parts: Vec<FunctionParts>,
    function_ids: HashMap<(u32, u32, u8), u32>,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) lane_of: HashMap<u64, u32>,
    links: Vec<Link>,
    /// Each lane's links as their cause (`from`), positions in `links` (time order).
    links_from: Vec<Vec<u32>>,
    links_stale: bool,
    /// Each lane's place in display order: a process right under the one it came from.
    order: Vec<u32>,
    /// Each lane's nesting in that order (0 for a process whose origin recorded nothing).
    level: Vec<u16>,
    /// The lane each lane is shown under.
    parent: Vec<Option<u32>>,
    /// What each lane's process is.
    roles: Vec<Role>,
    /// The behaviour callbacks of lanes asked about (built on first use, `crate::states`).
    pub(crate) callbacks: HashMap<u32, crate::states::LaneCallbacks>,
}

fn bucket(duration: u64) -> usize {
    63 - duration.max(1).leading_zeros() as usize
}

impl Timeline {
    /// The timeline of the snapshot's run, read whole.
    pub fn build(snap: &Snapshot) -> Result<Timeline, CinemaError> {
        let mut t = Timeline {
            run: snap.run().id,
            origin: snap.run().info.monotonic_origin_ns,
            last_id: 0,
            last_time: snap.run().info.monotonic_origin_ns,
            calls: 0,
            functions: Vec::new(),
            function_parts: Vec::new(),
            function_ids: HashMap::default(),
            lanes: Vec::new(),
            lane_of: HashMap::default(),
            links: Vec::new(),
            links_from: Vec::new(),
            links_stale: true,
            order: Vec::new(),
            level: Vec::new(),
            parent: Vec::new(),
            roles: Vec::new(),
            callbacks: HashMap::default(),
        };
        t.extend(snap)?;
        Ok(t)
    }

    /// Adds the calls the snapshot holds beyond those already read, and the ends of calls that
    /// were running.
    pub fn extend(&mut self, snap: &Snapshot) -> Result<(), CinemaError> {
        let mut processes: HashMap<u64, store::Process> = HashMap::default();
        let known = self.lanes.len();
        // Calls that were running may have ended since.
        for lane in 0..self.lanes.len() {
            let running = std::mem::take(&mut self.lanes[lane].running);
            for pos in running {
                let slot = self.lanes[lane].slots[pos as usize];
                match snap.call(slot.id)? {
                    Some(call) if call.end.is_some() => {
                        let end = call.end.as_ref().map_or(slot.end, |e| e.time);
                        self.lanes[lane].ended += 1;
                        let s = &mut self.lanes[lane].slots[pos as usize];
                        s.end = end;
                        s.flags &= !RUNNING;
                        if call.exception().is_some() {
                            s.flags |= RAISED;
                            let raised = &mut self.lanes[lane].raised;
                            let at = raised.partition_point(|&p| p < pos);
                            raised.insert(at, pos);
                        }
                        self.last_time = self.last_time.max(end);
                        let l = &mut self.lanes[lane];
                        let b = bucket(end.saturating_sub(slot.start));
                        let list = &mut l.by_duration[b];
                        let at = list.partition_point(|&p| p < pos);
                        list.insert(at, pos);
                        l.busy_stale = true;
                    }
                    _ => self.lanes[lane].running.push(pos),
                }
            }
        }
        let from = self.last_id + 1;
        let mut grew = false;
        snap.scan_heads(from, None, |span| {
            grew = true;
            self.add(snap, span, &mut processes);
            Ok(true)
        })?;
        if grew || self.lanes.len() != known {
            self.links_stale = true;
        }
        if self.links_stale {
            self.rebuild_links(snap)?;
        }
        Ok(())
    }

    fn add(
        &mut self,
        snap: &Snapshot,
        span: &CallHead,
        processes: &mut HashMap<u64, store::Process>,
    ) {
        self.last_id = self.last_id.max(span.id);
        self.calls += 1;
        let key = (span.module, span.function, span.arity);
        let function = match self.function_ids.get(&key) {
            Some(&f) => f,
            None => {
                let module = snap.atom_text(span.module);
                let function = snap.atom_text(span.function);
                let name = Style::of_module(&module).mfa(&module, &function, span.arity);
                let f = self.functions.len() as u32;
                self.functions.push(name);
                self.function_parts.push(FunctionParts {
                    module,
                    function,
                    arity: span.arity,
                });
                self.function_ids.insert(key, f);
                f
            }
        };
        let lane = match self.lane_of.get(&span.pid) {
            Some(&l) => l as usize,
            None => {
                if processes.is_empty() {
                    if let Ok(all) = snap.processes() {
                        processes.extend(all.into_iter().map(|p| (p.pid, p)));
                    }
                }
                let process = processes.get(&span.pid);
                let l = self.lanes.len();
                self.lanes.push(Lane {
                    text: process.map_or_else(|| format!("pid {}", span.pid), |p| p.text.clone()),
                    origin: process.and_then(|p| p.origin.as_ref()).map(|o| {
                        (
                            o.text.clone(),
                            o.pid,
                            match o.kind {
                                OriginKind::Caller => "task",
                                OriginKind::Ancestor => "spawned",
                            },
                        )
                    }),
                    slots: Vec::new(),
                    ended: 0,
                    by_duration: vec![Vec::new(); 64],
                    running: Vec::new(),
                    raised: Vec::new(),
                    busy: Vec::new(),
                    busy_stale: true,
                    stack: Vec::new(),
                    max_depth: 0,
                });
                self.lane_of.insert(span.pid, l as u32);
                l
            }
        };
        let lane = &mut self.lanes[lane];
        match span.parent {
            None => lane.stack.clear(),
            Some(parent) => {
                while lane.stack.last().is_some_and(|&top| top != parent) {
                    lane.stack.pop();
                }
            }
        }
        let depth = lane.stack.len().min(u16::MAX as usize) as u16;
        lane.stack.push(span.id);
        lane.max_depth = lane.max_depth.max(depth);
        let pos = lane.slots.len() as u32;
        let mut flags = 0;
        if span.raised() {
            flags |= RAISED;
            lane.raised.push(pos);
        }
        let end = match span.end_time() {
            Some(end) => {
                lane.by_duration[bucket(end.saturating_sub(span.start))].push(pos);
                self.last_time = self.last_time.max(end);
                end
            }
            None => {
                flags |= RUNNING;
                lane.running.push(pos);
                OPEN
            }
        };
        self.last_time = self.last_time.max(span.start);
        lane.slots.push(Slot {
            id: span.id,
            start: span.start,
            end,
            function,
            depth,
            flags,
        });
        lane.busy_stale = true;
    }

    fn rebuild_links(&mut self, snap: &Snapshot) -> Result<(), CinemaError> {
        let mut links = Vec::new();
        for (l, lane) in self.lanes.iter().enumerate() {
            let (Some((_, origin, kind)), Some(first)) = (&lane.origin, lane.slots.first()) else {
                continue;
            };
            if let Some(&from) = self.lane_of.get(origin) {
                links.push(Link {
                    time: first.start,
                    from,
                    to: l as u32,
                    call: first.id,
                    kind,
                });
            }
        }
        self.group_lanes();
        snap.scan_requests(|client, call, server| {
            if let (Some(&from), Some(&to)) = (self.lane_of.get(&client), self.lane_of.get(&server))
            {
                let slots = &self.lanes[to as usize].slots;
                let at = slots.partition_point(|s| s.id < call);
                if let Some(slot) = slots.get(at).filter(|s| s.id == call) {
                    links.push(Link {
                        time: slot.start,
                        from,
                        to,
                        call,
                        kind: "request",
                    });
                }
            }
            Ok(true)
        })?;
        self.message_links(snap, &mut links)?;
        links.sort_by_key(|l| l.time);
        let mut links_from = vec![Vec::new(); self.lanes.len()];
        for (i, link) in links.iter().enumerate() {
            links_from[link.from as usize].push(i as u32);
        }
        self.links = links;
        self.links_from = links_from;
        self.links_stale = false;
        Ok(())
    }

    /// Adds a link for every message whose receipt was recorded: from the sending call's lane
    /// (found by walking the lanes' calls once, only when there are messages) to the
    /// receiving call, at the time it was sent.
    fn message_links(&self, snap: &Snapshot, links: &mut Vec<Link>) -> Result<(), CinemaError> {
        let mut messages = Vec::new();
        snap.scan_messages(|m| {
            messages.push(m);
            Ok(true)
        })?;
        if messages.is_empty() {
            return Ok(());
        }
        let mut sender_lane: HashMap<u64, u32> =
            messages.iter().map(|m| (m.sender, u32::MAX)).collect();
        for (l, lane) in self.lanes.iter().enumerate() {
            for slot in &lane.slots {
                if let Some(at) = sender_lane.get_mut(&slot.id) {
                    *at = l as u32;
                }
            }
        }
        for m in messages {
            let from = sender_lane
                .get(&m.sender)
                .copied()
                .filter(|&l| l != u32::MAX);
            if let (Some(from), Some(&to)) = (from, self.lane_of.get(&m.receiver)) {
                links.push(Link {
                    time: m.sent,
                    from,
                    to,
                    call: m.receipt,
                    kind: "message",
                });
            }
        }
        Ok(())
    }

    /// Orders lanes so that each process comes right under the process it came from (a
    /// supervisor's children under it, a Task under its caller), roots in the order of their
    /// first calls, and tells what each process is ([`Timeline::role`]).
    fn group_lanes(&mut self) {
        let n = self.lanes.len();
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut is_root = vec![true; n];
        let mut supervises = vec![false; n];
        self.parent = vec![None; n];
        for (l, lane) in self.lanes.iter().enumerate() {
            if let Some((&parent, kind)) = lane
                .origin
                .as_ref()
                .and_then(|(_, pid, kind)| self.lane_of.get(pid).map(|p| (p, *kind)))
            {
                if parent as usize != l {
                    children[parent as usize].push(l as u32);
                    is_root[l] = false;
                    self.parent[l] = Some(parent);
                    supervises[parent as usize] |= kind == "spawned";
                }
            }
        }
        self.roles = (0..n).map(|l| self.role(l, supervises[l])).collect();
        self.order = vec![u32::MAX; n];
        self.level = vec![0; n];
        let mut next = 0u32;
        let mut stack: Vec<(u32, u16)> = Vec::new();
        // Roots first; then whatever a cycle of origins left unplaced.
        let starts: Vec<u32> = (0..n as u32)
            .filter(|&l| is_root[l as usize])
            .chain(0..n as u32)
            .collect();
        for start in starts {
            if self.order[start as usize] != u32::MAX {
                continue;
            }
            stack.push((start, 0));
            while let Some((l, level)) = stack.pop() {
                if self.order[l as usize] != u32::MAX {
                    continue;
                }
                self.order[l as usize] = next;
                self.level[l as usize] = level;
                next += 1;
                for &c in children[l as usize].iter().rev() {
                    stack.push((c, level.saturating_add(1)));
                }
            }
        }
    }

    /// What a lane's process is, from its first call and the processes it started (nothing
    /// else is recorded of a process than its pid and where it came from):
    /// - `application`: it started processes (`$ancestors`) and its first call is a
    ///   `start/2` (an `Application` callback: the application master's process runs it);
    /// - `supervisor`: it started processes and its first call is its module's `init/1`, or
    ///   a start function (`start_link`, ...: its first child's, when the supervisor's own
    ///   module was not rewritten);
    /// - `server`: its first call is an `init/1` (a GenServer, gen_statem, ...);
    /// - `task`: it came from a Task (`$callers`);
    /// - `process`: anything else.
    fn role(&self, lane: usize, supervises: bool) -> Role {
        let l = &self.lanes[lane];
        let first = l
            .slots
            .first()
            .and_then(|s| self.function_parts.get(s.function as usize));
        let module = |f: &FunctionParts| Style::of_module(&f.module).module(&f.module);
        let is =
            |name: &str, arity: u8| first.is_some_and(|f| f.function == name && f.arity == arity);
        if supervises && is("start", 2) {
            return Role {
                kind: "application",
                name: first.map(module),
            };
        }
        // A supervisor runs its module's init/1 first, or (a supervisor whose module was not
        // rewritten: DynamicSupervisor, Task.Supervisor) its first child's start function.
        let starts = first.is_some_and(|f| f.function.starts_with("start"));
        if supervises && (is("init", 1) || starts) {
            return Role {
                kind: "supervisor",
                name: first.filter(|_| is("init", 1)).map(module),
            };
        }
        if is("init", 1) {
            return Role {
                kind: "server",
                name: first.map(module),
            };
        }
        if l.origin
            .as_ref()
            .is_some_and(|(_, _, kind)| *kind == "task")
        {
            return Role {
                kind: "task",
                name: l
                    .slots
                    .first()
                    .and_then(|s| self.functions.get(s.function as usize))
                    .cloned(),
            };
        }
        Role {
            kind: "process",
            name: None,
        }
    }

    fn display(&self, lane: usize) -> (u32, u16) {
        (
            self.order.get(lane).copied().unwrap_or(lane as u32),
            self.level.get(lane).copied().unwrap_or(0),
        )
    }

    /// The largest call id read.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// The calls read.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The run's extent in ns from its start: the latest start or end seen.
    pub fn extent_ns(&self) -> u64 {
        self.last_time.saturating_sub(self.origin)
    }

    /// When the first call started, in ns from the run's start (0 without calls).
    pub fn first_ns(&self) -> u64 {
        self.lanes
            .iter()
            .filter_map(|l| l.slots.first())
            .map(|s| s.start.saturating_sub(self.origin))
            .min()
            .unwrap_or(0)
    }

    /// A lane's role as JSON fields: `role` and `name` (see [`Timeline::role`]).
    fn role_json(&self, lane: usize) -> (Value, Value) {
        match self.roles.get(lane) {
            Some(r) => (json!(r.kind), json!(r.name)),
            None => (json!("process"), Value::Null),
        }
    }

    /// The run and the extent of its timeline (from its start, and from its first call), and
    /// its lanes in display order: pid, what the process is (`role`: `application`,
    /// `supervisor`, `server`, `task`, `process`; `name`: the module it runs), where it came
    /// from, the lane it is shown under (`parent`), calls, depth.
    pub fn overview(&self) -> Value {
        let mut lanes: Vec<usize> = (0..self.lanes.len()).collect();
        lanes.sort_by_key(|&l| self.display(l).0);
        json!({
            "run": self.run,
            "calls": self.calls,
            "first_ns": self.first_ns(),
            "extent_ns": self.extent_ns(),
            "lanes": lanes.into_iter().map(|i| {
                let l = &self.lanes[i];
                let (role, name) = self.role_json(i);
                json!({
                    "lane": i,
                    "level": self.display(i).1,
                    "parent": self.parent.get(i).copied().flatten(),
                    "role": role,
                    "name": name,
                    "pid": l.text,
                    "origin": l.origin.as_ref().map(|(pid, _, kind)| json!({"pid": pid, "kind": kind})),
                    "calls": l.slots.len(),
                    "depth": l.max_depth + 1,
                })
            }).collect::<Vec<_>>(),
        })
    }

    /// What to draw of `[from, to]` (ns from the run's start) at `width` pixels: per lane the
    /// calls at least a pixel wide (`slices`: `[start, duration, depth, id, function, flags]`,
    /// flags 1 raised, 2 running), merged busy spans for the rest (`busy_px`: pixel columns
    /// from `from`, flat `[first, last, ...]`),
    /// exceptions narrower than a pixel (`marks`: `[time, id]`); links between lanes; the
    /// names of the functions the slices use.
    pub fn window(&mut self, from: u64, to: u64, width: u32) -> Value {
        let to = to.max(from + 1);
        let ns_per_px = ((to - from) / u64::from(width.max(1))).max(1);
        let (abs_from, abs_to) = (self.origin + from, self.origin.saturating_add(to));
        let last_time = self.last_time;
        let mut out_lanes = Vec::new();
        let mut used: std::collections::HashSet<u32> = std::collections::HashSet::new();
        let mut total = 0usize;
        let mut collected: Vec<LaneWindow> = Vec::new();
        for (l, lane) in self.lanes.iter_mut().enumerate() {
            if lane.busy_stale {
                lane.busy = busy_levels(lane);
                lane.busy_stale = false;
            }
            let slices = lane.slices(abs_from, abs_to, ns_per_px, last_time);
            let busy = lane.busy_in(abs_from, abs_to, ns_per_px);
            let marks = lane.marks(abs_from, abs_to, ns_per_px);
            if slices.is_empty() && busy.is_empty() && marks.is_empty() {
                continue;
            }
            total += slices.len();
            collected.push(LaneWindow {
                lane: l,
                slices,
                busy,
                marks,
            });
        }
        // The lanes shown lanes are grouped under (their supervisor, application, caller)
        // come too, empty if nothing of theirs is in the window: the grouping stays visible.
        let mut shown: std::collections::HashSet<usize> =
            collected.iter().map(|w| w.lane).collect();
        for i in 0..collected.len() {
            let mut at = collected[i].lane;
            while let Some(parent) = self.parent.get(at).copied().flatten() {
                let parent = parent as usize;
                if !shown.insert(parent) {
                    break;
                }
                collected.push(LaneWindow {
                    lane: parent,
                    slices: Vec::new(),
                    busy: Vec::new(),
                    marks: Vec::new(),
                });
                at = parent;
            }
        }
        collected.sort_by_key(|w| self.display(w.lane).0);
        let mut truncated = false;
        if total > MAX_SLICES {
            // Keep the widest.
            let mut widths: Vec<u64> = collected
                .iter()
                .flat_map(|w| w.slices.iter().map(|s| s.end.min(last_time) - s.start))
                .collect();
            widths.sort_unstable_by(|a, b| b.cmp(a));
            let cut = widths[MAX_SLICES - 1];
            let mut kept = 0;
            for w in &mut collected {
                w.slices.retain(|s| {
                    let keep = s.end.min(last_time) - s.start > cut
                        || (s.end.min(last_time) - s.start == cut && kept < MAX_SLICES);
                    kept += usize::from(keep);
                    keep
                });
            }
            truncated = true;
        }
        let origin = self.origin;
        for LaneWindow {
            lane: l,
            slices,
            busy,
            marks,
        } in collected
        {
            let lane = &self.lanes[l];
            let (role, name) = self.role_json(l);
            let mut depth = 0;
            let slices: Vec<Value> = slices
                .iter()
                .map(|s| {
                    used.insert(s.function);
                    depth = depth.max(s.depth);
                    let end = if s.end == OPEN { last_time } else { s.end };
                    json!([
                        s.start - origin,
                        end - s.start,
                        s.depth,
                        s.id,
                        s.function,
                        s.flags
                    ])
                })
                .collect();
            out_lanes.push(json!({
                "lane": l,
                "level": self.display(l).1,
                "parent": self.parent.get(l).copied().flatten(),
                "role": role,
                "name": name,
                "pid": lane.text,
                "depth": depth + 1,
                "slices": slices,
                "busy_px": busy_pixels(&busy, abs_from, ns_per_px),
                "marks": marks.iter().map(|(t, id)| json!([t - origin, id])).collect::<Vec<_>>(),
            }));
        }
        let first_link = self.links.partition_point(|k| k.time < abs_from);
        let links: Vec<Value> = self.links[first_link..]
            .iter()
            .take_while(|k| k.time <= abs_to)
            .take(MAX_MARKS)
            .map(|k| json!({"time": k.time - origin, "from": k.from, "to": k.to, "call": k.call, "kind": k.kind}))
            .collect();
        let functions: serde_json::Map<String, Value> = used
            .iter()
            .map(|&f| (f.to_string(), json!(self.functions[f as usize])))
            .collect();
        json!({
            "from": from,
            "to": to,
            "ns_per_px": ns_per_px,
            "extent_ns": self.extent_ns(),
            "lanes": out_lanes,
            "links": links,
            "functions": functions,
            "truncated": truncated,
        })
    }

    /// The calls around `id` in its process, by time: the previous and next call, the first
    /// child (the next call, when it started inside this one one level down).
    pub fn neighbours(&self, pid: u64, id: u64) -> Option<Value> {
        let lane = &self.lanes[*self.lane_of.get(&pid)? as usize];
        let at = lane.slots.partition_point(|s| s.id < id);
        let slot = lane.slots.get(at).filter(|s| s.id == id)?;
        let next = lane.slots.get(at + 1);
        let first_child = next.filter(|n| n.depth == slot.depth + 1 && n.start <= slot.end);
        Some(json!({
            "prev": at.checked_sub(1).map(|p| lane.slots[p].id),
            "next": next.map(|n| n.id),
            "first_child": first_child.map(|n| n.id),
            "depth": slot.depth,
            "lane": self.lane_of[&pid],
        }))
    }

    /// What the call `id` of process `pid` caused while it ran (it, or a call under it): the
    /// processes started (a Task's first call, a spawned or supervised process's) and the
    /// requests served for it (the `handle_call` that served a `GenServer.call` it waited
    /// in), in time order: at most `limit`, and how many in all. `None` when the timeline
    /// holds no such call.
    pub fn caused(&self, pid: u64, id: u64, limit: usize) -> Option<(Vec<CausedLink>, usize)> {
        let l = *self.lane_of.get(&pid)? as usize;
        let lane = &self.lanes[l];
        let at = lane.slots.partition_point(|s| s.id < id);
        let slot = lane.slots.get(at).filter(|s| s.id == id)?;
        let end = if slot.end == OPEN {
            self.last_time
        } else {
            slot.end
        };
        let from = self.links_from.get(l).map_or(&[][..], |v| &v[..]);
        let first = from.partition_point(|&i| self.links[i as usize].time < slot.start);
        let last = from.partition_point(|&i| self.links[i as usize].time <= end);
        let links = from[first..last.max(first)]
            .iter()
            .take(limit)
            .map(|&i| {
                let link = &self.links[i as usize];
                CausedLink {
                    kind: link.kind,
                    at_ns: link.time.saturating_sub(self.origin),
                    pid: self.lanes[link.to as usize].text.clone(),
                    call: link.call,
                }
            })
            .collect();
        Some((links, last.saturating_sub(first)))
    }
}

/// A process a call started or a request it made (see [`Timeline::caused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausedLink {
    /// `task`, `spawned` (a process started: its first call), `request` (the call that
    /// served it) or `message` (the call that received it).
    pub kind: &'static str,
    /// When the link's call started, ns from the run's start.
    pub at_ns: u64,
    /// The other process's pid.
    pub pid: String,
    /// The call at the link's other end: the process's first call, the serving call.
    pub call: u64,
}

impl Lane {
    fn slices(&self, from: u64, to: u64, ns_per_px: u64, last_time: u64) -> Vec<Slot> {
        let mut out = Vec::new();
        for (k, list) in self.by_duration.iter().enumerate() {
            if list.is_empty() || k < 63 && (1u64 << (k + 1)) <= ns_per_px {
                continue;
            }
            let longest = if k >= 63 { u64::MAX } else { 1u64 << (k + 1) };
            let earliest = from.saturating_sub(longest);
            let first = list.partition_point(|&p| self.slots[p as usize].start < earliest);
            for &p in &list[first..] {
                let s = self.slots[p as usize];
                if s.start > to {
                    break;
                }
                if s.end >= from && s.end - s.start >= ns_per_px {
                    out.push(s);
                }
            }
        }
        for &p in &self.running {
            let s = self.slots[p as usize];
            if s.start <= to && last_time.saturating_sub(s.start) >= ns_per_px {
                out.push(s);
            }
        }
        out.sort_unstable_by_key(|s| s.id);
        out
    }

    fn busy_in(&self, from: u64, to: u64, ns_per_px: u64) -> Vec<(u64, u64)> {
        let join = BUSY_JOIN_PX * ns_per_px;
        let Some(level) = self.busy.iter().rev().find(|b| b.gap <= join) else {
            return Vec::new();
        };
        let spans = &level.spans;
        let first = spans.partition_point(|&(_, end)| end < from);
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &(a, b) in &spans[first..] {
            if a > to {
                break;
            }
            match out.last_mut() {
                Some(last) if a.saturating_sub(last.1) < join => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        out
    }

    fn marks(&self, from: u64, to: u64, ns_per_px: u64) -> Vec<(u64, u64)> {
        let first = self
            .raised
            .partition_point(|&p| self.slots[p as usize].start < from);
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &p in &self.raised[first..] {
            let s = self.slots[p as usize];
            if s.start > to || out.len() >= MAX_MARKS {
                break;
            }
            if s.end != OPEN && s.end - s.start >= ns_per_px {
                continue; // drawn as a slice
            }
            if out.last().is_some_and(|&(t, _)| s.start - t < ns_per_px) {
                continue;
            }
            out.push((s.start, s.id));
        }
        out
    }
}

/// Busy spans as pixel columns of the window, flat: `[first, last, first, last, ...]`
/// (inclusive), spans that meet in a pixel joined. Pixels are what is drawn, and their
/// numbers are short: a window's answer stays small when lanes are busy every few pixels.
fn busy_pixels(spans: &[(u64, u64)], from: u64, ns_per_px: u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(spans.len() * 2);
    for &(a, b) in spans {
        let first = a.saturating_sub(from) / ns_per_px;
        let last = b.saturating_sub(from) / ns_per_px;
        match out.len() {
            n if n >= 2 && out[n - 1] + 1 >= first => out[n - 1] = out[n - 1].max(last),
            _ => out.extend([first, last]),
        }
    }
    out
}

/// A lane's busy spans at each kept resolution (see the module documentation).
fn busy_levels(lane: &Lane) -> Vec<BusyLevel> {
    let mut base: Vec<(u64, u64)> = Vec::new();
    for s in lane.slots.iter().filter(|s| s.depth == 0) {
        let end = if s.end == OPEN { s.start } else { s.end };
        match base.last_mut() {
            Some(last) if s.start <= last.1 => last.1 = last.1.max(end),
            _ => base.push((s.start, end)),
        }
    }
    let mut levels = vec![BusyLevel {
        gap: 0,
        spans: base,
    }];
    let mut gap = 4u64;
    while gap < (1 << 40) {
        let last = levels.last().map_or(&[][..], |l| &l.spans[..]);
        if last.len() <= 1 {
            break;
        }
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(last.len() / 2);
        for &(a, b) in last {
            match merged.last_mut() {
                Some(m) if a.saturating_sub(m.1) < gap => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if merged.len() * 4 <= last.len() * 3 {
            levels.push(BusyLevel { gap, spans: merged });
        }
        gap *= 4;
    }
    levels
}

/// One run's timeline, built once and extended as a live run seals more.
#[derive(Default)]
struct Entry {
    /// The timeline, and what the snapshot it was brought up to date with had sealed
    /// (last id, events stored).
    timeline: RwLock<Option<(Timeline, (u64, u64))>>,
}

/// The most runs whose timelines are kept; the one used longest ago goes first (a timeline
/// takes about 36 bytes a call).
pub const KEPT_TIMELINES: usize = 3;

/// The timelines of the runs the server showed recently.
#[derive(Default)]
pub struct Timelines {
    runs: Mutex<Kept>,
}

/// The kept timelines: each run's entry with when it was last asked for (a counter).
#[derive(Default)]
struct Kept {
    runs: HashMap<u64, (Arc<Entry>, u64)>,
    clock: u64,
}

impl Timelines {
    /// The runs whose timelines are kept, in order.
    pub fn kept(&self) -> Vec<u64> {
        let mut runs: Vec<u64> = match self.runs.lock() {
            Ok(kept) => kept.runs.keys().copied().collect(),
            Err(_) => Vec::new(),
        };
        runs.sort_unstable();
        runs
    }

    /// Runs `f` on the timeline of `run`, built or brought up to date with the newest
    /// snapshot first. Blocking: call it from a blocking task.
    pub fn with<R>(
        &self,
        reader: &StoreReader,
        run: u64,
        f: impl FnOnce(&mut Timeline, &Snapshot) -> R,
    ) -> Result<R, CinemaError> {
        let entry = {
            let mut guard = self
                .runs
                .lock()
                .map_err(|_| CinemaError::Task("poisoned".into()))?;
            let Kept { runs, clock } = &mut *guard;
            *clock += 1;
            let now = *clock;
            let entry = runs.entry(run).or_insert_with(|| (Arc::default(), now));
            entry.1 = now;
            let entry = entry.0.clone();
            while runs.len() > KEPT_TIMELINES {
                let oldest = runs
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(&id, _)| id);
                match oldest {
                    Some(id) => runs.remove(&id),
                    None => break,
                };
            }
            entry
        };
        let snap = reader.snapshot(Some(run))?;
        let sealed = (snap.last_id().unwrap_or(0), snap.run().counters.stored);
        // One writer at a time: the window query rebuilds stale busy spans in place.
        let mut guard = entry
            .timeline
            .write()
            .map_err(|_| CinemaError::Task("poisoned".into()))?;
        match guard.as_mut() {
            Some((_, seen)) if *seen == sealed => {}
            Some((t, seen)) => {
                t.extend(&snap)?;
                *seen = sealed;
            }
            None => *guard = Some((Timeline::build(&snap)?, sealed)),
        }
        let (timeline, _) = guard
            .as_mut()
            .ok_or_else(|| CinemaError::Task("no timeline".into()))?;
        Ok(f(timeline, &snap))
    }
}
