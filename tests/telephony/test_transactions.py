"""The transaction layer (RFC 3261 §17.2, RFC 6026): server transactions by the book.

The state machine is driven directly (what it sends is recorded); the phone-level tests send
real datagrams from a scripted peer to a running phone on 127.0.0.1.
"""

from __future__ import annotations

import asyncio

import pytest

from custom_components.hold_slayer.telephony import SipPhone, transaction
from custom_components.hold_slayer.telephony.sipmsg import SipMessage, new_branch, request, response_to
from custom_components.hold_slayer.telephony.transaction import (
    TIMER_I,
    TIMER_J,
    TIMER_L,
    ServerState,
    ServerTransaction,
    server_key,
)
from harness.accounts import direct_account
from harness.servers.kamailio import free_port
from harness.servers.scripted_peer import ScriptedPeer
from tests.telephony.conftest import started
from tests.telephony.test_incoming import Inbox
from tests.telephony.test_incoming_edges import ack_for_refusal, invite, to


def _request(method: str, *, branch: str | None = None, cseq: int = 1, call_id: str = "t1") -> SipMessage:
    headers = [
        ("Via", f"SIP/2.0/UDP 192.0.2.7:5062;branch={branch or new_branch()};rport"),
        ("From", "<sip:peer@192.0.2.7>;tag=abc"),
        ("To", "<sip:us@192.0.2.1>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    return request(method, "sip:us@192.0.2.1", headers)


class _Recorder:
    """What a server transaction sends, and when its duties ended."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.done: list[float] = []

    def transaction(
        self, req: SipMessage, *, reliable: bool = False, timer_h: float = 32.0
    ) -> ServerTransaction:
        return ServerTransaction(
            req,
            lambda message: self.sent.append(message.status or 0),
            reliable=reliable,
            timer_h=timer_h,
            done=lambda _transaction, absorb: self.done.append(absorb),
        )


def test_matching_follows_the_top_via() -> None:
    """Branch, sent-by and method (ACK as INVITE); without the magic cookie, the dialog fields."""
    branch = new_branch()
    inv = _request("INVITE", branch=branch)
    assert server_key(inv) == server_key(_request("ACK", branch=branch))
    assert server_key(inv) != server_key(_request("CANCEL", branch=branch))
    assert server_key(inv) != server_key(_request("INVITE"))
    moved = request(
        "INVITE",
        "sip:us@192.0.2.1",
        [("Via", f"SIP/2.0/UDP 192.0.2.8:5062;branch={branch}"), *inv.headers[1:]],
    )
    assert server_key(moved) != server_key(inv)  # same branch from another host: another transaction
    old = _request("INVITE", branch="1234", cseq=7)
    assert server_key(old) == server_key(_request("ACK", branch="5678", cseq=7))
    assert server_key(old) != server_key(_request("INVITE", branch="1234", cseq=8))


async def test_non_invite_trying_completed_and_repeats() -> None:
    """Nothing to repeat while Trying; the final goes again for every repeat; Timer J over UDP only."""
    recorder = _Recorder()
    options = _request("OPTIONS")
    server = recorder.transaction(options)
    assert server.state is ServerState.TRYING
    assert server.receive(options)  # absorbed: nothing sent yet
    assert recorder.sent == []
    server.respond(response_to(options, 200, to_tag="x"))
    assert server.state is ServerState.COMPLETED
    assert recorder.done == [TIMER_J]
    assert server.receive(options)
    server.respond(response_to(options, 500, to_tag="x"))  # a second final is never sent
    assert recorder.sent == [200, 200]
    reliable = _Recorder()
    over_tcp = reliable.transaction(_request("OPTIONS"), reliable=True)
    over_tcp.respond(response_to(over_tcp.request, 200, to_tag="x"))
    assert reliable.done == [0.0]


async def test_invite_failure_repeated_until_ack_then_confirmed() -> None:
    """Provisional repeats; Timer G doubles to T2 until the ACK; ACK repeats absorbed for Timer I."""
    recorder = _Recorder()
    inv = _request("INVITE")
    server = recorder.transaction(inv)
    server.respond(response_to(inv, 180, to_tag="x"))
    assert server.receive(inv)
    assert recorder.sent == [180, 180]
    server.respond(response_to(inv, 486, to_tag="x"))
    assert server.state is ServerState.COMPLETED
    await asyncio.sleep(1.7)  # Timer G: 0.5 s, then 1 s later
    assert recorder.sent == [180, 180, 486, 486, 486]
    assert server.receive(inv)  # the INVITE again: the failure again
    assert recorder.sent[-1] == 486
    ack = request("ACK", inv.uri or "", [(n, v.replace("INVITE", "ACK")) for n, v in inv.headers])
    assert server.receive(ack)
    await asyncio.sleep(0)
    assert server.state is ServerState.CONFIRMED
    assert recorder.done == [TIMER_I]
    sent = len(recorder.sent)
    await asyncio.sleep(1.2)
    assert len(recorder.sent) == sent  # no more repeats
    assert server.receive(ack)  # a repeated ACK is absorbed too


async def test_invite_failure_without_ack_ends_at_timer_h() -> None:
    """No ACK within Timer H: the transaction ends (and stops repeating)."""
    recorder = _Recorder()
    inv = _request("INVITE")
    server = recorder.transaction(inv, timer_h=0.8)
    server.respond(response_to(inv, 603, to_tag="x"))
    await asyncio.sleep(1.0)
    assert server.state is ServerState.TERMINATED
    assert recorder.done == [0.0]
    assert recorder.sent == [603, 603]  # at 0 and at T1


async def test_invite_accepted_absorbs_repeats_and_passes_the_cores_2xx() -> None:
    """After a 2xx the INVITE's repeats are absorbed (RFC 6026); the core's 2xx repeats go out."""
    recorder = _Recorder()
    inv = _request("INVITE")
    server = recorder.transaction(inv)
    ok = response_to(inv, 200, to_tag="x")
    server.respond(ok)
    assert server.state is ServerState.ACCEPTED
    assert recorder.done == [TIMER_L]
    assert server.receive(inv)
    assert recorder.sent == [200]
    server.respond(ok)  # the UA core repeating its 2xx until the ACK (RFC 3261 §13.3.1.4)
    server.respond(response_to(inv, 486, to_tag="x"))
    assert recorder.sent == [200, 200]
    # An ACK for the 2xx that reuses the INVITE's branch (RFC 2543 style) is the core's.
    ack = request("ACK", inv.uri or "", [(n, v.replace("INVITE", "ACK")) for n, v in inv.headers])
    assert not server.receive(ack)


@pytest.mark.usefixtures("socket_enabled")
async def test_a_repeated_request_gets_the_same_answer_and_the_layer_forgets(
    scripted: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPTIONS and a refused INVITE, repeated: the same response (same tag); gone after their timers."""
    monkeypatch.setattr(transaction, "TIMER_J", 0.5)
    monkeypatch.setattr(transaction, "TIMER_I", 0.5)
    inbox = Inbox()
    async with started(SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)) as phone:
        options = _request("OPTIONS")
        options = request(
            "OPTIONS",
            f"sip:us@127.0.0.1:{to(phone)[1]}",
            [("Via", f"SIP/2.0/UDP 127.0.0.1:{scripted.port};branch={new_branch()}"), *options.headers[1:]],
        )
        scripted.send(options, to(phone))
        first = await scripted.expect(200)
        scripted.send(options, to(phone))
        again = await scripted.expect(200)
        assert again.to_tag == first.to_tag  # the same response, not a second answer
        inv = invite(scripted, phone, call_id="refused")
        scripted.send(inv, to(phone))
        await scripted.expect(100)
        (await inbox.next()).reject(486)
        busy = await scripted.expect(486)
        scripted.send(inv, to(phone))
        assert (await scripted.expect(486)).to_tag == busy.to_tag
        scripted.send(ack_for_refusal(inv, busy), to(phone))
        scripted.send(ack_for_refusal(inv, busy), to(phone))  # a repeated ACK is absorbed
        await asyncio.sleep(1.0)
        assert inbox.calls.empty()
        assert phone.transactions.open_count == 0
        with pytest.raises(TimeoutError):
            await scripted.expect(486, within=0.5)
