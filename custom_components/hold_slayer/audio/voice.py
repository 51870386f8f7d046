"""The voice signature: whose voice a stretch of talk is, as a unit vector, in numpy.

Two stretches in one voice (a company's menu prompt and its hold announcement, one voice talent
or one synthesiser voice, down one line) have signatures close together; a person's is farther
from the company's. The similarity of two signatures is their dot product (cosine, -1..1).

The network reads the hold classifier's kind of frame inputs (:func:`.features.frame_inputs`,
20 ms frames), computed afresh for each stretch asked about (a few per voice on the hold, at
most its latest 3 s): valid dilated convolutions along time
(:class:`.network.Convolution`), mean and spread pooled over the stretch, one dense layer.
It is distilled offline from a speaker encoder trained on thousands of speakers
(``tools/train_voice.py``; how well it ranks voices is in ``docs/performance.md``, "Voice
signature") and shipped as ``voice.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import FRAME_INPUT_NAMES, frame_features, frame_inputs
from .network import Convolution
from .tones import FRAME

VOICE_PATH: Final = Path(__file__).with_name("voice.npz")
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class VoiceSignature:
    """Frame inputs in, a unit vector out."""

    input_mean: Floats
    input_scale: Floats
    layers: tuple[Convolution, ...]
    dense_weight: Floats  # 2 x channels -> signature
    dense_bias: Floats

    @classmethod
    def load(cls, path: Path = VOICE_PATH) -> VoiceSignature:
        """Read ``voice.npz`` (plain arrays; nothing is unpickled)."""
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["frame_inputs"]) != FRAME_INPUT_NAMES:
                raise ValueError(f"{path.name} was trained on other features; run tools/train_voice.py")
            layers = tuple(
                Convolution(
                    data[f"conv{index}_weight"].astype(np.float64),
                    data[f"conv{index}_bias"].astype(np.float64),
                    int(data[f"conv{index}_dilation"]),
                )
                for index in range(int(data["layers"]))
            )
            return cls(
                input_mean=data["mean"].astype(np.float64),
                input_scale=data["scale"].astype(np.float64),
                layers=layers,
                dense_weight=data["dense_weight"].astype(np.float64),
                dense_bias=data["dense_bias"].astype(np.float64),
            )

    @property
    def context(self) -> int:
        """Frames a stretch needs beyond one: shorter stretches have no signature."""
        return sum(layer.context for layer in self.layers)

    def __call__(self, inputs: Floats) -> Floats:
        """The signature of a stretch of frame inputs (frames x inputs): a unit vector."""
        if len(inputs) <= self.context:
            raise ValueError(f"a signature needs more than {self.context} frames, not {len(inputs)}")
        hidden = (inputs - self.input_mean) / self.input_scale
        for layer in self.layers:
            hidden = layer(hidden)
        mean = np.mean(hidden, axis=0)
        spread = np.sqrt(np.maximum(np.mean(hidden**2, axis=0) - mean**2, 0.0) + 1e-6)
        embedded = np.concatenate((mean, spread)) @ self.dense_weight + self.dense_bias
        result: Floats = embedded / max(float(np.linalg.norm(embedded)), 1e-9)
        return result


def audio_inputs(audio: Floats) -> Floats:
    """The frame inputs of a stretch of 8 kHz audio in -1..1 (whole 20 ms frames)."""
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    return frame_inputs(frame_features(frames)[0])


@cache
def default_signature() -> VoiceSignature:
    """The shipped weights, read once."""
    return VoiceSignature.load()


# Read while this module is imported, as the classifier's model is: Home Assistant imports an
# integration in its import executor, so no call ever reads the file in the event loop.
default_signature()


class KnownVoices:
    """The voice a call's company spoke in (its menu prompts, its announcements): its signatures.

    A voice on the hold unlike it is somebody else's. Talk is compared with the mean of the
    signatures kept, not the nearest one: the longer a menu, the more signatures it leaves,
    and the nearest of many is near anybody by chance.
    """

    def __init__(self, signature: VoiceSignature | None = None, most: int = 8) -> None:
        self._signature = signature or default_signature()
        self._most = most
        self._known: list[Floats] = []

    @property
    def known(self) -> bool:
        """Whether any of the company's talk was long enough for a signature."""
        return bool(self._known)

    def signature(self, audio: Floats) -> Floats | None:
        """The signature of 8 kHz talk in -1..1; ``None`` when it is too short for one."""
        if len(audio) // FRAME <= self._signature.context:
            return None
        return self._signature(audio_inputs(audio))

    def learn(self, audio: Floats) -> float:
        """Keep the signature of the company's talk (the latest ``most``).

        Returns how like the company's voice it was before (:meth:`likeness`), from the same
        signature: a caller that asks both pays for one.
        """
        signature = self.signature(audio)
        if signature is None:
            return -1.0
        before = self._like(signature)
        self._known = [*self._known, signature][-self._most :]
        return before

    def likeness(self, audio: Floats) -> float:
        """How like the company's voice talk is: the similarity to their mean (-1 when nothing is known)."""
        signature = self.signature(audio)
        return -1.0 if signature is None else self._like(signature)

    def _like(self, signature: Floats) -> float:
        if not self._known:
            return -1.0
        centre = np.mean(self._known, axis=0)
        return float(centre @ signature / max(float(np.linalg.norm(centre)), 1e-9))
