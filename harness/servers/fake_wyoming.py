"""A scripted Wyoming server on 127.0.0.1 for the failures a real server will not produce.

Every behaviour scripted here is also tested against the real servers (harness/servers/wyoming.py).
Events go through the ``wyoming`` package's own framing; a script may also write raw bytes, for
what is not a Wyoming event at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

# wyoming 1.5.4 has no py.typed (1.7 has).
from wyoming.event import (  # type: ignore[import-untyped, unused-ignore]
    Event,
    async_read_event,
    async_write_event,
)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[Event]], Awaitable[None]]

ATTRIBUTION = {"name": "test", "url": "http://127.0.0.1/"}


async def read_until(reader: asyncio.StreamReader, received: list[Event], last: str) -> bool:
    """Record events until one of type ``last``; False if the client hung up first."""
    while (event := await async_read_event(reader)) is not None:
        received.append(event)
        if event.type == last:
            return True
    return False


@asynccontextmanager
async def fake_wyoming_server(script: Script) -> AsyncIterator[tuple[int, list[Event]]]:
    """A loopback server running ``script`` per connection; yields its port and what it got."""
    received: list[Event] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer, received)
            with contextlib.suppress(ConnectionError):  # a script may have reset it on purpose
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, received
    finally:
        server.close()
        await server.wait_closed()


async def send(writer: asyncio.StreamWriter, *replies: bytes | Event) -> None:
    """Write events (framed by the package) and raw bytes (as they are), in order."""
    with contextlib.suppress(ConnectionError):  # the client gave up on an earlier reply
        for reply in replies:
            if isinstance(reply, bytes):
                writer.write(reply)
            else:
                await async_write_event(reply, writer)


def replying(*replies: bytes | Event, after: str = "describe") -> Script:
    """A script that waits for an event of type ``after`` and then sends ``replies``."""

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[Event]
    ) -> None:
        await read_until(reader, received, after)
        await send(writer, *replies)

    return script


def info(kind: str, language: str) -> dict[str, Any]:
    """A minimal ``info`` for one ASR model or one TTS voice (what HA's wyoming needs)."""
    artifact = {"attribution": ATTRIBUTION, "installed": True, "description": "test", "version": "1"}
    item = {**artifact, "name": f"fake-{kind}", "languages": [language]}
    key = "models" if kind == "asr" else "voices"
    return {kind: [{**artifact, "name": f"fake-{kind}-program", key: [item]}]}


def serving(kind: str, language: str, script: Script) -> Script:
    """Answer ``describe`` with an info for ``kind``; run ``script`` on any other connection."""

    async def dispatch(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[Event]
    ) -> None:
        first = await async_read_event(reader)
        if first is None:
            return
        if first.type == "describe":
            await async_write_event(Event("info", info(kind, language)), writer)
            return
        received.append(first)
        await script(reader, writer, received)

    return dispatch
