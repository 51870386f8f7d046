"""Whole holds made of the corpus's sources, for judging the hold monitor on audio it never heard.

A hold: the company's menu (a prompt in the voice of its announcements), then its music, its
recorded announcement coming back every 15-40 s (the same recording each time, as a loop plays
it; one hold in five speaks over the music), and then, mostly, a person: a greeting, then the
pause of someone waiting for a reply. All of it down one wide line
(:meth:`.channel.Channel.wide`). A company has one voice (:class:`.speakers.CompanyVoice`). The
sources are whole packages or voices, so a benchmark can hold out what the classifier was
trained on.

*Cut-in* holds (``cuts_in``) have a person who picks up during the loop's last announcement, as a
call centre's switch does: the recording stops anywhere from its middle to its end, 0-1 s of the
line's quiet, and the agent speaks. Every other person follows the music.

Some people are *the same synthetic voice as the announcement* (a company whose agents' calls
are voiced by the same TTS as its recordings): only turn-taking and words tell them apart. Every
other person is of another source than the announcement's voice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

import numpy as np

from .channel import RATE, Channel, Pcm, through_channel
from .labelled_audio import music_clip, voice_clip
from .sources import Kind, Source
from .speakers import CompanyVoice, first_word

if TYPE_CHECKING:  # the caller imports the audio package (without Home Assistant where it must)
    from custom_components.hold_slayer.audio.monitor import MonitorEvent

SAME_VOICE_SHARE: Final = 0.15  # of people, when the announcer is a synthesiser
FRAME: Final = 160  # samples the monitor takes at a time (20 ms)


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold's audio after the line, and what it holds."""

    audio: Pcm
    person_at: float | None  # the person's first word, seconds; None: nobody comes
    announcements: int  # announcements played before the person (or the end)
    music: str
    announcer: str
    person: str  # the person's voice source ("" when nobody comes)
    person_kind: str
    same_voice: bool  # the person is the announcement's synthetic voice
    announced_at: tuple[float, ...] = ()  # where each announcement begins, seconds
    announcement_seconds: float = 0.0  # how long it lasts
    menu_seconds: float = 0.0  # the company's menu before the hold, and the quiet after it

    def where(self, time: float) -> str:
        """What the hold played at ``time``: "music", "announcement 2 +1.3 s", "person +0.4 s"."""
        if self.person_at is not None and time >= self.person_at - 1.0:
            return f"person {time - self.person_at:+.1f} s"
        for index, began in enumerate(self.announced_at, 1):
            if began - 1.0 <= time <= began + self.announcement_seconds + 3.0:
                return f"announcement {index} {time - began:+.1f} s (of {self.announcement_seconds:.1f} s)"
        return "music"


def _pick(sources: Sequence[Source], rng: np.random.Generator) -> Source:
    return sources[int(rng.integers(0, len(sources)))]


