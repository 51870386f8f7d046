"""The call session's state machine on replayed lines (real recorded audio, scripted words)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

import numpy as np
import pytest

from custom_components.hold_slayer.audio.classifier import Decision, Label
from custom_components.hold_slayer.audio.monitor import EventKind, Floats, HoldMonitor, MonitorEvent
from custom_components.hold_slayer.ivr.decide import Action, DecisionContext, Press
from custom_components.hold_slayer.session.errors import CallNotConnectedError, TransferInProgressError
from custom_components.hold_slayer.session.events import EventType, SessionState, Speaker
from custom_components.hold_slayer.session.navigator import COMPLETE_QUIET
from custom_components.hold_slayer.session.request import MASK, CallRequest, Handoff
from custom_components.hold_slayer.session.session import READ_AHEAD_QUIET, CallSession
from custom_components.hold_slayer.telephony.call import EndCause
from custom_components.hold_slayer.telephony.errors import SipTransferError
from custom_components.hold_slayer.voice.pcm import Pcm

from .fakes import (
    FakeBridge,
    FakeLine,
    ScriptedStt,
    Step,
    ToneTts,
    music,
    person,
    say,
    silence,
)

ACCOUNT = "1234567890"
MENU = "For billing, press 1. For technical support, press 2."


def _session(line: FakeLine, desk: FakeLine | None = None, **request: object) -> CallSession:
    async def dial(target: str) -> FakeLine:
        if target == "+18005550100":
            return line
        assert target == "201"
        assert desk is not None
        return desk

    options = {"target": "+18005550100", "goal": "a question about my bill", "company": "Acme"} | request
    return CallSession(
        CallRequest(**options),  # type: ignore[arg-type]
        dial,
        stt=ScriptedStt(line),
        tts=ToneTts(),
        make_bridge=FakeBridge,  # type: ignore[arg-type]
    )


def _line_to_a_person() -> FakeLine:
    return FakeLine(
        [
            say("Please hold.", 9, 1.5),
            music(12),
            silence(0.4),
            person("Hello, this is Sarah.", 4),
            silence(60),
        ]
    )


async def _reach(session: CallSession, state: SessionState, timeout: float = 90) -> None:
    """Wait until the session is in ``state`` (replayed lines run as fast as the CPU allows)."""
    reached = asyncio.Event()
    unlisten = session.async_listen(lambda _: reached.set() if session.state is state else None)
    try:
        if session.state is not state:
            await asyncio.wait_for(reached.wait(), timeout)
    finally:
        unlisten()


def _types(session: CallSession) -> list[EventType]:
    return [event.type for event in session.events]


async def test_menu_secret_hold_and_person(caplog: pytest.LogCaptureFixture) -> None:
    """Press 1, key the account number, wait through music and an announcement, find Sarah."""
    caplog.set_level(logging.DEBUG)
    line = FakeLine(
        [
            say("Thank you for calling Acme Bank.", 0, 2),
            silence(0.3),
            say(MENU, 3, 4),
            Step(wait_digits=1),
            say("Please enter your ten digit account number, followed by the pound key.", 6, 3),
            Step(wait_digits=11, timeout=10),
            say("Please hold.", 9, 1.5),
            music(15),
            say("Your call is important to us.", 12, 3),
            music(10),
            silence(0.4),
            person("Thanks for holding, this is Sarah. Who am I speaking with?", 4),
            silence(3),
        ]
    )
    session = _session(line, secrets={"account_number": ACCOUNT})
    states: list[SessionState] = []
    session.async_listen(
        lambda _: states.append(session.state) if not states or states[-1] is not session.state else None
    )
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    await session.hangup()
    outcome = await run
    assert outcome.state is SessionState.ENDED
    assert outcome.cause == "local_hangup"
    assert line.digits == "1" + ACCOUNT + "#"
    assert states[:5] == [
        SessionState.DIALING,
        SessionState.RINGING,
        SessionState.IVR,
        SessionState.ON_HOLD,
        SessionState.HUMAN,
    ]
    types = _types(session)
    assert types[0] is EventType.CALL_STARTED
    assert types.count(EventType.HUMAN_DETECTED) == 1
    assert types.index(EventType.HOLD_STARTED) < types.index(EventType.HUMAN_DETECTED)
    dtmf = [event.data for event in session.events if event.type is EventType.DTMF_SENT]
    assert [d["digits"] for d in dtmf] == ["1", MASK + "#"]
    assert dtmf[1]["secret"] == "account_number"
    menus = [event.data for event in session.events if event.type is EventType.MENU_HEARD]
    assert menus[0]["options"][0] == {"key": "1", "label": "billing"}
    assert session.hold_seconds is not None
    assert 20 < session.hold_seconds < 35
    # The person's first word was at the start of their step; detection is close behind.
    assert session.human_onset_at is not None
    assert session.human_detected_at is not None
    assert any(line.speaker is Speaker.US and MASK in line.text for line in session.transcript)
    assert ACCOUNT not in caplog.text
    # Entities read a frozen snapshot: the number shortened, secrets masked, a bounded transcript.
    snapshot = session.snapshot()
    assert (snapshot.state, snapshot.company, snapshot.number) == (SessionState.ENDED, "Acme", "•••••••0100")
    assert snapshot.line_label is None  # the call is over
    assert snapshot.transcript == tuple(session.transcript)[-20:]
    assert all(ACCOUNT not in line.text for line in snapshot.transcript)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.state = SessionState.HUMAN  # type: ignore[misc]
    assert all(ACCOUNT not in str(event.data) for event in session.events)
    assert all(ACCOUNT not in line.text for line in session.transcript)


async def test_busy_line_fails_with_the_cause() -> None:
    line = FakeLine([], fail=EndCause.BUSY)
    session = _session(line)
    outcome = await session.run()
    assert (outcome.state, outcome.cause) == (SessionState.FAILED, EndCause.BUSY)
    assert _types(session) == [EventType.CALL_STARTED, EventType.CALL_FAILED]
    assert session.state is SessionState.FAILED


async def test_person_straight_after_the_menu() -> None:
    """No hold at all: the transcript shows a person greeting us after we pressed."""
    line = FakeLine(
        [
            say(MENU, 3, 4),
            Step(wait_digits=1),
            silence(0.5),
            person("Billing, this is Tom speaking, how can I help you?", 3),
            silence(3),
        ]
    )
    session = _session(line)
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    human = next(e for e in session.events if e.type is EventType.HUMAN_DETECTED)
    assert human.data["source"] == "transcript"
    await session.hangup()
    await run


async def test_a_silent_hold_whose_announcements_are_no_questions_is_a_hold() -> None:
    """After the number, the line goes silent and speaks only to say we keep our place: the words
    after each silence decide (no question for us), so the silence was the hold all along."""
    notice = "Press 9 now to verify your identity and keep your place in line."
    line = FakeLine(
        [
            say("Please enter your account number, followed by the pound key.", 6, 3),
            Step(wait_digits=9, timeout=10),
            silence(10),
            say(notice, 9, 3),
            silence(10),
            say(notice, 9, 3),
            silence(4),
            person("Ironclad home policies, this is Bea. Who am I speaking with?", 4),
            silence(10),
        ]
    )
    session = _session(line, secrets={"account_number": "77120045"})
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    await session.hangup()
    await run
    types = _types(session)
    assert types.index(EventType.HOLD_STARTED) < types.index(EventType.HUMAN_DETECTED)
    assert line.digits == "77120045#"  # the notice's "press 9" was never pressed
    assert session.hold_seconds is not None
    assert session.hold_seconds > 10


async def test_quiet_menu_waiting_for_us_is_not_a_hold() -> None:
    """A menu we cannot answer, then the line waits in silence: no hold, no person."""
    line = FakeLine(
        [
            say("For sales, press 1. For billing, press 2.", 3, 4),
            silence(8),
            say("Goodbye.", 1, 1),
            Step(hangup=True),
        ]
    )
    session = _session(line, goal="lost my dog")
    outcome = await session.run()
    assert outcome.cause == EndCause.REMOTE_HANGUP
    assert EventType.HOLD_STARTED not in _types(session)
    assert EventType.HUMAN_DETECTED not in _types(session)
    assert EventType.MENU_HEARD in _types(session)


async def test_hold_limit_hangs_up() -> None:
    line = FakeLine([say("Please hold.", 9, 1.5), music(60)])
    session = _session(line, max_hold=0.5)
    outcome = await asyncio.wait_for(session.run(), 60)
    assert (outcome.state, outcome.cause) == (SessionState.ENDED, "max_hold")
    assert EventType.HOLD_STARTED in _types(session)


async def test_say_and_send_dtmf_on_request() -> None:
    line = FakeLine([silence(30)])
    session = _session(line)
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.IVR)
    await session.send_dtmf("42")
    await session.say("Hello there")
    assert line.digits == "42"
    assert len(line.played) == 1
    assert [e.type for e in session.events][-2:] == [EventType.DTMF_SENT, EventType.SAID]
    await session.hangup()
    await run
    with pytest.raises(CallNotConnectedError):
        await session.send_dtmf("1")


def test_request_repr_hides_secrets() -> None:
    request = CallRequest("+1", secrets={"pin": "9876"})
    assert "9876" not in repr(request)
    assert request.mask("my pin is 9 8 7 6.") == f"my pin is {MASK}."


async def test_agent_kept_on_the_line_then_a_callback_offer() -> None:
    line = _line_to_a_person()
    handoff = Handoff(repeat_every=0.2, patience=0.5, callback_number="+1 555 0100")
    session = _session(line, handoff=handoff)
    outcome = await asyncio.wait_for(session.run(), 90)
    assert (outcome.state, outcome.cause) == (SessionState.ENDED, "nobody_took_over")
    said = [e.data["text"] for e in session.events if e.type is EventType.SAID]
    assert said[0].startswith("Hello, thank you for taking the call.")
    assert said[-1].endswith("Please call them back at 1 5 5 5 0 1 0 0. Thank you, goodbye.")
    assert len(said) >= 3  # greeting, at least one reminder, farewell
    assert len(line.played) == len(said)


async def test_transfer_on_pickup_bridges_to_the_desk() -> None:
    line = _line_to_a_person()
    desk = FakeLine([silence(60)])
    session = _session(line, desk, handoff=Handoff(transfer_to="201"))
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.CONNECTED)
    assert desk.played  # the user heard who is on the line
    types = _types(session)
    assert types.index(EventType.HUMAN_DETECTED) < types.index(EventType.TRANSFER_STARTED)
    assert types.index(EventType.TRANSFER_STARTED) < types.index(EventType.TRANSFERRED)
    with pytest.raises(TransferInProgressError):
        await session.transfer("202")  # already bridged to the desk
    await desk.hangup()  # the user hangs up: the company leg follows
    outcome = await asyncio.wait_for(run, 30)
    assert outcome.state is SessionState.ENDED
    assert line.ended.done()


async def test_blind_transfer_and_a_refused_one() -> None:
    line = _line_to_a_person()
    session = _session(line, handoff=Handoff(patience=600))
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    line.refuse_transfer = True
    with pytest.raises(SipTransferError):
        await session.transfer("201", blind=True)
    assert session.state is SessionState.HUMAN  # still with the agent
    line.refuse_transfer = False
    await session.transfer("201", blind=True)
    outcome = await asyncio.wait_for(run, 30)
    assert (outcome.cause, line.transferred_to) == (EndCause.TRANSFERRED, "201")
    with pytest.raises(CallNotConnectedError):
        await session.transfer("201")


async def test_slow_recognition_does_not_turn_a_waiting_menu_into_a_hold() -> None:
    """The menu waits in silence while a slow recogniser is still busy: no hold, no person."""
    line = FakeLine([say(MENU, 3, 4), Step(wait_digits=1, timeout=9), say("Please hold.", 9, 1.5), music(20)])
    slow = asyncio.Event()

    class SlowStt(ScriptedStt):
        async def transcribe(self, audio: Pcm, *, language: str) -> str:
            await slow.wait()  # released only after the line was quiet longer than a hold needs
            return await super().transcribe(audio, language=language)

    session = _session(line)
    session._stt = SlowStt(line)
    run = asyncio.create_task(session.run())
    while session.audio_time < 12:  # the menu (4 s) and 8 s of its waiting silence  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert EventType.HOLD_STARTED not in _types(session)
    slow.set()
    await _reach(session, SessionState.ON_HOLD)
    assert line.digits == "1"
    await session.hangup()
    await run
    assert EventType.HUMAN_DETECTED not in _types(session)


async def test_new_announcement_read_by_a_voice_is_vetoed_by_its_words() -> None:
    """A callback offer new to the hold sounds like a person; its words say otherwise."""
    line = FakeLine(
        [
            say("Please hold.", 9, 1.5),
            music(12),
            silence(0.4),
            say("To request a callback instead of holding, press 2.", 20, 3),
            silence(2),
            music(12),
            silence(0.4),
            person("Hi, this is Dana. How can I help you?", 4),
            silence(60),
        ]
    )
    session = _session(line, handoff=Handoff(patience=600))
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    humans = [e for e in session.events if e.type is EventType.HUMAN_DETECTED]
    assert len(humans) == 1
    assert any("callback" in line.text for line in session.transcript)
    assert session.human_onset_at is not None
    assert session.hold_seconds is not None
    assert session.hold_seconds > 25  # the first voice did not end the hold
    await session.hangup()
    await run


async def test_a_person_the_monitor_misses_is_found_by_their_words() -> None:
    """When the acoustic detector misses a person, "this is Rachael" in the transcript decides."""

    class DeafMonitor(HoldMonitor):
        def push_block(self, block: Floats) -> tuple[list[Decision], list[MonitorEvent]]:
            decisions, events = super().push_block(block)
            return decisions, [e for e in events if e.kind is not EventKind.HUMAN_DETECTED]

    line = FakeLine(
        [say("Please hold.", 9, 1.5), silence(20), person("Tyrell, this is Rachael.", 3), silence(30)]
    )
    session = _session(line, handoff=Handoff(patience=600))
    session._media.monitor = DeafMonitor()
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    human = next(e for e in session.events if e.type is EventType.HUMAN_DETECTED)
    assert human.data["source"] == "transcript"
    await session.hangup()
    await run


JESSICA = "Hi, this is Jessica from Acme. Thanks for your patience, please stay on the line."
SAM = "Thanks for holding, this is Sam in billing. Who am I speaking with?"


def _jessica_then_sam() -> FakeLine:
    """A recorded greeting played twice on the hold, straight back into the music; then Sam."""
    return FakeLine(
        [
            say("Please hold.", 9, 1.5),
            music(12),
            silence(0.4),
            person(JESSICA, 4, offset=7.0),
            music(20),
            silence(0.4),
            person(JESSICA, 4, offset=7.0),
            music(12),
            silence(0.4),
            person(SAM, 4),
            silence(60),
        ]
    )


async def _until_sam(session: CallSession) -> None:
    """Until a person is reported and Sam's words are in the transcript (in either order)."""
    for _ in range(900):
        if session.human_onset_at and any("Sam" in line.text for line in session.transcript):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Sam was not found: {_types(session)}")


