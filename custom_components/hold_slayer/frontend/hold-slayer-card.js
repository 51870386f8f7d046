// Hold Slayer dashboard card: one line's call as it happens, and the controls to run it.
//
// A plain, dependency-free ES module (no build step). Home Assistant loads it on every dashboard
// (the integration registers it as an extra module, its URL versioned by the file's hash). It reads
// the line's entities (found through the entity and device registries by the config entry), asks
// the integration's websocket command for the timeline strip while a call is live (every
// POLL_MS, never faster than MIN_FETCH_MS), and calls the integration's actions. Starting a call
// and the keypad, which may carry an account number or a PIN, use the integration's websocket
// commands that run the same code: HA's recorder keeps every action's data. Texts come in masked
// from the integration; the card shows them with textContent only, and secrets typed into the
// card are sent once and never shown or kept.

export const DOMAIN = "hold_slayer";
export const CARD_TYPE = "hold-slayer-card";
export const POLL_MS = 2000; // the timeline strip, while a call is live
export const MIN_FETCH_MS = 1000; // never ask for the strip more often than this
export const LIVE_STATES = new Set([
  "dialing",
  "ringing",
  "ivr",
  "on_hold",
  "human",
  "transferring",
  "connected",
]);
const ANSWERED_STATES = new Set(["ivr", "on_hold", "human", "transferring", "connected"]);
const TRANSFERABLE_STATES = new Set(["ivr", "on_hold", "human"]);
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const TIMELINE_KINDS = ["music", "speech", "announcement", "silence", "tone"];
// Names the line's prompts ask for most; the call keys a secret when a prompt names it.
const SECRET_NAMES = ["account_number", "pin", "policy_number", "member_id", "date_of_birth", "zip_code"];

// Every string the card shows, in one table (English for now).
export const STRINGS = {
  name: "Hold Slayer",
  description: "Watch a Hold Slayer call get through the menu and wait on hold, and catch the person.",
  states: {
    idle: "Idle",
    dialing: "Dialing",
    ringing: "Ringing",
    ivr: "In the phone menu",
    on_hold: "On hold",
    human: "Person on the line",
    transferring: "Transferring to your desk",
    connected: "Connected",
    ended: "Ended",
    failed: "Failed",
    unavailable: "Unavailable",
    unknown: "Unknown",
  },
  person: "A person is on the line!",
  transferring: "Ringing your desk phone…",
  connected: "The call is on your desk phone.",
  onHoldFor: "On hold for",
  holdTime: "Hold time",
  queuePosition: "Position in the queue",
  estimatedWait: "Estimated wait",
  minutes: (n) => `${n} min`,
  company: "Company",
  goal: "Goal",
  endedBecause: (reason) => `Why it ended: ${reason}`,
  numberNeeded: (wanted) => `The line asks for the ${wanted}, which this call was not given: key it in below.`,
  timeline: "What the line sounded like",
  timelineEmpty: "The strip fills in once the call is answered.",
  timelineLabel: (summary) => `Timeline: ${summary}`,
  kinds: {
    music: "music",
    speech: "speech",
    announcement: "announcement",
    silence: "silence",
    tone: "tones",
  },
  marks: {
    choice: "menu choice",
    hold: "hold started",
    person: "person answered",
    retracted: "not a person after all",
  },
  choices: "Menu choices",
  deciders: {
    route: "learned route",
    rule: "rule",
    ai: "AI",
    you: "you",
  },
  transcript: "Transcript",
  transcriptEmpty: "Nothing said yet.",
  speakers: { line: "Line", us: "Hold Slayer" },
  startCall: "Start a call",
  companyOrNumber: "Company or number",
  companyHelp: "A company from the line's phone book, or a phone number",
  goalPlaceholder: "What the call is about",
  secrets: "Account numbers and PINs",
  secretsHelp: "Keyed in when the line asks for one by its name; never shown, spoken or stored.",
  secretName: "Name",
  secretNamePlaceholder: "account_number",
  secretValue: "Number",
  addSecret: "Add another",
  secretNameNeeded: "Give each number a name, such as account_number.",
  secretValueNeeded: (name) => `${name} has no number.`,
  call: "Call",
  hangUp: "Hang up",
  transfer: "Transfer to desk",
  keypad: "Keypad",
  keypadLabel: "Keypad: press a key on the line",
  pressKey: (key) => `Press ${key}`,
  say: "Say",
  sayLabel: "A phrase to say on the line",
  sayPlaceholder: "Say a phrase…",
  dismiss: "Dismiss",
  error: (message) => message,
  noLine: "Choose a Hold Slayer line (config entry) for this card.",
  lineMissing: "This Hold Slayer line has no entities: is it set up and loaded?",
  form: {
    config_entry_id: "Hold Slayer line",
    title: "Title",
    sound: "Play a sound when a person answers",
  },
  formHelp: {
    config_entry_id: "The line (SIP account or demo company line) whose calls the card shows",
    title: "Leave empty for the line's name",
    sound: "A short chime in this browser, besides the banner",
  },
};

// -- pure helpers (exported for the tests) ------------------------------------------------------

