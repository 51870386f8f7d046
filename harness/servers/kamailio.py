"""A real SIP registrar (Debian ``kamailio``) with digest authentication on 127.0.0.1.

Used by the tests (as a fixture) and by ``script/develop`` (as a process), so both talk to the
same independent SIP stack a user's PBX would be. With ``nat=True`` it handles clients behind
NAT as providers' registrars do (``nathelper``), and it can run inside a network namespace of
:mod:`harness.netns` (the WAN side of a home router).
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.netns import Namespace

KAMAILIO = "/usr/sbin/kamailio"
TEMPLATE = Path(__file__).with_name("kamailio.cfg.tmpl")
READY_TIMEOUT = 15.0

# A provider's NAT handling (nathelper). A client is behind NAT when its Via or Contact names
# another address than the packet came from (test 19: RFC 1918 Contact, Via host or port not the
# source). Then answers go to the source (RFC 3581), the registration is stored with the source
# as where to reach it, and a Contact in its requests or answers is rewritten to the source, so
# requests in its dialogs reach it through its router. No NAT pings of our own: clients send
# keep-alive pings to hold their bindings open.
NAT_MODULE = """loadmodule "nathelper.so"
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("registrar", "received_avp", "$avp(RECEIVED)")"""
NAT_DETECT = """\tif (nat_uac_test("19")) {
\t\tforce_rport();
\t\tif (is_method("REGISTER")) { fix_nated_register(); } else { fix_nated_contact(); }
\t}"""
NAT_REPLY = """onreply_route {
\tif (nat_uac_test("1")) { fix_nated_contact(); }
}"""


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


def free_port(low: int = 20000, high: int = 29999, span: int = 1, step: int = 1) -> int:
    """A port free for both UDP and TCP, with the ``span - 1`` ports above it free too.

    A multiple of ``step`` (RTP wants an even port). Random, so parallel runs rarely collide.
    """
    used = ports_in_use()
    first = -(-low // step) * step
    candidates = [
        port
        for port in range(first, high + 2 - span, step)
        if not used.intersection(range(port, port + span))
    ]
    if not candidates:
        raise OSError(f"no {span} free ports in a row in {low}-{high}")
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
    *,
    host: str = "127.0.0.1",
    nat: bool = False,
) -> str:
    """The Kamailio configuration: UDP and TCP on ``host:port``; TLS on ``(port, cert, key)`` if given.

    ``nat`` adds the NAT handling of a provider's registrar (:data:`NAT_DETECT`).
    """
    for name, password in users.items():
        if not name.isalnum() or '"' in password or "\\" in password:
            raise ValueError(f"unsupported test credentials for {name!r}")
    seeds = "\n".join(f'\t$sht(users=>{name}) = "{pw}";' for name, pw in users.items())
    listen = f"listen=udp:{host}:{port}\nlisten=tcp:{host}:{port}"
    tls_module = ""
    if tls is not None:
        tls_port, cert, key = tls
        listen += f"\nenable_tls=yes\nlisten=tls:{host}:{tls_port}"
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
        .replace("$NAT_MODULE", NAT_MODULE if nat else "")
        .replace("$NAT_DETECT", NAT_DETECT if nat else "")
        .replace("$NAT_REPLY", NAT_REPLY if nat else "")
        .replace("$HOST", host)
        .replace("$PORT", str(port))
        .replace("$MAX_EXPIRES", str(max_expires))
        .replace("$USERS", f"event_route[htable:mod-init] {{\n{seeds}\n}}")
    )


def _wait_until_listening(
    proc: subprocess.Popen[bytes], port: int, log: Path, netns: Namespace | None = None
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RegistrarUnavailableError(
                f"kamailio exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        if netns.bound(port, "tcp") if netns else tcp_listening(port):
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
    *,
    host: str = "127.0.0.1",
    nat: bool = False,
    netns: Namespace | None = None,
) -> Iterator[Registrar]:
    """Start Kamailio on ``host`` (127.0.0.1), yield where it listens, and stop it.

    ``tls`` is ``(certificate, private key)`` PEM files; TLS then listens on a port of its own.
    ``max_expires`` caps the registration lifetime the registrar grants. ``nat`` handles
    clients behind NAT (see :data:`NAT_DETECT`); ``netns`` runs Kamailio inside that network
    namespace, where ``host`` must be one of its addresses.
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
        config.write_text(render_config(port, users, tls_config, max_expires, host=host, nat=nat))
        log = workdir / "kamailio.log"
        with log.open("wb") as log_file:
            command = [
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
            ]
            proc = subprocess.Popen(
                netns.command(command) if netns else command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                _wait_until_listening(proc, port, log, netns)
                yield Registrar(host, port, dict(users), tls_port)
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
