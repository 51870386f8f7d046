"""Fixtures for calls against real peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import Call, CallLeg, SipPhone
from custom_components.hold_slayer.telephony.g711 import Pcm
from custom_components.hold_slayer.telephony.sipmsg import SipMessage
from harness.accounts import direct_account
from harness.servers.baresip import Baresip, baresip_peer, read_wav
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from harness.signals import noise

FAR_END_AUDIO = noise(700, seed=11)  # longer than any call: baresip hangs up at the end of its file


@asynccontextmanager
async def started(phone: SipPhone) -> AsyncIterator[SipPhone]:
    """A started phone, stopped afterwards."""
    await phone.start()
    try:
        yield phone
    finally:
        await phone.stop()


async def collect(call: CallLeg, seconds: float) -> Pcm:
    """The next ``seconds`` of audio heard on ``call``."""
    frames: list[Pcm] = []
    async for frame in call.frames():
        frames.append(frame)
        if len(frames) >= seconds / 0.02:
            break
    return np.concatenate(frames)


async def recording(peer: Baresip) -> Pcm:
    """What baresip heard on its last call (its WAV is complete once the call closed)."""
    await peer.wait_event("CALL_CLOSED")
    await asyncio.sleep(0.3)
    return read_wav(peer.recordings()[-1])


async def answered_call(phone: SipPhone, peer: ScriptedPeer) -> tuple[Call, SipMessage]:
    """A call the scripted ``peer`` answers (200 with SDP, ACK seen): the call and its INVITE."""
    call = await phone.dial(f"sip:company@127.0.0.1:{peer.port}")
    invite = await peer.expect("INVITE")
    peer.reply(invite, 200, answer_sdp(peer.rtp_port))
    await peer.expect("ACK")
    await call.wait_answered()
    return call, invite


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedPeer]:
    """A scripted far end."""
    peer = ScriptedPeer()
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def peer() -> AsyncIterator[Baresip]:
    """An auto-answering baresip that plays FAR_END_AUDIO and records what it hears."""
    async with baresip_peer(FAR_END_AUDIO) as running:
        yield running


@pytest.fixture
async def direct_phone(peer: Baresip) -> AsyncIterator[SipPhone]:
    """A phone without a registrar, pointed at ``peer``."""
    phone = SipPhone(direct_account(peer.sip_port), register=False)
    await phone.start()
    yield phone
    await phone.stop()
