//! The Execution Cinema (`elixir-scope serve`) in a real browser: Debian's `chromium` driven
//! over WebDriver (`chromedriver`, from `chromium-driver`) by fantoccini.
//!
//! The fixture shop (`tests/fixtures/query_fixture`) is compiled, instrumented and run, which
//! records a real run with an exception (`Shop.checkout_safely(cart, "BOGUS")`). The tests
//! serve that store and check what the page shows against what the CLI says of the same
//! recording. Screenshots of each view go to `target/cinema-screenshots/` (looked at by
//! people, never compared).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use support::{elixir_scope_bin, executable};

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fixture, compiled and instrumented once.
struct Project {
    dir: tempfile::TempDir,
}

fn mix(project: &Path, args: &[&str], db: &Path) -> Command {
    let mut command = Command::new(executable("mix", "elixir"));
    command
        .args(args)
        .current_dir(project)
        .env("MIX_ENV", "dev")
        .env("ELIXIR_SCOPE_DB", db)
        .env_remove("ELIXIR_SCOPE_NIF");
    command
}

fn check(output: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The recording script: a checkout, one that raises inside (`Shop.Pricing.discount/2`), a
/// loop, a Task; then the shop as an OTP application (its supervisor and its GenServer,
/// `Shop.Stock`), an order that reserves stock by requests and totals in a Task, a cast and a
/// message to the GenServer; an Erlang gen_statem (`shop_door`).
const WORKLOAD: &str = r#"
cart = Shop.Cart.new("ada") |> Shop.Cart.add("tea", 4.5, 2) |> Shop.Cart.add("cake", 3)
{:ok, 12.0} = Shop.checkout(cart)
{:error, "unknown code: BOGUS"} = Shop.checkout_safely(cart, "BOGUS")
{:ok, 6.0} = Shop.checkout(cart, "HALF")
Shop.Loop.run(200)
12.0 = Task.async(fn -> Shop.Pricing.total(cart) end) |> Task.await()
shop = [description: 'shop', vsn: '0.1.0', modules: [], registered: [],
        applications: [:kernel, :stdlib, :elixir], mod: {Shop.Application, %{"tea" => 10, "cake" => 5}}]
:ok = :application.load({:application, :shop, shop})
{:ok, _} = Application.ensure_all_started(:shop)
12.0 = Shop.Orders.place(cart)
:ok = Shop.Stock.restock("tea", 3)
send(Shop.Stock, :audit)
%{"tea" => 11, "cake" => 4} = Shop.Stock.levels()
{:ok, _} = :shop_door.start_link()
:nobody = :shop_door.knock()
:ok = :shop_door.open()
:come_in = :shop_door.knock()
:ok = :shop_door.close()
:nobody = :shop_door.knock()
"#;

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/query_fixture");
        support::copy_sources(&fixture, dir.path());
        let db = dir.path().join("store");
        check(
            mix(dir.path(), &["compile"], &db).output().expect("mix"),
            "mix compile",
        );
        let instrument = Command::new(elixir_scope_bin())
            .args(["instrument", "_build/dev", "--strategy", "all"])
            .current_dir(dir.path())
            .output()
            .expect("running elixir-scope instrument");
        check(instrument, "elixir-scope instrument");
        check(
            mix(dir.path(), &["run", "-e", WORKLOAD], &db)
                .output()
                .expect("mix run"),
            "the workload",
        );
        Project { dir }
    })
}

