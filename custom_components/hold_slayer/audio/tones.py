"""Tone detectors on 20 ms frames at 8 kHz: DTMF (ITU-T Q.23/Q.24) and call-progress tones.

Both use the Goertzel algorithm — the DFT at a handful of frequencies — as a matrix product,
which is all the spectral resolution they need and costs a few microseconds per frame.
Call-progress tones are recognised by their frequencies *and* their cadence (on/off pattern),
because a single 425 Hz burst is ringback in Germany, busy in Italy and a note in hold music.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 8000
FRAME: Final = 160
FRAME_SECONDS: Final = FRAME / SAMPLE_RATE

DTMF_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
DTMF_COLUMNS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_KEYS: Final = ("123A", "456B", "789C", "*0#D")

Samples = npt.NDArray[np.float64]


def goertzel_bank(frequencies: Sequence[float], length: int = FRAME) -> npt.NDArray[np.complex128]:
    """The ``len(frequencies) x length`` DFT basis; ``basis @ frame`` gives each bin's phasor."""
    n = np.arange(length)
    return np.exp(-2j * np.pi * np.outer(np.asarray(frequencies), n) / SAMPLE_RATE)


# -- DTMF --------------------------------------------------------------------------------------

_DTMF_BASIS: Final = goertzel_bank(DTMF_ROWS + DTMF_COLUMNS)
# Q.24 as implemented by most receivers: each tone within ±1.5 % (our bins are exact) and at
# most 8 dB reverse / 4 dB normal twist; both tones clearly above everything else in the band.
DTMF_MAX_NORMAL_TWIST_DB: Final = 4.0
DTMF_MAX_REVERSE_TWIST_DB: Final = 8.0
DTMF_MIN_LEVEL: Final = 1e-4  # frame mean square in (int16/32768)^2: about -40 dBFS
DTMF_MIN_SHARE: Final = 0.7  # share of the frame's energy in the two tones
DTMF_MIN_DOMINANCE_DB: Final = 8.0  # over the next-strongest row/column


def dtmf_key(frame: Samples) -> str | None:
    """The key whose two tones this frame holds, or ``None`` (frame: floats in -1..1)."""
    return dtmf_keys(frame[None, :])[0]


def dtmf_keys(block: Samples) -> list[str | None]:
    """:func:`dtmf_key` for each row of an N x 160 block (one matrix product for all)."""
    energies = np.einsum("ij,ij->i", block, block)
    powers = np.abs(block @ _DTMF_BASIS.T) ** 2 * (2.0 / block.shape[1])  # sine a → a²·N/2
    # Cheap screen first: most frames are not loud two-tone frames.
    strongest = powers[:, :4].max(axis=1) + powers[:, 4:].max(axis=1)
    possible = (energies / block.shape[1] >= DTMF_MIN_LEVEL) & (strongest >= DTMF_MIN_SHARE * energies)
    keys: list[str | None] = [None] * len(block)
    for index in map(int, np.flatnonzero(possible)):
        keys[index] = _key_from_powers(powers[index])
    return keys


def _key_from_powers(power: Samples) -> str | None:
    """Twist and dominance checks for a frame that passed the level and share screen."""
    rows, columns = power[:4], power[4:]
    row, column = int(np.argmax(rows)), int(np.argmax(columns))
    low, high = max(float(rows[row]), 1e-20), max(float(columns[column]), 1e-20)
    twist_db = 10 * np.log10(high / low)
    if twist_db > DTMF_MAX_NORMAL_TWIST_DB or twist_db < -DTMF_MAX_REVERSE_TWIST_DB:
        return None
    second_row = float(np.sort(rows)[-2])
    second_column = float(np.sort(columns)[-2])
    if 10 * np.log10(low / max(second_row, 1e-12)) < DTMF_MIN_DOMINANCE_DB:
        return None
    if 10 * np.log10(high / max(second_column, 1e-12)) < DTMF_MIN_DOMINANCE_DB:
        return None
    return DTMF_KEYS[row][column]


@dataclass(slots=True)
class DtmfDetector:
    """Turns per-frame keys into digits: a key must last 40 ms (two frames), gaps 20 ms."""

    _current: str | None = None
    _frames: int = 0
    _reported: bool = False

    def push(self, frame: Samples) -> str | None:
        """Feed one frame; return a digit the moment it is confirmed."""
        return self.push_key(dtmf_key(frame))

    def push_key(self, key: str | None) -> str | None:
        """Feed one frame's key (from :func:`dtmf_keys`); return a confirmed digit."""
        if key != self._current:
            self._current, self._frames, self._reported = key, 0, False
        if key is None:
            return None
        self._frames += 1
        if self._frames >= 2 and not self._reported:
            self._reported = True
            return key
        return None

    @property
    def active(self) -> bool:
        """Whether a key is sounding now."""
        return self._current is not None


