"""The demo company line as a config entry: the simulator in HA's process, voiced by HA's TTS."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.components import tts
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.loader import IntegrationNotFound, async_get_integration

from .const import CONF_HOME_COUNTRY_CODE, CONF_PHONE_BOOK, CONF_STT_ENGINE, CONF_TTS_ENGINE, LOGGER
from .demo.line import DemoLine, demo_phone_book, demo_scenarios
from .speech import HaTextToSpeech
from .telephony import SipAccount
from .voice.pcm import Pcm
from .voice.protocols import SpeechError, TextToSpeech

ENGINE_CHECK_TIMEOUT: Final = 15.0  # one short phrase through a cloud engine, before adding the line
ENGINE_CHECK_TEXT: Final = "Hello."


async def _is_local(hass: HomeAssistant, entity_id: str) -> bool:
    """Whether ``entity_id`` comes from an integration that works without the internet."""
    entry = er.async_get(hass).async_get(entity_id)
    if entry is None:
        return False
    try:
        integration = await async_get_integration(hass, entry.platform)
    except IntegrationNotFound:
        return False
    return str(integration.manifest.get("iot_class", "")).startswith("local")


async def async_local_engines(hass: HomeAssistant) -> dict[str, str]:
    """A local speech-to-text and text-to-speech engine, each when one exists (as options keys).

    HA's onboarding makes Google Translate the default text-to-speech; the demo line runs on this
    machine and should speak with a local engine (a Wyoming Piper, say) when there is one.
    """
    engines: dict[str, str] = {}
    for domain, key in (("stt", CONF_STT_ENGINE), ("tts", CONF_TTS_ENGINE)):
        for state in sorted(hass.states.async_all(domain), key=lambda state: state.entity_id):
            if state.state != "unavailable" and await _is_local(hass, state.entity_id):
                engines[key] = state.entity_id
                break
    return engines


async def async_cloud_tts_problem(hass: HomeAssistant, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """(engine, what went wrong) when the line would speak through a cloud engine that fails.

    Checked once, with a short phrase, before the demo line is added; a local engine, or none at
    all (the line then waits for one), is not checked.
    """
    engine = options.get(CONF_TTS_ENGINE) or (
        tts.async_default_engine(hass) if "tts" in hass.config.components else None
    )
    if engine is None or await _is_local(hass, engine):
        return None
    try:
        await HaTextToSpeech(hass, engine, timeout=ENGINE_CHECK_TIMEOUT).synthesize(
            ENGINE_CHECK_TEXT, language="en"
        )
    except SpeechError as err:
        LOGGER.warning("The demo line cannot speak through %s: %s", engine, err)
        return engine, str(err)
    return None


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


async def async_demo_options(hass: HomeAssistant, engines: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A new demo entry's options: the demo companies in the phone book, and the ``engines``."""
    scenarios = await hass.async_add_executor_job(demo_scenarios)  # reads the bundled YAML
    # The demo companies have North American toll-free numbers, wherever the user lives:
    # a home country of 1 keeps the dial plan from refusing them as international.
    return {CONF_HOME_COUNTRY_CODE: "1", CONF_PHONE_BOOK: demo_phone_book(scenarios), **(engines or {})}


async def async_start_demo_line(
    hass: HomeAssistant, engine: Callable[[], TextToSpeech | None]
) -> tuple[DemoLine, SipAccount]:
    """Start the simulated companies; the line and the account that calls them."""
    scenarios = await hass.async_add_executor_job(demo_scenarios)
    line = DemoLine(scenarios, tts=EntryTts(engine))
    account = await line.start()
    LOGGER.info("Demo company line answering on sip:%s:%d", *line.simulator.address)
    return line, account
