"""Labelled clips for the learned classifier, made from :mod:`.sources` and sent down :mod:`.channel`.

Four labels, the model's: ``noise`` (comfort noise as RFC 3389 regenerates it, line hiss, hum),
``music``, ``speech`` (live, recorded and synthetic voices) and ``speech_over_music`` (an
announcement over the hold music). Silence is decided by level and is not the model's. Every
clip names the sources it was made of, so that figures can be split and held out by source.

What varies, and why:
- voices: speed 0.88-1.14x (pitch and formants move together: another speaker), spectral tilt,
  a room (headset or speakerphone reverberation) for a quarter of them, pauses of natural length;
- music: speed and tilt (the timbre of a few albums is not what music is), quiet passages;
- comfort noise: level and spectrum change every 100-800 ms, as a far end's SID frames do;
- the line: :meth:`Channel.wide`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .channel import RATE, Channel, Pcm, coloured_noise, hum, through_channel
from .sources import Kind, Source, by_name, sentences, synthesise

LABELS: Final = ("noise", "music", "speech", "speech_over_music")
# A voice silent for the last 0.4 s of a window has stopped (pauses between words are shorter).
RECENT_FRAMES: Final = 20


@dataclass(frozen=True, slots=True)
class Clip:
    """One labelled clip, after the line, and what it was made of."""

    label: str
    audio: Pcm
    music: str = ""  # the music source's name
    voice: str = ""  # the voice source's name
    voice_kind: str = ""  # :class:`Kind` value of the voice
    line: Channel | None = None  # the line it came down
    voiced: npt.NDArray[np.bool_] | None = None  # per 20 ms frame: the voice is talking (before the line)

    def window_label(self, end: int, recent: int = RECENT_FRAMES) -> str:
        """The label of the window ending at frame ``end``: what the line carries *now*.

        A voice that has said nothing in the window's last ``recent`` frames has stopped (a
        pause, the end of a greeting): speech is then the line's noise, a voice over music is
        the music. Pauses between words are shorter than ``recent`` and stay speech.
        """
        if self.voiced is None or self.voiced[max(0, end - recent) : end].any():
            return self.label
        return {"speech": "noise", "speech_over_music": "music"}.get(self.label, self.label)


def voiced_frames(voice: Pcm, below_peak_db: float = 35.0) -> npt.NDArray[np.bool_]:
    """Per 20 ms frame of a clean voice: within ``below_peak_db`` of its loud frames (95th percentile)."""
    frames = voice[: len(voice) // 160 * 160].reshape(-1, 160)
    levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    active: npt.NDArray[np.bool_] = levels > np.percentile(levels, 95) - below_peak_db
    return active


def rms_db(signal: Pcm) -> float:
    """RMS level in dBFS."""
    return 10 * float(np.log10(np.mean(signal**2) + 1e-12))


def at_level(signal: Pcm, db: float) -> Pcm:
    """``signal`` scaled to an RMS of ``db`` dBFS."""
    scaled: Pcm = signal * 10 ** ((db - rms_db(signal)) / 20)
    return scaled


def resampled(signal: Pcm, speed: float) -> Pcm:
    """Played ``speed`` times as fast (pitch and tempo together), by linear interpolation."""
    out: Pcm = np.interp(np.arange(0, len(signal) - 1, speed), np.arange(len(signal)), signal)
    return out


def tilted(signal: Pcm, db_per_octave: float) -> Pcm:
    """Spectral tilt around 1 kHz."""
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    gain = 10 ** (db_per_octave * np.log2(np.maximum(freqs, 100) / 1000) / 20)
    out: Pcm = np.fft.irfft(np.fft.rfft(signal) * gain, len(signal))
    return out


def room(signal: Pcm, rng: np.random.Generator) -> Pcm:
    """A small room's reverberation: decaying noise after the direct sound (RT60 0.1-0.5 s)."""
    rt60 = float(rng.uniform(0.1, 0.5))
    length = round(rt60 * RATE)
    t = np.arange(length) / RATE
    response = rng.normal(0, 1, length) * 10 ** (-3 * t / rt60) * float(rng.uniform(0.05, 0.3))
    response[0] = 1.0
    size = len(signal) + length
    wet: Pcm = np.fft.irfft(np.fft.rfft(signal, size) * np.fft.rfft(response, size), size)[: len(signal)]
    return wet


