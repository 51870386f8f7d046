"""``CompanySimulator``: a real SIP line on 127.0.0.1 that plays company scenarios.

Each INVITE is routed by the Request-URI's user to the scenario whose ``line.number`` matches
(with or without ``+``); from the second call to a number on, a scenario with ``second_call``
plays that changed line instead (the company reorganised its menu since the first call).
The line rings (183 with a ringback tone, or 180), answers or refuses, then walks the
scenario's nodes in real time: prompts, menus (DTMF by RFC 4733 or in-band, speech through the
injected STT), digit collection, hold with music and announcements, and a live person.
Every call leaves a :class:`CallRecord`: the path, digits, speech heard and when the person
started talking — what ``script/simulate`` and the tests score.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from custom_components.hold_slayer.audio.tones import DtmfDetector
from custom_components.hold_slayer.telephony import (
    CallEnd,
    CallFailedError,
    EndCause,
    IncomingCall,
    PortRange,
    SipAccount,
    SipPhone,
)
from custom_components.hold_slayer.voice.endpoint import UtteranceDetector
from custom_components.hold_slayer.voice.pcm import CALL_RATE, Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, SpeechToText, TextToSpeech

from .music import hold_audio
from .scenario import (
    Answer,
    CollectNode,
    EndNode,
    HoldNode,
    HumanNode,
    MenuInput,
    MenuNode,
    SayNode,
    Scenario,
    Voice,
    check_unique,
)
from .voices import DEFAULT_VOICE_MAP, VoiceBank

_LOGGER = logging.getLogger(__name__)

RING_ON: Final = 2.0  # US ringback: 440 + 480 Hz, 2 s on, 4 s off
RING_OFF: Final = 4.0
RINGBACK_LEVEL: Final = 0.08
MAX_CALL_SECONDS: Final = 900.0
MAX_NODE_VISITS: Final = 10  # a scenario loop (invalid → same node) ends the call after this
TERMINATOR_GRACE: Final = 1.0  # after the last expected digit, wait this long for the terminator
DUCKED_MUSIC: Final = 0.3  # music level under an announcement spoken over it
# What the line says on its own, for a TTS voice and for a recorded one (real prompts exist).
INVALID_OPTION: Final = ("That is not a valid option.", "That option is invalid. Please try again.")
INVALID_ENTRY: Final = ("I'm sorry, that entry is not valid.", "I'm sorry, that number is not valid.")
NO_INPUT_GOODBYE: Final = ("We did not receive a valid response. Goodbye.", "I'm sorry. Goodbye.")
CALLBACK_THANKS: Final = "Thank you. We will call you back at this number. Goodbye."
ANYONE_THERE: Final = "Hello? Is anyone there?"
AGENT_GIVES_UP: Final = "I'm sorry, I can't hear you. Please call back. Goodbye."
DEFAULT_RTP_PORTS: Final = PortRange(50000, 59999)
_STATUS: Final = {Answer.BUSY: 486, Answer.NOT_FOUND: 404, Answer.UNAVAILABLE: 503}


@dataclass(frozen=True, slots=True)
class _Input:
    kind: Literal["digit", "speech", "speech_start"]
    value: str
    at: float


@dataclass
class CallRecord:
    """What happened on one call (times are event-loop times, ``loop.time()``)."""

    scenario_id: str
    number: str
    call_id: str
    started_at: float
    call: int = 1  # the how-many-th call to this number (2 on: a scenario's ``second_call``)
    answered_at: float | None = None
    ended_at: float | None = None
    path: list[tuple[str, float]] = field(default_factory=list)
    prompt_seconds: dict[str, float] = field(default_factory=dict)  # node → length of its first prompt
    digits: str = field(default="", repr=False)  # may hold a secret: never in a repr or log
    speech: list[tuple[str, float]] = field(default_factory=list)
    # When the caller sent each key and began each stretch of speech.
    keyed_or_spoke: list[float] = field(default_factory=list)
    human_started_at: float | None = None
    caller_spoke_at: float | None = None  # first caller speech once the human was on
    end_reason: str = ""
    end: CallEnd | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def nodes(self) -> list[str]:
        """The node ids visited, in order."""
        return [node for node, _ in self.path]

    @property
    def done(self) -> bool:
        """Whether the call is over and the record complete."""
        return self._done.is_set()

    async def finished(self) -> CallRecord:
        """Wait until the call is over."""
        await self._done.wait()
        return self

    def finish(self, reason: str, end: CallEnd | None, at: float) -> None:
        """Close the record (the first reason set wins)."""
        if self._done.is_set():
            return
        self.end_reason = self.end_reason or reason
        self.end = end
        self.ended_at = at
        self._done.set()


class _Hangup(Exception):  # noqa: N818 - control flow, not an error
    """The scenario hangs up (an ending, a callback, a give-up)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ringback(seconds: float) -> Pcm:
    """US ringback (440 + 480 Hz, 2 s on, 4 s off) for ``seconds``."""
    t = np.arange(round(seconds * CALL_RATE)) / CALL_RATE
    tone = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)) / 2
    on = (t % (RING_ON + RING_OFF)) < RING_ON
    result: Pcm = (tone * on * RINGBACK_LEVEL * 32767).astype(np.int16)
    return result


