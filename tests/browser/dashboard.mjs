// The dashboard (SPEC D1-D7) in a real browser: Debian's Chromium driven by playwright-core,
// against target/release/onebot-host serving the repository's example plugins (the default
// config's plugin folder, mock-account among them) behind a token. tests/browser/run.sh
// installs what it needs and runs this file; it exits non-zero at the first check that fails.
//
// Checks, each as a user sees it: the page asks for the token, and a wrong one shows a clear
// message and no data; the right one shows the overview, the plugins (version, grants, actions,
// per-action calls, a failed reload's error), the connections (each entry's state and counters: a
// WebSocket client on the server, an httpClients entry posting, one failing) and the log; the playground
// sends send_private_msg and shows the envelope and its time; an event emitted by mock_receive_private_msg appears in live
// events (and pause and the filter work); replacing a plugin file shows its new version
// without reloading the page; a page of another origin can neither read the dashboard's data
// nor call an action through the host. Screenshots go to target/browser/.
//
// Every wait is for a condition, bounded by TIMEOUT_MS; nothing sleeps.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.ONEBOT_HOST_BIN || path.join(root, "target/release/onebot-host");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = path.join(root, "target/browser");
const TIMEOUT_MS = 20000;
const TOKEN = "browser-" + Math.random().toString(36).slice(2);
const URL_SECRET = "url-secret-" + Math.random().toString(36).slice(2);

let step = "start";
function check(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------------------------
// A host serving the example plugins

/** A temp folder with the example plugins (every built .wasm of plugins/ and its sidecar). */
function pluginFolder(dir) {
  const folder = path.join(dir, "plugins");
  fs.mkdirSync(folder);
  const source = path.join(root, "plugins");
  const copied = [];
  for (const file of fs.readdirSync(source)) {
    if (file.endsWith(".wasm") || file.endsWith(".json5")) {
      fs.copyFileSync(path.join(source, file), path.join(folder, file));
      if (file.endsWith(".wasm")) copied.push(file);
    }
  }
  check(copied.includes("mock-account.wasm"), "plugins/mock-account.wasm is not built (plugins/build)");
  return folder;
}

/** `httpClients` for the host: one to `bot` (which takes every event), one to a closed port. */
function httpClients(bot, deadPort) {
  return `httpClients: [
    { name: "bot-endpoint", enable: true, url: "${bot}/onebot?key=${URL_SECRET}", token: "${URL_SECRET}-sign" },
    { name: "gone-endpoint", enable: true, url: "http://127.0.0.1:${deadPort}/" }]`;
}

async function startHost(dir, plugins, network) {
  const config = path.join(dir, "onebot.json5");
  fs.writeFileSync(
    config,
    `{
  network: { httpServers: [{ name: "dashboard-test", enable: true, host: "127.0.0.1", port: 0,
    token: "${TOKEN}", enableWebsocket: true }], ${network} },
  plugins: { dir: ${JSON.stringify(plugins)}, cacheDir: ${JSON.stringify(path.join(root, "target/browser-cache"))},
    dataDir: ${JSON.stringify(path.join(dir, "data"))},
    ceilings: { keyword: { callActions: ["send_msg"] } } },
}`,
  );
  const child = spawn(bin, ["--config", config], {
    env: { ...process.env, RUST_LOG: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text) => {
      log += text;
      const found = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (found) resolve(Number(found[1]));
    });
    child.on("exit", (code) => reject(new Error("the host exited (" + code + "):\n" + log)));
    setTimeout(() => reject(new Error("the host did not listen within 120 s:\n" + log)), 120000).unref();
  });
  return { child, port, base: "http://127.0.0.1:" + port, log: () => log };
}

/** A call the way any client makes it (not through the page). */
async function call(base, action, params) {
  const response = await fetch(base + "/" + action, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + TOKEN },
    body: JSON.stringify(params),
  });
  return response.json();
}

async function health(base) {
  const response = await fetch(base + "/", { headers: { Authorization: "Bearer " + TOKEN } });
  return (await response.json()).data;
}

