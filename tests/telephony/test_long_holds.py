"""Long holds survive (issue 16 §2), each against a real ``sipp`` carrier on 127.0.0.1.

- the media watchdog follows the negotiated direction (``a=inactive``/``recvonly`` holds);
- an SDP answer in the ACK of an offerless re-INVITE moves our RTP;
- double-CRLF keep-alive pings while registered or in a call, pongs accepted silently;
- Contact (and SDP when the host is behind NAT) rewritten from the registrar's received/rport.
"""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from custom_components.hold_slayer.telephony import (
    Call,
    CallFailedError,
    CallLeg,
    CallState,
    EndCause,
    IncomingCall,
    KeepaliveMethod,
    RegistrationState,
    SipPhone,
)
from custom_components.hold_slayer.telephony.phone import reported_address
from custom_components.hold_slayer.telephony.rtp import MediaStream
from custom_components.hold_slayer.telephony.sdp import Direction
from custom_components.hold_slayer.telephony.sipmsg import (
    SipMessage,
    new_branch,
    request,
    response_to,
    uri_of,
)
from harness.accounts import direct_account, make_account
from harness.servers.kamailio import free_port
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from harness.servers.sipp import sipp_peer
from tests.telephony.conftest import answered_call, started
from tests.telephony.test_incoming_edges import ack_for, ack_for_refusal, invite

pytestmark = pytest.mark.usefixtures("socket_enabled")

WATCHDOG = 1.0  # media_timeout in these tests (60 s in production)
KEEPALIVE = 0.2  # keepalive_interval in these tests (30 s in production)


class RtpSink(asyncio.DatagramProtocol):
    """A UDP port on 127.0.0.1 that records the RTP packets it gets: (arrival, payload type)."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, int]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    @classmethod
    async def open(cls) -> RtpSink:
        """Bind a free port."""
        sink = cls()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: sink, local_addr=("127.0.0.1", 0)
        )
        sink.transport = transport
        sink.port = transport.get_extra_info("sockname")[1]
        return sink

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Record one packet."""
        if len(data) >= 12 and data[0] >> 6 == 2:
            self.packets.append((asyncio.get_running_loop().time(), data[1] & 0x7F))

    def close(self) -> None:
        """Release the port."""
        if self.transport is not None:
            self.transport.close()


@pytest.mark.parametrize(("theirs", "ours"), [("inactive", "inactive"), ("recvonly", "sendonly")])
async def test_hold_longer_than_the_watchdog_survives(theirs: str, ours: str) -> None:
    """A hold without RTP by agreement lasts 3x the watchdog; the call ends only at the BYE."""
    values = {
        "HOLD_DIRECTION": theirs,
        "OUR_HOLD_DIRECTION": ours,
        "HOLD_MS": int(WATCHDOG * 3500),
        "AFTER_RESUME_MS": int(WATCHDOG * 400),
    }
    async with sipp_peer("hold.xml", values) as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        async with started(phone):
            call = await phone.dial(carrier.uri)
            call.media_timeout = WATCHDOG
            await call.wait_answered()
            end = await asyncio.wait_for(asyncio.shield(call.ended), 15)
            assert end.cause is EndCause.REMOTE_HANGUP, carrier.logs()
        await carrier.succeeded()


async def test_watchdog_resumes_with_sendrecv() -> None:
    """After the hold the far end owes RTP again: silence longer than the watchdog ends the call."""
    values = {
        "HOLD_DIRECTION": "inactive",
        "OUR_HOLD_DIRECTION": "inactive",
        "HOLD_MS": int(WATCHDOG * 2500),
        "AFTER_RESUME_MS": int(WATCHDOG * 6000),
    }
    async with sipp_peer("hold.xml", values) as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        async with started(phone):
            call = await phone.dial(carrier.uri)
            call.media_timeout = WATCHDOG
            await call.wait_answered()
            loop = asyncio.get_running_loop()
            held = False
            async with asyncio.timeout(15):
                while not (held and call.media.direction is Direction.SENDRECV):
                    held = held or call.media.direction is Direction.INACTIVE
                    await asyncio.sleep(0.01)
            resumed_at = loop.time()
            end = await asyncio.wait_for(asyncio.shield(call.ended), 10)
            assert end.cause is EndCause.MEDIA_TIMEOUT
            # Counted from the resume, not from the last packet before the hold.
            assert loop.time() - resumed_at == pytest.approx(WATCHDOG, abs=0.6)
        await carrier.succeeded()