async def test_a_recorded_greeting_on_hold_is_never_taken_for_a_person() -> None:
    """ "Hi, this is Jessica … please stay on the line", with the music straight back after it, is
    an announcement to the hold monitor both times: nobody is reported, nobody greeted, until Sam."""
    session = _session(_jessica_then_sam(), handoff=Handoff(patience=600))
    run = asyncio.create_task(session.run())
    await _until_sam(session)
    types = _types(session)
    assert types.count(EventType.HUMAN_DETECTED) == 1
    assert EventType.HUMAN_RETRACTED not in types
    assert types.count(EventType.ANNOUNCEMENT) >= 2
    # The hand-off greets only the person, once Sam pauses for a reply: its first words come
    # after Sam was reported.
    for _ in range(150):
        if EventType.SAID in _types(session):
            break
        await asyncio.sleep(0.1)
    types = _types(session)
    assert types.index(EventType.SAID) > types.index(EventType.HUMAN_DETECTED)
    await session.hangup()
    await run


class _HastyMonitor(HoldMonitor):
    """Reports a person on the hold's first voice, as a line that pauses after its greeting makes
    the real monitor do."""

    raised = False

    def push_block(self, block: Floats) -> tuple[list[Decision], list[MonitorEvent]]:
        decisions, events = super().push_block(block)
        speech = [d for d in decisions if d.label is Label.SPEECH]
        if self.on_hold and speech and not self.raised:
            self.raised = True
            events = [*events, MonitorEvent(speech[-1].time, EventKind.HUMAN_DETECTED, 0.9, speech[0].time)]
        return decisions, events


