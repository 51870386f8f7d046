"""The hold monitor: from the classifier's stream to hold_started / announcement / human_detected.

A person on the line is speech that (1) is not over music, (2) matches no announcement — nor
anything else that turned out to be no person — heard on this hold before (spectral-peak
fingerprints, :mod:`.fingerprint`), nor is a recording played again (its waveform,
:mod:`.replay`), and (3) is not followed by the music coming back. Once the hold has taught
us an announcement (its loop), a new voice is reported after a little unmatched speech the
classifier is sure is a voice (the fast path). Until then, or for speech right after an
announcement (which may be more of it), the answering-machine industry's cue decides (the slow
path): a greeting, then a pause awaiting a reply with the music not back (Twilio AMD: speech up
to 2.4 s, then 1.2 s of silence). And a voice the model doubted (over the music, or too brief
for a candidate) after which the music stopped and the line stays quiet is someone waiting for a
reply. Whose voice it is counts too (:mod:`.voice`): a clear voice unlike the one the company's
menu and announcements spoke in is a person, whether or not the loop is known. A transcript may
confirm or veto a person (:meth:`HoldMonitor.review`); the acoustic decision stands on its own.

The states and what moves between them are one table (:data:`TRANSITIONS`); every knob is a
field of :class:`Tuning`, with its reason. How each value was measured is in
``docs/performance.md`` ("Hold monitor tuning").
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
from .fingerprint import HOP, Envelope, Fingerprint, StepPeaks
from .replay import ReplayHistory
from .tones import FRAME, SAMPLE_RATE
from .voice import KnownVoices

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Tuning:
    """Every knob of the hold monitor: seconds unless named otherwise."""

    # When the hold starts
    hold_after: float = 5.0  # calm (music, silence, noise) this long is a hold
    hold_calm_share: float = 0.8  # … or a window this calm: hold music misread as speech for ~1 s
    hold_music_share: float = 0.5  # … and this musical, so a quiet menu pause is no hold
    smoothing: int = 5  # decisions in the majority vote that finds calm: single flickers pass

    # A voice on the hold: a candidate, judged
    onset_lag: float = 0.3  # the classifier's 1 s window names speech this long after it starts
    speech_evidence: float = 0.8  # less speech than this is a flicker when music or quiet follows
    music_back: float = 1.0  # this much music ends a voice: single flickers of music do not
    flicker_quiet: float = 2.0  # a flicker followed by this much quiet is over (no music needed)
    max_over_music: float = 0.3  # share of voice-over-music decisions that makes an announcement
    quiet_after_over_music: float = 2.0  # … unless this much quiet follows: music would be back
    window_tail: float = 1.0  # voice over music this soon after speech is the voice leaving the window
    continuation_gap: float = 3.0  # speech this soon after an announcement may be more of it
    run_on: float = 1.2  # clear speech in a known announcement matching none of the loop: another voice
    cut_margin: float = 0.5  # … begun this long before its end, with no pause before: cut off, not over
    word_gap: float = 0.1  # no voice this long inside speech is a gap between words, not a pause

    # Announcements spoken over the music
    over_music_announcement: float = 2.0  # a voice over the music this long is an announcement
    over_music_heard: int = 8  # voices over the music kept until one repeats (then it is the loop)
    over_music_before: int = 4  # voice-over-music decisions before a clear voice that continue it
    over_music_transition: int = 7  # decisions before a clear voice that are the music fading in

    # The fast path: a new voice once the loop is known
    human_evidence: float = 0.6  # unmatched clear speech that makes a new voice a person
    human_evidence_over_music: float = 1.2  # … after a voice over music, or on a hold that speaks over it
    fast_confidence: float = 0.7  # mean speech probability of the latest decisions: a sure voice
    fast_confidence_decisions: int = 5  # … over this many decisions (half a second)
    fast_over_music: float = 0.1  # share of voice-over-music decisions a fast person may have
    min_speech_share: float = 0.6  # share of clear speech decisions a fast person needs

    # The slow path: a greeting awaiting a reply
    greeting_max: float = 2.4  # a greeting lasts at most this long (Twilio AMD)
    reply_pause: float = 1.2  # then this much quiet awaits a reply (Twilio AMD)
    long_pause: float = 1.6  # longer speech needs a pause any returning music would have broken
    slow_confidence: float = 0.6  # mean speech probability of a slow person: misread music is lower

    # The music stopped for a voice and did not come back
    music_stopped_wait: float = 3.0  # quiet after a voice this long, the music gone: someone waits
    music_before_voice: float = 2.0  # the music played this soon before the voice began

    # Learning the loop
    learn_max_music: int = 2  # music decisions inside a segment: more is misread music, not learned
    learn_min_speech: float = 1.2  # announcements are sentences: less speech is misread music
    matched_music_end: float = 0.2  # music after a short known match ends it at once
    fingerprint_seconds: float = 1.0  # shortest segment learned as a reference
    reference_seconds: float = 20.0  # of an announcement kept as its reference
    max_fingerprints: int = 16  # references of the loop kept (the latest)
    reference_lead: int = 20  # frames a reference starts before the first "speech": it varies per play

    # Fingerprint search
    pre_roll_frames: int = 30  # audio kept from before a candidate, so a probe has its onset
    probe_frames: int = 75  # the latest 1.5 s of a candidate are fingerprinted …
    min_probe_frames: int = 30  # … and searched 0.6 s at a time
    min_probe_landmarks: int = 60  # 0.6 s of speech has 100-200: fewer is mostly a pause
    min_dense_windows: int = 2  # unmatched stretches full of speech a fast person needs
    matches_needed: int = 2  # matched stretches that make a known announcement: one may be chance
    match_spread: int = 3  # 0.1 s steps between the first and last of them: overlapping ones share landmarks
    match_threshold: float = 0.3  # distinct alignment of the same audio: 0.6-1.0, other speech < 0.3
    similar_threshold: float = 0.5  # aligned share that keeps a voice off the fast path

    # Segments that were no person
    heard_segments: int = 32  # kept: flickers, announcements, voices over music, withdrawn people
    heard_seconds: float = 60.0  # of each, from its speech
    replay_aligned: float = 0.6  # aligned share of a replay (other speech: up to ~0.45)
    envelope_likeness: float = 0.8  # spectral-shape correlation of a replay through a lossy line
    doubt_likeness: float = 0.7  # … this much of it waits for more speech: few people, some replays
    doubt_wait: float = 0.6  # … this much more: a longer probe, and the fingerprints' first match
    history_seconds: float = 300.0  # of the hold's spectrogram and audio kept, where a replay is searched
    replay_probe: float = 0.4  # the latest speech whose waveform is searched in the hold's audio
    replay_correlation: float = 0.62  # … peak correlation of a replay (0.7-1.0); a new voice's is under 0.55

    # Whose voice: the company's recorded voice (its menu, its announcements) or somebody else's
    company_talk: float = 1.5  # of the company's talk before the hold: enough for its voice's signature
    company_talk_max: float = 5.0  # … and at most this much per signature (a menu may change voice)
    company_pause: float = 0.5  # no speech this long ends a stretch of the company's talk
    other_voice_evidence: float = 2.0  # clear speech whose signature is compared with the company's
    voice_seconds: float = 3.0  # of a voice's latest speech, its signature (longer says little more)
    company_likeness: float = 0.8  # similarity under which a voice is not the company's (its own: > 0.85)

    # After a person
    music_return_wait: float = 3.0  # music back this long withdraws a person (or the hold restarts)


TUNING: Final = Tuning()
TRAIL_LENGTH: Final = 256
_STEP_SECONDS: Final = STEP_FRAMES * FRAME / SAMPLE_RATE
_NON_SPEECH: Final = frozenset({Label.MUSIC, Label.SILENCE, Label.NOISE, Label.RINGBACK})
_MUSICAL: Final = frozenset({Label.MUSIC, Label.SPEECH_OVER_MUSIC})
_VOICE: Final = frozenset({Label.SPEECH, Label.SPEECH_OVER_MUSIC})


def _plus_step(seconds: float) -> float:
    """``seconds`` and one more decision's step, exactly.

    Ten steps of 0.1 s make 1.0 s, not 0.999…: a rule of "1 s of music" would otherwise wait
    for an eleventh decision.
    """
    return round(seconds + _STEP_SECONDS, 6)


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


class State(StrEnum):
    """Where the monitor is."""

    WAITING = "waiting"  # before the hold (ringback, menus)
    HOLD = "hold"
    CANDIDATE = "candidate"  # a voice on the hold, being judged (still the hold)
    HUMAN = "human"


class Trigger(StrEnum):
    """What moves the monitor (one rule each; :data:`TRANSITIONS` says from where to where)."""

    CALM = "calm"  # hold_after of calm, or a window of mostly hold music
    VOICE = "voice"  # a clear speech decision on the hold
    OVER_MUSIC_ENDED = "over_music_ended"  # a voice over the music long enough, then the music alone
    FLICKER = "flicker"  # little speech, then music or quiet
    KNOWN = "known"  # the voice matches an announcement of the loop
    KNOWN_ENDED = "known_ended"  # … and its speech stopped
    RAN_ON = "ran_on"  # … or another voice took over from it (an agent cutting the recording off)
    MUSIC_BACK = "music_back"  # an unknown voice, then the music: an announcement
    NEW_VOICE = "new_voice"  # the fast path
    OTHER_VOICE = "other_voice"  # a clear voice unlike the company's (its menu, its announcements)
    REPLY_PAUSE = "reply_pause"  # the slow path
    MUSIC_STOPPED = "music_stopped"  # a voice the model doubted, then quiet where the music had played
    MUSIC_STAYED = "music_stayed"  # music back for good after a person: withdrawn, or a new hold
    PERSON_STAYED = "person_stayed"  # the person and no music: the hold is over
    VETO = "veto"  # a transcript says it was no person


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: the trigger moves ``source`` to ``target`` and reports ``event``."""

    source: State
    trigger: Trigger
    target: State
    event: EventKind | None


