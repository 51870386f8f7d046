"""One call's life: dial → ring → menu (listen, transcribe, decide, act) → hold → a person.

:class:`CallSession` places the call and then handles one queue of typed inputs
(:mod:`.inputs`), in order: what the media loop heard (classifier decisions and monitor events
every 100 ms, utterances), what the transcriber read, what the action lane finished, timers, and
the user's requests. Three collaborators read a read-only view of the line (:mod:`.view`) and
return commands (:mod:`.commands`): the hold judge (:mod:`.hold_judge`), the navigator
(:mod:`.navigator`) and the hand-off (:mod:`.handoff`). The session carries the commands out,
moving the call only through its transition table (:mod:`.states`), and tells everything it
learns as :class:`SessionEvent`s. Secrets are only ever sent as DTMF and are masked everywhere
else; our own actions go through one lane, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.audio.monitor import HoldMonitor
from custom_components.hold_slayer.ivr.decide import Action, Decider, HangUp, Press, Say, Wait
from custom_components.hold_slayer.ivr.menu import Prompt, parse_prompt
from custom_components.hold_slayer.ivr.model import model_chain
from custom_components.hold_slayer.ivr.routes import RouteBook, RouteDecider, RouteStep
from custom_components.hold_slayer.ivr.rules import likely_phrases
from custom_components.hold_slayer.telephony.bridge import Bridge
from custom_components.hold_slayer.telephony.call import CallEnd, CallFailedError, CallState, EndCause
from custom_components.hold_slayer.telephony.errors import SipError
from custom_components.hold_slayer.voice.endpoint import Utterance
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, SpeechToText, TextToSpeech

from .actions import ActionLane, Keypad
from .commands import (
    CancelTimer,
    CheckWords,
    Command,
    ConfirmPerson,
    Decide,
    DiscardHold,
    Emit,
    EndCall,
    EndUtterance,
    LearnHoldSegment,
    Note,
    Perform,
    ReportPerson,
    ResumeMenu,
    Retract,
    SetTimer,
    StartHold,
    StartTransfer,
)
from .dialplan import mask_number
from .errors import CallNotConnectedError, TransferInProgressError
from .events import FINAL_STATES, EventType, SessionEvent, SessionState, Speaker, TranscriptLine
from .handoff import HandOff, Leg, bridge_to_desk
from .hold_judge import HoldJudge
from .inputs import (
    ActionDone,
    Decided,
    Heard,
    Input,
    LineEnded,
    ReadAhead,
    TimerFired,
    Transcribed,
    UserRequest,
    UtteranceEnded,
    WordsRead,
)
from .media import MediaLoop
from .navigator import CLOSED_GRACE, SETTLE, Navigator
from .read_ahead import PieceReader
from .request import CallRequest
from .snapshot import CallSnapshot
from .states import Phase, StateMachine, Trigger
from .timeline import MarkKind, Timeline

_LOGGER = logging.getLogger(__name__)

HOLD_SPEECH_SHARE: Final = 0.3  # on hold, transcribe only utterances with this much speech (not music)
# In the menu, what the line said is read at each pause this long, while the endpointer still
# waits for the utterance's end (session/read_ahead.py): shorter than the quiet that settles a
# menu, longer than the gaps inside words.
READ_AHEAD_QUIET: Final = 0.4
PIECE_WAIT: Final = 1.0  # seconds the whole reading waits for a piece's: pieces take under one
MAX_TRANSCRIPT: Final = 500  # lines kept in memory per call
SNAPSHOT_LINES: Final = 20  # transcript lines a snapshot carries (entities show no more)
_SPEECHY: Final = frozenset({Label.SPEECH, Label.SPEECH_OVER_MUSIC})


class CallLeg(Keypad, Leg, Protocol):
    """What a session needs of a telephony call (``telephony.Call`` is one).

    What the action lane (keys, words, hang-up) and the hand-off (answer, playback) need, and the
    call's life.
    """

    ended: asyncio.Future[CallEnd]

    def async_listen(self, listener: Callable[[CallState], None]) -> Callable[[], None]: ...  # noqa: D102
    def frames(self) -> AsyncIterator[Pcm]: ...  # noqa: D102
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


@dataclass(slots=True)
class _Line:
    """What the session knows of the line's sound (the view reads it)."""

    audio_time: float = 0.0  # the audio clock, as the inputs have brought it
    speaking: bool = False  # the endpointer is inside an utterance
    quiet: float = 0.0  # seconds since the line was last loud enough for speech
    label: tuple[Label, float] | None = None  # the classifier's latest (label, confidence)
    reading: list[float] = field(default_factory=list)  # starts of the utterances being read
    hold: tuple[float, float | None] | None = None  # (start, end) in audio seconds


