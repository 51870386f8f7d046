"""``script/classify FILE.wav [--json]``: label call audio in 20 ms steps (contract in DESIGN.md).

Each analysis step prints ``{"t": seconds, "label": ..., "confidence": ...}`` and each hold
monitor event ``{"t": seconds, "event": ...}`` (``--json``), or readable lines; a final
``{"summary": {...}}`` gives seconds per label, event counts and when a person was detected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.standalone import without_home_assistant  # noqa: E402

without_home_assistant()  # start in a fraction of a second: the audio code needs no HA

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES  # noqa: E402
from custom_components.hold_slayer.audio.monitor import HoldMonitor  # noqa: E402
from custom_components.hold_slayer.audio.tones import FRAME  # noqa: E402
from custom_components.hold_slayer.audio.wav import WavError, read_8k  # noqa: E402

BLOCK_FRAMES = 500  # 10 s per numpy call


def main(argv: list[str] | None = None) -> int:
    """Classify one file; exit 2 when it cannot be read."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    try:
        signal = read_8k(args.file)
    except (OSError, WavError) as err:
        print(f"classify: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
    monitor = HoldMonitor()
    seconds: dict[str, float] = {}
    for start in range(0, len(frames), BLOCK_FRAMES):
        decisions, events = monitor.push_block(frames[start : start + BLOCK_FRAMES])
        for decision in decisions:
            label = decision.label.value
            seconds[label] = seconds.get(label, 0.0) + STEP_FRAMES * FRAME / 8000
            if args.json:
                print(
                    json.dumps(
                        {
                            "t": round(decision.time, 2),
                            "label": decision.label.value,
                            "confidence": round(decision.confidence, 3),
                        }
                    )
                )
            else:
                print(f"{decision.time:8.2f}  {decision.label.value:<18} {decision.confidence:.2f}")
        for event in events:
            if args.json:
                print(json.dumps({"t": round(event.time, 2), "event": event.kind.value}))
            else:
                print(f"{event.time:8.2f}  ** {event.kind.value} (confidence {event.confidence:.2f})")
    elapsed = time.perf_counter() - started
    duration = len(signal) / 8000
    summary = {
        "duration_s": round(duration, 2),
        "events": {
            kind: sum(e.kind == kind for e in monitor.events)
            for kind in sorted({e.kind.value for e in monitor.events})
        },
        "human_detected_s": next(
            (round(e.time, 2) for e in monitor.events if e.kind == "human_detected"), None
        ),
        "seconds_per_label": {label: round(value, 2) for label, value in sorted(seconds.items())},
        "realtime_factor": round(duration / elapsed, 1) if elapsed else None,
    }
    print(json.dumps({"summary": summary}) if args.json else f"summary: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
