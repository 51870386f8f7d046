"""Shared fixtures: the HA harness with our custom integration, a real SIP registrar, and real
Wyoming speech servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Import our package before HA scans phacc's testing_config/custom_components.
import custom_components.hold_slayer  # noqa: F401
from custom_components.hold_slayer.config_flow import HoldSlayerConfigFlow
from custom_components.hold_slayer.const import (
    CONF_ADVANCED,
    CONF_AUTH_USERNAME,
    CONF_CALLER_ID,
    CONF_HOME_COUNTRY_CODE,
    CONF_KEEPALIVE,
    CONF_KEEPALIVE_METHOD,
    CONF_OUTBOUND_PROXY,
    CONF_PHONE_BOOK,
    CONF_REWRITE_CONTACT,
    CONF_RTP_PORTS,
    CONF_SIP_PORTS,
    CONF_TRANSPORT,
    DOMAIN,
)
from harness.servers.kamailio import Registrar, free_port, run_registrar
from harness.servers.wyoming import run_server

USERNAME = "alice"
PASSWORD = "correct-horse"

# Files of real-time tests (minutes each) that start before everything else, longest first, so
# the run ends on short files. xdist hands files out by their count of tests, which left the
# ten-minute call for the end, with the other worker idle beside it.
STARTS_FIRST = (
    "tests/telephony/test_long_call.py",
    "tests/e2e/test_simulated_calls.py",
    "tests/telephony/test_nat_router.py",
    "tests/test_e2e_desk.py",
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadfile``, the files of ``STARTS_FIRST`` are handed out first."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]  # the controller's

    class LongFilesFirst(LoadFileScheduling):  # type: ignore[misc]
        def _assign_work_unit(self, node: Any) -> None:
            for scope in reversed(STARTS_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return LongFilesFirst(config, log)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/hold_slayer in every test."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with HA's serializer (stable ids, no timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def short_register_timeout() -> Iterator[None]:
    """The config flow's test REGISTER or trunk ping gives up after 1 s instead of 10 s."""
    with patch.object(HoldSlayerConfigFlow, "register_timeout", 1.0):
        yield


@pytest.fixture
def no_setup() -> Iterator[None]:
    """Flow tests check the flow; entry setup has its own tests."""
    with patch("custom_components.hold_slayer.async_setup_entry", return_value=True):
        yield


@pytest.fixture(scope="session")
def registrar() -> Iterator[Registrar]:
    """A real Kamailio registrar with digest auth on 127.0.0.1 (UDP and TCP)."""
    with run_registrar({USERNAME: PASSWORD, "bob": "builder"}) as running:
        yield running


@pytest.fixture(scope="session")
def wyoming_stt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Wyoming faster-whisper server (tiny.en) on 127.0.0.1, once per xdist worker."""
    with run_server("stt", Path(tmp_path_factory.mktemp("wyoming-stt"))) as server:
        yield server.host, server.port


@pytest.fixture(scope="session")
def wyoming_tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Wyoming Piper server (en_US-joe-medium) on 127.0.0.1, once per xdist worker."""
    with run_server("tts", Path(tmp_path_factory.mktemp("wyoming-tts"))) as server:
        yield server.host, server.port


def account_input(registrar: Registrar, **overrides: Any) -> dict[str, Any]:
    """The account form as a user would fill it in for ``registrar``."""
    data: dict[str, Any] = {
        CONF_HOST: registrar.host,
        CONF_PORT: registrar.port,
        CONF_TRANSPORT: "udp",
        CONF_USERNAME: USERNAME,
        CONF_PASSWORD: PASSWORD,
        CONF_CALLER_ID: "+15555550123",
        CONF_ADVANCED: {
            CONF_AUTH_USERNAME: "",
            CONF_OUTBOUND_PROXY: "",
            CONF_SIP_PORTS: f"{(low := free_port(30000, 39000))}-{low + 10}",
            CONF_RTP_PORTS: "40000-40099",
            CONF_KEEPALIVE: 30,
            CONF_KEEPALIVE_METHOD: "crlf",
            CONF_REWRITE_CONTACT: True,
        },
    }
    advanced = overrides.pop(CONF_ADVANCED, {})
    data.update(overrides)
    data[CONF_ADVANCED].update(advanced)
    return data


def phone_book_options(registrar: Registrar) -> dict[str, Any]:
    """A phone book whose one company (aliases: my bank) rings and never answers."""
    ringing = f"sip:ringing@{registrar.host}:{registrar.port}"
    return {
        CONF_HOME_COUNTRY_CODE: "1",
        CONF_PHONE_BOOK: [{"name": "Slow Company", "aliases": ["my bank"], "number": ringing}],
    }


async def setup_line(
    hass: HomeAssistant,
    registrar: Registrar,
    entry_id: str,
    options: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A Hold Slayer line for the test account at ``registrar`` (or ``data``), set up and loaded."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=f"{USERNAME}@127.0.0.1",
        unique_id=f"{USERNAME}@127.0.0.1",
        data=data or account_input(registrar),
        options=options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Entities disabled by default (line audio) are enabled, so snapshots show them."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield
