"""Per-frame acoustic features and their summary over an analysis window.

Frame features (20 ms): level, spectral flatness, centroid and flux in the telephone band,
zero-crossing rate, and voicing (normalised autocorrelation peak at 62-400 Hz pitch lags).
Window features summarise a second of frames the way speech/music discrimination has done
since Scheirer & Slaney (1997): speech alternates syllables and pauses (4 Hz modulation,
many low-energy frames, voicing that comes and goes); music is steadier and more tonal.
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
FRAME_FEATURES: Final = 6
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
)

Floats = npt.NDArray[np.float64]


def frame_features(block: Floats, previous_shape: Floats | None = None) -> tuple[Floats, Floats]:
    """Features of N frames at once (``block``: N x 160 floats in -1..1).

    Returns the N x 6 matrix ``[level_db, flatness, centroid_khz, flux, zcr, voicing]`` and the
    last frame's spectral shape, to pass back in for the next block's flux. Vectorised over
    frames: a file is analysed hundreds of times faster than real time.
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
    voicing = _voicing(block, energy)
    features = np.column_stack((level_db, flatness, centroid, flux, zcr, voicing))
    return features, shape[-1]


def _voicing(block: Floats, energy: Floats) -> Floats:
    """Normalised autocorrelation peak over pitch lags (0 for near-silent frames)."""
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
    return voicing


def window_features(frames: Floats) -> Floats:
    """Summarise frame features into window feature vectors.

    ``frames`` is N x 6 (one window, N >= 10) or K x N x 6 (K windows at once); the result is
    16 values, or K x 16.
    """
    level, flatness, centroid, flux, zcr, voicing = np.moveaxis(frames, -1, 0)
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
    return summary
