"""One call's life: dial → ring → menu (listen, transcribe, decide, act) → hold → a person.

:class:`CallSession` is an explicit state machine over one telephony call. It owns three kinds
of work: the media loop (every 20 ms frame goes to the hold monitor and the endpointer), a
transcription worker (utterances in order, never blocking the frames), and actions (DTMF or
speech), one at a time. Everything it learns goes out as :class:`SessionEvent`s; secrets are
only ever sent as DTMF and are masked everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import numpy as np

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES, Label
from custom_components.hold_slayer.audio.monitor import EventKind, HoldMonitor, MonitorEvent
from custom_components.hold_slayer.ivr.decide import (
    Action,
    Decider,
    DecisionContext,
    HangUp,
    Press,
    Say,
    Wait,
    source_of,
)
from custom_components.hold_slayer.ivr.menu import (
    Prompt,
    PromptKind,
    callback_key,
    parse_prompt,
    prompt_signature,
)
from custom_components.hold_slayer.ivr.model import model_chain
from custom_components.hold_slayer.ivr.routes import RouteBook, RouteDecider, RouteStep, action_to_dict
from custom_components.hold_slayer.telephony.bridge import Bridge
from custom_components.hold_slayer.telephony.call import CallEnd, CallFailedError, CallState, EndCause
from custom_components.hold_slayer.telephony.errors import SipError
from custom_components.hold_slayer.voice.endpoint import Utterance, UtteranceDetector
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, SpeechToText, TextToSpeech

from .dialplan import mask_number
from .errors import CallNotConnectedError, TransferInProgressError
from .events import FINAL_STATES, EventType, SessionEvent, SessionState, Speaker, TranscriptLine
from .judge import PersonCheck, Verdict
from .person import sounds_like_person
from .request import MASK, CallRequest, Handoff
from .snapshot import CallSnapshot
from .timeline import MarkKind, Timeline

_LOGGER = logging.getLogger(__name__)

FRAME_SECONDS: Final = 0.02
SETTLE: Final = 0.5  # quiet after a prompt is read before deciding (menus pause between options)
RING_SECONDS: Final = 12.0  # call audio kept to read a new voice's first words
SILENT_HOLD: Final = 15.0  # silence alone is a hold once it outlasts a menu's input timeout
SILENT_SHARE: Final = 0.8
UNANSWERED_HOLD: Final = 20.0  # quiet seconds after a menu we could not answer that make a hold
HOLD_SPEECH_SHARE: Final = 0.3  # on hold, transcribe only utterances with this much speech (not music)
DTMF_PACING: Final = 0.15
MAX_TRANSCRIPT: Final = 500  # lines kept in memory per call
SNAPSHOT_LINES: Final = 20  # transcript lines a snapshot carries (entities show no more)
_SPEECHY: Final = frozenset({Label.SPEECH, Label.SPEECH_OVER_MUSIC})
_ACTIONABLE: Final = frozenset({PromptKind.MENU, PromptKind.DIGITS, PromptKind.YES_NO, PromptKind.OPEN})


class CallLeg(Protocol):
    """What a session needs of a telephony call (``telephony.Call`` is one)."""

    state: CallState
    ended: asyncio.Future[CallEnd]

    def async_listen(self, listener: Callable[[CallState], None]) -> Callable[[], None]: ...  # noqa: D102
    async def wait_answered(self) -> None: ...  # noqa: D102
    def frames(self) -> AsyncIterator[Pcm]: ...  # noqa: D102
    async def send_dtmf(self, digits: str, *, pacing: float = ...) -> None: ...  # noqa: D102
    async def play(self, samples: Pcm) -> bool: ...  # noqa: D102
    def stop_playback(self) -> None: ...  # noqa: D102
    async def hangup(self) -> CallEnd: ...  # noqa: D102
    async def transfer(self, target: str) -> None: ...  # noqa: D102


type Dial = Callable[[str], Awaitable[CallLeg]]


class BridgeLike(Protocol):
    """Two legs' audio into each other (``telephony.Bridge``)."""

    async def wait(self) -> CallEnd: ...  # noqa: D102
    async def close(self) -> None: ...  # noqa: D102


