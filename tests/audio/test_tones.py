"""DTMF and call-progress tone detection on synthesised telephone audio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from custom_components.hold_slayer.audio import tones
from custom_components.hold_slayer.audio.tones import (
    BRIDGE_FRAMES,
    DTMF_COLUMNS,
    DTMF_KEYS,
    DTMF_ROWS,
    FRAME,
    SAMPLE_RATE,
    TONES,
    DtmfDetector,
    ProgressToneDetector,
    Samples,
    ToneKind,
    ToneSpec,
    decision_time,
    dtmf_key,
    named_kind,
    tone_sets,
)
from harness import corpus
from harness.channel import Channel, through_channel

BY_NAME = {spec.name: spec for spec in TONES}


def _tone(frequencies: tuple[float, ...], seconds: float, level_db: float = -10.0) -> Samples:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    amplitude = 10 ** (level_db / 20) / len(frequencies)
    signal: Samples = np.zeros(len(t))
    for index, frequency in enumerate(frequencies):
        signal += amplitude * np.sin(2 * np.pi * frequency * t + index)
    return signal


def _cadence(
    frequencies: tuple[float, ...], cadence: tuple[float, ...], cycles: int, level_db: float = -10.0
) -> Samples:
    parts = []
    for _ in range(cycles):
        for index, length in enumerate(cadence):
            parts.append(
                _tone(frequencies, length, level_db)
                if index % 2 == 0
                else np.zeros(round(length * SAMPLE_RATE))
            )
    return np.concatenate(parts)


def _frames(signal: Samples) -> list[Samples]:
    usable = len(signal) // FRAME * FRAME
    return list(signal[:usable].reshape(-1, FRAME))


def _noise(seconds: float, level_db: float, seed: int = 0) -> Samples:
    return np.random.default_rng(seed).normal(0, 10 ** (level_db / 20), round(seconds * SAMPLE_RATE))


@pytest.mark.parametrize("key", [k for row in DTMF_KEYS for k in row])
def test_every_dtmf_key(key: str) -> None:
    """All 16 keys are recognised in a single 20 ms frame, also with background noise."""
    row = next(i for i, keys in enumerate(DTMF_KEYS) if key in keys)
    signal = _tone((DTMF_ROWS[row], DTMF_COLUMNS[DTMF_KEYS[row].index(key)]), 0.02) + _noise(0.02, -40)
    assert dtmf_key(signal) == key


def test_dtmf_rejects_speech_like_and_twisted_signals() -> None:
    """Noise, a single tone, excessive twist and too little level are not digits."""
    assert dtmf_key(_noise(0.02, -15)) is None
    assert dtmf_key(_tone((697.0,), 0.02)) is None
    twisted = 0.5 * np.sin(2 * np.pi * 697 * np.arange(FRAME) / SAMPLE_RATE) + 0.05 * np.sin(
        2 * np.pi * 1209 * np.arange(FRAME) / SAMPLE_RATE
    )
    assert dtmf_key(twisted) is None
    assert dtmf_key(_tone((697.0, 1209.0), 0.02, level_db=-60)) is None
    assert dtmf_key(_tone((697.0, 770.0, 1209.0), 0.02)) is None  # two rows: no clear row
    assert dtmf_key(_tone((697.0, 1209.0, 1336.0), 0.02)) is None  # two columns


def test_dtmf_detector_needs_40_ms_and_reports_once() -> None:
    """A key is reported once after two frames; a 20 ms blip is ignored; repeats need a gap."""
    detector = DtmfDetector()
    one = _tone((697.0, 1209.0), 0.02)
    silence = np.zeros(FRAME)
    sequence = [one, silence, one, one, one, silence, one, one]
    digits = [detector.push(frame) for frame in sequence]
    assert [d for d in digits if d] == ["1", "1"]
    assert detector.active


# Silence before a tone: one sounding from the stream's first frame may have begun before it,
# so the detector does not take that on-period's length for the tone's.
LEAD = 0.1
# An on-period is over once its tone has been gone for the bridge (80 ms); its 40 ms windows
# hold it for a frame longer; and the frame that decides.
LATE = 0.14


def _clean(spec: ToneSpec, cycles: int, level_db: float = -10.0) -> Samples:
    """``LEAD`` of silence, then ``cycles`` whole cadences of ``spec`` (random phases, fixed seed)."""
    tone = corpus.progress_tone(spec, sum(spec.cadence) * cycles, np.random.default_rng(0))
    return np.concatenate((np.zeros(round(LEAD * SAMPLE_RATE)), tone * 10 ** (level_db / 20)))


@pytest.mark.parametrize("spec", TONES, ids=lambda spec: spec.name)
def test_progress_tones_by_cadence(spec: ToneSpec) -> None:
    """Each national tone is named by its decision time, and stays named while it continues."""
    signal = _clean(spec, cycles=3)
    signal = signal + _noise(len(signal) / SAMPLE_RATE, -45)
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in _frames(signal)]
    first = next((i for i, kind in enumerate(kinds) if kind is not None), None)
    assert first is not None, "never recognised"
    assert (first + 1) * 0.02 <= LEAD + decision_time(spec) + LATE
    assert {kind for kind in kinds if kind is not None} == {named_kind(spec)}
    assert all(kind is named_kind(spec) for kind in kinds[first:])


def test_progress_tone_with_wrong_cadence_is_not_named() -> None:
    """440+480 Hz with a 0.5/0.5 cadence is neither US ringback nor any busy tone."""
    detector = ProgressToneDetector()
    kinds = {detector.push(frame) for frame in _frames(_cadence((440.0, 480.0), (0.5, 0.5), cycles=6))}
    assert kinds == {None}


def test_sit() -> None:
    """Special information tones: three rising ~330 ms tones."""
    signal = np.concatenate([_tone((f,), 0.33) for f in (985.2, 1428.5, 1776.7)])
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in _frames(signal)]
    assert ToneKind.SIT in kinds
    assert ToneKind.SIT not in kinds[: int(0.66 / 0.02)]


def _first_named(signal: Samples) -> tuple[float | None, list[ToneKind | None]]:
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in _frames(signal)]
    first = next((i for i, kind in enumerate(kinds) if kind is not None), None)
    return (None if first is None else (first + 1) * 0.02), kinds


@pytest.mark.parametrize(
    "spec", [s for s in TONES if decision_time(s) == s.cadence[0]], ids=lambda spec: spec.name
)
def test_tone_named_after_its_first_on_period(spec: ToneSpec) -> None:
    """A tone whose first on-period fits one kind is named within ``LATE`` of its end (provisional)."""
    named_at, kinds = _first_named(_clean(spec, cycles=2))
    assert named_at is not None
    assert spec.cadence[0] < named_at - LEAD <= spec.cadence[0] + LATE
    assert {kind for kind in kinds if kind is not None} == {named_kind(spec)}


def test_uk_busy_waits_for_the_period_that_tells_it_from_congestion() -> None:
    """400 Hz 0.375 s could still be UK congestion (0.4/0.35/…) until the second on-period."""
    spec = BY_NAME["uk busy"]
    named_at, kinds = _first_named(_clean(spec, cycles=3))
    assert named_at is not None
    assert 0.375 * 2 < named_at - LEAD <= decision_time(spec) + LATE
    assert {kind for kind in kinds if kind is not None} == {ToneKind.BUSY}


def test_provisional_tone_is_confirmed_by_its_cadence() -> None:
    """One on-period is provisional; on-off-on is confirmed; a tone that never returns is dropped."""
    spec = BY_NAME["us ringback"]  # 2 s / 4 s
    detector = ProgressToneDetector()
    first = [
        detector.push(frame)
        for frame in _frames(np.concatenate((np.zeros(800), _tone(spec.frequencies, 2.0))))
    ]
    gap = [detector.push(frame) for frame in _frames(np.zeros(SAMPLE_RATE))]
    assert set(first) == {None}
    assert gap[-1] is ToneKind.RINGBACK
    assert not detector.confirmed
    second = np.concatenate([np.zeros(3 * SAMPLE_RATE), _tone(spec.frequencies, 2.0), np.zeros(1600)])
    kinds = [detector.push(frame) for frame in _frames(second)]
    assert set(kinds) == {ToneKind.RINGBACK}
    assert detector.confirmed
    late = [detector.push(frame) for frame in _frames(np.zeros(6 * SAMPLE_RATE))]
    assert late[-1] is None  # the off period outlasted 4 s + 20 %
    assert not detector.confirmed


@pytest.mark.parametrize("spec", TONES, ids=lambda spec: spec.name)
def test_progress_tones_through_lost_packets_and_low_level(spec: ToneSpec) -> None:
    """5 % of frames lost (silence) and -30 dBFS in -45 dBFS noise: the cadence still holds."""
    rng = np.random.default_rng(3)
    named_by = LEAD + decision_time(spec) + 0.3  # lost packets can spoil the first chance
    signal = _clean(spec, cycles=max(4, math.ceil(2 * named_by / sum(spec.cadence))), level_db=-30.0)
    signal = signal + _noise(len(signal) / SAMPLE_RATE, -45, seed=4)
    frames = _frames(signal)
    for index in np.flatnonzero(rng.random(len(frames)) < 0.05):
        frames[index] = np.zeros(FRAME)
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in frames]
    tail = kinds[max(len(kinds) // 2, math.ceil(named_by / 0.02)) :]
    assert sum(kind is named_kind(spec) for kind in tail) >= 0.99 * len(tail)


def test_loud_audio_in_the_off_period_breaks_the_cadence() -> None:
    """A 425 Hz second in music is not ringback (de, it …): the "gap" after it is not silence."""
    music_like = _noise(4.0, -12, seed=9)
    signal = np.concatenate([np.zeros(800), _tone((425.0,), 1.0, level_db=-12), music_like])
    named_at, kinds = _first_named(signal)
    assert named_at is not None  # named provisionally when the on-period ends …
    assert kinds[-100:] == [None] * 100  # … and dropped once loud non-tone audio fills the gap
    assert sum(kind is not None for kind in kinds) <= 10


def test_short_blips_in_the_off_period_are_ignored() -> None:
    """A 40 ms tone blip in an off period neither breaks nor starts a segment."""
    spec = BY_NAME["de ringback"]
    signal = _clean(spec, cycles=3)
    start = round((LEAD + 2.5) * SAMPLE_RATE)
    signal[start : start + 320] = _tone((425.0,), 0.04)
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in _frames(signal)]
    assert all(kind is ToneKind.RINGBACK for kind in kinds[65:])


def test_a_note_rising_out_of_music_is_not_named_provisionally() -> None:
    """425 Hz for a second straight out of loud audio, then silence: no provisional ringback."""
    signal = np.concatenate([_noise(2.0, -12, seed=5), _tone((425.0,), 1.0, level_db=-12), np.zeros(16000)])
    named_at, _ = _first_named(signal)
    assert named_at is None


def test_a_tone_sounding_as_the_stream_begins_is_not_a_whole_on_period() -> None:
    """US busy joined 0.25 s into an on-period: the rest is not taken for reorder's 0.25 s."""
    spec = BY_NAME["us busy"]  # 480+620 Hz 0.5/0.5; reorder is 0.25/0.25
    signal = corpus.progress_tone(spec, 3.0, np.random.default_rng(1), offset=0.25) * 0.3
    kinds = ProgressToneDetector().push_block(np.array(_frames(signal)))
    assert ToneKind.REORDER not in kinds
    assert kinds[-1] is ToneKind.BUSY


