//! GenServer state history: a process's behaviour callbacks (`init/1`, `handle_call/3`,
//! `handle_cast/2`, `handle_info/2`, gen_statem state functions, ...) in time order, each with
//! the state it received and returned and what changed ([`analysis::state_history`]).
//!
//! Which calls are callbacks comes from the run's timeline, in memory: a lane's calls are
//! walked once (then again only when the lane grew) and the callbacks' positions kept per
//! callback module ([`LaneCallbacks`]), so a page anywhere in a history of a million callbacks
//! is a binary search. A page reads only its own calls' values, in place
//! ([`store::Snapshot::scan_views`]): the cost of an answer is its page's, whatever the
//! history's length.
//!
//! A module counts as a process's callback module once one of its message callbacks ran in
//! the process (`handle_call/3`, `handle_cast/2`, `handle_info/2`, `handle_continue/2`, a
//! gen_statem's `handle_event/4`, a gen_event handler's `handle_event/2` or
//! `handle_call/2`) or its `callback_mode/0` did (a gen_statem: then its other functions of
//! arity 3 are state functions). A callback that runs inside another of the same module (a
//! `handle_info/2` that calls `handle_cast/2` itself) is part of it, not a step of its own.

use analysis::state_history::{self, Callback, State, StateName, CALLBACK_MODE};
use analysis::value_diff::{Part, TEXT_WIDTH};
use axum::extract::{Path, Query, State as AxumState};
use axum::Json;
use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{CallView, Outcome, Snapshot};
use term::Style;

use crate::error::CinemaError;
use crate::server::{blocking, AppState};
use crate::timeline::{Timeline, OPEN};
use crate::values::{outline_json, shorten};

/// The most callbacks one page holds.
pub const MAX_PAGE: usize = 200;

/// The callbacks a page holds unless asked otherwise.
pub const DEFAULT_PAGE: usize = 40;

/// Nodes of value structures one answer carries at most; states past it come as text only
/// (`"value": null`), and the page asks for that one callback alone.
pub const OUTLINE_BUDGET: usize = 20_000;

/// One callback module's callbacks in a lane.
#[derive(Debug, Clone)]
pub struct ModuleCallbacks {
    /// The module's atom.
    pub module: String,
    /// Whether it runs as a gen_statem (its `callback_mode/0` ran in the process).
    pub statem: bool,
    /// Positions of its callbacks among the lane's slots, in time order.
    pub positions: Vec<u32>,
}

/// A lane's behaviour callbacks by callback module, and what the lane was when they were
/// gathered (its length and how many of its running calls had ended).
#[derive(Debug, Clone, Default)]
pub struct LaneCallbacks {
    built_for: (usize, u64),
    /// Its callback modules, the most callbacks first.
    pub modules: Vec<ModuleCallbacks>,
}

/// Where one page of a history lies.
#[derive(Debug, Clone)]
pub struct StatesPage {
    /// The pid's text.
    pub pid: String,
    /// The callback module.
    pub module: String,
    /// Whether it runs as a gen_statem.
    pub statem: bool,
    /// Every callback module of the process and its callbacks.
    pub modules: Vec<(String, usize)>,
    /// Callbacks in the whole history.
    pub total: usize,
    /// The page's callbacks: their place in the history and their call ids.
    pub entries: Vec<(usize, u64)>,
    /// The place of the callback the page was asked around (the one the asked call is in,
    /// or the last one before it).
    pub selected: Option<usize>,
}

impl Timeline {
    /// Gathers the callbacks of lane `l`, again when the lane changed since.
    fn gather_lane_callbacks(&mut self, l: u32) {
        let lane = &self.lanes[l as usize];
        let now = (lane.slots.len(), lane.ended);
        let fresh = self.callbacks.get(&l).is_some_and(|c| c.built_for == now);
        if !fresh {
            let built = gather_callbacks(self, l as usize);
            self.callbacks.insert(l, built);
        }
    }

