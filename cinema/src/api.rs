//! The JSON API the page uses (README.md, "elixir-scope serve", documents every endpoint and
//! its shape). Times are ns from the run's start unless named `unix`; ids are call ids.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use store::{CallFilter, CauseKind, OriginKind, Run, Snapshot, StoreReader, TreeItem, TreeLimits};

use crate::error::CinemaError;
use crate::server::{blocking, AppState};
use crate::values::{call_summary, call_values, shorten, LINE_WIDTH};

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs", get(runs))
        .route("/api/runs/{run}", get(run))
        .route("/api/runs/{run}/calls", get(calls))
        .route("/api/runs/{run}/calls/{id}", get(call))
        .route("/api/runs/{run}/calls/{id}/children", get(children))
        .route("/api/runs/{run}/calls/{id}/tree", get(tree))
        .route(
            "/api/runs/{run}/calls/{id}/states",
            get(crate::states::states),
        )
        .route("/api/runs/{run}/processes", get(processes))
        .route("/api/runs/{run}/lanes", get(lanes))
        .route("/api/runs/{run}/timeline", get(timeline))
        .route("/api/runs/{run}/follow", get(crate::live::follow))
}

type ApiResult = Result<Json<Value>, CinemaError>;

/// A snapshot of `run`, with "no such run" as 404.
pub fn snapshot(reader: &StoreReader, run: u64) -> Result<Snapshot, CinemaError> {
    match reader.snapshot(Some(run)) {
        Err(store::StoreError::NoSuchRun(id)) => Err(CinemaError::NoSuchRun(id)),
        other => Ok(other?),
    }
}

/// A run as the Runs view lists it.
pub fn run_json(run: &Run, snap: &Snapshot) -> Result<Value, CinemaError> {
    let counts = snap.counts()?;
    // A run that did not end: its extent so far, the latest call's start.
    let duration_ns = match &run.summary {
        Some(s) => Some(s.ended_unix_ns.saturating_sub(run.info.started_unix_ns)),
        None => match snap.last_id() {
            Some(id) => snap
                .call(id)?
                .map(|c| c.start.saturating_sub(run.info.monotonic_origin_ns)),
            None => None,
        },
    };
    Ok(json!({
        "id": run.id,
        "node": run.info.node,
        "otp_release": run.info.otp_release,
        "os_pid": run.info.os_pid,
        "state": run.state(),
        "live": run.live,
        "started_unix_ns": run.info.started_unix_ns,
        "duration_ns": duration_ns,
        "calls": counts.calls,
        "exceptions": counts.exceptions,
        "processes": counts.processes,
        "tail_calls": counts.tail_calls,
        "captured": run.counters.captured,
        "dropped": run.counters.dropped,
        "lost": run.counters.lost(),
    }))
}

async fn runs(State(state): State<AppState>) -> ApiResult {
    let reader = state.reader.clone();
    let default_run = state.default_run;
    blocking(move || {
        let mut out = Vec::new();
        for run in reader.runs()? {
            let snap = reader.snapshot(Some(run.id))?;
            out.push(run_json(snap.run(), &snap)?);
        }
        let default_run = default_run.or_else(|| out.last().and_then(|r| r["id"].as_u64()));
        Ok(Json(json!({ "default_run": default_run, "runs": out })))
    })
    .await
}

async fn run(State(state): State<AppState>, Path(run): Path<u64>) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let mut v = run_json(snap.run(), &snap)?;
        v["top_functions"] = snap
            .top_functions(10)?
            .iter()
            .map(|f| {
                json!({
                    "name": term::Style::of_module(&f.module).mf(&f.module, &f.function),
                    "calls": f.calls,
                })
            })
            .collect();
        Ok(Json(v))
    })
    .await
}

/// The filters of `GET /api/runs/{run}/calls`.
#[derive(Debug, Default, Deserialize)]
pub struct CallsQuery {
    /// `Shop.Cart`, `Elixir.Shop.Cart`, `lists` or `:lists`.
    pub module: Option<String>,
    /// A function name.
    pub function: Option<String>,
    /// An arity.
    pub arity: Option<u8>,
    /// A pid as text, `<0.152.0>` or `#PID<0.152.0>`.
    pub pid: Option<String>,
    /// Only calls that raised (`true`).
    pub exceptions: Option<bool>,
    /// Calls that started at or after this many ns from the run's start.
    pub since_ns: Option<u64>,
    /// Calls that started at or before this many ns from the run's start.
    pub until_ns: Option<u64>,
    /// At most this many (default 50, at most 1,000).
    pub limit: Option<usize>,
    /// A call pattern (see [`call_query`]).
    pub pattern: Option<String>,
}

