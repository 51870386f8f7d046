"""The Wyoming client against a scripted server on 127.0.0.1 (the real servers: test_wyoming_real).

The fake replays what the protocol allows and what breaks it; ``test_wyoming_real.py`` checks the
same behaviour against wyoming-faster-whisper and wyoming-piper.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError
from custom_components.hold_slayer.voice.wyoming import (
    MAX_HEADER_BYTES,
    WyomingEvent,
    WyomingProtocolError,
    WyomingStt,
    WyomingTts,
    audio_to_pcm,
    read_event,
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
    async with fake_wyoming_server(replying(WyomingEvent("info", info))) as (port, received):
        assert await WyomingStt("127.0.0.1", port).describe() == info
    assert [event.type for event in received] == ["describe"]


async def test_inline_data_is_merged_with_data_bytes() -> None:
    extra = json.dumps({"b": 2}).encode()
    header = json.dumps({"type": "info", "data": {"a": 1}, "data_length": len(extra)}).encode()
    async with fake_wyoming_server(replying(header + b"\n" + extra)) as (port, _):
        assert await WyomingTts("127.0.0.1", port).describe() == {"a": 1, "b": 2}


async def test_transcribe_sends_16_khz_chunks_and_reads_the_transcript() -> None:
    replies = (
        WyomingEvent("transcript-start"),  # newer servers announce a streamed transcript
        WyomingEvent("transcript", {"text": " Press one for billing. "}),
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
    assert received[1].data == {"rate": 16000, "width": 2, "channels": 1}
    chunks = received[2:-1]
    assert all(chunk.data == received[1].data for chunk in chunks)
    assert max(len(chunk.payload) for chunk in chunks) == 2048  # 1024 samples a chunk
    sent: Pcm = np.frombuffer(b"".join(chunk.payload for chunk in chunks), dtype="<i2")
    assert len(sent) == 16000
    assert _level_at(sent, 16000, 1000) == pytest.approx(8000, rel=0.02)


async def test_empty_transcript_is_empty_text() -> None:
    async with fake_wyoming_server(replying(WyomingEvent("transcript", {}), after="audio-stop")) as (port, _):
        assert await WyomingStt("127.0.0.1", port).transcribe(_tone(300, 8000, 0.1), language="en") == ""


async def test_synthesize_converts_any_format_to_8_khz_mono() -> None:
    stereo = np.repeat(_tone(1000, 22050, 0.5), 2)  # interleaved L/R
    wide = (_tone(500, 16000, 0.25).astype(np.int32) << 16).astype("<i4")
    replies = (
        WyomingEvent("audio-start", {"rate": 22050, "width": 2, "channels": 2}),
        WyomingEvent("audio-chunk", {"rate": 22050, "width": 2, "channels": 2}, stereo[:5000].tobytes()),
        WyomingEvent("audio-chunk", {"rate": 22050, "width": 2, "channels": 2}, stereo[5000:].tobytes()),
        WyomingEvent("audio-chunk", {"rate": 16000, "width": 4, "channels": 1}, wide.tobytes()),
        WyomingEvent("audio-stop"),
    )
    async with fake_wyoming_server(replying(*replies, after="synthesize")) as (port, received):
        audio = await WyomingTts("127.0.0.1", port).synthesize("Hello.", language="en_US", voice="joe")
    assert received[0].data == {"text": "Hello.", "voice": {"language": "en_US", "name": "joe"}}
    assert audio.dtype == np.int16
    assert len(audio) == 4000 + 2000
    assert _level_at(audio[:4000], 8000, 1000) == pytest.approx(8000, rel=0.03)
    assert _level_at(audio[4000:], 8000, 500) == pytest.approx(8000, rel=0.03)


async def test_synthesize_without_voice_and_without_audio() -> None:
    async with fake_wyoming_server(replying(WyomingEvent("audio-stop"), after="synthesize")) as (
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


def test_event_encoding_round_trips() -> None:
    event = WyomingEvent("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\x01\x02")
    wire = event.encode()
    header = json.loads(wire.split(b"\n", 1)[0])
    assert header == {
        "type": "audio-chunk",
        "data_length": len(wire) - len(json.dumps(header)) - 3,
        "payload_length": 2,
    }
    assert WyomingEvent("describe").encode() == b'{"type": "describe"}\n'

    async def decode() -> WyomingEvent | None:
        reader = asyncio.StreamReader()
        reader.feed_data(wire)
        reader.feed_eof()
        return await read_event(reader)

    assert asyncio.run(decode()) == event


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


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"this is not json\n", "event header is not JSON"),
        (b'["info"]\n', "event header without a type"),
        (b'{"data": {}}\n', "event header without a type"),
        (b'{"type": "info", "data_length": -1}\n', "bad data_length -1"),
        (b'{"type": "info", "payload_length": "x"}\n', "bad payload_length 'x'"),
        (b'{"type": "info", "data_length": 10}\n{"a"', "connection closed inside an event"),
        (b'{"type": "info", "data_length": 3}\n[1]', "event data is not a JSON object"),
        (b'{"type": "info", "data_length": 3}\n{x}', "event data is not JSON"),
        (b'{"type": "info", "data": [1]}\n', "event data is not a JSON object"),
        (b'{"type": "info", "data": [1], "data_length": 2}\n{}', "event data is not a JSON object"),
        (b'{"type": "inf', "connection closed inside an event header"),
        (b"x" * (MAX_HEADER_BYTES + 10), "event header line too long"),
    ],
)
async def test_garbage_is_a_protocol_error(reply: bytes, message: str) -> None:
    async with fake_wyoming_server(replying(reply)) as (port, _):
        with pytest.raises(WyomingProtocolError, match=rf"Wyoming STT server at 127.0.0.1:{port}: {message}"):
            await WyomingStt("127.0.0.1", port).describe()


async def test_closing_without_an_answer() -> None:
    async with fake_wyoming_server(replying()) as (port, _):
        with pytest.raises(SpeechError, match="closed the connection without answering"):
            await WyomingStt("127.0.0.1", port).describe()


async def test_error_event_carries_the_server_text() -> None:
    error = WyomingEvent("error", {"text": "voice not found", "code": "VoiceNotFoundError"})
    async with fake_wyoming_server(replying(error, after="synthesize")) as (port, _):
        with pytest.raises(SpeechError, match=r"failed: voice not found \(VoiceNotFoundError\)"):
            await WyomingTts("127.0.0.1", port).synthesize("Hi.", language="en", voice="nobody")


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (WyomingEvent("audio-chunk", {"rate": 16000}, b"\0\0"), "audio-chunk without its format"),
        (WyomingEvent("audio-chunk", {"rate": 0, "width": 2, "channels": 1}, b"\0\0"), "audio-chunk at 0 Hz"),
        (WyomingEvent("audio-chunk", {"rate": 8000, "width": 3, "channels": 1}, b"\0" * 3), "24-bit"),
    ],
)
async def test_bad_audio_chunks(chunk: WyomingEvent, message: str) -> None:
    async with fake_wyoming_server(replying(chunk, WyomingEvent("audio-stop"), after="synthesize")) as (
        port,
        _,
    ):
        with pytest.raises(WyomingProtocolError, match=message):
            await WyomingTts("127.0.0.1", port).synthesize("Hi.", language="en")


def test_repr_names_the_server() -> None:
    assert repr(WyomingStt("127.0.0.1", 10300, timeout=5)) == "WyomingStt(127.0.0.1:10300)"
    assert WyomingTts("127.0.0.1", 10200).name == "Wyoming TTS server at 127.0.0.1:10200"


def test_the_integration_does_not_import_the_wyoming_package() -> None:
    """HA's wyoming integration pins that package; ours speaks the protocol itself."""
    package = Path(__file__).resolve().parents[2] / "custom_components" / "hold_slayer"
    importers = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            if any(name.split(".")[0] == "wyoming" for name in names):
                importers.append(path.name)
    assert importers == []