async def test_a_person_raised_on_a_recording_is_withdrawn_and_never_raised_again() -> None:
    """When the monitor does take the recorded greeting for a person, the music coming back
    withdraws it with its own event, the call goes back to the hold, and the recording's next
    play raises nothing; the real person then is found.

    The monitor here reports a person on the hold's first voice, as a line that pauses after
    its greeting makes it do; the session must undo what it started."""

    session = _session(_jessica_then_sam(), handoff=Handoff(patience=600))
    session._media.monitor = _HastyMonitor()
    run = asyncio.create_task(session.run())
    states: list[SessionState] = []
    session.async_listen(lambda _: states.append(session.state) if states[-1:] != [session.state] else None)
    await _until_sam(session)
    types = _types(session)
    assert types.count(EventType.HUMAN_RETRACTED) == types.count(EventType.HUMAN_DETECTED) - 1 == 1
    retracted = next(e for e in session.events if e.type is EventType.HUMAN_RETRACTED)
    assert retracted.data["reason"] == "the hold music came back"
    assert states.count(SessionState.ON_HOLD) == 2  # back on hold after the recording
    # The recording never paused for a reply, so it was never confirmed nor greeted: the
    # hand-off's first words come after Sam was reported.
    sam = max(i for i, kind in enumerate(types) if kind is EventType.HUMAN_DETECTED)
    assert EventType.SAID not in types[:sam]
    await session.hangup()
    await run


