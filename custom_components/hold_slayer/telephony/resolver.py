"""Where a SIP server is (RFC 3263): NAPTR and SRV records, then addresses, in the order to try.

A registrar or proxy given by an IP address is used as is; by a name with a port of its own,
its A records at that port. The transport's default port (5060, 5061 for TLS) stands for "no
port given": the domain's DNS then says where its SIP servers are. With the transport chosen
by the user, a NAPTR record of the domain whose service is that transport names the SRV
records to read (RFC 3263 §4.1); without one, the transport's usual SRV name
(``_sip._udp``, ``_sip._tcp``, ``_sips._tcp``). SRV targets are tried by priority, and within
a priority in a weighted random order (RFC 2782); a domain without SRV records is reached at
its A records on the default port. Every address of every target is a place to fail over to.

dnspython's asyncio resolver does the lookups (pure Python; the system's resolver settings are
read in an executor, since that reads files).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import dns.asyncresolver
import dns.exception
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from .account import DEFAULT_PORTS, Transport
from .errors import SipConnectionError

LOOKUP_TIMEOUT: Final = 4.0  # seconds for each DNS question, retries included
NAPTR_SERVICES: Final = {
    Transport.UDP: "SIP+D2U",
    Transport.TCP: "SIP+D2T",
    Transport.TLS: "SIPS+D2T",
}
SRV_PREFIXES: Final = {
    Transport.UDP: "_sip._udp",
    Transport.TCP: "_sip._tcp",
    Transport.TLS: "_sips._tcp",
}


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """One place to send to: the name it was found by (TLS checks it), its address and port."""

    host: str
    address: str
    port: int


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IP address literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SipResolver:
    """RFC 3263 server location over one DNS resolver (the system's, or a given server)."""

    def __init__(self, nameserver: tuple[str, int] | None = None) -> None:
        """``nameserver``: ask this DNS server (address, port) instead of the system's."""
        self.nameserver = nameserver
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._random = random.Random()  # noqa: S311 - SRV weights, not a secret

    async def locate(self, host: str, port: int, transport: Transport) -> list[ServerTarget]:
        """The targets for ``host`` in the order to try them; ``SipConnectionError`` when none."""
        if is_ip(host):
            return [ServerTarget(host, host, port)]
        if port != DEFAULT_PORTS[transport] and port != DEFAULT_PORTS[Transport.UDP]:
            return await self._addresses(host, port)
        targets: list[ServerTarget] = []
        for target, target_port in await self._services(host, transport):
            try:
                targets += await self._addresses(target, target_port)
            except SipConnectionError:
                continue  # a target without an address: the next one
        return targets or await self._addresses(host, DEFAULT_PORTS[transport])

    async def _services(self, host: str, transport: Transport) -> list[tuple[str, int]]:
        """SRV targets (name, port) for the transport, in the order RFC 2782 gives."""
        naptrs = [record for record in await self._query(host, "NAPTR") if isinstance(record, NAPTR)]
        names = [
            str(record.replacement).rstrip(".")
            for record in sorted(naptrs, key=lambda record: (record.order, record.preference))
            if record.flags.lower() == b"s" and record.service.upper() == NAPTR_SERVICES[transport].encode()
        ]
        for name in names or [f"{SRV_PREFIXES[transport]}.{host}"]:
            records = await self._query(name, "SRV")
            # A target of "." says the service is not offered here (RFC 2782).
            usable = [record for record in records if isinstance(record, SRV) and str(record.target) != "."]
            if usable:
                return [(str(record.target).rstrip("."), record.port) for record in self._srv_order(usable)]
        return []

    def _srv_order(self, records: Sequence[SRV]) -> list[SRV]:
        """By priority; within one, a weighted random draw (RFC 2782), zero weights last."""
        ordered: list[SRV] = []
        for priority in sorted({record.priority for record in records}):
            left = [record for record in records if record.priority == priority]
            while left:
                total = sum(record.weight for record in left)
                if total == 0:
                    ordered += left
                    break
                draw = self._random.uniform(0, total)
                running = 0
                for record in left:
                    running += record.weight
                    if record.weight and draw <= running:
                        ordered.append(record)
                        left.remove(record)
                        break
        return ordered

    async def _addresses(self, host: str, port: int) -> list[ServerTarget]:
        records = [record for record in await self._query(host, "A") if isinstance(record, A)]
        if not records:
            raise SipConnectionError(f"cannot resolve {host!r}: no address")
        return [ServerTarget(host, str(record.address), port) for record in records]

    async def _query(self, name: str, kind: str) -> list[dns.rdata.Rdata]:
        """The records of one question; none when the name or the type does not exist."""
        resolver = await self._ready()
        try:
            answer = await resolver.resolve(name, dns.rdatatype.from_text(kind), lifetime=LOOKUP_TIMEOUT)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout as err:
            raise SipConnectionError(f"DNS did not answer for {name!r}") from err
        except dns.exception.DNSException as err:  # a name DNS cannot ask for (a label too long)
            raise SipConnectionError(f"cannot look up {name!r}: {err}") from err
        return list(answer)

    async def _ready(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self.nameserver is not None:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [self.nameserver[0]]
                resolver.port = self.nameserver[1]
            else:
                # Reads /etc/resolv.conf: not in the event loop.
                resolver = await asyncio.get_running_loop().run_in_executor(None, dns.asyncresolver.Resolver)
            self._resolver = resolver
        return self._resolver
