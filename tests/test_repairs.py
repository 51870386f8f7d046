"""Repairs: a configured engine that is gone (with its fix flow), and a line that cannot register."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest.mock import ANY, patch

import pytest
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hold_slayer.const import (
    CONF_CONVERSATION_AGENT,
    CONF_HOME_COUNTRY_CODE,
    CONF_STT_ENGINE,
    CONF_TRANSPORT,
    CONF_TTS_ENGINE,
    DOMAIN,
)
from custom_components.hold_slayer.repairs import (
    REGISTRATION_FAILURES,
    REGISTRATION_ISSUE_AFTER,
    RegistrationWatch,
    async_create_fix_flow,
    engine_issue_id,
    registration_issue_id,
)
from custom_components.hold_slayer.telephony import RegistrationState, RegistrationStatus, SipPhone
from harness.servers.kamailio import Registrar, run_registrar
from tests.conftest import PASSWORD, USERNAME, account_input, setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "01JHOLDSLAYERREPAIRS000001"


async def _setup(
    hass: HomeAssistant, registrar: Registrar, data: dict[str, Any], **options: Any
) -> MockConfigEntry:
    return await setup_line(hass, registrar, ENTRY_ID, {CONF_HOME_COUNTRY_CODE: "1", **options}, data)


def _issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


async def test_missing_engines_follow_the_entity_registry(hass: HomeAssistant, registrar: Registrar) -> None:
    """An issue per engine that does not exist; it goes when the entity comes, and back."""
    registry = er.async_get(hass)
    piper = registry.async_get_or_create("tts", "wyoming", "piper")
    await _setup(
        hass,
        registrar,
        account_input(registrar),
        **{
            CONF_STT_ENGINE: "stt.whisper",
            CONF_TTS_ENGINE: piper.entity_id,
            CONF_CONVERSATION_AGENT: "conversation.home_assistant",
        },
    )
    issue = _issue(hass, engine_issue_id(ENTRY_ID, CONF_STT_ENGINE))
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "missing_stt_engine"
    assert issue.translation_placeholders == {"entity": "stt.whisper", "title": "alice@127.0.0.1"}
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_TTS_ENGINE)) is None
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_CONVERSATION_AGENT)) is None

    whisper = registry.async_get_or_create("stt", "wyoming", "whisper", suggested_object_id="whisper")
    assert whisper.entity_id == "stt.whisper"
    await hass.async_block_till_done()
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_STT_ENGINE)) is None
    registry.async_remove(piper.entity_id)
    await hass.async_block_till_done()
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_TTS_ENGINE)) is not None

    assert await hass.config_entries.async_unload(ENTRY_ID)
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_TTS_ENGINE)) is None  # no issue for unloaded lines


@pytest.mark.parametrize(("chosen", "expected"), [({CONF_STT_ENGINE: "stt.other"}, "stt.other"), ({}, None)])
async def test_fix_flow_picks_another_engine_or_clears_it(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    registrar: Registrar,
    chosen: dict[str, str],
    expected: str | None,
) -> None:
    """Through the repairs API, as the UI does it: the option changes and the issue goes."""
    assert await async_setup_component(hass, "repairs", {})
    er.async_get(hass).async_get_or_create("stt", "wyoming", "other", suggested_object_id="other")
    entry = await _setup(hass, registrar, account_input(registrar), **{CONF_STT_ENGINE: "stt.gone"})
    issue_id = engine_issue_id(ENTRY_ID, CONF_STT_ENGINE)
    assert _issue(hass, issue_id) is not None
    client = await hass_client()
    response = await client.post("/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id})
    assert response.status == 200
    form = await response.json()
    assert form["step_id"] == "choose"
    assert form["description_placeholders"] == {"entity": "stt.gone", "title": "alice@127.0.0.1"}
    response = await client.post(f"/api/repairs/issues/fix/{form['flow_id']}", json=chosen)
    assert response.status == 200
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert entry.options.get(CONF_STT_ENGINE) == expected
    assert entry.options[CONF_HOME_COUNTRY_CODE] == "1"
    assert _issue(hass, issue_id) is None


async def test_registration_issue_raised_and_cleared(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """A real registrar goes away: the issue comes after a while of failures, and goes on success."""
    with (
        patch.object(SipPhone, "refresh_floor", 0.3),
        patch.object(SipPhone, "retry_first", 0.2),
        patch.object(SipPhone, "retry_max", 0.3),
    ):
        with run_registrar({USERNAME: PASSWORD}, max_expires=1) as registrar:
            entry = await _setup(hass, registrar, account_input(registrar, **{CONF_TRANSPORT: "tcp"}))
            port = registrar.port
        phone = entry.runtime_data.phone
        for _ in range(400):
            await hass.async_block_till_done()
            if phone.status.state == "failed":
                break
            await hass.async_add_executor_job(time.sleep, 0.05)  # the phone retries in real time
        assert phone.status.state == "failed"
        issue_id = registration_issue_id(ENTRY_ID)
        assert _issue(hass, issue_id) is None  # one failure is not yet an issue
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=REGISTRATION_ISSUE_AFTER + 1))
        await hass.async_block_till_done()
        issue = _issue(hass, issue_id)
        assert issue is not None
        assert issue.severity is ir.IssueSeverity.ERROR
        assert issue.translation_key == "registration_failed"
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert diagnostics["registration"] == {
            "state": "failed",
            "error": ANY,
            "expires": None,
            "nat": {"public_address_from": None, "keepalives_sent": ANY},
        }
        assert f"127.0.0.1:{port}" not in str(diagnostics)  # the registrar's address is scrubbed
        with run_registrar({USERNAME: PASSWORD}, port=port, max_expires=1):
            for _ in range(400):
                await hass.async_block_till_done()
                if phone.status.state == "registered":
                    break
                await hass.async_add_executor_job(time.sleep, 0.05)  # the phone retries in real time
            assert phone.status.state == "registered"
            assert _issue(hass, issue_id) is None
            assert await hass.config_entries.async_unload(ENTRY_ID)


async def test_engines_checked_once_started(hass: HomeAssistant, registrar: Registrar) -> None:
    """While HA starts, other integrations' entities may not exist yet: check once started."""
    hass.set_state(CoreState.starting)
    await _setup(hass, registrar, account_input(registrar), **{CONF_TTS_ENGINE: "tts.gone"})
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_TTS_ENGINE)) is None
    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    assert _issue(hass, engine_issue_id(ENTRY_ID, CONF_TTS_ENGINE)) is not None


async def test_repeated_distinct_failures_raise_at_once(hass: HomeAssistant, registrar: Registrar) -> None:
    """Failures the phone reports one by one (they differ) count up to the limit."""
    entry = await _setup(hass, registrar, account_input(registrar))
    watch = RegistrationWatch(hass, entry)
    for attempt in range(REGISTRATION_FAILURES - 1):
        watch.on_status(RegistrationStatus(RegistrationState.FAILED, f"timeout {attempt}"))
    assert _issue(hass, watch.issue_id) is None
    watch.on_status(RegistrationStatus(RegistrationState.AUTH_FAILED, "403 Forbidden"))
    issue = _issue(hass, watch.issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"title": "alice@127.0.0.1", "error": "403 Forbidden"}
    watch.on_status(RegistrationStatus(RegistrationState.REGISTERED, None, 600))
    assert _issue(hass, watch.issue_id) is None
    watch.async_stop()


async def test_unknown_fix_flow(hass: HomeAssistant) -> None:
    with pytest.raises(ValueError, match="unknown repair"):
        await async_create_fix_flow(hass, "nope", {"entry_id": "nope", "option": CONF_STT_ENGINE})
