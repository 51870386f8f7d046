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


def _set_bases() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """An orthonormal basis of each tone set's sines and cosines, side by side, and its owners.

    Projecting a window on a set's basis gives the energy the set explains *exactly*, whatever
    the tones' phases: a DFT bin per frequency would let 440 Hz leak into the 480 Hz bin and
    make the share beat at 40 Hz, which dropped frames of US ringback in noise.
    """
    t = np.arange(PROGRESS_WINDOW) / SAMPLE_RATE
    columns, owners = [], []
    for index, tone_set in enumerate(_TONE_SETS):
        waves = [w for f in tone_set for w in (np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t))]
        q, _ = np.linalg.qr(np.column_stack(waves))
        columns.append(q)
        owners += [index] * q.shape[1]
    owner_matrix = np.zeros((len(owners), len(_TONE_SETS)))
    owner_matrix[np.arange(len(owners)), owners] = 1.0
    return np.hstack(columns), owner_matrix


_SET_BASIS, _SET_OWNERS = _set_bases()
TONE_MIN_LEVEL: Final = 3e-5  # about -45 dBFS
TONE_MIN_SHARE: Final = 0.75
CADENCE_TOLERANCE: Final = 0.25  # ±25 % per segment …
# … plus 40 ms: a packet lost at a period's edge moves the edge by a frame or two.
CADENCE_SLACK: Final = 2 * FRAME_SECONDS
MIN_SEGMENTS: Final = 3


def tone_frequencies(window: Samples) -> tuple[float, ...] | None:
    """The call-progress tone set (one or two frequencies) filling this 40 ms window, or ``None``."""
    return tone_sets(window[None, :])[0]


_SMALLEST_FIRST: Final = np.array(sorted(range(len(_TONE_SETS)), key=lambda i: len(_TONE_SETS[i])))
_SETS_OR_NONE: Final = [*(_TONE_SETS[i] for i in _SMALLEST_FIRST), None]


def tone_sets(windows: Samples) -> list[tuple[float, ...] | None]:
    """:func:`tone_frequencies` for each row of a K x 320 matrix of windows."""
    return _tone_sets_and_energies(windows)[0]


def _tone_sets_and_energies(windows: Samples) -> tuple[list[tuple[float, ...] | None], list[float]]:
    """The tone set of each window and its mean square (the cadence needs both)."""
    energies = np.einsum("ij,ij->i", windows, windows)
    explained = ((windows @ _SET_BASIS) ** 2) @ _SET_OWNERS
    shares = explained[:, _SMALLEST_FIRST] / np.maximum(energies, 1e-20)[:, None]
    best = shares.max(axis=1)
    # A single tone also "explains" much of any pair that contains it: prefer the smallest set
    # that fits.
    choice = np.argmax(shares >= best[:, None] - 0.1, axis=1)
    mean_square = energies / windows.shape[1]
    choice[(mean_square < TONE_MIN_LEVEL) | (best < TONE_MIN_SHARE)] = len(_TONE_SETS)
    return [_SETS_OR_NONE[i] for i in choice.tolist()], mean_square.tolist()


def _matches(frequencies: tuple[float, ...], spec: ToneSpec) -> bool:
    return len(frequencies) == len(spec.frequencies) and all(
        abs(a - b) < 15 for a, b in zip(frequencies, spec.frequencies, strict=True)
    )


def cadence_fits(measured: float, wanted: float) -> bool:
    """Whether a measured on or off period is the one a cadence wants."""
    return abs(measured - wanted) <= wanted * CADENCE_TOLERANCE + CADENCE_SLACK


# Dips of up to 80 ms inside a tone are part of it: a lost packet (concealed as silence) spoils
# two 40 ms windows, and the beat of two close tones (440+480 Hz) in noise can spoil one.
BRIDGE_FRAMES: Final = 4
MIN_TONE_SECONDS: Final = 0.06  # shorter "tones" inside an off period are noise, not a segment
# A network's off period is (comfort) silence: non-tone audio within 6 dB of the tone's level
# for longer than a bridge is something else (music, a voice) and breaks the cadence.
OFF_QUIET_DB: Final = 6.0
_LOUD: Final[tuple[float, ...]] = ()  # the set of an off period spoiled by loud non-tone audio

