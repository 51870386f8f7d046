"""Learned routes: replay step by step, divergence, freshness, merging, forgetting, storage."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from custom_components.hold_slayer.audio.fingerprint import prompt_fingerprint
from custom_components.hold_slayer.ivr.decide import DecisionContext, Press, Say, Wait
from custom_components.hold_slayer.ivr.menu import likeness, parse_prompt
from custom_components.hold_slayer.ivr.routes import (
    PROMPT_LIKENESS,
    SOURCE,
    JsonFlowStore,
    Route,
    RouteBook,
    RouteStep,
    action_to_dict,
)
from harness.channel import Channel, through_channel
from harness.corpus import espeak

NUMBER = "+18005550100"
MENU = "For billing, press 1. For technical support, press 2."
ACCOUNT = "Please enter your ten digit account number, followed by the pound key."
DOOR = "In a few words, tell me why you are calling."
DAY = 86400.0


def _steps() -> list[RouteStep]:
    return [
        RouteStep(MENU, action_to_dict(Press("1")), 6.0),
        RouteStep(ACCOUNT, action_to_dict(Press("#", secret="account_number")), 12.5),
        RouteStep(DOOR, action_to_dict(Say("billing")), 20.0),
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _book(tmp_path: Path, clock: _Clock | None = None) -> RouteBook:
    book = RouteBook(JsonFlowStore(tmp_path / "routes.json"), clock=clock or _Clock())
    await book.load()
    return book


def _context(text: str, attempts: int = 1, fingerprint: str | None = None) -> DecisionContext:
    return DecisionContext(
        "a question about my bill",
        parse_prompt(text),
        frozenset({"account_number"}),
        attempts,
        fingerprint=fingerprint,
    )


@cache
def _heard(text: str, seed: int = 0) -> str:
    """The fingerprint of the company's recording of ``text`` as one call hears it.

    One voice (espeak-ng), through the telephone channel: a level of its own, line noise, G.711.
    """
    rng = np.random.default_rng(seed)
    channel = Channel(level_db=float(rng.uniform(-10, 6)), noise_db=-65.0, alaw=bool(seed % 2))
    heard = through_channel(espeak(text, "en-us"), channel, rng)
    return prompt_fingerprint(np.clip(np.round(heard * 32768), -32768, 32767).astype(np.int16))


def _recorded_steps() -> list[RouteStep]:
    """The first call's steps, each with its prompt's fingerprint."""
    return [
        RouteStep(step.prompt, step.action, step.at, fingerprint=_heard(step.prompt, 1)) for step in _steps()
    ]


async def test_replay_step_by_step(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _steps(), hold_seconds=45.0, hour=9)
    replay = book.decider_for(NUMBER)
    assert replay is not None
    # Speech recognition reads a prompt a little differently each time.
    assert await replay.decide(_context("For billing press one. For tech support, press two.")) == Press(
        "1", reason="step 1 of the route, seen 1x", source=SOURCE
    )
    assert await replay.decide(_context(ACCOUNT)) == Press(
        "#", secret="account_number", reason="step 2 of the route, seen 1x", source=SOURCE
    )
    assert await replay.decide(_context(DOOR)) == Say(
        "billing", reason="step 3 of the route, seen 1x", source=SOURCE
    )
    assert (replay.followed, replay.diverged) == ([0, 1, 2], False)
    route = await book.record(NUMBER, "Acme", [], hold_seconds=30.0, replay=replay, hour=9)
    assert [step.seen for step in route.steps] == [2, 2, 2]
    assert route.calls == 2
    assert route.hold_profile() == {"typical": 37.5, "longest": 45.0, "by_hour": {9: 37.5}}


async def test_a_changed_menu_passes_and_is_relearned(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _steps(), hold_seconds=None)
    replay = book.decider_for(NUMBER)
    assert replay is not None
    changed = "For sales, press 1. For billing, press 3. For your account balance press 4."
    assert await replay.decide(_context(changed)) is None
    assert replay.diverged
    fresh = [RouteStep(changed, action_to_dict(Press("3")), 7.0), *_steps()[1:]]
    route = await book.record(NUMBER, "Acme", fresh, hold_seconds=None, replay=replay)
    assert route.steps[0].action == {"kind": "press", "digits": "3", "secret": None}
    assert [step.seen for step in route.steps] == [1, 1, 1]
    assert route.calls == 2


async def test_an_action_that_no_longer_fits_is_not_replayed(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _steps(), hold_seconds=None)
    replay = book.decider_for(NUMBER)
    assert replay is not None
    # The same words, but key 1 is gone from the menu.
    assert await replay.decide(_context("For billing, press 5. For technical support, press 2.")) is None
    # A secret this call was not given.
    replay = book.decider_for(NUMBER)
    assert replay is not None
    await replay.decide(_context(MENU))
    no_secrets = DecisionContext("x", parse_prompt(ACCOUNT))
    assert await replay.decide(no_secrets) is None
    # The line repeating a prompt means the remembered step failed here.
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert await replay.decide(_context(MENU, attempts=2)) is None


async def test_a_skipped_step_is_no_divergence(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    notice = "Our offices will be closed on Monday for the holiday. Press 1 to continue."
    steps = [RouteStep(notice, action_to_dict(Wait()), 2.0), *_steps()]
    await book.record(NUMBER, "Acme", steps, hold_seconds=None)
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert isinstance(await replay.decide(_context(MENU)), Press)
    assert replay.followed == [1]


async def test_stale_routes_are_not_replayed(tmp_path: Path) -> None:
    clock = _Clock()
    book = await _book(tmp_path, clock)
    await book.record(NUMBER, "Acme", _steps(), hold_seconds=None)
    clock.now += 29 * DAY
    assert book.decider_for(NUMBER) is not None
    clock.now += 2 * DAY
    assert book.decider_for(NUMBER) is None
    assert book.decider_for("+18005550199") is None


async def test_stored_as_json_and_forgotten(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme Bank", _steps(), hold_seconds=12.0, hour=14)
    await book.record("+18005550111", "Acme Bank", _steps()[:1], hold_seconds=None)
    await book.record("+18005550122", "Globex", _steps()[:1], hold_seconds=None)
    saved = json.loads((tmp_path / "routes.json").read_text())
    assert saved["version"] == 1
    assert saved["routes"][NUMBER]["steps"][1]["action"] == {
        "kind": "press",
        "digits": "#",
        "secret": "account_number",
    }
    again = await _book(tmp_path)
    assert again.routes[NUMBER] == book.routes[NUMBER]
    assert isinstance(again.routes[NUMBER], Route)
    assert sorted(await again.forget(company="acme bank")) == [NUMBER, "+18005550111"]
    assert await again.forget(number="+18005550122") == ["+18005550122"]
    assert await again.forget(number="+1") == []
    assert json.loads((tmp_path / "routes.json").read_text())["routes"] == {}


async def test_a_step_is_recognised_by_its_recording_though_read_differently(tmp_path: Path) -> None:
    """The same recording, transcribed badly this time: the fingerprint takes the step."""
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _recorded_steps(), hold_seconds=None)
    garbled = "Four bill in, pressed won. Four tech Nick all sup port, pressed to."
    assert likeness(MENU, garbled) < PROMPT_LIKENESS
    by_words = book.decider_for(NUMBER)
    assert by_words is not None
    assert await by_words.decide(_context(garbled)) is None  # no fingerprint heard: words decide
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert await replay.decide(_context(garbled, fingerprint=_heard(MENU, 2))) == Press(
        "1", reason="step 1 of the route, seen 1x, same recording", source=SOURCE
    )
    assert await replay.decide(_context(ACCOUNT, fingerprint=_heard(ACCOUNT, 3))) == Press(
        "#", secret="account_number", reason="step 2 of the route, seen 1x, same recording", source=SOURCE
    )
    assert replay.followed == [0, 1]


async def test_a_menu_that_swapped_its_keys_is_decided_afresh(tmp_path: Path) -> None:
    """Words compared as a set read a reordered menu as the same; its recording is not, and the
    key remembered now stands for another option.

    Replaying "press 1" there would reach technical support: without a fingerprint the moved key
    says so, with one the fingerprint does; the chain decides, and the route learns the new menu
    (and its recording) from that call.
    """
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _recorded_steps(), hold_seconds=None)
    swapped = "For technical support, press 1. For billing, press 2."
    assert likeness(MENU, swapped) >= PROMPT_LIKENESS
    by_words = book.decider_for(NUMBER)
    assert by_words is not None
    assert await by_words.decide(_context(swapped)) is None  # key 1 is no longer billing
    assert by_words.diverged
    reworded = book.decider_for(NUMBER)
    assert reworded is not None
    assert await reworded.decide(_context("For billing questions, press 1. For support, press 2.")) == Press(
        "1", reason="step 1 of the route, seen 1x", source=SOURCE
    )  # the same option in other words is still the step
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert await replay.decide(_context(swapped, fingerprint=_heard(swapped, 2))) is None
    assert replay.diverged
    fresh = [
        RouteStep(swapped, action_to_dict(Press("2")), 6.0, fingerprint=_heard(swapped, 2)),
        *_recorded_steps()[1:],
    ]
    route = await book.record(NUMBER, "Acme", fresh, hold_seconds=None, replay=replay)
    assert route.steps[0].fingerprint == _heard(swapped, 2)
    again = book.decider_for(NUMBER)
    assert again is not None
    assert await again.decide(_context(swapped, fingerprint=_heard(swapped, 3))) == Press(
        "2", reason="step 1 of the route, seen 1x, same recording", source=SOURCE
    )


async def test_fingerprints_are_stored_and_a_masked_prompt_keeps_none(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    readback = RouteStep(
        "You entered •••. If this is correct, press 1.",
        action_to_dict(Press("1")),
        18.0,
        fingerprint=_heard("You entered 4 3 2 1. If this is correct, press 1."),
    )
    await book.record(NUMBER, "Acme", [*_recorded_steps(), readback], hold_seconds=None)
    saved = json.loads((tmp_path / "routes.json").read_text())["routes"][NUMBER]["steps"]
    assert [step["fingerprint"] for step in saved] == [*(_heard(s.prompt, 1) for s in _steps()), None]
    again = await _book(tmp_path)
    assert again.routes[NUMBER] == book.routes[NUMBER]
    assert again.routes[NUMBER].steps[0].fingerprint == _heard(MENU, 1)


async def test_routes_stored_before_fingerprints_load_and_gain_them(tmp_path: Path) -> None:
    """A route file from before fingerprints: replayed by words, and a followed call adds them."""
    old = {
        "version": 1,
        "routes": {
            NUMBER: {
                "number": NUMBER,
                "company": "Acme",
                "steps": [
                    {
                        "prompt": MENU,
                        "action": {"kind": "press", "digits": "1", "secret": None},
                        "at": 6.0,
                        "seen": 3,
                        "confirmed": 999_000.0,
                    }
                ],
                "calls": 3,
                "confirmed": 999_000.0,
                "holds": [[40.0, 9]],
            }
        },
    }
    (tmp_path / "routes.json").write_text(json.dumps(old))
    book = await _book(tmp_path)
    route = book.routes[NUMBER]
    assert route.steps[0].fingerprint is None
    replay = book.decider_for(NUMBER)
    assert replay is not None
    # The step has no fingerprint to compare with: words decide, as before.
    assert await replay.decide(_context(MENU, fingerprint=_heard(MENU, 2))) == Press(
        "1", reason="step 1 of the route, seen 3x", source=SOURCE
    )
    heard = [RouteStep(MENU, action_to_dict(Press("1")), 6.2, fingerprint=_heard(MENU, 2))]
    route = await book.record(NUMBER, "Acme", heard, hold_seconds=None, replay=replay)
    assert (route.steps[0].seen, route.steps[0].fingerprint) == (4, _heard(MENU, 2))
    saved = json.loads((tmp_path / "routes.json").read_text())
    assert saved["routes"][NUMBER]["steps"][0]["fingerprint"] == _heard(MENU, 2)


async def test_a_step_the_line_answered_by_asking_again_is_not_kept(tmp_path: Path) -> None:
    """A wait the menu timed out on, and keys it did not take, are not the way: replayed, each
    would cost the menu's timeout and a second reading again. The step that moved the call on is.
    """
    garbled = "For bill in, pressed won. For tech support, pressed to."
    first_call = [
        RouteStep(garbled, action_to_dict(Wait()), 6.0, fingerprint=_heard(MENU, 1)),  # misread: waited
        RouteStep(MENU, action_to_dict(Press("2")), 14.0, fingerprint=_heard(MENU, 2)),  # not taken
        RouteStep(MENU, action_to_dict(Press("1")), 22.0, fingerprint=_heard(MENU, 3)),
        RouteStep(ACCOUNT, action_to_dict(Press("#", secret="account_number")), 29.0),
        RouteStep(
            "That number is not valid. " + ACCOUNT, action_to_dict(Press("#", secret="account_number")), 36.0
        ),
    ]
    book = await _book(tmp_path)
    route = await book.record(NUMBER, "Acme", first_call, hold_seconds=None)
    assert [(step.action, step.at) for step in route.steps] == [
        ({"kind": "press", "digits": "1", "secret": None}, 22.0),
        ({"kind": "press", "digits": "#", "secret": "account_number"}, 36.0),
    ]
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert await replay.decide(_context(garbled, fingerprint=_heard(MENU, 4))) == Press(
        "1", reason="step 1 of the route, seen 1x, same recording", source=SOURCE
    )


async def test_routes_kept_with_retried_steps_load_without_them(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    book.routes[NUMBER] = Route(
        NUMBER,
        "Acme",
        [
            RouteStep(MENU, action_to_dict(Wait()), 6.0, fingerprint=_heard(MENU, 1)),
            RouteStep(MENU, action_to_dict(Press("1")), 14.0, fingerprint=_heard(MENU, 2)),
        ],
    )
    await book.save()
    again = await _book(tmp_path)
    assert [step.action for step in again.routes[NUMBER].steps] == [
        {"kind": "press", "digits": "1", "secret": None}
    ]


async def test_different_prompts_in_a_row_are_all_kept(tmp_path: Path) -> None:
    book = await _book(tmp_path)
    route = await book.record(NUMBER, "Acme", _recorded_steps(), hold_seconds=None)
    assert len(route.steps) == 3


async def test_a_line_that_dropped_what_was_typed_ahead_is_answered_after_its_prompts(tmp_path: Path) -> None:
    """Once a call found the line dropped keys sent over its prompt, the route says so (stored,
    and kept when the route is rewritten): its prompts are expected, not to be answered early."""
    book = await _book(tmp_path)
    await book.record(NUMBER, "Acme", _recorded_steps(), hold_seconds=None)
    replay = book.decider_for(NUMBER)
    assert replay is not None
    assert all(expected.early for expected in replay.expected())
    await book.record(NUMBER, "Acme", _recorded_steps(), hold_seconds=None, replay=replay, type_ahead=False)
    assert not book.routes[NUMBER].type_ahead
    again = await _book(tmp_path)
    assert not again.routes[NUMBER].type_ahead
    replay = again.decider_for(NUMBER)
    assert replay is not None
    assert [expected.early for expected in replay.expected()] == [False, False]
    # A menu that changed is learned afresh; the line still takes nothing over its prompts.
    await again.record(NUMBER, "Acme", _steps()[:1], hold_seconds=None)
    assert not again.routes[NUMBER].type_ahead