@pytest.mark.parametrize("pitch", [0.985, 1.015])
def test_a_tone_off_by_one_and_a_half_percent_is_the_same_tone(pitch: float) -> None:
    """German ringback at 419 or 431 Hz (an old exchange's oscillator) is still 425 Hz ringback.

    At 431 Hz a 40 ms window is nearer to Australia's 413+438 Hz than to 425 Hz, unless the
    set is also measured a little sharp and flat.
    """
    spec = BY_NAME["de ringback"]
    tone = corpus.progress_tone(spec, 3 * sum(spec.cadence), np.random.default_rng(0), pitch=pitch)
    signal = np.concatenate((np.zeros(round(LEAD * SAMPLE_RATE)), 0.3 * tone))
    named_at, kinds = _first_named(signal + _noise(len(signal) / SAMPLE_RATE, -45))
    assert named_at is not None
    assert named_at - LEAD <= decision_time(spec) + LATE
    assert {kind for kind in kinds if kind is not None} == {ToneKind.RINGBACK}


def test_repeated_packets_do_not_break_a_tone() -> None:
    """Lost packets concealed by repeating the last one, 6 dB quieter each time, stay in the tone.

    A repeat joins two pieces of the tone out of phase and 6 dB down: its windows have no say
    in the tone's set or steadiness.
    """
    spec = BY_NAME["de busy"]
    frames = _frames(_clean(spec, cycles=8))
    rng = np.random.default_rng(5)
    lost = 0
    for index in range(1, len(frames)):
        if rng.random() < 0.1:
            lost += 1
            frames[index] = frames[index - 1] * 0.5
    assert lost > 10
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in frames]
    tail = kinds[math.ceil((LEAD + decision_time(spec) + LATE) / 0.02) :]
    assert sum(kind is ToneKind.BUSY for kind in tail) >= 0.99 * len(tail)
    assert {kind for kind in kinds if kind is not None} == {ToneKind.BUSY}


