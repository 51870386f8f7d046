"""What the core needs from speech engines; adapters implement it.

The HA adapter (``speech.py`` at the top of the integration) uses Home Assistant's stt/tts
entities, normally the Wyoming add-ons; headless runs use the direct Wyoming client in this
package. Audio crossing these protocols is always 8 kHz mono ``int16`` like the call itself:
each adapter converts to what its engine wants.
"""

from __future__ import annotations

from typing import Final, Protocol

from .pcm import Pcm

# Whisper follows the style and vocabulary of the text it is primed with. Primed with a phone
# menu it writes "press one" instead of "breath 1": set this as the faster-whisper server's
# initial prompt (the HA Whisper add-on's "initial prompt" option, --initial-prompt here).
STT_INITIAL_PROMPT: Final = (
    "Thank you for calling. For billing, press one. For technical support, press two. "
    "For sales, press three. To repeat these options, press nine. Please enter your account "
    "number, followed by the pound key. Please hold."
)


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
