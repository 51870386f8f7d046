"""The hold monitor: from the classifier's stream to hold_started / announcement / human_detected.

A person on the line is speech that (1) is not over music, (2) matches no announcement heard
on this hold before (spectral-peak fingerprints, :mod:`.fingerprint`), and (3) is not followed
by the music coming back. Until the hold has taught us an announcement, (3) is waited for: the
speech must end in a pause awaiting a reply (the answering-machine industry's cue) with no
music. Once an announcement is known, a new voice is reported after 1.2 s of speech that
matches nothing. Speech right after an announcement may be the rest of it (the classifier can
call a second of a prompt music) and is judged the slow way. A transcript may confirm or veto a
person (:meth:`HoldMonitor.review`); the acoustic decision stands on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from .classifier import STEP_FRAMES, Decision, FrameClassifier, Label
from .fingerprint import Fingerprint
from .tones import FRAME, SAMPLE_RATE

HOLD_AFTER: Final = 5.0  # seconds of music/silence/noise that make it a hold
SPEECH_EVIDENCE: Final = 0.8  # seconds of speech before a candidate is judged
MUSIC_RETURN_WAIT: Final = 3.0  # how long music must stay back before a "person" is withdrawn
MUSIC_BACK: Final = 1.0  # this much music ends a speech segment (single flickers do not)
MAX_OVER_MUSIC: Final = 0.3  # share of speech-over-music decisions that makes it an announcement
CONTINUATION_GAP: Final = 3.0  # speech this soon after an announcement may be more of it
REPLY_PAUSE: Final = 1.2  # silence after speech awaiting a reply (Twilio AMD uses 1.2 s)
FINGERPRINT_SECONDS: Final = 1.0  # of a new speech segment, searched in known announcements
REFERENCE_SECONDS: Final = 20.0  # of an announcement, kept as its reference
HUMAN_EVIDENCE: Final = 1.2  # seconds of new, unmatched speech before a person is reported
MATCH_THRESHOLD: Final = 0.5  # landmarks aligned: the same audio > 0.75, other speech < 0.3
MAX_FINGERPRINTS: Final = 16
SMOOTHING: Final = 5  # decisions in the majority vote (0.5 s)
_NON_SPEECH: Final = frozenset({Label.MUSIC, Label.SILENCE, Label.NOISE, Label.RINGBACK})
_MUSICAL: Final = frozenset({Label.MUSIC, Label.SPEECH_OVER_MUSIC})

Floats = npt.NDArray[np.float64]


class EventKind(StrEnum):
    """Monitor events (the ``script/classify`` contract)."""

    HOLD_STARTED = "hold_started"
    ANNOUNCEMENT = "announcement"
    HUMAN_DETECTED = "human_detected"
    HOLD_ENDED = "hold_ended"


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """Something the session should act on.

    ``time`` is when the monitor knew (seconds of call audio); ``onset`` when what it reports
    began (the first word of the person, the start of the announcement).
    """

    time: float
    kind: EventKind
    confidence: float = 1.0
    onset: float | None = None


class _State(StrEnum):
    WAITING = "waiting"  # before the hold (ringback, menus)
    HOLD = "hold"
    CANDIDATE = "candidate"  # speech on hold, being judged
    HUMAN = "human"


@dataclass(slots=True)
class _Candidate:
    start: float
    frames: list[Floats] = field(default_factory=list)  # its audio, 20 ms rows, from the start
    labels: list[Label] = field(default_factory=list)
    speech: float = 0.0  # seconds of speech so far
    pause: float = 0.0  # seconds of silence since the last speech
    music: float = 0.0  # seconds of music since the last speech
    matched: bool = False  # recognised as a known announcement
    probe: Fingerprint | None = None
    probed_at: int = -1000  # frame count at the last probe
    continuation: bool = False  # began right after an announcement: judged the slow way


class HoldMonitor:
    """Feed call audio; get classifier decisions and monitor events."""

    def __init__(self, classifier: FrameClassifier | None = None) -> None:
        self.classifier = classifier or FrameClassifier()
        self.state = _State.WAITING
        self.announcements: list[Fingerprint] = []
        self._votes: deque[Label] = deque(maxlen=SMOOTHING)
        self._calm_since: float | None = None
        self._candidate: _Candidate | None = None
        self._last_human: _Candidate | None = None
        self._hold_ended = False
        self._segment_ended: float | None = None
        self._pending: deque[Floats] = deque()
        # The smoothing delays a candidate by ~0.25 s: its audio starts this far back.
        self._recent: deque[Floats] = deque(maxlen=SMOOTHING * STEP_FRAMES // 2)
        self.events: list[MonitorEvent] = []

    @property
    def on_hold(self) -> bool:
        """Whether the call is on hold now (a candidate being judged is still hold)."""
        return self.state in (_State.HOLD, _State.CANDIDATE)

    def push_block(self, block: Floats) -> tuple[list[Decision], list[MonitorEvent]]:
        """Analyse N frames (N x 160 floats in -1..1)."""
        decisions = self.classifier.push_block(block)
        self._pending.extend(block)
        events: list[MonitorEvent] = []
        for decision in decisions:
            rows = [self._pending.popleft() for _ in range(min(STEP_FRAMES, len(self._pending)))]
            events += self._step(decision, rows)
        self.events += events
        return decisions, events

    def _smoothed(self, label: Label) -> Label:
        self._votes.append(label)
        counts: dict[Label, int] = {}
        for seen in self._votes:
            counts[seen] = counts.get(seen, 0) + 1
        return max(counts, key=lambda key: (counts[key], key == label))

    def _step(self, decision: Decision, rows: list[Floats]) -> list[MonitorEvent]:
        label = self._smoothed(decision.label)
        now = decision.time
        if self._candidate is not None:
            self._candidate.frames += rows
        self._recent.extend(rows)
        if self.state is _State.WAITING:
            return self._waiting(label, now)
        if self.state is _State.HOLD:
            return self._holding(label, now)
        if self.state is _State.CANDIDATE:
            return self._judging(label, now)
        return self._with_human(label, now)

    def _waiting(self, label: Label, now: float) -> list[MonitorEvent]:
        if label in _NON_SPEECH or label is Label.SPEECH_OVER_MUSIC:
            self._calm_since = self._calm_since if self._calm_since is not None else now
            if now - self._calm_since >= HOLD_AFTER and label is not Label.RINGBACK:
                self.state = _State.HOLD
                return [MonitorEvent(now, EventKind.HOLD_STARTED, onset=self._calm_since)]
        else:
            self._calm_since = None
        return []

    def _holding(self, label: Label, now: float) -> list[MonitorEvent]:
        if label is Label.SPEECH:
            self.state = _State.CANDIDATE
            self._candidate = _Candidate(start=now - SMOOTHING * STEP_FRAMES * FRAME / SAMPLE_RATE / 2)
            self._candidate.labels.append(label)
            self._candidate.frames = list(self._recent)
            self._candidate.continuation = (
                self._segment_ended is not None and now - self._segment_ended < CONTINUATION_GAP
            )
        return []

    def _judging(self, label: Label, now: float) -> list[MonitorEvent]:
        candidate = self._candidate
        assert candidate is not None
        candidate.labels.append(label)
        step = STEP_FRAMES * FRAME / SAMPLE_RATE
        if label is Label.SPEECH:
            candidate.speech += step
            candidate.pause = 0.0
            candidate.music = 0.0
        elif label in _MUSICAL:
            candidate.music += step
        else:
            candidate.pause += step
        if candidate.music >= MUSIC_BACK:  # the music is back
            if candidate.speech < SPEECH_EVIDENCE:  # a flicker in the music, not a voice
                self.state = _State.HOLD
                self._candidate = None
                return []
            self._segment_ended = now
            return self._announcement(now, report=not candidate.matched)
        if candidate.matched:
            # A known announcement: over once its speech stops, whatever follows.
            if candidate.pause + candidate.music >= MUSIC_BACK:
                self._segment_ended = now
                return self._announcement(now, report=False)
            return []
        probe_frames = round(FINGERPRINT_SECONDS * SAMPLE_RATE / FRAME)
        if len(candidate.frames) < probe_frames or candidate.speech < SPEECH_EVIDENCE:
            return []
        # The latest second of the segment, every half second: where the classifier starts a
        # segment varies, so one probe at its start could miss an announcement's reference.
        if len(candidate.frames) >= candidate.probed_at + probe_frames // 2:
            candidate.probed_at = len(candidate.frames)
            candidate.probe = Fingerprint.of(np.concatenate(candidate.frames[-probe_frames:]))
        assert candidate.probe is not None
        if any(known.match(candidate.probe) >= MATCH_THRESHOLD for known in self.announcements):
            candidate.matched = True  # the hold's announcement again: report it once, now
            return [MonitorEvent(now, EventKind.ANNOUNCEMENT, onset=candidate.start)]
        over_music = candidate.labels.count(Label.SPEECH_OVER_MUSIC) / len(candidate.labels)
        if over_music > MAX_OVER_MUSIC:
            return []  # spoken over music: an announcement until the music says otherwise
        if self.announcements and not candidate.continuation and candidate.speech >= HUMAN_EVIDENCE:
            # The hold's announcement is known and this is not it: a new voice.
            return self._human(candidate, now, 0.7 + 0.1 * min(3, len(self.announcements)))
        if candidate.pause >= REPLY_PAUSE:
            # Nothing learned yet: speech, then silence awaiting a reply, and no music.
            return self._human(candidate, now, 0.8)
        return []

    def _human(self, candidate: _Candidate, now: float, confidence: float) -> list[MonitorEvent]:
        self.state = _State.HUMAN
        self._last_human = candidate
        self._candidate = None
        self._calm_since = None
        self._hold_ended = False
        return [
            MonitorEvent(now, EventKind.HUMAN_DETECTED, round(min(confidence, 1.0), 2), onset=candidate.start)
        ]

    def _announcement(self, now: float, *, report: bool) -> list[MonitorEvent]:
        """The segment ended with music: learn it (if new) and go back to holding."""
        candidate = self._candidate
        assert candidate is not None
        self.state = _State.HOLD
        self._candidate = None
        self._learn(candidate)  # matched ones too: each repeat adds a slightly different view
        return [MonitorEvent(now, EventKind.ANNOUNCEMENT, onset=candidate.start)] if report else []

    def _with_human(self, label: Label, now: float) -> list[MonitorEvent]:
        if label is Label.MUSIC:  # the music is back: it was not a person after all
            self._calm_since = self._calm_since if self._calm_since is not None else now
            if now - self._calm_since >= MUSIC_RETURN_WAIT and not self._hold_ended:
                self.review(human=False)
                return [MonitorEvent(now, EventKind.HOLD_STARTED, onset=self._calm_since)]
            return []
        self._calm_since = None
        human = self._last_human
        if (
            human is not None
            and not self._hold_ended
            and now - human.start >= SPEECH_EVIDENCE + MUSIC_RETURN_WAIT
        ):
            self._hold_ended = True  # a person, and the music has stayed away: the hold is over
            return [MonitorEvent(now, EventKind.HOLD_ENDED)]
        return []

    def _learn(self, candidate: _Candidate) -> None:
        reference_frames = round(REFERENCE_SECONDS * SAMPLE_RATE / FRAME)
        if len(candidate.frames) >= round(FINGERPRINT_SECONDS * SAMPLE_RATE / FRAME):
            self.announcements.append(Fingerprint.of(np.concatenate(candidate.frames[:reference_frames])))
            del self.announcements[:-MAX_FINGERPRINTS]

    def review(self, human: bool) -> None:
        """A transcript confirmed (``True``) or vetoed (``False``) the last human_detected."""
        if human or self.state is not _State.HUMAN:
            return
        self.state = _State.HOLD
        if self._last_human is not None:
            self._learn(self._last_human)
