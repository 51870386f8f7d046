"""The hold monitor's state machine driven by a scripted label stream.

The labels are scripted so that every transition is reached on purpose; the same transitions
happen with the real classifier on corpus holds in test_monitor.py and bench/audio.py.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES, Decision, Label
from custom_components.hold_slayer.audio.monitor import EventKind, HoldMonitor
from custom_components.hold_slayer.audio.tones import FRAME
from tools import corpus

Floats = npt.NDArray[np.float64]
STEP = STEP_FRAMES * FRAME / 8000


class ScriptedClassifier:
    """Returns the next scripted label for every 100 ms of audio."""

    def __init__(self, labels: list[Label]) -> None:
        self.labels = labels
        self.frames = 0

    def push_block(self, block: Floats) -> list[Decision]:
        decisions = []
        for _ in range(len(block)):
            self.frames += 1
            if self.frames % STEP_FRAMES == 0:
                label = self.labels[min(self.frames // STEP_FRAMES - 1, len(self.labels) - 1)]
                decisions.append(Decision(self.frames * FRAME / 8000, label, 1.0, {label: 1.0}))
        return decisions


def _seconds(label: Label, seconds: float) -> list[Label]:
    return [label] * round(seconds / STEP)


def test_every_transition() -> None:
    """Flicker, announcement learned, the same announcement again, talk over music, a person
    who turns out to be hold music, and the person for real."""
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[:3]), -20)[: 3 * 8000]
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 60)
    script = (
        _seconds(Label.MUSIC, 6)  # hold starts
        + _seconds(Label.SPEECH, 0.3)
        + _seconds(Label.MUSIC, 1.5)  # a flicker: ignored
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.MUSIC, 1.5)  # an announcement, learned
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 1.5)  # the same one: matched, ends
        + _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.SPEECH_OVER_MUSIC, 2)
        + _seconds(Label.MUSIC, 1.5)
        + _seconds(Label.SPEECH, 1.5)
        + _seconds(Label.SILENCE, 1.5)  # "a person" (new audio)
        + _seconds(Label.MUSIC, 4)  # ... but the music comes back: hold again, voice learned
    )
    audio_parts = [
        music[: 8000 * 6],
        music[: int(8000 * 1.8)],
        announcement,
        music[: int(8000 * 1.5)],
        announcement,
    ]
    audio_parts += [
        np.zeros(int(8000 * 1.5)),
        music[: 8000 * 4],
        np.random.default_rng(2).normal(0, 0.1, 8000 * 3),
    ]
    audio_parts += [np.zeros(8000 * 5)]
    audio = np.concatenate(audio_parts)
    monitor = HoldMonitor(classifier=ScriptedClassifier(script))  # type: ignore[arg-type]
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    for start in range(0, len(frames), 50):
        monitor.push_block(frames[start : start + 50])
    kinds = [event.kind for event in monitor.events]
    assert kinds[0] is EventKind.HOLD_STARTED
    assert kinds.count(EventKind.ANNOUNCEMENT) >= 2
    assert EventKind.HUMAN_DETECTED in kinds
    assert kinds[-1] is EventKind.HOLD_STARTED  # the music came back after the "person"
    assert monitor.on_hold
