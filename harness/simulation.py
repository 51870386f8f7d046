"""Whole Hold Slayer calls against the company simulator, scored: the runner behind script/simulate.

Everything is real and local: the simulator answers on a SIP port of 127.0.0.1 and speaks
through espeak-ng and Piper; Hold Slayer's HA-free core (SIP engine, classifier and hold monitor,
rules decider) calls it with Wyoming faster-whisper (tiny.en) for speech recognition. The speech
servers are started once and kept warm (harness/speech_servers.py). The scoring follows
``scenarios/FORMAT.md`` of the shared design. The command line is tools/simulate.py; the
end-to-end tests and the handoff benchmark run calls through this module too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from custom_components.hold_slayer.demo.scenario import (
    CollectNode,
    HoldNode,
    HumanNode,
    MenuNode,
    Outcome,
    Scenario,
)
from custom_components.hold_slayer.demo.simulator import CallRecord, CompanySimulator
from custom_components.hold_slayer.ivr.model import LanguageModel, model_chain
from custom_components.hold_slayer.ivr.routes import RouteBook, RouteDecider
from custom_components.hold_slayer.openai_endpoint import OpenAiEndpoint
from custom_components.hold_slayer.session.events import EventType
from custom_components.hold_slayer.session.request import CallRequest
from custom_components.hold_slayer.session.session import CallSession
from custom_components.hold_slayer.telephony import PortRange, SipAccount, SipPhone
from custom_components.hold_slayer.telephony.call import EndCause
from custom_components.hold_slayer.voice.espeak import EspeakTts
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import TextToSpeech
from custom_components.hold_slayer.voice.wyoming import WyomingStt, WyomingTts
from harness import speech_servers
from harness.servers.language_models import ScriptedModelServer, scenario_oracle

ROOT = Path(__file__).resolve().parent.parent

INFORMED_REACTION: Final = 1.0  # seconds an informed human takes to answer a prompt they expected
QUEUE_RATIO_TARGET: Final = 1.2  # issue 17: answer to queue within 1.2 times an informed human's time
HANG_UP_AFTER_HUMAN: Final = 1.5  # seconds: the result is known; the simulator's agent is freed
GRACE: Final = 20.0  # seconds past a scenario's budget before the harness gives up the call
PIPER_VOICE: Final = "en_US-joe-medium"
# Scenario voice ids → engine voices: Piper (natural) or espeak-ng variants (robotic: the hard
# case for speech recognition and the classifier). Recorded menus use Asterisk's real prompts,
# and Piper where those lack the words.
VOICE_MAP: Final = {
    "ivr-1": "espeak:en-us+f3",
    "ivr-2": f"piper:{PIPER_VOICE}",
    "human-1": f"piper:{PIPER_VOICE}",
    "human-2": "espeak:en-us+m3",
    "human-3": f"piper:{PIPER_VOICE}",
}
_CAUSE_OUTCOMES: Final = {
    EndCause.BUSY: Outcome.BUSY,
    EndCause.NOT_FOUND: Outcome.NOT_FOUND,
    EndCause.UNAVAILABLE: Outcome.UNAVAILABLE,
    EndCause.NO_ANSWER: Outcome.NO_ANSWER,
    EndCause.REMOTE_HANGUP: Outcome.HUNG_UP,
}


class RoutedTts:
    """One TextToSpeech over two engines: voices named ``piper:…`` or ``espeak:…``.

    Without a voice (a recorded prompt that had to be synthesised) Piper speaks: the closest
    thing to a professional recording here.
    """

    def __init__(self, piper: TextToSpeech, espeak: TextToSpeech) -> None:
        self.piper = piper
        self.espeak = espeak

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        """Route by the voice's engine prefix (espeak when none)."""
        engine, _, name = (voice or f"piper:{PIPER_VOICE}").partition(":")
        target = self.piper if engine == "piper" else self.espeak
        return await target.synthesize(text, language=language, voice=name or None)


@dataclass
class Bench:
    """The warm parts shared by a batch: speech engines, the simulator, Hold Slayer's phone."""

    scenarios: list[Scenario]
    stt: WyomingStt
    tts: WyomingTts
    simulator: CompanySimulator
    phone: SipPhone
    results: list[dict[str, Any]] = field(default_factory=list)
    stt_busy: float = 0.0
    model: str | None = None  # "scripted", or an OpenAI-compatible base URL
    model_name: str = "scripted"
    routes: RouteBook | None = None


