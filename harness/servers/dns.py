"""A real DNS server (Debian ``dnsmasq``) on 127.0.0.1 that answers a SIP domain's records.

For the RFC 3263 tests: NAPTR, SRV and A records of made-up names, nothing forwarded, nothing
read from the host's files. A missing ``dnsmasq`` fails loudly.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.servers.kamailio import free_port, ports_in_use

READY_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Srv:
    """An SRV record: ``name`` (``_sip._udp.example.test``) points at ``target``:``port``."""

    name: str
    target: str
    port: int
    priority: int = 10
    weight: int = 10


@dataclass(frozen=True, slots=True)
class Naptr:
    """A NAPTR record of ``name`` whose ``service`` (``SIP+D2U``) is at the SRV name ``replacement``."""

    name: str
    service: str
    replacement: str
    order: int = 10
    preference: int = 10


@contextlib.contextmanager
def dns_server(
    *,
    hosts: dict[str, str],
    srv: Sequence[Srv] = (),
    naptr: Sequence[Naptr] = (),
) -> Iterator[tuple[str, int]]:
    """Run dnsmasq with these records; yields its (address, port)."""
    binary = shutil.which("dnsmasq")
    if binary is None:
        raise RuntimeError("dnsmasq is not installed: apt-get install dnsmasq-base (script/setup)")
    port = free_port(20000, 29000)
    args = [
        binary,
        "--keep-in-foreground",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--conf-file=/dev/null",
        "--log-facility=-",
        "--pid-file=",
        *[f"--host-record={name},{address}" for name, address in hosts.items()],
        *[f"--srv-host={r.name},{r.target},{r.port},{r.priority},{r.weight}" for r in srv],
        *[f"--naptr-record={r.name},{r.order},{r.preference},S,{r.service},,{r.replacement}" for r in naptr],
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while port not in ports_in_use():
            if process.poll() is not None:
                raise RuntimeError(
                    f"dnsmasq exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("dnsmasq did not come up")
            time.sleep(0.05)
        yield ("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
