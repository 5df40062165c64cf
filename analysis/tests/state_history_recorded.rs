//! State history on values recorded by the real runtime: the callbacks of a GenServer
//! (`Shop.Stock`, Elixir) and of a gen_statem with state functions (`shop_door`, Erlang) from
//! the query fixture (`tests/fixtures/query_fixture`), their stored arguments and results kept
//! byte for byte in `fixtures/recorded_callbacks.json`.
//!
//! To record them again (after a change to the runtime's encoder), record the fixture with
//! the web UI's workload (`tests/cinema_browser.rs`, `WORKLOAD`) and:
//!
//! ```text
//! ES_RECORDED_STORE=path/to/store cargo test -p elixir_scope_analysis \
//!   --test state_history_recorded -- --ignored write_the_fixture
//! ```

use analysis::etf::Value as Etf;
use analysis::state_history::{self, Callback, CALLBACK_MODE};
use serde_json::{json, Value};
use term::Style;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/recorded_callbacks.json"
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// One recorded callback, read as the web UI reads it.
struct Read {
    function: String,
    outcome: Option<String>,
    before: Option<String>,
    after: Option<String>,
    names: (Option<String>, Option<String>),
    diff: Vec<String>,
}

fn read(call: &Value) -> Read {
    let function = call["function"].as_str().unwrap().to_string();
    let arity = call["arity"].as_u64().unwrap() as u8;
    let statem = call["statem"].as_bool().unwrap();
    let style = Style::of_module(call["module"].as_str().unwrap());
    let args = unhex(call["args"].as_str().unwrap());
    let result = call["result"].as_str().map(unhex);
    let callback = Callback::of(&function, arity, statem).expect("a callback");
    let step = state_history::step(
        callback,
        &function,
        statem,
        Etf::new(&args).unwrap(),
        result.as_deref().map(|r| Etf::new(r).unwrap()),
    )
    .unwrap();
    let text = |s: &Option<state_history::State<'_>>| s.as_ref().map(|s| s.data.text(style, 1000));
    let name = |s: &Option<state_history::State<'_>>| {
        s.as_ref()
            .and_then(|s| s.name.as_ref().map(|n| n.text(style)))
    };
    let diff = match (&step.before, &step.after) {
        (Some(b), Some(a)) => state_history::state_diff(b, a, style)
            .unwrap()
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} -> {}",
                    c.kind.as_str(),
                    c.path,
                    c.before.as_deref().unwrap_or("-"),
                    c.after.as_deref().unwrap_or("-")
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Read {
        outcome: step.outcome.clone(),
        before: text(&step.before),
        after: text(&step.after),
        names: (name(&step.before), name(&step.after)),
        diff,
        function,
    }
}

fn fixture() -> Vec<Value> {
    let text = std::fs::read_to_string(FIXTURE).expect("the fixture");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["calls"].as_array().cloned().expect("calls")
}

