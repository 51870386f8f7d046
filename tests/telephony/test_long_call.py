"""A ten-minute call against baresip: no drop, no loss, no drift (two hours: bench/sip.py --soak)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import CallState, SipPhone
from custom_components.hold_slayer.telephony.g711 import Pcm
from harness.servers.baresip import Baresip
from harness.signals import best_alignment
from tests.telephony.conftest import FAR_END_AUDIO

pytestmark = pytest.mark.usefixtures("socket_enabled")

MINUTES = 10


@pytest.mark.timeout(MINUTES * 60 + 120)
async def test_ten_minute_call(direct_phone: SipPhone, peer: Baresip) -> None:
    """Every 20 ms frame is delivered for ten minutes, the audio stays aligned, nothing is lost."""
    call = await direct_phone.dial(peer.uri)
    await call.wait_answered()
    started = time.monotonic()
    frames = 0
    tail: list[Pcm] = []
    tail_started = 0.0
    async for frame in call.frames():
        frames += 1
        if time.monotonic() - started >= MINUTES * 60 - 2:
            if not tail:
                tail_started = time.monotonic() - started
            tail.append(frame)
            if len(tail) == 100:  # the last two seconds
                break
    elapsed = time.monotonic() - started
    stats = call.media.stats
    assert call.state is CallState.ANSWERED
    assert frames == pytest.approx(elapsed / 0.02, rel=0.01)  # our clock kept time
    assert stats.packets_received >= 0.99 * elapsed / 0.02
    assert stats.packets_lost == 0
    assert stats.resyncs == 0
    assert stats.listener_overflows == 0
    correlation, offset = best_alignment(FAR_END_AUDIO, np.concatenate(tail))
    assert correlation > 0.999  # still the far end's audio, in order
    # ... and in step with the wall clock: no audio skipped or repeated in ten minutes.
    assert offset / 8000 == pytest.approx(tail_started, abs=0.5)
    await call.hangup()
    await asyncio.wait_for(peer.wait_event("CALL_CLOSED"), 5)
