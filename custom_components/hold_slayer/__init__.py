"""Hold Slayer: calls a company for you, waits on hold, and fetches you when a person answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components import stt, tts
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.typing import ConfigType
from homeassistant.setup import async_when_setup

from .account import InvalidAccountFieldError, account_from_data
from .calls import HoldSlayerCalls
from .const import (
    CONF_DEMO,
    CONF_MAX_CONCURRENT_CALLS,
    CONF_STT_ENGINE,
    CONF_TTS_ENGINE,
    CONF_TTS_VOICE,
    DEFAULT_MAX_CONCURRENT_CALLS,
    DOMAIN,
    LOGGER,
    PLATFORMS,
)
from .deciders import async_openai_endpoint, decider_factory
from .demo.line import DemoLine
from .demo_entry import async_start_demo_line
from .frontend import async_setup_frontend
from .intent import async_register_intents, async_register_sentences
from .models import HoldSlayerConfigEntry, HoldSlayerData
from .options import dial_plan_from_options
from .repairs import async_watch_engines, async_watch_registration
from .services import async_setup_services
from .speech import HaSpeechToText, HaTextToSpeech
from .telephony import (
    RegistrationState,
    RegistrationStatus,
    SipAccount,
    SipAuthError,
    SipConfigError,
    SipError,
    SipPhone,
)
from .voice.protocols import SpeechToText, TextToSpeech

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the voice command once, whatever entries exist."""
    async_setup_services(hass)
    async_register_intents(hass)

    async def _async_conversation_ready(hass: HomeAssistant, _: str) -> None:
        unregister = async_register_sentences(hass)
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, lambda _: unregister())

    # The built-in agent exists once the conversation integration is set up (now or later).
    async_when_setup(hass, "conversation", _async_conversation_ready)
    return True


def speech_engines(
    hass: HomeAssistant, options: Mapping[str, Any]
) -> tuple[SpeechToText | None, TextToSpeech | None]:
    """The line's STT and TTS: the engines chosen in the options, else HA's defaults."""
    # The defaults exist only once HA's stt/tts components are set up (after_dependencies).
    stt_id = options.get(CONF_STT_ENGINE) or (
        stt.async_default_engine(hass) if "stt" in hass.config.components else None
    )
    tts_id = options.get(CONF_TTS_ENGINE) or (
        tts.async_default_engine(hass) if "tts" in hass.config.components else None
    )
    return (
        HaSpeechToText(hass, stt_id) if stt_id else None,
        HaTextToSpeech(hass, tts_id, voice=options.get(CONF_TTS_VOICE)) if tts_id else None,
    )


async def async_setup_entry(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> bool:
    """Register the SIP account (or start the demo company line) and set up the entities."""
    await async_setup_frontend(hass)
    demo: DemoLine | None = None
    if entry.data.get(CONF_DEMO):
        demo, account = await async_start_demo_line(hass, lambda: speech_engines(hass, entry.options)[1])
    else:
        account = _account(entry)
    phone = SipPhone(account, register=demo is None and account.registers)
    try:
        await _async_start_phone(phone)
    except BaseException:
        if demo is not None:
            await demo.stop()
        raise
    endpoint = await async_openai_endpoint(hass, entry.options)
    calls = HoldSlayerCalls(
        hass,
        entry.entry_id,
        phone,
        dial_plan=dial_plan_from_options(entry.options),
        speech=lambda: speech_engines(hass, entry.options),
        make_decider=decider_factory(hass, entry.options, endpoint=endpoint),
        max_concurrent=int(entry.options.get(CONF_MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONCURRENT_CALLS)),
    )
    await calls.async_load()
    entry.runtime_data = HoldSlayerData(phone=phone, calls=calls, demo=demo)

    async def _async_stop(_: Event | None = None) -> None:
        # HA does not unload entries at shutdown: hang up and close the sockets here too.
        await calls.async_shutdown()
        await phone.stop()
        if demo is not None:
            await demo.stop()

    @callback
    def _async_registration_changed(status: RegistrationStatus) -> None:
        if status.state is RegistrationState.AUTH_FAILED:
            LOGGER.warning("The registrar rejected the credentials of %s", entry.title)
            entry.async_start_reauth(hass)

    entry.async_on_unload(_async_stop)
    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop))
    entry.async_on_unload(phone.async_listen(_async_registration_changed))
    entry.async_on_unload(async_watch_registration(hass, entry, phone))
    entry.async_on_unload(async_watch_engines(hass, entry))
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    if demo is not None:
        entry.async_on_unload(async_at_started(hass, callback(lambda _: _prerender(hass, entry, demo))))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


def _prerender(hass: HomeAssistant, entry: HoldSlayerConfigEntry, demo: DemoLine) -> None:
    """Render the demo's prompts once HA (and its TTS engine) runs, so no call waits for them."""
    # Not eager: from inside the entry's setup task it would run in that task's place.
    entry.async_create_background_task(hass, demo.prerender(), f"{DOMAIN} demo prompts", eager_start=False)


async def _async_start_phone(phone: SipPhone) -> None:
    try:
        await phone.start()
    except SipAuthError as err:
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth") from err
    except SipConfigError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="no_free_port",
            translation_placeholders={"error": str(err)},
        ) from err
    except SipError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_register",
            translation_placeholders={"error": str(err)},
        ) from err


def _account(entry: HoldSlayerConfigEntry) -> SipAccount:
    try:
        return account_from_data(entry.data)
    except InvalidAccountFieldError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_config",
            translation_placeholders={"field": err.field},
        ) from err


async def _async_options_updated(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> bool:
    """Unload the entities; the ``async_on_unload`` callbacks then stop the phone."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
