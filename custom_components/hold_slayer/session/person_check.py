"""Whether a person reported on hold holds up: confirmed on a pause for our reply, or withdrawn.

The acoustic monitor and the transcript report a person the moment they hear one; both can be
fooled by a recording (an announcement in a friendly voice: "Hi, this is Jessica, please stay on
the line"). So a report is a suspicion first. It is confirmed (only then is the agent greeted)
when the line pauses for our reply, as a person does and a recording going back to its music
does not: ``TURN_PAUSE`` of quiet, neither a voice nor music, at least ``CONFIRM_AFTER`` after
the report; or when a voice talks on for ``CONFIRM_ANYWAY`` without the hold coming back. It is
withdrawn when, within ``RETRACT_WINDOW``, the hold music comes back (a person never plays
music) or the same words play again (a recording). Words heard twice on a hold belong to the
hold: they never raise a person, however friendly they sound; but a person's sentence the hold
never played, heard in one breath after the hold's words (an agent who spoke on as the
announcement ended), is that person's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.ivr.menu import likeness, prompt_words

from .person import person_sentences

CONFIRM_AFTER: Final = 2.0
TURN_PAUSE: Final = 1.0  # quiet seconds in which a person awaits our reply (a gap in a recording is shorter)
CONFIRM_ANYWAY: Final = 8.0  # a voice this long after the report, the music not back, is a person
_QUIET: Final = frozenset({Label.SILENCE, Label.NOISE})
RETRACT_WINDOW: Final = 15.0
MUSIC_BACK: Final = 2.0  # seconds of classifier decisions that must be (almost) all music …
MUSIC_BACK_SHARE: Final = 0.8  # … this share of them
DECISIONS_PER_SECOND: Final = 10  # the classifier decides every 100 ms
SAME_WORDS: Final = 0.8  # likeness of two transcripts that are one recording played again


class Verdict(StrEnum):
    """What became of a suspected person."""

    CONFIRMED = "confirmed"
    MUSIC_BACK = "the hold music came back"
    SAME_WORDS = "the same words again: a recording on the hold"
    ANNOUNCEMENT = "words of a hold announcement: a recording"
    MENU = "the line asked for keys: still the menu"


@dataclass(frozen=True, slots=True)
class Suspicion:
    """A person reported but not yet confirmed.

    When (audio seconds), their first words, and when they began speaking (``onset``).
    """

    at: float
    words: str
    onset: float


class PersonCheck:
    """One call's suspicions, and the words its hold has played."""

    def __init__(self) -> None:
        self.suspected: Suspicion | None = None
        self.confirmed = False  # the suspected person held up
        self._hold_words: list[str] = []

    def suspect(self, at: float, words: str, *, onset: float | None = None) -> None:
        """A person was reported at ``at`` (audio seconds), saying ``words`` (may be empty).

        ``onset``: when they began speaking (``at`` when not known).
        """
        self.suspected = Suspicion(at, words, at if onset is None else onset)
        self.confirmed = False

    def heard_on_hold(self, text: str) -> bool:
        """Keep words the hold played; whether the hold had played them before.

        Alike to earlier words as a whole is not enough when ``text`` holds a person's sentence
        the hold never played: an agent's greeting run on from the announcement.
        """
        before = any(likeness(text, earlier) >= SAME_WORDS for earlier in self._hold_words)
        before = before and not self._greets_anew(text)
        self._hold_words.append(text)
        return before

    def _greets_anew(self, text: str) -> bool:
        """Whether ``text`` holds a person's sentence whose words the hold has not played.

        A recording's friendly sentence played again has its words in an earlier transcript; an
        agent's greeting run on from the announcement (one utterance to the recogniser) does not.
        """
        for sentence in person_sentences(text):
            words = prompt_words(sentence)
            if words and not any(
                len(words & prompt_words(earlier)) >= SAME_WORDS * len(words) for earlier in self._hold_words
            ):
                return True
        return False

    def repeats(self, start: float, text: str) -> bool:
        """Whether ``text``, an utterance that began at ``start``, is the suspected person's words again.

        Only an utterance begun after the report can be a repeat: the one that raised the
        suspicion (its whole transcript comes after its first words) is the person's own.
        """
        return (
            self.suspected is not None
            and start >= self.suspected.at
            and likeness(text, self.suspected.words) >= SAME_WORDS
        )

    def judge(self, now: float, decisions: Iterable[tuple[float, Label]]) -> Verdict | None:
        """Confirm or withdraw the suspicion from the classifier's decisions up to ``now``."""
        if self.suspected is None:
            return None
        since = now - self.suspected.at
        if since > RETRACT_WINDOW:
            self.suspected = None  # long past the window: whatever it was, it stays a person
            return None
        recent = [label for time, label in decisions if time > now - MUSIC_BACK]
        enough = since >= MUSIC_BACK and len(recent) >= 0.9 * MUSIC_BACK * DECISIONS_PER_SECOND
        if enough and recent.count(Label.MUSIC) >= MUSIC_BACK_SHARE * len(recent):
            return Verdict.MUSIC_BACK
        if since >= CONFIRM_AFTER and not self.confirmed:
            pause = [label for time, label in decisions if time > now - TURN_PAUSE]
            paused = len(pause) >= 0.9 * TURN_PAUSE * DECISIONS_PER_SECOND and all(
                label in _QUIET for label in pause
            )
            if paused or since >= CONFIRM_ANYWAY:
                self.confirmed = True
                return Verdict.CONFIRMED
        return None

    def withdraw(self) -> None:
        """The suspected person was the hold: their words are the hold's from now on."""
        if self.suspected is not None and self.suspected.words:
            self._hold_words.append(self.suspected.words)
        self.suspected = None
        self.confirmed = False
