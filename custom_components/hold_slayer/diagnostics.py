"""Diagnostics: the line's settings, registration and calls, with everything private removed.

Credentials, hosts, the user's own numbers and the phone book's numbers are redacted; calls are
reported by state, masked number, hold time and event types only, never transcripts, goals,
secrets or digits. Learned routes show their steps' actions (menu keys, secrets by name) and
timings, not the prompts' words.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .calls import masked_number
from .const import (
    CONF_AUTH_USERNAME,
    CONF_CALLBACK_NUMBER,
    CONF_CALLER_ID,
    CONF_DESK_EXTENSION,
    CONF_FROM_NUMBER,
    CONF_OPENAI_API_KEY,
    CONF_OUTBOUND_PROXY,
    CONF_STUN_SERVER,
)
from .ivr.routes import Route
from .models import HoldSlayerConfigEntry
from .session.dialplan import mask_number
from .session.session import CallSession

TO_REDACT: Final = {
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_AUTH_USERNAME,
    CONF_HOST,
    CONF_OUTBOUND_PROXY,
    CONF_STUN_SERVER,
    CONF_CALLER_ID,
    CONF_FROM_NUMBER,  # a trunk's number: the user's own
    CONF_OPENAI_API_KEY,
    CONF_DESK_EXTENSION,
    CONF_CALLBACK_NUMBER,
    "number",  # phone-book entries
    "title",  # username@registrar
    "unique_id",
}


def _scrub(text: str | None, private: list[str]) -> str | None:
    # Error texts from the SIP stack may quote the registrar's address.
    if text is None:
        return None
    for value in private:
        text = text.replace(value, REDACTED)
    return text


def _call(session: CallSession, masked_number: str | None, started: str | None) -> dict[str, Any]:
    outcome = session.outcome
    return {
        "call_id": session.id,
        "state": str(session.state),
        "company": session.request.company,
        "number": masked_number,
        "started": started,
        "has_goal": bool(session.request.goal),
        "secret_count": len(session.request.secrets),
        "hold_seconds": session.hold_seconds,
        "queue_position": session.queue_position,
        "events": [str(event.type) for event in session.events],
        "outcome": None if outcome is None else {"state": str(outcome.state), "cause": str(outcome.cause)},
    }


def _route(route: Route) -> dict[str, Any]:
    return {
        "number": mask_number(route.number),
        "company": route.company,
        "calls": route.calls,
        "steps": [{"action": step.action, "at": step.at, "seen": step.seen} for step in route.steps],
        "hold": route.hold_profile(),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HoldSlayerConfigEntry
) -> dict[str, Any]:
    """Settings, registration, calls and statistics of one line."""
    data = entry.runtime_data
    calls = data.calls
    phone = data.phone
    account = phone.account
    private = [value for value in (account.registrar, account.outbound_proxy, account.username) if value]
    status = phone.status
    return {
        "entry": async_redact_data(
            {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)}, TO_REDACT
        ),
        "registration": {
            "state": str(status.state),
            "error": _scrub(status.error, private),
            "expires": status.expires,
            # Whether we are behind NAT and who said so; never the address itself.
            "nat": {
                "public_address_from": phone.public_address_source,
                "keepalives_sent": phone.keepalives_sent,
            },
        },
        "calls": {
            "active": len(calls.active),
            "max_concurrent": calls.max_concurrent,
            "recent": [
                _call(session, masked_number(session), calls.started.get(call_id))
                for call_id, session in calls.sessions.items()
            ],
        },
        "statistics": {
            "last_hold_seconds": calls.last_hold_seconds,
            "companies": {name: stats.as_dict() for name, stats in calls.companies.items()},
        },
        "routes": [_route(route) for route in calls.routes.routes.values()],
    }
