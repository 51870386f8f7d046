"""A call's menu decided by a language model behind a real OpenAI-compatible HTTP server, and what
the session does with each action of the closed set: press, say, hang up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from custom_components.hold_slayer.ivr.decide import Action, DecisionContext, HangUp
from custom_components.hold_slayer.ivr.model import model_chain
from custom_components.hold_slayer.ivr.routes import JsonFlowStore, RouteBook
from custom_components.hold_slayer.openai_endpoint import OpenAiEndpoint
from custom_components.hold_slayer.session.events import EventType, SessionState, Speaker
from custom_components.hold_slayer.session.request import CallRequest
from custom_components.hold_slayer.session.session import CallSession, SessionOutcome
from custom_components.hold_slayer.telephony.call import EndCause
from harness.servers.language_models import Responder, ScriptedModelServer, by_question

from .fakes import FakeLine, ScriptedStt, Step, ToneTts, person, say, silence

pytestmark = pytest.mark.usefixtures("socket_enabled")  # the scripted model listens on 127.0.0.1

# No word of the goal is on this menu: the rules alone would take "everything else".
MENU = (
    "If a purchase you don't recognise shows on your statement, press 1. To talk about your savings, "
    "press 2. For everything else, press 3."
)
GOAL = "someone used my debit card without permission"
PIN = "4321"


def _reply(action: str, **fields: str) -> dict[str, Any]:
    return {"action": action, "digits": "", "secret": "", "text": "", "reason": "scripted", **fields}


@pytest.fixture
async def model() -> AsyncIterator[tuple[ScriptedModelServer, list[Responder]]]:
    """A scripted server whose responder the test sets (``responders[0]``)."""
    responders: list[Responder] = [lambda _: _reply("wait")]
    server = await ScriptedModelServer(lambda question: responders[0](question)).start()
    yield server, responders
    await server.stop()


def _session(
    line: FakeLine, server: ScriptedModelServer, **request: Any
) -> tuple[CallSession, OpenAiEndpoint]:
    async def dial(target: str) -> FakeLine:
        return line

    endpoint = OpenAiEndpoint(server.openai_url, "scripted")
    options = {"target": "+18005550100", "goal": GOAL, "company": "Acme"} | request
    session = CallSession(
        CallRequest(**options), dial, stt=ScriptedStt(line), tts=ToneTts(), decider=model_chain([endpoint])
    )
    session.keep_agent = False
    return session, endpoint


async def test_the_model_places_a_menu_the_rules_cannot(
    model: tuple[ScriptedModelServer, list[Responder]],
) -> None:
    server, responders = model
    responders[0] = by_question(
        [("savings", _reply("press", digits="1", reason="an unknown purchase"))], _reply("wait")
    )
    line = FakeLine(
        [
            say(MENU, 3, 5),
            Step(wait_digits=1),
            silence(0.5),
            person("Card services, this is Tom speaking, how can I help you?", 3),
            silence(3),
        ]
    )
    session, endpoint = _session(line, server)
    person_found = asyncio.Event()
    session.async_listen(lambda _: person_found.set() if session.state is SessionState.HUMAN else None)
    run = asyncio.create_task(session.run())
    try:
        await asyncio.wait_for(person_found.wait(), 60)
        await session.hangup()
        await run
    finally:
        await endpoint.close()
    assert line.digits == "1"
    assert session.model_calls == 1
    sent = next(event.data for event in session.events if event.type is EventType.DTMF_SENT)
    assert sent == {"digits": "1", "secret": None, "reason": "an unknown purchase", "source": endpoint.source}
    ours = [line.text for line in session.transcript if line.speaker is Speaker.US]
    assert ours[0] == f"[pressed 1] ({endpoint.source}: an unknown purchase)"


async def test_a_phrase_holding_a_secret_is_never_spoken(
    model: tuple[ScriptedModelServer, list[Responder]], caplog: pytest.LogCaptureFixture
) -> None:
    """A model that words the PIN ("four three two one") passes the model check; the session refuses."""
    server, responders = model
    responders[0] = lambda _: _reply("say", text="four three two one")
    caplog.set_level(logging.DEBUG)
    line = FakeLine([say("Tell me in a few words why you are calling.", 3, 3), silence(4), Step(hangup=True)])
    session, endpoint = _session(line, server, secrets={"pin": PIN}, goal="my pin is four three two one")
    try:
        outcome = await asyncio.wait_for(session.run(), 60)
    finally:
        await endpoint.close()
    assert outcome.cause == EndCause.REMOTE_HANGUP
    # The rules answer an open question with the goal itself: that holds the PIN, so nothing is said.
    assert EventType.SAID not in [event.type for event in session.events]
    assert not line.played
    assert "refused to say a secret" in caplog.text
    assert PIN not in caplog.text


class _HangUp:
    async def decide(self, context: DecisionContext) -> Action | None:
        return HangUp(reason="the office is closed", source="test")


async def test_a_hang_up_decision_ends_the_call_with_its_reason() -> None:
    line = FakeLine([say("Tell me in a few words why you are calling.", 3, 3), silence(20)])

    async def dial(target: str) -> FakeLine:
        return line

    session = CallSession(
        CallRequest("+18005550100"), dial, stt=ScriptedStt(line), tts=ToneTts(), decider=_HangUp()
    )
    outcome = await asyncio.wait_for(session.run(), 60)
    assert (outcome.state, outcome.cause, outcome.reason) == (
        SessionState.ENDED,
        "gave_up",
        "the office is closed",
    )
    assert [text.text for text in session.transcript if text.speaker is Speaker.US] == [
        "[hung up] (test: the office is closed)"
    ]


async def _call_to_a_person(session: CallSession) -> None:
    person_found = asyncio.Event()
    session.async_listen(lambda _: person_found.set() if session.state is SessionState.HUMAN else None)
    run = asyncio.create_task(session.run())
    await asyncio.wait_for(person_found.wait(), 60)
    await session.hangup()
    await run


def _menu_line(menu: str, recording: int = 3) -> FakeLine:
    return FakeLine(
        [
            say(menu, recording, 5),
            Step(wait_digits=1),
            silence(0.5),
            person("Card services, this is Tom speaking, how can I help you?", 3),
            silence(3),
        ]
    )


async def test_the_second_call_replays_the_route_without_the_model(
    model: tuple[ScriptedModelServer, list[Responder]], tmp_path: Path
) -> None:
    """Call 1 asks the model and learns the route; call 2 replays it with no model call, though
    speech recognition read the same recording quite differently (the route knows it by its audio
    fingerprint); a menu that changed (a new recording) sends call 3 back to the model, and the
    route is rewritten from it."""
    server, responders = model
    responders[0] = by_question(
        [
            ("dispute a transaction", _reply("press", digits="4", reason="a disputed purchase")),
            ("savings", _reply("press", digits="1", reason="an unknown purchase")),
        ],
        _reply("wait"),
    )
    book = RouteBook(JsonFlowStore(tmp_path / "routes.json"))
    endpoint = OpenAiEndpoint(server.openai_url, "scripted")
    request = CallRequest("+18005550100", goal=GOAL, company="Acme")
    changed = "For savings, press 1. For mortgages, press 2. To dispute a transaction, press 4."
    misread = (
        "Of a perches you donut recon ice shoes on you statute, press 1. Two talk a bout you say things, "
        "press 2. Four every thing elves, press 3."
    )
    digits, questions, replayed = [], [], []
    try:
        for menu, recording in ((MENU, 3), (misread, 3), (changed, 8)):
            line = _menu_line(menu, recording)

            async def dial(target: str, line: FakeLine = line) -> FakeLine:
                return line

            replay = book.decider_for(request.target)
            session = CallSession(
                request,
                dial,
                stt=ScriptedStt(line),
                tts=ToneTts(),
                decider=model_chain([endpoint], route=replay),
            )
            session.keep_agent = False
            await _call_to_a_person(session)
            await session.learn_route(book, replay)
            digits.append(line.digits)
            questions.append(session.model_calls)
            replayed.append(len(replay.followed) if replay is not None else 0)
    finally:
        await endpoint.close()
    # Call 2 typed ahead over the menu; this line takes keys only once its prompt has ended, so,
    # played out and waiting, it got the key again.
    assert digits == ["1", "11", "4"]
    assert questions == [1, 0, 1]
    assert replayed == [0, 1, 0]
    route = book.routes[request.target]
    assert route.calls == 3
    assert [step.action["digits"] for step in route.steps] == ["4"]
    assert route.steps[0].seen == 1


async def _asked_for_a_member_id(gap: float) -> tuple[CallSession, SessionOutcome, FakeLine]:
    """A call to a line asking four times for a member ID the call was not given, ``gap`` s apart."""
    ask = "Please enter your member ID, followed by the pound key."
    steps = [say(ask, 4, 3), silence(gap)]
    for _ in range(3):
        steps += [say("That member ID was not recognised. " + ask, 5, 4), silence(gap)]
    line = FakeLine(steps)

    async def dial(target: str) -> FakeLine:
        return line

    session = CallSession(
        CallRequest("+18005550100", goal="check my claim"), dial, stt=ScriptedStt(line), tts=ToneTts()
    )
    outcome = await asyncio.wait_for(session.run(), 60)
    return session, outcome, line


async def test_a_line_asking_for_a_number_we_lack_is_given_up_cleanly() -> None:
    """The third request for a member ID this call was not given ends the call, with the reason."""
    session, outcome, line = await _asked_for_a_member_id(7)
    assert (outcome.state, outcome.cause) == (SessionState.ENDED, "gave_up")
    assert outcome.reason == "the line asked 3 times for the member id, and this call has no such number"
    ended = session.events[-1]
    assert (ended.type, ended.data["cause"]) == (EventType.CALL_ENDED, "gave_up")
    assert line.digits == ""


async def test_a_line_repeating_a_prompt_is_still_asking_not_holding() -> None:
    """Quiet gaps of 12 s between the requests: long enough for the monitor to call a hold, yet
    the line keeps speaking, so the third request is still decided and the call given up."""
    session, outcome, _ = await _asked_for_a_member_id(12)
    assert (outcome.state, outcome.cause) == (SessionState.ENDED, "gave_up")
    assert EventType.HOLD_STARTED not in [event.type for event in session.events]