/// A module as the user wrote it, as the atom the store holds: `Shop.Cart` is
/// `Elixir.Shop.Cart`, `:lists` is `lists`.
pub fn module_atom(text: &str) -> String {
    let text = text.trim();
    if let Some(erlang) = text.strip_prefix(':') {
        return erlang.to_string();
    }
    if text.starts_with("Elixir.") || !text.starts_with(|c: char| c.is_ascii_uppercase()) {
        return text.to_string();
    }
    format!("Elixir.{text}")
}

/// A call pattern as the CLI's `--match` takes it (`Shop.Cart.add(_, %{qty: q}) when q > 10`,
/// `lists:keyfind(_, 1, _)`), parsed by the `analysis` crate; a pattern that does not parse
/// is a 400 whose message points at the column.
pub fn call_query(pattern: Option<&str>) -> Result<analysis::CallQuery, CinemaError> {
    let pattern = pattern.map(str::trim).filter(|p| !p.is_empty());
    analysis::CallQuery::parse(pattern, None, None, analysis::Dialect::Elixir)
        .map_err(|e| CinemaError::BadRequest(e.to_string()))
}

/// The store's filter for a query, with pids resolved against the run's processes.
fn filter_of(q: &CallsQuery, snap: &Snapshot) -> Result<CallFilter, CinemaError> {
    let origin = snap.run().info.monotonic_origin_ns;
    let mut filter = CallFilter {
        module: q
            .module
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(module_atom),
        function: q
            .function
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string),
        arity: q.arity,
        exceptions_only: q.exceptions.unwrap_or(false),
        since: q.since_ns.map(|t| origin + t),
        until: q.until_ns.map(|t| origin + t),
        limit: q.limit.unwrap_or(50).clamp(1, 1_000),
        ..CallFilter::default()
    };
    if let Some(pid) = q.pid.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        let text = pid.strip_prefix("#PID").unwrap_or(pid);
        let found = snap.processes()?.into_iter().find(|p| p.text == text);
        match found {
            Some(p) => filter.pid = Some(p.pid),
            None => {
                return Err(CinemaError::BadRequest(format!(
                    "run {} recorded no process {pid}",
                    snap.run().id
                )))
            }
        }
    }
    Ok(filter)
}

/// Pid texts by pid word.
fn pid_texts(snap: &Snapshot) -> Result<HashMap<u64, String>, CinemaError> {
    Ok(snap
        .processes()?
        .into_iter()
        .map(|p| (p.pid, p.text))
        .collect())
}

fn pid_text(texts: &HashMap<u64, String>, pid: u64) -> String {
    texts
        .get(&pid)
        .cloned()
        .unwrap_or_else(|| format!("pid {pid}"))
}

async fn calls(
    State(state): State<AppState>,
    Path(run): Path<u64>,
    Query(q): Query<CallsQuery>,
) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let filter = filter_of(&q, &snap)?;
        let query = call_query(q.pattern.as_deref())?;
        let texts = pid_texts(&snap)?;
        let found = query.calls(&snap, &filter).map_err(|e| match e {
            analysis::QueryError::Store(e) => CinemaError::Store(e),
            other => CinemaError::BadRequest(other.to_string()),
        })?;
        let calls: Vec<Value> = found
            .iter()
            .map(|c| call_summary(c, snap.run(), &pid_text(&texts, c.pid)))
            .collect();
        Ok(Json(json!({ "calls": calls, "limit": filter.limit })))
    })
    .await
}

