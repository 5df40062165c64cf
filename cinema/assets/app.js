// ElixirScope's Execution Cinema: runs, a timeline with level of detail, calls with their
// values, stepping through time. Plain JavaScript, no framework, nothing fetched but the API.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
};

// The token came in the URL; the server set it as a cookie. Keep it out of the address bar.
if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);

const cinema = (window.__cinema = { fetches: [], view: null, call: null });

async function api(path) {
  const t0 = performance.now();
  const res = await fetch(path, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  const ms = performance.now() - t0;
  cinema.fetches.push({ path, ms, status: res.status });
  if (cinema.fetches.length > 200) cinema.fetches.shift();
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

// ---- formatting -------------------------------------------------------------------------
const count = (n) => (n ?? 0).toLocaleString("en-US");
function duration(ns) {
  if (ns === null || ns === undefined) return "running";
  const f = (v, u) => (v < 10 ? (Math.round(v * 10) / 10).toFixed(1) : Math.round(v)) + u;
  if (ns < 1000) return ns + "ns";
  if (ns < 1e6) return f(ns / 1e3, "µs");
  if (ns < 1e9) return f(ns / 1e6, "ms");
  return f(ns / 1e9, "s");
}
const localTime = (unixNs) => new Date(unixNs / 1e6).toLocaleString();
function status(text) { $("#status").textContent = text; }

// ---- routing ----------------------------------------------------------------------------
let teardown = null;
async function route() {
  if (teardown) { teardown(); teardown = null; }
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const view = $("#view");
  view.replaceChildren();
  $("#search").hidden = !(parts[0] === "runs" && parts[1]);
  try {
    if (parts[0] === "runs" && parts[1] && parts[2] === "calls" && parts[3]) {
      await callView(view, +parts[1], +parts[3]);
    } else if (parts[0] === "runs" && parts[1]) {
      const at = new URLSearchParams(parts[2] || "");
      await timelineView(view, +parts[1], at);
    } else {
      await runsView(view);
    }
  } catch (e) {
    view.replaceChildren(el("div", { class: "error", text: String(e.message || e) }));
  }
}
window.addEventListener("hashchange", route);

function crumbs(...items) {
  const nav = $("#crumbs");
  nav.replaceChildren();
  items.forEach((item, i) => {
    if (i) nav.append(" › ");
    nav.append(item.href ? el("a", { href: item.href, text: item.text }) : el("span", { text: item.text }));
  });
}

// ---- runs -------------------------------------------------------------------------------
async function runsView(view) {
  cinema.view = "runs";
  crumbs({ text: "Runs" });
  const { runs, default_run } = await api("/api/runs");
  if (!location.hash && default_run && runs.length === 1) { location.hash = `#/runs/${default_run}`; return; }
  const table = el("table", { class: "runs", id: "runs" },
    el("thead", {}, el("tr", {}, ...["Run", "Node", "Started", "State", "Duration", "Calls", "Exceptions", "Processes", "Dropped"]
      .map((h, i) => el("th", { class: i >= 4 ? "num" : "", text: h })))));
  const body = el("tbody");
  for (const r of runs.slice().reverse()) {
    const tr = el("tr", { class: "run", "data-run": r.id, onclick: () => (location.hash = `#/runs/${r.id}`) },
      el("td", {}, el("a", { href: `#/runs/${r.id}`, text: `#${r.id}` })),
      el("td", { class: "mono", text: r.node }),
      el("td", { text: localTime(r.started_unix_ns) }),
      el("td", { class: `state-${r.state}`, text: r.state }),
      el("td", { class: "num", text: r.duration_ns == null ? "—" : duration(r.duration_ns) }),
      el("td", { class: "num", text: count(r.calls) }),
      el("td", { class: "num" + (r.exceptions ? " raised" : ""), text: count(r.exceptions) }),
      el("td", { class: "num", text: count(r.processes) }),
      el("td", { class: "num", text: count(r.dropped) }));
    body.append(tr);
  }
  table.append(body);
  view.append(el("h1", { text: `Runs (${runs.length})` }), table);
  status(`${runs.length} runs · press ? for keys`);
}

// ---- timeline ---------------------------------------------------------------------------
const ROW = 16, LANE_GAP = 8, LABEL = 230, AXIS = 22, MAX_ROWS = 24;
// What a lane's process is (the server derives it from first calls and the processes started).
const ROLE_MARK = { application: "▣ ", supervisor: "▤ ", server: "● ", task: "◆ ", process: "" };
function hue(name) { let h = 0; for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0; return h % 360; }
const dark = () => matchMedia("(prefers-color-scheme: dark)").matches;

async function timelineView(view, run, at) {
  cinema.view = "timeline";
  // The run's facts and its lanes (the server builds the run's timeline first) in parallel.
  const [info, lanesInfo] = await Promise.all([api(`/api/runs/${run}`), api(`/api/runs/${run}/lanes`)]);
  crumbs({ text: "Runs", href: "#/" }, { text: `Run ${run} · ${info.node} · ${count(info.calls)} calls` });
  const canvas = el("canvas", { id: "tl" });
  const tip = el("div", { id: "tip", hidden: true });
  const tools = el("div", { class: "timeline-tools" },
    el("button", { text: "Whole run", title: "0", onclick: () => zoomTo(start, extent) }),
    el("button", { text: "−", title: "Zoom out (s)", onclick: () => zoom(2) }),
    el("button", { text: "+", title: "Zoom in (w)", onclick: () => zoom(0.5) }),
    el("span", { class: "muted", id: "tl-window" }),
    info.live ? el("span", { class: "badge", text: "● live" }) : null);
  const feed = el("ol", { class: "live-feed", id: "live-feed", hidden: !info.live });
  const wrap = el("div", { class: "timeline-wrap" }, tools, el("div", { class: "tl-canvas" }, canvas, tip), feed);
  view.append(wrap);

  let extent = Math.max(lanesInfo.extent_ns, 1);
  // The whole run from its first call (a VM boots for a while before anything is recorded).
  const start = Math.min(lanesInfo.first_ns || 0, extent - 1);
  let from = start, to = extent, data = null, seq = 0, selected = +at.get("call") || null;
  if (at.get("from") !== null && at.get("to") !== null) { from = +at.get("from"); to = +at.get("to"); }
  let scrollY = 0, first = true, timer = null;
  const ctx = canvas.getContext("2d");

  function width() { return Math.max(100, canvas.clientWidth - LABEL); }
  async function load() {
    const my = ++seq;
    const t0 = performance.now();
    const w = Math.round(width());
    const res = await api(`/api/runs/${run}/timeline?from=${Math.floor(from)}&to=${Math.ceil(to)}&width=${w}`);
    if (my !== seq) return;
    data = res;
    extent = Math.max(res.extent_ns, extent);
    draw();
    const ms = performance.now() - t0;
    const n = res.lanes.reduce((a, l) => a + l.slices.length, 0);
    status(`window ${duration(to - from)} · ${count(n)} slices on ${res.lanes.length} lanes${res.truncated ? " (narrowest left out)" : ""} · answered in ${ms.toFixed(1)} ms`);
    if (first) { first = false; performance.mark("cinema-timeline-painted"); }
  }
  const schedule = () => { draw(); clearTimeout(timer); timer = setTimeout(() => load().catch((e) => status(e.message)), 30); };
  function zoomTo(a, b) { from = Math.max(0, a); to = Math.min(Math.max(b, from + 1), Math.max(extent, from + 1)); schedule(); }
  function zoom(factor, centerX) {
    const c = centerX === undefined ? (from + to) / 2 : from + (centerX / width()) * (to - from);
    const span = Math.max(50, (to - from) * factor);
    zoomTo(c - (c - from) * (span / (to - from)), c + (to - c) * (span / (to - from)));
  }
  function pan(fraction) { const d = (to - from) * fraction; if (from + d < 0) return zoomTo(0, to - from); from += d; to += d; schedule(); }

  let layout = [], labels = [];
  // Lanes folded: the processes under them are not drawn (a supervisor's, an application's).
  const collapsed = new Set();
  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (canvas.width !== W * dpr || canvas.height !== H * dpr) { canvas.width = W * dpr; canvas.height = H * dpr; }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const fg = getComputedStyle(document.body).color;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px ui-monospace, DejaVu Sans Mono, monospace";
    const x = (t) => LABEL + ((t - from) / (to - from)) * width();
    // axis
    ctx.fillStyle = fg; ctx.globalAlpha = 0.6;
    const step = niceStep((to - from) / 8);
    for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
      ctx.fillRect(x(t), AXIS - 6, 1, 6);
      ctx.fillText("+" + duration(Math.round(t)), x(t) + 3, 12);
    }
    ctx.globalAlpha = 1;
    $("#tl-window") && ($("#tl-window").textContent = `${duration(Math.round(from))} – ${duration(Math.round(to))}`);
    if (!data) return;
    layout = [];
    labels = [];
    let y = AXIS + 4 - scrollY;
    const laneY = {};
    const parentOf = {}, hasChildren = new Set();
    for (const lane of data.lanes) { parentOf[lane.lane] = lane.parent; if (lane.parent !== null && lane.parent !== undefined) hasChildren.add(lane.parent); }
    const folded = (lane) => { for (let p = lane.parent, n = 0; p !== null && p !== undefined && n < 64; p = parentOf[p], n++) if (collapsed.has(p)) return true; return false; };
    for (const lane of data.lanes) {
      if (folded(lane)) continue;
      const rows = collapsed.has(lane.lane) ? 1 : Math.min(lane.depth, MAX_ROWS);
      const h = rows * ROW;
      laneY[lane.lane] = y;
      if (y + h > 0 && y < H) {
        ctx.fillStyle = fg; ctx.globalAlpha = 0.8;
        // A process under the one it came from, indented; what it is, and whether it is folded.
        const toggle = hasChildren.has(lane.lane) ? (collapsed.has(lane.lane) ? "▸ " : "▾ ") : "";
        const label = (lane.level ? "  ".repeat(Math.min(lane.level, 6) - 1) + "└ " : "") + toggle + (ROLE_MARK[lane.role] || "") + lane.pid + (lane.name ? " " + lane.name : "");
        ctx.save(); ctx.beginPath(); ctx.rect(0, y, LABEL - 4, ROW); ctx.clip();
        ctx.fillText(label, 6, y + 12); ctx.restore();
        labels.push([y, y + ROW, lane.lane, hasChildren.has(lane.lane), lane]);
        ctx.globalAlpha = 0.15; ctx.fillRect(0, y + h + LANE_GAP / 2, W, 1); ctx.globalAlpha = 1;
        ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--busy");
        // Busy pixels of the window the data came for, placed in the current one.
        const bp = lane.busy_px, npp = data.ns_per_px;
        for (let i = 0; i + 1 < bp.length; i += 2) {
          const a = data.from + bp[i] * npp, b = data.from + (bp[i + 1] + 1) * npp;
          const x0 = Math.max(LABEL, x(a)), x1 = Math.max(x0 + 1, x(b));
          ctx.fillRect(x0, y, x1 - x0, ROW - 2);
        }
        for (const s of lane.slices) {
          const [start, dur, depth, id, fn, flags] = s;
          if (depth >= MAX_ROWS || (depth > 0 && collapsed.has(lane.lane))) continue;
          const x0 = Math.max(LABEL, x(start)), x1 = Math.min(W, Math.max(x0 + 1, x(start + dur)));
          if (x1 < LABEL) continue;
          const name = data.functions[fn] || "?";
          const sy = y + depth * ROW;
          ctx.fillStyle = `hsl(${hue(name)} 55% ${dark() ? 38 : 72}%)`;
          ctx.fillRect(x0, sy, x1 - x0, ROW - 2);
          if (flags & 1) { ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--raised"); ctx.lineWidth = 2; ctx.strokeRect(x0 + 1, sy + 1, x1 - x0 - 2, ROW - 4); }
          if (id === selected) { ctx.strokeStyle = "#ffb300"; ctx.lineWidth = 2; ctx.strokeRect(x0, sy, x1 - x0, ROW - 2); }
          if (x1 - x0 > 30) {
            ctx.save(); ctx.beginPath(); ctx.rect(x0, sy, x1 - x0, ROW); ctx.clip();
            ctx.fillStyle = dark() ? "#f0f0f0" : "#111"; ctx.fillText(name, x0 + 3, sy + 11); ctx.restore();
          }
          layout.push([x0, sy, x1, sy + ROW - 2, id, name, dur, flags]);
        }
        ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--raised");
        for (const [t, id] of lane.marks) {
          const mx = x(t);
          ctx.beginPath(); ctx.moveTo(mx, y + ROW - 2); ctx.lineTo(mx - 4, y + ROW + 5); ctx.lineTo(mx + 4, y + ROW + 5); ctx.fill();
          layout.push([mx - 4, y, mx + 4, y + ROW + 5, id, "exception", null, 1]);
        }
      }
      y += h + LANE_GAP;
    }
    // links: a process started (violet), a request served (teal), a message received (orange)
    for (const link of data.links) {
      if (laneY[link.from] === undefined || laneY[link.to] === undefined) continue;
      const lx = x(link.time), y0 = laneY[link.from] + ROW / 2, y1 = laneY[link.to] + 2;
      ctx.strokeStyle = { request: "#00897b", message: "#ef6c00" }[link.kind] || "#7e57c2"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(lx, y0); ctx.lineTo(lx, y1); ctx.stroke();
      const dir = y1 > y0 ? 1 : -1;
      ctx.beginPath(); ctx.moveTo(lx, y1); ctx.lineTo(lx - 3, y1 - 5 * dir); ctx.lineTo(lx + 3, y1 - 5 * dir); ctx.fillStyle = ctx.strokeStyle; ctx.fill();
    }
    cinema.timeline = { from, to, lanes: data.lanes.length, drawn: layout.length, labels: labels.map((l) => ({ pid: l[4].pid, role: l[4].role, name: l[4].name, level: l[4].level })) };
  }
  function hit(ev) {
    const r = canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    for (let i = layout.length - 1; i >= 0; i--) {
      const [x0, y0, x1, y1] = layout[i];
      if (mx >= x0 - 1 && mx <= x1 + 1 && my >= y0 && my <= y1) return layout[i];
    }
    return null;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, from, to, scrollY, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mouseup", onUp);
  function onUp(ev) {
    if (!drag) return;
    canvas.classList.remove("dragging");
    const wasDrag = drag.moved; drag = null;
    if (!wasDrag && ev.target === canvas) {
      const r = canvas.getBoundingClientRect();
      const mx = ev.clientX - r.left, my = ev.clientY - r.top;
      const label = mx < LABEL && labels.find((l) => my >= l[0] && my <= l[1] && l[3]);
      if (label) { collapsed.has(label[2]) ? collapsed.delete(label[2]) : collapsed.add(label[2]); draw(); return; }
      const h = hit(ev);
      if (h) { selected = h[4]; draw(); }
    }
  }
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      const d = (-dx / width()) * (drag.to - drag.from);
      from = Math.max(0, drag.from + d); to = from + (drag.to - drag.from);
      scrollY = Math.max(0, drag.scrollY - dy);
      schedule(); tip.hidden = true; return;
    }
    const r0 = canvas.getBoundingClientRect();
    const label = ev.clientX - r0.left < LABEL && labels.find((l) => ev.clientY - r0.top >= l[0] && ev.clientY - r0.top <= l[1]);
    const h = label ? null : hit(ev);
    if (label) {
      const lane = label[4];
      tip.hidden = false;
      tip.textContent = `${lane.pid}: ${lane.role}${lane.name ? " " + lane.name : ""}${label[3] ? " — click to fold the processes under it" : ""}`;
      tip.style.left = ev.clientX - r0.left + 12 + "px"; tip.style.top = ev.clientY - r0.top + 14 + "px";
      return;
    }
    if (!h) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.textContent = `#${h[4]} ${h[5]}${h[6] !== null ? " (" + duration(h[6]) + ")" : ""}${h[7] & 1 ? " raised" : ""} — click to select, double-click to open`;
    const r = canvas.getBoundingClientRect();
    tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - 300) + "px";
    tip.style.top = ev.clientY - r.top + 14 + "px";
  });
  canvas.addEventListener("dblclick", (ev) => { const h = hit(ev); if (h) location.hash = `#/runs/${run}/calls/${h[4]}`; });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect();
    if (ev.shiftKey) { scrollY = Math.max(0, scrollY + ev.deltaY); draw(); return; }
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, ev.clientX - r.left - LABEL);
  }, { passive: false });
  const onResize = () => schedule();
  window.addEventListener("resize", onResize);
  cinema.keys = (k) => {
    if (k === "w" || k === "+") zoom(0.5); else if (k === "s" || k === "-") zoom(2);
    else if (k === "a") pan(-0.25); else if (k === "d") pan(0.25);
    else if (k === "0") zoomTo(start, extent);
    else if (k === "Enter" && selected) location.hash = `#/runs/${run}/calls/${selected}`;
    else return false;
    return true;
  };
  cinema.zoomTo = zoomTo;
  // Live: new calls are announced; the feed lists them and the window follows the end.
  let source = null;
  if (info.live) {
    source = new EventSource(`/api/runs/${run}/follow`);
    source.addEventListener("calls", (ev) => {
      const msg = JSON.parse(ev.data);
      for (const c of msg.calls) {
        feed.prepend(el("li", { class: "line" + (c.outcome === "raised" ? " raised" : "") },
          el("a", { href: `#/runs/${run}/calls/${c.id}`, text: `#${c.id}` }), " ", c.line));
      }
      while (feed.children.length > 200) feed.lastChild.remove();
      const following = to >= extent * 0.98;
      api(`/api/runs/${run}/lanes`).then((l) => { const old = extent; extent = Math.max(l.extent_ns, 1); if (following) { to = extent; from = Math.max(0, from + (extent - old) * 0); } schedule(); });
      cinema.liveCalls = (cinema.liveCalls || 0) + msg.calls.length;
    });
    source.addEventListener("end", () => { source.close(); status("the run stopped recording"); });
  }
  teardown = () => { window.removeEventListener("resize", onResize); window.removeEventListener("mouseup", onUp); if (source) source.close(); cinema.keys = null; };
  await load();
}
function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