/** The line's entity ids by translation key, found through the registries by config entry. */
export function lineEntities(hass, entryId) {
  const devices = new Set(
    Object.values(hass?.devices ?? {})
      .filter((device) => (device.config_entries ?? []).includes(entryId))
      .map((device) => device.id),
  );
  const ids = {};
  for (const entity of Object.values(hass?.entities ?? {})) {
    if (entity.platform === DOMAIN && devices.has(entity.device_id) && entity.translation_key) {
      ids[entity.translation_key] = entity.entity_id;
    }
  }
  return ids;
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

const UNIT_SECONDS = { s: 1, min: 60, h: 3600, d: 86400 };

/** A duration sensor's state in seconds, whatever unit the user shows it in. */
export function durationSeconds(stateObj) {
  if (!stateObj) return null;
  const value = Number.parseFloat(stateObj.state);
  if (!Number.isFinite(value)) return null;
  return value * (UNIT_SECONDS[stateObj.attributes?.unit_of_measurement] ?? 1);
}

/** Who made a menu choice, as the card names it: learned route, rule, AI or you. */
export function deciderOf(source) {
  const text = String(source ?? "");
  if (!text) return "you";
  if (text === "learned route") return "route";
  if (text === "rules" || text === "navigator") return "rule";
  return "ai";
}

/** Where spans and marks go on the strip, in percent of its width. */
export function timelineLayout(spans, marks) {
  const extent = Math.max(
    0,
    ...spans.map((span) => span.end),
    ...marks.map((mark) => mark.at),
  );
  if (extent <= 0) return { extent: 0, spans: [], marks: [] };
  const pct = (t) => Math.round((t / extent) * 10000) / 100;
  return {
    extent,
    spans: spans
      .filter((span) => span.end > span.start)
      .map((span) => ({ ...span, left: pct(span.start), width: pct(span.end - span.start) })),
    marks: marks.map((mark) => ({ ...mark, left: pct(mark.at) })),
  };
}

/** One sentence for screen readers: how long, what it was mostly, and the marks. */
export function timelineSummary(spans, marks) {
  const layout = timelineLayout(spans, marks);
  if (!layout.extent) return STRINGS.timelineEmpty;
  const totals = {};
  for (const span of spans) totals[span.kind] = (totals[span.kind] ?? 0) + (span.end - span.start);
  const parts = Object.entries(totals)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, seconds]) => `${STRINGS.kinds[kind] ?? kind} ${formatDuration(seconds)}`);
  const moments = marks.map((mark) => `${STRINGS.marks[mark.kind] ?? mark.kind} at ${formatDuration(mark.at)}`);
  return [formatDuration(layout.extent), ...parts, ...moments].join("; ");
}

