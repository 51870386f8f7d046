"""End to end in Home Assistant: from ``hold_slayer.call`` to the desk phone hearing the agent.

Everything is real: HA's wyoming integration serving the real Whisper and Piper servers, the
demo company line (the simulator in HA's process, voiced by that Piper entity) answering a short
scenario written here, the automations made from the shipped blueprints, and ``baresip`` as the
user's desk phone. Only the lights and the phone notification are stand-in services.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.hold_slayer import demo_entry
from custom_components.hold_slayer.const import (
    CONF_DEMO,
    CONF_DESK_EXTENSION,
    CONF_PHONE_BOOK,
    CONF_STT_ENGINE,
    CONF_TTS_ENGINE,
    DOMAIN,
    EVENT_HOLD_SLAYER,
)
from custom_components.hold_slayer.demo.scenario import HumanNode, Scenario, parse_scenario
from custom_components.hold_slayer.demo.simulator import ANYONE_THERE, CompanySimulator
from custom_components.hold_slayer.models import HoldSlayerConfigEntry
from custom_components.hold_slayer.voice.pcm import Pcm
from harness.servers.baresip import baresip_peer, read_wav
from harness.signals import best_alignment
from tests.test_speech import add_wyoming

pytestmark = pytest.mark.usefixtures("socket_enabled")

BLUEPRINTS = Path(__file__).parent.parent / "blueprints" / "automation" / "hold_slayer"
NUMBER = "+18005550177"
# The agent greets, waits for the caller (who stays silent: the bridge is not up yet), asks
# "Hello? Is anyone there?" after PATIENCE seconds, and gives up: the desk phone hears that.
AGENT = "Thanks for holding, this is Dana at Demo Gas billing. How can I help?"
PATIENCE = 10
SCENARIO = f"""
version: 1
id: demo-gas-e2e
description: One DTMF menu, a short hold with piano music, then an agent.
language: en
line: {{number: "{NUMBER}", rings: 1, answer: ok}}
voices: {{ivr: "tts:ivr-1", agent: "tts:human-1"}}
start: main
nodes:
  main:
    say: "Thank you for calling Demo Gas. For billing, press 1. For gas leaks, press 2."
    input: {{dtmf: {{"1": queue, "2": leaks}}, timeout: 8, retries: 1, invalid: main, on_fail: queue}}
  leaks:
    say: "Please leave the building and call us from outside. Goodbye."
    hangup: true
  queue:
    hold: {{music: piano, seconds: 15}}
    next: agent
  agent:
    human: {{voice: agent, say: "{AGENT}", patience: {PATIENCE}}}
expect:
  intent: "a question about my gas bill"
  reaches: agent
  path: [main, queue, agent]
  max_seconds: 80
