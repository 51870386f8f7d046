"""The Wyoming client against a scripted server on 127.0.0.1 (the real servers: test_wyoming_real).

The fake replays what the protocol allows and what breaks it; ``test_wyoming_real.py`` checks the
same behaviour against wyoming-faster-whisper and wyoming-piper.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcript  # type: ignore[import-untyped, unused-ignore]
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # type: ignore[import-untyped, unused-ignore]
from wyoming.error import Error  # type: ignore[import-untyped, unused-ignore]
from wyoming.event import Event  # type: ignore[import-untyped, unused-ignore]

from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError
from custom_components.hold_slayer.voice.wyoming import (
    WyomingProtocolError,
    WyomingStt,
    WyomingTts,
    audio_to_pcm,
)
from harness.servers.fake_wyoming import fake_wyoming_server, replying

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _tone(frequency: float, rate: int, seconds: float, amplitude: float = 8000) -> Pcm:
    t = np.arange(round(rate * seconds)) / rate
    tone: Pcm = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    return tone


def _level_at(samples: Pcm, rate: int, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) / (len(samples) / 2)
    return float(spectrum[round(frequency * len(samples) / rate)])


async def test_describe_returns_info() -> None:
    info = {"asr": [{"name": "faster-whisper", "models": [{"name": "tiny.en"}]}]}
    async with fake_wyoming_server(replying(Event("info", info))) as (port, received):
        assert await WyomingStt("127.0.0.1", port).describe() == info
    assert [event.type for event in received] == ["describe"]


async def test_inline_data_is_merged_with_data_bytes() -> None:
    extra = json.dumps({"b": 2}).encode()
    header = json.dumps({"type": "info", "data": {"a": 1}, "data_length": len(extra)}).encode()
    async with fake_wyoming_server(replying(header + b"\n" + extra)) as (port, _):
        assert await WyomingTts("127.0.0.1", port).describe() == {"a": 1, "b": 2}


async def test_transcribe_sends_16_khz_chunks_and_reads_the_transcript() -> None:
    replies = (
        Event("transcript-start"),  # newer servers announce a streamed transcript
        Transcript(text=" Press one for billing. ").event(),
    )
    audio = _tone(1000, 8000, 1.0)
    async with fake_wyoming_server(replying(*replies, after="audio-stop")) as (port, received):
        text = await WyomingStt("127.0.0.1", port).transcribe(audio, language="en")
    assert text == "Press one for billing."
    types = [event.type for event in received]
    assert types[:2] == ["transcribe", "audio-start"]
    assert types[-1] == "audio-stop"
    assert set(types[2:-1]) == {"audio-chunk"}
    assert received[0].data == {"language": "en"}
    assert AudioStart.from_event(received[1]) == AudioStart(rate=16000, width=2, channels=1)
    chunks = [AudioChunk.from_event(event) for event in received[2:-1]]
    assert {(chunk.rate, chunk.width, chunk.channels) for chunk in chunks} == {(16000, 2, 1)}
    assert max(len(chunk.audio) for chunk in chunks) == 2048  # 1024 samples a chunk
    sent: Pcm = np.frombuffer(b"".join(chunk.audio for chunk in chunks), dtype="<i2")
    assert len(sent) == 16000
    assert _level_at(sent, 16000, 1000) == pytest.approx(8000, rel=0.02)


async def test_empty_transcript_is_empty_text() -> None:
    async with fake_wyoming_server(replying(Event("transcript"), after="audio-stop")) as (port, _):
        assert await WyomingStt("127.0.0.1", port).transcribe(_tone(300, 8000, 0.1), language="en") == ""


async def test_synthesize_converts_any_format_to_8_khz_mono() -> None:
    stereo = np.repeat(_tone(1000, 22050, 0.5), 2)  # interleaved L/R
    wide = (_tone(500, 16000, 0.25).astype(np.int32) << 16).astype("<i4")
    replies = (
        AudioStart(rate=22050, width=2, channels=2).event(),
        AudioChunk(rate=22050, width=2, channels=2, audio=stereo[:5000].tobytes()).event(),
        Event("audio-chunk", {"rate": "22050", "width": 2, "channels": 2}, stereo[5000:].tobytes()),
        AudioChunk(rate=16000, width=4, channels=1, audio=wide.tobytes()).event(),
        AudioStop().event(),
    )
    async with fake_wyoming_server(replying(*replies, after="synthesize")) as (port, received):
        audio = await WyomingTts("127.0.0.1", port).synthesize("Hello.", language="en_US", voice="joe")
    # A named voice overrides the language: the package sends the name alone.
    assert received[0].data == {"text": "Hello.", "voice": {"name": "joe"}}
    assert audio.dtype == np.int16
    assert len(audio) == 4000 + 2000
    assert _level_at(audio[:4000], 8000, 1000) == pytest.approx(8000, rel=0.03)
    assert _level_at(audio[4000:], 8000, 500) == pytest.approx(8000, rel=0.03)


async def test_synthesize_without_voice_and_without_audio() -> None:
    async with fake_wyoming_server(replying(AudioStop().event(), after="synthesize")) as (
        port,
        received,
    ):
        audio = await WyomingTts("127.0.0.1", port).synthesize("", language="en")
    assert received[0].data == {"text": "", "voice": {"language": "en"}}
    assert len(audio) == 0


def test_audio_to_pcm_widths_and_channels() -> None:
    assert audio_to_pcm(bytes([0x40, 0xC0]), width=1, channels=1).tolist() == [0x4000, -0x4000]
    four = np.array([1 << 30, -(1 << 30)], dtype="<i4").tobytes()
    assert audio_to_pcm(four, width=4, channels=1).tolist() == [1 << 14, -(1 << 14)]
    stereo = np.array([100, 300, -100, -300, 7], dtype="<i2").tobytes()  # a torn last frame
    assert audio_to_pcm(stereo, width=2, channels=2).tolist() == [200, -200]
    with pytest.raises(WyomingProtocolError, match="24-bit"):
        audio_to_pcm(b"\0" * 6, width=3, channels=1)
    with pytest.raises(WyomingProtocolError, match="0 channel"):
        audio_to_pcm(b"\0" * 4, width=2, channels=0)


async def test_refused_connection_is_a_speech_error() -> None:
    async with fake_wyoming_server(replying()) as (port, _):
        pass  # closed: nothing listens on the port any more
    with pytest.raises(SpeechError, match=rf"Wyoming STT server at 127.0.0.1:{port} is unreachable"):
        await WyomingStt("127.0.0.1", port).transcribe(_tone(300, 8000, 0.1), language="en")


async def test_connection_reset_mid_request() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: object) -> None:
        await reader.readline()
        writer.transport.abort()  # unread audio left behind: the kernel answers with a reset

    async with fake_wyoming_server(reset) as (port, _):
        with pytest.raises(SpeechError, match=r"Wyoming STT server at .* dropped the connection: "):
            await WyomingStt("127.0.0.1", port).transcribe(_tone(300, 8000, 30.0), language="en")


async def test_silent_server_times_out() -> None:
    async def stall(reader: asyncio.StreamReader, *_: object) -> None:
        await reader.read()  # never answers; the client gives up and closes

    async with fake_wyoming_server(stall) as (port, _):
        with pytest.raises(SpeechError, match=r"Wyoming TTS server at .* did not answer within 0.3 s"):
            await WyomingTts("127.0.0.1", port, timeout=0.3).synthesize("Hi.", language="en")


NOT_AN_EVENT = r"closed the connection without answering \(or sent something that is not a Wyoming event\)"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        # The package's reader answers None for these, as for a clean close.
        (b"this is not json\n", NOT_AN_EVENT),
        (b'{"type": "info", "data_length": 3}\n{x}', NOT_AN_EVENT),
        (b'{"type": "inf', NOT_AN_EVENT),
        (b"x" * (2**16 + 10), NOT_AN_EVENT),  # a header line over asyncio's 64 KiB stream limit
        # What it lets escape (KeyError, TypeError, …) or passes through unchecked.
        (b'["info"]\n', r"malformed event \(AttributeError: "),
        (b'{"data": {}}\n', r"malformed event \(KeyError: 'type'\)"),
        (b'{"type": 5}\n', "event type is not a string: 5"),
        (b'{"type": "info", "data_length": "x"}\n', r"malformed event \(TypeError: "),
        (b'{"type": "info", "payload_length": "x"}\n', r"malformed event \(TypeError: "),
        (b'{"type": "info", "data_length": 10}\n{"a"', "connection closed inside an event"),
        (b'{"type": "info", "payload_length": 10}\nab', "connection closed inside an event"),
        (b'{"type": "info", "data_length": 3}\n[1]', r"malformed event \(TypeError: "),
        (b'{"type": "info", "data": [1]}\n', "event data is not a JSON object"),
        (b'{"type": "info", "data": [1], "data_length": 2}\n{}', r"malformed event \(AttributeError: "),
        (b"[" * 60000 + b"\n", r"malformed event \(RecursionError: "),
    ],
)
async def test_garbage_is_a_speech_error_naming_the_server(reply: bytes, message: str) -> None:
    async with fake_wyoming_server(replying(reply)) as (port, _):
        with pytest.raises(SpeechError, match=rf"^Wyoming STT server at 127.0.0.1:{port}:? {message}"):
            await WyomingStt("127.0.0.1", port).describe()


async def test_negative_lengths_read_as_no_data() -> None:
    """The package reads a length below 1 as none: the event is whole, only its data is empty."""
    reply = b'{"type": "info", "data_length": -1, "payload_length": -1}\n'
    async with fake_wyoming_server(replying(reply)) as (port, _):
        assert await WyomingStt("127.0.0.1", port).describe() == {}


async def test_closing_without_an_answer() -> None:
    async with fake_wyoming_server(replying()) as (port, _):
        with pytest.raises(SpeechError, match=rf"server at 127.0.0.1:{port} {NOT_AN_EVENT}"):
            await WyomingStt("127.0.0.1", port).describe()


async def test_error_event_carries_the_server_text() -> None:
    error = Error(text="voice not found", code="VoiceNotFoundError").event()
    async with fake_wyoming_server(replying(error, after="synthesize")) as (port, _):
        with pytest.raises(
            SpeechError, match=rf"at 127.0.0.1:{port} failed: voice not found \(VoiceNotFoundError\)"
        ):
            await WyomingTts("127.0.0.1", port).synthesize("Hi.", language="en", voice="nobody")


async def test_error_event_without_text() -> None:
    async with fake_wyoming_server(replying(Event("error"), after="transcribe")) as (port, _):
        with pytest.raises(SpeechError, match=r"failed: unknown error \(None\)"):
            await WyomingStt("127.0.0.1", port).transcribe(_tone(300, 8000, 0.1), language="en")


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (Event("audio-chunk", {"rate": 16000}, b"\0\0"), "audio-chunk without its format"),
        (Event("audio-chunk", {"rate": "x", "width": 2, "channels": 1}), "audio-chunk without its format"),
        (Event("audio-chunk", {"rate": 0, "width": 2, "channels": 1}, b"\0\0"), "audio-chunk at 0 Hz"),
        (Event("audio-chunk", {"rate": 8000, "width": 3, "channels": 1}, b"\0" * 3), "24-bit"),
    ],
)
async def test_bad_audio_chunks(chunk: Event, message: str) -> None:
    async with fake_wyoming_server(replying(chunk, AudioStop().event(), after="synthesize")) as (port, _):
        with pytest.raises(
            WyomingProtocolError, match=rf"^Wyoming TTS server at 127.0.0.1:{port}: .*{message}"
        ):
            await WyomingTts("127.0.0.1", port).synthesize("Hi.", language="en")


def test_repr_names_the_server() -> None:
    assert repr(WyomingStt("127.0.0.1", 10300, timeout=5)) == "WyomingStt(127.0.0.1:10300)"
    assert WyomingTts("127.0.0.1", 10200).name == "Wyoming TTS server at 127.0.0.1:10200"


def test_the_manifest_requires_the_wyoming_package() -> None:
    """The client imports ``wyoming``: HA installs it for us (its own integration pins it too)."""
    manifest = Path(__file__).resolve().parents[2] / "custom_components" / "hold_slayer" / "manifest.json"
    assert "wyoming>=1.5.4" in json.loads(manifest.read_text())["requirements"]
