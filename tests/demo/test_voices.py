"""Voices (real recorded prompts, TTS with a voice map, fallback, caches), music, espeak-ng."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from custom_components.hold_slayer.demo import music
from custom_components.hold_slayer.demo.music import hold_audio, moh_tracks
from custom_components.hold_slayer.demo.scenario import Music, Voice
from custom_components.hold_slayer.demo.voices import (
    SOUNDS_DIR,
    RecordedPrompts,
    VoiceBank,
    normalise,
    sentences,
    trim,
    words,
)
from custom_components.hold_slayer.voice.espeak import EspeakTts
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError

RECORDED = Voice(recorded=True)


class CountingTts:
    """The real espeak-ng engine, counting what it was asked (to see caching and voice names)."""

    def __init__(self) -> None:
        self.engine = EspeakTts()
        self.calls: list[tuple[str, str | None]] = []

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        self.calls.append((text, voice))
        return await self.engine.synthesize(text, language=language, voice=voice)


def rms(samples: Pcm) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_words_and_sentences() -> None:
    """Digits are spoken one by one; # and * by name; sentences split on their ends."""
    assert words("Press 1, then #.") == ("press", "one", "then", "pound")
    assert words("I'm at *42") == ("i'm", "at", "star", "four", "two")
    assert sentences("Hello. Is anyone there? Yes!") == ["Hello.", "Is anyone there?", "Yes!"]


def test_recorded_prompts_compose_real_files() -> None:
    """Sentences map to the Debian prompt files, longest phrase first."""
    prompts = RecordedPrompts()
    assert len(prompts) > 300
    paths = prompts.compose("Please enter your password followed by the pound key.")
    assert paths == [SOUNDS_DIR / "agent-pass.wav"]
    press = prompts.compose("Press 1.")
    assert press is not None
    assert press[-1] == SOUNDS_DIR / "digits" / "1.wav"
    assert all(path.exists() for path in press)
    assert prompts.compose("Thank you for calling Acme Bank.") is None  # no recording says "Acme"
    assert prompts.compose("...") is None
    audio = prompts.render(press)
    assert 0.4 < len(audio) / 8000 < 3.0
    assert rms(audio) > 500


def test_no_prompts_installed_means_nothing_composes(tmp_path: Path) -> None:
    """A machine without the package (or transcript): every sentence falls back."""
    prompts = RecordedPrompts(tmp_path / "none", tmp_path / "none.txt.gz")
    assert len(prompts) == 0
    assert prompts.compose("Goodbye.") is None
    assert len(prompts.render([])) == 0


