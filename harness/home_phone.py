"""Hold Slayer's phone behind a home router: a process in the router's ``home`` namespace.

The process (``python -m harness.home_phone``, started through ``ip netns exec``) registers one
:class:`SipPhone` at the registrar (or, ``--trunk``, starts it towards a trunk without
registration), places one call, waits until the call ends and reports what happened as JSON lines
on stdout, each with the wall-clock time ``at`` so that a test can line it up with a far end's
trace:

- ``registered``: the Contact, the public address the registrar (or ``--stun`` server) reported,
  the SDP address;
- ``answered``;
- ``sample`` every ``--sample`` seconds: memory, CPU time, media direction, packets;
- ``ended``: the cause, session refreshes, keep-alive pings, parse drops, media counters, and the
  CPU time and memory the call cost (this process runs nothing else, so all of it is the phone);
- ``stopped``: the phone deregistered and closed;
- ``error``: anything that went wrong, then exit status 1.

:func:`home_phone` starts it from a test or benchmark and reads those events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.netns import HomeRouter
from harness.standalone import without_home_assistant

if TYPE_CHECKING:
    from custom_components.hold_slayer.telephony import Call, CallEnd, SipPhone

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0

_LOGGER = logging.getLogger(__name__)


def _emit(event: str, at: float | None = None, **fields: Any) -> None:
    print(json.dumps({"event": event, "at": at or time.time(), **fields}), flush=True)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _consume(call: Call) -> None:
    async for _ in call.frames():
        pass  # a listener like the hold classifier: every frame is delivered to it


async def _sample(call: Call, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        stats = call.media.stats
        _emit(
            "sample",
            rss_mb=_rss_mb(),
            cpu_seconds=time.process_time(),
            direction=call.media.direction.value,
            packets_received=stats.packets_received,
            packets_lost=stats.packets_lost,
        )


async def _call(phone: SipPhone, args: argparse.Namespace) -> None:
    call = await phone.dial(args.dial)
    await call.wait_answered()
    answered_cpu, answered_wall, answered_rss = time.process_time(), time.monotonic(), _rss_mb()
    _emit("answered")
    helpers = [asyncio.create_task(_sample(call, args.sample))] if args.sample else []
    if args.listen:
        helpers.append(asyncio.create_task(_consume(call)))
    try:
        end: CallEnd = await asyncio.wait_for(asyncio.shield(call.ended), args.within)
    except TimeoutError:
        _emit("timeout", within=args.within)
        end = await call.hangup()
    ended_at = time.time()
    seconds = time.monotonic() - answered_wall
    cpu = time.process_time() - answered_cpu
    for helper in helpers:
        helper.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    stats = call.media.stats
    _emit(
        "ended",
        at=ended_at,
        cause=end.cause.value,
        status=end.status,
        reason=end.reason,
        session_refreshes=call.session_refreshes,
        keepalives_sent=phone.keepalives_sent,
        keepalives_received=phone.transport.keepalives_received,
        datagrams_dropped=phone.transport.dropped,
        packets_received=stats.packets_received,
        packets_lost=stats.packets_lost,
        resyncs=stats.resyncs,
        seconds=seconds,
        cpu_percent=100 * cpu / seconds,
        rss_mb_answered=answered_rss,
        rss_mb=_rss_mb(),
    )


async def _run(args: argparse.Namespace) -> None:
    # Imported once main() has left Home Assistant out: with it, start-up took 10 s on an idle
    # 2-core machine and over 20 s on a loaded one, longer than a test waits for "registered".
    from custom_components.hold_slayer.telephony import SipPhone
    from harness.accounts import make_account

    host, port = args.server.rsplit(":", 1)
    stun: dict[str, Any] = {}
    if args.stun:
        stun_host, stun_port = args.stun.rsplit(":", 1)
        stun = {"stun_server": stun_host, "stun_port": int(stun_port)}
    account = make_account(
        host,
        int(port),
        args.user,
        args.password,
        keepalive_interval=args.keepalive,
        registers=not args.trunk,
        **stun,
    )
    phone = SipPhone(account, register=not args.trunk)
    await phone.start()
    try:
        public = phone.public_address
        _emit(
            "registered",
            contact=phone.contact,
            public=list(public) if public else None,
            public_from=phone.public_address_source,
            media_address=phone.media_address,
        )
        await _call(phone, args)
    finally:
        async with asyncio.timeout(STOP_TIMEOUT):
            await phone.stop()
    _emit("stopped")


def main() -> None:
    """Run one call (inside the home namespace) and report it on stdout."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="the registrar's (or trunk's) host:port")
    parser.add_argument("--trunk", action="store_true", help="a trunk without registration")
    parser.add_argument("--stun", help="a STUN server's host:port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--dial", required=True, help="the SIP URI to call")
    parser.add_argument("--keepalive", type=float, required=True, help="keep-alive interval, s")
    parser.add_argument("--within", type=float, required=True, help="hang up if not ended by then, s")
    parser.add_argument("--listen", action="store_true", help="read every frame, as the classifier does")
    parser.add_argument("--sample", type=float, default=0.0, help="report a sample this often, s")
    args = parser.parse_args()
    without_home_assistant()  # the phone needs the SIP stack alone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_run(args))
    except Exception as err:  # reported to the parent, which fails with it
        _LOGGER.exception("home phone failed")
        _emit("error", error=f"{type(err).__name__}: {err}")
        sys.exit(1)


