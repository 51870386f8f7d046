"""The frame classifier: a label and a confidence for every analysis step of call audio.

Tones are decided by the detectors in :mod:`.tones` (DTMF per frame; call-progress tones by
cadence); silence by level. Comfort noise, music, speech and speech over music by a small
neural network (one hidden layer, softmax output) over one second of window features
(:mod:`.features`), fitted on the *tune* half of the corpus by ``tools/train_classifier.py``
and stored in ``model.json`` beside this file.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import WINDOW_FEATURE_NAMES, frame_features, window_features
from .tones import FRAME, DtmfDetector, ProgressToneDetector, ToneKind, dtmf_keys

MODEL_PATH: Final = Path(__file__).with_name("model.json")
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


@dataclass(frozen=True, slots=True)
class WindowModel:
    """Standardise, one ReLU hidden layer, softmax: under a thousand weights, microseconds a window.

    A linear softmax over the same features made about a fifth more window errors on the held-out
    half; the hidden layer lets cues such as "steady pitch" and "moving spectrum" combine.
    """

    labels: tuple[Label, ...]
    mean: Floats
    scale: Floats
    hidden_weights: Floats  # features x hidden units
    hidden_bias: Floats
    weights: Floats  # hidden units x labels
    bias: Floats

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> WindowModel:
        """Read ``model.json``."""
        data = json.loads(path.read_text())
        if tuple(data["features"]) != WINDOW_FEATURE_NAMES:
            raise ValueError("model.json was trained on other features; run tools/train_classifier.py")
        return cls(
            tuple(Label(label) for label in data["labels"]),
            np.array(data["mean"]),
            np.array(data["scale"]),
            np.array(data["hidden_weights"]),
            np.array(data["hidden_bias"]),
            np.array(data["weights"]),
            np.array(data["bias"]),
        )

    def probabilities(self, features: Floats) -> Floats:
        """Class probabilities for one or more feature vectors."""
        hidden = np.maximum(
            ((features - self.mean) / self.scale) @ self.hidden_weights + self.hidden_bias, 0.0
        )
        logits = hidden @ self.weights + self.bias
        logits -= np.max(logits, axis=-1, keepdims=True)
        exp = np.exp(logits)
        result: Floats = exp / np.sum(exp, axis=-1, keepdims=True)
        return result


@functools.cache
def default_model() -> WindowModel:
    """The shipped ``model.json``, read once per process and shared (the model is read-only)."""
    return WindowModel.load()


# Read while this module is imported: Home Assistant imports an integration in its import
# executor, so no call ever reads the file in the event loop (a blocking read there stalls HA).
default_model()


class FrameClassifier:
    """Streaming: push 20 ms frames, get a :class:`Decision` every 100 ms once 1 s is heard."""

    def __init__(self, model: WindowModel | None = None) -> None:
        self.model = model or default_model()
        self._features: deque[Floats] = deque(maxlen=WINDOW_FRAMES)
        self._shape: Floats | None = None
        self._dtmf = DtmfDetector()
        self._tones = ProgressToneDetector()
        self._dtmf_frames: deque[bool] = deque(maxlen=STEP_FRAMES)
        self._frames = 0
        self._tone: ToneKind | None = None

    def push(self, frame: Floats) -> Decision | None:
        """Analyse one frame (160 floats in -1..1); a decision every ``STEP_FRAMES`` frames."""
        decisions = self.push_block(frame.reshape(1, FRAME))
        return decisions[0] if decisions else None

    def push_block(self, block: Floats) -> list[Decision]:
        """Analyse N frames at once (N x 160); returns the decisions they complete."""
        features, self._shape = frame_features(block, self._shape)
        history = np.vstack([*self._features, *features]) if self._features else features
        offset = len(self._features)  # where this block's first frame sits in ``history``
        decisions: list[Decision | None] = []
        modelled: list[tuple[int, int, float]] = []  # (decision index, window end, time)
        keys = dtmf_keys(block)
        tones = self._tones.push_block(block)
        for index in range(len(block)):
            self._features.append(features[index])
            self._dtmf.push_key(keys[index])
            self._dtmf_frames.append(self._dtmf.active)
            self._tone = tones[index]
            self._frames += 1
            if self._frames % STEP_FRAMES or len(self._features) < STEP_FRAMES * 2:
                continue
            time = self._frames * FRAME / 8000
            end = offset + index + 1
            quick = self._quick_decision(time, history[max(0, end - WINDOW_FRAMES) : end])
            if quick is None:
                modelled.append((len(decisions), end, time))
            decisions.append(quick)
        self._model_decisions(history, modelled, decisions)
        return [decision for decision in decisions if decision is not None]

    def _quick_decision(self, time: float, window: Floats) -> Decision | None:
        """Tones and silence need no model."""
        if any(self._dtmf_frames):
            return Decision(time, Label.DTMF, 1.0, {Label.DTMF: 1.0})
        if self._tone is not None:
            label = Label(self._tone.value)
            return Decision(time, label, 1.0, {label: 1.0})
        if float(np.max(window[:, 0])) < SILENCE_DB:
            return Decision(time, Label.SILENCE, 1.0, {Label.SILENCE: 1.0})
        return None

    def _model_decisions(
        self, history: Floats, modelled: list[tuple[int, int, float]], decisions: list[Decision | None]
    ) -> None:
        """Run the model once for all windows of the block (full windows batched)."""
        full = [(slot, end, time) for slot, end, time in modelled if end >= WINDOW_FRAMES]
        short = [(slot, end, time) for slot, end, time in modelled if end < WINDOW_FRAMES]
        batches: list[tuple[list[tuple[int, int, float]], Floats]] = []
        if full:
            stack = np.stack([history[end - WINDOW_FRAMES : end] for _, end, _ in full])
            batches.append((full, self.model.probabilities(window_features(stack))))
        # The first second of a call: windows still growing, one at a time.
        batches.extend(
            ([item], self.model.probabilities(window_features(history[: item[1]]))[None, :]) for item in short
        )
        for items, probabilities in batches:
            for position, (slot, _, time) in enumerate(items):
                values = [float(p) for p in probabilities[position]]
                best = int(np.argmax(values))
                decisions[slot] = Decision(
                    time,
                    self.model.labels[best],
                    values[best],
                    dict(zip(self.model.labels, values, strict=True)),
                )
