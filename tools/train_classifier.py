"""Fit the classifier's softmax model on the *tune* half of the corpus; write audio/model.json.

    .venv/bin/python tools/train_classifier.py [--clips 150] [--seed 7]

Deterministic for a seed. The test half is only scored (printed), never fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.hold_slayer.audio.classifier import (  # noqa: E402
    MODEL_PATH,
    STEP_FRAMES,
    WINDOW_FRAMES,
    Label,
    SoftmaxModel,
)
from custom_components.hold_slayer.audio.features import (  # noqa: E402
    WINDOW_FEATURE_NAMES,
    frame_features,
    window_features,
)
from custom_components.hold_slayer.audio.tones import FRAME  # noqa: E402
from tools.corpus import Split, labelled_clips  # noqa: E402

MODEL_LABELS = (Label.NOISE, Label.MUSIC, Label.SPEECH, Label.SPEECH_OVER_MUSIC)
CLIP_SECONDS = 4.0


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def windows(split: Split, clips: int, seed: int) -> tuple[Floats, Ints]:
    """Window features and label indexes of the model's labels."""
    rows, targets = [], []
    for label, signal in labelled_clips(split, clips, CLIP_SECONDS, seed):
        if label not in MODEL_LABELS:
            continue
        frames, _ = frame_features(signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME))
        for end in range(WINDOW_FRAMES, len(frames) + 1, STEP_FRAMES * 2):
            rows.append(window_features(frames[end - WINDOW_FRAMES : end]))
            targets.append(MODEL_LABELS.index(Label(label)))
    return np.array(rows), np.array(targets)


def fit(features: Floats, targets: Ints, *, steps: int = 3000, l2: float = 1e-3) -> dict[str, Any]:
    """Multinomial logistic regression by full-batch gradient descent with Adam."""
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    x = (features - mean) / scale
    y = np.eye(len(MODEL_LABELS))[targets]
    weights = np.zeros((x.shape[1], len(MODEL_LABELS)))
    bias = np.zeros(len(MODEL_LABELS))
    moments = [np.zeros_like(weights), np.zeros_like(weights), np.zeros_like(bias), np.zeros_like(bias)]
    for step in range(1, steps + 1):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad_w = x.T @ (p - y) / len(x) + l2 * weights
        grad_b = (p - y).mean(axis=0)
        for index, (target, grad) in enumerate(((weights, grad_w), (bias, grad_b))):
            m, v = moments[2 * index], moments[2 * index + 1]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad**2
            target -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)  # noqa: PLW2901
    return {
        "features": list(WINDOW_FEATURE_NAMES),
        "labels": [label.value for label in MODEL_LABELS],
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "weights": weights.round(6).tolist(),
        "bias": bias.round(6).tolist(),
    }


def main() -> None:
    """Fit on tune, score on test, write the model."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=150, help="clips per label (4 s each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    features, targets = windows("tune", args.clips, args.seed)
    model = fit(features, targets)
    MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n")
    loaded = SoftmaxModel.load()
    for split, (x, y) in (
        ("tune", (features, targets)),
        ("test", windows("test", args.clips // 3, args.seed + 1)),
    ):
        predicted = np.argmax(loaded.probabilities(x), axis=1)
        print(f"{split}: {len(y)} windows, accuracy {np.mean(predicted == y):.4f}")
        for index, label in enumerate(MODEL_LABELS):
            mask = y == index
            print(f"  {label:<18} recall {np.mean(predicted[mask] == index):.3f}")


if __name__ == "__main__":
    main()
