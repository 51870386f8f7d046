"""A labelled telephone-audio corpus, generated from real recordings in Debian packages.

Sources (installed by script/setup; nothing here is committed audio):
- hold music: ``asterisk-moh-opsound-wav`` (/usr/share/asterisk/moh)
- other music: ``drascula-music`` (a game's 31 instrumental tracks, Ogg Vorbis, decoded by
  ``oggdec`` from ``vorbis-tools``). The classifier is never fitted to it: holds with this
  music show the hold monitor on music the model has not learned, like a company's own hold
  music would be
- recorded IVR prompts and announcements: ``asterisk-core-sounds-en-wav``
- real human speech: ``codec2-examples`` (/usr/share/codec2/raw)
- synthetic voices: ``espeak-ng``; tones synthesised from their published plans

Every source is assigned to the *tune* or the *test* half by file, so benchmarks score on
recordings the classifier was never fitted to. Clips pass through a telephone channel model:
band-pass 300-3400 Hz, level change, background noise, G.711, packet loss (harness/channel.py).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from custom_components.hold_slayer.audio.tones import AM_DEPTH, ToneSpec
from custom_components.hold_slayer.audio.wav import read_8k
from harness.channel import Channel, through_channel
from harness.labelled_audio import excerpt
from harness.sources import trimmed

RATE: Final = 8000
MOH_DIR: Final = Path("/usr/share/asterisk/moh")
OTHER_MUSIC_DIR: Final = Path("/usr/share/scummvm/drascula/audio")
PROMPTS_DIR: Final = Path("/usr/share/asterisk/sounds/en")
CODEC2_DIR: Final = Path("/usr/share/codec2/raw")
# Real speakers in codec2-examples (8 kHz s16 raw); radio and test-signal files are left out.
HUMAN_FILES: Final = (
    "hts1.raw",
    "hts2.raw",
    "forig.raw",
    "morig.raw",
    "mmt1.raw",
    "kristoff.raw",
    "big_dog.raw",
    "hts1a.raw",
    "hts2a.raw",
    "f2400.raw",
    "m2400.raw",
    "cq_ref.raw",
)
ESPEAK_VOICES: Final = ("en-us", "en", "en-us+f3", "en+m3", "en-us+m5", "en+f4")
CACHE: Final = Path(__file__).resolve().parent.parent / ".cache" / "corpus"

Split = Literal["tune", "test"]
Pcm = npt.NDArray[np.float64]  # floats in -1..1 at 8 kHz


class CorpusSourceMissingError(RuntimeError):
    """A Debian package with source audio is not installed: run script/setup."""


def _half(name: str) -> Split:
    """A stable assignment of a source file to one half."""
    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "test"


def _read_wav(path: Path) -> Pcm:
    with wave.open(str(path), "rb") as source:
        if source.getframerate() != RATE or source.getsampwidth() != 2 or source.getnchannels() != 1:
            raise ValueError(f"{path}: expected 8 kHz 16-bit mono")
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32768


def _files(directory: Path, pattern: str, package: str) -> list[Path]:
    files = sorted(directory.glob(pattern))
    if not files:
        raise CorpusSourceMissingError(f"{directory} is empty: apt-get install {package} (script/setup)")
    return files


@functools.cache
def music_tracks(split: Split) -> tuple[Pcm, ...]:
    """Hold-music tracks of one half (tune: 3 tracks, test: 2)."""
    files = _files(MOH_DIR, "*.wav", "asterisk-moh-opsound-wav")
    chosen = files[:3] if split == "tune" else files[3:]
    return tuple(_read_wav(path) for path in chosen)


@functools.cache
def other_music(split: Split) -> tuple[Pcm, ...]:
    """Music the classifier was never fitted to, at 8 kHz (decoded once, cached).

    Tune: the odd-numbered tracks (16, 22 minutes); test: the even-numbered ones (15, 24 minutes).
    """
    by_number = sorted(
        _files(OTHER_MUSIC_DIR, "*.ogg", "drascula-music"), key=lambda path: (len(path.stem), path.stem)
    )
    return tuple(
        _made_by(
            ["/usr/bin/oggdec", "-Q", "-o", _OUT, str(path)],
            CACHE / f"music-{path.stem}.wav",
            lambda decoded: np.clip(np.round(read_8k(decoded) * 32768), -32768, 32767).astype("<i2"),
            "oggdec is not installed: apt-get install vorbis-tools",
        )
        for path in (by_number[0::2] if split == "tune" else by_number[1::2])
    )


_OUT: Final = "{out}"  # where a program's WAV goes, in its command line


def _made_by(
    command: list[str], cached: Path, to_8k: Callable[[Path], npt.NDArray[np.int16]], missing: str
) -> Pcm:
    """``cached`` (8 kHz 16-bit mono), made once.

    ``command`` writes a WAV where its ``_OUT`` argument says; ``to_8k`` converts that WAV.
    """
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # Made beside the cache and renamed into place: test workers may make the same file at once.
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            made = Path(tmp) / "out.wav"
            try:
                subprocess.run(  # noqa: S603 - fixed programs, our own arguments
                    [str(made) if part == _OUT else part for part in command], check=True
                )
            except FileNotFoundError as err:
                raise CorpusSourceMissingError(missing) from err
            ready = Path(tmp) / "ready.wav"
            with wave.open(str(ready), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(RATE)
                out.writeframes(to_8k(made).tobytes())
            ready.replace(cached)
    return _read_wav(cached)


@functools.cache
def prompts(split: Split) -> tuple[Pcm, ...]:
    """Recorded IVR prompts and announcements of one half (one professional voice)."""
    files = _files(PROMPTS_DIR, "*.wav", "asterisk-core-sounds-en-wav")
    return tuple(trimmed(_read_wav(path)) for path in files if _half(path.name) == split)


@functools.cache
def human_speech(split: Split) -> tuple[Pcm, ...]:
    """Recordings of real people (codec2-examples), by file half."""
    found = [CODEC2_DIR / name for name in HUMAN_FILES if (CODEC2_DIR / name).exists()]
    if not found:
        raise CorpusSourceMissingError(f"{CODEC2_DIR} has no speech: apt-get install codec2-examples")
    chosen = found[0::2] if split == "tune" else found[1::2]
    return tuple(np.fromfile(path, dtype="<i2").astype(np.float64) / 32768 for path in chosen)


def espeak(text: str, voice: str) -> Pcm:
    """Speech synthesised by espeak-ng (cached), resampled to 8 kHz by espeak itself."""
    key = hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:16]

    def to_8k(raw: Path) -> npt.NDArray[np.int16]:
        with wave.open(str(raw), "rb") as source:
            rate = source.getframerate()
            data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.float64)
        resampled = np.interp(np.arange(0, len(data), rate / RATE), np.arange(len(data)), data)
        samples: npt.NDArray[np.int16] = np.clip(resampled, -32768, 32767).astype("<i2")
        return samples

    return _made_by(
        ["/usr/bin/espeak-ng", "-v", voice, "-s", "160", "-w", _OUT, text],
        CACHE / f"espeak-{key}.wav",
        to_8k,
        "espeak-ng is not installed (script/setup)",
    )


# -- labelled clips -----------------------------------------------------------------------------

LABELS: Final = ("silence", "noise", "music", "speech", "speech_over_music")


def _speech(split: Split, seconds: float, rng: np.random.Generator) -> Pcm:
    """Speech of about ``seconds``: real people, recorded prompts or espeak voices."""
    kind = rng.integers(0, 3)
    if kind == 0:
        return _normalise(
            excerpt(human_speech(split)[int(rng.integers(0, len(human_speech(split))))], seconds, rng)
        )
    if kind == 1:
        pieces: list[Pcm] = []
        pool = prompts(split)
        while sum(len(p) for p in pieces) < seconds * RATE:
            pieces += [pool[int(rng.integers(0, len(pool)))], np.zeros(int(rng.integers(400, 2400)))]
        return _normalise(np.concatenate(pieces)[: round(seconds * RATE)])
    voices = ESPEAK_VOICES[0::2] if split == "tune" else ESPEAK_VOICES[1::2]
    sentences = TUNE_SENTENCES if split == "tune" else TEST_SENTENCES
    text = sentences[int(rng.integers(0, len(sentences)))]
    return _normalise(
        np.resize(espeak(text, voices[int(rng.integers(0, len(voices)))]), round(seconds * RATE))
    )


def _normalise(signal: Pcm, rms_db: float = -20.0) -> Pcm:
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    return signal * (10 ** (rms_db / 20) / rms)


def clip(label: str, split: Split, seconds: float, rng: np.random.Generator) -> Pcm:
    """A clean clip of one label (before the channel)."""
    if label == "silence":
        return np.zeros(round(seconds * RATE))
    if label == "noise":  # comfort noise: low, stationary, slightly coloured
        white = rng.normal(0, 1, round(seconds * RATE))
        coloured = np.convolve(white, [1.0, 0.5, 0.25], "same").astype(np.float64)
        return _normalise(coloured, float(rng.uniform(-60, -45)))
    tracks = music_tracks(split)
    if label == "music":
        return _normalise(
            excerpt(tracks[int(rng.integers(0, len(tracks)))], seconds, rng), float(rng.uniform(-26, -16))
        )
    if label == "speech":
        return _speech(split, seconds, rng)
    if label == "speech_over_music":
        music = _normalise(excerpt(tracks[int(rng.integers(0, len(tracks)))], seconds, rng), -30)
        return _speech(split, seconds, rng) + music
    raise ValueError(label)


VARIED_LABELS: Final = ("music", "speech", "speech_over_music")


def varied(signal: Pcm, rng: np.random.Generator) -> Pcm:
    """The clip played 0.8-1.25x as fast, tilted ±6 dB/octave, and 0-20 dB quieter.

    Speed changes pitch and tempo together. For training only: five hold-music tracks are
    few, and a model fitted to three of them learns their timbre. Varying speed and spectral
    tilt makes it learn what music does instead. The level drop stands for quiet passages:
    clips are normalised one by one, but a track's soft intro plays 20-30 dB below its chorus,
    near the line's noise, where a model that never heard it there takes it for a voice.
    """
    speed = float(rng.uniform(0.8, 1.25))
    faster = np.interp(np.arange(0, len(signal) - 1, speed), np.arange(len(signal)), signal)
    freqs = np.fft.rfftfreq(len(faster), 1 / RATE)
    tilt = 10 ** (float(rng.uniform(-6, 6)) * np.log2(np.maximum(freqs, 100) / 1000) / 20)
    tilted: Pcm = np.fft.irfft(np.fft.rfft(faster) * tilt, len(faster))
    level = 10 * np.log10(float(np.mean(signal**2)) + 1e-12)
    return _normalise(tilted, level - float(rng.uniform(0, 20)))


def labelled_clips(
    split: Split, per_label: int, seconds: float, seed: int, *, vary: float = 0.0
) -> Iterator[tuple[str, Pcm]]:
    """``per_label`` clips of every label, each through a random channel.

    ``vary``: the share of music and speech clips passed through :func:`varied` first.
    """
    rng = np.random.default_rng(seed)
    for label in LABELS:
        for _ in range(per_label):
            channel = Channel.random(rng) if label != "silence" else Channel(noise_db=-90.0)
            if label in VARIED_LABELS and vary:
                # Cut after varying: a faster clip comes out shorter.
                signal = clip(label, split, seconds * 1.3, rng)
                if rng.random() < vary:
                    signal = varied(signal, rng)
                signal = signal[: round(seconds * RATE)]
            else:
                signal = clip(label, split, seconds, rng)
            yield label, through_channel(signal, channel, rng)


TUNE_SENTENCES: Final = (
    "Hello, thanks for holding, this is Maria, how can I help you today?",
    "Good afternoon, you are speaking with James in the billing department.",
    "Sorry about the wait. Can I have your account number, please?",
    "Thank you for calling, my name is Alex. What can I do for you?",
)
TEST_SENTENCES: Final = (
    "Hi there, this is Sarah from customer care, who am I speaking with?",
    "Thanks for your patience. I can help you with that right now.",
    "Good morning, technical support, this is Daniel speaking.",
    "Hello, are you still there? I have your file open in front of me.",
)


# -- call-progress tones ------------------------------------------------------------------------


def progress_tone(
    spec: ToneSpec,
    seconds: float,
    rng: np.random.Generator,
    *,
    offset: float = 0.0,
    rectified: bool = False,
    pitch: float = 1.0,
    tempo: float = 1.0,
) -> Pcm:
    """A country's tone from its table entry, ``offset`` seconds into its cadence, peak 1.

    Each sine starts at a random phase. ``rectified``: amplitude modulation as Asterisk's
    generator makes it (the carrier times the modulator's absolute value, side bands at twice
    the rate) instead of the plans' sinusoidal 90 % modulation. ``pitch`` scales every
    frequency (an exchange's oscillator off by some per cent), ``tempo`` every period of the
    cadence (its timer), ``offset`` included.
    """
    t = np.arange(round(seconds * RATE)) / RATE
    edges = np.cumsum(spec.cadence) * tempo
    period = np.searchsorted(edges, (t + offset) % edges[-1], side="right")
    signal = np.zeros(len(t))
    for on in range(0, len(spec.cadence), 2):
        sound = spec.sounds[on // 2]
        phases = rng.uniform(0, 2 * np.pi, len(sound.frequencies) + 1)
        frequencies = np.asarray(sound.frequencies) * pitch
        wave = np.sin(2 * np.pi * np.outer(t, frequencies) + phases[:-1]).sum(axis=1)
        wave /= len(sound.frequencies)
        if sound.modulation is not None:
            modulator = 2 * np.pi * sound.modulation * pitch * t + phases[-1]
            wave *= (
                np.abs(np.sin(modulator))
                if rectified
                else (1 + AM_DEPTH * np.cos(modulator)) / (1 + AM_DEPTH)
            )
        signal += np.where(period == on, wave, 0.0)
    return signal


# How far real lines take a tone from its plan: an exchange's (or analogue gateway's) oscillator
# off by up to 1.5 %, its cadence timer by up to 5 % (at 10 % some countries' kinds overlap:
# 0.25/0.25 congestion 10 % slow is 0.3/0.3 busy 10 % fast, which no detector can tell apart);
# the level ±20 dB around -13 dBFS (peaks above full scale clip); line noise up to 15 dB below.
TONE_PITCH_ERROR: Final = 0.015
TONE_TEMPO_ERROR: Final = 0.05
TONE_LEVEL_DB: Final = 20.0
TONE_MIN_SNR_DB: Final = 15.0
TONE_MAX_SNR_DB: Final = 45.0


class DegradedTone(NamedTuple):
    """A tone as a line brought it (see :func:`degraded_progress_tone`)."""

    signal: Pcm
    lead: float  # seconds before its first whole cycle starts
    tempo: float  # how much longer than the plan each period is (1.1: 10 % slow)


def degraded_progress_tone(
    spec: ToneSpec, after: float, rng: np.random.Generator, *, rectified: bool = False
) -> DegradedTone:
    """A country's tone as a line may bring it: the audio, when its first whole cycle starts, its tempo.

    The clip starts at a random point of the cadence and runs ``after`` (in the plan's seconds,
    scaled by the tempo) past the start of the first cycle heard from its beginning (one that
    starts within the first 40 ms is not: the detector cannot know it heard the start). The
    tone's frequencies are off by up to ±1.5 % and its periods by up to ±5 %; it then goes
    through a wide line (``channel.Channel.wide``: band edges, G.711 or GSM, hum, AGC, up to
    10 % of packets lost in bursts, concealed by silence or by repeating the last one) at
    -13 dBFS ±20 dB, with noise 15-45 dB below the tone.
    """
    pitch = 1 + float(rng.uniform(-TONE_PITCH_ERROR, TONE_PITCH_ERROR))
    tempo = 1 + float(rng.uniform(-TONE_TEMPO_ERROR, TONE_TEMPO_ERROR))
    cycle = sum(spec.cadence) * tempo
    offset = float(rng.uniform(0, cycle))
    lead = (cycle - offset) % cycle
    if lead < 2 * 160 / RATE:
        lead += cycle
    clean = progress_tone(
        spec, lead + after * tempo, rng, offset=offset, rectified=rectified, pitch=pitch, tempo=tempo
    )
    level_db = float(rng.uniform(-TONE_LEVEL_DB, TONE_LEVEL_DB))
    # -13 dBFS peak, measured on the band-limited tone the line carries.
    amplitude = 0.3 * 10 ** (level_db / 20)
    tone_db = 20 * np.log10(amplitude * np.sqrt(np.mean(clean[clean != 0] ** 2)))
    wide = Channel.wide(rng)
    line = dataclasses.replace(
        wide,
        level_db=level_db,
        noise_db=float(tone_db - rng.uniform(TONE_MIN_SNR_DB, TONE_MAX_SNR_DB)),
    )
    signal = through_channel(0.3 * clean, line, rng)
    return DegradedTone(signal, lead, tempo)
