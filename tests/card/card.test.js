// The Hold Slayer card under happy-dom: what it shows for each call state, the person moment,
// the timeline strip, the controls' actions, errors, the editor form and keyboard use.
import "./dom.js";

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import {
  CARD_TYPE,
  HoldSlayerCard,
  LIVE_STATES,
  MIN_FETCH_MS,
  POLL_MS,
  STRINGS,
  deciderOf,
  durationSeconds,
  errorMessage,
  formatDuration,
  lineEntities,
  looksLikeNumber,
  secretsFrom,
  timelineLayout,
  timelineSummary,
  viewModel,
} from "../../custom_components/hold_slayer/frontend/hold-slayer-card.js";
import { CALL_ID, ENTITY, ENTRY_ID, makeHass, settle, withState } from "./fake-hass.js";

const ALL_STATES = ["idle", "dialing", "ringing", "ivr", "on_hold", "human", "transferring", "connected", "ended", "failed"];

let cards = [];

function mount(hass, config = {}) {
  const card = document.createElement(CARD_TYPE);
  card.setConfig({ config_entry_id: ENTRY_ID, ...config });
  card.hass = hass;
  document.body.append(card);
  cards.push(card);
  return card;
}

const $ = (card, selector) => card.shadowRoot.querySelector(selector);
const $$ = (card, selector) => [...card.shadowRoot.querySelectorAll(selector)];
const visible = (card, selector) => {
  const node = $(card, selector);
  assert.ok(node, `${selector} exists`);
  return !node.hidden;
};

const TIMELINE = {
  call_id: CALL_ID,
  state: "on_hold",
  live: true,
  company: "Demo Bank",
  spans: [
    { start: 0, end: 4, kind: "tone" },
    { start: 4, end: 12, kind: "speech" },
    { start: 12, end: 40, kind: "music" },
  ],
  marks: [
    { at: 10, kind: "choice", text: "pressed 1", source: "rules" },
    { at: 11, kind: "choice", text: "pressed ••••#", source: "learned route" },
    { at: 11.5, kind: "choice", text: "said billing", source: "conversation agent conversation.ollama" },
    { at: 12, kind: "hold", text: "", source: "" },
    { at: 40, kind: "person", text: "", source: "audio" },
  ],
};

let now;
beforeEach(() => {
  now = Date.parse("2026-12-04T12:00:00Z");
  mock.method(Date, "now", () => now);
});
afterEach(() => {
  for (const card of cards) card.remove();
  cards = [];
  mock.restoreAll();
});