    /// A page of the state history of the process running call `id` (of process `pid`):
    /// callbacks of `module` (default: the callback module of the callback that call is in,
    /// else the process's busiest), `count` of them around place `index` in the history
    /// (default: around the call). `None` when the process ran no callbacks.
    pub fn states_page(
        &mut self,
        pid: u64,
        id: u64,
        module: Option<&str>,
        index: Option<usize>,
        count: usize,
    ) -> Option<StatesPage> {
        let l = *self.lane_of.get(&pid)?;
        let count = count.clamp(1, MAX_PAGE);
        self.gather_lane_callbacks(l);
        let callbacks = self.callbacks.get(&l)?;
        if callbacks.modules.is_empty() {
            return None;
        }
        let lane = &self.lanes[l as usize];
        let at = lane.slots.partition_point(|s| s.id < id);
        // The callback of each module that is running at `id` or last ran before it.
        let around = |m: &ModuleCallbacks| -> Option<usize> {
            m.positions
                .partition_point(|&p| (p as usize) <= at)
                .checked_sub(1)
        };
        let containing = |m: &ModuleCallbacks| -> bool {
            around(m).is_some_and(|i| {
                let slot = &lane.slots[m.positions[i] as usize];
                let target = lane.slots.get(at);
                target.is_some_and(|t| {
                    t.start >= slot.start && (slot.end == OPEN || t.start <= slot.end)
                })
            })
        };
        let chosen = match module.map(str::trim).filter(|m| !m.is_empty()) {
            Some(name) => {
                let atom = crate::api::module_atom(name);
                callbacks.modules.iter().find(|m| m.module == atom)?
            }
            None => callbacks
                .modules
                .iter()
                .find(|m| containing(m))
                .unwrap_or(&callbacks.modules[0]),
        };
        let total = chosen.positions.len();
        let selected = around(chosen);
        let center = index
            .unwrap_or(selected.unwrap_or(0))
            .min(total.saturating_sub(1));
        let first = center
            .saturating_sub(count / 2)
            .min(total.saturating_sub(count));
        let entries = (first..(first + count).min(total))
            .map(|i| (i, lane.slots[chosen.positions[i] as usize].id))
            .collect();
        Some(StatesPage {
            pid: lane.text.clone(),
            module: chosen.module.clone(),
            statem: chosen.statem,
            modules: callbacks
                .modules
                .iter()
                .map(|m| (m.module.clone(), m.positions.len()))
                .collect(),
            total,
            entries,
            selected,
        })
    }
}

/// Walks lane `l`'s calls for its callbacks (see the module documentation).
fn gather_callbacks(t: &Timeline, l: usize) -> LaneCallbacks {
    let lane = &t.lanes[l];
    // Modules by index, and per function: its module's index.
    let mut module_index: HashMap<&str, usize> = HashMap::default();
    let mut function_module: Vec<usize> = Vec::with_capacity(t.function_parts.len());
    for f in &t.function_parts {
        let next = module_index.len();
        function_module.push(*module_index.entry(f.module.as_str()).or_insert(next));
    }
    let modules = module_index.len();
    // First: which modules run as a gen_statem here, and which handled a message.
    let mut statem = vec![false; modules];
    let mut handles = vec![false; modules];
    let mut seen = vec![false; t.function_parts.len()];
    for slot in &lane.slots {
        let f = slot.function as usize;
        if std::mem::replace(&mut seen[f], true) {
            continue;
        }
        let parts = &t.function_parts[f];
        let m = function_module[f];
        if (parts.function.as_str(), parts.arity) == CALLBACK_MODE {
            statem[m] = true;
            handles[m] = true;
        }
        if Callback::of(&parts.function, parts.arity, false).is_some_and(Callback::handles_messages)
        {
            handles[m] = true;
        }
    }
    // Then the callbacks of those modules, each not inside another of its module.
    let mut positions: Vec<Vec<u32>> = vec![Vec::new(); modules];
    let mut open_until: Vec<u64> = vec![0; modules];
    let mut is_callback: Vec<Option<bool>> = vec![None; t.function_parts.len()];
    for (pos, slot) in lane.slots.iter().enumerate() {
        let f = slot.function as usize;
        let m = function_module[f];
        if !handles[m] {
            continue;
        }
        let callback = *is_callback[f].get_or_insert_with(|| {
            let parts = &t.function_parts[f];
            Callback::of(&parts.function, parts.arity, statem[m]).is_some()
        });
        if !callback || (slot.start < open_until[m] && !positions[m].is_empty()) {
            continue;
        }
        positions[m].push(pos as u32);
        open_until[m] = slot.end;
    }
    let mut names: Vec<&str> = vec![""; modules];
    for (name, &m) in &module_index {
        names[m] = name;
    }
    let mut out: Vec<ModuleCallbacks> = positions
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(m, positions)| ModuleCallbacks {
            module: names[m].to_string(),
            statem: statem[m],
            positions,
        })
        .collect();
    out.sort_by(|a, b| {
        b.positions
            .len()
            .cmp(&a.positions.len())
            .then(a.module.cmp(&b.module))
    });
    LaneCallbacks {
        built_for: (lane.slots.len(), lane.ended),
        modules: out,
    }
}

