// nonstop dashboard: live view over the JSON API (Server-Sent Events read with fetch, so the
// bearer token can be sent), hand-drawn canvas charts, and the kill switch. No dependencies.
"use strict";

const TOKEN_KEY = "nonstop.token";
const STALE_MS = 5000;
const COLORS = ["#4c9bff", "#2fbf71", "#e5b437", "#ee8a35", "#b07cff", "#35c9d4", "#e5484d", "#9aa5b1"];

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
let lastEvent = 0;
let lastDoc = null;

function authHeaders() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}

// ---- DOM helpers (textContent only: data never becomes markup) -------------------------------
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const [text, cls] = Array.isArray(c) ? c : [c, ""];
    tr.appendChild(el("td", text, cls));
  }
  return tr;
}
function fillBody(table, rows, cols, emptyText) {
  const body = $(table).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = el("td", emptyText, "empty");
    td.colSpan = cols;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const r of rows) body.appendChild(row(r));
}
const fmtTime = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });
const fmtMs = (v) => (v === null || v === undefined ? "–" : v.toFixed(1));
const stateClass = (s) =>
  ({ closed: "state-ok", healthy: "state-ok", half_open: "state-warn", probing: "state-warn", open: "state-bad", ejected: "state-bad" })[s] || "";

// ---- rendering ---------------------------------------------------------------------------------
function render(doc) {
  lastDoc = doc;
  const st = doc.status;
  $("phase").textContent = st.phase;
  $("phase").className = "pill " + (st.phase === "trading" ? "ok" : "bad");
  $("ready").textContent = st.ready ? "ready" : "not ready";
  $("ready").className = "pill " + (st.ready ? "ok" : "bad");
  $("role").textContent = st.role + (st.epoch ? " · epoch " + st.epoch : "");
  $("role").title = st.holder ? "holder " + st.holder : "high-availability role";
  $("role").className = "pill " + (st.role === "leader" || st.role === "single" ? "ok" : "bad");

  const d = doc.degradation;
  $("degradation").className = "degradation level-" + d.level;
  $("deg-level").textContent = d.level.replace("_", " ");
  $("deg-reason").textContent = d.reason;
  $("deg-reason").title = d.reason;
  const banner = $("halt-banner");
  banner.hidden = !st.halted;
  if (st.halted) banner.textContent = "TRADING HALTED — " + d.reason;

  const vrows = [];
  for (const v of doc.venues) {
    const eps = v.endpoints.length ? v.endpoints : [null];
    eps.forEach((e, i) => {
      vrows.push([
        i === 0 ? [v.name + (v.breaker !== "closed" ? " (venue " + v.breaker + ")" : ""), v.breaker === "closed" ? "" : stateClass(v.breaker)] : "",
        e ? e.url : "–",
        i === 0 ? [v.connected ? "yes" : "no", v.connected ? "state-ok" : "state-bad"] : "",
        e ? [e.health, stateClass(e.health)] : "–",
        e ? [e.breaker, stateClass(e.breaker)] : "–",
        [e ? fmtMs(e.latency_ms) : "–", "num"],
        [e ? fmtMs(e.p99_ms) : "–", "num"],
        [e ? (e.error_rate * 100).toFixed(0) + "%" : "–", "num"],
        [e ? e.in_flight : "–", "num"],
      ]);
    });
  }
  fillBody("venues", vrows, 9, "no venues");

  $("orders-count").textContent = doc.orders.length;
  fillBody("orders", doc.orders.map((o) => [
    o.client_order_id, o.venue, o.instrument, [o.side, "side-" + o.side],
    [o.price ?? "mkt", "num"], [o.quantity, "num"], [o.filled, "num"], o.state,
  ]), 8, "no open orders");

  fillBody("positions", doc.positions.map((p) => [p.venue, p.instrument, [p.quantity, "num"]]), 3, "no positions");
  fillBody("balances", doc.balances.map((b) => [b.venue, b.asset, [b.free, "num"], [b.locked, "num"], [b.total, "num"]]), 5, "no balances yet");
  fillBody("fills", doc.fills.map((f) => [
    fmtTime(f.ts), f.venue, f.instrument, [f.side, "side-" + f.side], [f.price, "num"], [f.quantity, "num"],
    [f.fee + " " + f.fee_asset, "num"], f.liquidity,
  ]), 8, "no fills yet");

  const active = $("alerts-active");
  active.replaceChildren();
  $("alerts-count").textContent = doc.alerts.active.length;
  if (!doc.alerts.active.length) active.appendChild(el("div", "no active alerts", "muted"));
  for (const a of doc.alerts.active) {
    const box = el("div", null, "alert " + a.level);
    box.appendChild(el("div", a.level.toUpperCase() + " · " + a.title + (a.count > 1 ? " ×" + a.count : ""), "title"));
    if (a.body) box.appendChild(el("div", a.body, "body"));
    box.appendChild(el("div", "since " + fmtTime(a.first_seen) + " · " + a.status, "muted small"));
    active.appendChild(box);
  }
  fillBody("alerts-recent", doc.alerts.recent.map((t) => [
    fmtTime(t.at), [t.level, "level-" + t.level], t.kind, t.title || t.key,
  ]), 4, "no alert history");

  drawSeries(doc.series);
  $("updated").textContent = "updated " + fmtTime(doc.at);
}

