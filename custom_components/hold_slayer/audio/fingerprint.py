"""Audio fingerprints from spectral-peak landmarks (the Shazam idea, Wang 2003), for telephone audio.

A recorded announcement played again yields the same pairs of spectral peaks at the same
relative times, whatever the level, codec or a few lost packets; different speech — even the
same sentence from another mouth — does not line up. Matching counts landmark hashes that agree
on one time offset.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import FFT_SIZE
from .tones import FRAME, SAMPLE_RATE

HOP: Final = 80  # 10 ms: overlapping frames, so peaks do not depend on where a frame starts
_FREQS: Final = np.fft.rfftfreq(FFT_SIZE, 1 / SAMPLE_RATE)
_LOW_BIN: Final = int(np.searchsorted(_FREQS, 300))
_HIGH_BIN: Final = int(np.searchsorted(_FREQS, 3400))
_WINDOW: Final = np.hanning(FRAME)
PEAKS_PER_FRAME: Final = 2
FREQUENCY_QUANTUM: Final = 1  # bins per hash step (coarser steps collide too often: measured)
TIME_QUANTUM: Final = 1  # hops per hash step
PEAK_FLOOR_DB: Final = 10.0  # above the frame's median
MIN_LEVEL_DB: Final = -60.0  # frames quieter than this carry no landmarks
FAN_OUT: Final = 4  # pairs per anchor peak
TARGET_FRAMES: Final = (2, 24)  # the paired peak lies this many hops later
TARGET_BINS: Final = 24
MIN_LANDMARKS: Final = 30

Floats = npt.NDArray[np.float64]


def frames_of(signal: Floats) -> Floats:
    """Overlapping 20 ms frames every 10 ms."""
    count = max(0, (len(signal) - FRAME) // HOP + 1)
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    framed: Floats = signal[index]
    return framed


def peaks(signal: Floats) -> list[tuple[int, int]]:
    """``(hop, bin)`` of the strongest local spectral maxima of each 10 ms step of ``signal``."""
    block = frames_of(signal)
    if not len(block):
        return []
    spectrum = np.abs(np.fft.rfft(block * _WINDOW, FFT_SIZE, axis=1)) ** 2
    db = 10 * np.log10(spectrum[:, _LOW_BIN:_HIGH_BIN] + 1e-12)
    level = 10 * np.log10(np.mean(block * block, axis=1) + 1e-12)
    interior = np.zeros(db.shape, dtype=bool)
    interior[:, 1:-1] = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:])
    loud = db > np.median(db, axis=1, keepdims=True) + PEAK_FLOOR_DB
    valid = interior & loud & (level >= MIN_LEVEL_DB)[:, None]
    scores = np.where(valid, db, -np.inf)
    strongest = np.argsort(scores, axis=1)[:, ::-1][:, :PEAKS_PER_FRAME]
    rows = np.repeat(np.arange(len(block)), strongest.shape[1])
    columns = strongest.ravel()
    keep = np.isfinite(scores[rows, columns])
    return list(zip(rows[keep].tolist(), (columns[keep] + _LOW_BIN).tolist(), strict=True))


def landmarks(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(hash, anchor frame)`` for peak pairs: the hash packs f1, f2 and the time gap."""
    by_frame: dict[int, list[int]] = defaultdict(list)
    for frame, bin_ in points:
        by_frame[frame].append(bin_)
    result: list[tuple[int, int]] = []
    for frame, bins in by_frame.items():
        for f1 in bins:
            paired = 0
            for gap in range(TARGET_FRAMES[0], TARGET_FRAMES[1] + 1):
                for f2 in by_frame.get(frame + gap, ()):
                    if abs(f2 - f1) <= TARGET_BINS:
                        q1, q2 = f1 // FREQUENCY_QUANTUM, f2 // FREQUENCY_QUANTUM
                        result.append(((q1 << 16) | (q2 << 8) | (gap // TIME_QUANTUM), frame))
                        paired += 1
                if paired >= FAN_OUT:
                    break
    return result


@dataclass(slots=True)
class Fingerprint:
    """The landmarks of one stretch of audio, indexed for matching."""

    index: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    count: int = 0

    @classmethod
    def of(cls, signal: Floats) -> Fingerprint:
        """Fingerprint a stretch of 8 kHz audio (floats in -1..1)."""
        fingerprint = cls()
        for hash_, frame in landmarks(peaks(signal)):
            fingerprint.index[hash_].append(frame)
            fingerprint.count += 1
        return fingerprint

    def match(self, probe: Fingerprint) -> float:
        """Share of the probe's landmarks that line up with ours at one common time offset.

        Probes with few landmarks (near-silence, a pure tone) cannot be told apart: 0.
        """
        if probe.count < MIN_LANDMARKS:
            return 0.0
        offsets: Counter[int] = Counter()
        for hash_, frames in probe.index.items():
            for ours in self.index.get(hash_, ()):
                for theirs in frames:
                    offsets[ours - theirs] += 1
        if not offsets:
            return 0.0
        # Neighbouring offsets are the same alignment seen through a one-hop wobble.
        best = max(offsets[o - 1] + offsets[o] + offsets[o + 1] for o in list(offsets))
        return min(1.0, best / probe.count)
