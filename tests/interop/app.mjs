// The web app in a real browser: Debian's chromium, driven by playwright-core (which never
// downloads a browser), at a phone's size, against a real relay serving the app at /app/.
//
//   node app.mjs BASE INVITE_LINK OUT_DIR   (CHROMIUM=/usr/bin/chromium)
//
// No signal is two things at once here: the browser offline (`context.setOffline`) and the
// relay gone (the Rust test stops it when this prints `STOP` and starts it again, at the same
// address, on `START`; it answers each with a line on stdin). The browser's offline emulation
// alone leaves an open WebSocket open, which a real loss of signal does not.
//
// Opens a lead's canvasser invite link (`BASE/join#CODE`) on a phone-sized page: the app checks
// it, asks the canvasser's name and joins, then shows the brief (the group, its leads, the
// meetings shown to canvassers, in the meeting's own time zone). Waits for the offline copy
// (the service worker), then goes offline and logs 20 doors, one with the person's consented
// details. Closes the page and opens a new one, still offline: the app must load from its
// offline copy and list all 20 from the store in OPFS, saying they are not sent. Back online,
// it must send them by itself and say everything is sent. Then the lead removes this phone
// (`REMOVE`, done by the Rust test): the app must erase the store and its key. Saves a screenshot of each screen in
// OUT_DIR (English and Spanish) and prints one JSON line of what it saw for the Rust test.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
/** Asks the Rust test to do something to the relay, and waits until it is done. */
const relay = async (what) => {
  process.stdout.write(`${what}\n`);
  const { value, done } = await answers.next();
  if (done || value !== "OK") throw new Error(`the test did not ${what} the relay: ${value}`);
};