/// `elixir-scope serve` on `db`, and the URL it printed.
fn serve(db: &Path) -> (Killed, String) {
    let mut child = Command::new(elixir_scope_bin())
        .args(["serve", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("running elixir-scope serve");
    let stdout = child.stdout.take().expect("its stdout");
    let child = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the URL line");
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
        "serve printed {url:?}"
    );
    (child, url)
}

/// The status code of a plain GET, with extra header lines.
fn status_of(base: &str, path: &str, headers: &str) -> u16 {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connecting to the server");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("a request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// The status and JSON body of a GET with the token (HTTP/1.0: a plain body, no chunks).
fn get_json(base: &str, path: &str, token: &str) -> (u16, Value) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connecting to the server");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nX-Elixir-Scope-Token: {token}\r\n\r\n"
    )
    .expect("a request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    (status, json)
}

/// A free port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver, and a headless Chromium session through it.
async fn browser() -> (Killed, Client) {
    let chromium = executable("chromium", "chromium");
    let driver = executable("chromedriver", "chromium-driver");
    let port = free_port();
    let child = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("running chromedriver"),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (child, client)
}

/// Waits until the JavaScript expression is truthy, and returns its value.
async fn until(client: &Client, expression: &str, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = client
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or(Value::Null);
        if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
            return v;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let body = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("waited 30 s for {what} ({expression}); the page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `target/cinema-screenshots`, next to the test binaries.
fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("cinema-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshots().join(name), png).expect("writing the screenshot");
}

/// The CLI's calls of a process, oldest first.
fn cli_calls(db: &Path, args: &[&str]) -> Vec<Value> {
    let out = Command::new(elixir_scope_bin())
        .arg("calls")
        .args(args)
        .args(["--limit", "10000", "--json", "--db"])
        .arg(db)
        .output()
        .expect("elixir-scope calls");
    let text = check(out, "elixir-scope calls");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let mut calls = v.as_array().cloned().unwrap_or_default();
    calls.sort_by_key(|c| c["id"].as_u64());
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_opens_an_exception_and_steps_back_through_time() {
    let project = project();
    let db = project.dir.path().join("store");
    let (_server, url) = serve(&db);
    let base = url.split("/?").next().expect("a base URL").to_string();
    let token = url.split("token=").nth(1).expect("a token");

    // Recordings hold arguments: nothing without the token.
    assert_eq!(status_of(&base, "/", ""), 403);
    assert_eq!(status_of(&base, "/api/runs", ""), 403);
    assert_eq!(status_of(&base, "/api/runs?token=0123", ""), 403);
    assert_eq!(
        status_of(&base, "/api/runs", "Cookie: elixir_scope_token=nope\r\n"),
        403
    );
    assert_eq!(
        status_of(
            &base,
            "/api/runs",
            &format!("X-Elixir-Scope-Token: {token}\r\n")
        ),
        200
    );

    // The search box's patterns are the CLI's `--match`: the same calls, and a pattern that
    // does not parse is refused with its column.
    let pattern = "Shop.Pricing.discount(_,%20%22BOGUS%22)";
    let (status, found) = get_json(
        &base,
        &format!("/api/runs/1/calls?pattern={pattern}"),
        token,
    );
    assert_eq!(status, 200, "{found}");
    let ids = |calls: &Value| -> Vec<u64> {
        calls
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| c["id"].as_u64().expect("an id"))
            .collect()
    };
    let cli: Vec<Value> = cli_calls(&db, &["--match", "Shop.Pricing.discount(_, \"BOGUS\")"]);
    assert!(!cli.is_empty());
    assert_eq!(ids(&found["calls"]), ids(&Value::Array(cli)));
    let (status, refused) = get_json(
        &base,
        "/api/runs/1/calls?pattern=Shop.Pricing.discount(",
        token,
    );
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("at column 23"), "{refused}");

    // What the CLI says: the call that raised, and its process's calls in time order.
    let raised = cli_calls(&db, &["--exceptions"]);
    let discount = raised
        .iter()
        .find(|c| c["function"] == "discount")
        .unwrap_or_else(|| panic!("the CLI lists no raised discount/2: {raised:?}"));
    let pid = discount["pid"].as_str().expect("a pid");
    let process = cli_calls(&db, &["--pid", pid]);
    let at = process
        .iter()
        .position(|c| c["id"] == discount["id"])
        .expect("the exception among its process's calls");
    assert!(at >= 3, "three calls before the exception: {process:?}");
    let three_back = &process[at - 3];

    let (_driver, client) = browser().await;
    client.goto(&format!("{url}#/")).await.expect("the page");
    until(
        &client,
        "document.querySelectorAll('#runs tr.run').length",
        "the runs table",
    )
    .await;
    let row = client
        .find(Locator::Css("#runs tr.run"))
        .await
        .expect("a run row")
        .text()
        .await
        .expect("its text");
    assert!(row.contains("ended"), "{row}");
    screenshot(&client, "runs.png").await;

    // The timeline of the run: painted, with slices; lanes grouped by application and
    // supervisor (derived from the processes' first calls and where they came from).
    client
        .goto(&format!("{base}/#/runs/1"))
        .await
        .expect("the timeline");
    until(
        &client,
        "performance.getEntriesByName('cinema-timeline-painted').length",
        "the first paint of the timeline",
    )
    .await;
    let drawn = until(
        &client,
        "window.__cinema.timeline && window.__cinema.timeline.drawn",
        "slices",
    )
    .await;
    assert!(drawn.as_u64().unwrap_or(0) > 0, "{drawn}");
    let labels = client
        .execute("return window.__cinema.timeline.labels", vec![])
        .await
        .expect("the lanes");
    let lane = |role: &str, name: &str| -> u64 {
        labels
            .as_array()
            .expect("lanes")
            .iter()
            .find(|l| l["role"] == role && l["name"] == name)
            .and_then(|l| l["level"].as_u64())
            .unwrap_or_else(|| panic!("no {role} {name} among {labels}"))
    };
    let (application, supervisor, server) = (
        lane("application", "Shop.Application"),
        lane("supervisor", "Shop.Supervisor"),
        lane("server", "Shop.Stock"),
    );
    assert_eq!(
        (supervisor, server),
        (application + 1, application + 2),
        "{labels}"
    );
    screenshot(&client, "timeline.png").await;

    // Search for calls that raised, open the exception.
    client
        .find(Locator::Css("#q-exceptions"))
        .await
        .expect("the raised box")
        .click()
        .await
        .expect("a click");
    client
        .find(Locator::Css("#q-function"))
        .await
        .expect("the function box")
        .send_keys("discount\n")
        .await
        .expect("typing");
    until(
        &client,
        "document.querySelectorAll('#results-list li a').length",
        "results",
    )
    .await;
    client
        .find(Locator::Css("#results-list li a"))
        .await
        .expect("a result")
        .click()
        .await
        .expect("a click");
    let banner = until(
        &client,
        "document.querySelector('#exception .banner') && document.querySelector('#exception .banner').textContent",
        "the exception",
    )
    .await;
    assert_eq!(banner, json!("** (ArgumentError) unknown code: BOGUS"));
    let headline = until(
        &client,
        "document.querySelector('#headline').textContent",
        "the call",
    )
    .await;
    assert!(
        headline
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("#{} Shop.Pricing.discount(", discount["id"])),
        "{headline}"
    );
    let stack = until(
        &client,
        "document.querySelectorAll('#stack li').length",
        "the stack trace",
    )
    .await;
    assert!(stack.as_u64().unwrap_or(0) >= 1);
    client
        .execute("document.querySelector('#results-close').click()", vec![])
        .await
        .expect("closing the results");
    screenshot(&client, "call-exception.png").await;

    // Three steps back in time in this process, by keyboard.
    for step in 1..=3 {
        let expected = &process[at - step];
        client
            .execute(
                "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowLeft'}))",
                vec![],
            )
            .await
            .expect("a key");
        until(
            &client,
            &format!(
                "document.querySelector('#headline') && document.querySelector('#headline').textContent.startsWith('#{} ')",
                expected["id"]
            ),
            &format!("step {step} back to #{}", expected["id"]),
        )
        .await;
    }
    let headline = client
        .find(Locator::Css("#headline"))
        .await
        .expect("the headline")
        .text()
        .await
        .expect("its text");
    let function = format!(
        "{}.{}(",
        three_back["module"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("Elixir."),
        three_back["function"].as_str().unwrap_or("")
    );
    assert!(
        headline.contains(&function),
        "{headline} should show {function}"
    );
    let process_text = client
        .find(Locator::Css("#process"))
        .await
        .expect("the process")
        .text()
        .await
        .expect("text");
    assert!(process_text.starts_with(pid), "{process_text} vs {pid}");
    screenshot(&client, "call-three-back.png").await;

    // The help overlay.
    client
        .execute(
            "document.dispatchEvent(new KeyboardEvent('keydown', {key: '?'}))",
            vec![],
        )
        .await
        .expect("a key");
    until(
        &client,
        "!document.querySelector('#help').hidden",
        "the help overlay",
    )
    .await;
    screenshot(&client, "help.png").await;
    client
        .execute(
            "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))",
            vec![],
        )
        .await
        .expect("a key");
    links_and_state_history(&client, &base, &db).await;
    client.close().await.expect("closing the session");
}

/// Presses a key on the page.
async fn key(client: &Client, key: &str) {
    client
        .execute(
            &format!("document.dispatchEvent(new KeyboardEvent('keydown', {{key: '{key}'}}))"),
            vec![],
        )
        .await
        .expect("a key");
}

/// Waits until the call view shows call `id`.
async fn shows_call(client: &Client, id: &Value, what: &str) {
    until(
        client,
        &format!(
            "window.__cinema.view === 'call' && document.querySelector('#headline') && document.querySelector('#headline').textContent.startsWith('#{id} ')"
        ),
        what,
    )
    .await;
}

/// Stepping across links (into the `handle_call` that served a request and back, into a
/// Task and back) and the GenServer's state history, checked against what the CLI prints of
/// the same calls.
async fn links_and_state_history(client: &Client, base: &str, db: &Path) {
    let calls = |args: &[&str]| cli_calls(db, args);
    let reserve = calls(&["--module", "Shop.Stock", "--function", "reserve"]);
    let served = calls(&["--module", "Shop.Stock", "--function", "handle_call"]);
    let tea = served
        .iter()
        .find(|c| c["args"][0] == "{:reserve, \"tea\", 2}")
        .unwrap_or_else(|| panic!("the CLI lists no handle_call reserving tea: {served:?}"));
    let client_call = &reserve[0];
    client
        .goto(&format!("{base}/#/runs/1/calls/{}", client_call["id"]))
        .await
        .expect("the call");
    shows_call(client, &client_call["id"], "Shop.Stock.reserve/2").await;
    // Across: the request it waited for, served in the GenServer's process; back: its cause.
    key(client, "x").await;
    shows_call(client, &tea["id"], "the handle_call that served it").await;
    let process = client
        .find(Locator::Css("#process"))
        .await
        .expect("the process")
        .text()
        .await
        .expect("text");
    assert!(
        process.starts_with(tea["pid"].as_str().expect("a pid")),
        "{process} vs {tea}"
    );
    key(client, "c").await;
    shows_call(client, &client_call["id"], "back to the waiting call").await;

    // Into the Task an order started, and back to the order.
    let place = &calls(&["--module", "Shop.Orders", "--function", "place"])[0];
    let task = calls(&["--module", "Shop.Pricing", "--function", "total"])
        .into_iter()
        .find(|c| c["id"].as_u64() > place["id"].as_u64() && c["pid"] != place["pid"])
        .expect("the order's Task");
    client
        .goto(&format!("{base}/#/runs/1/calls/{}", place["id"]))
        .await
        .expect("the order");
    shows_call(client, &place["id"], "Shop.Orders.place/1").await;
    let listed = until(
        client,
        "document.querySelectorAll('#waited li').length === 2 && document.querySelector('#started li[data-kind=task]') && document.querySelector('#started li[data-kind=task]').dataset.call",
        "what the order started and waited for",
    )
    .await;
    assert_eq!(listed, json!(task["id"].to_string()));
    screenshot(client, "call-links.png").await;
    client
        .execute(
            "document.querySelector('#started li[data-kind=task] a').click()",
            vec![],
        )
        .await
        .expect("a click");
    shows_call(client, &task["id"], "the Task's first call").await;
    key(client, "c").await;
    shows_call(client, &place["id"], "back to the order").await;

    // The GenServer's state history at the handle_call: what it received and returned is what
    // the CLI prints as its third argument and inside its result, and the diff says what
    // changed between the two.
    client
        .goto(&format!("{base}/#/runs/1/calls/{}", tea["id"]))
        .await
        .expect("the handle_call");
    let entry = until(
        client,
        &format!(
            "window.__cinema.states && window.__cinema.states.entry && window.__cinema.states.entry.id === {} && window.__cinema.states",
            tea["id"]
        ),
        "the state history",
    )
    .await;
    let before = entry["entry"]["before"]["text"]
        .as_str()
        .expect("a state received");
    let after = entry["entry"]["after"]["text"]
        .as_str()
        .expect("a state returned");
    assert_eq!(before, tea["args"][2].as_str().expect("the CLI's state"));
    assert_eq!(
        tea["result"].as_str().expect("the CLI's result"),
        format!("{{:reply, :ok, {after}}}")
    );
    assert!(
        before.contains(r#""tea" => 10"#) && before.contains("reserved: 0"),
        "{before}"
    );
    assert!(
        after.contains(r#""tea" => 8"#) && after.contains("reserved: 2"),
        "{after}"
    );
    // The diff's rows once they are `expected` (the table is drawn after the states arrive),
    // else what it shows after 30 s.
    let rows = |expected: Value| async move {
        let started = Instant::now();
        loop {
            let shown = client
                .execute(
                    "return [...document.querySelectorAll('#state-diff tr')].map(r => [...r.cells].map(c => c.textContent).join(' ').replace(/ +/g, ' ').trim())",
                    vec![],
                )
                .await
                .expect("the diff");
            if shown == expected || started.elapsed() > Duration::from_secs(30) {
                return shown;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let expected = json!([
        r#"state.levels["tea"] changed 10 → 8"#,
        "state.reserved changed 0 → 2"
    ]);
    assert_eq!(rows(expected.clone()).await, expected);
    assert_eq!(entry["module"], "Shop.Stock");
    assert_eq!(entry["total"], 6, "init, 3 handle_call, a cast, a message");
    screenshot(client, "states.png").await;
    // Scrubbing: the next callback (the cake's reservation), then the last (`:levels`).
    key(client, "]").await;
    let cake = served
        .iter()
        .find(|c| c["args"][0] == "{:reserve, \"cake\", 1}")
        .expect("the cake's reservation");
    until(
        client,
        &format!("window.__cinema.states.entry.id === {}", cake["id"]),
        "the next callback",
    )
    .await;
    let expected = json!([
        r#"state.levels["cake"] changed 5 → 4"#,
        "state.reserved changed 2 → 3"
    ]);
    assert_eq!(rows(expected.clone()).await, expected);
    client
        .execute(
            "const s = document.querySelector('#states-slider'); s.value = 5; s.dispatchEvent(new Event('input'))",
            vec![],
        )
        .await
        .expect("the slider");
    let last = until(
        client,
        "window.__cinema.states.index === 5 && window.__cinema.states.entry && window.__cinema.states.entry.event",
        "the last callback",
    )
    .await;
    assert_eq!(last, json!(":levels"));
    let unchanged = client
        .find(Locator::Css("#state-diff"))
        .await
        .expect("the diff")
        .text()
        .await
        .expect("text");
    assert_eq!(unchanged, "state unchanged");

    // A cast: `restock` sent `{:restock, "tea", 3}` to the GenServer; its tree shows the
    // message and the `handle_cast` that received it, its "Sent" list names that call, `x`
    // steps to it and `c` back.
    let restock = &calls(&["--module", "Shop.Stock", "--function", "restock"])[0];
    let handled = &calls(&["--module", "Shop.Stock", "--function", "handle_cast"])[0];
    client
        .goto(&format!("{base}/#/runs/1/calls/{}", restock["id"]))
        .await
        .expect("the restock call");
    shows_call(client, &restock["id"], "Shop.Stock.restock/2").await;
    let line = until(
        client,
        "(() => { const l = document.querySelector('#tree .message.line'); return l && l.textContent })()",
        "the cast in the tree",
    )
    .await;
    let line = line.as_str().expect("text");
    assert!(
        line.contains("→ cast")
            && line.contains(r#"{:restock, "tea", 3}"#)
            && line.ends_with(&format!("⇢ #{}", handled["id"])),
        "{line}"
    );
    let sent = until(
        client,
        "document.querySelector('#sent') && document.querySelector('#sent').textContent",
        "the Sent list",
    )
    .await;
    assert!(
        sent.as_str()
            .expect("text")
            .contains(&format!("(message) #{}", handled["id"])),
        "{sent}"
    );
    screenshot(client, "call-cast.png").await;
    key(client, "x").await;
    shows_call(
        client,
        &handled["id"],
        "the handle_cast that received the cast",
    )
    .await;
    key(client, "c").await;
    shows_call(client, &restock["id"], "back to the call that cast").await;
}

/// The web UI's speed at scale, measured in the browser (Performance API): the first paint of
/// a large run's timeline, cold (the server builds the run's timeline first) and warm, and the
/// answer times of zoom and pan windows. Not part of the suite (`--ignored`): it needs a large
/// store, written by the `cinema_store` bench, and a release build of `elixir-scope`:
///
/// ```text
/// CINEMA_CALLS=1000000 cargo bench -p elixir-scope-benches --bench cinema_store
/// cargo build --release -p elixir-scope
/// CINEMA_STORE=target/cinema-bench/store-1000000 CINEMA_SERVE_BIN=target/release/elixir-scope \
///   cargo test -p elixir-scope-tests --test cinema_browser -- --ignored --nocapture cinema_speed
/// ```
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs CINEMA_STORE, a large store (see the doc comment)"]
async fn cinema_speed() {
    let store = PathBuf::from(std::env::var_os("CINEMA_STORE").expect("CINEMA_STORE"));
    let bin = std::env::var_os("CINEMA_SERVE_BIN").map_or_else(elixir_scope_bin, PathBuf::from);
    let mut child = Command::new(bin)
        .args(["serve", "--db"])
        .arg(&store)
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Killed(child);
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url).expect("the URL");
    let url = url.trim().to_string();
    let (_driver, client) = browser().await;
    let mut paints = Vec::new();
    for attempt in ["cold", "warm"] {
        client.goto("about:blank").await.expect("blank");
        client
            .goto(&format!("{url}#/runs/1"))
            .await
            .expect("the page");
        let ms = until(
            &client,
            "performance.getEntriesByName('cinema-timeline-painted').length && performance.getEntriesByName('cinema-timeline-painted')[0].startTime",
            "the first paint",
        )
        .await;
        let fetches = client
            .execute("return window.__cinema.fetches", vec![])
            .await
            .expect("fetches");
        eprintln!("first paint ({attempt}): {ms} ms; fetches: {fetches}");
        paints.push(json!({"attempt": attempt, "first_paint_ms": ms, "fetches": fetches}));
    }
    screenshot(&client, "speed-timeline.png").await;
    // Zoom in around the middle by 2x steps down to a few µs, pan at three zoom levels, zoom
    // out: each window fetched as the page fetches it, timed in the browser.
    let windows = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            (async () => {
              const run = 1;
              const head = await (await fetch(`/api/runs/${run}/lanes`)).json();
              const E = head.extent_ns, W = 1200, out = [];
              const wins = [];
              for (let span = E, i = 0; span > 2000 && i < 24; span /= 2, i++) wins.push([E / 2 - span / 2, E / 2 + span / 2]);
              for (const span of [E / 10, E / 1000, E / 100000]) for (let k = 0; k < 8; k++) { const a = E * 0.3 + k * span / 4; wins.push([a, a + span]); }
              for (let span = 4000; span < E; span *= 4) wins.push([E / 3, E / 3 + span]);
              for (const [a, b] of wins) {
                const t0 = performance.now();
                const r = await fetch(`/api/runs/${run}/timeline?from=${Math.floor(a)}&to=${Math.ceil(b)}&width=${W}`);
                const j = await r.json();
                const ms = performance.now() - t0;
                out.push({ span: Math.round(b - a), ms, server_ms: j.server_us / 1000, slices: j.lanes.reduce((s, l) => s + l.slices.length, 0), busy: j.lanes.reduce((s, l) => s + l.busy_px.length / 2, 0), lanes: j.lanes.length });
              }
              return { calls: head.calls, out };
            })().then(done, (e) => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .expect("the windows");
    let out = windows["out"].as_array().cloned().unwrap_or_default();
    assert!(!out.is_empty(), "{windows}");
    let mut ms: Vec<f64> = out.iter().filter_map(|w| w["ms"].as_f64()).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let mut server: Vec<f64> = out.iter().filter_map(|w| w["server_ms"].as_f64()).collect();
    server.sort_by(f64::total_cmp);
    let server_pct = |p: f64| server[((server.len() - 1) as f64 * p).round() as usize];
    let summary = json!({
        "calls": windows["calls"],
        "paints": paints,
        "windows": out.len(),
        "median_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "max_ms": ms[ms.len() - 1],
        "server_median_ms": server_pct(0.5),
        "server_p95_ms": server_pct(0.95),
        "server_max_ms": server_pct(1.0),
        "each": out,
    });
    eprintln!(
        "{} calls: {} windows; in the browser median {:.1} ms, p95 {:.1} ms, max {:.1} ms; \
         on the server median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        windows["calls"],
        summary["windows"],
        pct(0.5),
        pct(0.95),
        ms[ms.len() - 1],
        server_pct(0.5),
        server_pct(0.95),
        server_pct(1.0)
    );
    std::fs::write(
        screenshots().join(format!("speed-{}.json", windows["calls"])),
        serde_json::to_string_pretty(&summary).expect("JSON"),
    )
    .expect("writing the figures");
    client.close().await.expect("closing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_a_run_while_it_records() {
    let project = project();
    let db = project.dir.path().join("live-store");
    // A VM that records for a while: a loop every 100 ms.
    let vm = Killed(
        mix(
            project.dir.path(),
            &[
                "run",
                "--no-compile",
                "-e",
                "for _ <- 1..300, do: (Shop.Loop.run(20); Process.sleep(100))",
            ],
            &db,
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("running the recording VM"),
    );
    let started = Instant::now();
    while !db.join("runs/1/run").is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the VM did not start recording into {db:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_server, url) = serve(&db);
    let (_driver, client) = browser().await;
    client
        .goto(&format!("{url}#/runs/1"))
        .await
        .expect("the page");
    let badge = until(
        &client,
        "document.querySelector('.badge') && document.querySelector('.badge').textContent",
        "the live badge",
    )
    .await;
    assert_eq!(badge, json!("● live"));
    // Calls sealed after the page opened are announced and listed.
    let announced = until(&client, "window.__cinema.liveCalls", "calls announced live").await;
    assert!(announced.as_u64().unwrap_or(0) > 0);
    let line = until(
        &client,
        "document.querySelector('#live-feed li') && document.querySelector('#live-feed li').textContent",
        "a call in the live feed",
    )
    .await;
    assert!(line.as_str().unwrap_or("").contains("Shop.Loop."), "{line}");
    screenshot(&client, "live.png").await;
    client.close().await.expect("closing");
    drop(vm);
}
