"""In-band DTMF tones (ITU-T Q.23) for far ends that did not negotiate RFC 4733 events."""

from __future__ import annotations

from typing import Final

import numpy as np

from .g711 import SAMPLE_RATE, Pcm

ROWS: Final = (697, 770, 852, 941)
COLUMNS: Final = (1209, 1336, 1477, 1633)
KEYPAD: Final = ("123A", "456B", "789C", "*0#D")
# Each tone at about -10 dBm0, a level every receiver accepts (Q.24: -3 to -25 dBm0 per tone).
TONE_AMPLITUDE: Final = 0.18 * 32767


def frequencies(digit: str) -> tuple[int, int]:
    """The (low, high) frequency pair of a key."""
    for row, keys in enumerate(KEYPAD):
        if (column := keys.find(digit.upper())) >= 0:
            return ROWS[row], COLUMNS[column]
    raise ValueError(f"not a DTMF digit: {digit!r}")


def dtmf_tone(digit: str, duration: float) -> Pcm:
    """``duration`` seconds of the key's dual tone, 8 kHz int16, with 5 ms ramps (no clicks)."""
    low, high = frequencies(digit)
    count = round(duration * SAMPLE_RATE)
    t = np.arange(count) / SAMPLE_RATE
    wave = np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)
    ramp = min(count // 2, 40)
    envelope = np.ones(count)
    envelope[:ramp] = np.linspace(0, 1, ramp, endpoint=False)
    envelope[count - ramp :] = np.linspace(1, 0, ramp)
    tone: Pcm = (wave * envelope * TONE_AMPLITUDE).astype(np.int16)
    return tone
