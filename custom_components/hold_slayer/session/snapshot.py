"""A call as entities and the card see it: a frozen copy, never the session's insides."""

from __future__ import annotations

from dataclasses import dataclass

from custom_components.hold_slayer.audio.classifier import Label

from .events import SessionState, TranscriptLine
from .timeline import Mark, Span


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """One call at one moment (secrets masked, the number shortened to its last digits)."""

    call_id: str
    state: SessionState
    company: str
    number: str
    goal: str
    current_menu: str | None
    hold_seconds: float | None
    queue_position: int | None
    estimated_wait_minutes: int | None
    line_label: Label | None  # what the classifier hears now (None once the call is over)
    line_confidence: float | None
    transcript: tuple[TranscriptLine, ...]  # the newest lines, oldest first
    timeline: tuple[Span, ...] = ()  # what the line sounded like (empty in the entities' light copies)
    marks: tuple[Mark, ...] = ()  # menu choices, the hold, the person, on the same clock
    end_cause: str | None = None  # once over: an EndCause value, or "gave_up", "max_hold", "closed", …
    end_reason: str | None = None  # … and why, in words (secrets masked)