def test_a_tone_whose_period_fits_a_frame_is_not_a_repeat() -> None:
    """400 Hz repeats itself every 20 ms at the same level: not a jitter buffer's repeat."""
    tone = _tone((400.0,), 0.2)
    frames = np.array(_frames(tone))
    assert not tones._repeats(frames).any()
    frames[3] = frames[2] * 0.5
    # Each frame after the first against the one before: only frame 3 is a repeat.
    assert tones._repeats(frames).tolist() == [index == 2 for index in range(len(frames) - 1)]


def _on_a_noisy_line(
    spec: ToneSpec, cycles: int, noise_db: float, seed: int, delay: int = 0
) -> list[Samples]:
    """``_clean`` cycles of ``spec`` (``delay`` samples later) in white noise, as frames to spoil."""
    signal = np.concatenate((np.zeros(delay), _clean(spec, cycles=cycles)))
    return _frames(signal + _noise(len(signal) / SAMPLE_RATE, noise_db, seed=seed))


def _named_from_deadline(
    spec: ToneSpec, frames: list[Samples], kind: ToneKind, later: float = 0.0
) -> list[ToneKind | None]:
    """Assert ``kind`` is named for ≥ 99 % of the frames from the decision time (+ ``later``)."""
    kinds = ProgressToneDetector().push_block(np.array(frames))
    tail = kinds[math.ceil((LEAD + decision_time(spec) + LATE + later) / 0.02) :]
    assert sum(named is kind for named in tail) >= 0.99 * len(tail)
    return kinds


