// A lead's screens in the web app, beside a member on the CLI: Debian's chromium at a phone's
// size, driven by playwright-core, against a real relay serving the app at /app/.
//
//   node app_lead.mjs BASE OUT_DIR   (CHROMIUM=/usr/bin/chromium)
//
// The browser starts a group (so it is its lead) and makes a member invite: a QR code and a
// link. It prints `JOIN LINK`; the Rust test has a CLI device join with that link, add the
// sheriff, record an answer, add an action item and log a door, and sync. The app must show all
// of it by itself: the scorecard with the answer and the rules explained, the action item, the
// contact. Then the lead records an answer and ticks the action off in the browser, downloads
// the contacts as CSV (made on the phone), and after `CLI_SYNC` (the CLI member syncs) removes
// the CLI member. Screenshots of every screen, English and Spanish, go to OUT_DIR; one JSON line
// of what it saw goes to stdout.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
/** Asks the Rust test to do something, and waits until it is done; returns what it answers. */
const ask = async (what) => {
  process.stdout.write(`${what}\n`);
  const { value, done } = await answers.next();
  if (done || !(value === "OK" || value.startsWith("OK "))) throw new Error(`the test did not ${what}: ${value}`);
  return value.slice(3);
};

const [base, out] = process.argv.slice(2);
if (!base || !out) {
  console.error("usage: node app_lead.mjs BASE OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
setTimeout(() => {
  console.error("app_lead.mjs: still running after 4 minutes");
  process.exit(1);
}, 4 * 60 * 1000).unref();

const step = (what) => console.error(`app_lead.mjs: ${what}`);
// axe-core, the accessibility checker (npm, pinned): run in the page through the driver, which
// the page's policy does not govern (the app's own policy stays as served).
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // CI runs as root, where chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
/** The page last opened, for a failure's message. */
let shown = null;
const seen = { errors: [], a11y: {} };
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
    timezoneId: "America/Chicago",
    acceptDownloads: true,
  });
  const page = await context.newPage();
  shown = page;
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") seen.errors.push(m.text());
  });
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  /** WCAG 2 A and AA rules (labels, contrast, landmarks, names) on the screen as it is. */
  const audit = async (name) => {
    await page.evaluate(axeSource);
    seen.a11y[name] = await page.evaluate(async () => {
      const result = await globalThis.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    });
  };
  const sent = () => page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Everything is sent"), null, { timeout: 60_000 });
  const tab = async (name, heading) => {
    await page.getByRole("link", { name }).click();
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
  };
  const back = async () => {
    await page.getByRole("link", { name: /^(Back|Volver)$/ }).click();
    await page.getByRole("heading", { name: "Elm Street group" }).waitFor();
  };

  step("starting a group");
  await page.goto(`${base}/app/`);
  await page.getByRole("heading", { name: "Your groups" }).waitFor();
  await shot("home-en");
  await audit("home-en");
  await page.getByLabel("Group name").fill("Elm Street group");
  await page.getByLabel("Your name (your group sees it)").fill("Elm Lead");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Elm Street group" }).waitFor();
  await sent();

  step("a meeting");
  await page.getByText("New meeting").click();
  await page.getByLabel("What it is").fill("Neighbours' meeting");
  await page.getByLabel("When (the group's time zone)").fill("2026-12-20T18:00");
  await page.getByLabel("Where (optional)").fill("Elm Street library");
  await page.getByRole("checkbox", { name: "Show it to the group's canvassers" }).check();
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Neighbours' meeting" }).waitFor();
  seen.meeting = await page.locator("main").innerText();
  await audit("meeting-en");
  await back();
  await shot("group-lead-meeting-en");

  step("inviting a member");
  await tab("Invite people", "Invite people");
  await page.getByRole("radio", { name: /^member/ }).check();
  await page.getByLabel("How many people can use it").fill("1");
  await page.getByRole("button", { name: "Make the invite" }).click();
  await page.getByRole("img", { name: "QR code of the invite link" }).waitFor();
  const link = await page.getByRole("textbox", { name: "The invite link" }).inputValue();
  seen.invite_text = await page.locator("main").innerText();
  seen.qr_modules = await page.locator("svg.qr path").evaluate((p) => (p.getAttribute("d") ?? "").split("M").length - 1);
  await shot("invite-en");
  await audit("invite-en");
  await ask(`JOIN ${link}`);

  step("the member's work arrives");
  await back();
  await page.locator("ul.contacts li", { hasText: /Elm St 12$/ }).waitFor({ timeout: 60_000 });
  seen.contacts_first = await page.locator("ul.contacts li").count();
  seen.contacts_heading = await page.getByRole("heading", { name: /The group's contacts/ }).innerText();
  await page.getByRole("button", { name: "Show more" }).click();
  await page.locator("ul.contacts li").nth(60).waitFor();
  seen.contacts_all = await page.locator("ul.contacts li").count();
  await shot("group-lead-en");
  await audit("group-lead-en");
  await tab("Scorecard", "Scorecard: the model rules");
  await page.locator('li[data-rule="R1"]', { hasText: "Will support" }).waitFor({ timeout: 60_000 });
  await page.getByLabel("Rule", { exact: true }).selectOption("R2");
  await page.getByLabel("What they said").selectOption("opposes");
  await page.getByLabel("Is it policy already?").selectOption("none");
  await page.getByLabel("Conditions they named (optional)").fill("Only with a budget vote");
  await page.getByRole("button", { name: "Record" }).click();
  await page.locator('li[data-rule="R2"]', { hasText: "Opposes" }).waitFor();
  seen.scorecard = await page.locator("section.official").innerText();
  await shot("scorecard-en");
  await audit("scorecard-en");
  await back();

  await tab("County board", "County board");
  await page.locator("section.board", { hasText: "Will support, recorded by Elm Street group" }).waitFor({ timeout: 60_000 });
  seen.board = await page.locator("main").innerText();
  await shot("board-en");
  await audit("board-en");
  await back();

  await tab("Action items", "Action items");
  await page.getByRole("checkbox", { name: "Print flyers (CLI)" }).check();
  await page.locator("ul.actions s", { hasText: "Print flyers (CLI)" }).waitFor();
  await page.getByLabel("What needs doing").fill("Call the sheriff's office");
  await page.getByLabel("Who does it (optional)").fill("Elm lead");
  await page.getByRole("button", { name: "Add" }).click();
  await page.locator("ul.actions li", { hasText: "Call the sheriff's office" }).waitFor();
  seen.actions = await page.locator("ul.actions").innerText();
  await shot("actions-en");
  await audit("actions-en");
  await back();

  step("contacts as CSV");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download as a spreadsheet (CSV)" }).click()]);
  seen.csv_name = download.suggestedFilename();
  seen.csv = readFileSync(await download.path(), "utf8");
  await sent();
  await ask("CLI_SYNC");

  step("in a second group, then removed from it");
  const second = await ask("INVITE_ME");
  await page.goto(second);
  await page.getByRole("heading", { name: "Join your group" }).waitFor();
  await audit("join-en");
  await page.getByLabel("Your name (your group sees it)").fill("Elm Lead in Cora's group");
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("heading", { name: "Cora's group" }).waitFor({ timeout: 60_000 });
  await ask("REMOVE_ME");
  await page.getByRole("heading", { name: "Removed from the group" }).waitFor({ timeout: 60_000 });
  seen.partly_removed = await page.locator("main").innerText();
  await shot("removed-one-group-en");
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Quitado del grupo" }).waitFor();
  await shot("removed-one-group-es");
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("link", { name: "Back" }).click();
  await page.getByRole("heading", { name: "Your groups" }).waitFor();
  seen.groups_left = await page.locator("ul.groups").innerText();
  await page.getByRole("link", { name: "Elm Street group" }).click();
  await page.getByRole("heading", { name: "Elm Street group" }).waitFor();

  step("removing the member");
  await tab("Members", "Members");
  seen.members = await page.locator("ul.members").first().innerText();
  seen.members_screen = await page.locator("main").innerText();
  await page.getByRole("button", { name: "Remove" }).click();
  await shot("members-remove-en");
  await audit("members-remove-en");
  await page.getByRole("button", { name: "Yes, remove Cora" }).click();
  await page.locator(".saved", { hasText: "Cora was removed." }).waitFor({ timeout: 60_000 });
  seen.members_after = await page.locator("main").innerText();
  await shot("members-en");

  step("in Spanish");
  await page.getByRole("button", { name: "Español" }).click();
  await page.getByRole("heading", { name: "Miembros" }).waitFor();
  await shot("members-es");
  await back();
  await shot("group-lead-es");
  await tab("Resultados", "Resultados: las reglas modelo");
  await page.getByText("Orden judicial").first().waitFor();
  seen.scorecard_es = await page.locator("section.official").innerText();
  await shot("scorecard-es");
  await back();
  await tab("Tablero del condado", "Tablero del condado");
  await shot("board-es");
  await back();
  await tab("Tareas", "Tareas");
  await shot("actions-es");
  await back();
  await tab("Invitar", "Invitar");
  await page.getByRole("button", { name: "Crear la invitación" }).click();
  await page.getByRole("img", { name: "Código QR del enlace de invitación" }).waitFor();
  await shot("invite-es");
  await context.close();

  step("on plain http");
  // A name that is not loopback, so not a secure context: the app must say why it cannot run.
  const { port } = new URL(base);
  const plain = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--host-resolver-rules=MAP groundwork.test 127.0.0.1"],
  });
  try {
    const p = await plain.newPage({ viewport: { width: 390, height: 844 } });
    await p.goto(`http://groundwork.test:${port}/app/`);
    await p.getByRole("alert").waitFor();
    seen.plain_http = await p.locator("main").innerText();
    await p.screenshot({ path: join(out, "plain-http-en.png") });
  } finally {
    await plain.close();
  }
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