# -- call-progress tones -----------------------------------------------------------------------


class ToneKind(StrEnum):
    """What a call-progress tone means."""

    RINGBACK = "ringback"
    BUSY = "busy"
    REORDER = "reorder"
    SIT = "sit"


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """A tone as a country's network plays it: frequencies and on/off cadence in seconds."""

    name: str
    kind: ToneKind
    frequencies: tuple[float, ...]
    cadence: tuple[float, ...]  # on, off, on, off …


# From the published national plans as collected in Asterisk's indications.conf.
TONES: Final = (
    ToneSpec("us ringback", ToneKind.RINGBACK, (440, 480), (2.0, 4.0)),
    ToneSpec("uk ringback", ToneKind.RINGBACK, (400, 450), (0.4, 0.2, 0.4, 2.0)),
    ToneSpec("au ringback", ToneKind.RINGBACK, (400, 450), (0.4, 0.2, 0.4, 2.0)),
    ToneSpec("eu ringback", ToneKind.RINGBACK, (425,), (1.0, 4.0)),  # de, nl, it, at, ch, se …
    ToneSpec("fr ringback", ToneKind.RINGBACK, (440,), (1.5, 3.5)),
    ToneSpec("es ringback", ToneKind.RINGBACK, (425,), (1.5, 3.0)),
    ToneSpec("jp ringback", ToneKind.RINGBACK, (400,), (1.0, 2.0)),
    ToneSpec("us busy", ToneKind.BUSY, (480, 620), (0.5, 0.5)),
    ToneSpec("eu busy", ToneKind.BUSY, (425,), (0.5, 0.5)),
    ToneSpec("uk busy", ToneKind.BUSY, (400,), (0.375, 0.375)),
    ToneSpec("jp busy", ToneKind.BUSY, (400,), (0.5, 0.5)),
    ToneSpec("us reorder", ToneKind.REORDER, (480, 620), (0.25, 0.25)),
    ToneSpec("eu congestion", ToneKind.REORDER, (425,), (0.2, 0.2)),
    ToneSpec("uk congestion", ToneKind.REORDER, (400,), (0.4, 0.35, 0.225, 0.525)),
)
SIT_FREQUENCIES: Final = (913.8, 985.2, 1370.6, 1428.5, 1776.7)  # Q.35 segments, low and high
# A 40 ms window resolves 25 Hz: enough to tell 440+480 apart and 425 from 400.
PROGRESS_WINDOW: Final = 2 * FRAME
_TONE_SETS: Final = tuple(sorted({tone.frequencies for tone in TONES} | {(f,) for f in SIT_FREQUENCIES}))
_PROGRESS_FREQUENCIES: Final = tuple(sorted({f for tone_set in _TONE_SETS for f in tone_set}))
_PROGRESS_BASIS: Final = goertzel_bank(_PROGRESS_FREQUENCIES, PROGRESS_WINDOW)
_SET_INDEXES: Final = tuple(
    tuple(_PROGRESS_FREQUENCIES.index(f) for f in tone_set) for tone_set in _TONE_SETS
)
TONE_MIN_LEVEL: Final = 3e-5  # about -45 dBFS
TONE_MIN_SHARE: Final = 0.75
CADENCE_TOLERANCE: Final = 0.25  # ±25 % per segment, plus one frame
MIN_SEGMENTS: Final = 3


_BY_CADENCE_LENGTH: Final = tuple(sorted(TONES, key=lambda spec: -len(spec.cadence)))


def tone_frequencies(window: Samples) -> tuple[float, ...] | None:
    """The call-progress tone set (one or two frequencies) filling this 40 ms window, or ``None``."""
    return tone_sets(window[None, :])[0]


_SET_MATRIX: Final = np.array(
    [[1.0 if i in indexes else 0.0 for i in range(len(_PROGRESS_FREQUENCIES))] for indexes in _SET_INDEXES]
)
_SMALLEST_FIRST: Final = sorted(range(len(_TONE_SETS)), key=lambda i: len(_TONE_SETS[i]))


def tone_sets(windows: Samples) -> list[tuple[float, ...] | None]:
    """:func:`tone_frequencies` for each row of a K x 320 matrix of windows."""
    energies = np.einsum("ij,ij->i", windows, windows)
    powers = np.abs(windows @ _PROGRESS_BASIS.T) ** 2 * (2.0 / windows.shape[1])
    shares_all = (powers @ _SET_MATRIX.T) / np.maximum(energies, 1e-20)[:, None]
    result: list[tuple[float, ...] | None] = []
    for energy, shares in zip(energies.tolist(), shares_all.tolist(), strict=True):
        if energy / windows.shape[1] < TONE_MIN_LEVEL:
            result.append(None)
            continue
        best = max(range(len(shares)), key=shares.__getitem__)
        if shares[best] < TONE_MIN_SHARE:
            result.append(None)
            continue
        # A single tone also "explains" any pair that contains it: prefer the smallest set that fits.
        result.append(next(_TONE_SETS[i] for i in _SMALLEST_FIRST if shares[i] >= shares[best] - 0.1))
    return result


