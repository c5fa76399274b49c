// The dashboard in a real browser: Debian's chromium, driven by playwright-core (which never
// downloads a browser), against a relay the Rust test seeded through real devices.
//
//   node dashboard.mjs BASE LINK OUT_DIR   (CHROMIUM=/usr/bin/chromium)
//
// First, as an attacker would, posts the sign-in form with that link's code from pages on
// other origins (a second listener here: 127.0.0.1 on another port is the same site, another
// origin; localhost is another site), by a form and by a no-cors fetch, and signs out the
// same way once signed in: the relay must refuse each (403) and no session may start or end.
// Then signs in through the link, reads the overview, the matrix and the map, follows a
// county to an official's page, downloads the CSV, opens /map signed out, and fails if any
// relay page requests anything not on the relay's own address. Saves a full-page PNG of each
// page in OUT_DIR and prints one JSON line of what it saw for the Rust test to check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const [base, link, out] = process.argv.slice(2);
if (!base || !link || !out) {
  console.error("usage: node dashboard.mjs BASE LINK OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
// A hang (a browser that never closes) fails the test instead of stalling it.
setTimeout(() => {
  console.error("dashboard.mjs: still running after 5 minutes");
  process.exit(1);
}, 5 * 60 * 1000).unref();
const origin = new URL(base).origin;
const code = new URL(link).searchParams.get("code") || "";
const foreign = [];
const seen = {};
const fail = (what) => {
  throw new Error(what);
};
const expect = async (page, text, where) => {
  const body = await page.locator("body").innerText();
  if (!body.includes(text)) fail(`${where}: no ${JSON.stringify(text)} in the page:\n${body.slice(0, 2000)}`);
};

// The attacker's site: a page with a form that posts to the relay (`?action=PATH&code=CODE`).
const html = (text) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const attacker = createServer((req, res) => {
  const asked = new URL(req.url, "http://attacker.invalid").searchParams;
  const action = `${origin}${asked.get("action") || "/campaign/login"}`;
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(
    `<!doctype html><title>Not the relay</title><form method="post" action="${html(action)}">` +
      `<input name="code" value="${html(asked.get("code") || "")}"><button>Go</button></form>`,
  );
});
await new Promise((ready) => attacker.listen(0, "127.0.0.1", ready));
const sameSite = `http://127.0.0.1:${attacker.address().port}`;
const crossSite = `http://localhost:${attacker.address().port}`;
const attackers = new Set([sameSite, crossSite]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // CI runs as root, where chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const watch = (context) =>
    context.on("request", (r) => {
      const url = r.url();
      if (url.startsWith("data:")) return;
      const from = new URL(url).origin;
      if (from !== origin && !attackers.has(from)) foreign.push(url);
    });
  const shot = async (page, name) => {
    const file = join(out, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
  // A page at a phone's and a laptop's width: how far the page itself scrolls sideways (0 is
  // what a reader wants; a wide table may scroll inside its own box), and its screenshot.
  seen.layout = {};
  const fits = async (page, path, name) => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      const answered = await page.goto(`${origin}${path}`);
      if (answered.status() !== 200) fail(`${path} at ${width} px: ${answered.status()}`);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      seen.layout[`${name}-${width}`] = { overflow, shot: await shot(page, `${name}-${width}`) };
    }
  };
  const staff = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
  watch(staff);
  const page = await staff.newPage();

  // Signed out, the dashboard is the sign-in page.
  const refused = await page.goto(`${origin}/campaign/officials`);
  if (refused.status() !== 401) fail(`signed out /campaign/officials: ${refused.status()}`);
  await expect(page, "groundwork dashboard login", "the sign-in page");
  seen.signin = await shot(page, "signin");

  // Another origin's page posts to the relay in the staff browser, by its form (a top-level
  // navigation, whose response could set a cookie) or by a no-cors fetch with credentials.
  // Returns the relay's status, which the page itself cannot read.
  const attack = async (from, action, how) => {
    const evil = await staff.newPage();
    await evil.goto(`${from}/?action=${encodeURIComponent(action)}&code=${encodeURIComponent(code)}`);
    const answered = evil.waitForResponse(
      (r) => r.url() === `${origin}${action}` && r.request().method() === "POST",
    );
    if (how === "form") {
      await evil.getByRole("button", { name: "Go" }).click();
    } else {
      await evil.evaluate(
        ([url, body]) => {
          fetch(url, {
            method: "POST",
            mode: "no-cors",
            credentials: "include",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body,
          }).catch(() => {});
        },
        [`${origin}${action}`, `code=${code}`],
      );
    }
    const status = (await answered).status();
    // The form's navigation finishes on the relay's refusal before its tab closes.
    if (how === "form") await evil.waitForURL(`${origin}${action}`);
    await evil.close();
    return status;
  };
  const signedIn = async () => (await staff.cookies()).some((c) => c.name === "gw_session");
  seen.csrf = {
    login_form_cross_site: await attack(crossSite, "/campaign/login", "form"),
    login_fetch_cross_site: await attack(crossSite, "/campaign/login", "fetch"),
    login_form_same_site: await attack(sameSite, "/campaign/login", "form"),
  };
  seen.csrf.cookie_after_login_attacks = await signedIn();

  // The link, then its button: the attacks above did not spend it.
  await page.goto(link);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${origin}/campaign`);
  await expect(page, "Groups sharing", "the overview");
  seen.overview = await shot(page, "overview");
  const cookies = await staff.cookies();
  const session = cookies.find((c) => c.name === "gw_session");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") fail(`session cookie: ${JSON.stringify(session)}`);

  // By keyboard: the first Tab reaches the skip link.
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  if (focused !== "Skip to content") fail(`the first Tab focused ${JSON.stringify(focused)}`);

  // The matrix.
  await page.getByRole("link", { name: "Officials by rule" }).click();
  await page.waitForURL(`${origin}/campaign/officials`);
  seen.matrix_rows = await page.locator("table.matrix tbody tr").count();
  seen.matrix_text = await page.locator("table.matrix").innerText();
  seen.matrix = await shot(page, "matrix");
  // Filtered by state, through the form.
  await page.locator("select[name=state]").selectOption("CA");
  await page.getByRole("button", { name: "Show" }).click();
  await page.waitForURL(/state=CA/);
  seen.matrix_ca_rows = await page.locator("table.matrix tbody tr").count();
  await fits(page, "/campaign/officials", "matrix");
  // At a laptop's width the whole matrix shows, R1373 (its last column) within the window.
  seen.matrix_last_column_right = await page.evaluate(() => {
    const heads = [...document.querySelectorAll("table.matrix thead th")];
    const last = heads[heads.length - 1];
    return last ? last.getBoundingClientRect().right - window.innerWidth : null;
  });
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`${origin}/campaign/officials?state=CA`);

  // The CSV download.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  seen.csv = join(out, "officials.csv");
  await download.saveAs(seen.csv);

  // The map, then a county, then an official.
  await page.getByRole("link", { name: "Map", exact: true }).click();
  await page.waitForURL(`${origin}/campaign/map`);
  seen.map_links = await page.locator('svg.map a[href^="/campaign/county/"]').count();
  seen.map = await shot(page, "map");
  await page.locator('svg.map a[href="/campaign/county/06065"]').click();
  await page.waitForURL(`${origin}/campaign/county/06065`);
  await expect(page, "Riverside, CA: the officials groups ask", "the county page");
  seen.county = await shot(page, "county");
  await page.locator("table.matrix tbody th a").first().click();
  await page.waitForURL(/\/campaign\/official\/06065\/sheriff$/);
  seen.official_text = await page.locator("main").innerText();
  seen.official = await shot(page, "official");

  // Signing out from the same site's other origin (which the Strict cookie goes to) is refused
  // too: the session lives on.
  seen.csrf.logout_form_same_site = await attack(sameSite, "/campaign/logout", "form");
  seen.csrf.logout_fetch_same_site = await attack(sameSite, "/campaign/logout", "fetch");
  const still = await page.goto(`${origin}/campaign`);
  seen.csrf.signed_in_after_logout_attacks = still.status();

  // Sign out: the dashboard is closed again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${origin}/campaign/login`);
  const after = await page.goto(`${origin}/campaign`);
  if (after.status() !== 401) fail(`after sign-out /campaign: ${after.status()}`);

  // The public map, in a fresh browser with no cookies.
  const visitor = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  watch(visitor);
  const pub = await visitor.newPage();
  const opened = await pub.goto(`${origin}/map`);
  if (opened.status() !== 200) fail(`/map: ${opened.status()}`);
  seen.public_text = await pub.locator("main").innerText();
  seen.public = await shot(pub, "public-map");
  await fits(pub, "/map", "public-map");
  await fits(pub, "/", "front-page");
} finally {
  await browser.close();
  attacker.closeAllConnections();
  attacker.close();
}
if (foreign.length) fail(`pages requested other addresses: ${foreign.join(", ")}`);
console.log(JSON.stringify(seen));