def _telephony_bridge(first: CallLeg, second: CallLeg) -> BridgeLike:
    return Bridge(first, second)  # type: ignore[arg-type]  # telephony calls are CallLegs


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """How the session ended."""

    state: SessionState
    cause: str  # an EndCause value, or "max_hold", "nobody_took_over", "gave_up", "callback_accepted"
    reason: str = ""


class CallSession:
    """Place one call for a :class:`CallRequest` and follow it to the end."""

    settle: float = SETTLE
    end_silence: float = 1.0  # a pause between a menu's sentences must not split it (context helps STT)

    def __init__(  # noqa: PLR0915  (the reshape splits this class)
        self,
        request: CallRequest,
        dial: Dial,
        *,
        stt: SpeechToText | None = None,
        tts: TextToSpeech | None = None,
        decider: Decider | None = None,
        monitor: HoldMonitor | None = None,
        session_id: str | None = None,
        make_bridge: Callable[[CallLeg, CallLeg], BridgeLike] | None = None,
    ) -> None:
        self.request = request
        self.id = session_id or uuid.uuid4().hex[:12]
        self._dial = dial
        self._stt = stt
        self._tts = tts
        self._decider = decider or model_chain([])
        self._monitor = monitor or HoldMonitor()
        self._endpointer = UtteranceDetector(end_silence=self.end_silence)
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        self.state = SessionState.DIALING
        self.call: CallLeg | None = None
        self.events: list[SessionEvent] = []
        self.transcript: deque[TranscriptLine] = deque(maxlen=MAX_TRANSCRIPT)
        self.outcome: SessionOutcome | None = None
        self.hold_started_at: float | None = None  # session seconds
        self.human_detected_at: float | None = None
        self.human_onset_at: float | None = None
        self._hold_audio: tuple[float, float | None] | None = None  # (start, end) in audio seconds
        self.queue_position: int | None = None
        self.estimated_wait_minutes: int | None = None
        self.current_prompt: Prompt | None = None
        self.line_label: tuple[Label, float] | None = None  # the classifier's latest (label, confidence)
        self.decisions = 0  # prompts decided on
        self.route_steps: list[RouteStep] = []  # what the menu said and what we did, for the route book
        self.stt_seconds = 0.0
        self._listeners: list[Callable[[SessionEvent | None], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._utterances: asyncio.Queue[Utterance | None] = asyncio.Queue()
        self._transcribing = 0
        self._pending: list[str] = []  # line text since our last action
        self._pending_since: float | None = None  # audio time of the last finished utterance
        self._acting: asyncio.Task[None] | None = None
        self._history: list[tuple[str, Action]] = []
        self._heard: dict[str, int] = {}
        self._labels: deque[tuple[float, Label]] = deque(maxlen=600)  # one minute of decisions
        self.timeline = Timeline()
        self._audio_time = 0.0
        self._audio_started: float | None = None  # loop time of the first frame
        self._block: list[Pcm] = []
        self._end_requested: SessionOutcome | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._person = PersonCheck()  # a person reported is suspected until confirmed
        self._callback_answered = False  # a hold's callback offer is taken or declined once
        self._held_back: MonitorEvent | None = None
        self._confirming: asyncio.Task[None] | None = None
        self._ring: deque[Pcm] = deque(maxlen=round(RING_SECONDS / FRAME_SECONDS))
        self._bridge: BridgeLike | None = None
        self.desk: CallLeg | None = None
        self.keep_agent = True  # script/simulate turns this off: it scores, it does not talk
        self._make_bridge = make_bridge or _telephony_bridge

    # -- observing ------------------------------------------------------------------------------

    def async_listen(self, listener: Callable[[SessionEvent | None], None]) -> Callable[[], None]:
        """Call ``listener`` with each event, and with ``None`` on other changes (state, label)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def can_speak(self) -> bool:
        """Whether a TTS engine is there to say things on the call."""
        return self._tts is not None

    def now(self) -> float:
        """Seconds since the session started."""
        return self._loop.time() - self.started_at

    def _notify(self, event: SessionEvent | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("Session listener failed")

    def _emit(self, event_type: EventType, /, **data: Any) -> SessionEvent:
        event = SessionEvent(event_type, round(self.now(), 3), data)
        self.events.append(event)
        _LOGGER.debug("Call %s: %s %s", self.id, event_type, data)
        self._notify(event)
        return event

    def _set_state(self, state: SessionState) -> None:
        if state is self.state or self.state in FINAL_STATES:
            return
        self.state = state
        self._notify(None)

    def _say_line(self, speaker: Speaker, text: str) -> None:
        self.transcript.append(TranscriptLine(round(self.now(), 2), speaker, self.request.scrub(text)))

    # -- life -----------------------------------------------------------------------------------

    async def run(self) -> SessionOutcome:
        """Dial, follow the call to its end, and report how it ended."""
        self._emit(EventType.CALL_STARTED, company=self.request.company, goal=self.request.goal)
        try:
            call = await self._dial(self.request.target)
        except SipError as err:
            _LOGGER.warning("Call %s could not be placed: %s", self.id, err)
            return self._finish(SessionOutcome(SessionState.FAILED, EndCause.FAILED, str(err)))
        self.call = call
        unlisten = call.async_listen(self._on_call_state)
        try:
            await call.wait_answered()
        except CallFailedError as err:
            unlisten()
            return self._finish(SessionOutcome(SessionState.FAILED, err.end.cause, err.end.reason))
        except asyncio.CancelledError:
            unlisten()
            await call.hangup()
            raise
        unlisten()
        self._set_state(SessionState.IVR)
        worker = self._spawn(self._transcribe_worker(), "transcriber")
        try:
            await self._listen(call)
        finally:
            await self._utterances.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self._cancel_tasks()
            for leg in (call, self.desk):
                if leg is not None and not leg.ended.done():
                    await leg.hangup()
        end = call.ended.result()
        if self._end_requested is not None:
            return self._finish(self._end_requested)
        return self._finish(SessionOutcome(SessionState.ENDED, end.cause, end.reason))

    def _on_call_state(self, state: CallState) -> None:
        if state in (CallState.RINGING, CallState.EARLY_MEDIA):
            self._set_state(SessionState.RINGING)

    def _finish(self, outcome: SessionOutcome) -> SessionOutcome:
        self.outcome = outcome
        failed = outcome.state is SessionState.FAILED
        self._emit(
            EventType.CALL_FAILED if failed else EventType.CALL_ENDED,
            cause=str(outcome.cause),
            reason=outcome.reason,
            hold_seconds=self.hold_seconds,
        )
        self._set_state(outcome.state)
        return outcome

    @property
    def hold_seconds(self) -> float | None:
        """How long the call has been (or was) on hold, in seconds."""
        # Audio time, not the wall clock: the two agree on a live call, and replayed lines in
        # tests run faster than real time.
        if self._hold_audio is None:
            return None
        start, end = self._hold_audio
        return round((self._audio_time if end is None else end) - start, 1)

    async def hangup(self, reason: str = "hung up") -> None:
        """End the call from our side."""
        if self.call is not None and not self.call.ended.done():
            self._end_requested = SessionOutcome(SessionState.ENDED, EndCause.LOCAL_HANGUP, reason)
            await self.call.hangup()

    def snapshot(self, transcript_lines: int = SNAPSHOT_LINES, *, timeline: bool = False) -> CallSnapshot:
        """The call now, for entities: a frozen copy with the newest transcript lines (and the strip)."""
        over = self.state in FINAL_STATES
        label = self.line_label
        first = max(len(self.transcript) - transcript_lines, 0)
        lines = tuple(itertools.islice(self.transcript, first, None)) if transcript_lines else ()
        return CallSnapshot(
            call_id=self.id,
            state=self.state,
            company=self.request.company,
            number=mask_number(self.request.target),
            goal=self.request.goal,
            current_menu=self.current_prompt.text[:255] if self.current_prompt is not None else None,
            hold_seconds=self.hold_seconds,
            queue_position=self.queue_position,
            estimated_wait_minutes=self.estimated_wait_minutes,
            line_label=None if over or label is None else label[0],
            line_confidence=None if label is None else round(label[1], 2),
            transcript=lines,
            timeline=self.timeline.spans() if timeline else (),
            marks=self.timeline.marks() if timeline else (),
        )

    # -- acting on request (services) --------------------------------------------------------

    async def send_dtmf(self, digits: str) -> None:
        """Press keys on the user's behalf."""
        await self._run_action(Press(digits, reason="requested"))

    async def say(self, text: str) -> None:
        """Speak to the line on the user's behalf (needs a TTS engine)."""
        await self._run_action(Say(text, reason="requested"))

    # -- the media loop -------------------------------------------------------------------------

    async def _listen(self, call: CallLeg) -> None:
        async for frame in call.frames():
            if self._audio_started is None:
                self._audio_started = self._loop.time()
            self._audio_time += FRAME_SECONDS
            self._block.append(frame)
            self._ring.append(frame)
            if len(self._block) >= STEP_FRAMES:
                self._analyse(np.stack(self._block).astype(np.float64) / 32768)
                self._block = []
            if self.state in FINAL_STATES:
                break
            if (utterance := self._endpointer.push(frame)) is not None:
                self._on_utterance(utterance)
            self._maybe_decide()
            self._settle_held_back_hold()
            self._check_hold_limit()

    def _analyse(self, block: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        decisions, events = self._monitor.push_block(block)
        for decision in decisions:
            self._labels.append((decision.time, decision.label))
            self.timeline.heard(self._session_time(decision.time), decision.label)
        if decisions:
            last = decisions[-1]
            changed = self.line_label is None or self.line_label[0] is not last.label
            self.line_label = (last.label, last.confidence)
            if changed:
                self._notify(None)
        for event in events:
            self._on_monitor_event(event)
        if decisions:
            self._check_suspected_person()  # the judge reads decisions: once per step, not per frame

    def _session_time(self, audio_time: float) -> float:
        """Audio seconds (since the first frame) as session seconds."""
        started = self._audio_started if self._audio_started is not None else self._loop.time()
        return round(started - self.started_at + audio_time, 3)

    def _on_monitor_event(self, event: MonitorEvent) -> None:
        if event.kind is EventKind.HOLD_STARTED:
            if self.state is not SessionState.IVR:
                return
            onset = event.began
            if self._awaiting_us() or self._silent_since(onset):
                # The quiet may be the menu waiting for our answer: decide that first.
                self._held_back = event
                return
            self._start_hold(event)
        elif event.kind is EventKind.ANNOUNCEMENT:
            self._emit(EventType.ANNOUNCEMENT, confidence=round(event.confidence, 2))
        elif event.kind is EventKind.HUMAN_DETECTED and self.state is SessionState.ON_HOLD:
            onset = event.began
            if self._stt is None:
                self._human(onset, event.confidence, source="audio")
            elif self._confirming is None or self._confirming.done():
                audio = self._recent_audio(onset)
                self._confirming = self._spawn(self._confirm_human(onset, event.confidence, audio), "confirm")

    def _recent_audio(self, since: float) -> Pcm:
        """The call audio from ``since`` (audio seconds) to now, from the ring buffer."""
        first = max(0, len(self._ring) - round((self._audio_time - since) / FRAME_SECONDS))
        frames = list(self._ring)[first:]
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)

    async def _confirm_human(self, onset: float, confidence: float, audio: Pcm) -> None:
        """Read the first words of the "person" before telling anyone.

        Announcements that are new to the hold (a callback offer, a changed wait time) sound
        like a person to the acoustic detector; their words do not. The words decide only
        against a person: no text, or a greeting, confirms.
        """
        text = await self._transcribe(Utterance(audio, onset, self._audio_time))
        if self.state is not SessionState.ON_HOLD:
            return
        prompt = parse_prompt(text) if text else None
        if prompt is not None and prompt.kind is not PromptKind.STATEMENT and not sounds_like_person(text):
            _LOGGER.debug(
                "Call %s: not a person after all (%s): %s", self.id, prompt.kind, self.request.mask(text)
            )
            self._say_line(Speaker.LINE, text)
            self._monitor.review(False)
            self._person.heard_on_hold(text)
            if (key := callback_key(prompt)) is not None:
                self._answer_callback_offer(key)
            return
        self._human(onset, confidence, source="audio", words=text)

    def _start_hold(self, event: MonitorEvent) -> None:
        self._held_back = None
        onset = event.began
        self._hold_audio = (onset, None)
        self.hold_started_at = self._session_time(onset)
        self._set_state(SessionState.ON_HOLD)
        self.timeline.mark(self.hold_started_at, MarkKind.HOLD)
        self._emit(EventType.HOLD_STARTED, confidence=round(event.confidence, 2))

    def _settle_held_back_hold(self) -> None:
        """A hold reported while a prompt was pending, or made of silence only: decide it.

        If we answered the prompt instead, the quiet was the menu waiting: the monitor starts
        afresh. A hold that stays quiet long enough counts even after an unanswered menu (the
        line gave up on us and queued the call). Silence alone is a hold only once it outlasts
        any menu's wait for input; speech before that means it was a pause.
        """
        event = self._held_back
        if event is None or self.state is not SessionState.IVR:
            return
        onset = event.began
        answered = bool(self._history) and not isinstance(self._history[-1][1], Wait)
        if self._awaiting_us():
            # Quiet since the line last spoke, not since the hold was reported: a line that keeps
            # repeating a prompt we cannot answer is still asking, not holding.
            quiet_since = max(event.time, self._pending_since or 0.0)
            if (
                self._audio_time - quiet_since > UNANSWERED_HOLD
                and not self._pending
                and not self._transcribing
            ):
                self._start_hold(event)
        elif answered and self._history[-1][0] == (self.current_prompt.text if self.current_prompt else ""):
            self._discard_hold()
        elif self._silent_since(onset):
            if self._audio_time - onset >= SILENT_HOLD:
                self._start_hold(event)
            elif self._endpointer.active and self._line_speaks():
                self._discard_hold()  # the line spoke again: the silence was a pause
        else:
            self._start_hold(event)

    def _discard_hold(self) -> None:
        self._held_back = None
        self._monitor = HoldMonitor(self._monitor.classifier)

    def _silent_since(self, since: float) -> bool:
        """Whether the classifier heard (almost) only silence since ``since`` (audio seconds)."""
        labels = [label for time, label in self._labels if time >= since]
        return bool(labels) and labels.count(Label.SILENCE) >= SILENT_SHARE * len(labels)

    def _human(self, onset: float, confidence: float, *, source: str, words: str = "") -> None:
        """A person is on the line; ``onset`` is when they started, in audio seconds."""
        self._person.suspect(self._audio_time, words)
        self.human_detected_at = round(self.now(), 3)
        self.human_onset_at = self._session_time(onset)
        if self._hold_audio is not None:
            self._hold_audio = (self._hold_audio[0], onset)
        self._set_state(SessionState.HUMAN)
        self.timeline.mark(self.human_onset_at, MarkKind.PERSON, source=source)
        self._emit(
            EventType.HUMAN_DETECTED,
            confidence=round(confidence, 2),
            source=source,
            hold_seconds=self.hold_seconds,
        )
        handoff = self.request.handoff
        if handoff.transfer_to:
            self._spawn(self.transfer(handoff.transfer_to), "transfer")
        elif self.keep_agent:
            self._keeper = self._spawn(self._keep_agent(handoff), "keep the agent")

    async def _keep_agent(self, handoff: Handoff) -> None:
        """Keep the person on the line until someone takes over, then leave politely."""
        await self._person.confirmed.wait()  # a recording taken for a person is not greeted
        deadline = self._loop.time() + handoff.patience
        await self._speak(handoff.greeting())
        while (left := deadline - self._loop.time()) > 0:
            await asyncio.sleep(min(handoff.repeat_every, left))
            if self._loop.time() < deadline:
                await self._speak(handoff.reminder())
        await self._speak(handoff.farewell())
        self._end_requested = SessionOutcome(SessionState.ENDED, "nobody_took_over", "nobody took over")
        await self._hangup_call()

    def _check_suspected_person(self) -> None:
        if (
            self.state is SessionState.HUMAN
            and self._person.judge(self._audio_time, self._labels) is Verdict.MUSIC_BACK
        ):
            self._retract(Verdict.MUSIC_BACK)

    def _retract(self, verdict: Verdict) -> None:
        """The person reported was the hold after all: back on hold, with its own event."""
        self._person.withdraw()
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        self._monitor.review(False)  # the monitor learns the segment as part of the hold
        self.human_detected_at = self.human_onset_at = None
        if self._hold_audio is not None:
            self._hold_audio = (self._hold_audio[0], None)
        _LOGGER.debug("Call %s: not a person after all: %s", self.id, verdict)
        self._set_state(SessionState.ON_HOLD)
        self.timeline.mark(self.now(), MarkKind.RETRACTED, text=str(verdict))
        self._emit(EventType.HUMAN_RETRACTED, reason=str(verdict), hold_seconds=self.hold_seconds)

    async def _speak(self, text: str) -> None:
        if self._tts is not None and self.call is not None and self.call.state is CallState.ANSWERED:
            await self._perform(Say(text, reason="keeping the agent on the line"))

    # -- hand-off to the desk phone -------------------------------------------------------------

    async def transfer(self, target: str, *, blind: bool = False) -> None:
        """Connect the company to ``target`` (the desk extension).

        By default: dial the desk, tell the agent "one moment please" while it rings, tell the
        user who is on the line when they pick up, then bridge both ways. ``blind`` hands the
        call over by SIP REFER instead, where the trunk supports it.
        """
        call = self.call
        if call is None or call.state is not CallState.ANSWERED or self.state in FINAL_STATES:
            raise CallNotConnectedError
        if self.state in (SessionState.TRANSFERRING, SessionState.CONNECTED):
            raise TransferInProgressError
        previous = self.state
        self._set_state(SessionState.TRANSFERRING)
        self._emit(EventType.TRANSFER_STARTED, target=mask_number(target), blind=blind)
        if self._keeper is not None:
            self._keeper.cancel()
        try:
            if blind:
                await call.transfer(target)
                self._end_requested = SessionOutcome(SessionState.ENDED, EndCause.TRANSFERRED, "transferred")
            else:
                await self._bridge_to(call, target)
        except (SipError, CallFailedError) as err:
            _LOGGER.warning("Call %s: transfer failed: %s", self.id, err)
            self.state = previous  # back to where we were; the agent is still there
            self._notify(None)
            raise
        self._emit(EventType.TRANSFERRED, target=mask_number(target), blind=blind)

    async def _bridge_to(self, call: CallLeg, target: str) -> None:
        desk = await self._dial(target)
        self.desk = desk
        ringing = self._spawn(self._while_ringing(call, desk), "tell the agent")
        try:
            await desk.wait_answered()
        finally:
            ringing.cancel()
            call.stop_playback()
        company = self.request.company or "The company"
        if self._tts is not None:
            with contextlib.suppress(SpeechError):
                audio = await self._tts.synthesize(
                    f"{company} is on the line. Connecting you now.", language=self.request.language
                )
                await desk.play(audio)
        self._bridge = self._make_bridge(call, desk)
        self._set_state(SessionState.CONNECTED)
        self._spawn(self._until_either_hangs_up(call, desk), "bridge")

    async def _while_ringing(self, call: CallLeg, desk: CallLeg) -> None:
        while desk.state is not CallState.ANSWERED:
            await self._speak("One moment please, I'm connecting you.")
            await asyncio.sleep(4)

    async def _until_either_hangs_up(self, call: CallLeg, desk: CallLeg) -> None:
        assert self._bridge is not None
        await self._bridge.wait()
        await self._bridge.close()
        for leg in (call, desk):
            if not leg.ended.done():
                await leg.hangup()

    def _awaiting_us(self) -> bool:
        """The last prompt asked something of us and we have not answered it (yet)."""
        if self._acting is not None and not self._acting.done():
            return True
        if self._pending or self._transcribing:
            return True  # words still being read or decided on: the quiet may be the menu waiting
        if self.current_prompt is None or self.current_prompt.kind not in _ACTIONABLE:
            return False
        return not self._history or isinstance(self._history[-1][1], Wait)

    def _check_hold_limit(self) -> None:
        if (
            self.state is SessionState.ON_HOLD
            and self.hold_started_at is not None
            and (self.hold_seconds or 0.0) > self.request.max_hold
            and self._end_requested is None
        ):
            self._end_requested = SessionOutcome(SessionState.ENDED, "max_hold", "held too long")
            self._spawn(self._hangup_call(), "max hold hangup")

    async def _hangup_call(self) -> None:
        if self.call is not None:
            await self.call.hangup()

    # -- speech ---------------------------------------------------------------------------------

    def _on_utterance(self, utterance: Utterance) -> None:
        if self._stt is None or self.state in (SessionState.TRANSFERRING, SessionState.CONNECTED):
            return  # the user's own conversation is not ours to transcribe
        if self.state is SessionState.ON_HOLD and self._speech_share(utterance) < HOLD_SPEECH_SHARE:
            return  # music: nothing to read
        self._transcribing += 1
        self._utterances.put_nowait(utterance)

    def _line_speaks(self) -> bool:
        """Whether the classifier hears speech now (music keeps the endpointer busy too)."""
        return self.line_label is None or self.line_label[0] in _SPEECHY

    def _speech_share(self, utterance: Utterance) -> float:
        labels = [label for time, label in self._labels if utterance.start <= time <= utterance.end + 0.2]
        if not labels:
            return 0.0
        return sum(label in _SPEECHY for label in labels) / len(labels)

    async def _transcribe_worker(self) -> None:
        assert self._stt is not None or self._utterances.empty()
        while (utterance := await self._utterances.get()) is not None:
            try:
                text = await self._transcribe(utterance)
            finally:
                self._transcribing -= 1
            if text:
                self._on_transcript(utterance, text)

    async def _transcribe(self, utterance: Utterance) -> str:
        assert self._stt is not None
        self.stt_seconds += len(utterance.audio) / 8000
        try:
            return (await self._stt.transcribe(utterance.audio, language=self.request.language)).strip()
        except SpeechError as err:
            _LOGGER.warning("Call %s: speech recognition failed: %s", self.id, err)
            return ""

    def _on_transcript(self, utterance: Utterance, text: str) -> None:
        _LOGGER.debug(
            "Call %s heard (%.1f-%.1f s, %s): %s",
            self.id,
            utterance.start,
            utterance.end,
            self.state,
            self.request.mask(text),
        )
        self._say_line(Speaker.LINE, text)
        prompt = parse_prompt(text)
        if prompt.queue_position is not None and prompt.queue_position != self.queue_position:
            self.queue_position = prompt.queue_position
            self._emit(EventType.QUEUE_POSITION, position=prompt.queue_position)
        if prompt.estimated_wait is not None and prompt.estimated_wait != self.estimated_wait_minutes:
            self.estimated_wait_minutes = prompt.estimated_wait
            self._notify(None)
        if self.state is SessionState.HUMAN:
            if self._person.repeats(text):
                self._retract(Verdict.SAME_WORDS)
            return
        if self.state is SessionState.ON_HOLD:
            if (key := callback_key(prompt)) is not None:
                self._answer_callback_offer(key)
            if self._person.heard_on_hold(text):
                return  # words the hold plays again are the hold's, however friendly they sound
            if sounds_like_person(text) and (self._confirming is None or self._confirming.done()):
                # The acoustic detector missed a person the words make plain ("this is Sam").
                self._human(utterance.start, 0.9, source="transcript", words=text)
            return
        if self.state is SessionState.IVR:
            if self._history and sounds_like_person(text):
                self._human(utterance.start, 0.9, source="transcript", words=text)
                return
            self._pending.append(text)
            self._pending_since = self._audio_time

    def _answer_callback_offer(self, key: str) -> None:
        """Take the hold's callback offer if the call asked to (the call then ends), else wait on."""
        if self._callback_answered:
            return
        self._callback_answered = True
        if not self.request.accept_callback:
            self._say_line(Speaker.US, "[declined the callback offer] (navigator: this call waits on hold)")
            return
        self._end_requested = SessionOutcome(
            SessionState.ENDED, "callback_accepted", "the company will call back"
        )
        self._spawn(
            self._perform(Press(key, reason="the call accepts callbacks", source="navigator")), "callback"
        )

    def _maybe_decide(self) -> None:
        if (
            self.state is not SessionState.IVR
            or not self._pending
            or (self._endpointer.active and self._line_speaks())
            or self._transcribing
            or (self._acting is not None and not self._acting.done())
            or self._pending_since is None
            or self._audio_time - self._pending_since < self.settle
        ):
            return
        text = " ".join(self._pending)
        self._pending = []
        self._acting = self._spawn(self._decide(text), "decide")

    async def _decide(self, text: str) -> None:
        prompt = parse_prompt(text)
        self.current_prompt = prompt
        if prompt.kind in _ACTIONABLE:
            options = [{"key": option.key, "label": option.label} for option in prompt.options]
            self._emit(
                EventType.MENU_HEARD, text=self.request.mask(text), kind=str(prompt.kind), options=options
            )
        callback = callback_key(prompt)
        if callback is not None and all(option.key == callback for option in prompt.options):
            self._answer_callback_offer(callback)  # a callback offer alone ("please hold, or press 2 …")
            return
        if prompt.kind not in _ACTIONABLE:
            return
        key = prompt_signature(prompt)
        self._heard[key] = self._heard.get(key, 0) + 1
        context = DecisionContext(
            goal=self.request.goal,
            prompt=prompt,
            secret_names=frozenset(self.request.secrets),
            attempts=self._heard[key],
            history=tuple(self._history),
            forbidden_keys=frozenset({callback} if callback and not self.request.accept_callback else ()),
        )
        self.decisions += 1
        action = await self._decider.decide(context) or Wait(reason="no decider knew")
        if not action.source:
            action = replace(action, source=source_of(self._decider))
        self._history.append((text, action))
        at = round(self._audio_time, 1)
        await self._perform(action)
        if not (isinstance(action, Say) and self.request.holds_secret(action.text)):
            self.route_steps.append(RouteStep(self.request.scrub(text), action_to_dict(action), at))

    async def learn_route(self, book: RouteBook, replay: RouteDecider | None) -> None:
        """Keep the way this call took to a person in ``book`` (a call that reached none teaches nothing)."""
        if self.human_detected_at is None or not self.route_steps:
            return
        request = self.request
        await book.record(
            request.target, request.company, self.route_steps, hold_seconds=self.hold_seconds, replay=replay
        )

    @property
    def model_calls(self) -> int:
        """Questions this call asked of a language model."""
        return int(getattr(self._decider, "calls", 0))

    async def _run_action(self, action: Action) -> None:
        if self.call is None or self.call.state is not CallState.ANSWERED:
            raise CallNotConnectedError
        await self._perform(action)

    async def _perform(self, action: Action) -> None:
        assert self.call is not None
        if isinstance(action, Press):
            secret = self.request.secrets.get(action.secret, "") if action.secret else ""
            digits = secret + action.digits
            if not digits:
                return
            await self.call.send_dtmf(digits, pacing=DTMF_PACING)
            shown = (MASK if secret else "") + action.digits
            self._say_line(Speaker.US, f"[pressed {shown}]{_why(action)}")
            self.timeline.mark(self.now(), MarkKind.CHOICE, f"pressed {shown}", action.source)
            self._emit(
                EventType.DTMF_SENT,
                digits=shown,
                secret=action.secret,
                reason=self.request.mask(action.reason),
                source=action.source,
            )
        elif isinstance(action, Say):
            if self.request.holds_secret(action.text):
                # Secrets are only ever sent as key tones, never spoken.
                _LOGGER.warning("Call %s: refused to say a secret", self.id)
                return
            if self._tts is None:
                _LOGGER.warning("Call %s: cannot say anything without a TTS engine", self.id)
                return
            try:
                audio = await self._tts.synthesize(action.text, language=self.request.language)
            except SpeechError as err:
                _LOGGER.warning("Call %s: speech synthesis failed: %s", self.id, err)
                return
            self._say_line(Speaker.US, f"{action.text}{_why(action)}")
            self.timeline.mark(self.now(), MarkKind.CHOICE, f"said {action.text}", action.source)
            self._emit(
                EventType.SAID,
                text=action.text,
                reason=self.request.mask(action.reason),
                source=action.source,
            )
            await self.call.play(audio)
        elif isinstance(action, HangUp):
            self._say_line(Speaker.US, f"[hung up]{_why(action)}")
            self._end_requested = SessionOutcome(SessionState.ENDED, "gave_up", action.reason)
            await self._hangup_call()

    # -- tasks ----------------------------------------------------------------------------------

    def _spawn[T](self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = self._loop.create_task(coro, name=f"hold_slayer {self.id} {name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.error("Call %s: %s failed", self.id, task.get_name(), exc_info=err)

    async def _cancel_tasks(self) -> None:
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _why(action: Action) -> str:
    """The decision behind an action, as the transcript shows it: " (rules: goal matches …)"."""
    if not action.source or not action.reason:
        return ""
    return f" ({action.source}: {action.reason})"
