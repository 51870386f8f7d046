"""Hold audio: real music on hold, synthesised piano and pads, silence, comfort noise.

``moh`` plays Debian's ``asterisk-moh-opsound-wav`` tracks (real music, the hardest case for
telling hold from a person) and falls back to the synthesised piano when they are missing.
The synthesised kinds are chord progressions with decaying harmonics and slow envelopes, so
they sound like music rather than test tones. Each kind is rendered once per process.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from custom_components.hold_slayer.voice.pcm import CALL_RATE, Pcm, wav_to_pcm

from .scenario import Music

_LOGGER = logging.getLogger(__name__)

MOH_DIR: Final = Path("/usr/share/asterisk/moh")
LOOP_SECONDS: Final = 32.0  # synthesised music repeats after this long
MUSIC_RMS: Final = 0.07  # about -23 dBFS: a little under the prompts
COMFORT_NOISE_RMS: Final = 0.0015  # about -56 dBFS
# I-vi-IV-V in C, as MIDI notes (a pleasant, familiar progression).
PROGRESSION: Final = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))

Floats = npt.NDArray[np.float64]


def hold_audio(kind: Music, seconds: float) -> Pcm:
    """``seconds`` of hold audio of ``kind`` (looped as needed)."""
    length = round(seconds * CALL_RATE)
    if kind is Music.SILENCE:
        return np.zeros(length, dtype=np.int16)
    loop = _loop(kind)
    repeats = -(-length // len(loop))
    result: Pcm = np.tile(loop, repeats)[:length]
    return result


@functools.cache
def _loop(kind: Music) -> Pcm:
    if kind is Music.MOH:
        tracks = moh_tracks()
        if tracks is not None:
            return tracks
        _LOGGER.warning("No music on hold in %s (asterisk-moh-opsound-wav); synthesising piano", MOH_DIR)
        kind = Music.PIANO
    rng = np.random.default_rng(7)
    if kind is Music.COMFORT_NOISE:
        signal = _pinkish(rng, round(LOOP_SECONDS * CALL_RATE))
        return _to_pcm(signal, COMFORT_NOISE_RMS)
    signal = _piano() if kind is Music.PIANO else _synth()
    return _to_pcm(signal, MUSIC_RMS)


def moh_tracks(directory: Path | None = None) -> Pcm | None:
    """Every track in ``directory`` (:data:`MOH_DIR`) one after another, or None if there are none."""
    directory = directory or MOH_DIR
    files = sorted(directory.glob("*.wav")) if directory.exists() else []
    if not files:
        return None
    audio = np.concatenate([wav_to_pcm(path.read_bytes()) for path in files])
    return _to_pcm(audio.astype(np.float64), MUSIC_RMS)


def _to_pcm(signal: Floats, rms: float) -> Pcm:
    level = float(np.sqrt(np.mean(signal**2))) or 1.0
    scaled = signal / level * rms * 32768
    result: Pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
    return result


def _hz(note: int) -> float:
    return float(440.0 * 2 ** ((note - 69) / 12))


def _piano() -> Floats:
    """Arpeggiated chords: struck notes with decaying harmonics and a soft bass note per bar."""
    bar = 2.0  # seconds: 120 bpm in 4/4
    out = np.zeros(round(LOOP_SECONDS * CALL_RATE))
    step = bar / 8
    for index in range(int(LOOP_SECONDS / bar)):
        chord = PROGRESSION[index % len(PROGRESSION)]
        start = index * bar
        _note(out, start, bar, chord[0] - 12, 0.6, decay=1.2)
        pattern = [chord[0], chord[1], chord[2], chord[1] + 12, chord[2], chord[1], chord[0] + 12, chord[2]]
        for beat, note in enumerate(pattern):
            _note(out, start + beat * step, step * 3, note, 0.35, decay=3.0)
    return out


def _note(out: Floats, start: float, length: float, note: int, gain: float, *, decay: float) -> None:
    begin = round(start * CALL_RATE)
    count = min(round(length * CALL_RATE), len(out) - begin)
    if count <= 0:
        return
    t = np.arange(count) / CALL_RATE
    frequency = _hz(note)
    tone = np.zeros(count)
    for harmonic, weight in ((1, 1.0), (2, 0.45), (3, 0.2), (4, 0.1)):
        if frequency * harmonic < CALL_RATE / 2 - 200:
            tone += weight * np.sin(2 * np.pi * frequency * harmonic * t) * np.exp(-decay * harmonic * t)
    attack = np.minimum(1.0, t / 0.005)
    release = np.minimum(1.0, (length - t) / 0.05)
    out[begin : begin + count] += gain * tone * attack * release


def _synth() -> Floats:
    """Slow pads of detuned voices with a gentle swell, over a walking bass."""
    bar = 4.0
    total = round(LOOP_SECONDS * CALL_RATE)
    out = np.zeros(total)
    for index in range(int(LOOP_SECONDS / bar)):
        chord = PROGRESSION[index % len(PROGRESSION)]
        begin = round(index * bar * CALL_RATE)
        count = round(bar * CALL_RATE)
        t = np.arange(count) / CALL_RATE
        swell = np.sin(np.pi * t / bar) ** 2
        pad = np.zeros(count)
        for note in chord:
            for detune in (-0.004, 0.0, 0.004):
                frequency = _hz(note) * (1 + detune)
                pad += np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(4 * np.pi * frequency * t)
        vibrato = 1 + 0.05 * np.sin(2 * np.pi * 5 * t)
        out[begin : begin + count] += 0.15 * pad * swell * vibrato
        for beat in range(4):
            _note(out, index * bar + beat, 1.0, chord[0] - 12 + (0, 7, 12, 7)[beat], 0.5, decay=2.0)
    return out


def _pinkish(rng: np.random.Generator, length: int) -> Floats:
    """Noise with a gentle low-pass tilt, like a trunk's comfort noise."""
    white = rng.normal(0, 1, length)
    spectrum = np.fft.rfft(white)
    frequencies = np.fft.rfftfreq(length, 1 / CALL_RATE)
    spectrum /= np.sqrt(np.maximum(frequencies, 50.0) / 50.0)
    result: Floats = np.fft.irfft(spectrum, length)
    return result
