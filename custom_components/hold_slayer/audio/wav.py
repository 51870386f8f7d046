"""Read WAV files as 8 kHz mono floats (for script/classify and the benches)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

RATE: Final = 8000


class WavError(ValueError):
    """The file is not a WAV we can read."""


def read_8k(path: Path) -> npt.NDArray[np.float64]:
    """Any PCM WAV (8/16/24/32-bit, mono or more channels, any rate) as 8 kHz mono in -1..1."""
    try:
        with wave.open(str(path), "rb") as source:
            width, channels, rate = source.getsampwidth(), source.getnchannels(), source.getframerate()
            raw = source.readframes(source.getnframes())
    except (wave.Error, EOFError) as err:
        raise WavError(f"{path}: {err}") from err
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        data = np.where(values >= 1 << 23, values - (1 << 24), values).astype(np.float64) / (1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float64) / (1 << 31)
    else:
        raise WavError(f"{path}: unsupported sample width {width}")
    mono = data.reshape(-1, channels).mean(axis=1)
    return resample(mono, rate)


def resample(signal: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """To 8 kHz: band-limit below 3.8 kHz in the frequency domain, then interpolate."""
    if rate == RATE:
        return signal
    if rate <= 0 or len(signal) == 0:
        raise WavError(f"bad sample rate {rate}")
    if rate > RATE:
        # Zero-padded to a length of small factors: a whole track's own length may have a large
        # prime factor, which makes the FFT ten times slower (minutes for a soundtrack).
        padded = _fast_length(len(signal))
        spectrum = np.fft.rfft(signal, padded)
        spectrum[np.fft.rfftfreq(padded, 1 / rate) > 0.475 * RATE] = 0
        signal = np.fft.irfft(spectrum, padded)[: len(signal)]
    positions = np.arange(0, len(signal) - 1, rate / RATE)
    resampled: npt.NDArray[np.float64] = np.interp(positions, np.arange(len(signal)), signal)
    return resampled


def _fast_length(n: int) -> int:
    """The least length ≥ ``n`` whose only prime factors are 2, 3 and 5."""
    best = 1 << (n - 1).bit_length()
    fives = 1
    while fives < best:
        odd = fives
        while odd < best:
            length = odd
            while length < n:
                length *= 2
            best = min(best, length)
            odd *= 3
        fives *= 5
    return best
