"""A SIP trunk without registration (issue 16 §4), against `sipp` as the trunk on 127.0.0.1.

Set-up pings the trunk with OPTIONS instead of registering (answered, challenged, refused, or
silent); a line set up as a trunk never sends REGISTER, calls from our number on the trunk, and
answers the trunk's challenge with the credential it was given.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hold_slayer.account import account_from_data
from custom_components.hold_slayer.const import (
    CONF_ADVANCED,
    CONF_FROM_NUMBER,
    CONF_HOME_COUNTRY_CODE,
    CONF_KEEPALIVE,
    CONF_KEEPALIVE_METHOD,
    CONF_RTP_PORTS,
    CONF_SIP_PORTS,
    CONF_TRANSPORT,
    CONF_TRUNK,
    DOMAIN,
)
from harness.servers.kamailio import free_port
from harness.servers.sipp import sipp_peer

pytestmark = pytest.mark.usefixtures("socket_enabled", "short_register_timeout")

NUMBER = "+14155550100"  # ours on the trunk
TRUNK_USER = "trunkuser"
ADVANCED = {
    CONF_SIP_PORTS: "5060-5080",
    CONF_RTP_PORTS: "10000-10999",
    CONF_KEEPALIVE: 30,
    CONF_KEEPALIVE_METHOD: "crlf",
}


def _trunk_input(port: int, **overrides: Any) -> dict[str, Any]:
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_TRANSPORT: "udp",
        CONF_FROM_NUMBER: "+1 (415) 555-0100",
        CONF_ADVANCED: dict(ADVANCED),
        **overrides,
    }


async def _trunk_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "sip_trunk" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "sip_trunk"})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "sip_trunk")
    return str(result["flow_id"])


def _from(number: str = NUMBER) -> str:
    return re.escape(number)


@pytest.mark.usefixtures("no_setup")
async def test_a_trunk_answering_the_ping_becomes_a_line(hass: HomeAssistant) -> None:
    """No REGISTER: one OPTIONS from our number (normalised), answered 200, and the entry is made."""
    flow_id = await _trunk_form(hass)
    async with sipp_peer("trunk_options.xml", {"STATUS": "200 OK", "FROM": _from()}) as trunk:
        result = await hass.config_entries.flow.async_configure(flow_id, _trunk_input(trunk.port))
        await trunk.succeeded()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["title"] == f"{NUMBER}@127.0.0.1"
    assert result["data"][CONF_TRUNK] is True
    assert result["data"][CONF_FROM_NUMBER] == NUMBER
    account = account_from_data(result["data"])
    assert (account.registers, account.username, account.password) == (False, NUMBER, "")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("403 Forbidden", "trunk_refused"),
        ("503 Service Unavailable", "rejected"),
        ("405 Method Not Allowed", None),
    ],
    ids=["ip-not-allowed", "unavailable", "options-not-supported"],
)
@pytest.mark.usefixtures("no_setup")
async def test_what_the_trunk_answers_the_ping(hass: HomeAssistant, status: str, error: str | None) -> None:
    """A refusal of us is an error on the form; a trunk that merely does not do OPTIONS is there."""
    flow_id = await _trunk_form(hass)
    async with sipp_peer("trunk_options.xml", {"STATUS": status, "FROM": _from()}) as trunk:
        result = await hass.config_entries.flow.async_configure(flow_id, _trunk_input(trunk.port))
        await trunk.succeeded()
    if error is None:
        assert result["type"] is FlowResultType.CREATE_ENTRY
    else:
        assert (result["type"], result["errors"]) == (FlowResultType.FORM, {"base": error})


@pytest.mark.usefixtures("no_setup")
async def test_a_challenged_ping_is_answered_with_the_credential(hass: HomeAssistant) -> None:
    flow_id = await _trunk_form(hass)
    async with sipp_peer("trunk_options_challenge.xml", {"USER": TRUNK_USER}) as trunk:
        data = _trunk_input(trunk.port, **{CONF_USERNAME: TRUNK_USER, CONF_PASSWORD: "s3cret"})
        result = await hass.config_entries.flow.async_configure(flow_id, data)
        await trunk.succeeded()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    account = account_from_data(result["data"])
    assert (account.auth_username, account.password) == (TRUNK_USER, "s3cret")


@pytest.mark.usefixtures("no_setup")
async def test_ping_errors_on_the_form(hass: HomeAssistant) -> None:
    """A challenge without credentials, silence, and an unusable number: each told, none fatal."""
    flow_id = await _trunk_form(hass)
    async with sipp_peer("trunk_options_challenge.xml", {"USER": TRUNK_USER}) as trunk:
        result = await hass.config_entries.flow.async_configure(flow_id, _trunk_input(trunk.port))
        assert result["errors"] == {"base": "trunk_refused"}
    result = await hass.config_entries.flow.async_configure(flow_id, _trunk_input(free_port()))
    assert result["errors"] == {"base": "timeout"}
    with patch("custom_components.hold_slayer.config_flow.probe_trunk") as probe:
        result = await hass.config_entries.flow.async_configure(
            flow_id, _trunk_input(free_port(), **{CONF_FROM_NUMBER: "my number"})
        )
    assert result["errors"] == {CONF_FROM_NUMBER: "invalid_from_number"}
    probe.assert_not_called()


async def test_a_call_through_the_trunk(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    """The line never registers (state direct); the call goes from our number, answers the trunk's
    challenge with the credential, is answered, and hangs up. Diagnostics keep the number out."""
    values = {"NUMBER": re.escape("+18005550123"), "FROM": _from(), "USER": TRUNK_USER}
    async with sipp_peer("trunk_call.xml", values, timeout=40) as trunk:
        data = _trunk_input(trunk.port, **{CONF_USERNAME: TRUNK_USER, CONF_PASSWORD: "s3cret"})
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"{NUMBER}@127.0.0.1",
            unique_id=f"{NUMBER}@127.0.0.1",
            data={**data, CONF_FROM_NUMBER: NUMBER, CONF_TRUNK: True},
            options={CONF_HOME_COUNTRY_CODE: "1"},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        registration = next(
            item.entity_id
            for item in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
            if item.translation_key == "registration"
        )
        state = hass.states.get(registration)
        assert state is not None
        assert state.state == "direct"
        response = await hass.services.async_call(
            DOMAIN,
            "call",
            {"config_entry_id": entry.entry_id, "number": "1-800-555-0123", "goal": "billing"},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        session = entry.runtime_data.calls.get(str(response["call_id"]))
        assert session is not None
        for _ in range(150):  # the trunk answers at once; 15 s at most
            if str(session.state) in ("ivr", "failed", "ended"):
                break
            await asyncio.sleep(0.1)
        assert str(session.state) == "ivr", session.outcome
        await hass.services.async_call(
            DOMAIN, "hangup", {"config_entry_id": entry.entry_id, "call_id": session.id}, blocking=True
        )
        await trunk.succeeded()
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert isinstance(diagnostics["registration"], dict)
        assert diagnostics["registration"]["state"] == "direct"
        assert NUMBER not in str(diagnostics)
        assert "s3cret" not in str(diagnostics)
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("no_setup")
async def test_reconfigure_a_trunk_keeps_its_credential(hass: HomeAssistant) -> None:
    """The trunk's own form; a password left empty stays as stored; another number is refused."""
    data = {**_trunk_input(5060, **{CONF_USERNAME: TRUNK_USER, CONF_PASSWORD: "s3cret"}), CONF_TRUNK: True}
    data[CONF_FROM_NUMBER] = NUMBER
    entry = MockConfigEntry(
        domain=DOMAIN, title=f"{NUMBER}@127.0.0.1", unique_id=f"{NUMBER}@127.0.0.1", data=data
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "reconfigure_trunk")
    async with sipp_peer("trunk_options_challenge.xml", {"USER": TRUNK_USER}) as trunk:
        changed = _trunk_input(trunk.port, **{CONF_USERNAME: TRUNK_USER})
        result = await hass.config_entries.flow.async_configure(result["flow_id"], changed)
        await trunk.succeeded()
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert entry.data[CONF_PORT] == trunk.port
    assert entry.data[CONF_PASSWORD] == "s3cret"
    result = await entry.start_reconfigure_flow(hass)
    other = _trunk_input(free_port(), **{CONF_FROM_NUMBER: "+14155550199"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], other)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "wrong_account")
