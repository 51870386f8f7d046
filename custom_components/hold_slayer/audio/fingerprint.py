"""Audio fingerprints for telephone audio: landmarks for the hold monitor, whole prompts for routes.

Landmarks (:class:`Fingerprint`, the Shazam idea, Wang 2003): a recorded announcement played
again yields the same pairs of spectral peaks at the same relative times, whatever the level,
codec or a few lost packets; different speech — even the same sentence from another mouth —
does not line up. Matching counts landmark hashes that agree on one time offset.

Whole prompts (:func:`prompt_fingerprint`, :func:`fingerprint_likeness`): a compact string per
prompt that a learned route keeps, to recognise the recording on the next call
(docs/fingerprint.md).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from .features import FFT_SIZE, log_mel
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

# An envelope's floor (natural log of a band's energy; about a -60 dBFS line): lost packets and
# a digitally silent line are the floor, not detail that must line up.
ENVELOPE_FLOOR: Final = -9.0
FLAT_SPREAD: Final = 0.01  # log mel units per cell: a stretch varying less is flat (silence)

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
    return _kept_peaks(*step_peaks(frames_of(signal)))


def step_peaks(block: Floats) -> tuple[Floats, Ints]:
    """Each 20 ms row's level (dB) and its strongest spectral maxima (bins, strongest first; -1: none).

    A row's peaks depend on that row alone; which rows keep them depends on the stretch
    (:func:`_kept_peaks`).
    """
    if not len(block):
        return np.zeros(0), np.zeros((0, PEAKS_PER_FRAME), dtype=np.int64)
    spectrum = np.abs(np.fft.rfft(block * _WINDOW, FFT_SIZE, axis=1)) ** 2
    db = 10 * np.log10(spectrum[:, _LOW_BIN:_HIGH_BIN] + 1e-12)
    level = 10 * np.log10(np.mean(block * block, axis=1) + 1e-12)
    interior = np.zeros(db.shape, dtype=bool)
    interior[:, 1:-1] = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:])
    loud = db > np.median(db, axis=1, keepdims=True) + PEAK_FLOOR_DB
    scores = np.where(interior & loud, db, -np.inf)
    strongest = np.argsort(scores, axis=1)[:, ::-1][:, :PEAKS_PER_FRAME]
    found = np.isfinite(np.take_along_axis(scores, strongest, axis=1))
    bins: Ints = np.where(found, strongest + _LOW_BIN, -1).astype(np.int64)
    return level, bins


def _kept_peaks(level: Floats, bins: Ints) -> tuple[Ints, Ints]:
    """``(hops, bins)`` of the rows loud enough within their stretch (see ``BELOW_LOUDEST_DB``)."""
    if not len(level):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    floor = max(MIN_LEVEL_DB, float(np.max(level)) - BELOW_LOUDEST_DB)
    keep = (bins >= 0) & (level >= floor)[:, None]
    hops = np.broadcast_to(np.arange(len(bins))[:, None], bins.shape)
    return hops[keep].astype(np.int64), bins[keep]


class StepPeaks:
    """A call's 10 ms steps' spectral peaks, each computed once however many stretches hold it.

    The hold monitor fingerprints overlapping stretches of the same audio (the latest 1.5 s,
    every 0.1 s; then the whole segment as a reference): each step's spectrum is worked out
    the first time and kept, by the step's place in the call, for the latest ``capacity``
    steps. The fingerprints are those of :meth:`Fingerprint.of`.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._steps = np.full(capacity, -1, dtype=np.int64)  # which step each slot holds
        self._levels = np.zeros(capacity)
        self._bins = np.full((capacity, PEAKS_PER_FRAME), -1, dtype=np.int64)

    def fingerprint(self, signal: Floats, first_step: int) -> Fingerprint:
        """:meth:`Fingerprint.of` of ``signal``, which begins at step ``first_step`` of the call."""
        block = frames_of(signal)
        if len(block) > self._capacity:
            return Fingerprint.of(signal)
        steps = first_step + np.arange(len(block))
        slots = steps % self._capacity
        missing = self._steps[slots] != steps
        if missing.any():
            level, bins = step_peaks(block[missing])
            self._levels[slots[missing]] = level
            self._bins[slots[missing]] = bins
            self._steps[slots[missing]] = steps[missing]
        return Fingerprint.of_peaks(*_kept_peaks(self._levels[slots], self._bins[slots]))


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
        return cls.of_peaks(*peaks(signal))

    @classmethod
    def of_peaks(cls, hops: Ints, bins: Ints) -> Fingerprint:
        """The landmarks of peaks found by :func:`peaks`."""
        hashes, frames = landmarks(hops, bins)
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], frames[order])

    @property
    def hops(self) -> int:
        """Hops up to its last landmark's anchor: about how long its audio is."""
        return int(self.frames.max()) + 1 if self.count else 0

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


