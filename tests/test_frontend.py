"""The dashboard card's server side: the JS served and offered to dashboards once, its commands."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import EVENT_CALL_SERVICE, MATCH_ALL
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from custom_components.hold_slayer.const import CONF_DEMO, CONF_PHONE_BOOK, CONF_TTS_ENGINE, DOMAIN
from custom_components.hold_slayer.demo.line import DEMO_COMPANIES
from custom_components.hold_slayer.frontend import CARD_FILE, CARD_URL, DATA_FRONTEND
from custom_components.hold_slayer.models import HoldSlayerConfigEntry
from tests.test_speech import add_wyoming

pytestmark = pytest.mark.usefixtures("socket_enabled")

TIMELINE = "hold_slayer/call/timeline"
START_CALL = "hold_slayer/call/start"
SEND_DTMF = "hold_slayer/call/send_dtmf"
KINDS = {"silence", "music", "speech", "announcement", "tone"}
CALL_WITHIN = 30.0  # seconds of real time for the demo line to ring and answer


async def _setup_frontend(hass: HomeAssistant, tmp_path: Path) -> None:
    """HA's frontend, serving a stand-in build (HA's `development_repo` option: no frontend package)."""
    root = tmp_path / "frontend" / "hass_frontend"
    for folder in ("static", "frontend_latest", "frontend_es5"):
        (root / folder).mkdir(parents=True)
    assert await async_setup_component(hass, "frontend", {"frontend": {"development_repo": str(root.parent)}})


async def _add_demo(hass: HomeAssistant) -> HoldSlayerConfigEntry:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "demo"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: HoldSlayerConfigEntry = result["result"]
    return entry


async def _add_second_demo(hass: HomeAssistant, first: HoldSlayerConfigEntry) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="demo-2",
        title="Second line",
        data={CONF_DEMO: True},
        options=dict(first.options),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _version() -> str:
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def test_card_served_and_offered_once_for_two_lines(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Two lines: the card's URL (versioned by its content) is added to dashboards exactly once."""
    await _setup_frontend(hass, tmp_path)
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"type": "frontend/subscribe_extra_js"})
    assert (await ws.receive_json())["success"]

    first = await _add_demo(hass)
    await _add_second_demo(hass, first)
    assert len(hass.config_entries.async_loaded_entries(DOMAIN)) == 2

    added: list[dict[str, Any]] = []
    while True:
        try:
            message = await asyncio.wait_for(ws.receive_json(), 0.5)
        except TimeoutError:
            break
        added.append(message["event"])
    url = f"{CARD_URL}?v={_version()}"
    assert added == [{"change_type": "added", "item": {"type": "module", "url": url}}]
    assert url.startswith("/hold_slayer/hold-slayer-card.js?v=")

    client = await hass_client()
    response = await client.get(url)
    assert response.status == 200
    assert response.content_type in ("application/javascript", "text/javascript")
    assert "max-age" in response.headers.get("Cache-Control", "")  # the version in the URL busts it
    body = await response.text()
    assert body == CARD_FILE.read_text()
    assert "customElements.define(CARD_TYPE, HoldSlayerCard)" in body
    # Only the card's file is served there, nothing else of the integration.
    assert (await client.get("/hold_slayer/manifest.json")).status == 404

    # Reloading an entry registers nothing again.
    assert await hass.config_entries.async_reload(first.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.receive_json(), 0.3)


async def test_without_frontend_no_card_is_offered(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """A headless HA (no frontend): the line loads, no extra module, the commands still answer."""
    entry = await _add_demo(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert "frontend" not in hass.config.components
    state = hass.data[DATA_FRONTEND]
    assert state.module_url is None
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"type": "hold_slayer/phone_book", "config_entry_id": entry.entry_id})
    response = await ws.receive_json()
    assert response["success"]
    assert response["result"] == {"companies": [company.name for company in DEMO_COMPANIES]}


async def test_phone_book_names_only(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> None:
    entry = await _add_demo(hass)
    assert entry.options[CONF_PHONE_BOOK]
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"type": "hold_slayer/phone_book", "config_entry_id": entry.entry_id})
    result = (await ws.receive_json())["result"]
    numbers = [item["number"] for item in entry.options[CONF_PHONE_BOOK]]
    assert not any(number in str(result) for number in numbers)


@pytest.mark.parametrize(
    ("command", "key", "placeholders"),
    [
        ({"type": TIMELINE, "config_entry_id": "nope"}, "entry_not_found", {"entry_id": "nope"}),
        (
            {"type": "hold_slayer/phone_book", "config_entry_id": "nope"},
            "entry_not_found",
            {"entry_id": "nope"},
        ),
        ({"type": TIMELINE, "call_id": "c0ffee"}, "call_not_found", {"call_id": "c0ffee"}),
    ],
)
async def test_errors_are_translated(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    command: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    entry = await _add_demo(hass)
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"config_entry_id": entry.entry_id, **command})
    response = await ws.receive_json()
    assert not response["success"]
    error = response["error"]
    assert error["code"] == "not_found"
    assert error["translation_domain"] == DOMAIN
    assert error["translation_key"] == key
    assert error["translation_placeholders"] == placeholders
    assert next(iter(placeholders.values())) in error["message"]  # the English text, not the key
    assert key not in error["message"]


async def test_unloaded_line_is_an_error(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> None:
    entry = await _add_demo(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"type": TIMELINE, "config_entry_id": entry.entry_id})
    error = (await ws.receive_json())["error"]
    assert error["translation_key"] == "entry_not_loaded"
    assert entry.title in error["message"]


