"""PCM conversions: resampling keeps what is in band and removes what is not."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from custom_components.hold_slayer.voice.pcm import (
    Pcm,
    PcmError,
    pcm_to_wav,
    resample,
    wav_to_pcm,
)


def _tone(frequency: float, rate: int, seconds: float = 1.0, amplitude: float = 10000) -> Pcm:
    t = np.arange(round(rate * seconds)) / rate
    tone: Pcm = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    return tone


def _level_at(samples: Pcm, rate: int, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) / (len(samples) / 2)
    return float(spectrum[round(frequency * len(samples) / rate)])


@pytest.mark.parametrize(("source", "target"), [(8000, 16000), (22050, 8000), (16000, 8000), (8000, 8000)])
def test_in_band_tone_survives(source: int, target: int) -> None:
    out = resample(_tone(1000, source), source, target)
    assert len(out) == target
    assert _level_at(out, target, 1000) == pytest.approx(10000, rel=0.02)


def test_out_of_band_tone_is_removed() -> None:
    """A 6 kHz tone at 22.05 kHz must not alias into the 8 kHz call band."""
    out = resample(_tone(6000, 22050), 22050, 8000)
    assert np.abs(out).max() < 50


def test_wav_round_trip_and_stereo() -> None:
    tone = _tone(440, 16000, 0.5)
    back = wav_to_pcm(pcm_to_wav(tone, rate=16000), rate=16000)
    assert np.array_equal(back, tone)
    stereo = np.repeat(tone, 2)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(stereo.astype("<i2").tobytes())
    mono = wav_to_pcm(buffer.getvalue(), rate=8000)
    assert len(mono) == 4000
    assert _level_at(mono, 8000, 440) == pytest.approx(10000, rel=0.02)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"RIFF nonsense", "not a WAV"), (None, "16-bit")],
)
def test_bad_wav(data: bytes | None, message: str) -> None:
    if data is None:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(1)
            out.setframerate(8000)
            out.writeframes(b"\x80" * 100)
        data = buffer.getvalue()
    with pytest.raises(PcmError, match=message):
        wav_to_pcm(data)


def test_bad_rate() -> None:
    with pytest.raises(PcmError):
        resample(_tone(100, 8000), 0, 8000)
