"""The demo company line as a config entry: the simulator in HA's process, voiced by HA's TTS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant

from .const import CONF_HOME_COUNTRY_CODE, CONF_PHONE_BOOK, LOGGER
from .demo.line import DemoLine, demo_phone_book, demo_scenarios
from .telephony import SipAccount
from .voice.pcm import Pcm
from .voice.protocols import SpeechError, TextToSpeech


class EntryTts:
    """The entry's TTS engine, looked up at each prompt: engines load after us, and change."""

    def __init__(self, engine: Callable[[], TextToSpeech | None]) -> None:
        self._engine = engine

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` from the engine the options (or HA's default) name."""
        engine = self._engine()
        if engine is None:
            raise SpeechError("no text-to-speech engine is set up in Home Assistant")
        return await engine.synthesize(text, language=language, voice=voice)


async def async_demo_options(hass: HomeAssistant) -> dict[str, Any]:
    """A new demo entry's options: the demo companies in the phone book."""
    scenarios = await hass.async_add_executor_job(demo_scenarios)  # reads the bundled YAML
    # The demo companies have North American toll-free numbers, wherever the user lives:
    # a home country of 1 keeps the dial plan from refusing them as international.
    return {CONF_HOME_COUNTRY_CODE: "1", CONF_PHONE_BOOK: demo_phone_book(scenarios)}


async def async_start_demo_line(
    hass: HomeAssistant, engine: Callable[[], TextToSpeech | None]
) -> tuple[DemoLine, SipAccount]:
    """Start the simulated companies; the line and the account that calls them."""
    scenarios = await hass.async_add_executor_job(demo_scenarios)
    line = DemoLine(scenarios, tts=EntryTts(engine))
    account = await line.start()
    LOGGER.info("Demo company line answering on sip:%s:%d", *line.simulator.address)
    return line, account
