"""SIP accounts for calls against real peers on 127.0.0.1, with free local port ranges."""

from __future__ import annotations

from typing import Any

from custom_components.hold_slayer.telephony import PortRange, SipAccount
from harness.servers.kamailio import free_port


def make_account(host: str, port: int, username: str, password: str, **options: Any) -> SipAccount:
    """An account with free local SIP and RTP port ranges."""
    low = free_port(30000, 39000)
    rtp = free_port(40000, 40999, span=100, step=100)  # the whole range free, not only its first port
    return SipAccount(
        host,
        username,
        password,
        port=port,
        sip_ports=PortRange(low, low + 5),
        rtp_ports=PortRange(rtp, rtp + 99),
        **options,
    )


def direct_account(peer_port: int) -> SipAccount:
    """An account that sends everything straight to a peer on ``peer_port`` (no registrar)."""
    return make_account("127.0.0.1", peer_port, "slayer", "unused")