async function callsOf(base, action) {
  const text = await (
    await fetch(base + "/metrics", { headers: { Authorization: "Bearer " + TOKEN } })
  ).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("onebot_action_calls_total{") && line.includes(`action="${action}"`)) {
      total += Number(line.split(" ").pop());
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Another site, on another origin, that tries to use the host

function startForeignSite(hostBase) {
  const page = `<!doctype html><title>another site</title><script>
  (async () => {
    const result = {};
    const attempt = async (name, run) => {
      try { const r = await run(); result[name] = "read " + r.status + ": " + (await r.text()).slice(0, 200); }
      catch (error) { result[name] = "blocked: " + error.message; }
    };
    await attempt("history", () => fetch("${hostBase}/dashboard/api/history",
      { headers: { Authorization: "Bearer ${TOKEN}" } }));
    await attempt("health", () => fetch("${hostBase}/"));
    await attempt("page", () => fetch("${hostBase}/dashboard"));
    // A simple request needs no preflight: the browser sends it; only the host can refuse it.
    try {
      await fetch("${hostBase}/mock_receive_private_msg", { method: "POST", mode: "no-cors",
        body: JSON.stringify({ user_id: 66666, message: "sent by another site" }) });
      result.action = "sent";
    } catch (error) { result.action = "blocked: " + error.message; }
    document.body.textContent = JSON.stringify(result);
    document.title = "done";
  })();
  </script>`;
  const server = http.createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end(page);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, base: "http://localhost:" + server.address().port })),
  );
}

// ---------------------------------------------------------------------------------------------
// A bot's side: an httpClients endpoint, a port nothing listens on, a WebSocket client

/** An endpoint that answers every POSTed event with 204 and counts them. */
function startBotEndpoint() {
  const bot = { posts: 0 };
  bot.server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      bot.posts += 1;
      response.writeHead(204);
      response.end();
    });
  });
  return new Promise((resolve) =>
    bot.server.listen(0, "127.0.0.1", () => resolve(Object.assign(bot, { base: "http://127.0.0.1:" + bot.server.address().port }))),
  );
}

/** A port bound and released: nothing listens on it. */
function closedPort() {
  return new Promise((resolve) => {
    const server = http.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

/** A WebSocket client of the host (the handshake by hand: Node 20 has no WebSocket client);
 * resolves with its socket once the host accepted it. */
function connectWebSocket(port) {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: "127.0.0.1",
      port,
      path: "/",
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": Buffer.from(Math.random().toString(36).slice(2, 18).padEnd(16, "x")).toString("base64"),
        Authorization: "Bearer " + TOKEN,
      },
    });
    request.on("upgrade", (_response, socket) => resolve(socket));
    request.on("response", (response) => reject(new Error("WebSocket refused: HTTP " + response.statusCode)));
    request.on("error", reject);
    request.end();
  });
}

