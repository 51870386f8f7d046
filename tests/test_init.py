"""Entry setup and unload against the real registrar: failures map to HA's retry/reauth/error."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    EVENT_HOMEASSISTANT_STOP,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.hold_slayer.const import CONF_ADVANCED, CONF_RTP_PORTS, CONF_SIP_PORTS, DOMAIN
from custom_components.hold_slayer.telephony import RegistrationState, SipPhone
from harness.servers.kamailio import Registrar, free_port, run_registrar
from tests.conftest import account_input

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]


def _sip_tasks() -> list[asyncio.Task[object]]:
    """Tasks the SIP phone runs (registration refresh, calls); none may outlive it."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("hold_slayer") and not t.done()]


def _sip_task_kinds() -> list[str]:
    """What the phone's running tasks do ("register", "keep-alive", …), sorted."""
    return sorted(task.get_name().split()[1] for task in _sip_tasks())


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


async def _setup(hass: HomeAssistant, registrar: Registrar, **overrides: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JHOLDSLAYERTESTENTRY0001",
        title="alice@127.0.0.1",
        unique_id="alice@127.0.0.1",
        data=account_input(registrar, **overrides),
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_setup_registers_and_unload_stops_everything(hass: HomeAssistant, registrar: Registrar) -> None:
    """Setup registers for real; unload deregisters and leaves no SIP thread alive."""
    entry = await _setup(hass, registrar)
    assert entry.state is ConfigEntryState.LOADED
    state = hass.states.get("sensor.alice_127_0_0_1_sip_registration")
    assert state is not None
    assert state.state == "registered"
    assert state.attributes["expires"] > 0
    # The registration refresh and the NAT keep-alive (CRLF pings to the registrar).
    assert _sip_task_kinds() == ["keep-alive", "register"]
    port = entry.runtime_data.phone.transport.local_port
    assert port is not None
    assert not _port_free(port)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert _sip_tasks() == []
    assert _port_free(port)


async def test_home_assistant_stop_stops_the_phone(hass: HomeAssistant, registrar: Registrar) -> None:
    """HA does not unload entries at shutdown, so the stop event must stop the phone."""
    entry = await _setup(hass, registrar)
    assert entry.state is ConfigEntryState.LOADED
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert _sip_tasks() == []
    assert entry.runtime_data.phone.status.state == "unregistered"
    # Unloading afterwards stops an already stopped phone without error.
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("platform", [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR])
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities_and_device(
    hass: HomeAssistant,
    registrar: Registrar,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """One service device per entry; each platform's entities and idle states."""
    with patch("custom_components.hold_slayer.PLATFORMS", [platform]):
        entry = await _setup(hass, registrar)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    device = device_registry.async_get_device(identifiers={(DOMAIN, entry.entry_id)})
    assert device is not None
    assert device.name == "alice@127.0.0.1"
    assert device.entry_type is dr.DeviceEntryType.SERVICE


async def test_wrong_password_starts_reauth(hass: HomeAssistant, registrar: Registrar) -> None:
    """A rejected password fails setup and asks the user to re-authenticate."""
    entry = await _setup(hass, registrar, **{CONF_PASSWORD: "expired"})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert _sip_tasks() == []


async def test_unreachable_registrar_retries(hass: HomeAssistant, registrar: Registrar) -> None:
    """A closed TCP port is 'not ready': HA retries setup later."""
    entry = await _setup(hass, registrar, transport="tcp", **{CONF_PORT: free_port()})
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert _sip_tasks() == []


async def test_invalid_stored_settings_are_an_error(hass: HomeAssistant, registrar: Registrar) -> None:
    """Stored data that cannot work (e.g. edited by hand) is a config error, not a retry loop."""
    entry = await _setup(hass, registrar, **{CONF_HOST: "not a host"})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_no_free_port_is_an_error(hass: HomeAssistant, registrar: Registrar) -> None:
    """A SIP port range that is fully taken cannot heal by retrying."""
    taken = f"{registrar.port}-{registrar.port}"
    entry = await _setup(
        hass, registrar, **{CONF_ADVANCED: {CONF_SIP_PORTS: taken, CONF_RTP_PORTS: "40000-40010"}}
    )
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_options_change_reloads(hass: HomeAssistant, registrar: Registrar) -> None:
    """Saving options re-creates the phone with them (one phone afterwards)."""
    entry = await _setup(hass, registrar)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"home_country_code": "44", "max_concurrent_calls": 1, "max_hold_minutes": 30}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options["home_country_code"] == "44"
    assert _sip_task_kinds() == ["keep-alive", "register"]  # the old phone's are gone
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_rejected_refresh_starts_reauth(hass: HomeAssistant) -> None:
    """When the registrar stops accepting the password later, the user is asked to re-authenticate."""
    port = free_port()
    with patch.object(SipPhone, "refresh_floor", 0.2), patch.object(SipPhone, "retry_first", 0.2):
        with run_registrar({"alice": "correct-horse"}, port, max_expires=1) as registrar:
            entry = await _setup(hass, registrar)
            state = hass.states.get("sensor.alice_127_0_0_1_sip_registration")
            assert state is not None
            assert state.attributes["expires"] == 1
        rejected = asyncio.Event()
        entry.runtime_data.phone.async_listen(
            lambda status: rejected.set() if status.state is RegistrationState.AUTH_FAILED else None
        )
        with run_registrar({"alice": "rotated"}, port, max_expires=1):
            async with asyncio.timeout(10):
                await rejected.wait()
            await hass.async_block_till_done()
            state = hass.states.get("sensor.alice_127_0_0_1_sip_registration")
            assert state is not None
            assert state.state == "auth_failed"
            assert state.attributes["last_error"] == "401 Unauthorized"
            (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            assert flow["context"]["source"] == SOURCE_REAUTH
            assert await hass.config_entries.async_unload(entry.entry_id)
