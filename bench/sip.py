"""SIP engine benchmark: CPU and memory per call, hang-up detection, long-call soak.

Runs Hold Slayer's telephony layer in this process against a real Kamailio registrar and a
real baresip far end on 127.0.0.1, and measures this process only (the peers run elsewhere).

    .venv/bin/python bench/sip.py                 # idle, 1/5/10 calls, hang-up latency
    .venv/bin/python bench/sip.py --soak 7200     # one two-hour call
    .venv/bin/python bench/sip.py --rfcvoip       # also the stock rfcvoip 2.10.3 baseline

Figures are printed and written to docs/performance.md (section "SIP engine").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.hold_slayer.telephony import (  # noqa: E402
    Call,
    CallState,
    PortRange,
    SipAccount,
    SipPhone,
)
from harness.report import write_section  # noqa: E402
from harness.servers.baresip import Baresip, baresip_peer  # noqa: E402
from harness.servers.kamailio import Registrar, free_port, run_registrar  # noqa: E402
from harness.signals import noise  # noqa: E402

FAR_END = noise(7300, seed=1, level=2000)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _cpu_percent(seconds: float) -> float:
    """Share of one core this process used over ``seconds`` of wall time."""
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (time.process_time() - cpu) / (time.monotonic() - wall)


def _account(registrar: Registrar) -> SipAccount:
    low = free_port(30000, 39000)
    return SipAccount(
        registrar.host,
        "alice",
        "pw",
        port=registrar.port,
        sip_ports=PortRange(low, low + 5),
        rtp_ports=PortRange(40000, 40999),
    )


async def _consume(call: Call) -> None:
    async for _ in call.frames():
        pass  # a listener like the classifier: every frame is delivered to it


async def _calls(phone: SipPhone, far: Baresip, count: int, seconds: float) -> tuple[float, float]:
    """CPU % and RSS growth (MB) with ``count`` concurrent answered calls."""
    gc.collect()
    rss = _rss_mb()
    calls = [await phone.dial(far.uri) for _ in range(count)]
    for call in calls:
        await call.wait_answered()
    readers = [asyncio.create_task(_consume(call)) for call in calls]
    await asyncio.sleep(1.0)
    cpu = await _cpu_percent(seconds)
    grown = _rss_mb() - rss
    assert all(call.state is CallState.ANSWERED for call in calls), "a call dropped"
    for call in calls:
        await call.hangup()
    await asyncio.gather(*readers)
    return cpu, grown


async def _hangup_latency(phone: SipPhone, far: Baresip, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        call = await phone.dial(far.uri)
        await call.wait_answered()
        await asyncio.sleep(0.3)
        sent = time.monotonic()
        await far.command("hangup")
        await call.ended
        latencies.append(time.monotonic() - sent)
    return latencies


async def _soak(phone: SipPhone, far: Baresip, seconds: float) -> dict[str, float]:
    call = await phone.dial(far.uri)
    await call.wait_answered()
    reader = asyncio.create_task(_consume(call))
    started = time.monotonic()
    cpu = time.process_time()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(call.ended), seconds)
    lasted = time.monotonic() - started
    stats = call.media.stats
    result = {
        "seconds": lasted,
        "dropped": float(call.state is not CallState.ANSWERED),
        "cpu_percent": 100 * (time.process_time() - cpu) / lasted,
        "received": stats.packets_received,
        "lost": stats.packets_lost,
        "resyncs": stats.resyncs,
    }
    await call.hangup()
    await reader
    return result


async def run(args: argparse.Namespace) -> list[str]:
    """Run the measurements; return the table rows."""
    lines = []
    with run_registrar({"alice": "pw"}) as registrar:
        async with baresip_peer(FAR_END) as far:
            phone = SipPhone(_account(registrar))
            await phone.start()
            try:
                if args.soak:
                    soak = await _soak(phone, far, args.soak)
                    dropped = "yes" if soak["dropped"] else "no"
                    lines.append(
                        f"| soak, one call | {soak['seconds']:.0f} s, dropped: {dropped}, "
                        f"{soak['cpu_percent']:.2f} % CPU, {soak['received']:.0f} packets received, "
                        f"{soak['lost']:.0f} lost, {soak['resyncs']:.0f} resyncs |"
                    )
                    return lines
                idle = await _cpu_percent(args.seconds)
                lines.append(f"| registered, idle | {idle:.2f} % of one core |")
                for count in (1, 5, 10):
                    cpu, grown = await _calls(phone, far, count, args.seconds)
                    plural = "s" if count > 1 else ""
                    lines.append(
                        f"| {count} concurrent call{plural} | {cpu:.2f} % of one core "
                        f"({cpu / count:.2f} % per call), RSS +{grown:.1f} MB "
                        f"({grown / count:.2f} MB per call) |"
                    )
                latencies = await _hangup_latency(phone, far, args.rounds)
                lines.append(
                    f"| far-end hang-up detected | median {statistics.median(latencies) * 1000:.1f} ms, "
                    f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} calls |"
                )
            finally:
                await phone.stop()
            if args.rfcvoip:
                lines += await _rfcvoip_baseline(registrar, far, args.seconds)
    return lines


async def _rfcvoip_baseline(registrar: Registrar, far: Baresip, seconds: float) -> list[str]:
    """The same idle and one-call measurement with the stock library (threads, 10 ms polling)."""
    from rfcvoip.VoIP import CallState as RfcState
    from rfcvoip.VoIP import VoIPPhone

    low = free_port(30000, 39000)
    phone = VoIPPhone(
        registrar.host,
        registrar.port,
        "alice",
        "pw",
        myIP="127.0.0.1",
        sipPort=low,
        rtpPortLow=41000,
        rtpPortHigh=41999,
        audio_bit_depth=16,
    )
    await asyncio.to_thread(phone.start)
    await asyncio.sleep(1.2)
    idle = await _cpu_percent(seconds)
    call = await asyncio.to_thread(phone.call, far.uri)
    async with asyncio.timeout(10):
        # The library has no answer event: poll, as its users must.
        while call.state is not RfcState.ANSWERED:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    stop = False

    def read() -> None:
        while not stop:
            call.read_audio(320, blocking=True)

    reader = asyncio.get_running_loop().run_in_executor(None, read)
    busy = await _cpu_percent(seconds)
    stop = True
    await asyncio.to_thread(call.hangup)
    await reader
    await asyncio.to_thread(phone.stop)
    return [
        f"| stock rfcvoip 2.10.3, registered, idle | {idle:.2f} % of one core |",
        f"| stock rfcvoip 2.10.3, 1 call with a reader thread | {busy:.2f} % of one core |",
    ]


def main() -> None:
    """Parse arguments, measure, print and record."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per figure")
    parser.add_argument("--rounds", type=int, default=20, help="hang-up latency samples")
    parser.add_argument("--soak", type=float, default=0.0, help="run one call this long instead")
    parser.add_argument("--rfcvoip", action="store_true", help="also measure the stock library")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    started = time.monotonic()
    lines = asyncio.run(run(args))
    elapsed = time.monotonic() - started
    table = ["| measurement | result |", "|---|---|", *lines]
    print("\n".join(table))
    if not args.no_write:
        command = "bench/sip.py " + " ".join(sys.argv[1:])
        machine = f"{_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        write_section(
            "SIP engine" + (" soak" if args.soak else ""),
            command.strip(),
            f"{machine}; run took {elapsed:.0f} s",
            table,
        )


if __name__ == "__main__":
    main()
