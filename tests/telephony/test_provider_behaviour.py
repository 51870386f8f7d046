"""What providers' registrars ask of us (issue 16 §3), each against a real ``sipp`` registrar.

- 423 Interval Too Brief: register again for the ``Min-Expires`` asked, and keep that lifetime;
- 503 Service Unavailable with ``Retry-After``: wait that long before trying again, however
  short our own backoff;
- a 3xx redirect: followed once, to a target the caller's dial plan allows, in the same call;
- a proxy that challenges every request: the BYE is sent again with credentials, the 2xx's ACK
  carries the INVITE's;
- answers nobody wants (a second fork's 2xx, a 2xx after our CANCEL): ACKed and ended with a BYE
  (a scripted peer: a forking proxy or a racing CANCEL will not happen on demand);
- reliable provisional responses (RFC 3262): each PRACKed in its early dialog, with credentials
  when challenged, again when repeated, never out of order;
- a caller whose ACK for our refusal is late: the 486 is repeated until the ACK (RFC 3261 §17.2.1).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from custom_components.hold_slayer.telephony import CallFailedError, EndCause, RegistrationState, SipPhone
from custom_components.hold_slayer.telephony.call import Call, CallState
from custom_components.hold_slayer.telephony.phone import (
    RegistrationStatus,
    min_expires,
    retry_after,
    unsupported_extensions,
)
from custom_components.hold_slayer.telephony.sipmsg import SipMessage, response_to
from harness.accounts import direct_account, make_account
from harness.servers.kamailio import free_port
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from harness.servers.sipp import sipp_peer
from tests.telephony.conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")

MIN_EXPIRES = 3600
GRANTED = 2  # the registrar's own choice after all: a refresh comes within a second
RETRY_AFTER = 3


async def test_a_registrar_that_wants_longer_registrations_and_a_pause() -> None:
    values = {"MIN_EXPIRES": MIN_EXPIRES, "GRANTED": GRANTED, "RETRY_AFTER": RETRY_AFTER}
    async with sipp_peer("registrar_demands.xml", values, timeout=30) as registrar:
        phone = SipPhone(make_account("127.0.0.1", registrar.port, "slayer", "secret"))
        phone.refresh_floor, phone.retry_first = 0.5, 0.2  # our own backoff: far shorter than asked
        changes: list[tuple[float, RegistrationStatus]] = []
        restored = asyncio.Event()
        loop = asyncio.get_running_loop()

        def changed(status: RegistrationStatus) -> None:
            changes.append((loop.time(), status))
            states = [status.state for _, status in changes][-2:]
            if states == [RegistrationState.FAILED, RegistrationState.REGISTERED]:
                restored.set()

        phone.async_listen(changed)
        async with started(phone):
            assert phone.status.state is RegistrationState.REGISTERED
            assert phone.expires == MIN_EXPIRES
            async with asyncio.timeout(15):
                await restored.wait()
            (failed_at, failed), (restored_at, _) = changes[-2:]
            assert failed.error == "503 Service Unavailable"
            assert restored_at - failed_at >= RETRY_AFTER - 0.1
        await registrar.succeeded()


def test_min_expires_and_retry_after_are_read_leniently() -> None:
    def response(*headers: str) -> bytes:
        head = [
            "SIP/2.0 503 Service Unavailable",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
            "From: <sip:slayer@127.0.0.1>;tag=1",
            "To: <sip:slayer@127.0.0.1>;tag=2",
            "Call-ID: 1@127.0.0.1",
            "CSeq: 1 REGISTER",
        ]
        return "\r\n".join([*head, *headers, "Content-Length: 0", "", ""]).encode()

    assert retry_after(SipMessage.parse(response("Retry-After: 120 (maintenance);duration=60"))) == 120
    assert retry_after(SipMessage.parse(response("Retry-After: soon"))) is None
    assert retry_after(SipMessage.parse(response())) is None
    assert min_expires(SipMessage.parse(response("Min-Expires: 900"))) == 900
    assert min_expires(SipMessage.parse(response("Min-Expires: -1"))) == 0


@pytest.mark.parametrize("allowed", [True, False])
async def test_a_redirect_is_followed_once_where_the_dial_plan_allows(allowed: bool) -> None:
    asked: list[str] = []

    def may_redirect(target: str) -> bool:
        asked.append(target)
        return allowed

    scenario = "redirect.xml" if allowed else "redirect_refused.xml"
    async with sipp_peer(scenario, {"NEW_USER": "billing"}) as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        async with started(phone):
            call = await phone.dial("company", may_redirect=may_redirect)
            with pytest.raises(CallFailedError) as failed:
                await call.wait_answered()
        await carrier.succeeded()
    assert asked == [f"sip:billing@127.0.0.1:{carrier.port}"]
    if allowed:
        assert (failed.value.end.cause, failed.value.end.status) == (EndCause.BUSY, 486)
        assert call.redirected_from is not None
        assert call.redirected_from.startswith("sip:company@")
    else:
        assert failed.value.end.status == 302
        assert call.redirected_from is None


def _answer(peer: ScriptedPeer, invite: SipMessage, tag: str) -> None:
    """A 2xx to ``invite`` from a fork of the peer whose To tag is ``tag``."""
    headers = [("Contact", f"<sip:{tag}@127.0.0.1:{peer.port}>"), ("Content-Type", "application/sdp")]
    assert invite.source is not None
    peer.send(
        response_to(invite, 200, to_tag=tag, headers=headers, body=answer_sdp(peer.rtp_port)), invite.source
    )


async def _messages(peer: ScriptedPeer, count: int) -> list[SipMessage]:
    async with asyncio.timeout(5):
        return [await peer.received.get() for _ in range(count)]


async def test_a_second_fork_that_answers_is_acknowledged_and_ended(scripted: ScriptedPeer) -> None:
    phone = SipPhone(direct_account(scripted.port), register=False)
    async with started(phone):
        call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
        invite = await scripted.expect("INVITE")
        _answer(scripted, invite, "desk1")
        _answer(scripted, invite, "desk2")  # a forking proxy: two phones picked up
        got = await _messages(scripted, 3)
        acks = sorted((m.to_tag or "") for m in got if m.method == "ACK")
        [bye] = [m for m in got if m.method == "BYE"]
        assert acks == ["desk1", "desk2"]
        assert (bye.to_tag, bye.call_id, bye.uri) == (
            "desk2",
            invite.call_id,
            f"sip:desk2@127.0.0.1:{scripted.port}",
        )
        assert bye.cseq > invite.cseq
        scripted.reply(bye, 200)
        await call.wait_answered()
        assert (call.state, call.dialog.remote_tag) == (CallState.ANSWERED, "desk1")
        _answer(scripted, invite, "desk1")  # the kept answer, repeated: ACKed again, not ended
        again = await scripted.expect("ACK")
        assert again.to_tag == "desk1"
        assert call.state is CallState.ANSWERED


async def test_an_answer_after_our_cancel_is_acknowledged_and_ended(scripted: ScriptedPeer) -> None:
    phone = SipPhone(direct_account(scripted.port), register=False)
    async with started(phone):
        call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
        invite = await scripted.expect("INVITE")
        scripted.reply(invite, 180)
        hanging_up = asyncio.create_task(call.hangup())
        cancel = await scripted.expect("CANCEL")
        scripted.reply(cancel, 200)
        scripted.reply(invite, 487)
        await scripted.expect("ACK")  # for the 487
        await hanging_up
        assert call.state is CallState.ENDED
        _answer(scripted, invite, "late")  # the callee picked up as the CANCEL crossed
        got = await _messages(scripted, 2)
        assert [(m.method, m.to_tag) for m in got] == [("ACK", "late"), ("BYE", "late")]
        scripted.reply(got[1], 200)


async def test_a_proxy_that_challenges_every_request() -> None:
    async with sipp_peer("challenges_in_dialog.xml") as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        async with started(phone):
            call = await phone.dial("company")
            await call.wait_answered()
            end = await call.hangup()
            assert end.cause is EndCause.LOCAL_HANGUP
        await carrier.succeeded()


async def test_reliable_provisional_responses_are_acknowledged() -> None:
    async with sipp_peer("prack.xml", timeout=30) as carrier:
        phone = SipPhone(direct_account(carrier.port), register=False)
        states: list[CallState] = []
        async with started(phone):
            call = await phone.dial("company")
            call.async_listen(states.append)
            async with asyncio.timeout(10):
                await call.wait_answered()
            end = await call.hangup()
        await carrier.succeeded()
    assert states == [CallState.EARLY_MEDIA, CallState.ANSWERED, CallState.ENDED]
    assert end.cause is EndCause.LOCAL_HANGUP


async def test_a_refusal_is_repeated_until_the_callers_ack() -> None:
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=lambda call: call.reject(486))
    async with started(phone):
        values = {"UNACKED_MS": 1700, "AFTER_MS": 2500}  # our copies: 0, 0.5 s, 1.5 s, then 3.5 s
        remote = ("127.0.0.1", phone.transport.local_port or 0)
        async with sipp_peer("refused_uac.xml", values, remote=remote) as caller:
            await caller.succeeded()
            log = caller.messages()
    trace = re.findall(r"UDP message (received|sent)[^\n]*\n\n([^\r\n]+)", log)
    acked = next(index for index, (way, line) in enumerate(trace) if way == "sent" and line.startswith("ACK"))
    busy = [index for index, (way, line) in enumerate(trace) if way == "received" and " 486 " in line]
    assert len([index for index in busy if index < acked]) >= 2
    assert [index for index in busy if index > acked] == []


async def test_a_call_that_requires_reliable_provisional_responses_is_refused_with_420() -> None:
    """RFC 3261 §8.2.2.3: 420 Bad Extension, Unsupported naming what we lack; nobody is rung."""
    rung: list[object] = []
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=rung.append)
    async with started(phone):
        remote = ("127.0.0.1", phone.transport.local_port or 0)
        async with sipp_peer("requires_100rel_uac.xml", remote=remote) as caller:
            await caller.succeeded()
    assert rung == []


def test_session_timers_are_the_one_extension_a_caller_may_require() -> None:
    def invite(require: str) -> SipMessage:
        return SipMessage.parse(
            (
                "INVITE sip:company@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
                "From: <sip:caller@127.0.0.1>;tag=1\r\nTo: <sip:company@127.0.0.1>\r\n"
                f"Call-ID: a\r\nCSeq: 1 INVITE\r\n{require}Content-Length: 0\r\n\r\n"
            ).encode()
        )

    assert unsupported_extensions(invite("")) == []
    assert unsupported_extensions(invite("Require: timer\r\n")) == []
    assert unsupported_extensions(invite("Require: Timer, 100rel\r\nRequire: 100rel, gruu\r\n")) == [
        "100rel",
        "gruu",
    ]


async def test_the_ack_of_a_challenged_refresh_carries_its_credentials(
    scripted: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our session refresh (a re-INVITE) is challenged with 407 and sent again with credentials;
    the ACK for its 2xx carries them too (RFC 3261 §13.2.2.4), as the first INVITE's does."""
    monkeypatch.setattr(Call, "session_expires", 2)
    phone = SipPhone(direct_account(scripted.port), register=False)
    async with started(phone):
        call = await phone.dial(f"sip:company@127.0.0.1:{scripted.port}")
        invite = await scripted.expect("INVITE")
        timer = [("Require", "timer"), ("Session-Expires", "2;refresher=uac")]
        scripted.reply(invite, 200, answer_sdp(scripted.rtp_port), headers=timer)
        await scripted.expect("ACK")
        await call.wait_answered()
        refresh = await scripted.expect("INVITE", within=5)
        challenge = [("Proxy-Authenticate", 'Digest realm="carrier", nonce="n1", algorithm=MD5')]
        scripted.reply(refresh, 407, headers=challenge)
        await scripted.expect("ACK")  # for the 407, hop by hop
        again = await scripted.expect("INVITE")
        assert (again.header("Proxy-Authorization") or "").startswith("Digest ")
        scripted.reply(again, 200, answer_sdp(scripted.rtp_port), headers=timer)
        ack = await scripted.expect("ACK")
        assert ack.cseq == again.cseq
        assert ack.header("Proxy-Authorization") == again.header("Proxy-Authorization")
        await call.hangup()