def comfort_noise(seconds: float, rng: np.random.Generator) -> Pcm:
    """Noise as an RFC 3389 receiver makes it: white noise through an all-pole spectral envelope.

    The far end sends a new level and envelope (reflection coefficients) when its background
    changes: here every 100-800 ms, the level within ±4 dB of the call's, the envelope drawn
    anew of order 2-10. Shaped in the frequency domain segment by segment, so the steps are as
    abrupt as a new SID frame.
    """
    total = round(seconds * RATE)
    base = float(rng.uniform(-70, -35))
    out = np.zeros(total)
    start = 0
    while start < total:
        length = min(total - start, round(float(rng.uniform(0.1, 0.8)) * RATE))
        order = int(rng.integers(2, 11))
        reflections = rng.uniform(-0.85, 0.85, order) * 0.8 ** np.arange(order)
        lpc = _lpc_from_reflections(reflections)
        size = max(256, 1 << (length - 1).bit_length())
        envelope = 1 / np.abs(np.fft.rfft(lpc, size))
        noise = np.fft.irfft(np.fft.rfft(rng.normal(0, 1, size)) * envelope, size)[:length]
        out[start : start + length] = at_level(noise, base + float(rng.uniform(-4, 4)))
        start += length
    return out


def _lpc_from_reflections(reflections: Pcm) -> Pcm:
    """Prediction polynomial ``1, a1 .. an`` from reflection coefficients (the step-up recursion)."""
    lpc = np.array([1.0])
    for k in reflections:
        padded = np.append(lpc, 0.0)
        lpc = padded + k * padded[::-1]
    return lpc


def noise_clip(seconds: float, rng: np.random.Generator) -> Pcm:
    """Half comfort noise, the rest line hiss of a colour, a fifth of that with mains hum."""
    if rng.random() < 0.5:
        return comfort_noise(seconds, rng)
    length = round(seconds * RATE)
    level = float(rng.uniform(-70, -35))
    hiss = at_level(coloured_noise(length, rng.choice(("white", "pink", "brown")), rng), level)
    if rng.random() < 0.2:
        hiss = hiss + at_level(
            hum(length, float(rng.choice([50.0, 60.0])), rng), level + float(rng.uniform(-6, 6))
        )
    return hiss


def excerpt(track: Pcm, seconds: float, rng: np.random.Generator) -> Pcm:
    """``seconds`` from a random point of ``track`` (looped when shorter)."""
    length = round(seconds * RATE)
    if len(track) <= length:
        return np.resize(track, length)
    start = int(rng.integers(0, len(track) - length))
    return track[start : start + length]


def music_clip(source: Source, seconds: float, rng: np.random.Generator, *, vary: bool) -> Pcm:
    """Music of one source at -30..-18 dBFS; ``vary``: speed, tilt and a quiet passage now and then."""
    tracks = source.recordings()
    speed = float(rng.uniform(0.8, 1.25)) if vary else 1.0
    piece = excerpt(tracks[int(rng.integers(0, len(tracks)))], seconds * speed + 0.01, rng)
    if vary:
        piece = tilted(resampled(piece, speed), float(rng.uniform(-6, 6)))
    level = float(rng.uniform(-30, -18)) - (float(rng.uniform(0, 20)) if vary and rng.random() < 0.3 else 0.0)
    return at_level(_fit(piece, seconds), level)


