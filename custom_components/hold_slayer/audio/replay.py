"""Replays: whether a stretch of the line's audio is something the line played before.

A company plays its recordings (an announcement, the hold music) from files, the same samples
each time, and the line carries each play alike: G.711 keeps the waveform, GSM and a lost packet
or two blur it without moving it. So the normalised cross-correlation of a stretch of a replay
with the earlier play peaks near 1, where a voice that never played before (a person picking
up) finds nothing above about one half. The fingerprints and the spectral shape need most of a
second of a replay to tell it; the waveform tells it from a fraction of one
(``docs/performance.md``, "Hold monitor tuning": ``replay_correlation``).

:class:`ReplayHistory` keeps the line's latest audio ready to be searched: pre-emphasised, with
the FFT of each whole block of it, so a search is an overlap-save pass over the blocks (its
cost grows with the history's length, not with its square) that transforms only the probe and
the newest block, and sums each stretch's energy as it goes.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.floating]

# Pre-emphasis, as speech analysis does (y[n] = x[n] - 0.95 x[n-1]): mains hum and the bass of
# music fall 10-25 dB against the voice's formants, so a quiet voice over a humming line is
# compared by its own waveform, not by the hum, which repeats every cycle.
EMPHASIS: Final = 0.95
BLOCK: Final = 16384  # samples per FFT block (about 2 s at 8 kHz)
BLOCKS_AT_ONCE: Final = 32  # blocks multiplied together: bounds the memory a search takes
# A history stretch this much quieter than the probe (energy per sample) is digital silence or
# the line's noise floor, where a correlation means nothing.
SILENT: Final = 1e-6


class ReplayHistory:
    """The line's latest ``keep`` samples, searched for the waveform of a probe.

    Samples are counted from the first one ever added (``end`` is the count so far); a search
    looks only at the history before a given sample.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        capacity = keep + keep // 4  # forgetting copies the latest ``keep`` down, now and then
        self._start = 0  # the sample ``_samples[0]`` is
        self._length = 0  # samples held
        self._samples = np.zeros(capacity, dtype=np.float32)  # pre-emphasised
        self._last = np.float32(0.0)  # the latest raw sample (pre-emphasis spans blocks)
        # The FFT of each whole block, by (block size, first sample): blocks start every
        # ``step`` samples from sample 0, for the probe size that sets the step.
        self._spectra: dict[tuple[int, int], npt.NDArray[np.complex64]] = {}

    @property
    def end(self) -> int:
        """Samples added so far."""
        return self._start + self._length

    def extend(self, samples: Floats) -> None:
        """Add the line's next samples; forget those older than ``keep``."""
        raw: npt.NDArray[np.float32] = np.asarray(samples, dtype=np.float32).ravel()
        if len(raw) > self.keep:  # more than is kept at once: only its latest ``keep``
            self._forget(self._length)
            self._start += len(raw) - self.keep
            self._last = raw[-self.keep - 1]
            raw = raw[-self.keep :]
        count = len(raw)
        if not count:
            return
        if self._length + count > len(self._samples):
            self._forget(self._length + count - self.keep)
        emphasised = raw.copy()
        emphasised[1:] -= np.float32(EMPHASIS) * raw[:-1]
        emphasised[0] -= np.float32(EMPHASIS) * self._last
        self._last = raw[-1]
        self._samples[self._length : self._length + count] = emphasised
        self._length += count

    def _forget(self, drop: int) -> None:
        """Forget the oldest ``drop`` samples held (and their blocks)."""
        drop = min(drop, self._length)
        kept = self._length - drop
        self._samples[:kept] = self._samples[drop : self._length]
        self._start += drop
        self._length = kept
        self._spectra = {key: value for key, value in self._spectra.items() if key[1] >= self._start}

    def peak(self, probe: Floats, before: int) -> float:
        """The highest normalised cross-correlation of ``probe`` with a stretch before sample ``before``.

        ``probe`` is raw samples of the same line. 1.0 is the same waveform (at any level); 0
        for a probe or a history too short or silent to say. Products are single precision
        (the answer is compared with a bar, not summed on), the energies double.
        """
        raw = np.asarray(probe, dtype=np.float64).ravel()
        if len(raw) < 3:
            return 0.0
        centred = raw[1:] - EMPHASIS * raw[:-1]
        centred -= float(np.mean(centred))
        size = len(centred)
        norm = float(np.linalg.norm(centred))
        block = max(BLOCK, 1 << (2 * size - 1).bit_length())
        step = block - size + 1  # lags a block gives without wrapping round
        lowest = max(self._start, self.end - self.keep)  # the latest ``keep`` samples are searched
        stop = min(before, self.end) - size + 1  # lags end here
        if norm == 0.0 or stop <= lowest:
            return 0.0
        spectrum = np.conj(np.fft.rfft(centred.astype(np.float32), block))
        floor = SILENT * norm * norm
        # Blocks begin on whole steps from sample 0 (their spectra are kept), after one at the
        # oldest sample searched if that is between steps: each batch's lags run on unbroken.
        aligned = -(-lowest // step) * step
        batches = [[lowest]] if lowest < aligned else []
        starts = list(range(aligned, stop, step))
        batches += [starts[at : at + BLOCKS_AT_ONCE] for at in range(0, len(starts), BLOCKS_AT_ONCE)]
        best = 0.0
        for chosen in batches:
            spectra = np.stack([self._spectrum(block, start, keep=start >= aligned) for start in chosen])
            first = chosen[0]
            through = min(stop, aligned if first < aligned else stop)  # lags this batch gives
            dots = np.fft.irfft(spectra * spectrum, block, axis=1)[:, :step].ravel()[: through - first]
            # Each stretch's energy about its mean, from running sums over the batch's samples.
            begin = first - self._start
            span = self._samples[begin : begin + len(dots) + size - 1].astype(np.float64)
            sums = np.concatenate(([0.0], np.cumsum(span)))
            squares = np.concatenate(([0.0], np.cumsum(span * span)))
            window_sum = sums[size:] - sums[:-size]
            spread = squares[size:] - squares[:-size] - window_sum**2 / size
            audible = spread > floor
            if np.any(audible):
                best = max(best, float(np.max(dots[audible] / np.sqrt(spread[audible]))) / norm)
        return min(best, 1.0)

    def _spectrum(self, block: int, start: int, *, keep: bool) -> npt.NDArray[np.complex64]:
        """The FFT of the ``block`` samples from ``start`` (zeros past the end); ``keep`` it once whole."""
        key = (block, start)
        if (kept := self._spectra.get(key)) is not None:
            return kept
        offset = start - self._start
        samples = self._samples[offset : min(offset + block, self._length)]
        spectrum = np.fft.rfft(samples, block).astype(np.complex64)
        if keep and len(samples) == block:
            self._spectra[key] = spectrum
        return spectrum
