"""What a telephone line does to audio between the company and us.

Every labelled clip of the corpus passes through a :class:`Channel`: the telephone band (with
edges that vary from line to line), a level change, slow AGC-like level swings, line noise of
several colours and mains hum, a codec (G.711 μ-law or A-law, or GSM 06.10 full rate through
Debian's ``sox``), and lost 20 ms packets concealed as a jitter buffer does (silence, or the last
packet repeated and fading). ``Channel.random`` is the narrow channel the project's first corpus
used; ``Channel.wide`` the broad one the learned classifier is trained and judged on.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

RATE: Final = 8000
PACKET: Final = 160  # 20 ms
Pcm = npt.NDArray[np.float64]  # floats in -1..1 at 8 kHz
Codec = Literal["ulaw", "alaw", "gsm"]
NoiseColour = Literal["white", "pink", "brown"]
Concealment = Literal["zero", "repeat"]


DIGITAL_SILENCE_BELOW_DB: Final = -80 + 40 / 6  # of Channel.wide's noise draw: a sixth of lines


class CodecMissingError(RuntimeError):
    """``sox`` (for GSM) is not installed: run script/setup."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One line's properties; the defaults are a clean G.711 μ-law line."""

    level_db: float = 0.0  # gain applied to the clean signal
    noise_db: float = -70.0  # background noise level (dBFS RMS)
    loss: float = 0.0  # share of 20 ms packets lost
    alaw: bool = False  # G.711 A-law instead of μ-law (when ``codec`` is not set)
    low_hz: float = 300.0  # lower band edge
    high_hz: float = 3400.0  # upper band edge
    noise_colour: NoiseColour = "white"
    hum_db: float | None = None  # mains hum (50 or 60 Hz and harmonics), dBFS RMS
    hum_hz: float = 50.0
    agc: float = 0.0  # 0: no AGC; 1: every 20 ms brought to the same level
    agc_seconds: float = 0.5  # the AGC's time constant
    codec: Codec | None = None  # None: G.711 by ``alaw``
    burst: float = 1.0  # mean length of a loss burst, packets
    concealment: Concealment = "zero"

    @classmethod
    def random(cls, rng: np.random.Generator) -> Channel:
        """A plausible channel: -20..+10 dB, noise -75..-45 dBFS, up to 5 % loss."""
        return cls(
            level_db=float(rng.uniform(-20, 10)) if rng.random() < 0.8 else 0.0,
            noise_db=float(rng.uniform(-75, -45)),
            loss=float(rng.choice([0.0, 0.0, 0.01, 0.05])),
            alaw=bool(rng.random() < 0.3),
        )

    @classmethod
    def wide(cls, rng: np.random.Generator) -> Channel:
        """Lines as they come: ±20 dB, band edges 200-400 / 3000-3600 Hz, G.711 or GSM, loss to 10 %."""
        lossy = rng.random() < 0.4
        level_db = float(rng.uniform(-20, 20))
        noise_db = float(rng.uniform(-80, -40))
        return cls(
            level_db=level_db,
            # The quietest sixth of lines are digitally silent between sounds (silence
            # suppression, a PBX's own digital silence): their pauses are exact zeros.
            noise_db=-140.0 if noise_db < DIGITAL_SILENCE_BELOW_DB else noise_db,
            loss=float(rng.choice([0.005, 0.01, 0.03, 0.05, 0.1])) if lossy else 0.0,
            low_hz=float(rng.uniform(200, 400)),
            high_hz=float(rng.uniform(3000, 3600)),
            noise_colour=rng.choice(("white", "pink", "brown")),
            hum_db=float(rng.uniform(-65, -45)) if rng.random() < 0.15 else None,
            hum_hz=float(rng.choice([50.0, 60.0])),
            agc=float(rng.uniform(0.3, 0.9)) if rng.random() < 0.3 else 0.0,
            agc_seconds=float(rng.uniform(0.2, 1.5)),
            codec=rng.choice(("ulaw", "alaw", "gsm"), p=(0.35, 0.3, 0.35)),
            burst=float(rng.choice([1.0, 1.0, 2.0, 4.0])),
            concealment=rng.choice(("zero", "repeat")),
        )


