"""Config entry data ⇄ the telephony layer's :class:`SipAccount`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME

from .const import (
    CONF_ADVANCED,
    CONF_AUTH_USERNAME,
    CONF_CALLER_ID,
    CONF_FROM_NUMBER,
    CONF_KEEPALIVE,
    CONF_KEEPALIVE_METHOD,
    CONF_OUTBOUND_PROXY,
    CONF_REWRITE_CONTACT,
    CONF_RTP_PORTS,
    CONF_SIP_PORTS,
    CONF_STUN_SERVER,
    CONF_TRANSPORT,
    CONF_TRUNK,
    DEFAULT_RTP_PORTS,
    DEFAULT_SIP_PORTS,
)
from .telephony import (
    DEFAULT_PORTS,
    KEEPALIVE_INTERVAL,
    STUN_PORT,
    KeepaliveMethod,
    PortRange,
    SipAccount,
    Transport,
)

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_RANGE = re.compile(r"^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$")
# A trunk's From number: E.164 or a national number, as the trunk's provider assigned it.
_FROM_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")
_NUMBER_PUNCTUATION = re.compile(r"[\s().-]")


class InvalidAccountFieldError(ValueError):
    """A field of the account form is unusable; ``field`` names it, ``error`` is the key."""

    def __init__(self, field: str, error: str) -> None:
        super().__init__(f"{field}: {error}")
        self.field = field
        self.error = error


def parse_port_range(text: str, field: str) -> PortRange:
    """``"5060-5080"`` or ``"5060"`` → :class:`PortRange`."""
    match = _RANGE.match(text or "")
    if not match:
        raise InvalidAccountFieldError(field, f"invalid_{field}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    try:
        return PortRange(low, high)
    except ValueError as err:
        raise InvalidAccountFieldError(field, f"invalid_{field}") from err


def parse_host_port(text: str, field: str) -> tuple[str, int | None]:
    """``"pbx.example.com:5070"`` → ``("pbx.example.com", 5070)``; the port is optional."""
    host, _, port = text.strip().partition(":")
    if not _HOST.match(host) or (port and (not port.isdigit() or not 0 < int(port) < 65536)):
        raise InvalidAccountFieldError(field, f"invalid_{field}")
    return host.lower(), int(port) if port else None


def from_number(text: str) -> str:
    """A trunk's From number as the form gave it → its digits (``+`` kept); raise when it is none."""
    number = _NUMBER_PUNCTUATION.sub("", text or "")
    if not _FROM_NUMBER.match(number):
        raise InvalidAccountFieldError(CONF_FROM_NUMBER, f"invalid_{CONF_FROM_NUMBER}")
    return number


def account_from_data(data: Mapping[str, Any]) -> SipAccount:
    """Build the account from config entry data (or a submitted form); raise on bad fields.

    A trunk (``trunk``) does not register: our number is the user of From and Contact (trunks
    authorise calls by it), and the optional username and password answer its challenges.
    """
    advanced: Mapping[str, Any] = data.get(CONF_ADVANCED) or {}
    trunk = bool(data.get(CONF_TRUNK))
    username = (data.get(CONF_USERNAME) or "").strip()
    host, _ = parse_host_port(data[CONF_HOST], CONF_HOST)
    transport = Transport(data.get(CONF_TRANSPORT, Transport.UDP))
    proxy_host: str | None = None
    proxy_port: int | None = None
    if proxy := (advanced.get(CONF_OUTBOUND_PROXY) or "").strip():
        proxy_host, proxy_port = parse_host_port(proxy, CONF_OUTBOUND_PROXY)
        proxy_port = proxy_port or DEFAULT_PORTS[transport]
    stun_host: str | None = None
    stun_port: int | None = None
    if stun := (advanced.get(CONF_STUN_SERVER) or "").strip():
        stun_host, stun_port = parse_host_port(stun, CONF_STUN_SERVER)
    sip_ports = parse_port_range(advanced.get(CONF_SIP_PORTS, DEFAULT_SIP_PORTS), CONF_SIP_PORTS)
    rtp_ports = parse_port_range(advanced.get(CONF_RTP_PORTS, DEFAULT_RTP_PORTS), CONF_RTP_PORTS)
    if len(rtp_ports) < 2:
        raise InvalidAccountFieldError(CONF_RTP_PORTS, f"invalid_{CONF_RTP_PORTS}")
    return SipAccount(
        registrar=host,
        username=from_number(data.get(CONF_FROM_NUMBER, "")) if trunk else username,
        password=data.get(CONF_PASSWORD) or "",
        port=int(data.get(CONF_PORT) or DEFAULT_PORTS[transport]),
        transport=transport,
        auth_username=(username or None)
        if trunk
        else (advanced.get(CONF_AUTH_USERNAME) or "").strip() or None,
        outbound_proxy=proxy_host,
        outbound_proxy_port=proxy_port,
        caller_id=(data.get(CONF_CALLER_ID) or "").strip() or None,
        sip_ports=sip_ports,
        rtp_ports=rtp_ports,
        keepalive_interval=float(advanced.get(CONF_KEEPALIVE, KEEPALIVE_INTERVAL)),
        keepalive_method=KeepaliveMethod(advanced.get(CONF_KEEPALIVE_METHOD, KeepaliveMethod.CRLF)),
        rewrite_contact=bool(advanced.get(CONF_REWRITE_CONTACT, True)),
        stun_server=stun_host,
        stun_port=stun_port or STUN_PORT,
        registers=not trunk,
    )
