"""What the core needs from speech engines; adapters implement it.

The HA adapter (``speech.py`` at the top of the integration) uses Home Assistant's stt/tts
entities, normally the Wyoming add-ons; headless runs use the direct Wyoming client in this
package. Audio crossing these protocols is always 8 kHz mono ``int16`` like the call itself:
each adapter converts to what its engine wants.
"""

from __future__ import annotations

from typing import Protocol

from .pcm import Pcm


class SpeechError(Exception):
    """A speech engine could not be reached or failed; the message names the engine."""


class SpeechToText(Protocol):
    """Recognise one finished utterance."""

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        """The words in ``audio`` (8 kHz mono int16), "" when nothing was recognised.

        Raises :class:`SpeechError` when the engine is unavailable.
        """


class TextToSpeech(Protocol):
    """Render text as call audio."""

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` spoken as 8 kHz mono int16; ``voice`` is an engine voice name or None.

        Raises :class:`SpeechError` when the engine is unavailable.
        """
