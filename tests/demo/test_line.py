"""The demo company line without Home Assistant: its companies, its phone book, a real call to it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from custom_components.hold_slayer.demo.line import (
    DEMO_COMPANIES,
    DEMO_HOST,
    DEMO_USERNAME,
    DemoLine,
    demo_phone_book,
    demo_scenarios,
    for_any_host,
)
from custom_components.hold_slayer.demo.music import hold_audio
from custom_components.hold_slayer.demo.scenario import HoldNode, MenuNode, Music, load_scenarios
from custom_components.hold_slayer.telephony import CallState, SipPhone
from custom_components.hold_slayer.voice.espeak import EspeakTts
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError
from tests.demo.conftest import Ear
from tests.telephony.conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")


class BrokenTts:
    """A TTS engine that is not there (its real twin, espeak, speaks in the other tests)."""

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        raise SpeechError("tts.gone not found")


def test_demo_companies_are_dtmf_menus_with_a_person_at_the_end() -> None:
    scenarios = demo_scenarios()
    assert [s.id for s in scenarios] == [c.scenario_id for c in DEMO_COMPANIES]
    for scenario in scenarios:
        menus = [node for node in scenario.nodes.values() if isinstance(node, MenuNode)]
        assert menus
        assert all(menu.input.dtmf and not menu.input.speech for menu in menus)
        assert scenario.expect.reaches is not None
        assert dict(scenario.expect.secrets) == dict(
            next(c.secrets for c in DEMO_COMPANIES if c.scenario_id == scenario.id)
        )


def test_demo_companies_speak_under_their_demo_names() -> None:
    """A newcomer who calls "Demo Bank" hears "Demo Bank", not the scenario's "Acme Bank"."""
    texts = {
        scenario.id: " ".join(str(getattr(node, "say", "")) for node in scenario.nodes.values())
        for scenario in demo_scenarios()
    }
    for company in DEMO_COMPANIES:
        assert company.name in texts[company.scenario_id], company
        assert not any(spoken in texts[company.scenario_id] for spoken in company.spoken), company
    assert "Thank you for calling Demo Bank." in texts["acme-bank-billing"]
    assert "Demo Robotics support, this is Miles." in " ".join(
        str(node)
        for node in next(s for s in demo_scenarios() if s.id == "cyberdyne-callback-offer").nodes.values()
    )


def test_for_any_host_needs_no_prompt_or_music_files() -> None:
    """Recorded voices become TTS voices and music on hold is synthesised (none of it on a user's HA)."""
    shipped = {s.id: s for s in load_scenarios()}
    acme = shipped["acme-bank-billing"]
    assert acme.voices["ivr"].recorded
    ready = for_any_host(acme)
    assert not any(voice.recorded for voice in ready.voices.values())
    assert ready.voices["ivr"].tts_id == "ivr"
    assert ready.voices["agent"] == acme.voices["agent"]
    holds = [node for node in ready.nodes.values() if isinstance(node, HoldNode)]
    assert [node.hold.music for node in holds] == [Music.PIANO]
    assert holds[0].hold.seconds == 45  # nothing else changed
    assert ready.nodes["main"] == acme.nodes["main"]
    # Other music stays as written.
    for scenario in load_scenarios():
        for before, after in zip(scenario.nodes.values(), for_any_host(scenario).nodes.values(), strict=True):
            if isinstance(before, HoldNode) and before.hold.music is not Music.MOH:
                assert after == before
    assert np.abs(hold_audio(Music.PIANO, 2.0)).max() > 1000


def test_phone_book_names_the_demo_companies() -> None:
    scenarios = demo_scenarios()
    book = demo_phone_book(scenarios)
    assert book[0] == {"name": "Demo Bank", "aliases": ["Acme Bank"], "number": "+18005550100"}
    assert [entry["name"] for entry in book] == [c.name for c in DEMO_COMPANIES]
    assert demo_phone_book(scenarios[:1]) == book[:1]  # only companies the line answers for


async def test_a_call_to_the_demo_line() -> None:
    """The account the line hands out reaches the simulated company over real SIP and RTP."""
    scenarios = [s for s in demo_scenarios() if s.id == "dunder-direct-person"]
    line = DemoLine(scenarios, tts=EspeakTts())
    account = await line.start()
    try:
        assert line.scenarios == scenarios
        assert (account.registrar, account.port) == line.simulator.address
        assert account.registrar == DEMO_HOST
        assert account.username == DEMO_USERNAME
        assert account.sip_ports.low == account.sip_ports.high != account.port
        assert await line.prerender()
        async with started(SipPhone(account, register=False)) as phone:
            call = await phone.dial(scenarios[0].dial_number)
            await asyncio.wait_for(call.wait_answered(), 20)
            ear = Ear(call.frames)
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.sleep(2.0)
            assert ear.level(start, loop.time()) > 300  # "Dunder Mifflin, Scranton. For sales …"
            record = line.simulator.records[-1]
            assert record.scenario_id == "dunder-direct-person"
            await call.hangup()
            assert call.state is CallState.ENDED
            await ear.close()
    finally:
        await line.stop()


async def test_prerender_survives_a_missing_engine(caplog: pytest.LogCaptureFixture) -> None:
    line = DemoLine(demo_scenarios()[:1], tts=BrokenTts())
    await line.start()
    try:
        assert not await line.prerender()
        assert "could not render its prompts yet: tts.gone not found" in caplog.text
    finally:
        await line.stop()