#[test]
fn a_genserver_s_states_as_recorded() {
    let calls: Vec<Read> = fixture()
        .iter()
        .filter(|c| c["module"] == "Elixir.Shop.Stock")
        .map(read)
        .collect();
    let functions: Vec<&str> = calls.iter().map(|c| c.function.as_str()).collect();
    assert_eq!(
        functions,
        [
            "init",
            "handle_call",
            "handle_call",
            "handle_cast",
            "handle_info",
            "handle_call"
        ]
    );
    // init/1 receives no state and returns the first.
    assert_eq!(calls[0].before, None);
    assert_eq!(
        calls[0].after.as_deref(),
        Some(r#"%{levels: %{"cake" => 5, "tea" => 10}, reserved: 0}"#)
    );
    // Each callback receives what the one before returned.
    for pair in calls.windows(2) {
        assert_eq!(pair[1].before, pair[0].after, "{}", pair[1].function);
    }
    let diffs: Vec<Vec<String>> = calls.iter().map(|c| c.diff.clone()).collect();
    assert_eq!(
        diffs[1],
        [
            r#"changed state.levels["tea"] 10 -> 8"#,
            "changed state.reserved 0 -> 2"
        ]
    );
    assert_eq!(
        diffs[2],
        [
            r#"changed state.levels["cake"] 5 -> 4"#,
            "changed state.reserved 2 -> 3"
        ]
    );
    assert_eq!(diffs[3], [r#"changed state.levels["tea"] 8 -> 11"#]);
    assert_eq!(diffs[4], ["added state.audited - -> true"]);
    assert!(diffs[5].is_empty(), "`:levels` only reads: {:?}", diffs[5]);
    let outcomes: Vec<Option<&str>> = calls.iter().map(|c| c.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        [
            Some("ok"),
            Some("reply"),
            Some("reply"),
            Some("noreply"),
            Some("noreply"),
            Some("reply")
        ]
    );
}

#[test]
fn a_state_machine_s_states_as_recorded_in_erlang_syntax() {
    let calls: Vec<Read> = fixture()
        .iter()
        .filter(|c| c["module"] == "shop_door")
        .map(read)
        .collect();
    let steps: Vec<(String, Option<String>, Option<String>)> = calls
        .iter()
        .map(|c| (c.function.clone(), c.names.0.clone(), c.names.1.clone()))
        .collect();
    let s = |f: &str, a: Option<&str>, b: Option<&str>| {
        (f.to_string(), a.map(str::to_string), b.map(str::to_string))
    };
    assert_eq!(
        steps,
        [
            s("init", None, Some("closed")),
            s("closed", Some("closed"), Some("closed")),
            s("closed", Some("closed"), Some("opened")),
            s("opened", Some("opened"), Some("opened")),
            s("opened", Some("opened"), Some("closed")),
            s("closed", Some("closed"), Some("closed")),
        ]
    );
    assert_eq!(
        calls[0].after.as_deref(),
        Some("#{knocks => [],opened => 0}")
    );
    assert_eq!(calls[1].diff, ["added Data[knocks][1] - -> closed"]);
    assert_eq!(
        calls[2].diff,
        [
            "changed State closed -> opened",
            "changed Data[opened] 0 -> 1"
        ]
    );
    // keep_state_and_data: the same state.
    assert!(calls[3].diff.is_empty());
    assert_eq!(calls[3].outcome.as_deref(), Some("keep_state_and_data"));
    assert_eq!(calls[4].diff, ["changed State opened -> closed"]);
    assert_eq!(calls[5].diff, ["added Data[knocks][2] - -> closed"]);
    for pair in calls.windows(2) {
        assert_eq!(pair[1].before, pair[0].after);
    }
}

/// Writes the fixture from a store the web UI's workload recorded (see the module
/// documentation).
#[test]
#[ignore = "writes the fixture from ES_RECORDED_STORE"]
fn write_the_fixture() {
    let path = std::env::var("ES_RECORDED_STORE").expect("ES_RECORDED_STORE");
    let reader = store::StoreReader::open(path).expect("the store");
    let snap = reader.snapshot(None).expect("the latest run");
    let last = snap.last_id().expect("calls");
    // gen_statem modules: those whose callback_mode/0 was called.
    let mut statem = std::collections::HashSet::new();
    snap.scan_views(1, last, |v| {
        if (v.function(), v.arity()) == CALLBACK_MODE {
            statem.insert(v.module().to_string());
        }
        Ok(true)
    })
    .unwrap();
    let mut calls = Vec::new();
    snap.scan_views(1, last, |v| {
        let module = v.module();
        if module != "Elixir.Shop.Stock" && module != "shop_door" {
            return Ok(true);
        }
        let is_statem = statem.contains(module);
        if (v.function(), v.arity()) == CALLBACK_MODE
            || Callback::of(v.function(), v.arity(), is_statem).is_none()
        {
            return Ok(true);
        }
        let result = match v.outcome() {
            Some(store::Outcome::Return) => v.value()?.map(|r| hex(&r)),
            _ => None,
        };
        calls.push(json!({
            "id": v.id(),
            "module": module,
            "function": v.function(),
            "arity": v.arity(),
            "statem": is_statem,
            "args": hex(v.args()?),
            "result": result,
        }));
        Ok(true)
    })
    .unwrap();
    let out = json!({
        "recorded_by": "tests/cinema_browser.rs WORKLOAD on tests/fixtures/query_fixture",
        "calls": calls,
    });
    std::fs::write(FIXTURE, serde_json::to_string_pretty(&out).unwrap() + "\n").unwrap();
}
