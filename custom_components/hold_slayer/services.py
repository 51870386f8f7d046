"""Actions, registered once: calls and the learned routes.

call, hangup, send_dtmf, say, transfer and get_transcript act on calls; list_routes,
export_routes and forget_route on the routes a line has learned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
from homeassistant.util.yaml import load_yaml_dict

from .const import (
    CONF_AGENT_PATIENCE,
    CONF_CALLBACK_NUMBER,
    CONF_DESK_EXTENSION,
    CONF_MAX_HOLD_MINUTES,
    CONF_PHONE_BOOK,
    DEFAULT_AGENT_PATIENCE,
    DEFAULT_MAX_HOLD_MINUTES,
    DOMAIN,
)
from .ivr.model import describe
from .ivr.routes import action_from_dict
from .models import HoldSlayerConfigEntry
from .phonebook import PhoneBook, contacts_from_options
from .session.dialplan import DialRefusedError
from .session.errors import CallNotConnectedError, TransferInProgressError
from .session.request import CallRequest, Handoff
from .session.session import CallSession
from .telephony import SipError

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_CALL_ID: Final = "call_id"
ATTR_NUMBER: Final = "number"
ATTR_COMPANY: Final = "company"
ATTR_GOAL: Final = "goal"
ATTR_SECRETS: Final = "secrets"
ATTR_MAX_HOLD_MINUTES: Final = "max_hold_minutes"
ATTR_TRANSFER_TO: Final = "transfer_to"
ATTR_ANNOUNCE_TO_AGENT: Final = "announce_to_agent"
ATTR_ACCEPT_CALLBACK: Final = "accept_callback"
ATTR_DIGITS: Final = "digits"
ATTR_TEXT: Final = "text"
ATTR_TARGET: Final = "target"
ATTR_METHOD: Final = "method"

_DTMF: Final = re.compile(r"^[0-9*#A-Da-d]{1,32}$")
_SECRET_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_SECRET_REF: Final = re.compile(r"^!secret\s+(\S+)$")
_SECRET_VALUE: Final = re.compile(r"^[0-9*#]{1,64}$")
# People group long numbers as they are printed ("1234 5678", "1234-5678"); the keys are the same.
_GROUPING: Final = re.compile(r"[\s-]")

_ENTRY: dict[str | vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}
_CALL: dict[str | vol.Marker, Any] = {**_ENTRY, vol.Optional(ATTR_CALL_ID): cv.string}
# The call's fields, shared by the action and the card's websocket command.
CALL_FIELDS: Final[dict[str | vol.Marker, Any]] = {
    **_ENTRY,
    vol.Optional(ATTR_NUMBER): cv.string,  # else the company's, from the phone book
    vol.Optional(ATTR_COMPANY, default=""): cv.string,
    vol.Optional(ATTR_GOAL, default=""): cv.string,
    # Values are checked in async_start_call, where a wrong one gets a translated error.
    vol.Optional(ATTR_SECRETS, default=dict): vol.Schema({cv.string: object}),
    vol.Optional(ATTR_MAX_HOLD_MINUTES): vol.All(vol.Coerce(int), vol.Range(min=1, max=600)),
    vol.Optional(ATTR_TRANSFER_TO): cv.string,
    vol.Optional(ATTR_ANNOUNCE_TO_AGENT): cv.string,
    vol.Optional(ATTR_ACCEPT_CALLBACK, default=False): cv.boolean,
}
CALL_SCHEMA: Final = vol.Schema(CALL_FIELDS)
HANGUP_SCHEMA: Final = vol.Schema(_CALL)
SEND_DTMF_FIELDS: Final[dict[str | vol.Marker, Any]] = {**_CALL, vol.Required(ATTR_DIGITS): cv.string}
SEND_DTMF_SCHEMA: Final = vol.Schema(SEND_DTMF_FIELDS)
SAY_SCHEMA: Final = vol.Schema(
    {**_CALL, vol.Required(ATTR_TEXT): vol.All(cv.string, vol.Length(min=1, max=500))}
)
TRANSFER_SCHEMA: Final = vol.Schema(
    {
        **_CALL,
        vol.Optional(ATTR_TARGET): cv.string,
        vol.Optional(ATTR_METHOD, default="bridge"): vol.In(["bridge", "refer"]),
    }
)
GET_TRANSCRIPT_SCHEMA: Final = vol.Schema(_CALL)
LIST_ROUTES_SCHEMA: Final = vol.Schema(_ENTRY)
EXPORT_ROUTES_SCHEMA: Final = vol.Schema(_ENTRY)
FORGET_ROUTE_SCHEMA: Final = vol.Schema(
    {**_ENTRY, vol.Optional(ATTR_NUMBER): cv.string, vol.Optional(ATTR_COMPANY): cv.string}
)


def _error(translation_key: str, /, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=translation_key,
        translation_placeholders=placeholders or None,
    )


def loaded_entry(hass: HomeAssistant, entry_id: str) -> HoldSlayerConfigEntry:
    """The loaded Hold Slayer entry ``entry_id``; a translated error otherwise."""
    entry: HoldSlayerConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _error("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _error("entry_not_loaded", title=entry.title)
    return entry


def _entry(hass: HomeAssistant, call: ServiceCall) -> HoldSlayerConfigEntry:
    return loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])


def _session(hass: HomeAssistant, data: Mapping[str, Any]) -> CallSession:
    """The call ``data`` names (``call_id``, else the line's current call); a translated error otherwise."""
    calls = loaded_entry(hass, data[ATTR_CONFIG_ENTRY_ID]).runtime_data.calls
    call_id = data.get(ATTR_CALL_ID)
    session = calls.get(call_id)
    if session is None:
        raise _error("call_not_found", call_id=call_id) if call_id else _error("no_active_call")
    return session


def _resolve_secrets(hass: HomeAssistant, secrets: dict[str, object]) -> dict[str, str]:
    """Values as the keys to press, with ``!secret name`` read from secrets.yaml (never logged).

    Whole numbers are taken as their digits: HA's script engine (automations, the Actions page)
    turns a quoted "1234567890" into a number, though never one with a leading zero. Anything
    else that is not keys (letters, a fraction) is refused rather than keyed wrong.
    """
    resolved: dict[str, str] = {}
    for name, given in secrets.items():
        if not _SECRET_NAME.match(name):
            raise _error("invalid_secret_name", name=name)
        value = str(given) if isinstance(given, int) and not isinstance(given, bool) and given >= 0 else given
        if not isinstance(value, str):
            raise _error("invalid_secret_value", name=name)
        if match := _SECRET_REF.match(value.strip()):
            value = _read_secret(hass, match.group(1))
        keys = _GROUPING.sub("", value)
        if not _SECRET_VALUE.match(keys):
            raise _error("invalid_secret_value", name=name)
        resolved[name] = keys
    return resolved


def _read_secret(hass: HomeAssistant, key: str) -> str:
    """A value from the user's secrets.yaml (run in the executor: file I/O)."""
    try:
        secrets = load_yaml_dict(hass.config.path("secrets.yaml"))
    except (HomeAssistantError, OSError) as err:
        raise _error("unknown_secret", key=key) from err
    if key not in secrets:
        raise _error("unknown_secret", key=key)
    return str(secrets[key])


async def async_start_call(
    hass: HomeAssistant,
    entry: HoldSlayerConfigEntry,
    *,
    number: str | None,
    company: str = "",
    goal: str = "",
    secrets: Mapping[str, object] | None = None,
    max_hold_minutes: int | None = None,
    transfer_to: str | None = None,
    announce_to_agent: str | None = None,
    accept_callback: bool = False,
) -> CallSession:
    """Validate a call request and start it in the background (the action and the voice command).

    Without a number, the company is looked up in the line's phone book. Raises translated
    :class:`ServiceValidationError`s for unknown companies, refused numbers, a full line, bad
    secrets; returns the session at once.
    """
    data = entry.runtime_data
    if not number and not company:
        raise _error("number_required")
    if not number:
        contact = PhoneBook(contacts_from_options(entry.options.get(CONF_PHONE_BOOK))).find(company)
        if contact is None:
            raise _error("unknown_company", company=company)
        number, company = contact.number, contact.name
    try:
        target = data.calls.dial_plan.normalise(number)
    except DialRefusedError as err:
        raise _error(str(err.refusal)) from err
    if len(data.calls.active) >= data.calls.max_concurrent:
        raise _error("too_many_calls", limit=str(data.calls.max_concurrent))
    resolved = await hass.async_add_executor_job(_resolve_secrets, hass, dict(secrets or {}))
    options = entry.options
    if transfer_to:
        try:
            transfer_to = (
                data.calls.dial_plan.normalise(transfer_to) if transfer_to[0] == "+" else transfer_to
            )
        except DialRefusedError as err:
            raise _error(str(err.refusal)) from err
    if max_hold_minutes is None:
        max_hold_minutes = int(options.get(CONF_MAX_HOLD_MINUTES, DEFAULT_MAX_HOLD_MINUTES))
    request = CallRequest(
        target=target,
        goal=goal,
        company=company,
        secrets=resolved,
        max_hold=60.0 * max_hold_minutes,
        language=hass.config.language.split("-")[0],
        handoff=Handoff(
            transfer_to=transfer_to or None,
            announce_to_agent=announce_to_agent,
            patience=float(options.get(CONF_AGENT_PATIENCE, DEFAULT_AGENT_PATIENCE)),
            callback_number=options.get(CONF_CALLBACK_NUMBER),
        ),
        accept_callback=accept_callback,
    )

    def create_task(coro: Any, name: str) -> Any:
        return entry.async_create_background_task(hass, coro, name)

    return data.calls.async_start(request, create_task=create_task)


async def async_call_from_data(hass: HomeAssistant, data: Mapping[str, Any]) -> CallSession:
    """Start the call that ``data`` (validated by ``CALL_FIELDS``) asks for: the action and the card."""
    return await async_start_call(
        hass,
        loaded_entry(hass, data[ATTR_CONFIG_ENTRY_ID]),
        number=data.get(ATTR_NUMBER),
        company=data[ATTR_COMPANY],
        goal=data[ATTR_GOAL],
        secrets=dict(data[ATTR_SECRETS]),
        max_hold_minutes=data.get(ATTR_MAX_HOLD_MINUTES),
        transfer_to=data.get(ATTR_TRANSFER_TO),
        announce_to_agent=data.get(ATTR_ANNOUNCE_TO_AGENT),
        accept_callback=data[ATTR_ACCEPT_CALLBACK],
    )


async def async_send_dtmf_from_data(hass: HomeAssistant, data: Mapping[str, Any]) -> None:
    """Key ``data``'s digits into its call (validated by ``SEND_DTMF_FIELDS``): the action and the card."""
    digits = data[ATTR_DIGITS].replace(" ", "")
    if not _DTMF.match(digits):
        raise _error("invalid_dtmf")
    session = _session(hass, data)
    try:
        await session.send_dtmf(digits)
    except (CallNotConnectedError, SipError) as err:
        raise _error("call_not_connected") from err


async def _async_call(call: ServiceCall) -> ServiceResponse:
    session = await async_call_from_data(call.hass, call.data)
    return {"call_id": session.id}


async def _async_hangup(call: ServiceCall) -> None:
    await _session(call.hass, call.data).hangup()


async def _async_send_dtmf(call: ServiceCall) -> None:
    await async_send_dtmf_from_data(call.hass, call.data)


async def _async_say(call: ServiceCall) -> None:
    session = _session(call.hass, call.data)
    if not session.can_speak:
        raise _error("no_tts_engine")
    try:
        await session.say(call.data[ATTR_TEXT])
    except (CallNotConnectedError, SipError) as err:
        raise _error("call_not_connected") from err


async def _async_transfer(call: ServiceCall) -> None:
    entry = _entry(call.hass, call)
    session = _session(call.hass, call.data)
    target = call.data.get(ATTR_TARGET) or entry.options.get(CONF_DESK_EXTENSION)
    if not target:
        raise _error("no_desk_extension")
    try:
        await session.transfer(target, blind=call.data[ATTR_METHOD] == "refer")
    except CallNotConnectedError as err:
        raise _error("call_not_connected") from err
    except TransferInProgressError as err:
        raise _error("transfer_in_progress") from err
    except SipError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="transfer_failed",
            translation_placeholders={"error": str(err)},
        ) from err