// ---- values -----------------------------------------------------------------------------
function valueNode(v, depth = 0) {
  if (!v) return el("span", { class: "cut", text: "—" });
  if (!v.items) return el("span", { class: v.kind === "cut" ? "cut" : `k-${v.kind}`, text: v.text });
  const details = el("details", { open: depth === 0 && v.text.length > 100 });
  details.append(el("summary", {}, el("span", { class: "preview", text: v.text }), el("span", { class: "opener", text: v.open })));
  const items = el("span", { class: "items" });
  v.items.forEach((item, i) => {
    items.append(el("span", { class: "item" },
      item.key ? el("span", { class: "key", text: item.key }) : null,
      valueNode(item.value, depth + 1),
      i < v.items.length - 1 ? "," : ""));
  });
  details.append(items, el("span", { class: "closer", text: v.close }));
  return details;
}
const valueBlock = (v) => el("div", { class: "value" }, valueNode(v));

// ---- a call -----------------------------------------------------------------------------
async function callView(view, run, id) {
  cinema.view = "call";
  const c = await api(`/api/runs/${run}/calls/${id}`);
  const call = c.call;
  cinema.call = c;
  // What it caused, in time order: processes it started, requests it waited for.
  const caused = (c.caused && c.caused.links) || [];
  crumbs({ text: "Runs", href: "#/" }, { text: `Run ${run}`, href: `#/runs/${run}` }, { text: `#${id} ${call.name}` });
  const go = (target) => target && (location.hash = `#/runs/${run}/calls/${target}`);
  const nav = el("div", { class: "nav" },
    el("button", { id: "nav-prev", text: "← previous", title: "previous call in this process (←, h)", disabled: !c.nav.prev, onclick: () => go(c.nav.prev) }),
    el("button", { id: "nav-next", text: "next →", title: "next call in this process (→, l)", disabled: !c.nav.next, onclick: () => go(c.nav.next) }),
    el("button", { id: "nav-into", text: "↓ into", title: "its first call (↓, j)", disabled: !c.nav.first_child, onclick: () => go(c.nav.first_child) }),
    el("button", { id: "nav-out", text: "↑ out", title: "its caller (↑, k)", disabled: !c.nav.parent, onclick: () => go(c.nav.parent) }),
    c.cause ? el("button", { id: "nav-cause", text: `⇠ ${c.cause.kind} from ${c.cause.pid}`, title: "back to the call that caused it (c)", onclick: () => go(c.cause.call.id) }) : null,
    caused.length ? el("button", { id: "nav-across", text: `⇢ ${{ request: "request to", message: "message to" }[caused[0].kind] || caused[0].kind} ${caused[0].pid}`, title: "across: the first process it started or request it made (x; 1–9 for the n-th)", onclick: () => go(caused[0].call.id) }) : null,
    el("button", { text: "timeline", title: "t", onclick: () => timelineAt() }));
  const timelineAt = () => {
    const d = call.duration_ns || 1000;
    location.hash = `#/runs/${run}/from=${Math.max(0, call.start_ns - d)}&to=${call.start_ns + 2 * d}&call=${id}`;
  };
  const section = (title, ...body) => el("section", {}, el("h2", { text: title }), ...body);
  const v = c.values;
  const args = el("div", { id: "args" }, ...v.args.map((a, i) => el("div", { class: "arg" }, el("span", { class: "muted", text: `${i + 1}. ` }), valueBlock(a))));
  const parts = [
    el("div", { class: "headline", id: "headline" }, el("span", { class: "muted", text: `#${call.id} ` }), call.line),
    nav,
    el("dl", { class: "facts" },
      el("dt", { text: "process" }), el("dd", { id: "process", text: c.process ? c.process.pid + (c.process.origin ? ` (${c.process.origin.kind} of ${c.process.origin.pid})` : "") : call.pid }),
      el("dt", { text: "started" }), el("dd", { text: `+${duration(call.start_ns)} (${new Date(call.started_unix_ns / 1e6).toISOString()})` }),
      el("dt", { text: "duration" }), el("dd", { text: duration(call.duration_ns) + (v.tail_calls ? `, ${count(v.tail_calls)} tail calls` : "") }),
      el("dt", { text: "outcome" }), el("dd", { id: "outcome", class: call.outcome === "raised" ? "raised" : "", text: call.outcome })),
    section(`Arguments (${v.args.length})`, args),
  ];
  if (v.exception) {
    const e = v.exception;
    parts.push(section("Exception", el("div", { class: "exception", id: "exception" },
      el("div", { class: "banner mono", text: `** ${e.banner ?? e.class}` }),
      e.reason ? valueBlock(e.reason) : null)));
    if (e.stacktrace.length) parts.push(section("Stack trace", el("ol", { class: "stack", id: "stack" }, ...e.stacktrace.map((s) => el("li", { text: s })))));
  } else if (v.result !== undefined) {
    parts.push(section("Result", el("div", { id: "result" }, valueBlock(v.result))));
  }
  if (c.tail_calls.length) parts.push(section("Tail calls captured", el("ol", { class: "stack" }, ...c.tail_calls.map((t) => el("li", { text: `${t.name} ${t.args}` })))));
  if (c.cause) parts.push(section("Caused by", el("div", { class: "line", id: "cause" }, el("a", { href: `#/runs/${run}/calls/${c.cause.call.id}`, text: `⇠ ${c.cause.pid} (${c.cause.kind}) #${c.cause.call.id}` }), " ", c.cause.call.line)));
  // Numbered as the keys 1–9 step to them.
  const linkLine = (link) => {
    const n = caused.indexOf(link) + 1;
    return el("li", { class: "line", "data-kind": link.kind, "data-call": link.call.id },
      el("span", { class: "muted", text: n <= 9 ? `${n} ` : "  " }),
      el("a", { href: `#/runs/${run}/calls/${link.call.id}`, text: `⇢ ${link.pid} (${link.kind}) #${link.call.id}` }), " ",
      el("span", { class: link.call.outcome === "raised" ? "raised" : "", text: `${link.call.line} (${duration(link.call.duration_ns)})` }),
      link.by && link.by.id !== id ? el("span", { class: "muted", text: ` · by #${link.by.id} ${link.by.name}` }) : null);
  };
  const started = caused.filter((l) => l.kind === "task" || l.kind === "spawned"), requests = caused.filter((l) => l.kind === "request"), sent = caused.filter((l) => l.kind === "message");
  const more = c.caused && c.caused.total > caused.length ? el("div", { class: "muted", text: `${count(caused.length)} of ${count(c.caused.total)} shown` }) : null;
  if (started.length) parts.push(section(`Started (${started.length})`, el("ol", { class: "links", id: "started" }, ...started.map(linkLine))));
  if (requests.length) parts.push(section(`Waited for (${requests.length})`, el("ol", { class: "links", id: "waited" }, ...requests.map(linkLine))));
  if (sent.length) parts.push(section(`Sent (${sent.length})`, el("ol", { class: "links", id: "sent" }, ...sent.map(linkLine))));
  if (more) parts.push(more);
  const statesSection = el("section", { id: "states", hidden: true });
  parts.push(statesSection);
  const treeSection = section("Call tree", el("span", { class: "muted", text: "loading…" }));
  parts.push(treeSection);
  const root = el("div", { class: "call" }, ...parts);
  view.append(root);
  status(`call #${id} · ${call.pid} · ←/→ time, ↓/↑ into/out, ? for keys`);
  cinema.keys = (k) => {
    const map = { ArrowLeft: c.nav.prev, h: c.nav.prev, ArrowRight: c.nav.next, l: c.nav.next, ArrowDown: c.nav.first_child, j: c.nav.first_child, ArrowUp: c.nav.parent, k: c.nav.parent, c: c.cause && c.cause.call.id, x: caused[0] && caused[0].call.id };
    if (k in map) { go(map[k]); return true; }
    if (/^[1-9]$/.test(k) && caused[+k - 1]) { go(caused[+k - 1].call.id); return true; }
    if (k === "t") { timelineAt(); return true; }
    if ((k === "[" || k === "]") && states.step) { states.step(k === "]" ? 1 : -1); return true; }
    return false;
  };
  // The process's state history, when it runs a GenServer (or gen_statem, gen_event handler).
  const states = {};
  stateHistory(statesSection, run, id, states).catch((e) => { statesSection.hidden = false; statesSection.replaceChildren(el("div", { class: "error", text: e.message })); });
  // The tree under the call, folded like the CLI's `trace`.
  const tree = await api(`/api/runs/${run}/calls/${id}/tree`).catch((e) => ({ error: e.message }));
  if (tree.error) { treeSection.lastChild.textContent = tree.error; return; }
  const list = el("ul", { class: "tree", id: "tree" });
  for (const line of tree.lines) {
    const pad = "    ".repeat(line.depth);
    let li;
    if (line.kind === "call") {
      li = el("li", { class: "line" + (line.call.id === id ? " current" : "") }, pad,
        el("a", { href: `#/runs/${run}/calls/${line.call.id}`, text: `#${line.call.id}` }), " ",
        el("span", { class: line.call.outcome === "raised" ? "raised" : "", text: `${line.call.line} (${duration(line.call.duration_ns)})` }));
    } else if (line.kind === "fold") {
      const fns = line.functions.map((f) => `${f.name} ×${count(f.calls)}`).join(", ");
      li = el("li", { class: "fold line", text: `${pad}… ${count(line.children)} more call${line.children === 1 ? "" : "s"} #${line.first}..#${line.last} (${count(line.calls)} in all): ${fns}${line.more_functions ? ", …" : ""}` });
    } else if (line.kind === "message") {
      // A message the call above sent: how, to whom, what, and the call that received it.
      const to = line.receiver ? (line.node ? `${line.node} ${line.receiver}` : line.receiver) : line.target;
      li = el("li", { class: "message line", "data-received-by": line.received_by ?? "" }, `${pad}→ ${line.send} ${to} ${line.message}`,
        line.received_by ? el("span", {}, " ", el("a", { href: `#/runs/${run}/calls/${line.received_by}`, text: `⇢ #${line.received_by}` })) : null);
    } else {
      li = el("li", { class: "link line" }, `${pad}⇢ ${line.pid} (${line.kind === "process" ? line.origin : "request"}) `,
        el("a", { href: `#/runs/${run}/calls/${line.call.id}`, text: `#${line.call.id}` }), ` ${line.call.line}`);
    }
    list.append(li);
  }
  treeSection.lastChild.replaceWith(list);
  if (tree.shown < tree.calls) list.after(el("div", { class: "muted", text: `${count(tree.shown)} of ${count(tree.calls)} calls shown` }));
}

