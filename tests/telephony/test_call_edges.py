"""Call edge cases driven by a scripted peer (each behaviour also has a real-peer test)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from unittest.mock import patch

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import (
    CallEnd,
    CallFailedError,
    CallState,
    EndCause,
    SipError,
    SipPhone,
    SipTransferError,
)
from custom_components.hold_slayer.telephony import call as call_module
from custom_components.hold_slayer.telephony import transaction as transaction_module
from custom_components.hold_slayer.telephony.sipmsg import SipMessage, new_branch, request, response_to
from harness.accounts import direct_account
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from tests.telephony.conftest import answered_call

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def phone(scripted: ScriptedPeer) -> AsyncIterator[SipPhone]:
    """A direct phone pointed at the scripted peer."""
    phone = SipPhone(direct_account(scripted.port), register=False, transaction_timeout=1.0)
    phone.dialog_timeout = phone.reinvite_timeout = 1.0  # unanswered requests fail fast here
    await phone.start()
    yield phone
    scripted.auto_reply = {"BYE", "CANCEL"}
    await phone.stop()


async def test_early_media_then_answer(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """183 with SDP: frames (ringback, announcements) flow before the answer; we do not send."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 183, answer_sdp(scripted.rtp_port))
    assert call.media.local_port is not None
    scripted.start_rtp(("127.0.0.1", call.media.local_port))
    frames = []
    async for frame in call.frames():
        frames.append(frame)
        if len(frames) == 10:
            break
    assert call.state is CallState.EARLY_MEDIA
    assert np.abs(np.concatenate(frames)).max() > 1000
    assert scripted.rtp_received == 0
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port))
    await scripted.expect("ACK")
    await call.wait_answered()
    await asyncio.sleep(0.2)
    assert scripted.rtp_received > 3
    await scripted.stop_rtp()
    hangup = asyncio.create_task(call.hangup())
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)
    assert (await hangup).cause is EndCause.LOCAL_HANGUP


