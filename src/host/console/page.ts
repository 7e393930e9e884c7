/**
 * The console page: HTML, CSS and the browser script, served by `console-server.ts` from memory. Nothing is loaded
 * from outside; no framework. Guest-supplied text only ever reaches the page through `textContent` (or input
 * values), never `innerHTML`, so `<script>` or terminal escapes in a guestinfo value or a log line stay inert.
 *
 * Emulates: nothing. The backdoor-call feed is a virtualised list (only the visible rows exist in the DOM), kept to
 * the newest {@link FEED_MAX_ROWS_TEXT} calls; the per-command chart counts every call the page received.
 * Does not: work without JavaScript.
 */

/** Rows the feed keeps (older ones are dropped from the page, still counted in the chart). */
const FEED_MAX_ROWS_TEXT = "200000";

/** The page. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmport console</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>vmport</h1>
  <span id="program" class="mono"></span>
  <span id="status" class="badge">connecting…</span>
  <span id="uptime" class="muted"></span>
</header>
<main>
  <section id="summary-card" class="card">
    <h2>Summary</h2>
    <dl id="summary"></dl>
    <h3>Network</h3>
    <div id="nics" class="mono"></div>
    <h3>Disks</h3>
    <div id="disks" class="mono"></div>
  </section>
  <section class="card">
    <h2>guestinfo</h2>
    <table id="guestinfo"><thead><tr><th>key</th><th>value</th><th></th></tr></thead><tbody></tbody></table>
    <form id="gi-add" autocomplete="off">
      <input id="gi-key" placeholder="key (guestinfo. optional)" required>
      <input id="gi-value" placeholder="value">
      <button type="submit">Set</button>
    </form>
  </section>
  <section class="card">
    <h2>Host → guest commands (TCLO)</h2>
    <div class="row">
      <button class="tclo" data-cmd="ping">ping</button>
      <button class="tclo" data-cmd="Capabilities_Register">Capabilities_Register</button>
      <button class="tclo" data-cmd="Set_Option broadcastIP 1">Set_Option broadcastIP 1</button>
    </div>
    <form id="tclo-form" autocomplete="off"><input id="tclo-cmd" placeholder="command"><button type="submit">Send</button></form>
    <ol id="tclo-results" class="mono"></ol>
  </section>
  <section class="card wide">
    <h2>Backdoor calls <span id="calls-count" class="muted"></span></h2>
    <div class="row">
      <label><input type="checkbox" id="pause"> pause</label>
      <input id="filter" placeholder="filter: command number or name">
      <span id="dropped" class="muted"></span>
    </div>
    <div id="feed" class="feed mono"><div id="feed-spacer"></div><div id="feed-rows"></div></div>
    <h3>Calls per command</h3>
    <div id="chart"></div>
  </section>
  <section class="card">
    <h2>Guest log</h2>
    <ol id="log" class="mono"></ol>
  </section>
  <section class="card">
    <h2>Absolute pointer</h2>
    <div id="pad" title="move, click, scroll"></div>
    <div id="pad-pos" class="mono muted"></div>
  </section>
</main>
</body>
</html>
`;

/** The style sheet. */
export const CONSOLE_CSS = `
:root { --bg: #f5f6f8; --card: #fff; --fg: #1d2430; --muted: #6b7280; --line: #e3e6ea; --accent: #146ef5; --ok: #0a7d36; --err: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 12px; align-items: baseline; padding: 10px 16px; background: #0f1720; color: #e8eef5; }
header h1 { font-size: 18px; margin: 0; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.muted { color: var(--muted); }
header .muted { color: #9aa6b2; }
.badge { padding: 1px 8px; border-radius: 10px; background: #334155; font-size: 12px; }
.badge.running { background: var(--ok); color: #fff; }
.badge.exited { background: #6b7280; color: #fff; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; padding: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 10px 0 4px; color: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 3px 4px; vertical-align: top; overflow-wrap: anywhere; }
th:nth-child(1) { width: 35%; } th:nth-child(3) { width: 140px; }
td.value { cursor: pointer; white-space: pre-wrap; }
td.value.collapsed { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 4px 0; }
form { display: flex; gap: 6px; margin-top: 6px; }
form input { flex: 1; min-width: 0; }
input, button { font: inherit; padding: 3px 6px; }
button { cursor: pointer; }
ol { margin: 4px 0; padding-left: 20px; max-height: 240px; overflow: auto; }
li.ok { color: var(--ok); } li.err { color: var(--err); }
.feed { position: relative; height: 300px; overflow: auto; border: 1px solid var(--line); border-radius: 4px; }
#feed-rows { position: absolute; left: 0; right: 0; top: 0; }
.frow { height: 18px; line-height: 18px; white-space: pre; padding: 0 6px; overflow: hidden; }
.frow:nth-child(odd) { background: #fafbfc; }
#chart .bar { display: grid; grid-template-columns: 200px 1fr 70px; gap: 6px; align-items: center; margin: 2px 0; }
#chart .fill { height: 12px; background: var(--accent); border-radius: 2px; min-width: 1px; }
#pad { width: 320px; height: 200px; border: 1px dashed var(--muted); border-radius: 4px; background: #eef2f7; touch-action: none; }
`;