/// The query of `GET /api/runs/{run}/calls/{id}/states`.
#[derive(Debug, Default, Deserialize)]
pub struct StatesQuery {
    /// The callback module (`Shop.Stock`, `:my_server`); default: see
    /// [`Timeline::states_page`].
    pub module: Option<String>,
    /// The place in the history to center the page on (from 0).
    pub index: Option<usize>,
    /// Callbacks in the page (default 40, at most 200).
    pub count: Option<usize>,
}

/// `GET /api/runs/{run}/calls/{id}/states`: a page of the state history of the process that
/// ran call `id` (README.md, "The JSON API", has the shape).
pub async fn states(
    AxumState(state): AxumState<AppState>,
    Path((run, id)): Path<(u64, u64)>,
    Query(q): Query<StatesQuery>,
) -> Result<Json<Value>, CinemaError> {
    blocking(move || {
        let snap = crate::api::snapshot(&state.reader, run)?;
        let call = snap.call(id)?.ok_or(CinemaError::NoSuchCall { run, id })?;
        let count = q.count.unwrap_or(DEFAULT_PAGE);
        let page = state.timelines.with(&state.reader, run, |t, _| {
            t.states_page(call.pid, id, q.module.as_deref(), q.index, count)
        })?;
        let Some(page) = page else {
            if let Some(module) = q.module.as_deref().filter(|m| !m.trim().is_empty()) {
                return Err(CinemaError::BadRequest(format!(
                    "process of call #{id} ran no callbacks of {module}"
                )));
            }
            return Ok(Json(json!({ "modules": [], "entries": [], "total": 0 })));
        };
        Ok(Json(page_json(&snap, &page)?))
    })
    .await
}

/// A page as JSON: each callback read in place, its states and their diff.
pub fn page_json(snap: &Snapshot, page: &StatesPage) -> Result<Value, CinemaError> {
    let style = Style::of_module(&page.module);
    let origin = snap.run().info.monotonic_origin_ns;
    let mut budget = OUTLINE_BUDGET;
    let mut previous_after: Option<(Option<String>, Vec<u8>)> = None;
    let mut entries = Vec::with_capacity(page.entries.len());
    for &(index, id) in &page.entries {
        let mut found = None;
        snap.scan_views(id, id, |view| {
            if view.id() != id {
                return Ok(true);
            }
            found = Some(entry_json(view, page.statem, style, origin, &mut budget));
            Ok(false)
        })?;
        let Some(mut entry) = found else {
            continue;
        };
        entry.json["index"] = json!(index);
        // The state it received should be the one the callback before returned; when it is
        // not, something changed it unseen (a callback not recorded, `:sys.replace_state`).
        entry.json["gap"] = json!(matches!(
            (&previous_after, &entry.before),
            (Some(a), Some(b)) if a != b
        ));
        previous_after = entry.after;
        entries.push(entry.json);
    }
    let module_name = |m: &str| Style::of_module(m).module(m);
    Ok(json!({
        "pid": page.pid,
        "module": module_name(&page.module),
        "behaviour": if page.statem { "gen_statem" } else { "gen_server" },
        "style": match style { Style::Elixir => "elixir", Style::Erlang => "erlang" },
        "modules": page.modules.iter().map(|(m, n)| json!({ "module": module_name(m), "callbacks": n })).collect::<Vec<_>>(),
        "total": page.total,
        "first_index": page.entries.first().map(|e| e.0),
        "selected": page.selected,
        "entries": entries,
    }))
}

