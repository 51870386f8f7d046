"""Voice command: "call my bank and wait on hold for me", "hang up the hold call", hold time.

Three intents registered with :func:`intent.async_register` (``platforms = None``, so every LLM
agent gets them as tools), and sentences for HA's built-in agent registered as sentence
triggers that hand over to the same intents. Sentence triggers are a private API that moved in
2025.10, so they are feature-detected and a failure is logged, never fatal; the blueprint
``voice_call.yaml`` is the supported fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

import voluptuous as vol
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent
from homeassistant.helpers.translation import async_get_translations

from .const import CONF_PHONE_BOOK, DOMAIN, LOGGER
from .models import HoldSlayerConfigEntry
from .phonebook import Contact, PhoneBook, contacts_from_options
from .services import async_start_call
from .session.dialplan import mask_number
from .session.session import CallSession

INTENT_CALL: Final = "HoldSlayerCall"
INTENT_HANGUP: Final = "HoldSlayerHangup"
INTENT_HOLD_TIME: Final = "HoldSlayerHoldTime"

SLOT_COMPANY: Final = "company"
SLOT_NUMBER: Final = "number"
SLOT_GOAL: Final = "goal"

# The built-in agent's sentences (hassil templates: [optional], (a|b) alternatives, {wildcard}).
SENTENCES: Final[dict[str, list[str]]] = {
    INTENT_CALL: [
        "call {company} and wait on hold [for me]",
        "call {company} and (hold|wait) for me",
    ],
    INTENT_HANGUP: ["hang up the hold call", "(end|stop) the hold call"],
    INTENT_HOLD_TIME: ["how long have I been on hold", "how long (is|has) the hold call [been] on hold"],
}


async def speech(hass: HomeAssistant, language: str | None, key: str, **placeholders: str) -> str:
    """A translated reply; HA loads only ``exceptions`` messages at run time, so they live there."""
    found = ""
    for lang in dict.fromkeys((language or hass.config.language, "en")):
        strings = await async_get_translations(hass, lang, "exceptions", {DOMAIN})
        if found := strings.get(f"component.{DOMAIN}.exceptions.{key}.message", ""):
            break
    return found.format(**placeholders) if found else key


def _loaded_entries(hass: HomeAssistant) -> list[HoldSlayerConfigEntry]:
    return list(hass.config_entries.async_loaded_entries(DOMAIN))


def _choose_line(
    hass: HomeAssistant, company: str | None
) -> tuple[HoldSlayerConfigEntry | None, Contact | None]:
    """The line whose phone book knows ``company``, else the first loaded line."""
    entries = _loaded_entries(hass)
    if company:
        for entry in entries:
            if contact := PhoneBook(contacts_from_options(entry.options.get(CONF_PHONE_BOOK))).find(company):
                return entry, contact
    return (entries[0] if entries else None), None


def _newest_active(hass: HomeAssistant) -> CallSession | None:
    sessions = [session for entry in _loaded_entries(hass) for session in entry.runtime_data.calls.active]
    return max(sessions, key=_started_at) if sessions else None


def _started_at(session: CallSession) -> float:
    return session.started_at


def _who(session: CallSession) -> str:
    return session.request.company or mask_number(session.request.target)


class HoldSlayerCallIntent(intent.IntentHandler):
    """Call a company (from the phone book) or a number, and wait on hold for the user."""

    intent_type = INTENT_CALL
    description = (
        "Phones a company or number for the user, gets through its phone menu, waits on hold "
        "and notifies the user when a person answers. Use for requests like 'call my bank and "
        "wait on hold for me'."
    )
    platforms = None  # offered to LLM agents whatever entities are exposed
    slot_schema: ClassVar[dict[Any, Any]] = {
        vol.Optional(SLOT_COMPANY): cv.string,
        vol.Optional(SLOT_NUMBER): cv.string,
        vol.Optional(SLOT_GOAL): cv.string,
    }

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Resolve the company, start the call in the background and say so."""
        hass = intent_obj.hass
        slots = self.async_validate_slots(intent_obj.slots)
        company: str | None = slots.get(SLOT_COMPANY, {}).get("value")
        number: str | None = slots.get(SLOT_NUMBER, {}).get("value")
        goal: str = slots.get(SLOT_GOAL, {}).get("value", "")
        language = intent_obj.language
        if not company and not number:
            raise intent.IntentHandleError(await speech(hass, language, "voice_name_needed"))
        entry, contact = _choose_line(hass, company)
        if entry is None:
            raise intent.IntentHandleError(await speech(hass, language, "voice_no_line"))
        if contact is not None:
            number, company = number or contact.number, contact.name
        elif not number and company and PhoneBook.looks_like_number(company):
            number, company = company, None
        try:  # without a number, the company is looked up (and refused) like the action does
            session = await async_start_call(hass, entry, number=number, company=company or "", goal=goal)
        except ServiceValidationError as err:
            raise intent.IntentHandleError(str(err)) from err
        response = intent_obj.create_response()
        response.async_set_speech(await speech(hass, language, "voice_calling", company=_who(session)))
        return response


