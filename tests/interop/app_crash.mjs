// The web app's store under a real crash, and what its files in OPFS show: Debian's chromium,
// started here as a child process (its own process group) and driven over the DevTools
// protocol by playwright-core, so that the whole browser can be SIGKILLed, not closed.
//
//   node app_crash.mjs BASE INVITE_LINK PROFILE_DIR   (CHROMIUM=/usr/bin/chromium)
//
// The relay is stopped and started by the Rust test: this prints `STOP` or `START` and waits
// for `OK` on stdin.
//
// A canvasser joins through a lead's invite link (the relay up: joining needs it once), then,
// with the relay stopped, logs two doors with consented details, every field a planted marker
// (`MARKER-<FIELD>-<n>-7f3a`). Between the two, with the app's worker holding its synchronous
// access handles, the page tries to read the OPFS files (for the record). The moment the app
// says the second door is "Saved on this phone", the browser's whole process group is SIGKILLed.
// The relay is started again and a second chromium opens the same profile: first a page of
// the relay that is not the app (`/healthz`, so no worker holds the files), which reads every
// OPFS file's raw bytes and looks for the markers (UTF-8 and UTF-16), and for the pool's
// plain-text file names (so that the scan is seen to work); then the group screen, which must
// list both doors, markers and all, decrypted from the store, and send them to the relay.
// Prints one JSON line of what it saw for the Rust test.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
/** Asks the Rust test to do something to the relay, and waits until it is done. */
const relay = async (what) => {
  process.stdout.write(`${what}\n`);
  const { value, done } = await answers.next();
  if (done || value !== "OK") throw new Error(`the test did not ${what} the relay: ${value}`);
};

const [base, link, profile] = process.argv.slice(2);
if (!base || !link || !profile) {
  console.error("usage: node app_crash.mjs BASE INVITE_LINK PROFILE_DIR");
  process.exit(2);
}
setTimeout(() => {
  console.error("app_crash.mjs: still running after 3 minutes");
  process.exit(1);
}, 3 * 60 * 1000).unref();
const step = (what) => console.error(`app_crash.mjs: ${what}`);

/** The planted markers of door `n`, one per field the canvasser types. */
const markers = (n) => ({
  name: `MARKER-NAME-${n}-7f3a`,
  phone: `MARKER-PHONE-${n}-7f3a`,
  email: `MARKER-EMAIL-${n}-7f3a@example.invalid`,
  note: `MARKER-NOTE-${n}-7f3a`,
  place: `MARKER-PLACE-${n}-7f3a`,
});
const planted = [1, 2].flatMap((n) => Object.values(markers(n)));

