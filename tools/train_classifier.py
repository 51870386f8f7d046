"""Fit the classifier's window model on the *tune* half of the corpus; write audio/model.json.

    .venv/bin/python tools/train_classifier.py [--clips 300] [--seed 7] [--hidden 16]

Deterministic for a seed. The test half is only scored (printed), never fitted. 70 % of the
music and speech clips are varied in speed, spectral tilt and level (``corpus.varied``): with three
tune-half music tracks, that is what keeps the model from learning their timbre.
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
    WindowModel,
)
from custom_components.hold_slayer.audio.features import (  # noqa: E402
    WINDOW_FEATURE_NAMES,
    frame_features,
    window_features,
)
from custom_components.hold_slayer.audio.tones import FRAME  # noqa: E402
from harness.corpus import Split, labelled_clips  # noqa: E402

MODEL_LABELS = (Label.NOISE, Label.MUSIC, Label.SPEECH, Label.SPEECH_OVER_MUSIC)
CLIP_SECONDS = 4.0
VARY = 0.7


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def windows(split: Split, clips: int, seed: int, vary: float = 0.0) -> tuple[Floats, Ints]:
    """Window features and label indexes of the model's labels."""
    rows, targets = [], []
    for label, signal in labelled_clips(split, clips, CLIP_SECONDS, seed, vary=vary):
        if label not in MODEL_LABELS:
            continue
        frames, _ = frame_features(signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME))
        for end in range(WINDOW_FRAMES, len(frames) + 1, STEP_FRAMES * 2):
            rows.append(window_features(frames[end - WINDOW_FRAMES : end]))
            targets.append(MODEL_LABELS.index(Label(label)))
    return np.array(rows), np.array(targets)


def fit(
    features: Floats, targets: Ints, *, hidden: int = 16, steps: int = 2000, l2: float = 1e-2, seed: int = 0
) -> dict[str, Any]:
    """One ReLU hidden layer and a softmax, by full-batch gradient descent with Adam.

    The step size decays linearly to 2 % over the last third of the steps, so the fit settles
    instead of oscillating around the optimum.
    """
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    x = (features - mean) / scale
    y = np.eye(len(MODEL_LABELS))[targets]
    rng = np.random.default_rng(seed)
    params = [
        rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], hidden)),
        np.zeros(hidden),
        rng.normal(0, 1 / np.sqrt(hidden), (hidden, len(MODEL_LABELS))),
        np.zeros(len(MODEL_LABELS)),
    ]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        units = np.maximum(x @ params[0] + params[1], 0.0)
        logits = units @ params[2] + params[3]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - y) / len(x)
        back = (error @ params[2].T) * (units > 0)
        grads = [
            x.T @ back + l2 * params[0],
            back.sum(axis=0),
            units.T @ error + l2 * params[2],
            error.sum(axis=0),
        ]
        rate = 0.01 * min(1.0, 3 * (1 - step / steps) + 0.02)
        for index, grad in enumerate(grads):
            first[index] = 0.9 * first[index] + 0.1 * grad
            second[index] = 0.999 * second[index] + 0.001 * grad**2
            corrected = first[index] / (1 - 0.9**step)
            params[index] -= rate * corrected / (np.sqrt(second[index] / (1 - 0.999**step)) + 1e-8)
    names = ("hidden_weights", "hidden_bias", "weights", "bias")
    return {
        "features": list(WINDOW_FEATURE_NAMES),
        "labels": [label.value for label in MODEL_LABELS],
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        **{name: param.round(6).tolist() for name, param in zip(names, params, strict=True)},
    }


def main() -> None:
    """Fit on tune, score on test, write the model."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=300, help="clips per label (4 s each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=16, help="hidden units")
    args = parser.parse_args()
    features, targets = windows("tune", args.clips, args.seed, VARY)
    model = fit(features, targets, hidden=args.hidden)
    MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n")
    loaded = WindowModel.load()
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