def voice_clip(source: Source, seconds: float, rng: np.random.Generator, *, training: bool) -> Pcm:
    """Talk of one voice source, pauses between utterances, as another speaker now and then."""
    length = round(seconds * RATE)
    pieces: list[Pcm] = []
    if source.kind is Kind.SYNTHETIC_VOICE:
        voice = source.voices[int(rng.integers(0, len(source.voices)))]
        lines = sentences(source, voice, training=training)
    else:
        recordings = source.recordings()
    while sum(len(piece) for piece in pieces) < length:
        if source.kind is Kind.SYNTHETIC_VOICE:
            utterance = synthesise(source, voice, lines[int(rng.integers(0, len(lines)))])
        else:
            recording = recordings[int(rng.integers(0, len(recordings)))]
            utterance = excerpt(recording, min(len(recording) / RATE, float(rng.uniform(2, 8))), rng)
        pieces += [utterance, np.zeros(round(float(rng.uniform(0.1, 0.7)) * RATE))]
    # Start anywhere in the first utterance: windows must not all begin at an onset.
    talk = np.concatenate(pieces)
    talk = talk[int(rng.integers(0, max(1, len(pieces[0]) // 2))) :]
    speed = float(rng.uniform(0.88, 1.14))
    talk = tilted(resampled(talk, speed), float(rng.uniform(-4, 4)))
    if rng.random() < 0.25:
        talk = room(talk, rng)
    voiced = talk[np.abs(talk) > 0.1 * float(np.max(np.abs(talk)) or 1.0)]
    gain_db = float(rng.uniform(-25, -15)) - rms_db(voiced if len(voiced) else talk)
    return _fit(talk, seconds) * 10 ** (gain_db / 20)


def _fit(signal: Pcm, seconds: float) -> Pcm:
    length = round(seconds * RATE)
    return signal[:length] if len(signal) >= length else np.pad(signal, (0, length - len(signal)))


def _pick(sources: Sequence[Source], rng: np.random.Generator) -> Source:
    """A source, each kind equally likely, then each source of the kind."""
    kinds = sorted({source.kind for source in sources})
    kind = kinds[int(rng.integers(0, len(kinds)))]
    of_kind = [source for source in sources if source.kind is kind]
    return of_kind[int(rng.integers(0, len(of_kind)))]


def clips(
    per_label: int,
    seconds: float,
    seed: int,
    *,
    music: Sequence[Source],
    voices: Sequence[Source],
    training: bool,
) -> Iterator[Clip]:
    """``per_label`` clips of every label, made of the given sources, each down a wide line.

    ``training``: vary the music and let synthetic voices say the training half of their lines.
    """
    rng = np.random.default_rng(seed)
    for label in LABELS:
        for _ in range(per_label):
            music_name = voice_name = voice_kind = ""
            voiced = None
            if label == "noise":
                audio = noise_clip(seconds, rng)
            elif label == "music":
                source = _pick(music, rng)
                audio, music_name = music_clip(source, seconds, rng, vary=training), source.name
            else:
                voice = _pick(voices, rng)
                audio = voice_clip(voice, seconds, rng, training=training)
                voiced, voice_name, voice_kind = voiced_frames(audio), voice.name, voice.kind.value
                if label == "speech_over_music":
                    source = _pick(music, rng)
                    behind = music_clip(source, seconds, rng, vary=training)
                    audio = audio + at_level(behind, rms_db(audio) - float(rng.uniform(4, 16)))
                    music_name = source.name
            line = Channel.wide(rng)
            audio = through_channel(audio, line, rng)
            yield Clip(label, audio, music_name, voice_name, voice_kind, line, voiced)


CHECK_SEED: Final = 2026


@functools.cache
def check_clips() -> tuple[Clip, ...]:
    """The fixed check set: 8 clips of 4 s per label from the sources CI installs.

    Hold music and another game's music, real speakers, a voice talent's prompts and espeak's
    check lines, each down a wide line. Its score is documented (docs/performance.md) and a test
    recomputes it: the shipped weights and the feature code must still agree.
    """
    return tuple(
        clips(
            8,
            4.0,
            CHECK_SEED,
            music=[by_name("asterisk-moh-opsound"), by_name("drascula-music")],
            voices=[by_name("codec2-speakers"), by_name("asterisk-en-allison"), by_name("espeak-ng-en")],
            training=False,
        )
    )


SETTLED_FROM: Final = 8  # decisions: the first at 0.2 s, so the 9th is the first with 1 s heard


def check_score() -> float:
    """Per cent of the fixed check set's decisions (from 1 s on) the shipped model gets right.

    Right means the label of what the line carries at each decision (:meth:`Clip.window_label`).
    """
    from custom_components.hold_slayer.audio.classifier import FrameClassifier
    from custom_components.hold_slayer.audio.tones import FRAME

    right = total = 0
    for clip in check_clips():
        frames = clip.audio[: len(clip.audio) // FRAME * FRAME].reshape(-1, FRAME)
        settled = FrameClassifier().push_block(frames)[SETTLED_FROM:]
        right += sum(d.label.value == clip.window_label(round(d.time * RATE / FRAME)) for d in settled)
        total += len(settled)
    return 100 * right / total
