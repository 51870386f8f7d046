"""The line as the session's collaborators see it: read-only, the same for all of them.

The session implements it. The hold judge, the navigator and the hand-off read it and return
commands; what one of them knows reaches another only through this view (``awaiting_us`` is
the navigator's, read by the hold judge), never by calling each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.voice.pcm import Pcm

from .events import SessionState
from .request import CallRequest
from .states import Phase


class LineView(Protocol):
    """What is known of the call now."""

    @property
    def request(self) -> CallRequest:
        """What the user asked for."""

    @property
    def state(self) -> SessionState:
        """Where the call is."""

    @property
    def phase(self) -> Phase:
        """Where in its state."""

    @property
    def audio_time(self) -> float:
        """The audio clock: seconds of call audio analysed so far."""

    @property
    def wall_time(self) -> float:
        """Seconds since the session started, by the wall clock."""

    @property
    def labels(self) -> Sequence[tuple[float, Label]]:
        """The classifier's decisions of the last minute: (audio seconds, label), oldest first."""

    @property
    def speaking(self) -> bool:
        """The line is inside an utterance the classifier hears as speech (music keeps it busy too)."""

    @property
    def utterance_open(self) -> bool:
        """The endpointer holds an utterance not yet handed to the transcriber (any sound)."""

    @property
    def quiet_for(self) -> float:
        """Seconds since the line was last loud enough for speech (a pause inside an utterance too)."""

    def line_audio(self, since: float) -> Pcm:
        """The line's audio from ``since`` (audio seconds) to now, as far back as it is kept."""

    @property
    def transcribing(self) -> int:
        """Utterances waiting to be read."""

    def reading_before(self, start: float) -> bool:
        """Whether an utterance begun before ``start`` (audio seconds) is still being read."""

    @property
    def can_transcribe(self) -> bool:
        """A speech recogniser is there."""

    @property
    def can_speak(self) -> bool:
        """A TTS engine is there to say things on the call."""

    @property
    def hold_seconds(self) -> float | None:
        """How long the call has been (or was) on hold."""

    @property
    def awaiting_us(self) -> bool:
        """The last prompt asked something of us and we have not answered it (yet)."""

    @property
    def answered_current_prompt(self) -> bool:
        """Our last action answered the prompt the line last read."""

    @property
    def answered_at(self) -> float | None:
        """Audio seconds our latest answer to the menu was keyed or said (None: none yet)."""

    @property
    def has_answered(self) -> bool:
        """We have answered any prompt on this call (a greeting after the menu may be a person)."""

    @property
    def line_spoke_at(self) -> float | None:
        """Audio seconds when the line last finished saying something we have not answered."""

    @property
    def words_pending(self) -> bool:
        """Line words since our last action, not yet decided on."""
