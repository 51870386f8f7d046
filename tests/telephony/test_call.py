"""Calls against baresip (an independent SIP stack) and Kamailio, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import (
    Call,
    CallFailedError,
    CallState,
    EndCause,
    SipPhone,
    Transport,
)
from custom_components.hold_slayer.telephony.dtmf import frequencies
from harness.accounts import direct_account, make_account
from harness.servers.baresip import Baresip, baresip_peer
from harness.servers.kamailio import Registrar
from harness.signals import best_alignment, noise, tone_power
from harness.waiting import until
from tests.telephony.conftest import FAR_END_AUDIO, collect, recording, started

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def _answered(phone: SipPhone, target: str) -> Call:
    call = await phone.dial(target)
    await call.wait_answered()
    return call


async def test_audio_both_ways(direct_phone: SipPhone, peer: Baresip) -> None:
    """Far end → us and us → far end arrive intact (G.711 limits: correlation ≥ 0.999)."""
    call = await _answered(direct_phone, peer.uri)
    assert call.state is CallState.ANSWERED
    heard = await collect(call, 3.0)
    correlation, _ = best_alignment(FAR_END_AUDIO[: 8000 * 10], heard[800:])
    assert correlation > 0.999
    assert call.media.stats.packets_lost == 0
    spoken = noise(2.0, seed=99)
    assert await call.play(spoken) is True
    await call.hangup()
    correlation, _ = best_alignment(await recording(peer), spoken)
    assert correlation > 0.999


@pytest.mark.parametrize("pacing", [0.1, 0.3])
async def test_dtmf_every_digit_rfc4733(direct_phone: SipPhone, peer: Baresip, pacing: float) -> None:
    """All 16 digits arrive at baresip as RFC 4733 events, one by one, at 100 to 300 ms pacing."""
    call = await _answered(direct_phone, peer.uri)
    started = time.monotonic()
    await call.send_dtmf("123A456B789C*0#D", pacing=pacing)
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.3)
    assert peer.dtmf() == "123A456B789C*0#D"
    assert elapsed == pytest.approx(16 * 0.1 + 15 * pacing, abs=0.3)
    await call.hangup()


async def test_dtmf_inband_fallback(direct_phone: SipPhone, peer: Baresip) -> None:
    """In-band DTMF is the key's two Q.23 frequencies in the audio the far end hears."""
    call = await _answered(direct_phone, peer.uri)
    await call.send_dtmf("5", inband=True, duration=0.2)
    await call.hangup()
    heard = await recording(peer)
    energy = np.convolve(heard.astype(np.float64) ** 2, np.ones(160), "valid")
    start = int(np.argmax(energy))
    burst = heard[max(0, start - 400) : start + 400]
    low, high = frequencies("5")
    assert tone_power(burst, low) > 0.2
    assert tone_power(burst, high) > 0.2
    assert tone_power(burst, 1209) < 0.01  # not "4"


async def test_dtmf_received(direct_phone: SipPhone, peer: Baresip) -> None:
    """Digits the far end sends reach us in order."""
    call = await _answered(direct_phone, peer.uri)
    await peer.command("sndcode", "159#")
    digits = ""
    async with asyncio.timeout(5):
        while len(digits) < 4:
            digits += await call.dtmf_received.get()
    assert digits == "159#"
    await call.hangup()


async def test_remote_hangup_detected_fast(direct_phone: SipPhone, peer: Baresip) -> None:
    """baresip hangs up; we see it within 100 ms, with the cause, and frames stop."""
    call = await _answered(direct_phone, peer.uri)
    sent = time.monotonic()
    await peer.command("hangup")
    end = await asyncio.wait_for(asyncio.shield(call.ended), 2)
    assert time.monotonic() - sent < 0.1
    assert end.cause is EndCause.REMOTE_HANGUP
    assert call.state is CallState.ENDED
    assert [frame async for frame in call.frames()] == []
    assert direct_phone.calls == []


async def test_local_hangup(direct_phone: SipPhone, peer: Baresip) -> None:
    """Our BYE ends the call at baresip too."""
    call = await _answered(direct_phone, peer.uri)
    end = await call.hangup()
    assert end.cause is EndCause.LOCAL_HANGUP
    await peer.wait_event("CALL_CLOSED", within=2)
    assert await call.hangup() == end  # idempotent


