"""A scripted carrier: Debian ``sip-tester`` (``sipp``) running an XML scenario on 127.0.0.1.

sipp is an independent SIP implementation that does exactly what its scenario says, which is
how carriers' protocol corners (holds with ``a=inactive``, answers in the ACK, NAT-reporting
registrars) are reproduced. Scenario files may hold ``@NAME@`` placeholders that the test fills
in; sipp's own ``[keywords]`` stay as they are. The process is stopped and reaped on exit, and
its error and message logs are attached to a failure. It can run inside a network namespace
of :mod:`harness.netns` (the far side of a home router).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.servers.kamailio import free_port

if TYPE_CHECKING:
    from harness.netns import Namespace

SIPP = "sipp"
SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "telephony" / "sipp"
READY_TIMEOUT = 10.0
# A message in sipp's -trace_msg log: its local-time stamp, then whether it was sent or received.
TRACED = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
    r"\w+ message (sent|received)[^\n]*\n\n([^\n]*)\n(.*?)(?=^-{20,}|\Z)",
    re.MULTILINE | re.DOTALL,
)


class SippUnavailableError(RuntimeError):
    """sipp is missing or did not start: fail loudly, never skip."""


@dataclass(frozen=True, slots=True)
class Traced:
    """One message in sipp's trace: when (wall clock, s), which way, its start line and CSeq."""

    at: float
    sent: bool
    start_line: str
    cseq: str


@dataclass
class Sipp:
    """A running sipp: where it listens, and how it ended."""

    proc: asyncio.subprocess.Process
    port: int
    media_port: int
    workdir: Path
    host: str = "127.0.0.1"
    netns: Namespace | None = None

    @property
    def uri(self) -> str:
        """A SIP URI that reaches the scenario."""
        return f"sip:carrier@{self.host}:{self.port}"

    def logs(self) -> str:
        """Sipp's error log and the tail of its message trace (for assertion messages)."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for pattern in ("*_errors.log", "*_messages.log")
            for path in sorted(self.workdir.glob(pattern))
        )

    def messages(self) -> str:
        """Every message sipp sent and received."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*_messages.log")))

    def trace(self) -> list[Traced]:
        """Every message sipp sent and received, in order, with the time it did."""
        traced = []
        for found in TRACED.finditer(self.messages()):
            stamp, way, start_line, rest = found.groups()
            cseq = re.search(r"^\s*CSeq:\s*(.+?)\s*$", rest, re.MULTILINE)
            at = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").astimezone().timestamp()
            traced.append(Traced(at, way == "sent", start_line.strip(), cseq.group(1) if cseq else ""))
        return traced

    async def wait(self, within: float = 30.0) -> int:
        """Sipp's exit status once its calls are done (0: every call followed the scenario)."""
        async with asyncio.timeout(within):
            return await self.proc.wait()

    async def succeeded(self, within: float = 30.0) -> None:
        """Assert that sipp ran its scenario to the end without an unexpected message."""
        status = await self.wait(within)
        assert status == 0, f"sipp exited with {status}\n{self.logs()}"


def render(scenario: str | Path, values: Mapping[str, object]) -> str:
    """A scenario's text with ``@NAME@`` placeholders filled in; every one must be given."""
    path = Path(scenario) if Path(scenario).is_absolute() else SCENARIOS / scenario
    text = path.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    leftover = sorted(set(re.findall(r"@[A-Z][A-Z0-9_]*@", text)))
    assert not leftover, f"unfilled placeholders in {path.name}: {leftover}"
    return text


@contextlib.asynccontextmanager
async def sipp_peer(
    scenario: str | Path,
    values: Mapping[str, object] | None = None,
    *,
    calls: int = 1,
    timeout: float = 60.0,
    remote: tuple[str, int] | None = None,
    host: str = "127.0.0.1",
    netns: Namespace | None = None,
    rtp_echo: bool = False,
) -> AsyncIterator[Sipp]:
    """Run ``scenario`` on ``host`` (127.0.0.1) until ``calls`` calls are done (or ``timeout``).

    Without ``remote`` sipp waits for calls (a UAS scenario); with it, it places them there.
    ``netns`` runs sipp inside that network namespace (``host`` one of its addresses);
    ``rtp_echo`` sends every RTP packet back to where it came from, as a far end that plays
    media would, from the port its SDP names.
    """
    binary = shutil.which(SIPP)
    if binary is None:
        raise SippUnavailableError("sipp is not installed: apt-get install sip-tester")
    port = free_port(20000, 29999)
    # sipp binds its audio RTP and RTCP there, then its video's (``-mp`` + 2, + 3), even for a
    # scenario without video: a busy video port made it exit at start (errno 98).
    media_port = free_port(50000, 50996, span=4, step=2)
    with tempfile.TemporaryDirectory(prefix="hs-sipp-") as tmp:
        workdir = Path(tmp)
        xml = workdir / "scenario.xml"
        xml.write_text(render(scenario, {"MEDIA_PORT": media_port, **(values or {})}))
        command = [
            binary,
            "-sf",
            str(xml),
            "-i",
            host,
            "-p",
            str(port),
            "-mi",
            host,
            "-mp",
            str(media_port),
            "-m",
            str(calls),
            "-timeout",
            f"{timeout:.0f}s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-trace_msg",
            *(["-rtp_echo"] if rtp_echo else []),
            *([f"{remote[0]}:{remote[1]}"] if remote else []),
        ]
        proc = await asyncio.create_subprocess_exec(
            *(netns.command(command) if netns else command),
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        running = Sipp(proc, port, media_port, workdir, host, netns)
        try:
            await _wait_until_listening(running)
            yield running
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(5):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _wait_until_listening(sipp: Sipp) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    while loop.time() < deadline:
        if sipp.proc.returncode is not None:
            raise SippUnavailableError(f"sipp exited with {sipp.proc.returncode}\n{sipp.logs()}")
        if await asyncio.to_thread(sipp.netns.bound, sipp.port) if sipp.netns else _udp_bound(sipp.port):
            return
        await asyncio.sleep(0.05)
    raise SippUnavailableError(f"sipp did not listen on {sipp.port}\n{sipp.logs()}")


def _udp_bound(port: int) -> bool:
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        if int(line.split()[1].rsplit(":", 1)[1], 16) == port:
            return True
    return False
