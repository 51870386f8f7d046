"""What the simulated company sounds like: real recorded prompts, or a TTS voice.

``recorded`` composes each sentence from Asterisk's recorded English prompts (Debian
``asterisk-core-sounds-en-wav``), matching words and phrases against the prompts' published
transcripts (``core-sounds-en.txt``) and file names. A sentence that cannot be composed is
spoken by TTS instead, with a warning. ``tts:<id>`` renders through the injected
:class:`TextToSpeech`, with ``voice_map`` turning the scenario's voice id into an engine voice.
Everything is rendered once and cached (in memory, and optionally on disk).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np

from custom_components.hold_slayer.voice.pcm import CALL_RATE, Pcm, PcmError, pcm_to_wav, wav_to_pcm
from custom_components.hold_slayer.voice.protocols import TextToSpeech

from .scenario import Voice

_LOGGER = logging.getLogger(__name__)

SOUNDS_DIR: Final = Path("/usr/share/asterisk/sounds/en")
TRANSCRIPT: Final = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
# Scenario voice ids → espeak-ng voices (the headless default); other engines pass their own map.
DEFAULT_VOICE_MAP: Final[Mapping[str, str]] = {
    "ivr-1": "en-us+f3",
    "ivr-2": "en+m2",
    "human-1": "en-us+f2",
    "human-2": "en-us+m3",
    "human-3": "en+f4",
}
WORD_GAP: Final = 0.08  # seconds between recorded pieces of one sentence
SENTENCE_GAP: Final = 0.35
TARGET_RMS: Final = 0.1  # -20 dBFS: prompts from different sources play at one level
_DIGIT_WORDS: Final = dict(
    zip("0123456789", "zero one two three four five six seven eight nine".split(), strict=True)  # noqa: SIM905
)


def words(text: str) -> tuple[str, ...]:
    """Lower-case words, digits spoken one by one ("press 1" and "press one" match)."""
    text = text.lower().replace("#", " pound ").replace("*", " star ")
    text = re.sub(r"\d", lambda m: f" {_DIGIT_WORDS[m.group(0)]} ", text)
    return tuple(re.findall(r"[a-z]+(?:'[a-z]+)?", text))


def sentences(text: str) -> list[str]:
    """Split a prompt into sentences (each is composed or synthesised as a whole)."""
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part.strip()]


def normalise(samples: Pcm) -> Pcm:
    """Scale to the common speech level."""
    if len(samples) == 0:
        return samples
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) / 32768
    if rms < 1e-5:
        return samples
    scaled = samples.astype(np.float64) * (TARGET_RMS / rms)
    result: Pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
    return result


class RecordedPrompts:
    """An index of recorded prompts by the words they say."""

    def __init__(self, sounds_dir: Path = SOUNDS_DIR, transcript: Path = TRANSCRIPT) -> None:
        self.sounds_dir = sounds_dir
        self._phrases: dict[tuple[str, ...], Path] = {}
        self._audio: dict[Path, Pcm] = {}
        if transcript.exists():
            with gzip.open(transcript, "rt", encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    name, sep, said = line.partition(":")
                    if sep and not name.startswith(";") and not said.strip().startswith("["):
                        self._add(name.strip(), words(said))
        for path in sorted(sounds_dir.glob("**/*.wav")) if sounds_dir.exists() else []:
            name = path.relative_to(sounds_dir).with_suffix("").as_posix()
            self._add(name, words(path.stem.replace("-", " ")))
        self.longest = max((len(key) for key in self._phrases), default=0)

    def _add(self, name: str, said: tuple[str, ...]) -> None:
        path = self.sounds_dir / f"{name}.wav"
        if said and said not in self._phrases and path.exists():
            self._phrases[said] = path

    def __len__(self) -> int:
        return len(self._phrases)

    def compose(self, sentence: str) -> list[Path] | None:
        """The prompt files that say ``sentence`` (longest phrases first), or None."""
        tokens = words(sentence)
        if not tokens:
            return None
        found: list[Path] = []
        position = 0
        while position < len(tokens):
            for length in range(min(self.longest, len(tokens) - position), 0, -1):
                path = self._phrases.get(tokens[position : position + length])
                if path is not None:
                    found.append(path)
                    position += length
                    break
            else:
                return None
        return found

    def render(self, paths: list[Path]) -> Pcm:
        """The files one after another with short gaps, at the call rate."""
        gap = np.zeros(round(WORD_GAP * CALL_RATE), dtype=np.int16)
        pieces: list[Pcm] = []
        for path in paths:
            if path not in self._audio:
                self._audio[path] = trim(wav_to_pcm(path.read_bytes()))
            pieces += [self._audio[path], gap]
        return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, dtype=np.int16)


def trim(samples: Pcm, threshold: int = 200) -> Pcm:
    """Cut leading and trailing silence (recorded prompts carry some)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if len(loud) == 0:
        return samples
    return samples[max(0, loud[0] - 80) : loud[-1] + 80]


class VoiceBank:
    """Renders scenario text in a scenario voice, once."""

    def __init__(
        self,
        tts: TextToSpeech,
        *,
        voice_map: Mapping[str, str] = DEFAULT_VOICE_MAP,
        prompts: RecordedPrompts | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.tts = tts
        self.voice_map = voice_map
        self._prompts = prompts
        self.cache_dir = cache_dir
        self._cache: dict[tuple[str, str, str], Pcm] = {}
        self.fallbacks = 0  # sentences a recorded voice had to synthesise

    @property
    def prompts(self) -> RecordedPrompts:
        """The recorded prompt index (built on first use: it reads the package's files)."""
        if self._prompts is None:
            self._prompts = RecordedPrompts()
        return self._prompts

    async def speak(self, text: str, voice: Voice, *, language: str) -> Pcm:
        """``text`` in ``voice`` as 8 kHz int16."""
        spec = "recorded" if voice.recorded else f"tts:{voice.tts_id}"
        key = (text, spec, language)
        if (cached := self._cache.get(key)) is not None:
            return cached
        disk = self._disk_path(key)
        if disk is not None and disk.exists():
            try:
                audio = wav_to_pcm(disk.read_bytes())
            except PcmError:
                audio = await self._render(text, voice, language)
        else:
            audio = await self._render(text, voice, language)
            if disk is not None:
                disk.parent.mkdir(parents=True, exist_ok=True)
                disk.write_bytes(pcm_to_wav(audio))
        self._cache[key] = audio
        return audio

    def _disk_path(self, key: tuple[str, str, str]) -> Path | None:
        if self.cache_dir is None:
            return None
        voice_name = self.voice_map.get(key[1].removeprefix("tts:"), "")
        digest = hashlib.sha256("\x00".join([*key, voice_name]).encode()).hexdigest()[:32]
        return self.cache_dir / f"{digest}.wav"

    async def _render(self, text: str, voice: Voice, language: str) -> Pcm:
        gap = np.zeros(round(SENTENCE_GAP * CALL_RATE), dtype=np.int16)
        pieces: list[Pcm] = []
        for sentence in sentences(text):
            paths = self.prompts.compose(sentence) if voice.recorded else None
            if paths is not None:
                audio = self.prompts.render(paths)
            else:
                if voice.recorded:
                    self.fallbacks += 1
                    _LOGGER.warning("No recorded prompts say %r; using TTS for it", sentence)
                engine_voice = self.voice_map.get(voice.tts_id) if voice.tts_id else None
                audio = await self.tts.synthesize(sentence, language=language, voice=engine_voice)
            pieces += [normalise(audio), gap]
        return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, dtype=np.int16)