class HoldSlayerHangupIntent(intent.IntentHandler):
    """Hang up the newest active hold call."""

    intent_type = INTENT_HANGUP
    description = "Hangs up the phone call Hold Slayer is making (waiting on hold) for the user."
    platforms = None

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """End the call and say with whom."""
        hass = intent_obj.hass
        response = intent_obj.create_response()
        if (session := _newest_active(hass)) is None:
            response.async_set_speech(await speech(hass, intent_obj.language, "voice_no_call"))
            return response
        await session.hangup("hung up by voice command")
        response.async_set_speech(
            await speech(hass, intent_obj.language, "voice_hung_up", company=_who(session))
        )
        return response


class HoldSlayerHoldTimeIntent(intent.IntentHandler):
    """Say how long the newest active call has been on hold."""

    intent_type = INTENT_HOLD_TIME
    description = "Tells how long the user's hold call (made by Hold Slayer) has been waiting on hold."
    platforms = None

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Minutes on hold, or where the call stands."""
        hass = intent_obj.hass
        language = intent_obj.language
        response = intent_obj.create_response()
        if (session := _newest_active(hass)) is None:
            text = await speech(hass, language, "voice_no_call")
        elif (seconds := session.hold_seconds) is None:
            text = await speech(hass, language, "voice_not_on_hold", company=_who(session))
        else:
            text = await speech(
                hass, language, "voice_hold_time", company=_who(session), minutes=str(round(seconds / 60))
            )
        response.async_set_speech(text)
        return response


@callback
def async_register_intents(hass: HomeAssistant) -> None:
    """Register the intents once per HA run (from ``async_setup`` and the intent platform)."""
    known = {handler.intent_type for handler in intent.async_get(hass)}
    for handler in (HoldSlayerCallIntent(), HoldSlayerHangupIntent(), HoldSlayerHoldTimeIntent()):
        if handler.intent_type not in known:
            intent.async_register(hass, handler)


async def async_setup_intents(hass: HomeAssistant) -> None:
    """The intent platform hook HA calls when its ``intent`` integration loads."""
    async_register_intents(hass)


def _trigger_callback(hass: HomeAssistant, intent_type: str) -> Callable[..., Any]:
    async def _async_sentence(user_input: Any, result: Any, *_: Any) -> str | None:
        # Newer cores may pass more arguments (a chat log); the first two are stable.
        slots = {
            name: {"value": entity.value, "text": entity.text}
            for name, entity in getattr(result, "entities", {}).items()
        }
        try:
            response = await intent.async_handle(
                hass,
                DOMAIN,
                intent_type,
                slots=slots,
                text_input=user_input.text,
                context=user_input.context,
                language=user_input.language,
            )
        except intent.IntentHandleError as err:
            return str(err)
        return str(response.speech["plain"]["speech"])

    return _async_sentence


def _register_trigger(
    hass: HomeAssistant, sentences: list[str], handler: Callable[..., Any]
) -> Callable[[], None]:
    """Register sentences with the built-in agent: 2025.10+ on its manager, before on the agent."""
    from homeassistant.components.conversation.agent_manager import (
        get_agent_manager,
    )

    manager: Any = get_agent_manager(hass)
    if hasattr(manager, "register_trigger"):
        return manager.register_trigger(sentences, handler)  # type: ignore[no-any-return]
    from homeassistant.components.conversation.const import (
        DATA_DEFAULT_ENTITY,
    )

    return hass.data[DATA_DEFAULT_ENTITY].register_trigger(sentences, handler)


@callback
def async_register_sentences(hass: HomeAssistant) -> Callable[[], None]:
    """Teach HA's built-in agent our sentences; returns an unregister (a no-op on failure)."""
    unregisters: list[Callable[[], None]] = []
    try:
        for intent_type, sentences in SENTENCES.items():
            unregisters.append(_register_trigger(hass, sentences, _trigger_callback(hass, intent_type)))
    except Exception:  # noqa: BLE001 - a private API: never let it break the integration
        LOGGER.warning(
            "Could not add Hold Slayer's sentences to the built-in voice agent; "
            "import the voice command blueprint instead",
            exc_info=True,
        )

    def _unregister() -> None:
        for unregister in unregisters:
            unregister()
        unregisters.clear()

    return _unregister
