// The web app in the browser, measured: Debian's chromium driven by playwright-core (from
// tests/interop; it never downloads a browser) against a real relay (a release build) on a
// fresh data directory. A benchmark, not a test: `scripts/bench-web` runs it and writes the
// figures into BENCHMARKS.md. Not run in CI.
//
//   node bench/web/app-bench.mjs [--relay PATH] [--runs N] [--contacts N] [--many N] [--out FILE]
//
// Every request of the browser goes through a proxy here, which counts the bytes each way and,
// when asked, shapes them as a phone's link would (one link for all connections: a round-trip
// delay on each, a first-byte delay for each new connection's handshake, and the bandwidth of
// each direction). Shaping here, not in the browser, because chromium's own network emulation
// (DevTools `Network.emulateNetworkConditions`) covers the page and its worker but not the
// service worker, whose fetches for the offline copy would otherwise go at loopback speed.
//
// What it measures:
//   1. First load: what a first visit to /app/ moves over the wire, the service worker's
//      offline copy included (the proxy's count; and every response's encoded size, encoding
//      and fetcher, as chromium reports them).
//   2. Time to the first usable screen ("Your groups" shown, the worker booted: the status
//      line says something), cold (a fresh profile) and warm (a second visit, served by the
//      service worker), on the throttled 4G profile with the page's main thread at 4x CPU
//      slowdown (`Emulation.setCPUThrottlingRate`; chromium refuses it for workers, so the
//      worker, where the core runs, is not slowed: the figure says so). Also, for comparison,
//      cold with chromium's network emulation in place of the proxy.
//   3. Logging a contact through the form: from the Save button's click, in the page, to
//      "Saved on this phone" (a MutationObserver), and the worker's answer to the page's
//      request (the `logContact` message), in a group this browser created; unthrottled.
//   4. Opening with many contacts stored: a group of --many contacts, half the lead's own (the
//      first --contacts by the form, the rest by the same request sent to the app's worker,
//      skipping the form and the redraw; the last 200 with the link cut) and half a
//      canvasser's, from a second browser joined by the lead's invite, reaching the lead by
//      sync (core caps one device's contacts of one month at 1 MiB, about 4,000); then 50
//      saves by the form at that size, and the lead's browser closed and started again on its
//      profile, timed from navigation until the group screen shows (its newest page of
//      contacts and their count), then until all are listed by "Show more".
//
// The page is instrumented from outside (playwright's init script wraps the page's `Worker`
// to time each request and its answer, and watches the DOM): the app has no test hooks.
// Prints the results as a markdown section (and writes it to --out).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(repo, "tests", "interop", "package.json"));
const { chromium } = require("playwright-core");

