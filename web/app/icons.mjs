// Draws the app's PNG icons from static/icon.svg with Debian's chromium (playwright-core from
// tests/interop): the sizes an install prompt and a home screen ask for (192 and 512 for the
// manifest, 180 for iOS's apple-touch-icon). Run it after changing icon.svg, then
// scripts/build-web; the PNGs are checked in beside the SVG.
//
//   node web/app/icons.mjs
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../tests/interop/package.json"));
const { chromium } = require("playwright-core");
const svg = readFileSync(join(here, "static/icon.svg"), "utf8");
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  for (const [size, name] of [[192, "icon-192.png"], [512, "icon-512.png"], [180, "apple-touch-icon.png"]]) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    // iOS rounds the corners itself, and would fill transparent ones black: square for it.
    const drawn = name.startsWith("apple") ? svg.replace('rx="12"', 'rx="0"') : svg;
    await page.setContent(`<style>html,body{margin:0}svg{display:block;width:${size}px;height:${size}px}</style>${drawn}`);
    await page.screenshot({ path: join(here, "static", name), omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}
