"""Tone detectors on 20 ms frames at 8 kHz: DTMF (ITU-T Q.23/Q.24) and call-progress tones.

Both use the Goertzel algorithm — the DFT at a handful of frequencies — as a matrix product,
which is all the spectral resolution they need and costs a few microseconds per frame.
Call-progress tones are recognised by their frequencies *and* their cadence (on/off pattern),
because a single 425 Hz burst is ringback in Germany, busy in Italy and a note in hold music.
"""

from __future__ import annotations

import functools
import operator
from collections import deque
from collections.abc import Callable, Sequence
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


# When a cadence is shared by countries that give it different meanings, the kind most of them
# give it wins; on a tie, busy before reorder (far more calls meet a busy line than congestion).
_KIND_PRIORITY: Final = (ToneKind.BUSY, ToneKind.REORDER, ToneKind.RINGBACK)
AM_DEPTH: Final = 0.9  # Asterisk's implicit modulation depth for "f1*f2"
BAND: Final = (300.0, 3400.0)  # the telephone band: components outside it never reach us


@dataclass(frozen=True, slots=True)
class Sound:
    """One sound of a cadence, written as Asterisk writes it.

    ``"425"`` one sine, ``"400+450"`` the sum of two (or more), ``"425*24"`` 425 Hz amplitude-
    modulated at 24 Hz (90 % depth): energy at 401, 425 and 449 Hz.
    """

    text: str
    frequencies: tuple[float, ...]  # the summed sines, or the AM carrier
    modulation: float | None = None  # the AM rate in Hz

    @classmethod
    def parse(cls, text: str) -> Sound:
        """``"425"``, ``"400+450"`` or ``"425*24"``."""
        if "*" in text:
            carrier, rate = text.split("*")
            return cls(text, (float(carrier),), float(rate))
        return cls(text, tuple(float(part) for part in text.split("+")))

    @property
    def components(self) -> tuple[float, ...]:
        """The frequencies inside the telephone band (an AM tone's carrier and side bands)."""
        if self.modulation is None:
            found = self.frequencies
        else:
            carrier = self.frequencies[0]
            found = (carrier - self.modulation, carrier, carrier + self.modulation)
        return tuple(f for f in found if BAND[0] <= f <= BAND[1])

    @property
    def sets(self) -> tuple[tuple[float, ...], ...]:
        """The frequency sets the detector accepts for this sound.

        An AM tone also as its carrier alone: Asterisk's generator multiplies the carrier by a
        rectified sine, which leaves 81 % of the energy in the carrier and the side bands at
        twice the rate; a shallower modulation does much the same.
        """
        if self.modulation is None:
            return (self.components,)
        return (self.components, self.frequencies)


_PERIOD_NAMES: Final = {ToneKind.RINGBACK: "ringback", ToneKind.BUSY: "busy", ToneKind.REORDER: "congestion"}


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """A country's tone: one sound per on-period and the on/off cadence in seconds."""

    country: str
    kind: ToneKind
    sounds: tuple[Sound, ...]  # one per on-period of the cadence
    cadence: tuple[float, ...]  # on, off, on, off …

    @property
    def name(self) -> str:
        """``"de ringback"``, ``"uk congestion"`` (Asterisk's names)."""
        return f"{self.country} {_PERIOD_NAMES[self.kind]}"

    @property
    def frequencies(self) -> tuple[float, ...]:
        """The in-band frequencies of the first on-period."""
        return self.sounds[0].components


# Ringback ("ring"), busy and congestion (our REORDER) of every country in Asterisk's
# configs/samples/indications.conf.sample (asterisk/asterisk, 2026; Debian's asterisk-config
# installs it as /etc/asterisk/indications.conf), which collects the national plans (ITU-T's
# "Various tones used in national networks", BT SIN 350, ACIF S002, IDA TS PSTN1 …).
# Each tone: a sound, then its periods in seconds, on first; a second sound continues the
# cadence. None of these is continuous or played once ("!"), so none needs that notation.
# Japan's ringback is written 400+15: the 15 Hz part lies below the telephone band.
_PLANS: Final = """
at      Austria             | 420 1/5                | 420 0.4/0.4         | 420 0.2/0.2
au      Australia           | 413+438 0.4/0.2/0.4/2  | 425 0.375/0.375     | 425 0.375/0.375 420 0.375/0.375
bg      Bulgaria            | 425 1/4                | 425 0.5/0.5         | 425 0.25/0.25
br      Brazil              | 425 1/4                | 425 0.25/0.25       | 425 0.25/0.25/0.75/0.25
be      Belgium             | 425 1/3                | 425 0.5/0.5         | 425 0.167/0.167
ch      Switzerland         | 425 1/4                | 425 0.5/0.5         | 425 0.2/0.2
cl      Chile               | 400 1/3                | 400 0.5/0.5         | 400 0.2/0.2
cn      China               | 450 1/4                | 450 0.35/0.35       | 450 0.7/0.7
cz      Czech Republic      | 425 1/4                | 425 0.33/0.33       | 425 0.165/0.165
de      Germany             | 425 1/4                | 425 0.48/0.48       | 425 0.24/0.24
dk      Denmark             | 425 1/4                | 425 0.5/0.5         | 425 0.2/0.2
ee      Estonia             | 425 1/4                | 425 0.3/0.3         | 425 0.2/0.2
es      Spain               | 425 1.5/3              | 425 0.2/0.2         | 425 0.2/0.2/0.2/0.2/0.2/0.6
fi      Finland             | 425 1/4                | 425 0.3/0.3         | 425 0.2/0.2
fr      France              | 440 1.5/3.5            | 440 0.5/0.5         | 440 0.25/0.25
gr      Greece              | 425 1/4                | 425 0.3/0.3         | 425 0.2/0.2
hu      Hungary             | 425 1.25/3.75          | 425 0.3/0.3         | 425 0.3/0.3
id      Indonesia           | 425 1/4                | 425 0.5/0.5         | 425 0.25/0.25
il      Israel              | 414 1/3                | 414 0.5/0.5         | 414 0.25/0.25
in      India               | 400*25 0.4/0.2/0.4/2   | 400 0.75/0.75       | 400 0.25/0.25
it      Italy               | 425 1/4                | 425 0.5/0.5         | 425 0.2/0.2
lt      Lithuania           | 425 1/4                | 425 0.35/0.35       | 425 0.2/0.2
jp      Japan               | 400+15 1/2             | 400 0.5/0.5         | 400 0.5/0.5
mx      Mexico              | 425 1/4                | 425 0.25/0.25       | 425 0.25/0.25
my      Malaysia            | 425 0.4/0.2/0.4/2      | 425 0.5/0.5         | 425 0.5/0.5
nl      Netherlands         | 425 1/4                | 425 0.5/0.5         | 425 0.25/0.25
no      Norway              | 425 1/4                | 425 0.5/0.5         | 425 0.2/0.2
nz      New Zealand         | 400+450 0.4/0.2/0.4/2  | 400 0.5/0.5         | 400 0.25/0.25
ph      Philippines         | 425+480 1/4            | 480+620 0.5/0.5     | 480+620 0.25/0.25
pl      Poland              | 425 1/4                | 425 0.5/0.5         | 425 0.5/0.5
pt      Portugal            | 425 1/5                | 425 0.5/0.5         | 425 0.2/0.2
ru      Russia              | 425 1/4                | 425 0.35/0.35       | 425 0.175/0.175
se      Sweden              | 425 1/5                | 425 0.25/0.25       | 425 0.25/0.75
sg      Singapore           | 425*24 0.4/0.2/0.4/2   | 425 0.75/0.75       | 425 0.25/0.25
th      Thailand            | 420 1/5                | 400 0.5/0.5         | 400 0.3/0.3
uk      United Kingdom      | 400+450 0.4/0.2/0.4/2  | 400 0.375/0.375     | 400 0.4/0.35/0.225/0.525
us      United States       | 440+480 2/4            | 480+620 0.5/0.5     | 480+620 0.25/0.25
us-old  United States 1950s | 420*40 2/4             | 500*100 0.5/0.5     | 500*100 0.25/0.25
tw      Taiwan              | 440+480 1/2            | 480+620 0.5/0.5     | 480+620 0.25/0.25
ve      Venezuela           | 425 1/4                | 425 0.5/0.5         | 425 0.25/0.25
za      South Africa        | 400*33 0.4/0.2/0.4/2   | 400 0.5/0.5         | 400 0.25/0.25
"""


