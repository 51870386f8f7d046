// Places a Hold Slayer call from Home Assistant's own Actions page (Developer tools → Actions) in
// its UI mode, with the secret typed into the "Secrets" field's editor, in Debian's headless Chromium.
//
//   node tests/browser/actions_form.js PLAN.json
//
// PLAN.json (written by tests/browser/test_card_browser.py): {base (HA's URL), tokens, artifacts,
// chromium, entry (the line's config entry), company, goal, invalid and valid (the Secrets field's
// YAML), timeout (seconds)}. The page opens with the action and its plain fields as it remembers
// them from a last visit; the driver ticks the Secrets field, types `invalid` and performs the
// action (the page must show the integration's translated error), then types `valid` instead and
// performs it again (the page must show the call's id). Writes result.json: {error_text,
// response_text, typed}; the Python side checks the call itself.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { withBrowser } from "./browser.js";

async function typeInto(page, editor, text) {
  await editor.click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Backspace");
  await page.keyboard.type(text);
}

const ERROR = "ha-alert[alert-type='error']";

function responseCard(page) {
  return page.locator("ha-card", { has: page.locator("ha-yaml-editor[copy-clipboard]") });
}

async function perform(page, timeout) {
  await page.locator("ha-progress-button").filter({ hasText: "Perform action" }).click();
  // Either the error banner or the response card appears.
  await page.locator(ERROR).or(responseCard(page)).first().waitFor({ state: "visible", timeout: timeout * 1000 });
}

async function drive(plan, page, result) {
  await page.goto(`${plan.base}/developer-tools/action`, { waitUntil: "load" });
  const row = page.locator("ha-service-control ha-settings-row").filter({ hasText: "Secrets" });
  await row.waitFor({ state: "visible", timeout: plan.timeout * 1000 });
  await row.locator("ha-checkbox").click(); // an optional field is edited once ticked
  const editor = row.locator(".cm-content");

  await typeInto(page, editor, plan.invalid);
  await perform(page, plan.timeout);
  result.error_text = (await page.locator(ERROR).innerText()).trim();
  await page.screenshot({ path: path.join(plan.artifacts, "actions-error.png") });

  await typeInto(page, editor, plan.valid);
  result.typed = (await editor.innerText()).trim();
  await perform(page, plan.timeout);
  if (await page.locator(ERROR).isVisible()) {
    throw new Error(`the action failed: ${await page.locator(ERROR).innerText()}`);
  }
  const response = responseCard(page).locator(".cm-content");
  await response.filter({ hasText: "call_id" }).waitFor({ state: "visible", timeout: 10000 });
  result.response_text = (await response.innerText()).trim();
  await page.screenshot({ path: path.join(plan.artifacts, "actions-called.png") });
}

export async function main(planFile) {
  const plan = JSON.parse(await readFile(planFile, "utf8"));
  // What the Actions page keeps of a last visit: the action and its plain fields, in UI mode.
  const remembered = {
    "panel-dev-action-state-service-data": JSON.stringify({
      action: "hold_slayer.call",
      target: {},
      data: { config_entry_id: plan.entry, company: plan.company, goal: plan.goal },
    }),
    "panel-dev-action-state-yaml-mode": "false",
  };
  return withBrowser(plan, (page, result) => drive(plan, page, result), remembered);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv[2]);
}
