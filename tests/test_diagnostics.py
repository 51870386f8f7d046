"""Diagnostics through HA's endpoint: useful, and nothing private in them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.hold_slayer.const import (
    CONF_CALLBACK_NUMBER,
    CONF_DESK_EXTENSION,
    CONF_HOME_COUNTRY_CODE,
    CONF_OPENAI_API_KEY,
    CONF_OPENAI_BASE_URL,
    CONF_OPENAI_MODEL,
    CONF_PHONE_BOOK,
    DOMAIN,
    EVENT_HOLD_SLAYER,
)
from custom_components.hold_slayer.ivr.routes import RouteStep
from harness.servers.kamailio import Registrar
from tests.conftest import PASSWORD, setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "01JHOLDSLAYERDIAGNOSTICS01"


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    registrar: Registrar,
    snapshot: SnapshotAssertion,
) -> None:
    """Settings, registration, a failed call and statistics; credentials, hosts, numbers gone."""
    entry = await setup_line(
        hass,
        registrar,
        ENTRY_ID,
        {
            CONF_HOME_COUNTRY_CODE: "1",
            CONF_DESK_EXTENSION: "sip:desk@pbx.home.lan",
            CONF_CALLBACK_NUMBER: "+15555550188",
            CONF_OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
            CONF_OPENAI_MODEL: "llama3",
            CONF_OPENAI_API_KEY: "sk-very-secret",
            CONF_PHONE_BOOK: [{"name": "Acme Bank", "aliases": ["my bank"], "number": "+18005550100"}],
        },
    )
    events: list[Event] = []
    hass.bus.async_listen(EVENT_HOLD_SLAYER, events.append)
    await hass.services.async_call(
        DOMAIN,
        "call",
        {
            "config_entry_id": ENTRY_ID,
            "number": f"sip:busy@{registrar.host}:{registrar.port}",
            "company": "Busy Co",
            "goal": "close account 99887766",
            "secrets": {"pin": "4321"},
        },
        blocking=True,
        return_response=True,
    )
    for _ in range(200):
        await hass.async_block_till_done()
        if any(event.data["type"] == "call_failed" for event in events):
            break
        await hass.async_add_executor_job(lambda: None)

    # A learned route: its steps' actions and timings, never the prompts' words or secret values.
    await entry.runtime_data.calls.routes.record(
        "+18005550100",
        "Acme Bank",
        [
            RouteStep("For billing, press 1.", {"kind": "press", "digits": "1", "secret": None}, 6.0),
            RouteStep("Enter your PIN.", {"kind": "press", "digits": "#", "secret": "pin"}, 11.5),
        ],
        hold_seconds=300.0,
        hour=10,
    )
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics)
    for private in (
        PASSWORD,
        "sk-very-secret",
        "+18005550100",
        "+15555550123",  # caller id
        "+15555550188",
        "pbx.home.lan",
        "99887766",
        "4321",
        f"{registrar.host}:{registrar.port}",
        "For billing",
    ):
        # Not inside a longer number: the registrar's random port (24321) holds the PIN's digits.
        assert not re.search(rf"(?<!\d){re.escape(private)}(?!\d)", text), private
    assert diagnostics["entry"]["data"]["username"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["host"] == "**REDACTED**"
    [call] = diagnostics["calls"]["recent"]
    assert call["events"] == ["call_started", "call_failed"]
    # Volatile values (free ports, ids, times) out of the snapshot.
    diagnostics["entry"]["data"]["port"] = "<port>"
    diagnostics["entry"]["data"]["advanced"]["sip_ports"] = "<ports>"
    diagnostics["registration"]["expires"] = "<expires>" if diagnostics["registration"]["expires"] else None
    assert isinstance(diagnostics["registration"]["nat"].pop("keepalives_sent"), int)
    call["call_id"] = "<call id>"
    call["started"] = "<started>"
    assert diagnostics == snapshot