class HomePhone:
    """The running process as a test sees it: its events, in order, and its log."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log
        self.events: list[dict[str, Any]] = []

    def log_tail(self) -> str:
        """The end of the phone's log (for assertion messages)."""
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    async def event(self, name: str, within: float) -> dict[str, Any]:
        """The next ``name`` event; fails on an ``error`` event, an early exit or a timeout."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    line = await self.proc.stdout.readline()
                    if not line:
                        await self.proc.wait()
                        raise AssertionError(
                            f"the home phone exited ({self.proc.returncode}) before {name!r}:\n"
                            f"{self.log_tail()}"
                        )
                    event: dict[str, Any] = json.loads(line)
                    self.events.append(event)
                    if event["event"] == "error":
                        raise AssertionError(f"the home phone failed: {event['error']}\n{self.log_tail()}")
                    if event["event"] == name:
                        return event
        except TimeoutError:
            raise AssertionError(
                f"no {name!r} from the home phone within {within} s\n{self.log_tail()}"
            ) from None


@contextlib.asynccontextmanager
async def home_phone(
    router: HomeRouter,
    server: str,
    user: str,
    password: str,
    dial: str,
    *,
    trunk: bool = False,
    stun: str | None = None,
    keepalive: float,
    within: float,
    listen: bool = False,
    sample: float = 0.0,
) -> AsyncIterator[HomePhone]:
    """Start the phone in ``router``'s home namespace; stop it (and reap it) on exit.

    ``server`` is the registrar's ``host:port`` (a trunk's with ``trunk``); ``stun`` a STUN server's.
    """
    argv = [
        sys.executable,
        "-m",
        "harness.home_phone",
        f"--server={server}",
        f"--user={user}",
        f"--password={password}",
        *(["--trunk"] if trunk else []),
        *([f"--stun={stun}"] if stun else []),
        f"--dial={dial}",
        f"--keepalive={keepalive}",
        f"--within={within}",
        f"--sample={sample}",
        *(["--listen"] if listen else []),
    ]
    with tempfile.TemporaryDirectory(prefix="hs-home-phone-") as tmp:
        log = Path(tmp) / "phone.log"
        with log.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *router.home.command(argv),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
            )
        phone = HomePhone(proc, log)
        try:
            yield phone
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(STOP_TIMEOUT):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


if __name__ == "__main__":
    main()
