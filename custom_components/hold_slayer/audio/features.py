"""Per-frame acoustic features and their summary over an analysis window.

Frame features (20 ms): level, spectral flatness, centroid and flux in the telephone band,
zero-crossing rate, voicing (normalised autocorrelation peak at 62-400 Hz pitch lags), the
pitch lag itself, 12 cepstral coefficients of a 20-band mel spectrum over 300-3400 Hz, and the
20 log mel band energies themselves (the learned model's view of the spectrum).
Window features summarise a second of frames the way speech/music discrimination has done
since Scheirer & Slaney (1997): speech alternates syllables and pauses (4 Hz modulation,
many low-energy frames, voicing that comes and goes, a spectral envelope that moves from
phoneme to phoneme); music is steadier and more tonal, and its notes hold their pitch where
speech glides.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from .tones import FRAME, SAMPLE_RATE

FFT_SIZE: Final = 256
_FREQS: Final = np.fft.rfftfreq(FFT_SIZE, 1 / SAMPLE_RATE)
_BAND: Final = (_FREQS >= 300) & (_FREQS <= 3400)
_WINDOW: Final = np.hanning(FRAME)
_MIN_LAG: Final = 20  # 400 Hz
_MAX_LAG: Final = 128  # 62.5 Hz
MEL_BANDS: Final = 20
CEPSTRA: Final = 12  # coefficients 1-12 (0 is the level, already a feature)
# A held note: the pitch lag moves under 1 % from frame to frame, for 4 steps (80 ms) or more.
# Lags are whole samples, so above 80 Hz "under 1 %" means the very same lag (a 2 % threshold
# or interpolated lags did no better in the development runs).
STEADY_PITCH: Final = 0.01
STEADY_STEPS: Final = 4
FRAME_FEATURES: Final = 7 + CEPSTRA + MEL_BANDS
WINDOW_FEATURE_NAMES: Final = (
    "level_mean",
    "level_std",
    "low_energy_ratio",
    "modulation_4hz",
    "flatness_mean",
    "flatness_std",
    "centroid_mean",
    "centroid_std",
    "flux_mean",
    "flux_std",
    "zcr_mean",
    "zcr_std",
    "voicing_mean",
    "voiced_ratio",
    "voicing_std",
    "voicing_changes",
    *(f"cepstrum{index}_mean" for index in range(1, CEPSTRA + 1)),
    *(f"cepstrum{index}_std" for index in range(1, CEPSTRA + 1)),
    *(f"cepstrum{index}_change" for index in range(1, CEPSTRA + 1)),
    "pitch_steady_ratio",
    "pitch_change_mean",
    "pitch_held_ratio",
)

Floats = npt.NDArray[np.float64]


def _mel_filters() -> Floats:
    """Triangular filters, evenly spaced in mel over the telephone band (FFT bins x bands)."""
    mel = np.linspace(2595 * np.log10(1 + 300 / 700), 2595 * np.log10(1 + 3400 / 700), MEL_BANDS + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    filters = np.zeros((len(_FREQS), MEL_BANDS))
    for band in range(MEL_BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (_FREQS - low) / (centre - low)
        falling = (high - _FREQS) / (high - centre)
        filters[:, band] = np.clip(np.minimum(rising, falling), 0.0, None)
    return filters


def _dct() -> Floats:
    """Orthonormal DCT-II rows 1..CEPSTRA (bands x coefficients)."""
    bands = np.arange(MEL_BANDS) + 0.5
    rows = [np.cos(np.pi * k * bands / MEL_BANDS) for k in range(1, CEPSTRA + 1)]
    result: Floats = np.array(rows).T * np.sqrt(2 / MEL_BANDS)
    return result


# Mel filtering and the DCT are linear: one matrix from the power spectrum's log bands.
_MEL: Final = _mel_filters()
_CEPSTRUM: Final = _dct()


def frame_features(block: Floats, previous_shape: Floats | None = None) -> tuple[Floats, Floats]:
    """Features of N frames at once (``block``: N x 160 floats in -1..1).

    Returns the N x ``FRAME_FEATURES`` matrix ``[level_db, flatness, centroid_khz, flux, zcr,
    voicing, pitch_lag, cepstrum 1..12, log mel band 1..20]`` and the last frame's spectral
    shape, to pass back in for the next block's flux. Vectorised over frames: a file is analysed
    hundreds of times faster than real time.
    """
    energy = np.mean(block * block, axis=1)
    level_db = 10 * np.log10(energy + 1e-10)
    spectrum = np.abs(np.fft.rfft(block * _WINDOW, FFT_SIZE, axis=1)) ** 2
    band = spectrum[:, _BAND] + 1e-12
    band_sum = np.sum(band, axis=1)
    flatness = np.exp(np.mean(np.log(band), axis=1)) / (band_sum / band.shape[1])
    centroid = (band @ _FREQS[_BAND]) / band_sum / 1000
    shape = np.sqrt(band / band_sum[:, None])
    before = np.vstack(((shape[0] if previous_shape is None else previous_shape)[None, :], shape[:-1]))
    flux = np.sum((shape - before) ** 2, axis=1)
    signs = np.signbit(block)
    zcr = np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / FRAME
    voicing, lag = _voicing(block, energy)
    mel = _log_mel(spectrum)
    features = np.column_stack((level_db, flatness, centroid, flux, zcr, voicing, lag, mel @ _CEPSTRUM, mel))
    return features, shape[-1]


def _log_mel(spectrum: Floats) -> Floats:
    """The 20 log mel band energies (natural log) of power spectra (frames x FFT bins)."""
    mel: Floats = np.log(spectrum @ _MEL + 1e-10)
    return mel


def log_mel(block: Floats) -> Floats:
    """The 20 log mel band energies of N frames (N x 160 floats in -1..1): N x 20."""
    return _log_mel(np.abs(np.fft.rfft(block * _WINDOW, FFT_SIZE, axis=1)) ** 2)


def _voicing(block: Floats, energy: Floats) -> tuple[Floats, Floats]:
    """Normalised autocorrelation peak over pitch lags (0 for near-silent frames), and its lag."""
    centred = block - np.mean(block, axis=1, keepdims=True)
    # 320 points: enough for a linear (not circular) autocorrelation of 160 samples, and
    # cheaper than the next power of two.
    spectrum = np.fft.rfft(centred, 2 * FRAME, axis=1)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : _MAX_LAG + 1]
    lags = np.arange(_MIN_LAG, _MAX_LAG + 1)
    zero = np.maximum(correlation[:, :1], 1e-12)
    # Unbiased: a lag of k has FRAME - k overlapping samples.
    normalised = correlation[:, _MIN_LAG : _MAX_LAG + 1] / zero * (FRAME / (FRAME - lags))
    voicing: Floats = np.clip(np.max(normalised, axis=1), 0.0, 1.0)
    voicing[energy < 1e-7] = 0.0
    # The pitch is the shortest lag that peaks within 10 % of the best: a periodic sound
    # correlates as well at two and three periods, and taking whichever is a hair higher
    # would make a held note jump by octaves from frame to frame.
    peaks = np.zeros_like(normalised, dtype=bool)
    peaks[:, 1:-1] = (normalised[:, 1:-1] >= normalised[:, :-2]) & (normalised[:, 1:-1] >= normalised[:, 2:])
    near_best = peaks & (normalised >= 0.9 * np.max(normalised, axis=1, keepdims=True))
    shortest = np.argmax(near_best, axis=1)
    lag: Floats = np.where(near_best.any(axis=1), shortest, np.argmax(normalised, axis=1)).astype(np.float64)
    return voicing, lag + _MIN_LAG


def window_features(frames: Floats) -> Floats:
    """Summarise frame features into window feature vectors.

    ``frames`` is N x ``FRAME_FEATURES`` (one window, N >= 10) or K x N x ``FRAME_FEATURES``
    (K windows at once); the result is ``len(WINDOW_FEATURE_NAMES)`` values, or K x that.
    """
    level, flatness, centroid, flux, zcr, voicing, lag = np.moveaxis(frames[..., :7], -1, 0)
    cepstra = frames[..., 7 : 7 + CEPSTRA]
    count = level.shape[-1]
    linear = np.sqrt(10 ** (level / 10))
    mean_linear = np.mean(linear, axis=-1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(linear - mean_linear, axis=-1)) ** 2
    rates = np.fft.rfftfreq(count, 0.02)
    total = np.sum(spectrum[..., 1:], axis=-1) + 1e-12
    modulation = np.sum(spectrum[..., (rates >= 2) & (rates <= 8)], axis=-1) / total
    low_energy = np.mean(linear < 0.5 * mean_linear, axis=-1)
    voiced = voicing > 0.5
    changes = np.count_nonzero(voiced[..., 1:] != voiced[..., :-1], axis=-1) / count
    summary: Floats = np.stack(
        [
            np.mean(level, axis=-1),
            np.std(level, axis=-1),
            low_energy,
            modulation,
            np.mean(flatness, axis=-1),
            np.std(flatness, axis=-1),
            np.mean(centroid, axis=-1),
            np.std(centroid, axis=-1),
            np.mean(flux, axis=-1),
            np.std(flux, axis=-1),
            np.mean(zcr, axis=-1),
            np.std(zcr, axis=-1),
            np.mean(voicing, axis=-1),
            np.mean(voiced, axis=-1),
            np.std(voicing, axis=-1),
            changes,
        ],
        axis=-1,
    )
    envelope = (
        np.mean(cepstra, axis=-2),
        np.std(cepstra, axis=-2),
        np.mean(np.abs(np.diff(cepstra, axis=-2)), axis=-2),
    )
    result: Floats = np.concatenate((summary, *envelope, _pitch_steadiness(lag, voiced)), axis=-1)
    return result


def _pitch_steadiness(lag: Floats, voiced: npt.NDArray[np.bool_]) -> Floats:
    """How much voiced pitch holds still: music's notes do, speech glides (... x 3).

    Over consecutive voiced frames: the share whose lag moves under ``STEADY_PITCH``, the mean
    relative move (capped, so octave jumps do not dominate), and the share of steps inside a
    run of ``STEADY_STEPS`` or more steady steps (a held note).
    """
    pairs = voiced[..., 1:] & voiced[..., :-1]
    pair_count = np.sum(pairs, axis=-1)
    change = np.minimum(np.abs(np.diff(np.log(lag), axis=-1)), 0.3)
    steady = (change < STEADY_PITCH) & pairs
    steps = steady.shape[-1]
    # A run of STEADY_STEPS starts at i when steps i..i+STEADY_STEPS-1 are all steady; a step is
    # held when any such run covers it.
    starts = np.ones(steady.shape[:-1] + (steps - STEADY_STEPS + 1,), dtype=bool)
    for shift in range(STEADY_STEPS):
        starts &= steady[..., shift : steps - STEADY_STEPS + 1 + shift]
    held = np.zeros_like(steady)
    for shift in range(STEADY_STEPS):
        held[..., shift : steps - STEADY_STEPS + 1 + shift] |= starts
    denominator = np.maximum(pair_count, 1)
    none = pair_count == 0
    result: Floats = np.stack(
        [
            np.sum(steady, axis=-1) / denominator,
            np.where(none, 1.0, np.sum(change * pairs, axis=-1) / denominator),
            np.sum(held, axis=-1) / denominator,
        ],
        axis=-1,
    )
    return result


# What the learned model reads of each frame (see :mod:`.network`).
FRAME_INPUT_NAMES: Final = (
    *(f"mel{band}_shape" for band in range(1, MEL_BANDS + 1)),
    "mel_mean",
    "level_db",
    "flatness",
    "centroid_khz",
    "flux",
    "zcr",
    "voicing",
    "pitch_lag",
)


def frame_inputs(frames: Floats) -> Floats:
    """The learned model's per-frame inputs from :func:`frame_features` rows (N x 28).

    The mel spectrum split into its shape (each band minus the frame's mean band) and its mean,
    so that a level change moves one input, not twenty; then the frame's level, flatness,
    centroid, flux, zero-crossing rate, voicing and pitch lag.
    """
    mel = frames[..., 7 + CEPSTRA :]
    mean = np.mean(mel, axis=-1, keepdims=True)
    result: Floats = np.concatenate((mel - mean, mean, frames[..., :7]), axis=-1)
    return result
