"""Waiting in async code for a condition that has no event to wait on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for a condition (polled every 20 ms)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - a plain condition, no event to wait on
            await asyncio.sleep(0.02)
