"""``EspeakTts``: :class:`TextToSpeech` with the ``espeak-ng`` binary, for tests and headless runs.

Voices are espeak-ng voice names with variants (``en-us+f3``, ``en+m2``); ``None`` speaks the
call's language with the default variant. espeak-ng writes 22.05 kHz WAV; calls get 8 kHz.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from typing import Final

from .pcm import Pcm, PcmError, wav_to_pcm
from .protocols import SpeechError

ESPEAK: Final = "espeak-ng"
_VOICE = re.compile(r"[A-Za-z0-9_-]+(?:\+[A-Za-z0-9_-]+)?")


class EspeakTts:
    """Render text with espeak-ng in a subprocess (one per sentence batch, off the event loop)."""

    def __init__(self, binary: str = ESPEAK, *, words_per_minute: int = 165) -> None:
        self.binary = binary
        self.words_per_minute = words_per_minute

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` as 8 kHz mono int16; raises :class:`SpeechError` if espeak-ng is missing or fails."""
        name = voice or language.lower()  # espeak-ng names languages in lower case (en-us)
        if not _VOICE.fullmatch(name):
            raise SpeechError(f"espeak-ng: bad voice name {name!r}")
        path = shutil.which(self.binary)
        if path is None:
            raise SpeechError(f"espeak-ng is not installed ({self.binary!r} not found): run script/setup")
        proc = await asyncio.create_subprocess_exec(
            path,
            "-v",
            name,
            "-s",
            str(self.words_per_minute),
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        wav, errors = await proc.communicate(text.encode("utf-8"))
        if proc.returncode != 0:
            message = errors.decode("utf-8", "replace").strip()
            raise SpeechError(f"espeak-ng failed ({proc.returncode}): {message}")
        try:
            return wav_to_pcm(wav)
        except PcmError as err:
            raise SpeechError(f"espeak-ng output: {err}") from err