def test_a_lost_burst_of_silence_does_not_split_an_on_period() -> None:
    """On a line whose quiet is noise, 200 ms of exact zeros inside an on-period is lost packets.

    A jitter buffer conceals a burst of loss with silence: the 0.48 s on-periods of German busy
    would become two short ones and fit no cadence. On a line that is digitally silent between
    tones the zeros would be an off period; here the off periods carry the line's noise.
    """
    spec = BY_NAME["de busy"]
    frames = _on_a_noisy_line(spec, cycles=8, noise_db=-50, seed=6)
    cycle = round(sum(spec.cadence) / 0.02)
    for start in range(round(LEAD / 0.02) + 7, len(frames) - 10, cycle):  # inside each on-period
        for index in range(start, start + 10):
            frames[index] = np.zeros(FRAME)
    kinds = _named_from_deadline(spec, frames, ToneKind.BUSY, later=sum(spec.cadence))
    assert {kind for kind in kinds if kind is not None} == {ToneKind.BUSY}


def test_digital_silence_is_an_off_period_on_a_silent_line() -> None:
    """Without noise between tones, exact zeros are the off period (a PBX's own tones)."""
    detector = ProgressToneDetector()
    detector.push_block(np.array(_frames(_clean(BY_NAME["de busy"], cycles=2))))
    assert not detector._noisy_line
    assert detector._lost(0.0, silent=True) is False


def test_lost_packets_in_the_first_on_period_do_not_split_it() -> None:
    """Before any tone has ended, a tone that rose out of the line's noise knows it is noise.

    US ringback's first 2 s on-period loses every other packet for 0.24 s (concealed with
    silence): each window after a lost frame holds half the tone, the one after it the zeros.
    The noise (-40 dBFS) is too loud to be known as the line's quiet before a tone ends.
    """
    spec = BY_NAME["us ringback"]
    frames = _on_a_noisy_line(spec, cycles=2, noise_db=-40, seed=8)
    first_lost = round((LEAD + 1.0) / 0.02)
    for index in range(first_lost, first_lost + 12, 2):
        frames[index] = np.zeros(FRAME)
    _named_from_deadline(spec, frames, ToneKind.RINGBACK)


def _conceal_by_repeating(frames: list[Samples], first: int, count: int) -> None:
    """A jitter buffer hides ``count`` lost packets by repeating the one before, 6 dB fainter each."""
    for index in range(first, first + count):
        frames[index] = frames[index - 1] * 0.5


