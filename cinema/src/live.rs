//! Following a live run: server-sent events announcing the calls it seals.
//!
//! `GET /api/runs/{run}/follow?after=ID` looks at a new snapshot every 250 ms (on the
//! blocking pool: the store's snapshots see newly sealed segments) and sends an event
//! `calls` with the calls sealed since (ids above `after`, at most [`BATCH`] per event, in id
//! order, as [`crate::values::call_summary`]) and the run's counts; an event `end` once the
//! run stopped recording and everything it sealed was sent.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{run_json, snapshot};
use crate::error::CinemaError;
use crate::server::{blocking, AppState};
use crate::values::call_summary;

/// The most calls one event carries.
pub const BATCH: usize = 500;

/// How often a live run is looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// Where to start following.
#[derive(Debug, Deserialize)]
pub struct FollowQuery {
    /// Send calls with ids above this (default: those sealed from now on).
    pub after: Option<u64>,
}

/// What one look at the run found.
struct Look {
    calls: Vec<Value>,
    last: u64,
    run: Value,
    ended: bool,
}

fn look(state: &AppState, run: u64, after: Option<u64>) -> Result<Look, CinemaError> {
    let snap = snapshot(&state.reader, run)?;
    let last_id = snap.last_id().unwrap_or(0);
    let after = after.unwrap_or(last_id);
    let mut calls = Vec::new();
    let mut last = after;
    if last_id > after {
        let texts: std::collections::HashMap<u64, String> = snap
            .processes()?
            .into_iter()
            .map(|p| (p.pid, p.text))
            .collect();
        snap.scan(after + 1, |call| {
            last = call.id;
            let text = texts.get(&call.pid).cloned().unwrap_or_default();
            calls.push(call_summary(&call, snap.run(), &text));
            Ok(calls.len() < BATCH)
        })?;
    }
    Ok(Look {
        ended: !snap.run().live && last >= last_id,
        run: run_json(snap.run(), &snap)?,
        calls,
        last,
    })
}

/// The event stream.
pub async fn follow(
    State(state): State<AppState>,
    Path(run): Path<u64>,
    Query(q): Query<FollowQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, CinemaError> {
    // The first look answers errors (an unknown run) as a status, not as an event.
    let first = {
        let state = state.clone();
        blocking(move || look(&state, run, q.after)).await?
    };
    let stream = futures_util::stream::unfold(
        Following {
            state,
            pending: Some(first),
            after: None,
            done: false,
            hurry: false,
        },
        move |mut f| async move {
            if f.done {
                return None;
            }
            loop {
                let found = match f.pending.take() {
                    Some(found) => found,
                    None => {
                        if !f.hurry {
                            tokio::time::sleep(POLL).await;
                        }
                        let (state, after) = (f.state.clone(), f.after);
                        match blocking(move || look(&state, run, after)).await {
                            Ok(found) => found,
                            Err(e) => {
                                f.done = true;
                                let event = Event::default()
                                    .event("error")
                                    .data(json!({"error": e.to_string()}).to_string());
                                return Some((Ok(event), f));
                            }
                        }
                    }
                };
                f.after = Some(found.last);
                if found.ended && found.calls.is_empty() {
                    f.done = true;
                    let event = Event::default()
                        .event("end")
                        .data(json!({ "run": found.run, "last": found.last }).to_string());
                    return Some((Ok(event), f));
                }
                f.hurry = found.calls.len() >= BATCH;
                if !found.calls.is_empty() {
                    let event = Event::default().event("calls").data(
                        json!({ "calls": found.calls, "last": found.last, "run": found.run })
                            .to_string(),
                    );
                    return Some((Ok(event), f));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The stream's state between events.
struct Following {
    state: AppState,
    /// A look already made, to send before looking again.
    pending: Option<Look>,
    /// The last id sent.
    after: Option<u64>,
    /// Whether the stream ended.
    done: bool,
    /// Whether the last look filled a batch (look again at once).
    hurry: bool,
}
