"""The telephone line model the classifier is trained and judged through (harness/channel.py)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from harness.channel import (
    PACKET,
    RATE,
    Channel,
    _lost_packets,
    automatic_gain,
    bandpass,
    coloured_noise,
    conceal,
    gsm_full_rate,
    through_channel,
)

TONE = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(2 * RATE) / RATE)


def _band_energy(signal: npt.NDArray[np.float64], low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal)) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    return float(np.sum(spectrum[(freqs >= low) & (freqs < high)]))


def test_the_default_line_is_the_first_corpus_line() -> None:
    """Defaults: 300-3400 Hz, μ-law, white noise, no loss: the narrow line of the first corpus."""
    noise = np.random.default_rng(1).normal(0, 0.1, RATE)
    out = through_channel(noise, Channel(noise_db=-90), np.random.default_rng(2))
    assert _band_energy(out, 0, 200) < 1e-3 * _band_energy(out, 500, 3000)
    assert _band_energy(out, 3600, 4000) < 1e-3 * _band_energy(out, 500, 3000)


def test_band_edges_move() -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, RATE)
    wide, narrow = bandpass(noise, 200, 3600), bandpass(noise, 400, 3000)
    assert _band_energy(wide, 250, 330) > 10 * _band_energy(narrow, 250, 330)
    assert _band_energy(wide, 3150, 3500) > 10 * _band_energy(narrow, 3150, 3500)


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
def test_noise_colours_fall_off_as_named(colour: str) -> None:
    noise = coloured_noise(4 * RATE, colour, np.random.default_rng(3))  # type: ignore[arg-type]
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=0.02)
    ratio_db = 10 * np.log10(_band_energy(noise, 250, 500) / _band_energy(noise, 2000, 4000) * 8)
    expected = {"white": 0.0, "pink": 9.0, "brown": 18.0}[colour]  # 3 octaves at 0 / 3 / 6 dB each
    assert ratio_db == pytest.approx(expected, abs=2.0)


def test_gsm_full_rate_keeps_a_tone_and_changes_the_samples() -> None:
    pcm = (TONE * 32767).astype(np.int16)
    out = gsm_full_rate(pcm)
    assert out.shape == pcm.shape
    assert not np.array_equal(out, pcm)
    level_db = 20 * np.log10(np.std(out[800:]) / np.std(pcm[800:]))
    assert abs(level_db) < 3.0


def test_gilbert_losses_come_in_bursts_at_the_asked_rate() -> None:
    rng = np.random.default_rng(4)
    lost = _lost_packets(100_000, 0.05, 4.0, rng)
    assert np.mean(lost) == pytest.approx(0.05, abs=0.01)
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], lost.astype(int), [0])))))[::2]
    assert np.mean(runs) == pytest.approx(4.0, rel=0.2)
    assert np.mean(_lost_packets(100_000, 0.05, 1.0, rng)) == pytest.approx(0.05, abs=0.005)


def test_concealment_by_silence_or_by_a_fading_repeat() -> None:
    signal = np.ones(4 * PACKET)
    lost = np.array([False, True, True, False])
    zero = conceal(signal, lost, "zero")
    repeat = conceal(signal, lost, "repeat")
    assert np.all(zero[PACKET : 3 * PACKET] == 0.0)
    assert np.allclose(repeat[PACKET : 2 * PACKET], 0.5)
    assert np.allclose(repeat[2 * PACKET : 3 * PACKET], 0.25)
    assert np.all(repeat[3 * PACKET :] == 1.0)


def test_automatic_gain_brings_talk_towards_one_level_and_leaves_the_noise_floor() -> None:
    quiet_loud = np.concatenate((0.05 * TONE[:RATE], TONE[:RATE]))  # -40 then -13.5 dBFS
    levelled = automatic_gain(quiet_loud, 0.8, 0.1)

    def spread(signal: npt.NDArray[np.float64]) -> float:
        return float(20 * np.log10(np.std(signal[RATE + 2000 :]) / np.std(signal[2000:RATE])))

    assert spread(quiet_loud) == pytest.approx(26.0, abs=0.5)
    assert spread(levelled) < 12.0
    assert automatic_gain(quiet_loud, 0.0, 0.1) is quiet_loud
    # The line's noise (-60 dBFS) between tones is not pumped up to talk level.
    hiss = np.random.default_rng(6).normal(0, 1e-3, RATE)
    gated = automatic_gain(np.concatenate((TONE[:RATE], hiss)), 0.9, 0.3)
    assert np.std(gated[RATE + 800 :]) < 2 * np.std(hiss)


def test_wide_lines_cover_what_real_lines_do() -> None:
    rng = np.random.default_rng(5)
    lines = [Channel.wide(rng) for _ in range(400)]
    assert {line.codec for line in lines} == {"ulaw", "alaw", "gsm"}
    assert {line.concealment for line in lines} == {"zero", "repeat"}
    assert min(line.level_db for line in lines) < -18
    assert max(line.level_db for line in lines) > 18
    assert any(line.hum_db is not None for line in lines)
    assert any(line.agc for line in lines)
    assert 0.3 < np.mean([line.loss > 0 for line in lines]) < 0.5
    out = through_channel(TONE, lines[0], rng)
    assert out.shape == TONE.shape