def _matches(frequencies: tuple[float, ...], spec: ToneSpec) -> bool:
    return len(frequencies) == len(spec.frequencies) and all(
        abs(a - b) < 30 for a, b in zip(frequencies, spec.frequencies, strict=True)
    )


def _close(measured: float, wanted: float) -> bool:
    return abs(measured - wanted) <= wanted * CADENCE_TOLERANCE + FRAME_SECONDS


@dataclass(slots=True)
class ProgressToneDetector:
    """Follows on/off segments of call-progress tones and names the tone once its cadence fits.

    ``push`` returns the recognised :class:`ToneKind` while that tone keeps its cadence (also
    during its silent gaps), ``None`` otherwise. SIT is three rising tones of ~330 ms.
    """

    _segments: deque[tuple[tuple[float, ...] | None, float]] = field(default_factory=lambda: deque(maxlen=12))
    _current: tuple[float, ...] | None = None
    _length: float = 0.0
    _recognised: ToneSpec | None = None
    _sit_seen: list[float] = field(default_factory=list)
    _previous: Samples = field(default_factory=lambda: np.zeros(FRAME))

    def push(self, frame: Samples) -> ToneKind | None:
        """Feed one 20 ms frame."""
        return self.push_block(frame[None, :])[0]

    def push_block(self, block: Samples) -> list[ToneKind | None]:
        """Feed N frames (N x 160); the recognised tone after each."""
        frames = np.vstack((self._previous[None, :], block))
        self._previous = block[-1]
        windows = np.hstack((frames[:-1], frames[1:]))  # each frame with the one before it
        return [self._push_set(frequencies) for frequencies in tone_sets(windows)]

    def _push_set(self, frequencies: tuple[float, ...] | None) -> ToneKind | None:
        if frequencies is not None and frequencies[0] in SIT_FREQUENCIES and len(frequencies) == 1:
            return self._push_sit(frequencies[0])
        if frequencies != self._current:
            self._close_segment()
            self._current = frequencies
            self._length = 0.0
        self._length += FRAME_SECONDS
        if self._recognised is not None and not self._still_fits():
            self._recognised = None
        return self._recognised.kind if self._recognised else None

    def _push_sit(self, frequency: float) -> ToneKind | None:
        if not self._sit_seen or abs(self._sit_seen[-1] - frequency) > 1:
            self._sit_seen.append(frequency)
        self._sit_seen = self._sit_seen[-3:]
        rising = len(self._sit_seen) == 3 and self._sit_seen[0] < self._sit_seen[1] < self._sit_seen[2]
        return ToneKind.SIT if rising else None

    def _close_segment(self) -> None:
        if self._length <= 0:
            return
        self._segments.append((self._current, self._length))
        if self._current is not None:
            self._sit_seen.clear()
        self._recognised = self._recognise()

    def _recognise(self) -> ToneSpec | None:
        """A spec whose whole cadence matches the latest completed segments."""
        segments = list(self._segments)
        # Longer cadences first: UK congestion (4 segments) contains a busy-like pair.
        for spec in _BY_CADENCE_LENGTH:
            # At least on-off-on: one off gap alone says little, and busy (0.375/0.375) is a
            # prefix of UK congestion (0.4/0.35/0.225/0.525).
            count = max(len(spec.cadence), MIN_SEGMENTS)
            if len(segments) < count:
                continue
            recent = segments[-count:]
            cycle = len(spec.cadence)
            # Align so that the pattern's "on" segments are the tone segments.
            for shift in range(cycle):
                pattern = [spec.cadence[(shift + i) % cycle] for i in range(count)]
                on_first = shift % 2 == 0
                if all(
                    (freqs is not None) == ((index % 2 == 0) == on_first)
                    and (freqs is None or _matches(freqs, spec))
                    and _close(length, wanted)
                    for index, ((freqs, length), wanted) in enumerate(zip(recent, pattern, strict=True))
                ):
                    return spec
        return None

    def _still_fits(self) -> bool:
        """The current (open) segment may not outlast what the recognised cadence allows."""
        spec = self._recognised
        if spec is None:
            return False
        if self._current is not None and not _matches(self._current, spec):
            return False
        longest = max(spec.cadence[0::2] if self._current is not None else spec.cadence[1::2])
        return self._length <= longest * (1 + CADENCE_TOLERANCE) + FRAME_SECONDS
