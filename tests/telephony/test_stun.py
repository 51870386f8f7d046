"""STUN from the SIP socket against a real STUN server (coturn) on 127.0.0.1.

Behind a real router: ``test_nat_router.py`` (a trunk learns the router's address this way).
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from aioice import stun

from custom_components.hold_slayer.telephony import RegistrationState, SipPhone, SipStunError
from custom_components.hold_slayer.telephony import stun as stun_module
from harness.accounts import make_account
from harness.servers.coturn import run_stun_server
from harness.servers.kamailio import free_port, run_registrar

from .conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _trunk(stun_port: int) -> SipPhone:
    """A trunk phone (no registration: starting it sends nothing but STUN) asking ``stun_port``."""
    account = make_account(
        "127.0.0.1",
        free_port(),
        "+14155550100",
        "",
        registers=False,
        stun_server="127.0.0.1",
        stun_port=stun_port,
    )
    return SipPhone(account, register=False)


def _count_asks(phone: SipPhone) -> list[tuple[str, int]]:
    """The STUN servers ``phone`` asks from now on, one entry per Binding transaction."""
    asked: list[tuple[str, int]] = []
    ask = phone.stun.mapped_address

    async def counted(server: tuple[str, int]) -> tuple[str, int]:
        asked.append(server)
        return await ask(server)

    phone.stun.mapped_address = counted  # type: ignore[method-assign]
    return asked


async def test_stun_answer_is_read_from_the_sip_socket() -> None:
    """coturn's answer names the SIP socket's own address: on loopback there is no NAT, so no
    public address is adopted and Contact stays local."""
    with run_stun_server() as server:
        phone = _trunk(server.port)
        async with started(phone):
            local = ("127.0.0.1", phone.transport.local_port)
            assert await phone.stun.mapped_address(("127.0.0.1", server.port)) == local
            assert phone.public_address is None
            assert phone.contact == f"<sip:+14155550100@127.0.0.1:{local[1]}>"
            assert phone.stun.dropped == 0
            assert phone.transport.dropped == 0


@pytest.mark.parametrize(("adopt_report", "asked_at_least"), [(True, 1), (False, 3)])
async def test_registered_account_asks_stun_before_registering(
    adopt_report: bool, asked_at_least: int
) -> None:
    """A registered account asks the STUN server first, then registers. Once the registrar reports
    where it saw us (Kamailio adds ``rport``), its report rules and STUN is not asked again;
    while no report is taken (the account ignores reports), each refresh asks again."""
    with run_stun_server() as server, run_registrar({"alice": "pw"}, max_expires=1) as registrar:
        account = make_account(
            registrar.host,
            registrar.port,
            "alice",
            "pw",
            stun_server="127.0.0.1",
            stun_port=server.port,
            rewrite_contact=adopt_report,
        )
        phone = SipPhone(account, expires=60)
        phone.refresh_floor = 0.3  # the registrar grants 1 s: a refresh every 0.3 s
        asked = _count_asks(phone)
        async with started(phone):
            assert phone.status.state is RegistrationState.REGISTERED
            assert asked == [("127.0.0.1", server.port)]
            await asyncio.sleep(1.5)  # about four refreshes
            assert phone.status.state is RegistrationState.REGISTERED
            assert phone.public_address is None
    if adopt_report:
        assert len(asked) == 1, asked
    else:
        assert len(asked) >= 3, asked


async def test_trunk_checks_its_public_address_again() -> None:
    """A trunk (no registrar to report) asks the STUN server again every ``stun_refresh`` s."""
    with run_stun_server() as server:
        phone = _trunk(server.port)
        phone.stun_refresh = 0.2
        asked = _count_asks(phone)
        async with started(phone):
            await asyncio.sleep(0.9)
            assert phone.public_address is None
    assert len(asked) >= 4, asked  # at start, then every 0.2 s


async def test_silent_stun_server_fails_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A STUN server that never answers fails start-up with a STUN error (the config flow says
    so), after its retransmissions."""
    monkeypatch.setattr(stun_module, "RETRANSMISSIONS", 1)  # 0 and 0.5 s, given up at 1.5 s
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        phone = _trunk(silent.getsockname()[1])
        with pytest.raises(SipStunError, match="no answer from the STUN server"):
            await phone.start()
        assert phone.status.state is RegistrationState.FAILED
        requests = []
        silent.setblocking(False)
        while True:
            try:
                requests.append(stun.parse_message(silent.recv(2048)))
            except BlockingIOError:
                break
        assert len(requests) == 2  # the request and one retransmission, the same transaction
        assert {request.transaction_id for request in requests} == {requests[0].transaction_id}
        assert requests[0].message_method is stun.Method.BINDING
    finally:
        silent.close()
        await phone.stop()


async def test_stun_server_that_is_not_found() -> None:
    """A STUN server name that does not resolve is a STUN error, not a hang."""
    account = make_account(
        "127.0.0.1", free_port(), "+14155550100", "", registers=False, stun_server="stun.invalid"
    )
    phone = SipPhone(account, register=False)
    with pytest.raises(SipStunError, match=r"stun\.invalid not found"):
        await phone.start()


async def test_stray_stun_datagrams_are_dropped() -> None:
    """A STUN request to us, an answer to nothing we asked and a truncated message are counted
    and dropped; SIP on the same socket still works (coturn still answers us)."""
    with run_stun_server() as server:
        phone = _trunk(server.port)
        async with started(phone):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                to = ("127.0.0.1", phone.transport.local_port)
                request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
                answer = stun.Message(
                    stun.Method.BINDING,
                    stun.Class.RESPONSE,
                    attributes={"XOR-MAPPED-ADDRESS": ("1.2.3.4", 5)},
                )
                for data in (bytes(request), bytes(answer), bytes(answer)[:-3]):
                    sender.sendto(data, to)
                for _ in range(100):
                    if phone.stun.dropped == 3:
                        break
                    await asyncio.sleep(0.02)
            finally:
                sender.close()
            assert phone.stun.dropped == 3
            assert phone.transport.dropped == 0
            assert await phone.stun.mapped_address(("127.0.0.1", server.port)) == to
            assert phone.public_address is None


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (stun.Class.ERROR, "answered 400"),
        (stun.Class.RESPONSE, "did not say our address"),
    ],
    ids=["error-response", "no-address"],
)
async def test_stun_answers_without_an_address(answer: stun.Class, error: str) -> None:
    """A server that answers with an error, or with a success that names no address, is a STUN
    error at once (no waiting out the retransmissions). A scripted server: coturn does neither."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    loop = asyncio.get_running_loop()

    async def answer_once() -> None:
        data, source = await loop.sock_recvfrom(server, 2048)
        request = stun.parse_message(data)
        attributes = {"ERROR-CODE": (400, "Bad Request")} if answer is stun.Class.ERROR else {}
        reply = stun.Message(stun.Method.BINDING, answer, request.transaction_id, attributes)
        await loop.sock_sendto(server, bytes(reply), source)

    answering = asyncio.create_task(answer_once())
    phone = _trunk(server.getsockname()[1])
    try:
        async with asyncio.timeout(1.0):  # long before the 7.5 s of retransmissions
            with pytest.raises(SipStunError, match=error):
                await phone.start()
        await answering
    finally:
        answering.cancel()
        server.close()
        await phone.stop()