async def _wait_for(
    ask: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool], within: float
) -> dict[str, Any]:
    """Ask until ``done`` holds (real time: the demo company answers over real SIP and RTP)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await ask()
        if done(result) or loop.time() > deadline:
            return result
        await asyncio.sleep(0.25)


async def test_timeline_of_a_live_then_ended_call(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, wyoming_tts: tuple[str, int]
) -> None:
    """A demo call: no call yet, then the strip growing while it is live, then kept once it ended."""
    tts_id = await add_wyoming(hass, wyoming_tts[1], "tts")  # the demo companies speak through it
    entry = await _add_demo(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_TTS_ENGINE: tts_id})
    await hass.async_block_till_done()  # the options reload the entry
    ws = await hass_ws_client(hass)

    async def timeline(**extra: Any) -> dict[str, Any]:
        await ws.send_json_auto_id({"type": TIMELINE, "config_entry_id": entry.entry_id, **extra})
        response = await ws.receive_json()
        assert response["success"], response
        result: dict[str, Any] = response["result"]
        return result

    assert await timeline() == {"call": None}

    response = await hass.services.async_call(
        DOMAIN,
        "call",
        {"config_entry_id": entry.entry_id, "company": "Demo Paper Company", "goal": "order paper"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    call_id = response["call_id"]
    live = await _wait_for(timeline, lambda result: len(result["call"]["spans"]) >= 2, CALL_WITHIN)
    call = live["call"]
    assert call["call_id"] == call_id
    assert call["live"] is True
    assert call["state"] in {"dialing", "ringing", "ivr", "on_hold", "human"}
    assert call["company"] == "Demo Paper Company"
    spans = call["spans"]
    assert len(spans) >= 2, spans
    assert all(span["kind"] in KINDS for span in spans)
    assert all(span["start"] <= span["end"] for span in spans)
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in itertools.pairwise(spans)), "spans follow each other"
    assert all(set(mark) == {"at", "kind", "text", "source"} for mark in call["marks"])

    await hass.services.async_call(
        DOMAIN, "hangup", {"config_entry_id": entry.entry_id, "call_id": call_id}, blocking=True
    )
    ended = await _wait_for(lambda: timeline(call_id=call_id), lambda result: not result["call"]["live"], 10)
    assert ended["call"]["live"] is False
    assert ended["call"]["state"] == "ended"
    # The strip stays for the ended call; a growing run shorter than MIN_SPAN folds into the span
    # before it, so the live strip's last span may be gone.
    assert len(ended["call"]["spans"]) >= len(spans) - 1
    # What was drawn stays drawn: only the growing run, and the run a sliver may fold into, change.
    assert ended["call"]["spans"][: len(spans) - 2] == spans[:-2]


async def test_card_call_and_keypad_keep_secrets_out_of_the_recorder(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, wyoming_tts: tuple[str, int]
) -> None:
    """The card's Call and keypad run the actions' code without HA's ``call_service`` event,
    which the recorder keeps: an account number reaches the call and nothing on the bus."""
    tts_id = await add_wyoming(hass, wyoming_tts[1], "tts")
    entry = await _add_demo(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_TTS_ENGINE: tts_id})
    await hass.async_block_till_done()
    on_the_bus: list[Event] = []
    hass.bus.async_listen(MATCH_ALL, on_the_bus.append)
    ws = await hass_ws_client(hass)

    async def send(command: str, **data: Any) -> dict[str, Any]:
        await ws.send_json_auto_id({"type": command, "config_entry_id": entry.entry_id, **data})
        response: dict[str, Any] = await ws.receive_json()
        return response

    started = await send(
        START_CALL,
        company="Demo Bank",
        goal="a question about my bill",
        secrets={"account_number": "1234 567890"},
    )
    assert started["success"], started
    call_id = started["result"]["call_id"]
    session = entry.runtime_data.calls.get(call_id)
    assert session is not None
    assert session.request.secrets == {"account_number": "1234567890"}
    assert session.request.company == "Demo Bank"

    async def keyed() -> dict[str, Any]:
        return await send(SEND_DTMF, call_id=call_id, digits="7")

    # Keys are refused until the line has answered; then the keypad's digit reaches the call.
    response = await _wait_for(keyed, lambda result: result["success"], CALL_WITHIN)
    assert response["success"], response
    await hass.services.async_call(
        DOMAIN, "hangup", {"config_entry_id": entry.entry_id, "call_id": call_id}, blocking=True
    )
    await hass.async_block_till_done()
    assert session.events, "the call ran"
    assert any(event.event_type == EVENT_CALL_SERVICE for event in on_the_bus)  # the hangup action
    leaked = [event for event in on_the_bus if "1234567890" in str(event.data) or "567890" in str(event.data)]
    assert not leaked
    assert not [
        event
        for event in on_the_bus
        if event.event_type == EVENT_CALL_SERVICE and event.data["service"] in ("call", "send_dtmf")
    ]


@pytest.mark.parametrize(
    ("command", "data", "key"),
    [
        (START_CALL, {"company": "Demo Bank", "secrets": {"account_number": 12.5}}, "invalid_secret_value"),
        (START_CALL, {"company": "Nobody In The Book"}, "unknown_company"),
        (START_CALL, {"number": "911"}, "emergency_number"),
        (SEND_DTMF, {"digits": "12"}, "no_active_call"),
        (SEND_DTMF, {"digits": "1x"}, "invalid_dtmf"),
    ],
)
async def test_card_controls_errors_are_translated(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    command: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """As an action's: a translated validation error, and no call placed."""
    entry = await _add_demo(hass)
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({"type": command, "config_entry_id": entry.entry_id, **data})
    response = await ws.receive_json()
    assert not response["success"]
    error = response["error"]
    assert error["code"] == "service_validation_error"
    assert (error["translation_domain"], error["translation_key"]) == (DOMAIN, key)
    assert key not in error["message"]
    assert not entry.runtime_data.calls.active
