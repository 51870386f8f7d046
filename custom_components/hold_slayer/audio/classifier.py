"""The frame classifier: a label and a confidence for every analysis step of call audio.

Tones are decided by the detectors in :mod:`.tones` (DTMF per frame; call-progress tones by
cadence); silence by level. Noise, music, speech and speech over music by the learned window
network (:mod:`.network`: temporal convolutions over each frame's spectrum, pooled over one second,
with the window's summary features of :mod:`.features`), trained offline on many sources down
many kinds of line by ``script/train-classifier`` and shipped as ``model.npz`` beside this file.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import FRAME_FEATURES, MEL_BANDS, frame_features, frame_inputs, window_features
from .network import WindowNetwork
from .tones import FRAME, DtmfDetector, ProgressToneDetector, ToneKind, dtmf_keys

WINDOW_FRAMES: Final = 50  # 1 s of context
STEP_FRAMES: Final = 5  # a decision every 100 ms
SILENCE_DB: Final = -55.0  # window level (dBFS) below which it is silence, whatever else

Floats = npt.NDArray[np.float64]


class Label(StrEnum):
    """What the line is carrying (the labels of the ``script/classify`` contract)."""

    SILENCE = "silence"
    NOISE = "noise"
    MUSIC = "music"
    SPEECH = "speech"
    SPEECH_OVER_MUSIC = "speech_over_music"
    RINGBACK = "ringback"
    BUSY = "busy"
    REORDER = "reorder"
    SIT = "sit"
    DTMF = "dtmf"


@dataclass(frozen=True, slots=True)
class Decision:
    """One analysis step: when (end of the window, seconds), what, and how sure."""

    time: float
    label: Label
    confidence: float
    probabilities: dict[Label, float]


@functools.cache
def default_model() -> WindowNetwork:
    """The shipped ``model.npz``, read once per process and shared (the model is read-only)."""
    return WindowNetwork.load()


# Read while this module is imported: Home Assistant imports an integration in its import
# executor, so no call ever reads the file in the event loop (a blocking read there stalls HA).
default_model()


class FrameClassifier:
    """Streaming: push 20 ms frames, get a :class:`Decision` every 100 ms once 1 s is heard."""

    def __init__(self, model: WindowNetwork | None = None) -> None:
        self.model = model or default_model()
        # The latest frames (rows, at most a window's) of features and of the network's view:
        # each frame's embedding, and the inputs the next ones need as context. Kept as arrays,
        # not queues of rows: stacking hundreds of rows per block cost more than the network.
        self._features: Floats = np.zeros((0, FRAME_FEATURES))
        self._embeddings: Floats | None = None
        self._inputs: Floats | None = None
        self._first: Floats | None = None  # the call's first frame's inputs
        self._shape: Floats | None = None
        self._dtmf = DtmfDetector()
        self._tones = ProgressToneDetector()
        self._dtmf_frames: deque[bool] = deque(maxlen=STEP_FRAMES)
        self._frames = 0
        self._tone: ToneKind | None = None
        self._held_tone = False  # a steady on-period of a table tone is under way (not yet named)
        # The log mel bands of the latest block's frames (20 per frame), for whoever keeps the
        # call's spectrogram (the hold monitor): computed here once.
        self.mel: Floats = np.zeros((0, MEL_BANDS))

    def push(self, frame: Floats) -> Decision | None:
        """Analyse one frame (160 floats in -1..1); a decision every ``STEP_FRAMES`` frames."""
        decisions = self.push_block(frame.reshape(1, FRAME))
        return decisions[0] if decisions else None

    def push_block(self, block: Floats) -> list[Decision]:
        """Analyse N frames at once (N x 160); returns the decisions they complete."""
        features, self._shape = frame_features(block, self._shape)
        self.mel = features[:, -MEL_BANDS:]
        history = np.concatenate((self._features, features))
        embeddings = self._embed(frame_inputs(features))
        embedded = embeddings if self._embeddings is None else np.concatenate((self._embeddings, embeddings))
        offset = len(self._features)  # where this block's first frame sits in ``history``
        self._features, self._embeddings = history[-WINDOW_FRAMES:], embedded[-WINDOW_FRAMES:]
        decisions: list[Decision | None] = []
        modelled: list[tuple[int, int, float]] = []  # (decision index, window end, time)
        keys = dtmf_keys(block)
        tones = self._tones.push_block(block)
        for index in range(len(block)):
            self._dtmf.push_key(keys[index])
            self._dtmf_frames.append(self._dtmf.active)
            self._tone = tones[index]
            self._held_tone = self._tones.held[index] is not None
            self._frames += 1
            if self._frames % STEP_FRAMES or self._frames < STEP_FRAMES * 2:
                continue
            time = self._frames * FRAME / 8000
            end = offset + index + 1
            quick = self._quick_decision(time, history[max(0, end - WINDOW_FRAMES) : end])
            if quick is None:
                modelled.append((len(decisions), end, time))
            decisions.append(quick)
        self._model_decisions(history, embedded, modelled, decisions)
        return [decision for decision in decisions if decision is not None]

    def _quick_decision(self, time: float, window: Floats) -> Decision | None:
        """Tones and silence need no model."""
        if any(self._dtmf_frames):
            return Decision(time, Label.DTMF, 1.0, {Label.DTMF: 1.0})
        if self._tone is not None:
            label = Label(self._tone.value)
            return Decision(time, label, 1.0, {label: 1.0})
        if self._held_tone:
            # A tone's first on-period, before its cadence is known (ProgressToneDetector.
            # steady_tone): not a person. Ringback is the tone a call hears first, and calm.
            return Decision(time, Label.RINGBACK, 1.0, {Label.RINGBACK: 1.0})
        if float(np.max(window[:, 0])) < SILENCE_DB:
            return Decision(time, Label.SILENCE, 1.0, {Label.SILENCE: 1.0})
        return None

    def _embed(self, inputs: Floats) -> Floats:
        """Embeddings of a block's frames; before a call's first frame, that frame stands in."""
        context = self.model.context
        first = inputs[0] if self._first is None else self._first
        self._first = first
        known = inputs[:0] if self._inputs is None else self._inputs
        before = np.repeat(first[None, :], context - len(known), axis=0)
        stacked = np.concatenate((before, known, inputs))
        self._inputs = stacked[-context:]
        return self.model.embed(stacked)

    def _model_decisions(
        self,
        history: Floats,
        embedded: Floats,
        modelled: list[tuple[int, int, float]],
        decisions: list[Decision | None],
    ) -> None:
        """Run the model once for all windows of the block (full windows batched)."""
        full = [(slot, end, time) for slot, end, time in modelled if end >= WINDOW_FRAMES]
        short = [(slot, end, time) for slot, end, time in modelled if end < WINDOW_FRAMES]
        batches: list[tuple[list[tuple[int, int, float]], Floats]] = []
        if full:
            ends = np.array([end for _, end, _ in full])
            starts = ends - WINDOW_FRAMES
            # Running sums: each window's pooling is a difference of two rows.
            zero = np.zeros((1, embedded.shape[1]))
            sums = np.vstack((zero, np.cumsum(embedded, axis=0)))
            squares = np.vstack((zero, np.cumsum(embedded**2, axis=0)))
            probabilities = self.model.pooled_probabilities(
                (sums[ends] - sums[starts]) / WINDOW_FRAMES,
                (squares[ends] - squares[starts]) / WINDOW_FRAMES,
                window_features(
                    np.stack([history[start:end] for start, end in zip(starts, ends, strict=True)])
                ),
            )
            batches.append((full, probabilities))
        # The first second of a call: windows still growing, one at a time.
        batches.extend(
            (
                [item],
                self.model.probabilities(embedded[: item[1]], window_features(history[: item[1]]))[None, :],
            )
            for item in short
        )
        labels = [Label(label) for label in self.model.labels]
        for items, probabilities in batches:
            for position, (slot, _, time) in enumerate(items):
                values = [float(p) for p in probabilities[position]]
                best = int(np.argmax(values))
                decisions[slot] = Decision(
                    time, labels[best], values[best], dict(zip(labels, values, strict=True))
                )
