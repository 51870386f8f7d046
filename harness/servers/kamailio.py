"""A real SIP registrar (Debian ``kamailio``) with digest authentication on 127.0.0.1.

Used by the tests (as a fixture) and by ``script/develop`` (as a process), so both talk to the
same independent SIP stack a user's PBX would be.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

KAMAILIO = "/usr/sbin/kamailio"
TEMPLATE = Path(__file__).with_name("kamailio.cfg.tmpl")
READY_TIMEOUT = 15.0


class RegistrarUnavailableError(RuntimeError):
    """Kamailio is missing or did not come up: fail loudly, never skip."""


@dataclass(frozen=True, slots=True)
class Registrar:
    """Where a running registrar listens and whom it accepts."""

    host: str
    port: int
    users: Mapping[str, str]
    tls_port: int | None = None


def ports_in_use() -> set[int]:
    """Local ports bound for UDP or TCP, read from /proc (no sockets: tests block them)."""
    used: set[int] = set()
    for table in ("udp", "tcp", "udp6", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local = line.split()[1]
            used.add(int(local.rsplit(":", 1)[1], 16))
    return used


def tcp_listening(port: int) -> bool:
    """Whether something listens on TCP ``port`` (state 0A in /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            return True
    return False


def free_port(low: int = 20000, high: int = 29999, span: int = 1) -> int:
    """A port free for both UDP and TCP, with the ``span - 1`` ports above it free too.

    Random, so parallel runs rarely collide.
    """
    used = ports_in_use()
    candidates = [
        port for port in range(low, high + 2 - span) if not used.intersection(range(port, port + span))
    ]
    return random.choice(candidates)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def render_config(
    port: int,
    users: Mapping[str, str],
    tls: tuple[int, Path, Path] | None = None,
    max_expires: int = 3600,
) -> str:
    """The Kamailio configuration: UDP and TCP on ``port``; TLS on ``(port, cert, key)`` if given."""
    for name, password in users.items():
        if not name.isalnum() or '"' in password or "\\" in password:
            raise ValueError(f"unsupported test credentials for {name!r}")
    seeds = "\n".join(f'\t$sht(users=>{name}) = "{pw}";' for name, pw in users.items())
    listen = f"listen=udp:127.0.0.1:{port}\nlisten=tcp:127.0.0.1:{port}"
    tls_module = ""
    if tls is not None:
        tls_port, cert, key = tls
        listen += f"\nenable_tls=yes\nlisten=tls:127.0.0.1:{tls_port}"
        tls_module = "\n".join(
            [
                'loadmodule "tls.so"',
                f'modparam("tls", "certificate", "{cert}")',
                f'modparam("tls", "private_key", "{key}")',
                'modparam("tls", "tls_method", "TLSv1.2+")',
                'modparam("tls", "verify_certificate", 0)',
                'modparam("tls", "require_certificate", 0)',
            ]
        )
    return (
        TEMPLATE.read_text()
        .replace("$LISTEN", listen)
        .replace("$TLS_MODULE", tls_module)
        .replace("$PORT", str(port))
        .replace("$MAX_EXPIRES", str(max_expires))
        .replace("$USERS", f"event_route[htable:mod-init] {{\n{seeds}\n}}")
    )


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RegistrarUnavailableError(
                f"kamailio exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        if tcp_listening(port):
            time.sleep(0.1)  # UDP workers start alongside the TCP ones
            return
        time.sleep(0.05)
    raise RegistrarUnavailableError(f"kamailio did not listen on {port}:\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def run_registrar(
    users: Mapping[str, str],
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
    max_expires: int = 3600,
) -> Iterator[Registrar]:
    """Start Kamailio on 127.0.0.1, yield where it listens, and stop it.

    ``tls`` is ``(certificate, private key)`` PEM files; TLS then listens on a port of its own.
    ``max_expires`` caps the registration lifetime the registrar grants.
    """
    if not Path(KAMAILIO).exists() and shutil.which("kamailio") is None:
        raise RegistrarUnavailableError(
            "kamailio is not installed: run script/setup (apt-get install kamailio)"
        )
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="hs-kamailio-") as tmp:
        workdir = Path(tmp)
        config = workdir / "kamailio.cfg"
        tls_port = free_port() if tls else None
        tls_config = (tls_port, *tls) if tls and tls_port else None
        config.write_text(render_config(port, users, tls_config, max_expires))
        log = workdir / "kamailio.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [
                    shutil.which("kamailio") or KAMAILIO,
                    "-f",
                    str(config),
                    "-P",
                    str(workdir / "kamailio.pid"),
                    "-Y",
                    str(workdir),
                    "-w",
                    str(workdir),
                    "-DD",
                    "-E",
                    "-m",
                    "32",
                    "-M",
                    "8",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                _wait_until_listening(proc, port, log)
                yield Registrar("127.0.0.1", port, dict(users), tls_port)
            finally:
                stop_process(proc)


def main() -> None:
    """Run a registrar in the foreground (``script/develop`` uses this)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5060)
    parser.add_argument("--user", action="append", default=[], help="name:password")
    args = parser.parse_args()
    users = dict(item.split(":", 1) for item in args.user) or {"dev": "dev"}
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    with run_registrar(users, args.port) as registrar:
        # Blocked only now: Kamailio must not inherit a mask that ignores SIGTERM.
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        print(f"registrar listening on {registrar.host}:{registrar.port}", flush=True)
        signal.sigwait(stop_signals)


if __name__ == "__main__":
    main()
