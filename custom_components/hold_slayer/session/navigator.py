"""The navigator: reads the menu, asks its deciders, answers, and remembers the way it took.

Words the line reads while the call is in the menu are gathered until the menu has finished
(``settle`` seconds since the line stopped speaking, nothing left to transcribe, nothing of ours
in progress; only ``complete_quiet`` once the prompt has plainly said all it will: a question
for a number with its length or closing key, a yes-or-no or open question, or a menu's closing
option); then the whole prompt is decided at once, so "for billing press 2 … for anything else
press 0" is read to its end. The quiet is counted from the end of the line's speech, not from
when its words were read, so transcription overlaps the wait instead of adding to it: the
session reads an utterance piece by piece at its pauses (``session/read_ahead.py``), while the
endpointer still waits out its second of quiet; once the prompt has settled after the pieces,
they are decided on and the endpointer closes the utterance there (its whole reading, later,
is the transcript's and the hold judge's). Pieces that have not plainly said all wait for the
whole reading, which reads better, unless they are a menu heard the first time one of whose
options plainly serves the goal. The deciding chain (learned route, rules, the user's AI) is
one :class:`Decider`; the navigator records each step for the route book and answers a hold's
callback offer once, as the call asked.

A line that says it is closed ("our offices are closed today") and offers nothing to press is
left ``CLOSED_GRACE`` seconds later if it has not hung up itself: the call ends with cause
``closed`` and the line's words as the reason, rather than waiting on a hold that never comes.

On a learned route, the prompt the route expects next is known by its recording as soon as it
ends: ``recognised_quiet`` after the line's sound stopped, the last stretch of the line's audio
(as long as the remembered prompt, and a little more) is fingerprinted; when it is the whole
recording the route remembers, the step is decided at once, without waiting for the endpointer,
the recogniser or the settle. Its words, read afterwards, are the transcript's only.

A remembered prompt is answered before it ends, as an informed caller types ahead: once the
line has played all of the recording the route remembers but its last ``type_ahead`` seconds,
and what it played is the recording's start, the step is decided, and our keys or words go
over the prompt's tail (lines stop a prompt for the caller's first key or word, or keep it for
its end). What the line says after that, up to the recording's end, is read only if it is not
the rest of that recording. A line that dropped what we typed ahead reads the prompt again:
known by its recording, it gets the same answer after it ends, and the call types ahead no more.
A line that plays the recording on to its end and then waits ``RETYPE_QUIET`` dropped keys typed
over it (a line that keeps them acts on them as the prompt ends; one that took them stops the
prompt): they go again then, rather than after the line's timeout and a second reading. (Words
said over a prompt are not: a line hears them out, then recognises them, before it answers.)

Keys a line did not take are not simply pressed again: when the deciders choose the same keys
for the same prompt a second time they are sent slower and as tones in the audio (some lines
drop RFC 4733 events, or miss short digits); a third time, the option is said instead, where
the call can speak and the option has words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Final

from custom_components.hold_slayer.audio.fingerprint import (
    fingerprint_likeness,
    fingerprint_part_likeness,
    fingerprint_seconds,
    prompt_fingerprint,
    utterances_fingerprint,
)
from custom_components.hold_slayer.ivr.decide import (
    Action,
    Decider,
    DecisionContext,
    ExpectedPrompt,
    Press,
    Say,
    Wait,
    expected_of,
    source_of,
)
from custom_components.hold_slayer.ivr.menu import (
    ASKING,
    Prompt,
    PromptKind,
    callback_key,
    closed_notice,
    offer_only,
    parse_prompt,
    prompt_signature,
)
from custom_components.hold_slayer.ivr.routes import FINGERPRINT_LIKENESS, RouteStep, action_to_dict
from custom_components.hold_slayer.ivr.rules import goal_option, matching_secret
from custom_components.hold_slayer.voice.endpoint import Utterance

from .commands import CancelTimer, Command, Decide, Emit, EndCall, EndUtterance, Note, Perform, SetTimer
from .events import EventType, SessionState, Speaker
from .states import Phase
from .view import LineView

_LOGGER = logging.getLogger(__name__)

SETTLE: Final = 1.2  # quiet after the line's speech before a menu is read out (menus pause between options)
# Quiet before answering a prompt that has plainly said all: a closing "say yes or no" or "followed
# by the pound key" may still come after a sentence's pause, and a line not listening yet drops us.
# (The transcript itself comes later: the endpointer closes an utterance after 1 s of quiet.)
COMPLETE_QUIET: Final = 0.7
# Quiet after the line's sound before a remembered recording is looked for: long enough that a
# syllable's gap is not the end, short of any pause between a menu's sentences.
RECOGNISED_QUIET: Final = 0.3
SPOKE_ON: Final = 0.1  # seconds of sound after words read at a pause that make them half a sentence
RECORDING_SLACK: Final = 0.5  # seconds of a remembered recording the line's audio may lack at its ends
WINDOW_LEAD: Final = 1.0  # seconds of audio before a remembered recording's length taken with it
# Seconds before a remembered recording's end that its step is answered (the caller types
# ahead): a menu's last option, which a changed menu rarely changes alone.
TYPE_AHEAD: Final = 1.5
TYPE_AHEAD_EVERY: Final = 0.25  # seconds of the line's speech between looks for a recording's start
TYPE_AHEAD_SHORTEST: Final = 3.0  # seconds a recording needs for all but its end to be enough (half)
SAME_START: Final = 0.01  # seconds two readings' starts may differ by and be one utterance's
# Quiet after a recording we typed ahead over, played on to its end, that says the line dropped
# our answer: lines that keep keys typed over a prompt answer them within a second of its end.
RETYPE_QUIET: Final = 1.5
TAIL_SHORTEST: Final = 0.8  # seconds of sound that tell the rest of a recording from other words


@dataclass(frozen=True, slots=True)
class _TypedAhead:
    """A remembered recording answered before its end: the line may play on its tail."""

    expected: ExpectedPrompt
    at: float  # audio seconds we answered
    played: float  # seconds of the recording the line had played then
    ends: float  # audio seconds it would end, played on

    def may_be_tail(self, start: float) -> bool:
        """Whether what the line began at ``start`` may be the recording played on past our answer."""
        return self.at - RECORDING_SLACK <= start < self.ends + RECORDING_SLACK


CLOSED: Final = "closed"  # the timer after a closed-hours notice
CLOSED_GRACE: Final = 8.0  # seconds a closed line has to hang up itself before we leave


class Navigator:
    """One call's way through the menu."""

    def __init__(
        self,
        decider: Decider,
        *,
        settle: float = SETTLE,
        complete_quiet: float = COMPLETE_QUIET,
        recognised_quiet: float = RECOGNISED_QUIET,
        type_ahead: float = TYPE_AHEAD,
        closed_grace: float = CLOSED_GRACE,
    ) -> None:
        self.decider = decider
        self.settle = settle
        self.complete_quiet = complete_quiet
        self.recognised_quiet = recognised_quiet
        self.type_ahead = type_ahead
        self.closed_grace = closed_grace
        self.current_prompt: Prompt | None = None
        self.decisions = 0  # prompts decided on
        self.route_steps: list[RouteStep] = []  # what the menu said and what we did, for the route book
        self.history: list[tuple[str, Action]] = []
        self._heard: dict[str, int] = {}  # how often each question was asked (by signature)
        self._pending: list[str] = []  # line text since our last action
        self._pending_audio: list[Utterance] = []  # … and the utterances it was read from
        self._pending_complete = False  # … and whether they have plainly said all (no settle needed)
        self._fingerprint: str | None = None  # of the prompt being decided (its recording)
        self._pending_since: float | None = None  # audio seconds the line's last unanswered speech ended
        self._speech_seen = 0.0  # audio seconds the line was last heard speaking
        # Audio seconds the line's speech was last loud: words read at a pause that ended before
        # this are half a sentence, however late their reading came (a busy transcriber).
        self._spoke_until = 0.0
        self._looked_at = 0.0  # audio seconds the line's sound ended when we last looked for a recording
        # Utterances begun before this were decided on before their words came: the end of the
        # sound decided on (the line's next prompt may follow our answer at once, and the
        # endpointer starts an utterance a little before its sound).
        self._decided_until = 0.0
        self._recording_until = 0.0  # … and were a prompt a learned route knew by its recording
        self._looked_ahead = 0.0  # audio seconds we last looked for a remembered recording's start
        self._typed_ahead: _TypedAhead | None = None  # the recording we answered before its end
        self._tails: dict[float, bool] = {}  # utterance start → whether it was the rest of that recording
        self._typing_ahead = True  # … until a line reads a prompt we typed ahead over again
        self._answer_again: Action | None = None  # the answer such a prompt gets once more
        self._ahead: tuple[str, Utterance] | None = None  # the open utterance's words, read at its pause
        self._ahead_complete = False  # … and whether, after the pending words, they have plainly said all
        self._ahead_plain = False  # … or name the goal's option plainly (a menu heard the first time)
        self._read_whole_from = -1.0  # audio seconds the latest utterance whose whole words came began
        self._deciding: Action | None = None  # our answer in the action lane
        self._answered_at: float | None = None  # audio seconds our latest answer was keyed or said
        self._callback_answered = False  # a hold's callback offer is taken or declined once
        # per question: the keys last pressed, times in a row
        self._pressed: dict[str, tuple[Press, int]] = {}
        self._closed: str | None = None  # the closed-hours notice the line read

    # -- what the view shows of us ----------------------------------------------------------------

    @property
    def words_pending(self) -> bool:
        """Line words since our last action, not yet decided on."""
        return bool(self._pending)

    def knew_recording(self, utterance: Utterance) -> bool:
        """Whether ``utterance`` was (part of) a prompt a learned route knew and we answered already."""
        return self._is_tail(utterance) or utterance.start < self._recording_until

    @property
    def types_ahead(self) -> bool:
        """Whether the call still answers a remembered prompt before it ends (the line lets it)."""
        return self._typing_ahead

    @property
    def line_spoke_at(self) -> float | None:
        """Audio seconds the line stopped saying the words we have not answered."""
        return self._pending_since

    @property
    def has_answered(self) -> bool:
        """Any prompt of this call has been decided on."""
        return bool(self.history)

    def awaiting_us(self, view: LineView) -> bool:
        """The last prompt asked something of us and we have not answered it (yet)."""
        if view.phase is Phase.DECIDING or self._pending or view.transcribing:
            return True  # words still being read or decided on: the quiet may be the menu waiting
        prompt = self.current_prompt
        if prompt is None or prompt.kind not in ASKING or offer_only(prompt):
            return False  # a callback offer alone is the hold's, answered or not
        return not self.history or isinstance(self.history[-1][1], Wait)

    @property
    def answered_at(self) -> float | None:
        """Audio seconds our latest answer to the menu was keyed or said (None: none yet)."""
        return self._answered_at

    @property
    def answered_current_prompt(self) -> bool:
        """Our last action (not a wait) answered the prompt the line last read."""
        if not self.history or isinstance(self.history[-1][1], Wait):
            return False
        return self.history[-1][0] == (self.current_prompt.text if self.current_prompt else "")

    # -- inputs -----------------------------------------------------------------------------------

    def on_words(self, view: LineView, text: str, utterance: Utterance) -> list[Command]:
        """The line said ``text`` in ``utterance`` (the hold judge has had it first)."""
        if view.state is SessionState.IVR:
            if self._is_tail(utterance) or utterance.start < self._decided_until:
                return []  # decided on already (by its recording, or its words read at a pause)
            if self._ahead is not None and abs(self._ahead[1].start - utterance.start) < SAME_START:
                self._ahead = None  # read whole now
            self._read_whole_from = utterance.start
            self._pending.append(text)
            self._pending_audio.append(utterance)
            # Judged once per utterance here, not on every 100 ms tick while the settle runs.
            self._pending_complete = plainly_complete(" ".join(self._pending))
            self._pending_since = utterance.end
            return []
        if view.state is SessionState.ON_HOLD:
            return self.on_hold_words(view, parse_prompt(text))
        return []

    def on_words_ahead(self, view: LineView, text: str, utterance: Utterance) -> list[Command]:
        """The words of the utterance the endpointer still holds, read up to its latest pause."""
        if self._typed_ahead is not None and self._typed_ahead.may_be_tail(utterance.start):
            return []  # maybe the tail of a recording we typed ahead over: read when it ends
        if utterance.start < self._read_whole_from + SAME_START:
            return []  # its whole words came first (a piece read after the utterance ended)
        if view.state is SessionState.IVR and utterance.start >= self._decided_until:
            self._ahead = (text, utterance)
            words = " ".join([*self._pending, text])
            prompt = parse_prompt(words)  # read once for both questions
            self._ahead_complete = plainly_complete(words, prompt)
            self._ahead_plain = self._plain_choice(view, prompt)
        return []

    def on_hold_words(self, view: LineView, prompt: Prompt) -> list[Command]:
        """Words heard on hold: a callback offer is answered once; a closed notice ends the wait."""
        if closed_notice(prompt):
            return self._closing(view, prompt)
        key = callback_key(prompt)
        return self._answer_callback_offer(view, key) if key is not None else []

    def on_timer(self, name: str) -> list[Command]:
        """The line said it is closed and has not hung up: leave, saying why."""
        if name != CLOSED or self._closed is None:
            return []
        return [EndCall("closed", f"the line is closed: {self._closed}")]

    def _closing(self, view: LineView, prompt: Prompt) -> list[Command]:
        self._closed = view.request.mask(prompt.text)
        return [SetTimer(CLOSED, self.closed_grace)]

    def on_tick(self, view: LineView) -> list[Command]:
        """The audio clock moved: decide once the menu has finished."""
        if view.speaking:
            self._speech_seen = view.audio_time
            self._spoke_until = max(self._spoke_until, view.audio_time - view.quiet_for)
        if retyped := self._retype(view):
            return retyped
        if typed := self._type_ahead(view):
            return typed
        if recognised := self._recognised(view):
            return recognised
        if self._ahead is not None:
            return self._on_words_ahead_tick(view, *self._ahead)
        if (
            view.state is not SessionState.IVR
            or view.phase is not Phase.LISTENING
            or not self._pending
            or view.speaking
            or view.transcribing
            or self._pending_since is None
        ):
            return []
        if view.utterance_open and self._speech_seen > self._pending_since:
            return []  # the line spoke after these words, and the endpointer still holds it
        quiet = view.audio_time - max(self._pending_since, self._speech_seen)
        if quiet < (self.complete_quiet if self._pending_complete else self.settle):
            return []
        text = " ".join(self._pending)
        # The recording, so a learned route knows the prompt however speech recognition reads it.
        self._fingerprint = utterances_fingerprint(self._pending_audio)
        self._pending, self._pending_audio, self._pending_complete = [], [], False
        return [Decide(text)]

    def _on_words_ahead_tick(self, view: LineView, text: str, utterance: Utterance) -> list[Command]:
        """Decide on the words read at the pauses once the prompt has settled after them."""
        if (
            # The line spoke on after these words: their next piece is due. (Music after them
            # keeps the utterance open too, but says nothing more.)
            self._spoke_until > utterance.end + SPOKE_ON
            or view.state is not SessionState.IVR
            or view.phase is not Phase.LISTENING
            # Words said before these come first. Words that have not plainly said all, nor
            # plainly name the goal's option, wait for their utterance's whole reading if it is
            # under way: read whole, they read better.
            or view.reading_before(
                utterance.start + (0.0 if self._ahead_complete or self._ahead_plain else SAME_START)
            )
            or view.audio_time - utterance.end
            < (self.complete_quiet if self._ahead_complete else self.settle)
        ):
            return []
        words = " ".join([*self._pending, text])
        self._fingerprint = utterances_fingerprint([*self._pending_audio, utterance])
        self._pending, self._pending_audio, self._pending_complete, self._ahead = [], [], False, None
        self._pending_since = self._decided_until = utterance.end
        # The endpointer still holds these words: closed now, so anything the line says next is
        # an utterance of its own, and these are not read a second time.
        return [EndUtterance(), Decide(words)]

    def _plain_choice(self, view: LineView, prompt: Prompt) -> bool:
        """Whether ``prompt`` is a menu, heard the first time, one of whose options serves the goal.

        Such words need not wait for their whole reading: a misread that changes which option
        the goal names is rare, and the whole reading costs about a second after the
        endpointer's. A menu heard again (our key not taken, or the wrong one) is read whole.
        """
        if self._heard.get(prompt_signature(prompt), 0):
            return False
        return goal_option(prompt, view.request.goal) is not None

    def _recognised(self, view: LineView) -> list[Command]:
        """A prompt the route expects, known by its recording as it ends: decided at once."""
        if (
            view.state is not SessionState.IVR
            or view.phase is not Phase.LISTENING
            or view.quiet_for < self.recognised_quiet
        ):
            return []
        ended = round(view.audio_time - view.quiet_for, 2)
        listened_from = self._answered_at or 0.0
        if ended <= max(self._looked_at, listened_from):
            return []  # looked at this stretch already, or nothing since our answer
        self._looked_at = ended
        heard: dict[float, str] = {}  # the line's audio from a moment, fingerprinted
        typed = self._typed_ahead
        again = [typed.expected] if typed is not None and self.history else []
        for expected in [*expected_of(self.decider), *again]:
            seconds = fingerprint_seconds(expected.fingerprint)
            since = round(max(listened_from, ended - seconds - WINDOW_LEAD), 2)
            if since not in heard:
                heard[since] = prompt_fingerprint(view.line_audio(since))
            if _is_recording(heard[since], expected, seconds):
                if expected in again:
                    # Read again after we typed ahead over it: what we typed ahead was dropped.
                    self._typing_ahead, self._typed_ahead = False, None
                    self._answer_again = self.history[-1][1]
                return self._decide_known(view, expected, heard[since], ended)
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug(
                    "The sound to %.1f s is not the expected %.1f s recording: %.1f s heard, likeness %.2f",
                    ended,
                    seconds,
                    fingerprint_seconds(heard[since]),
                    fingerprint_likeness(expected.fingerprint, heard[since]),
                )
        return []

    def _retype(self, view: LineView) -> list[Command]:
        """The line played the recording we typed ahead over to its end, and waits: answered again."""
        typed = self._typed_ahead
        if (
            typed is None
            or not self.history
            # Keys only: a line takes a while to hear words out (their end, then its recogniser).
            or not isinstance(self.history[-1][1], Press)
            or view.state is not SessionState.IVR
            or view.phase is not Phase.LISTENING
            or view.quiet_for < RETYPE_QUIET
            or not typed.ends - RECORDING_SLACK
            <= view.audio_time - view.quiet_for
            <= typed.ends + RECORDING_SLACK
        ):
            return []  # not waiting yet, or stopped for our answer, or said more than the recording
        self._typing_ahead, self._typed_ahead = False, None
        self._answer_again = self.history[-1][1]
        ended = round(view.audio_time - view.quiet_for, 2)
        return self._decide_known(view, typed.expected, typed.expected.fingerprint, ended)

    def _type_ahead(self, view: LineView) -> list[Command]:
        """A prompt the route expects, known by its recording before it ends: decided at once."""
        if (
            self.type_ahead <= 0
            or not self._typing_ahead
            or view.state is not SessionState.IVR
            or view.phase is not Phase.LISTENING
            or not view.speaking
            or view.audio_time - self._looked_ahead < TYPE_AHEAD_EVERY
        ):
            return []
        self._looked_ahead = view.audio_time
        listened_from = self._answered_at or 0.0
        for expected in expected_of(self.decider):
            seconds = fingerprint_seconds(expected.fingerprint)
            if (
                not expected.early
                or seconds < TYPE_AHEAD_SHORTEST
                or view.audio_time - listened_from < seconds - self.type_ahead
            ):
                continue  # too short to know by its start, or not that much said since our answer
            since = round(max(listened_from, view.audio_time - seconds - RECORDING_SLACK), 2)
            heard = prompt_fingerprint(view.line_audio(since))
            played = fingerprint_seconds(heard)
            if not seconds - self.type_ahead <= played < seconds - RECORDING_SLACK:
                continue  # too little of it yet, or all of it: known as it ends (_recognised)
            if fingerprint_part_likeness(expected.fingerprint, heard) >= FINGERPRINT_LIKENESS:
                self._typed_ahead = _TypedAhead(
                    expected, view.audio_time, played, view.audio_time + seconds - played
                )
                self._tails = {}
                return self._decide_known(view, expected, expected.fingerprint, view.audio_time)
        return []

    def _is_tail(self, utterance: Utterance) -> bool:
        """Whether ``utterance`` is the rest of a recording we typed ahead over, played on.

        Begun before the recording would have ended, and, where it is long enough to tell, its
        audio is the recording from where the line had got to.
        """
        typed = self._typed_ahead
        if typed is None or not typed.may_be_tail(utterance.start):
            return False
        if utterance.start not in self._tails:
            heard = prompt_fingerprint(utterance.audio)
            at = typed.played + utterance.start - typed.at
            tail = fingerprint_seconds(heard) < TAIL_SHORTEST or (
                fingerprint_part_likeness(typed.expected.fingerprint, heard, at) >= FINGERPRINT_LIKENESS
            )
            self._tails[utterance.start] = tail
        return self._tails[utterance.start]

    def _decide_known(
        self, view: LineView, expected: ExpectedPrompt, heard: str, ended: float
    ) -> list[Command]:
        self._fingerprint = heard
        self._pending, self._pending_audio, self._pending_complete = [], [], False
        self._pending_since = ended
        self._decided_until = self._recording_until = ended
        self._ahead = None
        # The endpointer still holds the prompt's end: closed now, the line's next prompt
        # (often within its quiet) is an utterance of its own, read as new words.
        return [EndUtterance(), Decide(expected.text)]

    def prepare(self, view: LineView, text: str) -> tuple[list[Command], DecisionContext | None]:
        """Read the prompt ``text``: what to tell, and the deciders' question (None: nothing to ask)."""
        prompt = parse_prompt(text)
        self.current_prompt = prompt
        if self._typed_ahead is not None and text != self._typed_ahead.expected.text:
            self._typed_ahead = None  # the line went on to another prompt: it took our answer
        commands: list[Command] = []
        if prompt.kind in ASKING:
            options = [{"key": option.key, "label": option.label} for option in prompt.options]
            data = {"text": view.request.mask(text), "kind": str(prompt.kind), "options": options}
            commands.append(Emit(EventType.MENU_HEARD, data))
        callback = callback_key(prompt)
        if callback is not None and offer_only(prompt):
            # A callback offer alone ("please hold, or press 2 to be called back").
            return [*commands, *self._answer_callback_offer(view, callback)], None
        if closed_notice(prompt):
            return [*commands, *self._closing(view, prompt)], None
        if prompt.kind not in ASKING:
            return commands, None
        if self._closed is not None:  # a menu after all ("… to leave a message, press 1"): stay
            self._closed = None
            commands.append(CancelTimer(CLOSED))
        key = prompt_signature(prompt)
        self._heard[key] = self._heard.get(key, 0) + 1
        request = view.request
        if (
            prompt.kind is PromptKind.DIGITS
            and self._heard[key] == 1
            and matching_secret(prompt, frozenset(request.secrets)) is None
        ):
            # Say so at once: the user can key it in (send_dtmf, the card's keypad) before the
            # line gives up on us, or we on it.
            commands.append(Emit(EventType.NUMBER_NEEDED, {"wanted": prompt.digits_for or "number"}))
        context = DecisionContext(
            goal=request.goal,
            prompt=prompt,
            secret_names=frozenset(request.secrets),
            attempts=self._heard[key],
            history=tuple(self.history),
            forbidden_keys=frozenset({callback} if callback and not request.accept_callback else ()),
            fingerprint=self._fingerprint,
            language=request.language,
        )
        self.decisions += 1
        return commands, context

    async def decide(self, context: DecisionContext) -> Action:
        """Ask the deciding chain; every action carries who decided it.

        A prompt read again because the line dropped what we typed ahead over it gets that
        answer again, unasked: the answer was right, its timing was not.
        """
        if self._answer_again is not None:
            action, self._answer_again = self._answer_again, None
            return action
        action = await self.decider.decide(context) or Wait(reason="no decider knew")
        return action if action.source else replace(action, source=source_of(self.decider))

    def on_decided(self, view: LineView, text: str, action: Action) -> list[Command]:
        """Keep the step (never a phrase holding a secret) and answer."""
        request = view.request
        self.history.append((text, action))
        if not (isinstance(action, Say) and request.holds_secret(action.text)):
            at = round(view.audio_time, 1)
            step = RouteStep(request.scrub(text), action_to_dict(action), at, fingerprint=self._fingerprint)
            self.route_steps.append(step)
        performed, again = self._escalated(view, action)
        self._deciding = performed
        return [Perform(performed, again=again)]

    def _escalated(self, view: LineView, action: Action) -> tuple[Action, bool]:
        """The same keys for the same question again: slower as tones, then the option said."""
        prompt = self.current_prompt
        if not isinstance(action, Press) or prompt is None:
            return action, False
        question = prompt_signature(prompt)
        last, times = self._pressed.get(question, (None, 0))
        same = last is not None and (last.digits, last.secret) == (action.digits, action.secret)
        times = times + 1 if same else 1
        self._pressed[question] = (action, times)
        if times < 3:
            return action, times == 2
        label = next((option.label for option in prompt.options if option.key == action.digits), "")
        if not label or action.secret or not view.can_speak:
            return action, True
        reason = f"keys {action.digits} not taken twice: saying the option"
        return Say(label, reason=reason, source="navigator"), False

    def is_ours(self, action: Action) -> bool:
        """Whether ``action`` is the answer the navigator is waiting on."""
        return action is self._deciding

    def on_action_done(self, view: LineView, action: Action) -> None:
        """Our answer was keyed or said: listen again."""
        if action is self._deciding:
            self._deciding = None
            self._answered_at = view.audio_time

    @property
    def model_calls(self) -> int:
        """Questions this call asked of a language model."""
        return int(getattr(self.decider, "calls", 0))

    def _answer_callback_offer(self, view: LineView, key: str) -> list[Command]:
        """Take the hold's callback offer if the call asked to (the call then ends), else wait on."""
        if self._callback_answered:
            return []
        self._callback_answered = True
        if not view.request.accept_callback:
            return [Note(Speaker.US, "[declined the callback offer] (navigator: this call waits on hold)")]
        return [
            EndCall("callback_accepted", "the company will call back", hang_up=False),
            Perform(Press(key, reason="the call accepts callbacks", source="navigator")),
        ]


