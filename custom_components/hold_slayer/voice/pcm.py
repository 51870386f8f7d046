"""PCM conversions between the call (8 kHz int16) and speech engines (16 kHz, WAV at any rate)."""

from __future__ import annotations

import io
import wave
from typing import Final

import numpy as np

CALL_RATE: Final = 8000
STT_RATE: Final = 16000  # what the Wyoming STT entity accepts

Pcm = np.ndarray[tuple[int, ...], np.dtype[np.int16]]


class PcmError(ValueError):
    """Audio that cannot be converted (not 16-bit PCM WAV, no samples, bad rate)."""


def resample(samples: Pcm, from_rate: int, to_rate: int) -> Pcm:
    """Band-limited resampling of a whole clip in the frequency domain.

    Clips are utterances or prompts (seconds), so one FFT each is cheaper and cleaner than a
    streaming polyphase filter; the spectrum is cut at the lower Nyquist frequency, which is
    the anti-aliasing (down) or anti-imaging (up) filter.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise PcmError(f"bad sample rate {from_rate} → {to_rate}")
    if from_rate == to_rate or len(samples) == 0:
        return samples.astype(np.int16, copy=True)
    length = round(len(samples) * to_rate / from_rate)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    bins = length // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins].copy()
        if length % 2 == 0:
            spectrum[-1] = spectrum[-1].real  # the new Nyquist bin must be real
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), dtype=complex)])
    signal = np.fft.irfft(spectrum, length) * (length / len(samples))
    result: Pcm = np.clip(np.round(signal), -32768, 32767).astype(np.int16)
    return result


def wav_to_pcm(data: bytes, *, rate: int = CALL_RATE) -> Pcm:
    """16-bit PCM WAV bytes (any rate, mono or more channels) as mono int16 at ``rate``."""
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            width, channels, source_rate = (
                source.getsampwidth(),
                source.getnchannels(),
                source.getframerate(),
            )
            raw = source.readframes(source.getnframes())
    except (wave.Error, EOFError) as err:
        raise PcmError(f"not a WAV file: {err}") from err
    if width != 2:
        raise PcmError(f"WAV sample width {width * 8} bits; 16-bit PCM expected")
    samples = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    mono: Pcm = samples.astype(np.int16)
    return resample(mono, source_rate, rate)


def pcm_to_wav(samples: Pcm, *, rate: int = CALL_RATE) -> bytes:
    """Mono int16 samples as a 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()
