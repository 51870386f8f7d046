"""The simulator as a real SIP line: our SipPhone dials it on 127.0.0.1 and navigates."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from custom_components.hold_slayer.demo.scenario import Answer, load_scenarios
from custom_components.hold_slayer.demo.simulator import CallRecord, CompanySimulator
from custom_components.hold_slayer.telephony import CallFailedError, EndCause
from custom_components.hold_slayer.voice.espeak import EspeakTts
from harness.servers.baresip import baresip_peer
from harness.waiting import until
from tests.demo.conftest import Ear, caller, company, scenario, shipped

pytestmark = pytest.mark.usefixtures("socket_enabled")

ACME = "+18005550100"
SHORT_ACME = {
    "line.rings": 0,
    "nodes.queue.hold.seconds": 6,
    "nodes.queue.hold.announce.every": 3,
    "nodes.agent.human.patience": 5,
}


async def test_navigate_acme_to_the_agent() -> None:
    """Prompt audio, RFC 4733 menu choice with barge-in, in-band account digits, hold, agent."""
    acme = shipped("acme-bank-billing", SHORT_ACME)
    async with company(acme) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for(ACME))
        await call.wait_answered()
        record = await asyncio.wait_for(sim.next_record(), 2)
        ear = Ear(call.frames)
        loop = asyncio.get_running_loop()
        answered = loop.time()
        # The welcome prompt starts at once and is speech-loud.
        await until(lambda: "main" in record.nodes, within=15)
        first = ear.first_sound(answered)
        assert first is not None
        assert first - answered < 1.0
        welcome_level = ear.level(answered, record.path[1][1])
        assert welcome_level > 1000
        # Two seconds into the menu prompt we press 1 (RFC 4733): it cuts the prompt short.
        await asyncio.sleep(2.0)
        pressed = loop.time()
        await call.send_dtmf("1")
        await until(lambda: "billing" in record.nodes, within=3)
        assert record.path[2][1] - pressed < 1.0
        # Account number in-band: the simulator's DTMF detector hears the tones.
        await asyncio.sleep(1.0)
        await call.send_dtmf("1234567890#", inband=True)
        await until(lambda: "queue" in record.nodes, within=10)
        await until(lambda: record.human_started_at is not None, within=15)
        assert record.human_started_at is not None
        hold_start = record.path[3][1]
        assert 5.5 < record.human_started_at - hold_start < 7.5  # 6 s of hold
        assert ear.level(hold_start + 0.5, hold_start + 2.5) > 300  # music on hold
        # The agent's greeting is heard right after human_started_at.
        await asyncio.sleep(1.0)
        greeting = ear.first_sound(record.human_started_at)
        assert greeting is not None
        assert greeting - record.human_started_at < 0.5
        await call.hangup()
        await asyncio.wait_for(record.finished(), 5)
        await ear.close()
    assert record.scenario_id == "acme-bank-billing"
    assert record.nodes == ["welcome", "main", "billing", "queue", "agent"]
    assert record.digits == "11234567890#"
    assert record.end_reason == "caller_hung_up"
    assert record.end is not None
    assert record.end.cause is EndCause.REMOTE_HANGUP


@pytest.mark.parametrize(
    ("answer", "cause", "reason"),
    [
        ("busy", EndCause.BUSY, "busy"),
        ("not_found", EndCause.NOT_FOUND, "not_found"),
        ("unavailable", EndCause.UNAVAILABLE, "unavailable"),
    ],
)
async def test_refusing_lines(answer: str, cause: EndCause, reason: str) -> None:
    """busy / not_found / unavailable lines map to our EndCauses."""
    line = shipped("busy-line", {"line.answer": answer})
    async with company(line) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for("18005550199"))  # without the +
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.cause is cause
        record = sim.records[0]
        assert record.done
        assert record.end_reason == reason
        assert record.path == []


async def test_no_answer_rings_until_the_caller_gives_up() -> None:
    """no_answer: it rings (our dialer's ring_timeout cancels), the record ends as given up."""
    line = shipped("busy-line", {"line.answer": "no_answer"})
    async with company(line) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for("+18005550199"), ring_timeout=2.0)
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.cause is EndCause.NO_ANSWER
        record = await asyncio.wait_for(sim.records[0].finished(), 5)
        assert record.end_reason == "caller_gave_up"
        assert record.end is not None
        assert record.end.status == 487


