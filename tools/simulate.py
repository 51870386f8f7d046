"""script/simulate: run whole Hold Slayer calls against the company simulator and score them.

    script/simulate SCENARIO.yaml [--json]     one call; the result object is the last line
    script/simulate --all DIR [--json]         every scenario in DIR, then a summary table

    --model scripted        a language model behind the rules: a scripted OpenAI-compatible server
                            that knows each scenario's way to its person (an informed caller)
    --model URL --model-name NAME
                            a real OpenAI-compatible endpoint (key in $HOLD_SLAYER_API_KEY)
    --routes FILE           learned routes kept in FILE: each call replays and updates them
    --twice                 call every scenario twice; the second call replays the learned route
                            (and finds the changed menu of a scenario with ``second_call``)

Everything is real and local: the simulator answers on a SIP port of 127.0.0.1 and speaks
through espeak-ng and Piper; Hold Slayer's HA-free core (SIP engine, classifier and hold monitor,
rules decider) calls it with Wyoming faster-whisper (tiny.en) for speech recognition. The speech
servers are started once and kept warm (harness/speech_servers.py). The scoring follows
``scenarios/FORMAT.md`` of the shared design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.hold_slayer.demo.scenario import (  # noqa: E402
    ScenarioError,
    load_scenario,
    load_scenarios,
)
from custom_components.hold_slayer.ivr.routes import JsonFlowStore, RouteBook  # noqa: E402
from harness.simulation import QUEUE_RATIO_TARGET, bench, run_one, summary, warm_servers  # noqa: E402

# Scenarios whose front door is speech only: they need the navigator more than rules.
SPEECH_FRONT_DOORS: Final = frozenset({"telco-speech-ivr", "umbrella-utility-speech"})


def write_report(results: list[dict[str, Any]], report: dict[str, Any], command: str) -> None:
    """The batch's figures as the "Simulated calls" section of docs/performance.md."""
    from harness.report import write_section

    dtmf = [r for r in results if r["scenario"] not in SPEECH_FRONT_DOORS and r.get("call", 1) == 1]
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| calls passed | {report['passed']} of {report['calls']} ({report['pass_rate']:.0%}) |",
        f"| first calls passed | {report['first_calls_passed']} of {report['scenarios']} "
        f"({report['model_calls_first']} model calls) |",
        f"| second calls passed (learned route) | {report['second_calls_passed']} of "
        f"{report['second_calls']} ({report['model_calls_second']} model calls) |",
        f"| DTMF-menu and failure-line scenarios passed | {sum(r['ok'] for r in dtmf)} of {len(dtmf)} |",
        f"| outputs holding a secret (transcripts, events, logs, routes) | {report['secret_leaks']} |",
        "| answer → queue, first calls, as a multiple of an informed human's time (median / worst; "
        f"over {QUEUE_RATIO_TARGET}) | {report['queue_ratio_median']} / {report['queue_ratio_max']}; "
        f"{report['queue_ratio_over']} of {report['queue_ratios']} |",
        "| … of an informed human answering as we did (the line's time on the answers counted) "
        f"| {report['answering_ratio_median']} / {report['answering_ratio_max']}; "
        f"{report['answering_ratio_over']} of {report['queue_ratios']} |",
        "| answer → queue, replayed route followed to the queue, seconds over an informed human "
        "(worst; answering as we did) "
        f"| {report['replay_over_informed_max_s']}; {report['replay_over_answering_max_s']} "
        f"({report['replays']} calls) |",
        "| … second calls on a changed menu (the route left where it changed), seconds over (worst) "
        f"| {report['changed_menu_over_informed_max_s']} ({report['changed_menu_calls']} calls) |",
        "| end of a menu's prompt → our decision, per call (median / worst; an informed human: 1 s) "
        f"| {report['reaction_median_s']} / {report['reaction_max_s']} s |",
        "| … first calls, and replayed routes (median; typed ahead: before the prompt's end) "
        f"| {report['reaction_first_median_s']} s, {report['reaction_replay_median_s']} s |",
        f"| median time from dialling to the person detected | {report['median_time_to_person_s']} s |",
        f"| median detection latency (person starts → detected) | {report['median_detect_latency_s']} s |",
        f"| STT real-time factor (processing s / audio s, tiny.en int8) | {report['stt_real_time_factor']} |",
        f"| STT audio transcribed | {report['stt_audio_s']} s |",
        "",
        "| scenario | call | ok | outcome | reached | model calls | steps replayed "
        "| to queue / informed / answering (s) "
        "| reaction (s) | latency (s) | duration (s) | why not |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        latency = _or_dash(r["detect_latency_s"])
        lines.append(
            f"| {r['scenario']} | {r.get('call', 1)} | {'yes' if r['ok'] else 'no'} | {r['outcome']} "
            f"| {r['reached'] or '-'} | {r.get('model_calls', 0)} | {r.get('route_steps_replayed', 0)} "
            f"| {_speed(r)} | {_or_dash(r.get('reaction_s'))} | {latency} | {r['duration_s']:.0f} "
            f"| {(r['failure'] or '').replace('|', '/')} |"
        )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    write_section("Simulated calls", command, machine, lines)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _speed(result: dict[str, Any]) -> str:
    if result.get("to_queue_s") is None:
        return "-"
    answering = result.get("answering_s")
    return f"{result['to_queue_s']} / {result['informed_s']} / {_or_dash(answering)}"


