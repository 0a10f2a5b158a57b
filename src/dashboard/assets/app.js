// The onebot-host dashboard (SPEC D1-D7). Plain JavaScript, no dependencies, no build step.
//
// Everything comes from the host this page was served by: GET / (plugins, actions, failed
// files), POST /<action> (the playground), /dashboard/api/* (metrics as Prometheus text,
// history, log tail, connections) and /dashboard/events (the event stream). The token is asked for once, kept in sessionStorage (this tab only) and sent
// as an Authorization header: never in a URL, never in a cookie. Text from the host (plugin
// names, events, log lines) is only ever set as textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "onebot-host-token";
const REFRESH_MS = 2000;
const MAX_EVENTS = 500;
const MAX_LOG_LINES = 1000;

const $ = (selector) => document.querySelector(selector);

/** An element with `text` as its content and `className`, if given. */
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  page: "overview",
  health: null, // GET /'s data
  events: { paused: false, list: [], held: 0, reader: null },
  log: { next: null, lines: [] },
};

// ---------------------------------------------------------------------------------------------
// Talking to the host

class Refused extends Error {}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

/** A OneBot envelope from `path`; throws Refused on a missing or wrong token. */
async function envelope(path, init = {}) {
  const response = await fetch(path, Object.assign({}, init, { headers: headers(init.headers) }));
  if (response.status === 403) throw new Refused();
  const body = await response.json();
  if (body.retcode === 1403) throw new Refused();
  return body;
}

/** The `data` of an ok envelope from a dashboard path. */
async function data(path) {
  const body = await envelope(path);
  if (body.status !== "ok") throw new Error(path + ": " + body.message);
  return body.data;
}

async function fetchMetrics() {
  const response = await fetch("/dashboard/api/metrics", { headers: headers() });
  if (response.status === 403) throw new Refused();
  if (!response.ok) throw new Error("/dashboard/api/metrics: HTTP " + response.status);
  return parseMetrics(await response.text());
}