def test_a_jitter_buffers_repeats_inside_an_on_period_do_not_split_it() -> None:
    """Bursts of 8 and 11 lost packets inside US ringback's 2 s on-periods, each concealed by
    repeating the last packet as it fades into the noise: the tone went on under them."""
    spec = BY_NAME["us ringback"]
    frames = _on_a_noisy_line(spec, cycles=3, noise_db=-60, seed=10)
    for cycle in range(3):
        on = round((LEAD + cycle * sum(spec.cadence)) / 0.02)
        _conceal_by_repeating(frames, on + 30, 8)
        _conceal_by_repeating(frames, on + 70, 11)
    _named_from_deadline(spec, frames, ToneKind.RINGBACK)


def test_repeats_of_the_off_periods_noise_are_the_off_period() -> None:
    """A burst concealed by repeating a frame of the line's noise after a tone has ended is no
    part of the tone: Sweden's 0.25/0.75 congestion is named when its second on-period ends."""
    spec = BY_NAME["se congestion"]
    frames = _on_a_noisy_line(spec, cycles=4, noise_db=-45, seed=11)
    for cycle in range(4):
        ended = round((LEAD + cycle * sum(spec.cadence) + spec.cadence[0]) / 0.02)
        _conceal_by_repeating(frames, ended + BRIDGE_FRAMES, 9)  # as the bridge runs out
    _named_from_deadline(spec, frames, ToneKind.REORDER)