describe("registration and configuration", () => {
  test("the element and its card picker entry are registered once", () => {
    assert.equal(customElements.get(CARD_TYPE), HoldSlayerCard);
    const entries = window.customCards.filter((entry) => entry.type === CARD_TYPE);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].name, "Hold Slayer");
    assert.equal(entries[0].preview, true);
    assert.match(entries[0].description, /person/);
  });

  test("on an HA page it waits for HA's app, whose registry replaces the page's", async () => {
    // HA 2025.4's app installs a scoped custom-element registry as window.customElements; the
    // card file may load first. Defined at once, the card would sit in the old registry, unseen.
    const native = globalThis.customElements;
    const page = document.createElement("home-assistant");
    document.body.append(page);
    try {
      const fresh = await import("../../custom_components/hold_slayer/frontend/hold-slayer-card.js?ha-page");
      const scoped = new native.constructor(window);
      globalThis.customElements = scoped; // the app's bundle runs…
      native.define("home-assistant", class extends HTMLElement {}); // …and defines its shell
      await settle();
      assert.equal(scoped.get(CARD_TYPE), fresh.HoldSlayerCard);
      assert.equal(window.customCards.filter((entry) => entry.type === CARD_TYPE).length, 1);
    } finally {
      globalThis.customElements = native;
      page.remove();
    }
  });

  test("a config without a line is refused with a message", () => {
    const card = document.createElement(CARD_TYPE);
    assert.throws(() => card.setConfig({}), { message: STRINGS.noLine });
    assert.throws(() => card.setConfig(null), { message: STRINGS.noLine });
  });

  test("the config form picks a Hold Slayer line, a title and the sound", () => {
    const form = HoldSlayerCard.getConfigForm();
    assert.deepEqual(
      form.schema.map((item) => item.name),
      ["config_entry_id", "title", "sound"],
    );
    assert.deepEqual(form.schema[0].selector, { config_entry: { integration: "hold_slayer" } });
    assert.equal(form.schema[0].required, true);
    assert.deepEqual(form.schema[2].selector, { boolean: {} });
    for (const item of form.schema) {
      assert.ok(form.computeLabel(item), `label for ${item.name}`);
      assert.ok(form.computeHelper(item), `helper for ${item.name}`);
    }
  });

  test("the stub config picks the first loaded line", async () => {
    const hass = makeHass();
    hass.entries = [
      { entry_id: "not-loaded", state: "setup_retry" },
      { entry_id: "loaded-one", state: "loaded" },
      { entry_id: "loaded-two", state: "loaded" },
    ];
    assert.deepEqual(await HoldSlayerCard.getStubConfig(hass), { config_entry_id: "loaded-one" });
    assert.deepEqual(hass.ws.at(-1), { type: "config_entries/get", domain: "hold_slayer" });
    hass.entries = [{ entry_id: "retrying", state: "setup_retry" }];
    assert.deepEqual(await HoldSlayerCard.getStubConfig(hass), { config_entry_id: "retrying" });
  });

  test("without the entries command the stub config finds the line's device", async () => {
    const hass = makeHass();
    hass.wsError = { code: "unauthorized", message: "Unauthorized" };
    assert.deepEqual(await HoldSlayerCard.getStubConfig(hass), { config_entry_id: ENTRY_ID });
    const none = { ...makeHass(), entities: {}, devices: {} };
    none.wsError = hass.wsError;
    assert.deepEqual(await HoldSlayerCard.getStubConfig(none), {});
  });

  test("grid options for sections dashboards, and a card size", () => {
    const card = mount(makeHass());
    assert.deepEqual(card.getGridOptions(), { columns: 12, min_columns: 6, min_rows: 4 });
    assert.equal(card.getCardSize(), 8);
    assert.equal(card.hass.devices !== undefined, true);
  });

  test("a line without entities says so instead of offering a call", () => {
    const hass = { ...makeHass(), entities: {} };
    const card = mount(hass);
    assert.ok(visible(card, ".setup"));
    assert.equal($(card, ".setup").textContent, STRINGS.lineMissing);
    assert.ok(!visible(card, ".start"));
    assert.equal($(card, ".badge").textContent, "Unknown");
  });

  test("a title from the config, else the line's device name", () => {
    assert.equal($(mount(makeHass()), ".title").textContent, "Demo company line");
    assert.equal($(mount(makeHass(), { title: "Bank calls" }), ".title").textContent, "Bank calls");
  });

  test("changing the line forgets the old line's strip and phone book", async () => {
    const card = mount(makeHass({ state: "on_hold", timeline: TIMELINE }));
    await settle();
    assert.ok(visible(card, ".timeline"));
    card.setConfig({ config_entry_id: "another-line" });
    assert.ok(!visible(card, ".timeline"));
    assert.ok(visible(card, ".setup")); // the fake has no entities for that line
  });
});