/**
 * Prometheus text format -> [{name, labels, value}]. Enough of the format for what the host
 * writes: `name{k="v",...} value` lines, label values with \\, \" and \n escapes.
 */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    let i = 0;
    while (i < line.length && line[i] !== "{" && line[i] !== " ") i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}" && i < line.length) {
        const eq = line.indexOf("=", i);
        const key = line.slice(i, eq).replace(/^,/, "");
        i = eq + 2; // past ="
        let value = "";
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\") {
            i++;
            value += line[i] === "n" ? "\n" : line[i];
          } else {
            value += line[i];
          }
          i++;
        }
        labels[key] = value;
        i++; // past the closing quote
        if (line[i] === ",") i++;
      }
      i++; // past }
    }
    samples.push({ name, labels, value: Number(line.slice(i).trim().split(" ")[0]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `match`. */
function sum(metrics, name, match) {
  let total = 0;
  for (const s of metrics || []) {
    if (s.name !== name) continue;
    if (Object.entries(match || {}).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** The q-quantile of a cumulative histogram, as Prometheus's histogram_quantile does. */
function quantile(q, buckets) {
  if (!buckets.length) return NaN;
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1].count;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / Math.max(b.count - prevCount, 1));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

// ---------------------------------------------------------------------------------------------
// Signing in

function showLogin(message) {
  stopEvents();
  $("#nav").hidden = true;
  for (const page of document.querySelectorAll(".page")) page.hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#status").textContent = "";
  $("#token").focus();
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("#token").value;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = "";
  showLogin("");
});

/** Any call that finds the token refused sends the user back to the form. */
function refused(error) {
  if (error instanceof Refused) {
    showLogin(state.token ? "The server refused this token (wrong token)." : "");
    return true;
  }
  return false;
}

async function start() {
  try {
    state.health = await data("/");
  } catch (error) {
    if (!refused(error)) $("#status").textContent = "Cannot reach the host: " + error.message;
    return;
  }
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#host-version").textContent = state.health.app_name + " " + state.health.app_version;
  show(state.page);
}

// ---------------------------------------------------------------------------------------------
// Pages

let timer = null;

const pages = {
  overview: { refresh: refreshOverview },
  plugins: { refresh: refreshPlugins },
  connections: { refresh: refreshConnections },
  events: { enter: startEvents, leave: null, refresh: null },
  log: { refresh: refreshLog, every: 1000 },
  playground: { enter: fillPlayground },
};

for (const button of document.querySelectorAll("nav button[data-page]")) {
  button.addEventListener("click", () => show(button.dataset.page));
}

function show(name) {
  state.page = name;
  for (const button of document.querySelectorAll("nav button[data-page]")) {
    button.classList.toggle("active", button.dataset.page === name);
  }
  for (const page of document.querySelectorAll(".page")) page.hidden = page.id !== "page-" + name;
  clearInterval(timer);
  const page = pages[name];
  if (page.enter) page.enter();
  if (page.refresh) {
    const run = () =>
      page.refresh().then(
        () => ($("#status").textContent = ""),
        (error) => {
          if (!refused(error)) $("#status").textContent = "Update failed: " + error.message;
        },
      );
    run();
    timer = setInterval(run, page.every || REFRESH_MS);
  }
}

function formatDuration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
}

function formatSeconds(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 0.001) return (seconds * 1e6).toFixed(0) + " µs";
  if (seconds < 1) return (seconds * 1e3).toFixed(1) + " ms";
  return seconds.toFixed(2) + " s";
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

async function refreshOverview() {
  const [health, metrics, history] = await Promise.all([
    data("/"),
    fetchMetrics(),
    data("/dashboard/api/history"),
  ]);
  state.health = health;
  $("#ov-version").textContent = health.app_version;
  $("#ov-self").textContent = String(health.self_id);
  $("#ov-plugins").textContent = health.plugins.length + (health.failures.length ? " (" + health.failures.length + " failed)" : "");
  $("#ov-uptime").textContent = formatDuration((Date.now() - history.started_ms) / 1000);
  const rates = [];
  const samples = history.samples;
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i][0] - samples[i - 1][0]) / 1000 || 1;
    rates.push([samples[i][0], (samples[i][1] - samples[i - 1][1]) / dt, (samples[i][2] - samples[i - 1][2]) / dt]);
  }
  const last = rates[rates.length - 1] || [0, 0, 0];
  $("#ov-rate").textContent = last[1].toFixed(1);
  $("#ov-errors").textContent = last[2].toFixed(1);
  drawChart($("#ov-chart"), rates);

  const body = $("#ov-clients tbody");
  body.replaceChildren();
  for (const kind of ["websocket_server", "websocket_client", "sse", "http_client", "dashboard"]) {
    const row = el("tr");
    row.append(
      el("td", kind),
      el("td", sum(metrics, "onebot_connection_clients", { kind }), "num"),
      el("td", sum(metrics, "onebot_events_delivered_total", { kind }), "num"),
      el("td", sum(metrics, "onebot_events_dropped_total", { kind }), "num"),
    );
    body.append(row);
  }
}

function drawChart(svg, rates) {
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (rates.length === 1) rates = [[rates[0][0] - 1, rates[0][1], rates[0][2]], rates[0]];
  if (rates.length < 2) return;
  const max = Math.max(1, ...rates.map((r) => r[1]));
  const t0 = rates[0][0];
  const span = Math.max(rates[rates.length - 1][0] - t0, 1);
  for (const [index, cls] of [[1, "calls"], [2, "errors"]]) {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("class", cls);
    line.setAttribute(
      "points",
      rates.map((r) => ((r[0] - t0) / span) * 600 + "," + (115 - (r[index] / max) * 110)).join(" "),
    );
    svg.append(line);
  }
}

