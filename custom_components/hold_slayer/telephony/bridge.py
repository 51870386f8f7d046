"""Connect two call legs' audio both ways (company ↔ desk phone).

Each leg's 20 ms clock hands its received frame straight to the other leg's send queue, which
holds at most 60 ms; the added delay is the jitter buffer (40 ms) plus at most one tick.
"""

from __future__ import annotations

import asyncio
import contextlib

from .call import CallEnd, CallLeg


class Bridge:
    """Two calls whose audio flows into each other until one ends or :meth:`close`."""

    def __init__(self, first: CallLeg, second: CallLeg) -> None:
        self.first = first
        self.second = second
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._pump(first, second), name="hold_slayer bridge a→b"),
            loop.create_task(self._pump(second, first), name="hold_slayer bridge b→a"),
        ]

    @staticmethod
    async def _pump(source: CallLeg, sink: CallLeg) -> None:
        async for frame in source.frames():
            sink.media.feed(frame)

    async def wait(self) -> CallEnd:
        """Until either leg ends; returns how that leg ended."""
        waiters = [asyncio.ensure_future(asyncio.shield(call.ended)) for call in (self.first, self.second)]
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return done.pop().result()

    async def close(self) -> None:
        """Stop moving audio (the calls stay up)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
