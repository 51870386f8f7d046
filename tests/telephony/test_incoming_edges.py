"""Incoming-call edge cases from a scripted caller (each also has a real-peer test in test_incoming.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from custom_components.hold_slayer.telephony import CallEnd, CallFailedError, EndCause, IncomingCall, SipPhone
from custom_components.hold_slayer.telephony.account import PortRange
from custom_components.hold_slayer.telephony.sipmsg import SipMessage, new_branch, request
from harness.accounts import direct_account, make_account
from harness.servers.kamailio import free_port
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from tests.telephony.conftest import started
from tests.telephony.test_incoming import Inbox, port_of

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def callee() -> AsyncIterator[tuple[SipPhone, Inbox]]:
    """A phone taking calls."""
    inbox = Inbox()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)
    async with started(phone):
        yield phone, inbox


def invite(
    peer: ScriptedPeer, phone: SipPhone, *, body: bytes | None = None, call_id: str = "c1"
) -> SipMessage:
    """An INVITE from the scripted caller to ``phone``."""
    port = phone.transport.local_port
    sdp_body = answer_sdp(peer.rtp_port) if body is None else body
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{peer.port};branch={new_branch()}"),
        ("From", f"<sip:peer@127.0.0.1:{peer.port}>;tag={peer.tag}"),
        ("To", f"<sip:company@127.0.0.1:{port}>"),
        ("Call-ID", call_id),
        ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:peer@127.0.0.1:{peer.port}>"),
        ("Max-Forwards", "70"),
    ]
    if sdp_body:
        headers.append(("Content-Type", "application/sdp"))
    return request("INVITE", f"sip:company@127.0.0.1:{port}", headers, sdp_body)


def to(phone: SipPhone) -> tuple[str, int]:
    return ("127.0.0.1", port_of(phone))


def ack_for(peer: ScriptedPeer, inv: SipMessage, response: SipMessage) -> SipMessage:
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{peer.port};branch={new_branch()}"),
        ("From", inv.header("from") or ""),
        ("To", response.header("to") or ""),
        ("Call-ID", inv.call_id),
        ("CSeq", "1 ACK"),
    ]
    return request("ACK", f"sip:company@127.0.0.1:{to_port(response)}", headers)


def ack_for_refusal(inv: SipMessage, refusal: SipMessage) -> SipMessage:
    """The caller's ACK for a final failure: hop by hop, in the INVITE's transaction (RFC 3261 §17.1.1.3)."""
    headers = [(n, v) for n, v in inv.headers if n in ("Via", "From", "Call-ID")]
    headers += [("To", refusal.header("to") or ""), ("CSeq", f"{inv.cseq} ACK"), ("Max-Forwards", "70")]
    return request("ACK", inv.uri or "", headers)


def to_port(response: SipMessage) -> int:
    contact = response.header("contact") or ""
    return int(contact.rsplit(":", 1)[1].rstrip(">"))


async def test_retransmissions_and_missing_ack(
    callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer
) -> None:
    """A retransmitted INVITE gets the last response again; 200 OK is resent until ACK, else BYE."""
    phone, inbox = callee
    inv = invite(scripted, phone)
    scripted.send(inv, to(phone))
    await scripted.expect(100)
    incoming = await inbox.next()
    incoming.ack_timeout = 1.6
    incoming.ring()
    await scripted.expect(180)
    scripted.send(inv, to(phone))  # the caller missed the 180
    await scripted.expect(180)
    answering = asyncio.create_task(incoming.answer())
    statuses = [(await scripted.expect(200)).status for _ in range(3)]  # sent, resent at 0.5 s, 1.5 s
    assert statuses == [200, 200, 200]
    bye = await scripted.expect("BYE", within=3)
    scripted.reply(bye, 200)
    with pytest.raises(CallFailedError):
        await answering
    assert incoming.ended.result() == CallEnd(EndCause.FAILED, None, "no ACK for 200 OK")
    with pytest.raises(CallFailedError):
        incoming.reject(486)


async def test_ack_stops_retransmission_and_late_cancel(
    callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer
) -> None:
    """After our 200 is ACKed nothing is resent; a CANCEL that crosses it only gets its own 200."""
    phone, inbox = callee
    inv = invite(scripted, phone)
    scripted.send(inv, to(phone))
    await scripted.expect(100)
    incoming = await inbox.next()
    answering = asyncio.create_task(incoming.answer())
    ok = await scripted.expect(200)
    scripted.send(ack_for(scripted, inv, ok), to(phone))
    await answering
    cancel_headers = [(n, v) for n, v in inv.headers if n in ("Via", "From", "To", "Call-ID")]
    cancel = request("CANCEL", inv.uri or "", [*cancel_headers, ("CSeq", "1 CANCEL")])
    scripted.send(cancel, to(phone))
    answer = await scripted.expect(200)
    assert answer.cseq_method == "CANCEL"
    with pytest.raises(TimeoutError):
        await scripted.expect(200, within=1.2)  # no retransmitted 200 OK
    assert not incoming.ended.done()
    with pytest.raises(RuntimeError, match="already has a final answer"):
        incoming.ring()
    await incoming.hangup()
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)


async def test_refused_invites(callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer) -> None:
    """No SDP or no common codec: 488; an INVITE resent after a refusal gets the same refusal."""
    phone, inbox = callee
    for call_id, body in (
        ("no-sdp", b""),
        ("g729", answer_sdp(scripted.rtp_port, pts="18")),
        ("bad", b"v=0\r\nm=video 1 RTP/AVP 0\r\n"),
    ):
        unwanted = invite(scripted, phone, body=body, call_id=call_id)
        scripted.send(unwanted, to(phone))
        scripted.send(ack_for_refusal(unwanted, await scripted.expect(488)), to(phone))
    inv = invite(scripted, phone, call_id="refused")
    scripted.send(inv, to(phone))
    await scripted.expect(100)
    incoming = await inbox.next()
    incoming.reject(603, "Not today")
    refusal = await scripted.expect(603)
    assert refusal.reason == "Not today"
    scripted.send(inv, to(phone))
    again = await scripted.expect(603)
    assert again.header("to") == refusal.header("to")
    scripted.send(ack_for_refusal(inv, refusal), to(phone))
    assert inbox.calls.empty()


async def test_no_handler_and_no_rtp_port(scripted: ScriptedPeer) -> None:
    """Without a handler every INVITE is busy; with no free RTP port the call is refused with 503."""
    async with started(SipPhone(direct_account(free_port()), register=False)) as phone:
        scripted.send(invite(scripted, phone), to(phone))
        await scripted.expect(486)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        account = make_account("127.0.0.1", free_port(), "slayer", "unused")
        account = type(account)(
            account.registrar,
            account.username,
            account.password,
            port=account.port,
            sip_ports=account.sip_ports,
            rtp_ports=PortRange(port, port),
        )
        inbox = Inbox()
        async with started(SipPhone(account, register=False, on_incoming=inbox)) as phone:
            scripted.send(invite(scripted, phone), to(phone))
            await scripted.expect(503)
            assert inbox.calls.empty()


async def test_ring_timer_does_nothing_after_an_answer(
    callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer
) -> None:
    """A short ring timeout set after answering has no effect."""
    phone, inbox = callee
    inv = invite(scripted, phone)
    scripted.send(inv, to(phone))
    await scripted.expect(100)
    incoming: IncomingCall = await inbox.next()
    answering = asyncio.create_task(incoming.answer())
    ok = await scripted.expect(200)
    scripted.send(ack_for(scripted, inv, ok), to(phone))
    await answering
    incoming.ring_timeout = 0.1
    incoming.start_ring_timer()
    await asyncio.sleep(0.3)
    assert not incoming.ended.done()
    await incoming.hangup()
    bye = await scripted.expect("BYE")
    scripted.reply(bye, 200)


async def test_a_refusal_is_repeated_until_its_ack(
    callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer
) -> None:
    """A 486 after our 100 goes again at T1, 3·T1 … until the caller's ACK (RFC 3261 §17.2.1)."""
    phone, inbox = callee
    inv = invite(scripted, phone, call_id="busy")
    scripted.send(inv, to(phone))
    await scripted.expect(100)
    (await inbox.next()).reject(486)
    loop = asyncio.get_running_loop()
    busy = await scripted.expect(486)
    sent_at = loop.time()
    repeats = [await scripted.expect(486, within=1.5) for _ in range(2)]  # at 0.5 s and 1.5 s
    assert loop.time() - sent_at < 1.8
    assert {repeat.to_tag for repeat in repeats} == {busy.to_tag}
    scripted.send(ack_for_refusal(inv, busy), to(phone))
    with pytest.raises(TimeoutError):
        await scripted.expect(486, within=2.5)  # the next copy was due 2 s after the last


async def test_a_refusal_without_ack_stops_after_timer_h(
    callee: tuple[SipPhone, Inbox], scripted: ScriptedPeer
) -> None:
    """Without an ACK the refusal is repeated for Timer H (shortened here), then given up."""
    phone, _inbox = callee
    phone.transactions.timer_h = 1.6
    phone.on_incoming = None  # the phone itself refuses: 486
    scripted.send(invite(scripted, phone, call_id="nobody"), to(phone))
    copies = [await scripted.expect(486, within=1.5) for _ in range(3)]  # at 0, 0.5 s and 1.5 s
    assert len({copy.to_tag for copy in copies}) == 1
    with pytest.raises(TimeoutError):
        await scripted.expect(486, within=2.5)