// ---------------------------------------------------------------------------------------------
// The checks

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "onebot-dashboard-"));
  const plugins = pluginFolder(dir);
  const bot = await startBotEndpoint();
  const deadPort = await closedPort();
  const host = await startHost(dir, plugins, httpClients(bot.base, deadPort));
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  try {
    await run(host, plugins, browser, bot);
  } catch (error) {
    console.error(`FAILED at "${step}": ${error.message}`);
    console.error("host log (last 40 lines):\n" + host.log().split("\n").slice(-40).join("\n"));
    process.exitCode = 1;
  } finally {
    await browser.close();
    host.child.kill();
    bot.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(host, plugins, browser, bot) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const urls = [];
  page.on("request", (request) => urls.push(request.url()));
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const described = await health(host.base);

  step = "D3: the page asks for the token; a wrong one shows a message, not data";
  await page.goto(host.base + "/dashboard");
  await page.locator("#login").waitFor({ state: "visible" });
  check(await page.locator("#nav").isHidden(), "the navigation shows before a token is given");
  await page.fill("#token", "not-the-token");
  await page.click("#login button[type=submit]");
  await page.locator("#login-error", { hasText: "wrong token" }).waitFor();
  check(await page.locator("#page-overview").isHidden(), "data shows for a wrong token");
  check((await page.locator("#plugins-list article").count()) === 0, "plugins listed for a wrong token");
  await page.screenshot({ path: path.join(shots, "wrong-token.png") });

  step = "D3: the right token shows the overview, with the host's own figures";
  await page.fill("#token", TOKEN);
  await page.click("#login button[type=submit]");
  await page.locator("#nav").waitFor({ state: "visible" });
  await page.locator("#ov-version", { hasText: described.app_version }).waitFor();
  await page.locator("#ov-plugins", { hasText: String(described.plugins.length) }).waitFor();
  await page.locator("#ov-self", { hasText: String(described.self_id) }).waitFor();
  await page.locator("#ov-clients td", { hasText: "websocket_server" }).waitFor();
  const stored = await page.evaluate(() => ({ token: sessionStorage.getItem("onebot-host-token"), cookie: document.cookie }));
  check(stored.token === TOKEN, "the token is not in sessionStorage");
  check(stored.cookie === "", "the page set a cookie: " + stored.cookie);

  step = "D4: the playground sends send_private_msg and shows the envelope and its time";
  await page.click("nav button[data-page=playground]");
  await page.selectOption("#pg-action", "send_private_msg");
  await page.fill("#pg-params", JSON.stringify({ user_id: 10001, message: "hello from the browser test" }));
  await page.click("#pg-send");
  await page.locator("#pg-result", { hasText: '"retcode": 0' }).waitFor();
  const envelope = JSON.parse(await page.locator("#pg-result").textContent());
  check(envelope.status === "ok" && Number.isInteger(envelope.data.message_id), "not an ok envelope with a message_id: " + JSON.stringify(envelope));
  check(/\d+(\.\d+)? ms/.test(await page.locator("#pg-time").textContent()), "no time shown");
  await page.fill("#pg-params", "{ not json");
  await page.click("#pg-send");
  await page.locator("#pg-result", { hasText: "Params are not JSON" }).waitFor();
  await page.selectOption("#pg-action", "mock_receive_private_msg");
  await page.click("#pg-send");
  await page.locator("#pg-result", { hasText: '"retcode": 0' }).waitFor();
  await page.screenshot({ path: path.join(shots, "playground.png") });

  step = "D4: the plugins page shows each plugin with its version, grants and per-action calls";
  await page.click("nav button[data-page=plugins]");
  for (const plugin of described.plugins) {
    await page.locator(`article[data-plugin="${plugin.name}"] .version`, { hasText: plugin.version }).waitFor();
  }
  const mock = page.locator('article[data-plugin="mock-account"]');
  await mock.locator("p", { hasText: "keyValue default" }).waitFor();
  await mock.locator('tr[data-action="send_private_msg"] td.calls', { hasText: /^1$/ }).waitFor();
  await page.locator('article[data-plugin="keyword"] p', { hasText: "events: message" }).waitFor();
  await page.screenshot({ path: path.join(shots, "plugins.png"), fullPage: true });
  // The README's picture (docs/dashboard.png is a copy): the top of this page.
  await page.screenshot({ path: path.join(shots, "dashboard.png"), clip: { x: 0, y: 0, width: 1100, height: 560 } });

  step = "D4: replacing a plugin file shows its new version without reloading the page";
  const file = path.join(plugins, "mock-account.wasm");
  const before = fs.readFileSync(file);
  // The same component with one more custom section (id 0, "rebuild"): a new file, a new version.
  const name = Buffer.from("rebuild");
  const payload = Buffer.from(String(Date.now()));
  const section = Buffer.concat([Buffer.from([0, 1 + name.length + payload.length, name.length]), name, payload]);
  const rebuilt = Buffer.concat([before, section]);
  const newVersion = createHash("sha256").update(rebuilt).digest("hex").slice(0, 12);
  const oldVersion = described.plugins.find((p) => p.name === "mock-account").version;
  check(!newVersion.startsWith(oldVersion) || oldVersion === "", "the rebuilt file has the old version");
  let loads = 0;
  page.on("load", () => loads++);
  fs.writeFileSync(file + ".tmp", rebuilt);
  fs.renameSync(file + ".tmp", file);
  const shown = await waitFor(async () => {
    const text = await mock.locator(".version").textContent();
    return text !== oldVersion ? text : null;
  });
  check(newVersion.startsWith(shown), `shown version ${shown}, file's ${newVersion}`);
  check(loads === 0, "the page was reloaded");

  step = "D4: a reload that fails shows its error on the plugin, which keeps serving";
  fs.writeFileSync(file + ".tmp", Buffer.from("not a component"));
  fs.renameSync(file + ".tmp", file);
  await mock.locator("p.failure", { hasText: "Last reload failed" }).waitFor();
  check((await mock.locator(".version").textContent()) === shown, "the serving version changed");
  check(loads === 0, "the page was reloaded");

  step = "D4: live events show an event mock_receive_private_msg emitted; pause and filter work";
  await page.click("nav button[data-page=events]");
  await page.locator("#events-state", { hasText: "connected" }).waitFor();
  const sentAt = Date.now();
  await call(host.base, "mock_receive_private_msg", { user_id: 10001, message: "event for the page", nickname: "Alice" });
  await page.locator("#events-list li", { hasText: "event for the page" }).waitFor();
  console.log(`  live event shown ${Date.now() - sentAt} ms after the call was sent`);
  await page.click("#events-pause");
  await call(host.base, "mock_receive_private_msg", { user_id: 10001, message: "held while paused" });
  await page.locator("#events-pause", { hasText: "1 new" }).waitFor();
  check((await page.locator("#events-list li", { hasText: "held while paused" }).count()) === 0, "shown while paused");
  await page.click("#events-pause");
  await page.locator("#events-list li", { hasText: "held while paused" }).waitFor();
  await page.fill("#events-filter", "event for the page");
  await page.locator("#events-list li", { hasText: "held while paused" }).waitFor({ state: "detached" });
  check((await page.locator("#events-list li", { hasText: "event for the page" }).count()) >= 1, "the filter hid the match");
  await page.fill("#events-filter", "");
  await page.screenshot({ path: path.join(shots, "events.png") });

  step = "D6: the connections page lists the server with its settings and client counts";
  await page.click("nav button[data-page=connections]");
  await page.locator("#connections-list td", { hasText: "dashboard-test" }).waitFor();
  await page.locator("#connections-list td", { hasText: "127.0.0.1:" + host.port }).waitFor();
  await page.locator("#connections-list p", { hasText: /dashboards: 1 connected/ }).waitFor();
  check(!(await page.locator("#connections-list").textContent()).includes(TOKEN), "the token is shown");

  step = "D6: each entry's own state and counters: a WebSocket client on the server, one httpClients entry posting, one failing";
  const socket = await connectWebSocket(host.port);
  const row = (name) => page.locator("#connections-list tr", { has: page.locator("td", { hasText: name }) });
  await row("dashboard-test").locator("td", { hasText: /^1 client$/ }).waitFor();
  await row("bot-endpoint").locator("td", { hasText: /^ok$/ }).waitFor();
  const posted = Number(await row("bot-endpoint").locator("td").nth(5).textContent());
  check(posted >= 1 && posted <= bot.posts, "bot-endpoint shows " + posted + " events posted, it got " + bot.posts);
  await row("gone-endpoint").locator("td", { hasText: /^failing$/ }).waitFor();
  await row("gone-endpoint").locator("td", { hasText: /^no connection after 3 tries/ }).waitFor();
  const listed = await page.locator("#connections-list").textContent();
  check(!listed.includes(URL_SECRET), "a URL's query or a signing token is shown");
  await page.screenshot({ path: path.join(shots, "connections.png") });
  socket.destroy();
  await row("dashboard-test").locator("td", { hasText: /^0 clients$/ }).waitFor();

  step = "D5: the log tail shows the host's lines, and the level filter hides info lines";
  await page.click("nav button[data-page=log]");
  await page.locator("#log-list li", { hasText: "listening on" }).waitFor();
  await page.selectOption("#log-level", "warn");
  await page.locator("#log-list li", { hasText: "listening on" }).waitFor({ state: "detached" });
  check((await page.locator("#log-list li.lvl-info").count()) === 0, "info lines under warn and above");
  await page.selectOption("#log-level", "info");
  await page.locator("#log-list li", { hasText: "listening on" }).waitFor();
  await page.screenshot({ path: path.join(shots, "log.png") });

  step = "D2: the overview after some calls";
  await page.click("nav button[data-page=overview]");
  await page.locator("#ov-version", { hasText: described.app_version }).waitFor();
  await page.screenshot({ path: path.join(shots, "overview.png") });

  step = "D3: the token never went into a URL; the page ran without script errors";
  check(!urls.some((u) => u.includes(TOKEN)), "a request URL carried the token");
  check(urls.every((u) => u.startsWith(host.base)), "a request left the host: " + urls.filter((u) => !u.startsWith(host.base)));
  check(errors.length === 0, "script errors: " + errors.join("; "));

  step = "D7/B1: another site's page can neither read the dashboard's data nor call an action";
  const foreign = await startForeignSite(host.base);
  try {
    const callsBefore = await callsOf(host.base, "mock_receive_private_msg");
    const other = await context.newPage();
    await other.goto(foreign.base + "/");
    await other.waitForFunction(() => document.title === "done", null, { timeout: TIMEOUT_MS });
    const result = JSON.parse(await other.locator("body").textContent());
    for (const key of ["history", "health", "page"]) {
      check(result[key].startsWith("blocked"), `another site read ${key}: ${result[key]}`);
    }
    check(result.action === "sent", "the browser did not send the simple request: " + result.action);
    // The same probe from the host's own origin is counted: so an unchanged count means refused.
    const callsAfter = await callsOf(host.base, "mock_receive_private_msg");
    check(callsAfter === callsBefore, `another site's POST ran the action (${callsBefore} -> ${callsAfter})`);
    await other.close();
  } finally {
    foreign.server.close();
  }
  console.log("dashboard browser checks passed; screenshots in " + path.relative(root, shots));
}

async function waitFor(probe) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met within " + TIMEOUT_MS + " ms");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

await main();
