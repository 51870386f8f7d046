"""A direct Wyoming client on asyncio streams: speech engines without Home Assistant.

Headless runs (``script/simulate``, the tests, the benchmarks) talk to the same Wyoming servers
the HA add-ons are, without the ``wyoming`` package, whose pin belongs to HA's own integration.

The protocol: each event is one JSON header line ``{"type": ..., "data_length": n,
"payload_length": m}`` (``data`` may also sit inline in the header), then ``n`` bytes of JSON
data merged over the inline data, then ``m`` bytes of binary payload (audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from .pcm import CALL_RATE, STT_RATE, Pcm, resample
from .protocols import SpeechError

DEFAULT_TIMEOUT: Final = 30.0  # a whole request: connect, send, the engine's work, the answer
STT_CHUNK_SAMPLES: Final = 1024  # 64 ms at 16 kHz, as HA's Wyoming STT entity sends
MAX_HEADER_BYTES: Final = 64 * 1024
MAX_DATA_BYTES: Final = 16 * 1024 * 1024  # a Piper server's info lists every catalogue voice
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WyomingEvent:
    """One protocol event: its type, JSON data and binary payload."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""

    def encode(self) -> bytes:
        """The event as it goes on the wire."""
        header: dict[str, Any] = {"type": self.type}
        data = json.dumps(self.data, ensure_ascii=False).encode() if self.data else b""
        if data:
            header["data_length"] = len(data)
        if self.payload:
            header["payload_length"] = len(self.payload)
        return json.dumps(header).encode() + b"\n" + data + self.payload


class WyomingProtocolError(SpeechError):
    """The peer sent something that is not a Wyoming event."""


async def read_event(reader: asyncio.StreamReader) -> WyomingEvent | None:
    """The next event, or None when the peer closed the connection between events."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise WyomingProtocolError("connection closed inside an event header") from err
    except asyncio.LimitOverrunError as err:
        raise WyomingProtocolError("event header line too long") from err
    try:
        header = json.loads(line)
    except ValueError as err:
        raise WyomingProtocolError(f"event header is not JSON: {line[:80]!r}") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise WyomingProtocolError(f"event header without a type: {line[:80]!r}")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise WyomingProtocolError("event data is not a JSON object")
    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise WyomingProtocolError("event data is not a JSON object")
            data = {**data, **extra}
        payload = await reader.readexactly(payload_length) if payload_length else b""
    except asyncio.IncompleteReadError as err:
        raise WyomingProtocolError("connection closed inside an event") from err
    except ValueError as err:
        raise WyomingProtocolError("event data is not JSON") from err
    return WyomingEvent(header["type"], data, payload)


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key) or 0
    if not isinstance(value, int) or not 0 <= value <= limit:
        raise WyomingProtocolError(f"bad {key} {value!r}")
    return value


def audio_to_pcm(payload: bytes, *, width: int, channels: int) -> Pcm:
    """Raw little-endian audio (8, 16 or 32-bit signed, interleaved) as mono int16."""
    dtypes: dict[int, np.dtype[Any]] = {1: np.dtype(np.int8), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
    if width not in dtypes or channels < 1:
        raise WyomingProtocolError(f"unsupported audio: {width * 8}-bit, {channels} channel(s)")
    frame = width * channels
    samples = np.frombuffer(payload[: len(payload) // frame * frame], dtype=dtypes[width])
    wide = samples.astype(np.int64)
    if width == 1:
        wide <<= 8
    elif width == 4:
        wide >>= 16
    if channels > 1:
        wide = wide.reshape(-1, channels).mean(axis=1).astype(np.int64)
    mono: Pcm = np.clip(wide, -32768, 32767).astype(np.int16)
    return mono


class WyomingClient:
    """One Wyoming server; every request is its own connection, as the servers expect."""

    kind = "Wyoming"

    def __init__(self, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host}:{self.port})"

    @property
    def name(self) -> str:
        """How errors name this engine."""
        return f"{self.kind} server at {self.host}:{self.port}"

    async def describe(self) -> dict[str, Any]:
        """The server's ``info``: its programs, models and voices."""
        async with self._session() as (reader, writer):
            await self._send(writer, WyomingEvent("describe"))
            event = await self._expect(reader, "info")
            return event.data

    @asynccontextmanager
    async def _session(
        self,
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        # One deadline for the whole exchange; every failure becomes a SpeechError naming us.
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, limit=MAX_HEADER_BYTES
                    )
                except OSError as err:
                    raise SpeechError(f"{self.name} is unreachable: {err}") from err
                yield reader, writer
        except TimeoutError as err:
            raise SpeechError(f"{self.name} did not answer within {self.timeout:g} s") from err
        except WyomingProtocolError as err:
            raise WyomingProtocolError(f"{self.name}: {err}") from err
        except OSError as err:
            raise SpeechError(f"{self.name} dropped the connection: {err}") from err
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):  # reset by the peer: nothing left to release
                    await writer.wait_closed()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, *events: WyomingEvent) -> None:
        writer.writelines(event.encode() for event in events)
        await writer.drain()

    async def _next(self, reader: asyncio.StreamReader) -> WyomingEvent:
        event = await read_event(reader)
        if event is None:
            raise SpeechError(f"{self.name} closed the connection without answering")
        if event.type == "error":
            text = event.data.get("text") or "unknown error"
            raise SpeechError(f"{self.name} failed: {text} ({event.data.get('code')})")
        return event

    async def _expect(self, reader: asyncio.StreamReader, wanted: str) -> WyomingEvent:
        # Newer servers interleave events we do not use (transcript-start, …): skip them.
        while (event := await self._next(reader)).type != wanted:
            continue
        return event


