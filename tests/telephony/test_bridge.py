"""Handing a call to the desk phone: an audio bridge, or a blind transfer by REFER."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.telephony import (
    EndCause,
    SipPhone,
    SipTransferError,
)
from custom_components.hold_slayer.telephony.bridge import Bridge
from custom_components.hold_slayer.telephony.g711 import Pcm
from harness.accounts import make_account
from harness.servers.baresip import Baresip, baresip_peer, read_wav
from harness.servers.kamailio import Registrar, run_registrar
from harness.signals import best_alignment, noise
from tests.telephony.conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")

COMPANY_AUDIO = noise(700, seed=31)
DESK_AUDIO = noise(700, seed=32)


@pytest.fixture
def pbx() -> Iterator[Registrar]:
    """A registrar where both Hold Slayer (alice) and the desk phone (desk) have accounts."""
    with run_registrar({"alice": "correct-horse", "desk": "desk-pass"}) as running:
        yield running


@pytest.fixture
async def desk(pbx: Registrar) -> AsyncIterator[Baresip]:
    """The user's desk phone: baresip registered as extension 'desk', answering automatically."""
    account = f"<sip:desk@127.0.0.1:{pbx.port}>;auth_pass=desk-pass;regint=60"
    async with baresip_peer(DESK_AUDIO, account=account) as phone:
        yield phone


@pytest.fixture
async def company() -> AsyncIterator[Baresip]:
    """The company's line (auto-answers, plays COMPANY_AUDIO)."""
    async with baresip_peer(COMPANY_AUDIO) as line:
        yield line


@pytest.fixture
async def phone(pbx: Registrar) -> AsyncIterator[SipPhone]:
    """Hold Slayer registered at the PBX."""
    async with started(SipPhone(make_account(pbx.host, pbx.port, "alice", "correct-horse"))) as registered:
        yield registered


async def _last_recording(peer: Baresip) -> Pcm:
    await peer.wait_event("CALL_CLOSED", within=3)
    await asyncio.sleep(0.3)
    return read_wav(peer.recordings()[-1])


def _intact_seconds(sent: npt.NDArray[np.int16], recording: npt.NDArray[np.int16]) -> float:
    """How many half-seconds of ``recording`` are found, sample for sample, in ``sent``."""
    half = 4000
    pieces = (recording[start : start + half] for start in range(0, len(recording) - half + 1, half))
    return sum(0.5 for piece in pieces if best_alignment(sent, piece)[0] > 0.999)


async def test_bridge_both_ways_within_60_ms(phone: SipPhone, company: Baresip, desk: Baresip) -> None:
    """Company audio reaches the desk phone and back, each adding at most 60 ms."""
    company_leg = await phone.dial(company.uri)
    await company_leg.wait_answered()
    desk_leg = await phone.dial("desk")
    await desk_leg.wait_answered()
    bridge = Bridge(company_leg, desk_leg)
    waiting = asyncio.create_task(bridge.wait())
    await asyncio.sleep(0.5)
    for leg in (company_leg, desk_leg):  # measure the bridge, not the listening before it
        leg.media.stats.playout_delays.clear()
        leg.media.stats.bridge_delays.clear()
    await asyncio.sleep(3.5)
    await company_leg.hangup()
    assert (await waiting).cause is EndCause.LOCAL_HANGUP
    await bridge.close()
    await desk_leg.hangup()

    at_desk = await _last_recording(desk)
    at_company = await _last_recording(company)
    # The bridge carried 4 s each way; at least 2.5 s of it must arrive sample-exact. Where
    # those seconds lie in a recording depends on how fast the legs answered and hung up.
    assert _intact_seconds(COMPANY_AUDIO[: 8000 * 30], at_desk) >= 2.5
    assert _intact_seconds(DESK_AUDIO[: 8000 * 30], at_company) >= 2.5
    for leg_in, leg_out in ((company_leg, desk_leg), (desk_leg, company_leg)):
        playout = np.array(leg_in.media.stats.playout_delays)
        queued = np.array(leg_out.media.stats.bridge_delays)
        added = np.percentile(playout, 95) + np.percentile(queued, 95)
        assert added <= 0.060, f"bridge adds {added * 1000:.0f} ms"


async def test_blind_transfer_by_refer(phone: SipPhone, company: Baresip, desk: Baresip) -> None:
    """REFER: the company's UA calls the desk itself; our leg ends as transferred."""
    call = await phone.dial(company.uri)
    await call.wait_answered()
    await call.transfer("desk")
    end = await call.ended
    assert end.cause is EndCause.TRANSFERRED
    await desk.wait_event("CALL_ESTABLISHED", within=3)
    assert phone.calls == []


async def test_refused_transfer_keeps_the_call(phone: SipPhone, company: Baresip) -> None:
    """A transfer target that fails (here: unknown) raises, and the call stays up for a bridge."""
    call = await phone.dial(company.uri)
    await call.wait_answered()
    with pytest.raises(SipTransferError):
        await call.transfer("nobody")
    assert call.ended.done() is False
    await call.hangup()
