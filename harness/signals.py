"""Test signals and how to find them again in what a peer received."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000


def noise(seconds: float, seed: int, level: float = 3000) -> npt.NDArray[np.int16]:
    """Reproducible white noise: every 20 ms of it is unique, so alignment is unambiguous."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, level, round(seconds * RATE)).clip(-32768, 32767).astype(np.int16)


def best_alignment(received: npt.NDArray[np.int16], source: npt.NDArray[np.int16]) -> tuple[float, int]:
    """Where ``source`` best matches inside ``received``: ``(correlation, offset)``.

    Uses the first second of ``source`` as the probe and FFT cross-correlation.
    """
    probe = source[: min(len(source), RATE)].astype(np.float64)
    data = received.astype(np.float64)
    if len(data) < len(probe):
        return 0.0, 0
    size = 1 << int(np.ceil(np.log2(len(data) + len(probe))))
    spectrum = np.fft.rfft(data, size) * np.conj(np.fft.rfft(probe, size))
    scores = np.fft.irfft(spectrum, size)[: len(data) - len(probe) + 1]
    offset = int(np.argmax(scores))
    window = data[offset : offset + len(probe)]
    if np.std(window) == 0:
        return 0.0, offset
    return float(np.corrcoef(window, probe)[0, 1]), offset


def tone_power(samples: npt.NDArray[np.int16], frequency: float) -> float:
    """Relative power of one frequency (Goertzel), normalised by the signal energy."""
    x = samples.astype(np.float64)
    n = np.arange(len(x))
    component = np.abs(np.sum(x * np.exp(-2j * np.pi * frequency * n / RATE))) ** 2
    energy = float(np.sum(x**2)) * len(x)
    return float(component / energy) if energy else 0.0
