"""Logbook lines for the bus event, through the logbook platform's describe hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant

from custom_components.hold_slayer.const import DOMAIN, EVENT_HOLD_SLAYER
from custom_components.hold_slayer.logbook import async_describe_events


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ({"type": "call_started", "company": "Acme Bank"}, "Acme Bank", "started a call"),
        ({"type": "dtmf_sent", "company": "Acme", "digits": "•••#"}, "Acme", "pressed •••#"),
        (
            {"type": "human_detected", "company": "Acme", "hold_seconds": 750.0},
            "Acme",
            "a person answered after 12.5 min on hold",
        ),
        (
            {"type": "human_retracted", "company": "Acme", "reason": "the hold music came back"},
            "Acme",
            "was still on hold: the hold music came back",
        ),
        (
            {"type": "number_needed", "company": "Acme", "wanted": "member id"},
            "Acme",
            "was asked for the member id, which the call was not given",
        ),
        ({"type": "call_failed", "company": "", "cause": "busy"}, "Hold Slayer", "call failed (busy)"),
        ({"type": "said"}, "Hold Slayer", "said"),  # a field missing: the type, not a crash
        ({"type": "something_new", "company": "X"}, "X", "something_new"),
    ],
)
def test_logbook_lines(hass: HomeAssistant, data: dict[str, Any], name: str, message: str) -> None:
    described: dict[str, Callable[[Event], dict[str, str]]] = {}

    def register(domain: str, event_type: str, describe: Callable[[Event], dict[str, str]]) -> None:
        assert (domain, event_type) == (DOMAIN, EVENT_HOLD_SLAYER)
        described[event_type] = describe

    async_describe_events(hass, register)
    line = described[EVENT_HOLD_SLAYER](Event(EVENT_HOLD_SLAYER, data))
    assert line == {"name": name, "message": message}