TRANSITIONS: Final = (
    Transition(State.WAITING, Trigger.CALM, State.HOLD, EventKind.HOLD_STARTED),
    Transition(State.HOLD, Trigger.VOICE, State.CANDIDATE, None),
    Transition(State.HOLD, Trigger.OVER_MUSIC_ENDED, State.HOLD, EventKind.ANNOUNCEMENT),
    Transition(State.CANDIDATE, Trigger.FLICKER, State.HOLD, None),
    Transition(State.CANDIDATE, Trigger.KNOWN, State.CANDIDATE, EventKind.ANNOUNCEMENT),
    Transition(State.CANDIDATE, Trigger.KNOWN_ENDED, State.HOLD, None),
    Transition(State.CANDIDATE, Trigger.RAN_ON, State.CANDIDATE, None),
    Transition(State.CANDIDATE, Trigger.MUSIC_BACK, State.HOLD, EventKind.ANNOUNCEMENT),
    Transition(State.CANDIDATE, Trigger.NEW_VOICE, State.HUMAN, EventKind.HUMAN_DETECTED),
    Transition(State.CANDIDATE, Trigger.OTHER_VOICE, State.HUMAN, EventKind.HUMAN_DETECTED),
    Transition(State.CANDIDATE, Trigger.REPLY_PAUSE, State.HUMAN, EventKind.HUMAN_DETECTED),
    Transition(State.HOLD, Trigger.MUSIC_STOPPED, State.HUMAN, EventKind.HUMAN_DETECTED),
    Transition(State.HUMAN, Trigger.MUSIC_STAYED, State.HOLD, EventKind.HOLD_STARTED),
    Transition(State.HUMAN, Trigger.PERSON_STAYED, State.HUMAN, EventKind.HOLD_ENDED),
    Transition(State.HUMAN, Trigger.VETO, State.HOLD, None),
)
_TABLE: Final = {(row.source, row.trigger): row for row in TRANSITIONS}


@dataclass(slots=True)
class _Candidate:
    start: float
    first_frame: int  # of the call: where ``frames`` begin
    frames: list[Floats] = field(default_factory=list)  # its audio, 20 ms rows, from the pre-roll
    labels: list[Label] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)  # the classifier's speech probability
    speech: float = 0.0  # seconds of speech so far
    last_speech: float = 0.0  # when the latest speech decision came
    pause: float = 0.0  # seconds of non-speech decisions since the last speech
    music: float = 0.0  # seconds of music since the last speech
    matched: bool = False  # recognised as a known announcement
    probe: Fingerprint | None = None
    probed_at: int = -1000  # frame count at the last probe
    ran_on_at: int = 0  # decisions at the last look for a voice taking over from a known announcement
    known_hops: int = 0  # length of the longest announcement it matched (fingerprint hops, from its lead)
    continuation: bool = False  # began right after an announcement: judged the slow way
    dense_windows: int = 0  # probe windows full of landmarks (speech, not a pause) that matched nothing
    dense_latest: bool = False  # the latest 0.6 s was one of them
    similar: bool = False  # a probe lined up with an announcement, if not distinctly
    matched_windows: set[int] = field(default_factory=set)  # where probes matched (0.1 s steps)
    after_over_music: bool = False  # began as speech over music turned clear: the music went on
    likeness: float = 0.0  # the best envelope likeness to anything heard before (when asked)
    voice_at: int = -1000  # ``speech_end`` when its voice was last compared with the company's …
    company_likeness: float = -1.0  # … and how like the company's voices it was then
    replay_at: int = -1  # ``speech_end`` when its waveform was last searched in the hold's audio
    replay: bool = False  # … and whether it was a replay then
    # ``confidence`` without the "speech over music" decisions that were the voice leaving the window
    voice_confidence: list[float] = field(default_factory=list)
    speech_end: int = 0  # frames up to the last speech decision (the music after is no reference)

    @property
    def tail_over_music(self) -> int:
        """How many "speech over music" decisions were the voice leaving the window."""
        return len(self.confidence) - len(self.voice_confidence)