class WyomingStt(WyomingClient):
    """Speech-to-text through a Wyoming ASR server (faster-whisper)."""

    kind = "Wyoming STT"

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        """The words in ``audio`` (8 kHz mono int16); sent to the server at 16 kHz."""
        wide = resample(audio, CALL_RATE, STT_RATE).astype("<i2").tobytes()
        fmt = {"rate": STT_RATE, "width": 2, "channels": 1}
        step = STT_CHUNK_SAMPLES * 2
        events = [
            WyomingEvent("transcribe", {"language": language}),
            WyomingEvent("audio-start", fmt),
            *(
                WyomingEvent("audio-chunk", fmt, wide[offset : offset + step])
                for offset in range(0, len(wide), step)
            ),
            WyomingEvent("audio-stop"),
        ]
        async with self._session() as (reader, writer):
            await self._send(writer, *events)
            transcript = await self._expect(reader, "transcript")
        return str(transcript.data.get("text") or "").strip()


class WyomingTts(WyomingClient):
    """Text-to-speech through a Wyoming TTS server (Piper)."""

    kind = "Wyoming TTS"

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` spoken as 8 kHz mono int16, whatever format the server answers in."""
        wanted: dict[str, str] = {"language": language}
        if voice is not None:
            wanted["name"] = voice
        runs: list[tuple[int, list[Pcm]]] = []  # consecutive chunks at one rate
        async with self._session() as (reader, writer):
            await self._send(writer, WyomingEvent("synthesize", {"text": text, "voice": wanted}))
            while (event := await self._next(reader)).type != "audio-stop":
                if event.type != "audio-chunk":
                    continue
                rate, samples = self._chunk_samples(event)
                if not runs or runs[-1][0] != rate:
                    runs.append((rate, []))
                runs[-1][1].append(samples)
        # Resampled per run, not per chunk: chunk edges would click.
        parts = [resample(np.concatenate(chunks), rate, CALL_RATE) for rate, chunks in runs]
        audio: Pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        return audio

    @staticmethod
    def _chunk_samples(event: WyomingEvent) -> tuple[int, Pcm]:
        try:
            rate, width, channels = (int(event.data[key]) for key in ("rate", "width", "channels"))
        except (KeyError, TypeError, ValueError) as err:
            raise WyomingProtocolError("audio-chunk without its format") from err
        if rate <= 0:
            raise WyomingProtocolError(f"audio-chunk at {rate} Hz")
        return rate, audio_to_pcm(event.payload, width=width, channels=channels)