class CallSession:
    """Place one call for a :class:`CallRequest` and follow it to the end."""

    settle: float = SETTLE
    closed_grace: float = CLOSED_GRACE  # a closed line's time to hang up itself
    # The quiet that ends an utterance: a pause between sentences must not split one, as speech
    # recognition needs their context (a person straight after the menu is known by their words).
    end_silence: float = 1.0

    def __init__(
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
        self._make_bridge = make_bridge or _telephony_bridge
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        self._machine = StateMachine()
        self._judge = HoldJudge()
        self._navigator = Navigator(
            decider or model_chain([]), settle=self.settle, closed_grace=self.closed_grace
        )
        self._handoff = HandOff(request.handoff)
        self._media = MediaLoop(monitor, end_silence=self.end_silence)
        self._lane: ActionLane | None = None  # once the call is placed
        # A desk ringing, until bridged (a blind transfer, handed to the trunk, is never kept here).
        self._transferring: asyncio.Task[None] | None = None
        self._line = _Line()
        self._labels: deque[tuple[float, Label]] = deque(maxlen=600)  # one minute of decisions
        self.timeline = Timeline()
        self.call: CallLeg | None = None
        self.desk: CallLeg | None = None
        self.events: list[SessionEvent] = []
        self.transcript: deque[TranscriptLine] = deque(maxlen=MAX_TRANSCRIPT)
        self.outcome: SessionOutcome | None = None
        self.hold_started_at: float | None = None  # session seconds
        self.human_detected_at: float | None = None
        self.human_onset_at: float | None = None
        self.queue_position: int | None = None
        self.estimated_wait_minutes: int | None = None
        self.stt_seconds = 0.0
        self._listeners: list[Callable[[SessionEvent | None], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inputs: asyncio.Queue[Input] = asyncio.Queue()
        self._reacting = False  # the input loop runs (the call is answered and not over)
        self._utterances: asyncio.Queue[Utterance | None] = asyncio.Queue()
        self._read_ahead = PieceReader()  # the open utterance read at its pauses, in the menu
        # (piece, utterance): utterances that ended as one piece still being read, whose words it gives
        self._read_whole: list[tuple[Utterance, Utterance]] = []
        self._reading_piece: asyncio.Task[None] | None = None  # the piece being read at its pause
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._end_requested: SessionOutcome | None = None

    # -- observing ------------------------------------------------------------------------------

    def async_listen(self, listener: Callable[[SessionEvent | None], None]) -> Callable[[], None]:
        """Call ``listener`` with each event, and with ``None`` on other changes (state, label)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def state(self) -> SessionState:
        """Where the call is."""
        return self._machine.state

    @property
    def phase(self) -> Phase:
        """Where in its state the call is."""
        return self._machine.phase

    @property
    def keep_agent(self) -> bool:
        """Whether a person is greeted and kept on the line (script/simulate scores, it does not talk)."""
        return self._handoff.keep_agent

    @keep_agent.setter
    def keep_agent(self, keep: bool) -> None:
        self._handoff.keep_agent = keep

    @property
    def current_prompt(self) -> Prompt | None:
        """The prompt the line last read."""
        return self._navigator.current_prompt

    @property
    def decisions(self) -> int:
        """Prompts decided on."""
        return self._navigator.decisions

    @property
    def route_steps(self) -> list[RouteStep]:
        """What the menu said and what we did, for the route book."""
        return self._navigator.route_steps

    @property
    def model_calls(self) -> int:
        """Questions this call asked of a language model."""
        return self._navigator.model_calls

    @property
    def line_label(self) -> tuple[Label, float] | None:
        """The classifier's latest (label, confidence)."""
        return self._line.label

    @property
    def can_speak(self) -> bool:
        """Whether a TTS engine is there to say things on the call."""
        return self._tts is not None

    def now(self) -> float:
        """Seconds since the session started."""
        return self._loop.time() - self.started_at

    @property
    def hold_seconds(self) -> float | None:
        """How long the call has been (or was) on hold, in seconds."""
        # Audio time, not the wall clock: the two agree on a live call, and replayed lines in
        # tests run faster than real time.
        if self._line.hold is None:
            return None
        start, end = self._line.hold
        return round((self._line.audio_time if end is None else end) - start, 1)

    def snapshot(self, transcript_lines: int = SNAPSHOT_LINES, *, timeline: bool = False) -> CallSnapshot:
        """The call now, for entities: a frozen copy with the newest transcript lines (and the strip)."""
        over = self.state in FINAL_STATES
        label = self._line.label
        first = max(len(self.transcript) - transcript_lines, 0)
        lines = tuple(itertools.islice(self.transcript, first, None)) if transcript_lines else ()
        prompt = self.current_prompt
        return CallSnapshot(
            call_id=self.id,
            state=self.state,
            company=self.request.company,
            number=mask_number(self.request.target),
            goal=self.request.goal,
            current_menu=prompt.text[:255] if prompt is not None else None,
            hold_seconds=self.hold_seconds,
            queue_position=self.queue_position,
            estimated_wait_minutes=self.estimated_wait_minutes,
            line_label=None if over or label is None else label[0],
            line_confidence=None if label is None else round(label[1], 2),
            transcript=lines,
            timeline=self.timeline.spans() if timeline else (),
            marks=self.timeline.marks() if timeline else (),
            end_cause=None if self.outcome is None else str(self.outcome.cause),
            end_reason=None if self.outcome is None else self.request.mask(self.outcome.reason),
        )

    # -- the line as the collaborators see it (LineView) ------------------------------------------

    @property
    def audio_time(self) -> float:
        """The audio clock: seconds of call audio the session has handled."""
        return self._line.audio_time

    @property
    def wall_time(self) -> float:
        """Seconds since the session started."""
        return self.now()

    @property
    def labels(self) -> Sequence[tuple[float, Label]]:
        """The classifier's decisions of the last minute."""
        return self._labels

    @property
    def speaking(self) -> bool:
        """The line is inside an utterance the classifier hears as speech."""
        label = self._line.label
        return self._line.speaking and (label is None or label[0] in _SPEECHY)

    @property
    def utterance_open(self) -> bool:
        """The endpointer holds an utterance not yet handed to the transcriber (any sound)."""
        return self._line.speaking

    @property
    def quiet_for(self) -> float:
        """Seconds since the line was last loud enough for speech."""
        return self._line.quiet

    def line_audio(self, since: float) -> Pcm:
        """The line's audio from ``since`` (audio seconds) to now, as far back as it is kept."""
        return self._media.recent_audio(since, self._line.audio_time)

    @property
    def transcribing(self) -> int:
        """Utterances waiting to be read."""
        return len(self._line.reading)

    def reading_before(self, start: float) -> bool:
        """Whether an utterance begun before ``start`` (audio seconds) is still being read."""
        return any(begun < start for begun in self._line.reading)

    @property
    def can_transcribe(self) -> bool:
        """Whether a speech recogniser is there."""
        return self._stt is not None

    @property
    def awaiting_us(self) -> bool:
        """The last prompt asked something of us and we have not answered it (yet)."""
        return self._navigator.awaiting_us(self)

    @property
    def answered_current_prompt(self) -> bool:
        """Our last action answered the prompt the line last read."""
        return self._navigator.answered_current_prompt

    @property
    def answered_at(self) -> float | None:
        """Audio seconds our latest answer to the menu was keyed or said."""
        return self._navigator.answered_at

    @property
    def has_answered(self) -> bool:
        """We have answered a prompt on this call."""
        return self._navigator.has_answered

    @property
    def line_spoke_at(self) -> float | None:
        """Audio seconds the line last finished saying something we have not answered."""
        return self._navigator.line_spoke_at

    @property
    def words_pending(self) -> bool:
        """Line words since our last action, not yet decided on."""
        return self._navigator.words_pending

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
        self._lane = lane = ActionLane(
            call, self.request, self._tts, self, done=self._action_done, call_id=self.id
        )
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
        self._fire(Trigger.ANSWER)
        workers = [
            self._spawn(self._media.run(call.frames(), self._inputs.put_nowait), "media"),
            self._spawn(self._transcribe_worker(), "transcriber"),
            self._spawn(lane.run(), "actions"),
            self._spawn(
                lane.prepare(
                    [*likely_phrases(self.request.goal, self.request.language), *self._handoff.first_words()]
                ),
                "phrases",
            ),
        ]
        self._reacting = True
        try:
            await self._react()
        finally:
            self._reacting = False
            await self._utterances.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await workers[1]  # the last words of the call are read and kept
            self._drain()
            for timer in self._timers.values():  # after the drain: its inputs may set timers too
                timer.cancel()
            await self._cancel_tasks()
            lane.refuse_waiting()
            for leg in (call, self.desk):
                if leg is not None and not leg.ended.done():
                    await leg.hangup()
        end = call.ended.result()
        if self._end_requested is not None:
            return self._finish(self._end_requested)
        return self._finish(SessionOutcome(SessionState.ENDED, end.cause, end.reason))

    def _on_call_state(self, state: CallState) -> None:
        if state in (CallState.RINGING, CallState.EARLY_MEDIA):
            self._fire(Trigger.RING)

    def _finish(self, outcome: SessionOutcome) -> SessionOutcome:
        self.outcome = outcome
        failed = outcome.state is SessionState.FAILED
        self._emit(
            EventType.CALL_FAILED if failed else EventType.CALL_ENDED,
            cause=str(outcome.cause),
            reason=outcome.reason,
            hold_seconds=self.hold_seconds,
        )
        self._fire(Trigger.FAIL if failed else Trigger.END)
        return outcome

    # -- the user's requests (services) -----------------------------------------------------------

    async def hangup(self, reason: str = "hung up") -> None:
        """End the call from our side; a call already ending is left to end (no error)."""
        if self._reacting:
            with contextlib.suppress(CallNotConnectedError):  # it ended while the request queued
                await self._request(EndCall(EndCause.LOCAL_HANGUP, reason))
        elif self.call is not None and not self.call.ended.done():
            self._end_requested = SessionOutcome(SessionState.ENDED, EndCause.LOCAL_HANGUP, reason)
            await self.call.hangup()

    async def send_dtmf(self, digits: str) -> None:
        """Press keys on the user's behalf."""
        await self._request(Perform(Press(digits, reason="requested")))

    async def say(self, text: str) -> None:
        """Speak to the line on the user's behalf (needs a TTS engine)."""
        await self._request(Perform(Say(text, reason="requested")))

    async def transfer(self, target: str, *, blind: bool = False) -> None:
        """Connect the company to ``target`` (the desk extension).

        By default: dial the desk, tell the agent "one moment please" while it rings, tell the
        user who is on the line when they pick up, then bridge both ways. ``blind`` hands the
        call over by SIP REFER instead, where the trunk supports it.
        """
        await self._request(StartTransfer(target, blind))

    async def _request(self, command: Command) -> None:
        if not self._reacting:
            raise CallNotConnectedError
        result: asyncio.Future[None] = self._loop.create_future()
        self._inputs.put_nowait(UserRequest(command, result))
        await result

    def _drain(self) -> None:
        """The call is over: what is still queued is handled, requests are refused."""
        while not self._inputs.empty():
            item = self._inputs.get_nowait()
            if isinstance(item, UserRequest):
                if not item.result.done():
                    item.result.set_exception(CallNotConnectedError())
            elif not isinstance(item, LineEnded):
                self._handle(item)

    # -- the input loop -------------------------------------------------------------------------

    async def _react(self) -> None:
        while not isinstance(item := await self._inputs.get(), LineEnded):
            try:
                self._handle(item)
            except Exception:
                _LOGGER.exception("Call %s: handling %s failed", self.id, type(item).__name__)
                if isinstance(item, UserRequest) and not item.result.done():
                    item.result.set_exception(CallNotConnectedError())

    def _handle(self, item: Input) -> None:
        if isinstance(item, Heard):
            self._on_heard(item)
        elif isinstance(item, UtteranceEnded):
            self._on_utterance(item.utterance)
        elif isinstance(item, Transcribed):
            self._on_transcribed(item.utterance, item.text)
        elif isinstance(item, ReadAhead):
            self._on_read_ahead(item)
        elif isinstance(item, WordsRead):
            self._fire(Trigger.NOT_A_PERSON)
            commands = self._judge.on_words_read(self, item.onset, item.confidence, item.text)
            self._run(commands)
            if self.state is SessionState.ON_HOLD and item.text:
                self._run(self._navigator.on_hold_words(self, parse_prompt(item.text)))
        elif isinstance(item, Decided):
            self._run(self._navigator.on_decided(self, item.text, item.action))
        elif isinstance(item, ActionDone):
            if self._navigator.is_ours(item.action):
                self._navigator.on_action_done(self, item.action)
                self._fire(Trigger.ACTED)
            self._run(self._handoff.on_action_done(self, item.action))
        elif isinstance(item, TimerFired):
            self._timers.pop(item.name, None)
            self._run(self._navigator.on_timer(item.name))
            self._run(self._handoff.on_timer(self, item.name))
        elif isinstance(item, UserRequest):
            self._on_user_request(item)

    def _on_heard(self, heard: Heard) -> None:
        self._line.audio_time = heard.at
        self._line.speaking = heard.speaking
        self._line.quiet = heard.quiet
        for decision in heard.decisions:
            self._labels.append((decision.time, decision.label))
            self.timeline.heard(self._session_time(decision.time), decision.label)
        if heard.decisions:
            last = heard.decisions[-1]
            changed = self._line.label is None or self._line.label[0] is not last.label
            self._line.label = (last.label, last.confidence)
            if changed:
                self._notify(None)
        for event in heard.events:
            _LOGGER.debug(
                "Call %s: the monitor heard %s at %.1f s (from %.1f s, %.2f)",
                self.id,
                event.kind,
                event.time,
                event.began,
                event.confidence,
            )
            self._run(self._judge.on_monitor_event(self, event))
        self._run(self._judge.on_tick(self, decided=bool(heard.decisions)))
        self._run(self._navigator.on_tick(self))
        self._read_ahead_at_pause()

    def _on_utterance(self, utterance: Utterance) -> None:
        piece = self._read_ahead.whole(utterance)
        if self._stt is None or self.state in (SessionState.TRANSFERRING, SessionState.CONNECTED):
            return  # the user's own conversation is not ours to transcribe
        if self.state is SessionState.ON_HOLD and self._speech_share(utterance) < HOLD_SPEECH_SHARE:
            return  # music: nothing to read
        self._line.reading.append(utterance.start)
        if piece is None:
            self._utterances.put_nowait(utterance)
        elif piece.text is None:  # being read whole at its pause: those words are the utterance's
            self._read_whole.append((piece.utterance, utterance))
            self._spawn(self._read_whole_if_lost(piece.utterance, utterance), "read whole")
        else:  # read whole at its pause already: the same audio, the same words
            self._inputs.put_nowait(Transcribed(utterance, piece.text))

    async def _read_whole_if_lost(self, piece: Utterance, utterance: Utterance) -> None:
        """Read ``utterance`` itself if its only piece's reading runs past ``PIECE_WAIT``."""
        if (reading := self._reading_piece) is not None:
            await asyncio.wait([reading], timeout=PIECE_WAIT)
        if self._take_read_whole(piece) is not None:  # not read yet: that reading has lost its way
            self._utterances.put_nowait(utterance)

    def _take_read_whole(self, piece: Utterance) -> Utterance | None:
        """The utterance waiting on ``piece``'s reading for its words, no longer waiting."""
        for entry in self._read_whole:
            if entry[0] is piece:
                self._read_whole.remove(entry)
                return entry[1]
        return None

    def _on_transcribed(self, utterance: Utterance, text: str) -> None:
        self._line.reading.remove(utterance.start)
        if text:
            self._on_transcript(utterance, text)

    def _read_ahead_at_pause(self) -> None:
        """In the menu, read what the open utterance said up to its pause."""
        if (
            self._stt is None
            or self.state is not SessionState.IVR
            or self.phase is not Phase.LISTENING  # nothing to decide while we answer
            or self._line.quiet < READ_AHEAD_QUIET
        ):
            return
        piece = self._read_ahead.next_piece(self._media.endpointer.peek())
        if piece is None:
            return

        async def read() -> None:
            self._inputs.put_nowait(ReadAhead(piece, await self._transcribe(piece)))

        self._reading_piece = self._spawn(read(), "read ahead")

    def _on_read_ahead(self, item: ReadAhead) -> None:
        if (utterance := self._take_read_whole(item.utterance)) is not None:
            self._on_transcribed(utterance, item.text)  # it ended while its only piece was read
            return
        if (words := self._read_ahead.read(item.utterance, item.text)) is not None:
            self._run(self._navigator.on_words_ahead(self, *words))

    def _on_transcript(self, utterance: Utterance, text: str) -> None:
        _LOGGER.debug(
            "Call %s heard (%.1f-%.1f s, %s): %s",
            self.id,
            utterance.start,
            utterance.end,
            self.state,
            self.request.mask(text),
        )
        self._note(Speaker.LINE, text)
        prompt = parse_prompt(text)
        if prompt.queue_position is not None and prompt.queue_position != self.queue_position:
            self.queue_position = prompt.queue_position
            self._emit(EventType.QUEUE_POSITION, position=prompt.queue_position)
        if prompt.estimated_wait is not None and prompt.estimated_wait != self.estimated_wait_minutes:
            self.estimated_wait_minutes = prompt.estimated_wait
            self._notify(None)
        if self._navigator.knew_recording(utterance):
            return  # a prompt a learned route knew by its recording, answered before its words came
        state = self.state
        self._run(self._judge.on_transcript(self, utterance.start, text))
        if self.state is state or self.state is SessionState.IVR:  # not a person's words
            self._run(self._navigator.on_words(self, text, utterance))

    def _on_user_request(self, request: UserRequest) -> None:
        command, result = request.command, request.result
        call = self.call
        if isinstance(command, EndCall):
            if call is None or call.ended.done():
                result.set_result(None)
                return
            hanging_up = self._end_call(command)
            assert hanging_up is not None
            # The user's hang-up returns once the BYE is done.
            hanging_up.add_done_callback(lambda _: None if result.done() else result.set_result(None))
        elif isinstance(command, StartTransfer):
            self._start_transfer(command, result)
        elif call is None or call.state is not CallState.ANSWERED:
            result.set_exception(CallNotConnectedError())
        elif isinstance(command, Perform):
            self._queue_action(command.action, result)

    # -- carrying out commands -------------------------------------------------------------------

    def _run(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, Perform):
                self._queue_action(command.action, again=command.again)
            elif isinstance(command, Decide):
                self._decide(command.text)
            elif isinstance(command, EndUtterance):
                self._media.end_utterance()
            elif isinstance(command, Emit):
                self._emit(command.type, **command.data)
            elif isinstance(command, Note):
                self._note(command.speaker, command.text)
            elif isinstance(command, StartHold):
                self._start_hold(command)
            elif isinstance(command, DiscardHold):
                self._media.start_afresh()
            elif isinstance(command, CheckWords):
                self._check_words(command)
            elif isinstance(command, ReportPerson):
                self._report_person(command)
            elif isinstance(command, ConfirmPerson):
                if self._fire(Trigger.CONFIRM):
                    self._run(self._handoff.on_confirmed(self))
            elif isinstance(command, Retract):
                self._retract(command.reason)
            elif isinstance(command, ResumeMenu):
                self._resume_menu(command.reason)
            elif isinstance(command, LearnHoldSegment):
                self._media.monitor.review(False)  # the monitor learns the segment as part of the hold
            elif isinstance(command, StartTransfer):
                self._start_transfer(command, None)
            elif isinstance(command, EndCall):
                self._end_call(command)
            elif isinstance(command, SetTimer):
                self._set_timer(command)
            elif isinstance(command, CancelTimer) and (timer := self._timers.pop(command.name, None)):
                timer.cancel()

    def _fire(self, trigger: Trigger) -> bool:
        before = (self._machine.state, self._machine.phase)
        if not self._machine.fire(trigger):
            _LOGGER.debug("Call %s: %s ignored in %s/%s", self.id, trigger, *before)
            return False
        if self._machine.state is not before[0]:
            self._notify(None)
        return True

    def _decide(self, text: str) -> None:
        if not self._fire(Trigger.DECIDE):
            return
        commands, context = self._navigator.prepare(self, text)
        self._run(commands)
        if context is None:
            self._fire(Trigger.ACTED)  # nothing to answer: listen on
            return

        async def ask() -> None:
            try:
                action = await self._navigator.decide(context)
            except Exception:
                _LOGGER.exception("Call %s: deciding failed", self.id)
                action = Wait(reason="the deciders failed", source="navigator")
            self._inputs.put_nowait(Decided(text, action))

        self._spawn(ask(), "decide")

    def _start_hold(self, command: StartHold) -> None:
        if not self._fire(Trigger.HOLD):
            return
        self._line.hold = (command.onset, None)
        self.hold_started_at = self._session_time(command.onset)
        self.timeline.mark(self.hold_started_at, MarkKind.HOLD)
        self._emit(EventType.HOLD_STARTED, confidence=round(command.confidence, 2))

    def _check_words(self, command: CheckWords) -> None:
        if not self._fire(Trigger.CHECK_WORDS):
            return
        audio = self._media.recent_audio(command.read_from)

        async def read() -> None:
            text = await self._transcribe(Utterance(audio, command.read_from, self._media.audio_time))
            self._inputs.put_nowait(WordsRead(command.onset, command.confidence, text))

        self._spawn(read(), "read the person's words")

    def _report_person(self, command: ReportPerson) -> None:
        """A person is on the line; ``onset`` is when they started, in audio seconds."""
        if not self._fire(Trigger.PERSON):
            return
        self.human_detected_at = round(self.now(), 3)
        self.human_onset_at = self._session_time(command.onset)
        if self._line.hold is not None:
            self._line.hold = (self._line.hold[0], command.onset)
        self.timeline.mark(self.human_onset_at, MarkKind.PERSON, source=command.source)
        self._emit(
            EventType.HUMAN_DETECTED,
            confidence=round(command.confidence, 2),
            source=command.source,
            hold_seconds=self.hold_seconds,
        )
        self._run(self._handoff.on_person())

    def _retract(self, reason: str) -> None:
        """The person reported was the hold after all: back on hold, with its own event.

        A desk still ringing for them stops ringing; a transfer handed to the trunk (REFER) or
        already bridged cannot be taken back.
        """
        ringing = self._transferring
        if self.state is SessionState.TRANSFERRING and ringing is None:
            return
        if not self._fire(Trigger.RETRACT):
            return
        if ringing is not None:
            ringing.cancel()  # the desk leg is hung up as the transfer unwinds
        self._run(self._handoff.on_stop())
        self.human_detected_at = self.human_onset_at = None
        if self._line.hold is not None:
            self._line.hold = (self._line.hold[0], None)
        _LOGGER.debug("Call %s: not a person after all: %s", self.id, reason)
        self.timeline.mark(self.now(), MarkKind.RETRACTED, text=reason)
        self._emit(EventType.HUMAN_RETRACTED, reason=reason, hold_seconds=self.hold_seconds)

    def _resume_menu(self, reason: str) -> None:
        """What looked like a hold (or a person) was the menu pausing: back to it, the monitor afresh."""
        was_person = self.state is SessionState.HUMAN
        if not self._fire(Trigger.BACK_TO_MENU):
            return
        self._run(self._handoff.on_stop())
        self._media.start_afresh()
        self._line.hold = None
        self.hold_started_at = self.human_detected_at = self.human_onset_at = None
        _LOGGER.debug("Call %s: back to the menu: %s", self.id, reason)
        self.timeline.mark(self.now(), MarkKind.RETRACTED, text=reason)
        if was_person:
            self._emit(EventType.HUMAN_RETRACTED, reason=reason, hold_seconds=None)

    def _end_call(self, command: EndCall) -> asyncio.Task[CallEnd] | None:
        self._end_requested = SessionOutcome(SessionState.ENDED, command.cause, command.reason)
        if command.hang_up and self.call is not None:
            return self._spawn(self.call.hangup(), "hang up")
        return None

    def _set_timer(self, command: SetTimer) -> None:
        if (old := self._timers.pop(command.name, None)) is not None:
            old.cancel()
        fired = TimerFired(command.name)
        self._timers[command.name] = self._loop.call_later(command.seconds, self._inputs.put_nowait, fired)

    # -- hand-off to the desk phone -------------------------------------------------------------

    def _start_transfer(self, command: StartTransfer, result: asyncio.Future[None] | None) -> None:
        """The one guard of a transfer; the transfer runs on, and ``result`` gets how it went."""
        call = self.call
        if self.state in (SessionState.TRANSFERRING, SessionState.CONNECTED):
            error: Exception = TransferInProgressError()
        elif call is None or call.state is not CallState.ANSWERED or not self._fire(Trigger.TRANSFER):
            error = CallNotConnectedError()
        else:
            self._emit(EventType.TRANSFER_STARTED, target=mask_number(command.target), blind=command.blind)
            self._run(self._handoff.on_stop())
            transfer = self._spawn(self._transfer(call, command, result), "transfer")
            self._transferring = None if command.blind else transfer
            return
        if result is None:
            _LOGGER.warning("Call %s: cannot transfer now (%s)", self.id, type(error).__name__)
        else:
            result.set_exception(error)

    async def _transfer(
        self, call: CallLeg, command: StartTransfer, result: asyncio.Future[None] | None
    ) -> None:
        try:
            if command.blind:
                await call.transfer(command.target)
                self._end_requested = SessionOutcome(SessionState.ENDED, EndCause.TRANSFERRED, "transferred")
            else:
                desk = await self._dial(command.target)
                self.desk = desk
                await bridge_to_desk(
                    desk,
                    call,
                    speak_to_agent=self._speak_to_agent,
                    tts=self._tts,
                    company=self.request.company,
                    language=self.request.language,
                )
                bridge = self._make_bridge(call, desk)
                self._transferring = None  # bridged: no taking it back
                self._fire(Trigger.BRIDGED)
                self._spawn(self._until_either_hangs_up(bridge, call, desk), "bridge")
        except (SipError, CallFailedError) as err:
            _LOGGER.warning("Call %s: transfer failed: %s", self.id, err)
            self._fire(Trigger.TRANSFER_FAILED)  # back to where we were; the agent is still there
            if result is not None and not result.done():
                result.set_exception(err)
            return
        except asyncio.CancelledError:
            # Retracted (or the call is over) while the desk rang: the desk stops ringing.
            if self.desk is not None and not self.desk.ended.done():
                await self.desk.hangup()
            self.desk = None
            if result is not None and not result.done():
                result.set_exception(CallNotConnectedError())
            raise
        finally:
            if asyncio.current_task() is self._transferring:
                self._transferring = None
        self._emit(EventType.TRANSFERRED, target=mask_number(command.target), blind=command.blind)
        if result is not None and not result.done():
            result.set_result(None)

    async def _speak_to_agent(self, text: str) -> None:
        if self._tts is not None and self.call is not None and self.call.state is CallState.ANSWERED:
            assert self._lane is not None
            await self._lane.say_now(Say(text, reason="keeping the agent on the line", source="hand-off"))

    async def _until_either_hangs_up(self, bridge: BridgeLike, call: CallLeg, desk: CallLeg) -> None:
        await bridge.wait()
        await bridge.close()
        for leg in (call, desk):
            if not leg.ended.done():
                await leg.hangup()

    # -- learning the way -----------------------------------------------------------------------

    async def learn_route(self, book: RouteBook, replay: RouteDecider | None) -> None:
        """Keep the way this call took to a person in ``book`` (a call that reached none teaches nothing)."""
        if self.human_detected_at is None or not self.route_steps:
            return
        request = self.request
        await book.record(
            request.target,
            request.company,
            self.route_steps,
            hold_seconds=self.hold_seconds,
            replay=replay,
            type_ahead=self._navigator.types_ahead,
        )

    # -- speech ---------------------------------------------------------------------------------

    def _speech_share(self, utterance: Utterance) -> float:
        labels = [label for time, label in self._labels if utterance.start <= time <= utterance.end + 0.2]
        if not labels:
            return 0.0
        return sum(label in _SPEECHY for label in labels) / len(labels)

    async def _transcribe_worker(self) -> None:
        while (utterance := await self._utterances.get()) is not None:
            if (piece := self._reading_piece) is not None and not piece.done():
                # The menu waits on the piece; the whole reading is the transcript's, and two
                # readings at once share the recogniser's cores. Not for long: a reading that
                # runs on has lost its way (Whisper repeating itself on a short piece).
                await asyncio.wait([piece], timeout=PIECE_WAIT)
            text = await self._transcribe(utterance)
            self._inputs.put_nowait(Transcribed(utterance, text))

    async def _transcribe(self, utterance: Utterance) -> str:
        if self._stt is None:
            return ""
        self.stt_seconds += len(utterance.audio) / 8000
        try:
            return (await self._stt.transcribe(utterance.audio, language=self.request.language)).strip()
        except SpeechError as err:
            _LOGGER.warning("Call %s: speech recognition failed: %s", self.id, err)
            return ""

    # -- what the action lane did (its Teller) ---------------------------------------------------

    def pressed(self, action: Press, shown: str, *, again: bool) -> None:
        """Keys were sent (``shown``: the digits with a secret masked; ``again``: slower, as tones)."""
        how = " again, slower, as tones" if again else ""
        self._note(Speaker.US, f"[pressed {shown}{how}]{_why(action)}")
        self.timeline.mark(self.now(), MarkKind.CHOICE, f"pressed {shown}", action.source)
        self._emit(
            EventType.DTMF_SENT,
            digits=shown,
            secret=action.secret,
            reason=self.request.mask(action.reason),
            source=action.source,
        )

    def said(self, action: Say) -> None:
        """Words are being played to the line."""
        self._note(Speaker.US, f"{action.text}{_why(action)}")
        self.timeline.mark(self.now(), MarkKind.CHOICE, f"said {action.text}", action.source)
        self._emit(
            EventType.SAID, text=action.text, reason=self.request.mask(action.reason), source=action.source
        )

    def hanging_up(self, action: HangUp) -> None:
        """A decider gave up on the call."""
        self._note(Speaker.US, f"[hung up]{_why(action)}")
        self._end_requested = SessionOutcome(SessionState.ENDED, "gave_up", action.reason)

    def _queue_action(
        self, action: Action, result: asyncio.Future[None] | None = None, *, again: bool = False
    ) -> None:
        assert self._lane is not None  # commands run only once the call is placed
        self._lane.put(action, result, again=again)

    def _action_done(self, action: Action, done: bool) -> None:
        self._inputs.put_nowait(ActionDone(action, done))

    # -- telling --------------------------------------------------------------------------------

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

    def _note(self, speaker: Speaker, text: str) -> None:
        self.transcript.append(TranscriptLine(round(self.now(), 2), speaker, self.request.scrub(text)))

    def _session_time(self, audio_time: float) -> float:
        """Audio seconds (since the first frame) as session seconds."""
        started = self._media.started if self._media.started is not None else self._loop.time()
        return round(started - self.started_at + audio_time, 3)

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