async def test_hold_and_resume_by_far_end(direct_phone: SipPhone, peer: Baresip) -> None:
    """sendonly re-INVITE: we stop sending; sendrecv again: audio and DTMF flow again."""
    call = await _answered(direct_phone, peer.uri)
    await peer.command("hold")
    await until(lambda: not call.media.direction.we_may_send)  # baresip's re-INVITE applied
    sent_on_hold = call.media.stats.packets_sent
    await asyncio.sleep(0.5)
    assert call.media.stats.packets_sent == sent_on_hold
    await peer.command("resume")
    await until(lambda: call.media.direction.we_may_send)
    await asyncio.sleep(0.6)
    assert call.media.stats.packets_sent > sent_on_hold + 10
    await call.send_dtmf("7")
    await peer.wait_event("CALL_DTMF_START", param="7", within=2)
    heard = await collect(call, 1.0)
    assert np.std(heard.astype(np.float64)) > 1000  # far-end audio again, not silence
    assert call.state is CallState.ANSWERED
    await call.hangup()


async def test_redial_right_after_restart(peer: Baresip) -> None:
    """A new phone on the same ports redials at once (Call-IDs never repeat across restarts)."""
    account = direct_account(peer.sip_port)
    for _ in range(2):
        phone = SipPhone(account, register=False)
        await phone.start()
        call = await asyncio.wait_for(_answered(phone, peer.uri), 3)
        await call.hangup()
        await phone.stop()


async def test_hostile_datagrams_during_call(direct_phone: SipPhone, peer: Baresip) -> None:
    """1,000 malformed or forged datagrams neither crash, end nor redirect the call."""
    call = await _answered(direct_phone, peer.uri)
    await collect(call, 0.5)
    remote_before = call.media.remote
    sip_target = ("127.0.0.1", direct_phone.transport.local_port or 0)
    rtp_target = ("127.0.0.1", call.media.local_port or 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        attacker.bind(("127.0.0.1", 0))
        port = attacker.getsockname()[1]
        for index, datagram in enumerate(_hostile(call, port)):
            attacker.sendto(datagram, rtp_target if index % 10 == 9 else sip_target)
            if index % 50 == 0:
                await asyncio.sleep(0.005)
    heard = await collect(call, 2.0)
    assert call.state is CallState.ANSWERED
    assert call.media.remote == remote_before  # the forged re-INVITE did not redirect our audio
    correlation, _ = best_alignment(FAR_END_AUDIO[: 8000 * 60], heard)
    assert correlation > 0.999  # still the real far end, intact
    assert call.media.stats.packets_dropped_source >= 50  # the rest overflowed the kernel buffer
    await call.send_dtmf("5")
    await peer.wait_event("CALL_DTMF_START", param="5", within=2)
    await peer.command("hangup")
    end = await asyncio.wait_for(asyncio.shield(call.ended), 2)
    assert end.cause is EndCause.REMOTE_HANGUP


def _hostile(call: Call, attacker_port: int) -> list[bytes]:
    """Forged in-dialog requests with the real Call-ID and wrong tags, plus garbage."""
    call_id = call.call_id
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{attacker_port};branch=z9hG4bK"
    sdp_body = (
        "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {attacker_port} RTP/AVP 0\r\na=sendrecv\r\n"
    )
    forged = [
        f"BYE sip:slayer@127.0.0.1 SIP/2.0\r\n{via}{{i}}\r\nFrom: <sip:ivr@127.0.0.1>;tag=evil{{i}}\r\n"
        f"To: <sip:slayer@127.0.0.1>;tag=wrong\r\nCall-ID: {call_id}\r\nCSeq: {{i}} BYE\r\n\r\n",
        f"INVITE sip:slayer@127.0.0.1 SIP/2.0\r\n{via}{{i}}\r\nFrom: <sip:ivr@127.0.0.1>;tag=evil\r\n"
        f"To: <sip:slayer@127.0.0.1>;tag={call.dialog.local_tag}\r\nCall-ID: {call_id}\r\n"
        "CSeq: {i} INVITE\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp_body)}\r\n\r\n{sdp_body}",
        f"BYE sip:x SIP/2.0\r\n{via}{{i}}\r\nCSeq: 1 BYE\r\n\r\n",  # no Call-ID
        "INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
        "SIP/2.0 200 OK\r\n" + via + "{i}\r\nCSeq: 1 INVITE\r\nCall-ID: " + call_id + "\r\n\r\n",
        "OPTIONS sip:x SIP/3.0\r\n\r\n",
        "NOTIFY sip:x SIP/2.0\r\nVia: \xff\xfe\r\n\r\n",
        "REGISTER sip:x SIP/2.0\r\n" + "X-Pad: " + "A" * 70000 + "\r\n\r\n",
    ]
    rng = np.random.default_rng(5)
    datagrams: list[bytes] = []
    for index in range(1000):
        template = forged[index % len(forged)]
        data = template.replace("{i}", str(index)).encode("utf-8", "surrogateescape")[:65000]
        if index % 7 == 6:
            data = bytes(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8))
        elif index % 11 == 10:
            position = int(rng.integers(0, len(data)))
            data = data[:position] + bytes([int(rng.integers(0, 256))]) + data[position + 1 :]
        datagrams.append(data)
    return datagrams


