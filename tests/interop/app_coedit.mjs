// Co-editing a meeting in the web app beside a member on the CLI: Debian's chromium at a phone's
// size, driven by playwright-core, against a real relay serving the app at /app/.
//
//   node app_coedit.mjs BASE INVITE_LINK MEETING_TITLE OUT_DIR   (CHROMIUM=/usr/bin/chromium)
//
// The browser joins with a lead's member invite and opens the meeting. Then it loses its signal
// (the browser offline, and the relay stopped by the Rust test on `STOP`) and adds an agenda
// item and a paragraph of notes, while the member on the CLI (`CLI_EDIT`, done by the Rust test)
// adds its own to the same meeting, also without syncing. Back online (`START`: the relay is
// started again and the CLI member syncs first), the app must show the CLI's edits beside its
// own by itself. After `CLI_SYNC` (the CLI member syncs again, now receiving the browser's
// edits) it prints one JSON line with the agenda and notes exactly as the page shows them, for
// the Rust test to compare with the CLI's, character for character.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
/** Asks the Rust test to do something, and waits until it is done. */
const ask = async (what) => {
  process.stdout.write(`${what}\n`);
  const { value, done } = await answers.next();
  if (done || value !== "OK") throw new Error(`the test did not ${what}: ${value}`);
};

const [base, link, title, out] = process.argv.slice(2);
if (!base || !link || !title || !out) {
  console.error("usage: node app_coedit.mjs BASE INVITE_LINK MEETING_TITLE OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
setTimeout(() => {
  console.error("app_coedit.mjs: still running after 3 minutes");
  process.exit(1);
}, 3 * 60 * 1000).unref();

const step = (what) => console.error(`app_coedit.mjs: ${what}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // CI runs as root, where chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
/** The page last opened, for a failure's message. */
let shown = null;
const seen = { errors: [] };
// What the browser adds, offline: accents and a symbol outside the BMP, so that a merge that
// counted bytes, UTF-16 units or code points differently would show.
const browserItem = "Clipboards and maps (browser)";
const browserNotes = "Desde el teléfono: la reunión con el sheriff será el jueves 🗓️.";
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
  });
  const page = await context.newPage();
  shown = page;
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") seen.errors.push(m.text());
  });
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  const sent = () => page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"), null, { timeout: 60_000 });

  step("joining as a member");
  await page.goto(link);
  await page.getByLabel("Your name (your group sees it)").fill("Test Member");
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("link", { name: title }).click({ timeout: 60_000 });
  await page.getByRole("heading", { name: title }).waitFor();
  await page.locator("ol.agenda li").first().waitFor();
  await sent();
  seen.before = await page.locator("main").innerText();
  await shot("meeting-en");

  step("editing offline");
  await context.setOffline(true);
  await ask("STOP");
  await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("Online"));
  await page.getByLabel("Add to the agenda").fill(browserItem);
  await page.getByRole("button", { name: "Add" }).first().click();
  await page.locator("ol.agenda li", { hasText: browserItem }).waitFor();
  await page.getByLabel("Add to the notes").fill(browserNotes);
  await page.getByRole("button", { name: "Add" }).nth(1).click();
  await page.locator(".notes", { hasText: "Desde el teléfono" }).waitFor();
  await page.locator(".saved", { hasText: "Saved on this phone" }).waitFor();
  await ask("CLI_EDIT");

  step("back online");
  await ask("START");
  await context.setOffline(false);
  // The CLI's edits arrive by themselves, and the browser's go out.
  await page.locator("ol.agenda li", { hasText: "(CLI)" }).waitFor({ timeout: 60_000 });
  await page.locator(".notes", { hasText: "From the CLI" }).waitFor();
  await sent();
  await ask("CLI_SYNC");
  seen.agenda = await page.locator("ol.agenda li").allTextContents();
  seen.notes = await page.locator(".notes").textContent();
  seen.browser_item = browserItem;
  seen.browser_notes = browserNotes;
  await shot("meeting-merged-en");
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Orden del día" }).waitFor();
  await shot("meeting-merged-es");
  await context.close();
} catch (e) {
  // Where the app was when it failed: its screen and status line, for the test's message.
  const text = await shown?.locator("body").innerText().catch(() => "(unreadable)");
  console.error(`${shown?.url()}\n${text}`);
  throw e;
} finally {
  await browser.close();
  lines.close();
  process.stdin.destroy();
}
console.log(JSON.stringify(seen));
