"""A real, independent SIP user agent for tests: Debian ``baresip`` on 127.0.0.1.

It auto-answers (or rings, or registers as a desk phone), plays a WAV we give it, writes what
it receives to a WAV (``sndfile`` module), and reports events — DTMF, call state — through
its ``ctrl_tcp`` module, which also takes commands (hang up, hold, resume, send DTMF).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.servers.kamailio import free_port, stop_process, tcp_listening

BARESIP = "/usr/bin/baresip"
READY_TIMEOUT = 15.0


class BaresipUnavailableError(RuntimeError):
    """baresip is missing or did not come up: fail loudly, never skip."""


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int = 8000) -> None:
    """Write mono 16-bit PCM."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    """Read mono 16-bit PCM."""
    with wave.open(str(path), "rb") as source:
        return np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.int16)


@dataclass
class Baresip:
    """A running baresip: where it listens, and its control connection."""

    sip_port: int
    ctrl_port: int
    workdir: Path
    aor: str
    events: list[dict[str, Any]] = field(default_factory=list)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _pump: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _token: int = 0

    @property
    def uri(self) -> str:
        """The SIP URI that reaches this user agent directly."""
        return f"sip:{self.aor}@127.0.0.1:{self.sip_port}"

    async def connect(self) -> None:
        """Open the ctrl_tcp connection and start collecting events."""
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        self._changed = asyncio.Event()
        self._pump = asyncio.get_running_loop().create_task(self._read_events())

    async def _read_events(self) -> None:
        assert self._reader is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                payload = await self._reader.readexactly(length)
                await self._reader.readexactly(1)  # the netstring's trailing comma
                self.events.append(json.loads(payload))
                self._changed.set()

    async def command(self, command: str, params: str = "") -> None:
        """Send a ctrl_tcp command (``hangup``, ``hold``, ``resume``, ``sndcode 12#`` …)."""
        assert self._writer is not None
        self._token += 1
        body = json.dumps({"command": command, "params": params, "token": f"t{self._token}"}).encode()
        self._writer.write(f"{len(body)}:".encode() + body + b",")
        await self._writer.drain()

    async def wait_event(self, kind: str, within: float = 10.0, **match: str) -> dict[str, Any]:
        """The first event of ``kind`` (and matching fields) seen so far or within ``within`` s."""
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                        return event
                self._changed.clear()
                await self._changed.wait()

    def dtmf(self) -> str:
        """Digits received so far (RFC 4733 or SIP INFO), in order."""
        return "".join(str(e.get("param", "")) for e in self.events if e.get("type") == "CALL_DTMF_START")

    def recordings(self) -> list[Path]:
        """What baresip heard, one decoded WAV per call (sndfile module)."""
        return sorted(self.workdir.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)

    async def close(self) -> None:
        """Close the control connection."""
        if self._writer is not None:
            self._writer.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


def _config(
    workdir: Path, sip_port: int, ctrl_port: int, source: Path, rtp_low: int, modules: tuple[str, ...] = ()
) -> str:
    return "\n".join(
        [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{sip_port}",
            "call_local_timeout 120",
            "call_max_calls 16",
            "audio_player aufile,/dev/null",
            f"audio_source aufile,{source}",
            "audio_alert aufile,/dev/null",
            "ausrc_srate 8000",
            "auplay_srate 8000",
            "ausrc_channels 1",
            "auplay_channels 1",
            f"rtp_ports {rtp_low}-{rtp_low + 99}",
            "rtcp_mux no",
            "jitter_buffer_delay 1-4",
            "net_interface 127.0.0.1",
            "dns_server 127.0.0.1:53",
            "module_path /usr/lib/baresip/modules",
            "module g711.so",
            "module aufile.so",
            "module sndfile.so",
            *(f"module {module}" for module in modules),
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
            f"snd_path {workdir}",
            "",
        ]
    )


@contextlib.contextmanager
def run_baresip(
    source: npt.NDArray[np.int16],
    *,
    account: str | None = None,
    answer: str = "auto",
    modules: tuple[str, ...] = (),
    account_params: str = "",
) -> Iterator[Baresip]:
    """Start baresip with ``source`` as its microphone.

    ``account`` is a full baresip account line (e.g. to register at Kamailio); the default is a
    direct, unregistered ``ivr@127.0.0.1:<port>``. ``answer`` is ``auto`` or ``manual`` (rings).
    ``modules`` are loaded besides the usual ones, and ``account_params`` end the account line
    (``srtp.so`` and ``;mediaenc=srtp-mand``: SRTP with SDES keys, required).
    """
    binary = shutil.which("baresip") or BARESIP
    if not Path(binary).exists():
        raise BaresipUnavailableError("baresip is not installed: run script/setup (apt-get install baresip)")
    sip_port, ctrl_port = free_port(span=2), free_port()  # SIP/TLS binds sip_port + 1
    rtp_low = free_port(41000, 49099, span=100, step=100)  # baresip's whole RTP range free
    with tempfile.TemporaryDirectory(prefix="hs-baresip-") as tmp:
        workdir = Path(tmp)
        wav = workdir / "source.wav"
        write_wav(wav, source)
        (workdir / "config").write_text(_config(workdir, sip_port, ctrl_port, wav, rtp_low, modules))
        aor = "ivr"
        line = account or f"<sip:{aor}@127.0.0.1:{sip_port}>;regint=0"
        if account:
            aor = account.split("sip:", 1)[1].split("@", 1)[0]
        (workdir / "accounts").write_text(
            f"{line};answermode={answer};audio_codecs=PCMU,PCMA{account_params}\n"
        )
        (workdir / "contacts").write_text("")
        log = workdir / "baresip.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [binary, "-f", str(workdir), "-v"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + READY_TIMEOUT
                registers = account is not None and "regint=0" not in account
                while not tcp_listening(ctrl_port) or (registers and "binding]" not in log.read_text()):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise BaresipUnavailableError(f"baresip did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.05)
                yield Baresip(sip_port, ctrl_port, workdir, aor)
            finally:
                stop_process(proc, grace=5.0)


@contextlib.asynccontextmanager
async def baresip_peer(source: npt.NDArray[np.int16], **kwargs: Any) -> AsyncIterator[Baresip]:
    """:func:`run_baresip` with its control connection open."""
    with run_baresip(source, **kwargs) as peer:
        await peer.connect()
        try:
            yield peer
        finally:
            await peer.close()