async def test_a_desk_ringing_for_a_recording_stops_when_the_music_comes_back() -> None:
    """The desk rings at once for a reported person; the music coming back withdraws the person,
    hangs up the ringing desk, and the call is back on hold."""
    desk = FakeLine([silence(60)], answers=False)
    session = _session(_jessica_then_sam(), desk, handoff=Handoff(transfer_to="201"))
    session._media.monitor = _HastyMonitor()
    # The line replays faster than real time, so the session is looked at the moment the desk
    # is hung up, not whenever the test next wakes.
    at_hangup: dict[str, object] = {}
    desk.ended.add_done_callback(lambda _: at_hangup.update(state=session.state, desk=session.desk))
    run = asyncio.create_task(session.run())
    for _ in range(900):
        if EventType.HUMAN_RETRACTED in _types(session) and at_hangup:
            break
        await asyncio.sleep(0.1)
    types = _types(session)
    assert types.index(EventType.TRANSFER_STARTED) < types.index(EventType.HUMAN_RETRACTED)
    assert EventType.TRANSFERRED not in types
    assert at_hangup == {"state": SessionState.ON_HOLD, "desk": None}  # the desk stopped ringing
    await session.hangup()
    await run


@pytest.mark.parametrize("accept", [True, False])
async def test_a_callback_offer_on_hold_is_taken_or_declined_per_the_call(accept: bool) -> None:
    line = FakeLine(
        [
            say("Please hold.", 9, 1.5),
            music(12),
            silence(0.4),
            say("To request a callback instead of holding, press 2.", 20, 3),
            silence(2),
            Step(wait_digits=1, timeout=4),
            say("Thank you, we will call you back. Goodbye.", 21, 2),
            Step(hangup=True),
        ]
    )
    session = _session(line, accept_callback=accept)
    outcome = await asyncio.wait_for(session.run(), 60)
    ours = [line.text for line in session.transcript if line.speaker is Speaker.US]
    if accept:
        assert line.digits == "2"
        assert (outcome.cause, outcome.reason) == ("callback_accepted", "the company will call back")
        assert ours == ["[pressed 2] (navigator: the call accepts callbacks)"]
    else:
        assert line.digits == ""
        assert outcome.cause == EndCause.REMOTE_HANGUP, (session.events, session.transcript)
        assert ours, (session.events, list(session.transcript))
        assert ours == ["[declined the callback offer] (navigator: this call waits on hold)"]


