"""The hold monitor: from the classifier's stream to hold_started / announcement / human_detected.

A person on the line is speech that (1) is not over music, (2) matches no announcement — nor
anything else that turned out to be no person — heard on this hold before (spectral-peak
fingerprints, :mod:`.fingerprint`), and (3) is not followed by the music coming back. Once the
hold has taught us an announcement (its loop), a new voice is reported after 0.6 s of speech
whose first second matches nothing and that the classifier is sure is a voice — about a second
after the person starts. Until then, or for speech right after an announcement (which may be
more of it), the answering-machine industry's cue decides: a greeting, then a pause awaiting a
reply with the music not back (Twilio AMD: speech up to 2.4 s, then 1.2 s of silence). A
transcript may confirm or veto a person (:meth:`HoldMonitor.review`); the acoustic decision
stands on its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from .classifier import STEP_FRAMES, Decision, FrameClassifier, Label
from .fingerprint import HOP, Fingerprint
from .tones import FRAME, SAMPLE_RATE

HOLD_AFTER: Final = 5.0  # seconds of music/silence/noise that make it a hold
# … or of mostly hold music: the classifier names ~1 s stretches of some tracks speech, which
# must not keep a hold from being noticed (measured: 2 of 160 people missed that way).
HOLD_CALM_SHARE: Final = 0.8  # of the window's decisions music, silence, noise or ringback
HOLD_MUSIC_SHARE: Final = 0.5  # … and this share music (with or without a voice over it)
SPEECH_EVIDENCE: Final = 0.8  # seconds of speech before the slow path judges a candidate
MUSIC_RETURN_WAIT: Final = 3.0  # how long music must stay back before a "person" is withdrawn
MUSIC_BACK: Final = 1.0  # this much music ends a speech segment (single flickers do not)
# Less speech than SPEECH_EVIDENCE, then this much quiet, is a flicker too: before, one that no
# music ended (the model heard the music as the line's noise) held its candidate open, and a
# person who spoke seconds later was judged as part of it (tune half: 1 of 3 missed people).
FLICKER_QUIET: Final = 2.0
MAX_OVER_MUSIC: Final = 0.3  # share of speech-over-music decisions that makes it an announcement
# … unless it was followed by this much quiet and no music: the model hears some people on
# noisy lines as a voice over music, and an announcement's music comes back (tune half: 1 of
# 3 missed people).
QUIET_AFTER_OVER_MUSIC: Final = 2.0
# A voice over the hold music this long, then the music alone again: an announcement spoken
# over the music (it never opens a candidate: only clear speech does). It joins the known loop
# once it has played twice: the model hears stretches of some music as a voice over music, and
# one of those taken for the loop would make the real first announcement a "new voice"
# (measured on the test half: 4 → 9 false human_detected when learned at once).
OVER_MUSIC_ANNOUNCEMENT: Final = 2.0
MAX_OVER_MUSIC_HEARD: Final = 8
# A known announcement matched on less speech than LEARN_MIN_SPEECH and then this much music is
# over at once: mostly a passage of hold music that matches the music a reference starts with.
# Before, a person who spoke within the second it took to end joined it and was never reported
# (tune half with other music: 7 → 4 missed people, no more false human_detected).
MATCHED_MUSIC_END: Final = 0.2
CONTINUATION_GAP: Final = 3.0  # speech this soon after an announcement may be more of it
REPLY_PAUSE: Final = 1.2  # non-speech decisions after a greeting awaiting a reply (Twilio: 1.2 s)
GREETING_MAX: Final = 2.4  # seconds of speech a greeting lasts at most (Twilio AMD)
LONG_PAUSE: Final = 1.6  # the pause that makes longer speech a person: music would be back
FINGERPRINT_SECONDS: Final = 1.0  # of a new speech segment, searched in known announcements
REFERENCE_SECONDS: Final = 20.0  # of an announcement, kept as its reference
HUMAN_EVIDENCE: Final = 0.6  # seconds of new, unmatched speech before a person is reported
HUMAN_EVIDENCE_OVER_MUSIC: Final = 1.2  # … after a voice over music, or on a hold that speaks over music
# The classifier's speech probability, as the fast path wants it over its latest half second.
# With the classifier's window model a live voice reaches 0.7-1.0 within half a second of
# speech; the passages of hold music the model mistakes for speech mostly stay lower (tune
# half, 200 holds: 0.6 → 7 false human_detected, 0.7 → 5 and median latency 1.08 s, 0.8 → 5
# and 1.14 s, 0.9 → 4 and 1.70 s).
FAST_CONFIDENCE: Final = 0.7
FAST_CONFIDENCE_DECISIONS: Final = 5
# Hold music heard inside a "speech" segment, before its last speech: music the model took for a
# voice, not an announcement, so it is not learned as the loop (a wrongly learned loop makes the
# real first announcement a new voice: tune half, 9 → 5 false human_detected in 200 holds).
LEARN_MAX_MUSIC: Final = 2  # decisions
# … nor one of less speech than this: announcements are sentences; a second of "speech" between
# stretches of music is the model misreading the music (tune half: 2 → 1 false human_detected).
LEARN_MIN_SPEECH: Final = 1.2  # seconds
SLOW_CONFIDENCE: Final = 0.6  # mean speech probability of a slow-path person (music misread: ~0.3)
# For this long after the last speech decision the classifier's 1 s window still holds the
# speech: "speech over music" there is the voice fading out of the window, a pause, not the
# music back (people whose reply pause was heard so were taken for announcements).
WINDOW_TAIL: Final = 1.0
# Share of voice-over-music decisions the fast path tolerates. Those in a speech's window tail
# are not counted, there or anywhere else on the fast path (speech share, "an announcement over
# music"): a voice the model hears partly over music after its first words (a loud, clipped
# line) waited for the slow path. Tune half: 57 → 52 people slower than 2 s, p95 7.3 → 6.6 s;
# other music 50 → 47; false and missed unchanged.
FAST_OVER_MUSIC: Final = 0.1
MIN_SPEECH_SHARE: Final = 0.6  # of the candidate's decisions, for the fast path
ONSET_LAG: Final = 0.3  # the classifier's 1 s window names speech ~0.3 s after it starts
PRE_ROLL_FRAMES: Final = 30  # audio kept from before a candidate, so the probe has its onset
MATCH_THRESHOLD: Final = 0.3  # distinct alignment: the same audio 0.6-1.0, other speech < 0.3
SIMILAR_THRESHOLD: Final = 0.5  # aligned share that keeps a voice off the fast path
MAX_FINGERPRINTS: Final = 16
# A live person is the one sound that never played on this hold before. Segments that were no
# person (flickers of "speech", announcements, voices over the music, a withdrawn "person"; their
# first minute) are remembered, and a voice whose latest 1.5 s replay one of them is none either:
# the model misreads the same passage of hold music the same way each time the music comes
# round. Tune half, 200 holds: with music the model never learned, 9 → 5 false human_detected
# and 8 → 7 missed; with its own music, 1 → 0 and 2 → 1. Only the fast path asks: at the end of
# a long speech the line's noise "replays".
HEARD_SEGMENTS: Final = 32
HEARD_SECONDS: Final = 60.0
REPLAY_ALIGNED: Final = 0.6  # aligned share of a replay (other speech: up to ~0.45)
SMOOTHING: Final = 5  # decisions in the majority vote (0.5 s)
_NON_SPEECH: Final = frozenset({Label.MUSIC, Label.SILENCE, Label.NOISE, Label.RINGBACK})
_MUSICAL: Final = frozenset({Label.MUSIC, Label.SPEECH_OVER_MUSIC})
_STEP_SECONDS: Final = STEP_FRAMES * FRAME / SAMPLE_RATE
PROBE_FRAMES: Final = 75  # the latest 1.5 s of a candidate are fingerprinted …
MIN_PROBE_FRAMES: Final = 30  # … and searched 0.6 s at a time
MIN_PROBE_LANDMARKS: Final = 60  # 0.6 s of speech has 100-200
MIN_DENSE_WINDOWS: Final = 2
MATCHES_NEEDED: Final = 2  # matching probe windows that make a segment a known announcement
# Probes and references start with the step the classifier first named speech, not at the
# onset it estimates: the 0.3 s before are often the tail of the hold music, which loops, so a
# person would match an announcement through the music in front of both (measured on the
# benchmark's holds: 3 of 48 people missed that way).
_SPEECH_FROM: Final = PRE_ROLL_FRAMES - STEP_FRAMES
# … but a reference starts this much earlier: the classifier names the same announcement speech
# a few tenths sooner or later from one play to the next, and a repeat whose first words the
# reference lacked looked like a new voice (tune half: 5 → 2 false human_detected). The music
# this may add to a reference is harmless: probes start where the speech does.
REFERENCE_LEAD: Final = 20  # frames (0.4 s)

Floats = npt.NDArray[np.float64]
_PROBE_SPAN: Final = MIN_PROBE_FRAMES * FRAME // HOP  # a probe stretch, in fingerprint hops


def _stretch_scores(
    probe: Fingerprint, starts: Iterable[int], references: list[Fingerprint]
) -> Iterator[tuple[int, float, float]]:
    """``(start, aligned, distinct)`` of 0.6 s stretches of ``probe`` against the best reference.

    Stretches with too few landmarks (mostly a pause: too little to tell one voice from another)
    are skipped.
    """
    for first in starts:
        part = probe.window(first, first + _PROBE_SPAN)
        if part.count >= MIN_PROBE_LANDMARKS:
            aligned, distinct = np.max([known.scores(part) for known in references], axis=0)
            yield first, float(aligned), float(distinct)


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

    @property
    def began(self) -> float:
        """When what it reports began: the onset where known, else when the monitor knew."""
        return self.onset if self.onset is not None else self.time


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
    confidence: list[float] = field(default_factory=list)  # the classifier's speech probability
    speech: float = 0.0  # seconds of speech so far
    last_speech: float = 0.0  # when the latest speech decision came
    pause: float = 0.0  # seconds of non-speech decisions since the last speech
    music: float = 0.0  # seconds of music since the last speech
    matched: bool = False  # recognised as a known announcement
    probe: Fingerprint | None = None
    probed_at: int = -1000  # frame count at the last probe
    continuation: bool = False  # began right after an announcement: judged the slow way
    dense_windows: int = 0  # probe windows full of landmarks (speech, not a pause) that matched nothing
    dense_latest: bool = False  # the latest 0.6 s was one of them
    similar: bool = False  # a probe lined up with an announcement, if not distinctly
    matched_windows: set[int] = field(default_factory=set)  # where probes matched (0.1 s steps)
    after_over_music: bool = False  # began as speech over music turned clear: the music went on
    # ``confidence`` without the "speech over music" decisions that were the voice leaving the window
    voice_confidence: list[float] = field(default_factory=list)
    speech_end: int = 0  # frames up to the last speech decision (the music after is no reference)

    @property
    def tail_over_music(self) -> int:
        """How many "speech over music" decisions were the voice leaving the window."""
        return len(self.confidence) - len(self.voice_confidence)


class HoldMonitor:
    """Feed call audio; get classifier decisions and monitor events."""

    def __init__(self, classifier: FrameClassifier | None = None) -> None:
        self.classifier = classifier or FrameClassifier()
        self.state = _State.WAITING
        self.announcements: list[Fingerprint] = []
        self._votes: deque[Label] = deque(maxlen=SMOOTHING)
        self._calm_since: float | None = None
        self._before_hold: deque[Label] = deque(maxlen=round(HOLD_AFTER / _STEP_SECONDS))
        self._candidate: _Candidate | None = None
        self._last_human: _Candidate | None = None
        self._hold_ended = False
        self._segment_ended: float | None = None
        self._pending: deque[Floats] = deque()
        self._consumed = 0  # frames handed to the state machine
        self._recent: deque[Floats] = deque(maxlen=PRE_ROLL_FRAMES)
        self._recent_labels: deque[Label] = deque(maxlen=round(2.0 / _STEP_SECONDS))
        self._loop_labels: list[int] = [0, 0]  # (over music, all) decisions of learned announcements
        self._over_music: list[Floats] = []  # audio of a voice over the music, while it lasts
        self._over_music_decisions = 0
        self._music_after = 0.0  # seconds of music since the voice over it
        self._over_music_heard: list[Fingerprint] = []  # voices over music, until one repeats
        self._heard: deque[Fingerprint] = deque(maxlen=HEARD_SEGMENTS)  # segments that were no person
        self.events: list[MonitorEvent] = []

    @property
    def on_hold(self) -> bool:
        """Whether the call is on hold now (a candidate being judged is still hold)."""
        return self.state in (_State.HOLD, _State.CANDIDATE)

    def push(self, frame: Floats) -> list[MonitorEvent]:
        """Analyse one 20 ms frame (160 floats in -1..1); the events it completes."""
        return self.push_block(frame.reshape(1, FRAME))[1]

    def push_block(self, block: Floats) -> tuple[list[Decision], list[MonitorEvent]]:
        """Analyse N frames (N x 160 floats in -1..1)."""
        decisions = self.classifier.push_block(block)
        self._pending.extend(block)
        events: list[MonitorEvent] = []
        for decision in decisions:
            # The frames up to the end of the decision's window: the first decision (after 1 s)
            # takes all the frames heard so far, the others a step's worth.
            through = round(decision.time * SAMPLE_RATE / FRAME)
            count = min(through - self._consumed, len(self._pending))
            rows = [self._pending.popleft() for _ in range(count)]
            self._consumed += count
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
            return self._waiting(decision.label, label, now)
        if self.state is _State.HOLD:
            events = self._holding(decision, rows, now)
            self._recent_labels.append(decision.label)
            return events
        if self.state is _State.CANDIDATE:
            return self._judging(decision, now)
        return self._with_human(label, now)

    def _waiting(self, raw: Label, label: Label, now: float) -> list[MonitorEvent]:
        """Hold starts after 5 s of calm (smoothed), or 5 s that were mostly hold music."""
        self._before_hold.append(raw)
        calm = label in _NON_SPEECH or label is Label.SPEECH_OVER_MUSIC
        if calm:
            self._calm_since = self._calm_since if self._calm_since is not None else now
        else:
            self._calm_since = None
        if not calm or label is Label.RINGBACK:
            return []
        if now - (self._calm_since or now) >= HOLD_AFTER:
            onset = self._calm_since
        elif self._mostly_music():
            onset = now - HOLD_AFTER
        else:
            return []
        self.state = _State.HOLD
        return [MonitorEvent(now, EventKind.HOLD_STARTED, onset=onset)]

    def _mostly_music(self) -> bool:
        window = self._before_hold
        if len(window) < (window.maxlen or 0):
            return False
        calm = sum(label in _NON_SPEECH or label is Label.SPEECH_OVER_MUSIC for label in window)
        musical = sum(label in _MUSICAL for label in window)
        return calm >= HOLD_CALM_SHARE * len(window) and musical >= HOLD_MUSIC_SHARE * len(window)

    def _holding(self, decision: Decision, rows: list[Floats], now: float) -> list[MonitorEvent]:
        """The first speech decision (unsmoothed: every 100 ms counts) opens a candidate."""
        label = decision.label
        if label is not Label.SPEECH:
            return self._voice_over_music(label, rows, now)
        self.state = _State.CANDIDATE
        self._candidate = _Candidate(
            start=now - ONSET_LAG,
            frames=list(self._recent),
            speech_end=len(self._recent),
            labels=[label],
            confidence=[decision.probabilities.get(Label.SPEECH, 0.0)],
            voice_confidence=[decision.probabilities.get(Label.SPEECH, 0.0)],
            speech=_STEP_SECONDS,
            last_speech=now,
            continuation=self._segment_ended is not None and now - self._segment_ended < CONTINUATION_GAP,
            after_over_music=self._after_over_music(),
        )
        return []

    def _after_over_music(self) -> bool:
        """A voice over music a while ago, now clear: the music did not stop for it.

        The last 0.7 s before the first "speech" are the music-to-voice transition, which the
        1 s window hears as voice over music, so they do not count as such. A second of music
        alone after the voice over music (``MUSIC_BACK``) ended that voice: then it is no
        continuation (the model hears short stretches of some music as a voice over it).
        """
        labels = list(self._recent_labels)
        before = labels[:-7]
        if before.count(Label.SPEECH_OVER_MUSIC) < 4:
            return False
        last = max(index for index, label in enumerate(before) if label is Label.SPEECH_OVER_MUSIC)
        return labels[last:].count(Label.MUSIC) * _STEP_SECONDS < MUSIC_BACK - 1e-9

    def _voice_over_music(self, label: Label, rows: list[Floats], now: float) -> list[MonitorEvent]:
        """Follow a voice over the hold music; once the music is alone again, learn it."""
        if label is Label.SPEECH_OVER_MUSIC:
            if not self._over_music:
                self._over_music = list(self._recent)  # the pre-roll: its first word
            else:
                self._over_music += rows
            self._over_music_decisions += 1
            self._music_after = 0.0
            return []
        if not self._over_music:
            return []
        if label is not Label.MUSIC:
            # Quiet after it, not the music: no announcement over music (maybe a person on a
            # noisy line, whose next clear word opens a candidate).
            self._over_music, self._over_music_decisions = [], 0
            return []
        self._over_music += rows
        self._music_after += _STEP_SECONDS
        if self._music_after < MUSIC_BACK:
            return []
        return self._over_music_ended(now)

    def _over_music_ended(self, now: float) -> list[MonitorEvent]:
        """The music alone again after a voice over it: an announcement, if the voice lasted."""
        voiced = self._over_music_decisions * _STEP_SECONDS
        audio, decisions = self._over_music, self._over_music_decisions
        self._over_music, self._over_music_decisions = [], 0
        if voiced < OVER_MUSIC_ANNOUNCEMENT:
            return []  # a flicker of the music, or a sung line
        self._segment_ended = now
        event = MonitorEvent(now, EventKind.ANNOUNCEMENT, onset=now - MUSIC_BACK - voiced - ONSET_LAG)
        # Its voice ended where the music alone began.
        heard = self._reference(audio, len(audio) - round(MUSIC_BACK / _STEP_SECONDS) * STEP_FRAMES)
        if heard is None:
            return [event]
        if self._repeats(heard):
            self._remember(heard)
            self._loop_labels[0] += decisions
            self._loop_labels[1] += decisions
        self._over_music_heard = [*self._over_music_heard, heard][-MAX_OVER_MUSIC_HEARD:]
        self._heard.append(heard)
        return [event]

    def _flicker_in_voice_over_music(self, flicker: _Candidate, now: float) -> list[MonitorEvent]:
        """A flicker of clear "speech" inside a voice over the music was part of that voice.

        Before, the flicker dropped the voice, and an announcement spoken over the music whose
        words the model once heard as clear speech was never reported nor remembered.
        """
        if not self._over_music:
            return []
        if flicker.music < MUSIC_BACK:  # quiet after it, not the music: no announcement
            self._over_music, self._over_music_decisions = [], 0
            return []
        self._over_music += flicker.frames[_SPEECH_FROM:]
        self._over_music_decisions += len(flicker.labels) - round(flicker.music / _STEP_SECONDS)
        return self._over_music_ended(now)

    def _repeats(self, heard: Fingerprint) -> bool:
        """Whether a voice over music was heard before: two of its 0.6 s stretches match."""
        if not self._over_music_heard:
            return False
        hops = int(heard.frames.max()) + 1 if heard.count else 0
        lead = REFERENCE_LEAD * FRAME // HOP  # probes start where the speech does
        matches = 0
        starts = range(lead, max(lead, hops - _PROBE_SPAN) + 1, _PROBE_SPAN // 2)
        for _, _, distinct in _stretch_scores(heard, starts, self._over_music_heard):
            if distinct >= MATCH_THRESHOLD:
                matches += 1
                if matches >= MATCHES_NEEDED:
                    return True
        return False

    def _judging(self, decision: Decision, now: float) -> list[MonitorEvent]:
        label = decision.label
        candidate = self._candidate
        assert candidate is not None
        speech_probability = decision.probabilities.get(Label.SPEECH, 0.0)
        candidate.labels.append(label)
        candidate.confidence.append(speech_probability)
        # The voice leaving the window: not the music back, and not a voice the model doubts.
        window_tail = label is Label.SPEECH_OVER_MUSIC and now - candidate.last_speech < WINDOW_TAIL
        if not window_tail:
            candidate.voice_confidence.append(speech_probability)
        if label in (Label.SPEECH, Label.SPEECH_OVER_MUSIC):
            candidate.speech_end = len(candidate.frames)
        if label is Label.SPEECH:
            candidate.speech += _STEP_SECONDS
            candidate.last_speech = now
            candidate.pause = 0.0
            candidate.music = 0.0
        elif window_tail:
            candidate.pause += _STEP_SECONDS
        elif label in _MUSICAL:
            candidate.music += _STEP_SECONDS
        else:
            candidate.pause += _STEP_SECONDS
        if candidate.speech < SPEECH_EVIDENCE and (
            candidate.music >= MUSIC_BACK or candidate.pause + candidate.music >= FLICKER_QUIET
        ):
            # A flicker in the music, not a voice: the next voice is judged afresh.
            self.state = _State.HOLD
            self._candidate = None
            self._hear(candidate)
            return self._flicker_in_voice_over_music(candidate, now)
        if candidate.music >= MUSIC_BACK:  # the music is back
            self._segment_ended = now
            return self._announcement(now, report=not candidate.matched)
        if candidate.matched:
            # A known announcement: over once its speech stops, whatever follows.
            if candidate.pause + candidate.music >= MUSIC_BACK:
                self._segment_ended = now
                return self._announcement(now, report=False)
            if candidate.music >= MATCHED_MUSIC_END - 1e-9 and candidate.speech < LEARN_MIN_SPEECH:
                # The music is back: what follows is no continuation of it.
                return self._announcement(now, report=False)
            return []
        if self._probe_matches(candidate):
            candidate.matched = True  # the hold's announcement again: report it once, now
            return [MonitorEvent(now, EventKind.ANNOUNCEMENT, onset=candidate.start)]
        # Spoken over music: an announcement until the music says otherwise. The fast path, which
        # the known loop guards, does not count the voice leaving the window as music; the slow
        # path does (a first announcement whose candidate opened on misread music ends so).
        over_music = candidate.labels.count(Label.SPEECH_OVER_MUSIC) / len(candidate.labels)
        tail = candidate.tail_over_music / len(candidate.labels)
        quiet_after = candidate.pause >= QUIET_AFTER_OVER_MUSIC
        if over_music - tail > MAX_OVER_MUSIC and not quiet_after:
            return []
        if self._fast_human(candidate):
            # The hold's loop is known and this is not it: a new voice.
            return self._human(candidate, now, 0.7 + 0.1 * min(3, len(self.announcements)))
        if over_music > MAX_OVER_MUSIC and not quiet_after:
            return []
        # Speech, then a pause awaiting a reply, and no music: a greeting (AMD: up to 2.4 s)
        # earns a reply pause; a longer speech could be an announcement pausing between
        # sentences, so its pause must outlast any music coming back after it.
        pause_needed = REPLY_PAUSE if candidate.speech <= GREETING_MAX else LONG_PAUSE
        if (
            candidate.speech >= SPEECH_EVIDENCE
            and candidate.pause >= pause_needed
            and self._speech_confidence(candidate) >= SLOW_CONFIDENCE
        ):
            return self._human(candidate, now, 0.8)
        return []

    def _probe_matches(self, candidate: _Candidate) -> bool:
        """Whether the segment so far is a known announcement.

        The latest 1.5 s are fingerprinted and every 0.6 s stretch of it (0.1 s apart) is
        searched in the known announcements: where the speech starts relative to the
        classifier's first "speech" varies by a few tenths, and landmarks from before it (the
        music, the line's noise) dilute a match. Every step until a person could be reported,
        then every half second.
        """
        if not self.announcements or len(candidate.frames) < _SPEECH_FROM + MIN_PROBE_FRAMES:
            return False
        if candidate.speech >= HUMAN_EVIDENCE + 1.0 and len(candidate.frames) < candidate.probed_at + 25:
            return False
        candidate.probed_at = len(candidate.frames)
        audio = np.concatenate(candidate.frames[-PROBE_FRAMES:])
        candidate.probe = Fingerprint.of(audio)
        hops = len(audio) // HOP
        base = max(0, len(candidate.frames) - PROBE_FRAMES) * FRAME // HOP  # of audio[0]
        # Not from the hold music before the speech: the loop's music is in no reference.
        earliest = max(0, (_SPEECH_FROM - max(0, len(candidate.frames) - PROBE_FRAMES)) * FRAME // HOP)
        last = hops - _PROBE_SPAN
        candidate.dense_latest = False
        starts = [*range(earliest, max(earliest, last), 10), last]
        for first, aligned, distinct in _stretch_scores(candidate.probe, starts, self.announcements):
            if distinct >= MATCH_THRESHOLD:
                # One stretch may line up by chance (speech is repetitive); two cannot.
                candidate.matched_windows.add((base + first) // 10)
                if len(candidate.matched_windows) >= MATCHES_NEEDED:
                    return True
                continue
            if aligned >= SIMILAR_THRESHOLD:
                candidate.similar = True  # too like an announcement for the fast path
                continue
            candidate.dense_windows += 1
            candidate.dense_latest = first == last
        return False

    def _fast_human(self, candidate: _Candidate) -> bool:
        """Known loop, not right after an announcement, clear speech with no music in it."""
        return (
            bool(self.announcements)
            and not candidate.continuation
            and candidate.speech
            >= (
                HUMAN_EVIDENCE_OVER_MUSIC
                if candidate.after_over_music or self._loop_over_music()
                else HUMAN_EVIDENCE
            )
            and candidate.dense_latest
            and not candidate.matched_windows
            and not candidate.similar
            and candidate.dense_windows >= MIN_DENSE_WINDOWS
            and candidate.speech >= HUMAN_EVIDENCE
            and candidate.labels.count(Label.SPEECH) / (len(candidate.labels) - candidate.tail_over_music)
            >= MIN_SPEECH_SHARE
            and Label.MUSIC not in candidate.labels
            and candidate.labels.count(Label.SPEECH_OVER_MUSIC) - candidate.tail_over_music
            <= FAST_OVER_MUSIC * len(candidate.labels)
            and self._confident(candidate)
            and not self._replayed(candidate)
        )

    def _hear(self, segment: _Candidate) -> None:
        """Remember a segment that was no person: from where its speech was named, a minute at most."""
        if len(segment.frames) >= _SPEECH_FROM + MIN_PROBE_FRAMES:
            end = _SPEECH_FROM + round(HEARD_SECONDS * SAMPLE_RATE / FRAME)
            self._heard.append(Fingerprint.of(np.concatenate(segment.frames[_SPEECH_FROM:end])))

    def _replayed(self, candidate: _Candidate) -> bool:
        """Whether the candidate's latest 1.5 s of speech replay a segment that was no person.

        Asked last, when a person would otherwise be reported; a replay keeps the candidate off
        the fast path for good, as an announcement's likeness does (``similar``).
        """
        end = candidate.speech_end
        if not self._heard or end < _SPEECH_FROM + MIN_PROBE_FRAMES:
            return False
        rows = candidate.frames[max(_SPEECH_FROM, end - PROBE_FRAMES) : end]
        probe = Fingerprint.of(np.concatenate(rows))
        starts = range(0, max(0, len(rows) * FRAME // HOP - _PROBE_SPAN) + 1, 10)
        candidate.similar = any(
            aligned >= REPLAY_ALIGNED or distinct >= MATCH_THRESHOLD
            for _, aligned, distinct in _stretch_scores(probe, starts, list(self._heard))
        )
        return candidate.similar

    @staticmethod
    def _confident(candidate: _Candidate) -> bool:
        """Whether the latest decisions (not the window tail) are sure enough it is a voice."""
        return float(np.mean(candidate.voice_confidence[-FAST_CONFIDENCE_DECISIONS:])) >= FAST_CONFIDENCE

    @staticmethod
    def _speech_confidence(candidate: _Candidate) -> float:
        """Mean speech probability of the decisions that named the candidate speech."""
        spoken = [
            confidence
            for confidence, label in zip(candidate.confidence, candidate.labels, strict=True)
            if label is Label.SPEECH
        ]
        return float(np.mean(spoken)) if spoken else 0.0

    @staticmethod
    def _inner_music(candidate: _Candidate) -> int:
        """Music decisions before the candidate's last speech decision."""
        last = max(index for index, label in enumerate(candidate.labels) if label is Label.SPEECH)
        return candidate.labels[:last].count(Label.MUSIC)

    def _loop_over_music(self) -> bool:
        """Whether this hold speaks its announcements over music (their starts match less well)."""
        return self._loop_labels[0] > MAX_OVER_MUSIC * self._loop_labels[1]

    def _human(self, candidate: _Candidate, now: float, confidence: float) -> list[MonitorEvent]:
        self.state = _State.HUMAN
        self._last_human = candidate
        self._candidate = None
        self._over_music, self._over_music_decisions = [], 0
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
        self._over_music, self._over_music_decisions = [], 0  # the voice was this segment's start
        self._hear(candidate)
        credible = self._inner_music(candidate) <= LEARN_MAX_MUSIC and candidate.speech >= LEARN_MIN_SPEECH
        if candidate.matched or credible:
            self._learn(candidate)  # matched ones too: each repeat adds a slightly different view
        self._loop_labels[0] += candidate.labels.count(Label.SPEECH_OVER_MUSIC)
        self._loop_labels[1] += len(candidate.labels)
        return [MonitorEvent(now, EventKind.ANNOUNCEMENT, onset=candidate.start)] if report else []

    def _with_human(self, label: Label, now: float) -> list[MonitorEvent]:
        if label is Label.MUSIC:
            # The music is back: it was not a person after all — or the person put us on hold
            # again (after hold_ended). Either way, holding, and that voice is no person now.
            self._calm_since = self._calm_since if self._calm_since is not None else now
            if now - self._calm_since >= MUSIC_RETURN_WAIT:
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
        if len(candidate.frames) >= round(FINGERPRINT_SECONDS * SAMPLE_RATE / FRAME):
            reference = self._reference(candidate.frames, candidate.speech_end or len(candidate.frames))
            if reference is not None:
                self._remember(reference)

    @staticmethod
    def _reference(frames: list[Floats], speech_end: int) -> Fingerprint | None:
        """A segment's reference: from the lead before its speech to the speech's end, 20 s at most.

        ``frames`` start with the pre-roll; ``None`` when it holds less speech than a probe
        stretch, which such a reference could never match.
        """
        end = min(speech_end, _SPEECH_FROM + round(REFERENCE_SECONDS * SAMPLE_RATE / FRAME))
        if end < _SPEECH_FROM + MIN_PROBE_FRAMES:
            return None
        return Fingerprint.of(np.concatenate(frames[_SPEECH_FROM - REFERENCE_LEAD : end]))

    def _remember(self, reference: Fingerprint) -> None:
        """Keep a reference of the loop (the latest ``MAX_FINGERPRINTS``)."""
        self.announcements.append(reference)
        del self.announcements[:-MAX_FINGERPRINTS]

    def review(self, human: bool) -> None:
        """A transcript confirmed (``True``) or vetoed (``False``) the last human_detected."""
        if human or self.state is not _State.HUMAN:
            return
        self.state = _State.HOLD
        if self._last_human is not None:
            self._learn(self._last_human)
            self._hear(self._last_human)
