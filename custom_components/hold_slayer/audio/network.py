"""The learned window model: temporal convolutions over frames, pooled over the window, in numpy.

Each 20 ms frame's inputs (:func:`.features.frame_inputs`: the mel spectrum's shape and level,
voicing, pitch, flatness …) pass through dilated 1-D convolutions along time, so every frame
gets an embedding of the 340 ms around it (syllable rhythm, held notes, gliding pitch). A
decision pools the embeddings of its window (their mean and standard deviation: what the window
sounds like, and how much that moves) and adds the window's summary features
(:func:`.features.window_features`), then two dense layers give the label probabilities.

Streaming: a frame's embedding depends only on frames before and around it, so each is computed
once, when its last context frame arrives, and kept for every window that holds it. Weights are
fitted offline by ``tools/train_classifier.py`` (PyTorch on CPU) and shipped as ``model.npz``;
here is only numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import FRAME_INPUT_NAMES, WINDOW_FEATURE_NAMES

NETWORK_PATH: Final = Path(__file__).with_name("model.npz")
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Convolution:
    """One layer: weights (out x in x kernel), bias, dilation; ReLU after."""

    weight: Floats
    bias: Floats
    dilation: int

    @property
    def context(self) -> int:
        """Frames before the output frame that it reads."""
        return (self.weight.shape[2] - 1) * self.dilation

    def __call__(self, inputs: Floats) -> Floats:
        """Valid convolution along time of ``inputs`` (T x in): (T - context) x out.

        One matrix product over the taps side by side (each frame's inputs at every tap in one
        row), not one per tap: a single larger product is what BLAS does fastest.
        """
        frames = max(inputs.shape[0] - self.context, 0)
        taps = self.weight.shape[2]
        stacked = np.concatenate(
            [inputs[tap * self.dilation : tap * self.dilation + frames] for tap in range(taps)], axis=1
        )
        out = stacked @ self._flat + self.bias
        result: Floats = np.maximum(out, 0.0)
        return result

    @property
    def _flat(self) -> Floats:
        """The weights as one (taps x in) x out matrix, tap-major like the stacked inputs."""
        flat: Floats = self.weight.transpose(2, 1, 0).reshape(-1, self.weight.shape[0])
        return flat


@dataclass(frozen=True, slots=True)
class WindowNetwork:
    """Frame embeddings by :class:`Convolution` layers; window probabilities by two dense layers."""

    labels: tuple[str, ...]
    input_mean: Floats
    input_scale: Floats
    layers: tuple[Convolution, ...]
    window_mean: Floats
    window_scale: Floats
    hidden_weight: Floats  # (2 x embedding + window features) x hidden
    hidden_bias: Floats
    output_weight: Floats  # hidden x labels
    output_bias: Floats

    @classmethod
    def load(cls, path: Path = NETWORK_PATH) -> WindowNetwork:
        """Read ``model.npz`` (plain arrays; nothing is unpickled)."""
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["frame_inputs"]) != FRAME_INPUT_NAMES or tuple(data["window_features"]) != (
                WINDOW_FEATURE_NAMES
            ):
                raise ValueError(f"{path.name} was trained on other features; run tools/train_classifier.py")
            layers = tuple(
                Convolution(
                    data[f"conv{index}_weight"].astype(np.float64),
                    data[f"conv{index}_bias"].astype(np.float64),
                    int(dilation),
                )
                for index, dilation in enumerate(data["dilations"])
            )
            return cls(
                labels=tuple(str(label) for label in data["labels"]),
                input_mean=data["input_mean"].astype(np.float64),
                input_scale=data["input_scale"].astype(np.float64),
                layers=layers,
                window_mean=data["window_mean"].astype(np.float64),
                window_scale=data["window_scale"].astype(np.float64),
                hidden_weight=data["hidden_weight"].astype(np.float64),
                hidden_bias=data["hidden_bias"].astype(np.float64),
                output_weight=data["output_weight"].astype(np.float64),
                output_bias=data["output_bias"].astype(np.float64),
            )

    @property
    def context(self) -> int:
        """Frames of history an embedding needs besides its own."""
        return sum(layer.context for layer in self.layers)

    def embed(self, inputs: Floats) -> Floats:
        """Embeddings of the last ``len(inputs) - context`` frames of ``inputs`` (T x frame inputs)."""
        hidden = (inputs - self.input_mean) / self.input_scale
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden

    def probabilities(self, embeddings: Floats, window: Floats) -> Floats:
        """Label probabilities of K windows: embeddings K x N x E (or N x E), window features K x W."""
        return self.pooled_probabilities(
            np.mean(embeddings, axis=-2), np.mean(embeddings**2, axis=-2), window
        )

    def pooled_probabilities(self, mean: Floats, squares: Floats, window: Floats) -> Floats:
        """:meth:`probabilities` from each window's mean embedding and mean squared embedding.

        A stream keeps running sums of its embeddings, so a window's pooling costs a subtraction
        however many windows share its frames.
        """
        spread = np.sqrt(np.maximum(squares - mean**2, 0.0) + 1e-6)
        pooled = np.concatenate((mean, spread, (window - self.window_mean) / self.window_scale), axis=-1)
        hidden = np.maximum(pooled @ self.hidden_weight + self.hidden_bias, 0.0)
        logits = hidden @ self.output_weight + self.output_bias
        logits -= np.max(logits, axis=-1, keepdims=True)
        exp = np.exp(logits)
        result: Floats = exp / np.sum(exp, axis=-1, keepdims=True)
        return result
