"""Import the integration's audio code without Home Assistant, for command-line tools.

``custom_components/hold_slayer/__init__.py`` imports Home Assistant (2-3 s); the audio package
(classifier, hold monitor, tones) and the G.711 codec need none of it. A tool that calls
:func:`without_home_assistant` before its first import of the integration gets the two parent
packages as bare namespaces, so importing ``custom_components.hold_slayer.audio.classifier``
runs only the audio modules. Never call it in a process that also sets up the integration.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent


def without_home_assistant() -> None:
    """Register ``custom_components`` and ``custom_components.hold_slayer`` without their ``__init__``."""
    if "custom_components.hold_slayer" in sys.modules:
        return
    for name, path in (
        ("custom_components", ROOT / "custom_components"),
        ("custom_components.hold_slayer", ROOT / "custom_components" / "hold_slayer"),
    ):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
