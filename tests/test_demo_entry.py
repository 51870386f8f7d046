"""The demo company line in Home Assistant: the flow's menu, the entry's life, HA's TTS voicing it."""

from __future__ import annotations

import socket

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.hold_slayer.config_flow import DEMO_TITLE
from custom_components.hold_slayer.const import (
    CONF_DEMO,
    CONF_HOME_COUNTRY_CODE,
    CONF_PHONE_BOOK,
    CONF_TTS_ENGINE,
    DOMAIN,
)
from custom_components.hold_slayer.demo import line as line_module
from custom_components.hold_slayer.demo.line import DEMO_COMPANIES, DemoLine
from custom_components.hold_slayer.demo_entry import EntryTts
from custom_components.hold_slayer.models import HoldSlayerConfigEntry
from custom_components.hold_slayer.phonebook import PhoneBook, contacts_from_options
from custom_components.hold_slayer.voice.protocols import SpeechError
from tests.test_speech import add_wyoming

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def _add_demo(hass: HomeAssistant) -> HoldSlayerConfigEntry:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "demo"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "demo"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: HoldSlayerConfigEntry = result["result"]
    return entry


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _demo(entry: HoldSlayerConfigEntry) -> DemoLine:
    demo = entry.runtime_data.demo
    assert demo is not None
    return demo


async def test_demo_entry_from_the_menu(hass: HomeAssistant, caplog: pytest.LogCaptureFixture) -> None:
    """No SIP account: the demo line starts at once, with its companies in the phone book."""
    entry = await _add_demo(hass)
    assert entry.title == DEMO_TITLE
    assert entry.unique_id == "demo"
    assert dict(entry.data) == {CONF_DEMO: True}
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options[CONF_HOME_COUNTRY_CODE] == "1"  # toll-free +1 800 numbers are domestic
    book = PhoneBook(contacts_from_options(entry.options[CONF_PHONE_BOOK]))
    assert [contact.name for contact in book.contacts] == [company.name for company in DEMO_COMPANIES]
    bank = book.find("Demo Bank")
    assert bank is not None
    assert bank.number == "+18005550100"
    demo = _demo(entry)
    assert demo.simulator.host == "127.0.0.1"
    assert _port_in_use(demo.simulator.port)
    phone = entry.runtime_data.phone
    assert not phone.register_enabled
    assert (phone.account.registrar, phone.account.port) == demo.simulator.address

    # HA runs already, so the prompts render now; without any TTS engine that is a warning only.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "no text-to-speech engine is set up" in caplog.text

    # Only one demo line; and it has nothing to reconfigure.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "demo"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "demo_not_reconfigurable"

    port = demo.simulator.port
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not _port_in_use(port)


async def test_demo_line_stops_with_home_assistant(hass: HomeAssistant) -> None:
    entry = await _add_demo(hass)
    port = _demo(entry).simulator.port
    assert _port_in_use(port)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not _port_in_use(port)


async def test_demo_line_speaks_through_the_users_tts(
    hass: HomeAssistant, wyoming_tts: tuple[str, int]
) -> None:
    """Every prompt of every demo company renders through HA's wyoming TTS entity (Piper)."""
    tts_id = await add_wyoming(hass, wyoming_tts[1], "tts")
    entry = await _add_demo(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_TTS_ENGINE: tts_id})
    await hass.async_block_till_done()  # the options reload the entry
    demo = _demo(entry)
    assert await demo.prerender()
    ivr = demo.scenarios[0].voices["ivr"]
    audio = await demo.simulator.voices.speak("Thank you for calling Acme Bank.", ivr, language="en")
    assert 1.0 < len(audio) / 8000 < 4.0
    assert abs(int(audio.max())) > 1000


async def test_entry_tts_without_an_engine() -> None:
    with pytest.raises(SpeechError, match="no text-to-speech engine"):
        await EntryTts(lambda: None).synthesize("Hello.", language="en")


async def test_demo_line_stops_when_the_phone_cannot_start(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hold Slayer's side finds its port taken: the entry fails and the simulated companies stop too."""
    stopped: list[DemoLine] = []
    original_stop = DemoLine.stop

    async def stop(self: DemoLine) -> None:
        stopped.append(self)
        await original_stop(self)

    monkeypatch.setattr(DemoLine, "stop", stop)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        monkeypatch.setattr(line_module, "free_udp_port", lambda host="127.0.0.1": taken.getsockname()[1])
        entry = MockConfigEntry(domain=DOMAIN, unique_id="demo", data={CONF_DEMO: True})
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    (line,) = stopped
    assert not _port_in_use(line.simulator.port)