// ---- GenServer state history --------------------------------------------------------------
// A scrubbable history of the process's callbacks: the slider spans the whole history, pages
// of it are fetched around where it points (a history can hold millions of callbacks).
async function stateHistory(section, run, id, nav) {
  const PAGE = 40;
  let page = await api(`/api/runs/${run}/calls/${id}/states?count=${PAGE}`);
  if (!page.total) return;
  section.hidden = false;
  let module = page.module, total = page.total, index = page.selected ?? page.first_index ?? 0, seq = 0;
  const title = el("h2", {});
  const slider = el("input", { type: "range", id: "states-slider", min: 0, max: Math.max(0, total - 1), value: index });
  const where = el("span", { class: "muted mono", id: "states-where" });
  const modules = page.modules.length > 1
    ? el("select", { id: "states-module", onchange: (ev) => load(ev.target.value, null).then(() => show(index)) },
      ...page.modules.map((m) => el("option", { value: m.module, text: `${m.module} (${count(m.callbacks)})`, selected: m.module === module })))
    : null;
  const detail = el("div", { class: "state-detail", id: "state-detail" });
  const list = el("ol", { class: "state-list", id: "state-list" });
  section.replaceChildren(title,
    el("div", { class: "state-scrub" },
      el("button", { text: "◀", id: "states-prev", title: "previous callback ([)", onclick: () => nav.step(-1) }),
      slider,
      el("button", { text: "▶", id: "states-next", title: "next callback (])", onclick: () => nav.step(1) }),
      where, modules),
    detail, list);
  const entryAt = (i) => page.entries.find((e) => e.index === i);
  async function load(m, i) {
    const my = ++seq;
    const p = new URLSearchParams({ count: PAGE, module: m });
    if (i !== null) p.set("index", i);
    const res = await api(`/api/runs/${run}/calls/${id}/states?${p}`);
    if (my !== seq) return false;
    page = res; module = res.module; total = res.total;
    slider.max = Math.max(0, total - 1);
    if (i === null) index = res.selected ?? res.first_index ?? 0;
    return true;
  }
  async function show(i) {
    index = Math.max(0, Math.min(total - 1, i));
    slider.value = index;
    if (!entryAt(index)) { if (!(await load(module, index))) return; }
    let e = entryAt(index);
    // A state too large to come with its page comes alone.
    if (e && ((e.after && !e.after.value) || (e.before && !e.before.value))) {
      const one = await api(`/api/runs/${run}/calls/${id}/states?module=${encodeURIComponent(module)}&index=${index}&count=1`);
      if (one.entries[0]) e = Object.assign(e, one.entries[0], { gap: e.gap });
    }
    render(e);
  }
  function render(e) {
    title.textContent = `State history · ${page.module} (${page.behaviour}) · ${page.pid} · ${count(total)} callbacks`;
    where.textContent = `${count(index + 1)} / ${count(total)}`;
    cinema.states = { index, total, module: page.module, entry: e };
    if (!e) { detail.replaceChildren(el("div", { class: "muted", text: "not recorded" })); return; }
    const head = el("div", { class: "line", id: "state-head" },
      el("a", { href: `#/runs/${run}/calls/${e.id}`, text: `#${e.id}` }), " ",
      el("span", { class: e.outcome === "raised" ? "raised" : "", text: `${e.callback}` }),
      e.event_type ? el("span", { class: "muted", text: ` ${e.event_type}` }) : null,
      e.event !== null ? ` ${e.event}` : "",
      el("span", { class: "muted", text: ` → ${e.outcome === "returned" ? (e.result_tag || "returned") : e.outcome}` }),
      e.reply !== null ? ` ${e.reply}` : "");
    const parts = [head];
    if (e.gap) parts.push(el("div", { class: "warn", text: "The state it received is not the one the callback before returned: it changed where nothing was recorded." }));
    if (e.diff && e.diff.changes) {
      if (e.diff.changes.length) {
        const table = el("table", { class: "diff", id: "state-diff" });
        for (const ch of e.diff.changes) {
          table.append(el("tr", { class: `change-${ch.change}` },
            el("td", { class: "path", text: ch.path }),
            el("td", { class: "kind", text: ch.change }),
            el("td", { class: "before", text: ch.before ?? "" }),
            el("td", { class: "arrow", text: ch.change === "changed" ? "→" : "" }),
            el("td", { class: "after", text: ch.after ?? "" })));
        }
        parts.push(table);
        if (e.diff.more) parts.push(el("div", { class: "muted", text: `… and ${count(e.diff.more)} more changes` }));
      } else {
        parts.push(el("div", { class: "muted", id: "state-diff", text: "state unchanged" }));
      }
      if (e.diff.incomplete) parts.push(el("div", { class: "muted", text: "Parts of the state were not captured (the recorder's caps): changes there cannot be seen." }));
    } else if (e.after && !e.before) {
      parts.push(el("div", { class: "muted", id: "state-diff", text: "initial state" }));
    } else if (!e.after) {
      parts.push(el("div", { class: "muted", id: "state-diff", text: e.outcome === "returned" ? `returned no state (${e.result_tag || "?"})` : `returned no state (${e.outcome})` }));
    }
    const stateBlock = (label, st, idName) => st
      ? el("div", { class: "state", id: idName }, el("div", { class: "muted", text: label + (st.name ? ` · state ${st.name}` : "") }), valueBlock(st.value || { kind: "term", text: st.text }))
      : null;
    parts.push(el("div", { class: "states" }, stateBlock("received", e.before, "state-before"), stateBlock("returned", e.after, "state-after")));
    detail.replaceChildren(...parts);
    list.replaceChildren(...page.entries.map((x) => {
      const changes = x.diff && x.diff.changes ? (x.diff.changes.length + (x.diff.more || 0)) : null;
      return el("li", { class: "line" + (x.index === index ? " current" : ""), value: x.index + 1, onclick: () => show(x.index) },
        el("a", { href: `#/runs/${run}/calls/${x.id}`, text: `#${x.id}`, onclick: (ev) => ev.stopPropagation() }), " ",
        `${x.function}${x.event !== null ? " " + x.event : ""}`,
        el("span", { class: "muted", text: changes === null ? "" : changes ? ` · ${changes} change${changes === 1 ? "" : "s"}` : " · unchanged" }),
        x.gap ? el("span", { class: "warn", text: " · gap" }) : null);
    }));
  }
  let timer = null;
  slider.addEventListener("input", () => { clearTimeout(timer); const i = +slider.value; timer = setTimeout(() => show(i).catch((e) => status(e.message)), 60); });
  nav.step = (d) => show(index + d).catch((e) => status(e.message));
  await show(index);
}

