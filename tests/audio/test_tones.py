"""DTMF and call-progress tone detection on synthesised telephone audio."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.hold_slayer.audio.tones import (
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
    dtmf_key,
)


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


@pytest.mark.parametrize("spec", TONES, ids=lambda spec: spec.name)
def test_progress_tones_by_cadence(spec: ToneSpec) -> None:
    """Each national tone is named after one full cadence, and stays named while it continues."""
    signal = _cadence(spec.frequencies, spec.cadence, cycles=3) + _noise(sum(spec.cadence) * 3, -45)
    detector = ProgressToneDetector()
    kinds = [detector.push(frame) for frame in _frames(signal)]
    first = next((i for i, kind in enumerate(kinds) if kind is not None), None)
    assert first is not None, "never recognised"
    assert first * 0.02 <= sum(spec.cadence) * 1.5 + 0.1
    assert {kind for kind in kinds[first:] if kind is not None} == {spec.kind}
    tail = kinds[len(kinds) * 3 // 4 :]
    assert sum(kind is spec.kind for kind in tail) >= 0.9 * len(tail)


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
