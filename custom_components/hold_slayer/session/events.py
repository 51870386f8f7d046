"""What a call session reports: its state and typed events.

The HA surface turns them into entities, the ``hold_slayer_event`` bus event and the event
entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SessionState(StrEnum):
    """One call's life, in the order it usually goes."""

    DIALING = "dialing"
    RINGING = "ringing"
    IVR = "ivr"
    ON_HOLD = "on_hold"
    HUMAN = "human"
    TRANSFERRING = "transferring"
    CONNECTED = "connected"
    ENDED = "ended"
    FAILED = "failed"


FINAL_STATES = frozenset({SessionState.ENDED, SessionState.FAILED})


class EventType(StrEnum):
    """Events worth telling an automation about."""

    CALL_STARTED = "call_started"
    MENU_HEARD = "menu_heard"
    DTMF_SENT = "dtmf_sent"
    SAID = "said"
    HOLD_STARTED = "hold_started"
    ANNOUNCEMENT = "announcement"
    QUEUE_POSITION = "queue_position"
    HUMAN_DETECTED = "human_detected"
    HUMAN_RETRACTED = "human_retracted"  # the person reported was the hold after all
    NUMBER_NEEDED = "number_needed"  # the line asks for a number this call was not given
    TRANSFER_STARTED = "transfer_started"
    TRANSFERRED = "transferred"
    CALL_ENDED = "call_ended"
    CALL_FAILED = "call_failed"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """An event: its type, when (seconds since the session started) and what (never secrets)."""

    type: EventType
    at: float
    data: dict[str, Any] = field(default_factory=dict)


class Speaker(StrEnum):
    """Who said a transcript line."""

    LINE = "line"  # the company: IVR, announcements, the agent
    US = "us"  # Hold Slayer: digits pressed, words said


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line of the call's transcript (secrets masked)."""

    at: float
    speaker: Speaker
    text: str