async def test_unknown_number_is_not_found() -> None:
    """A number no scenario has: 404."""
    async with company(shipped("busy-line")) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for("5550000"))
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.cause is EndCause.NOT_FOUND
        assert sim.records[0].end_reason == "unknown_number"


async def test_caller_hangs_up_mid_prompt() -> None:
    """Hanging up during the welcome: the record ends at once with the caller's hang-up."""
    acme = shipped("acme-bank-billing", SHORT_ACME)
    async with company(acme) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for(ACME))
        await call.wait_answered()
        await asyncio.sleep(0.7)
        await call.hangup()
        record = await asyncio.wait_for(sim.records[0].finished(), 3)
        assert record.nodes == ["welcome"]
        assert record.end_reason == "caller_hung_up"
        assert record.end is not None
        assert record.end.cause is EndCause.REMOTE_HANGUP
        assert record.ended_at is not None
        assert record.answered_at is not None
        assert record.ended_at - record.answered_at < 1.5


async def test_ringing_with_early_media_ringback() -> None:
    """rings: 1 plays one ringback cycle as early media (440 + 480 Hz) before answering."""
    acme = shipped("acme-bank-billing", {**SHORT_ACME, "line.rings": 1})
    async with company(acme) as sim, caller(sim) as phone:
        call = await phone.dial(sim.uri_for(ACME))
        ear = Ear(call.frames)
        loop = asyncio.get_running_loop()
        dialled = loop.time()
        await call.wait_answered()
        assert 5.5 < loop.time() - dialled < 7.5
        assert ear.level(dialled + 0.3, dialled + 1.8) > 1000  # the tone's on-phase
        assert ear.level(dialled + 2.5, dialled + 5.5) < 100  # its off-phase
        await call.hangup()
        await ear.close()


async def test_baresip_calls_the_simulator() -> None:
    """An independent SIP stack dials a shipped line, presses 1 (RFC 4733) and reaches the person."""
    line = shipped("dunder-direct-person", {"line.rings": 0})
    words = await EspeakTts().synthesize("Hello, I'm calling about an order.", language="en")
    pause = np.zeros(3 * 8000, dtype=np.int16)
    voice = np.concatenate([pause, words] * 12)  # baresip's microphone: a person, now and then
    async with company(line) as sim, baresip_peer(voice) as peer:
        await peer.command("dial", sim.uri_for("+18005550121"))
        await peer.wait_event("CALL_ESTABLISHED")
        record = sim.records[0]
        await asyncio.sleep(1.5)
        await peer.command("sndcode", "1")
        await until(lambda: record.human_started_at is not None, within=15)
        await until(lambda: record.caller_spoke_at is not None, within=5)  # baresip's "voice"
        await peer.command("hangup")
        await asyncio.wait_for(record.finished(), 5)
    assert record.nodes == ["main", "sales"]
    assert record.digits == "1"
    assert record.end_reason == "caller_hung_up"


def udp_bound() -> dict[int, set[str]]:
    """Local addresses (hex, as /proc shows them) bound to each UDP port."""
    found: dict[int, set[str]] = {}
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        address, hex_port = line.split()[1].split(":")
        found.setdefault(int(hex_port, 16), set()).add(address)
    return found


async def test_the_line_listens_on_loopback_only() -> None:
    """SIP and RTP sockets bind 127.0.0.1: the demo line is not reachable from the LAN."""
    acme = shipped("acme-bank-billing", SHORT_ACME)
    async with company(acme) as sim, caller(sim) as phone:
        assert udp_bound()[sim.port] == {"0100007F"}
        call = await phone.dial(sim.uri_for(ACME))
        await call.wait_answered()
        call_media = await asyncio.wait_for(sim.next_record(), 2)
        assert call_media.scenario_id == "acme-bank-billing"
        bound = udp_bound()
        loopback = [port for port in range(50000, 60000, 2) if bound.get(port) == {"0100007F"}]
        assert loopback, "the call's RTP socket is on 127.0.0.1 in the simulator's range"
        await call.hangup()