@contextlib.asynccontextmanager
async def language_models(parts: Bench, scenario: Scenario) -> AsyncIterator[list[LanguageModel]]:
    """The models behind the rules for one call: none, the scenario's oracle, or an endpoint."""
    if parts.model is None:
        yield []
        return
    server = None
    if parts.model == "scripted":
        server = await ScriptedModelServer(scenario_oracle(scenario)).start()
        endpoint = OpenAiEndpoint(server.openai_url, parts.model_name)
    else:
        endpoint = OpenAiEndpoint(parts.model, parts.model_name, os.environ.get("HOLD_SLAYER_API_KEY"))
    try:
        yield [endpoint]
    finally:
        await endpoint.close()
        if server is not None:
            await server.stop()


class TimedStt:
    """Wraps the STT client to measure processing time (for the real-time factor)."""

    def __init__(self, inner: WyomingStt) -> None:
        self.inner = inner
        self.busy = 0.0
        self.audio = 0.0

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        """Transcribe and account for the time it took."""
        started = time.perf_counter()
        try:
            return await self.inner.transcribe(audio, language=language)
        finally:
            self.busy += time.perf_counter() - started
            self.audio += len(audio) / 8000


async def warm_servers() -> dict[str, tuple[str, int]]:
    """Start the speech servers, or reuse the ones already running (they stay up afterwards)."""
    states = await asyncio.to_thread(
        lambda: {kind: speech_servers.start(kind) for kind in speech_servers.KINDS}
    )
    return {kind: (state["host"], state["port"]) for kind, state in states.items()}


@contextlib.asynccontextmanager
async def bench(
    scenarios: list[Scenario], *, stt_at: tuple[str, int], tts_at: tuple[str, int]
) -> AsyncIterator[Bench]:
    """The simulator and Hold Slayer's phone, with the speech servers at the given addresses."""
    stt = WyomingStt(*stt_at, timeout=60)
    piper = WyomingTts(*tts_at, timeout=60)
    company_tts = RoutedTts(piper, EspeakTts())
    simulator = CompanySimulator(
        scenarios, tts=company_tts, stt=stt, voice_map=VOICE_MAP, cache_dir=ROOT / ".cache" / "simulator"
    )
    await simulator.start()
    await simulator.prerender()
    host, port = simulator.address
    account = SipAccount(
        host,
        "hold-slayer",
        "",
        port=port,
        sip_ports=PortRange(port + 1, port + 40),
        rtp_ports=PortRange(41000, 41999),
    )
    phone = SipPhone(account, register=False)
    await phone.start()
    try:
        yield Bench(scenarios, stt, piper, simulator, phone)
    finally:
        await phone.stop()
        await simulator.stop()


async def run_one(parts: Bench, first: Scenario) -> dict[str, Any]:
    """One whole call to ``first``'s number; the FORMAT.md result object.

    The call is scored against the line it finds: from the second call on, a scenario's
    ``second_call`` (the menu changed since the route was learned).
    """
    scenario = parts.simulator.next_version(first)
    expect = scenario.expect
    timed = TimedStt(parts.stt)
    request = CallRequest(
        target=parts.simulator.uri_for(scenario.dial_number),
        goal=expect.intent,
        company=scenario.id,
        secrets=dict(expect.secrets),
        language=scenario.language,
    )
    replay = parts.routes.decider_for(request.target) if parts.routes is not None else None
    with captured_logs() as logged:
        session, result = await _call(parts, scenario, request, timed, replay)
    result["menu_changed"] = scenario is not first  # the line is the scenario's second_call
    leaks = leaking_outputs(request, session, logged, parts.routes)
    result["secret_leaks"] = len(leaks)
    if leaks:
        result["ok"] = False
        where = ", ".join(sorted(set(leaks)))  # which kind of output: the next run can look there
        result["failure"] = "; ".join(
            filter(None, [result["failure"], f"{len(leaks)} outputs hold a secret ({where})"])
        )
    return result


