"""Menus, speech, digits, hold and the live person, each over real SIP with short timings."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from custom_components.hold_slayer.demo.scenario import HoldNode
from custom_components.hold_slayer.demo.simulator import (
    CompanySimulator,
    announcement_texts,
    keyword_target,
    ringback,
)
from custom_components.hold_slayer.telephony import Call, EndCause, SipPhone
from custom_components.hold_slayer.voice.espeak import EspeakTts
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError
from harness.waiting import until
from tests.demo.conftest import Ear, FakeStt, caller, company, scenario, shipped

pytestmark = pytest.mark.usefixtures("socket_enabled")

HEAD = """
version: 1
id: test
line: {number: "5551000", rings: 0}
voices: {ivr: "tts:ivr-1", agent: "tts:human-1"}
"""
TAIL = """
  agent: {human: {voice: agent, say: "Hi, this is Sam.", patience: 1.5}}
  bye: {say: "Goodbye.", hangup: true}
expect: {intent: test, reaches: agent}
"""


def company_line(nodes: str) -> str:
    return HEAD + nodes + TAIL


async def dial(phone: SipPhone, number: str = "5551000") -> Call:
    call = await phone.dial(f"sip:{number}@127.0.0.1:{phone.account.port}")
    await call.wait_answered()
    return call


async def speak(call: Call, text: str) -> None:
    """Our side says something (espeak-ng through the call)."""
    await call.play(await EspeakTts().synthesize(text, language="en", voice="en-us+m3"))


async def test_speech_menu_with_fake_stt() -> None:
    """Caller speech is cut into utterances and matched by keyword; unmatched speech is invalid."""
    stt = FakeStt("um, something else", "I have a question about my Billing statement")
    line = scenario(
        company_line(
            """start: hello
nodes:
  hello:
    say: "Tell me why you are calling."
    input: {speech: {"bill": agent, "billing": agent, "support": bye}, timeout: 6, retries: 2, invalid: hello}
"""
        )
    )
    async with company(line, stt=stt) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        await asyncio.sleep(2.2)  # the prompt has ended
        await speak(call, "something else")
        await until(lambda: len(record.speech) == 1, within=5)
        await asyncio.sleep(2.5)  # "That is not a valid option.", then the prompt again
        await speak(call, "a question about my billing statement")
        await until(lambda: record.human_started_at is not None, within=8)
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
    assert [text for text, _ in record.speech] == stt_texts()
    assert record.nodes == ["hello", "agent"]
    assert all(seconds > 0.5 for seconds in stt.heard)


async def test_a_line_without_barge_in_loses_keys_sent_over_its_prompt() -> None:
    """``barge_in: false``: a key pressed while the menu speaks neither stops it nor counts; the
    menu times out and is read again, and a key after the prompt is taken."""
    line = scenario(
        company_line(
            """start: hello
nodes:
  hello:
    say: "For the agent, press 1. For anything else, press 2."
    input: {dtmf: {"1": agent, "2": bye}, timeout: 1.5, retries: 2, on_fail: bye}
"""
        ).replace("rings: 0}", "rings: 0, barge_in: false}")
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1.0)
        await call.send_dtmf("1")  # over the prompt: lost
        await asyncio.sleep(1.0)
        assert record.nodes == ["hello"]
        prompt = record.prompt_seconds["hello"]
        # The prompt played out, the timeout passed, the prompt again: then the key is taken.
        await asyncio.sleep(max(0.0, record.path[0][1] + prompt + 1.5 + prompt - loop.time()) + 0.3)
        assert record.nodes == ["hello"]
        await call.send_dtmf("1")
        await until(lambda: "agent" in record.nodes, within=3)
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)


def stt_texts() -> list[str]:
    return ["um, something else", "I have a question about my Billing statement"]


async def test_speech_without_stt_is_not_recognised(caplog: pytest.LogCaptureFixture) -> None:
    """No STT: speech is heard (and barges in nothing) but never matches; the menu times out."""
    line = scenario(
        company_line(
            """start: hello
