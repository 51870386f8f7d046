"""Connect two call legs' audio both ways (company ↔ desk phone).

Each leg's media stream hands every frame it plays out straight to the other leg's send queue
(:meth:`~.rtp.MediaStream.connect`). With both legs on one phone, the shared clock receives on
every stream before it sends on any, so a frame leaves in the tick it was played out in: the
added delay is the jitter buffer's (20-40 ms). Feeding a leg keeps the phone's media clock at
its 20 ms pace for as long as the bridge lasts.
"""

from __future__ import annotations

import asyncio

from .call import CallEnd, CallLeg


class Bridge:
    """Two calls whose audio flows into each other until one ends or :meth:`close`."""

    def __init__(self, first: CallLeg, second: CallLeg) -> None:
        self.first = first
        self.second = second
        first.media.connect(second.media)
        second.media.connect(first.media)

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
        self.first.media.disconnect(self.second.media)
        self.second.media.disconnect(self.first.media)
