"""Audio fingerprints from spectral-peak landmarks (the Shazam idea, Wang 2003), for telephone audio.

A recorded announcement played again yields the same pairs of spectral peaks at the same
relative times, whatever the level, codec or a few lost packets; different speech — even the
same sentence from another mouth — does not line up. Matching counts landmark hashes that agree
on one time offset.
"""

from __future__ import annotations

from dataclasses import dataclass
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
MIN_LEVEL_DB: Final = -60.0  # frames quieter than this carry no landmarks …
# … nor do frames this far below the stretch's loudest: the line's noise between words has
# random peaks that never line up again and would only dilute a match.
BELOW_LOUDEST_DB: Final = 30.0
FAN_OUT: Final = 4  # pairs per anchor peak
TARGET_FRAMES: Final = (2, 24)  # the paired peak lies this many hops later
TARGET_BINS: Final = 24
MIN_LANDMARKS: Final = 30
RUNNER_UP_GAP: Final = 5  # hops: the runner-up alignment lies further than this from the best

Floats = npt.NDArray[np.float64]


def frames_of(signal: Floats) -> Floats:
    """Overlapping 20 ms frames every 10 ms."""
    count = max(0, (len(signal) - FRAME) // HOP + 1)
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    framed: Floats = signal[index]
    return framed


Ints = npt.NDArray[np.int64]


def peaks(signal: Floats) -> tuple[Ints, Ints]:
    """``(hops, bins)`` of the strongest spectral maxima of each 10 ms step of ``signal``.

    In time order, strongest first within a step.
    """
    block = frames_of(signal)
    if not len(block):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    spectrum = np.abs(np.fft.rfft(block * _WINDOW, FFT_SIZE, axis=1)) ** 2
    db = 10 * np.log10(spectrum[:, _LOW_BIN:_HIGH_BIN] + 1e-12)
    level = 10 * np.log10(np.mean(block * block, axis=1) + 1e-12)
    interior = np.zeros(db.shape, dtype=bool)
    interior[:, 1:-1] = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:])
    loud = db > np.median(db, axis=1, keepdims=True) + PEAK_FLOOR_DB
    floor = max(MIN_LEVEL_DB, float(np.max(level)) - BELOW_LOUDEST_DB)
    valid = interior & loud & (level >= floor)[:, None]
    scores = np.where(valid, db, -np.inf)
    strongest = np.argsort(scores, axis=1)[:, ::-1][:, :PEAKS_PER_FRAME]
    rows = np.repeat(np.arange(len(block)), strongest.shape[1])
    columns = strongest.ravel()
    keep = np.isfinite(scores[rows, columns])
    return rows[keep].astype(np.int64), (columns[keep] + _LOW_BIN).astype(np.int64)


def landmarks(frames: Ints, bins: Ints) -> tuple[Ints, Ints]:
    """``(hashes, anchor frames)`` of peak pairs: a hash packs f1, f2 and the time gap.

    Each anchor pairs with the first ``FAN_OUT`` peaks (in time order) 2-24 hops later and
    within ``TARGET_BINS``; all pairs at once, as an anchors x distances table (listed by
    distance, then anchor).
    """
    count = len(frames)
    reach = min((TARGET_FRAMES[1] + 1) * PEAKS_PER_FRAME, count)
    if reach < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = np.arange(count)[:, None]
    second = first + np.arange(1, reach)[None, :]
    inside = second < count
    second = np.minimum(second, count - 1)
    gap = frames[second] - frames[first]
    ok = inside & (gap >= TARGET_FRAMES[0]) & (gap <= TARGET_FRAMES[1])
    ok &= np.abs(bins[second] - bins[first]) <= TARGET_BINS
    ok &= np.cumsum(ok, axis=1) <= FAN_OUT  # the first FAN_OUT targets of each anchor
    anchors, targets = np.nonzero(ok.T)[::-1]
    ends = second[anchors, targets]
    q1 = bins[anchors] // FREQUENCY_QUANTUM
    q2 = bins[ends] // FREQUENCY_QUANTUM
    hashes: Ints = (q1 << 16) | (q2 << 8) | (gap[anchors, targets] // TIME_QUANTUM)
    return hashes, frames[anchors]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The landmarks of one stretch of audio, sorted by hash for matching."""

    hashes: Ints
    frames: Ints

    @property
    def count(self) -> int:
        """Number of landmarks."""
        return len(self.hashes)

    @classmethod
    def of(cls, signal: Floats) -> Fingerprint:
        """Fingerprint a stretch of 8 kHz audio (floats in -1..1)."""
        hashes, frames = landmarks(*peaks(signal))
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], frames[order])

    def window(self, first: int, last: int) -> Fingerprint:
        """The landmarks anchored at hops ``first`` to ``last`` (exclusive): part of a probe."""
        keep = (self.frames >= first) & (self.frames < last)
        return Fingerprint(self.hashes[keep], self.frames[keep])

    def match(self, probe: Fingerprint) -> float:
        """How much better the probe lines up with us at one time offset than at any other.

        A share of the probe's landmarks (the second of :meth:`scores`).
        """
        return self.scores(probe)[1]

    def scores(self, probe: Fingerprint) -> tuple[float, float]:
        """``(aligned, distinct)`` shares of the probe's landmarks.

        Aligned: those that line up with ours at the best time offset; distinct: how far that
        exceeds the runner-up offset.

        Speech is repetitive (the same vowel harmonics recur), so against a long reference
        other speech also lines up at some offset by chance — aligned up to ~0.6 — but about
        as well at several; distinct leaves 0.6-1.0 for the same audio and under 0.3 for
        other speech (measured on 0.6 s probes against 20 s references). Probes with few
        landmarks (near-silence, a pure tone) cannot be told apart: 0.
        """
        if probe.count < MIN_LANDMARKS or self.count == 0:
            return 0.0, 0.0
        low = np.searchsorted(self.hashes, probe.hashes, side="left")
        high = np.searchsorted(self.hashes, probe.hashes, side="right")
        counts = high - low
        total = int(counts.sum())
        if total == 0:
            return 0.0, 0.0
        # Every (probe landmark, our landmark) pair with the same hash, as index arrays.
        starts = np.repeat(low, counts)
        steps = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        offsets = self.frames[starts + steps] - np.repeat(probe.frames, counts)
        histogram = np.bincount(offsets - offsets.min() + 1, minlength=int(offsets.max() - offsets.min()) + 3)
        # Neighbouring offsets are the same alignment seen through a one-hop wobble.
        smoothed = histogram[:-2] + histogram[1:-1] + histogram[2:]
        best = int(np.argmax(smoothed))
        peak = int(smoothed[best])
        smoothed[max(0, best - RUNNER_UP_GAP) : best + RUNNER_UP_GAP + 1] = 0
        return min(1.0, peak / probe.count), min(1.0, (peak - int(smoothed.max())) / probe.count)