async function refreshPlugins() {
  const [health, metrics] = await Promise.all([data("/"), fetchMetrics()]);
  state.health = health;
  const failures = $("#plugins-failures");
  failures.replaceChildren();
  for (const failure of health.failures) {
    const box = el("div", null, "failure");
    box.append(el("strong", failure.file), el("div", failure.error, "mono"));
    failures.append(box);
  }
  const list = $("#plugins-list");
  list.replaceChildren();
  for (const plugin of health.plugins) {
    const box = el("article", null, "plugin");
    box.dataset.plugin = plugin.name;
    const title = el("h2", plugin.name + " ");
    title.append(el("code", plugin.version, "version"));
    box.append(title);
    box.append(
      el(
        "p",
        (plugin.size / 1024).toFixed(0) + " KiB · loaded " + new Date(plugin.loaded_at * 1000).toLocaleString() +
          " (" + (plugin.cache_hit ? "from cache" : "compiled") + " in " + plugin.compile_ms.toFixed(1) + " ms) · timeout " +
          plugin.timeout_ms + " ms · memory " + plugin.memory_mb + " MiB · warm " + plugin.warm_instances,
        "meta",
      ),
    );
    box.append(el("p", "Grants: " + grantsText(plugin.grants), "meta"));
    // A file that failed to load while this version kept serving (P2): its last reload's error.
    for (const failure of health.failures) {
      if (failure.file === plugin.file || failure.file.startsWith(plugin.file.replace(/\.wasm$/, "."))) {
        box.append(el("p", "Last reload failed (this version keeps serving): " + failure.error, "failure mono"));
      }
    }
    if (plugin.triggers && plugin.triggers.length) {
      box.append(el("p", "Triggers: " + plugin.triggers.join("; "), "meta"));
    }
    const table = el("table");
    const head = el("tr");
    for (const h of ["action", "calls", "errors", "p50", "p99"]) head.append(el("th", h, h === "action" ? "" : "num"));
    table.append(head);
    for (const action of plugin.actions) {
      const match = { plugin: plugin.name, action };
      const calls = sum(metrics, "onebot_action_calls_total", match);
      const ok = sum(metrics, "onebot_action_calls_total", Object.assign({ outcome: "ok" }, match));
      const buckets = (metrics || [])
        .filter((s) => s.name === "onebot_action_duration_seconds_bucket" && s.labels.plugin === plugin.name && s.labels.action === action)
        .map((s) => ({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), count: s.value }));
      const row = el("tr");
      row.dataset.action = action;
      row.append(
        el("td", action, "mono"),
        el("td", calls, "num calls"),
        el("td", calls - ok, "num errors"),
        el("td", formatSeconds(quantile(0.5, buckets)), "num"),
        el("td", formatSeconds(quantile(0.99, buckets)), "num"),
      );
      table.append(row);
    }
    box.append(table);
    list.append(box);
  }
}

function grantsText(grants) {
  const parts = [];
  if (grants.config.length) parts.push("config " + grants.config.join(", "));
  if (grants.keyValue.length) parts.push("keyValue " + grants.keyValue.join(", "));
  if (grants.callActions.length) parts.push("callActions " + grants.callActions.join(", "));
  if (grants.allowedOutboundHosts.length) parts.push("outbound " + grants.allowedOutboundHosts.join(", "));
  return parts.length ? parts.join("; ") : "none";
}

