"""A home router in Linux network namespaces: a private LAN behind masquerade, a WAN beyond it.

Three namespaces, joined by veth pairs created directly inside them, so no interface, address
or packet ever touches the host's own network::

    home 192.168.77.2 ──lan── router 192.168.77.1 │ 203.0.113.1 ──wan── wan 203.0.113.10, .20

``home`` runs Hold Slayer (default route via the router); ``wan`` runs the registrar on
:data:`REGISTRAR_IP` (a STUN server too, on its own port) and the far end on :data:`FAR_END_IP`
(TEST-NET-3, never routed). The
router masquerades what leaves its WAN side, forwards only answers back in, silently drops
anything unsolicited (a home router's firewall, no ICMP), and forgets an idle UDP mapping after
``conntrack_timeout`` seconds, so a NAT binding lives only as long as traffic refreshes it.

Root is needed (or ``sudo -n``); without it, or without ``ip``/``nft``/``sysctl``,
:class:`NetnsUnavailableError` says what is missing: callers fail, never skip. Namespace names
carry the process id; they are deleted on exit, failure included, and namespaces that a
killed run left behind are deleted by the next one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PREFIX = "hs-nat-"
HOME_IP = "192.168.77.2"
LAN_GATEWAY = "192.168.77.1"
PUBLIC_IP = "203.0.113.1"  # the router's WAN address: what the far side sees of the home
REGISTRAR_IP = "203.0.113.10"
FAR_END_IP = "203.0.113.20"
COMMAND_TIMEOUT = 10.0

_sequence = itertools.count(1)

# The router's rules. `masquerade random`: a new mapping gets a random public port, as on CGNAT
# and many home routers. A port-preserving router would give a lapsed binding the same port back
# at the next outgoing packet and so hide a lapse as a mere delay. A random port per mapping is
# also one per destination (a symmetric NAT), where a STUN server's answer says nothing of what
# the SIP server sees; the port-preserving variant keeps a local port's public port for every
# destination (endpoint-independent mapping, RFC 4787), which STUN relies on.
RULESET = """
table ip home_router {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade random
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname "lan" oifname "wan" accept
        iifname "wan" oifname "lan" ct state established,related accept
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state new drop
    }
}
"""


class NetnsUnavailableError(RuntimeError):
    """Namespaces cannot be made here: not root and no ``sudo -n``, or a tool is missing."""


@cache
def privilege() -> tuple[str, ...]:
    """The prefix that runs a command as root: nothing as root, ``sudo -n`` if that works."""
    if os.geteuid() == 0:
        return ()
    sudo = shutil.which("sudo")
    if (
        sudo is not None
        and subprocess.run([sudo, "-n", "true"], capture_output=True, check=False).returncode == 0
    ):
        return (sudo, "-n")
    raise NetnsUnavailableError(
        "network namespaces need root: run as root or allow passwordless `sudo -n` for this user"
    )


def _require_tools() -> None:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])  # not on a user's PATH
    missing = [tool for tool in ("ip", "nft", "sysctl") if shutil.which(tool, path=search) is None]
    if missing:
        raise NetnsUnavailableError(
            f"missing {', '.join(missing)}: run script/setup (apt-get install iproute2 nftables procps)"
        )


def _run(*argv: str, stdin: str | None = None) -> str:
    """Run a privileged command; its output, or :class:`NetnsUnavailableError` with its stderr."""
    try:
        done = subprocess.run(
            [*privilege(), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NetnsUnavailableError(f"`{' '.join(argv)}` failed: {err}") from err
    if done.returncode != 0:
        raise NetnsUnavailableError(
            f"`{' '.join(argv)}` exited with {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout


@dataclass(frozen=True, slots=True)
class Namespace:
    """One network namespace: runs commands inside it and reads its socket tables."""

    name: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this namespace (as root)."""
        return [*privilege(), "ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, stdin: str | None = None) -> str:
        """Run a command inside this namespace and return its output."""
        return _run("ip", "netns", "exec", self.name, *argv, stdin=stdin)

    def proc_net(self, table: str) -> str:
        """``/proc/net/<table>`` as this namespace sees it (``udp``, ``tcp``, ``nf_conntrack``)."""
        return self.run("cat", f"/proc/net/{table}")

    def bound(self, port: int, protocol: str = "udp") -> bool:
        """Whether a socket is bound to ``port`` (TCP: listening) in this namespace."""
        for line in self.proc_net(protocol).splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and (protocol == "udp" or fields[3] == "0A"):
                return True
        return False


@dataclass(frozen=True, slots=True)
class HomeRouter:
    """The three namespaces of a running home router."""

    home: Namespace
    router: Namespace
    wan: Namespace
    conntrack_timeout: int
    public_ip: str = PUBLIC_IP
    registrar_ip: str = REGISTRAR_IP
    far_end_ip: str = FAR_END_IP

    def udp_mappings(self) -> list[str]:
        """The router's UDP connection-tracking entries (its NAT bindings), for failure messages."""
        return [line for line in self.router.proc_net("nf_conntrack").splitlines() if " udp " in line]


def _delete(name: str) -> None:
    """Delete a namespace, ending whatever of ours still runs inside it first."""
    pids = _run("ip", "netns", "pids", name).split()
    if pids:
        _run("kill", "-KILL", *pids)
    _run("ip", "netns", "del", name)


def _delete_abandoned() -> None:
    """Delete namespaces left by runs that were killed before their clean-up (their pid is gone)."""
    for line in _run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        owner = name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(NetnsUnavailableError):
                _delete(name)


@contextlib.contextmanager
def home_router(conntrack_timeout: int = 20, *, port_preserving: bool = False) -> Iterator[HomeRouter]:
    """Build the home, router and WAN namespaces; yield them; always delete them.

    ``port_preserving``: the router maps a local port to the same public port where it can (the
    default masquerade; many consumer routers), instead of a random one.
    """
    _require_tools()
    _delete_abandoned()
    run_id = f"{PREFIX}{os.getpid()}-{next(_sequence)}"
    names = {role: f"{run_id}-{role}" for role in ("home", "router", "wan")}
    created: list[str] = []
    try:
        for name in names.values():
            _run("ip", "netns", "add", name)
            created.append(name)
        home, router, wan = names["home"], names["router"], names["wan"]
        _run(
            "ip", "link", "add", "eth0", "netns", home, "type", "veth", "peer", "name", "lan", "netns", router
        )
        _run(
            "ip", "link", "add", "wan", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", wan
        )
        for name, device, addresses in (
            (home, "eth0", [f"{HOME_IP}/24"]),
            (router, "lan", [f"{LAN_GATEWAY}/24"]),
            (router, "wan", [f"{PUBLIC_IP}/24"]),
            (wan, "eth0", [f"{REGISTRAR_IP}/24", f"{FAR_END_IP}/24"]),
        ):
            for address in addresses:
                _run("ip", "-n", name, "addr", "add", address, "dev", device)
            _run("ip", "-n", name, "link", "set", device, "up")
        for name in names.values():
            _run("ip", "-n", name, "link", "set", "lo", "up")
        _run("ip", "-n", home, "route", "add", "default", "via", LAN_GATEWAY)
        inside = Namespace(router)
        inside.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        ruleset = RULESET.replace("masquerade random", "masquerade") if port_preserving else RULESET
        inside.run("nft", "-f", "-", stdin=ruleset)
        # After the ruleset: the namespace's conntrack tables (and these settings) exist only
        # once something in it uses connection tracking.
        for setting in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
            inside.run("sysctl", "-qw", f"net.netfilter.{setting}={conntrack_timeout}")
        yield HomeRouter(Namespace(home), inside, Namespace(wan), conntrack_timeout)
    finally:
        errors = []
        for name in reversed(created):
            try:
                _delete(name)
            except NetnsUnavailableError as err:
                errors.append(str(err))
        if errors:
            raise NetnsUnavailableError("namespaces not deleted: " + "; ".join(errors))