class HoldMonitor:
    """Feed call audio; get classifier decisions and monitor events."""

    def __init__(
        self,
        classifier: FrameClassifier | None = None,
        tuning: Tuning = TUNING,
        voices: KnownVoices | None = None,
    ) -> None:
        self.classifier = classifier or FrameClassifier()
        self.tuning = tuning
        self.voices = voices or KnownVoices()  # the company's, as this call hears them
        self._company_talk: list[Floats] = []  # the menu's speech so far, before the hold
        self._company_pause = 0.0
        # Until an announcement of the hold is heard in the voice of the menu before it, the loop
        # learned may be a passage of hold music taken for speech, and the fast path asks the
        # voice itself: the hold's first real announcement would be a "new voice".
        self._company_unannounced = False
        self.state = State.WAITING
        # The latest transitions taken (for tests, tools and diagnostics; a long hold takes thousands).
        self.trail: deque[tuple[float, Trigger]] = deque(maxlen=TRAIL_LENGTH)
        self.announcements: list[Fingerprint] = []
        self._votes: deque[Label] = deque(maxlen=tuning.smoothing)
        self._calm_since: float | None = None
        self._before_hold: deque[Label] = deque(maxlen=round(tuning.hold_after / _STEP_SECONDS))
        self._candidate: _Candidate | None = None
        self._last_human: _Candidate | None = None
        self._segment_ended: float | None = None
        self._pending: deque[Floats] = deque()
        self._consumed = 0  # frames handed to the state machine
        self._recent: deque[Floats] = deque(maxlen=tuning.pre_roll_frames)
        self._recent_labels: deque[Label] = deque(maxlen=round(2.0 / _STEP_SECONDS))
        self._loop_labels: list[int] = [0, 0]  # (over music, all) decisions of learned announcements
        self._over_music: list[Floats] = []  # audio of a voice over the music, while it lasts
        self._over_music_decisions = 0
        self._music_after = 0.0  # seconds of music since the voice over it
        self._over_music_heard: list[Fingerprint] = []  # voices over music, until one repeats
        self._heard: deque[Fingerprint] = deque(maxlen=tuning.heard_segments)  # segments that were no person
        # The hold's whole spectrogram, frame by frame (the latest ``history_seconds``): what a
        # candidate replays need not have been a segment the monitor cut out and kept.
        self._history: deque[Floats] = deque()
        self._replays = ReplayHistory(round(tuning.history_seconds * SAMPLE_RATE))  # … and its audio
        self._history_frames = 0  # in ``_history``
        self._history_dropped = 0  # frames of the call before ``_history``
        # Each 10 ms step's spectral peaks, for the fingerprints of overlapping stretches: kept
        # for twice the longest stretch fingerprinted, so a segment's steps outlast it.
        self._peaks = StepPeaks(round(2 * tuning.heard_seconds * SAMPLE_RATE / HOP))
        # The latest voice on the hold (speech or speech over music) that followed the music:
        # (began, last heard); None once the music is back or the voice was judged.
        self._voice: tuple[float, float] | None = None
        self._last_music: float | None = None
        self._music_run = 0.0  # seconds of music in a row
        # Probes and references start with the step the classifier first named speech, not at the
        # onset it estimates: the 0.3 s before are often the tail of the hold music, which loops,
        # so a person would match an announcement through the music in front of both.
        self._speech_from = tuning.pre_roll_frames - STEP_FRAMES
        self._probe_span = tuning.min_probe_frames * FRAME // HOP  # a probe stretch, in hops
        # The latest speech ``_ran_on`` looks at: in classifier decisions, and in frames.
        self._run_on_decisions = round(tuning.run_on / _STEP_SECONDS)
        self._run_on_frames = round(tuning.run_on * SAMPLE_RATE / FRAME)
        self.events: list[MonitorEvent] = []

    @property
    def on_hold(self) -> bool:
        """Whether the call is on hold now (a candidate being judged is still hold)."""
        return self.state in (State.HOLD, State.CANDIDATE)

    def push(self, frame: Floats) -> list[MonitorEvent]:
        """Analyse one 20 ms frame (160 floats in -1..1); the events it completes."""
        return self.push_block(frame.reshape(1, FRAME))[1]

    def push_block(self, block: Floats) -> tuple[list[Decision], list[MonitorEvent]]:
        """Analyse N frames (N x 160 floats in -1..1)."""
        decisions = self.classifier.push_block(block)
        self._keep_history(self.classifier.mel, block)
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

    def review(self, human: bool) -> None:
        """A transcript confirmed (``True``) or vetoed (``False``) the last human_detected."""
        if human or self.state is not State.HUMAN:
            return
        self._no_person_after_all()
        self._go(Trigger.VETO, self._consumed * FRAME / SAMPLE_RATE)

    # The transitions

    def _go(
        self, trigger: Trigger, now: float, *, onset: float | None = None, confidence: float = 1.0
    ) -> list[MonitorEvent]:
        """Take the table's transition for ``trigger`` from the current state; its event."""
        row = _TABLE[(self.state, trigger)]
        self.state = row.target
        self.trail.append((now, trigger))
        if row.event is None:
            return []
        return [MonitorEvent(now, row.event, round(min(confidence, 1.0), 2), onset=onset)]

    def _step(self, decision: Decision, rows: list[Floats]) -> list[MonitorEvent]:
        label = self._smoothed(decision.label)
        now = decision.time
        if self._candidate is not None:
            self._candidate.frames += rows
        self._recent.extend(rows)
        if self.state is State.WAITING:
            self._hear_company(decision.label, rows)
            return self._waiting(decision.label, label, now)
        if self.state is State.HOLD:
            self._follow_voice(decision.label, now)
            events = self._holding(decision, rows, now)
            self._recent_labels.append(decision.label)
            return events or self._music_stopped(now)
        if self.state is State.CANDIDATE:
            self._follow_voice(decision.label, now)
            return self._judging(decision, now)
        return self._with_human(label, now)

    def _follow_voice(self, label: Label, now: float) -> None:
        """Keep the latest voice that followed the music, until the music is back."""
        if label is Label.MUSIC:
            self._last_music = now
            self._music_run = _plus_step(self._music_run)
            if self._music_run >= self.tuning.music_back:
                self._voice = None  # the music is back: whatever spoke was the hold's
            return
        self._music_run = 0.0
        if label not in (Label.SPEECH, Label.SPEECH_OVER_MUSIC):
            return
        if self._voice is not None:
            self._voice = (self._voice[0], now)
        elif self._last_music is not None and now - self._last_music <= self.tuning.music_before_voice:
            self._voice = (now - self.tuning.onset_lag, now)

    def _music_stopped(self, now: float) -> list[MonitorEvent]:
        """A voice, then quiet with the music gone: the music stopped for someone who now waits.

        For a voice the model doubted (heard over music, or too little clear speech for a
        candidate to last: it ended as a flicker, or as an "announcement" whose "music" was the
        voice itself): an announcement's music comes back, a known one was matched, and a
        person waits for a reply in the quiet.
        """
        voice = self._voice
        if voice is None or self._music_run > 0 or now - voice[1] < self.tuning.music_stopped_wait:
            return []  # no voice, the music coming back, or not yet waited
        self._voice = None
        self._forget_over_music()
        self._calm_since = None
        self._last_human = _Candidate(start=voice[0], first_frame=self._consumed)
        return self._go(Trigger.MUSIC_STOPPED, now, onset=voice[0], confidence=0.7)

    def _smoothed(self, label: Label) -> Label:
        self._votes.append(label)
        counts: dict[Label, int] = {}
        for seen in self._votes:
            counts[seen] = counts.get(seen, 0) + 1
        return max(counts, key=lambda key: (counts[key], key == label))

    # WAITING

    def _hear_company(self, label: Label, rows: list[Floats]) -> None:
        """Keep the signatures of the company's talk before the hold: its menu prompts."""
        tuning = self.tuning
        if label is Label.SPEECH:
            self._company_talk += rows
            self._company_pause = 0.0
        elif self._company_talk:
            self._company_pause = _plus_step(self._company_pause)
        talk = len(self._company_talk) * FRAME / SAMPLE_RATE
        if talk >= tuning.company_talk_max or (
            self._company_talk and self._company_pause >= tuning.company_pause
        ):
            if talk >= tuning.company_talk:
                self.voices.learn(np.concatenate(self._company_talk))
            self._company_talk, self._company_pause = [], 0.0

    def _waiting(self, raw: Label, label: Label, now: float) -> list[MonitorEvent]:
        """Hold starts after ``hold_after`` of calm (smoothed), or a window mostly of hold music."""
        self._before_hold.append(raw)
        calm = label in _NON_SPEECH or label is Label.SPEECH_OVER_MUSIC
        if calm:
            self._calm_since = self._calm_since if self._calm_since is not None else now
        else:
            self._calm_since = None
        if not calm or label is Label.RINGBACK:
            return []
        if now - (self._calm_since or now) >= self.tuning.hold_after:
            onset = self._calm_since
        elif self._mostly_music():
            onset = now - self.tuning.hold_after
        else:
            return []
        self._company_unannounced = self.voices.known  # the menu spoke
        return self._go(Trigger.CALM, now, onset=onset)

    def _mostly_music(self) -> bool:
        window = self._before_hold
        if len(window) < (window.maxlen or 0):
            return False
        calm = sum(label in _NON_SPEECH or label is Label.SPEECH_OVER_MUSIC for label in window)
        musical = sum(label in _MUSICAL for label in window)
        return calm >= self.tuning.hold_calm_share * len(
            window
        ) and musical >= self.tuning.hold_music_share * len(window)

    # HOLD

    def _holding(self, decision: Decision, rows: list[Floats], now: float) -> list[MonitorEvent]:
        """The first speech decision (unsmoothed: every 100 ms counts) opens a candidate."""
        label = decision.label
        if label is not Label.SPEECH:
            return self._voice_over_music(label, rows, now)
        speech = decision.probabilities.get(Label.SPEECH, 0.0)
        self._candidate = _Candidate(
            start=now - self.tuning.onset_lag,
            first_frame=self._consumed - len(self._recent),
            frames=list(self._recent),
            speech_end=len(self._recent),
            labels=[label],
            confidence=[speech],
            voice_confidence=[speech],
            speech=_STEP_SECONDS,
            last_speech=now,
            continuation=self._segment_ended is not None
            and now - self._segment_ended < self.tuning.continuation_gap,
            after_over_music=self._after_over_music(),
        )
        return self._go(Trigger.VOICE, now)

    def _after_over_music(self) -> bool:
        """A voice over music a while ago, now clear: the music did not stop for it.

        The last decisions before the first "speech" are the music-to-voice transition, which the
        1 s window hears as voice over music, so they do not count as such. The music alone for
        ``music_back`` after the voice over music ended that voice: then it is no continuation
        (the model hears short stretches of some music as a voice over it).
        """
        labels = list(self._recent_labels)
        before = labels[: -self.tuning.over_music_transition]
        if before.count(Label.SPEECH_OVER_MUSIC) < self.tuning.over_music_before:
            return False
        last = max(index for index, label in enumerate(before) if label is Label.SPEECH_OVER_MUSIC)
        return labels[last:].count(Label.MUSIC) * _STEP_SECONDS < self.tuning.music_back - 1e-9

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
            self._forget_over_music()
            return []
        self._over_music += rows
        self._music_after = _plus_step(self._music_after)
        if self._music_after < self.tuning.music_back:
            return []
        return self._over_music_ended(now)

    def _forget_over_music(self) -> None:
        self._over_music, self._over_music_decisions = [], 0

    def _over_music_ended(self, now: float) -> list[MonitorEvent]:
        """The music alone again after a voice over it: an announcement, if the voice lasted."""
        voiced = self._over_music_decisions * _STEP_SECONDS
        audio, decisions = self._over_music, self._over_music_decisions
        self._forget_over_music()
        if voiced < self.tuning.over_music_announcement:
            return []  # a flicker of the music, or a sung line
        self._segment_ended = now
        onset = now - self.tuning.music_back - voiced - self.tuning.onset_lag
        events = self._go(Trigger.OVER_MUSIC_ENDED, now, onset=onset)
        # Its voice ended where the music alone began.
        heard = self._reference(
            audio,
            None,  # a voice over music may have a clear flicker spliced in: not a stretch of the call
            len(audio) - round(self.tuning.music_back / _STEP_SECONDS) * STEP_FRAMES,
        )
        if heard is None:
            return events
        # It joins the loop once it has played twice: the model hears stretches of some music as
        # a voice over music, and one of those taken for the loop would make the real first
        # announcement a "new voice".
        if self._repeats(heard):
            self._remember(heard)
            self._loop_labels[0] += decisions
            self._loop_labels[1] += decisions
        self._over_music_heard = [*self._over_music_heard, heard][-self.tuning.over_music_heard :]
        self._heard.append(heard)
        return events

    def _repeats(self, heard: Fingerprint) -> bool:
        """Whether a voice over music was heard before: two of its 0.6 s stretches match."""
        if not self._over_music_heard:
            return False
        hops = heard.hops
        lead = self.tuning.reference_lead * FRAME // HOP  # probes start where the speech does
        matches = 0
        starts = range(lead, max(lead, hops - self._probe_span) + 1, self._probe_span // 2)
        for _, _, distinct, _ in self._stretch_scores(heard, starts, self._over_music_heard):
            if distinct >= self.tuning.match_threshold:
                matches += 1
                if matches >= self.tuning.matches_needed:
                    return True
        return False

    # CANDIDATE

    def _judging(self, decision: Decision, now: float) -> list[MonitorEvent]:
        """Follow the voice; end it as a flicker or an announcement, or report a person."""
        tuning = self.tuning
        candidate = self._candidate
        assert candidate is not None
        self._follow(candidate, decision, now)
        if candidate.speech < tuning.speech_evidence and (
            candidate.music >= tuning.music_back or candidate.pause + candidate.music >= tuning.flicker_quiet
        ):
            return self._flicker(candidate, now)
        if candidate.music >= tuning.music_back:  # the music is back
            return self._announcement_ended(candidate, now)
        if candidate.matched:
            # A known announcement: over once its speech stops, whatever follows …
            if candidate.pause + candidate.music >= tuning.music_back:
                return self._announcement_ended(candidate, now)
            # … or at once when the music is back after a short match: mostly a passage of hold
            # music that matches the music a reference starts with, and a person speaking next
            # would join it.
            if candidate.music >= tuning.matched_music_end and candidate.speech < tuning.learn_min_speech:
                return self._announcement_ended(candidate, now, keep_gap=False)
            if self._ran_on(candidate):
                return self._voice_ran_on(candidate, now)
            return []
        if self._probe_matches(candidate):
            candidate.matched = True  # the hold's announcement again: report it once, now
            self._voice = None
            return self._go(Trigger.KNOWN, now, onset=candidate.start)
        # Spoken over music: an announcement until the music says otherwise. The fast path, which
        # the known loop guards, does not count the voice leaving the window as music; the slow
        # path does (a first announcement whose candidate opened on misread music ends so).
        over_music = candidate.labels.count(Label.SPEECH_OVER_MUSIC) / len(candidate.labels)
        tail = candidate.tail_over_music / len(candidate.labels)
        quiet_after = candidate.pause >= tuning.quiet_after_over_music
        if over_music - tail > tuning.max_over_music and not quiet_after:
            return []
        if self._fast_human(candidate):
            return self._new_voice(candidate, now)
        if self._other_voice(candidate):
            return self._human(candidate, now, Trigger.OTHER_VOICE, 0.8)
        if over_music > tuning.max_over_music and not quiet_after:
            return []
        if self._greeting_then_pause(candidate) and not self._plays_again(candidate):
            return self._human(candidate, now, Trigger.REPLY_PAUSE, 0.8)
        return []

    def _ran_on(self, candidate: _Candidate) -> bool:
        """Whether another voice cut a known announcement off.

        Its latest clear speech (``run_on``) began before the recording would have ended, with no
        pause before it (a gap between words, ``word_gap``, is none: "Thanks for holding, this
        is Sarah" has one at its comma), and matches nothing of the loop, in two stretches,
        neither like it. An agent who picks up cuts the recording off, with no music between
        them to end the announcement. Past the recording's end, "speech" may be the music
        misread (a hold that has no pause before its music), which the continuation rule judges
        the slow way. Looked at every 0.5 s.
        """
        tuning = self.tuning
        decisions, frames = self._run_on_decisions, self._run_on_frames
        latest = candidate.labels[-decisions:]
        # Where the voice began, in the hops of the announcement it matched (from its lead).
        began = (len(candidate.frames) - frames - self._speech_from + tuning.reference_lead) * FRAME // HOP
        around = candidate.labels[-decisions - round(tuning.cut_margin / _STEP_SECONDS) :]
        if (
            len(candidate.labels) < 2 * decisions
            or len(candidate.labels) - candidate.ran_on_at < 5
            or latest.count(Label.SPEECH) < tuning.min_speech_share * decisions
            or self._paused(around)  # the recording ended
            or began > candidate.known_hops - tuning.cut_margin * SAMPLE_RATE / HOP
        ):
            return False
        candidate.ran_on_at = len(candidate.labels)
        # The latest stretch first: while the recording plays it matches, and that settles it.
        stretch = tuning.min_probe_frames
        return all(
            self._unlike_loop(
                self._print(candidate.frames, candidate.first_frame, end - stretch, end or None)
            )
            for end in range(0, -frames, -stretch)
        )

    def _paused(self, labels: list[Label]) -> bool:
        """Whether the decisions hold a pause: more no-voice in a row than a gap between words."""
        gap = round(self.tuning.word_gap / _STEP_SECONDS)
        run = 0
        for label in labels:
            run = 0 if label in _VOICE else run + 1
            if run > gap:
                return True
        return False

    def _unlike_loop(self, probe: Fingerprint) -> bool:
        """Whether a stretch full of landmarks matches nothing of the loop and is not like it."""
        scores = list(self._stretch_scores(probe, [0], self.announcements))
        return bool(scores) and all(
            distinct < self.tuning.match_threshold and aligned < self.tuning.similar_threshold
            for _, aligned, distinct, _ in scores
        )

    def _voice_ran_on(self, candidate: _Candidate, now: float) -> list[MonitorEvent]:
        """Split off the voice that took over, judged as a candidate of its own from its latest ``run_on``.

        The announcement before it is heard (and learned) as any that ended.
        """
        tuning = self.tuning
        decisions = self._run_on_decisions
        split = len(candidate.frames) - self._run_on_frames
        # Probed from the split on: the audio before it is the announcement the voice cut off,
        # and a probe holding its last words would match the loop.
        first = split - self._speech_from
        labels = candidate.labels[-decisions:]
        voice = _Candidate(
            start=now - tuning.run_on,
            first_frame=candidate.first_frame + first,
            frames=candidate.frames[first:],
            labels=labels,
            confidence=candidate.confidence[-decisions:],
            voice_confidence=candidate.voice_confidence[-decisions:],
            speech=round(labels.count(Label.SPEECH) * _STEP_SECONDS, 6),
            last_speech=candidate.last_speech,
            pause=candidate.pause,
            speech_end=len(candidate.frames) - first,
        )
        del candidate.frames[split:]
        candidate.speech_end = min(candidate.speech_end, split)
        self._hear(candidate)
        self._learn(candidate)
        self._candidate = voice
        events = self._go(Trigger.RAN_ON, now, onset=voice.start)
        if self._probe_matches(voice):  # the recording after all: back to following it
            voice.matched = True
            return events
        if self._sounds_heard(voice) or voice.likeness >= tuning.doubt_likeness:
            # As like the hold as a replay through a lossy line may be: maybe more of the
            # recording, so judged the slow way, as a voice right after an announcement is.
            voice.continuation = True
            return events
        if self._fast_human(voice):
            return events + self._new_voice(voice, now)
        return events

    def _follow(self, candidate: _Candidate, decision: Decision, now: float) -> None:
        """Add one decision to the candidate: its speech, pause and music so far."""
        label = decision.label
        speech_probability = decision.probabilities.get(Label.SPEECH, 0.0)
        candidate.labels.append(label)
        candidate.confidence.append(speech_probability)
        # The voice leaving the window: not the music back, and not a voice the model doubts.
        window_tail = (
            label is Label.SPEECH_OVER_MUSIC and now - candidate.last_speech < self.tuning.window_tail
        )
        if not window_tail:
            candidate.voice_confidence.append(speech_probability)
        if label in (Label.SPEECH, Label.SPEECH_OVER_MUSIC):
            candidate.speech_end = len(candidate.frames)
        if label is Label.SPEECH:
            candidate.speech = _plus_step(candidate.speech)
            candidate.last_speech = now
            candidate.pause = 0.0
            candidate.music = 0.0
        elif window_tail:
            candidate.pause = _plus_step(candidate.pause)
        elif label in _MUSICAL:
            candidate.music = _plus_step(candidate.music)
        else:
            candidate.pause = _plus_step(candidate.pause)

    def _flicker(self, flicker: _Candidate, now: float) -> list[MonitorEvent]:
        """A flicker in the music, not a voice: remembered, and the next voice is judged afresh.

        A flicker of clear "speech" inside a voice over the music was part of that voice: an
        announcement spoken over the music whose words the model once heard as clear speech
        ends with it.
        """
        self._candidate = None
        self._hear(flicker)
        events = self._go(Trigger.FLICKER, now)
        if not self._over_music:
            return events
        if flicker.music < self.tuning.music_back:  # quiet after it, not the music: no announcement
            self._forget_over_music()
            return events
        self._over_music += flicker.frames[self._speech_from :]
        self._over_music_decisions += len(flicker.labels) - round(flicker.music / _STEP_SECONDS)
        return events + self._over_music_ended(now)

    def _announcement_ended(
        self, candidate: _Candidate, now: float, *, keep_gap: bool = True
    ) -> list[MonitorEvent]:
        """The voice ended with music or a known announcement stopped: learn it, hold again.

        ``keep_gap``: speech within ``continuation_gap`` of it may be more of it (not after a
        short match the music ended: what follows is no continuation of it).
        """
        if keep_gap:
            self._segment_ended = now
        self._candidate = None
        self._forget_over_music()  # the voice was this segment's start
        self._hear(candidate)
        credible = (
            self._inner_music(candidate) <= self.tuning.learn_max_music
            and candidate.speech >= self.tuning.learn_min_speech
        )
        if candidate.matched or credible:
            self._learn(candidate)  # matched ones too: each repeat adds a slightly different view
            self._learn_voice(candidate)
        self._loop_labels[0] += candidate.labels.count(Label.SPEECH_OVER_MUSIC)
        self._loop_labels[1] += len(candidate.labels)
        trigger = Trigger.KNOWN_ENDED if candidate.matched else Trigger.MUSIC_BACK
        return self._go(trigger, now, onset=candidate.start)

    def _greeting_then_pause(self, candidate: _Candidate) -> bool:
        """Speech, then a pause awaiting a reply, and no music (the slow path).

        A greeting (AMD: up to ``greeting_max``) earns a reply pause; a longer speech could be
        an announcement pausing between sentences, so its pause must outlast any music coming
        back after it.
        """
        tuning = self.tuning
        pause_needed = tuning.reply_pause if candidate.speech <= tuning.greeting_max else tuning.long_pause
        return (
            candidate.speech >= tuning.speech_evidence
            and candidate.pause >= pause_needed
            and self._speech_confidence(candidate) >= tuning.slow_confidence
        )

    def _fast_human(self, candidate: _Candidate) -> bool:
        """Known loop, not right after an announcement, clear new speech with no music in it."""
        tuning = self.tuning
        over_music = candidate.after_over_music or self._loop_over_music()
        evidence = tuning.human_evidence_over_music if over_music else tuning.human_evidence
        spoken = len(candidate.labels) - candidate.tail_over_music
        return (
            bool(self.announcements)
            and not candidate.continuation
            and candidate.speech >= evidence
            and candidate.dense_latest
            and not candidate.matched_windows
            and not candidate.similar
            and candidate.dense_windows >= tuning.min_dense_windows
            and candidate.labels.count(Label.SPEECH) / spoken >= tuning.min_speech_share
            and Label.MUSIC not in candidate.labels
            and candidate.labels.count(Label.SPEECH_OVER_MUSIC) - candidate.tail_over_music
            <= tuning.fast_over_music * len(candidate.labels)
            and self._confident(candidate)
            and not self._replayed(candidate)
            and not self._sounds_heard(candidate)
            and not self._in_doubt(candidate, evidence)
            and not self._plays_again(candidate)
            and not (self._company_unannounced and self._company_voice(candidate))
        )

    def _other_voice(self, candidate: _Candidate) -> bool:
        """Clear speech, sure to be a voice, unlike the company's voices, and no replay.

        The company speaks in recorded voices the call heard before the hold (its menu) and on
        it (its announcements); a person speaks in their own. Before anything of the hold is
        learned, this is the only quick way to a person.
        """
        tuning = self.tuning
        spoken = len(candidate.labels) - candidate.tail_over_music
        if (
            not self.voices.known
            or candidate.continuation
            or candidate.speech < tuning.other_voice_evidence
            or Label.MUSIC in candidate.labels
            or candidate.labels.count(Label.SPEECH) / spoken < tuning.min_speech_share
            or candidate.similar
            or candidate.matched_windows
            or not self._confident(candidate)
        ):
            return False
        return (
            not self._company_voice(candidate)
            and not self._replayed(candidate)
            and not self._sounds_heard(candidate)
            and not self._plays_again(candidate)
        )

    def _company_voice(self, candidate: _Candidate) -> bool:
        """Whether the candidate's latest speech is like the company's voice.

        Asked again once 0.2 s more speech came: a voice's first second says less about whose
        it is than its next one does.
        """
        if not self.voices.known:
            return False
        if candidate.speech_end - candidate.voice_at >= 2 * STEP_FRAMES:
            candidate.voice_at = candidate.speech_end
            candidate.company_likeness = self.voices.likeness(self._talk(candidate))
        return candidate.company_likeness >= self.tuning.company_likeness

    def _learn_voice(self, candidate: _Candidate) -> None:
        """Keep the signature of an announcement's voice: the company's."""
        if candidate.speech < self.tuning.company_talk:
            return
        # In the menu's voice (as like it as the voice learned before): the company has announced.
        if self.voices.learn(self._talk(candidate)) >= self.tuning.company_likeness:
            self._company_unannounced = False

    def _talk(self, candidate: _Candidate) -> Floats:
        """The candidate's latest ``voice_seconds`` of audio up to its last speech."""
        first = max(
            self._speech_from, candidate.speech_end - round(self.tuning.voice_seconds * SAMPLE_RATE / FRAME)
        )
        return np.concatenate(candidate.frames[first : candidate.speech_end])

    def _new_voice(self, candidate: _Candidate, now: float) -> list[MonitorEvent]:
        """The hold's loop is known and this is not it: a new voice (surer the more of the loop is known)."""
        return self._human(candidate, now, Trigger.NEW_VOICE, 0.7 + 0.1 * min(3, len(self.announcements)))

    def _human(
        self, candidate: _Candidate, now: float, trigger: Trigger, confidence: float
    ) -> list[MonitorEvent]:
        self._voice = None
        self._last_human = candidate
        self._candidate = None
        self._forget_over_music()
        self._calm_since = None
        return self._go(trigger, now, onset=candidate.start, confidence=confidence)

    # HUMAN

    def _with_human(self, label: Label, now: float) -> list[MonitorEvent]:
        """Music back for ``music_return_wait`` withdraws the person; the person staying ends the hold."""
        if label is Label.MUSIC:
            # The music is back: it was not a person after all — or the person put us on hold
            # again (after hold_ended). Either way, holding, and that voice is no person now.
            self._calm_since = self._calm_since if self._calm_since is not None else now
            if now - self._calm_since >= self.tuning.music_return_wait:
                self._no_person_after_all()
                return self._go(Trigger.MUSIC_STAYED, now, onset=self._calm_since)
            return []
        self._calm_since = None
        human = self._last_human
        if (
            human is not None
            and self.trail[-1][1] is not Trigger.PERSON_STAYED  # reported once
            and now - human.start >= self.tuning.speech_evidence + self.tuning.music_return_wait
        ):
            return self._go(Trigger.PERSON_STAYED, now)  # the music has stayed away: the hold is over
        return []

    def _no_person_after_all(self) -> None:
        """The last person was none: learn the voice as part of this hold."""
        if self._last_human is not None:
            self._learn(self._last_human)
            self._hear(self._last_human)

    # Fingerprints: the loop, and what was no person

    def _stretch_scores(
        self, probe: Fingerprint, starts: Iterable[int], references: list[Fingerprint]
    ) -> Iterator[tuple[int, float, float, Fingerprint]]:
        """``(start, aligned, distinct, reference)`` of 0.6 s stretches of ``probe``, best reference.

        The best reference is the one a stretch matches most distinctly. Stretches with too few
        landmarks (mostly a pause: too little to tell one voice from another) are skipped.
        """
        for first in starts:
            part = probe.window(first, first + self._probe_span)
            if part.count >= self.tuning.min_probe_landmarks:
                scores = np.array([known.scores(part) for known in references])
                aligned, distinct = scores.max(axis=0)
                best = references[int(np.argmax(scores[:, 1]))]
                yield first, float(aligned), float(distinct), best

    def _probe_matches(self, candidate: _Candidate) -> bool:
        """Whether the segment so far is a known announcement.

        The latest 1.5 s are fingerprinted and every 0.6 s stretch of it (0.1 s apart) is
        searched in the known announcements: where the speech starts relative to the
        classifier's first "speech" varies by a few tenths, and landmarks from before it (the
        music, the line's noise) dilute a match. Every step until a person could be reported,
        then every half second.
        """
        tuning = self.tuning
        if not self.announcements or len(candidate.frames) < self._speech_from + tuning.min_probe_frames:
            return False
        if (
            candidate.speech >= tuning.human_evidence + 1.0
            and len(candidate.frames) < candidate.probed_at + 25
        ):
            return False
        candidate.probed_at = len(candidate.frames)
        candidate.probe = self._print(candidate.frames, candidate.first_frame, -tuning.probe_frames)
        hops = min(len(candidate.frames), tuning.probe_frames) * FRAME // HOP
        base = max(0, len(candidate.frames) - tuning.probe_frames) * FRAME // HOP  # of audio[0]
        # Not from the hold music before the speech: the loop's music is in no reference.
        earliest = max(
            0, (self._speech_from - max(0, len(candidate.frames) - tuning.probe_frames)) * FRAME // HOP
        )
        last = hops - self._probe_span
        candidate.dense_latest = False
        starts = [*range(earliest, max(earliest, last), 10), last]
        for first, aligned, distinct, known in self._stretch_scores(
            candidate.probe, starts, self.announcements
        ):
            if distinct >= tuning.match_threshold:
                candidate.known_hops = max(candidate.known_hops, known.hops)
                # One stretch may line up by chance (speech is repetitive); two cannot.
                candidate.matched_windows.add((base + first) // 10)
                windows = candidate.matched_windows
                if (
                    len(windows) >= tuning.matches_needed
                    and max(windows) - min(windows) >= tuning.match_spread
                ):
                    return True
                continue
            if aligned >= tuning.similar_threshold:
                candidate.similar = True  # too like an announcement for the fast path
                continue
            candidate.dense_windows += 1
            candidate.dense_latest = first == last
        return False

    def _hear(self, segment: _Candidate) -> None:
        """Remember a segment that was no person: from where its speech was named, a minute at most.

        A live person is the one sound that never played on this hold before: the model misreads
        the same passage of hold music the same way each time the music comes round.
        """
        if len(segment.frames) >= self._speech_from + self.tuning.min_probe_frames:
            end = self._speech_from + round(self.tuning.heard_seconds * SAMPLE_RATE / FRAME)
            self._heard.append(self._print(segment.frames, segment.first_frame, self._speech_from, end))

    def _sounds_heard(self, candidate: _Candidate) -> bool:
        """Whether the candidate's latest speech has the spectrogram of anything the hold played.

        Asked last, as ``_replayed`` is: a recording played again through a lossy line or a codec
        may keep too few landmarks to match, but keeps its spectrogram's shape. Searched in the
        whole hold before the candidate, not only in segments judged no person: a passage of
        music the model heard as music the first time may be heard as speech when it comes round.
        """
        end = candidate.speech_end
        if end < self._speech_from + self.tuning.min_probe_frames:
            return False
        # The hold before the candidate, and the probe: the same spectrogram, already kept.
        hold: Floats = np.vstack(self._history)  # frame ``_history_dropped`` of the call first
        first = candidate.first_frame - self._history_dropped
        if first < self.tuning.min_probe_frames:
            return False
        probe = hold[first + max(self._speech_from, end - self.tuning.probe_frames) : first + end]
        candidate.likeness = Envelope(hold[:first]).likeness(Envelope(probe))
        return candidate.likeness >= self.tuning.envelope_likeness

    def _plays_again(self, candidate: _Candidate) -> bool:
        """Whether the candidate's latest speech is, sample for sample, audio the hold played before.

        Its loudest ``replay_probe`` in the latest ``probe_frames`` is searched in the hold before
        it. Asked last, as ``_replayed`` is (:mod:`.replay`): a recording played again is no person,
        however unlike the loop the line left its fingerprints and spectral shape. A replay keeps
        the candidate off the fast path for good, as an announcement's likeness does
        (``similar``). Searched again only once 0.2 s more speech came.
        """
        end = candidate.speech_end
        size = round(self.tuning.replay_probe * SAMPLE_RATE / FRAME)
        if end < self._speech_from + size:
            return False
        if end - candidate.replay_at < 2 * STEP_FRAMES:
            return candidate.replay
        candidate.replay_at = end
        # The loudest stretch of its latest speech: the classifier names speech up to a second
        # after the voice stops, and a pause's noise (mains hum, a codec's idle pattern) repeats.
        rows = np.asarray(candidate.frames[max(self._speech_from, end - self.tuning.probe_frames) : end])
        energy = np.convolve(np.sum(rows * rows, axis=1), np.ones(size), mode="valid")
        loudest = int(np.argmax(energy))
        probe = rows[loudest : loudest + size].ravel()
        before = candidate.first_frame * FRAME  # the hold before it
        candidate.replay = self._replays.peak(probe, before) >= self.tuning.replay_correlation
        candidate.similar = candidate.similar or candidate.replay
        return candidate.replay

    def _in_doubt(self, candidate: _Candidate, evidence: float) -> bool:
        """Whether a voice somewhat like something the hold played waits for more of itself.

        Its first 0.6 s may be a replay whose spectrogram the line changed: a longer stretch is
        less likely to look like some stretch of the hold by chance, and a replay's fingerprints
        match once 0.9 s of it has played. Few people's first words are this like the hold.
        """
        tuning = self.tuning
        return (
            candidate.likeness >= tuning.doubt_likeness
            and candidate.speech < evidence + tuning.doubt_wait - 1e-9
        )

    def _keep_history(self, mel: Floats, block: Floats) -> None:
        """Keep a block's spectral shape and audio; drop what is older than ``history_seconds``.

        :meth:`.Envelope.of_mel` works frame by frame, so each frame's shape is computed once,
        here, not again for every candidate checked against it.
        """
        shape = Envelope.of_mel(mel).mel
        self._history.append(shape)
        self._replays.extend(block)
        self._history_frames += len(shape)
        keep = round(self.tuning.history_seconds * SAMPLE_RATE / FRAME)
        while len(self._history) > 1 and self._history_frames - len(self._history[0]) >= keep:
            dropped = self._history.popleft()
            self._history_frames -= len(dropped)
            self._history_dropped += len(dropped)

    def _replayed(self, candidate: _Candidate) -> bool:
        """Whether the candidate's latest 1.5 s of speech replay a segment that was no person.

        Asked last, when a person would otherwise be reported (at the end of a long speech the
        line's noise "replays"); a replay keeps the candidate off the fast path for good, as an
        announcement's likeness does (``similar``).
        """
        end = candidate.speech_end
        if not self._heard or end < self._speech_from + self.tuning.min_probe_frames:
            return False
        first = max(self._speech_from, end - self.tuning.probe_frames)
        probe = self._print(candidate.frames, candidate.first_frame, first, end)
        starts = range(0, max(0, (end - first) * FRAME // HOP - self._probe_span) + 1, 10)
        candidate.similar = any(
            aligned >= self.tuning.replay_aligned or distinct >= self.tuning.match_threshold
            for _, aligned, distinct, _ in self._stretch_scores(probe, starts, list(self._heard))
        )
        return candidate.similar

    def _confident(self, candidate: _Candidate) -> bool:
        """Whether the latest decisions (not the window tail) are sure enough it is a voice."""
        latest = candidate.voice_confidence[-self.tuning.fast_confidence_decisions :]
        return float(np.mean(latest)) >= self.tuning.fast_confidence

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
        return self._loop_labels[0] > self.tuning.max_over_music * self._loop_labels[1]

    def _learn(self, candidate: _Candidate) -> None:
        if len(candidate.frames) >= round(self.tuning.fingerprint_seconds * SAMPLE_RATE / FRAME):
            reference = self._reference(
                candidate.frames, candidate.first_frame, candidate.speech_end or len(candidate.frames)
            )
            if reference is not None:
                self._remember(reference)

    def _reference(
        self, frames: list[Floats], first_frame: int | None, speech_end: int
    ) -> Fingerprint | None:
        """A segment's reference: from the lead before its speech to its speech's end, clipped.

        ``frames`` start with the pre-roll; ``None`` when it holds less speech than a probe
        stretch, which such a reference could never match. The lead: the classifier names the
        same announcement speech a few tenths sooner or later from one play to the next.
        """
        tuning = self.tuning
        end = min(speech_end, self._speech_from + round(tuning.reference_seconds * SAMPLE_RATE / FRAME))
        if end < self._speech_from + tuning.min_probe_frames:
            return None
        return self._print(frames, first_frame, self._speech_from - tuning.reference_lead, end)

    def _print(
        self, frames: list[Floats], first_frame: int | None, start: int, end: int | None = None
    ) -> Fingerprint:
        """The fingerprint of ``frames[start:end]``, whose first row is frame ``first_frame`` of the call.

        ``None``: rows not in the call's order, whose steps are not kept.
        """
        first, stop, _ = slice(start, end).indices(len(frames))
        signal = np.concatenate(frames[first:stop])
        if first_frame is None:
            return Fingerprint.of(signal)
        return self._peaks.fingerprint(signal, (first_frame + first) * FRAME // HOP)

    def _remember(self, reference: Fingerprint) -> None:
        """Keep a reference of the loop (the latest ``max_fingerprints``)."""
        self.announcements.append(reference)
        del self.announcements[: -self.tuning.max_fingerprints]