describe("each state", () => {
  for (const state of ALL_STATES) {
    test(`${state}: the badge, the look and the controls that fit`, () => {
      const card = mount(makeHass({ state }));
      assert.equal($(card, ".card").dataset.state, state);
      assert.equal($(card, ".badge").textContent, STRINGS.states[state]);
      assert.equal($(card, ".status").getAttribute("role"), "status");
      const live = LIVE_STATES.has(state);
      assert.equal(visible(card, ".start"), !live, "the call form when no call runs");
      assert.equal(visible(card, ".controls"), live, "hang up while a call runs");
      assert.equal(visible(card, ".hangup"), true);
      assert.equal(visible(card, ".transfer"), ["ivr", "on_hold", "human"].includes(state));
      const answered = ["ivr", "on_hold", "human", "transferring", "connected"].includes(state);
      assert.equal(visible(card, ".keypad-toggle"), answered);
      assert.equal(visible(card, ".say"), answered);
      assert.equal(visible(card, ".hold"), state === "on_hold");
      assert.equal(visible(card, ".person"), state === "human");
      assert.equal(visible(card, ".handoff"), state === "transferring" || state === "connected");
    });
  }

  test("an unavailable line shows so", () => {
    const card = mount(makeHass({ state: "unavailable" }));
    assert.equal($(card, ".badge").textContent, "Unavailable");
    assert.ok(visible(card, ".start"));
  });

  test("on hold: the timer counts on between the sensor's writes", () => {
    const written = new Date(now - 7000).toISOString();
    const hass = makeHass({
      state: "on_hold",
      states: {
        [ENTITY.hold_time]: {
          state: "2.0",
          attributes: { unit_of_measurement: "min" },
          last_updated: written,
        },
      },
    });
    const card = mount(hass);
    assert.equal($(card, ".timer").textContent, "2:07");
    assert.equal($(card, ".timer").getAttribute("role"), "timer");
    assert.equal($(card, ".timer-label").textContent, STRINGS.onHoldFor);
    now += 5000;
    card._tick();
    assert.equal($(card, ".timer").textContent, "2:12");
  });

  test("on hold before the hold-time sensor has a value: counted from the hold's start", () => {
    const hass = makeHass({ state: "on_hold" });
    hass.states[ENTITY.call_state].last_changed = new Date(now - 42000).toISOString();
    hass.states[ENTITY.hold_time] = { state: "unknown", attributes: { unit_of_measurement: "min" } };
    const card = mount(hass);
    assert.equal($(card, ".timer").textContent, "0:42");
  });

  test("company, goal, queue position and estimated wait", () => {
    const hass = makeHass({
      state: "on_hold",
      states: {
        [ENTITY.queue_position]: { state: "5", attributes: {} },
        [ENTITY.estimated_wait]: { state: "12", attributes: { unit_of_measurement: "min" } },
      },
    });
    const card = mount(hass);
    const terms = $$(card, ".details dt").map((node) => node.textContent);
    const values = $$(card, ".details dd").map((node) => node.textContent);
    assert.deepEqual(terms, ["Company", "Goal", "Position in the queue", "Estimated wait"]);
    assert.deepEqual(values, ["Demo Bank", "a question about my bill", "5", "12 min"]);
  });

  test("an ended call shows how long it held and why it ended", () => {
    const hass = makeHass({
      state: "failed",
      states: {
        [ENTITY.hold_time]: { state: "95", attributes: { unit_of_measurement: "s" } },
        [ENTITY.queue_position]: { state: "3", attributes: {} },
        [ENTITY.call_event]: {
          state: "2026-12-04T11:59:00+00:00",
          attributes: { event_type: "call_failed", call_id: CALL_ID, cause: "error", reason: "no text-to-speech engine" },
        },
      },
    });
    const card = mount(hass);
    assert.ok(visible(card, ".reason"));
    assert.equal($(card, ".reason").textContent, "Why it ended: no text-to-speech engine");
    const values = $$(card, ".details dd").map((node) => node.textContent);
    assert.ok(values.includes("1:35"), "hold time of the ended call");
    assert.ok(!values.includes("3"), "no queue position once the call is over");
  });

  test("the call sensor's end_reason tells why, without any event", () => {
    const hass = makeHass({ state: "failed", call: { end_cause: "not_found", end_reason: "404 Not Found" } });
    const card = mount(hass);
    assert.equal($(card, ".reason").textContent, "Why it ended: 404 Not Found");
    const causeOnly = mount(makeHass({ state: "ended", call: { end_cause: "local_hangup", end_reason: "" } }));
    assert.equal($(causeOnly, ".reason").textContent, "Why it ended: local_hangup");
    const live = mount(makeHass({ state: "on_hold", call: { end_reason: "stale" } }));
    assert.ok(!visible(live, ".reason"), "no reason while the call runs");
  });

  test("another call's end is not this call's reason", () => {
    const hass = makeHass({
      state: "ended",
      states: {
        [ENTITY.call_event]: { state: "x", attributes: { event_type: "call_ended", call_id: "older", cause: "hangup" } },
      },
    });
    assert.ok(!visible(mount(hass), ".reason"));
  });
});

describe("a number the call was not given", () => {
  test("the line's ask is shown while in the menu, for this call only", () => {
    const asked = (state, callId = CALL_ID) =>
      makeHass({
        state,
        states: {
          [ENTITY.call_event]: {
            state: "2026-12-04T11:59:00+00:00",
            attributes: { event_type: "number_needed", call_id: callId, wanted: "member id" },
          },
        },
      });
    const card = mount(asked("ivr"));
    assert.ok(visible(card, ".needed"));
    assert.equal(
      $(card, ".needed").textContent,
      "The line asks for the member id, which this call was not given: key it in below.",
    );
    assert.equal($(card, ".needed").getAttribute("role"), "status");
    assert.ok(!visible(mount(asked("on_hold")), ".needed"), "answered: the call went on");
    assert.ok(!visible(mount(asked("ivr", "older")), ".needed"), "another call's ask");
  });
});