async def _async_get_transcript(call: ServiceCall) -> ServiceResponse:
    session = _session(call.hass, call.data)
    return {
        "call_id": session.id,
        "company": session.request.company,
        "state": str(session.state),
        "lines": [
            {"at": line.at, "speaker": str(line.speaker), "text": line.text} for line in session.transcript
        ],
    }


def _iso(timestamp: float) -> str:
    return dt_util.utc_from_timestamp(timestamp).isoformat()


async def _async_list_routes(call: ServiceCall) -> ServiceResponse:
    routes = _entry(call.hass, call).runtime_data.calls.routes
    return {
        "routes": [
            {
                "number": route.number,
                "company": route.company,
                "steps": [describe(action_from_dict(step.action, reason="")) for step in route.steps],
                "calls": route.calls,
                "confirmed": _iso(route.confirmed),
                "stale": not routes.is_fresh(route),
                "type_ahead": route.type_ahead,
                "hold": route.hold_profile(),
            }
            for route in routes.routes.values()
        ]
    }


async def _async_export_routes(call: ServiceCall) -> ServiceResponse:
    return _entry(call.hass, call).runtime_data.calls.routes.as_dict()


async def _async_forget_route(call: ServiceCall) -> ServiceResponse:
    number, company = call.data.get(ATTR_NUMBER), call.data.get(ATTR_COMPANY)
    if not number and not company:
        raise _error("route_target_required")
    forgotten = await _entry(call.hass, call).runtime_data.calls.routes.forget(number, company)
    if not forgotten:
        raise _error("route_not_found", target=number or company or "")
    return {"forgotten": list[JsonValueType](forgotten)}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (from ``async_setup``: once, whatever the entries)."""
    hass.services.async_register(DOMAIN, "call", _async_call, CALL_SCHEMA, SupportsResponse.OPTIONAL)
    hass.services.async_register(DOMAIN, "hangup", _async_hangup, HANGUP_SCHEMA)
    hass.services.async_register(DOMAIN, "send_dtmf", _async_send_dtmf, SEND_DTMF_SCHEMA)
    hass.services.async_register(DOMAIN, "say", _async_say, SAY_SCHEMA)
    hass.services.async_register(DOMAIN, "transfer", _async_transfer, TRANSFER_SCHEMA)
    hass.services.async_register(
        DOMAIN, "get_transcript", _async_get_transcript, GET_TRANSCRIPT_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, "list_routes", _async_list_routes, LIST_ROUTES_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, "export_routes", _async_export_routes, EXPORT_ROUTES_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, "forget_route", _async_forget_route, FORGET_ROUTE_SCHEMA, SupportsResponse.OPTIONAL
    )
