"""Replays: whether a stretch of the line's audio is something the line played before.

A company plays its recordings (an announcement, the hold music) from files, the same samples
each time, and the line carries each play alike: G.711 keeps the waveform, GSM and a lost packet
or two blur it without moving it. So the normalised cross-correlation of a stretch of a replay
with the earlier play peaks near 1, where a voice that never played before (a person picking
up) finds nothing above about one half. The fingerprints and the spectral shape need most of a
second of a replay to tell it; the waveform tells it from a fraction of one
(``docs/performance.md``, "Hold monitor tuning": ``replay_correlation``).

The search is an overlap-save FFT over the whole history, in blocks, so its cost grows with the
history's length, not with its square.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.floating]

# Pre-emphasis, as speech analysis does (y[n] = x[n] - 0.95 x[n-1]): mains hum and the bass of
# music fall 10-25 dB against the voice's formants, so a quiet voice over a humming line is
# compared by its own waveform, not by the hum, which repeats every cycle.
EMPHASIS: Final = 0.95
BLOCK: Final = 16384  # samples per FFT block (about 2 s at 8 kHz)
BLOCKS_AT_ONCE: Final = 32  # blocks transformed together: bounds the memory a search takes
# A history stretch this much quieter than the probe (energy per sample) is digital silence or
# the line's noise floor, where a correlation means nothing.
SILENT: Final = 1e-6


def peak_correlation(history: Floats, probe: Floats) -> float:
    """The highest normalised cross-correlation of ``probe`` with any stretch of ``history``.

    Both are samples of one line (floats), compared pre-emphasised (``EMPHASIS``). 1.0 is the
    same waveform (at any level); 0 for a probe or a history too short or silent to say. The products are single precision (the
    answer is compared with a bar, not summed on), the running sums double.
    """
    if len(probe) < 3 or len(history) < len(probe):
        return 0.0
    history, probe = _emphasised(history), _emphasised(probe)
    size = len(probe)
    centred = np.asarray(probe, dtype=np.float64) - float(np.mean(probe))
    norm = float(np.linalg.norm(centred))
    if norm == 0.0:
        return 0.0
    block = max(BLOCK, 1 << (2 * size - 1).bit_length())
    step = block - size + 1  # lags each block gives without wrapping round
    lags = len(history) - size + 1
    # Each stretch's own energy about its mean, from running sums.
    sums = np.concatenate(([0.0], np.cumsum(history, dtype=np.float64)))
    squares = np.concatenate(([0.0], np.cumsum(np.square(history, dtype=np.float64))))
    floor = SILENT * norm * norm
    spectrum = np.conj(np.fft.rfft(centred.astype(np.float32), block))
    padded = np.zeros((lags + step - 1) // step * step + size - 1, dtype=np.float32)
    padded[: len(history)] = history
    starts = np.arange(0, lags, step)
    windows = np.lib.stride_tricks.sliding_window_view(padded, block)
    best = 0.0
    for first in range(0, len(starts), BLOCKS_AT_ONCE):
        chosen = starts[first : first + BLOCKS_AT_ONCE]
        products = np.fft.irfft(np.fft.rfft(windows[chosen], axis=1) * spectrum, block, axis=1)
        begin = int(chosen[0])
        dots = products[:, :step].ravel()[: lags - begin]
        end = begin + len(dots)
        window_sum = sums[begin + size : end + size] - sums[begin:end]
        spread = squares[begin + size : end + size] - squares[begin:end] - window_sum * window_sum / size
        audible = spread > floor
        if np.any(audible):
            best = max(best, float(np.max(dots[audible] / np.sqrt(spread[audible]))) / norm)
    return min(best, 1.0)


def _emphasised(samples: Floats) -> npt.NDArray[np.float32]:
    """``samples`` with the high frequencies raised (one sample shorter)."""
    signal = np.asarray(samples, dtype=np.float32)
    emphasised: npt.NDArray[np.float32] = signal[1:] - np.float32(EMPHASIS) * signal[:-1]
    return emphasised
