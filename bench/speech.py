"""Speech benchmark: the real Wyoming servers as the integration uses them, on this machine.

    .venv/bin/python bench/speech.py [--rounds 3] [--no-write]

Starts wyoming-faster-whisper (Whisper tiny.en, int8) and wyoming-piper (en_US-joe-medium) on
loopback ports, then measures through the direct client (voice/wyoming.py):

- server start-up (process start until it answers ``describe``) and resident memory;
- TTS render time per second of audio produced, per prompt;
- STT latency per utterance (the call, from sending audio to the transcript) and real-time
  factor (audio seconds per processing second; above 1 is faster than real time), on Piper
  speech cut to 8 kHz G.711 μ-law as a call carries it, with the word error rate.

Figures are printed and written to docs/performance.md (section "Speech").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.hold_slayer.telephony import g711  # noqa: E402
from custom_components.hold_slayer.voice.wyoming import WyomingStt, WyomingTts  # noqa: E402
from harness.report import write_section  # noqa: E402
from harness.servers.kamailio import stop_process  # noqa: E402
from harness.servers.wyoming import STT_THREADS, Kind, start_server  # noqa: E402
from harness.words import word_error_rate  # noqa: E402

PROMPTS = (
    "For billing, press one. For technical support, press two.",
    "Thank you for calling. Your call is important to us.",
    "All of our agents are currently assisting other customers. Please stay on the line.",
    "To hear these options again, press star.",
    "Please say or enter your account number, followed by the pound key.",
    "You are caller number five. The expected wait time is twelve minutes.",
)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(stt: WyomingStt, tts: WyomingTts, rounds: int) -> list[str]:
    """The table rows for TTS and STT over every prompt, ``rounds`` times each."""
    render_ratio: list[float] = []
    latencies: list[float] = []
    factors: list[float] = []
    errors: list[float] = []
    durations: list[float] = []
    for prompt in PROMPTS:
        for _ in range(rounds):
            started = time.perf_counter()
            audio = await tts.synthesize(prompt, language="en_US")
            seconds = len(audio) / 8000
            render_ratio.append((time.perf_counter() - started) / seconds)
        heard = g711.decode(g711.encode(audio))
        durations.append(seconds)
        for _ in range(rounds):
            started = time.perf_counter()
            text = await stt.transcribe(heard, language="en")
            elapsed = time.perf_counter() - started
            latencies.append(elapsed)
            factors.append(seconds / elapsed)
        errors.append(word_error_rate(prompt, text))
        print(f"  {seconds:4.1f} s  WER {errors[-1]:.2f}  {text!r}", flush=True)
    quantiles = statistics.quantiles(latencies, n=10)
    return [
        f"| TTS render time per second of audio | median {statistics.median(render_ratio) * 1000:.0f} ms,"
        f" max {max(render_ratio) * 1000:.0f} ms ({len(render_ratio)} renders) |",
        f"| STT latency per utterance ({min(durations):.1f} to {max(durations):.1f} s of speech) |"
        f" median {statistics.median(latencies) * 1000:.0f} ms, p90 {quantiles[-1] * 1000:.0f} ms,"
        f" max {max(latencies) * 1000:.0f} ms ({len(latencies)} runs) |",
        f"| STT real-time factor (audio s / processing s) | median {statistics.median(factors):.1f}x,"
        f" worst {min(factors):.1f}x |",
        f"| STT word error rate, Piper speech through μ-law | mean {statistics.fmean(errors):.3f},"
        f" worst {max(errors):.3f} over {len(errors)} prompts |",
    ]


def main() -> None:
    """Start the servers, measure, print, and write the section."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each prompt")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    begun = time.monotonic()
    rows: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-speech-") as tmp:
        try:
            servers = {}
            for kind in ("stt", "tts"):
                started = time.monotonic()
                proc, server = start_server(kind, Path(tmp) / kind)
                procs.append(proc)
                servers[kind] = server
                rows.append(
                    f"| {kind.upper()} server start-up until it answers describe |"
                    f" {time.monotonic() - started:.1f} s |"
                )
            stt = WyomingStt(servers["stt"].host, servers["stt"].port, timeout=120)
            tts = WyomingTts(servers["tts"].host, servers["tts"].port, timeout=120)
            rows += asyncio.run(measure(stt, tts, args.rounds))
            kinds: tuple[Kind, ...] = ("stt", "tts")
            rows += [
                f"| {kind.upper()} server resident memory after the run | {_rss_mb(proc.pid):.0f} MB |"
                for kind, proc in zip(kinds, procs, strict=True)
            ]
        finally:
            for proc in procs:
                stop_process(proc)
    table = ["| measurement | result |", "|---|---|", *rows]
    print("\n".join(table))
    if not args.no_write:
        machine = (
            f"{_cpu_model()}, {os.cpu_count()} cores (shared), Python {platform.python_version()},"
            f" Whisper tiny.en int8 on {STT_THREADS} threads, beam 5"
        )
        write_section(
            "Speech",
            " ".join(["bench/speech.py", *sys.argv[1:]]),
            f"{machine}; run took {time.monotonic() - begun:.0f} s",
            table,
        )


if __name__ == "__main__":
    main()
