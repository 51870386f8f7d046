// Drives the Hold Slayer card on a real Home Assistant dashboard in Debian's headless Chromium.
//
//   node tests/browser/card_call.js PLAN.json
//
// PLAN.json (written by tests/browser/test_card_browser.py): {dashboard, tokens (hassTokens as the
// frontend stores them), artifacts (a folder), chromium, company, goal, secrets ({name: value}),
// timeouts (seconds)}. It opens the dashboard already logged in, starts a call from the card's Call
// form (the secrets typed into its "Account numbers and PINs" rows), waits for the card to show the phone menu, the hold and the person (read from the card's shadow DOM, every
// state change recorded by a MutationObserver in the page), takes a screenshot at each step, hangs
// up from the card and checks it shows the call ended. It writes result.json (and prints it) and
// exits 1 with the reason when anything is not as expected; the browser is closed in every case.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { withBrowser } from "./browser.js";
const CARD = "hold-slayer-card";
const PERSON = "A person is on the line!";

// In the page: find the card through every shadow root and record each state it shows.
function recordStates(cardTag) {
  const find = (root) => {
    const hit = root.querySelector(cardTag);
    if (hit) return hit;
    for (const element of root.querySelectorAll("*")) {
      const inner = element.shadowRoot && find(element.shadowRoot);
      if (inner) return inner;
    }
    return null;
  };
  const card = find(document);
  const box = card?.shadowRoot?.querySelector(".card");
  if (!box) return false;
  const start = performance.now();
  window.__holdSlayerStates = [{ state: box.dataset.state, at: 0 }];
  new MutationObserver(() => {
    const seen = window.__holdSlayerStates;
    if (seen[seen.length - 1].state !== box.dataset.state) {
      seen.push({ state: box.dataset.state, at: (performance.now() - start) / 1000 });
    }
  }).observe(box, { attributes: true, attributeFilter: ["data-state"] });
  return true;
}

class Run {
  constructor(plan, page) {
    this.plan = plan;
    this.page = page;
    this.card = page.locator(CARD);
    this.steps = [];
    this.started = Date.now();
  }

  seconds() {
    return (Date.now() - this.started) / 1000;
  }

  async states() {
    return this.page.evaluate(() => window.__holdSlayerStates ?? []);
  }

  /** Wait until the card has shown `state` (it may have moved on since), within `timeout` s. */
  async reached(state, timeout) {
    try {
      await this.page.waitForFunction(
        (wanted) => (window.__holdSlayerStates ?? []).some((item) => item.state === wanted),
        state,
        { timeout: timeout * 1000, polling: 100 },
      );
    } catch (err) {
      const seen = (await this.states()).map((item) => item.state).join(" → ");
      throw new Error(`the card never showed "${state}" within ${timeout} s (it showed: ${seen})`);
    }
  }

  async shown() {
    return this.card.locator(".card").getAttribute("data-state");
  }

  async screenshot(name) {
    const dir = this.plan.artifacts;
    const page = path.join(dir, `${String(this.steps.length + 1).padStart(2, "0")}-${name}.png`);
    const card = path.join(dir, `card-${name}.png`);
    await this.page.screenshot({ path: page });
    await this.card.locator("ha-card").screenshot({ path: card });
    const state = await this.shown();
    this.steps.push({ name, state, at: this.seconds(), page, card });
    return state;
  }
}

async function drive(plan, page, run) {
  const timeouts = plan.timeouts;
  await page.goto(plan.dashboard, { waitUntil: "load" });
  // The card is on the dashboard, finds the line's entities and offers Call.
  const callButton = run.card.locator("form.start button.call");
  await callButton.waitFor({ state: "visible", timeout: timeouts.page * 1000 });
  if (!(await page.evaluate(recordStates, CARD))) throw new Error("the card's shadow DOM has no .card");
  await run.screenshot("ready");

  await run.card.locator('input[name="target"]').fill(plan.company);
  await run.card.locator('input[name="goal"]').fill(plan.goal);
  const secrets = Object.entries(plan.secrets ?? {});
  if (secrets.length) await run.card.locator("details.secrets summary").click();
  for (const [index, [name, value]] of secrets.entries()) {
    if (index > 0) await run.card.locator("button.add-secret").click();
    const row = run.card.locator(".secret-row").nth(index);
    await row.locator('input[name="secret-name"]').fill(name);
    await row.locator('input[name="secret-value"]').fill(value);
  }
  await callButton.click();

  await run.reached("ivr", timeouts.answer);
  // A picture with something on the strip (asked for every 2 s); the menu lasts several seconds.
  await run.card
    .locator(".strip .span")
    .first()
    .waitFor({ state: "attached", timeout: 4000 })
    .catch(() => {});
  await run.screenshot("ivr");
  const details = await run.card.locator(".details").innerText();
  if (!details.includes(plan.company)) throw new Error(`the card does not name the company: ${details}`);

  await run.reached("on_hold", timeouts.menu);
  // The unmistakable hold look: the dashed box with the running timer.
  await run.card.locator(".hold .timer").waitFor({ state: "visible", timeout: 5000 });
  await page.waitForTimeout(timeouts.hold_shot * 1000); // some hold on the timer and the strip
  await run.screenshot("on-hold");

  await run.reached("human", timeouts.person);
  const banner = run.card.locator(".person");
  await banner.waitFor({ state: "visible", timeout: 5000 });
  const bannerText = (await banner.innerText()).trim();
  if (bannerText !== PERSON) throw new Error(`the person banner reads "${bannerText}"`);
  // The strip (asked for every 2 s while live) marks the menu choice, the hold and the person.
  await run.card.locator(".marks .mark-person").waitFor({ state: "attached", timeout: 15000 });
  const marks = await run.card.locator(".marks .mark").evaluateAll((els) => els.map((el) => el.className));
  const choices = await run.card.locator("ol.choices li").allInnerTexts();
  await run.screenshot("person");

  await run.card.locator(".controls button.hangup").click();
  await run.reached("ended", timeouts.hangup);
  await callButton.waitFor({ state: "visible", timeout: 5000 });
  // Why it ended, from the call sensor's end_reason.
  const reason = run.card.locator(".reason");
  await reason.waitFor({ state: "visible", timeout: 5000 });
  const endedReason = (await reason.innerText()).trim();
  await run.screenshot("ended");
  return { marks, choices, details, banner: bannerText, ended_reason: endedReason };
}

export async function main(planFile) {
  const plan = JSON.parse(await readFile(planFile, "utf8"));
  return withBrowser(plan, async (page, result) => {
    const run = new Run(plan, page);
    try {
      Object.assign(result, await drive(plan, page, run));
      const cardErrors = result.page_errors.filter((text) => text.includes(CARD));
      if (cardErrors.length) throw new Error(`the card threw: ${cardErrors.join("\n")}`);
    } finally {
      result.states = await run.states().catch(() => []);
      result.steps = run.steps;
      result.seconds = run.seconds();
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv[2]);
}