async def test_a_line_that_asks_for_keys_after_music_is_still_the_menu() -> None:
    """Music after our key, then the line asks for the account number: that music was the menu
    pausing, not the hold. The call goes back to the menu, keys the number, and waits on the
    real hold for the person."""
    line = FakeLine(
        [
            say(MENU, 1, 4),
            Step(wait_digits=1),
            music(9),
            say("Please enter your account number, followed by the pound key.", 4, 4),
            Step(wait_digits=len(ACCOUNT) + 1, timeout=10),
            music(14),
            silence(0.4),
            person("Thanks for holding, this is Sam in billing, how can I help?", 4),
            silence(30),
        ]
    )
    session = _session(line, secrets={"account_number": ACCOUNT}, handoff=Handoff(patience=600))
    states: list[SessionState] = []
    session.async_listen(lambda _: states.append(session.state) if states[-1:] != [session.state] else None)
    run = asyncio.create_task(session.run())
    await _reach(session, SessionState.HUMAN)
    await session.hangup()
    await run
    assert line.digits == "1" + ACCOUNT + "#", session.transcript
    menu, hold, person_ = SessionState.IVR, SessionState.ON_HOLD, SessionState.HUMAN
    assert states[2:7] == [menu, hold, menu, hold, person_], states
    assert any("[pressed •••#]" in entry.text for entry in session.transcript)


