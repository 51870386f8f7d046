"""The SIP account: everything needed to register and place calls, free of HA types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Transport(StrEnum):
    """SIP signalling transports the engine supports (rfcvoip: UDP, TCP, TLS)."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


DEFAULT_PORTS: dict[Transport, int] = {
    Transport.UDP: 5060,
    Transport.TCP: 5060,
    Transport.TLS: 5061,
}


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive range of local ports."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 65535:
            raise ValueError(f"invalid port range {self.low}-{self.high}")

    def ports(self) -> range:
        """Every port in the range, lowest first."""
        return range(self.low, self.high + 1)

    def __len__(self) -> int:
        return self.high - self.low + 1


STUN_PORT = 3478  # RFC 8489 §18.4
DEFAULT_SIP_PORTS = PortRange(5060, 5080)
DEFAULT_RTP_PORTS = PortRange(10000, 10999)
# Under the 30-120 s a home router keeps a quiet UDP mapping; each wait is 85-100 % of it
# (RFC 5626 §4.4.1 jitter).
KEEPALIVE_INTERVAL = 30.0


class KeepaliveMethod(StrEnum):
    """What a keep-alive is: an empty line (RFC 5626 §3.5.1), or an OPTIONS request (RFC 3261 §11)."""

    CRLF = "crlf"
    OPTIONS = "options"


@dataclass(frozen=True, slots=True)
class SipAccount:
    """A SIP account at a registrar (a PBX or an internet telephony provider)."""

    registrar: str
    username: str
    password: str = field(repr=False)
    port: int = 5060
    transport: Transport = Transport.UDP
    auth_username: str | None = None
    outbound_proxy: str | None = None
    outbound_proxy_port: int | None = None
    caller_id: str | None = None
    sip_ports: PortRange = DEFAULT_SIP_PORTS
    rtp_ports: PortRange = DEFAULT_RTP_PORTS
    # Double-CRLF pings (RFC 5626 §3.5.1) to the registrar/proxy while registered or in a call,
    # so a home router's UDP pinhole stays open between REGISTERs; 0 turns them off.
    keepalive_interval: float = KEEPALIVE_INTERVAL
    # OPTIONS instead, for registrars that drop a binding they hear no request on (an empty
    # line is not one to them) or that do not let an empty line through.
    keepalive_method: KeepaliveMethod = KeepaliveMethod.CRLF
    # Adopt the public address the registrar reports in the REGISTER response's Via
    # (received/rport, RFC 3581) for Contact, and for SDP when our host is behind NAT.
    rewrite_contact: bool = True
    # A STUN server (RFC 8489) to ask for the public address of the SIP socket, for Contact and
    # SDP behind NAT: a trunk's only source of it, and a registered account's before the
    # registrar reports one. UDP only (over TCP/TLS requests to us use our connection).
    stun_server: str | None = None
    stun_port: int = STUN_PORT
    # False: a trunk that takes our calls without REGISTER (it knows our IP address, or
    # challenges each call); ``registrar`` is then its termination host.
    registers: bool = True

    @property
    def aor(self) -> str:
        """The address of record, ``username@registrar`` (also the config entry's unique id)."""
        return f"{self.username}@{self.registrar}"
