"""A scripted carrier: Debian ``sip-tester`` (``sipp``) running an XML scenario on 127.0.0.1.

sipp is an independent SIP implementation that does exactly what its scenario says, which is
how carriers' protocol corners (holds with ``a=inactive``, answers in the ACK, NAT-reporting
registrars) are reproduced. Scenario files may hold ``@NAME@`` placeholders that the test fills
in; sipp's own ``[keywords]`` stay as they are. The process is stopped and reaped on exit, and
its error and message logs are attached to a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.servers.kamailio import free_port

SIPP = "sipp"
SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "telephony" / "sipp"
READY_TIMEOUT = 10.0


class SippUnavailableError(RuntimeError):
    """sipp is missing or did not start: fail loudly, never skip."""


@dataclass
class Sipp:
    """A running sipp: where it listens, and how it ended."""

    proc: asyncio.subprocess.Process
    port: int
    media_port: int
    workdir: Path

    @property
    def uri(self) -> str:
        """A SIP URI that reaches the scenario."""
        return f"sip:carrier@127.0.0.1:{self.port}"

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
) -> AsyncIterator[Sipp]:
    """Run ``scenario`` on 127.0.0.1 until ``calls`` calls are done (or ``timeout``).

    Without ``remote`` sipp waits for calls (a UAS scenario); with it, it places them there.
    """
    binary = shutil.which(SIPP)
    if binary is None:
        raise SippUnavailableError("sipp is not installed: apt-get install sip-tester")
    port = free_port(20000, 29999)
    media_port = free_port(50000, 50998, span=2) // 2 * 2
    with tempfile.TemporaryDirectory(prefix="hs-sipp-") as tmp:
        workdir = Path(tmp)
        xml = workdir / "scenario.xml"
        xml.write_text(render(scenario, {"MEDIA_PORT": media_port, **(values or {})}))
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-sf",
            str(xml),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
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
            *([f"{remote[0]}:{remote[1]}"] if remote else []),
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        running = Sipp(proc, port, media_port, workdir)
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
        if _udp_bound(sipp.port):
            return
        await asyncio.sleep(0.05)
    raise SippUnavailableError(f"sipp did not listen on {sipp.port}\n{sipp.logs()}")


def _udp_bound(port: int) -> bool:
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        if int(line.split()[1].rsplit(":", 1)[1], 16) == port:
            return True
    return False
