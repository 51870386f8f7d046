// A stand-in for the `hass` object Home Assistant's frontend hands a card: states, the entity and
// device registries as the frontend holds them, and callService/callWS that record what they get.
// It is the card's boundary: the same calls go to a real HA in the browser test (issue 15 §2).

export const ENTRY_ID = "01JCARDTESTENTRY000000001";
export const DEVICE_ID = "device-line-1";
export const CALL_ID = "c0ffee01";

const KEYS = {
  call_state: "sensor.demo_line_call",
  hold_time: "sensor.demo_line_hold_time",
  last_utterance: "sensor.demo_line_last_utterance",
  queue_position: "sensor.demo_line_queue_position",
  estimated_wait: "sensor.demo_line_estimated_wait",
  on_hold: "binary_sensor.demo_line_on_hold",
  human_on_line: "binary_sensor.demo_line_person_on_the_line",
  call_event: "event.demo_line_call_event",
};

export const ENTITY = KEYS;

/** A fake hass for one Hold Slayer line whose current call is in `state`. */
export function makeHass({ state = "idle", call = {}, states = {}, timeline = null, companies = ["Demo Bank"] } = {}) {
  const entities = {};
  for (const [key, entityId] of Object.entries(KEYS)) {
    entities[entityId] = { entity_id: entityId, device_id: DEVICE_ID, platform: "hold_slayer", translation_key: key };
  }
  // Another integration's entity on another device: never picked up.
  entities["sensor.other"] = { entity_id: "sensor.other", device_id: "other", platform: "demo", translation_key: "call_state" };
  const hass = {
    devices: {
      [DEVICE_ID]: { id: DEVICE_ID, name: "Demo company line", config_entries: [ENTRY_ID], primary_config_entry: ENTRY_ID },
      other: { id: "other", name: "Other", config_entries: ["other-entry"] },
    },
    entities,
    states: {
      [KEYS.call_state]: {
        entity_id: KEYS.call_state,
        state,
        attributes: state === "idle" ? { calls: [] } : { call_id: CALL_ID, company: "Demo Bank", goal: "a question about my bill", ...call },
        last_updated: new Date().toISOString(),
        last_changed: new Date().toISOString(),
      },
      ...states,
    },
    services: [],
    ws: [],
    serviceError: null,
    wsError: null,
    commandError: null, // for the call commands (call/start, call/send_dtmf)
    timeline,
    companies,
    async callService(domain, service, data, target, notifyOnError) {
      this.services.push({ domain, service, data });
      this.notifyOnError = notifyOnError;
      if (this.serviceError) throw this.serviceError;
      return { context: { id: "ctx" } };
    },
    async callWS(msg) {
      this.ws.push(msg);
      if (this.wsError) throw this.wsError;
      if (msg.type === "hold_slayer/call/timeline") return { call: this.timeline };
      if (msg.type === "hold_slayer/phone_book") return { companies: this.companies };
      if (msg.type === "config_entries/get") return this.entries ?? [];
      if (msg.type === "hold_slayer/call/start" || msg.type === "hold_slayer/call/send_dtmf") {
        if (this.commandError) throw this.commandError;
        return msg.type.endsWith("start") ? { call_id: CALL_ID } : null;
      }
      throw { code: "unknown_command", message: `Unknown command ${msg.type}` };
    },
  };
  return hass;
}

/** The same hass, a new object (as HA hands cards on every state change), with changes. */
export function withState(hass, entityId, state, attributes = {}, extra = {}) {
  return {
    ...hass,
    states: {
      ...hass.states,
      [entityId]: {
        entity_id: entityId,
        state,
        attributes,
        last_updated: new Date().toISOString(),
        last_changed: new Date().toISOString(),
        ...extra,
      },
    },
  };
}

/** Let pending promises (the card's service and websocket calls) settle. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}