def _is_choice(event: _Input) -> bool:
    return event.kind in ("digit", "speech")


def keyword_target(text: str, speech: Mapping[str, str]) -> str | None:
    """The node of the longest keyword found in ``text`` (case-insensitive, whole words)."""
    lowered = text.lower()
    for keyword in sorted(speech, key=len, reverse=True):
        if re.search(rf"\b{re.escape(keyword)}\b", lowered):
            return speech[keyword]
    return None


def _mix(base: Pcm, speech: Pcm, at: int) -> Pcm:
    out = base.astype(np.int32)
    end = min(len(out), at + len(speech))
    out[at:end] = (out[at:end] * DUCKED_MUSIC).astype(np.int32) + speech[: end - at]
    result: Pcm = np.clip(out, -32768, 32767).astype(np.int16)
    return result


class CompanySimulator:
    """Company scenarios answered on a SIP port of ``host``."""

    def __init__(
        self,
        scenarios: Iterable[Scenario],
        *,
        tts: TextToSpeech,
        stt: SpeechToText | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        voice_map: Mapping[str, str] = DEFAULT_VOICE_MAP,
        cache_dir: Path | None = None,
        rtp_ports: PortRange = DEFAULT_RTP_PORTS,
        early_media_ringback: bool = True,
        max_call_seconds: float = MAX_CALL_SECONDS,
        max_node_visits: int = MAX_NODE_VISITS,
    ) -> None:
        self.scenarios = list(scenarios)
        check_unique(self.scenarios)
        self._by_number = {scenario.dial_number: scenario for scenario in self.scenarios}
        self._calls: dict[str, int] = {}  # calls so far, by number
        self.voices = VoiceBank(tts, voice_map=voice_map, cache_dir=cache_dir)
        self.stt = stt
        self.host = host
        self.port = port
        self.rtp_ports = rtp_ports
        self.early_media_ringback = early_media_ringback
        self.max_call_seconds = max_call_seconds
        self.max_node_visits = max_node_visits
        self.records: list[CallRecord] = []
        self._arrivals: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._phone: SipPhone | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for calls."""
        port = self.port if self.port else _free_udp_port(self.host)
        account = SipAccount(
            self.host, "company", "", port=port, sip_ports=PortRange(port, port), rtp_ports=self.rtp_ports
        )
        phone = SipPhone(account, register=False, on_incoming=self._on_incoming, bind_host=self.host)
        await phone.start()
        self._phone = phone
        self.port = phone.transport.local_port or port
        _LOGGER.info(
            "Company simulator on sip:%s:%d with %d scenarios", self.host, self.port, len(self.scenarios)
        )

    async def stop(self) -> None:
        """Hang up every call and close the line."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._phone is not None:
            await self._phone.stop()
            self._phone = None

    async def prerender(self) -> None:
        """Render every prompt of every scenario now, so calls never wait for TTS."""
        versions = [version for first in self.scenarios for version in (first, first.second_call) if version]
        for scenario in versions:
            for node in scenario.nodes.values():
                if isinstance(node, HoldNode):
                    hold_audio(node.hold.music, 1.0)  # loads and renders the music once
            for text, voice in _texts(scenario):
                await self.voices.speak(text, voice, language=scenario.language)

    @property
    def address(self) -> tuple[str, int]:
        """Host and SIP port (UDP)."""
        return self.host, self.port

    def uri_for(self, number: str) -> str:
        """The SIP URI that dials ``number`` on this simulator."""
        return f"sip:{number}@{self.host}:{self.port}"

    def next_version(self, scenario: Scenario) -> Scenario:
        """The line the next call to ``scenario``'s number finds (``second_call`` from the second on)."""
        return scenario.for_call(self._calls.get(scenario.dial_number, 0) + 1)

    async def next_record(self) -> CallRecord:
        """The record of the next call to arrive (in arrival order, each once)."""
        return await self._arrivals.get()

    # -- calls ----------------------------------------------------------------------------------

    def _on_incoming(self, call: IncomingCall) -> None:
        number = call.called_user.removeprefix("+")
        scenario = self._by_number.get(number)
        loop = asyncio.get_running_loop()
        calls = self._calls[number] = self._calls.get(number, 0) + 1
        if scenario is not None:
            scenario = scenario.for_call(calls)
        record = CallRecord(
            scenario.id if scenario else "", call.called_user, call.call_id, loop.time(), call=calls
        )
        self.records.append(record)
        self._arrivals.put_nowait(record)
        if scenario is None:
            _LOGGER.info("No scenario for number %s: 404", call.called_user)
            call.reject(404)
            record.finish("unknown_number", call.ended.result(), loop.time())
            return
        answer = scenario.line.answer
        if answer in _STATUS:
            call.reject(_STATUS[answer])
            record.finish(answer.value, call.ended.result(), loop.time())
            return
        if answer is Answer.NO_ANSWER:
            call.ring_timeout = None  # ring until the caller gives up
        self._spawn(_Conversation(self, call, scenario, record).run(), f"hold_slayer simulator {scenario.id}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def announcement_texts(node: HoldNode) -> list[str]:
    """What each announcement of a hold says (position counts down to 1)."""
    hold = node.hold
    if hold.announce is None:
        return []
    count = int((hold.seconds - 1e-9) // hold.announce.every)
    texts = []
    for index in range(count):
        text = hold.announce.say
        if hold.position:
            text += f" You are caller number {count - index}."
        if hold.offer_callback:
            text += f" To request a callback, press {hold.offer_callback}."
        texts.append(text)
    return texts


def _texts(scenario: Scenario) -> list[tuple[str, Voice]]:
    ivr = scenario.voices["ivr"]
    found = [(phrase[ivr.recorded], ivr) for phrase in (INVALID_OPTION, INVALID_ENTRY, NO_INPUT_GOODBYE)]
    for node in scenario.nodes.values():
        if isinstance(node, HumanNode):
            agent = scenario.voices[node.voice]
            found += [(node.say, agent), (ANYONE_THERE, agent), (AGENT_GIVES_UP, agent)]
        elif isinstance(node, HoldNode):
            found += [(text, ivr) for text in announcement_texts(node)]
            if node.hold.offer_callback:
                found.append((CALLBACK_THANKS, ivr))
        else:
            found.append((node.say, ivr))
    return found


class _Conversation:
    """One call walking one scenario."""

    def __init__(
        self, sim: CompanySimulator, call: IncomingCall, scenario: Scenario, record: CallRecord
    ) -> None:
        self.sim = sim
        self.call = call
        self.scenario = scenario
        self.record = record
        self.ivr = scenario.voices["ivr"]
        self.loop = asyncio.get_running_loop()
        self.inputs: asyncio.Queue[_Input] = asyncio.Queue()
        self.visits: dict[str, int] = {}
        self._warned_no_stt = False
        self._pumps: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        call, record = self.call, self.record
        walker: asyncio.Task[None] | None = None
        try:
            if not await self._ring_and_answer():
                record.finish("caller_gave_up", await asyncio.shield(call.ended), self.loop.time())
                return
            record.answered_at = self.loop.time()
            self._pumps += [
                self.loop.create_task(self._audio_pump(), name="hold_slayer simulator audio"),
                self.loop.create_task(self._rfc4733_pump(), name="hold_slayer simulator dtmf"),
            ]
            walker = self.loop.create_task(self._walk(), name="hold_slayer simulator walk")
            ended: asyncio.Future[object] = asyncio.ensure_future(asyncio.shield(call.ended))
            waiting: set[asyncio.Future[Any]] = {walker, ended}
            done, _ = await asyncio.wait(
                waiting, timeout=self.sim.max_call_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            ended.cancel()
            if walker in done and (error := walker.exception()) is not None:
                _LOGGER.error("Scenario %s failed: %r", self.scenario.id, error)
                record.end_reason = "error"
            elif not done:
                record.end_reason = "max_call_seconds"
            elif call.ended.done() and call.ended.result().cause is EndCause.REMOTE_HANGUP:
                record.end_reason = record.end_reason or "caller_hung_up"
            end = await call.hangup()
            record.finish("hung_up", end, self.loop.time())
        finally:
            tasks = [*self._pumps, *([walker] if walker is not None else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not record.done:  # cancelled by stop()
                await call.hangup()
                record.finish("simulator_stopped", call.ended.result(), self.loop.time())
            _LOGGER.info(
                "Call to %s ended (%s) after %s",
                self.scenario.id,
                record.end_reason,
                " → ".join(record.nodes),
            )

    async def _ring_and_answer(self) -> bool:
        call, line = self.call, self.scenario.line
        if line.answer is Answer.NO_ANSWER:
            call.ring()
            await asyncio.shield(call.ended)  # a cancelled wait must not cancel the call's end
            return False
        if line.rings:
            seconds = line.rings * (RING_ON + RING_OFF)
            if self.sim.early_media_ringback:
                call.early_media()
                if not await call.play(ringback(seconds)):
                    return False
            else:
                call.ring()
                ended = asyncio.ensure_future(asyncio.shield(call.ended))
                await asyncio.wait({ended}, timeout=seconds)
                ended.cancel()
                if call.ended.done():
                    return False
        try:
            await call.answer()
        except CallFailedError:
            return False
        return True

    # -- what the caller does ---------------------------------------------------------------------

    async def _rfc4733_pump(self) -> None:
        while True:
            digit = await self.call.dtmf_received.get()
            self._digit(digit)

    def _digit(self, digit: str) -> None:
        self.record.digits += digit
        self.record.keyed_or_spoke.append(self.loop.time())
        self.inputs.put_nowait(_Input("digit", digit, self.loop.time()))

    async def _audio_pump(self) -> None:
        tones = DtmfDetector()
        speech = UtteranceDetector()
        tone_until = -1.0  # utterances overlapping an in-band digit are the digit, not speech
        position = 0.0
        async for frame in self.call.frames():
            position += len(frame) / CALL_RATE
            if (digit := tones.push(frame.astype(np.float64) / 32768)) is not None:
                self._digit(digit)
            if tones.active:
                tone_until = position
            was_active = speech.active
            utterance = speech.push(frame)
            if speech.active and not was_active:
                self.record.keyed_or_spoke.append(self.loop.time())
                self.inputs.put_nowait(_Input("speech_start", "", self.loop.time()))
            if utterance is not None and utterance.start > tone_until + 0.1:
                self._pumps.append(
                    self.loop.create_task(self._transcribe(utterance.audio), name="hold_slayer simulator stt")
                )

    async def _transcribe(self, audio: Pcm) -> None:
        if self.sim.stt is None:
            if not self._warned_no_stt:
                self._warned_no_stt = True
                _LOGGER.warning("Caller speech on %s but no STT: not recognised", self.scenario.id)
            return
        try:
            text = (await self.sim.stt.transcribe(audio, language=self.scenario.language)).strip()
        except SpeechError as err:
            _LOGGER.warning("STT failed: %s", err)
            return
        if text:
            at = self.loop.time()
            self.record.speech.append((text, at))
            self.inputs.put_nowait(_Input("speech", text, at))

    async def _next_input(
        self, timeout: float, kinds: frozenset[str] = frozenset({"digit", "speech"})
    ) -> _Input | None:
        deadline = self.loop.time() + timeout
        while (remaining := deadline - self.loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    event = await self.inputs.get()
            except TimeoutError:
                return None
            if event.kind in kinds:
                return event
        return None

    def _clear_inputs(self) -> None:
        while not self.inputs.empty():
            self.inputs.get_nowait()

    # -- what the company does --------------------------------------------------------------------

    async def _say(self, text: str, voice: Voice, *, barge_in: bool = False) -> _Input | None:
        """Speak; with ``barge_in`` the caller's first digit or phrase stops it and is returned.

        A line without barge-in (``line.barge_in: false``) plays its prompts out and loses what
        came during them, as a menu whose recogniser is off while it speaks.
        """
        audio = await self.sim.voices.speak(text, voice, language=self.scenario.language)
        if self.record.path:
            self.record.prompt_seconds.setdefault(self.record.path[-1][0], len(audio) / CALL_RATE)
        if barge_in and not self.scenario.line.barge_in:
            await self._play(audio, barge_in=False)
            self._clear_inputs()
            return None
        return await self._play(audio, barge_in=barge_in)

    async def _play(
        self, audio: Pcm, *, barge_in: bool, stops: Callable[[_Input], bool] = _is_choice
    ) -> _Input | None:
        """Play ``audio``; with ``barge_in`` the first input that ``stops`` it is returned."""
        if not barge_in:
            await self.call.play(audio)
            return None
        playing = asyncio.ensure_future(self.call.play(audio))
        waiter: asyncio.Future[_Input] | None = None
        try:
            while True:
                waiter = asyncio.ensure_future(self.inputs.get())
                done, _ = await asyncio.wait({playing, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter not in done:
                    return None
                event = waiter.result()
                if stops(event):
                    return event
        finally:
            if waiter is not None:
                waiter.cancel()
            if not playing.done():
                self.call.stop_playback()
                await asyncio.gather(playing, return_exceptions=True)

    async def _walk(self) -> None:
        node_id: str | None = self.scenario.start
        try:
            while node_id is not None and not self.call.ended.done():
                node = self.scenario.nodes[node_id]
                self.visits[node_id] = self.visits.get(node_id, 0) + 1
                if self.visits[node_id] > self.sim.max_node_visits:
                    await self._give_up("loop")
                self.record.path.append((node_id, self.loop.time()))
                _LOGGER.debug("%s: node %s", self.scenario.id, node_id)
                if not isinstance(node, HumanNode):
                    self._clear_inputs()
                node_id = await self._visit(node)
        except _Hangup as hangup:
            self.record.end_reason = hangup.reason
            await self.call.hangup()

    async def _give_up(self, reason: str) -> None:
        await self._say(NO_INPUT_GOODBYE[self.ivr.recorded], self.ivr)
        raise _Hangup(reason)

    async def _visit(self, node: object) -> str | None:
        if isinstance(node, SayNode):
            await self._say(node.say, self.ivr)
            return node.next
        if isinstance(node, EndNode):
            await self._say(node.say, self.ivr)
            raise _Hangup("hangup_node")
        if isinstance(node, MenuNode):
            return await self._menu(node.id, node.say, node.input)
        if isinstance(node, CollectNode):
            return await self._collect(node)
        if isinstance(node, HoldNode):
            await self._hold(node)
            return node.next
        assert isinstance(node, HumanNode)
        await self._human(node)
        return None

    async def _menu(self, node_id: str, say: str, menu: MenuInput) -> str | None:
        attempts = 0
        while True:
            event = await self._say(say, self.ivr, barge_in=True)
            if event is None:
                event = await self._next_input(menu.timeout)
            target = None
            if event is not None:
                target = (
                    menu.dtmf.get(event.value)
                    if event.kind == "digit"
                    else keyword_target(event.value, menu.speech)
                )
                if target is not None:
                    return target
            attempts += 1
            if event is not None:
                await self._say(INVALID_OPTION[self.ivr.recorded], self.ivr)
            if attempts > menu.retries:
                if menu.on_fail is None:
                    await self._give_up("no_valid_input")
                return menu.on_fail
            if event is not None and menu.invalid is not None and menu.invalid != node_id:
                return menu.invalid
            self._clear_inputs()

    async def _collect(self, node: CollectNode) -> str | None:
        rules = node.collect
        digits = ""
        event = await self._say(node.say, self.ivr, barge_in=True)
        while True:
            if event is None:
                event = await self._next_input(rules.timeout, frozenset({"digit"}))
            if event is None:
                break
            if event.kind == "digit":
                if event.value == rules.terminator:
                    break
                digits += event.value
                if rules.digits is not None and len(digits) >= rules.digits:
                    if rules.terminator is not None:  # swallow the terminator that follows
                        await self._next_input(TERMINATOR_GRACE, frozenset({"digit"}))
                    break
            event = None
        secret = self.scenario.expect.secrets.get(rules.equals) if rules.equals else None
        valid = bool(digits) and (rules.digits is None or len(digits) == rules.digits)
        if secret is not None:
            valid = valid and digits == secret
        shown = "*" * len(digits) if rules.equals else digits
        _LOGGER.debug("%s: collected %s (%s)", self.scenario.id, shown, "valid" if valid else "invalid")
        if valid:
            return rules.next
        await self._say(INVALID_ENTRY[self.ivr.recorded], self.ivr)
        return rules.invalid or node.id

    async def _hold(self, node: HoldNode) -> None:
        hold = node.hold
        audio = hold_audio(hold.music, hold.seconds)
        if hold.announce is not None:
            audio = await self._with_announcements(audio, node)
        callback = hold.offer_callback
        event = await self._play(
            audio,
            barge_in=callback is not None,
            stops=lambda event: event.kind == "digit" and event.value == callback,
        )
        if event is not None:
            await self._say(CALLBACK_THANKS, self.ivr)
            raise _Hangup("callback")

    async def _with_announcements(self, music: Pcm, node: HoldNode) -> Pcm:
        """The hold's audio with its announcements, each starting ``every`` seconds after the last.

        Over music they are mixed in with the music ducked; otherwise the music pauses while
        they speak and resumes where it stopped. An announcement still speaking when the hold
        ends is cut off, as when an agent picks up mid-sentence.
        """
        hold = node.hold
        assert hold.announce is not None
        every = round(hold.announce.every * CALL_RATE)
        out = music.copy()
        music_position = 0  # where the paused music resumes
        written = 0  # how much of ``out`` is final (pause mode)
        for index, text in enumerate(announcement_texts(node)):
            at = max(every * (index + 1), written)  # never over the previous announcement
            if at >= len(out):
                break
            speech = (await self.sim.voices.speak(text, self.ivr, language=self.scenario.language))[
                : len(out) - at
            ]
            if hold.announce.over_music:
                out = _mix(out, speech, at)
                continue
            gap = at - written
            out[written:at] = music[music_position : music_position + gap]
            out[at : at + len(speech)] = speech
            music_position += gap
            written = at + len(speech)
        if not hold.announce.over_music:
            rest = len(out) - written
            out[written:] = music[music_position : music_position + rest]
        return out

    async def _human(self, node: HumanNode) -> None:
        voice = self.scenario.voices[node.voice]
        greeting = await self.sim.voices.speak(node.say, voice, language=self.scenario.language)
        self.record.human_started_at = self.loop.time()
        _LOGGER.info("%s: the agent answers (%s)", self.scenario.id, node.id)
        await self._play(greeting, barge_in=False)
        heard = self._caller_spoke_since(self.record.human_started_at)
        if heard is None:
            event = await self._next_input(node.patience, frozenset({"speech_start", "speech"}))
            heard = event.at if event is not None else None
        if heard is None:
            await self._say(ANYONE_THERE, voice)
            event = await self._next_input(node.patience / 2, frozenset({"speech_start", "speech"}))
            heard = event.at if event is not None else None
        if heard is None:
            await self._say(AGENT_GIVES_UP, voice)
            raise _Hangup("agent_gave_up")
        self.record.caller_spoke_at = heard
        await asyncio.shield(self.call.ended)  # the person stays on the line until the caller hangs up

    def _caller_spoke_since(self, since: float) -> float | None:
        while not self.inputs.empty():
            event = self.inputs.get_nowait()
            if event.kind in ("speech_start", "speech") and event.at >= since:
                return event.at
        return None
