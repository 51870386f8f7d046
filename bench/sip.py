"""SIP engine benchmark: CPU and memory per call, hang-up detection, long-call soak.

Runs Hold Slayer's telephony layer in this process against a real Kamailio registrar and a
real baresip far end on 127.0.0.1, and measures this process only (the peers run elsewhere).

    .venv/bin/python bench/sip.py                 # idle, 1/5/10 calls, hang-up latency
    .venv/bin/python bench/sip.py --soak 7200     # one two-hour call
    .venv/bin/python bench/sip.py --rfcvoip       # also the stock rfcvoip 2.10.3 baseline
    .venv/bin/python bench/sip.py --nat-soak      # two hours on hold behind a home router (root)

Figures are printed and written to docs/performance.md (section "SIP engine").

``--nat-soak`` runs the phone instead in the home namespace of ``harness/netns.py``, behind a
masquerading router that forgets idle UDP mappings after 20 s, registered at Kamailio with
``nathelper`` and called into ``sipp`` as the company: music (sipp's RTP echo) and ``a=inactive``
holds alternate, each change a refresh re-INVITE from the company (every 15 min by default).
It reports drops (0 expected), the phone process's memory growth (target < 5 MB) and CPU (target
<= 2 % of a core), and writes its section ("SIP engine NAT soak") only for a full two-hour run
at the default refresh interval.
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
from harness.home_phone import home_phone  # noqa: E402
from harness.netns import home_router  # noqa: E402
from harness.report import write_section  # noqa: E402
from harness.servers.baresip import Baresip, baresip_peer  # noqa: E402
from harness.servers.kamailio import Registrar, free_port, run_registrar  # noqa: E402
from harness.servers.sipp import sipp_peer  # noqa: E402
from harness.signals import noise  # noqa: E402

FAR_END = noise(7300, seed=1, level=2000)
NAT_SOAK_FULL = 7200.0  # s: only a run this long (at the default refresh) is written down
NAT_REFRESH = 900.0  # s: the company's refresh re-INVITEs (hold, resume, hold …)
NAT_SESSION_EXPIRES = 1800  # s: the company's session timer (it refreshes at half of it)
NAT_LAST = 5.0  # s: after the last resume, the company hangs up


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


async def _nat_soak(seconds: float, refresh: float, conntrack_timeout: int, keepalive: float) -> list[str]:
    """One call on hold behind a home router; the table rows."""
    cycles = max(1, int(seconds // (2 * refresh)))  # each cycle: music, then a held period
    values = {
        "SESSION_EXPIRES": NAT_SESSION_EXPIRES,
        "CYCLES": cycles,
        "MUSIC_MS": int(refresh * 1000),
        "HOLD_MS": int(refresh * 1000),
        "LAST_MS": int(max(NAT_LAST, seconds - 2 * refresh * cycles) * 1000),
    }
    within = seconds + 120
    with (
        home_router(conntrack_timeout) as router,
        run_registrar(
            {"alice": "pw"}, 5060, host=router.registrar_ip, nat=True, netns=router.wan
        ) as registrar,
    ):
        async with sipp_peer(
            "nat_hold.xml", values, host=router.far_end_ip, netns=router.wan, rtp_echo=True, timeout=within
        ) as company:
            async with home_phone(
                router,
                f"{registrar.host}:{registrar.port}",
                "alice",
                registrar.users["alice"],
                company.uri,
                keepalive=keepalive,
                within=within,
                listen=True,
                sample=60,
            ) as phone:
                registered = await phone.event("registered", within=10)
                await phone.event("answered", within=10)
                ended = await phone.event("ended", within=within)
                # The registered binding is still the router's (a lapsed one comes back on another port).
                public_port = registered["public"][1] if registered["public"] else None
                kept = any(f"sport=5060 dport={public_port} " in line for line in router.udp_mappings())
                await phone.event("stopped", within=15)
            try:
                status: int | None = await company.wait(within=30)
            except TimeoutError:
                status = None  # the call ended on our side while the company's scenario went on
    samples = [event for event in phone.events if event["event"] == "sample"]
    # Growth after the first minute: the first frames and transactions allocate once.
    baseline = samples[0]["rss_mb"] if samples else ended["rss_mb_answered"]
    dropped = ended["cause"] != "remote_hangup" or status != 0
    return [
        f"| NAT soak, one call on hold behind the router | {ended['seconds']:.0f} s, dropped: "
        f"{'yes (' + ended['cause'] + ', sipp ' + str(status) + ')' if dropped else 'no'}, "
        f"{ended['session_refreshes']} refresh re-INVITEs (hold/resume every {refresh:.0f} s) answered, "
        f"binding kept: {'yes' if kept else 'no'} |",
        f"| NAT soak, CPU | {ended['cpu_percent']:.2f} % of one core (the phone's process, a frame reader "
        f"included) |",
        f"| NAT soak, memory | RSS {baseline:.1f} MB after the first minute → {ended['rss_mb']:.1f} MB "
        f"at the end ({ended['rss_mb'] - baseline:+.1f} MB) |",
        f"| NAT soak, traffic | {ended['packets_received']} packets received, {ended['packets_lost']} lost, "
        f"{ended['resyncs']} resyncs, {ended['keepalives_sent']} keep-alive pings (every {keepalive:.0f} s, "
        f"router UDP timeout {conntrack_timeout} s), {ended['datagrams_dropped']} unparsable datagrams |",
    ]


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
    parser.add_argument(
        "--nat-soak",
        type=float,
        nargs="?",
        const=NAT_SOAK_FULL,
        default=0.0,
        metavar="SECONDS",
        help=f"one call on hold behind a home router instead (default {NAT_SOAK_FULL:.0f} s; needs root)",
    )
    parser.add_argument("--refresh", type=float, default=NAT_REFRESH, help="NAT soak: re-INVITE every, s")
    parser.add_argument("--conntrack-timeout", type=int, default=20, help="NAT soak: router's UDP timeout, s")
    parser.add_argument("--keepalive", type=float, default=15.0, help="NAT soak: keep-alive interval, s")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    started = time.monotonic()
    if args.nat_soak:
        lines = asyncio.run(_nat_soak(args.nat_soak, args.refresh, args.conntrack_timeout, args.keepalive))
    else:
        lines = asyncio.run(run(args))
    elapsed = time.monotonic() - started
    table = ["| measurement | result |", "|---|---|", *lines]
    print("\n".join(table))
    if args.nat_soak and not (args.nat_soak >= NAT_SOAK_FULL and args.refresh == NAT_REFRESH):
        print("(not written to docs/performance.md: only the full two-hour soak at the default refresh is)")
        return
    if not args.no_write:
        command = "bench/sip.py " + " ".join(sys.argv[1:])
        machine = f"{_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        write_section(
            "SIP engine" + (" NAT soak" if args.nat_soak else " soak" if args.soak else ""),
            command.strip(),
            f"{machine}; run took {elapsed:.0f} s",
            table,
        )


if __name__ == "__main__":
    main()