# -- whole-prompt fingerprints (learned routes) -------------------------------------------------
#
# The landmarks above find a short probe inside a long reference. A learned route needs the
# opposite question — is this whole prompt the one recorded last time? — and a compact string
# it can keep in JSON. Haitsma and Kalker's sub-fingerprints (2002) answer it: band energies of
# overlapping frames, one bit per pair of neighbouring bands saying whether their difference
# grew since the previous frame. The parameters and the measured separation are in
# docs/fingerprint.md.

PRINT_VERSION: Final = 1
PRINT_HOP: Final = 800  # 100 ms between sub-fingerprints
PRINT_WINDOW: Final = 4096  # 512 ms Hann windows: overlapping, so a shifted grid flips few bits
PRINT_BANDS: Final = 17  # log-spaced in the telephone band: 16 bits per frame
PRINT_LOW_HZ: Final = 300.0
PRINT_HIGH_HZ: Final = 3400.0
PRINT_QUIET_DB: Final = 30.0  # frames this far below the prompt's loudest are pauses (all bits 0)
PRINT_FLOOR_DBFS: Final = -60.0  # and any frame quieter than this
PRINT_TRIM_DB: Final = 30.0  # leading and trailing audio this far below the loudest is cut off
PRINT_MAX_SHIFT: Final = 10  # frames (±1 s) searched for the best alignment
PRINT_LAG: Final = 1  # frames between the two band-difference readings a bit compares
PRINT_BAND_FLOOR: Final = 1e-6  # band energies are floored this far below the loudest (-60 dB)
PRINT_SLACK: Final = 5  # frames one prompt may lack at its ends (an endpointer cuts differently)
PRINT_MIN_FRAMES: Final = 8  # under 0.8 s of sound there is nothing to compare: likeness 0
PRINT_MAX_FRAMES: Final = 600  # a prompt's first minute is fingerprinted (bounds what a route keeps)
_TRIM_STEP: Final = 80  # 10 ms: where the prompt starts and ends, to this precision

_PRINT_FREQS: Final = np.fft.rfftfreq(PRINT_WINDOW, 1 / SAMPLE_RATE)
_PRINT_EDGES: Final = np.geomspace(PRINT_LOW_HZ, PRINT_HIGH_HZ, PRINT_BANDS + 1)
_PRINT_BAND_OF: Final = np.searchsorted(_PRINT_EDGES, _PRINT_FREQS, side="right") - 1
_PRINT_WINDOW_SHAPE: Final = np.hanning(PRINT_WINDOW)
_BITS_PER_FRAME: Final = PRINT_BANDS - 1


