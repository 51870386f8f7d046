"""The options form: desk phone, speech engines, decision makers, dial plan, limits, phone book."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol
from homeassistant.helpers import selector

from .const import (
    BUILT_IN_AGENTS,
    CONF_AI_TASK_ENTITY,
    CONF_ALLOWED_PREFIXES,
    CONF_BLOCKED_PREFIXES,
    CONF_CONVERSATION_AGENT,
    CONF_DESK_EXTENSION,
    CONF_EMERGENCY_NUMBERS,
    CONF_HOME_COUNTRY_CODE,
    CONF_MAX_CONCURRENT_CALLS,
    CONF_MAX_HOLD_MINUTES,
    CONF_OPENAI_API_KEY,
    CONF_OPENAI_BASE_URL,
    CONF_OPENAI_MODEL,
    CONF_PHONE_BOOK,
    CONF_STT_ENGINE,
    CONF_TTS_ENGINE,
    CONF_TTS_VOICE,
    DEFAULT_HOME_COUNTRY_CODE,
    DEFAULT_MAX_CONCURRENT_CALLS,
    DEFAULT_MAX_HOLD_MINUTES,
)
from .phonebook import PhoneBookLineError, contacts_from_options, format_phone_book, parse_phone_book
from .session.dialplan import DialPlan

_DESK_EXTENSION = re.compile(r"^(?:sips?:[^@\s]+@[^\s@]+|\+?[0-9*#]{1,32})$")
_COUNTRY_CODE = re.compile(r"^[1-9][0-9]{0,2}$")
_PREFIX = re.compile(r"^\+?[0-9]{1,15}$")
_EMERGENCY = re.compile(r"^[0-9]{2,6}$")

_TEXT = selector.TextSelector()
_LIST = selector.TextSelector(selector.TextSelectorConfig(multiple=True))
_MULTILINE = selector.TextSelector(selector.TextSelectorConfig(multiline=True))


def dial_plan_from_options(options: Mapping[str, Any]) -> DialPlan:
    """The line's dial plan from its options."""
    return DialPlan(
        home_country_code=options.get(CONF_HOME_COUNTRY_CODE, DEFAULT_HOME_COUNTRY_CODE),
        allowed_prefixes=tuple(options.get(CONF_ALLOWED_PREFIXES, ())),
        blocked_prefixes=tuple(options.get(CONF_BLOCKED_PREFIXES, ())),
        emergency_numbers=tuple(options.get(CONF_EMERGENCY_NUMBERS, ())),
    )


def _phone_book_text(options: Mapping[str, Any]) -> str:
    # Stored as a list of contacts; a re-shown form (after an error) still holds the text.
    stored = options.get(CONF_PHONE_BOOK)
    if isinstance(stored, str):
        return stored
    return format_phone_book(contacts_from_options(stored))


def _entity(domain: str) -> selector.EntitySelector:
    return selector.EntitySelector(selector.EntitySelectorConfig(domain=domain))


