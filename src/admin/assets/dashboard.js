// Polls /admin/latency and renders the tables and the p99 chart. No libraries: the page is
// served from the binary and must work on a machine with no network beyond this server.
"use strict";

const POLL_MS = 1000;
/** Samples kept for the chart (one per poll). */
const HISTORY = 120;
/** The chart's x axis spans at least this many samples, so a fresh page is not all slope. */
const CHART_MIN_SAMPLES = 30;
const KEY_STORAGE = "vexfs-admin-api-key";
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
  "#db2777", "#4d7c0f", "#9a3412", "#475569", "#0d9488", "#a21caf"];

const $ = (id) => document.getElementById(id);
const state = {
  key: "",
  /** route → array of {t, p99} */
  history: new Map(),
  /** core id → {requests, t} of the previous poll, for the current rate */
  lastCores: new Map(),
  colors: new Map(),
  timer: null,
};

function initKey() {
  const fromQuery = new URLSearchParams(location.search).get("api_key");
  state.key = fromQuery || sessionStorage.getItem(KEY_STORAGE) || "";
  $("api-key").value = state.key;
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.key = $("api-key").value.trim();
    sessionStorage.setItem(KEY_STORAGE, state.key);
    poll();
  });
  $("reset").addEventListener("click", reset);
}

function headers() {
  return state.key ? { "api-key": state.key } : {};
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    return `${resp.status}: ${body.status && body.status.error ? body.status.error : resp.statusText}`;
  } catch (_) {
    return `${resp.status} ${resp.statusText}`;
  }
}

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "status error" : "status";
}

async function poll() {
  try {
    const resp = await fetch("latency", { headers: headers(), cache: "no-store" });
    if (!resp.ok) {
      const hint = resp.status === 401 ? " (enter the API key above)" : "";
      setStatus(await errorText(resp) + hint, true);
      return;
    }
    const body = await resp.json();
    render(body.result);
    const total = body.result.cores.reduce((n, c) => n + c.requests, 0);
    setStatus(`updated ${new Date().toLocaleTimeString()} · ${total} requests on ` +
      `${body.result.cores.length} core(s)`, false);
  } catch (e) {
    setStatus(`cannot reach the server: ${e}`, true);
  }
}

async function reset() {
  const resp = await fetch("latency/reset", { method: "POST", headers: headers() });
  if (!resp.ok) {
    setStatus(await errorText(resp), true);
    return;
  }
  state.history.clear();
  state.lastCores.clear();
  poll();
}

function fmt(n) {
  return n.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

function color(route) {
  if (!state.colors.has(route)) {
    state.colors.set(route, PALETTE[state.colors.size % PALETTE.length]);
  }
  return state.colors.get(route);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function render(result) {
  const now = Date.now();
  const names = Object.keys(result.routes).sort();
  const tbody = $("routes").tBodies[0];
  tbody.replaceChildren();
  for (const name of names) {
    const r = result.routes[name];
    const tr = document.createElement("tr");
    tr.dataset.route = name;
    tr.dataset.count = r.count;
    if (r.count === 0) tr.className = "idle";
    const first = cell(tr, "");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = color(name);
    first.append(sw, name);
    for (const k of ["count", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"]) {
      cell(tr, fmt(r[k]));
    }
    tbody.appendChild(tr);

    const h = state.history.get(name) || [];
    h.push({ t: now, p99: r.p99, count: r.count });
    while (h.length > HISTORY) h.shift();
    state.history.set(name, h);
  }

  const cbody = $("cores").tBodies[0];
  cbody.replaceChildren();
  for (const c of result.cores) {
    const tr = document.createElement("tr");
    tr.dataset.core = c.core;
    cell(tr, c.core);
    cell(tr, fmt(c.requests));
    cell(tr, c.requests_per_second.toFixed(1));
    const prev = state.lastCores.get(c.core);
    let current = "–";
    if (prev && c.requests >= prev.requests && now > prev.t) {
      current = ((c.requests - prev.requests) * 1000 / (now - prev.t)).toFixed(1);
    }
    cell(tr, current);
    state.lastCores.set(c.core, { requests: c.requests, t: now });
    cbody.appendChild(tr);
  }
  drawChart();
}

function drawChart() {
  const canvas = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 640;
  const cssH = Math.round(cssW * 260 / 640);
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);

  const series = [...state.history.entries()]
    .filter(([, h]) => h.some((s) => s.count > 0));
  const span = Math.min(HISTORY, Math.max(CHART_MIN_SAMPLES,
    ...series.map(([, h]) => h.length)));
  const values = series.flatMap(([, h]) => h.map((s) => s.p99)).filter((v) => v > 0);
  const pad = { l: 52, r: 8, t: 8, b: 20 };
  const w = cssW - pad.l - pad.r;
  const h = cssH - pad.t - pad.b;
  // Whole decades of µs around the data, so the grid lines read 10 µs, 100 µs, 1 ms, …
  const lo = Math.floor(Math.log10(Math.max(1, Math.min(...values, 100))));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values, 1000))));
  const y = (v) => pad.t + h - (Math.log10(Math.max(v, 1)) - lo) / (hi - lo) * h;
  const x = (i) => pad.l + (i / (span - 1)) * w;

  g.font = "11px system-ui, sans-serif";
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let d = lo; d <= hi; d++) {
    const yy = y(10 ** d);
    g.strokeStyle = "#e5e7eb";
    g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(pad.l + w, yy); g.stroke();
    g.fillStyle = "#6b7280";
    g.fillText(unit(10 ** d), pad.l - 6, yy);
  }
  g.textAlign = "left";
  g.textBaseline = "alphabetic";
  g.fillText(`-${Math.round(span * POLL_MS / 1000)} s`, pad.l, cssH - 4);
  g.textAlign = "right";
  g.fillText("now", pad.l + w, cssH - 4);

  const legend = $("legend");
  legend.replaceChildren();
  g.lineWidth = 1.5;
  for (const [name, hist] of series) {
    // Newest sample at the right edge; samples without requests leave a gap.
    const offset = span - hist.length;
    g.strokeStyle = color(name);
    g.fillStyle = color(name);
    g.beginPath();
    let drawing = false;
    hist.forEach((s, i) => {
      if (s.count === 0 || s.p99 <= 0) {
        drawing = false;
        return;
      }
      const px = x(offset + i);
      const py = y(s.p99);
      if (drawing) g.lineTo(px, py); else g.moveTo(px, py);
      drawing = true;
    });
    g.stroke();
    const last = hist[hist.length - 1];
    if (last.count > 0) {
      g.beginPath();
      g.arc(x(span - 1), y(last.p99), 2.5, 0, 2 * Math.PI);
      g.fill();
    }
    const item = document.createElement("span");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = color(name);
    item.append(sw, name);
    legend.appendChild(item);
  }
  if (series.length === 0) {
    g.fillStyle = "#6b7280";
    g.textAlign = "center";
    g.fillText("no requests yet", pad.l + w / 2, pad.t + h / 2);
  }
}

function unit(us) {
  if (us >= 1e6) return `${us / 1e6} s`;
  if (us >= 1e3) return `${us / 1e3} ms`;
  return `${us} µs`;
}

initKey();
poll();
state.timer = setInterval(poll, POLL_MS);