async def test_every_shipped_line_answers_as_its_scenario_says() -> None:
    """All shipped scenarios on one simulator: each number answers (first prompt audible) or refuses."""
    scenarios = [replace(item, line=replace(item.line, rings=0)) for item in load_scenarios()]
    causes = {
        Answer.BUSY: EndCause.BUSY,
        Answer.NOT_FOUND: EndCause.NOT_FOUND,
        Answer.UNAVAILABLE: EndCause.UNAVAILABLE,
        Answer.NO_ANSWER: EndCause.NO_ANSWER,
    }
    sim = CompanySimulator(scenarios, tts=EspeakTts())
    await sim.start()
    try:
        async with caller(sim) as phone:
            for item in scenarios:
                call = await phone.dial(sim.uri_for(item.line.number), ring_timeout=1.0)
                if item.line.answer is not Answer.OK:
                    with pytest.raises(CallFailedError) as failed:
                        await call.wait_answered()
                    assert failed.value.end.cause is causes[item.line.answer], item.id
                    continue
                await call.wait_answered()
                ear = Ear(call.frames)
                record = sim.records[-1]
                await ear.wait_for_sound()
                assert record.scenario_id == item.id
                assert record.nodes[0] == item.start
                await call.hangup()
                await asyncio.wait_for(record.finished(), 5)
                await ear.close()
    finally:
        await sim.stop()
    assert len(sim.records) == len(scenarios)


CHANGING = """
version: 1
id: changing
line: {number: "5552000", rings: 0}
voices: {ivr: "tts:ivr-1", agent: "tts:human-1"}
start: main
nodes:
  main:
    say: "For billing, press 1. For support, press 2."
    input: {dtmf: {"1": agent, "2": bye}, timeout: 4, retries: 0, on_fail: bye}
  agent: {human: {voice: agent, say: "Hi, this is Sam.", patience: 2}}
  bye: {say: "Goodbye.", hangup: true}
expect: {intent: billing, reaches: agent, path: [main, agent]}
second_call:
  start: notice
  nodes:
    notice: {say: "Our menu has changed.", next: main}
    main:
      say: "For support, press 1. For billing, press 2."
      input: {dtmf: {"1": bye, "2": agent}, timeout: 4, retries: 0, on_fail: bye}
  expect: {path: [notice, main, agent]}
"""


async def test_a_second_call_finds_the_changed_menu() -> None:
    """Calls to one number: the first plays the scenario, every later one its ``second_call``."""
    line = scenario(CHANGING)
    assert line.second_call is not None
    async with company(line) as sim, caller(sim) as phone:
        assert sim.next_version(line) is line
        records = []
        for key, version in (("1", line), ("2", line.second_call), ("1", line.second_call)):
            assert sim.next_version(line) is version
            call = await phone.dial(sim.uri_for("5552000"))
            await call.wait_answered()
            record: CallRecord = await asyncio.wait_for(sim.next_record(), 2)

            def in_menu(record: CallRecord = record) -> bool:
                return "main" in record.nodes

            def past_menu(record: CallRecord = record) -> bool:
                return record.nodes[-1] in ("agent", "bye")

            await until(in_menu, within=10)
            await call.send_dtmf(key)
            await until(past_menu, within=10)
            await call.hangup()
            await asyncio.wait_for(record.finished(), 5)
            records.append(record)
    assert [record.call for record in records] == [1, 2, 3]
    assert [record.nodes for record in records] == [
        ["main", "agent"],
        ["notice", "main", "agent"],
        ["notice", "main", "bye"],
    ]
    assert all(record.scenario_id == "changing" for record in records)
