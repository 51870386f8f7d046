"""G.711 μ-law and A-law (ITU-T G.711) with numpy lookup tables: int16 ⇄ 8-bit codes."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FRAME_SAMPLES: Final = 160  # 20 ms at 8 kHz
SAMPLE_RATE: Final = 8000

Pcm = np.ndarray[tuple[int, ...], np.dtype[np.int16]]


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


def _encode_table(decode: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """For every int16 value, the code whose decoded value is nearest (ties: either)."""
    order = np.argsort(decode, kind="stable")
    values = decode[order].astype(np.int32)
    samples = np.arange(-32768, 32768, dtype=np.int32)
    upper = np.clip(np.searchsorted(values, samples), 1, len(values) - 1)
    lower = upper - 1
    nearer_lower = (samples - values[lower]) <= (values[upper] - samples)
    codes: npt.NDArray[np.uint8] = order[np.where(nearer_lower, lower, upper)].astype(np.uint8)
    return codes


ULAW_DECODE: Final = _ulaw_decode_table()
ALAW_DECODE: Final = _alaw_decode_table()
ULAW_ENCODE: Final = _encode_table(ULAW_DECODE)
ALAW_ENCODE: Final = _encode_table(ALAW_DECODE)
ULAW_SILENCE: Final = bytes([0xFF]) * FRAME_SAMPLES
ALAW_SILENCE: Final = bytes([0xD5]) * FRAME_SAMPLES


def decode(payload: bytes, *, alaw: bool = False) -> Pcm:
    """G.711 bytes → int16 samples."""
    table = ALAW_DECODE if alaw else ULAW_DECODE
    samples: Pcm = table[np.frombuffer(payload, dtype=np.uint8)]
    return samples


def encode(samples: Pcm, *, alaw: bool = False) -> bytes:
    """int16 samples → G.711 bytes."""
    table = ALAW_ENCODE if alaw else ULAW_ENCODE
    return bytes(table[samples.astype(np.int32) + 32768])


def silence_payload(*, alaw: bool = False) -> bytes:
    """One 20 ms packet of silence, already encoded."""
    return ALAW_SILENCE if alaw else ULAW_SILENCE


def silence() -> Pcm:
    """One 20 ms frame of digital silence."""
    return np.zeros(FRAME_SAMPLES, dtype=np.int16)