function drawSeries(series) {
  const lat = series.latency.map((s, i) => ({
    label: s.venue + " " + s.endpoint.replace(/^https?:\/\//, ""), color: COLORS[i % COLORS.length], points: s.points,
  }));
  drawChart($("latency-chart"), lat, { unit: "ms", zeroBased: true });
  const legend = $("latency-legend");
  legend.replaceChildren();
  for (const s of lat) {
    const item = el("span", null);
    const swatch = el("i");
    swatch.style.background = s.color;
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(s.label));
    legend.appendChild(item);
  }
  $("eq-ccy").textContent = "(" + series.equity_currency + ")";
  drawChart($("equity-chart"), [{ label: "equity", color: COLORS[1], points: series.equity }], { unit: "" });
  $("equity-note").textContent = series.unpriced_assets.length
    ? "not priced (left out): " + series.unpriced_assets.join(", ") : "";
}

// ---- a small line chart on a canvas ---------------------------------------------------------------
function niceNum(v) {
  const abs = Math.abs(v);
  if (abs >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (abs >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (abs >= 100) return v.toFixed(0);
  return v.toFixed(abs >= 10 ? 1 : 2);
}
function drawChart(canvas, lines, opts) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 56, r: 10, t: 10, b: 22 };
  const pts = lines.flatMap((l) => l.points);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#8593a3";
  if (!pts.length) {
    ctx.fillText("no data yet", w / 2 - 30, h / 2);
    return;
  }
  let t0 = Math.min(...pts.map((p) => p.t)), t1 = Math.max(...pts.map((p) => p.t));
  let v0 = Math.min(...pts.map((p) => p.v)), v1 = Math.max(...pts.map((p) => p.v));
  if (opts.zeroBased) v0 = Math.min(0, v0);
  if (t1 === t0) t1 = t0 + 1;
  if (v1 === v0) { v1 += Math.abs(v1) * 0.001 || 1; v0 -= Math.abs(v0) * 0.001 || (opts.zeroBased ? 0 : 1); }
  const span = v1 - v0;
  v1 += span * 0.08;
  if (!opts.zeroBased) v0 -= span * 0.08;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (w - pad.l - pad.r);
  const y = (v) => h - pad.b - ((v - v0) / (v1 - v0)) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#263241";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = v0 + ((v1 - v0) * i) / 4, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(w - pad.r, yy); ctx.stroke();
    ctx.fillText(niceNum(v) + (opts.unit ? " " + opts.unit : ""), 4, yy + 4);
  }
  let previous = "";
  for (let i = 0; i <= 3; i++) {
    const t = t0 + ((t1 - t0) * i) / 3;
    const label = new Date(t * 1000).toLocaleTimeString([], { hour12: false });
    if (label === previous) continue; // a short span: one label per second is enough
    previous = label;
    ctx.fillText(label, Math.min(x(t) - 20, w - pad.r - 48), h - 6);
  }
  for (const line of lines) {
    if (!line.points.length) continue;
    ctx.strokeStyle = line.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    line.points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
    ctx.stroke();
  }
}

// ---- live updates: SSE over fetch ------------------------------------------------------------
function setConn(kind, text) {
  $("conn").className = "conn conn-" + kind;
  $("conn").textContent = text;
}
async function streamOnce() {
  const resp = await fetch("/api/stream", { headers: authHeaders(), cache: "no-store" });
  if (resp.status === 401) { setConn("down", "token required"); return 5000; }
  if (!resp.ok || !resp.body) { setConn("down", "error " + resp.status); return 3000; }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "", retry = 3000;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return retry;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
        else if (line.startsWith("retry:")) retry = parseInt(line.slice(6), 10) || retry;
      }
      if (event === "snapshot" && data) {
        lastEvent = Date.now();
        setConn("live", "live");
        render(JSON.parse(data));
      }
    }
  }
}
async function streamForever() {
  let backoff = 1000;
  for (;;) {
    let wait;
    try {
      wait = await streamOnce();
      backoff = 1000;
    } catch (err) {
      setConn("down", "disconnected");
      wait = backoff;
      backoff = Math.min(backoff * 2, 10000);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}
setInterval(() => {
  if (lastEvent && Date.now() - lastEvent > STALE_MS) setConn("stale", "stale " + Math.round((Date.now() - lastEvent) / 1000) + "s");
}, 1000);
window.addEventListener("resize", () => lastDoc && drawSeries(lastDoc.series));

// ---- token and kill switch --------------------------------------------------------------------
$("token").value = token();
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
});
$("kill").addEventListener("click", () => {
  $("halt-token").value = token();
  $("halt-error").textContent = "";
  $("halt-dialog").showModal();
});
$("halt-cancel").addEventListener("click", () => $("halt-dialog").close());
$("halt-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const t = $("halt-token").value.trim();
  if (t) { sessionStorage.setItem(TOKEN_KEY, t); $("token").value = t; }
  $("halt-confirm").disabled = true;
  try {
    const resp = await fetch("/api/halt", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ reason: $("halt-reason").value || "kill switch (dashboard)" }),
    });
    if (resp.status === 401) { $("halt-error").textContent = "token rejected: trading NOT halted"; return; }
    if (!resp.ok) { $("halt-error").textContent = "halt failed (" + resp.status + "): trading may NOT be halted"; return; }
    const result = await resp.json();
    $("halt-dialog").close();
    const banner = $("halt-banner");
    banner.hidden = false;
    banner.textContent = "TRADING HALTED — " + result.reason + " · canceled " + result.canceled.length +
      " order(s), " + result.pending.length + " still settling";
  } catch (err) {
    $("halt-error").textContent = "could not reach the server: trading may NOT be halted";
  } finally {
    $("halt-confirm").disabled = false;
  }
});

streamForever();
