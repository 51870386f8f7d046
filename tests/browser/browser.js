// What the browser drivers share: Debian's Chromium launched headless with a fresh profile,
// logged in to Home Assistant as the owner, page errors collected, the result written once.

import { writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

/**
 * Run `drive(page, result)` in a logged-in page, then write result.json into `plan.artifacts`
 * (and print it). `storage` is put into the page's localStorage before any of HA's code runs.
 * Resolves to the exit status: 1, with the reason on stderr, when `drive` threw.
 */
export async function withBrowser(plan, drive, storage = {}) {
  await mkdir(plan.artifacts, { recursive: true });
  const result = { ok: false, page_errors: [], console_errors: [] };
  const browser = await chromium.launch({ executablePath: plan.chromium, headless: true, args: CHROMIUM_FLAGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    // Logged in as the owner, as if this browser had used the login form before.
    await context.addInitScript(
      (items) => {
        for (const [key, value] of Object.entries(items)) window.localStorage.setItem(key, value);
      },
      { hassTokens: JSON.stringify(plan.tokens), ...storage },
    );
    const page = await context.newPage();
    page.on("pageerror", (err) => result.page_errors.push(String(err.stack || err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") result.console_errors.push(msg.text());
    });
    try {
      await drive(page, result);
      result.ok = true;
    } catch (err) {
      result.error = String(err.message || err);
      await page.screenshot({ path: path.join(plan.artifacts, "failure.png") }).catch(() => {});
    }
  } finally {
    await browser.close();
  }
  await writeFile(path.join(plan.artifacts, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
  if (!result.ok) {
    console.error(`browser test failed: ${result.error}`);
    return 1;
  }
  return 0;
}
