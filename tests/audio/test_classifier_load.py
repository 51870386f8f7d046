"""The shipped models are read when their modules are imported, never when a call starts.

Home Assistant imports the integration in its import executor; a call's session is built in the
event loop, where HA flags any file read ("Detected blocking call to ... model.npz", "voice.npz").
The browser test checks the same in a real HA's log.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from custom_components.hold_slayer.audio.classifier import FrameClassifier, default_model
from custom_components.hold_slayer.audio.monitor import HoldMonitor
from custom_components.hold_slayer.audio.voice import KnownVoices, default_signature


def test_a_new_classifier_reads_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"read a file: {args}")

    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "open", refuse)
    monkeypatch.setattr("builtins.open", refuse)
    # What a call's media loop builds, in the event loop.
    monitor = HoldMonitor()
    assert monitor.classifier.model is default_model()
    assert FrameClassifier().model is default_model()
    assert KnownVoices()._signature is default_signature()


def test_the_model_is_read_on_import() -> None:
    # The audio package alone (harness.standalone): the integration's ``__init__`` would import
    # Home Assistant, 3-15 s of the test's time, and has no part in when the model is read.
    probe = (
        "from harness.standalone import without_home_assistant\n"
        "without_home_assistant()\n"
        "from custom_components.hold_slayer.audio import classifier, voice\n"
        "print(classifier.default_model.cache_info().currsize,"
        " voice.default_signature.cache_info().currsize)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "1 1"