def _count(low: int, high: int, unit: str | None = None) -> selector.NumberSelector:
    config = selector.NumberSelectorConfig(min=low, max=high, step=1, mode=selector.NumberSelectorMode.BOX)
    if unit:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def _suggested(options: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {"suggested_value": options.get(key)}


def build_options_schema(options: Mapping[str, Any]) -> vol.Schema:
    """The options form, pre-filled with the current ``options``."""
    optional_fields: list[tuple[str, selector.Selector[Any]]] = [
        (CONF_DESK_EXTENSION, _TEXT),
        (CONF_STT_ENGINE, _entity("stt")),
        (CONF_TTS_ENGINE, _entity("tts")),
        (CONF_TTS_VOICE, _TEXT),
        (CONF_CONVERSATION_AGENT, selector.ConversationAgentSelector()),
        (CONF_AI_TASK_ENTITY, _entity("ai_task")),
        (
            CONF_OPENAI_BASE_URL,
            selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.URL)),
        ),
        (CONF_OPENAI_MODEL, _TEXT),
        (
            CONF_OPENAI_API_KEY,
            selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)),
        ),
    ]
    schema: dict[Any, Any] = {
        vol.Optional(key, description=_suggested(options, key)): field for key, field in optional_fields
    }
    schema.update(
        {
            vol.Required(
                CONF_HOME_COUNTRY_CODE,
                default=options.get(CONF_HOME_COUNTRY_CODE, DEFAULT_HOME_COUNTRY_CODE),
            ): _TEXT,
            vol.Optional(CONF_ALLOWED_PREFIXES, default=list(options.get(CONF_ALLOWED_PREFIXES, []))): _LIST,
            vol.Optional(CONF_BLOCKED_PREFIXES, default=list(options.get(CONF_BLOCKED_PREFIXES, []))): _LIST,
            vol.Optional(
                CONF_EMERGENCY_NUMBERS, default=list(options.get(CONF_EMERGENCY_NUMBERS, []))
            ): _LIST,
            vol.Required(
                CONF_MAX_CONCURRENT_CALLS,
                default=options.get(CONF_MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONCURRENT_CALLS),
            ): _count(1, 10),
            vol.Required(
                CONF_MAX_HOLD_MINUTES,
                default=options.get(CONF_MAX_HOLD_MINUTES, DEFAULT_MAX_HOLD_MINUTES),
            ): _count(5, 600, "min"),
            vol.Optional(
                CONF_PHONE_BOOK, description={"suggested_value": _phone_book_text(options)}
            ): _MULTILINE,
        }
    )
    return vol.Schema(schema)


def _is_http_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def validate_options(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the submitted options; return them with per-field errors (empty when valid)."""
    options: dict[str, Any] = {}
    for key, raw in user_input.items():
        value = raw.strip() if isinstance(raw, str) else raw
        if isinstance(value, list):
            value = [item.strip() for item in value if item.strip()]
        if value not in ("", None):
            options[key] = value
    errors: dict[str, str] = {}
    if (desk := options.get(CONF_DESK_EXTENSION)) and not _DESK_EXTENSION.match(desk):
        errors[CONF_DESK_EXTENSION] = "invalid_desk_extension"
    if options.get(CONF_CONVERSATION_AGENT) in BUILT_IN_AGENTS:
        errors[CONF_CONVERSATION_AGENT] = "built_in_agent"
    if (url := options.get(CONF_OPENAI_BASE_URL)) and not _is_http_url(url):
        errors[CONF_OPENAI_BASE_URL] = "invalid_url"
    if url and not options.get(CONF_OPENAI_MODEL):
        errors[CONF_OPENAI_MODEL] = "openai_model_required"
    if (options.get(CONF_OPENAI_MODEL) or options.get(CONF_OPENAI_API_KEY)) and not url:
        errors[CONF_OPENAI_BASE_URL] = "openai_url_required"
    if not _COUNTRY_CODE.match(options.get(CONF_HOME_COUNTRY_CODE, "").lstrip("+")):
        errors[CONF_HOME_COUNTRY_CODE] = "invalid_country_code"
    else:
        options[CONF_HOME_COUNTRY_CODE] = options[CONF_HOME_COUNTRY_CODE].lstrip("+")
    for key in (CONF_ALLOWED_PREFIXES, CONF_BLOCKED_PREFIXES):
        if any(not _PREFIX.match(prefix) for prefix in options.get(key, [])):
            errors[key] = "invalid_prefix"
    if any(not _EMERGENCY.match(number) for number in options.get(CONF_EMERGENCY_NUMBERS, [])):
        errors[CONF_EMERGENCY_NUMBERS] = "invalid_emergency_number"
    for key in (CONF_MAX_CONCURRENT_CALLS, CONF_MAX_HOLD_MINUTES):
        if key in options:
            options[key] = int(options[key])
    if CONF_PHONE_BOOK in options and not errors:
        try:
            contacts = parse_phone_book(options[CONF_PHONE_BOOK], dial_plan_from_options(options))
        except PhoneBookLineError as err:
            errors[CONF_PHONE_BOOK] = f"phone_book_{err.reason}"
        else:
            options[CONF_PHONE_BOOK] = [contact.as_option() for contact in contacts]
    return options, errors
