"""What a call sounded like, as a strip the card can draw: spans of one kind and marks on them.

The classifier decides every 100 ms; a strip of those would be thousands of slivers. Runs of one
kind are merged, and a run shorter than ``MIN_SPAN`` is folded into the span before it (a
breath in a sentence is not a silence worth drawing). Marks are the moments a person cares
about: each menu choice (with who made it), the hold starting, the person arriving or being
withdrawn. Times are session seconds; the strip keeps at most ``MAX_SPANS`` spans (a two-hour
hold of music and announcements is a few hundred).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from custom_components.hold_slayer.audio.classifier import Label

MIN_SPAN: Final = 0.5
MAX_SPANS: Final = 400
MAX_MARKS: Final = 200

_KINDS: Final = {
    Label.SILENCE: "silence",
    Label.NOISE: "silence",  # line noise and comfort noise: nothing is being said or played
    Label.MUSIC: "music",
    Label.SPEECH: "speech",
    Label.SPEECH_OVER_MUSIC: "announcement",
    Label.RINGBACK: "tone",
    Label.BUSY: "tone",
    Label.REORDER: "tone",
    Label.SIT: "tone",
    Label.DTMF: "tone",
}


class MarkKind(StrEnum):
    """A moment on the strip."""

    CHOICE = "choice"  # we pressed or said something (text: what, source: who decided)
    HOLD = "hold"
    PERSON = "person"
    RETRACTED = "retracted"


@dataclass(frozen=True, slots=True)
class Span:
    """The line carried one kind of sound from ``start`` to ``end`` (session seconds)."""

    start: float
    end: float
    kind: str  # silence, music, speech, announcement (speech over music), tone


@dataclass(frozen=True, slots=True)
class Mark:
    """Something happened at ``at`` (session seconds)."""

    at: float
    kind: MarkKind
    text: str = ""
    source: str = ""


class Timeline:
    """One call's strip, built as the classifier decides."""

    def __init__(self) -> None:
        self._spans: deque[Span] = deque(maxlen=MAX_SPANS)
        self._marks: deque[Mark] = deque(maxlen=MAX_MARKS)
        self._open: Span | None = None  # the run still growing

    def heard(self, at: float, label: Label) -> None:
        """The classifier's decision at ``at`` (session seconds): extend or start a span."""
        kind = _KINDS[label]
        current = self._open
        if current is None:
            self._open = Span(at, at, kind)
            return
        if kind == current.kind:
            self._open = Span(current.start, at, kind)
            return
        self._close(at)
        if self._spans and self._spans[-1].kind == kind:
            # A sliver folded away between two runs of one kind: the earlier run goes on.
            self._open = Span(self._spans.pop().start, at, kind)
        else:
            self._open = Span(at, at, kind)

    def mark(self, at: float, kind: MarkKind, text: str = "", source: str = "") -> None:
        """Put a moment on the strip (texts are already masked by the caller)."""
        self._marks.append(Mark(round(at, 2), kind, text, source))

    def spans(self) -> tuple[Span, ...]:
        """The strip so far, the growing run included."""
        spans = list(self._spans)
        if self._open is not None:
            spans.append(_rounded(self._open))
        return tuple(spans)

    def marks(self) -> tuple[Mark, ...]:
        """The moments so far, oldest first."""
        return tuple(self._marks)

    def _close(self, at: float) -> None:
        current = self._open
        assert current is not None
        finished = Span(current.start, at, current.kind)
        previous = self._spans[-1] if self._spans else None
        if previous is not None and (
            finished.end - finished.start < MIN_SPAN or previous.kind == finished.kind
        ):
            # Too short to draw, or the same kind again after a sliver: the earlier span grows.
            self._spans[-1] = _rounded(Span(previous.start, at, previous.kind))
        else:
            self._spans.append(_rounded(finished))


def _rounded(span: Span) -> Span:
    return Span(round(span.start, 2), round(span.end, 2), span.kind)