describe("the person moment", () => {
  function fakeAudio() {
    const started = [];
    class FakeContext {
      constructor() {
        this.currentTime = 0;
        this.destination = {};
      }
      createOscillator() {
        const oscillator = { frequency: {}, connect: (node) => node, start: (at) => started.push([oscillator.frequency.value, at]), stop() {} };
        return oscillator;
      }
      createGain() {
        return { gain: {}, connect: (node) => node };
      }
      close() {}
    }
    globalThis.AudioContext = FakeContext;
    return started;
  }

  afterEach(() => {
    delete globalThis.AudioContext;
  });

  test("on hold → person: a banner screen readers announce, and the chime", () => {
    const started = fakeAudio();
    const hass = makeHass({ state: "on_hold" });
    const card = mount(hass, { sound: true });
    assert.ok(!visible(card, ".person"));
    card.hass = withState(hass, ENTITY.call_state, "human", { call_id: CALL_ID, company: "Demo Bank" });
    const banner = $(card, ".person");
    assert.ok(!banner.hidden);
    assert.equal(banner.textContent, "A person is on the line!");
    assert.equal(banner.getAttribute("role"), "alert");
    assert.equal($(card, ".card").dataset.state, "human");
    assert.deepEqual(started.map(([frequency]) => frequency), [880, 1320]);
    // The same state again (another entity changed): no second chime.
    card.hass = withState(card.hass, ENTITY.queue_position, "1");
    assert.equal(started.length, 2);
  });

  test("no chime without the sound option, nor for a person already there when the page opens", () => {
    const started = fakeAudio();
    const hass = makeHass({ state: "on_hold" });
    const quiet = mount(hass);
    quiet.hass = withState(hass, ENTITY.call_state, "human", { call_id: CALL_ID });
    const opened = mount(makeHass({ state: "human" }), { sound: true });
    assert.ok(visible(opened, ".person"));
    assert.deepEqual(started, []);
  });

  test("a browser without audio still shows the banner", () => {
    const hass = makeHass({ state: "on_hold" });
    const card = mount(hass, { sound: true });
    card.hass = withState(hass, ENTITY.call_state, "human", { call_id: CALL_ID });
    assert.ok(visible(card, ".person"));
  });

  test("handing over: transferring and connected say where the call is", () => {
    const card = mount(makeHass({ state: "transferring" }));
    assert.equal($(card, ".handoff").textContent, STRINGS.transferring);
    const connected = mount(makeHass({ state: "connected" }));
    assert.equal($(connected, ".handoff").textContent, STRINGS.connected);
  });
});

describe("transcript", () => {
  test("lines with their speaker, as text (never markup)", () => {
    const hass = makeHass({
      state: "ivr",
      states: {
        [ENTITY.last_utterance]: {
          state: "For billing, press 1.",
          attributes: {
            history: [
              { at: 3.2, speaker: "line", text: "For billing, press 1. <b>Really</b>" },
              { at: 5.0, speaker: "us", text: "[pressed 1] (rules: billing)" },
            ],
          },
        },
      },
    });
    const card = mount(hass);
    const box = $(card, ".transcript");
    assert.equal(box.getAttribute("role"), "log");
    assert.equal(box.getAttribute("tabindex"), "0");
    const lines = $$(card, ".transcript p");
    assert.equal(lines.length, 2);
    assert.equal(lines[0].textContent, "Line:For billing, press 1. <b>Really</b>");
    assert.equal(box.querySelector("b"), null);
    assert.equal(lines[1].className, "us");
    assert.equal(lines[1].querySelector(".speaker").textContent, "Hold Slayer:");
  });

  test("a live call with nothing said yet says so; idle shows no transcript", () => {
    const live = mount(makeHass({ state: "dialing" }));
    assert.ok(visible(live, ".transcript-section"));
    assert.equal($(live, ".transcript").textContent, STRINGS.transcriptEmpty);
    assert.ok(!visible(mount(makeHass()), ".transcript-section"));
  });
});