/// A state as recorded, to compare states of two calls ([`State::fingerprint`]).
type Fingerprint = (Option<String>, Vec<u8>);

/// One callback of a page.
struct Entry {
    json: Value,
    /// The state it received.
    before: Option<Fingerprint>,
    /// The state it returned.
    after: Option<Fingerprint>,
}

/// One callback as JSON, with the states it received and returned.
fn entry_json(
    view: &CallView<'_>,
    statem: bool,
    style: Style,
    origin: u64,
    budget: &mut usize,
) -> Entry {
    let mut v = json!({
        "id": view.id(),
        "callback": style.mfa(view.module(), view.function(), view.arity()),
        "function": view.function(),
        "start_ns": view.start().saturating_sub(origin),
        "duration_ns": view.duration_ns(),
        "outcome": match view.outcome() {
            None => "running",
            Some(Outcome::Return) => "returned",
            Some(Outcome::Exception(_)) => "raised",
        },
    });
    let entry = |json: Value| Entry {
        json,
        before: None,
        after: None,
    };
    let Some(callback) = Callback::of(view.function(), view.arity(), statem) else {
        return entry(v);
    };
    let args = match view
        .args()
        .ok()
        .and_then(|a| analysis::etf::Value::new(a).ok())
    {
        Some(args) => args,
        None => {
            v["error"] = json!("its arguments could not be read");
            return entry(v);
        }
    };
    let value = view.value().ok().flatten();
    let result = match (view.outcome(), value.as_deref()) {
        (Some(Outcome::Return), Some(bytes)) => analysis::etf::Value::new(bytes).ok(),
        _ => None,
    };
    let step = match state_history::step(callback, view.function(), statem, args, result) {
        Ok(step) => step,
        Err(e) => {
            v["error"] = json!(e.to_string());
            return entry(v);
        }
    };
    let text = |p: &Part<'_>| p.text(style, TEXT_WIDTH);
    v["event"] = json!(step.event.as_ref().map(text));
    v["event_type"] = json!(step.event_type.as_ref().map(text));
    v["reply"] = json!(step.reply.as_ref().map(text));
    v["result_tag"] = json!(step.outcome);
    v["before"] = state_json(step.before.as_ref(), style, budget);
    v["after"] = state_json(step.after.as_ref(), style, budget);
    v["changed"] = match (&step.before, &step.after) {
        (Some(b), Some(a)) => json!(!b.same(a)),
        _ => Value::Null,
    };
    v["diff"] = match (&step.before, &step.after) {
        (Some(b), Some(a)) => match state_history::state_diff(b, a, style) {
            Ok(d) => json!({
                "changes": d.changes.iter().map(|c| json!({
                    "path": c.path,
                    "change": c.kind.as_str(),
                    "before": c.before,
                    "after": c.after,
                })).collect::<Vec<_>>(),
                "more": d.more,
                "incomplete": d.incomplete,
            }),
            Err(e) => json!({ "error": e.to_string() }),
        },
        _ => Value::Null,
    };
    Entry {
        json: v,
        before: step.before.as_ref().map(State::fingerprint),
        after: step.after.as_ref().map(State::fingerprint),
    }
}

/// A state as JSON: its text, its structure while the budget lasts, a gen_statem's name.
fn state_json(state: Option<&State<'_>>, style: Style, budget: &mut usize) -> Value {
    let Some(state) = state else {
        return Value::Null;
    };
    let (text, structure) = match state.data.term() {
        Ok(t) => {
            let text = style.term(&t);
            let structure = if *budget > 0 {
                let outline = term::outline(&t, style);
                *budget = budget.saturating_sub(nodes(&outline));
                outline_json(&outline)
            } else {
                Value::Null
            };
            (text, structure)
        }
        Err(e) => (format!("<undecodable: {e}>"), Value::Null),
    };
    json!({
        "name": state.name.as_ref().map(|n: &StateName<'_>| n.text(style)),
        "text": shorten(&text, 4 * TEXT_WIDTH),
        "value": structure,
    })
}

/// The nodes of a value's structure.
fn nodes(outline: &term::Outline) -> usize {
    1 + outline.items.iter().map(|i| nodes(&i.value)).sum::<usize>()
}