def _trimmed(signal: Floats) -> Floats:
    """``signal`` without the quiet before its first and after its last loud 10 ms."""
    steps = len(signal) // _TRIM_STEP
    if steps == 0:
        return signal[:0]
    power = np.mean(signal[: steps * _TRIM_STEP].reshape(steps, _TRIM_STEP) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = np.flatnonzero(level >= max(PRINT_FLOOR_DBFS, float(level.max()) - PRINT_TRIM_DB))
    if not len(loud):
        return signal[:0]
    trimmed: Floats = signal[loud[0] * _TRIM_STEP : (loud[-1] + 1) * _TRIM_STEP]
    return trimmed


def _grid_phase(signal: Floats) -> int:
    """Where the frame grid starts, in samples: the circular mean of the amplitude at the hop's period.

    It follows the recording, not where it was cut, so a prompt the endpointer started 0.3 s
    later is framed at the same instants.
    """
    steps = len(signal) // _TRIM_STEP
    if steps == 0:
        return 0
    power = np.mean(signal[: steps * _TRIM_STEP].reshape(steps, _TRIM_STEP) ** 2, axis=1)
    times = (np.arange(steps) + 0.5) * _TRIM_STEP
    turn = np.sum(np.sqrt(power) * np.exp(2j * np.pi * times / PRINT_HOP))
    return round(float(np.angle(turn)) / (2 * np.pi) * PRINT_HOP) % PRINT_HOP


def _sub_fingerprints(signal: Floats) -> npt.NDArray[np.uint16]:
    """One 16-bit word per 100 ms of trimmed audio (frames centred on the hop grid)."""
    signal = _trimmed(signal)
    phase = _grid_phase(signal)
    count = min(PRINT_MAX_FRAMES, (len(signal) - phase) // PRINT_HOP)
    if count < 2:
        return np.zeros(0, dtype=np.uint16)
    padded = np.pad(signal, (PRINT_WINDOW // 2, PRINT_WINDOW))
    index = np.arange(PRINT_WINDOW)[None, :] + phase + PRINT_HOP * np.arange(count)[:, None]
    block = padded[index]
    spectrum = np.abs(np.fft.rfft(block * _PRINT_WINDOW_SHAPE, axis=1)) ** 2
    inside = (_PRINT_BAND_OF >= 0) & (_PRINT_BAND_OF < PRINT_BANDS)
    energy = np.zeros((count, PRINT_BANDS))
    for band in range(PRINT_BANDS):
        energy[:, band] = spectrum[:, inside & (band == _PRINT_BAND_OF)].sum(axis=1)
    total = energy.sum(axis=1)
    level = 10 * np.log10(total / (3 * PRINT_WINDOW * PRINT_WINDOW / 16) + 1e-12)  # ≈ dBFS of the window
    loudest = float(energy.max())
    # Log energies with a floor far below the loudest band: static filters (codecs, band limits)
    # add a constant per band, which the time difference below cancels.
    log_energy = np.log10(energy + loudest * PRINT_BAND_FLOOR)
    difference = log_energy[:, :-1] - log_energy[:, 1:]
    bits = np.zeros((count, _BITS_PER_FRAME), dtype=bool)
    bits[PRINT_LAG:] = (difference[PRINT_LAG:] - difference[:-PRINT_LAG]) > 0
    quiet = level < max(PRINT_FLOOR_DBFS, float(level.max()) - PRINT_QUIET_DB)
    bits[quiet] = False
    weights = (1 << np.arange(_BITS_PER_FRAME)).astype(np.int64)
    words: npt.NDArray[np.uint16] = (bits.astype(np.int64) @ weights).astype(np.uint16)
    return words


def prompt_fingerprint(pcm: npt.NDArray[np.int16]) -> str:
    """A compact fingerprint of one whole prompt (8 kHz int16 mono), as a JSON-safe string.

    Base64 of a version byte and one big-endian 16-bit word per 100 ms of the prompt, its
    leading and trailing quiet cut off (about 260 characters for a 10 s prompt; the first
    minute at most). Silence or under 0.8 s of sound gives a fingerprint that matches nothing.
    """
    return _encoded(_sub_fingerprints(np.asarray(pcm, dtype=np.float64) / 32768))


def _encoded(words: npt.NDArray[np.uint16]) -> str:
    return base64.b64encode(bytes([PRINT_VERSION]) + words.astype(">u2").tobytes()).decode("ascii")


class TimedAudio(Protocol):
    """A stretch of the line's audio and when it started (``voice.endpoint.Utterance`` is one)."""

    @property
    def audio(self) -> npt.NDArray[np.int16]:
        """8 kHz int16 samples."""

    @property
    def start(self) -> float:
        """Seconds on the call's clock."""


def prompt_audio(utterances: Sequence[TimedAudio]) -> npt.NDArray[np.int16]:
    """A prompt's utterances laid out as the line played them: each at its start, silence between.

    The gaps are kept as heard, so the audio does not depend on where the endpointer cut it.
    """
    if not utterances:
        return np.zeros(0, dtype=np.int16)
    first = min(utterance.start for utterance in utterances)
    placed = [
        (round((utterance.start - first) * SAMPLE_RATE), np.asarray(utterance.audio, dtype=np.int16))
        for utterance in utterances
    ]
    audio = np.zeros(max(offset + len(samples) for offset, samples in placed), dtype=np.int16)
    for offset, samples in placed:
        audio[offset : offset + len(samples)] = samples
    return audio


def utterances_fingerprint(utterances: Sequence[TimedAudio]) -> str | None:
    """The fingerprint of the prompt these utterances make up, or ``None`` if too little was heard.

    What a session passes as ``DecisionContext.fingerprint`` and keeps in the route's step: the
    same utterances whose words make the prompt's text.
    """
    words = _sub_fingerprints(prompt_audio(utterances).astype(np.float64) / 32768)
    return _encoded(words) if len(words) >= PRINT_MIN_FRAMES else None


def _decoded(fingerprint: str) -> npt.NDArray[np.int64] | None:
    try:
        raw = base64.b64decode(fingerprint, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw or raw[0] != PRINT_VERSION or len(raw) % 2 != 1:
        return None
    return np.frombuffer(raw[1:], dtype=">u2").astype(np.int64)


def fingerprint_seconds(fingerprint: str) -> float:
    """How much sound a prompt fingerprint covers, in seconds (0 for a malformed one)."""
    words = _decoded(fingerprint)
    return 0.0 if words is None else len(words) * PRINT_HOP / SAMPLE_RATE


def fingerprint_likeness(a: str, b: str) -> float:
    """How surely two prompt fingerprints are the same recording: 0 (unrelated) to 1 (identical).

    The bit agreement at the best alignment within ±1 s, as ``1 - 2 * bit error rate``, over
    the longer prompt's length (what one has and the other lacks counts as chance agreement).
    Fingerprints too short to tell, malformed or of another version give 0.
    """
    first, second = _decoded(a), _decoded(b)
    if first is None or second is None:
        return 0.0
    return _likeness(first, second, max(len(first), len(second)))


def fingerprint_part_likeness(whole: str, part: str, at: float = 0.0) -> float:
    """How surely ``part`` is the recording ``whole`` from ``at`` seconds on (±1 s): 0 to 1.

    As :func:`fingerprint_likeness`, over the length of ``part`` only: what the recording has
    beyond it is not heard (yet). How much of it was heard is the caller's to judge
    (:func:`fingerprint_seconds`).
    """
    first, second = _decoded(whole), _decoded(part)
    if first is None or second is None:
        return 0.0
    begin = max(0, round(at * SAMPLE_RATE / PRINT_HOP))
    return _likeness(first[begin : begin + len(second) + PRINT_MAX_SHIFT], second, len(second))


def _likeness(first: npt.NDArray[np.int64], second: npt.NDArray[np.int64], longest: int) -> float:
    """The bit agreement of two fingerprints at their best alignment, over ``longest`` frames."""
    if min(len(first), len(second)) < PRINT_MIN_FRAMES:
        return 0.0
    best = 0.0
    for shift in range(-PRINT_MAX_SHIFT, PRINT_MAX_SHIFT + 1):
        one = first[max(0, shift) :]
        other = second[max(0, -shift) :]
        overlap = min(len(one), len(other))
        if overlap < PRINT_MIN_FRAMES:
            continue
        differing = (one[:overlap] ^ other[:overlap]).astype(">u2").view(np.uint8)
        errors = int(np.unpackbits(differing).sum())
        agreement = overlap * _BITS_PER_FRAME - 2 * errors  # agreeing minus disagreeing bits
        best = max(best, agreement / (max(overlap, longest - PRINT_SLACK) * _BITS_PER_FRAME))
    return min(1.0, best)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The spectral shape of a stretch of audio: 20 ms frames x 20 log mel bands, less each mean.

    Each frame less its own mean over the bands. A recording played again down the same line
    keeps the shape of its spectrogram, where a codec or lost packets may cost it the exact
    spectral peaks landmarks need; another voice, or other words of the same voice, do not keep
    it. Each frame's level is taken out, not the stretch's: a line's AGC moves the level within a
    stretch, and did that differently on each play.
    """

    mel: Floats

    @classmethod
    def of(cls, rows: Floats) -> Envelope:
        """The envelope of N 20 ms frames (N x 160 floats in -1..1)."""
        return cls.of_mel(log_mel(rows))

    @classmethod
    def of_mel(cls, mel: Floats) -> Envelope:
        """The envelope of N frames' log mel bands (N x 20, as :func:`.features.log_mel` gives)."""
        floored = np.maximum(mel, ENVELOPE_FLOOR)
        return cls(floored - floored.mean(axis=1, keepdims=True))

    def __len__(self) -> int:
        return len(self.mel)

    def likeness(self, probe: Envelope) -> float:
        """The best correlation of ``probe`` with any stretch of ours as long (-1..1; 0 if shorter).

        Pearson's over the whole stretch. A stretch with (next to) no variation, such as digital
        silence, is like nothing: dividing by its vanishing spread would make it like everything.
        """
        length = len(probe)
        if length < 2 or len(self) < length:
            return 0.0
        wanted = probe.mel - probe.mel.mean()  # zero mean: its dot with a stretch needs no centring
        norm = float(np.linalg.norm(wanted))
        if norm < FLAT_SPREAD * np.sqrt(wanted.size):
            return 0.0
        # Sliding sums over every stretch, band by band: no stretch is copied out.
        dots = sum(
            np.correlate(self.mel[:, band], wanted[:, band], mode="valid")
            for band in range(self.mel.shape[1])
        )
        cells = wanted.size
        total = _sliding_sum(self.mel.sum(axis=1), length)
        squares = _sliding_sum((self.mel**2).sum(axis=1), length)
        spread = np.sqrt(np.maximum(squares - total**2 / cells, 0.0))
        flat = spread < FLAT_SPREAD * np.sqrt(cells)
        correlation = np.where(flat, 0.0, np.asarray(dots) / np.maximum(spread * norm, 1e-12))
        return float(np.max(correlation))


def _sliding_sum(values: Floats, length: int) -> Floats:
    """Sums of every ``length`` consecutive values."""
    running = np.concatenate(([0.0], np.cumsum(values)))
    sums: Floats = running[length:] - running[:-length]
    return sums
