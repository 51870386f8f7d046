"""What a newcomer met on a fresh Home Assistant (issue 15 §3), each fixed and kept fixed.

- HA's onboarding makes a cloud engine (Google Translate) the default text-to-speech: the demo
  line picks local engines when there are (and its form says which), and refuses a cloud engine
  that fails, saying why.
- A set-up form left open blocked the demo line with the raw key ``already_in_progress``.
- A call that ended showed no reason: the call-state sensor tells ``end_cause`` and ``end_reason``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.tts import TextToSpeechEntity, TtsAudioType
from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigFlow
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

from custom_components.hold_slayer.const import CONF_STT_ENGINE, CONF_TTS_ENGINE, DOMAIN
from custom_components.hold_slayer.models import HoldSlayerConfigEntry
from harness.servers.kamailio import Registrar
from tests.conftest import account_input
from tests.test_speech import add_wyoming

pytestmark = pytest.mark.usefixtures("socket_enabled")

TRANSLATIONS = json.loads(
    (
        Path(__file__).parent.parent / "custom_components" / "hold_slayer" / "translations" / "en.json"
    ).read_text()
)
CLOUD = "cloud_voice"
UNREACHABLE = "Cannot connect to host translate.google.com:443"
FAIL_WITHIN = 30.0  # seconds for the demo line to refuse an unknown number


async def _demo_form(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "demo"})
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "demo"
    return dict(result)


def _description(result: dict[str, Any]) -> str:
    text: str = TRANSLATIONS["config"]["step"]["demo"]["description"]
    return text.format(**result["description_placeholders"])


class UnreachableTts(TextToSpeechEntity):
    """A cloud engine on a machine without internet, as Google Translate is after onboarding."""

    _attr_name = "Cloud voice"
    _attr_unique_id = "cloud-voice"
    _attr_supported_languages = ["en"]  # noqa: RUF012 (HA's attribute style)
    _attr_default_language = "en"

    async def async_get_tts_audio(self, message: str, language: str, options: dict[str, Any]) -> TtsAudioType:
        raise HomeAssistantError(UNREACHABLE)


class CloudVoiceFlow(ConfigFlow):
    """The stand-in cloud integration's flow (its entry is added directly)."""

    VERSION = 1


@pytest.fixture(autouse=True)
def cloud_voice_flow() -> Iterator[None]:
    with mock_config_flow(CLOUD, CloudVoiceFlow):
        yield


async def _add_cloud_tts(hass: HomeAssistant) -> str:
    """A text-to-speech integration whose manifest says ``cloud_push``; its entity id."""

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, ["tts"])
        return True

    async def setup_tts(hass: HomeAssistant, entry: ConfigEntry, add: AddEntitiesCallback) -> None:
        add([UnreachableTts()])

    mock_integration(
        hass, MockModule(CLOUD, async_setup_entry=setup_entry, partial_manifest={"iot_class": "cloud_push"})
    )
    mock_platform(hass, f"{CLOUD}.tts", MockPlatform(async_setup_entry=setup_tts))
    mock_platform(hass, f"{CLOUD}.config_flow")
    assert await async_setup_component(hass, "tts", {})
    entry = MockConfigEntry(domain=CLOUD)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id("tts", CLOUD, "cloud-voice")
    assert entity_id is not None
    return entity_id


async def test_demo_line_picks_the_local_engines(
    hass: HomeAssistant, wyoming_stt: tuple[str, int], wyoming_tts: tuple[str, int]
) -> None:
    """A cloud TTS is HA's default; the demo line takes the local Wyoming engines and says so."""
    cloud = await _add_cloud_tts(hass)
    stt_id = await add_wyoming(hass, wyoming_stt[1], "stt")
    tts_id = await add_wyoming(hass, wyoming_tts[1], "tts")
    form = await _demo_form(hass)
    assert f"listen with {stt_id} and speak with {tts_id}" in _description(form)
    result = await hass.config_entries.flow.async_configure(form["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry: HoldSlayerConfigEntry = result["result"]
    assert (entry.options[CONF_STT_ENGINE], entry.options[CONF_TTS_ENGINE]) == (stt_id, tts_id)
    assert cloud not in entry.options.values()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_demo_line_refuses_an_unreachable_cloud_engine(hass: HomeAssistant) -> None:
    """Only a cloud TTS, and it cannot be reached: the form says which engine and why."""
    cloud = await _add_cloud_tts(hass)
    form = await _demo_form(hass)
    assert "speak with Home Assistant's default" in _description(form)
    result = await hass.config_entries.flow.async_configure(form["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "tts_unreachable"}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["tts"] == cloud
    assert UNREACHABLE in placeholders["tts_error"]
    message = TRANSLATIONS["config"]["error"]["tts_unreachable"].format(**placeholders)
    assert cloud in message
    assert UNREACHABLE in message
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_an_open_demo_form_does_not_block_another(hass: HomeAssistant) -> None:
    """A demo form left open (another tab): a second one adds the line, HA closes the first."""
    first = await _demo_form(hass)
    second = await _demo_form(hass)
    result = await hass.config_entries.flow.async_configure(second["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    with pytest.raises(UnknownFlow):
        await hass.config_entries.flow.async_configure(first["flow_id"], {})
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_account_in_progress_elsewhere_is_explained(hass: HomeAssistant, registrar: Registrar) -> None:
    """The same SIP account in two open forms: the second is told so in words, not a raw key."""

    async def account_form() -> str:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "sip_account"}
        )
        return str(result["flow_id"])

    first, second = await account_form(), await account_form()
    result = await hass.config_entries.flow.async_configure(first, account_input(registrar, password="wrong"))
    assert result["errors"] == {"base": "invalid_auth"}  # still open, holding the account's id
    result = await hass.config_entries.flow.async_configure(second, account_input(registrar))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_in_progress"
    assert "another open form" in TRANSLATIONS["config"]["abort"][result["reason"]]


async def test_a_failed_call_tells_why(hass: HomeAssistant) -> None:
    """A number the demo line does not know: the call fails, and the call-state sensor says why."""
    form = await _demo_form(hass)
    result = await hass.config_entries.flow.async_configure(form["flow_id"], {})
    entry: HoldSlayerConfigEntry = result["result"]
    await hass.async_block_till_done()
    sensor = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_call_state")
    assert sensor is not None
    assert "end_cause" not in hass.states.get(sensor).attributes  # type: ignore[union-attr]

    await hass.services.async_call(
        DOMAIN,
        "call",
        {"config_entry_id": entry.entry_id, "number": "+1 800 555 0999", "goal": "anything"},
        blocking=True,
        return_response=True,
    )
    over = asyncio.Event()

    @callback
    def on_state(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None and new.state in ("ended", "failed"):
            over.set()

    stop = async_track_state_change_event(hass, [sensor], on_state)
    async with asyncio.timeout(FAIL_WITHIN):
        await over.wait()
    stop()
    state = hass.states.get(sensor)
    assert state is not None
    assert state.state == "failed"
    assert state.attributes["end_cause"] == "not_found"
    assert state.attributes["end_reason"]
    await hass.config_entries.async_unload(entry.entry_id)
