"""Session tests replay lines built from real recordings; each starts from the same music."""

from __future__ import annotations

import pytest

from .fakes import restart_music


@pytest.fixture(autouse=True)
def _same_music_whatever_ran_before() -> None:
    restart_music()