Segment = tuple[tuple[float, ...] | None, float]


def _is_tone(frequencies: tuple[float, ...] | None) -> bool:
    return bool(frequencies)


@dataclass(slots=True)
class ProgressToneDetector:
    """Follows on/off segments of call-progress tones and names the tone from its cadence.

    A tone is named *provisionally* when its first on-period ends with the frequencies and
    duration of a national tone (and every tone that fits is of one kind), and *confirmed*
    once on-off-on (or a whole cadence, if longer) fits. ``push`` returns the :class:`ToneKind`
    while the tone keeps that cadence (also during its silent gaps), ``None`` otherwise.
    SIT is three rising tones of ~330 ms.
    """

    _segments: deque[Segment] = field(default_factory=lambda: deque(maxlen=12))
    _current: tuple[float, ...] | None = None
    _length: float = 0.0
    _pending_off: Segment | None = None  # an off period, until the tone after it lasts 60 ms
    _gap: int = 0  # non-tone frames since the current tone was last heard (bridged if short)
    _loud_run: int = 0  # consecutive loud non-tone frames in an off period
    _tone_energy: float = float("inf")  # mean square of the last on-period
    # Mean squares of the latest non-tone frames, and their median just before the current tone
    _off_energies: deque[float] = field(default_factory=lambda: deque(maxlen=25))
    _before_energy: float = 0.0
    _from_quiet: bool = True  # the last on-period began out of (near) silence
    _energy_sum: float = 0.0
    _energy_frames: int = 0
    _recognised: tuple[ToneSpec, ...] = ()
    confirmed: bool = False  # the whole cadence fits, not just the first on-period
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
        sets, energies = _tone_sets_and_energies(windows)
        return [self._push_set(f, e) for f, e in zip(sets, energies, strict=True)]

    def _push_set(self, frequencies: tuple[float, ...] | None, energy: float) -> ToneKind | None:
        if frequencies is not None and frequencies[0] in SIT_FREQUENCIES and len(frequencies) == 1:
            return self._push_sit(frequencies[0])
        if _is_tone(frequencies):
            self._tone_frame(frequencies, energy)
        elif _is_tone(self._current):
            self._gap += 1
            if self._gap > BRIDGE_FRAMES:
                self._tone_ended(energy)
        else:
            self._off_frame(energy)
        if self._recognised and not self._still_fits():
            self._recognised, self.confirmed = (), False
        return self._recognised[0].kind if self._recognised else None

    def _tone_frame(self, frequencies: tuple[float, ...] | None, energy: float) -> None:
        if frequencies == self._current:
            self._length += (self._gap + 1) * FRAME_SECONDS
        else:
            if self._pending_off is not None:  # a blip, then another tone: all still off period
                off, length = self._pending_off
                self._pending_off = (off, length + self._length + self._gap * FRAME_SECONDS)
            elif _is_tone(self._current):
                self._close_segment()
                if self._gap:
                    self._segments.append((None, self._gap * FRAME_SECONDS))
            elif self._length > 0:
                # The off period ends only once this tone proves longer than a blip.
                self._pending_off = (self._current, self._length)
            self._current, self._length = frequencies, FRAME_SECONDS
            self._energy_sum, self._energy_frames = 0.0, 0
            # Not the last two frames: their 40 ms windows already hold some of this tone.
            before = list(self._off_energies)[:-2]
            self._before_energy = float(np.median(before)) if before else 0.0
        self._gap = 0
        self._energy_sum += energy
        self._energy_frames += 1
        if self._pending_off is not None and self._length >= MIN_TONE_SECONDS:
            self._segments.append(self._pending_off)
            self._pending_off = None
            self._recognised, self.confirmed = self._recognise()

    def _tone_ended(self, energy: float) -> None:
        """The tone has been gone longer than a bridge: its on-period is over."""
        gap = self._gap * FRAME_SECONDS
        self._gap = 0
        self._loud_run = int(self._is_loud(energy))
        if self._pending_off is not None:  # a blip in an off period: the off period goes on
            off, length = self._pending_off
            self._pending_off = None
            self._current, self._length = off, length + self._length + gap
            return
        self._tone_energy = self._energy_sum / max(self._energy_frames, 1)
        self._from_quiet = not self._is_loud(self._before_energy)
        self._close_segment()
        self._current, self._length = None, gap

    def _off_frame(self, energy: float) -> None:
        self._off_energies.append(energy)
        self._length += FRAME_SECONDS
        self._loud_run = self._loud_run + 1 if self._is_loud(energy) else 0
        if self._current is None and self._loud_run > BRIDGE_FRAMES:
            self._current = _LOUD  # not the network's silence: the cadence is broken

    def _is_loud(self, energy: float) -> bool:
        return energy > self._tone_energy * 10 ** (-OFF_QUIET_DB / 10)

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
        self._recognised, self.confirmed = self._recognise()

    def _recognise(self) -> tuple[tuple[ToneSpec, ...], bool]:
        """The specs that fit the latest segments best, and whether one fits a whole cadence."""
        segments = list(self._segments)
        best, candidates = 0, list[ToneSpec]()
        confirmed: list[tuple[float, ToneSpec]] = []
        for spec in TONES:
            # At least on-off-on to confirm: one off gap alone says little, and busy
            # (0.375/0.375) is a prefix of UK congestion (0.4/0.35/0.225/0.525).
            count = max(len(spec.cadence), MIN_SEGMENTS)
            fitting, error = _fitting_suffix(segments, spec, count)
            if fitting >= count:
                confirmed.append((error, spec))
            elif fitting > best:
                best, candidates = fitting, [spec]
            elif fitting == best and fitting:
                candidates.append(spec)
        if confirmed:  # UK busy can pass for UK congestion within tolerance: the closest wins
            return (min(confirmed, key=lambda pair: pair[0])[1],), True
        # Provisional: what fits the tone so far, if all of it means the same thing — and the
        # tone rose out of silence: a note of hold music rises out of music.
        if candidates and len({spec.kind for spec in candidates}) == 1 and self._from_quiet:
            return tuple(candidates), False
        return (), False

    def _still_fits(self) -> bool:
        """The current (open) segment may not outlast what a recognised cadence allows."""
        return any(self._open_segment_fits(spec) for spec in self._recognised)

    def _open_segment_fits(self, spec: ToneSpec) -> bool:
        if self._current == _LOUD:
            return False
        if self._current is not None and not _matches(self._current, spec):
            return False
        longest = max(spec.cadence[0::2] if self._current is not None else spec.cadence[1::2])
        return self._length <= longest * (1 + CADENCE_TOLERANCE) + CADENCE_SLACK


def _fitting_suffix(segments: list[Segment], spec: ToneSpec, count: int) -> tuple[int, float]:
    """How many of the latest segments (up to ``count``, one on-period at least) fit ``spec``.

    Also the mean relative deviation of the fit, to choose between specs that both fit.
    """
    cycle = len(spec.cadence)
    for size in range(min(count, len(segments)), 0, -1):
        recent = segments[-size:]
        if not any(_is_tone(freqs) for freqs, _ in recent):
            continue
        # Align so that the pattern's "on" segments are the tone segments.
        for shift in range(cycle):
            on_first = shift % 2 == 0
            wanted = [spec.cadence[(shift + index) % cycle] for index in range(size)]
            if all(
                _is_tone(freqs) == ((index % 2 == 0) == on_first)
                and (freqs is None or _matches(freqs, spec))
                and cadence_fits(length, want)
                for index, ((freqs, length), want) in enumerate(zip(recent, wanted, strict=True))
            ):
                error = sum(
                    abs(length - want) / want for (_, length), want in zip(recent, wanted, strict=True)
                )
                return size, error / size
    return 0, 0.0
