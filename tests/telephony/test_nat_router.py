"""A long hold behind a home router (issue 16): the NAT binding must outlive the router's timeout.

Hold Slayer runs in the ``home`` namespace of :mod:`harness.netns`, behind a masquerading
router that forgets an idle UDP mapping after 20 s (and gives a new one a random port), and
registers at a real Kamailio with ``nathelper`` on the WAN side. It calls ``sipp`` as the
company through Kamailio; the company answers with a session timer it refreshes itself, then
sends nothing on the signalling path for more than three router timeouts, holds the call with a
refresh re-INVITE, resumes it with another after more than one timeout, and hangs up after one
more. Each of these requests reaches Hold Slayer only through the binding its keep-alive pings
hold open: without them the first refresh is lost and the call ends on the session timer instead.
A trunk without registration learns the router's address from a STUN server (coturn) instead.
"""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.telephony import STUN_PORT
from harness.home_phone import home_phone
from harness.netns import PUBLIC_IP, home_router
from harness.servers.coturn import run_stun_server
from harness.servers.kamailio import run_registrar
from harness.servers.sipp import Traced, sipp_peer

pytestmark = pytest.mark.usefixtures("socket_enabled")

CONNTRACK_TIMEOUT = 20  # s: how long the router keeps an idle UDP mapping
KEEPALIVE = 15.0  # s: the account's keep-alive setting, under the router's timeout
SESSION_EXPIRES = 120  # s: the company's session timer; without a refresh we hang up at 88 s
MUSIC_S = 3 * CONNTRACK_TIMEOUT + 5  # answered, RTP flowing, no SIP: then the hold
HOLD_S = CONNTRACK_TIMEOUT + 5  # held (a=inactive: no RTP either): then the resume
LAST_S = CONNTRACK_TIMEOUT + 5  # resumed: then the company's BYE
PROMPT = 1.0  # s: each request from the far end is answered, and the BYE ends the call, within this
USERS = {"alice": "pw"}


def _answered_within(trace: list[Traced], method: str) -> list[float]:
    """For each request of ``method`` sipp sent: seconds until its 200 arrived."""
    delays = []
    for index, sent in enumerate(trace):
        if sent.sent and sent.start_line.startswith(method) and sent.cseq.endswith(method):
            answer = next(
                (
                    later
                    for later in trace[index + 1 :]
                    if not later.sent
                    and later.start_line.startswith("SIP/2.0 200")
                    and later.cseq == sent.cseq
                ),
                None,
            )
            assert answer is not None, f"no 200 to {method} {sent.cseq}"
            delays.append(answer.at - sent.at)
    return delays


def _assert_ended_by_the_bye(trace: list[Traced], ended_at: float) -> None:
    """The call ended within ``PROMPT`` of the BYE sipp sent.

    sipp stamps its trace once the BYE is sent: our receipt may come a millisecond before that.
    """
    bye = next(message for message in trace if message.sent and message.start_line.startswith("BYE"))
    assert -0.01 <= ended_at - bye.at < PROMPT, ended_at - bye.at