async function refreshConnections() {
  const [entries, metrics] = await Promise.all([data("/dashboard/api/connections"), fetchMetrics()]);
  const list = $("#connections-list");
  list.replaceChildren();
  const section = (title, columns, rows) => {
    list.append(el("h2", title));
    if (!rows.length) {
      list.append(el("p", "none", "hint"));
      return;
    }
    const table = el("table");
    const head = el("tr");
    for (const c of columns) head.append(el("th", c));
    table.append(head);
    for (const cells of rows) {
      const row = el("tr");
      for (const c of cells) row.append(el("td", c));
      table.append(row);
    }
    list.append(table);
  };
  const flow = (kind) =>
    sum(metrics, "onebot_connection_clients", { kind }) + " connected · " +
    sum(metrics, "onebot_events_delivered_total", { kind }) + " events delivered · " +
    sum(metrics, "onebot_events_dropped_total", { kind }) + " dropped";
  const yes = (b) => (b ? "on" : "off");
  const when = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : "–");
  // D6: each entry's own counters (a server's dashboards are not among its clients).
  const serverFlow = (s) => {
    const c = s.counters;
    if (!c || !(s.websocket || s.events)) return ["–", "–", "–"];
    return [c.clients + (c.clients === 1 ? " client" : " clients"), String(c.delivered), String(c.dropped)];
  };
  section(
    "Servers",
    ["name", "list", "listening on", "token", "websocket", "cors", "metrics", "dashboard", "format", "connected", "events delivered", "dropped"],
    entries.servers.map((s) => [s.name, s.section, s.listen, s.token ? "set" : "none", yes(s.websocket), yes(s.cors), yes(s.metrics), yes(s.dashboard), s.format, ...serverFlow(s)]),
  );
  list.append(el("p", "WebSocket clients of the servers: " + flow("websocket_server"), "meta"));
  list.append(el("p", "Event streams (httpSseServers): " + flow("sse") + "; dashboards: " + flow("dashboard"), "meta"));
  const linkState = (state) => {
    if (!state) return ["starting", "–", "0", "–"];
    return [
      state.connected ? "connected" : "down",
      when(state.connected_since),
      String(state.connects),
      state.last_error || "–",
    ];
  };
  const linkFlow = (c) => (c ? [String(c.delivered), String(c.dropped)] : ["0", "0"]);
  section(
    "Reverse WebSocket (websocketClients)",
    ["name", "url", "token", "format", "state", "since", "connects", "last error", "events delivered", "dropped"],
    entries.websocketClients.map((c) => [c.name, c.url, c.token ? "set" : "none", c.format, ...linkState(c.state), ...linkFlow(c.counters)]),
  );
  list.append(el("p", flow("websocket_client"), "meta"));
  const posts = (c) => {
    if (!c) return ["–", "0", "0", "0", "–", "–"];
    const state = c.last_error && (c.last_error_at || 0) >= (c.last_success || 0) ? "failing" : c.last_success ? "ok" : "idle";
    return [state, String(c.delivered), String(c.failed), String(c.dropped), when(c.last_success), c.last_error || "–"];
  };
  section(
    "HTTP POST (httpClients)",
    ["name", "url", "signature", "format", "state", "events posted", "failed", "dropped (queue full)", "last success", "last error"],
    entries.httpClients.map((c) => [c.name, c.url, c.token ? "on" : "off", c.format, ...posts(c.counters)]),
  );
  list.append(el("p", flow("http_client"), "meta"));
  const up = entries.upstream;
  section(
    "Upstream (gateway mode)",
    ["url", "state", "since", "self_id", "actions forwarded", "events received"],
    up ? [[up.url, up.connected ? "connected" : "down", up.connected_since ? new Date(up.connected_since * 1000).toLocaleString() : "–", up.self_id ?? "–", up.actions_forwarded, up.events_received]] : [],
  );
}

// Live events: the stream is read with fetch (EventSource cannot send the header).

async function startEvents() {
  if (state.events.reader) return;
  const status = $("#events-state");
  let response;
  try {
    response = await fetch("/dashboard/events", { headers: headers() });
  } catch (error) {
    status.textContent = "stream failed: " + error.message;
    return;
  }
  if (response.status === 403) {
    refused(new Refused());
    return;
  }
  const reader = response.body.getReader();
  state.events.reader = reader;
  status.textContent = "connected";
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const text = block
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (text) addEvent(text);
      }
    }
  } catch (error) {
    // cancelled by stopEvents, or the connection dropped
  }
  state.events.reader = null;
  status.textContent = "disconnected";
}

function stopEvents() {
  if (state.events.reader) state.events.reader.cancel();
  state.events.reader = null;
}

