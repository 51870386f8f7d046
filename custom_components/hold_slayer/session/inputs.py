"""What reaches a call session, in one queue, in the order it happened.

The media loop sends what it heard (the classifier's decisions and the monitor's events for
each 100 ms step, an utterance when the endpointer closes one); the transcriber sends what the
utterances said; the action lane says when an action is done; timers fire; the user asks for
things through the services. The session handles them one at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from custom_components.hold_slayer.audio.classifier import Decision
from custom_components.hold_slayer.audio.monitor import MonitorEvent
from custom_components.hold_slayer.ivr.decide import Action
from custom_components.hold_slayer.voice.endpoint import Utterance


@dataclass(frozen=True, slots=True)
class Heard:
    """One classifier step of the line: the audio clock (seconds) and what was heard up to it."""

    at: float
    decisions: tuple[Decision, ...]
    events: tuple[MonitorEvent, ...]
    speaking: bool  # the endpointer is inside an utterance
    quiet: float = 0.0  # seconds since the line was last loud enough for speech


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """The endpointer closed an utterance (its audio, start and end in audio seconds)."""

    utterance: Utterance


@dataclass(frozen=True, slots=True)
class Transcribed:
    """What an utterance said (empty when nothing was recognised)."""

    utterance: Utterance
    text: str


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """What a piece of the utterance the endpointer still holds said (``text`` may be empty)."""

    utterance: Utterance
    text: str


@dataclass(frozen=True, slots=True)
class WordsRead:
    """The first words of a person the monitor reported on hold (``text`` may be empty)."""

    onset: float
    confidence: float
    text: str


@dataclass(frozen=True, slots=True)
class Decided:
    """A decider chose ``action`` for the prompt ``text`` (performed next, in the action lane)."""

    text: str
    action: Action


@dataclass(frozen=True, slots=True)
class ActionDone:
    """The action lane finished ``action`` (``done``: the keys were sent or the words played)."""

    action: Action
    done: bool


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A wall-clock timer a collaborator set went off."""

    name: str


@dataclass(frozen=True, slots=True)
class LineEnded:
    """The call's audio stopped: the call is over."""


@dataclass(frozen=True, slots=True)
class UserRequest:
    """The user asked for something; ``result`` gets the answer or the error."""

    command: Any  # a request from .commands (Perform, StartTransfer, EndCall)
    result: asyncio.Future[None] = field(compare=False)


type Input = (
    Heard
    | UtteranceEnded
    | Transcribed
    | ReadAhead
    | WordsRead
    | Decided
    | ActionDone
    | TimerFired
    | LineEnded
    | UserRequest
)
