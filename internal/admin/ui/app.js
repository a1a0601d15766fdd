// portcullis web view: polls /config_dump, /certs and /metrics (the numbers shown are the
// metrics' own), and posts the explain form to /explain. No external assets.
"use strict";
const POLL_MS = 1000;
let prev = null; // previous metrics sample, for rates

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function row(tbody, cells, attrs) {
  const tr = document.createElement("tr");
  for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
  for (const c of cells) {
    const td = typeof c === "object" && c !== null ? el("td", c.text, c.cls) : el("td", c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}
function fill(id, rows) {
  const tbody = document.querySelector("#" + id + " tbody");
  tbody.replaceChildren();
  rows.forEach(r => row(tbody, r.cells, r.attrs));
}

// parseMetrics reads the Prometheus text format: name{labels} value.
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    out.push({ name: m[1], labels, value: parseFloat(m[4]) });
  }
  return out;
}

function trafficByHost(samples) {
  const hosts = {};
  const h = name => (hosts[name] = hosts[name] || { requests: 0, errors: 0, client: 0, sum: 0, count: 0 });
  for (const s of samples) {
    if (s.name === "portcullis_requests_total") {
      const x = h(s.labels.host);
      x.requests += s.value;
      const code = parseInt(s.labels.code, 10);
      if (code >= 500) x.errors += s.value;
      else if (code >= 400) x.client += s.value;
    } else if (s.name === "portcullis_request_duration_seconds_sum") h(s.labels.host).sum += s.value;
    else if (s.name === "portcullis_request_duration_seconds_count") h(s.labels.host).count += s.value;
  }
  return hosts;
}

function fmtDuration(ms) {
  if (!isFinite(ms)) return "-";
  const neg = ms < 0; ms = Math.abs(ms);
  const d = Math.floor(ms / 86400000), hh = Math.floor(ms / 3600000) % 24, mm = Math.floor(ms / 60000) % 60;
  const s = (d ? d + "d " : "") + hh + "h " + mm + "m";
  return neg ? "EXPIRED " + s + " ago" : s;
}

function renderTraffic(samples, now) {
  const hosts = trafficByHost(samples);
  const dt = prev ? (now - prev.at) / 1000 : 0;
  const rows = Object.keys(hosts).sort().map(name => {
    const x = hosts[name], p = prev && prev.hosts[name];
    const rate = (a, b) => (dt > 0 && p ? ((a - b) / dt).toFixed(2) : "-");
    const mean = x.count ? (1000 * x.sum / x.count).toFixed(2) + " ms" : "-";
    return { attrs: { host: name }, cells: [name, { text: String(x.requests), cls: "num requests" },
      { text: rate(x.requests, p && p.requests), cls: "num" }, { text: String(x.errors), cls: "num errors" },
      { text: rate(x.errors, p && p.errors), cls: "num" }, { text: String(x.client), cls: "num client" }, { text: mean, cls: "num" }] };
  });
  fill("traffic", rows);
  const hs = samples.filter(s => s.name === "portcullis_tls_handshake_failures_total" && s.value > 0)
    .map(s => s.labels.reason + ": " + s.value);
  document.getElementById("handshakes").textContent = "TLS handshake failures: " + (hs.length ? hs.join(", ") : "none");
  prev = { at: now, hosts };
}

function matchText(m) {
  const parts = [];
  for (const k of ["uri", "method", "authority"]) if (m[k]) parts.push(k + " " + m[k].kind + " " + m[k].value);
  for (const h of m.headers || []) parts.push("header " + h.name + " " + h.value.kind + " " + h.value.value);
  for (const q of m.queryParams || []) parts.push("query " + q.name + " " + q.value.kind + " " + q.value.value);
  return parts.join(" & ") || "any";
}
function actionText(r) {
  if (r.forward) return "→ " + r.forward.clusters.map(c => c.cluster + (r.forward.clusters.length > 1 ? " (" + c.weight + "%)" : "")).join(", ");
  if (r.redirect) return "redirect " + (r.redirect.code || 301);
  if (r.direct) return "direct " + r.direct.status;
  return Object.keys(r).filter(k => !["name", "match"].includes(k)).join(", ") || "none";
}

