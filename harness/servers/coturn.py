"""A real STUN server (Debian ``coturn``, its ``turnserver`` in STUN-only mode).

What a user names under Advanced → STUN server: tests run it on 127.0.0.1, or on the WAN side of
the home router of :mod:`harness.netns`, where it reports the router's public address.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.servers.kamailio import free_port, ports_in_use, stop_process

if TYPE_CHECKING:
    from harness.netns import Namespace

READY_TIMEOUT = 15.0


class StunServerUnavailableError(RuntimeError):
    """coturn is missing or did not come up: fail loudly, never skip."""


@dataclass(frozen=True, slots=True)
class StunServer:
    """Where a running STUN server listens."""

    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port``, as the advanced option takes it."""
        return f"{self.host}:{self.port}"


def _bound(port: int, netns: Namespace | None) -> bool:
    return netns.bound(port) if netns else port in ports_in_use()


@contextlib.contextmanager
def run_stun_server(
    host: str = "127.0.0.1", port: int | None = None, *, netns: Namespace | None = None
) -> Iterator[StunServer]:
    """Start coturn as a STUN-only server on ``host`` (inside ``netns`` if given); always stop it."""
    binary = shutil.which("turnserver")
    if binary is None:
        raise StunServerUnavailableError("coturn is not installed: run script/setup (apt-get install coturn)")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="hs-coturn-") as tmp:
        log = Path(tmp) / "turnserver.log"
        command = [
            binary,
            "--stun-only",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--no-rfc5780",
            "--listening-ip",
            host,
            "--listening-port",
            str(port),
            "--log-file",
            str(log),
            "--simple-log",
            "--pidfile",
            str(Path(tmp) / "turnserver.pid"),
            "-n",  # no configuration file: only these options
        ]
        with (Path(tmp) / "stdout.log").open("wb") as out:
            proc = subprocess.Popen(
                netns.command(command) if netns else command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not _bound(port, netns):
                if proc.poll() is not None or time.monotonic() > deadline:
                    text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                    raise StunServerUnavailableError(f"coturn did not listen on {host}:{port}:\n{text}")
                time.sleep(0.05)
            yield StunServer(host, port)
        finally:
            stop_process(proc)