def test_a_lost_burst_across_a_tones_end_leaves_the_off_period_to_the_noise() -> None:
    """Zeros from the last frames of an on-period to the last frame of its off period: the frame
    of the line's noise after the burst is the off period under way, not the tone going on
    (Venezuela's 0.25/0.25 congestion would become one long on-period)."""
    spec = BY_NAME["ve congestion"]
    frames = _on_a_noisy_line(
        spec, cycles=8, noise_db=-50, seed=9, delay=20
    )  # tones start 2.5 ms into a frame
    first_on = 20 + round(LEAD * SAMPLE_RATE)
    for cycle in range(7):
        ends = first_on + round((cycle * sum(spec.cadence) + spec.cadence[0]) * SAMPLE_RATE)
        next_on = first_on + round((cycle + 1) * sum(spec.cadence) * SAMPLE_RATE)
        # From the tone's last two frames to two frames before the one it starts again in:
        # a single frame of noise after the burst.
        for index in range(ends // FRAME - 2, next_on // FRAME - 1):
            frames[index] = np.zeros(FRAME)
    kinds = _named_from_deadline(spec, frames, ToneKind.REORDER, later=sum(spec.cadence))
    assert {kind for kind in kinds if kind is not None} == {ToneKind.REORDER}


def test_an_amplitude_modulated_tone_with_a_weak_side_band_keeps_its_three_frequencies() -> None:
    """India's 400*25 Hz ringback, 1 % sharp, its lower side band cut by a line's band edge:
    a pair of tones (413+438 Hz, Australia's) explains 90 % of each window, its own three
    frequencies all of it. The pair leaves many times the residual: it is not the tone."""
    t = np.arange(round(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
    carrier = 400.0 * 1.01
    signal = (
        np.sin(2 * np.pi * carrier * t)
        + 0.45 * np.sin(2 * np.pi * (carrier + 25) * t + 0.3)
        + 0.18 * np.sin(2 * np.pi * (carrier - 25) * t + 1.1)
    ) * 0.1
    frames = np.array(_frames(signal))
    windows = np.hstack((frames[:-1], frames[1:]))
    assert set(tone_sets(windows)) == {(375.0, 400.0, 425.0)}


def _agc(signal: Samples, fall_db: float, seconds: float) -> Samples:
    """A line's AGC after a quiet off period: each on-period starts ``fall_db`` loud, then falls."""
    out = signal.copy()
    on = np.abs(signal) > 0
    starts = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    gain = np.ones(len(signal))
    for start in starts:
        t = np.arange(len(signal) - start) / SAMPLE_RATE
        gain[start:] = 10 ** (fall_db * np.exp(-t / seconds) / 20)
    return out * gain


def test_a_pure_tone_pulled_down_by_an_agc_is_still_steady() -> None:
    """Ringback whose level falls 8 dB over its on-period (an AGC recovering) is still a tone.

    Only a pure tone may drift so: a note of the same frequency with harmonics, drifting the
    same way, is not steady.
    """
    spec = BY_NAME["de ringback"]
    signal = _agc(_clean(spec, cycles=3), 8.0, 0.4)
    signal = signal + _noise(len(signal) / SAMPLE_RATE, -55, seed=7)
    named_at, kinds = _first_named(signal)
    assert named_at is not None
    assert named_at - LEAD <= decision_time(spec) + LATE
    assert {kind for kind in kinds if kind is not None} == {ToneKind.RINGBACK}
    levels = [10 ** (-8 * math.exp(-t / 0.4) / 10) for t in np.arange(40) * 0.02]
    assert tones._steady(levels, [0.99] * 40)
    assert not tones._steady(levels, [0.85] * 40)  # a note: harmonics outside its set


def test_a_pure_tone_drifting_in_the_lines_noise_is_still_a_tone() -> None:
    """Ringback an AGC pulls down 6 dB over its on-period, 12 dB over the line's noise (GSM and
    an AGC can leave no more): the noise fills 6 % of each window, so the tone's set explains
    about 94 %. Purity is judged against what the line's noise leaves, as its off period says."""
    spec = BY_NAME["de ringback"]
    signal = _agc(_clean(spec, cycles=3), 6.0, 0.4)
    signal = signal + _noise(len(signal) / SAMPLE_RATE, -25, seed=12)
    named_at, kinds = _first_named(signal)
    assert named_at is not None
    assert named_at - LEAD <= decision_time(spec) + LATE
    assert {kind for kind in kinds if kind is not None} == {ToneKind.RINGBACK}


def test_a_rectified_tone_through_gsm_is_its_carrier_and_side_band() -> None:
    """Singapore's 425*24 Hz ringback as Asterisk generates it (the carrier times the
    modulator's absolute value), through GSM: its windows come out as 425+480 Hz, the carrier
    and the side band 48 Hz above. That pair stands for the tone, and it is named ringback."""
    spec = BY_NAME["sg ringback"]
    tone = corpus.progress_tone(spec, sum(spec.cadence) * 3, np.random.default_rng(3), rectified=True)
    signal = np.concatenate((np.zeros(round(LEAD * SAMPLE_RATE)), 0.1 * tone))
    line = np.random.default_rng(4)
    heard = through_channel(signal, Channel(codec="gsm", noise_db=-72.0), line)
    frames = np.array(_frames(heard))
    assert (425.0, 480.0) in tone_sets(np.hstack((frames[:-1], frames[1:]))[8:25])  # the first on-period
    named_at, kinds = _first_named(heard)
    assert named_at is not None
    assert named_at - LEAD <= decision_time(spec, carrier=True) + LATE
    assert {kind for kind in kinds if kind is not None} == {ToneKind.RINGBACK}
    pair = tones._TONE_SETS.index((425.0, 480.0))
    assert tones._SET_MASKS[pair] & tones._SOUND_BIT["425*24"]
    assert not tones._NEAR_MASKS[pair] & tones._SOUND_BIT["425*24"]  # it continues no tone
    australia = tones._TONE_SETS.index((413.0, 438.0))
    assert not tones._SET_MASKS[australia] & tones._SOUND_BIT["400*25"]  # 13 Hz off: too far


def test_a_set_stands_only_for_sounds_within_a_windows_resolution() -> None:
    """Mistuned tones are met by measuring sharp and flat: 425 Hz does not stand for 440 Hz."""
    mask = tones._SET_MASKS[tones._TONE_SETS.index((425.0,))]
    assert mask & tones._SOUND_BIT["420"]
    assert not mask & tones._SOUND_BIT["440"]


def test_a_steady_first_on_period_is_reported_before_its_cadence_is_known() -> None:
    """``steady_tone``: a table tone's set, steady for 0.3 s out of quiet; not loud noise."""
    detector = ProgressToneDetector()
    signal = np.concatenate([np.zeros(800), _tone((425.0,), 0.6)])
    kinds = detector.push_block(np.array(_frames(signal)))
    assert not any(kinds)
    held = [index for index, tone in enumerate(detector.held) if tone is not None]
    assert held
    assert (held[0] + 1) * 0.02 >= 0.1 + tones.EARLY_TONE_SECONDS
    assert detector.held[-1] == (425.0,)
    noisy = ProgressToneDetector()
    noisy.push_block(np.array(_frames(_noise(1.0, -20, seed=8))))
    assert not any(noisy.held)
