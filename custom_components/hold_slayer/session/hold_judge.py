"""The hold judge: when the call is on hold, and when a person is on the line (and when not after all).

It weighs the monitor's events against what the transcript says and what the navigator is
waiting for:

- A hold the monitor reports while a prompt still waits for our answer, or made of silence
  alone, is held back: the quiet may be the menu waiting. It counts once we answered something
  else, once silence outlasts any menu's input timeout (``SILENT_HOLD``), or once a menu we
  could not answer has been quiet for ``UNANSWERED_HOLD`` (the line gave up and queued us).
  When the line speaks after such a silence, its words decide: a hold's announcement ("please
  stay on the line", "keep your place in line") or a callback offer means the silence was the
  hold; anything else (a question for us, "your balance is …") means it was the menu pausing.
  Without a recogniser, speech means the silence was a pause.
- A person the monitor reports is read first when a recogniser is there: new announcements
  sound like a person, their words do not. The words are read once ``READ_SPAN`` of the voice
  has played, or at its first pause: Whisper given less than a couple of words invents some,
  often its own priming text ("to repeat these options, press …"), and takes longer doing it;
  and from ``READ_LEAD`` before the voice's onset, which the classifier may place inside the
  first word (a cut "Fastlane" was read as "press nine"). Transcript cues ("this is Sam, how
  can I help?") raise a person the monitor missed, but never words the hold has played before.
  They count once the line has been quiet for a reply (``CUE_PAUSE``): words read at a pause
  may be the first part of a recording, and the music coming back, or the monitor naming an
  announcement, vetoes them (a recorded "hi, this is Jessica, please stay on the line").
- A reported person is a suspicion (:class:`PersonCheck`): confirmed when they pause for a reply,
  retracted when the music comes back, the same words play again, or the words turn out to be
  an announcement's (a queue position, a wait time, a menu).
- A line that asks for keys ("enter your date of birth") soon after a hold began, or right
  after a person was reported, was the menu pausing: back to the menu.
- A person reported while the desk phone rings for them is still a suspicion: the music coming
  back stops the ringing and returns the call to the hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.audio.monitor import EventKind, MonitorEvent
from custom_components.hold_slayer.ivr.menu import Prompt, PromptKind, offer_only, parse_prompt

from .commands import (
    CheckWords,
    Command,
    ConfirmPerson,
    DiscardHold,
    Emit,
    EndCall,
    LearnHoldSegment,
    Note,
    ReportPerson,
    ResumeMenu,
    Retract,
    StartHold,
)
from .events import EventType, SessionState, Speaker
from .person import after_hold_wording, hold_words, sounds_like_person
from .person_check import PersonCheck, Verdict
from .states import Phase
from .view import LineView

SILENT_HOLD: Final = 15.0  # silence alone is a hold once it outlasts a menu's input timeout
SILENT_SHARE: Final = 0.8
UNANSWERED_HOLD: Final = 20.0  # quiet seconds after a menu we could not answer that make a hold
TRANSCRIPT_CONFIDENCE: Final = 0.9  # a person the words make plain
WORDS_DUE: Final = 2.0  # seconds after the line stopped speaking by which its words are read
EARLY_HOLD: Final = 30.0  # seconds of hold in which a prompt asking for keys means the menu paused
MUSIC_VETO: Final = 5  # music decisions (0.5 s) after a person's words that make them the hold's
CUE_PAUSE: Final = 1.0  # quiet seconds after person-like words: a reply awaited, not a pause in a recording
READ_SPAN: Final = 1.4  # seconds of a reported voice read as its first words (less is read at a pause)
READ_PAUSE: Final = 0.5  # quiet seconds that end a reported voice's first words (a short "Hello?")
BEFORE_PERSON: Final = 1.0  # an utterance begun this long before a person's onset holds the hold before them
READ_LEAD: Final = 0.3  # read from this long before the onset: the classifier's onset can cut the first word


class HoldJudge:
    """One call's hold and person verdicts."""

    def __init__(self) -> None:
        self.person = PersonCheck()
        self._held_back: MonitorEvent | None = None  # a hold reported while the menu may be waiting
        self._words_after_silence = False  # the line spoke after a held-back silence: its words decide
        self._spoke_at = 0.0  # audio seconds the line was last heard saying those words
        # The monitor reported a person while a hold was held back: when the hold counts, that
        # voice was the hold's (an announcement), and the monitor must go back to listening.
        self._person_while_held_back = False
        self._limit_reached = False
        # Person-like words waiting for the line's pause for a reply: (onset, words).
        self._cue: tuple[float, str] | None = None
        # A person the monitor reported whose first words are not yet long enough to read.
        self._unread: MonitorEvent | None = None

    def on_monitor_event(self, view: LineView, event: MonitorEvent) -> list[Command]:
        """The monitor reported a hold, an announcement or a person."""
        if event.kind is EventKind.HOLD_STARTED:
            if view.state is not SessionState.IVR:
                self._unread = None  # the music came back before the voice's words were read
                return []
            if view.awaiting_us or _silent_since(view.labels, event.began):
                self._held_back = event  # the quiet may be the menu waiting for our answer
                return []
            return self._start_hold(view, event)
        if event.kind is EventKind.ANNOUNCEMENT:
            self._cue = None  # the words of the voice just heard were an announcement's
            return [Emit(EventType.ANNOUNCEMENT, {"confidence": round(event.confidence, 2)})]
        if event.kind is EventKind.HUMAN_DETECTED and view.state is SessionState.IVR:
            self._person_while_held_back = self._held_back is not None
            return []
        if event.kind is EventKind.HUMAN_DETECTED and view.state is SessionState.ON_HOLD:
            if not view.can_transcribe:
                return self._report(view, event.began, event.confidence, "audio")
            if view.phase is Phase.WAITING and self._unread is None:
                self._unread = event
                return self._read_when_due(view)
        return []

    def _read_when_due(self, view: LineView) -> list[Command]:
        """Read the reported voice's first words once ``READ_SPAN`` of it played, or it paused."""
        event = self._unread
        assert event is not None
        if view.state is not SessionState.ON_HOLD or view.phase is not Phase.WAITING:
            self._unread = None  # its words reported it meanwhile, or the call moved on
            return []
        # Times are sums of 20 ms frames: a span that has played may fall a rounding short.
        if view.audio_time - event.began < READ_SPAN - 1e-9 and view.quiet_for < READ_PAUSE:
            return []
        self._unread = None
        return [CheckWords(event.began, event.confidence, event.began - READ_LEAD)]

    def on_words_read(self, view: LineView, onset: float, confidence: float, text: str) -> list[Command]:
        """The first words of the person the monitor reported: a person, or one more announcement.

        :func:`.person.hold_words` decides; a prompt for keys among them was the menu pausing.
        """
        if view.state is not SessionState.ON_HOLD:
            return []
        if hold_words(text):
            words = after_hold_wording(text)
            if words and _asks_for_keys(view, parse_prompt(words)):
                return [Note(Speaker.LINE, text), ResumeMenu(str(Verdict.MENU))]
            self.person.heard_on_hold(text)
            return [Note(Speaker.LINE, text), LearnHoldSegment()]
        return self._report(view, onset, confidence, "audio", text)

    def on_transcript(self, view: LineView, start: float, text: str) -> list[Command]:
        """The line said ``text`` (an utterance that began at ``start``, audio seconds)."""
        if view.state is SessionState.HUMAN:
            return self._judge_person_words(view, start, text)
        if view.state is SessionState.ON_HOLD:
            if _asks_for_keys(view, parse_prompt(text)) and not sounds_like_person(text):
                return [ResumeMenu(str(Verdict.MENU))]
            if self.person.heard_on_hold(text):
                return []  # words the hold plays again are the hold's, however friendly they sound
            if sounds_like_person(text) and view.phase is Phase.WAITING:
                # The acoustic detector missed a person the words make plain ("this is Sam") —
                # or the words are the first part of a recording that pauses: they count once the
                # line has waited for a reply with the music not back.
                self._cue = (start, text)
                return self._judge_cue(view, start, text)
            return []
        if view.state is SessionState.IVR and view.has_answered and sounds_like_person(text):
            return self._report(view, start, TRANSCRIPT_CONFIDENCE, "transcript", text)  # no hold at all
        if view.state is SessionState.IVR and self._words_after_silence and self._held_back is not None:
            return self._words_decide_silence(view, self._held_back, parse_prompt(text))
        return []

    def _judge_cue(self, view: LineView, onset: float, text: str) -> list[Command]:
        """Person-like words: a person once the line waits for a reply, unless the music came back."""
        if view.state is not SessionState.ON_HOLD or view.phase is not Phase.WAITING:
            self._cue = None
            return []
        music = sum(1 for time, label in view.labels if time >= onset and label is Label.MUSIC)
        if music >= MUSIC_VETO:
            self._cue = None  # a recording: the hold's music was straight back after it
            return []
        if view.speaking or view.quiet_for < CUE_PAUSE:
            return []
        self._cue = None
        return self._report(view, onset, TRANSCRIPT_CONFIDENCE, "transcript", text)

    def _words_decide_silence(self, view: LineView, event: MonitorEvent, prompt: Prompt) -> list[Command]:
        """The first words after a held-back silence: the hold speaking, or the menu going on."""
        self._words_after_silence = False
        if prompt.kind is PromptKind.HOLD or offer_only(prompt):
            return self._start_hold(view, event)
        return self._discard()  # the menu went on: the silence was it waiting

    def _judge_person_words(self, view: LineView, start: float, text: str) -> list[Command]:
        """Words after a person was reported: the person's, or the hold's after all."""
        if self.person.repeats(start, text):
            return self._retract(Verdict.SAME_WORDS)
        if self.person.suspected is None or sounds_like_person(text):
            return []  # long past the report, or plainly a person talking
        if start < self.person.suspected.onset - BEFORE_PERSON:
            return []  # begun well before the person spoke: the hold's words before them
        prompt = parse_prompt(text)
        if _asks_for_keys(view, prompt):
            self.person.withdraw()
            return [ResumeMenu(str(Verdict.MENU))]
        if _announces(prompt):
            return self._retract(Verdict.ANNOUNCEMENT)
        return []

    def on_tick(self, view: LineView, *, decided: bool) -> list[Command]:
        """The audio clock moved (``decided``: with new classifier decisions)."""
        if self._unread is not None and (read := self._read_when_due(view)):
            return read
        if self._cue is not None and (judged := self._judge_cue(view, *self._cue)):
            return judged
        # While the desk rings for a person reported moments ago, the music coming back undoes it.
        ringing = view.state is SessionState.TRANSFERRING and view.phase is Phase.HANDING_OVER
        if decided and (view.state is SessionState.HUMAN or ringing):
            verdict = self.person.judge(view.audio_time, view.labels)
            if verdict is Verdict.MUSIC_BACK:
                return self._retract(verdict)
            if verdict is Verdict.CONFIRMED and view.state is SessionState.HUMAN:
                return [ConfirmPerson()]
        if view.state is SessionState.IVR and self._held_back is not None:
            return self._review_held_back(view, self._held_back)
        if (
            view.state is SessionState.ON_HOLD
            and not self._limit_reached
            and (view.hold_seconds or 0.0) > view.request.max_hold
        ):
            self._limit_reached = True
            return [EndCall("max_hold", "held too long")]
        return []

    def _review_held_back(self, view: LineView, event: MonitorEvent) -> list[Command]:
        """A hold reported while a prompt was pending, or made of silence only: decide it.

        If we answered the prompt instead, the quiet was the menu waiting: the monitor starts
        afresh. Silence alone is a hold only once it outlasts any menu's wait for input;
        speech before that means it was a pause.
        """
        onset = event.began
        if view.awaiting_us:
            # Quiet since the line last spoke, not since the hold was reported: a line that keeps
            # repeating a prompt we cannot answer is still asking, not holding.
            quiet_since = max(event.time, view.line_spoke_at or 0.0)
            if (
                view.audio_time - quiet_since > UNANSWERED_HOLD
                and not view.words_pending
                and not view.transcribing
            ):
                return self._start_hold(view, event)
            return []
        if self._words_after_silence:
            # The line spoke after the silence: its words, still being read, decide; nothing
            # legible said means it was a pause, as without a recogniser.
            if view.speaking or view.transcribing:
                self._spoke_at = view.audio_time
                return []
            if view.audio_time - self._spoke_at < WORDS_DUE:
                return []
            self._words_after_silence = False
            return self._discard()
        if view.answered_current_prompt and (view.answered_at is None or onset < view.answered_at):
            # Quiet from before our answer was the menu waiting for it; quiet after it is judged
            # below like any silence.
            return self._discard()
        if _silent_since(view.labels, onset):
            if view.audio_time - onset >= SILENT_HOLD:
                return self._start_hold(view, event)
            if view.speaking and view.can_transcribe:
                self._words_after_silence, self._spoke_at = True, view.audio_time
                return []
            if view.speaking:
                return self._discard()  # the line spoke again: with no words to read, a pause
            return []
        return self._start_hold(view, event)

    def _discard(self) -> list[Command]:
        """The quiet held back was the menu waiting: the monitor starts afresh."""
        self._held_back, self._person_while_held_back = None, False
        return [DiscardHold()]

    def _start_hold(self, view: LineView, event: MonitorEvent) -> list[Command]:
        """Start the hold where the monitor heard it begin, never before our last answer.

        Until the menu had that answer, what the line played was the menu.
        """
        self._held_back = None
        self._words_after_silence = False
        relearn = [LearnHoldSegment()] if self._person_while_held_back else []
        self._person_while_held_back = False
        onset = max(event.began, view.answered_at or event.began)
        return [StartHold(onset, event.confidence), *relearn]

    def _report(
        self, view: LineView, onset: float, confidence: float, source: str, words: str = ""
    ) -> list[Command]:
        self.person.suspect(view.audio_time, words, onset=onset)
        return [ReportPerson(onset, confidence, source, words)]

    def _retract(self, verdict: Verdict) -> list[Command]:
        self.person.withdraw()
        return [Retract(str(verdict)), LearnHoldSegment()]


def _asks_for_keys(view: LineView, prompt: Prompt) -> bool:
    """A prompt for a number, soon after the hold began: no hold asks for a date of birth."""
    return prompt.kind is PromptKind.DIGITS and (view.hold_seconds or 0.0) <= EARLY_HOLD


def _announces(prompt: Prompt) -> bool:
    """Words only a hold's recording says: a queue position, a wait time, keys to press."""
    return (
        prompt.queue_position is not None
        or prompt.estimated_wait is not None
        or prompt.kind is PromptKind.MENU
    )


def _silent_since(labels: Sequence[tuple[float, Label]], since: float) -> bool:
    """Whether the classifier heard (almost) only silence since ``since`` (audio seconds)."""
    heard = [label for time, label in labels if time >= since]
    return bool(heard) and heard.count(Label.SILENCE) >= SILENT_SHARE * len(heard)
