"""What the session's collaborators ask it to do: they read the line and return these, never act.

The hold judge, the navigator and the hand-off never call each other or touch the call; the
session carries out their commands in order (moving the state only through its table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custom_components.hold_slayer.ivr.decide import Action

from .events import EventType, Speaker


@dataclass(frozen=True, slots=True)
class Perform:
    """Queue ``action`` in the action lane (one action at a time, in order).

    ``again``: the same keys for the same prompt once more: sent slower, as tones in the audio
    (some lines drop RFC 4733 events or miss short digits).
    """

    action: Action
    again: bool = False


@dataclass(frozen=True, slots=True)
class Decide:
    """Ask the navigator's deciders about the prompt ``text`` (the answer comes back as ``Decided``)."""

    text: str


@dataclass(frozen=True, slots=True)
class EndUtterance:
    """Close the line's utterance in progress now: its words are decided on already.

    Known by its recording, or read at its pauses; what the line says next is an utterance of
    its own.
    """


@dataclass(frozen=True, slots=True)
class Emit:
    """Tell automations (``data`` never holds a secret)."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Note:
    """Add a line to the transcript (the session scrubs secrets)."""

    speaker: Speaker
    text: str


@dataclass(frozen=True, slots=True)
class StartHold:
    """The call is on hold since ``onset`` (audio seconds)."""

    onset: float
    confidence: float


@dataclass(frozen=True, slots=True)
class DiscardHold:
    """A quiet that looked like a hold was the menu waiting: the monitor starts afresh."""


@dataclass(frozen=True, slots=True)
class CheckWords:
    """Read the words from ``read_from`` before reporting a person since ``onset`` (``WordsRead``).

    Both in audio seconds.
    """

    onset: float
    confidence: float
    read_from: float


@dataclass(frozen=True, slots=True)
class ReportPerson:
    """A person is on the line since ``onset`` (audio seconds): suspected until confirmed."""

    onset: float
    confidence: float
    source: str  # "audio" or "transcript"
    words: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmPerson:
    """The suspected person held up."""


@dataclass(frozen=True, slots=True)
class Retract:
    """The person reported was the hold: back on hold, with its own event."""

    reason: str


@dataclass(frozen=True, slots=True)
class ResumeMenu:
    """The hold (or the person) was the menu pausing: back to the menu, the monitor afresh."""

    reason: str


@dataclass(frozen=True, slots=True)
class LearnHoldSegment:
    """Tell the monitor that what it just heard belongs to the hold (not a person)."""


@dataclass(frozen=True, slots=True)
class StartTransfer:
    """Hand the call to ``target`` (the desk): bridge it, or REFER it when ``blind``."""

    target: str
    blind: bool = False


@dataclass(frozen=True, slots=True)
class EndCall:
    """End the call for this reason: hang up now, or (``hang_up`` False) let the line end it."""

    cause: str
    reason: str
    hang_up: bool = True


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Send ``TimerFired(name)`` after ``seconds`` of wall time (a timer of that name is replaced)."""

    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the timer ``name``."""

    name: str


type Command = (
    Perform
    | Decide
    | EndUtterance
    | Emit
    | Note
    | StartHold
    | DiscardHold
    | CheckWords
    | ReportPerson
    | ConfirmPerson
    | Retract
    | ResumeMenu
    | LearnHoldSegment
    | StartTransfer
    | EndCall
    | SetTimer
    | CancelTimer
)
