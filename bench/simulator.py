"""Company simulator benchmark: how promptly it reacts, and what a call on hold costs it.

The simulator runs in this process on 127.0.0.1. Latencies are measured with our own SipPhone
calling it (a shortened acme-bank-billing); CPU with baresip (another process) holding N calls
on real music on hold, so that only the simulator's work is counted.

    .venv/bin/python bench/simulator.py            # 3 latency runs, CPU for 1 and 5 calls

Figures are printed and written to docs/performance.md (section "Company simulator").
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from custom_components.hold_slayer.demo.scenario import HoldNode, Scenario, load_scenario  # noqa: E402
from custom_components.hold_slayer.demo.simulator import CompanySimulator  # noqa: E402
from custom_components.hold_slayer.telephony import SipPhone  # noqa: E402
from custom_components.hold_slayer.voice.espeak import EspeakTts  # noqa: E402
from harness.accounts import direct_account  # noqa: E402
from harness.report import write_section  # noqa: E402
from harness.servers.baresip import baresip_peer  # noqa: E402
from harness.waiting import until  # noqa: E402

SCENARIOS = ROOT / "custom_components/hold_slayer/demo/scenarios"
ACME = SCENARIOS / "acme-bank-billing.yaml"
LOUD = 300.0


def short_acme(hold_seconds: float) -> Scenario:
    """acme-bank-billing answering at once, with a hold of ``hold_seconds``."""
    scenario = load_scenario(ACME)
    queue = scenario.nodes["queue"]
    assert isinstance(queue, HoldNode)
    nodes = dict(scenario.nodes)
    nodes["queue"] = replace(queue, hold=replace(queue.hold, seconds=hold_seconds))
    return replace(scenario, line=replace(scenario.line, rings=0), nodes=nodes)


async def latency_run(sim: CompanySimulator) -> dict[str, float]:
    """One navigated call: first audio, barge-in (RFC 4733 and in-band), human start vs hold end."""
    loop = asyncio.get_running_loop()
    phone = SipPhone(direct_account(sim.port), register=False)
    await phone.start()
    try:
        call = await phone.dial(sim.uri_for("+18005550100"))
        await call.wait_answered()
        answered = loop.time()
        first: list[float] = []

        async def listen() -> None:
            async for frame in call.frames():
                if not first and float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) > LOUD:
                    first.append(loop.time())

        listener = loop.create_task(listen())
        record = await sim.next_record()
        await until(lambda: "main" in record.nodes)
        await asyncio.sleep(1.5)
        pressed = loop.time()
        await call.send_dtmf("1")
        await until(lambda: "billing" in record.nodes)  # node entry times are exact
        rfc_barge = record.path[-1][1] - pressed
        await asyncio.sleep(1.0)
        await call.send_dtmf("1234567890#", inband=True)
        sent = loop.time()
        await until(lambda: "queue" in record.nodes)
        inband_done = record.path[-1][1] - sent
        await until(lambda: record.human_started_at is not None)
        assert record.human_started_at is not None
        hold_error = record.human_started_at - record.path[-2][1] - 6.0
        await call.hangup()
        await listener
        return {
            "first_audio": first[0] - answered,
            "rfc4733_barge_in": rfc_barge,
            "inband_collect_end": inband_done,
            "hold_length_error": hold_error,
        }
    finally:
        await phone.stop()


async def cpu_on_hold(sim: CompanySimulator, calls: int, seconds: float) -> float:
    """Percent of one core this process used while ``calls`` calls sat on music on hold."""
    silence = np.zeros(8000 * 600, dtype=np.int16)
    async with baresip_peer(silence) as peer:
        for _ in range(calls):
            await peer.command("dial", sim.uri_for("+18005550100"))
        records = [await asyncio.wait_for(sim.next_record(), 10) for _ in range(calls)]
        await until(lambda: all("queue" in record.nodes for record in records))
        start_cpu, start = os.times(), time.monotonic()
        await asyncio.sleep(seconds)
        end_cpu, end = os.times(), time.monotonic()
        assert all(not record.done for record in records), "every call stayed on hold"
    used = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return 100 * used / (end - start)


async def main() -> None:
    """Measure, print, and record in docs/performance.md."""
    scenario = short_acme(6.0)
    sim = CompanySimulator([scenario], tts=EspeakTts())
    await sim.prerender()
    await sim.start()
    try:
        runs = [await latency_run(sim) for _ in range(3)]
    finally:
        await sim.stop()
    wonka = load_scenario(SCENARIOS / "wonka-queue-position.yaml")
    queue = wonka.nodes["queue"]
    assert isinstance(queue, HoldNode)
    holding = replace(
        wonka,
        line=replace(wonka.line, number="+18005550100", rings=0),
        nodes={**wonka.nodes, "queue": replace(queue, hold=replace(queue.hold, seconds=120.0))},
    )
    cpu: dict[int, float] = {}
    for calls in (1, 5):
        held = CompanySimulator([holding], tts=EspeakTts())
        await held.prerender()
        await held.start()
        try:
            cpu[calls] = await cpu_on_hold(held, calls, 20.0)
        finally:
            await held.stop()
    lines = ["| figure | median | worst |", "|---|---|---|"]
    for key in runs[0]:
        values = [run[key] for run in runs]
        median, worst = statistics.median(values), max(values, key=abs)
        lines.append(f"| {key.replace('_', ' ')} (s) | {median:.3f} | {worst:.3f} |")
    lines += ["", "| calls on hold (music + announcements) | CPU of the simulator process |", "|---|---|"]
    lines += [f"| {calls} | {share:.2f} % of one core |" for calls, share in cpu.items()]
    print("\n".join(lines))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    write_section("Company simulator", ".venv/bin/python bench/simulator.py", machine, lines)


if __name__ == "__main__":
    asyncio.run(main())
