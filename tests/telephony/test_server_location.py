"""Finding the registrar through DNS (RFC 3263), against a real DNS server and registrar on 127.0.0.1.

dnsmasq answers made-up names; Kamailio registers; a scripted server plays the one that fails.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from contextlib import AbstractContextManager

import dns.name
import pytest
from dns.rdtypes.IN.SRV import SRV

from custom_components.hold_slayer.telephony import (
    RegistrationState,
    SipAuthError,
    SipConnectionError,
    SipPhone,
)
from custom_components.hold_slayer.telephony.account import Transport
from custom_components.hold_slayer.telephony.resolver import ServerTarget, SipResolver
from custom_components.hold_slayer.telephony.sipmsg import response_to
from harness.accounts import direct_account, make_account
from harness.servers.dns import Naptr, Srv, dns_server
from harness.servers.kamailio import Registrar, free_port
from harness.servers.scripted_peer import ScriptedPeer, answer_sdp
from harness.waiting import until
from tests.telephony.conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")

USER, PASSWORD = "alice", "correct-horse"
DOMAIN = "example.test"


def _phone(nameserver: tuple[str, int], host: str = DOMAIN, port: int = 5060, **kw: object) -> SipPhone:
    phone = SipPhone(make_account(host, port, USER, PASSWORD), **kw)  # type: ignore[arg-type]
    phone.resolver = SipResolver(nameserver)
    return phone


def _first_then(first_port: int, registrar: Registrar) -> AbstractContextManager[tuple[str, int]]:
    """DNS of a domain whose SRV records put a server on ``first_port`` before the registrar."""
    return dns_server(
        hosts={"a.example.test": "127.0.0.1", "b.example.test": registrar.host},
        srv=[
            Srv("_sip._udp.example.test", "a.example.test", first_port, priority=10),
            Srv("_sip._udp.example.test", "b.example.test", registrar.port, priority=20),
        ],
    )


async def test_srv_records_name_the_registrar(registrar: Registrar) -> None:
    """A domain with the default port: its SRV record says where SIP is."""
    with dns_server(
        hosts={"pbx.example.test": registrar.host},
        srv=[Srv("_sip._udp.example.test", "pbx.example.test", registrar.port)],
    ) as nameserver:
        phone = _phone(nameserver)
        try:
            await phone.start()
            assert phone.status.state is RegistrationState.REGISTERED
            assert phone._server == (registrar.host, registrar.port)
        finally:
            await phone.stop()


async def test_a_naptr_record_names_the_srv_records_of_the_transport(registrar: Registrar) -> None:
    """NAPTR of the domain → the SRV name for UDP (another transport's record is passed over)."""
    with dns_server(
        hosts={"edge.provider.test": registrar.host},
        naptr=[
            Naptr(DOMAIN, "SIP+D2T", "_sip._tcp.provider.test", order=5),
            Naptr(DOMAIN, "SIP+D2U", "_sip._udp.provider.test", order=10),
        ],
        srv=[
            Srv("_sip._udp.provider.test", "edge.provider.test", registrar.port),
            Srv("_sip._udp.example.test", "edge.provider.test", free_port()),  # not read: NAPTR wins
        ],
    ) as nameserver:
        phone = _phone(nameserver)
        try:
            await phone.start()
            assert phone._server == (registrar.host, registrar.port)
        finally:
            await phone.stop()


async def test_a_server_that_does_not_answer_hands_over_to_the_next(registrar: Registrar) -> None:
    """Priority 10 is silent: after its transaction times out, priority 20 registers us."""
    silent = ScriptedPeer()
    await silent.start()
    with _first_then(silent.port, registrar) as nameserver:
        phone = _phone(nameserver, transaction_timeout=0.5)
        try:
            await phone.start()
            assert (await silent.expect("REGISTER")).method == "REGISTER"
            assert phone.status.state is RegistrationState.REGISTERED
            assert phone._server == (registrar.host, registrar.port)
        finally:
            await phone.stop()
            await silent.close()


async def test_a_503_hands_over_but_a_refusal_of_the_password_does_not(registrar: Registrar) -> None:
    """503 Service Unavailable: the next server. 401 with our own credentials: the server's word."""
    busy = ScriptedPeer()
    await busy.start()

    async def unavailable() -> None:
        while True:
            busy.reply(await busy.expect("REGISTER", within=30), 503)

    answering = asyncio.create_task(unavailable())
    with _first_then(busy.port, registrar) as nameserver:
        phone = _phone(nameserver)
        wrong = SipPhone(make_account(DOMAIN, 5060, USER, "wrong"))
        wrong.resolver = SipResolver(nameserver)
        try:
            await phone.start()
            assert phone._server == (registrar.host, registrar.port)
            with pytest.raises(SipAuthError):
                await wrong.start()
        finally:
            answering.cancel()
            await phone.stop()
            await wrong.stop()
            await busy.close()


async def test_a_refresh_that_fails_moves_to_the_next_server(registrar: Registrar) -> None:
    """Registered at the first server, which then stops answering: the refresh goes to the second."""
    first = ScriptedPeer()
    await first.start()
    with _first_then(first.port, registrar) as nameserver:
        phone = _phone(nameserver, expires=2, transaction_timeout=0.5)
        phone.refresh_floor = 0.2
        phone.retry_first = 0.2
        phone.retry_max = 0.5
        states: list[RegistrationState] = []
        phone.async_listen(lambda status: states.append(status.state))
        try:
            starting = asyncio.create_task(phone.start())
            first.reply(await first.expect("REGISTER"), 200, headers=[("Expires", "2")])
            await starting
            assert phone._server == ("127.0.0.1", first.port)
            await first.expect("REGISTER", within=5)  # the refresh, never answered
            await until(
                lambda: phone._server == (registrar.host, registrar.port)
                and states[-1] is RegistrationState.REGISTERED
            )
            assert RegistrationState.FAILED in states
        finally:
            await phone.stop()
            await first.close()


async def test_a_port_of_its_own_is_used_as_given(registrar: Registrar) -> None:
    """A host with a port other than the default: its address at that port, no SRV."""
    with dns_server(
        hosts={"pbx.example.test": registrar.host},
        srv=[Srv("_sip._udp.pbx.example.test", "pbx.example.test", free_port())],
    ) as nameserver:
        phone = _phone(nameserver, host="pbx.example.test", port=registrar.port)
        try:
            await phone.start()
            assert phone._server == (registrar.host, registrar.port)
        finally:
            await phone.stop()


async def test_a_domain_without_srv_records_is_reached_at_its_address() -> None:
    with dns_server(hosts={"plain.test": "127.0.0.9"}) as nameserver:
        resolver = SipResolver(nameserver)
        assert await resolver.locate("plain.test", 5060, Transport.UDP) == [
            ServerTarget("plain.test", "127.0.0.9", 5060)
        ]
        assert await resolver.locate("plain.test", 5061, Transport.TLS) == [
            ServerTarget("plain.test", "127.0.0.9", 5061)
        ]
        assert await resolver.locate("10.1.2.3", 5060, Transport.UDP) == [
            ServerTarget("10.1.2.3", "10.1.2.3", 5060)
        ]
        with pytest.raises(SipConnectionError, match="cannot look up"):
            await resolver.locate("a" * 70 + ".test", 5060, Transport.UDP)
        with pytest.raises(SipConnectionError, match="no address"):
            await resolver.locate("missing.test", 5060, Transport.UDP)


def test_srv_order_is_by_priority_then_by_weight() -> None:
    """RFC 2782: lower priority first; within one, heavier weights first more often; zero weights last."""
    resolver = SipResolver()
    resolver._random = random.Random(5)  # a fixed draw for the test

    def record(target: str, priority: int, weight: int) -> SRV:
        return SRV(1, 33, priority, weight, 5060, dns.name.from_text(target))

    heavy, light, spare, backup = (
        record("heavy.test", 10, 90),
        record("light.test", 10, 10),
        record("spare.test", 10, 0),
        record("backup.test", 20, 50),
    )
    firsts: Counter[str] = Counter()
    for _ in range(2000):
        order = resolver._srv_order([light, spare, backup, heavy])
        assert [str(r.target) for r in order[2:]] == ["spare.test.", "backup.test."]
        firsts[str(order[0].target)] += 1
    assert 1650 < firsts["heavy.test."] < 1950


async def test_host_names_inside_a_dialog_are_looked_up() -> None:
    """The answer's Contact names a host: ACK and BYE go where DNS says, not to the first peer.

    A direct line (no registrar) dials the edge at 127.0.0.1; its 200 hands the dialog to
    ``far.example.test`` with no port, so the SRV record gives it. Before, such a name was sent
    to the server we dialled.
    """
    edge, far = ScriptedPeer(), ScriptedPeer()
    await edge.start()
    await far.start()
    try:
        with dns_server(
            hosts={"far.example.test": "127.0.0.1"},
            srv=[Srv("_sip._udp.far.example.test", "far.example.test", far.port)],
        ) as nameserver:
            phone = SipPhone(direct_account(edge.port), register=False)
            phone.resolver = SipResolver(nameserver)
            async with started(phone):
                call = await phone.dial(f"sip:company@127.0.0.1:{edge.port}")
                invite = await edge.expect("INVITE")
                assert invite.source is not None
                ok = response_to(
                    invite,
                    200,
                    to_tag=edge.tag,
                    headers=[("Contact", "<sip:peer@far.example.test>"), ("Content-Type", "application/sdp")],
                    body=answer_sdp(far.rtp_port),
                )
                edge.send(ok, invite.source)
                assert (await far.expect("ACK")).cseq == invite.cseq
                await call.wait_answered()
                hanging_up = asyncio.create_task(call.hangup())
                bye = await far.expect("BYE")
                far.reply(bye, 200)
                await hanging_up
            assert edge.received.empty()  # nothing of the dialog went to the edge after its 200
    finally:
        await edge.close()
        await far.close()