async fn call(State(state): State<AppState>, Path((run, id)): Path<(u64, u64)>) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let call = snap.call(id)?.ok_or(CinemaError::NoSuchCall { run, id })?;
        let texts = pid_texts(&snap)?;
        let r = snap.run();
        let mut v = json!({ "call": call_summary(&call, r, &pid_text(&texts, call.pid)) });
        v["values"] = call_values(&call);
        v["tail_calls"] = snap
            .tail_calls(id)?
            .iter()
            .map(|t| {
                let style = term::Style::of_module(&t.module);
                json!({
                    "name": style.mfa(&t.module, &t.function, t.arity),
                    "args": term::value(&t.args, style),
                    "at_ns": t.time.saturating_sub(r.info.monotonic_origin_ns),
                })
            })
            .collect();
        v["process"] = match snap.process(call.pid)? {
            Some(p) => json!({
                "pid": p.text,
                "first_call": p.first_call,
                "origin": p.origin.map(|o| json!({
                    "pid": o.text,
                    "kind": origin_kind(o.kind),
                })),
            }),
            None => Value::Null,
        };
        v["cause"] = match snap.cause(&call)? {
            Some(cause) => json!({
                "kind": match cause.kind {
                    CauseKind::Request => "request",
                    CauseKind::Started(kind) => origin_kind(kind),
                    CauseKind::Message(how) => how.as_str(),
                },
                "pid": cause.text,
                "call": call_summary(&cause.call, r, &cause.text),
            }),
            None => Value::Null,
        };
        let (neighbours, caused) = state.timelines.with(&state.reader, run, |t, _| {
            (
                t.neighbours(call.pid, id),
                t.caused(call.pid, id, MAX_CAUSED),
            )
        })?;
        v["caused"] = caused_json(&snap, &call, caused, &texts)?;
        v["nav"] = json!({
            "parent": call.parent,
            "prev": neighbours.as_ref().and_then(|n| n["prev"].as_u64()),
            "next": neighbours.as_ref().and_then(|n| n["next"].as_u64()),
            "first_child": neighbours.as_ref().and_then(|n| n["first_child"].as_u64()),
            "lane": neighbours.as_ref().and_then(|n| n["lane"].as_u64()),
            "depth": neighbours.as_ref().and_then(|n| n["depth"].as_u64()),
        });
        Ok(Json(v))
    })
    .await
}

/// The most processes and requests a call's view lists as caused by it.
pub const MAX_CAUSED: usize = 50;

/// What a call caused (see [`crate::timeline::Timeline::caused`]): each link with the call at
/// its other end and the call in this call's subtree that made it (`by`: the innermost call
/// running when it happened; this call itself, or one under it).
fn caused_json(
    snap: &Snapshot,
    call: &store::Call,
    caused: Option<(Vec<crate::timeline::CausedLink>, usize)>,
    texts: &HashMap<u64, String>,
) -> Result<Value, CinemaError> {
    let (links, total) = caused.unwrap_or_default();
    let r = snap.run();
    let mut out = Vec::with_capacity(links.len());
    for link in links {
        let Some(target) = snap.call(link.call)? else {
            continue;
        };
        let by = match link.kind {
            "request" => snap.running_call(call.pid, &target)?,
            _ => snap.origin_call(target.pid)?,
        };
        out.push(json!({
            "kind": link.kind,
            "pid": link.pid,
            "at_ns": link.at_ns,
            "call": call_summary(&target, r, &pid_text(texts, target.pid)),
            "by": by.map(|b| json!({ "id": b.id, "name": term::Style::of_module(&b.module).mfa(&b.module, &b.function, b.arity) })),
        }));
    }
    Ok(json!({ "links": out, "total": total }))
}

fn origin_kind(kind: OriginKind) -> &'static str {
    match kind {
        OriginKind::Caller => "task",
        OriginKind::Ancestor => "spawned",
    }
}

/// `limit` of the children endpoint.
#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<usize>,
}

async fn children(
    State(state): State<AppState>,
    Path((run, id)): Path<(u64, u64)>,
    Query(q): Query<LimitQuery>,
) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let texts = pid_texts(&snap)?;
        let kids = snap.children(id, q.limit.unwrap_or(100).clamp(1, 10_000))?;
        let calls: Vec<Value> = kids
            .iter()
            .map(|c| call_summary(c, snap.run(), &pid_text(&texts, c.pid)))
            .collect();
        Ok(Json(json!({ "calls": calls })))
    })
    .await
}

/// The tree limits, as the CLI's `trace` takes them.
#[derive(Debug, Deserialize)]
pub struct TreeQuery {
    /// Levels below the root (default 8).
    pub depth: Option<u32>,
    /// Children per call (default 10).
    pub children: Option<usize>,
    /// Calls shown in all (default 50, at most 2,000).
    pub calls: Option<usize>,
}

