"""The action lane: phrases synthesised ahead are said without synthesis time; secrets never are."""

from __future__ import annotations

import numpy as np

from custom_components.hold_slayer.ivr.decide import Action, Press, Say
from custom_components.hold_slayer.session.actions import ActionLane
from custom_components.hold_slayer.session.request import CallRequest
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError

PIN = "4321"


class CountingTts:
    """Each phrase as its own tone; counts what it was asked, fails on "fail"."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        self.asked.append(text)
        if text == "fail":
            raise SpeechError("the engine is down")
        return np.full(800, len(text), dtype=np.int16)


class Line:
    """What the lane plays and keys."""

    def __init__(self) -> None:
        self.played: list[Pcm] = []

    async def send_dtmf(
        self, digits: str, *, duration: float = 0.1, pacing: float = 0.15, inband: bool = False
    ) -> None:
        return None

    async def play(self, samples: Pcm) -> bool:
        self.played.append(samples)
        return True

    async def hangup(self) -> None:
        return None


class Told:
    """The lane's teller."""

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def pressed(self, action: Press, shown: str, *, again: bool) -> None:
        return None

    def said(self, action: Say) -> None:
        self.spoken.append(action.text)

    def hanging_up(self, action: Action) -> None:
        return None


def _lane(tts: CountingTts, line: Line) -> ActionLane:
    request = CallRequest("+18005550100", goal="a question about my bill", secrets={"pin": PIN})
    return ActionLane(line, request, tts, Told(), done=lambda _action, _done: None, call_id="test")


async def test_phrases_synthesised_ahead_are_played_without_asking_the_engine_again() -> None:
    tts, line = CountingTts(), Line()
    lane = _lane(tts, line)
    await lane.prepare(["yes", "a question about my bill", "yes", f"my pin is {PIN}", ""])
    assert tts.asked == ["yes", "a question about my bill"]  # once each; never a secret, never nothing
    assert await lane.perform(Say("yes"))
    assert await lane.perform(Say("no"))  # not prepared: synthesised now
    assert tts.asked == ["yes", "a question about my bill", "no"]
    assert [int(audio[0]) for audio in line.played] == [3, 2]


async def test_a_failing_engine_costs_only_the_time() -> None:
    tts, line = CountingTts(), Line()
    lane = _lane(tts, line)
    await lane.prepare(["fail", "yes"])  # no exception; the rest is left to answer time
    assert tts.asked == ["fail"]
    assert await lane.perform(Say("yes"))
    assert tts.asked == ["fail", "yes"]
