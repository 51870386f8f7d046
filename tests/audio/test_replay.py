"""Replays by their waveform: a recording played again down a line, against anything new."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.monitor import TUNING
from custom_components.hold_slayer.audio.replay import EMPHASIS, ReplayHistory
from harness import corpus
from harness.channel import Channel, through_channel

Floats = npt.NDArray[np.float64]
RATE = 8000


def peak_correlation(history: Floats, probe: Floats) -> float:
    """The probe's peak against a history given at once (what the monitor's history holds)."""
    kept = ReplayHistory(max(1, len(history)))
    kept.extend(history)
    return kept.peak(probe, kept.end)


def _brute(history: Floats, probe: Floats) -> float:
    history = np.concatenate((history[:1], history[1:] - EMPHASIS * history[:-1]))
    probe = probe[1:] - EMPHASIS * probe[:-1]
    centred = probe - probe.mean()
    best = 0.0
    for lag in range(len(history) - len(probe) + 1):
        stretch = history[lag : lag + len(probe)] - history[lag : lag + len(probe)].mean()
        best = max(best, float(stretch @ centred / np.linalg.norm(stretch) / np.linalg.norm(centred)))
    return best


@pytest.mark.parametrize("history_length", [900, 5000, 40000])
def test_the_search_is_the_normalised_cross_correlation_at_every_lag(history_length: int) -> None:
    """Whatever the history's length against the FFT blocks, the peak is the brute force's
    (both pre-emphasised)."""
    rng = np.random.default_rng(history_length)
    history = rng.normal(size=history_length)
    probe = rng.normal(size=400)
    if history_length >= 40000:  # the probe is in there, quieter: the same waveform at any level
        probe = 0.1 * history[31000:31400]
        assert peak_correlation(history, probe) == pytest.approx(1.0, abs=1e-5)
        return
    assert peak_correlation(history, probe) == pytest.approx(_brute(history, probe), abs=1e-5)


def test_silence_and_short_input_say_nothing() -> None:
    history = np.random.default_rng(1).normal(size=8000)
    assert peak_correlation(history, np.zeros(3200)) == 0.0
    assert peak_correlation(np.zeros(8000), history[:3200]) == 0.0
    assert peak_correlation(history[:100], history[:3200]) == 0.0


@pytest.mark.parametrize(
    "line",
    [
        Channel(),
        Channel(codec="alaw", loss=0.05, concealment="zero", level_db=-12),
        Channel(codec="gsm", loss=0.03, concealment="repeat", agc=0.6),
    ],
    ids=["ulaw", "alaw-lossy", "gsm-lossy-agc"],
)
def test_a_recording_played_again_down_a_line_is_a_replay_and_a_new_voice_is_not(line: Channel) -> None:
    """A prompt, noise, the same prompt again, then a person, all down one line: the prompt's
    second play (0.4 s of it, wherever it starts) correlates with the first above the monitor's
    bar; the person's words, never played before, stay under it."""
    prompt = corpus._normalise(np.concatenate(corpus.prompts("test")[:2]), -20)[: 3 * RATE]
    person = corpus._normalise(np.concatenate(corpus.human_speech("test")), -20)[RATE : 4 * RATE]
    noise = np.random.default_rng(2).normal(0, 0.003, 2 * RATE)
    signal = np.concatenate([noise, prompt, noise, prompt, noise, person])
    heard = through_channel(signal, line, np.random.default_rng(3)).astype(np.float64) / 32768
    size = round(TUNING.replay_probe * RATE)
    again = 2 * len(noise) + len(prompt)
    said = again + len(prompt) + len(noise)
    for offset in (0.2, 1.1, 2.3):
        start = again + round(offset * RATE)
        assert peak_correlation(heard[:again], heard[start : start + size]) >= TUNING.replay_correlation
    for offset in (0.2, 1.1, 2.3):
        start = said + round(offset * RATE)
        assert peak_correlation(heard[:said], heard[start : start + size]) < TUNING.replay_correlation


def test_mains_hum_under_a_quiet_voice_is_not_taken_for_a_replay() -> None:
    """A line that hums (60 Hz and its odd harmonics) louder than a quiet new voice: the hum
    repeats every cycle, but the pre-emphasised voice is what is compared."""
    rng = np.random.default_rng(4)
    person = corpus._normalise(np.concatenate(corpus.human_speech("test")), -20)[RATE : 3 * RATE]
    line = Channel(hum_db=-40, hum_hz=60.0, level_db=-16)
    heard = through_channel(np.concatenate([np.zeros(20 * RATE), person]), line, rng)
    samples = heard.astype(np.float64) / 32768
    size = round(TUNING.replay_probe * RATE)
    start = 20 * RATE + RATE // 2
    assert peak_correlation(samples[: 20 * RATE], samples[start : start + size]) < TUNING.replay_correlation


def test_a_history_fed_in_frames_searches_as_one_fed_at_once_and_forgets_the_oldest() -> None:
    """Fed 20 ms at a time past twice what it keeps, the history searches its latest ``keep``
    samples as a history given them at once does, blocks kept from earlier searches or not, and
    only before the sample asked."""
    rng = np.random.default_rng(7)
    line = rng.normal(size=100_000)
    probe = line[80_000:80_400] + rng.normal(0, 0.3, 400)
    kept = ReplayHistory(30_000)
    for start in range(0, 60_000, 160):
        kept.extend(line[start : start + 160])
        if start == 40_000:
            kept.peak(probe, kept.end)  # whole blocks kept from here on
    assert kept.end == 60_000
    alone = ReplayHistory(30_000)
    alone.extend(line[:60_000])  # more than it keeps, at once
    expected = _brute(line[30_000:60_000], probe)
    assert kept.peak(probe, kept.end) == pytest.approx(expected, abs=1e-5)
    assert alone.peak(probe, alone.end) == pytest.approx(expected, abs=1e-5)
    assert kept.peak(probe, 45_000) == pytest.approx(_brute(line[30_000:45_000], probe), abs=1e-5)
    for start in range(60_000, 100_000, 160):
        kept.extend(line[start : start + 160])
    assert kept.peak(probe, kept.end) > 0.9  # the probe's own audio is in there now
    assert kept.peak(probe, 79_000) < 0.5