async def test_recorded_voice_uses_recordings_and_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A composable sentence never reaches TTS; the other one does, with a warning."""
    tts = CountingTts()
    bank = VoiceBank(tts)
    with caplog.at_level(logging.WARNING):
        audio = await bank.speak("Goodbye. Thank you for calling Acme Bank.", RECORDED, language="en")
    assert tts.calls == [("Thank you for calling Acme Bank.", None)]
    assert bank.fallbacks == 1
    assert "No recorded prompts say 'Thank you for calling Acme Bank.'" in caplog.text
    assert len(audio) / 8000 > 1.5
    again = await bank.speak("Goodbye. Thank you for calling Acme Bank.", RECORDED, language="en")
    assert again is audio  # cached
    assert len(tts.calls) == 1


async def test_tts_voice_map_and_disk_cache(tmp_path: Path) -> None:
    """``tts:<id>`` uses the mapped engine voice; a second bank reads the disk cache."""
    tts = CountingTts()
    bank = VoiceBank(tts, voice_map={"human-1": "en-us+m3"}, cache_dir=tmp_path)
    voice = Voice(recorded=False, tts_id="human-1")
    first = await bank.speak("Hello there.", voice, language="en")
    assert tts.calls == [("Hello there.", "en-us+m3")]
    assert len(list(tmp_path.glob("*.wav"))) == 1
    fresh = CountingTts()
    second = await VoiceBank(fresh, voice_map={"human-1": "en-us+m3"}, cache_dir=tmp_path).speak(
        "Hello there.", voice, language="en"
    )
    assert fresh.calls == []
    assert np.array_equal(first, second)
    unknown = Voice(recorded=False, tts_id="nobody")
    await bank.speak("Hi.", unknown, language="en")
    assert tts.calls[-1] == ("Hi.", None)  # unmapped ids get the engine's default voice
    (next(tmp_path.glob("*.wav"))).write_bytes(b"broken")  # a corrupt cache file is re-rendered
    third = await VoiceBank(fresh, voice_map={"human-1": "en-us+m3"}, cache_dir=tmp_path).speak(
        "Hello there.", voice, language="en"
    )
    assert len(third) > 0


def test_normalise_and_trim() -> None:
    """Levels meet the target; silence at the ends is cut; silence stays silence."""
    quiet = (np.sin(np.arange(8000) / 5) * 300).astype(np.int16)
    assert abs(rms(normalise(quiet)) / 32768 - 0.1) < 0.01
    silent = np.zeros(100, dtype=np.int16)
    assert np.array_equal(normalise(silent), silent)
    assert len(normalise(np.zeros(0, dtype=np.int16))) == 0
    padded = np.concatenate([silent, quiet, silent])
    assert len(trim(padded)) < len(padded)
    assert np.array_equal(trim(silent), silent)


@pytest.mark.parametrize("kind", [Music.MOH, Music.PIANO, Music.SYNTH])
def test_music_is_music(kind: Music) -> None:
    """Music at a steady level with many spectral peaks (not a test tone), exactly as long as asked."""
    audio = hold_audio(kind, 10.0)
    assert len(audio) == 80000
    assert 1000 < rms(audio) < 4000
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    strong = np.sum(spectrum > spectrum.max() * 0.1)
    assert strong > 20
    seconds = [rms(audio[i : i + 8000]) for i in range(0, 80000, 8000)]
    assert min(seconds) > 200  # no gaps


def test_silence_and_comfort_noise() -> None:
    """Digital silence, and comfort noise far below speech."""
    assert not hold_audio(Music.SILENCE, 2.0).any()
    noise = hold_audio(Music.COMFORT_NOISE, 40.0)  # longer than its loop
    assert len(noise) == 320000
    assert 10 < rms(noise) < 150


def test_moh_falls_back_to_piano(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the music package the hold plays synthesised piano (and says so)."""
    assert moh_tracks() is not None  # the real package is installed here
    monkeypatch.setattr(music, "MOH_DIR", tmp_path)
    music._loop.cache_clear()
    try:
        assert moh_tracks() is None
        with caplog.at_level(logging.WARNING):
            fallback = hold_audio(Music.MOH, 2.0)
        assert "synthesising piano" in caplog.text
        assert np.array_equal(fallback, hold_audio(Music.PIANO, 2.0))
    finally:
        music._loop.cache_clear()


async def test_espeak_renders_speech() -> None:
    """espeak-ng at 8 kHz, with variants as voices."""
    tts = EspeakTts()
    first = await tts.synthesize("Hello, is anyone there?", language="en", voice="en-us+f3")
    other = await tts.synthesize("Hello, is anyone there?", language="en", voice="en+m2")
    assert 1.0 < len(first) / 8000 < 3.5
    assert rms(first) > 500
    assert not np.array_equal(first[: len(other)], other[: len(first)])
    plain = await tts.synthesize("Hi.", language="en")
    assert len(plain) > 0


async def test_espeak_errors() -> None:
    """Bad voice names, a failing engine and a missing binary raise SpeechError."""
    with pytest.raises(SpeechError, match="bad voice name"):
        await EspeakTts().synthesize("x", language="en", voice="en; rm -rf /")
    with pytest.raises(SpeechError, match="not installed"):
        await EspeakTts("espeak-ng-missing").synthesize("x", language="en")
    with pytest.raises(SpeechError, match="espeak-ng"):
        await EspeakTts("false").synthesize("x", language="en")
    with pytest.raises(SpeechError, match="espeak-ng output"):
        await EspeakTts("true").synthesize("x", language="en")