def hold(
    rng: np.random.Generator,
    *,
    person: bool,
    music: Sequence[Source],
    announcers: Sequence[Source],
    people: Sequence[Source],
    cuts_in: bool = False,
) -> Hold:
    """One hold of music, a looping announcement and maybe a person, down one wide line.

    ``cuts_in``: a person who cuts the announcement off (after one play of it at least).
    """
    tune = _pick(music, rng)
    bed = music_clip(tune, 240.0, rng, vary=False)
    announcer = _pick(announcers, rng)
    company = CompanyVoice(announcer, rng)
    announcement = company.recording(rng)
    over_music = bool(rng.random() < 0.2)
    # The company's menu (another prompt in its voice), then the line's quiet as the call is queued.
    parts: list[Pcm] = [company.recording(rng), np.zeros(int(rng.uniform(0.3, 1.5) * RATE))]
    menu_seconds = sum(len(part) for part in parts) / RATE
    position = int(rng.integers(0, len(bed) // 2))
    loops = int(rng.integers(2 if cuts_in else 0, 6))  # a cut-in person cuts the last one off
    announced_at: list[float] = []
    for play in range(loops):
        length = int(rng.uniform(15, 40) * RATE)
        parts.append(np.resize(bed[position:], length))
        position = (position + length) % (len(bed) - RATE)
        announced_at.append(sum(len(part) for part in parts) / RATE + (0.0 if over_music else 0.5))
        played = announcement
        if over_music:
            played = announcement + 0.3 * np.resize(bed[position:], len(announcement))
        cut = cuts_in and play == loops - 1
        if cut:
            played = played[: int(len(played) * rng.uniform(0.5, 1.0))]
        pause = [] if over_music else [np.zeros(RATE // 2)]
        parts += [*pause, played, *([] if cut else pause)]
    quiet = 0.2  # before a person who follows the music
    if cuts_in:
        quiet = float(rng.uniform(0.0, 1.0))
    else:
        parts.append(np.resize(bed[position:], int(rng.uniform(8, 30) * RATE)))
    start = None
    voice, kind, same = "", "", False
    if person:
        same = announcer.kind is Kind.SYNTHETIC_VOICE and bool(rng.random() < SAME_VOICE_SHARE)
        # Somebody else than the company's voice, but for the same-voice share: a voice talent's
        # prompts are no live person, and a synthesiser's one voice is that share's to say.
        speaker = (
            announcer if same else _pick([voice for voice in people if voice != announcer] or people, rng)
        )
        seconds = float(rng.uniform(2.5, 6.0))
        greeting = company.talk(seconds, rng) if same else voice_clip(speaker, seconds, rng, training=False)
        start = sum(len(part) for part in parts) / RATE + int(quiet * RATE) / RATE + first_word(greeting)
        # Then the person waits for an answer: 4 s of the line's noise.
        parts += [np.zeros(int(quiet * RATE)), greeting, np.zeros(4 * RATE)]
        voice, kind = speaker.name, speaker.kind.value
    audio = through_channel(np.concatenate(parts), Channel.wide(rng), rng)
    return Hold(
        audio,
        start,
        len(announced_at),
        tune.name,
        announcer.name,
        voice,
        kind,
        same,
        tuple(announced_at),
        len(announcement) / RATE,
        menu_seconds,
    )


class Monitor(Protocol):
    """What scoring needs of a hold monitor (``HoldMonitor``, or a test's stand-in)."""

    @property
    def events(self) -> Sequence[MonitorEvent]: ...  # noqa: D102

    @property
    def trail(self) -> Sequence[tuple[float, str]]: ...  # noqa: D102

    def push_block(self, block: Pcm, /) -> object: ...  # noqa: D102


@dataclass(slots=True)
class Outcome:
    """What the hold monitor made of one hold: the hold, when it reported people, and how sure."""

    hold: Hold
    humans: list[tuple[float, float]]  # (time, confidence) of each human_detected
    trail: list[tuple[float, str]]  # the monitor's transitions: (time, trigger)

    def why(self, time: float) -> str:
        """The trigger of the monitor's transition at ``time`` (the path that reported a person)."""
        return next((str(trigger) for at, trigger in reversed(self.trail) if at == time), "?")

    @property
    def false_alarms(self) -> list[tuple[float, float]]:
        """Reports more than 1 s before the person's first word (all of them when nobody came)."""
        start = self.hold.person_at
        return [report for report in self.humans if start is None or report[0] < start - 1.0]

    @property
    def latency(self) -> float | None:
        """Seconds from the first word to the first report on time; ``None``: missed or nobody."""
        start = self.hold.person_at
        on_time = [time for time, _ in self.humans if start is not None and time >= start - 1.0]
        return max(0.0, on_time[0] - start) if on_time and start is not None else None


@dataclass(slots=True)
class HoldScores:
    """The hold monitor over many holds."""

    outcomes: list[Outcome]
    audio_seconds: float  # all the audio
    cpu_seconds: float  # the monitor's (and its classifier's) CPU time on it

    @property
    def hold_seconds(self) -> float:
        """Audio of the hold before the person (all of it when nobody came): where a report is false."""
        return sum(
            (outcome.hold.person_at if outcome.hold.person_at is not None else len(outcome.hold.audio) / RATE)
            - outcome.hold.menu_seconds
            for outcome in self.outcomes
        )

    @property
    def people(self) -> list[Outcome]:
        """The holds a person came to."""
        return [outcome for outcome in self.outcomes if outcome.hold.person_at is not None]

    @property
    def missed(self) -> list[Outcome]:
        """The holds whose person was never reported on time."""
        return [outcome for outcome in self.people if outcome.latency is None]

    @property
    def false_alarms(self) -> int:
        """All reports more than 1 s before a person."""
        return sum(len(outcome.false_alarms) for outcome in self.outcomes)

    def latencies(self, *, after_announcement: bool) -> list[float]:
        """Latency of the people found: those after an announcement, or the hold's first voices."""
        return [
            latency
            for outcome in self.people
            if (outcome.hold.announcements > 0) == after_announcement
            and (latency := outcome.latency) is not None
        ]


def score_holds(
    count: int,
    seed: int,
    *,
    music: Sequence[Source],
    announcers: Sequence[Source],
    people: Sequence[Source],
    monitor: Callable[[], Monitor],
    cuts_in: bool = False,
) -> HoldScores:
    """Make ``count`` holds (four in five with a person) and run a fresh monitor over each.

    ``cuts_in``: cut-in holds, every one with a person.
    """
    rng = np.random.default_rng(seed)
    outcomes: list[Outcome] = []
    audio_seconds = cpu = 0.0
    for index in range(count):
        made = hold(
            rng,
            person=cuts_in or index % 5 != 4,
            music=music,
            announcers=announcers,
            people=people,
            cuts_in=cuts_in,
        )
        watcher = monitor()
        frames = made.audio[: len(made.audio) // FRAME * FRAME].reshape(-1, FRAME)
        began = time.process_time()
        for offset in range(0, len(frames), 500):
            watcher.push_block(frames[offset : offset + 500])
        cpu += time.process_time() - began
        audio_seconds += len(made.audio) / RATE
        humans = [
            (event.time, event.confidence) for event in watcher.events if event.kind == "human_detected"
        ]
        outcomes.append(Outcome(made, humans, list(watcher.trail)))
    return HoldScores(outcomes, audio_seconds, cpu)