async def _call(
    parts: Bench, scenario: Scenario, request: CallRequest, timed: TimedStt, replay: RouteDecider | None
) -> tuple[CallSession, dict[str, Any]]:
    """Place the call with the batch's models and route, learn the route, score the call."""
    async with language_models(parts, scenario) as models:
        session = CallSession(
            request, parts.phone.dial, stt=timed, tts=parts.tts, decider=model_chain(models, route=replay)
        )
        session.keep_agent = False  # the harness scores; it does not talk to the agent
        record, failure = await _follow(parts, session, scenario.expect.max_seconds)
    if parts.routes is not None:
        await session.learn_route(parts.routes, replay)
    parts.stt_busy += timed.busy
    result = score(scenario, session, record, failure, timed)
    result.update(menu_speed(scenario, record))
    result["reaction_s"] = reaction(scenario, record, session)
    result["model_calls"] = session.model_calls
    result["route_steps_replayed"] = len(replay.followed) if replay is not None else 0
    # Whether the replay stopped following the route: a changed menu must make it stop.
    result["route_diverged"] = replay.diverged if replay is not None else None
    return session, result


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log line Hold Slayer writes meanwhile, debug ones included (to audit for secrets)."""
    lines: list[str] = []
    package = logging.getLogger("custom_components.hold_slayer")

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture(logging.DEBUG)
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def leaking_outputs(
    request: CallRequest, session: CallSession, logged: list[str], routes: RouteBook | None
) -> list[str]:
    """Each output holding a secret's value (digits, spaced, or in words), by kind: must be none.

    The outputs, by kind: the transcript ("transcript"), the events ("event"), every log line
    ("log") and the learned routes ("routes"). Of the events
    and routes, their text: their numbers are times, counts and timestamps the code computes,
    which no secret can reach, and whose many digits can hold a 4-digit PIN by chance (a route
    book of a whole ``script/simulate --all`` run holds dozens of 17-digit timestamps).
    """
    outputs = [("transcript", line.text) for line in session.transcript]
    outputs += [("event", "\n".join(_texts(event.data))) for event in session.events]
    outputs += [("log", line) for line in logged]
    if routes is not None:
        outputs.append(("routes", "\n".join(_texts(routes.as_dict()))))
    return [kind for kind, text in outputs if request.holds_secret(text)]


def _texts(value: object) -> Iterator[str]:
    """Every string in a JSON-like value: its dictionaries' keys, and its strings at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item)
    elif value is not None and not isinstance(value, bool | int | float):
        yield str(value)  # an enum, a datetime: as the event's JSON would write it