function renderConfig(dump, certs, now) {
  const snap = dump.snapshot || { listeners: [], clusters: [] };
  document.getElementById("snapshot").textContent = snap.version || "-";
  const lrows = [], rrows = [];
  for (const l of snap.listeners || []) for (const s of l.servers || []) {
    lrows.push({ attrs: { server: s.name }, cells: [String(l.port), l.name, s.name, (s.hosts || []).join(", "),
      s.tls ? (s.tls.mode || "SIMPLE") : "plain", s.tls && s.tls.credential ? (s.tls.credential.secret || "files: " + ((s.tls.credential.files || {}).serverCertificate || "?")) : "-"] });
    for (const vh of s.virtualHosts || []) for (const r of vh.routes || [])
      rrows.push({ attrs: { route: r.name }, cells: [vh.name, r.name, (r.match || []).map(matchText).join(" | ") || "any", actionText(r)] });
  }
  fill("listeners", lrows);
  fill("routes", rrows);
  fill("clusters", (snap.clusters || []).map(c => ({ attrs: { cluster: c.name }, cells: [c.name,
    c.endpoints && c.endpoints.length ? { text: c.endpoints.join(", ") } : { text: "none (503)", cls: "err" }] })));
  fill("credentials", (certs || []).map(c => ({ attrs: { name: c.key || c.name }, cells: [c.key || c.name,
    { text: c.serving ? "yes" : "NO", cls: c.serving ? "" : "err" }, { text: c.serial || "-", cls: "serial" }, c.subject || "-",
    { text: c.notAfter || "-", cls: "notafter" }, { text: c.notAfter ? fmtDuration(Date.parse(c.notAfter) - now) : "-", cls: "expiry" },
    c.version || "-", { text: c.lastError || "", cls: "err lasterror" }] })));
  const ul = document.getElementById("diagnostics");
  ul.replaceChildren();
  for (const d of dump.diagnostics || []) {
    const where = [d.file, d.kind, d.namespace && d.namespace + "/" + d.name, d.field].filter(Boolean).join(" ");
    ul.appendChild(el("li", d.severity + ": " + where + ": " + d.message, d.severity === "error" ? "err" : "warn"));
  }
  if (!ul.children.length) ul.appendChild(el("li", "none", "muted"));
}

async function poll() {
  try {
    const [dump, certs, metrics, ready] = await Promise.all([
      fetch("/config_dump").then(r => r.json()), fetch("/certs").then(r => r.json()),
      fetch("/metrics").then(r => r.text()), fetch("/healthz/ready").then(r => r.ok)]);
    const now = Date.now();
    renderConfig(dump, certs, now);
    renderTraffic(parseMetrics(metrics), now);
    const rd = document.getElementById("ready");
    rd.textContent = ready ? "ready" : "not ready";
    rd.className = "pill " + (ready ? "ok" : "bad");
    document.getElementById("updated").textContent = new Date(now).toISOString();
    document.body.dataset.polls = String(parseInt(document.body.dataset.polls || "0", 10) + 1);
  } catch (e) {
    document.getElementById("updated").textContent = "error: " + e;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("explain-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = new FormData(ev.target), body = new URLSearchParams();
  for (const k of ["url", "sni", "method", "cert"]) if (f.get(k)) body.append(k, f.get(k));
  for (const h of (f.get("headers") || "").split("\n")) if (h.trim()) body.append("header", h.trim());
  body.append("format", "text");
  const out = document.getElementById("explain-out");
  const r = await fetch("/explain", { method: "POST", body });
  out.textContent = await r.text();
  out.dataset.done = String(parseInt(out.dataset.done || "0", 10) + 1);
});

poll();
