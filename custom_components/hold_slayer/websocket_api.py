"""Websocket commands for the dashboard card: timeline, phone book, and the controls with secrets.

The card reads states and attributes like any card; what entities cannot carry without
flooding the recorder comes from here, asked for by the card (at most every few seconds while a
call is live, once when it ended). Nothing here is pushed or polled on the server side.

Starting a call and keying digits run the same code as the ``call`` and ``send_dtmf`` actions,
but over the websocket: Home Assistant records every action's data in its ``call_service``
event, and an account number typed into the card, or keyed on its keypad when the line asks
for one, must not land in the recorder's database.
"""

from __future__ import annotations

from typing import Any, Final

import voluptuous as vol
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.const import (
    ERR_HOME_ASSISTANT_ERROR,
    ERR_NOT_FOUND,
    ERR_SERVICE_VALIDATION_ERROR,
)
from homeassistant.components.websocket_api.decorators import async_response, websocket_command
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import CONF_PHONE_BOOK, DOMAIN
from .models import HoldSlayerConfigEntry
from .phonebook import contacts_from_options
from .services import (
    CALL_FIELDS,
    SEND_DTMF_FIELDS,
    async_call_from_data,
    async_send_dtmf_from_data,
    loaded_entry,
)
from .session.events import FINAL_STATES
from .session.snapshot import CallSnapshot

TIMELINE_COMMAND: Final = f"{DOMAIN}/call/timeline"
PHONE_BOOK_COMMAND: Final = f"{DOMAIN}/phone_book"
START_CALL_COMMAND: Final = f"{DOMAIN}/call/start"
SEND_DTMF_COMMAND: Final = f"{DOMAIN}/call/send_dtmf"


@callback
def async_register_commands(hass: HomeAssistant) -> None:
    """Register the card's commands (once per HA run)."""
    async_register_command(hass, ws_call_timeline)
    async_register_command(hass, ws_phone_book)
    async_register_command(hass, ws_start_call)
    async_register_command(hass, ws_send_dtmf)


def _translated_error(
    connection: ActiveConnection, msg_id: int, err: HomeAssistantError, code: str = ERR_NOT_FOUND
) -> None:
    connection.send_error(
        msg_id,
        code,
        str(err),
        translation_key=err.translation_key,
        translation_domain=err.translation_domain,
        translation_placeholders=err.translation_placeholders,
    )


def _entry(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> HoldSlayerConfigEntry | None:
    try:
        return loaded_entry(hass, msg["config_entry_id"])
    except ServiceValidationError as err:
        _translated_error(connection, msg["id"], err)
        return None


def timeline_payload(call: CallSnapshot | None) -> dict[str, Any]:
    """A call's strip as the card draws it (session seconds; texts already masked)."""
    if call is None:
        return {"call": None}
    return {
        "call": {
            "call_id": call.call_id,
            "state": str(call.state),
            "live": call.state not in FINAL_STATES,
            "company": call.company,
            "spans": [{"start": span.start, "end": span.end, "kind": span.kind} for span in call.timeline],
            "marks": [
                {"at": mark.at, "kind": str(mark.kind), "text": mark.text, "source": mark.source}
                for mark in call.marks
            ],
        }
    }


@websocket_command(
    {
        vol.Required("type"): TIMELINE_COMMAND,
        vol.Required("config_entry_id"): str,
        vol.Optional("call_id"): str,
    }
)
@callback
def ws_call_timeline(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """The timeline strip of a call (``call_id``, else the line's current call; none: ``call`` null)."""
    if (entry := _entry(hass, connection, msg)) is None:
        return
    call_id: str | None = msg.get("call_id")
    call = entry.runtime_data.calls.timeline_snapshot(call_id)
    if call is None and call_id is not None:
        _translated_error(
            connection,
            msg["id"],
            ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="call_not_found",
                translation_placeholders={"call_id": call_id},
            ),
        )
        return
    connection.send_result(msg["id"], timeline_payload(call))


@websocket_command({vol.Required("type"): PHONE_BOOK_COMMAND, vol.Required("config_entry_id"): str})
@callback
def ws_phone_book(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """The names of the line's phone-book companies, for the card's call form (no numbers)."""
    if (entry := _entry(hass, connection, msg)) is None:
        return
    contacts = contacts_from_options(entry.options.get(CONF_PHONE_BOOK))
    connection.send_result(msg["id"], {"companies": [contact.name for contact in contacts]})


def _action_error(connection: ActiveConnection, msg_id: int, err: HomeAssistantError) -> None:
    """As HA's own ``call_service`` command reports an action's error."""
    invalid = isinstance(err, ServiceValidationError)
    _translated_error(
        connection, msg_id, err, ERR_SERVICE_VALIDATION_ERROR if invalid else ERR_HOME_ASSISTANT_ERROR
    )


def _without_type(msg: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in msg.items() if key not in ("id", "type")}


@websocket_command({vol.Required("type"): START_CALL_COMMAND, **CALL_FIELDS})
@async_response
async def ws_start_call(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """The ``call`` action's request from the card (secrets kept out of the recorder): ``{call_id}``."""
    try:
        session = await async_call_from_data(hass, _without_type(msg))
    except HomeAssistantError as err:
        _action_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], {"call_id": session.id})


@websocket_command({vol.Required("type"): SEND_DTMF_COMMAND, **SEND_DTMF_FIELDS})
@async_response
async def ws_send_dtmf(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """The card's keypad: digits keyed into the call (a number the line asks for, kept from the recorder)."""
    try:
        await async_send_dtmf_from_data(hass, _without_type(msg))
    except HomeAssistantError as err:
        _action_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"])