class _AlwaysOne:
    """A decider that keeps choosing 1 (as a model might), however often the line asks."""

    calls = 0

    async def decide(self, context: DecisionContext) -> Action | None:
        return Press("1", reason="billing", source="stubborn")


async def test_keys_the_line_did_not_take_are_sent_slower_as_tones_then_said() -> None:
    invalid = "Sorry, that is not a valid choice. "
    line = FakeLine(
        [
            say(MENU, 1, 4),
            Step(wait_digits=1),
            say(invalid + MENU, 2, 5),
            Step(wait_digits=1),
            say(invalid + MENU, 3, 5),
            silence(6),
            Step(hangup=True),
        ]
    )

    async def dial(target: str) -> FakeLine:
        return line

    session = CallSession(
        CallRequest("+18005550100", goal="billing"),
        dial,
        stt=ScriptedStt(line),
        tts=ToneTts(),
        decider=_AlwaysOne(),
    )
    await asyncio.wait_for(session.run(), 60)
    assert (line.digits, line.inband) == ("11", [False, True])
    said = [event.data for event in session.events if event.type is EventType.SAID]
    assert [(data["text"], data["source"]) for data in said] == [("billing", "navigator")]
    ours = [entry.text for entry in session.transcript if entry.speaker is Speaker.US]
    assert ours == [
        "[pressed 1] (stubborn: billing)",
        "[pressed 1 again, slower, as tones] (stubborn: billing)",
        "billing (navigator: keys 1 not taken twice: saying the option)",
    ]


class _QuickToLeave(CallSession):
    closed_grace = 0.2  # wall seconds: the replayed silence runs about 20 times faster


async def test_a_closed_line_that_never_hangs_up_is_left_with_the_reason() -> None:
    notice = "Our offices are closed today for the holiday. We reopen tomorrow at eight."
    line = FakeLine([say(notice, 3, 4)])  # then silence, for ever

    async def dial(target: str) -> FakeLine:
        return line

    session = _QuickToLeave(
        CallRequest("+18005550100", goal="billing"), dial, stt=ScriptedStt(line), tts=ToneTts()
    )
    outcome = await asyncio.wait_for(session.run(), 60)
    assert (outcome.cause, outcome.reason) == ("closed", f"the line is closed: {notice}")
    assert EventType.HOLD_STARTED not in _types(session)
    assert line.digits == ""


async def _run_until(session: CallSession, done: Callable[[], bool]) -> float:
    """Run the call until ``done()`` (30 s at most), then hang up; the loop time ``done()`` held."""
    run = asyncio.create_task(session.run())
    for _ in range(3000):
        if done():
            break
        await asyncio.sleep(0.01)
    held = asyncio.get_running_loop().time()
    await session.hangup()
    await run
    return held


def _prompt_end(line: FakeLine) -> float:
    """Audio seconds the line's first step (a prompt) stops sounding."""
    spoken = np.flatnonzero(np.abs(line.script[0].audio.astype(np.int32)) > 50)  # type: ignore[union-attr]
    return float((spoken[-1] + 1) / 8000)