"""
WALK = ["dialing", "ringing", "ivr", "on_hold", "human", "transferring", "connected"]
CALL_WITHIN = 90.0  # ring, menu and 20 s of hold, on a loaded machine
MIN_CORRELATION = 0.9  # bit-exact G.711 both ways; the margin is jitter-buffer resampling


def _subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(state in remaining for state in wanted)


async def _automations(hass: HomeAssistant, entry_id: str) -> None:
    target = Path(hass.config.path("blueprints", "automation", "hold_slayer"))
    target.mkdir(parents=True, exist_ok=True)
    for name in ("bridge_to_desk.yaml", "person_answered_alert.yaml"):
        shutil.copy(BLUEPRINTS / name, target / name)
    config = {
        "automation": [
            # No desk given: the line's desk extension (its options) is rung.
            {"use_blueprint": {"path": "hold_slayer/bridge_to_desk.yaml", "input": {"line": entry_id}}},
            {
                "use_blueprint": {
                    "path": "hold_slayer/person_answered_alert.yaml",
                    "input": {
                        "line": entry_id,
                        "lights": ["light.office"],
                        "notify_action": "notify.mobile_app_phone",
                    },
                }
            },
        ]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()


async def _agent_says(simulator: CompanySimulator, scenario: Scenario, text: str) -> Pcm:
    node = scenario.nodes["agent"]
    assert isinstance(node, HumanNode)
    # The voice bank's cache: exactly the samples the simulator sends.
    return await simulator.voices.speak(text, scenario.voices[node.voice], language="en")


async def _demo_line(hass: HomeAssistant, stt_id: str, tts_id: str, desk: str) -> HoldSlayerConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Hold Slayer demo line",
        unique_id="demo",
        data={CONF_DEMO: True},
        options={
            CONF_PHONE_BOOK: [{"name": "Demo Gas", "aliases": [], "number": NUMBER}],
            CONF_STT_ENGINE: stt_id,
            CONF_TTS_ENGINE: tts_id,
            CONF_DESK_EXTENSION: desk,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


class StateWatch:
    """The states HA records for some of the line's entities, and when the call reads "connected"."""

    def __init__(self, hass: HomeAssistant, entry_id: str, platform: str, *keys: str) -> None:
        registry = er.async_get(hass)
        self.keys = {registry.async_get_entity_id(platform, DOMAIN, f"{entry_id}_{key}"): key for key in keys}
        assert None not in self.keys
        self.states: dict[str, list[str]] = {key: [] for key in keys}
        self.connected = asyncio.Event()
        self.stop = async_track_state_change_event(hass, [str(e) for e in self.keys], self._on_state)

    @callback
    def _on_state(self, event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        seen = self.states[self.keys[event.data["entity_id"]]]
        if new is not None and (not seen or seen[-1] != new.state):
            seen.append(new.state)
            if new.state == "connected":
                self.connected.set()


async def _assert_learned(hass: HomeAssistant, entry_id: str, *, company: str, first_step: str) -> None:
    """The line learned one route, through ``company``'s menu, starting with ``first_step``."""
    response = await hass.services.async_call(
        DOMAIN, "list_routes", {"config_entry_id": entry_id}, blocking=True, return_response=True
    )
    routes: list[dict[str, Any]] = response["routes"]  # type: ignore[assignment,index]
    assert [(r["company"], r["steps"][0], r["calls"]) for r in routes] == [(company, first_step, 1)]


async def test_call_to_desk_phone(
    hass: HomeAssistant,
    wyoming_stt: tuple[str, int],
    wyoming_tts: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """call → dialing … on_hold → human → human_detected → blueprint → transfer → desk hears the agent."""
    scenario = parse_scenario(SCENARIO, source="test_e2e_desk.py")
    monkeypatch.setattr(demo_entry, "demo_scenarios", lambda: [scenario])
    stt_id = await add_wyoming(hass, wyoming_stt[1], "stt")
    tts_id = await add_wyoming(hass, wyoming_tts[1], "tts")
    lights = async_mock_service(hass, "light", "turn_on")
    notes = async_mock_service(hass, "notify", "mobile_app_phone")

    # The user at the desk says nothing (silence): what matters is what they hear.
    async with baresip_peer(np.zeros(8000 * 300, dtype=np.int16)) as desk:
        entry = await _demo_line(hass, stt_id, tts_id, desk.uri)
        demo = entry.runtime_data.demo
        assert demo is not None
        assert await demo.prerender()  # through HA's Piper entity
        anyone_there = await _agent_says(demo.simulator, scenario, ANYONE_THERE)
        await _automations(hass, entry.entry_id)

        watch = StateWatch(hass, entry.entry_id, "sensor", "call_state")
        flags = StateWatch(hass, entry.entry_id, "binary_sensor", "on_hold", "human_on_line")
        events: list[dict[str, Any]] = []
        hass.bus.async_listen(EVENT_HOLD_SLAYER, callback(lambda event: events.append(dict(event.data))))

        response = await hass.services.async_call(
            DOMAIN,
            "call",
            {"config_entry_id": entry.entry_id, "company": "demo gas", "goal": "a billing question"},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        call_id = response["call_id"]

        try:
            async with asyncio.timeout(CALL_WITHIN):
                await watch.connected.wait()
        finally:
            watch.stop()
            flags.stop()
        await desk.wait_event("CALL_ESTABLISHED", within=5)
        assert _subsequence(WALK, watch.states["call_state"]), watch.states
        assert _subsequence(["on", "off"], flags.states["on_hold"]), flags.states  # held, then not
        assert flags.states["human_on_line"][:1] == ["on"], flags.states

        # Nobody spoke to the agent, so they ask whether anyone is there, then give up and hang up.
        record = demo.simulator.records[-1]
        await asyncio.wait_for(record.finished(), PATIENCE * 2 + 20)
        assert record.end_reason == "agent_gave_up", (record, events)
        assert record.caller_spoke_at is None  # Hold Slayer did not talk over the hand-off
        await desk.wait_event("CALL_CLOSED", within=10)
        await asyncio.sleep(0.3)  # sndfile closes the WAV after the event
        heard = read_wav(desk.recordings()[-1])
        await hass.async_block_till_done()

    assert record.human_started_at is not None
    types = [event["type"] for event in events if event["call_id"] == call_id]
    assert _subsequence(
        ["call_started", "dtmf_sent", "hold_started", "human_detected", "transfer_started", "transferred"],
        types,
    ), types
    assert (record.digits[:1], record.nodes) == ("1", ["main", "queue", "agent"])
    # The way to the person is learned for the next call to this number.
    await _assert_learned(hass, entry.entry_id, company="Demo Gas", first_step="press 1")
    # The person-answered blueprint ran on the same event.
    assert [call.data["entity_id"] for call in lights] == [["light.office"]]
    assert [call.data["message"] for call in notes] == ["A person from Demo Gas is on the line. Pick up!"]
    # The desk phone heard the agent: "Hello? Is anyone there?" is in its recording, sample for sample.
    assert float(np.sqrt(np.mean(heard.astype(np.float64) ** 2))) > 300  # speech, not silence
    correlation, _ = best_alignment(heard, anyone_there)
    assert correlation > MIN_CORRELATION, correlation
