"""Speech through Home Assistant's stt/tts engines (normally the Wyoming add-ons).

Implements the core's :class:`SpeechToText` and :class:`TextToSpeech` with HA's public APIs,
so the user's own engines serve the call. Call audio is 8 kHz; engines get 16 kHz PCM (what the
Wyoming STT entity accepts) and answer WAV at their voice's rate, resampled here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.components import stt, tts
from homeassistant.components.tts.helper import get_engine_instance
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import language as language_util

from .voice.pcm import CALL_RATE, STT_RATE, Pcm, PcmError, resample, wav_to_pcm
from .voice.protocols import SpeechError

SPEECH_TIMEOUT: Final = 60.0  # one utterance or one prompt, engine work included
STT_CHUNK_BYTES: Final = 2048  # 64 ms at 16 kHz, like a satellite's stream


@dataclass(frozen=True, slots=True)
class SpeechEngine:
    """An stt or tts entity a user can pick."""

    engine_id: str
    name: str


@callback
def async_list_engines(hass: HomeAssistant, domain: str) -> list[SpeechEngine]:
    """The ``stt`` or ``tts`` entities there are, by name (for a selector)."""
    if domain not in (Platform.STT, Platform.TTS):
        raise ValueError(f"not a speech domain: {domain}")
    engines = [
        SpeechEngine(state.entity_id, str(state.attributes.get("friendly_name") or state.entity_id))
        for state in hass.states.async_all(domain)
    ]
    return sorted(engines, key=lambda engine: (engine.name.casefold(), engine.engine_id))


def _match_language(engine_id: str, language: str, supported: list[str] | None) -> str:
    # "en" has to find "en_US" (a Piper voice) and "en-US" has to find "en" (Whisper).
    if supported and (matches := language_util.matches(language, supported)):
        return matches[0]
    raise SpeechError(f"{engine_id} does not support language {language!r}")


@asynccontextmanager
async def _engine_errors(engine_id: str, timeout: float) -> AsyncIterator[None]:
    # One deadline per request; every way an engine fails reaches the core as a SpeechError.
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError as err:
        raise SpeechError(f"{engine_id} took over {timeout:g} s") from err
    except (HomeAssistantError, OSError) as err:
        raise SpeechError(f"{engine_id} failed: {err}") from err


class HaSpeechToText:
    """Speech-to-text through an HA ``stt`` engine (entity or legacy provider)."""

    def __init__(self, hass: HomeAssistant, engine_id: str, *, timeout: float = SPEECH_TIMEOUT) -> None:
        self.hass = hass
        self.engine_id = engine_id
        self.timeout = timeout

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        """The words in ``audio`` (8 kHz mono int16), sent as 16 kHz 16-bit mono PCM."""
        engine = stt.async_get_speech_to_text_engine(self.hass, self.engine_id)
        if engine is None:
            raise SpeechError(f"{self.engine_id} not found")
        # What HA's own voice pipeline sends, so every engine that serves Assist takes it.
        metadata = stt.SpeechMetadata(
            language=_match_language(self.engine_id, language, engine.supported_languages),
            format=stt.AudioFormats.WAV,
            codec=stt.AudioCodecs.PCM,
            bit_rate=stt.AudioBitRates.BITRATE_16,
            sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
            channel=stt.AudioChannels.CHANNEL_MONO,
        )
        wide = resample(audio, CALL_RATE, STT_RATE).astype("<i2").tobytes()

        async def stream() -> AsyncIterator[bytes]:
            for offset in range(0, len(wide), STT_CHUNK_BYTES):
                yield wide[offset : offset + STT_CHUNK_BYTES]

        async with _engine_errors(self.engine_id, self.timeout):
            # The call assist_pipeline makes; entities and legacy providers both have it.
            result = await engine.async_process_audio_stream(metadata, stream())
        if result.result is not stt.SpeechResultState.SUCCESS:
            raise SpeechError(f"{self.engine_id} failed to transcribe (see its log)")
        return (result.text or "").strip()


class HaTextToSpeech:
    """Text-to-speech through an HA ``tts`` engine, asked for WAV and resampled to 8 kHz."""

    def __init__(
        self,
        hass: HomeAssistant,
        engine_id: str,
        *,
        voice: str | None = None,
        timeout: float = SPEECH_TIMEOUT,
    ) -> None:
        self.hass = hass
        self.engine_id = engine_id
        self.voice = voice  # the user's choice in the options; a call may ask for another
        self.timeout = timeout

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` spoken as 8 kHz mono int16."""
        voice = voice or self.voice
        # WAV only: asking for a rate too would make HA convert with ffmpeg, which a
        # system may lack; resampling here needs nothing.
        options: dict[str, Any] = {tts.ATTR_PREFERRED_FORMAT: "wav"}
        if voice is not None:
            options[tts.ATTR_VOICE] = voice
        async with _engine_errors(self.engine_id, self.timeout):
            data = await self._render(text, language, options)
        try:
            return wav_to_pcm(data, rate=CALL_RATE)
        except PcmError as err:
            raise SpeechError(f"{self.engine_id} sent unusable audio: {err}") from err

    async def _render(self, text: str, language: str, options: dict[str, Any]) -> bytes:
        engine = tts.async_resolve_engine(self.hass, self.engine_id)
        if engine is None:
            raise SpeechError(f"{self.engine_id} not found")
        # The engine's own languages: HA's tts only takes a tag the engine lists verbatim.
        instance = get_engine_instance(self.hass, engine)
        assert instance is not None  # resolved just above
        language = _match_language(self.engine_id, language, instance.supported_languages)
        if hasattr(tts, "generate_media_source_id") and hasattr(tts, "async_get_media_source_audio"):
            # Without the file cache: prompts can carry account numbers, never kept on disk.
            media_id = tts.generate_media_source_id(
                self.hass, text, engine=engine, language=language, options=options, cache=False
            )
            _extension, data = await tts.async_get_media_source_audio(self.hass, media_id)
            return data
        # A core without the media-source helpers: the stream API (file cache as configured).
        stream = tts.async_create_stream(self.hass, engine, language=language, options=options)
        stream.async_set_message(text)
        return b"".join([chunk async for chunk in stream.async_stream_result()])
