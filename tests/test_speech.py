"""The HA speech adapters through HA's own wyoming integration and the real Wyoming servers.

HA's wyoming integration is set up through its config flow against the real faster-whisper and
Piper servers; the adapters then go through the stt/tts entities it creates, as they will on
a user's system. Failures a real server will not produce come from a scripted Wyoming server.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import numpy as np
import pytest
from homeassistant import config_entries
from homeassistant.components import tts
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # type: ignore[import-untyped, unused-ignore]
from wyoming.event import Event  # type: ignore[import-untyped, unused-ignore]

from custom_components.hold_slayer.speech import (
    HaSpeechToText,
    HaTextToSpeech,
    SpeechEngine,
    async_list_engines,
)
from custom_components.hold_slayer.telephony import g711
from custom_components.hold_slayer.voice.protocols import SpeechError, SpeechToText, TextToSpeech
from harness.servers.fake_wyoming import fake_wyoming_server, read_until, send, serving
from harness.words import word_error_rate

pytestmark = pytest.mark.usefixtures("socket_enabled")

MENU = "For billing, press one. For technical support, press two."
MAX_WER = 0.2  # as in tests/voice/test_wyoming_real.py: one wrong word in nine


async def add_wyoming(hass: HomeAssistant, port: int, domain: str) -> str:
    """Add a Wyoming service the way a user does; the entity id of its ``domain`` entity."""
    # wyoming needs conversation, which needs the core integration (exposed entities).
    assert await async_setup_component(hass, "homeassistant", {})
    flow = await hass.config_entries.flow.async_init(
        "wyoming", context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"host": "127.0.0.1", "port": port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entries = er.async_entries_for_config_entry(er.async_get(hass), result["result"].entry_id)
    (entity_id,) = (entry.entity_id for entry in entries if entry.domain == domain)
    return entity_id


@pytest.fixture
async def engines(
    hass: HomeAssistant, wyoming_stt: tuple[str, int], wyoming_tts: tuple[str, int]
) -> tuple[str, str]:
    """HA's wyoming integration serving the real STT and TTS servers: (stt entity, tts entity)."""
    return await add_wyoming(hass, wyoming_stt[1], "stt"), await add_wyoming(hass, wyoming_tts[1], "tts")


async def test_round_trip_through_ha_entities(hass: HomeAssistant, engines: tuple[str, str]) -> None:
    stt_id, tts_id = engines
    speaker: TextToSpeech = HaTextToSpeech(hass, tts_id)
    listener: SpeechToText = HaSpeechToText(hass, stt_id)
    audio = await speaker.synthesize(MENU, language="en", voice="en_US-joe-medium")
    assert audio.dtype == np.int16
    assert 2.5 < len(audio) / 8000 < 6.0
    heard = g711.decode(g711.encode(audio))
    text = await listener.transcribe(heard, language="en-US")
    assert word_error_rate(MENU, text) <= MAX_WER, text


async def test_engines_are_listed(hass: HomeAssistant, engines: tuple[str, str]) -> None:
    stt_id, tts_id = engines
    assert [engine.engine_id for engine in async_list_engines(hass, "stt")] == [stt_id]
    (voice,) = async_list_engines(hass, "tts")
    state = hass.states.get(tts_id)
    assert state is not None
    assert voice == SpeechEngine(tts_id, state.name)
    with pytest.raises(ValueError, match="not a speech domain"):
        async_list_engines(hass, "light")