@pytest.fixture
async def registered_phone(registrar: Registrar) -> AsyncIterator[SipPhone]:
    """A phone registered at the Kamailio registrar, which also proxies its calls."""
    account = make_account(registrar.host, registrar.port, "alice", "correct-horse")
    async with started(SipPhone(account)) as phone:
        yield phone


@pytest.mark.parametrize(
    ("number", "cause", "status"),
    [
        ("busy", EndCause.BUSY, 486),
        ("down", EndCause.UNAVAILABLE, 503),
        ("nobody", EndCause.NOT_FOUND, 404),
    ],
)
async def test_failure_causes(registered_phone: SipPhone, number: str, cause: EndCause, status: int) -> None:
    """Busy, unavailable and unknown numbers end with their cause (the INVITE is digest-authenticated)."""
    call = await registered_phone.dial(number)
    with pytest.raises(CallFailedError) as failed:
        await asyncio.wait_for(call.wait_answered(), 5)
    assert failed.value.end.cause is cause
    assert failed.value.end.status == status


async def test_no_answer(registered_phone: SipPhone) -> None:
    """A line that only rings is cancelled after the ring timeout: no_answer."""
    call = await registered_phone.dial("ringing", ring_timeout=1.0)
    states: list[CallState] = []
    call.async_listen(states.append)
    with pytest.raises(CallFailedError) as failed:
        await asyncio.wait_for(call.wait_answered(), 5)
    assert failed.value.end.cause is EndCause.NO_ANSWER
    assert states == [CallState.RINGING, CallState.ENDED]


async def test_call_through_record_routing_proxy(registered_phone: SipPhone, registrar: Registrar) -> None:
    """Through Kamailio with Record-Route: ACK and BYE follow the route set (no 32 s drop)."""
    async with baresip_peer(FAR_END_AUDIO) as far:
        call = await _answered(registered_phone, far.uri)
        (route,) = call.dialog.route_set
        assert route.startswith(f"<sip:127.0.0.1:{registrar.port};lr")
        await asyncio.sleep(1.2)  # baresip would retransmit its 200 OK at 0.5 s without our ACK
        assert call.stray_responses == 0
        heard = await collect(call, 1.0)
        assert best_alignment(FAR_END_AUDIO[: 8000 * 10], heard)[0] > 0.999
        end = await call.hangup()
        assert end.cause is EndCause.LOCAL_HANGUP
        await far.wait_event("CALL_CLOSED", within=2)


async def test_tcp_through_outbound_proxy(registrar: Registrar) -> None:
    """TCP to a registrar named by host name, every request through the outbound proxy.

    The connection is dropped mid-way and re-established before the next request.
    """
    account = make_account(
        "localhost",
        registrar.port,
        "alice",
        "correct-horse",
        transport=Transport.TCP,
        outbound_proxy="127.0.0.1",
        outbound_proxy_port=registrar.port,
    )
    phone = SipPhone(account)
    await phone.start()
    try:
        assert phone.status.state == "registered"
        async with baresip_peer(FAR_END_AUDIO) as far:
            call = await _answered(phone, far.uri)
            assert call.request_uri == far.uri
            heard = await collect(call, 1.0)
            assert best_alignment(FAR_END_AUDIO[: 8000 * 10], heard)[0] > 0.999
            end = await call.hangup()
            assert end.cause is EndCause.LOCAL_HANGUP
            await far.wait_event("CALL_CLOSED", within=2)
        writer = phone.transport._writer
        assert writer is not None
        writer.close()  # the connection drops (as when a NAT forgets it)
        await asyncio.sleep(0.1)
        await phone.transport.ensure_connected()
        call = await phone.dial("busy")
        with pytest.raises(CallFailedError):
            await asyncio.wait_for(call.wait_answered(), 5)
    finally:
        await phone.stop()