/** The browser script. Guest text goes through textContent only. */
export const CONSOLE_JS = String.raw`"use strict";
(() => {
  const FEED_MAX = ${FEED_MAX_ROWS_TEXT};
  const ROW_H = 18;
  const COMMANDS = { 1: "GETMHZ", 4: "GETPTRLOCATION", 5: "SETPTRLOCATION", 6: "GETSELLENGTH", 7: "GETNEXTPIECE", 8: "SETSELLENGTH", 9: "SETNEXTPIECE", 10: "GETVERSION", 11: "GETDEVICELISTELEMENT", 12: "TOGGLEDEVICE", 13: "GETGUIOPTIONS", 14: "SETGUIOPTIONS", 15: "GETSCREENSIZE", 17: "GETHWVERSION", 19: "GETUUID", 20: "GETMEMSIZE", 23: "GETTIME", 30: "MESSAGE", 39: "ABSPOINTER_DATA", 40: "ABSPOINTER_STATUS", 41: "ABSPOINTER_COMMAND", 45: "GETHZ", 46: "GETTIMEFULL", 55: "GETTIMEFULL_WITH_LAG", 63: "NESTING_CONTROL", 68: "GET_VCPU_INFO", 86: "ABSPOINTER_RESTRICT", 100: "GETBUILDNUM" };
  const MSG = ["OPEN", "SENDSIZE", "SENDPAYLOAD", "RECVSIZE", "RECVPAYLOAD", "RECVSTATUS", "CLOSE"];
  const $ = (id) => document.getElementById(id);
  // Control characters (terminal escapes, newlines in one-line fields) are shown as \xNN, like vmport's CLI does.
  const vis = (s) => String(s).replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"));
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = vis(text); if (cls) e.className = cls; return e; };
  const api = async (path, body) => {
    const r = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let j = null; try { j = await r.json(); } catch {}
    return { status: r.status, body: j };
  };
  let state = null;
  let startedAt = 0;

  // ---- summary ----
  function renderStatus() {
    const s = state.status;
    $("program").textContent = s.argv.join(" ") + "  (pid " + s.pid + ")";
    const b = $("status");
    b.className = "badge " + (s.running ? "running" : "exited");
    b.textContent = s.running ? "running" : "exited " + (s.signal ? "by signal " + s.signal : s.exitStatus);
  }
  function tick() {
    if (!state) return;
    const end = state.status.running ? Date.now() : (state.endedAt || Date.now());
    const secs = Math.max(0, Math.round((end - state.status.startedAtMs) / 1000));
    $("uptime").textContent = "up " + (secs >= 3600 ? Math.floor(secs / 3600) + "h " : "") + (secs >= 60 ? Math.floor((secs % 3600) / 60) + "m " : "") + (secs % 60) + "s";
  }
  function renderGuest() {
    const g = state.guest || {};
    const dl = $("summary");
    dl.replaceChildren();
    const add = (k, v) => { dl.append(el("dt", k), el("dd", v === null || v === undefined || v === "" ? "—" : v)); };
    add("tools", g.toolsRunning ? "running" : "not running");
    add("tools version", g.toolsVersion === null || g.toolsVersion === undefined ? null : String(g.toolsVersion) + (g.toolsVersionType !== null && g.toolsVersionType !== undefined ? " (type " + g.toolsVersionType + ")" : ""));
    add("tools build", g.toolsBuild);
    add("hostname", g.hostname);
    add("OS", g.osNameFull || g.osName);
    add("primary IP", g.primaryIp);
    add("uptime (guest)", g.uptimeSeconds === null || g.uptimeSeconds === undefined ? null : g.uptimeSeconds + " s");
    const nics = $("nics");
    nics.replaceChildren();
    for (const n of g.nics || []) {
      const d = el("div");
      d.append(el("div", n.mac));
      for (const ip of n.ips || []) d.append(el("div", "  " + ip.address + (ip.prefixLength === null || ip.prefixLength === undefined ? "" : "/" + ip.prefixLength)));
      nics.append(d);
    }
    if (!(g.nics || []).length) nics.append(el("div", "—", "muted"));
    const disks = $("disks");
    disks.replaceChildren();
    for (const d of g.disks || []) disks.append(el("div", d.name + "  " + Math.round(d.freeBytes / 1048576) + " MiB free of " + Math.round(d.totalBytes / 1048576) + " MiB" + (d.filesystem ? "  " + d.filesystem : "")));
    if (!(g.disks || []).length) disks.append(el("div", "—", "muted"));
  }

  // ---- guestinfo ----
  function renderGuestinfo() {
    const tb = $("guestinfo").tBodies[0];
    tb.replaceChildren();
    const keys = Object.keys(state.guestinfo).sort();
    for (const k of keys) {
      const v = state.guestinfo[k];
      const tr = el("tr");
      tr.dataset.key = k;
      const tdv = el("td", v.length > 200 ? v.slice(0, 200) + "…" : v, "value collapsed");
      tdv.title = "click to expand";
      tdv.addEventListener("click", () => {
        const collapsed = tdv.classList.toggle("collapsed");
        tdv.textContent = vis(collapsed && v.length > 200 ? v.slice(0, 200) + "…" : v);
      });
      const actions = el("td");
      const edit = el("button", "edit");
      edit.addEventListener("click", () => { $("gi-key").value = k; $("gi-value").value = v; $("gi-value").focus(); });
      const del = el("button", "delete");
      del.addEventListener("click", async () => { await api("/api/guestinfo/delete", { key: k }); await refresh(); });
      actions.append(edit, del);
      tr.append(el("td", k), tdv, actions);
      tb.append(tr);
    }
  }
  $("gi-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("/api/guestinfo", { key: $("gi-key").value, value: $("gi-value").value });
    if (r.status !== 200) alert((r.body && r.body.error) || "failed");
    $("gi-key").value = ""; $("gi-value").value = "";
    await refresh();
  });

  // ---- TCLO ----
  function tcloLine(cmd, ok, text) {
    const li = el("li", cmd + " → " + (ok ? "OK " : "ERROR ") + text, ok ? "ok" : "err");
    $("tclo-results").prepend(li);
  }
  async function sendTclo(cmd, confirmed) {
    const pending = el("li", cmd + " → …");
    $("tclo-results").prepend(pending);
    const r = await api("/api/tclo", confirmed ? { command: cmd, confirm: true } : { command: cmd });
    pending.remove();
    if (r.status === 409 && r.body && r.body.needsConfirm) {
      if (confirm(r.body.error + "\n\nSend it anyway?")) return sendTclo(cmd, true);
      return tcloLine(cmd, false, "not sent");
    }
    if (r.status !== 200) return tcloLine(cmd, false, (r.body && r.body.error) || "HTTP " + r.status);
    tcloLine(cmd, r.body.ok, r.body.text);
  }
  for (const b of document.querySelectorAll("button.tclo")) b.addEventListener("click", () => sendTclo(b.dataset.cmd, false));
  $("tclo-form").addEventListener("submit", (e) => { e.preventDefault(); const c = $("tclo-cmd").value.trim(); if (c) sendTclo(c, false); $("tclo-cmd").value = ""; });

  // ---- backdoor calls: virtualised feed + chart ----
  let calls = [];
  let view = calls;
  let total = 0;
  const perCommand = new Map();
  let filterFn = null;
  let paused = false;
  let chartDirty = false;
  const name = (c) => c.command === null ? (c.port === 0x5659 ? "HB " + (c.op || "") : (c.op || "?")) : (COMMANDS[c.command] || "cmd " + c.command) + (c.command === 30 && c.subcommand !== null ? " " + (MSG[c.subcommand] || c.subcommand) : "");
  const line = (c) => new Date(c.t).toISOString().slice(11, 23) + "  tid " + String(c.vcpu).padEnd(7) + (c.port === null ? "      " : "0x" + c.port.toString(16) + "  ") + name(c).padEnd(34) + c.outcome;
  function setFilter(text) {
    const t = text.trim().toLowerCase();
    if (!t) filterFn = null;
    else if (/^\d+$/.test(t)) { const n = Number(t); filterFn = (c) => c.command === n; }
    else filterFn = (c) => name(c).toLowerCase().includes(t);
    view = filterFn ? calls.filter(filterFn) : calls;
    renderFeed(true);
  }
  $("filter").addEventListener("input", (e) => setFilter(e.target.value));
  $("pause").addEventListener("change", (e) => { paused = e.target.checked; if (!paused) renderFeed(true); });
  const feed = $("feed");
  feed.addEventListener("scroll", () => renderFeed(false));
  function renderFeed(stick) {
    const atBottom = feed.scrollTop + feed.clientHeight >= feed.scrollHeight - ROW_H * 2;
    $("feed-spacer").style.height = view.length * ROW_H + "px";
    if ((stick || atBottom) && !paused) feed.scrollTop = feed.scrollHeight;
    const first = Math.max(0, Math.floor(feed.scrollTop / ROW_H) - 5);
    const count = Math.ceil(feed.clientHeight / ROW_H) + 10;
    const rows = $("feed-rows");
    rows.style.top = first * ROW_H + "px";
    const frag = document.createDocumentFragment();
    for (let i = first; i < Math.min(view.length, first + count); i++) frag.append(el("div", line(view[i]), "frow"));
    rows.replaceChildren(frag);
    $("calls-count").textContent = total + " calls" + (filterFn ? ", " + view.length + " shown" : "");
  }
  function renderChart() {
    chartDirty = false;
    const entries = [...perCommand.entries()].sort((a, b) => b[1] - a[1]).slice(0, 24);
    const max = entries.length ? entries[0][1] : 1;
    const chart = $("chart");
    chart.replaceChildren();
    for (const [k, n] of entries) {
      const bar = el("div", undefined, "bar");
      const fill = el("div", undefined, "fill");
      fill.style.width = Math.max(0.5, (n / max) * 100) + "%";
      const track = el("div");
      track.append(fill);
      bar.append(el("span", k), track, el("span", n));
      chart.append(bar);
    }
  }
  function addCalls(batch) {
    for (const c of batch) {
      total++;
      const k = c.command === null ? name(c) : (COMMANDS[c.command] || "cmd " + c.command);
      perCommand.set(k, (perCommand.get(k) || 0) + 1);
      calls.push(c);
      if (view !== calls && filterFn(c)) view.push(c);
    }
    if (calls.length > FEED_MAX) {
      calls = calls.slice(calls.length - FEED_MAX);
      view = filterFn ? calls.filter(filterFn) : calls;
    }
    chartDirty = true;
    if (!paused) renderFeed(false);
  }
  setInterval(() => { if (chartDirty) renderChart(); tick(); }, 500);

  // ---- log ----
  function addLog(l) {
    const ol = $("log");
    ol.append(el("li", l));
    while (ol.children.length > 1000) ol.firstChild.remove();
    ol.scrollTop = ol.scrollHeight;
  }

  // ---- pointer pad ----
  const pad = $("pad");
  let buttons = 0;
  let lastSent = 0;
  const sendMouse = (e, wheel, force) => {
    const r = pad.getBoundingClientRect();
    const x = Math.max(0, Math.min(65535, Math.round(((e.clientX - r.left) / r.width) * 65535)));
    const y = Math.max(0, Math.min(65535, Math.round(((e.clientY - r.top) / r.height) * 65535)));
    $("pad-pos").textContent = "x " + x + "  y " + y + "  buttons " + buttons;
    const now = Date.now();
    if (!force && now - lastSent < 30) return;
    lastSent = now;
    api("/api/mouse", { x, y, buttons, wheel: wheel || 0 });
  };
  const bit = (b) => (b === 0 ? 1 : b === 2 ? 2 : b === 1 ? 4 : 0); // left, right, middle as vmmouse reports them
  pad.addEventListener("pointermove", (e) => sendMouse(e, 0, false));
  pad.addEventListener("pointerdown", (e) => { buttons |= bit(e.button); sendMouse(e, 0, true); });
  pad.addEventListener("pointerup", (e) => { buttons &= ~bit(e.button); sendMouse(e, 0, true); });
  pad.addEventListener("wheel", (e) => { e.preventDefault(); sendMouse(e, e.deltaY > 0 ? 1 : -1, true); }, { passive: false });
  pad.addEventListener("contextmenu", (e) => e.preventDefault());

  // ---- data ----
  async function refresh() {
    const r = await api("/api/state");
    if (r.status !== 200) return;
    const ended = state && state.endedAt;
    state = r.body;
    if (ended) state.endedAt = ended;
    renderStatus(); renderGuest(); renderGuestinfo(); tick();
  }
  let refreshTimer = null;
  const refreshSoon = () => { if (refreshTimer === null) refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 150); };
  async function start() {
    await refresh();
    for (const l of state.log || []) addLog(l);
    const es = new EventSource("/api/events");
    es.addEventListener("guest", refreshSoon);
    es.addEventListener("log", (e) => addLog(JSON.parse(e.data)));
    es.addEventListener("tclo", (e) => { const d = JSON.parse(e.data); if (d.internal) return; refreshSoon(); });
    es.addEventListener("calls", (e) => addCalls(JSON.parse(e.data)));
    let droppedTotal = 0; // each event counts the calls dropped since the last one
    es.addEventListener("dropped", (e) => { droppedTotal += Number(e.data); $("dropped").textContent = "(" + droppedTotal + " calls dropped: more than the console can show)"; });
    es.addEventListener("exit", (e) => {
      // vmport stops the console right after this: show the end from the event itself.
      const d = JSON.parse(e.data);
      state.endedAt = Date.now();
      state.status = Object.assign({}, state.status, { running: false, exitStatus: d.exitStatus, signal: d.signal });
      renderStatus(); tick();
      es.close();
      $("uptime").textContent += " (vmport has exited; the console is closed)";
    });
  }
  start();
})();
`;