const options = { relay: join(repo, "target", "release", "groundwork-relay"), runs: 5, contacts: 500, many: 5000, out: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const [name, value] = [process.argv[i].replace(/^--/, ""), process.argv[i + 1]];
  if (!(name in options) || value === undefined) {
    console.error(`usage: node app-bench.mjs [--relay PATH] [--runs N] [--contacts N] [--many N] [--out FILE]`);
    process.exit(2);
  }
  options[name] = typeof options[name] === "number" ? Number(value) : value;
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
// The commit measured: taken now, next to the relay's build (it embeds the app), not after the
// sitting; "with changes" if files other than BENCHMARKS.md differ from it.
let commit = "unknown";
try {
  commit = execFileSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  try {
    execFileSync("git", ["-C", repo, "diff-index", "--quiet", "HEAD", "--", ".", ":!BENCHMARKS.md"]);
  } catch {
    commit += " (with uncommitted changes)";
  }
} catch {
  // Not a checkout.
}
const say = (what) => console.error(`app-bench: ${what}`);

/** The throttled 4G profile: round trip, and each direction's bandwidth (bytes per ms). */
const PHONE = { rtt: 150, down: 9_000_000 / 8 / 1000, up: 1_500_000 / 8 / 1000 };
const PROFILE_TEXT = "150 ms round trip (and one more for each new connection), 9 Mbit/s down, 1.5 Mbit/s up";
const CPU_RATE = 4;

// --- the relay, and the proxy in front of it ---

/** Counts (and, with a profile set, shapes) every byte between the browser and the relay. */
class Proxy {
  constructor() {
    /** The relay's `HOST:PORT`, set once it listens (before the browser starts). */
    this.target = null;
    this.shape = null;
    this.reset(null);
    /** Set while the link is down: connections refused, those open cut. */
    this.down = false;
    this.open = new Set();
    this.server = net.createServer((client) => {
      if (this.down) return client.destroy();
      this.open.add(client);
      client.on("close", () => this.open.delete(client));
      client.setNoDelay(true);
      const split = this.target.lastIndexOf(":");
      const upstream = net.connect({ host: this.target.slice(0, split), port: Number(this.target.slice(split + 1)) });
      upstream.setNoDelay(true);
      const opened = performance.now();
      let kind = null;
      const pass = (from, to, dir) => {
        const queue = [];
        let timer = null;
        const flush = () => {
          timer = null;
          const now = performance.now();
          while (queue.length > 0 && queue[0].at <= now + 0.5) {
            const { chunk } = queue.shift();
            if (chunk === null) to.end();
            else to.write(chunk);
          }
          if (queue.length > 0) timer = setTimeout(flush, queue[0].at - now);
        };
        const send = (chunk) => {
          const shape = this.shape;
          if (!shape) {
            if (chunk === null) to.end();
            else to.write(chunk);
            return;
          }
          const now = performance.now();
          // Nothing leaves before the connection's handshake would have completed.
          const start = Math.max(now, this.link[dir], dir === "up" ? opened + shape.rtt : 0);
          const size = chunk === null ? 0 : chunk.length;
          this.link[dir] = start + size / shape[dir];
          queue.push({ chunk, at: this.link[dir] + shape.rtt / 2 });
          if (timer === null) timer = setTimeout(flush, queue[0].at - now);
        };
        from.on("data", (chunk) => {
          if (kind === null) kind = chunk.toString("latin1", 0, 16).startsWith("GET /v1/sync") ? "sync" : "http";
          this.bytes[kind][dir] += chunk.length;
          send(chunk);
        });
        from.on("end", () => send(null));
        from.on("error", () => to.destroy());
      };
      pass(client, upstream, "up");
      pass(upstream, client, "down");
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }
  /** Starts counting afresh, with this link profile (or none); the link is idle. */
  reset(shape) {
    this.shape = shape;
    const now = performance.now();
    this.link = { up: now, down: now };
    this.bytes = { http: { up: 0, down: 0 }, sync: { up: 0, down: 0 } };
  }
  /** No signal: every connection cut, new ones refused, until `up()`. */
  cut() {
    this.down = true;
    for (const socket of this.open) socket.destroy();
  }
  up() {
    this.down = false;
  }
  listen() {
    return new Promise((resolve) => this.server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${this.server.address().port}`)));
  }
}
const scratch = mkdtempSync(join(tmpdir(), "groundwork-bench-web-"));
// The browser dials the proxy, so the relay is told that address is its own (connection
// proofs name the relay they were made for). Its log goes to a file, shown if it fails.
const proxy = new Proxy();
const base = `http://${await proxy.listen()}`;
const relayLog = join(scratch, "relay.log");
const relay = spawn(
  options.relay,
  ["--listen", "127.0.0.1:0", "--public-url", base.replace(/^http/, "ws"), "--data", join(scratch, "relay")],
  { env: { ...process.env, GROUNDWORK_LOG: "warn" }, stdio: ["ignore", "pipe", openSync(relayLog, "w")] },
);
const relayExited = new Promise((resolve) => relay.once("exit", resolve));
process.on("exit", () => relay.kill("SIGKILL"));
proxy.target = await new Promise((resolve, reject) => {
  let out = "";
  relay.stdout.setEncoding("utf8");
  relay.stdout.on("data", (chunk) => {
    out += chunk;
    const found = out.match(/^listening on (\S+)/);
    if (found) resolve(found[1]);
  });
  relayExited.then((code) => reject(new Error(`the relay ended (${code}) before listening: ${out}${readFileSync(relayLog, "utf8")}`)));
});

// --- the instrumentation, run in each page before the app's own script ---

/**
 * Wraps `Worker` (timing each request the page sends the app's worker and its answer) and
 * watches the DOM for the moments measured, in ms since the navigation began:
 * `firstScreen` (the app drew anything in <main>), `home` ("Your groups" with the status line
 * written: the worker has booted), `group` (the group screen: the heading `want.heading`, its
 * first page of contacts listed and their count, `want.total`, shown).
 */
function probe(want) {
  const b = { marks: {}, asks: [], sent: new Map(), replies: new Map(), want };
  window.__bench = b;
  const mark = (name) => {
    if (!(name in b.marks)) b.marks[name] = performance.now();
  };
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(...args) {
      super(...args);
      b.worker = this;
      this.addEventListener("message", (e) => {
        const d = e.data;
        if (!d || typeof d.id !== "number" || !b.sent.has(d.id)) return;
        const s = b.sent.get(d.id);
        b.sent.delete(d.id);
        b.asks.push({ op: s.op, ms: performance.now() - s.at });
        b.replies.get(d.id)?.(d);
        b.replies.delete(d.id);
      });
    }
    postMessage(m, ...rest) {
      if (m && typeof m.id === "number" && m.ask) b.sent.set(m.id, { op: m.ask.op, at: performance.now() });
      return super.postMessage(m, ...rest);
    }
  };
  // Asks the app's worker directly, as the page does (ids far past the page's own: the page
  // ignores answers it did not ask for).
  let asked = 0;
  b.ask = (ask) =>
    new Promise((resolve, reject) => {
      const id = 2_000_000_000 + ++asked;
      b.replies.set(id, (d) => (d.ok ? resolve(d.value) : reject(new Error(d.error))));
      b.worker.postMessage({ id, ask });
    });
  const check = () => {
    if (document.getElementById("main")?.childElementCount) mark("firstScreen");
    const heading = document.querySelector("h1")?.textContent;
    if (heading) mark("heading");
    if (heading === "Your groups" && document.getElementById("status")?.textContent) mark("home");
    if (
      b.want &&
      heading === b.want.heading &&
      document.querySelector("ul.contacts li") &&
      [...document.querySelectorAll("h2")].some((h) => h.textContent?.endsWith(`(${b.want.total})`))
    )
      mark("group");
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
}

const browserArgs = ["--no-sandbox", "--lang=en-US"];
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "en-US" };
/** Loads the app that failed to open its storage: the page before it still held the files. */
const busy = [];
/**
 * Navigates to `url` (reloads, if the page is there already) and waits for the mark `name`,
 * returning it. If the app says it could not open its storage instead (a new page's worker
 * asking for the store's files while the previous page's worker still holds them), loads it
 * again, and counts that in `busy`, which the report gives.
 */
async function visit(page, url, name, { timeout = 120_000, waitUntil = "commit" } = {}) {
  for (let attempt = 1; ; attempt++) {
    if (page.url() === url) await page.reload({ waitUntil });
    else await page.goto(url, { waitUntil });
    const seen = await page
      .waitForFunction(
        (n) => {
          const alert = document.querySelector("[role=alert]")?.textContent ?? "";
          if (alert.includes("could not open the app's storage")) return { busy: alert };
          const at = window.__bench?.marks[n];
          return at === undefined ? false : { at };
        },
        name,
        { timeout },
      )
      .then((handle) => handle.jsonValue());
    if (seen.at !== undefined) return seen.at;
    busy.push(seen.busy);
    say(`the app could not open its storage: ${seen.busy}`);
    if (attempt >= 10) throw new Error(seen.busy);
  }
}
const untilServiceWorker = (page) =>
  page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
  });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

const results = {};
const browser = await chromium.launch({ executablePath, args: browserArgs });
{
  // --- 1. first load: bytes over the wire ---
  say("first load");
  {
    proxy.reset(null);
    const context = await browser.newContext(phone);
    await context.addInitScript(probe, null);
    const responses = [];
    context.on("requestfinished", async (request) => {
      const response = await request.response();
      const sizes = await request.sizes();
      const headers = await request.allHeaders();
      responses.push({
        file: new URL(request.url()).pathname.replace(/^\/app\//, "") || "(the page)",
        by: request.serviceWorker() ? "service worker" : response.fromServiceWorker() ? "page (from the service worker)" : "page",
        encoding: (await response.allHeaders())["content-encoding"] ?? "none",
        asked: headers["accept-encoding"] ?? "",
        body: sizes.responseBodySize,
        headers: sizes.responseHeadersSize,
      });
    });
    const page = await context.newPage();
    await visit(page, `${base}/app/`, "home", { waitUntil: "load" });
    const atHome = structuredClone(proxy.bytes);
    await untilServiceWorker(page);
    // Every request has finished once the service worker controls the page; their events are
    // asynchronous, so wait for the count to stop changing.
    for (let n = -1; n !== responses.length; ) {
      n = responses.length;
      await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    }
    results.firstLoad = { responses, atHome, all: structuredClone(proxy.bytes) };
    await context.close();
  }

  // --- 2. time to the first usable screen, throttled ---
  say(`time to the first screen, ${options.runs} runs cold and warm`);
  {
    const cold = [];
    const warm = [];
    const warmBoot = [];
    const coldDown = [];
    const cdpCold = [];
    const throttle = async (context, page, network) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_RATE });
      if (network) {
        await cdp.send("Network.enable");
        await cdp.send("Network.emulateNetworkConditions", {
          offline: false,
          latency: PHONE.rtt,
          downloadThroughput: PHONE.down * 1000,
          uploadThroughput: PHONE.up * 1000,
        });
      }
    };
    for (let run = 0; run < options.runs; run++) {
      const context = await browser.newContext(phone);
      await context.addInitScript(probe, null);
      let page = await context.newPage();
      await throttle(context, page, false);
      proxy.reset(PHONE);
      cold.push(await visit(page, `${base}/app/`, "home"));
      await untilServiceWorker(page);
      coldDown.push(proxy.bytes.http.down);
      await page.close();
      page = await context.newPage();
      await throttle(context, page, false);
      proxy.reset(PHONE);
      warm.push(await visit(page, `${base}/app/`, "home"));
      warmBoot.push(await page.evaluate(() => window.__bench.asks.find((a) => a.op === "boot")?.ms ?? NaN));
      await context.close();
    }
    for (let run = 0; run < options.runs; run++) {
      const context = await browser.newContext(phone);
      await context.addInitScript(probe, null);
      const page = await context.newPage();
      await throttle(context, page, true);
      proxy.reset(null);
      cdpCold.push(await visit(page, `${base}/app/`, "home"));
      await context.close();
    }
    // The worker's boot unthrottled, warm (its CPU: compiling the core, opening the store).
    const boot = [];
    for (let run = 0; run < options.runs; run++) {
      const context = await browser.newContext(phone);
      await context.addInitScript(probe, null);
      let page = await context.newPage();
      proxy.reset(null);
      await visit(page, `${base}/app/`, "home");
      await untilServiceWorker(page);
      await page.close();
      page = await context.newPage();
      await visit(page, `${base}/app/`, "home");
      boot.push(await page.evaluate(() => window.__bench.asks.find((a) => a.op === "boot")?.ms ?? NaN));
      await context.close();
    }
    results.interactive = { cold, warm, warmBoot, coldDown, cdpCold, boot };
  }
}

// --- 3 and 4: logging contacts, and opening with many, in a profile kept on disk ---
const profile = join(scratch, "profile");
const open = async (want, dir = profile) => {
  proxy.reset(null);
  const context = await chromium.launchPersistentContext(dir, { executablePath, args: browserArgs, ...phone });
  await context.addInitScript(probe, want);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
};
const GROUP = "Bench canvass";

/** Logs `n` doors through the form, timing each in the page. */
const logByForm = (page, from, n) =>
  page.evaluate(
    async ({ from, n }) => {
      const b = window.__bench;
      const out = [];
      for (let i = from; i < from + n; i++) {
        const form = document.getElementById("door");
        form.querySelector("input[name=result][value=talked]").checked = true;
        form.querySelector(`input[name=support][value="${(i % 5) + 1}"]`).checked = true;
        form.querySelector("#place").value = `Bench St ${i}`;
        if (i % 10 === 0) {
          form.querySelector("#note").value = "Asked about the next meeting";
          form.querySelector("#consent").checked = true;
          form.querySelector("#name").value = `Test Bench Person ${i}`;
          form.querySelector("#phone").value = "555-0100";
          form.querySelector("#email").value = `bench${i}@example.invalid`;
        }
        const old = document.querySelector(".saved");
        const asked = b.asks.length;
        const main = document.getElementById("main");
        const saved = new Promise((resolve) => {
          const watch = new MutationObserver(() => {
            const now = document.querySelector(".saved");
            if (now && now !== old && now.textContent === "Saved on this phone") {
              watch.disconnect();
              resolve(performance.now());
            }
          });
          watch.observe(main, { subtree: true, childList: true, characterData: true });
        });
        const clicked = performance.now();
        form.querySelector("button[type=submit]").click();
        const done = await saved;
        const asks = b.asks.slice(asked);
        out.push({
          shown: done - clicked,
          save: asks.find((a) => a.op === "logContact")?.ms ?? NaN,
          list: asks.find((a) => a.op === "contacts")?.ms ?? NaN,
        });
      }
      return out;
    },
    { from, n },
  );

/**
 * Logs doors `from` to `to` (their places `street N`) by sending the app's worker the form's
 * own request, one after another, timing each from the request to its answer.
 */
const logDirect = (page, group, from, to, street) =>
  page.evaluate(
    async ({ group, from, to, street }) => {
      const b = window.__bench;
      const out = [];
      for (let i = from; i <= to; i++) {
        const contact = {
          result: i % 4 === 0 ? "not-home" : "talked",
          support: i % 4 === 0 ? undefined : (i % 5) + 1,
          interests: [],
          follow_up: false,
          place: `${street} ${i}`,
          consent: false,
        };
        const at = performance.now();
        await b.ask({ op: "logContact", group, contact });
        out.push(performance.now() - at);
      }
      return out;
    },
    { group, from, to, street },
  );
/** Waits for the group screen to say it holds `n` contacts; says what it shows if it does not. */
const listed = (page, n, timeout = 120_000) =>
  page
    .waitForFunction((n) => [...document.querySelectorAll("h2")].some((h) => h.textContent?.endsWith(`(${n})`)), n, { timeout })
    .catch(async (e) => {
      const shown = await page.evaluate(() => [...document.querySelectorAll("h1, h2, [role=alert], #status")].map((x) => x.textContent).join(" | "));
      throw new Error(`the group screen never said ${n} contacts: ${shown}\n${e}`);
    });
const statusSays = (page, text, timeout = 600_000) =>
  page.waitForFunction((text) => document.getElementById("status")?.textContent?.includes(text), text, { timeout });

{
  say(`logging ${options.contacts} doors through the form`);
  let { context, page } = await open(null);
  await visit(page, `${base}/app/`, "home");
  await page.getByLabel("Group name").fill(GROUP);
  await page.getByLabel("Your name (your group sees it)").fill("Test Bench Lead");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: GROUP }).waitFor();
  const groupUrl = page.url();
  const group = groupUrl.split("/").pop();
  await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("Online"));
  const started = performance.now();
  const form = await logByForm(page, 1, options.contacts);
  results.form = { saves: form, seconds: (performance.now() - started) / 1000 };

  // One device's contacts of one month are one document, which core caps at 1 MiB (about 4,000
  // short contacts): the group's contacts are the lead's own half and a canvasser's half, which
  // reach the lead by sync, as a lead's phone holds them.
  const own = Math.ceil(options.many / 2);
  const theirs = options.many - own;
  const OFFLINE = Math.min(200, own - options.contacts);
  say(`the lead's doors to ${own} through the worker (the last ${OFFLINE} with the link cut)`);
  const filled = performance.now();
  const direct = await logDirect(page, group, options.contacts + 1, own - OFFLINE, "Bench St");
  results.direct = { saves: direct, from: options.contacts, seconds: (performance.now() - filled) / 1000 };
  proxy.cut();
  await page.waitForFunction(() => !document.getElementById("status")?.textContent?.startsWith("Online"));
  results.offline = await logDirect(page, group, own - OFFLINE + 1, own, "Bench St");
  proxy.up();

  say(`a canvasser's ${theirs} doors, from a second profile joined by the lead's invite, the lead's browser closed`);
  const invite = await page.evaluate((group) => window.__bench.ask({ op: "createInvite", group, role: "canvasser", uses: 1, days: 7 }), group);
  // Closed meanwhile: on a 2-core machine the lead's worker taking in each change as it comes
  // (and its page redrawing) would slow the canvasser's saves; a lead's phone is elsewhere.
  await context.close();
  // A browser of its own on a profile on disk, as the lead's (an incognito profile keeps OPFS
  // in memory, behind a slower path).
  const { context: other, page: canvasser } = await open(null, join(scratch, "canvasser"));
  await canvasser.goto(invite.link);
  await canvasser.getByLabel("Your name (your group sees it)").fill("Test Bench Canvasser");
  await canvasser.getByRole("button", { name: "Join" }).click();
  await canvasser.getByRole("heading", { name: GROUP }).waitFor({ timeout: 60_000 });
  await statusSays(canvasser, "Online");
  results.canvasser = await logDirect(canvasser, group, 1, theirs, "Canvasser St");
  await statusSays(canvasser, "Everything is sent");
  await other.close();

  say(`50 doors through the form with ${options.many} stored, then waiting for the relay to have everything`);
  // The lead's browser again: the canvasser's doors arrive.
  ({ context, page } = await open(null));
  await visit(page, groupUrl, "heading");
  await listed(page, options.many);
  results.formAtMany = await logByForm(page, own + 1, 50);
  await statusSays(page, "Everything is sent");
  const stored = options.many + 50;
  await context.close();

  say(`opening the group with ${stored} stored, ${options.runs} times`);
  const reopen = { group: [], firstScreen: [], boot: [], list: [], all: [], pages: [] };
  for (let run = 0; run < options.runs; run++) {
    ({ context, page } = await open({ heading: GROUP, total: stored }));
    reopen.group.push(await visit(page, groupUrl, "group", { timeout: 300_000 }));
    const b = await page.evaluate(() => ({ marks: window.__bench.marks, asks: window.__bench.asks }));
    reopen.firstScreen.push(b.marks.firstScreen);
    reopen.boot.push(b.asks.find((a) => a.op === "boot")?.ms ?? NaN);
    reopen.list.push(b.asks.find((a) => a.op === "contacts")?.ms ?? NaN);
    // Then every contact listed, a page at a time by "Show more", as fast as it answers.
    const paged = await page.evaluate(async (total) => {
      const more = [...document.querySelectorAll("button")].find((x) => x.textContent === "Show more");
      const count = () => document.querySelectorAll("ul.contacts li").length;
      const start = performance.now();
      let pages = 1;
      while (count() < total) {
        const before = count();
        more.click();
        pages += 1;
        await new Promise((resolve) => {
          const watch = new MutationObserver(() => {
            if (count() > before) {
              watch.disconnect();
              resolve();
            }
          });
          watch.observe(document.querySelector("ul.contacts"), { childList: true });
        });
      }
      return { ms: performance.now() - start, pages };
    }, stored);
    reopen.all.push(paged.ms);
    reopen.pages.push(paged.pages);
    await context.close();
  }
  results.reopen = { ...reopen, stored };
}
await browser.close();