def table(results: list[dict[str, Any]]) -> str:
    """The batch as a text table."""
    rows = [("scenario", "ok", "outcome", "reached", "latency", "duration", "failure")]
    for r in results:
        latency = _or_dash(r["detect_latency_s"])
        rows.append(
            (
                r["scenario"],
                "yes" if r["ok"] else "NO",
                r["outcome"],
                r["reached"] or "-",
                latency,
                f"{r['duration_s']:.0f}",
                (r["failure"] or "")[:70],
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


async def main_async(args: argparse.Namespace) -> int:
    """Run one scenario or a directory of them."""
    try:
        scenarios = load_scenarios(Path(args.target)) if args.all else [load_scenario(Path(args.target))]
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    servers = await warm_servers()
    with tempfile.TemporaryDirectory() as scratch:
        routes_file = Path(args.routes) if args.routes else Path(scratch) / "routes.json"
        routes = RouteBook(JsonFlowStore(routes_file)) if args.routes or args.twice else None
        if routes is not None:
            await routes.load()
        async with bench(scenarios, stt_at=servers["stt"], tts_at=servers["tts"]) as parts:
            parts.model, parts.model_name, parts.routes = args.model, args.model_name, routes
            for scenario in scenarios:
                for call in range(1, 3 if args.twice else 2):
                    result = await run_one(parts, scenario)
                    result["call"] = call
                    parts.results.append(result)
                    if args.all and not args.json:
                        verdict = "ok" if result["ok"] else "FAILED " + str(result["failure"])
                        print(f"{scenario.id} (call {call}): {verdict}", flush=True)
            results, busy = parts.results, parts.stt_busy
    if args.all:
        report = summary(results, busy)
        if args.report:
            write_report(results, report, "script/simulate " + " ".join(sys.argv[1:]))
        if args.json:
            for result in results:
                print(json.dumps(result))
        else:
            print(table(results))
        print(json.dumps({"summary": report}))
        return 0 if report["passed"] == report["calls"] else 1
    for earlier in results[:-1]:  # --twice: the first call too
        print(json.dumps(earlier))
    result = results[-1]
    if not args.json:
        print(f"{result['scenario']}: {'ok' if result['ok'] else 'FAILED: ' + str(result['failure'])}")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("target", help="a scenario YAML file, or a directory with --all")
    parser.add_argument("--all", action="store_true", help="run every scenario in the directory")
    parser.add_argument("--json", action="store_true", help="only JSON lines on stdout")
    parser.add_argument("--verbose", action="store_true", help="log the call as it happens")
    parser.add_argument(
        "--report", action="store_true", help="with --all: write the figures to docs/performance.md"
    )
    parser.add_argument("--model", help="'scripted', or an OpenAI-compatible base URL, asked after the rules")
    parser.add_argument("--model-name", default="scripted", help="the model to ask at --model URL")
    parser.add_argument("--routes", help="a JSON file of learned routes to replay and update")
    parser.add_argument("--twice", action="store_true", help="call each scenario twice (the second replays)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(relativeCreated)8.0f %(name)s: %(message)s"
    )
    told = ("custom_components.hold_slayer.session", "custom_components.hold_slayer.demo")
    for handler in logging.getLogger().handlers:
        # Debug lines are captured for the secrets audit; stderr shows warnings, and with
        # --verbose what the call did (not every SIP packet).
        handler.addFilter(
            lambda record: record.levelno >= logging.WARNING
            or (args.verbose and record.name.startswith(told))
        )
    if args.verbose:
        for name in told:
            logging.getLogger(name).setLevel(logging.DEBUG)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
