"""Fixtures for the company simulator: espeak-ng voices, a fake STT, scenarios built in tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import yaml

from custom_components.hold_slayer.demo.scenario import SCENARIO_DIR, Scenario, parse_scenario
from custom_components.hold_slayer.demo.simulator import CompanySimulator
from custom_components.hold_slayer.telephony import SipPhone
from custom_components.hold_slayer.voice.espeak import EspeakTts
from custom_components.hold_slayer.voice.pcm import Pcm
from harness.accounts import direct_account
from harness.waiting import until
from tests.telephony.conftest import started


class FakeStt:
    """A :class:`SpeechToText` that answers each utterance with the next scripted text.

    The simulator's real-Wyoming twin of this test lives with the lead's Wyoming clients.
    """

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.heard: list[float] = []  # seconds of audio in each utterance it was given

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        assert language == "en"
        self.heard.append(len(audio) / 8000)
        return self.texts.pop(0) if self.texts else ""


def shipped(name: str, changes: dict[str, Any] | None = None) -> Scenario:
    """A shipped scenario with some keys changed by dotted path, e.g. ``{"line.rings": 0}``."""
    data = yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text())
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return parse_scenario(yaml.safe_dump(data), source=f"{name}.yaml")


def scenario(text: str) -> Scenario:
    """A scenario from YAML written in a test."""
    return parse_scenario(text, source="test.yaml")


@asynccontextmanager
async def company(*scenarios: Scenario, **options: Any) -> AsyncIterator[CompanySimulator]:
    """A started simulator with every prompt rendered."""
    sim = CompanySimulator(scenarios, tts=EspeakTts(), **options)
    await sim.prerender()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def caller(sim: CompanySimulator) -> AsyncIterator[SipPhone]:
    """Our own phone, dialling the simulator directly."""
    async with started(SipPhone(direct_account(sim.port), register=False)) as phone:
        yield phone


class Ear:
    """Every frame a call hears, with the loop time it arrived."""

    def __init__(self, frames: Callable[[], Any]) -> None:
        self.frames: list[tuple[float, Pcm]] = []
        self._task = asyncio.get_running_loop().create_task(self._listen(frames()))

    async def _listen(self, frames: Any) -> None:
        loop = asyncio.get_running_loop()
        async for frame in frames:
            self.frames.append((loop.time(), frame))

    def level(self, start: float, end: float) -> float:
        """RMS of what was heard between two loop times."""
        chunk = [frame for at, frame in self.frames if start <= at < end]
        if not chunk:
            return 0.0
        joined = np.concatenate(chunk).astype(np.float64)
        return float(np.sqrt(np.mean(joined**2)))

    def first_sound(self, after: float, threshold: float = 300.0) -> float | None:
        """When the first loud frame after ``after`` arrived."""
        for at, frame in self.frames:
            if at >= after and float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) > threshold:
                return at
        return None

    async def wait_for_sound(self, within: float = 8.0) -> None:
        """Until something loud was heard."""
        await until(lambda: self.first_sound(0.0) is not None, within)

    async def close(self) -> None:
        await self._task