relay.kill("SIGTERM");
await relayExited;
proxy.server.close();
// Anything the relay refused would make the figures wrong: say so.
const refused = readFileSync(relayLog, "utf8").split("\n").filter((l) => l.includes("refused"));
if (refused.length > 0) console.error(`app-bench: the relay refused ${refused.length} times, e.g. ${refused[0]}`);
rmSync(scratch, { recursive: true, force: true });

// --- the report ---

const version = execFileSync(executablePath, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
const cpu = cpus()[0]?.model ?? "unknown CPU";
const wasm = readFileSync(join(repo, "web", "dist", "groundwork_web_bg.wasm")).length;

const fl = results.firstLoad;
const revalidated = fl.responses.filter((r) => r.body === 0);
// The core as it came over the wire (the page's worker and the service worker both ask for it;
// one of them downloads it).
const wasmReq = fl.responses.find((r) => r.file.endsWith(".wasm") && r.body > 0);
const it = results.interactive;
const fm = results.form.saves;
const at = results.formAtMany;
const ro = results.reopen;
const own = Math.ceil(options.many / 2);
// The lead's online saves through the worker, by how many contacts of its own it held.
const buckets = [];
for (let k = 0; k < results.direct.saves.length; k += 500) {
  const xs = results.direct.saves.slice(k, k + 500);
  buckets.push({ from: results.direct.from + k, to: results.direct.from + k + xs.length, xs });
}
const saveRow = (what, xs) => `| ${what} | ${xs.length} | ${ms(quantile(xs, 0.5))} | ${ms(quantile(xs, 0.99))} | ${ms(Math.max(...xs))} |`;
const row = (what, xs) => `| ${what} | ${ms(quantile(xs, 0.5))} | ${ms(quantile(xs, 0.99))} | ${ms(Math.max(...xs))} |`;

const lines = [
  "## The web app in the browser (scripts/bench-web)",
  "",
  `Written by \`scripts/bench-web\` (bench/web/app-bench.mjs) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC at commit ${commit}: ${version}, headless, driven by playwright-core, at a phone's size (390x844), against groundwork-relay (release build) on loopback; ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, shared with other work, so figures move between sittings. The core is ${mb(wasm)} of WebAssembly before compression. Each figure is from one sitting; "median of ${options.runs}" means ${options.runs} runs.`,
  "",
  "### First load: bytes over the wire",
  "",
  `A first visit to /app/ in a fresh profile. The browser asked for \`${wasmReq?.asked ?? "?"}\`; the relay answered the core and the scripts ${wasmReq?.encoding ?? "?"}-compressed. Target: 1.5 MB.`,
  "",
  "| file | fetched by | encoding | on the wire (body + headers) |",
  "|---|---|---|---|",
  ...fl.responses
    .sort((a, b) => a.by.localeCompare(b.by) || b.body - a.body)
    .map((r) => `| ${r.file} | ${r.by} | ${r.body === 0 ? "(no body: revalidated)" : r.encoding} | ${kb(r.body + r.headers)} |`),
  "",
  `- A first visit, the service worker's offline copy included, moves **${mb(fl.all.http.down)}** down (${kb(fl.all.http.up)} up; the sync socket ${kb(fl.all.sync.down)} down, ${kb(fl.all.sync.up)} up), counted by the proxy; ${mb(fl.atHome.http.down)} of it by the time the first screen was usable.`,
  `- The page (and its worker) and the service worker each ask for the app's files; whichever asks second is answered from the browser's cache after a revalidation (${revalidated.length} of the ${fl.responses.length} responses here: headers only, no body).`,
  "",
  "### Time to the first usable screen, throttled 4G",
  "",
  `From navigation until "Your groups" is shown and the status line is written (the worker has booted the core and opened its store). The link: ${PROFILE_TEXT}, one link shared by all connections, shaped by the benchmark's proxy (so the service worker's fetches share it too). The page's main thread at ${CPU_RATE}x CPU slowdown (\`Emulation.setCPUThrottlingRate\`); chromium refuses that for workers ("only supported for pages"), so **the worker, where the core runs, was not slowed**. Median of ${options.runs}.`,
  "",
  "| load | median (ms) | fastest | slowest |",
  "|---|---|---|---|",
  `| cold: a fresh profile (no cache, no service worker, no store: the device is created) | ${ms(median(it.cold))} | ${ms(Math.min(...it.cold))} | ${ms(Math.max(...it.cold))} |`,
  `| warm: the second visit, served by the service worker, the store opened | ${ms(median(it.warm))} | ${ms(Math.min(...it.warm))} | ${ms(Math.max(...it.warm))} |`,
  `| cold, with chromium's network emulation instead (same profile; the service worker's fetches not throttled) | ${ms(median(it.cdpCold))} | ${ms(Math.min(...it.cdpCold))} | ${ms(Math.max(...it.cdpCold))} |`,
  "",
  `- Bytes down on the cold visits, median: ${mb(median(it.coldDown))}. The worker's boot (its request to its answer) on the warm visits: median ${ms(median(it.warmBoot))} ms; unthrottled, warm: ${ms(median(it.boot))} ms. That is nearly all CPU in the worker; a phone ${CPU_RATE}x slower there would add about ${ms((CPU_RATE - 1) * median(it.boot))} ms (an estimate: ${CPU_RATE - 1}x the unthrottled boot).`,
  "",
  "### Logging a contact",
  "",
  `Through the form in a group this browser created, online (the relay up), unthrottled: the time from the Save button's click to "Saved on this phone" in the page (the save is durable in the store, the group screen redrawn from it), and within it the worker's answer to \`logContact\` (the page's request to its answer: the save, durable in the store) and the redraw's \`contacts\` request (the newest page and the count, read back). Target: p99 20 ms.`,
  "",
  "| | p50 (ms) | p99 (ms) | max (ms) |",
  "|---|---|---|---|",
  row(`${fm.length} saves into an empty group: click to "Saved"`, fm.map((s) => s.shown)),
  row("... the worker's save", fm.map((s) => s.save)),
  row("... the list read back for the redraw", fm.map((s) => s.list)),
  row(`${at.length} saves with ${options.many} in the group (${own} of them this phone's own): click to "Saved"`, at.map((s) => s.shown)),
  row("... the worker's save", at.map((s) => s.save)),
  row("... the list read back for the redraw", at.map((s) => s.list)),
  "",
  `The worker's save alone (the same request sent to the worker, no form, no redraw), as this phone's own contacts grow; online unless said:`,
  "",
  "| this phone's own contacts | saves | p50 (ms) | p99 (ms) | max (ms) |",
  "|---|---|---|---|---|",
  ...buckets.map(({ from, to, xs }) => saveRow(`${from + 1}-${to}`, xs)),
  saveRow(`${own - results.offline.length + 1}-${own}, the relay unreachable (nothing handed to a socket)`, results.offline),
  saveRow(`1-${results.canvasser.length}: a canvasser's phone (a second browser; the lead's closed)`, results.canvasser),
  "",
  `The worker answers a save once the store has it; the sync step (\`pushLocal\`) and the recount of unsent contacts for the status line run just after, once for a burst of saves, so a save sent right behind another may wait for them.`,
  "",
  `The ${fm.length} saves through the form took ${results.form.seconds.toFixed(1)} s in all; the ${results.direct.saves.length} straight to the worker, ${results.direct.seconds.toFixed(1)} s.`,
  "",
  `### Opening with ${ro.stored} contacts stored`,
  "",
  `The browser closed and started again on its profile (the app from the service worker, the store from OPFS), timed from navigation; median of ${options.runs}, unthrottled.`,
  "",
  "| | median (ms) | fastest | slowest |",
  "|---|---|---|---|",
  `| the first screen drawn ("Opening your data…") | ${ms(median(ro.firstScreen))} | ${ms(Math.min(...ro.firstScreen))} | ${ms(Math.max(...ro.firstScreen))} |`,
  `| the group screen: its newest contacts listed, "(${ro.stored})" shown | ${ms(median(ro.group))} | ${ms(Math.min(...ro.group))} | ${ms(Math.max(...ro.group))} |`,
  `| ... within it, the worker's boot (core compiled, store opened) | ${ms(median(ro.boot))} | ${ms(Math.min(...ro.boot))} | ${ms(Math.max(...ro.boot))} |`,
  `| ... within it, the \`contacts\` request (the first page and the count) | ${ms(median(ro.list))} | ${ms(Math.min(...ro.list))} | ${ms(Math.max(...ro.list))} |`,
  `| then all ${ro.stored} listed, "Show more" pressed as soon as each page is drawn (${median(ro.pages)} pages) | ${ms(median(ro.all))} | ${ms(Math.min(...ro.all))} | ${ms(Math.max(...ro.all))} |`,
  "",
];
if (busy.length > 0)
  lines.push(
    `**${busy.length} loads of the app had to be repeated**: the new page's worker could not open the store while the previous page's worker still held its files ("${busy[0]}"). Only the loads that opened it are timed.`,
    "",
  );
const report = lines.join("\n");
if (options.out) writeFileSync(options.out, report);
console.log(report);