async def test_a_prompt_is_answered_on_its_words_read_at_its_pause() -> None:
    """The prompt's words are read at its first pause, while the endpointer still waits out its
    second of quiet: the keys go once the prompt has settled, and its words are not read twice."""
    prompt = "Please enter your ten digit account number, followed by the pound key."
    line = FakeLine(
        [say(prompt, 6, 3), Step(wait_digits=11, timeout=10), say("Please hold.", 9, 1.5), silence(5)]
    )
    session = _session(line, secrets={"account_number": ACCOUNT})
    stt = session._stt
    assert isinstance(stt, ScriptedStt)
    await _run_until(session, lambda: any(entry.text == "Please hold." for entry in session.transcript))
    ended = _prompt_end(line)
    assert line.digits == ACCOUNT + "#"
    # Settled (0.7 s for a prompt that has said all), not the endpointer's 1 s plus the reading.
    assert ended + COMPLETE_QUIET <= line.keyed_at[0] < ended + 1.0
    heard = [entry.text for entry in session.transcript if entry.speaker is Speaker.LINE]
    assert heard == [prompt, "Please hold."]
    assert len(set(stt.lengths)) == len(stt.lengths)  # no stretch of audio read twice


class _SlowStt(ScriptedStt):
    """Reads as slowly as a loaded recogniser: each reading takes ``seconds`` of the line's audio."""

    def __init__(self, line: FakeLine, seconds: float) -> None:
        super().__init__(line)
        self.frames = round(seconds / 0.02)

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        until = self.line.frames_sent + self.frames
        while self.line.frames_sent < until and not self.line.ended.done():  # noqa: ASYNC110 - audio time, not an event
            await asyncio.sleep(0.001)
        return await super().transcribe(audio, language=language)


async def test_a_prompt_that_ends_while_its_words_are_read_is_not_read_again() -> None:
    """The endpointer closes the utterance (1 s of quiet) while its words, read at the pause,
    are still being read: those words are the utterance's, and the keys go once they come."""
    prompt = "Please enter your ten digit account number, followed by the pound key."
    line = FakeLine([say(prompt, 6, 3), Step(wait_digits=11, timeout=10), silence(3)])
    reading = 1.5  # seconds of audio one reading takes
    stt = _SlowStt(line, reading)

    async def dial(target: str) -> FakeLine:
        return line

    request = CallRequest(
        "+18005550100", goal="a question about my bill", secrets={"account_number": ACCOUNT}
    )
    session = CallSession(request, dial, stt=stt, tts=ToneTts())
    await _run_until(session, lambda: bool(line.digits))
    ended = _prompt_end(line)
    assert line.digits == ACCOUNT + "#"
    # Read from the pause (0.4 s of quiet) for 1.5 s; not read again once the endpointer closed it.
    assert line.keyed_at[0] < ended + READ_AHEAD_QUIET + reading + 0.3
    assert stt.calls == 1
    heard = [entry.text for entry in session.transcript if entry.speaker is Speaker.LINE]
    assert heard == [prompt]


class _LostStt(ScriptedStt):
    """The first reading runs on for ``seconds`` (Whisper repeating itself); the rest are quick."""

    def __init__(self, line: FakeLine, seconds: float) -> None:
        super().__init__(line)
        self.seconds = seconds

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        if self.calls == 0:
            self.calls += 1
            await asyncio.sleep(self.seconds)
            return "No, no, no, no, no, no."
        return await super().transcribe(audio, language=language)


async def test_the_whole_reading_does_not_wait_long_for_a_piece_that_lost_its_way() -> None:
    """A piece's reading that runs on holds the utterance's whole reading back for PIECE_WAIT
    only: the prompt is decided on the whole reading."""
    prompt = "For sales, press 1. For accounting, press 2."
    line = FakeLine([say(prompt, 6, 3), Step(wait_digits=1, timeout=20), silence(3)])
    stt = _LostStt(line, 30.0)

    async def dial(target: str) -> FakeLine:
        return line

    session = CallSession(CallRequest("+18005550100", goal="sales"), dial, stt=stt, tts=ToneTts())
    started = asyncio.get_running_loop().time()
    waited = await _run_until(session, lambda: bool(line.digits)) - started
    assert line.digits == "1"
    assert waited < 30.0 / 2  # not the lost reading's 30 s