def _is_recording(heard: str, expected: ExpectedPrompt, seconds: float) -> bool:
    """Whether the line's audio ``heard`` is all of the recording ``expected`` (``seconds`` long).

    All of it: the start of a menu alike with its remembered whole scores well over the
    threshold by itself, so the sound heard must be as long as the recording.
    """
    return (
        fingerprint_seconds(heard) >= seconds - RECORDING_SLACK
        and fingerprint_likeness(expected.fingerprint, heard) >= FINGERPRINT_LIKENESS
    )


_LAST_OPTION: Final = re.compile(
    r"\b(?:repeat|hear (?:these|the) options|main menu|previous menu|all other|any other|anything else"
    r"|everything else|operator|representative)\b"
)


def plainly_complete(text: str, prompt: Prompt | None = None) -> bool:
    """Whether the prompt ``text`` has plainly said all it will: no settle needed before answering.

    A yes-or-no or an open question ("in a few words, why are you calling?") is whole when
    asked; a question for a number once it has said how the number ends (its length, or the key
    that closes it: "followed by the pound key" often comes after a pause); a menu is whole once
    it has read the option menus end with ("to repeat these options", "for anything else") and
    nothing after it but that option's key. ``prompt``: ``text`` parsed already.
    """
    if prompt is None:
        prompt = parse_prompt(text)
    if prompt.kind in (PromptKind.YES_NO, PromptKind.OPEN):
        return True
    if prompt.kind is PromptKind.DIGITS:
        return bool(prompt.terminator or prompt.digits_length)
    if prompt.kind is not PromptKind.MENU or not prompt.options:
        return False
    sentences = [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]
    return bool(sentences) and bool(_LAST_OPTION.search(sentences[-1].lower()))