const [base, link, out] = process.argv.slice(2);
if (!base || !link || !out) {
  console.error("usage: node app.mjs BASE INVITE_LINK OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
setTimeout(() => {
  console.error("app.mjs: still running after 5 minutes");
  process.exit(1);
}, 5 * 60 * 1000).unref();

const origin = new URL(base).origin;
// Where it got to, for a failure's message.
const step = (what) => console.error(`app.mjs: ${what}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // CI runs as root, where chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
/** The page last opened, for a failure's message. */
let shown = null;
const seen = { foreign: [], errors: [] };
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
  });
  context.on("request", (r) => {
    const url = new URL(r.url());
    if (url.origin !== origin && url.protocol !== "data:" && url.protocol !== "blob:") seen.foreign.push(r.url());
  });
  // The core arrives compressed (brotli: browsers ask for it on secure origins, loopback too).
  context.on("response", (r) => {
    if (r.url().endsWith(".wasm") && !("wasm_encoding" in seen)) seen.wasm_encoding = r.headers()["content-encoding"] ?? null;
  });
  const watch = (page) => {
    page.on("pageerror", (e) => seen.errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") seen.errors.push(m.text());
    });
  };
  const shot = (page, name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  const status = (page) => page.locator("#status").innerText();

  // Online: the app opens, makes this browser's device, and a group.
  step("opening the invite link");
  let page = await context.newPage();
  shown = page;
  watch(page);
  const first = await page.goto(link);
  seen.policy = first.headers()["content-security-policy"];
  seen.landed = page.url();
  await page.getByRole("heading", { name: "Join your group" }).waitFor();
  seen.invite_text = await page.locator("main").innerText();
  await shot(page, "join-en");
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Únete a tu grupo" }).waitFor();
  await shot(page, "join-es");
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("heading", { name: "Join your group" }).waitFor();
  step("joining");
  await page.getByLabel("Your name (your group sees it)").fill("Test Canvasser");
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("heading", { name: "Maple Street canvass" }).waitFor({ timeout: 60_000 });
  await page.getByText("Canvass kickoff").waitFor();
  seen.group = page.url().split("/").pop();
  seen.brief = await page.locator("main").innerText();
  await shot(page, "brief-en");
  const groupUrl = page.url();
  await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"));
  step("waiting for the offline copy");
  // The offline copy is in place once the service worker controls a page.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await page.getByRole("heading", { name: "Maple Street canvass" }).waitFor();

  step("logging 20 doors offline");
  // Offline: 20 doors, one with consented details.
  await context.setOffline(true);
  await relay("STOP");
  await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("Online"));
  for (let i = 1; i <= 20; i++) {
    await page.getByRole("radio", { name: i % 4 === 0 ? "Not home" : "Talked" }).check();
    if (i % 4 !== 0) await page.getByRole("group", { name: /Support/ }).getByRole("radio", { name: String((i % 5) + 1) }).check();
    await page.getByLabel("Street or turf", { exact: true }).fill(`Maple St ${100 + i}`);
    if (i === 7) {
      await page.getByRole("checkbox", { name: "Come to a meeting" }).check();
      await page.getByRole("checkbox", { name: "Follow up" }).check();
      await page.getByLabel("Note", { exact: true }).fill("Asked about the next meeting");
      await page.getByRole("checkbox", { name: "They agreed to give their details" }).check();
      await page.getByLabel("Name", { exact: true }).fill("Test Neighbour Seven");
      await page.getByLabel("Phone", { exact: true }).fill("555-0107");
      await page.getByLabel("Email", { exact: true }).fill("seven@example.invalid");
      await shot(page, "log-door-consent-en");
    }
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".saved", { hasText: "Saved on this phone" }).waitFor();
    await page.locator("ul.contacts li").nth(i - 1).waitFor();
  }
  await shot(page, "group-offline-en");
  await page.close();

  step("reopening offline");
  // A new page, still offline: from the offline copy and the store.
  page = await context.newPage();
  shown = page;
  watch(page);
  await page.goto(groupUrl);
  await page.getByRole("heading", { name: "Maple Street canvass" }).waitFor();
  await page.locator("ul.contacts li").nth(19).waitFor();
  await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("contacts not sent yet"));
  seen.offline_reopened = {
    contacts: await page.locator("ul.contacts li").count(),
    texts: await page.locator("ul.contacts li").allInnerTexts(),
    status: await status(page),
  };
  await shot(page, "reopened-offline-en");

  step("back online");
  // Online again: sent by itself.
  await relay("START");
  await context.setOffline(false);
  await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"), null, {
    timeout: 60_000,
  });
  seen.online_status = await status(page);

  step("in Spanish");
  // Spanish.
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Maple Street canvass" }).waitFor();
  await page.getByText("Registrar una puerta").waitFor();
  seen.spanish_status = await status(page);
  await shot(page, "group-es");
  await page.getByRole("link", { name: "Volver" }).click();
  await page.getByRole("heading", { name: "Tus grupos" }).waitFor();
  await shot(page, "home-es");
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("heading", { name: "Your groups" }).waitFor();

  step("removed by the lead");
  // The lead removes this phone; on its next exchange the app erases everything.
  await relay("REMOVE");
  await page.getByRole("heading", { name: "Removed from the group" }).waitFor({ timeout: 60_000 });
  seen.removed_text = await page.locator("main").innerText();
  await shot(page, "removed-en");
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Quitado del grupo" }).waitFor();
  await shot(page, "removed-es");
  seen.after_removal = await page.evaluate(async () => {
    const keys = (await indexedDB.databases()).map((d) => d.name);
    // Every file of the app's storage, and the bytes each holds past the pool's 4 KiB header.
    const root = await navigator.storage.getDirectory();
    const files = [];
    const walk = async (dir, path) => {
      for await (const [name, handle] of dir.entries()) {
        if (handle.kind === "directory") await walk(handle, `${path}${name}/`);
        else files.push({ name: `${path}${name}`, size: (await handle.getFile()).size });
      }
    };
    await walk(root, "");
    return { keys, files };
  });
  await context.close();
} catch (e) {
  // Where the app was when it failed: its screen and status line, for the test's message.
  const text = await shown?.locator("body").innerText().catch(() => "(unreadable)");
  console.error(`${shown?.url()}\n${text}`);
  throw e;
} finally {
  await browser.close();
  // Stop listening to the test, so that node can end.
  lines.close();
  process.stdin.destroy();
}
console.log(JSON.stringify(seen));