async def test_answer_in_ack_moves_our_rtp() -> None:
    """Offerless re-INVITE: we offer in the 200, the ACK's answer sends our RTP to a new port."""
    old, new = await RtpSink.open(), await RtpSink.open()
    values = {"OLD_PORT": old.port, "NEW_PORT": new.port, "TALK_MS": 1500}
    try:
        async with sipp_peer("answer_in_ack.xml", values) as carrier:
            phone = SipPhone(direct_account(carrier.port), register=False)
            async with started(phone):
                call = await phone.dial(carrier.uri)
                await call.wait_answered()
                end = await asyncio.wait_for(asyncio.shield(call.ended), 10)
                assert end.cause is EndCause.REMOTE_HANGUP
            await carrier.succeeded()
    finally:
        old.close()
        new.close()
    assert len(old.packets) >= 10  # the first half second went to the first address, as PCMU
    assert {pt for _, pt in old.packets} == {0}
    assert len(new.packets) >= 50  # then 1.5 s to the new port, in the codec the answer chose
    assert {pt for _, pt in new.packets} == {8}
    assert old.packets[-1][0] < new.packets[0][0] + 0.1  # moved, not duplicated


@pytest.mark.parametrize(
    ("received", "sdp_ip"),
    [
        ("192.0.2.10", "192.0.2.10"),  # our host is behind NAT: Contact and SDP get the public IP
        ("127.0.0.1", "127.0.0.1"),  # only the port is mapped: Contact's port changes, SDP stays
    ],
)
async def test_contact_rewritten_from_received_and_rport(received: str, sdp_ip: str) -> None:
    """The registrar reports received/rport: re-REGISTER with that Contact, use it in the INVITE."""
    rport = 40000
    values = {
        "RECEIVED": received,
        "RECEIVED_RE": re.escape(received),
        "RPORT": rport,
        "SDP_IP": sdp_ip,
        "SDP_IP_RE": re.escape(sdp_ip),
    }
    async with sipp_peer("nat_registrar.xml", values, calls=2) as registrar:
        phone = SipPhone(make_account("127.0.0.1", registrar.port, "slayer", "secret"))
        async with started(phone):
            assert phone.status.state is RegistrationState.REGISTERED
            assert phone.contact == f"<sip:slayer@{received}:{rport}>"
            assert phone.public_address == (received, rport)
            assert phone.media_address == sdp_ip
            assert phone.via("z9hG4bKx").startswith(f"SIP/2.0/UDP 127.0.0.1:{phone.transport.local_port};")
            call = await phone.dial("company")
            with pytest.raises(CallFailedError) as failed:
                await call.wait_answered()
            assert failed.value.end.cause is EndCause.BUSY
        await registrar.succeeded()


class PingRecorder(ScriptedPeer):
    """A registrar or far end on a raw UDP socket that records CRLF keep-alive pings and answers a pong."""

    def __init__(self) -> None:
        super().__init__()
        self.pings: list[float] = []
        self._pinged = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """CRLFs are pings (answered with a single CRLF); anything else is SIP."""
        if not data.strip(b"\r\n"):
            assert data == b"\r\n\r\n"  # RFC 5626 §3.5.1 ping
            self.pings.append(asyncio.get_running_loop().time())
            self._pinged.set()
            assert self.transport is not None
            self.transport.sendto(b"\r\n", addr)
            return
        super().datagram_received(data, addr)

    async def pings_after(self, count: int, within: float = 5.0) -> list[float]:
        """Wait for ``count`` more pings; return their times."""
        start = len(self.pings)
        async with asyncio.timeout(within):
            while len(self.pings) < start + count:
                self._pinged.clear()
                await self._pinged.wait()
        return self.pings[start : start + count]


def _registered(peer: PingRecorder, register: SipMessage) -> None:
    peer.reply(register, 200, headers=[("Expires", register.header("expires") or "600")])