describe("the timeline strip", () => {
  test("spans and marks drawn to scale, choices with their decider, a summary for screen readers", async () => {
    const hass = makeHass({ state: "on_hold", timeline: TIMELINE });
    const card = mount(hass);
    await settle();
    assert.deepEqual(hass.ws.find((msg) => msg.type === "hold_slayer/call/timeline"), {
      type: "hold_slayer/call/timeline",
      config_entry_id: ENTRY_ID,
      call_id: CALL_ID,
    });
    assert.ok(visible(card, ".timeline"));
    assert.equal($(card, ".timeline-title").textContent, "What the line sounded like · 0:40");
    const spans = $$(card, ".strip .span");
    assert.deepEqual(
      spans.map((node) => [node.className, node.style.left, node.style.width]),
      [
        ["span kind-tone", "0%", "10%"],
        ["span kind-speech", "10%", "20%"],
        ["span kind-music", "30%", "70%"],
      ],
    );
    assert.equal(spans[2].title, "music 0:12–0:40");
    const marks = $$(card, ".marks .mark");
    assert.deepEqual(
      marks.map((node) => [node.className, node.style.left]),
      [
        ["mark mark-choice", "25%"],
        ["mark mark-choice", "27.5%"],
        ["mark mark-choice", "28.75%"],
        ["mark mark-hold", "30%"],
        ["mark mark-person", "100%"],
      ],
    );
    assert.equal(marks[0].title, "0:10 pressed 1 (rules)");
    assert.equal(marks[4].title, "0:40 person answered (audio)");
    const strip = $(card, ".strip");
    assert.equal(strip.getAttribute("role"), "img");
    assert.equal(
      strip.getAttribute("aria-label"),
      "Timeline: 0:40; music 0:28; speech 0:08; tones 0:04; menu choice at 0:10; menu choice at 0:11; " +
        "menu choice at 0:11; hold started at 0:12; person answered at 0:40",
    );
    assert.deepEqual(
      $$(card, ".legend li").map((node) => node.textContent),
      ["music", "speech", "tones"],
    );
    const choices = $$(card, ".choices li");
    assert.deepEqual(
      choices.map((node) => node.textContent),
      ["0:10 pressed 1rule", "0:11 pressed ••••#learned route", "0:11 said billingAI"],
    );
    assert.equal(choices[2].querySelector(".decider").title, "conversation agent conversation.ollama");
  });

  test("asked for every POLL_MS while live, never faster than once a second, once more when it ends", async () => {
    assert.ok(POLL_MS >= 1000 && MIN_FETCH_MS >= 1000);
    const hass = makeHass({ state: "on_hold", timeline: TIMELINE });
    const card = mount(hass);
    await settle();
    const asked = () => hass.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").length;
    assert.equal(asked(), 1);
    // Every state change and every tick within the interval: no new request.
    for (let i = 0; i < 5; i++) {
      now += 300;
      card.hass = withState(card.hass, ENTITY.queue_position, String(5 - i));
      card._tick();
      await settle();
    }
    assert.equal(asked(), 1);
    now += POLL_MS;
    card._tick();
    await settle();
    assert.equal(asked(), 2);
    // The call ends: one more request (the final strip), at most a second after the last.
    now += 200;
    card.hass = withState(card.hass, ENTITY.call_state, "ended", { call_id: CALL_ID });
    await settle();
    assert.equal(asked(), 2, "not within a second of the last request");
    now += MIN_FETCH_MS;
    card._tick();
    await settle();
    assert.equal(asked(), 3);
    // Ended: no more polling.
    for (let i = 0; i < 5; i++) {
      now += POLL_MS;
      card._tick();
      await settle();
    }
    assert.equal(asked(), 3);
  });

  test("a new call is asked for at once; an idle line asks for nothing", async () => {
    const idle = makeHass();
    mount(idle);
    await settle();
    assert.equal(idle.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").length, 0);
    const hass = makeHass({ state: "dialing", timeline: { ...TIMELINE, call_id: "other", spans: [], marks: [] } });
    const card = mount(hass);
    await settle();
    assert.ok(!visible(card, ".timeline"), "a strip of another call is not drawn");
    now += MIN_FETCH_MS;
    hass.timeline = { ...TIMELINE, call_id: "second", spans: [], marks: [] };
    card.hass = withState(card.hass, ENTITY.call_state, "dialing", { call_id: "second" });
    await settle();
    assert.equal(hass.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").at(-1).call_id, "second");
    assert.ok(visible(card, ".timeline"));
    assert.equal($$(card, ".strip .span").length, 0);
    assert.equal($(card, ".timeline-title").textContent, STRINGS.timeline);
    assert.ok(!visible(card, ".choices-section"));
  });

  test("a hidden page asks for nothing", async () => {
    const hass = makeHass({ state: "on_hold", timeline: TIMELINE });
    const card = mount(hass);
    await settle();
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    now += POLL_MS * 3;
    card._tick();
    await settle();
    delete document.visibilityState;
    assert.equal(hass.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").length, 1);
    card._tick();
    await settle();
    assert.equal(hass.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").length, 2);
  });

  test("a detached card stops asking", async () => {
    const hass = makeHass({ state: "on_hold", timeline: TIMELINE });
    const card = mount(hass);
    await settle();
    card.remove();
    now += POLL_MS * 3;
    card._tick();
    await settle();
    assert.equal(hass.ws.filter((msg) => msg.type === "hold_slayer/call/timeline").length, 1);
    assert.equal(card._ticker, null);
  });

  test("a failed request is shown in the card", async () => {
    const hass = makeHass({ state: "on_hold" });
    hass.wsError = { code: "not_found", message: "No Hold Slayer line with config entry ID x." };
    const card = mount(hass);
    await settle();
    assert.ok(visible(card, ".error"));
    assert.equal($(card, ".error-text").textContent, "No Hold Slayer line with config entry ID x.");
  });
});

describe("controls", () => {
  function calls(hass) {
    return hass.ws.filter((msg) => msg.type.startsWith("hold_slayer/call/") && msg.type !== "hold_slayer/call/timeline");
  }

  function submit(form) {
    form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  }

  test("Call with a phone-book company and a goal", async () => {
    const hass = makeHass({ companies: ["Demo Bank", "Demo Paper Company"] });
    const card = mount(hass);
    await settle();
    assert.deepEqual(
      $$(card, "#hold-slayer-companies option").map((node) => node.value),
      ["Demo Bank", "Demo Paper Company"],
    );
    assert.equal($(card, 'input[name="target"]').getAttribute("list"), $(card, "#hold-slayer-companies").id);
    $(card, 'input[name="target"]').value = "Demo Bank";
    $(card, 'input[name="goal"]').value = "  a question about my bill ";
    submit($(card, ".start"));
    await settle();
    // Over the integration's command, not the call action (whose data HA's recorder keeps).
    assert.equal(hass.services.length, 0);
    assert.deepEqual(calls(hass), [
      {
        type: "hold_slayer/call/start",
        config_entry_id: ENTRY_ID,
        company: "Demo Bank",
        goal: "a question about my bill",
      },
    ]);
    assert.equal($(card, 'input[name="goal"]').value, "", "the goal is cleared after a placed call");
  });

  test("Call with secrets: named rows, masked, sent once and not kept", async () => {
    const hass = makeHass();
    const card = mount(hass);
    const details = $(card, "details.secrets");
    assert.equal($(card, ".secrets-title").textContent, STRINGS.secrets);
    assert.deepEqual(
      $$(card, "#hold-slayer-secret-names option").map((node) => node.value).slice(0, 2),
      ["account_number", "pin"],
    );
    details.open = true;
    let rows = $$(card, ".secret-row");
    assert.equal(rows.length, 1);
    const value = rows[0].querySelector('input[name="secret-value"]');
    assert.equal(value.getAttribute("type"), "password", "a secret is never shown");
    assert.equal(value.getAttribute("autocomplete"), "off");
    rows[0].querySelector('input[name="secret-name"]').value = "Account number";
    value.value = " 1234 567890 ";
    $(card, ".add-secret").click();
    rows = $$(card, ".secret-row");
    assert.equal(rows.length, 2);
    assert.equal(card.shadowRoot.activeElement, rows[1].querySelector('input[name="secret-name"]'));
    rows[1].querySelector('input[name="secret-name"]').value = "pin";
    rows[1].querySelector('input[name="secret-value"]').value = "!secret bank_pin";
    $(card, 'input[name="target"]').value = "Demo Bank";
    submit($(card, ".start"));
    await settle();
    assert.deepEqual(calls(hass)[0].secrets, { account_number: "1234 567890", pin: "!secret bank_pin" });
    rows = $$(card, ".secret-row");
    assert.equal(rows.length, 1, "one empty row again");
    assert.equal(rows[0].querySelector('input[name="secret-value"]').value, "");
    assert.equal(details.open, false);
  });

  test("a secret row with one half is refused before anything is sent; a failed call keeps the rows", async () => {
    const hass = makeHass();
    const card = mount(hass);
    $(card, 'input[name="target"]').value = "Demo Bank";
    const row = $(card, ".secret-row");
    row.querySelector('input[name="secret-value"]').value = "4321";
    submit($(card, ".start"));
    await settle();
    assert.equal(calls(hass).length, 0);
    assert.equal($(card, ".error-text").textContent, STRINGS.secretNameNeeded);
    row.querySelector('input[name="secret-name"]').value = "pin";
    row.querySelector('input[name="secret-value"]').value = "";
    submit($(card, ".start"));
    await settle();
    assert.equal($(card, ".error-text").textContent, STRINGS.secretValueNeeded("pin"));
    row.querySelector('input[name="secret-value"]').value = "43x1";
    hass.commandError = { code: "service_validation_error", message: "The value of pin must be keypad digits." };
    submit($(card, ".start"));
    await settle();
    assert.equal($(card, ".error-text").textContent, "The value of pin must be keypad digits.");
    assert.equal(row.querySelector('input[name="secret-value"]').value, "43x1", "kept to fix");
    assert.equal(row.isConnected, true);
  });

  test("secretsFrom names rows as the integration wants them", () => {
    assert.deepEqual(secretsFrom([["Policy-Number", "4007"], ["", ""], ["  PIN ", " 12 "]]), {
      secrets: { policy_number: "4007", pin: "12" },
    });
    assert.deepEqual(secretsFrom([]), { secrets: {} });
    assert.deepEqual(secretsFrom([["", "1"]]), { error: STRINGS.secretNameNeeded });
  });

  test("Call with a number; nothing typed places nothing", async () => {
    const hass = makeHass();
    const card = mount(hass);
    submit($(card, ".start"));
    await settle();
    assert.equal(hass.services.length, 0);
    $(card, 'input[name="target"]').value = "+1 (800) 555-0100";
    submit($(card, ".start"));
    await settle();
    assert.deepEqual(calls(hass), [
      { type: "hold_slayer/call/start", config_entry_id: ENTRY_ID, number: "+1 (800) 555-0100" },
    ]);
  });

  test("Hang up and Transfer name the call", async () => {
    const hass = makeHass({ state: "on_hold" });
    const card = mount(hass);
    $(card, ".hangup").click();
    await settle();
    $(card, ".transfer").click();
    await settle();
    assert.deepEqual(
      hass.services.map(({ service, data }) => [service, data]),
      [
        ["hangup", { config_entry_id: ENTRY_ID, call_id: CALL_ID }],
        ["transfer", { config_entry_id: ENTRY_ID, call_id: CALL_ID }],
      ],
    );
  });

  test("the keypad: opened by its toggle, keys by click and by typing", async () => {
    const hass = makeHass({ state: "ivr" });
    const card = mount(hass);
    const toggle = $(card, ".keypad-toggle");
    assert.equal(toggle.getAttribute("aria-expanded"), "false");
    assert.ok(!visible(card, ".keypad"));
    toggle.click();
    assert.equal(toggle.getAttribute("aria-expanded"), "true");
    assert.ok(visible(card, ".keypad"));
    const keypad = $(card, ".keypad");
    assert.equal(keypad.getAttribute("role"), "group");
    assert.equal(keypad.getAttribute("aria-label"), STRINGS.keypadLabel);
    const buttons = $$(card, ".keypad button");
    assert.deepEqual(buttons.map((node) => node.textContent), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]);
    assert.equal(buttons[10].getAttribute("aria-label"), "Press 0");
    assert.equal(card.shadowRoot.activeElement, buttons[0], "focus moves to the first key");
    buttons[11].click();
    await settle();
    keypad.dispatchEvent(new KeyboardEvent("keydown", { key: "4", bubbles: true, cancelable: true }));
    await settle();
    keypad.dispatchEvent(new KeyboardEvent("keydown", { key: "x", bubbles: true, cancelable: true }));
    keypad.dispatchEvent(new KeyboardEvent("keydown", { key: "5", ctrlKey: true, bubbles: true, cancelable: true }));
    await settle();
    // Keys may be an account number the line asked for: the command, not the action.
    assert.equal(hass.services.length, 0);
    assert.deepEqual(calls(hass), [
      { type: "hold_slayer/call/send_dtmf", config_entry_id: ENTRY_ID, call_id: CALL_ID, digits: "#" },
      { type: "hold_slayer/call/send_dtmf", config_entry_id: ENTRY_ID, call_id: CALL_ID, digits: "4" },
    ]);
    toggle.click();
    assert.ok(!visible(card, ".keypad"));
  });

  test("Say a phrase", async () => {
    const hass = makeHass({ state: "human" });
    const card = mount(hass);
    const input = $(card, 'input[name="text"]');
    submit($(card, ".say"));
    await settle();
    assert.equal(hass.services.length, 0);
    input.value = "I will be right there";
    submit($(card, ".say"));
    await settle();
    assert.deepEqual(hass.services[0], {
      domain: "hold_slayer",
      service: "say",
      data: { config_entry_id: ENTRY_ID, call_id: CALL_ID, text: "I will be right there" },
    });
    assert.equal(input.value, "");
  });

  test("an action's error is shown (role alert) and can be dismissed; the input is kept", async () => {
    const hass = makeHass();
    hass.commandError = { code: "service_validation_error", message: "Hold Slayer refuses to call emergency numbers." };
    const card = mount(hass);
    $(card, 'input[name="target"]').value = "911";
    $(card, 'input[name="goal"]').value = "test";
    submit($(card, ".start"));
    await settle();
    const box = $(card, ".error");
    assert.ok(!box.hidden);
    assert.equal(box.getAttribute("role"), "alert");
    assert.equal($(card, ".error-text").textContent, "Hold Slayer refuses to call emergency numbers.");
    assert.equal($(card, 'input[name="goal"]').value, "test");
    assert.equal($(card, ".call").disabled, false, "the buttons are enabled again");
    $(card, ".dismiss").click();
    assert.ok(box.hidden);
    // The next action that succeeds clears an old error too.
    hass.commandError = new Error("Connection lost");
    submit($(card, ".start"));
    await settle();
    assert.equal($(card, ".error-text").textContent, "Connection lost");
    hass.commandError = null;
    submit($(card, ".start"));
    await settle();
    assert.ok(box.hidden);
  });

  test("buttons are disabled while an action runs", async () => {
    const hass = makeHass({ state: "on_hold" });
    let release;
    hass.callService = function callService(domain, service, data) {
      this.services.push({ domain, service, data });
      return new Promise((resolve) => {
        release = resolve;
      });
    };
    const card = mount(hass);
    $(card, ".hangup").click();
    assert.equal($(card, ".hangup").disabled, true);
    assert.equal($(card, ".transfer").disabled, true);
    release();
    await settle();
    assert.equal($(card, ".hangup").disabled, false);
  });

  test("without a phone book the form still takes a name", async () => {
    const hass = makeHass();
    hass.wsError = { code: "unknown_command", message: "Unknown command." };
    const card = mount(hass);
    await settle();
    assert.equal($$(card, "#hold-slayer-companies option").length, 0);
    assert.ok(!visible(card, ".error"), "a missing phone book is no error");
  });
});

describe("accessibility", () => {
  test("every control has a name and the forms are labelled", () => {
    const card = mount(makeHass({ state: "ivr" }));
    $(card, ".keypad-toggle").click();
    for (const button of $$(card, "button")) {
      const name = button.getAttribute("aria-label") || button.textContent.trim();
      assert.ok(name, `button ${button.className} has a name`);
    }
    for (const input of $$(card, "input")) {
      assert.equal(input.closest("label")?.tagName, "LABEL", `${input.name} sits in a label`);
    }
    assert.equal($(card, ".start").getAttribute("aria-label"), STRINGS.startCall);
    assert.equal($(card, ".say").getAttribute("aria-label"), STRINGS.sayLabel);
    assert.equal($(card, ".transcript").getAttribute("aria-label"), STRINGS.transcript);
  });

  test("the styles use theme variables only, with dark mode, narrow widths and reduced motion", () => {
    const css = $(mount(makeHass()), "style").textContent;
    const colours = css.match(/#[0-9a-f]{3,8}\b|rgb\(|hsl\(/gi) ?? [];
    assert.deepEqual(colours, [], "no literal colours: the theme decides (dark mode too)");
    assert.match(css, /var\(--primary-text-color\)/);
    assert.match(css, /@media \(max-width: 420px\)/);
    assert.match(css, /prefers-reduced-motion/);
    assert.doesNotMatch(css, /ha-(?!card)[a-z-]+/, "no HA internals besides ha-card");
  });
});

describe("helpers", () => {
  test("formatDuration", () => {
    assert.equal(formatDuration(0), "0:00");
    assert.equal(formatDuration(75.9), "1:15");
    assert.equal(formatDuration(3725), "1:02:05");
    assert.equal(formatDuration(-3), "0:00");
    assert.equal(formatDuration("nope"), "0:00");
  });

  test("durationSeconds in any unit", () => {
    assert.equal(durationSeconds(undefined), null);
    assert.equal(durationSeconds({ state: "unknown", attributes: {} }), null);
    assert.equal(durationSeconds({ state: "90", attributes: {} }), 90);
    assert.equal(durationSeconds({ state: "1.5", attributes: { unit_of_measurement: "min" } }), 90);
    assert.equal(durationSeconds({ state: "2", attributes: { unit_of_measurement: "h" } }), 7200);
  });

  test("deciderOf", () => {
    assert.equal(deciderOf("learned route"), "route");
    assert.equal(deciderOf("rules"), "rule");
    assert.equal(deciderOf("navigator"), "rule");
    assert.equal(deciderOf("AI Task ai_task.local"), "ai");
    assert.equal(deciderOf("OpenAI-compatible model llama3"), "ai");
    assert.equal(deciderOf(""), "you");
    assert.equal(deciderOf(undefined), "you");
  });

  test("looksLikeNumber", () => {
    for (const number of ["+18005550100", "1-800-555-0100", "(800) 555 0100", "sip:bank@pbx.lan", "201"]) {
      assert.ok(looksLikeNumber(number), number);
    }
    for (const name of ["Demo Bank", "my bank", "3M", "12", ""]) {
      assert.ok(!looksLikeNumber(name), name);
    }
  });

  test("errorMessage", () => {
    assert.equal(errorMessage({ code: "x", message: "translated" }), "translated");
    assert.equal(errorMessage({ body: { message: "from the body" } }), "from the body");
    assert.equal(errorMessage({ error: { message: "nested" } }), "nested");
    assert.equal(errorMessage("plain"), "plain");
    assert.equal(errorMessage(null), "Unknown error");
  });

  test("timelineLayout and summary of an empty strip", () => {
    assert.deepEqual(timelineLayout([], []), { extent: 0, spans: [], marks: [] });
    assert.equal(timelineSummary([], []), STRINGS.timelineEmpty);
    const layout = timelineLayout([{ start: 2, end: 2, kind: "speech" }, { start: 2, end: 4, kind: "music" }], []);
    assert.deepEqual(layout.spans.map((span) => span.kind), ["music"], "empty spans are not drawn");
  });

  test("lineEntities finds only this line's entities", () => {
    const hass = makeHass();
    const ids = lineEntities(hass, ENTRY_ID);
    assert.equal(ids.call_state, ENTITY.call_state);
    assert.equal(ids.call_event, ENTITY.call_event);
    assert.deepEqual(lineEntities(hass, "other-entry"), {});
    assert.deepEqual(lineEntities(undefined, ENTRY_ID), {});
  });

  test("viewModel of an idle line", () => {
    const vm = viewModel(makeHass(), { config_entry_id: ENTRY_ID });
    assert.equal(vm.state, "idle");
    assert.equal(vm.callId, null);
    assert.equal(vm.holdSeconds, null);
    assert.equal(vm.live, false);
  });
});