function addEvent(text) {
  state.events.list.push({ at: Date.now(), text });
  if (state.events.list.length > MAX_EVENTS) state.events.list.shift();
  if (state.events.paused) {
    state.events.held++;
    $("#events-pause").textContent = "Resume (" + state.events.held + " new)";
    return;
  }
  renderEvents();
}

function renderEvents() {
  const filter = $("#events-filter").value.toLowerCase();
  const list = $("#events-list");
  list.replaceChildren();
  for (const event of state.events.list.slice().reverse()) {
    if (filter && !event.text.toLowerCase().includes(filter)) continue;
    const item = el("li", null, "mono");
    item.append(el("span", time(event.at), "time"), document.createTextNode(event.text));
    list.append(item);
  }
}

$("#events-pause").addEventListener("click", () => {
  state.events.paused = !state.events.paused;
  state.events.held = 0;
  $("#events-pause").textContent = state.events.paused ? "Resume" : "Pause";
  if (!state.events.paused) renderEvents();
});
$("#events-filter").addEventListener("input", renderEvents);

// Log tail.

async function refreshLog() {
  const level = $("#log-level").value;
  const after = state.log.next === null ? "" : "&after=" + (state.log.next - 1);
  const tail = await data("/dashboard/api/log?level=" + level + after);
  if (!tail.kept) {
    $("#log-state").textContent = "This process keeps no log tail (the host was started as a library).";
    return;
  }
  $("#log-state").textContent = "";
  state.log.next = tail.next;
  state.log.lines.push(...tail.lines);
  if (state.log.lines.length > MAX_LOG_LINES) state.log.lines.splice(0, state.log.lines.length - MAX_LOG_LINES);
  const list = $("#log-list");
  for (const line of tail.lines) {
    const item = el("li", null, "mono lvl-" + line.level);
    item.append(el("span", time(line.time_ms) + " " + line.level.toUpperCase(), "time"), document.createTextNode(line.target + ": " + line.text));
    list.prepend(item);
  }
  while (list.children.length > MAX_LOG_LINES) list.lastChild.remove();
}

$("#log-level").addEventListener("change", () => {
  state.log = { next: null, lines: [] };
  $("#log-list").replaceChildren();
  refreshLog().catch(refused);
});

// Playground.

const EXAMPLES = {
  send_private_msg: { user_id: 10001, message: "Hello from the dashboard" },
  send_group_msg: { group_id: 20001, message: "Hello from the dashboard" },
  mock_receive_private_msg: { user_id: 10001, message: "/echo hello", nickname: "Alice" },
  mock_receive_group_msg: { group_id: 20001, user_id: 10002, message: "hi" },
};

function fillPlayground() {
  const select = $("#pg-action");
  const chosen = select.value;
  select.replaceChildren();
  for (const entry of state.health ? state.health.actions : []) {
    const option = el("option", entry.action + (entry.plugin ? "  (" + entry.plugin + ")" : "  (host)"));
    option.value = entry.action;
    select.append(option);
  }
  if (chosen) select.value = chosen;
}

$("#pg-action").addEventListener("change", () => {
  const example = EXAMPLES[$("#pg-action").value];
  $("#pg-params").value = JSON.stringify(example || {}, null, 2);
});

$("#pg-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const action = $("#pg-action").value;
  const result = $("#pg-result");
  let params;
  try {
    params = JSON.parse($("#pg-params").value || "{}");
  } catch (error) {
    result.className = "error";
    result.textContent = "Params are not JSON: " + error.message;
    return;
  }
  const started = performance.now();
  try {
    const body = await envelope("/" + encodeURIComponent(action), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(params),
    });
    $("#pg-time").textContent = (performance.now() - started).toFixed(1) + " ms";
    result.className = body.status === "failed" ? "error" : "ok";
    result.textContent = JSON.stringify(body, null, 2);
  } catch (error) {
    if (!refused(error)) {
      result.className = "error";
      result.textContent = "Request failed: " + error.message;
    }
  }
});

start();