def bandpass(signal: Pcm, low_hz: float = 300.0, high_hz: float = 3400.0) -> Pcm:
    """The telephone band: an FFT brick wall with soft edges (100 Hz below, 150 Hz above)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    gain = np.clip((freqs - (low_hz - 50)) / 100, 0, 1) * np.clip((high_hz + 100 - freqs) / 150, 0, 1)
    filtered: Pcm = np.fft.irfft(spectrum * gain, len(signal))
    return filtered


def coloured_noise(length: int, colour: NoiseColour, rng: np.random.Generator) -> Pcm:
    """Unit-RMS noise, flat (white), -3 dB/octave (pink) or -6 dB/octave (brown)."""
    white = rng.normal(0, 1, length)
    if colour == "white" or length < 2:
        return white
    freqs = np.fft.rfftfreq(length, 1 / RATE)
    slope = 0.5 if colour == "pink" else 1.0
    shaped: Pcm = np.fft.irfft(np.fft.rfft(white) / np.maximum(freqs, 20.0) ** slope, length)
    unit: Pcm = shaped * (1.0 / (float(np.sqrt(np.mean(shaped**2))) or 1.0))
    return unit


def hum(length: int, hz: float, rng: np.random.Generator) -> Pcm:
    """Unit-RMS mains hum: the fundamental and odd harmonics, falling off."""
    t = np.arange(length) / RATE
    wave = sum(
        np.sin(2 * np.pi * hz * harmonic * t + rng.uniform(0, 2 * np.pi)) / harmonic
        for harmonic in (1, 3, 5, 7, 9)
    )
    result: Pcm = np.asarray(wave, dtype=np.float64)
    unit: Pcm = result * (1.0 / (float(np.sqrt(np.mean(result**2))) or 1.0))
    return unit


AGC_TARGET_DB: Final = -20.0  # the level an AGC brings talk to (dBFS)
AGC_GATE_DB: Final = -50.0  # below this an AGC holds its gain: it does not raise the noise floor
AGC_MAX_GAIN_DB: Final = 20.0


def automatic_gain(signal: Pcm, strength: float, seconds: float) -> Pcm:
    """An AGC pulling the level towards -20 dBFS, with ``seconds`` of memory.

    What it does to a line: quiet talk comes up and loud talk goes down, and after a loud passage
    the gain recovers slowly (levels pump). Packets below -50 dBFS (pauses, the line's noise)
    leave the gain where it was, as an AGC's noise gate does, and it never adds more than 20 dB.
    ``strength`` 1 levels completely; 0.5 halves the distance to the target in dB.
    """
    packets = len(signal) // PACKET
    if packets < 2 or strength <= 0:
        return signal
    power = np.mean(signal[: packets * PACKET].reshape(packets, PACKET) ** 2, axis=1) + 1e-10
    level_db = 10 * np.log10(power)
    gain_db = np.empty(packets)
    alpha = 1 - np.exp(-PACKET / RATE / seconds)
    smoothed = AGC_TARGET_DB
    for index, value in enumerate(level_db):
        if value > AGC_GATE_DB:
            smoothed += alpha * (float(value) - smoothed)
        gain_db[index] = np.clip((AGC_TARGET_DB - smoothed) * strength, -AGC_MAX_GAIN_DB, AGC_MAX_GAIN_DB)
    per_sample = np.interp(np.arange(len(signal)), np.arange(packets) * PACKET + PACKET / 2, gain_db)
    levelled: Pcm = signal * 10 ** (per_sample / 20)
    return levelled


def gsm_full_rate(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Encode and decode GSM 06.10 full rate (13 kbit/s) with Debian's ``sox``."""
    sox = shutil.which("sox")
    if sox is None:
        raise CodecMissingError("sox is not installed: apt-get install sox (script/setup)")
    raw = ["-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1"]
    encoded = subprocess.run(  # noqa: S603 - Debian's sox, our own arguments
        [sox, *raw, "-", "-t", "gsm", "-"], input=pcm.astype("<i2").tobytes(), capture_output=True, check=True
    ).stdout
    decoded = subprocess.run(  # noqa: S603
        [sox, "-t", "gsm", "-r", str(RATE), "-", *raw, "-"], input=encoded, capture_output=True, check=True
    ).stdout
    out = np.frombuffer(decoded, dtype="<i2")[: len(pcm)]
    return np.pad(out, (0, len(pcm) - len(out))).astype(np.int16)


def _lost_packets(packets: int, loss: float, burst: float, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Which packets a line loses: a two-state (Gilbert) model with ``burst`` packets per loss run."""
    if burst <= 1.0:
        lost: npt.NDArray[np.bool_] = rng.random(packets) < loss
        return lost
    leave = 1 / burst  # P(good | lost)
    enter = loss * leave / max(1 - loss, 1e-9)  # keeps the long-run loss rate at ``loss``
    state = False
    lost = np.zeros(packets, dtype=bool)
    draws = rng.random(packets)
    for index in range(packets):
        state = draws[index] >= leave if state else draws[index] < enter
        lost[index] = state
    return lost


def conceal(signal: Pcm, lost: npt.NDArray[np.bool_], how: Concealment) -> Pcm:
    """Fill lost packets: silence, or the last good packet again, 6 dB quieter each time."""
    out = signal.copy()
    last: Pcm | None = None
    repeats = 0
    for index in range(len(lost)):
        piece = slice(index * PACKET, (index + 1) * PACKET)
        if not lost[index]:
            last, repeats = signal[piece], 0
            continue
        if how == "zero" or last is None:
            out[piece] = 0.0
        else:
            repeats += 1
            out[piece] = last * 0.5**repeats
    return out


def through_channel(signal: Pcm, channel: Channel, rng: np.random.Generator) -> Pcm:
    """Band-limit, change level, add noise and hum, level by AGC, encode, lose packets."""
    from custom_components.hold_slayer.telephony import g711

    out = bandpass(signal, channel.low_hz, channel.high_hz) * 10 ** (channel.level_db / 20)
    out = out + 10 ** (channel.noise_db / 20) * coloured_noise(len(out), channel.noise_colour, rng)
    if channel.hum_db is not None:
        out = out + 10 ** (channel.hum_db / 20) * hum(len(out), channel.hum_hz, rng)
    if channel.agc:
        out = automatic_gain(out, channel.agc, channel.agc_seconds)
    pcm = np.clip(out * 32768, -32768, 32767).astype(np.int16)
    codec = channel.codec or ("alaw" if channel.alaw else "ulaw")
    if codec == "gsm":
        pcm = gsm_full_rate(pcm)
    else:
        pcm = g711.decode(g711.encode(pcm, alaw=codec == "alaw"), alaw=codec == "alaw")
    result = pcm.astype(np.float64) / 32768
    if channel.loss:
        packets = len(result) // PACKET
        result = conceal(
            result, _lost_packets(packets, channel.loss, channel.burst, rng), channel.concealment
        )
    return result
