"""The automation blueprints: valid for HA's blueprint schema, and they do their job in HA."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.hold_slayer.const import (
    CONF_DESK_EXTENSION,
    CONF_HOME_COUNTRY_CODE,
    DOMAIN,
    EVENT_HOLD_SLAYER,
)
from harness.servers.kamailio import Registrar
from tests.conftest import phone_book_options, setup_line

BLUEPRINTS = Path(__file__).parent.parent / "blueprints" / "automation" / "hold_slayer"
SOURCE = "https://github.com/hold-slayer/hold-slayer/blob/main/blueprints/automation/hold_slayer/"
ENTRY_ID = "01JHOLDSLAYERBLUEPRINTS001"
FILES = sorted(path.name for path in BLUEPRINTS.glob("*.yaml"))


def test_there_are_four_blueprints() -> None:
    assert FILES == [
        "bridge_to_desk.yaml",
        "hold_progress.yaml",
        "person_answered_alert.yaml",
        "voice_call.yaml",
    ]


def _selectors(node: Any) -> list[dict[str, Any]]:
    """Every entity, device and config-entry selector config in an input tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        chosen = node.get("selector")
        if isinstance(chosen, dict):
            found.extend(
                chosen[kind] or {} for kind in ("entity", "device", "config_entry") if kind in chosen
            )
        for value in node.values():
            found.extend(_selectors(value))
    return found


@pytest.mark.parametrize("name", FILES)
def test_blueprint_schema(name: str) -> None:
    """HA's own schema accepts it; it says where it comes from and which HA it needs."""
    blueprint = Blueprint(
        load_yaml_dict(str(BLUEPRINTS / name)), expected_domain="automation", schema=BLUEPRINT_SCHEMA
    )
    assert blueprint.validate() is None
    metadata = blueprint.metadata
    assert metadata["source_url"] == SOURCE + name
    assert metadata["homeassistant"]["min_version"] == "2025.4.0"
    ours = [
        config
        for config in _selectors(metadata["input"])
        if config.get("integration") == DOMAIN
        or any(f.get("integration") == DOMAIN for f in config.get("filter", []))
    ]
    assert ours  # every blueprint picks the Hold Slayer line or its entities, filtered to it


def _install(hass: HomeAssistant) -> None:
    target = Path(hass.config.path("blueprints", "automation", "hold_slayer"))
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(BLUEPRINTS / name, target / name)


async def _automation(hass: HomeAssistant, name: str, **inputs: Any) -> None:
    _install(hass)
    config = {"automation": {"use_blueprint": {"path": f"hold_slayer/{name}", "input": inputs}}}
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    assert len(hass.states.async_entity_ids("automation")) == 1


def _fire(hass: HomeAssistant, event_type: str, entry_id: str = ENTRY_ID, **data: Any) -> None:
    # The payload the call manager fires (calls.HoldSlayerCalls._on_session).
    hass.bus.async_fire(
        EVENT_HOLD_SLAYER,
        {
            "type": event_type,
            "call_id": "0123456789ab",
            "device_id": "abc",
            "config_entry_id": entry_id,
            "company": "Acme Bank",
            "at": 61.2,
            **data,
        },
    )


async def test_person_answered_alert(hass: HomeAssistant) -> None:
    """Lights flash and the phone is notified on human_detected of the chosen line only."""
    lights = async_mock_service(hass, "light", "turn_on")
    notes = async_mock_service(hass, "notify", "mobile_app_pixel")
    await _automation(
        hass,
        "person_answered_alert.yaml",
        line=ENTRY_ID,
        lights=["light.desk", "light.hall"],
        notify_action="notify.mobile_app_pixel",
    )
    _fire(hass, "hold_started")
    _fire(hass, "human_detected", entry_id="another line")
    await hass.async_block_till_done()
    assert not lights
    assert not notes
    _fire(hass, "human_detected")
    await hass.async_block_till_done()
    assert len(lights) == 1
    assert lights[0].data == {"entity_id": ["light.desk", "light.hall"], "flash": "long"}
    assert len(notes) == 1
    assert notes[0].data["message"] == "A person from Acme Bank is on the line. Pick up!"
    assert notes[0].data["data"] == {"call_id": "0123456789ab"}