async def test_keepalives_while_registered_stop_with_registration() -> None:
    """CRLF pings every interval to the registrar; its pongs are accepted silently."""
    peer = PingRecorder()
    await peer.start()
    try:
        phone = SipPhone(make_account("127.0.0.1", peer.port, "slayer", "secret"))
        phone.keepalive_interval = KEEPALIVE
        starting = asyncio.create_task(phone.start())
        _registered(peer, await peer.expect("REGISTER"))
        await starting
        times = await peer.pings_after(5)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(0.8 * KEEPALIVE <= gap <= KEEPALIVE + 0.15 for gap in gaps), gaps
        assert phone.transport.keepalives_received >= 4  # the pongs: counted, not errors
        assert phone.transport.dropped == 0
        assert phone.status.state is RegistrationState.REGISTERED
        stopping = asyncio.create_task(phone.stop())
        unregister = await peer.expect("REGISTER")
        unregistered_at = asyncio.get_running_loop().time()
        assert unregister.header("expires") == "0"
        _registered(peer, unregister)
        await stopping
        await asyncio.sleep(3 * KEEPALIVE)
        assert all(ping < unregistered_at for ping in peer.pings)
    finally:
        await peer.close()


async def test_options_keepalives_for_a_registrar_that_wants_them() -> None:
    """The OPTIONS method: an OPTIONS to the registrar every interval instead of an empty line,
    a challenge answered; none after the registration ends."""
    peer = PingRecorder()
    await peer.start()
    try:
        phone = SipPhone(make_account("127.0.0.1", peer.port, "slayer", "secret"))
        phone.keepalive_interval = KEEPALIVE
        phone.keepalive_method = KeepaliveMethod.OPTIONS
        starting = asyncio.create_task(phone.start())
        _registered(peer, await peer.expect("REGISTER"))
        await starting
        loop = asyncio.get_running_loop()
        challenged = await peer.expect("OPTIONS", within=1.0)
        peer.reply(challenged, 407, headers=[("Proxy-Authenticate", 'Digest realm="peer", nonce="k1"')])
        answered = await peer.expect("OPTIONS", within=1.0)
        assert (answered.header("proxy-authorization") or "").startswith("Digest ")
        peer.reply(answered, 200)
        times = []
        for _ in range(3):
            peer.reply(await peer.expect("OPTIONS", within=1.0), 200)
            times.append(loop.time())
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(0.7 * KEEPALIVE <= gap <= KEEPALIVE + 0.2 for gap in gaps), gaps
        assert peer.pings == []  # no empty lines
        assert phone.keepalives_sent >= 4
        stopping = asyncio.create_task(phone.stop())
        while (unregister := await asyncio.wait_for(peer.received.get(), 5)).method != "REGISTER":
            pass  # an OPTIONS already on its way
        _registered(peer, unregister)
        await stopping
        await asyncio.sleep(3 * KEEPALIVE)
        assert peer.received.empty()
    finally:
        await peer.close()


async def test_keepalives_to_a_direct_peer_only_during_a_call() -> None:
    """Without a registrar nothing is sent while idle; during a call the far end is pinged."""
    peer = PingRecorder()
    await peer.start()
    try:
        phone = SipPhone(direct_account(peer.port), register=False)
        phone.keepalive_interval = KEEPALIVE
        async with started(phone):
            await asyncio.sleep(3 * KEEPALIVE)
            assert peer.pings == []  # idle: no pinhole to keep
            call, invite = await answered_call(phone, peer)
            await peer.pings_after(3)
            bye = peer.in_dialog(invite, "BYE")
            peer.send(bye, ("127.0.0.1", phone.transport.local_port or 0))
            await peer.expect(200)
            await call.ended
            ended_at = asyncio.get_running_loop().time()
            await asyncio.sleep(3 * KEEPALIVE)
            assert all(ping < ended_at for ping in peer.pings)
    finally:
        await peer.close()


