"""A Wyoming client for headless runs: speech engines without Home Assistant.

Headless runs (``script/simulate``, the tests, the benchmarks) talk to the same Wyoming servers
the HA add-ons are, through the ``wyoming`` package that HA's own wyoming integration uses: its
TCP client, its event framing and its event types. This module adds what a request needs around
them: one connection and one deadline per request, events we do not use skipped, every failure
a ``SpeechError`` naming the server, and audio converted to and from the call's 8 kHz mono.

Only APIs present from wyoming 1.5.4 (HA 2025.4's pin) through 1.7.x are used. The package's
reader answers None both for a clean close and for a line that is not a JSON event, and lets a
malformed or truncated event escape as KeyError, TypeError, … : ``_next`` turns each into ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import numpy as np

# wyoming 1.5.4 has no py.typed (1.7 has): its names are Any to mypy there.
from wyoming.asr import Transcribe, Transcript  # type: ignore[import-untyped, unused-ignore]
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # type: ignore[import-untyped, unused-ignore]
from wyoming.client import AsyncTcpClient  # type: ignore[import-untyped, unused-ignore]
from wyoming.error import Error  # type: ignore[import-untyped, unused-ignore]
from wyoming.event import Event  # type: ignore[import-untyped, unused-ignore]
from wyoming.info import Describe, Info  # type: ignore[import-untyped, unused-ignore]
from wyoming.tts import Synthesize, SynthesizeVoice  # type: ignore[import-untyped, unused-ignore]

from .pcm import CALL_RATE, STT_RATE, Pcm, resample
from .protocols import SpeechError

DEFAULT_TIMEOUT: Final = 30.0  # a whole request: connect, send, the engine's work, the answer
STT_CHUNK_SAMPLES: Final = 1024  # 64 ms at 16 kHz, as HA's Wyoming STT entity sends


class WyomingProtocolError(SpeechError):
    """The peer sent something that is not a Wyoming event."""


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
        async with self._session() as client:
            await client.write_event(Describe().event())
            event = await self._expect(client, Info.is_type)
        data: dict[str, Any] = event.data
        return data

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncTcpClient]:
        # One deadline for the whole exchange; every failure becomes a SpeechError naming us.
        client = AsyncTcpClient(self.host, self.port)
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    await client.connect()
                except OSError as err:
                    raise SpeechError(f"{self.name} is unreachable: {err}") from err
                yield client
        except TimeoutError as err:
            raise SpeechError(f"{self.name} did not answer within {self.timeout:g} s") from err
        except WyomingProtocolError as err:
            raise WyomingProtocolError(f"{self.name}: {err}") from err
        except OSError as err:
            raise SpeechError(f"{self.name} dropped the connection: {err}") from err
        finally:
            with contextlib.suppress(OSError):  # reset by the peer: nothing left to release
                await client.disconnect()

    async def _next(self, client: AsyncTcpClient) -> Event:
        """The next event, its data a dict; a server's ``error`` event raised as ours."""
        try:
            event = await client.read_event()
        except asyncio.IncompleteReadError as err:
            raise WyomingProtocolError("connection closed inside an event") from err
        except (KeyError, AttributeError, TypeError, RecursionError) as err:
            # A JSON header the package cannot use: no type, data or lengths of the wrong kind.
            raise WyomingProtocolError(f"malformed event ({type(err).__name__}: {err})") from err
        if event is None:
            # The package's reader cannot tell a clean close from a line that is not an event.
            raise SpeechError(
                f"{self.name} closed the connection without answering"
                " (or sent something that is not a Wyoming event)"
            )
        kind: object = event.type
        data: object = {} if event.data is None else event.data
        if not isinstance(kind, str):
            raise WyomingProtocolError(f"event type is not a string: {kind!r}")
        if not isinstance(data, dict):
            raise WyomingProtocolError("event data is not a JSON object")
        if Error.is_type(kind):
            text = data.get("text") or "unknown error"
            raise SpeechError(f"{self.name} failed: {text} ({data.get('code')})")
        return Event(type=kind, data=data, payload=event.payload)

    async def _expect(self, client: AsyncTcpClient, wanted: Callable[[str], bool]) -> Event:
        # Newer servers interleave events we do not use (transcript-start, …): skip them.
        while not wanted((event := await self._next(client)).type):
            continue
        return event


class WyomingStt(WyomingClient):
    """Speech-to-text through a Wyoming ASR server (faster-whisper)."""

    kind = "Wyoming STT"

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        """The words in ``audio`` (8 kHz mono int16); sent to the server at 16 kHz."""
        wide = resample(audio, CALL_RATE, STT_RATE).astype("<i2").tobytes()
        step = STT_CHUNK_SAMPLES * 2
        events = [
            Transcribe(language=language).event(),
            AudioStart(rate=STT_RATE, width=2, channels=1).event(),
            *(
                AudioChunk(rate=STT_RATE, width=2, channels=1, audio=wide[offset : offset + step]).event()
                for offset in range(0, len(wide), step)
            ),
            AudioStop().event(),
        ]
        async with self._session() as client:
            for event in events:
                await client.write_event(event)
            transcript = await self._expect(client, Transcript.is_type)
        # Not Transcript.from_event: a transcript without text is an empty one, not an error.
        return str(transcript.data.get("text") or "").strip()


class WyomingTts(WyomingClient):
    """Text-to-speech through a Wyoming TTS server (Piper)."""

    kind = "Wyoming TTS"

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """``text`` spoken as 8 kHz mono int16, whatever format the server answers in."""
        # A named voice overrides the language (the package then sends the name alone).
        request = Synthesize(text=text, voice=SynthesizeVoice(name=voice, language=language))
        runs: list[tuple[int, list[Pcm]]] = []  # consecutive chunks at one rate
        async with self._session() as client:
            await client.write_event(request.event())
            while not AudioStop.is_type((event := await self._next(client)).type):
                if not AudioChunk.is_type(event.type):
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
    def _chunk_samples(event: Event) -> tuple[int, Pcm]:
        try:
            chunk = AudioChunk.from_event(event)
            rate, width, channels = int(chunk.rate), int(chunk.width), int(chunk.channels)
        except (KeyError, TypeError, ValueError) as err:
            raise WyomingProtocolError("audio-chunk without its format") from err
        if rate <= 0:
            raise WyomingProtocolError(f"audio-chunk at {rate} Hz")
        return rate, audio_to_pcm(bytes(chunk.audio), width=width, channels=channels)