nodes:
  hello:
    say: "Say something."
    input: {speech: {"agent": agent}, timeout: 1.5, retries: 0, on_fail: agent}
"""
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        await asyncio.sleep(1.0)
        with caplog.at_level(logging.WARNING):
            await speak(call, "agent please")
            # The warning comes when the endpointer closes the caller's utterance, a second of
            # quiet after it: on a busy machine, after the menu's timeout has moved the call on.
            await until(lambda: "agent" in record.nodes and "no STT" in caplog.text, within=8)
        assert record.speech == []
        await call.hangup()


async def test_stt_failure_is_logged() -> None:
    """An STT that raises does not break the call."""

    class BrokenStt:
        async def transcribe(self, audio: object, *, language: str) -> str:
            raise SpeechError("engine down")

    line = scenario(
        company_line(
            """start: hello
nodes:
  hello:
    say: "Say something."
    input: {speech: {"agent": agent}, timeout: 1.5, retries: 0, on_fail: agent}
"""
        )
    )
    async with company(line, stt=BrokenStt()) as sim, caller(sim) as phone:
        call = await dial(phone)
        await asyncio.sleep(1.0)
        await speak(call, "agent")
        await until(lambda: "agent" in sim.records[0].nodes, within=8)
        assert sim.records[0].speech == []
        await call.hangup()


async def test_menu_timeouts_invalid_keys_and_on_fail() -> None:
    """A wrong key ("That is not a valid option"), then silence, then on_fail."""
    line = scenario(
        company_line(
            """start: main
nodes:
  main:
    say: "Press 1."
    input: {dtmf: {"1": agent}, timeout: 1, retries: 2, invalid: main, on_fail: bye}
"""
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        await call.send_dtmf("7")  # barges into the first prompt, invalid
        record_end = await asyncio.wait_for(record.finished(), 15)
        await asyncio.wait_for(call.ended, 5)
    assert record_end.nodes == ["main", "bye"]
    assert record_end.digits == "7"
    assert record_end.end_reason == "hangup_node"
    assert call.ended.result().cause is EndCause.REMOTE_HANGUP


async def test_invalid_key_goes_elsewhere_and_no_on_fail_gives_up() -> None:
    """``invalid`` pointing at another node; a menu without on_fail says goodbye itself."""
    line = scenario(
        company_line(
            """start: main
nodes:
  main:
    say: "Press 1."
    input: {dtmf: {"1": agent}, timeout: 1, retries: 1, invalid: strict}
  strict:
    say: "Press 2."
    input: {dtmf: {"2": agent}, timeout: 1, retries: 0}
"""
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        await call.send_dtmf("5")
        record = await asyncio.wait_for(sim.records[0].finished(), 15)
        assert record.nodes == ["main", "strict"]
        assert record.end_reason == "no_valid_input"
        assert call.state.value in ("answered", "ended")


async def test_collect_checks_the_secret_and_masks_it(caplog: pytest.LogCaptureFixture) -> None:
    """A wrong PIN goes to ``invalid``; the right one (with terminator) to ``next``; logs mask it."""
    line = scenario(
        HEAD
        + """start: pin
nodes:
  pin:
    say: "Enter your PIN."
    collect: {digits: 4, terminator: "#", timeout: 2, equals: "{pin}", next: agent, invalid: pin}