async def test_person_answered_alert_without_lights(hass: HomeAssistant) -> None:
    lights = async_mock_service(hass, "light", "turn_on")
    notes = async_mock_service(hass, "notify", "mobile_app_pixel")
    await _automation(
        hass, "person_answered_alert.yaml", line=ENTRY_ID, notify_action="notify.mobile_app_pixel"
    )
    _fire(hass, "human_detected", company=None)
    await hass.async_block_till_done()
    assert not lights
    assert notes[0].data["message"] == "A person from the company is on the line. Pick up!"


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.registrar
async def test_bridge_to_desk_calls_transfer(
    hass: HomeAssistant, registrar: Registrar, caplog: pytest.LogCaptureFixture
) -> None:
    """human_detected → hold_slayer.transfer for that call (a ringing call cannot be bridged yet)."""
    await setup_line(hass, registrar, ENTRY_ID, {CONF_HOME_COUNTRY_CODE: "1", CONF_DESK_EXTENSION: "201"})
    await _automation(hass, "bridge_to_desk.yaml", line=ENTRY_ID, desk="sip:desk@127.0.0.1")
    response = await hass.services.async_call(
        DOMAIN,
        "call",
        {"config_entry_id": ENTRY_ID, "number": f"sip:ringing@{registrar.host}:{registrar.port}"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    call_id = response["call_id"]
    services: list[Event] = []
    hass.bus.async_listen(EVENT_CALL_SERVICE, services.append)
    caplog.set_level(logging.ERROR)
    _fire(hass, "human_detected", call_id=call_id)
    await hass.async_block_till_done()
    transfers = [e.data for e in services if e.data["domain"] == DOMAIN and e.data["service"] == "transfer"]
    assert transfers == [
        {
            "domain": DOMAIN,
            "service": "transfer",
            "service_data": {
                "config_entry_id": ENTRY_ID,
                "call_id": call_id,
                "target": "sip:desk@127.0.0.1",
                "method": "bridge",
            },
        }
    ]
    # Our real action ran for that very call: it is still ringing, so it is "not connected".
    assert "The call is not connected" in caplog.text
    await hass.services.async_call(DOMAIN, "hangup", {"config_entry_id": ENTRY_ID}, blocking=True)


async def test_hold_progress_and_voice_call_load(hass: HomeAssistant) -> None:
    """With real inputs, both become valid automations (their runs are HA's repeat/conversation)."""
    _install(hass)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    config = {
        "automation": [
            {
                "use_blueprint": {
                    "path": "hold_slayer/hold_progress.yaml",
                    "input": {
                        "on_hold": "binary_sensor.line_on_hold",
                        "call": "sensor.line_call",
                        "interval": 5,
                        "tts": "tts.piper",
                        "speaker": "media_player.kitchen",
                    },
                }
            },
            {"use_blueprint": {"path": "hold_slayer/voice_call.yaml", "input": {"line": ENTRY_ID}}},
        ]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    states = [hass.states.get(entity_id) for entity_id in hass.states.async_entity_ids("automation")]
    assert sorted(state.state for state in states if state) == ["on", "on"]


async def _settle(hass: HomeAssistant) -> None:
    # A running repeat with a delay is a task that never finishes: no async_block_till_done.
    for _ in range(50):
        await asyncio.sleep(0)


async def test_hold_progress_announces_while_on_hold(hass: HomeAssistant) -> None:
    """Every N minutes on hold, tts.speak on the speaker; it stops when the hold ends."""
    speak = async_mock_service(hass, "tts", "speak")
    hass.states.async_set("binary_sensor.line_on_hold", "off")
    hass.states.async_set("sensor.line_call", "ivr", {"company": "Acme Bank"})
    await _automation(
        hass,
        "hold_progress.yaml",
        on_hold="binary_sensor.line_on_hold",
        call="sensor.line_call",
        interval=5,
        tts="tts.piper",
        speaker="media_player.kitchen",
    )
    now = dt_util.utcnow()
    hass.states.async_set("binary_sensor.line_on_hold", "on")
    await _settle(hass)
    for minutes in (5, 10):
        async_fire_time_changed(hass, now + timedelta(minutes=minutes, seconds=1))
        await _settle(hass)
    assert [call.data["message"] for call in speak] == [
        "Still on hold with Acme Bank: 5 minutes so far.",
        "Still on hold with Acme Bank: 10 minutes so far.",
    ]
    assert speak[0].data["entity_id"] == ["tts.piper"]
    assert speak[0].data["media_player_entity_id"] == "media_player.kitchen"
    hass.states.async_set("binary_sensor.line_on_hold", "off")
    async_fire_time_changed(hass, now + timedelta(minutes=15, seconds=1))
    await _settle(hass)
    await hass.async_block_till_done()  # the run has ended: nothing left to wait for
    assert len(speak) == 2


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.registrar
async def test_voice_call_blueprint(hass: HomeAssistant, registrar: Registrar) -> None:
    """The built-in agent hears the blueprint's sentence and the line calls the phone-book company."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    entry = await setup_line(hass, registrar, ENTRY_ID, phone_book_options(registrar))
    await _automation(hass, "voice_call.yaml", line=ENTRY_ID, goal="billing")

    async def say(text: str) -> Any:
        result = await conversation.async_converse(hass, text, None, Context(), language="en")
        return result.response.speech["plain"]["speech"]

    assert await say("wait in the queue at pizza palace for me") == (
        "I could not call pizza palace; is it in the Hold Slayer phone book?"
    )
    assert not entry.runtime_data.calls.sessions
    assert await say("get me through to my bank") == (
        "Calling my bank; I'll let you know when a person answers."
    )
    [session] = entry.runtime_data.calls.active
    assert session.request.company == "Slow Company"
    assert session.request.goal == "billing"
    await hass.services.async_call(DOMAIN, "hangup", {"config_entry_id": ENTRY_ID}, blocking=True)
    for _ in range(100):
        await hass.async_block_till_done()
        if not entry.runtime_data.calls.active:
            break
        await hass.async_add_executor_job(lambda: None)
    assert not entry.runtime_data.calls.active