async def test_answer_without_common_codec(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """A 200 offering only codecs we lack is acknowledged, then ended with BYE (488)."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port, pts="18"))
    await scripted.expect("ACK")
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)
    with pytest.raises(CallFailedError) as failed:
        await call.wait_answered()
    assert failed.value.end.status == 488


async def test_cancel_while_ringing(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """Hanging up a ringing call sends CANCEL; the INVITE then ends 487."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 180)
    await asyncio.sleep(0.1)
    assert call.state is CallState.RINGING
    hangup = asyncio.create_task(call.hangup())
    cancel = await scripted.expect("CANCEL")
    scripted.reply(cancel, 200)
    scripted.reply(invite, 487)
    await scripted.expect("ACK")
    end = await hangup
    assert end.cause is EndCause.LOCAL_HANGUP
    assert end.status == 487


async def test_answer_crossing_cancel_is_hung_up(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """A 200 that crosses our CANCEL is ACKed and ended with BYE."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 180)
    await asyncio.sleep(0.05)
    hangup = asyncio.create_task(call.hangup())
    cancel = await scripted.expect("CANCEL")
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port))
    scripted.reply(cancel, 200)
    await scripted.expect("ACK")
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)
    assert (await hangup).cause is EndCause.LOCAL_HANGUP


async def test_no_response_at_all(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """An INVITE nobody answers (retransmitted meanwhile) fails."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}", ring_timeout=1.2)
    first = await scripted.expect("INVITE")
    again = await scripted.expect("INVITE")
    assert again.top_via_branch == first.top_via_branch  # a retransmission, not a new INVITE
    with pytest.raises(CallFailedError) as failed:
        await call.wait_answered()
    assert failed.value.end.cause is EndCause.FAILED


async def test_timer_b_ends_a_silent_invite_before_the_ring_timeout(
    phone: SipPhone, scripted: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No response at all ends the INVITE at Timer B (shortened here); a 1xx leaves it to the ring timeout."""
    monkeypatch.setattr(transaction_module, "TIMER_B", 1.0)
    loop = asyncio.get_running_loop()
    silent = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}", ring_timeout=30)
    started = loop.time()
    with pytest.raises(CallFailedError) as failed:
        await silent.wait_answered()
    assert loop.time() - started < 2.0
    assert failed.value.end == CallEnd(EndCause.FAILED, None, "no response to INVITE")
    while not scripted.received.empty():
        scripted.received.get_nowait()  # the silent INVITE's repeats
    ringing = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}", ring_timeout=2.5)
    dialled = loop.time()
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 180)
    cancel = await scripted.expect("CANCEL", within=4)  # at the ring timeout, not at Timer B
    assert loop.time() - dialled > 2.0
    scripted.reply(cancel, 200)
    scripted.reply(invite, 487)
    assert (await ringing.ended).cause is EndCause.NO_ANSWER


async def test_a_reinvite_waits_for_its_answer_past_a_provisional(
    phone: SipPhone, scripted: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-INVITE with a 100 gets its time (Timer C); one with no response at all ends at Timer B.

    A session refresh through a B2BUA that asks the other leg first must not fail at the
    registration's short transaction timeout (which would end a long hold).
    """
    monkeypatch.setattr(transaction_module, "TIMER_B", 1.0)
    phone.reinvite_timeout = 10.0
    call, _invite = await answered_call(phone, scripted)
    refresh = asyncio.create_task(
        phone.request_in_dialog(call.dialog.build("INVITE", [("Via", phone.via(new_branch()))]), call.dialog)
    )
    reinvite = await scripted.expect("INVITE")
    scripted.reply(reinvite, 100)
    await asyncio.sleep(2.0)  # past transaction_timeout and Timer B
    scripted.reply(reinvite, 200)
    assert (await refresh).status == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(SipError, match="no response to INVITE"):
        await phone.request_in_dialog(
            call.dialog.build("INVITE", [("Via", phone.via(new_branch()))]), call.dialog
        )
    assert loop.time() - started < 2.0


async def test_challenge_and_retry(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """A 401 is ACKed and the INVITE retried once with credentials and CSeq + 1."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(
        invite, 401, headers=[("WWW-Authenticate", 'Digest realm="peer", nonce="abc", algorithm=MD5')]
    )
    await scripted.expect("ACK")
    retry = await scripted.expect("INVITE")
    assert retry.cseq == invite.cseq + 1
    assert (retry.header("authorization") or "").startswith("Digest ")
    scripted.reply(retry, 401, headers=[("WWW-Authenticate", 'Digest realm="peer", nonce="second"')])
    with pytest.raises(CallFailedError) as failed:
        await call.wait_answered()
    assert failed.value.end.status == 401


def _digest_params(value: str) -> dict[str, str]:
    return {
        key.lower(): quoted or bare
        for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', value)
    }


async def test_auth_int_covers_the_body_sent(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """qop=auth-int: the digest hashes the SDP of the INVITE it goes in (RFC 7616 §3.4.3), not nothing."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(
        invite,
        407,
        headers=[("Proxy-Authenticate", 'Digest realm="peer", nonce="n1", qop="auth-int", algorithm=MD5')],
    )
    await scripted.expect("ACK")
    retry = await scripted.expect("INVITE")
    assert retry.body
    given = _digest_params(retry.header("proxy-authorization") or "")
    assert given["qop"] == "auth-int"

    def md5(text: bytes) -> str:
        return hashlib.md5(text).hexdigest()  # noqa: S324 - the digest RFC 7616 names

    ha1 = md5(b"slayer:peer:unused")
    ha2 = md5(f"INVITE:{given['uri']}:{md5(retry.body)}".encode())
    expected = md5(f"{ha1}:n1:{given['nc']}:{given['cnonce']}:auth-int:{ha2}".encode())
    assert given["response"] == expected
    scripted.reply(retry, 486)
    with pytest.raises(CallFailedError):
        await call.wait_answered()


async def test_requests_inside_the_dialog(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """INFO digits, OPTIONS, unknown methods, CSeq order and retransmitted requests."""
    call, invite = await answered_call(phone, scripted)
    contact = call.dialog.remote_target
    assert contact.endswith(f":{scripted.port}")
    ours = ("127.0.0.1", phone.transport.local_port or 0)

    info = scripted.in_dialog(
        invite, "INFO", [("Content-Type", "application/dtmf-relay")], b"Signal=5\r\nDuration=160\r\n"
    )
    scripted.send(info, ours)
    assert (await scripted.expect(200)).cseq == info.cseq
    assert await asyncio.wait_for(call.dtmf_received.get(), 1) == "5"

    scripted.send(info, ours)  # retransmission: the same answer again
    assert (await scripted.expect(200)).cseq == info.cseq

    stale = scripted.in_dialog(invite, "OPTIONS")
    stale_cseq = request(
        "OPTIONS",
        stale.uri or "",
        [(n, v if n != "CSeq" else f"{info.cseq - 1} OPTIONS") for n, v in stale.headers],
    )
    scripted.send(stale_cseq, ours)
    assert (await scripted.expect(500)).cseq == info.cseq - 1

    scripted.send(scripted.in_dialog(invite, "OPTIONS"), ours)
    await scripted.expect(200)
    scripted.send(scripted.in_dialog(invite, "MESSAGE"), ours)
    await scripted.expect(501)

    reinvite = scripted.in_dialog(invite, "INVITE")  # offerless: we must offer
    scripted.send(reinvite, ours)
    ok = await scripted.expect(200)
    assert b"a=sendrecv" in ok.body
    ack = [(n, v if n != "CSeq" else f"{reinvite.cseq} ACK") for n, v in reinvite.headers]
    scripted.send(request("ACK", reinvite.uri or "", ack), ours)  # no answer: media unchanged

    scripted.send(
        scripted.in_dialog(invite, "INVITE", [("Content-Type", "application/sdp")], b"v=0\r\n"), ours
    )
    await scripted.expect(488)
    scripted.send(
        scripted.in_dialog(invite, "INVITE", [("Content-Type", "application/sdp")], answer_sdp(1, pts="18")),
        ours,
    )
    await scripted.expect(488)

    bye = scripted.in_dialog(invite, "BYE")
    scripted.send(bye, ours)
    await scripted.expect(200)
    assert (await call.ended).cause is EndCause.REMOTE_HANGUP
    scripted.send(bye, ours)  # a repeat after the call is gone: its transaction answers it again
    assert (await scripted.expect(200)).cseq == bye.cseq
    scripted.send(scripted.in_dialog(invite, "BYE"), ours)  # a new request: the dialog is gone
    await scripted.expect(481)


async def test_retransmitted_ok_is_acked_again(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """If our ACK is lost the far end repeats its 200; we ACK again."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port))
    await scripted.expect("ACK")
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port))
    await scripted.expect("ACK")
    assert call.stray_responses == 1
    call.media_timeout = 60


async def test_reliable_early_media_is_acknowledged_once(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """A reliable 183 (RFC 3262) is PRACKed until the PRACK's 200; its repeat is PRACKed, not applied."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    reliable = [("Require", "100rel"), ("RSeq", "7")]
    scripted.reply(invite, 183, answer_sdp(scripted.rtp_port), reliable)
    prack = await scripted.expect("PRACK")
    assert (prack.uri, prack.to_tag, prack.cseq, prack.header("rack")) == (
        f"sip:peer@127.0.0.1:{scripted.port}",
        scripted.tag,
        invite.cseq + 1,
        f"7 {invite.cseq} INVITE",
    )
    again = await scripted.expect("PRACK", within=1.0)  # no 200 yet: repeated after T1
    assert (again.top_via_branch, again.cseq) == (prack.top_via_branch, prack.cseq)
    scripted.reply(again, 200)
    assert call.state is CallState.EARLY_MEDIA
    assert call.media.remote == ("127.0.0.1", scripted.rtp_port)
    scripted.reply(invite, 183, answer_sdp(scripted.rtp_port + 2), reliable)  # by its RSeq, a repeat
    repeated = await scripted.expect("PRACK")
    assert (repeated.top_via_branch, repeated.cseq) == (prack.top_via_branch, prack.cseq)
    assert call.media.remote == ("127.0.0.1", scripted.rtp_port)
    scripted.reply(invite, 200, answer_sdp(scripted.rtp_port))
    await scripted.expect("ACK")
    await call.wait_answered()


async def test_media_timeout(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """A far end that stops sending RTP for good is hung up with media_timeout."""
    call, _ = await answered_call(phone, scripted)
    call.media_timeout = 1.5
    assert call.media.local_port is not None
    scripted.start_rtp(("127.0.0.1", call.media.local_port))
    await asyncio.sleep(0.5)
    await scripted.stop_rtp()
    bye = await scripted.expect("BYE", within=5)
    scripted.reply(bye, 200)
    end = await call.ended
    assert end.cause is EndCause.MEDIA_TIMEOUT


async def test_transfer_outcomes(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """REFER: refused, failed at the target, silent, and successful."""
    call, invite = await answered_call(phone, scripted)
    ours = ("127.0.0.1", phone.transport.local_port or 0)

    attempt = asyncio.create_task(call.transfer("200"))
    refer = await scripted.expect("REFER")
    assert refer.header("refer-to") == "<sip:200@127.0.0.1>" or "sip:200@" in (refer.header("refer-to") or "")
    scripted.reply(refer, 405)
    with pytest.raises(SipTransferError, match="405"):
        await attempt

    attempt = asyncio.create_task(call.transfer("200"))
    scripted.reply(await scripted.expect("REFER"), 202)
    frag = [("Event", "refer"), ("Content-Type", "message/sipfrag")]
    scripted.send(scripted.in_dialog(invite, "NOTIFY", frag, b"SIP/2.0 100 Trying\r\n"), ours)
    await scripted.expect(200)
    scripted.send(scripted.in_dialog(invite, "NOTIFY", frag, b"SIP/2.0 486 Busy Here\r\n"), ours)
    await scripted.expect(200)
    with pytest.raises(SipTransferError, match="486"):
        await attempt

    with patch.object(call_module, "TRANSFER_TIMEOUT", 0.3):
        attempt = asyncio.create_task(call.transfer("200"))
        scripted.reply(await scripted.expect("REFER"), 202)
        with pytest.raises(SipTransferError, match="no final NOTIFY"):
            await attempt

    attempt = asyncio.create_task(call.transfer("sip:desk@127.0.0.1"))
    scripted.reply(await scripted.expect("REFER"), 202)
    scripted.send(scripted.in_dialog(invite, "NOTIFY", [("Event", "keep")], b""), ours)  # not about the REFER
    await scripted.expect(200)
    scripted.send(scripted.in_dialog(invite, "NOTIFY", frag, b"SIP/2.0 200 OK\r\n"), ours)
    await scripted.expect(200)
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)
    await attempt
    assert (await call.ended).cause is EndCause.TRANSFERRED


async def test_actions_need_an_answered_call(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """DTMF and transfer are refused before the answer; bad digits are refused always."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    with pytest.raises(SipError):
        await call.send_dtmf("1")
    with pytest.raises(SipTransferError):
        await call.transfer("200")
    with pytest.raises(ValueError, match="not DTMF"):
        await call.send_dtmf("1x")
    scripted.reply(invite, 486)
    await scripted.expect("ACK")
    with pytest.raises(CallFailedError):
        await call.wait_answered()
    with pytest.raises(ValueError, match="not a number"):
        await phone.dial("call me maybe")


async def test_playback_and_barge_in(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """play() returns True when done and False when cut off by stop_playback()."""
    call, invite = await answered_call(phone, scripted)
    assert await call.play(np.zeros(800, dtype=np.int16)) is True
    long = asyncio.create_task(call.play(np.zeros(8000 * 5, dtype=np.int16)))
    await asyncio.sleep(0.1)
    call.stop_playback()
    assert await long is False
    await call.send_dtmf("12", pacing=0.05)  # RFC 4733: the answer offered event 101
    del invite


async def test_phone_answers_strangers(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """Out-of-dialog requests: OPTIONS 200, INVITE 486 (we only call out), CANCEL 481, others 501."""
    ours = ("127.0.0.1", phone.transport.local_port or 0)

    def stranger(method: str) -> SipMessage:
        return request(
            method,
            f"sip:slayer@127.0.0.1:{ours[1]}",
            [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{scripted.port};branch=z9hG4bK{method}"),
                ("From", "<sip:x@127.0.0.1>;tag=1"),
                ("To", "<sip:slayer@127.0.0.1>"),
                ("Call-ID", f"stranger-{method}"),
                ("CSeq", f"1 {method}"),
            ],
        )

    for method, status in (("OPTIONS", 200), ("INVITE", 486), ("CANCEL", 481), ("SUBSCRIBE", 501)):
        scripted.send(stranger(method), ours)
        assert (await scripted.expect(status)).call_id == f"stranger-{method}"
    scripted.send(stranger("ACK"), ours)  # absorbed silently
    stray = response_to(stranger("BYE"), 200)
    scripted.send(stray, ours)  # a response for nobody: dropped
    scripted.send(stranger("OPTIONS"), ours)
    await scripted.expect(200)


async def test_hangup_before_any_response(phone: SipPhone, scripted: ScriptedPeer) -> None:
    """Hanging up before the far end said anything cannot CANCEL yet; the call ends locally."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    await scripted.expect("INVITE")
    with patch.object(call_module, "BYE_TIMEOUT", 0.2):
        end = await call.hangup()
    assert end.cause is EndCause.LOCAL_HANGUP
    assert phone.calls == []


async def test_a_repeated_failure_is_acknowledged_again_until_timer_d(
    phone: SipPhone, scripted: ScriptedPeer
) -> None:
    """Our ACK for a 486 was lost: the far end repeats the 486 and gets another ACK (Timer D,
    RFC 3261 §17.1.1.2), after the call has failed. Stopping the phone forgets the transaction."""
    call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
    invite = await scripted.expect("INVITE")
    scripted.reply(invite, 486)
    first = await scripted.expect("ACK")
    with pytest.raises(CallFailedError):
        await call.wait_answered()
    scripted.reply(invite, 486)  # as if the ACK never came
    again = await scripted.expect("ACK")
    assert (again.call_id, again.cseq, again.top_via_branch) == (
        first.call_id,
        first.cseq,
        first.top_via_branch,
    )
    assert phone.transactions.open_count == 1  # the failed INVITE, lingering
    await phone.stop()
    assert phone.transactions.open_count == 0