@pytest.mark.timeout(240)
async def test_long_hold_behind_a_home_router() -> None:
    """Registered through the NAT, the call survives quiet periods past the router's timeout."""
    within = MUSIC_S + HOLD_S + LAST_S + 30
    values = {
        "SESSION_EXPIRES": SESSION_EXPIRES,
        "CYCLES": 1,
        "MUSIC_MS": MUSIC_S * 1000,
        "HOLD_MS": HOLD_S * 1000,
        "LAST_MS": LAST_S * 1000,
    }
    with (
        home_router(CONNTRACK_TIMEOUT) as router,
        run_registrar(USERS, 5060, host=router.registrar_ip, nat=True, netns=router.wan) as registrar,
    ):
        async with sipp_peer(
            "nat_hold.xml", values, host=router.far_end_ip, netns=router.wan, rtp_echo=True, timeout=within
        ) as company:
            async with home_phone(
                router,
                f"{registrar.host}:{registrar.port}",
                "alice",
                USERS["alice"],
                company.uri,
                keepalive=KEEPALIVE,
                within=within,
            ) as phone:
                # The phone's process starts inside the home network first (without Home
                # Assistant it imports in about a second).
                registered = await phone.event("registered", within=20)
                # Kamailio reported the router's address; our Contact and SDP use it.
                public_ip, public_port = registered["public"]
                assert public_ip == router.public_ip
                assert registered["contact"] == f"<sip:alice@{public_ip}:{public_port}>"
                assert registered["media_address"] == public_ip
                assert registered["public_from"] == "registrar"
                await phone.event("answered", within=10)
                ended = await phone.event("ended", within=within)
                assert ended["cause"] == "remote_hangup", (ended, phone.log_tail())
                # The binding Kamailio knows is still the router's: it never lapsed (a new one
                # would have another, random, port).
                mappings = router.udp_mappings()
                await phone.event("stopped", within=15)
            await company.succeeded(within=10)  # both re-INVITEs answered 200 (inactive, sendrecv)
            trace = company.trace()

    assert ended["session_refreshes"] == 2  # the hold and the resume, each a session refresh
    assert ended["datagrams_dropped"] == 0
    assert ended["keepalives_sent"] >= int(ended["seconds"] / KEEPALIVE)
    assert any(f"sport=5060 dport={public_port} " in line for line in mappings), mappings
    reinvites = _answered_within(trace, "INVITE")  # sipp sends only the re-INVITEs
    assert len(reinvites) == 2
    assert all(delay < PROMPT for delay in reinvites), reinvites
    _assert_ended_by_the_bye(trace, ended["at"])


TRUNK_NUMBER = "+14155550100"
TRUNK_QUIET_S = 2 * CONNTRACK_TIMEOUT + 5  # answered, then nothing on the signalling path: then the BYE


@pytest.mark.timeout(180)
async def test_trunk_behind_a_home_router_learns_its_address_by_stun() -> None:
    """A trunk without registration: no registrar reports our public address, a STUN server does.

    The router keeps each local port's public port for every destination (as most home routers
    do), so what coturn on the WAN side sees is what the trunk sees. The trunk (sipp) fails
    unless the INVITE's Contact and SDP already name the router's address, and its BYE after
    two router timeouts reaches us through the binding our keep-alive pings hold open.
    """
    within = TRUNK_QUIET_S + 30
    values = {"PUBLIC_RE": PUBLIC_IP.replace(".", r"\."), "QUIET_MS": TRUNK_QUIET_S * 1000}
    with (
        home_router(CONNTRACK_TIMEOUT, port_preserving=True) as router,
        run_stun_server(router.registrar_ip, STUN_PORT, netns=router.wan) as stun,
    ):
        async with sipp_peer(
            "nat_trunk.xml", values, host=router.far_end_ip, netns=router.wan, rtp_echo=True, timeout=within
        ) as trunk:
            async with home_phone(
                router,
                f"{trunk.host}:{trunk.port}",
                TRUNK_NUMBER,
                "",
                f"sip:carrier@{trunk.host}:{trunk.port}",
                trunk=True,
                stun=stun.address,
                keepalive=KEEPALIVE,
                within=within,
            ) as phone:
                started = await phone.event("registered", within=20)
                await phone.event("answered", within=10)
                try:
                    ended = await phone.event("ended", within=within)
                except AssertionError as err:
                    raise AssertionError(f"{err}\n{trunk.logs()}") from None
                await phone.event("stopped", within=15)
            await trunk.succeeded(within=10)  # Contact and SDP named the router; the BYE was answered
            trace = trunk.trace()

    public_ip, public_port = started["public"]
    assert public_ip == PUBLIC_IP
    assert started["contact"] == f"<sip:{TRUNK_NUMBER}@{public_ip}:{public_port}>"
    assert started["media_address"] == public_ip
    assert started["public_from"] == "stun"
    assert ended["cause"] == "remote_hangup", (ended, phone.log_tail())
    assert ended["keepalives_sent"] >= int(ended["seconds"] / KEEPALIVE)
    _assert_ended_by_the_bye(trace, ended["at"])
