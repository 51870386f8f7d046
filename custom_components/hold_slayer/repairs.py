"""Repairs: a speech engine or agent the options name is gone; the registrar keeps refusing us.

Missing engines are checked once HA has started and whenever the entity registry changes; the
fix flow lets the user pick another engine or clear the option. Registration trouble is raised
when the line has failed to register for a while (several retries; the phone backs off between
them) and removed as soon as it registers again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import voluptuous as vol
from homeassistant.components.repairs import RepairsFlow
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, Event, HassJob, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers import selector
from homeassistant.helpers.event import async_call_later

from .const import (
    BUILT_IN_AGENTS,
    CONF_AI_TASK_ENTITY,
    CONF_CONVERSATION_AGENT,
    CONF_STT_ENGINE,
    CONF_TTS_ENGINE,
    DOMAIN,
    LOGGER,
)
from .models import HoldSlayerConfigEntry
from .telephony import RegistrationState, RegistrationStatus, SipPhone

ENGINE_OPTIONS: Final = (CONF_STT_ENGINE, CONF_TTS_ENGINE, CONF_CONVERSATION_AGENT, CONF_AI_TASK_ENTITY)
REGISTRATION_FAILURES: Final = 3  # consecutive failures reported before the issue is raised
REGISTRATION_ISSUE_AFTER: Final = 600.0  # or seconds failing without a success, whichever first


def engine_issue_id(entry_id: str, option: str) -> str:
    """The issue about option ``option`` of entry ``entry_id``."""
    return f"missing_engine_{entry_id}_{option}"


def registration_issue_id(entry_id: str) -> str:
    """The issue about entry ``entry_id`` failing to register."""
    return f"registration_failed_{entry_id}"


def _engine_exists(hass: HomeAssistant, option: str, value: str) -> bool:
    if option == CONF_CONVERSATION_AGENT and (value in BUILT_IN_AGENTS or "." not in value):
        return True  # the built-in agent, or a legacy agent id (a config entry id) we cannot check
    return er.async_get(hass).async_get(value) is not None or hass.states.get(value) is not None


@callback
def async_check_engines(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> None:
    """Raise or clear one issue per engine option, by whether its entity exists."""
    for option in ENGINE_OPTIONS:
        issue_id = engine_issue_id(entry.entry_id, option)
        value = entry.options.get(option)
        if not value or _engine_exists(hass, option, value):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            continue
        LOGGER.warning("%s of %s is set to %s, which no longer exists", option, entry.title, value)
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            data={"entry_id": entry.entry_id, "option": option},
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"missing_{option}",
            translation_placeholders={"entity": value, "title": entry.title},
        )


@callback
def async_watch_engines(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> Callable[[], None]:
    """Check the engines now (or once HA has started) and on every entity-registry change."""
    unsubscribes: list[Callable[[], None]] = []

    @callback
    def _check(_: Event[Any] | None = None) -> None:
        # While HA starts, other integrations' entities are still being added: wait for started.
        if hass.state is CoreState.running:
            async_check_engines(hass, entry)

    if hass.state is CoreState.running:
        _check()
    else:
        unsubscribes.append(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, _check))
    unsubscribes.append(hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, _check))

    def _stop() -> None:
        for unsubscribe in unsubscribes:
            unsubscribe()
        for option in ENGINE_OPTIONS:
            ir.async_delete_issue(hass, DOMAIN, engine_issue_id(entry.entry_id, option))

    return _stop


class RegistrationWatch:
    """Raises the registration issue after repeated failures; clears it on success.

    The phone reports a status only when it changes, so identical failures in a row arrive
    once: a timer covers them (the phone retries with backoff meanwhile).
    """

    failures_before_issue: int = REGISTRATION_FAILURES
    issue_after: float = REGISTRATION_ISSUE_AFTER

    def __init__(self, hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.failures = 0
        self.last_error: str | None = None
        self._timer: Callable[[], None] | None = None

    @property
    def issue_id(self) -> str:
        """The id of the line's registration issue."""
        return registration_issue_id(self.entry.entry_id)

    @callback
    def on_status(self, status: RegistrationStatus) -> None:
        """Count failures; raise or clear the issue."""
        if status.state in (RegistrationState.FAILED, RegistrationState.AUTH_FAILED):
            self.failures += 1
            self.last_error = status.error
            if self.failures >= self.failures_before_issue:
                self._raise()
            elif self._timer is None:
                self._timer = async_call_later(
                    self.hass,
                    self.issue_after,
                    HassJob(self._on_timer, "hold_slayer registration issue", cancel_on_shutdown=True),
                )
        elif status.state is RegistrationState.REGISTERED:
            self.failures = 0
            self._cancel_timer()
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)

    @callback
    def _on_timer(self, _: Any) -> None:
        self._timer = None
        self._raise()

    def _raise(self) -> None:
        self._cancel_timer()
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            data={"entry_id": self.entry.entry_id},
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="registration_failed",
            translation_placeholders={"title": self.entry.title, "error": self.last_error or "?"},
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    @callback
    def async_stop(self) -> None:
        """Unload: no timer left, no issue about a line that is not loaded."""
        self._cancel_timer()
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)


@callback
def async_watch_registration(
    hass: HomeAssistant, entry: HoldSlayerConfigEntry, phone: SipPhone
) -> Callable[[], None]:
    """Watch ``phone``'s registration for the issue; returns the stop callback."""
    watch = RegistrationWatch(hass, entry)
    unsubscribe = phone.async_listen(watch.on_status)

    def _stop() -> None:
        unsubscribe()
        watch.async_stop()

    return _stop


def _engine_selector(option: str) -> selector.Selector[Any]:
    if option == CONF_CONVERSATION_AGENT:
        return selector.ConversationAgentSelector()
    domain = {CONF_STT_ENGINE: "stt", CONF_TTS_ENGINE: "tts", CONF_AI_TASK_ENTITY: "ai_task"}[option]
    return selector.EntitySelector(selector.EntitySelectorConfig(domain=domain))


class MissingEngineRepairFlow(RepairsFlow):
    """Pick another engine for the option, or leave it empty to clear it."""

    def __init__(self, entry: HoldSlayerConfigEntry, option: str) -> None:
        self.entry = entry
        self.option = option

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Start: HA passes the issue here, not the user's input."""
        return await self.async_step_choose()

    async def async_step_choose(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """The one form: a selector of the option's kind."""
        if user_input is not None:
            options = {k: v for k, v in self.entry.options.items() if k != self.option}
            if value := user_input.get(self.option):
                options[self.option] = value
            # The entry's update listener reloads it, and setup checks the engines again.
            self.hass.config_entries.async_update_entry(self.entry, options=options)
            ir.async_delete_issue(self.hass, DOMAIN, engine_issue_id(self.entry.entry_id, self.option))
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="choose",
            data_schema=vol.Schema({vol.Optional(self.option): _engine_selector(self.option)}),
            description_placeholders={
                "entity": str(self.entry.options.get(self.option, "")),
                "title": self.entry.title,
            },
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of a missing-engine issue."""
    entry_id = str((data or {}).get("entry_id"))
    option = str((data or {}).get("option"))
    entry: HoldSlayerConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or option not in ENGINE_OPTIONS:
        raise ValueError(f"unknown repair {issue_id}")
    return MissingEngineRepairFlow(entry, option)