async def test_ok_to_a_reinvite_is_repeated_until_the_ack() -> None:
    """Our 200 to a re-INVITE is sent again (T1, 2·T1 …) until its ACK (RFC 3261 §13.3.1.4)."""
    peer = ScriptedPeer()
    await peer.start()
    try:
        phone = SipPhone(direct_account(peer.port), register=False)
        async with started(phone):
            call, invite = await answered_call(phone, peer)
            ours = ("127.0.0.1", phone.transport.local_port or 0)
            hold = peer.in_dialog(
                invite,
                "INVITE",
                [("Content-Type", "application/sdp")],
                answer_sdp(peer.rtp_port, direction="inactive"),
            )
            peer.send(hold, ours)
            first = await peer.expect(200)
            again = await peer.expect(200, within=1.0)  # T1 = 0.5 s later
            assert again.encode() == first.encode()
            assert b"a=inactive" in first.body
            ack = [(n, v if n != "CSeq" else f"{hold.cseq} ACK") for n, v in hold.headers]
            peer.send(request("ACK", hold.uri or "", ack), ours)
            with pytest.raises(TimeoutError):
                await peer.expect(200, within=1.5)  # the next one would have come after 1 s
            assert call.state is CallState.ANSWERED
            peer.auto_reply = {"BYE"}
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        (
            "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport=40000;received=198.51.100.7",
            ("198.51.100.7", 40000),
        ),
        ("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;received=198.51.100.7", ("198.51.100.7", 5062)),
        ("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport=40000", ("10.0.0.5", 40000)),
        ("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport", None),  # the server ignored rport
        ("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;received=evil.example;rport=1", None),
        ("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;received=198.51.100.7;rport=99999", None),
    ],
)
def test_reported_address(via: str, expected: tuple[str, int] | None) -> None:
    """received/rport of the top Via (RFC 3581); junk is ignored rather than adopted."""
    response = response_to(
        request("REGISTER", "sip:r", [("Via", via), ("Call-ID", "c"), ("CSeq", "1 REGISTER")]), 200
    )
    assert reported_address(response) == expected


