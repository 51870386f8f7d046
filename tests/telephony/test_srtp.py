"""SRTP with SDES keys (RFC 3711, RFC 4568): the key lines, libsrtp itself, and baresip's srtp module.

The real twin: baresip with ``mediaenc=srtp-mand`` refuses plain RTP, so a call that reaches it
at all went encrypted; audio is compared both ways as in test_call.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import struct

import pytest

from custom_components.hold_slayer.telephony import CallState, IncomingCall, SipPhone, sdp
from custom_components.hold_slayer.telephony.srtp import KEY_LENGTH, Crypto, SrtpContext
from harness.accounts import direct_account
from harness.servers.baresip import baresip_peer, read_wav
from harness.servers.kamailio import free_port
from harness.signals import best_alignment, noise
from tests.telephony.conftest import FAR_END_AUDIO, collect, recording, started
from tests.telephony.test_incoming import Inbox, uri

pytestmark = pytest.mark.usefixtures("socket_enabled")

SRTP_MANDATORY = {"modules": ("srtp.so",), "account_params": ";mediaenc=srtp-mand"}


def _packet(sequence: int, payload: bytes = b"\x55" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, sequence, sequence * 160, 0xABCDEF) + payload


def test_key_lines() -> None:
    """a=crypto in and out of SDP; lines we cannot use are passed over; the key is in no repr."""
    ours = Crypto.new()
    body = sdp.build("192.0.2.1", 4000, origin=sdp.SessionVersion(), crypto=ours)
    assert b"m=audio 4000 RTP/SAVP 0 8 101" in body
    parsed = sdp.parse(body)
    assert parsed.secure
    assert parsed.crypto == (ours,)
    assert base64.b64encode(ours.key).decode() not in repr(ours) + repr(parsed)
    key = base64.b64encode(bytes(KEY_LENGTH)).decode()
    assert Crypto.parse(f"1 AES_CM_128_HMAC_SHA1_32 inline:{key}|2^20") is not None
    for unusable in (
        f"1 F8_128_HMAC_SHA1_80 inline:{key}",  # a suite we do not have
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4",  # an MKI
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{base64.b64encode(bytes(16)).decode()}",  # short key
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP",
        "x AES_CM_128_HMAC_SHA1_80 inline:!!!",
    ):
        assert Crypto.parse(unusable) is None, unusable
    plain = sdp.parse(sdp.build("192.0.2.1", 4000, origin=sdp.SessionVersion()))
    assert not plain.secure
    assert plain.crypto == ()


def test_libsrtp_protects_and_checks() -> None:
    """What one side protects the other reads; a changed byte or a replay is refused."""
    alice, bob = Crypto.new(), Crypto.new()
    sending, receiving = SrtpContext(alice, bob), SrtpContext(bob, alice)
    wire = sending.protect(_packet(1))
    assert wire != _packet(1)
    assert len(wire) == len(_packet(1)) + 10  # the 80-bit tag
    assert receiving.unprotect(wire) == _packet(1)
    assert receiving.unprotect(wire) is None  # replayed
    forged = bytearray(sending.protect(_packet(2)))
    forged[20] ^= 1
    assert receiving.unprotect(bytes(forged)) is None
    assert receiving.rejected == 2
    with pytest.raises(ValueError, match="one suite"):
        SrtpContext(alice, Crypto.new(suite="AES_CM_128_HMAC_SHA1_32"))


async def test_a_call_to_a_peer_that_requires_srtp(caplog: pytest.LogCaptureFixture) -> None:
    """Our offer with a key (as on a TLS account); baresip answers with its own; audio both ways
    intact; neither key in the log."""
    caplog.set_level(logging.DEBUG)
    async with baresip_peer(FAR_END_AUDIO, **SRTP_MANDATORY) as peer:
        phone = SipPhone(direct_account(peer.sip_port), register=False)
        phone.secure_media = True
        async with started(phone):
            call = await phone.dial(peer.uri)
            await call.wait_answered()
            assert call.state is CallState.ANSWERED
            assert call.media.srtp is not None
            heard = await collect(call, 3.0)
            correlation, _ = best_alignment(FAR_END_AUDIO[: 8000 * 10], heard[800:])
            assert correlation > 0.999
            assert call.media.srtp.rejected == 0
            spoken = noise(2.0, seed=98)
            assert await call.play(spoken) is True
            await call.hangup()
            correlation, _ = best_alignment(await recording(peer), spoken)
            assert correlation > 0.999
            keys = (call.media.srtp.ours.key, call.media.srtp.theirs.key)
    assert caplog.text
    assert not any(base64.b64encode(key).decode() in caplog.text for key in keys)


async def test_a_plain_offer_to_that_peer_is_refused() -> None:
    """Without SRTP (our default on UDP and TCP) the same peer refuses the call: it really requires it."""
    async with baresip_peer(FAR_END_AUDIO, **SRTP_MANDATORY) as peer:
        phone = SipPhone(direct_account(peer.sip_port), register=False)
        async with started(phone):
            call = await phone.dial(peer.uri)
            ended = await asyncio.wait_for(call.ended, 10)
            assert ended.status == 488


async def test_an_srtp_call_to_us_is_answered_encrypted() -> None:
    """baresip offers RTP/SAVP with a key: we answer with ours, on a plain UDP account too."""
    inbox = Inbox()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)
    async with started(phone), baresip_peer(noise(30, seed=21), **SRTP_MANDATORY) as peer:
        await peer.command("dial", uri(phone, "4455"))
        incoming: IncomingCall = await inbox.next(within=10)
        assert incoming.offer.secure
        await incoming.answer()
        await peer.wait_event("CALL_ESTABLISHED")
        assert incoming.media.srtp is not None
        prompt = noise(2.0, seed=34)
        await incoming.play(prompt)
        assert len(await collect(incoming, 1.0)) == 8000
        assert incoming.media.srtp.rejected == 0
        assert incoming.media.stats.packets_received > 0
        await peer.command("hangup")
        await asyncio.wait_for(incoming.ended, 5)
        await peer.wait_event("CALL_CLOSED")
        await asyncio.sleep(0.3)
        correlation, _ = best_alignment(read_wav(peer.recordings()[-1]), prompt)
        assert correlation > 0.99