async def test_stream_api_when_the_media_source_helpers_are_gone(
    hass: HomeAssistant, engines: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A core without ``tts.generate_media_source_id`` renders through ``async_create_stream``."""
    monkeypatch.delattr(tts, "generate_media_source_id")
    # A message of its own each run, so a file cached by an interrupted run cannot answer.
    message = f"Please hold, caller {secrets.randbelow(1000)}."
    try:
        audio = await HaTextToSpeech(hass, engines[1]).synthesize(message, language="en_US")
    finally:
        # This path writes HA's file cache (the harness's shared config dir): leave nothing.
        await hass.async_block_till_done(wait_background_tasks=True)  # the file is written
        await hass.services.async_call("tts", "clear_cache", blocking=True)
    # Up to "… caller seven hundred seventy-seven.": 3.0 s read by Piper; 5 s leaves room.
    assert 0.5 < len(audio) / 8000 < 5.0
    assert np.abs(audio).max() > 3000  # speech, not silence


async def test_no_prompt_reaches_the_file_cache(hass: HomeAssistant, engines: tuple[str, str]) -> None:
    """Prompts can carry account numbers: the adapter renders them without HA's file cache."""
    cache = Path(hass.config.path("tts"))
    before = set(cache.iterdir()) if cache.exists() else set()
    await HaTextToSpeech(hass, engines[1]).synthesize("Account 4 4 1 7.", language="en")
    assert (set(cache.iterdir()) if cache.exists() else set()) == before


async def test_real_engine_errors(hass: HomeAssistant, engines: tuple[str, str]) -> None:
    stt_id, tts_id = engines
    silence = np.zeros(800, dtype=np.int16)
    with pytest.raises(SpeechError, match=r"stt.nobody not found"):
        await HaSpeechToText(hass, "stt.nobody").transcribe(silence, language="en")
    with pytest.raises(SpeechError, match=r"tts.nobody not found"):
        await HaTextToSpeech(hass, "tts.nobody").synthesize("Hi.", language="en")
    with pytest.raises(SpeechError, match=r"does not support language 'tlh'"):
        await HaSpeechToText(hass, stt_id).transcribe(silence, language="tlh")
    with pytest.raises(SpeechError, match=r"does not support language 'tlh'"):
        await HaTextToSpeech(hass, tts_id).synthesize("nuqneH.", language="tlh")
    with pytest.raises(SpeechError, match=rf"{tts_id} failed: "):
        await HaTextToSpeech(hass, tts_id).synthesize("Hi.", language="en", voice="no_SUCH-voice")


async def test_stt_connection_lost(hass: HomeAssistant) -> None:
    async def hang_up(reader: asyncio.StreamReader, _: asyncio.StreamWriter, received: list[Event]) -> None:
        await read_until(reader, received, "audio-stop")  # then close without a transcript

    async with fake_wyoming_server(serving("asr", "en", hang_up)) as (port, received):
        stt_id = await add_wyoming(hass, port, "stt")
        with pytest.raises(SpeechError, match="failed to transcribe"):
            await HaSpeechToText(hass, stt_id).transcribe(np.ones(8000, dtype=np.int16), language="en")
    assert received[0].type == "transcribe"
    start = next(event for event in received if event.type == "audio-start")
    assert start.data["rate"] == 16000
    sent = sum(len(event.payload or b"") for event in received if event.type == "audio-chunk")
    assert sent == 16000 * 2  # one second at 16 kHz, 16-bit


async def test_stt_timeout(hass: HomeAssistant) -> None:
    async def stall(reader: asyncio.StreamReader, *_: object) -> None:
        await reader.read()

    async with fake_wyoming_server(serving("asr", "en", stall)) as (port, _):
        stt_id = await add_wyoming(hass, port, "stt")
        with pytest.raises(SpeechError, match=r"took over 0.3 s"):
            await HaSpeechToText(hass, stt_id, timeout=0.3).transcribe(
                np.ones(800, dtype=np.int16), language="en"
            )


async def test_tts_unusable_audio(hass: HomeAssistant) -> None:
    """An engine answering 8-bit audio: HA wraps it as an 8-bit WAV, which the call cannot use."""

    async def eight_bit(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[Event]
    ) -> None:
        fmt = {"rate": 16000, "width": 1, "channels": 1}
        await send(writer, AudioStart(**fmt).event(), AudioChunk(**fmt, audio=b"\x10" * 1600).event())
        await send(writer, AudioStop().event())

    async with fake_wyoming_server(serving("tts", "en_US", eight_bit)) as (port, received):
        tts_id = await add_wyoming(hass, port, "tts")
        with pytest.raises(SpeechError, match=r"unusable audio: WAV sample width 8 bits"):
            await HaTextToSpeech(hass, tts_id).synthesize("Hi.", language="en")
    assert received[0].type == "synthesize", received
