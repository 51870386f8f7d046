"""The hand-off: what happens once a person is on the line.

With a desk extension set, the call is handed over at once (the hand-off latency is what the
user notices). Otherwise the agent is kept on the line: greeted once the person is confirmed
(a recording taken for a person is never greeted), reminded politely every ``repeat_every``
seconds, and left with a farewell (and the callback number) after ``patience`` seconds. A
person retracted stops all of it.

:func:`bridge_to_desk` is the attended transfer itself: ring the desk while telling the agent
"one moment please", tell the user who is on the line, and bridge both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from custom_components.hold_slayer.ivr.decide import Action, Say
from custom_components.hold_slayer.telephony.call import CallState
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, TextToSpeech

from .commands import CancelTimer, Command, EndCall, Perform, SetTimer, StartTransfer
from .request import Handoff
from .view import LineView

REMIND: Final = "remind"  # the timer between reminders
SOURCE: Final = "hand-off"
WHILE_RINGING_EVERY: Final = 4.0  # seconds between "one moment please" while the desk rings


class Leg(Protocol):
    """What the transfer needs of a call leg (``session.CallLeg`` is one)."""

    state: CallState

    async def wait_answered(self) -> None: ...  # noqa: D102
    async def play(self, samples: Pcm) -> bool: ...  # noqa: D102
    def stop_playback(self) -> None: ...  # noqa: D102


class HandOff:
    """One call's hand-off."""

    def __init__(self, handoff: Handoff, *, keep_agent: bool = True) -> None:
        self.handoff = handoff
        self.keep_agent = keep_agent  # script/simulate turns this off: it scores, it does not talk
        self._deadline: float | None = None  # wall seconds when the agent is left; None: not keeping
        self._speaking: Action | None = None  # our words in the action lane
        self._leaving = False  # the farewell is said: the call ends after it

    def first_words(self) -> list[str]:
        """What the hand-off says first when a person answers (synthesised ahead by the session)."""
        if self.handoff.transfer_to or not self.keep_agent:
            return []
        return [self.handoff.greeting()]

    def on_person(self) -> list[Command]:
        """A person was reported: a desk set takes the call at once."""
        if self.handoff.transfer_to:
            return [StartTransfer(self.handoff.transfer_to)]
        return []

    def on_confirmed(self, view: LineView) -> list[Command]:
        """The person held up: greet them and keep them on the line."""
        if self.handoff.transfer_to or not self.keep_agent:
            return []
        self._deadline = view.wall_time + self.handoff.patience
        return self._speak(view, self.handoff.greeting())

    def on_stop(self) -> list[Command]:
        """The person was retracted, or the call is being handed over: stop talking to them."""
        self._deadline = None
        self._speaking = None
        self._leaving = False
        return [CancelTimer(REMIND)]

    def on_timer(self, view: LineView, name: str) -> list[Command]:
        """A reminder is due, or the patience is spent."""
        if name != REMIND or self._deadline is None:
            return []
        if view.wall_time < self._deadline:
            return self._speak(view, self.handoff.reminder())
        self._leaving = True
        return self._speak(view, self.handoff.farewell())

    def on_action_done(self, view: LineView, action: Action) -> list[Command]:
        """Our words were said (or could not be): wait for the next."""
        if action is not self._speaking or self._deadline is None:
            return []
        self._speaking = None
        return self._after_speaking(view)

    def _speak(self, view: LineView, text: str) -> list[Command]:
        if not view.can_speak:
            return self._after_speaking(view)  # nobody to hear it, but the patience still runs
        self._speaking = Say(text, reason="keeping the agent on the line", source=SOURCE)
        return [Perform(self._speaking)]

    def _after_speaking(self, view: LineView) -> list[Command]:
        assert self._deadline is not None
        if self._leaving:
            self._deadline = None
            return [EndCall("nobody_took_over", "nobody took over")]
        left = self._deadline - view.wall_time
        if left <= 0:
            return self.on_timer(view, REMIND)
        return [SetTimer(REMIND, min(self.handoff.repeat_every, left))]


async def bridge_to_desk(
    desk: Leg,
    agent: Leg,
    *,
    speak_to_agent: Callable[[str], Awaitable[None]],
    tts: TextToSpeech | None,
    company: str,
    language: str,
) -> None:
    """Ring the desk (telling the agent to hold on), then tell the user who is on the line."""

    async def while_ringing() -> None:
        while desk.state is not CallState.ANSWERED:
            await speak_to_agent("One moment please, I'm connecting you.")
            await asyncio.sleep(WHILE_RINGING_EVERY)

    ringing = asyncio.create_task(while_ringing(), name="hold_slayer tell the agent")
    try:
        await desk.wait_answered()
    finally:
        ringing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ringing
        agent.stop_playback()
    if tts is not None:
        with contextlib.suppress(SpeechError):
            audio = await tts.synthesize(
                f"{company or 'The company'} is on the line. Connecting you now.", language=language
            )
            await desk.play(audio)
