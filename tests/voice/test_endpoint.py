"""Endpointing on synthetic speech-like bursts, pauses and steady noise."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.hold_slayer.voice.endpoint import Utterance, UtteranceDetector
from custom_components.hold_slayer.voice.pcm import Pcm

RNG = np.random.default_rng(7)


def _noise(seconds: float, level: float) -> Pcm:
    noise: Pcm = (RNG.standard_normal(round(8000 * seconds)) * level).astype(np.int16)
    return noise


def _burst(seconds: float) -> Pcm:
    t = np.arange(round(8000 * seconds)) / 8000
    voiced = 6000 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    burst: Pcm = voiced.astype(np.int16)
    return burst


def _push(signal: Pcm, detector: UtteranceDetector) -> list[Utterance]:
    """The utterances ``signal`` ended, 20 ms at a time (one in progress stays open)."""
    found = []
    for start in range(0, len(signal) - 159, 160):
        utterance = detector.push(signal[start : start + 160])
        if utterance is not None:
            found.append(utterance)
    return found


def _run(signal: Pcm, detector: UtteranceDetector) -> list[Utterance]:
    found = _push(signal, detector)
    if (last := detector.flush()) is not None:
        found.append(last)
    return found


def test_two_utterances_split_by_a_long_pause() -> None:
    signal = np.concatenate(
        [_noise(1, 30), _burst(1.5), _noise(0.3, 30), _burst(0.5), _noise(1.5, 30), _burst(1), _noise(1, 30)]
    )
    found = _run(signal, UtteranceDetector(end_silence=0.7))
    assert len(found) == 2  # the 0.3 s pause does not end the first utterance
    assert found[0].start == pytest.approx(1.0, abs=0.25)
    assert found[0].end == pytest.approx(3.3, abs=0.1)
    assert found[1].start == pytest.approx(4.8, abs=0.25)
    assert len(found[1].audio) == pytest.approx(8000 * 1.0, abs=8000 * 0.3)


def test_steady_noise_is_not_an_utterance_forever() -> None:
    """Loud steady noise may open one utterance, but the floor adapts and it ends."""
    found = _run(_noise(30, 3000), UtteranceDetector(end_silence=0.7, max_length=20))
    assert all(u.end - u.start <= 20 for u in found)
    assert len(found) <= 2


def test_silence_and_flush_without_speech() -> None:
    detector = UtteranceDetector()
    assert _run(np.zeros(8000, dtype=np.int16), detector) == []
    assert not detector.active


def test_max_length_cuts_a_monologue() -> None:
    found = _run(np.concatenate([_noise(0.5, 30), _burst(5)]), UtteranceDetector(max_length=2))
    assert [round(u.end - u.start) for u in found][:2] == [2, 2]


def test_quiet_is_counted_inside_an_utterance_and_it_can_be_closed_at_once() -> None:
    """A pause inside an utterance is quiet already; closing it early keeps its words, and the
    next sound starts an utterance of its own."""
    detector = UtteranceDetector(end_silence=1.0)
    assert _push(_burst(1.0), detector) == []
    assert detector.active
    assert detector.quiet_seconds == 0.0
    _push(_noise(0.4, 30), detector)
    assert detector.active  # 0.4 s of quiet does not end it
    assert detector.quiet_seconds == pytest.approx(0.4, abs=0.05)
    closed = detector.flush()
    assert closed is not None
    assert closed.end == pytest.approx(1.0, abs=0.05)
    [following] = _push(np.concatenate([_noise(0.2, 30), _burst(0.5), _noise(1.2, 30)]), detector)
    assert following.start == pytest.approx(1.4, abs=0.25)
