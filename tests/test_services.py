"""The actions through HA's service registry, against a real registrar (Kamailio test lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.hold_slayer.const import (
    CONF_ALLOWED_PREFIXES,
    CONF_BLOCKED_PREFIXES,
    CONF_HOME_COUNTRY_CODE,
    CONF_MAX_CONCURRENT_CALLS,
    CONF_PHONE_BOOK,
    DOMAIN,
    EVENT_HOLD_SLAYER,
)
from harness.servers.kamailio import Registrar
from tests.conftest import setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "01JHOLDSLAYERSERVICES00001"


async def _setup(hass: HomeAssistant, registrar: Registrar, **options: Any) -> MockConfigEntry:
    return await setup_line(
        hass, registrar, ENTRY_ID, {CONF_HOME_COUNTRY_CODE: "1", CONF_MAX_CONCURRENT_CALLS: 1, **options}
    )


async def _call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        service,
        {"config_entry_id": ENTRY_ID, **data},
        blocking=True,
        return_response=service in ("call", "get_transcript"),
    )


def _sip(registrar: Registrar, user: str) -> str:
    return f"sip:{user}@{registrar.host}:{registrar.port}"


@pytest.mark.parametrize(
    ("service", "data", "error"),
    [
        ("call", {"number": "911"}, "emergency_number"),
        ("call", {"number": "112"}, "emergency_number"),
        ("call", {"number": "1-900-555-0100"}, "premium_number"),
        ("call", {"number": "+44 20 7946 0018"}, "international_number"),
        ("call", {"number": "+1 800 666 0100"}, "blocked_number"),
        ("call", {"number": "call my bank"}, "invalid_number"),
        ("call", {"company": "Nobody In The Book"}, "unknown_company"),
        ("call", {}, "number_required"),
        ("call", {"number": "+18005550100", "transfer_to": "+1 900 555 0100"}, "premium_number"),
        ("call", {"number": "+18005550100", "secrets": {"Bad Name": "1"}}, "invalid_secret_name"),
        ("call", {"number": "+18005550100", "secrets": {"pin": "!secret nope"}}, "unknown_secret"),
        ("call", {"number": "+18005550100", "secrets": {"account_number": 12.5}}, "invalid_secret_value"),
        ("call", {"number": "+18005550100", "secrets": {"account_number": True}}, "invalid_secret_value"),
        ("call", {"number": "+18005550100", "secrets": {"pin": "12a4"}}, "invalid_secret_value"),
        ("call", {"number": "+18005550100", "secrets": {"pin": ""}}, "invalid_secret_value"),
        ("call", {"number": "+18005550100", "secrets": {"pin": "!secret words"}}, "invalid_secret_value"),
        ("hangup", {}, "no_active_call"),
        ("hangup", {"call_id": "nope"}, "call_not_found"),
        ("send_dtmf", {"digits": "12x"}, "invalid_dtmf"),
        ("send_dtmf", {"digits": "12"}, "no_active_call"),
        ("say", {"text": "hello"}, "no_active_call"),
        ("transfer", {}, "no_active_call"),
        ("get_transcript", {}, "no_active_call"),
    ],
)
async def test_service_errors(
    hass: HomeAssistant, registrar: Registrar, service: str, data: dict[str, Any], error: str
) -> None:
    """Bad input gets a translated error, and no call is placed."""
    await _setup(hass, registrar, **{CONF_BLOCKED_PREFIXES: ["+1800666"]})
    (Path(hass.config.config_dir) / "secrets.yaml").write_text("acme: '1234'\nwords: my pin\n")
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, service, **data)
    assert caught.value.translation_key == error
    assert caught.value.translation_domain == DOMAIN
    assert str(caught.value)  # the translated message exists


async def test_unknown_and_unloaded_entries(hass: HomeAssistant, registrar: Registrar) -> None:
    entry = await _setup(hass, registrar)
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "hangup", {"config_entry_id": "nope"}, blocking=True)
    assert caught.value.translation_key == "entry_not_found"
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "hangup")
    assert caught.value.translation_key == "entry_not_loaded"


async def test_busy_company_fails_with_events_and_states(
    hass: HomeAssistant, registrar: Registrar, snapshot: SnapshotAssertion
) -> None:
    """A busy line: call_id at once, then dialing → failed, a call_failed event, statistics."""
    await _setup(hass, registrar)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_HOLD_SLAYER, events.append)
    (Path(hass.config.config_dir) / "secrets.yaml").write_text("acme_pin: '4321'\n")
    response = await _call(
        hass,
        "call",
        number=_sip(registrar, "busy"),
        company="Busy Co",
        goal="billing",
        # As an automation sends them: HA's script engine makes a quoted "5566" the number 5566.
        secrets={"pin": "!secret acme_pin", "account_number": "9988 7766", "member_id": 5566},
    )
    call_id = response["call_id"]
    for _ in range(200):
        await hass.async_block_till_done()
        if any(event.data["type"] == "call_failed" for event in events):
            break
        await hass.async_add_executor_job(lambda: None)
    types = [event.data["type"] for event in events]
    assert types == ["call_started", "call_failed"]
    failed = events[-1].data
    assert failed["cause"] == "busy"
    assert failed["call_id"] == call_id
    assert failed["config_entry_id"] == ENTRY_ID
    assert failed["device_id"]
    state = hass.states.get("sensor.alice_127_0_0_1_call")
    assert state is not None
    assert state.state == "failed"
    assert state.attributes["company"] == "Busy Co"
    assert state.attributes["number"] == "sip:busy@…"  # the host and port are not shown
    event_state = hass.states.get("event.alice_127_0_0_1_call_event")
    assert event_state is not None
    assert event_state.attributes["event_type"] == "call_failed"
    transcript = await _call(hass, "get_transcript", call_id=call_id)
    assert transcript.pop("call_id") == call_id
    assert transcript == snapshot
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    session = entry.runtime_data.calls.get(call_id)
    assert session is not None
    # A number grouped as it is printed is keyed without the grouping.
    assert session.request.secrets == {"pin": "4321", "account_number": "99887766", "member_id": "5566"}
    assert all("4321" not in str(event.data) and "99887766" not in str(event.data) for event in events)
    stats = hass.states.get("sensor.alice_127_0_0_1_last_hold_time")
    assert stats is not None
    assert stats.attributes["companies"] == {
        "Busy Co": {"calls": 1, "median_hold_minutes": None, "success_rate": 0.0}
    }


async def test_concurrency_limit_and_hangup(hass: HomeAssistant, registrar: Registrar) -> None:
    """A ringing call counts against the limit; hangup cancels it."""
    await _setup(hass, registrar, **{CONF_ALLOWED_PREFIXES: ["44"]})
    response = await _call(hass, "call", number=_sip(registrar, "ringing"), company="Slow Co")
    for _ in range(100):
        await hass.async_block_till_done()
        state = hass.states.get("sensor.alice_127_0_0_1_call")
        if state is not None and state.state == "ringing":
            break
        await hass.async_add_executor_job(lambda: None)
    assert state is not None
    assert state.state == "ringing"
    assert state.attributes["calls"][0]["call_id"] == response["call_id"]
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "call", number="+44 20 7946 0018")  # allowed abroad, but the line is full
    assert caught.value.translation_key == "too_many_calls"
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "send_dtmf", digits="1")
    assert caught.value.translation_key == "call_not_connected"
    await _call(hass, "hangup")
    for _ in range(100):
        await hass.async_block_till_done()
        state = hass.states.get("sensor.alice_127_0_0_1_call")
        if state is not None and state.state in ("ended", "failed"):
            break
        await hass.async_add_executor_job(lambda: None)
    assert state is not None
    assert state.state in ("ended", "failed")


async def test_call_by_company_from_the_phone_book(hass: HomeAssistant, registrar: Registrar) -> None:
    """Without a number, the company (or an alias, or a near miss) is looked up in the phone book."""
    entry = await _setup(
        hass,
        registrar,
        **{
            CONF_PHONE_BOOK: [
                {"name": "Slow Co", "aliases": ["the slow line"], "number": _sip(registrar, "ringing")}
            ]
        },
    )
    response = await _call(hass, "call", company="slow line")
    session = entry.runtime_data.calls.get(response["call_id"])
    assert session is not None
    assert session.request.company == "Slow Co"
    assert session.request.target == _sip(registrar, "ringing")
    await _call(hass, "hangup")
    for _ in range(100):
        await hass.async_block_till_done()
        if not entry.runtime_data.calls.active:
            break
        await hass.async_add_executor_job(lambda: None)
    assert not entry.runtime_data.calls.active
