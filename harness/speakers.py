"""Voices for the voice signature: talk of many voices to learn from, and trials to judge it on.

The hold monitor asks one question of a voice on the hold: is it the company's recorded voice,
heard before (a menu prompt, an announcement), or somebody else? A *trial* is that question as
the monitor meets it: one recording of the company's voice (the menu), then a voice that is
either the company's again (another recording: an announcement) or a person of another
source, all three down the same line. A signature is judged by how well it ranks the two.

A company has one voice: one synthesiser voice, or one voice talent. Recorded sources that hold
several voices (a game's characters, one per folder) give a trial the recordings of one folder.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from .channel import RATE, Channel, Pcm, through_channel
from .labelled_audio import at_level, excerpt, voice_clip
from .sources import Kind, Source, by_name, sentences, synthesise

PROBE_SECONDS: Final = 1.5  # of a voice's speech, from its first word: what the monitor has early


@dataclass(frozen=True, slots=True)
class Trial:
    """The company's voice heard before, and a voice on the hold that is it again or a person."""

    menu: Pcm
    voice: Pcm
    same: bool  # the voice is the company's (another recording of it)
    announcer: str
    speaker: str  # the source of the voice


def first_word(speech: Pcm) -> float:
    """Seconds into a recording where speech starts: the first 20 ms within 25 dB of its loud frames."""
    frames = speech[: len(speech) // 160 * 160].reshape(-1, 160)
    levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return float(np.argmax(levels > np.percentile(levels, 95) - 25)) * 160 / RATE


class CompanyVoice:
    """Recordings in one voice of a source: one synthesiser voice, or one folder's recordings."""

    def __init__(self, source: Source, rng: np.random.Generator) -> None:
        self.source = source
        if source.kind is Kind.SYNTHETIC_VOICE:
            self.voice = source.voices[int(rng.integers(0, len(source.voices)))]
            self._lines = sentences(source, self.voice, training=False)
            return
        folders: dict[str, list[Pcm]] = {}
        for path, recording in zip(source.files(), source.recordings(), strict=True):
            folders.setdefault(str(path.parent), []).append(recording)
        # A folder of a few recordings is no voice talent's: pick among those with many.
        usable = [folder for folder in folders.values() if len(folder) >= 4] or list(folders.values())
        self._recordings = usable[int(rng.integers(0, len(usable)))]

    def recording(self, rng: np.random.Generator) -> Pcm:
        """A recorded prompt of 3-8 s in this voice, at -24..-16 dBFS."""
        if self.source.kind is Kind.SYNTHETIC_VOICE:
            spoken = synthesise(self.source, self.voice, self._lines[int(rng.integers(0, len(self._lines)))])
        else:
            pieces: list[Pcm] = []
            while sum(len(piece) for piece in pieces) < 3 * RATE:
                recording = self._recordings[int(rng.integers(0, len(self._recordings)))]
                pieces += [excerpt(recording, min(len(recording) / RATE, 8.0), rng), np.zeros(RATE // 4)]
            spoken = np.concatenate(pieces)
        return at_level(spoken, float(rng.uniform(-24, -16)))

    def talk(self, seconds: float, rng: np.random.Generator) -> Pcm:
        """Talk in this voice, as an agent whose calls the company's synthesiser voices would talk.

        The very voice of its recordings: no change of speed or tilt.
        """
        if self.source.kind is not Kind.SYNTHETIC_VOICE:
            raise ValueError(f"{self.source.name} is recorded: only a synthesiser talks live in its voice")
        pieces: list[Pcm] = []
        while sum(len(piece) for piece in pieces) < seconds * RATE:
            line = self._lines[int(rng.integers(0, len(self._lines)))]
            pieces += [
                synthesise(self.source, self.voice, line),
                np.zeros(round(float(rng.uniform(0.1, 0.7)) * RATE)),
            ]
        talk = np.concatenate(pieces)[: round(seconds * RATE)]
        return at_level(talk, float(rng.uniform(-25, -15)))


def trials(
    count: int, seed: int, *, announcers: Sequence[Source], people: Sequence[Source]
) -> Iterator[Trial]:
    """``count`` trials, half of them the company's voice again, each down one wide line.

    A person is of another source than the company's voice (a synthesiser's other voices, sped
    up or slowed down as people are, could be its own).
    """
    rng = np.random.default_rng(seed)
    for index in range(count):
        announcer = announcers[int(rng.integers(0, len(announcers)))]
        company = CompanyVoice(announcer, rng)
        menu = company.recording(rng)
        same = index % 2 == 0
        if same:
            voice, speaker = company.recording(rng), announcer.name
        else:
            others = [source for source in people if source != announcer] or list(people)
            person = others[int(rng.integers(0, len(others)))]
            voice, speaker = (
                voice_clip(person, float(rng.uniform(2.5, 5.0)), rng, training=False),
                person.name,
            )
        gap = np.zeros(RATE // 2)
        line = through_channel(np.concatenate((menu, gap, voice)), Channel.wide(rng), rng)
        split = len(menu) + len(gap)
        yield Trial(line[: len(menu)], line[split:], same, announcer.name, speaker)


def probe(voice: Pcm, seconds: float = PROBE_SECONDS) -> Pcm:
    """The first ``seconds`` of a voice from its first word."""
    start = round(first_word(voice) * RATE)
    return voice[start : start + round(seconds * RATE)]


def talk(sources: Sequence[Source], count: int, seconds: float, seed: int) -> Iterator[tuple[Pcm, str]]:
    """``count`` clips of talk, the sources in turn, each down its own wide line: (audio, source)."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        source = sources[index % len(sources)]
        clip = voice_clip(source, seconds, rng, training=True)
        yield through_channel(clip, Channel.wide(rng), rng), source.name


def ranking(same: Sequence[float], other: Sequence[float]) -> float:
    """The share of (same voice, other voice) pairs whose similarities rank the right way round (AUC)."""
    ones = np.asarray(same)[:, None]
    others = np.asarray(other)[None, :]
    return float(np.mean((ones > others) + 0.5 * (ones == others)))


CHECK_SEED: Final = 2026


@functools.cache
def check_trials() -> tuple[Trial, ...]:
    """The fixed check set: 40 trials of the sources CI installs.

    A voice talent's prompts and espeak's voices as the company, real speakers and those as
    people. Its ranking is documented (docs/performance.md, "Voice signature") and a test
    recomputes it: the shipped weights and the feature code must still agree.
    """
    companies = [by_name("asterisk-en-allison"), by_name("espeak-ng-en")]
    return tuple(
        trials(40, CHECK_SEED, announcers=companies, people=[*companies, by_name("codec2-speakers")])
    )


def check_ranking() -> float:
    """The shipped signature's ranking (AUC) of the fixed check set at ``PROBE_SECONDS``."""
    from custom_components.hold_slayer.audio.voice import KnownVoices

    same: list[float] = []
    other: list[float] = []
    for trial in check_trials():
        company = KnownVoices()
        company.learn(trial.menu)
        (same if trial.same else other).append(company.likeness(probe(trial.voice)))
    return ranking(same, other)