/** A phone number (or SIP URI) rather than a company name? */
export function looksLikeNumber(text) {
  const value = String(text).trim();
  return /^sip:/i.test(value) || (/^\+?[\d\s().\-*#]+$/.test(value) && /\d{3}/.test(value.replace(/\D/g, "")));
}

/**
 * The call's secrets from the form's name/number rows: names as the integration wants them
 * ("Account number" → "account_number"), empty rows skipped. `{secrets}`, or `{error}` for a
 * row with only one half.
 */
export function secretsFrom(rows) {
  const secrets = {};
  for (const [rawName, rawValue] of rows) {
    const name = String(rawName).trim().toLowerCase().replace(/[\s-]+/g, "_");
    const value = String(rawValue).trim();
    if (!name && !value) continue;
    if (!name) return { error: STRINGS.secretNameNeeded };
    if (!value) return { error: STRINGS.secretValueNeeded(name) };
    secrets[name] = value;
  }
  return { secrets };
}

/** A rejected action's message, as HA's websocket gives it (translated) or any error. */
export function errorMessage(err) {
  if (!err) return "Unknown error";
  if (typeof err === "string") return err;
  return err.message || err.body?.message || err.error?.message || String(err);
}

/** What the card shows, from the line's entities (no DOM: the tests read it directly). */
export function viewModel(hass, config, now = Date.now()) {
  const ids = lineEntities(hass, config.config_entry_id);
  const get = (key) => (ids[key] ? hass.states?.[ids[key]] : undefined);
  const call = get("call_state");
  const state = call ? call.state : ids.call_state ? "unavailable" : "unknown";
  const attributes = call?.attributes ?? {};
  const live = LIVE_STATES.has(state);
  let holdSeconds = durationSeconds(get("hold_time"));
  if (state === "on_hold") {
    // The sensor is written every few seconds; count on locally in between (from the start of
    // the hold while the sensor has no value yet).
    const written = Date.parse(holdSeconds === null ? call.last_changed : get("hold_time").last_updated);
    if (Number.isFinite(written)) holdSeconds = (holdSeconds ?? 0) + Math.max(0, (now - written) / 1000);
  }
  const queue = Number.parseInt(get("queue_position")?.state, 10);
  const wait = durationSeconds(get("estimated_wait"));
  const event = get("call_event")?.attributes ?? {};
  const over = state === "ended" || state === "failed";
  // Why it ended: the call sensor's own attributes, else the line's last event when it is this call's.
  const eventReason =
    (event.event_type === "call_ended" || event.event_type === "call_failed") &&
    (!event.call_id || event.call_id === attributes.call_id)
      ? event.reason || event.cause || ""
      : "";
  const endedReason = over ? attributes.end_reason || attributes.end_cause || eventReason : "";
  // The line asks for a number the call lacks (the line's last event, this call's): the keypad answers it.
  const numberNeeded =
    state === "ivr" && event.event_type === "number_needed" && (!event.call_id || event.call_id === attributes.call_id)
      ? event.wanted || "number"
      : null;
  const history = get("last_utterance")?.attributes?.history ?? [];
  return {
    found: Boolean(ids.call_state),
    title: config.title || hass.devices?.[hass.entities?.[ids.call_state]?.device_id]?.name || STRINGS.name,
    state,
    stateLabel: STRINGS.states[state] ?? state,
    live,
    callId: attributes.call_id ?? null,
    company: attributes.company || "",
    goal: attributes.goal || "",
    holdSeconds: state === "on_hold" || (holdSeconds ?? 0) > 0 ? holdSeconds : null,
    queuePosition: live && Number.isFinite(queue) ? queue : null,
    estimatedWaitMinutes: live && wait !== null ? Math.round(wait / 60) : null,
    endedReason,
    numberNeeded,
    transcript: history,
    person: state === "human",
    canTransfer: TRANSFERABLE_STATES.has(state),
    canPress: ANSWERED_STATES.has(state),
  };
}

// -- the card -----------------------------------------------------------------------------------

const STYLE = `
  :host { display: block; }
  ha-card { overflow: hidden; height: 100%; box-sizing: border-box; }
  .card { padding: 16px; display: flex; flex-direction: column; gap: 12px;
    color: var(--primary-text-color); border-left: 6px solid transparent; }
  .card[data-state="on_hold"] { border-left-color: var(--warning-color); }
  .card[data-state="human"], .card[data-state="transferring"], .card[data-state="connected"] {
    border-left-color: var(--success-color); }
  .card[data-state="failed"] { border-left-color: var(--error-color); }
  header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px; }
  .title { font-size: var(--ha-card-header-font-size, 1.25rem); font-weight: 500; }
  .badge { padding: 4px 12px; border-radius: 16px; font-weight: 500;
    background: var(--secondary-background-color); color: var(--primary-text-color); }
  .card[data-state="on_hold"] .badge { background: var(--warning-color); color: var(--text-primary-color); }
  .card[data-state="human"] .badge, .card[data-state="connected"] .badge {
    background: var(--success-color); color: var(--text-primary-color); }
  .card[data-state="failed"] .badge { background: var(--error-color); color: var(--text-primary-color); }
  .hold { display: flex; align-items: center; gap: 12px; padding: 12px; border-radius: 12px;
    border: 2px dashed var(--warning-color); }
  .hold .wave { display: flex; gap: 3px; align-items: flex-end; height: 24px; }
  .hold .wave span { width: 4px; height: 40%; background: var(--warning-color); border-radius: 2px;
    animation: hs-wave 1.2s ease-in-out infinite; }
  .hold .wave span:nth-child(2) { animation-delay: 0.2s; }
  .hold .wave span:nth-child(3) { animation-delay: 0.4s; }
  .hold .wave span:nth-child(4) { animation-delay: 0.6s; }
  @keyframes hs-wave { 0%, 100% { height: 30%; } 50% { height: 100%; } }
  .timer { font-size: 2rem; font-variant-numeric: tabular-nums; font-weight: 500; }
  .timer-label { color: var(--secondary-text-color); font-size: 0.875rem; }
  .person { padding: 16px; border-radius: 12px; text-align: center; font-size: 1.5rem; font-weight: 700;
    background: var(--success-color); color: var(--text-primary-color);
    animation: hs-pulse 1s ease-in-out 3; }
  @keyframes hs-pulse { 50% { transform: scale(1.03); } }
  .handoff { color: var(--secondary-text-color); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
  dt { color: var(--secondary-text-color); }
  dd { margin: 0; overflow-wrap: anywhere; }
  .reason { color: var(--error-color); }
  .needed { color: var(--warning-color); font-weight: 500; }
  h3 { margin: 0 0 4px; font-size: 0.875rem; font-weight: 500; color: var(--secondary-text-color); }
  .strip { position: relative; height: 24px; margin: 0 6px; border-radius: 6px; overflow: hidden;
    background: var(--secondary-background-color); }
  .span { position: absolute; top: 0; bottom: 0; }
  .kind-music { background: var(--purple-color, var(--accent-color)); }
  .kind-speech { background: var(--blue-color, var(--primary-color)); }
  .kind-announcement { background: var(--cyan-color, var(--info-color)); }
  .kind-silence { background: var(--divider-color); }
  .kind-tone { background: var(--amber-color, var(--warning-color)); }
  .marks { position: relative; height: 14px; margin: 0 6px; }
  .mark { position: absolute; top: 0; width: 0; height: 0; transform: translateX(-6px);
    border-left: 6px solid transparent; border-right: 6px solid transparent;
    border-bottom: 12px solid var(--primary-text-color); }
  .mark-person { border-bottom-color: var(--success-color); }
  .mark-hold { border-bottom-color: var(--warning-color); }
  .mark-retracted { border-bottom-color: var(--error-color); }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0 0; padding: 0; list-style: none;
    font-size: 0.75rem; color: var(--secondary-text-color); }
  .legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  .muted { color: var(--secondary-text-color); }
  ol.choices { margin: 0; padding-left: 20px; }
  .decider { display: inline-block; margin-left: 6px; padding: 0 8px; border-radius: 10px; font-size: 0.75rem;
    background: var(--secondary-background-color); color: var(--secondary-text-color); }
  .transcript { max-height: 160px; overflow-y: auto; border: 1px solid var(--divider-color);
    border-radius: 8px; padding: 8px; font-size: 0.875rem; }
  .transcript p { margin: 0 0 4px; }
  .transcript .speaker { font-weight: 500; margin-right: 6px; }
  .transcript .us .speaker { color: var(--primary-color); }
  .error { display: flex; gap: 8px; align-items: flex-start; justify-content: space-between; padding: 8px 12px;
    border-radius: 8px; border: 1px solid var(--error-color); color: var(--error-color); }
  form, .controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; }
  details.secrets { flex: 1 1 100%; font-size: 0.875rem; }
  details.secrets summary { cursor: pointer; color: var(--secondary-text-color); }
  details.secrets p { margin: 4px 0; font-size: 0.75rem; }
  .secret-row { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; }
  label { display: flex; flex-direction: column; gap: 2px; flex: 1 1 160px; min-width: 0;
    font-size: 0.75rem; color: var(--secondary-text-color); }
  input { font: inherit; font-size: 1rem; padding: 8px; border-radius: 6px; min-width: 0;
    border: 1px solid var(--divider-color); background: var(--card-background-color);
    color: var(--primary-text-color); }
  button { font: inherit; cursor: pointer; padding: 8px 16px; border-radius: 18px; min-height: 36px;
    border: 1px solid var(--primary-color); background: transparent; color: var(--primary-color); }
  button.primary { background: var(--primary-color); color: var(--text-primary-color); }
  button.danger { border-color: var(--error-color); background: var(--error-color); color: var(--text-primary-color); }
  button[disabled] { opacity: 0.5; cursor: default; }
  button:focus-visible, input:focus-visible, .transcript:focus-visible, .keypad:focus-visible {
    outline: 2px solid var(--primary-color); outline-offset: 2px; }
  .keypad { display: grid; grid-template-columns: repeat(3, minmax(48px, 1fr)); gap: 8px; max-width: 260px; }
  .keypad button { font-size: 1.25rem; border-radius: 8px; }
  [hidden] { display: none !important; }
  @media (max-width: 420px) {
    .card { padding: 12px; }
    .timer { font-size: 1.5rem; }
    .person { font-size: 1.25rem; }
    form > button, .controls > button { flex: 1 1 auto; }
  }
  @media (prefers-reduced-motion: reduce) {
    .hold .wave span, .person { animation: none; }
  }
`;

const TEMPLATE = `
  <ha-card>
    <div class="card" data-state="unknown">
      <header>
        <div class="title"></div>
        <div class="status" role="status" aria-live="polite"><span class="badge"></span></div>
      </header>
      <div class="setup muted" hidden></div>
      <div class="person" role="alert" hidden></div>
      <div class="handoff" role="status" hidden></div>
      <div class="hold" hidden>
        <div class="wave" aria-hidden="true"><span></span><span></span><span></span><span></span></div>
        <div><div class="timer-label"></div><div class="timer" role="timer"></div></div>
      </div>
      <dl class="details"></dl>
      <div class="reason" hidden></div>
      <div class="needed" role="status" hidden></div>
      <section class="timeline" hidden>
        <h3 class="timeline-title"></h3>
        <div class="strip" role="img"></div>
        <div class="marks" aria-hidden="true"></div>
        <ul class="legend" aria-hidden="true"></ul>
      </section>
      <section class="choices-section" hidden>
        <h3 class="choices-title"></h3>
        <ol class="choices"></ol>
      </section>
      <section class="transcript-section" hidden>
        <h3 class="transcript-title"></h3>
        <div class="transcript" role="log" aria-live="polite" tabindex="0"></div>
      </section>
      <div class="error" role="alert" hidden><span class="error-text"></span>
        <button type="button" class="dismiss"></button></div>
      <form class="start" hidden>
        <label><span class="company-label"></span>
          <input name="target" autocomplete="off" required></label>
        <label><span class="goal-label"></span><input name="goal" autocomplete="off"></label>
        <details class="secrets">
          <summary class="secrets-title"></summary>
          <p class="secrets-help muted"></p>
          <div class="secret-rows"></div>
          <button type="button" class="add-secret"></button>
        </details>
        <button type="submit" class="primary call"></button>
      </form>
      <div class="controls" hidden>
        <button type="button" class="danger hangup"></button>
        <button type="button" class="transfer"></button>
        <button type="button" class="keypad-toggle" aria-expanded="false"></button>
      </div>
      <div class="keypad" role="group" tabindex="0" hidden></div>
      <form class="say" hidden>
        <label><span class="say-label"></span><input name="text" maxlength="500" required></label>
        <button type="submit" class="say-button"></button>
      </form>
    </div>
  </ha-card>
`;

export class HoldSlayerCard extends HTMLElement {
  constructor() {
    super();
    this._config = null;
    this._hass = null;
    this._timeline = null; // the last strip fetched: {call_id, live, spans, marks}
    this._timelineFor = null; // which call, and whether it was live when fetched
    this._timelineDirty = false;
    this._lastFetch = -Infinity;
    this._fetching = false;
    this._companies = null; // phone-book names, fetched once per line
    this._lastState = null;
    this._busy = false;
    this._ticker = null;
    this._root = this.attachShadow({ mode: "open" });
    this._build();
  }

  // -- HA's card API ----------------------------------------------------------------------------

  static getConfigForm() {
    return {
      schema: [
        { name: "config_entry_id", required: true, selector: { config_entry: { integration: DOMAIN } } },
        { name: "title", selector: { text: {} } },
        { name: "sound", selector: { boolean: {} } },
      ],
      computeLabel: (schema) => STRINGS.form[schema.name],
      computeHelper: (schema) => STRINGS.formHelp[schema.name],
    };
  }

  /** The first Hold Slayer line (a loaded one if any). */
  static async getStubConfig(hass) {
    try {
      const entries = await hass.callWS({ type: "config_entries/get", domain: DOMAIN });
      const entry = entries.find((item) => item.state === "loaded") ?? entries[0];
      if (entry) return { config_entry_id: entry.entry_id };
    } catch (_err) {
      // Not an admin, or an older HA: fall back to the device registry below.
    }
    const device = Object.values(hass.devices ?? {}).find((item) =>
      Object.values(hass.entities ?? {}).some(
        (entity) => entity.platform === DOMAIN && entity.device_id === item.id,
      ),
    );
    const entryId = device?.primary_config_entry ?? device?.config_entries?.[0];
    return entryId ? { config_entry_id: entryId } : {};
  }

  setConfig(config) {
    if (!config || !config.config_entry_id) throw new Error(STRINGS.noLine);
    if (this._config && this._config.config_entry_id !== config.config_entry_id) {
      this._timeline = null;
      this._timelineFor = null;
      this._companies = null;
    }
    this._config = { sound: false, ...config };
    this._update();
  }

  set hass(hass) {
    this._hass = hass;
    this._update();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return 8;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, min_rows: 4 };
  }

  connectedCallback() {
    if (this._ticker === null) this._ticker = setInterval(() => this._tick(), 1000);
    this._update();
  }

  disconnectedCallback() {
    if (this._ticker !== null) clearInterval(this._ticker);
    this._ticker = null;
  }

  // -- building and updating the DOM -------------------------------------------------------------

  _$(selector) {
    return this._root.querySelector(selector);
  }

  _build() {
    this._root.innerHTML = `<style>${STYLE}</style>${TEMPLATE}`;
    const text = (selector, value) => {
      this._$(selector).textContent = value;
    };
    text(".timeline-title", STRINGS.timeline);
    text(".choices-title", STRINGS.choices);
    text(".transcript-title", STRINGS.transcript);
    text(".company-label", STRINGS.companyOrNumber);
    text(".goal-label", STRINGS.goal);
    text(".secrets-title", STRINGS.secrets);
    text(".secrets-help", STRINGS.secretsHelp);
    text(".add-secret", STRINGS.addSecret);
    text(".call", STRINGS.call);
    text(".hangup", STRINGS.hangUp);
    text(".transfer", STRINGS.transfer);
    text(".keypad-toggle", STRINGS.keypad);
    text(".say-label", STRINGS.say);
    text(".say-button", STRINGS.say);
    text(".dismiss", STRINGS.dismiss);
    text(".timer-label", STRINGS.onHoldFor);
    this._$(".start").setAttribute("aria-label", STRINGS.startCall);
    this._$(".transcript").setAttribute("aria-label", STRINGS.transcript);
    this._$(".keypad").setAttribute("aria-label", STRINGS.keypadLabel);
    this._$(".say").setAttribute("aria-label", STRINGS.sayLabel);
    this._$(".dismiss").setAttribute("aria-label", STRINGS.dismiss);
    const target = this._$('input[name="target"]');
    target.setAttribute("title", STRINGS.companyHelp);
    this._$('input[name="goal"]').setAttribute("placeholder", STRINGS.goalPlaceholder);
    this._$('input[name="text"]').setAttribute("placeholder", STRINGS.sayPlaceholder);
    const list = document.createElement("datalist");
    list.id = "hold-slayer-companies";
    this._$(".start").append(list);
    target.setAttribute("list", list.id);
    const names = document.createElement("datalist");
    names.id = "hold-slayer-secret-names";
    names.append(
      ...SECRET_NAMES.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }),
    );
    this._$(".start").append(names);
    this._addSecretRow();
    this._$(".add-secret").addEventListener("click", () => this._addSecretRow().querySelector("input").focus());
    const keypad = this._$(".keypad");
    for (const key of KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = key;
      button.dataset.key = key;
      button.setAttribute("aria-label", STRINGS.pressKey(key));
      button.addEventListener("click", () => this._press(key));
      keypad.append(button);
    }
    // Typing a key while the keypad has focus presses it (keyboard users, desk habits).
    keypad.addEventListener("keydown", (ev) => {
      if (KEYS.includes(ev.key) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        this._press(ev.key);
      }
    });
    this._$(".start").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._startCall();
    });
    this._$(".say").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._say();
    });
    this._$(".hangup").addEventListener("click", () => this._act("hangup"));
    this._$(".transfer").addEventListener("click", () => this._act("transfer"));
    this._$(".keypad-toggle").addEventListener("click", () => this._toggleKeypad());
    this._$(".dismiss").addEventListener("click", () => this._showError(null));
  }

  _update() {
    if (!this._config || !this._hass) return;
    const vm = viewModel(this._hass, this._config);
    this._vm = vm;
    const card = this._$(".card");
    card.dataset.state = vm.state;
    this._$(".title").textContent = vm.title;
    this._$(".badge").textContent = vm.stateLabel;
    const setup = this._$(".setup");
    setup.hidden = vm.found;
    setup.textContent = vm.found ? "" : STRINGS.lineMissing;

    // The moment: a person answered.
    const person = this._$(".person");
    person.hidden = !vm.person;
    person.textContent = vm.person ? STRINGS.person : "";
    if (vm.person && this._lastState !== null && this._lastState !== "human") this._chime();
    this._lastState = vm.state;
    const handoff = this._$(".handoff");
    const handoffText =
      vm.state === "transferring" ? STRINGS.transferring : vm.state === "connected" ? STRINGS.connected : "";
    handoff.hidden = !handoffText;
    handoff.textContent = handoffText;

    // On hold: the wave and the timer.
    this._$(".hold").hidden = vm.state !== "on_hold";
    this._renderTimer(vm);
    this._renderDetails(vm);
    const reason = this._$(".reason");
    reason.hidden = !vm.endedReason;
    reason.textContent = vm.endedReason ? STRINGS.endedBecause(vm.endedReason) : "";
    const needed = this._$(".needed");
    needed.hidden = !vm.numberNeeded;
    needed.textContent = vm.numberNeeded ? STRINGS.numberNeeded(vm.numberNeeded) : "";
    this._renderTranscript(vm.transcript);
    this._renderTimeline();

    // Controls.
    this._$(".start").hidden = vm.live || !vm.found;
    this._$(".controls").hidden = !vm.live;
    this._$(".transfer").hidden = !vm.canTransfer;
    this._$(".keypad-toggle").hidden = !vm.canPress;
    const keypadOpen = vm.canPress && this._$(".keypad-toggle").getAttribute("aria-expanded") === "true";
    this._$(".keypad").hidden = !keypadOpen;
    this._$(".say").hidden = !vm.canPress;
    for (const button of this._root.querySelectorAll("form button, .controls button, .keypad button")) {
      button.disabled = this._busy;
    }

    if (vm.found && !vm.live && this._companies === null) this._fetchCompanies();
    this._followTimeline(vm);
  }

  _renderTimer(vm) {
    const timer = this._$(".timer");
    const text = vm.holdSeconds === null ? "" : formatDuration(vm.holdSeconds);
    if (timer.textContent !== text) timer.textContent = text;
  }

  _renderDetails(vm) {
    const rows = [];
    if (vm.company) rows.push([STRINGS.company, vm.company]);
    if (vm.goal) rows.push([STRINGS.goal, vm.goal]);
    if (vm.state !== "on_hold" && vm.holdSeconds !== null) rows.push([STRINGS.holdTime, formatDuration(vm.holdSeconds)]);
    if (vm.queuePosition !== null) rows.push([STRINGS.queuePosition, String(vm.queuePosition)]);
    if (vm.estimatedWaitMinutes !== null) rows.push([STRINGS.estimatedWait, STRINGS.minutes(vm.estimatedWaitMinutes)]);
    const key = JSON.stringify(rows);
    const details = this._$(".details");
    if (details.dataset.key === key) return;
    details.dataset.key = key;
    details.replaceChildren(
      ...rows.flatMap(([term, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = term;
        const dd = document.createElement("dd");
        dd.textContent = value;
        return [dt, dd];
      }),
    );
  }

  _renderTranscript(lines) {
    const section = this._$(".transcript-section");
    section.hidden = !lines.length && !this._vm?.live;
    const box = this._$(".transcript");
    const key = JSON.stringify(lines);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    if (!lines.length) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = STRINGS.transcriptEmpty;
      box.replaceChildren(empty);
      return;
    }
    box.replaceChildren(
      ...lines.map((line) => {
        const p = document.createElement("p");
        p.className = line.speaker === "us" ? "us" : "line";
        const who = document.createElement("span");
        who.className = "speaker";
        who.textContent = `${STRINGS.speakers[line.speaker] ?? line.speaker}:`;
        p.append(who, document.createTextNode(line.text));
        return p;
      }),
    );
    if (atBottom) box.scrollTop = box.scrollHeight; // follow the conversation unless the user scrolled up
  }

  _renderTimeline() {
    const data = this._timeline;
    const callId = this._vm?.callId;
    const section = this._$(".timeline");
    const choicesSection = this._$(".choices-section");
    if (!data || !callId || data.call_id !== callId) {
      section.hidden = true;
      choicesSection.hidden = true;
      return;
    }
    section.hidden = false;
    const strip = this._$(".strip");
    const marksBox = this._$(".marks");
    const key = JSON.stringify([data.spans, data.marks]);
    if (strip.dataset.key === key) return;
    strip.dataset.key = key;
    const layout = timelineLayout(data.spans, data.marks);
    this._$(".timeline-title").textContent = layout.extent
      ? `${STRINGS.timeline} · ${formatDuration(layout.extent)}`
      : STRINGS.timeline;
    strip.setAttribute("aria-label", STRINGS.timelineLabel(timelineSummary(data.spans, data.marks)));
    strip.replaceChildren(
      ...layout.spans.map((span) => {
        const div = document.createElement("div");
        div.className = `span kind-${span.kind}`;
        div.style.left = `${span.left}%`;
        div.style.width = `${span.width}%`;
        div.title = `${STRINGS.kinds[span.kind] ?? span.kind} ${formatDuration(span.start)}–${formatDuration(span.end)}`;
        return div;
      }),
    );
    marksBox.replaceChildren(
      ...layout.marks.map((mark) => {
        const div = document.createElement("div");
        div.className = `mark mark-${mark.kind}`;
        div.style.left = `${mark.left}%`;
        const what = mark.text || STRINGS.marks[mark.kind] || mark.kind;
        div.title = `${formatDuration(mark.at)} ${what}${mark.source ? ` (${mark.source})` : ""}`;
        return div;
      }),
    );
    const kinds = TIMELINE_KINDS.filter((kind) => data.spans.some((span) => span.kind === kind));
    this._$(".legend").replaceChildren(
      ...kinds.map((kind) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = `swatch kind-${kind}`;
        li.append(swatch, document.createTextNode(STRINGS.kinds[kind]));
        return li;
      }),
    );
    const choices = data.marks.filter((mark) => mark.kind === "choice");
    choicesSection.hidden = !choices.length;
    this._$(".choices").replaceChildren(
      ...choices.map((mark) => {
        const li = document.createElement("li");
        li.append(document.createTextNode(`${formatDuration(mark.at)} ${mark.text}`));
        const chip = document.createElement("span");
        const decider = deciderOf(mark.source);
        chip.className = `decider decider-${decider}`;
        chip.textContent = STRINGS.deciders[decider];
        if (mark.source) chip.title = mark.source;
        li.append(chip);
        return li;
      }),
    );
  }

  // -- the timeline strip: asked for while a call is live, never faster than MIN_FETCH_MS ---------

  _followTimeline(vm) {
    if (!vm.callId) return;
    const seen = this._timelineFor;
    if (!seen || seen.callId !== vm.callId || (seen.live && !vm.live)) {
      // A new call, or the call just ended: fetch (again) once.
      this._timelineFor = { callId: vm.callId, live: vm.live };
      this._timelineDirty = true;
    }
    this._maybeFetchTimeline();
  }

  _tick() {
    if (!this._vm || !this._hass || !this._config) return;
    if (this._vm.state === "on_hold") {
      this._renderTimer(viewModel(this._hass, this._config));
    }
    if (document.visibilityState === "hidden") return; // nobody looks: HA may even be disconnected
    if (this._vm.live && Date.now() - this._lastFetch >= POLL_MS) this._timelineDirty = true;
    this._maybeFetchTimeline();
  }

  async _maybeFetchTimeline() {
    if (!this._timelineDirty || this._fetching || !this.isConnected || !this._hass) return;
    if (Date.now() - this._lastFetch < MIN_FETCH_MS) return; // the ticker comes back
    this._timelineDirty = false;
    this._fetching = true;
    this._lastFetch = Date.now();
    const callId = this._vm.callId;
    try {
      const result = await this._hass.callWS({
        type: `${DOMAIN}/call/timeline`,
        config_entry_id: this._config.config_entry_id,
        call_id: callId,
      });
      this._timeline = result.call;
    } catch (err) {
      this._showError(errorMessage(err));
    } finally {
      this._fetching = false;
    }
    this._renderTimeline();
  }

  async _fetchCompanies() {
    this._companies = [];
    try {
      const result = await this._hass.callWS({
        type: `${DOMAIN}/phone_book`,
        config_entry_id: this._config.config_entry_id,
      });
      this._companies = result.companies;
    } catch (_err) {
      return; // The form still takes a number or a name typed in full.
    }
    const list = this._$("#hold-slayer-companies");
    list.replaceChildren(
      ...this._companies.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }),
    );
  }

  // -- actions ------------------------------------------------------------------------------------

  _callService(service, data) {
    // No toast from HA (notifyOnError false): the card shows the error itself.
    return this._request(() =>
      this._hass.callService(DOMAIN, service, { config_entry_id: this._config.config_entry_id, ...data }, undefined, false),
    );
  }

  /** The integration's websocket command for a control that may carry a secret (call/start, call/send_dtmf). */
  _command(command, data) {
    return this._request(() =>
      this._hass.callWS({ type: `${DOMAIN}/call/${command}`, config_entry_id: this._config.config_entry_id, ...data }),
    );
  }

  async _request(send) {
    this._busy = true;
    this._showError(null);
    this._update();
    try {
      await send();
      return true;
    } catch (err) {
      this._showError(errorMessage(err));
      return false;
    } finally {
      this._busy = false;
      this._update();
    }
  }

  _callData() {
    return this._vm?.callId ? { call_id: this._vm.callId } : {};
  }

  _addSecretRow() {
    const row = document.createElement("div");
    row.className = "secret-row";
    row.innerHTML = `<label><span></span><input name="secret-name" autocomplete="off" spellcheck="false"
      list="hold-slayer-secret-names"></label><label><span></span><input name="secret-value" type="password"
      inputmode="numeric" autocomplete="off"></label>`;
    const [nameLabel, valueLabel] = row.querySelectorAll("label > span");
    nameLabel.textContent = STRINGS.secretName;
    valueLabel.textContent = STRINGS.secretValue;
    row.querySelector('input[name="secret-name"]').setAttribute("placeholder", STRINGS.secretNamePlaceholder);
    this._$(".secret-rows").append(row);
    return row;
  }

  _secretRows() {
    return [...this._root.querySelectorAll(".secret-row")].map((row) => [
      row.querySelector('input[name="secret-name"]').value,
      row.querySelector('input[name="secret-value"]').value,
    ]);
  }

  async _startCall() {
    const target = this._$('input[name="target"]').value.trim();
    const goal = this._$('input[name="goal"]').value.trim();
    if (!target) return;
    const { secrets, error } = secretsFrom(this._secretRows());
    if (error) {
      this._showError(error);
      return;
    }
    const data = looksLikeNumber(target) ? { number: target } : { company: target };
    if (goal) data.goal = goal;
    if (Object.keys(secrets).length) data.secrets = secrets;
    if (!(await this._command("start", data))) return; // everything typed is kept to fix
    this._$('input[name="goal"]').value = "";
    // Secrets are sent once and not kept in the page: one empty row again, folded away.
    this._$(".secret-rows").replaceChildren();
    this._addSecretRow();
    this._$(".secrets").open = false;
  }

  _act(service) {
    return this._callService(service, this._callData());
  }

  _press(key) {
    return this._command("send_dtmf", { ...this._callData(), digits: key });
  }

  async _say() {
    const input = this._$('input[name="text"]');
    const text = input.value.trim();
    if (!text) return;
    if (await this._callService("say", { ...this._callData(), text })) input.value = "";
  }

  _toggleKeypad() {
    const toggle = this._$(".keypad-toggle");
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    this._update();
    if (open) this._$(".keypad button").focus();
  }

  _showError(message) {
    const box = this._$(".error");
    box.hidden = !message;
    this._$(".error-text").textContent = message ? STRINGS.error(message) : "";
  }

  _chime() {
    if (!this._config.sound) return;
    const Context = globalThis.AudioContext ?? globalThis.webkitAudioContext;
    if (!Context) return;
    try {
      const context = new Context();
      [880, 1320].forEach((frequency, index) => {
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.frequency.value = frequency;
        gain.gain.value = 0.2;
        oscillator.connect(gain).connect(context.destination);
        const start = context.currentTime + index * 0.25;
        oscillator.start(start);
        oscillator.stop(start + 0.2);
      });
      setTimeout(() => context.close(), 1000);
    } catch (_err) {
      // No sound (autoplay rules); the banner is there.
    }
  }
}

/** Define the card in the page's registry and offer it in the card picker (once each). */
export function registerCard() {
  if (!customElements.get(CARD_TYPE)) customElements.define(CARD_TYPE, HoldSlayerCard);
  window.customCards = window.customCards || [];
  if (!window.customCards.some((card) => card.type === CARD_TYPE)) {
    window.customCards.push({
      type: CARD_TYPE,
      name: STRINGS.name,
      description: STRINGS.description,
      preview: true,
      documentationURL: "https://github.com/hold-slayer/hold-slayer#dashboard-card",
    });
  }
}

// HA loads this file beside its own app bundle, in either order. The app (2025.4) installs a
// scoped custom-element registry that replaces window.customElements: a card defined before that
// is invisible to dashboards ("Custom element doesn't exist", seen in the browser test about one
// load in three). So on an HA page whose <home-assistant> is not defined yet, define the card once
// it is (the registry is final by then); elsewhere (or later) at once.
if (document.querySelector("home-assistant") && !customElements.get("home-assistant")) {
  customElements.whenDefined("home-assistant").then(registerCard);
} else {
  registerCard();
}