async def _follow(parts: Bench, session: CallSession, budget: float) -> tuple[CallRecord | None, str | None]:
    """Run the call until the person is found (then hang up) or it ends; the simulator's record."""
    human = asyncio.Event()
    session.async_listen(
        lambda event: human.set() if event is not None and event.type is EventType.HUMAN_DETECTED else None
    )
    run = asyncio.ensure_future(session.run())
    record_task = asyncio.ensure_future(parts.simulator.next_record())
    failure: str | None = None
    try:
        async with asyncio.timeout(budget + GRACE):
            waiter = asyncio.ensure_future(human.wait())
            await asyncio.wait([run, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if human.is_set() and not run.done():
                await asyncio.sleep(HANG_UP_AFTER_HUMAN)
                await session.hangup("the harness has its result")
            await run
    except TimeoutError:
        failure = f"no result within {budget + GRACE:.0f} s"
        await session.hangup("harness timeout")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 10)
    record: CallRecord | None = None
    try:
        record = await asyncio.wait_for(record_task, 5)
        await asyncio.wait_for(record.finished(), 10)
    except TimeoutError:
        record_task.cancel()
    return record, failure


def score(
    scenario: Scenario,
    session: CallSession,
    record: CallRecord | None,
    failure: str | None,
    stt: TimedStt,
) -> dict[str, Any]:
    """Judge a run by the rules of FORMAT.md."""
    expect = scenario.expect
    start = session.started_at
    human_events = [e for e in session.events if e.type is EventType.HUMAN_DETECTED]
    human_started = (
        round(record.human_started_at - start, 2) if record and record.human_started_at is not None else None
    )
    detected = human_events[0].at if human_events else None
    before = [e for e in human_events if human_started is None or e.at < human_started]
    outcome = session.outcome
    end_event = next(
        (e for e in reversed(session.events) if e.type in (EventType.CALL_ENDED, EventType.CALL_FAILED)), None
    )
    duration = end_event.at if end_event else round(session.now(), 2)
    if human_started is not None and human_events:
        result_outcome = str(Outcome.HUMAN)
    elif outcome is not None and outcome.cause in _CAUSE_OUTCOMES:
        result_outcome = str(_CAUSE_OUTCOMES[EndCause(outcome.cause)])
    elif outcome is not None:
        result_outcome = str(outcome.cause)
    else:
        result_outcome = "unknown"
    path = record.nodes if record else []
    reached = path[-1] if record and record.human_started_at is not None and path else None
    holds = [e.at for e in session.events if e.type is EventType.HOLD_STARTED]
    said = [str(e.data["text"]) for e in session.events if e.type is EventType.SAID]
    problems: list[str] = [failure] if failure else []
    if result_outcome != expect.outcome:
        problems.append(f"outcome {result_outcome}, expected {expect.outcome}")
    if duration > expect.max_seconds:
        problems.append(f"took {duration:.0f} s, budget {expect.max_seconds:.0f} s")
    if expect.outcome == Outcome.HUMAN:
        if expect.reaches and reached != expect.reaches:
            problems.append(f"reached {reached}, expected {expect.reaches}")
        if expect.path is not None and tuple(path) != tuple(expect.path):
            problems.append(f"path {path}, expected {list(expect.path)}")
        if len(human_events) != 1:
            problems.append(f"{len(human_events)} human-detected events, expected exactly one")
        if before:
            problems.append(f"{len(before)} human-detected event(s) before the person started")
    elif human_events:
        problems.append(f"{len(human_events)} human-detected event(s) on a line without a person")
    return {
        "scenario": scenario.id,
        "ok": not problems,
        "reached": reached,
        "path": path,
        "dtmf_sent": record.digits if record else "",  # as the line heard them: the session keeps none
        "said": said,
        "human_started_s": human_started,
        "human_detected_s": detected,
        "detect_latency_s": round(detected - human_started, 2)
        if detected is not None and human_started is not None
        else None,
        "false_human_events": len(before) if expect.outcome == Outcome.HUMAN else len(human_events),
        "hold_detected_s": holds[0] if holds else None,
        "decider_calls": session.decisions,
        "stt_seconds": round(session.stt_seconds, 1),
        "duration_s": round(duration, 1),
        "outcome": result_outcome,
        "failure": "; ".join(problems) or None,
    }


def menu_speed(scenario: Scenario, record: CallRecord | None) -> dict[str, float | None]:
    """How fast the menu was passed: seconds from the answer to the queue, and an informed human's.

    The queue is the first hold (or the person, where there is no hold). An informed human hears
    each prompt on the way to it once and answers a second after it ends (``informed_s``, the
    issue's measure: keying or saying the answer and the line taking it in count as nothing).
    ``answering_s`` is the time of the answers themselves, as the line took ours: per step, from
    the first key or start of speech (or the prompt's end, if later) to the line's next step. A
    caller who says "lost driver's license replacement" waits as long as we do for the line to
    hear it; ``informed_s`` plus ``answering_s`` is an informed human answering as we did.
    """
    none: dict[str, float | None] = {"to_queue_s": None, "informed_s": None, "answering_s": None}
    if record is None or record.answered_at is None:
        return none
    nodes = [scenario.nodes[node] for node in record.nodes]
    queue = next((i for i, node in enumerate(nodes) if isinstance(node, HoldNode | HumanNode)), None)
    if not queue:
        return none
    steps = nodes[:queue]
    informed = sum(record.prompt_seconds.get(node.id, 0.0) for node in steps)
    informed += INFORMED_REACTION * sum(isinstance(node, MenuNode | CollectNode) for node in steps)
    answering = 0.0
    for node, ((_, entered), (_, left)) in zip(steps, itertools.pairwise(record.path), strict=False):
        first = next((at for at in record.keyed_or_spoke if entered <= at < left), None)
        if isinstance(node, MenuNode | CollectNode) and first is not None:
            # Keys typed over the prompt: its rest is the prompt's time, counted already.
            answering += max(0.0, left - max(first, entered + record.prompt_seconds.get(node.id, 0.0)))
    return {
        "to_queue_s": round(record.path[queue][1] - record.answered_at, 1),
        "informed_s": round(informed, 1),
        "answering_s": round(answering, 1),
    }


def summary(results: list[dict[str, Any]], stt_busy: float) -> dict[str, Any]:
    """Pass rate, median time to reach the person and STT speed over a batch."""
    passed = sum(result["ok"] for result in results)
    to_person = [r["human_detected_s"] for r in results if r["ok"] and r["outcome"] == "human"]
    latencies = [r["detect_latency_s"] for r in results if r["detect_latency_s"] is not None]
    audio = sum(r["stt_seconds"] for r in results)
    first = [r for r in results if r.get("call", 1) == 1]
    second = [r for r in results if r.get("call", 1) == 2]
    timed = [r for r in results if r["ok"] and r.get("to_queue_s") is not None and r.get("informed_s")]
    ratios = [r["to_queue_s"] / r["informed_s"] for r in timed if r.get("call", 1) == 1]
    # An informed human answering as we did: the line's time on the answers counts for them too.
    answering = [
        r["to_queue_s"] / (r["informed_s"] + r["answering_s"])
        for r in timed
        if r.get("call", 1) == 1 and r.get("answering_s") is not None
    ]
    # A replay is a second call that followed its learned route to the queue; a second call on a
    # changed menu leaves the route where the menu changed and decides again, as a first call does.
    replays = [
        r
        for r in timed
        if r.get("call", 1) == 2 and not r.get("menu_changed") and not r.get("route_diverged")
    ]
    changed = [
        r for r in timed if r.get("call", 1) == 2 and (r.get("menu_changed") or r.get("route_diverged"))
    ]
    over = [r["to_queue_s"] - r["informed_s"] for r in replays]
    over_answering = [r["to_queue_s"] - r["informed_s"] - (r.get("answering_s") or 0.0) for r in replays]
    over_changed = [r["to_queue_s"] - r["informed_s"] for r in changed]
    reactions = [r["reaction_s"] for r in results if r.get("reaction_s") is not None]
    first_reactions = [r["reaction_s"] for r in first if r.get("reaction_s") is not None]
    replay_reactions = [r["reaction_s"] for r in second if r.get("reaction_s") is not None]
    return {
        "secret_leaks": sum(r.get("secret_leaks", 0) for r in results),
        "queue_ratio_median": round(statistics.median(ratios), 2) if ratios else None,
        "queue_ratio_max": round(max(ratios), 2) if ratios else None,
        "queue_ratio_over": sum(ratio > QUEUE_RATIO_TARGET for ratio in ratios),
        "queue_ratios": len(ratios),
        "answering_ratio_median": round(statistics.median(answering), 2) if answering else None,
        "answering_ratio_max": round(max(answering), 2) if answering else None,
        "answering_ratio_over": sum(ratio > QUEUE_RATIO_TARGET for ratio in answering),
        "replays": len(replays),
        "replay_over_informed_max_s": round(max(over), 1) if over else None,
        "replay_over_answering_max_s": round(max(over_answering), 1) if over_answering else None,
        "changed_menu_calls": len(changed),
        "changed_menu_over_informed_max_s": round(max(over_changed), 1) if over_changed else None,
        "reaction_median_s": round(statistics.median(reactions), 2) if reactions else None,
        "reaction_max_s": round(max(reactions), 2) if reactions else None,
        "reaction_first_median_s": round(statistics.median(first_reactions), 2) if first_reactions else None,
        "reaction_replay_median_s": round(statistics.median(replay_reactions), 2)
        if replay_reactions
        else None,
        "calls": len(results),
        "first_calls_passed": sum(r["ok"] for r in first),
        "model_calls_first": sum(r.get("model_calls", 0) for r in first),
        "second_calls": len(second),
        "second_calls_passed": sum(r["ok"] for r in second),
        "model_calls_second": sum(r.get("model_calls", 0) for r in second),
        "scenarios": len(first),
        "passed": passed,
        "pass_rate": round(passed / len(results), 3) if results else None,
        "median_time_to_person_s": round(statistics.median(to_person), 1) if to_person else None,
        "median_detect_latency_s": round(statistics.median(latencies), 2) if latencies else None,
        "stt_audio_s": round(audio, 1),
        "stt_busy_s": round(stt_busy, 1),
        "stt_real_time_factor": round(stt_busy / audio, 3) if audio else None,
    }


def reaction(scenario: Scenario, record: CallRecord | None, session: CallSession) -> float | None:
    """Median seconds from the end of a menu's prompt to our decision on it (an informed human: 1 s).

    The part of the time to the queue that Hold Slayer controls: what follows (keying, saying
    the answer, the line recognising it) takes a human as long. Each reading of a menu or digit
    prompt on the way counts (a prompt read again after a timeout or an invalid choice too), with
    the first decision between its start and the line's next step: a remembered prompt answered
    before it ended (typed ahead) counts as negative.
    """
    if record is None:
        return None
    decided = [
        session.started_at + event.at for event in session.events if event.type is EventType.MENU_HEARD
    ]
    delays: list[float] = []
    for index, (node_id, entered) in enumerate(record.path):
        node = scenario.nodes[node_id]
        if not isinstance(node, MenuNode | CollectNode) or node_id not in record.prompt_seconds:
            continue
        ended = entered + record.prompt_seconds[node_id]
        left = record.path[index + 1][1] if index + 1 < len(record.path) else math.inf
        first = next((at for at in decided if entered <= at < left), None)
        if first is not None:
            delays.append(first - ended)
    return round(statistics.median(delays), 2) if delays else None