// ---- search -----------------------------------------------------------------------------
$("#search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const run = (location.hash.match(/#\/runs\/(\d+)/) || [])[1];
  if (!run) return;
  const p = new URLSearchParams();
  for (const [k, sel] of [["module", "#q-module"], ["function", "#q-function"], ["pid", "#q-pid"], ["pattern", "#q-pattern"]]) {
    const val = $(sel).value.trim(); if (val) p.set(k, val);
  }
  if ($("#q-exceptions").checked) p.set("exceptions", "true");
  p.set("limit", "200");
  const list = $("#results-list");
  $("#results").hidden = false;
  list.replaceChildren();
  try {
    const { calls } = await api(`/api/runs/${run}/calls?${p}`);
    $("#results-title").textContent = `${calls.length}${calls.length === 200 ? "+" : ""} calls, newest first`;
    for (const c of calls) {
      list.append(el("li", { class: c.outcome === "raised" ? "raised" : "" },
        el("a", { href: `#/runs/${run}/calls/${c.id}`, text: `#${c.id}` }), ` ${c.pid} ${c.line} (${duration(c.duration_ns)})`));
    }
  } catch (e) {
    $("#results-title").textContent = e.message;
  }
});
$("#results-close").addEventListener("click", () => ($("#results").hidden = true));

// ---- keys -------------------------------------------------------------------------------
const help = $("#help");
$("#help-button").addEventListener("click", () => (help.hidden = !help.hidden));
help.addEventListener("click", () => (help.hidden = true));
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest && ev.target.closest("input, textarea")) { if (ev.key === "Escape") ev.target.blur(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "?") { help.hidden = !help.hidden; ev.preventDefault(); return; }
  if (ev.key === "Escape") { help.hidden = true; $("#results").hidden = true; return; }
  if (ev.key === "/") { const f = $("#search"); if (!f.hidden) { $("#q-module").focus(); ev.preventDefault(); } return; }
  if (ev.key === "r") { location.hash = "#/"; return; }
  if (cinema.keys && cinema.keys(ev.key)) ev.preventDefault();
});

route();