async fn tree(
    State(state): State<AppState>,
    Path((run, id)): Path<(u64, u64)>,
    Query(q): Query<TreeQuery>,
) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let limits = TreeLimits {
            depth: q.depth.unwrap_or(TreeLimits::DEFAULT.depth),
            children: q.children.unwrap_or(TreeLimits::DEFAULT.children).max(1),
            calls: q.calls.unwrap_or(TreeLimits::DEFAULT.calls).clamp(1, 2_000),
        };
        let tree = snap
            .tree(id, &limits)?
            .ok_or(CinemaError::NoSuchCall { run, id })?;
        let texts = pid_texts(&snap)?;
        let r = snap.run();
        // The style of the call shown at each depth: a message prints in its sender's.
        let mut styles: Vec<term::Style> = Vec::new();
        let lines: Vec<Value> = tree
            .lines
            .iter()
            .map(|line| {
                let mut v = match &line.item {
                    TreeItem::Call(c) => {
                        styles.truncate(line.depth as usize);
                        styles.push(term::Style::of_module(&c.module));
                        json!({
                            "kind": "call",
                            "call": call_summary(c, r, &pid_text(&texts, c.pid)),
                        })
                    }
                    TreeItem::Fold(f) => json!({
                        "kind": "fold",
                        "reason": f.reason.as_str(),
                        "first": f.first,
                        "last": f.last,
                        "children": f.children,
                        "calls": f.calls,
                        "functions": f.functions.iter().map(|fc| json!({
                            "name": term::Style::of_module(&fc.module).mfa(&fc.module, &fc.function, fc.arity),
                            "calls": fc.calls,
                        })).collect::<Vec<_>>(),
                        "more_functions": f.more_functions,
                    }),
                    TreeItem::Process(p) => json!({
                        "kind": "process",
                        "pid": p.text,
                        "origin": origin_kind(p.kind),
                        "call": call_summary(&p.first, r, &p.text),
                    }),
                    TreeItem::Request(q) => json!({
                        "kind": "request",
                        "pid": q.text,
                        "call": call_summary(&q.call, r, &q.text),
                    }),
                    TreeItem::Message(m) => {
                        let style = styles.last().copied().unwrap_or(term::Style::Elixir);
                        json!({
                            "kind": "message",
                            "send": m.message.kind.as_str(),
                            "sender": m.message.call_id,
                            // A pid (of another node: `node` names it); a name on another
                            // node shows as the target.
                            "receiver": m.receiver_text.as_deref().filter(|t| !store::is_name_text(t)),
                            "node": m.node,
                            "target": shorten(&term::value(&m.message.target, style), LINE_WIDTH),
                            "message": shorten(&term::value(&m.message.message, style), LINE_WIDTH),
                            "received_by": m.received_by,
                        })
                    }
                };
                v["depth"] = json!(line.depth);
                v
            })
            .collect();
        Ok(Json(json!({
            "lines": lines,
            "calls": tree.calls,
            "shown": tree.shown,
        })))
    })
    .await
}

async fn processes(State(state): State<AppState>, Path(run): Path<u64>) -> ApiResult {
    blocking(move || {
        let snap = snapshot(&state.reader, run)?;
        let list: Vec<Value> = snap
            .processes()?
            .into_iter()
            .map(|p| {
                json!({
                    "pid": p.text,
                    "first_call": p.first_call,
                    "origin": p.origin.map(|o| json!({ "pid": o.text, "kind": origin_kind(o.kind) })),
                })
            })
            .collect();
        Ok(Json(json!({ "processes": list })))
    })
    .await
}

async fn lanes(State(state): State<AppState>, Path(run): Path<u64>) -> ApiResult {
    blocking(move || {
        snapshot(&state.reader, run)?;
        let v = state
            .timelines
            .with(&state.reader, run, |t, _| t.overview())?;
        Ok(Json(v))
    })
    .await
}

/// A window of the timeline.
#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    /// Its start, ns from the run's start (default 0).
    pub from: Option<u64>,
    /// Its end (default: the run's extent).
    pub to: Option<u64>,
    /// Its width in pixels (default 1,000, at most 20,000).
    pub width: Option<u32>,
}

async fn timeline(
    State(state): State<AppState>,
    Path(run): Path<u64>,
    Query(q): Query<WindowQuery>,
) -> ApiResult {
    blocking(move || {
        snapshot(&state.reader, run)?;
        let width = q.width.unwrap_or(1_000).clamp(1, 20_000);
        let v = state.timelines.with(&state.reader, run, |t, _| {
            let from = q.from.unwrap_or(0);
            let to = q.to.unwrap_or_else(|| t.extent_ns().max(from + 1));
            if to <= from {
                return Err(CinemaError::BadRequest(format!(
                    "the window ends ({to}) before it starts ({from})"
                )));
            }
            let started = std::time::Instant::now();
            let mut window = t.window(from, to, width);
            window["server_us"] = json!(started.elapsed().as_micros() as u64);
            Ok(window)
        })??;
        Ok(Json(v))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_read_as_the_cli_reads_them() {
        assert_eq!(module_atom("Shop.Cart"), "Elixir.Shop.Cart");
        assert_eq!(module_atom("Elixir.Shop"), "Elixir.Shop");
        assert_eq!(module_atom(":lists"), "lists");
        assert_eq!(module_atom("lists"), "lists");
    }
}