async def test_session_timer_422_retry_and_our_refreshes(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 4028 as UAC: 422 → retry with Min-SE; refresher=uac → re-INVITE every half interval."""
    monkeypatch.setattr(Call, "session_expires", 1)
    values = {"ASKED": 1, "MIN_SE": 2}
    async with sipp_peer("session_timer_uac.xml", values) as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        async with started(phone):
            call = await phone.dial(carrier.uri)
            await call.wait_answered()
            loop = asyncio.get_running_loop()
            times = [loop.time()]
            async with asyncio.timeout(6):
                while call.session_refreshes < 2:
                    await asyncio.sleep(0.01)
                    if call.session_refreshes == len(times):
                        times.append(loop.time())
            assert call.session is not None
            assert call.session.interval == 2
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert all(gap == pytest.approx(1.0, abs=0.3) for gap in gaps), gaps
            end = await asyncio.wait_for(asyncio.shield(call.ended), 5)
            assert end.cause is EndCause.REMOTE_HANGUP
        await carrier.succeeded()


@pytest.mark.parametrize(
    ("asked_refresher", "mode"),
    [("", "we-refresh"), (";refresher=uac", "silent")],
)
async def test_session_timer_as_uas(monkeypatch: pytest.MonkeyPatch, asked_refresher: str, mode: str) -> None:
    """RFC 4028 as UAS: Session-Expires answered with Require: timer; we refresh, or expect refreshes.

    No refresher asked for: we take it (``uas``) and re-INVITE at half the interval. The caller
    as refresher that never refreshes: we hang up before the session would expire.
    """
    monkeypatch.setattr(CallLeg, "min_se", 1)
    interval = 3
    calls: asyncio.Queue[IncomingCall] = asyncio.Queue()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=calls.put_nowait)
    async with started(phone):
        values = {
            "SE": interval,
            "REFRESHER_PARAM": asked_refresher,
            "GRANTED": "uas" if mode == "we-refresh" else "uac",
            "MODE": mode,
        }
        remote = ("127.0.0.1", phone.transport.local_port or 0)
        async with sipp_peer("session_timer_uas.xml", values, remote=remote) as caller:
            call = await asyncio.wait_for(calls.get(), 5)
            await call.answer()
            answered = asyncio.get_running_loop().time()
            end = await asyncio.wait_for(asyncio.shield(call.ended), 10)
            elapsed = asyncio.get_running_loop().time() - answered
            if mode == "we-refresh":
                assert end.cause is EndCause.REMOTE_HANGUP
                assert call.session_refreshes == 1
                assert elapsed == pytest.approx(interval / 2, abs=0.4)  # the BYE follows our refresh
            else:
                assert end.cause is EndCause.FAILED
                assert "session timer" in end.reason
                assert call.session_refreshes == 0
                assert elapsed == pytest.approx(interval - interval / 3, abs=0.4)
            await caller.succeeded()


async def test_too_brief_session_interval_is_refused_with_422() -> None:
    """RFC 4028 §8.1: an INVITE, re-INVITE or UPDATE asking for less than our Min-SE gets 422."""
    peer = ScriptedPeer()
    await peer.start()
    offered: asyncio.Queue[IncomingCall] = asyncio.Queue()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=offered.put_nowait)
    try:
        async with started(phone):
            ours = ("127.0.0.1", phone.transport.local_port or 0)
            brief = invite(peer, phone, call_id="brief")
            brief.headers += [("Supported", "timer"), ("Session-Expires", "30")]
            peer.send(brief, ours)
            refused = await peer.expect(422)
            assert refused.header("min-se") == "90"
            peer.send(ack_for_refusal(brief, refused), ours)
            assert offered.empty()

            call, inv, ok = await _incoming_answered(peer, phone, offered)
            update = _from_caller(peer, inv, ok, "UPDATE", [("Session-Expires", "45")])
            peer.send(update, ours)
            assert (await peer.expect(422)).header("min-se") == "90"
            update = _from_caller(
                peer,
                inv,
                ok,
                "UPDATE",
                [("Supported", "timer"), ("Session-Expires", "120"), ("Content-Type", "application/sdp")],
                answer_sdp(peer.rtp_port, direction="sendonly"),
            )
            peer.send(update, ours)
            ok = await peer.expect(200)  # an UPDATE with an offer is answered at once (RFC 3311)
            assert b"a=recvonly" in ok.body
            assert ok.header("session-expires") == "120;refresher=uas"
            assert ok.header("require") == "timer"
            assert call.session is not None
            assert call.session.interval == 120
            peer.auto_reply = {"BYE"}
    finally:
        await peer.close()


async def _incoming_answered(
    peer: ScriptedPeer, phone: SipPhone, offered: asyncio.Queue[IncomingCall]
) -> tuple[IncomingCall, SipMessage, SipMessage]:
    inv = invite(peer, phone, call_id="answered")
    peer.send(inv, ("127.0.0.1", phone.transport.local_port or 0))
    call = await asyncio.wait_for(offered.get(), 5)
    answering = asyncio.create_task(call.answer())
    await peer.expect(100)
    ok = await peer.expect(200)
    peer.send(ack_for(peer, inv, ok), ("127.0.0.1", phone.transport.local_port or 0))
    await answering
    return call, inv, ok


def _from_caller(
    peer: ScriptedPeer,
    inv: SipMessage,
    ok: SipMessage,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
) -> SipMessage:
    """An in-dialog request from the scripted caller (who sent ``inv``, answered by ``ok``)."""
    peer.cseq += 1
    own = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{peer.port};branch={new_branch()}"),
        ("From", inv.header("from") or ""),
        ("To", ok.header("to") or ""),
        ("Call-ID", inv.call_id),
        ("CSeq", f"{peer.cseq} {method}"),
    ]
    return request(method, uri_of(ok.header("contact") or ""), own + headers, body)


def test_silence_counts_only_while_the_far_end_owes_rtp() -> None:
    """Direction by direction (ours): which holds stop the watchdog's count."""
    stream = MediaStream("127.0.0.1")
    stream.set_remote("127.0.0.1", 4000, 0, 101, Direction.SENDRECV)
    assert stream.seconds_without_media() is None  # not answered yet
    stream.watch()
    assert stream.seconds_without_media() is not None
    for ours, owed in [
        (Direction.INACTIVE, False),  # a=inactive hold
        (Direction.SENDONLY, False),  # they said recvonly
        (Direction.RECVONLY, True),  # they said sendonly: music on hold is owed
        (Direction.SENDRECV, True),
    ]:
        stream.set_remote("127.0.0.1", 4000, 0, 101, ours)
        assert (stream.seconds_without_media() is not None) is owed, ours
    stream.set_remote("0.0.0.0", 4000, 0, 101, Direction.RECVONLY)  # RFC 2543 hold
    assert stream.seconds_without_media() is None