"""
        + TAIL.replace(
            "expect: {intent: test, reaches: agent}",
            'expect: {intent: test, reaches: agent, secrets: {pin: "4321"}}',
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        with caplog.at_level(logging.DEBUG, logger="custom_components.hold_slayer.demo"):
            await call.send_dtmf("1111")
            await until(lambda: record.nodes == ["pin", "pin"], within=10)
            await asyncio.sleep(0.5)
            await call.send_dtmf("4321#")
            await until(lambda: "agent" in record.nodes, within=6)
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
    assert record.digits == "11114321#"
    # Digits on their own: a port number the log names (43218) may hold them.
    for digits in ("4321", "1111"):
        assert not re.search(rf"(?<![0-9]){digits}(?![0-9])", repr(record) + caplog.text), digits
    assert "collected **** (valid)" in caplog.text


async def test_collect_timeout_and_terminator_only() -> None:
    """No digits at all is invalid; a terminator-only entry ends on #."""
    line = scenario(
        company_line(
            """start: code
nodes:
  code:
    say: "Enter the code."
    collect: {terminator: "#", timeout: 1, next: agent, invalid: other}
  other:
    say: "Enter it again."
    collect: {terminator: "#", timeout: 3, next: agent}
"""
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        await until(lambda: "other" in record.nodes, within=10)
        await call.send_dtmf("99#")
        await until(lambda: "agent" in record.nodes, within=8)
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
    assert record.nodes == ["code", "other", "agent"]


async def test_hold_callback_offer() -> None:
    """Pressing the callback key during hold ends the call with a callback; other keys do not."""
    line = scenario(
        company_line(
            """start: queue
nodes:
  queue:
    hold:
      music: synth
      seconds: 20
      announce: {say: "Please hold.", every: 2}
      position: true
      offer_callback: "2"
    next: agent
"""
        )
    )
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        await asyncio.sleep(1.0)
        await call.send_dtmf("5")  # not the callback key: the hold goes on
        await asyncio.sleep(0.5)
        await call.send_dtmf("2")
        record = await asyncio.wait_for(sim.records[0].finished(), 10)
    assert record.end_reason == "callback"
    assert record.nodes == ["queue"]
    assert record.digits == "52"


async def test_announcements_over_music_and_paused(caplog: pytest.LogCaptureFixture) -> None:
    """Both announcement styles render; position counts down and the callback key is offered."""
    line = scenario(
        company_line(
            """start: queue
nodes:
  queue:
    hold: {music: piano, seconds: 7, announce: {say: "Please hold.", every: 2, over_music: true}}
    next: paused
  paused:
    hold:
      music: piano
      seconds: 3
      announce: {say: "Still there.", every: 1}
      position: true
      offer_callback: "3"
    next: agent
"""
        )
    )
    paused = line.nodes["paused"]
    assert isinstance(paused, HoldNode)
    texts = announcement_texts(paused)
    assert texts == [
        "Still there. You are caller number 2. To request a callback, press 3.",
        "Still there. You are caller number 1. To request a callback, press 3.",
    ]
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        ear = Ear(call.frames)
        record = sim.records[0]
        await until(lambda: record.human_started_at is not None, within=15)
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
        await ear.close()
    hold_start = record.path[0][1]
    assert record.path[1][1] - hold_start == pytest.approx(7.0, abs=0.6)
    assert ear.level(hold_start + 0.5, hold_start + 6.5) > 500


async def test_the_person_waits_then_gives_up() -> None:
    """Nobody speaks: "Hello? Is anyone there?", then the agent hangs up."""
    line = scenario(company_line("start: agent\nnodes:\n"))
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = await asyncio.wait_for(sim.records[0].finished(), 20)
        assert (await asyncio.wait_for(call.ended, 5)).cause is EndCause.REMOTE_HANGUP
    assert record.end_reason == "agent_gave_up"
    assert record.human_started_at is not None
    assert record.caller_spoke_at is None


async def test_the_person_hears_the_caller_and_stays() -> None:
    """Any caller speech counts; then the person stays on the line until the caller hangs up."""
    line = scenario(company_line("start: agent\nnodes:\n"))
    async with company(line) as sim, caller(sim) as phone:
        call = await dial(phone)
        record = sim.records[0]
        await until(lambda: record.human_started_at is not None, within=5)
        await speak(call, "One moment please, connecting you.")
        await until(lambda: record.caller_spoke_at is not None, within=3)
        await asyncio.sleep(2.5)  # longer than the patience: the person is still there
        assert not record.done
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
    assert record.end_reason == "caller_hung_up"
    assert record.human_started_at is not None
    assert record.caller_spoke_at is not None
    assert record.caller_spoke_at > record.human_started_at


async def test_loop_guard_max_call_and_stop() -> None:
    """A node revisited too often ends the call; so does max_call_seconds; stop() ends the rest."""
    looping = scenario(
        company_line(
            """start: again
nodes:
  again: {say: "Again.", next: again}
"""
        )
    )
    async with company(looping, max_node_visits=2) as sim, caller(sim) as phone:
        await dial(phone)
        record = await asyncio.wait_for(sim.records[0].finished(), 15)
        assert record.nodes == ["again", "again"]
        assert record.end_reason == "loop"
    holding = shipped("tyrell-silent-hold", {"line.rings": 0})
    async with company(holding, max_call_seconds=1.5) as sim, caller(sim) as phone:
        await dial(phone, "+18005550119")
        record = await asyncio.wait_for(sim.records[0].finished(), 6)
        assert record.end_reason == "max_call_seconds"
    async with company(holding) as sim, caller(sim) as phone:
        call = await dial(phone, "+18005550119")
        await asyncio.sleep(0.5)
        await sim.stop()
        assert sim.records[0].end_reason == "simulator_stopped"
        assert (await asyncio.wait_for(call.ended, 5)).cause is EndCause.REMOTE_HANGUP


async def test_ringing_without_early_media() -> None:
    """early_media_ringback=False: 180 Ringing for the ring cycles, then the answer."""
    line = shipped("dunder-direct-person")
    async with company(line, early_media_ringback=False) as sim, caller(sim) as phone:
        loop = asyncio.get_running_loop()
        started = loop.time()
        call = await phone.dial(sim.uri_for("+18005550121"))
        await asyncio.sleep(1.0)
        assert call.state.value == "ringing"
        await call.wait_answered()
        assert 5.5 < loop.time() - started < 7.5
        await call.hangup()
        # Cancelling while it rings is a caller who gave up.
        second = await phone.dial(sim.uri_for("+18005550121"))
        await asyncio.sleep(1.0)
        await second.hangup()
        record = await asyncio.wait_for(sim.records[1].finished(), 5)
        assert record.end_reason == "caller_gave_up"
        # ... and so is one cancelled during early-media ringback.
    async with company(line) as sim, caller(sim) as phone:
        third = await phone.dial(sim.uri_for("+18005550121"))
        await asyncio.sleep(1.0)
        assert third.state.value == "early_media"
        await third.hangup()
        record = await asyncio.wait_for(sim.records[0].finished(), 5)
        assert record.end_reason == "caller_gave_up"


def test_helpers() -> None:
    """Keyword matching on word boundaries (longest first); the ringback cadence."""
    speech = {"bill": "a", "billing": "b", "new phone": "c"}
    assert keyword_target("My BILLING question", speech) == "b"
    assert keyword_target("about my bill", speech) == "a"
    assert keyword_target("a new phone please", speech) == "c"
    assert keyword_target("billions", speech) is None
    tone = ringback(6.0)
    assert len(tone) == 48000
    assert tone[:16000].any()
    assert not tone[16000:].any()


async def test_a_failing_voice_ends_the_call_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """TTS down mid-call: the walk fails, the call is hung up and recorded as an error."""

    class DownTts:
        async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
            raise SpeechError("tts down")

    line = scenario(company_line("start: agent\nnodes:\n"))
    sim = CompanySimulator([line], tts=DownTts())
    await sim.start()
    try:
        assert sim.address == ("127.0.0.1", sim.port)
        async with caller(sim) as phone:
            with caplog.at_level(logging.ERROR):
                call = await dial(phone)
                record = await asyncio.wait_for(sim.records[0].finished(), 5)
            assert record.end_reason == "error"
            assert "tts down" in caplog.text
            assert (await asyncio.wait_for(call.ended, 5)).cause is EndCause.REMOTE_HANGUP
    finally:
        await sim.stop()