def _parse_tone(text: str) -> tuple[tuple[Sound, ...], tuple[float, ...]]:
    """``"425 0.375/0.375 420 0.375/0.375"`` → one sound per on-period, and the cadence."""
    sounds: list[Sound] = []
    cadence: list[float] = []
    sound: Sound | None = None
    for token in text.split():
        if "/" not in token:
            sound = Sound.parse(token)
            continue
        periods = [float(part) for part in token.split("/")]
        if sound is None or len(periods) % 2:
            raise ValueError(f"not a tone: {text!r}")
        sounds += [sound] * (len(periods) // 2)
        cadence += periods
    return tuple(sounds), tuple(cadence)


def _parse_plans(table: str) -> tuple[dict[str, str], tuple[ToneSpec, ...]]:
    countries: dict[str, str] = {}
    specs: list[ToneSpec] = []
    for line in table.strip().splitlines():
        head, *tones = (part.strip() for part in line.split("|"))
        code, name = head.split(maxsplit=1)
        countries[code] = name
        for kind, text in zip((ToneKind.RINGBACK, ToneKind.BUSY, ToneKind.REORDER), tones, strict=True):
            specs.append(ToneSpec(code, kind, *_parse_tone(text)))
    return countries, tuple(specs)


COUNTRIES, TONES = _parse_plans(_PLANS)
SIT_FREQUENCIES: Final = (913.8, 985.2, 1370.6, 1428.5, 1776.7)  # Q.35 segments, low and high
# A 40 ms window resolves 25 Hz: enough to tell 440+480 apart and 425 from 400 or 450.
PROGRESS_WINDOW: Final = 2 * FRAME
WINDOW_RESOLUTION: Final = SAMPLE_RATE / PROGRESS_WINDOW  # Hz
# A measured set stands for a sound when every frequency is within 15 Hz: 420 and 425 (Austria,
# Thailand) are one sound to a 40 ms window, 400 and 425 are not.
FREQUENCY_TOLERANCE: Final = 15.0
# The error of old exchanges' and analogue gateways' oscillators: up to 1.5 % of the frequency.
# It is met by measuring each set a little sharp and flat (:data:`PITCH_STEPS`), which names a
# mistuned tone by its planned set, so the sets' own frequencies need no wider tolerance (a
# wider one lets a 425 Hz set stand for France's 440 Hz; docs/performance.md, tone notes).
PITCH_ERROR: Final = 0.015


def _same_frequency(planned: float, measured: float) -> bool:
    """Whether a window's ``measured`` set (one of the planned sets) may be a ``planned`` sound."""
    return abs(planned - measured) < FREQUENCY_TOLERANCE


_SOUNDS: Final = tuple(
    sorted({sound.text: sound for spec in TONES for sound in spec.sounds}.values(), key=lambda s: s.text)
)
_SOUND_BIT: Final = {sound.text: 1 << index for index, sound in enumerate(_SOUNDS)}
_TONE_SETS: Final = tuple(
    sorted(
        {tone_set for sound in _SOUNDS for tone_set in sound.sets} | {(f,) for f in SIT_FREQUENCIES},
        key=lambda tone_set: (len(tone_set), tone_set),
    )
)


def _set_mask(tone_set: tuple[float, ...], *, rectified: bool = True) -> int:
    """The sounds (as bits) a measured frequency set may be.

    ``rectified``: also the modulated sounds as Asterisk generates them (``_rectified_like``).
    """
    mask = 0
    for sound in _SOUNDS:
        if (
            any(
                len(accepted) == len(tone_set)
                and all(_same_frequency(a, b) for a, b in zip(accepted, tone_set, strict=True))
                for accepted in sound.sets
            )
            or _beats_like(sound, tone_set)
            or (rectified and _rectified_like(sound, tone_set))
        ):
            mask |= _SOUND_BIT[sound.text]
    return mask


def _beats_like(sound: Sound, tone_set: tuple[float, ...]) -> bool:
    """Whether a pair of tones is what a 40 ms window makes of an amplitude-modulated ``sound``.

    A window about one modulation period long cannot resolve the side bands: the beat of two
    tones either side of the carrier, within the side bands, explains it as well (Singapore's
    425*24 Hz windows come out as Australia's 413+438 Hz about half the time).
    """
    if sound.modulation is None or len(tone_set) != 2:
        return False
    carrier, rate = sound.frequencies[0], sound.modulation
    return (
        abs(sum(tone_set) / 2 - carrier) < FREQUENCY_TOLERANCE
        and carrier - rate - FREQUENCY_TOLERANCE <= tone_set[0]
        and tone_set[1] <= carrier + rate + FREQUENCY_TOLERANCE
    )


# A pair stands for a rectified tone only this close to its carrier and side band: Australia's
# 413+438 Hz lies 13 Hz from India's 400+450 Hz, and a voice gliding near 420 Hz makes it often.
RECTIFIED_TOLERANCE: Final = 8.0


def _rectified_like(sound: Sound, tone_set: tuple[float, ...]) -> bool:
    """Whether a pair of tones is an amplitude-modulated ``sound`` as Asterisk generates it.

    Its generator multiplies the carrier by the modulator's absolute value: side bands at
    twice the rate, a quarter of the carrier's level each. A codec that spreads the carrier
    (GSM) leaves the carrier and its stronger side band the best pair (Singapore's 425*24 Hz
    comes out as 425+480 Hz, the Philippines' ringback).
    """
    if sound.modulation is None or len(tone_set) != 2:
        return False
    carrier, spacing = sound.frequencies[0], 2 * sound.modulation
    below, above = (carrier - spacing, carrier), (carrier, carrier + spacing)
    return any(
        all(abs(a - b) <= RECTIFIED_TOLERANCE for a, b in zip(pair, tone_set, strict=True))
        for pair in (below, above)
    )


_SET_MASKS: Final = tuple(_set_mask(tone_set) for tone_set in _TONE_SETS)


def _alike_sets(alike: Callable[[float, float], bool]) -> tuple[tuple[int, ...], ...]:
    """Per set, the sets of as many frequencies, each ``alike`` its own (itself too)."""
    return tuple(
        tuple(
            index
            for index, other in enumerate(_TONE_SETS)
            if len(other) == len(tone_set) and all(map(alike, tone_set, other))
        )
        for tone_set in _TONE_SETS
    )


# Inside a tone, a window of a set the window cannot tell from the tone's (each frequency within
# its resolution) continues it: a modulated tone through a codec and an AGC comes out as nearby
# sets of three frequencies by turns (the United States' old 420*40 Hz ringback), and must not
# break into pieces. Which sound the tone is, its modal set says. A pair that only stands for a
# rectified tone (``_rectified_like``) continues none: a voice near 400 Hz makes 400+450 Hz
# windows too, and would lengthen its syllables into a cadence.
_NEAR_MASKS: Final = tuple(
    functools.reduce(operator.or_, (_set_mask(_TONE_SETS[index], rectified=False) for index in near), 0)
    for near in _alike_sets(lambda a, b: abs(a - b) <= WINDOW_RESOLUTION)
)
# Sets that are one sound (each frequency within the tolerance): one pitch when a tone's windows
# are counted (Italy's 425 Hz a little flat comes out as the 420 and 425 Hz sets by turns).
_SAME_SOUND: Final = _alike_sets(_same_frequency)
_SET_SIZES: Final = (*(len(tone_set) for tone_set in _TONE_SETS), 0)  # the last: _NO_SET
_SIT_SETS: Final = {_TONE_SETS.index((f,)): f for f in SIT_FREQUENCIES}
_NO_SET: Final = -1
# Polynomials up to degree 3 over the window: what lies below the band (a 15 Hz component, a
# DC offset) is taken out before shares are measured, so it neither hides a tone nor is one.
_LOW_DEGREE: Final = 3


# Each set is also measured a little sharp and flat: a tone 1.5 % off explains only about 80 %
# of a 40 ms window at its planned frequency, and a set of more frequencies nearby explains it
# better (a 425 Hz tone played at 431 Hz looks like Australia's 413+438 Hz). With the set at
# ±1 % as well, no tone within :data:`PITCH_ERROR` is more than 0.5 % from one of the three.
PITCH_STEPS: Final = (1.0, 1.0 - 0.01, 1.0 + 0.01)


def _set_bases() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """An orthonormal basis of each tone set's sines and cosines, side by side, and its owners.

    Projecting a window on a set's basis gives the energy the set explains *exactly*, whatever
    the tones' phases: a DFT bin per frequency would let 440 Hz leak into the 480 Hz bin and
    make the share beat at 40 Hz, which dropped frames of US ringback in noise. Each set's
    basis is orthogonal to the low-frequency basis (returned first). Owners: one column per
    set and pitch step (:data:`PITCH_STEPS`), set by set.
    """
    t = np.arange(PROGRESS_WINDOW) / SAMPLE_RATE
    low, _ = np.linalg.qr(np.vander(np.linspace(-1.0, 1.0, PROGRESS_WINDOW), _LOW_DEGREE + 1))
    columns, owners = [], []
    for index, tone_set in enumerate(_TONE_SETS):
        for step, scale in enumerate(PITCH_STEPS):
            waves = [
                w
                for f in tone_set
                for w in (np.cos(2 * np.pi * f * scale * t), np.sin(2 * np.pi * f * scale * t))
            ]
            q, _ = np.linalg.qr(np.column_stack([low, *waves]))
            columns.append(q[:, low.shape[1] :])
            owners += [index * len(PITCH_STEPS) + step] * (q.shape[1] - low.shape[1])
    owner_matrix = np.zeros((len(owners), len(_TONE_SETS) * len(PITCH_STEPS)))
    owner_matrix[np.arange(len(owners)), owners] = 1.0
    return low, np.hstack(columns), owner_matrix


_LOW_BASIS, _SET_BASIS_64, _SET_OWNERS_64 = _set_bases()
# The sets' projections in single precision: the detector's largest product, and the shares it
# gives move by about 1e-5 of themselves, far inside every threshold's margin.
_SET_BASIS: Final = _SET_BASIS_64.astype(np.float32)
_SET_OWNERS: Final = _SET_OWNERS_64.astype(np.float32)
_BY_SIZE: Final = tuple(
    np.array([i for i, s in enumerate(_TONE_SETS) if len(s) == size])
    for size in sorted({len(s) for s in _TONE_SETS})
)
TONE_MIN_LEVEL: Final = 3e-5  # about -45 dBFS
TONE_MIN_SHARE: Final = 0.75
# A set with more frequencies explains more of any signal: the smallest that comes within this
# share of the best one is the set.
SMALLER_SET_MARGIN: Final = 0.1
# … unless it leaves many times what the best leaves unexplained: an amplitude-modulated tone
# (India's 400*25 Hz) explained all but 0.2 % by its three frequencies is not the pair of
# tones (413+438 Hz) that leaves 10 %. The best's residual counts as at least the floor, so
# noise shared by every set does not make the ratio.
SMALLER_SET_RESIDUALS: Final = 5.0
RESIDUAL_FLOOR: Final = 0.01
CADENCE_TOLERANCE: Final = 0.2  # ±20 % per period (national plans allow ±10 %) …
# … plus 40 ms: a packet lost at a period's edge moves the edge by a frame or two.
CADENCE_SLACK: Final = 2 * FRAME_SECONDS
# A measured period comes out up to two frames longer or shorter than sent: a 40 ms window
# holds a tone's edge for one frame more, and noise or a lost packet moves an edge by one.
MEASUREMENT_SLACK: Final = 2 * FRAME_SECONDS
MIN_SEGMENTS: Final = 3
# A cadence faster than this a cycle needs on-off-on-off-on: three short syllables or notes
# in a row are common in speech and music, five at one rhythm and pitch are not.
SHORT_CYCLE: Final = 0.6
SHORT_CYCLE_SEGMENTS: Final = 5
PROVISIONAL_MIN_ON: Final = 0.35  # seconds: the shortest on-period a tone is named by on its own


def confirm_count(cadence: tuple[float, ...]) -> int:
    """How many periods (on, off, on …) confirm a cadence: at least a whole cycle.

    And at least on-off-on, as one off gap alone says little and busy (0.375/0.375) is a prefix
    of UK congestion (0.4/0.35/0.225/0.525); on-off-on-off-on for a cycle under
    :data:`SHORT_CYCLE`.
    """
    shortest = SHORT_CYCLE_SEGMENTS if sum(cadence) < SHORT_CYCLE else MIN_SEGMENTS
    return max(len(cadence), shortest)


def tone_frequencies(window: Samples) -> tuple[float, ...] | None:
    """The call-progress tone set filling this 40 ms window, or ``None``."""
    return tone_sets(window[None, :])[0]


def tone_sets(windows: Samples) -> list[tuple[float, ...] | None]:
    """:func:`tone_frequencies` for each row of a K x 320 matrix of windows."""
    return [_TONE_SETS[i] if i >= 0 else None for i in _set_indices_and_energies(windows)[0]]


def _set_indices_and_energies(windows: Samples) -> tuple[list[int], list[float], list[float]]:
    """The tone set (index, or -1) of each window and its in-band mean square."""
    low = windows @ _LOW_BASIS
    energies = np.einsum("ij,ij->i", windows, windows) - np.einsum("ij,ij->i", low, low)
    by_step = (((windows.astype(np.float32) @ _SET_BASIS) ** 2) @ _SET_OWNERS).astype(np.float64)
    explained = by_step.reshape(len(windows), len(_TONE_SETS), len(PITCH_STEPS)).max(axis=2)
    shares = explained / np.maximum(energies, 1e-20)[:, None]
    by_size = np.stack([shares[:, members].max(axis=1) for members in _BY_SIZE], axis=1)
    best = by_size.max(axis=1)
    floor = np.maximum(1.0 - best, RESIDUAL_FLOOR)[:, None]
    alike = (by_size >= best[:, None] - SMALLER_SET_MARGIN) & (1.0 - by_size <= SMALLER_SET_RESIDUALS * floor)
    size = np.argmax(alike, axis=1)
    within = np.stack([members[np.argmax(shares[:, members], axis=1)] for members in _BY_SIZE], axis=1)
    choice = within[np.arange(len(windows)), size]
    mean_square = energies / windows.shape[1]
    choice[(mean_square < TONE_MIN_LEVEL) | (best < TONE_MIN_SHARE)] = _NO_SET
    return choice.tolist(), mean_square.tolist(), best.tolist()


def cadence_fits(measured: float, wanted: float) -> bool:
    """Whether a measured on or off period is the one a cadence wants."""
    return abs(measured - wanted) <= wanted * CADENCE_TOLERANCE + CADENCE_SLACK


def _longest_fit(wanted: float) -> float:
    return wanted * (1 + CADENCE_TOLERANCE) + CADENCE_SLACK


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A cadence with its sounds, shared by every country that plays it, and their votes."""

    sounds: tuple[int, ...]  # a bit per on-period (see ``_SOUND_BIT``)
    cadence: tuple[float, ...]
    key: tuple[float, ...]  # the shortest period that repeats: equal keys cannot be told apart
    votes: tuple[tuple[ToneKind, int], ...]
    bits: int  # all sounds

    def sound(self, position: int) -> int:
        """The sound bit of cadence position ``position`` (an on-period)."""
        return self.sounds[(position % len(self.cadence)) // 2]


def _shortest_period(spec: ToneSpec) -> tuple[float, ...]:
    """The cadence cut to the shortest repeat (sounds of one family count as the same)."""
    cadence = spec.cadence
    for size in range(2, len(cadence) + 1, 2):
        if len(cadence) % size == 0 and cadence == cadence[:size] * (len(cadence) // size):
            sounds = spec.sounds
            if all(_sounds_alike(sounds[i], sounds[i % (size // 2)]) for i in range(len(sounds))):
                return cadence[:size]
    return cadence


def _sounds_alike(a: Sound, b: Sound) -> bool:
    return any(mask & _SOUND_BIT[a.text] and mask & _SOUND_BIT[b.text] for mask in _SET_MASKS)


def _patterns() -> tuple[_Pattern, ...]:
    grouped: dict[tuple[tuple[str, ...], tuple[float, ...]], list[ToneSpec]] = {}
    for spec in TONES:
        grouped.setdefault((tuple(s.text for s in spec.sounds), spec.cadence), []).append(spec)
    patterns = []
    for (sounds, cadence), specs in grouped.items():
        counts = {kind: sum(spec.kind is kind for spec in specs) for kind in _KIND_PRIORITY}
        bits = tuple(_SOUND_BIT[text] for text in sounds)
        patterns.append(
            _Pattern(
                bits,
                cadence,
                _shortest_period(specs[0]),
                tuple((kind, count) for kind, count in counts.items() if count),
                int(np.bitwise_or.reduce(bits)),
            )
        )
    return tuple(patterns)


_PATTERNS: Final = _patterns()


def _vote(patterns: Sequence[_Pattern]) -> ToneKind:
    """The kind most countries give the cadences in ``patterns`` (busy first on a tie)."""
    totals = dict.fromkeys(_KIND_PRIORITY, 0)
    for pattern in patterns:
        for kind, count in pattern.votes:
            totals[kind] += count
    return max(_KIND_PRIORITY, key=lambda kind: (totals[kind], -_KIND_PRIORITY.index(kind)))


def _closest_vote(ranked: Sequence[_Pattern]) -> ToneKind:
    """The kind of the first cadence in ``ranked`` by the vote of all that share its period."""
    return _vote([pattern for pattern in ranked if pattern.key == ranked[0].key])


def _agreed_kind(patterns: Sequence[_Pattern]) -> ToneKind | None:
    """One kind if every group of indistinguishable cadences among ``patterns`` means it."""
    groups: dict[tuple[float, ...], list[_Pattern]] = {}
    for pattern in patterns:
        groups.setdefault(pattern.key, []).append(pattern)
    kinds = {_vote(group) for group in groups.values()}
    return kinds.pop() if len(kinds) == 1 else None


def _measured_mask(sound: Sound, *, carrier: bool = False) -> int:
    """What the detector hears of a clean ``sound``: the mask of its own frequency set.

    ``carrier``: an amplitude-modulated sound as Asterisk generates it, heard as its carrier.
    """
    return _SET_MASKS[_TONE_SETS.index(sound.sets[-1] if carrier else sound.sets[0])]


def named_kind(spec: ToneSpec) -> ToneKind:
    """The kind the detector names ``spec`` by, once its cadence is confirmed.

    ``spec.kind`` except where countries play the same frequencies and cadence for different
    kinds: the majority's kind (see :data:`CONFLICTS`).
    """
    mask = _measured_mask(spec.sounds[0])
    key = _shortest_period(spec)
    return _vote([p for p in _PATTERNS if p.key == key and p.bits & mask])


def decision_time(spec: ToneSpec, *, carrier: bool = False) -> float:
    """By when (seconds after an on-period's start) the detector names ``spec`` at the latest.

    The end of the first on-period if it is long enough to be named alone
    (:data:`PROVISIONAL_MIN_ON`) and every cadence that can begin so (same sound, on-period
    within tolerance of a measurement up to :data:`MEASUREMENT_SLACK` off) means one kind;
    else the start of the next on-period (once it lasts longer than :data:`MIN_TONE_SECONDS`)
    if on-off settles it; and so on up to the confirmation (:func:`confirm_count`). Add the
    bridge (:data:`BRIDGE_FRAMES`) after an on-period: the detector knows an on-period has
    ended only once its tone has been gone for longer than that. ``carrier``: an
    amplitude-modulated tone as Asterisk generates it, heard as its carrier (:attr:`Sound.sets`).
    """
    mask = _measured_mask(spec.sounds[0], carrier=carrier)
    count = confirm_count(spec.cadence)
    periods = [spec.cadence[index % len(spec.cadence)] for index in range(count)]
    for size in range(1, count):
        prefix = periods[:size]
        if max(prefix[0::2]) < PROVISIONAL_MIN_ON + MEASUREMENT_SLACK:
            continue  # nothing is named before a long on-period or the confirmation
        rivals = [
            pattern
            for pattern in _PATTERNS
            if any(
                all(
                    (index % 2 == 1 or pattern.sound(shift + index) & mask)
                    and _may_fit(length, pattern.cadence[(shift + index) % len(pattern.cadence)])
                    for index, length in enumerate(prefix)
                )
                for shift in range(0, len(pattern.cadence), 2)
            )
        ]
        if _agreed_kind(rivals) is named_kind(spec):
            return sum(prefix) + (MIN_TONE_SECONDS + FRAME_SECONDS if size % 2 == 0 else 0.0)
    return sum(periods)


def _may_fit(nominal: float, wanted: float) -> bool:
    """Whether a period of ``nominal`` length may be measured as one that fits ``wanted``."""
    return abs(nominal - wanted) <= wanted * CADENCE_TOLERANCE + CADENCE_SLACK + MEASUREMENT_SLACK


CONFLICTS: Final = tuple(spec for spec in TONES if named_kind(spec) is not spec.kind)
"""Tones the detector names by another country's meaning of the same cadence.

Indistinguishable by design — no detector can tell them from the other kind, as the same
frequencies and cadence mean busy in one country and congestion in another, or both in one:
Brazil's, Mexico's and Sweden's busy (425 Hz 0.25/0.25) and Spain's (0.2/0.2) are named
reorder, the congestion of most countries with those cadences; Hungary's, Japan's, Malaysia's
and Poland's congestion equal their own busy tone, and Australia's differs from its busy only
in level (every other burst 10 dB lower by the plan; Asterisk plays it at 420 Hz, which a 40 ms
window cannot tell from 425 Hz): named busy.
"""

# Dips of up to 80 ms inside a tone are part of it: a lost packet (concealed as silence) spoils
# two 40 ms windows, and the beat of two close tones (440+480 Hz) in noise can spoil one.
BRIDGE_FRAMES: Final = 4
# A jitter buffer conceals lost packets with exact zeros; bursts on bad lines last up to a few
# hundred ms (a 4-packet mean burst runs past 10 packets one time in 18). Digital silence this
# long (0.5 s) is no burst: the line is silent between tones.
MAX_LOST_FRAMES: Final = 25
# How long a steady on-period of a table tone's set lasts before ``steady_tone`` reports it.
EARLY_TONE_SECONDS: Final = 0.3
MIN_TONE_FRAMES: Final = 3  # shorter "tones" inside an off period are noise, not a segment
MIN_TONE_SECONDS: Final = MIN_TONE_FRAMES * FRAME_SECONDS
ONSET_FRAMES: Final = 2
# A network's tone is steady: the 10th and 90th percentile of an on-period's window levels
# differ by at most this (every country's tones on a degraded line stay within about 2 dB,
# modulated ones the most); a syllable or a note swells and fades by more.
STEADY_DB: Final = 2.5
# A network's tone in noise at least 15 dB below is pure: its set explains 97 % of a window
# (the median window of an on-period). Notes and vowels carry harmonics and formants: of the
# notes and syllables that drift in level as smoothly as a tone under AGC, the median explains
# 82 %, 95 % of them under 97 %.
PURE_SHARE: Final = 0.97
# … less the part of the window the line's own noise fills, as the off period before the tone
# measures it (a line's AGC and GSM can leave a tone only 12 dB over its noise), at most this:
# the bar stays at 94 %, far over the median note's 82 %.
MAX_NOISE_SHARE: Final = 0.03
# … and of one pitch: a voice can be as pure where the band cuts its fundamental and leaves one
# harmonic, but glides (375, 400, 413 Hz sets in a row: its modal set holds 38 % of the windows),
# while at least half the windows of a network's tone hold one set (beating sets split the rest).
ONE_SET_SHARE: Final = 0.5
# The most an AGC moves a tone's level within an on-period: its gain range (±20 dB).
AGC_RANGE_DB: Final = 20.0
# A window whose two frames differ in level by more than this straddles an edge (a tone's
# start or end, a lost packet): half a window of tone spreads into neighbouring sets. Two
# beating tones and 90 % modulation make neighbouring 20 ms frames differ by up to 10 dB.
EDGE_DB: Final = 12.0
# A repeated packet is a copy of the one before to within rounding (1e-6 of its energy), and
# quieter: a jitter buffer fades each repeat by 6 dB (a scale of 0.5), never by less than 2 dB.
REPEAT_RESIDUAL: Final = 1e-6
FADING_REPEAT: Final = 0.8
# A network's off period is (comfort) silence: non-tone audio within 6 dB of the tone's level
# for longer than a bridge is something else (music, a voice) and breaks the cadence.
OFF_QUIET_DB: Final = 6.0
# A period that fits no cadence: an off period spoiled by loud non-tone audio, or a tone whose
# start we did not hear (it was sounding when the stream began).
_BROKEN: Final = 0

# (sound mask, or None for an off period; length in seconds)
Segment = tuple[int | None, float]


@dataclass(slots=True)
class ProgressToneDetector:
    """Follows on/off segments of call-progress tones and names the tone from its cadence.

    A tone is named *provisionally* when an on-period of at least :data:`PROVISIONAL_MIN_ON`
    ends with the sound and duration that every country's cadence starting so means one kind
    by, and *confirmed* once a whole cadence, and at least on-off-on, fits
    (:func:`confirm_count`); when an on-period leaves several kinds open, an off period that
    outlasts some of them, or the next on-period, settles it. A confirmed cadence is not named
    while a longer one under way fits the same periods more closely and means something else.
    Where countries give the same cadence different meanings, the majority's kind is named
    (:data:`CONFLICTS`). :func:`decision_time` says by when each tone is named.

    Only a network's tone forms a segment: steady in level (:data:`STEADY_DB`), risen out of
    near silence, heard from its start (not sounding when the stream began), ended by an off
    period rather than turning into another sound. ``push`` returns the :class:`ToneKind`
    while the tone keeps that cadence (also during its silent gaps), ``None`` otherwise. No
    country's ringback, busy or congestion tone is continuous, so a steady tone (a held note,
    a dial tone) is never named. SIT is three rising tones of ~330 ms.
    """

    _segments: deque[Segment] = field(default_factory=lambda: deque(maxlen=12))
    _current: int | None = None  # sound mask of the open segment (None: an off period)
    _length: float = 0.0
    _pending_off: Segment | None = None  # an off period, until the tone after it outlasts 60 ms
    _gap: int = 0  # non-tone frames since the current tone was last heard (bridged if short)
    _loud_run: int = 0  # consecutive loud non-tone frames in an off period
    _tone_energy: float = float("inf")  # mean square of the last on-period
    # Mean squares of the latest non-tone frames, and their median just before the current tone
    _off_energies: deque[float] = field(default_factory=lambda: deque(maxlen=25))
    _before_energy: float = 0.0
    _from_quiet: bool = True  # the last on-period began out of (near) silence
    _energy_sum: float = 0.0
    _energy_frames: int = 0
    _levels: list[float] = field(default_factory=list)  # mean squares of the open tone's windows
    _shares: list[float] = field(default_factory=list)  # … and the share their set explains
    # Frames heard (counted up to 2): the stream's first window is half the silence before it
    _heard: int = 0
    _unheard_start: bool = False  # the open tone was sounding when the stream began
    _set_counts: dict[int, int] = field(default_factory=dict)  # windows of each set in the open tone
    _modal_set: int = _NO_SET
    _odd_run: int = 0  # consecutive windows of a set unlike the open tone's …
    _odd_mask: int = 0  # … and their sounds
    _recognised: tuple[_Pattern, ...] = ()
    _kind: ToneKind | None = None
    # Cadences still open after an on-period, each with the longest the open period may last
    _contenders: list[tuple[float, _Pattern]] = field(default_factory=list)
    confirmed: bool = False  # the whole cadence fits, not just the first on-period
    _sit_seen: list[float] = field(default_factory=list)
    _previous: Samples = field(default_factory=lambda: np.zeros(FRAME))
    _previous_repeated: bool = False  # the last frame was a jitter buffer's repeat
    held: list[tuple[float, ...] | None] = field(default_factory=list)  # see ``steady_tone``
    _noisy_line: bool = False  # the line's quiet has been heard to be noise, not digital silence
    _silent_run: int = 0  # consecutive frames of digital silence (exact zeros)
    _after_silence: bool = False  # the frame before this one was digital silence (this window's first half)
    _repeat_run: int = 0  # consecutive frames a jitter buffer made up by repeating the one before
    _after_repeat: bool = False  # the frame before this one was such a repeat
    _repeating_tone: bool = False  # the latest run of repeats began with a frame of the open tone

    def push(self, frame: Samples) -> ToneKind | None:
        """Feed one 20 ms frame."""
        return self.push_block(frame[None, :])[0]

    def push_block(self, block: Samples) -> list[ToneKind | None]:
        """Feed N frames (N x 160); the recognised tone after each."""
        frames = np.vstack((self._previous[None, :], block))
        self._previous = block[-1]
        windows = np.hstack((frames[:-1], frames[1:]))  # each frame with the one before it
        sets, energies, shares = _set_indices_and_energies(windows)
        halves = np.einsum("ij,ij->i", frames, frames) + 1e-12
        repeated = _repeats(frames)
        # A window holding a repeated packet, or the packet after one, joins two pieces of a
        # tone out of phase (and 6 dB apart): like a level step, it has no say.
        after_repeat = np.concatenate(([self._previous_repeated], repeated[:-1]))
        self._previous_repeated = bool(repeated[-1])
        edges = (
            (np.abs(np.log10(halves[1:] / halves[:-1])) > EDGE_DB / 10) | repeated | after_repeat
        ).tolist()
        sounding = np.asarray(frames[1:].any(axis=1))
        silent = [not sound for sound in sounding]  # digital silence: every sample 0
        concealed = [bool(flag) for flag in repeated]  # a jitter buffer's repeat
        kinds: list[ToneKind | None] = []
        self.held = []
        for index, energy, edge, zeros, repeat, share in zip(
            sets, energies, edges, silent, concealed, shares, strict=True
        ):
            kinds.append(
                self._push_set(index, energy, edge=bool(edge), silent=zeros, repeat=repeat, share=share)
            )
            self.held.append(self.steady_tone)
        return kinds

    @property
    def steady_tone(self) -> tuple[float, ...] | None:
        """The frequency set of an on-period under way that so far is a table tone, or ``None``.

        Before its cadence is known a tone's first on-period is named nothing; this says a
        steady on-period has lasted :data:`EARLY_TONE_SECONDS`, with a set of some country's
        tone, heard from its start, risen out of quiet (the frames before it at least
        :data:`OFF_QUIET_DB` below it) and steady (:func:`_steady`) — what a call hears first
        is usually ringback. ``held`` has it after each frame of the last block.
        """
        if not self._current or self._unheard_start or self._length < EARLY_TONE_SECONDS:
            return None
        if self._modal_set == _NO_SET or self._modal_set in _SIT_SETS:
            return None
        if not self._rose_out_of_quiet():
            return None
        if (
            not _steady(self._levels, self._shares, self._one_set())
            or float(np.median(self._shares)) < PURE_SHARE
        ):
            return None
        return _TONE_SETS[self._modal_set]

    def _push_set(
        self,
        index: int,
        energy: float,
        *,
        edge: bool = False,
        silent: bool = False,
        repeat: bool = False,
        share: float = 1.0,
    ) -> ToneKind | None:
        self._note_silence(index, energy, silent=silent)
        if repeat and not self._repeat_run:
            self._repeating_tone = bool(self._current) and not self._gap
        self._after_repeat = not repeat and 0 < self._repeat_run <= MAX_LOST_FRAMES
        self._repeat_run = self._repeat_run + 1 if repeat else 0
        if index in _SIT_SETS:
            self._heard = min(self._heard + 1, 2)
            return self._push_sit(_SIT_SETS[index])
        if index != _NO_SET:
            self._tone_frame(index, energy, edge=edge, share=share)
        elif self._current:
            self._odd_run = 0
            self._gap += 1
            if self._gap > BRIDGE_FRAMES and not self._lost(energy, silent=silent, repeat=repeat):
                self._tone_ended(energy)
        else:
            self._off_frame(energy)
        self._heard = min(self._heard + 1, 2)
        if self._contenders:
            self._settle()
        if self._recognised and not self._still_fits():
            self._drop_misfits()
        return self._kind

    def _note_silence(self, index: int, energy: float, *, silent: bool) -> None:
        """Learn whether this line's quiet is noise (then digital silence is a lost burst)."""
        if silent:
            self._silent_run += 1
            if self._silent_run > MAX_LOST_FRAMES:  # longer than any burst: the line's own silence
                self._noisy_line = False
            return
        self._after_silence = 0 < self._silent_run <= MAX_LOST_FRAMES
        self._silent_run = 0
        if index == _NO_SET and energy > 0:
            heard_a_tone = self._tone_energy != float("inf")
            if (not self._is_loud(energy)) if heard_a_tone else energy < TONE_MIN_LEVEL:
                self._noisy_line = True

    def _lost(self, energy: float, *, silent: bool, repeat: bool = False) -> bool:
        """Whether this window is packets lost inside the open tone, as a jitter buffer hides them.

        It repeats the last packet, fading (a ``repeat``: nothing else is an exact copy), or
        fills the gap with exact zeros. A network's off period carries the line's noise (or its
        comfort noise); on a line whose quiet has been heard to be noise, a run of zeros is a
        burst of loss too. Either, however long the burst (up to :data:`MAX_LOST_FRAMES`), must
        not split an on-period into two short ones. On a line that is digitally silent between
        tones (a PBX's own tones) zeros are the off period.
        """
        if repeat:  # of the tone: one of its off period's noise is the off period going on
            return self._repeating_tone and self._repeat_run <= MAX_LOST_FRAMES
        # The window after a burst holds its last lost frame and, if the tone goes on, half the
        # tone's energy: a lost packet's window too. After noise, the off period has begun.
        latest = self._levels[-1] if self._levels else self._open_level()  # the AGC moves it
        half_tone = energy > latest * 10 ** (-OFF_QUIET_DB / 10)
        if self._after_repeat and self._repeating_tone and half_tone:
            return True
        noisy = self._noisy_line or self._rose_out_of_noise()
        return (
            (silent or (self._after_silence and half_tone)) and noisy and self._silent_run <= MAX_LOST_FRAMES
        )

    def _pure_share(self) -> float:
        """The share of its windows a pure tone explains on this line.

        :data:`PURE_SHARE`, less what the line's noise fills: the off period before the tone
        against the tone. ``steady_tone`` keeps the plain bar: it is reported before any cadence
        has confirmed the tone.
        """
        noise = min(self._before_energy / max(self._open_level(), 1e-20), MAX_NOISE_SHARE)
        return PURE_SHARE * (1.0 - noise)

    def _open_level(self) -> float:
        """The open tone's mean square so far."""
        return self._energy_sum / max(self._energy_frames, 1)

    def _rose_out_of_noise(self) -> bool:
        """Whether the open tone rose out of the line's noise: quiet, but not digital silence.

        Before any tone has ended, that is how the line's quiet is known to be noise (the
        first on-period of a ringback, whose lost packets must not cut it short).
        """
        return (
            bool(self._current)
            and self._energy_frames > 0
            and self._before_energy > 0
            and self._rose_out_of_quiet()
        )

    def _rose_out_of_quiet(self) -> bool:
        """The frames before the open tone were at least :data:`OFF_QUIET_DB` below it."""
        return self._before_energy <= self._open_level() * 10 ** (-OFF_QUIET_DB / 10)

    def _one_set(self) -> float:
        """The part of the open tone's windows that hold its modal set, or one of the same sound.

        A tone between two sets' frequencies (Italy's 425 Hz a little flat) comes out as
        either by turns: one pitch all the same.
        """
        counts = self._set_counts
        same = _SAME_SOUND[self._modal_set] if self._modal_set != _NO_SET else ()
        return sum(counts.get(index, 0) for index in same) / max(sum(counts.values()), 1)

    def _set_recognised(
        self, patterns: tuple[_Pattern, ...], kind: ToneKind | None, *, confirmed: bool
    ) -> None:
        self._recognised, self._kind, self.confirmed = patterns, kind, confirmed

    def _count_set(self, index: int) -> None:
        """A tone is the set most of its windows hold: its edges' windows are spread wider.

        On a tie the set of fewer frequencies (a window half filled by a tone's edge or a lost
        packet spreads into more of them), then the latest.
        """
        counts = self._set_counts
        counts[index] = counts.get(index, 0) + 1
        modal = self._modal_set
        if (counts[index], -_SET_SIZES[index]) >= (counts.get(modal, 0), -_SET_SIZES[modal]):
            self._modal_set, self._current = index, _SET_MASKS[index]

    def _tone_frame(self, index: int, energy: float, *, edge: bool = False, share: float = 1.0) -> None:
        mask = _SET_MASKS[index]
        # The first windows of a tone straddle its onset and spread wider: any set continues it
        # until one window away from an edge has had its say; so does a window straddling an
        # edge (a lost packet) later on, without a say in the tone's set.
        onset = not self._gap and sum(self._set_counts.values()) <= ONSET_FRAMES
        if self._current and (_NEAR_MASKS[index] & self._current or onset or edge):
            self._length += (self._gap + 1) * FRAME_SECONDS
            if not edge:
                self._count_set(index)
            self._odd_run = 0
        elif self._current and self._odd_run + 1 < MIN_TONE_FRAMES:
            # Another set inside a tone, or at its end: a dip, unless it lasts as long as a tone.
            self._odd_run = self._odd_run + 1 if mask & self._odd_mask else 1
            self._odd_mask = mask
            self._gap += 1
            if self._gap > BRIDGE_FRAMES:
                self._tone_ended(energy)
            return
        else:
            odd, self._odd_run = self._odd_run, 0
            self._gap -= odd  # those windows begin the new tone
            if self._pending_off is not None:  # a blip, then another tone: all still off period
                off, length = self._pending_off
                self._pending_off = (off, length + self._length + self._gap * FRAME_SECONDS)
            elif self._current:
                # A tone that turns into another without an off period did not end the way a
                # cadence's on-period ends (a note changing, a noisy patch): it fits nothing.
                self._close_segment(broken=True)
                if self._gap:
                    self._segments.append((None, self._gap * FRAME_SECONDS))
            elif self._length > 0:
                # The off period ends only once this tone proves longer than a blip. One that
                # began with the stream may be the end of a longer one: it fits no cadence.
                self._pending_off = (self._current if self._segments else _BROKEN, self._length)
            self._unheard_start = self._heard < 2
            self._current, self._length = mask, (odd + 1) * FRAME_SECONDS
            self._set_counts, self._modal_set = {}, _NO_SET
            if not edge:
                self._count_set(index)
            self._energy_sum, self._energy_frames = 0.0, odd
            self._levels, self._shares = [], []
            # Not the last two frames: their 40 ms windows already hold some of this tone.
            before = list(self._off_energies)[:-2]
            self._before_energy = float(np.median(before)) if before else 0.0
        self._gap = 0
        self._energy_sum += energy
        if not edge:
            self._levels.append(energy)
            self._shares.append(share)
        self._energy_frames += 1
        if self._pending_off is not None and self._length > MIN_TONE_SECONDS:
            self._segments.append(self._pending_off)
            self._pending_off = None
            self._recognise()

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
        self._tone_energy = self._open_level()
        self._from_quiet = not self._is_loud(self._before_energy)
        self._close_segment()
        self._current, self._length = None, gap

    def _off_frame(self, energy: float) -> None:
        self._off_energies.append(energy)
        self._length += FRAME_SECONDS
        self._loud_run = self._loud_run + 1 if self._is_loud(energy) else 0
        if self._current is None and self._loud_run > BRIDGE_FRAMES:
            self._current = _BROKEN  # not the network's silence: the cadence is broken

    def _is_loud(self, energy: float) -> bool:
        return energy > self._tone_energy * 10 ** (-OFF_QUIET_DB / 10)

    def _push_sit(self, frequency: float) -> ToneKind | None:
        if not self._sit_seen or abs(self._sit_seen[-1] - frequency) > 1:
            self._sit_seen.append(frequency)
        self._sit_seen = self._sit_seen[-3:]
        rising = len(self._sit_seen) == 3 and self._sit_seen[0] < self._sit_seen[1] < self._sit_seen[2]
        return ToneKind.SIT if rising else None

    def _close_segment(self, *, broken: bool = False) -> None:
        if self._length <= 0:
            return
        current = self._current
        if current and (
            broken
            or self._unheard_start
            or not _steady(self._levels, self._shares, self._one_set(), self._pure_share())
        ):
            current = _BROKEN
        self._segments.append((current, self._length))
        if self._current is not None:
            self._sit_seen.clear()
        self._recognise()

    def _recognise(self) -> None:
        """Name the cadence the latest segments fit, if it means one kind."""
        segments = list(self._segments)
        mask = next((m for m, _ in reversed(segments) if m), 0)
        best, candidates = 0, list[tuple[float, _Pattern]]()
        confirmed: list[tuple[float, int, float, _Pattern]] = []
        partial: list[tuple[float, int, float, _Pattern]] = []
        for pattern in _PATTERNS:
            if not pattern.bits & mask:
                continue
            count = confirm_count(pattern.cadence)
            fitting, error, following = _fitting_suffix(segments, pattern, count)
            if fitting >= count:
                confirmed.append((error, fitting, _longest_fit(following), pattern))
                continue
            if fitting:
                partial.append((error, fitting, _longest_fit(following), pattern))
            if fitting > best:
                best, candidates = fitting, [(_longest_fit(following), pattern)]
            elif fitting == best and fitting:
                candidates.append((_longest_fit(following), pattern))
        self._contenders = []
        if confirmed:  # the closest cadence wins; countries that share it vote on its meaning
            confirmed.sort(key=lambda fit: fit[0])
            ranked = tuple(fit[3] for fit in confirmed)
            kind = _closest_vote(ranked)
            # … unless a longer cadence, not yet complete, fits the same periods more closely
            # and means something else (India's ringback 0.4/0.2/0.4/2 against Thailand's
            # congestion 0.3/0.3): the periods to come tell them apart.
            error, fitting = confirmed[0][:2]
            closer = [fit for fit in partial if fit[1] >= fitting and fit[0] < error]
            closest = [pattern for pattern in ranked if pattern.key == ranked[0].key]
            if not closer or _agreed_kind([*closest, *(fit[3] for fit in closer)]) is kind:
                # Longer cadences under way stay in the running: Spain's congestion fits
                # 0.2/0.2 until its 0.6 s off period.
                longer = tuple(fit[3] for fit in sorted(partial, key=lambda fit: fit[0]) if fit[1] >= fitting)
                self._set_recognised((*ranked, *longer), kind, confirmed=True)
                return
            self._set_recognised((), None, confirmed=False)
            self._contenders = [(limit, pattern) for _, _, limit, pattern in (*confirmed, *closer)]
            return
        self._set_recognised((), None, confirmed=False)
        # Provisional: what fits the tone so far, if all of it means the same thing — and the
        # tone rose out of silence: a note of hold music rises out of music.
        # They are settled against the period that follows, after the frame (``_push_set``).
        # Short on-periods wait for the confirmation: a syllable or a note is often as short as
        # a congestion tone's 0.2 s, rarely as steady and long as 0.35 s.
        longest = max((length for mask, length in segments[len(segments) - best :] if mask), default=0.0)
        if candidates and self._from_quiet and longest >= PROVISIONAL_MIN_ON:
            self._contenders = candidates

    def _settle(self) -> None:
        """Drop contenders the open period has outlasted; name the kind the rest agree on."""
        if self._kind is None or len(self._recognised) < len(self._contenders):
            self._contenders = [(limit, p) for limit, p in self._contenders if self._length <= limit]
            kind = _agreed_kind([p for _, p in self._contenders])
            if kind is not None:
                self._set_recognised(tuple(p for _, p in self._contenders), kind, confirmed=False)
                self._contenders = []

    def _drop_misfits(self) -> None:
        """Keep the recognised cadences the open period still fits, the closest first.

        A cadence that fitted less closely can be the one playing: Brazil's congestion
        (0.25/0.25/0.75/0.25) fits the shorter 0.25/0.25 best until its long on-period.
        """
        fitting = tuple(p for p in self._recognised if self._open_segment_fits(p))
        if not fitting:
            self._set_recognised((), None, confirmed=False)
        elif self.confirmed:
            self._set_recognised(fitting, _closest_vote(fitting), confirmed=True)
        else:
            self._recognised = fitting

    def _still_fits(self) -> bool:
        """The current (open) segment may not outlast what a recognised cadence allows."""
        return any(self._open_segment_fits(pattern) for pattern in self._recognised)

    def _open_segment_fits(self, pattern: _Pattern) -> bool:
        if self._current == _BROKEN:
            return False
        # Its sound is judged once it has lasted a tone's length past its onset: a codec's onset
        # transient (GSM) can spread three windows into a nearby pair of tones.
        if (
            self._current is not None
            and sum(self._set_counts.values()) > ONSET_FRAMES + MIN_TONE_FRAMES
            and not self._current & pattern.bits
        ):
            return False
        longest = max(pattern.cadence[0::2] if self._current is not None else pattern.cadence[1::2])
        return self._length <= _longest_fit(longest)


def _repeats(frames: Samples) -> npt.NDArray[np.bool_]:
    """Which frames (after the first) a jitter buffer made up by repeating the one before.

    It conceals a lost packet by playing the last one again, quieter each time (6 dB per
    repeat): the frame is then an exact, scaled-down copy. A tone never repeats itself so, as
    it does not fade: one whose period fits a frame (400 Hz) repeats at the same level.
    """
    previous, current = frames[:-1], frames[1:]
    power = np.einsum("ij,ij->i", previous, previous)
    scale = np.einsum("ij,ij->i", current, previous) / np.maximum(power, 1e-20)
    residual = current - scale[:, None] * previous
    exact = np.einsum("ij,ij->i", residual, residual) <= REPEAT_RESIDUAL * np.maximum(power, 1e-20)
    repeated: npt.NDArray[np.bool_] = exact & (power > 1e-12) & (scale > 0.1) & (scale < FADING_REPEAT)
    return repeated


def _steady(
    levels: list[float], shares: list[float], one_set: float = 1.0, pure_share: float = PURE_SHARE
) -> bool:
    """Whether a tone's window levels (mean squares) are a network's steady tone.

    Its first and last two windows hold its edges; of the rest, the 10th and 90th percentile
    may differ by :data:`STEADY_DB` at most. A syllable or a note swells and fades.

    A pure tone (``shares``: the part of each window its set explains; median at least
    ``pure_share``, :data:`PURE_SHARE` less the line's noise) of one pitch (``one_set``: the
    part of its windows that hold its modal set, at least :data:`ONE_SET_SHARE`) may instead
    drift smoothly, as a line's AGC moves its gain: after a quiet off period the AGC has
    raised the gain and pulls the tone down over the on-period.
    Then its levels around a quadratic trend must stay within :data:`STEADY_DB`, and the trend
    within :data:`AGC_RANGE_DB`.
    """
    inner = levels[ONSET_FRAMES:-ONSET_FRAMES] if len(levels) > 2 * ONSET_FRAMES + 2 else levels
    if len(inner) < 3:
        return True
    low, high = np.percentile(inner, (10, 90))
    if high <= low * 10 ** (STEADY_DB / 10):
        return True
    pure = shares[ONSET_FRAMES:-ONSET_FRAMES] if len(shares) > 2 * ONSET_FRAMES + 2 else shares
    if len(inner) < 4 or float(np.median(pure)) < pure_share or one_set < ONE_SET_SHARE:
        return False
    db = 10 * np.log10(np.maximum(inner, 1e-20))
    x = np.linspace(0.0, 1.0, len(db))
    trend = np.polyval(np.polyfit(x, db, 2), x)
    low, high = np.percentile(db - trend, (10, 90))
    return bool(high - low <= STEADY_DB and trend.max() - trend.min() <= AGC_RANGE_DB)


def _fitting_suffix(segments: list[Segment], pattern: _Pattern, count: int) -> tuple[int, float, float]:
    """How many of the latest segments (up to ``count``, one on-period at least) fit ``pattern``.

    Also the mean relative deviation of the fit, to choose between cadences that both fit, and
    the longest the cadence allows for the period that follows (where the segments fit more
    than one place in the cadence, the closest fit and the longest next period).
    """
    cadence = pattern.cadence
    cycle = len(cadence)
    for size in range(min(count, len(segments)), 0, -1):
        recent = segments[-size:]
        if not any(mask for mask, _ in recent):
            continue
        errors, following = [], []
        # Align so that the pattern's "on" segments are the tone segments.
        for shift in range(cycle):
            if all(
                (mask is None) == ((shift + index) % 2 == 1)
                and (mask is None or bool(mask & pattern.sound(shift + index)))
                and cadence_fits(length, cadence[(shift + index) % cycle])
                for index, (mask, length) in enumerate(recent)
            ):
                errors.append(
                    sum(
                        abs(length - cadence[(shift + index) % cycle]) / cadence[(shift + index) % cycle]
                        for index, (_, length) in enumerate(recent)
                    )
                )
                following.append(cadence[(shift + size) % cycle])
        if errors:
            return size, min(errors) / size, max(following)
    return 0, 0.0, 0.0