/** Chromium on `profile`, in a process group of its own, and playwright attached to it. */
async function launch() {
  const child = spawn(
    process.env.CHROMIUM || "/usr/bin/chromium",
    [
      "--headless=new",
      // CI runs as root, where chromium's sandbox cannot start.
      "--no-sandbox",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "--window-size=390,844",
      "--lang=en-US",
      "--no-first-run",
      "--no-default-browser-check",
      "about:blank",
    ],
    { detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let log = "";
  const endpoint = await new Promise((resolve, reject) => {
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      // Kept draining (a full pipe would stall chromium); the tail kept for a failure.
      log = (log + chunk).slice(-4000);
      const found = log.match(/DevTools listening on (ws:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    child.once("exit", () => reject(new Error(`chromium ended before listening:\n${log}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("console", (m) => {
    // The relay's /healthz has no icon, which chromium asks for: not the app's doing.
    if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico")) seen.errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) seen.failed.push(`${r.status()} ${r.url()}`);
  });
  return { child, exited, browser, page };
}

/**
 * Browser processes still running on `profile`, once the kernel has had the
 * time to take them all down (a SIGKILLed group's members may outlive its leader's exit by a
 * moment): none, after a kill of the whole browser.
 */
async function survivors() {
  const running = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`--user-data-dir=${profile}`);
        } catch {
          return false; // Gone meanwhile.
        }
      })
      .map(Number);
  for (const until = Date.now() + 5000; Date.now() < until; ) {
    if (running().length === 0) return [];
    await new Promise((r) => setTimeout(r, 20));
  }
  return running();
}

/**
 * Every OPFS file of this origin, read whole as raw bytes in the page, searched for `needles`
 * as UTF-8 and as UTF-16 (little-endian); also whether `control` (plain text the pool writes
 * in each file's header) is found, so that a clean result is seen to come from a working scan.
 */
const scanOpfs = (page) =>
  page.evaluate(
    async ({ needles, control }) => {
      const utf8 = (s) => new TextEncoder().encode(s);
      const utf16 = (s) => {
        const out = new Uint8Array(s.length * 2);
        for (let i = 0; i < s.length; i++) {
          out[2 * i] = s.charCodeAt(i) & 0xff;
          out[2 * i + 1] = s.charCodeAt(i) >> 8;
        }
        return out;
      };
      const has = (bytes, needle) => {
        const first = needle[0];
        outer: for (let i = bytes.indexOf(first); i !== -1 && i <= bytes.length - needle.length; i = bytes.indexOf(first, i + 1)) {
          for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
          return true;
        }
        return false;
      };
      const files = [];
      const found = [];
      let controlSeen = false;
      try {
        const walk = async (dir, path) => {
          for await (const [name, handle] of dir.entries()) {
            if (handle.kind === "directory") {
              await walk(handle, `${path}${name}/`);
              continue;
            }
            const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
            files.push({ name: `${path}${name}`, size: bytes.length });
            if (has(bytes, utf8(control))) controlSeen = true;
            for (const needle of needles) {
              if (has(bytes, utf8(needle))) found.push({ file: `${path}${name}`, needle, as: "utf-8" });
              if (has(bytes, utf16(needle))) found.push({ file: `${path}${name}`, needle, as: "utf-16le" });
            }
          }
        };
        await walk(await navigator.storage.getDirectory(), "");
      } catch (e) {
        return { ok: false, error: String(e), files, found, controlSeen };
      }
      return { ok: true, files, total: files.reduce((n, f) => n + f.size, 0), found, controlSeen };
    },
    // Every marker, and the prefix all share, in any field.
    { needles: [...planted, "MARKER-"], control: "/groundwork/" },
  );

/** Logs a talked-to door with consented details, every field door `n`'s marker. */
async function logDoor(page, n) {
  const m = markers(n);
  await page.getByRole("radio", { name: "Talked" }).check();
  await page.getByLabel("Street or turf", { exact: true }).fill(m.place);
  await page.getByLabel("Note", { exact: true }).fill(m.note);
  await page.getByRole("checkbox", { name: "They agreed to give their details" }).check();
  await page.getByLabel("Name", { exact: true }).fill(m.name);
  await page.getByLabel("Phone", { exact: true }).fill(m.phone);
  await page.getByLabel("Email", { exact: true }).fill(m.email);
  await page.getByRole("button", { name: "Save" }).click();
  // Saved, and this door's (the note says so after the new list is drawn from the store).
  await page.waitForFunction(
    (place) =>
      document.querySelector(".saved")?.textContent?.includes("Saved on this phone") &&
      [...document.querySelectorAll("ul.contacts li")].some((li) => li.textContent?.includes(place)),
    m.place,
    { polling: "raf" },
  );
}

const seen = { errors: [], failed: [], markers: planted };
let running = null;
try {
  step("joining");
  running = await launch();
  let { page } = running;
  await page.goto(link);
  await page.getByLabel("Your name (your group sees it)").fill("Test Canvasser");
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("heading", { name: "Crash Street canvass" }).waitFor({ timeout: 60_000 });
  const groupUrl = page.url();
  seen.group = groupUrl.split("/").pop();
  await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"));

  step("logging two doors with the relay down");
  await relay("STOP");
  await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("Online"));
  await logDoor(page, 1);
  // For the record: can a page read the files while the worker holds its access handles?
  seen.read_while_open = await scanOpfs(page);
  await logDoor(page, 2);
  const saved = performance.now();
  process.kill(-running.child.pid, "SIGKILL");
  const killed = performance.now();
  const exit = await running.exited;
  seen.crash = {
    signal: exit.signal,
    ms_from_saved_to_kill: Math.round((killed - saved) * 10) / 10,
    survivors: await survivors(),
  };
  await running.browser.close().catch(() => {});
  running = null;

  step("reopening the profile");
  await relay("START");
  running = await launch();
  page = running.page;
  // A page of the relay that is not the app: nothing holds the pool's files.
  await page.goto(`${base}/healthz`);
  seen.raw = await scanOpfs(page);

  step("the group screen");
  await page.goto(groupUrl);
  await page.getByRole("heading", { name: "Crash Street canvass" }).waitFor();
  await page.locator("ul.contacts li").nth(1).waitFor();
  seen.reopened = {
    contacts: await page.locator("ul.contacts li").count(),
    texts: await page.locator("ul.contacts li").allInnerTexts(),
  };
  await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"), null, {
    timeout: 60_000,
  });
  seen.status = await page.locator("#status").innerText();
} finally {
  if (running) {
    await running.browser.close().catch(() => {});
    try {
      process.kill(-running.child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await running.exited;
  }
  lines.close();
  process.stdin.destroy();
}
console.log(JSON.stringify(seen));
