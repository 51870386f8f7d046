"""Logbook lines for hold_slayer_event: "Acme Bank: person answered after 12.5 min on hold"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_HOLD_SLAYER

# The logbook's entry keys ("name", "message"); literal because the logbook package does not
# re-export its constants explicitly.
LOGBOOK_ENTRY_NAME: Final = "name"
LOGBOOK_ENTRY_MESSAGE: Final = "message"
_MESSAGES: Final = {
    "call_started": "started a call",
    "menu_heard": "heard a menu",
    "dtmf_sent": "pressed {digits}",
    "said": "said “{text}”",
    "hold_started": "is on hold",
    "announcement": "heard a hold announcement",
    "queue_position": "is caller number {position} in the queue",
    "human_detected": "a person answered",
    "human_retracted": "was still on hold: {reason}",
    "number_needed": "was asked for the {wanted}, which the call was not given",
    "transfer_started": "is transferring the call",
    "transferred": "transferred the call",
    "call_ended": "call ended ({cause})",
    "call_failed": "call failed ({cause})",
}


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe the bus event for the logbook."""

    @callback
    def describe(event: Event) -> dict[str, str]:
        data: dict[str, Any] = dict(event.data)
        template = _MESSAGES.get(str(data.get("type")), "{type}")
        try:
            message = template.format(**data)
        except (KeyError, IndexError):
            message = str(data.get("type"))
        if data.get("type") == "human_detected" and data.get("hold_seconds"):
            message += f" after {data['hold_seconds'] / 60:.1f} min on hold"
        return {LOGBOOK_ENTRY_NAME: data.get("company") or "Hold Slayer", LOGBOOK_ENTRY_MESSAGE: message}

    async_describe_event(DOMAIN, EVENT_HOLD_SLAYER, describe)
