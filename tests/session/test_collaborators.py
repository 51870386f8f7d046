"""The hold judge, the navigator and the hand-off on their own: a view in, commands out."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.audio.fingerprint import prompt_fingerprint
from custom_components.hold_slayer.audio.monitor import EventKind, MonitorEvent
from custom_components.hold_slayer.ivr.decide import Action, Press, Say, Wait
from custom_components.hold_slayer.ivr.menu import likeness, parse_prompt
from custom_components.hold_slayer.ivr.model import model_chain
from custom_components.hold_slayer.ivr.routes import Route, RouteDecider, RouteStep, action_to_dict
from custom_components.hold_slayer.session.commands import (
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
from custom_components.hold_slayer.session.events import EventType, SessionState, Speaker
from custom_components.hold_slayer.session.handoff import REMIND, HandOff
from custom_components.hold_slayer.session.hold_judge import (
    BEFORE_PERSON,
    READ_LEAD,
    READ_PAUSE,
    READ_SPAN,
    SILENT_HOLD,
    UNANSWERED_HOLD,
    WORDS_DUE,
    HoldJudge,
)
from custom_components.hold_slayer.session.navigator import (
    COMPLETE_QUIET,
    RECOGNISED_QUIET,
    RETYPE_QUIET,
    SETTLE,
    TYPE_AHEAD,
    Navigator,
)
from custom_components.hold_slayer.session.person_check import SAME_WORDS
from custom_components.hold_slayer.session.request import CallRequest, Handoff
from custom_components.hold_slayer.session.states import Phase
from custom_components.hold_slayer.voice.endpoint import Utterance, UtteranceDetector
from harness.channel import Channel, through_channel
from harness.corpus import espeak

MENU = "For billing, press 1. For anything else, press 0."


@dataclass
class View:
    """A LineView the test sets by hand."""

    request: CallRequest = field(default_factory=lambda: CallRequest("+18005550100", goal="billing"))
    state: SessionState = SessionState.IVR
    phase: Phase = Phase.LISTENING
    audio_time: float = 0.0
    wall_time: float = 0.0
    labels: Sequence[tuple[float, Label]] = ()
    speaking: bool = False
    utterance_open: bool = False
    transcribing: int = 0
    can_transcribe: bool = True
    can_speak: bool = True
    hold_seconds: float | None = None
    awaiting_us: bool = False
    answered_current_prompt: bool = False
    answered_at: float | None = None
    has_answered: bool = False
    line_spoke_at: float | None = None
    words_pending: bool = False
    quiet_for: float = 0.0
    audio: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    reading: tuple[float, ...] = ()  # starts of the utterances being read (``transcribing`` counts more)

    def line_audio(self, since: float) -> npt.NDArray[np.int16]:
        """The line's audio (``audio`` from the call's start) from ``since`` to now."""
        return self.audio[round(since * 8000) : round(self.audio_time * 8000)]

    def reading_before(self, start: float) -> bool:
        """Whether an utterance begun before ``start`` is being read."""
        return any(begun < start for begun in self.reading)


def _labels(start: float, end: float, label: Label) -> list[tuple[float, Label]]:
    return [(round(start + i / 10, 1), label) for i in range(round((end - start) * 10))]


def _hold(at: float, onset: float) -> MonitorEvent:
    return MonitorEvent(at, EventKind.HOLD_STARTED, 0.8, onset)


def _utterance(start: float = 0.0) -> Utterance:
    return Utterance(np.zeros(8000, dtype=np.int16), start, start + 1)


# -- the hold judge ---------------------------------------------------------------------------------


def test_a_hold_while_the_menu_waits_for_us_is_held_back_until_we_answered() -> None:
    judge = HoldJudge()
    view = View(audio_time=20.0, awaiting_us=True, labels=_labels(10, 20, Label.MUSIC))
    assert judge.on_monitor_event(view, _hold(20.0, 15.0)) == []
    assert judge.on_tick(view, decided=True) == []
    view.awaiting_us, view.answered_current_prompt = False, True
    assert judge.on_tick(view, decided=True) == [DiscardHold()]
    assert judge.on_tick(view, decided=True) == []  # forgotten


def test_a_silence_that_began_after_our_answer_is_judged_as_a_silence() -> None:
    """Quiet before our answer was the menu waiting; quiet after it may be the hold."""
    judge = HoldJudge()
    view = View(audio_time=14.0, labels=_labels(9, 14, Label.SILENCE), answered_current_prompt=True)
    view.answered_at = 10.0
    assert judge.on_monitor_event(view, _hold(14.0, 9.0)) == []
    assert judge.on_tick(view, decided=True) == [DiscardHold()]  # began before we answered
    assert judge.on_monitor_event(view, _hold(15.0, 10.5)) == []
    assert judge.on_tick(view, decided=True) == []  # after it: a silence, held back
    view.audio_time, view.labels = 10.5 + SILENT_HOLD, _labels(9, 10.5 + SILENT_HOLD, Label.SILENCE)
    assert judge.on_tick(view, decided=True) == [StartHold(10.5, 0.8)]


def test_a_menu_we_cannot_answer_that_stays_quiet_becomes_a_hold() -> None:
    judge = HoldJudge()
    view = View(audio_time=20.0, awaiting_us=True, labels=_labels(10, 20, Label.MUSIC))
    judge.on_monitor_event(view, _hold(20.0, 15.0))
    view.line_spoke_at = 25.0  # the line read its prompt again: still asking
    view.audio_time = 25.0 + UNANSWERED_HOLD
    assert judge.on_tick(view, decided=True) == []
    view.audio_time = 25.1 + UNANSWERED_HOLD
    assert judge.on_tick(view, decided=True) == [StartHold(15.0, 0.8)]


def test_silence_alone_is_a_hold_only_once_it_outlasts_a_menus_timeout() -> None:
    judge = HoldJudge()
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.SILENCE))
    assert judge.on_monitor_event(view, _hold(10.0, 5.0)) == []
    view.audio_time, view.labels = 5.0 + SILENT_HOLD - 0.1, _labels(5, 19.9, Label.SILENCE)
    assert judge.on_tick(view, decided=True) == []
    view.audio_time = 5.0 + SILENT_HOLD
    assert judge.on_tick(view, decided=True) == [StartHold(5.0, 0.8)]


def test_silence_broken_by_the_line_speaking_was_a_pause_when_no_words_can_be_read() -> None:
    judge = HoldJudge()
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.SILENCE), can_transcribe=False)
    judge.on_monitor_event(view, _hold(10.0, 5.0))
    view.speaking = True
    assert judge.on_tick(view, decided=True) == [DiscardHold()]


@pytest.mark.parametrize(
    ("words", "verdict"),
    [
        ("Press 9 now to verify your identity and keep your place in line.", [StartHold(5.0, 0.8)]),
        ("Please continue to hold.", [StartHold(5.0, 0.8)]),
        ("Please stay on the line, or press 9 to be called back.", [StartHold(5.0, 0.8)]),
        ("Please enter your date of birth.", [DiscardHold()]),
        ("Thank you. Your balance is 45 dollars.", [DiscardHold()]),
        ("For claims, press 1. For billing, press 2.", [DiscardHold()]),
    ],
)
def test_the_words_after_a_silence_decide_whether_it_was_the_hold(words: str, verdict: list[object]) -> None:
    judge = HoldJudge()
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.SILENCE), has_answered=True)
    judge.on_monitor_event(view, _hold(10.0, 5.0))
    view.speaking, view.audio_time = True, 10.1
    assert judge.on_tick(view, decided=True) == []  # the words decide, not the sound
    view.speaking, view.transcribing, view.audio_time = False, 1, 14.0
    view.labels = [*_labels(5, 10, Label.SILENCE), *_labels(10, 13, Label.SPEECH)]
    assert judge.on_tick(view, decided=True) == []  # still being read
    assert judge.on_transcript(view, 10.1, words) == verdict
    assert judge.on_tick(view, decided=True) == []  # decided once


@pytest.mark.parametrize(
    ("words", "verdict"),
    [
        (
            "Press 9 now to verify your identity and keep your place in line.",
            [StartHold(5.0, 0.8), LearnHoldSegment()],
        ),
        ("Please enter your date of birth.", [DiscardHold()]),
    ],
)
def test_a_voice_the_monitor_took_for_a_person_while_the_hold_was_held_back(
    words: str, verdict: list[object]
) -> None:
    """The announcement that makes a silent hold a hold sounded like a new voice to the monitor,
    which then stopped listening for one: when the hold counts, the monitor learns the voice was
    the hold's and listens again (a person right after it went unnoticed when the words were
    read after the monitor's report)."""
    judge = HoldJudge()
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.SILENCE), has_answered=True)
    judge.on_monitor_event(view, _hold(10.0, 5.0))
    view.speaking, view.audio_time = True, 10.1
    assert judge.on_tick(view, decided=True) == []
    person = MonitorEvent(13.0, EventKind.HUMAN_DETECTED, 0.8, 10.1)
    assert judge.on_monitor_event(view, person) == []  # in the menu: not a person to report
    view.speaking, view.transcribing, view.audio_time = False, 1, 14.0
    assert judge.on_tick(view, decided=True) == []
    assert judge.on_transcript(view, 10.1, words) == verdict


def test_speech_after_a_silence_with_nothing_legible_was_a_pause() -> None:
    judge = HoldJudge()
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.SILENCE))
    judge.on_monitor_event(view, _hold(10.0, 5.0))
    view.speaking, view.audio_time = True, 10.1
    assert judge.on_tick(view, decided=True) == []
    view.speaking, view.audio_time = False, 11.0  # the recogniser read nothing
    assert judge.on_tick(view, decided=True) == []
    view.audio_time = 10.1 + WORDS_DUE
    assert judge.on_tick(view, decided=True) == [DiscardHold()]


def test_music_is_a_hold_at_once() -> None:
    view = View(audio_time=10.0, labels=_labels(5, 10, Label.MUSIC))
    assert HoldJudge().on_monitor_event(view, _hold(10.0, 5.0)) == [StartHold(5.0, 0.8)]


def test_a_hold_never_begins_before_our_last_answer() -> None:
    """The monitor may date the hold from the prompt we were answering: that was still the menu."""
    view = View(audio_time=12.0, labels=_labels(8, 12, Label.MUSIC), has_answered=True, answered_at=7.5)
    assert HoldJudge().on_monitor_event(view, _hold(12.0, 4.0)) == [StartHold(7.5, 0.8)]


def test_a_person_on_hold_is_read_first_then_reported_or_kept_as_the_hold() -> None:
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=60.0)
    person = MonitorEvent(60.0, EventKind.HUMAN_DETECTED, 0.9, 58.0)
    assert judge.on_monitor_event(view, person) == [
        CheckWords(58.0, 0.9, 58.0 - READ_LEAD)
    ]  # READ_SPAN heard
    view.phase = Phase.CHECKING
    assert judge.on_monitor_event(view, person) == []  # one reading at a time
    view.phase = Phase.WAITING
    offer = "To be called back, press 2."
    assert judge.on_words_read(view, 58.0, 0.9, offer) == [Note(Speaker.LINE, offer), LearnHoldSegment()]
    assert judge.on_words_read(view, 58.0, 0.9, "Hello, this is Sam, how can I help?") == [
        ReportPerson(58.0, 0.9, "audio", "Hello, this is Sam, how can I help?")
    ]


def test_a_reported_voice_whose_words_end_in_a_greeting_is_a_person() -> None:
    """tiny.en, primed with phone menus, heard "Fastlane tech support, you've reached Nina at
    Fastlane. What seems to be the problem?" as keys (seen on fastlane-isp-verify-trap, found 27 s
    late): the greeting at the end decides for a voice the monitor heard as new. Menu words at
    the end still keep the voice as the hold's."""
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=60.0)
    misheard = "Press nine, press four. You've reached nine, press nine. What seems to be the problem?"
    assert judge.on_words_read(view, 58.0, 0.8, misheard) == [ReportPerson(58.0, 0.8, "audio", misheard)]
    judge = HoldJudge()
    offer = "Ironclad, what seems to be the problem? To request a callback, press 9."
    assert judge.on_words_read(view, 58.0, 0.8, offer) == [Note(Speaker.LINE, offer), LearnHoldSegment()]


def test_the_words_after_the_hold_wording_decide_for_a_reported_voice() -> None:
    """An agent who answered as the announcement ended, with no pause, is one voice to the
    monitor, and its words are read from the announcement's start (initrode-recorded-prompts:
    "Thank you for your patience." then "Initrode help desk, this is Sam", which tiny.en heard
    as "It's your own health mask", found 24 s late). The words after the hold's wording decide;
    hold wording throughout, or a menu after it, keeps the voice as the hold's."""
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=60.0)
    ran_on = "Thank you for your patience. It's your own health mask. It's in time."
    assert HoldJudge().on_words_read(view, 58.0, 0.8, ran_on) == [ReportPerson(58.0, 0.8, "audio", ran_on)]
    for hold_only in (
        "Thank you for your patience. Your call is important to us.",
        "Thank you for your patience. For billing, press 1.",
        # lakeside-water-speech-confirm's first announcement as tiny.en read it ("... stay on
        # the line"): a comfort-noise hold's quiet after it made it a person until stop 35.
        "All of our customers are determined to implement them. Please pay on the lines.",
    ):
        assert HoldJudge().on_words_read(view, 58.0, 0.8, hold_only) == [
            Note(Speaker.LINE, hold_only),
            LearnHoldSegment(),
        ]
    # No words at all: the monitor's report stands.
    assert HoldJudge().on_words_read(view, 58.0, 0.8, "") == [ReportPerson(58.0, 0.8, "audio", "")]


def test_a_reported_voice_is_read_once_it_said_enough_or_paused() -> None:
    """Whisper given under a second of a voice invents words (often its priming text, "to
    repeat these options, press two", seen on globex-insurance-claims): the read waits for
    READ_SPAN of the voice, or its first pause."""
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=60.0)
    person = MonitorEvent(60.0, EventKind.HUMAN_DETECTED, 0.9, 59.1)
    assert judge.on_monitor_event(view, person) == []
    view.audio_time = 59.0 + READ_SPAN
    assert judge.on_tick(view, decided=True) == []
    view.audio_time = 59.1 + READ_SPAN
    assert judge.on_tick(view, decided=True) == [CheckWords(59.1, 0.9, 59.1 - READ_LEAD)]
    assert judge.on_tick(view, decided=True) == []  # read once
    # A short greeting is read at its pause.
    judge, view.audio_time = HoldJudge(), 60.0
    assert judge.on_monitor_event(view, person) == []
    view.audio_time, view.quiet_for = 60.3, READ_PAUSE - 0.1
    assert judge.on_tick(view, decided=True) == []
    view.audio_time, view.quiet_for = 60.4, READ_PAUSE
    assert judge.on_tick(view, decided=True) == [CheckWords(59.1, 0.9, 59.1 - READ_LEAD)]
    # The music back before then (the monitor withdrew the voice): nothing to read.
    judge, view.audio_time, view.quiet_for = HoldJudge(), 60.0, 0.0
    assert judge.on_monitor_event(view, person) == []
    assert judge.on_monitor_event(view, _hold(60.6, 60.5)) == []
    view.audio_time = 62.0
    assert judge.on_tick(view, decided=True) == []


def test_without_a_recogniser_the_monitor_is_believed() -> None:
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, can_transcribe=False)
    person = MonitorEvent(60.0, EventKind.HUMAN_DETECTED, 0.9, 58.0)
    assert HoldJudge().on_monitor_event(view, person) == [ReportPerson(58.0, 0.9, "audio")]


def test_the_hold_s_words_from_before_a_person_do_not_retract_them() -> None:
    """An agent who cut the announcement off is reported before the announcement's long
    utterance is read (seen on statewide-dmv-speech): its queue position was said before she
    spoke, so it does not retract her; the same words begun after she was reported do."""
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=63.0)
    assert judge.on_words_read(view, 60.6, 0.9, "My name is Denise.")[0] == ReportPerson(
        60.6, 0.9, "audio", "My name is Denise."
    )
    view.state, view.phase, view.audio_time = SessionState.HUMAN, Phase.SUSPECTED, 64.6
    queue = (
        "Thank you for waiting. Calls are answered in the order they were received. You are caller number 3."
    )
    assert judge.on_transcript(view, 44.6, queue) == []
    retract = [Retract("words of a hold announcement: a recording"), LearnHoldSegment()]
    assert judge.on_transcript(view, 60.6 - BEFORE_PERSON + 0.1, queue) == retract


def test_the_reported_utterance_s_own_transcript_is_not_a_repeat() -> None:
    """The monitor reports a person on the first words read; the same utterance's whole
    transcript comes after the report, and must not retract it (seen on acme-bank-billing)."""
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=95.4)
    hello = "Hello, is anyone there?"
    assert judge.on_words_read(view, 93.8, 0.9, hello) == [ReportPerson(93.8, 0.9, "audio", hello)]
    view.state, view.phase, view.audio_time = SessionState.HUMAN, Phase.SUSPECTED, 96.0
    assert judge.on_transcript(view, 93.8, hello) == []
    retract = [Retract("the same words again: a recording on the hold"), LearnHoldSegment()]
    assert judge.on_transcript(view, 99.0, hello) == retract  # begun after the report: played again


def test_friendly_words_the_hold_plays_again_are_retracted_and_then_the_hold() -> None:
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=30.0, quiet_for=1.5)
    jessica = "Hi, this is Jessica from Acme. Thanks for your patience, please stay on the line."
    sam = "Thanks for holding, this is Sam, who am I speaking with?"
    assert judge.on_transcript(view, 25.0, jessica) == [ReportPerson(25.0, 0.9, "transcript", jessica)]
    view.state, view.phase = SessionState.HUMAN, Phase.SUSPECTED
    retract = [Retract("the same words again: a recording on the hold"), LearnHoldSegment()]
    assert judge.on_transcript(view, 40.0, jessica.lower()) == retract
    view.state, view.phase = SessionState.ON_HOLD, Phase.WAITING
    assert judge.on_transcript(view, 60.0, jessica) == []  # the hold's words now
    assert judge.on_transcript(view, 90.0, sam) == [ReportPerson(90.0, 0.9, "transcript", sam)]


def test_a_greeting_run_on_from_a_known_announcement_is_a_person() -> None:
    """The agent picks up as the hold's announcement ends and the recogniser hears one utterance
    (seen on acme-bank-billing): its words are mostly the hold's, but the greeting is new, so it
    is a person once the line waits for a reply. The announcement alone again is the hold's."""
    announcement = (
        "Thank you for calling Acme Bank. All of our representatives are busy helping other "
        "customers. Your call is important to us, please stay on the line."
    )
    merged = f"{announcement} Hi, this is Sam in billing, how can I help?"
    assert likeness(merged, announcement) >= SAME_WORDS  # as a whole, the announcement again
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=40.0, quiet_for=1.5)
    assert judge.on_transcript(view, 30.0, announcement) == []
    assert judge.on_transcript(view, 60.0, announcement) == []  # played again: the hold's
    view.audio_time = 104.0
    assert judge.on_transcript(view, 90.0, merged) == [ReportPerson(90.0, 0.9, "transcript", merged)]


def test_person_like_words_count_once_the_line_waits_for_a_reply_with_no_music() -> None:
    """The first part of a longer utterance says "this is Jessica": the music straight back after
    it vetoes the words; a voice that then waits for a reply with no music is a person."""
    jessica = "Hi, this is Jessica from Acme. Thanks for your patience, please stay on the line."
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=16.0, speaking=True)
    assert judge.on_transcript(view, 14.5, jessica) == []
    view.audio_time, view.labels = 18.5, _labels(14.5, 18.5, Label.SPEECH)
    assert judge.on_tick(view, decided=True) == []  # still speaking
    view.audio_time, view.labels = (
        19.0,
        [*_labels(14.5, 18.5, Label.SPEECH), *_labels(18.5, 19.0, Label.MUSIC)],
    )
    assert judge.on_tick(view, decided=True) == []  # the music is back: a recording
    view.speaking = False
    assert judge.on_tick(view, decided=True) == []  # and the words stay vetoed

    sam = "Thanks for holding, this is Sam in billing. Who am I speaking with?"
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=56.0, speaking=True)
    assert judge.on_transcript(view, 54.7, sam) == []
    view.audio_time, view.labels = 58.0, _labels(54.7, 58.0, Label.SPEECH)
    assert judge.on_tick(view, decided=True) == []
    view.audio_time, view.speaking, view.quiet_for = 58.6, False, 0.6
    view.labels = [*_labels(54.7, 58.0, Label.SPEECH), *_labels(58.0, 58.6, Label.SILENCE)]
    assert judge.on_tick(view, decided=True) == []  # a pause in a sentence, not yet one for a reply
    view.audio_time, view.quiet_for = 59.1, 1.1
    view.labels = [*_labels(54.7, 58.0, Label.SPEECH), *_labels(58.0, 59.1, Label.SILENCE)]
    assert judge.on_tick(view, decided=True) == [ReportPerson(54.7, 0.9, "transcript", sam)]
    assert judge.on_tick(view, decided=True) == []  # reported once


def test_an_announcement_the_monitor_names_vetoes_words_read_while_it_spoke() -> None:
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=16.0, speaking=True)
    assert judge.on_transcript(view, 14.5, "Hi, this is Jessica, please stay on the line.") == []
    judge.on_monitor_event(view, MonitorEvent(18.0, EventKind.ANNOUNCEMENT, 1.0, 14.5))
    view.audio_time, view.speaking = 19.5, False
    assert judge.on_tick(view, decided=True) == []


def test_a_suspected_person_is_confirmed_or_retracted_when_the_music_is_back() -> None:
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=100.0, quiet_for=1.5)
    judge.on_transcript(view, 99.0, "This is Sam, how can I help?")
    view.state, view.phase = SessionState.HUMAN, Phase.SUSPECTED
    view.audio_time, view.labels = 101.0, _labels(99, 101, Label.SPEECH)
    assert judge.on_tick(view, decided=True) == []
    view.audio_time, view.labels = 102.0, _labels(99, 102, Label.SPEECH)
    assert judge.on_tick(view, decided=True) == []  # still talking: no pause for a reply yet
    view.audio_time, view.labels = 103.0, _labels(99, 102, Label.SPEECH) + _labels(102, 103, Label.NOISE)
    assert judge.on_tick(view, decided=True) == [ConfirmPerson()]
    view.audio_time, view.labels = 106.0, _labels(99, 103, Label.SPEECH) + _labels(103, 106, Label.MUSIC)
    assert judge.on_tick(view, decided=True) == [Retract("the hold music came back"), LearnHoldSegment()]


def test_a_wait_time_announcement_taken_for_a_person_is_retracted_by_its_words() -> None:
    """The monitor reports the announcement's voice; the first words read ("The estimated") say
    nothing; the whole sentence, read a moment later, is the hold's."""
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.CHECKING, audio_time=80.0, hold_seconds=60.0)
    assert judge.on_words_read(view, 78.0, 0.8, "The estimated") == [
        ReportPerson(78.0, 0.8, "audio", "The estimated")
    ]
    view.state, view.phase = SessionState.HUMAN, Phase.SUSPECTED
    announcement = "The estimated wait time is 3 minutes. You are caller number 4."
    assert judge.on_transcript(view, 78.0, announcement) == [
        Retract("words of a hold announcement: a recording"),
        LearnHoldSegment(),
    ]


def test_a_person_asked_for_their_account_is_not_retracted() -> None:
    judge = HoldJudge()
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=300.0, hold_seconds=280.0)
    judge.on_transcript(view, 299.0, "Hi, this is Sam, how can I help you today?")
    view.state, view.phase = SessionState.HUMAN, Phase.CONFIRMED
    assert judge.on_transcript(view, 305.0, "Sure, can I have your name and the number on the account?") == []
    assert judge.on_transcript(view, 309.0, "Thanks. And what is the billing address?") == []


def test_a_line_asking_for_keys_soon_after_a_hold_began_was_the_menu_pausing() -> None:
    judge = HoldJudge()
    prompt = "Please enter your date of birth as eight digits."
    view = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=30.0, hold_seconds=2.0)
    assert judge.on_transcript(view, 28.0, prompt) == [ResumeMenu("the line asked for keys: still the menu")]
    view.phase = Phase.CHECKING
    assert judge.on_words_read(view, 28.0, 0.8, prompt) == [
        Note(Speaker.LINE, prompt),
        ResumeMenu("the line asked for keys: still the menu"),
    ]
    # Reported as a person first (the words read were too few to tell): the whole prompt decides.
    view.phase = Phase.WAITING
    judge.on_words_read(view, 28.0, 0.8, "Please")
    view.state, view.phase = SessionState.HUMAN, Phase.SUSPECTED
    assert judge.on_transcript(view, 28.0, prompt) == [ResumeMenu("the line asked for keys: still the menu")]
    # Long into a hold, a digit prompt is the hold's own (a survey, a callback form): not the menu.
    late = View(state=SessionState.ON_HOLD, phase=Phase.WAITING, audio_time=400.0, hold_seconds=300.0)
    assert HoldJudge().on_transcript(late, 398.0, prompt) == []


def test_a_person_right_after_the_menu_is_recognised_by_their_words() -> None:
    judge = HoldJudge()
    view = View(audio_time=12.0)
    greeting = "Thank you for calling, this is Dana, how may I help you?"
    assert judge.on_transcript(view, 10.0, greeting) == []  # nothing answered yet: a greeting is the IVR's
    view.has_answered = True
    assert judge.on_transcript(view, 10.0, greeting) == [ReportPerson(10.0, 0.9, "transcript", greeting)]


def test_the_hold_limit_ends_the_call_once() -> None:
    judge = HoldJudge()
    view = View(
        request=CallRequest("+1", max_hold=60.0),
        state=SessionState.ON_HOLD,
        phase=Phase.WAITING,
        hold_seconds=60.1,
    )
    assert judge.on_tick(view, decided=True) == [EndCall("max_hold", "held too long")]
    assert judge.on_tick(view, decided=True) == []


def test_announcements_are_told() -> None:
    event = MonitorEvent(40.0, EventKind.ANNOUNCEMENT, 0.774)
    view = View(state=SessionState.ON_HOLD)
    assert HoldJudge().on_monitor_event(view, event) == [Emit(EventType.ANNOUNCEMENT, {"confidence": 0.77})]


# -- the navigator ----------------------------------------------------------------------------------


def test_the_navigator_decides_once_the_menu_has_settled() -> None:
    navigator = Navigator(model_chain([]))
    view = View(audio_time=5.5)
    assert navigator.on_words(view, "For billing, press 1.", _utterance(2.0)) == []
    # Read 0.5 s after the speech ended: the quiet counts from the speech's end (5.0 s), not from now.
    assert navigator.on_words(view, "For technical support, press 2.", _utterance(4.0)) == []
    assert navigator.line_spoke_at == 5.0
    view.audio_time = 6.1
    assert navigator.on_tick(view) == []  # not settled
    view.audio_time, view.speaking = 6.3, True
    assert navigator.on_tick(view) == []  # the line speaks again
    view.speaking, view.transcribing = False, 1
    assert navigator.on_tick(view) == []  # words still being read
    view.transcribing = 0
    view.audio_time = 7.4
    assert navigator.on_tick(view) == []  # quiet counts from when the line last spoke (6.3 s)
    view.audio_time = 7.6
    assert navigator.on_tick(view) == [Decide("For billing, press 1. For technical support, press 2.")]
    assert navigator.on_tick(view) == []


def test_a_sentence_still_being_cut_is_not_quiet() -> None:
    """The line speaks on; in the pause that ends its sentence the endpointer has not handed the
    words over yet (nothing is transcribing): the menu has not finished."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=3.5)
    navigator.on_words(view, "For billing, press 1. For anything else, press 0.", _utterance(2.0))
    view.speaking = view.utterance_open = True  # "To repeat these options, press 9" begins
    for tick in range(36, 54):
        view.audio_time = tick / 10
        assert navigator.on_tick(view) == []
    view.audio_time, view.speaking = 5.4, False  # its pause: not yet an utterance
    assert navigator.on_tick(view) == []
    view.audio_time = 5.4 + COMPLETE_QUIET
    assert navigator.on_tick(view) == []  # quiet, but the endpointer still holds those words
    view.utterance_open, view.transcribing = False, 1  # handed over: being read
    assert navigator.on_tick(view) == []
    navigator.on_words(
        view, "To repeat these options, press 9.", Utterance(np.zeros(8000, dtype=np.int16), 3.6, 5.4)
    )
    view.transcribing = 0
    assert navigator.on_tick(view) == [
        Decide("For billing, press 1. For anything else, press 0. To repeat these options, press 9.")
    ]


def test_music_after_the_words_does_not_hold_the_decision_back() -> None:
    """Music the endpointer holds as an open utterance is no speech: the menu has finished."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=3.5)
    navigator.on_words(view, "Please enter your account number, followed by the pound key.", _utterance(2.0))
    view.utterance_open, view.audio_time = True, 3.0 + COMPLETE_QUIET  # music, never "speaking"
    assert navigator.on_tick(view) == [Decide("Please enter your account number, followed by the pound key.")]


@pytest.mark.parametrize(
    ("words", "complete"),
    [
        ("Please enter your account number, followed by the pound key.", True),
        ("Please enter your 8-digit member number.", True),
        ("It sounds like you're calling about billing. Is that right?", True),
        ("In a few words, tell me why you're calling today.", True),
        ("For billing, press 1. For anything else, press 0.", True),
        ("For billing, press 1. To hear these options again, press 9.", True),
        ("For billing, press 1. For technical support, press 2.", False),  # more may follow
        ("Please enter your account number.", False),  # "followed by pound" may follow
        ("Thank you for calling Acme.", False),
    ],
)
def test_a_prompt_that_has_plainly_said_all_is_answered_without_the_settle(
    words: str, complete: bool
) -> None:
    navigator = Navigator(model_chain([]))
    view = View(audio_time=3.2)
    navigator.on_words(view, words, _utterance(2.0))  # the speech ended at 3.0 s
    assert navigator.on_tick(view) == []  # a sentence's pause: more may follow even a whole prompt
    view.audio_time = 3.0 + COMPLETE_QUIET
    assert (navigator.on_tick(view) == [Decide(words)]) is complete
    view.audio_time = 3.0 + SETTLE
    assert navigator.on_tick(view) == ([] if complete else [Decide(words)])


def test_words_read_at_a_pause_are_decided_once_the_prompt_has_settled() -> None:
    """The endpointer still holds the utterance; its words, read at the pause, join those read
    before, and are decided on after the settle; the utterance is closed there and its words,
    handed over whole afterwards, are not a second prompt."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=3.5, utterance_open=True)
    navigator.on_words(view, "For billing, press 1.", _utterance(1.0))  # 1.0-2.0 s
    navigator.on_words_ahead(
        view, "For technical support, press 2.", Utterance(np.zeros(8000, np.int16), 2.4, 3.4)
    )
    assert navigator.words_pending
    view.audio_time, view.quiet_for = 3.4 + SETTLE - 0.1, SETTLE - 0.1
    assert navigator.on_tick(view) == []  # not settled: a menu pauses between its options
    view.audio_time, view.quiet_for = 3.4 + SETTLE + 0.05, SETTLE + 0.05
    assert navigator.on_tick(view) == [
        EndUtterance(),
        Decide("For billing, press 1. For technical support, press 2."),
    ]
    assert not navigator.words_pending
    closed = Utterance(np.zeros(8000, np.int16), 2.4, 3.4)
    assert navigator.on_words(view, "For technical support, press 2.", closed) == []
    assert not navigator.words_pending


def test_words_read_at_a_pause_that_may_say_more_wait_for_their_whole_reading() -> None:
    """Settled, but not plainly whole: the utterance's whole reading, under way, reads better (the
    pieces lose the context: "briefly tell me what you're calling about" was read "please leave
    me with your calling amount")."""
    navigator = Navigator(model_chain([]))
    pieces = "Click, click, water, and do it. Please leave me with your calling amount."
    utterance = Utterance(np.zeros(8000, np.int16), 2.4, 3.4)
    navigator.on_words_ahead(View(), pieces, utterance)
    view = View(audio_time=3.4 + SETTLE + 0.05, quiet_for=SETTLE + 0.05, reading=(2.4,))
    assert navigator.on_tick(view) == []
    whole = "Lakeside Water and Sewer. Briefly tell me what you're calling about."
    view.reading = ()
    navigator.on_words(view, whole, utterance)
    assert navigator.on_tick(view) == [Decide(whole)]


def test_words_read_at_a_pause_that_name_the_goals_option_do_not_wait_for_their_whole_reading() -> None:
    """A menu whose pieces plainly offer the goal ("billing") is answered once settled, its
    whole reading still under way; the same menu read again (our key was not taken) waits for it,
    as does a menu none of whose options the pieces name for the goal."""
    navigator = Navigator(model_chain([]))
    menu = "For billing, press 1. For technical support, press 2."
    utterance = Utterance(np.zeros(8000, np.int16), 2.4, 3.4)
    navigator.on_words_ahead(View(), menu, utterance)
    view = View(audio_time=3.4 + SETTLE + 0.05, quiet_for=SETTLE + 0.05, reading=(2.4,))
    assert navigator.on_tick(view) == [EndUtterance(), Decide(menu)]
    navigator.prepare(view, menu)  # decided on: heard once
    again = Utterance(np.zeros(8000, np.int16), 12.4, 13.4)
    navigator.on_words_ahead(View(), menu, again)
    view = View(audio_time=13.4 + SETTLE + 0.05, quiet_for=SETTLE + 0.05, reading=(12.4,))
    assert navigator.on_tick(view) == []
    view.reading = ()
    assert navigator.on_tick(view) == [EndUtterance(), Decide(menu)]
    other = "For sales, press 1. For technical support, press 2."
    later = Utterance(np.zeros(8000, np.int16), 22.4, 23.4)
    navigator.on_words_ahead(View(), other, later)
    view = View(audio_time=23.4 + SETTLE + 0.05, quiet_for=SETTLE + 0.05, reading=(22.4,))
    assert navigator.on_tick(view) == []


def test_the_prompt_after_an_answer_to_words_read_at_a_pause_is_read() -> None:
    """The line answers our keys at once: its next prompt's utterance may begin (with the
    endpointer's lead) before the moment we decided, but after the words we decided on."""
    navigator = Navigator(model_chain([]))
    words = "For billing, press 1. For anything else, press 0."
    navigator.on_words_ahead(View(), words, Utterance(np.zeros(8000, np.int16), 2.4, 3.4))
    view = View(audio_time=3.4 + COMPLETE_QUIET + 0.05, quiet_for=COMPLETE_QUIET + 0.05)
    assert navigator.on_tick(view) == [EndUtterance(), Decide(words)]
    ask = "Please enter your account number, followed by the pound key."
    following = Utterance(np.zeros(8000, np.int16), view.audio_time - 0.1, view.audio_time + 3)
    view.audio_time = following.end + 0.1
    navigator.on_words(view, ask, following)
    assert navigator.words_pending


def test_words_read_at_a_pause_wait_for_earlier_words_only() -> None:
    """The whole utterance being read (for the transcript) holds back no prompt that has plainly
    said all; an earlier utterance not read yet does: its words are the prompt's start."""
    navigator = Navigator(model_chain([]))
    words = "For billing, press 1. For anything else, press 0."
    navigator.on_words_ahead(View(), words, Utterance(np.zeros(8000, np.int16), 2.4, 3.4))
    view = View(audio_time=3.4 + COMPLETE_QUIET + 0.05, quiet_for=COMPLETE_QUIET + 0.05, reading=(0.5, 2.4))
    assert navigator.on_tick(view) == []  # "Thank you for calling Acme." (0.5 s) is still being read
    view.reading = (2.4,)  # read (nothing came of it); the utterance itself is being read whole
    assert navigator.on_tick(view) == [EndUtterance(), Decide(words)]


def test_words_read_at_a_pause_after_the_whole_utterance_are_not_a_second_prompt() -> None:
    """The endpointer closed the utterance while its last piece was read, and its whole reading
    came first: the pieces' words, coming after, are the same prompt."""
    navigator = Navigator(model_chain([]))
    words = "For billing, press 1. For anything else, press 0."
    utterance = Utterance(np.zeros(8000, np.int16), 2.4, 3.4)
    view = View(audio_time=4.4)
    navigator.on_words(view, words, utterance)
    view.audio_time = 3.4 + COMPLETE_QUIET + 0.05
    assert navigator.on_tick(view) == [Decide(words)]
    navigator.on_words_ahead(view, words, utterance)
    view.audio_time = 3.4 + SETTLE + 1
    assert navigator.on_tick(view) == []
    assert not navigator.words_pending


def test_words_read_at_a_pause_wait_while_the_line_speaks_on() -> None:
    """Half a sentence is not a prompt: the next piece read, or the whole utterance, is."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=3.0, utterance_open=True)
    first = "Please enter your account number."
    navigator.on_words_ahead(view, first, Utterance(np.zeros(8000, np.int16), 1.6, 2.6))
    view.audio_time, view.quiet_for, view.speaking = 3.3, 0.0, True  # "… followed by the pound key."
    assert navigator.on_tick(view) == []
    view.audio_time, view.quiet_for, view.speaking = 2.6 + SETTLE + 0.1, SETTLE - 0.5, False
    assert navigator.on_tick(view) == []  # quiet since 2.6 s would be settled: it spoke after
    whole = "Please enter your account number, followed by the pound key."
    navigator.on_words_ahead(view, whole, Utterance(np.zeros(16000, np.int16), 1.6, 3.6))
    view.audio_time, view.quiet_for = 3.6 + COMPLETE_QUIET + 0.05, COMPLETE_QUIET + 0.05
    assert navigator.on_tick(view) == [EndUtterance(), Decide(whole)]


def test_words_read_at_a_pause_that_come_late_still_see_the_line_spoke_on() -> None:
    """A busy transcriber hands over a menu's first piece after the line has read its next option
    and paused again: half the menu, however plainly it names the goal's option."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=5.5, utterance_open=True, speaking=True)
    assert navigator.on_tick(view) == []  # "For mortgages, press 2." (from 5.0 s)
    view.audio_time, view.quiet_for, view.speaking = 7.5, 0.4, True  # its last word ended at 7.1 s
    assert navigator.on_tick(view) == []
    first = "For billing, press 1."
    view.audio_time, view.quiet_for, view.speaking = 7.6, 0.5, False
    navigator.on_words_ahead(view, first, Utterance(np.zeros(8000, np.int16), 3.0, 4.5))
    assert navigator.on_tick(view) == []  # settled since 4.5 s, but the line spoke after it
    whole = "For billing, press 1. For mortgages, press 2."
    navigator.on_words_ahead(view, whole, Utterance(np.zeros(8000, np.int16), 3.0, 7.1))
    view.audio_time, view.quiet_for = 7.1 + SETTLE + 0.05, SETTLE + 0.05
    assert navigator.on_tick(view) == [EndUtterance(), Decide(whole)]


def test_words_read_at_a_pause_are_decided_with_music_after_them() -> None:
    """Music keeps the utterance open but says nothing more: the words are whole."""
    navigator = Navigator(model_chain([]))
    view = View(audio_time=2.5, utterance_open=True)
    navigator.on_words_ahead(view, "Please hold.", Utterance(np.zeros(8000, np.int16), 1.0, 2.0))
    view.audio_time, view.quiet_for = 2.0 + SETTLE + 0.05, 0.0  # music, never "speaking"
    assert navigator.on_tick(view) == [EndUtterance(), Decide("Please hold.")]


def _recording(text: str, seed: int) -> npt.NDArray[np.int16]:
    """The company's recording of ``text`` (espeak-ng) as one call hears it down its line."""
    rng = np.random.default_rng(seed)
    channel = Channel(level_db=float(rng.uniform(-10, 6)), noise_db=-65.0, alaw=bool(seed % 2))
    heard = through_channel(espeak(text, "en-us"), channel, rng)
    return np.clip(np.round(heard * 32768), -32768, 32767).astype(np.int16)


ROUTE_MENU = "For billing, press 1. For technical support, press 2. For lost or stolen cards, press 3."


def _replaying(
    *, type_ahead: float = TYPE_AHEAD, line_takes_it: bool = True, answer: Action | None = None
) -> Navigator:
    """A navigator replaying a route whose first step is ``ROUTE_MENU``, its recording known
    (answered with ``answer``: by default the key 1)."""
    first_call = RouteStep(
        ROUTE_MENU,
        action_to_dict(answer or Press("1")),
        8.0,
        fingerprint=prompt_fingerprint(_recording(ROUTE_MENU, 1)),
    )
    route = RouteDecider(Route("+18005550100", "Acme", [first_call], type_ahead=line_takes_it))
    return Navigator(model_chain([], route=route), type_ahead=type_ahead)


def _line(*parts: npt.NDArray[np.int16] | float) -> npt.NDArray[np.int16]:
    """Audio laid end to end: recordings, and seconds of line noise."""
    rng = np.random.default_rng(7)
    pieces = [
        part
        if isinstance(part, np.ndarray)
        else np.round(rng.normal(0, 8, round(part * 8000))).astype(np.int16)
        for part in parts
    ]
    return np.concatenate(pieces)


def _ticks(navigator: Navigator, view: View, since: float = 0.0) -> list[tuple[float, bool, list[Command]]]:
    """The line's audio as the session hears it, 20 ms at a time, until a decision: (when its sound
    ended, whether the endpointer still held an utterance, the commands) of each tick with any
    (from ``since`` audio seconds on)."""
    endpointer = UtteranceDetector(end_silence=1.0)
    decided: list[tuple[float, bool, list[Command]]] = []
    for frame in range(len(view.audio) // 160):
        endpointer.push(view.audio[frame * 160 : (frame + 1) * 160])
        if frame % 5 == 4 and (frame + 1) / 50 > since:
            view.audio_time, view.quiet_for = (frame + 1) / 50, endpointer.quiet_seconds
            view.speaking = view.utterance_open = endpointer.active
            if commands := navigator.on_tick(view):
                decided.append((view.audio_time - view.quiet_for, endpointer.active, commands))
                if any(isinstance(command, Decide) for command in commands):
                    view.phase = Phase.DECIDING  # as the session would: no more looking
    return decided


def test_a_remembered_recording_is_answered_as_it_ends() -> None:
    """On a learned route the menu is known by its recording 0.3 s after it ends: decided then,
    not after the endpointer's second, the recogniser and the settle; its words, read later, are
    not a second prompt. (Here the call does not type ahead.)"""
    navigator = _replaying(type_ahead=0.0)
    view = View(audio=_line(1.0, _recording(ROUTE_MENU, 2), 3.0))
    decided = _ticks(navigator, view)
    spoken = np.flatnonzero(np.abs(view.audio.astype(np.int32)) > 300)
    [(at, open_utterance, commands)] = decided  # not in the pauses between its sentences
    assert commands == [EndUtterance(), Decide(ROUTE_MENU)]
    assert abs(at - spoken[-1] / 8000) < 0.1  # where the recording ends
    assert open_utterance  # before the endpointer has closed it
    late = Utterance(view.audio[8000 : round(at * 8000)], 1.0, at)
    assert navigator.on_words(view, "For billing press one, for tech support press two.", late) == []
    assert not navigator.words_pending
    # The line's next prompt, at once after our keys: its utterance begins (with the endpointer's
    # lead) before the moment we decided, after the recording.
    following = Utterance(np.zeros(8000, np.int16), at + 0.2, at + 3.0)
    navigator.on_words(view, "Please enter your account number, followed by the pound key.", following)
    assert navigator.words_pending


def _typed_ahead(navigator: Navigator, menu: npt.NDArray[np.int16]) -> float:
    """Play ``menu`` after a second of line noise; when the navigator answered it (it must, once)."""
    view = View(audio=_line(1.0, menu, 3.0))
    [(at, open_utterance, commands)] = _ticks(navigator, view)
    assert commands == [EndUtterance(), Decide(ROUTE_MENU)]
    assert open_utterance
    return at


def test_a_remembered_recording_is_answered_before_it_ends() -> None:
    """Typed ahead: once all but the last 1.5 s of the remembered recording has played (and is its
    start), the step is decided while the line still speaks; a menu that begins otherwise is not."""
    menu = _recording(ROUTE_MENU, 2)
    spoken = np.flatnonzero(np.abs(menu.astype(np.int32)) > 300)
    ends = 1.0 + spoken[-1] / 8000
    at = _typed_ahead(_replaying(), menu)
    assert ends - TYPE_AHEAD - 0.3 <= at <= ends - 0.5
    other = _recording("For sales, press 1. For billing, press 2. For our opening hours, press 3.", 4)
    view = View(audio=_line(1.0, other, 3.0))
    assert all(Decide(ROUTE_MENU) not in commands for _, _, commands in _ticks(_replaying(), view))


def test_a_line_that_dropped_what_was_typed_ahead_is_answered_after_its_prompts() -> None:
    """A route whose line dropped keys sent over its prompt: its prompts are answered as they end."""
    navigator = _replaying(line_takes_it=False)
    menu = _recording(ROUTE_MENU, 2)
    spoken = np.flatnonzero(np.abs(menu.astype(np.int32)) > 300)
    [(at, _, commands)] = _ticks(navigator, View(audio=_line(1.0, menu, 3.0)))
    assert commands == [EndUtterance(), Decide(ROUTE_MENU)]
    assert abs(at - (1.0 + spoken[-1] / 8000)) < 0.1


def test_the_rest_of_a_recording_typed_ahead_over_is_no_prompt() -> None:
    """A line that plays the prompt on over our answer: its tail is the prompt's, not a prompt of
    its own."""
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 2)
    at = _typed_ahead(navigator, menu)
    line = _line(1.0, menu, 3.0)
    tail = Utterance(
        line[round(at * 8000) : round((1.0 + len(menu) / 8000) * 8000)], at, 1.0 + len(menu) / 8000
    )
    view = View(audio=line, audio_time=tail.end + 1.0, quiet_for=1.0)
    assert navigator.knew_recording(tail)
    assert navigator.on_words(view, "lost or stolen cards, press 3.", tail) == []
    assert not navigator.words_pending


async def test_a_prompt_read_again_after_we_typed_ahead_gets_the_same_answer() -> None:
    """A line that dropped the keys we typed ahead reads the prompt again: known by its recording,
    it gets the same answer, unasked, once it ends; the call types ahead no more."""
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 2)
    at = _typed_ahead(navigator, menu)
    view = View(audio=_line(1.0, menu, 3.0), phase=Phase.DECIDING)
    _commands, context = navigator.prepare(view, ROUTE_MENU)
    assert context is not None
    typed = await navigator.decide(context)
    assert typed == Press("1", reason="step 1 of the route, seen 1x, same recording", source="learned route")
    navigator.on_decided(view, ROUTE_MENU, typed)
    view.audio_time = at + 0.1
    navigator.on_action_done(view, typed)
    # The line played the menu out, waited, then read it again (a new play down the line).
    again = _recording(ROUTE_MENU, 6)
    view = View(audio=_line(1.0, menu, 5.0, again, 1.0))
    view.audio_time = len(view.audio) / 8000 - 1.0 + RECOGNISED_QUIET + 0.1
    view.quiet_for = RECOGNISED_QUIET + 0.1
    assert navigator.on_tick(view) == [EndUtterance(), Decide(ROUTE_MENU)]
    assert not navigator.types_ahead
    view.phase = Phase.DECIDING
    _commands, context = navigator.prepare(view, ROUTE_MENU)
    assert context is not None
    assert await navigator.decide(context) == typed


async def _answered_ahead(navigator: Navigator, menu: npt.NDArray[np.int16]) -> tuple[float, Action]:
    """Type ahead over ``menu`` and answer it as the session would: when, and the answer."""
    at = _typed_ahead(navigator, menu)
    view = View(phase=Phase.DECIDING)
    _commands, context = navigator.prepare(view, ROUTE_MENU)
    assert context is not None
    typed = await navigator.decide(context)
    navigator.on_decided(view, ROUTE_MENU, typed)
    view.audio_time = at + 0.1
    navigator.on_action_done(view, typed)
    return at, typed


async def test_a_line_that_played_on_and_waits_is_answered_again_at_once() -> None:
    """A line that plays the menu we typed ahead over on to its end, then waits in silence, dropped
    our keys: they go again 1.5 s after its end, not after its timeout and a second reading."""
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 2)
    at, typed = await _answered_ahead(navigator, menu)
    spoken = np.flatnonzero(np.abs(menu.astype(np.int32)) > 300)
    waited = (spoken[-1] - len(menu)) / 8000 + RETYPE_QUIET  # seconds of line noise after the recording
    assert _ticks(navigator, View(audio=_line(1.0, menu, waited - 0.15)), since=at + 0.2) == []
    view = View(audio=_line(1.0, menu, waited + 0.15))
    [(ended, _, commands)] = _ticks(navigator, view, since=at + 0.2)
    assert commands == [EndUtterance(), Decide(ROUTE_MENU)]
    assert abs(ended - (1.0 + spoken[-1] / 8000)) < 0.1
    assert not navigator.types_ahead
    view.phase = Phase.DECIDING
    _commands, context = navigator.prepare(view, ROUTE_MENU)
    assert context is not None
    assert await navigator.decide(context) == typed


async def test_words_said_over_a_prompt_played_out_are_not_said_again() -> None:
    """A line hears words out and then recognises them: its quiet after the prompt is that."""
    navigator = _replaying(answer=Say("billing"))
    menu = _recording(ROUTE_MENU, 2)
    at, typed = await _answered_ahead(navigator, menu)
    assert isinstance(typed, Say)
    assert _ticks(navigator, View(audio=_line(1.0, menu, 4.0)), since=at + 0.2) == []


async def test_a_line_that_stopped_its_prompt_for_our_keys_is_not_answered_again() -> None:
    """Keys taken stop the prompt: the quiet after is the line at work, not waiting for us."""
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 2)
    at, _typed = await _answered_ahead(navigator, menu)
    view = View(audio=_line(1.0, menu[: round((at - 1.0 + 0.2) * 8000)], 6.0))
    assert _ticks(navigator, view, since=at + 0.2) == []
    assert navigator.types_ahead


def test_what_the_line_says_after_it_stopped_for_our_answer_is_read() -> None:
    """A line that stopped its prompt for our keys: its next prompt, however soon, is read."""
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 2)
    at = _typed_ahead(navigator, menu)
    ask = "Please enter your card number, followed by the pound key."
    following = _recording(ask, 5)
    next_prompt = Utterance(following, at + 0.4, at + 0.4 + len(following) / 8000)
    view = View(audio_time=next_prompt.end + 1.0, quiet_for=1.0)
    assert not navigator.knew_recording(next_prompt)
    assert navigator.on_words(view, ask, next_prompt) == []
    assert navigator.words_pending
    assert navigator.types_ahead


async def test_a_remembered_recording_is_decided_by_the_route() -> None:
    navigator = _replaying()
    menu = _recording(ROUTE_MENU, 3)
    view = View(audio=_line(0.5, menu, 1.0), audio_time=0.5 + len(menu) / 8000 + 0.4, quiet_for=0.4)
    [_, decide] = navigator.on_tick(view)
    assert isinstance(decide, Decide)
    view.phase = Phase.DECIDING
    _commands, context = navigator.prepare(view, decide.text)
    assert context is not None
    action = await navigator.decide(context)
    assert action == Press("1", reason="step 1 of the route, seen 1x, same recording", source="learned route")


@pytest.mark.parametrize(
    ("case", "heard"),
    [
        ("half the menu", "For billing, press 1. For technical support, press 2."),
        ("another menu", "For sales, press 1. For billing, press 2. For our opening hours, press 3."),
    ],
)
def test_only_the_whole_remembered_recording_is_answered_early(case: str, heard: str) -> None:
    """The start of a menu alike with its remembered whole, or another recording: the words decide."""
    navigator = _replaying()
    audio = _recording(heard, 4)
    view = View(audio=_line(1.0, audio, 2.0), quiet_for=RECOGNISED_QUIET + 0.5)
    view.audio_time = 1.0 + len(audio) / 8000 + RECOGNISED_QUIET + 0.5
    assert navigator.on_tick(view) == [], case


def test_a_remembered_recording_not_heard_says_why_in_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """So a route that was not followed can be told from the log: how much was heard, how alike."""
    navigator = _replaying()
    audio = _recording("For sales, press 1. For billing, press 2. For our opening hours, press 3.", 4)
    view = View(audio=_line(1.0, audio, 2.0), quiet_for=RECOGNISED_QUIET + 0.5)
    view.audio_time = 1.0 + len(audio) / 8000 + RECOGNISED_QUIET + 0.5
    with caplog.at_level(logging.DEBUG, logger="custom_components.hold_slayer.session.navigator"):
        assert navigator.on_tick(view) == []
    [message] = [record.getMessage() for record in caplog.records]
    assert re.fullmatch(
        r"The sound to [\d.]+ s is not the expected [\d.]+ s recording: [\d.]+ s heard, likeness 0\.\d\d",
        message,
    )


def test_without_a_route_nothing_is_answered_before_its_words() -> None:
    navigator = Navigator(model_chain([]))
    menu = _recording(ROUTE_MENU, 2)
    view = View(audio=_line(1.0, menu, 1.0), audio_time=1.0 + len(menu) / 8000 + 0.5, quiet_for=0.5)
    assert navigator.on_tick(view) == []


async def test_the_navigator_asks_its_chain_and_keeps_the_step() -> None:
    navigator = Navigator(model_chain([]))
    view = View(audio_time=6.0, phase=Phase.DECIDING)
    commands, context = navigator.prepare(view, MENU)
    assert commands == [
        Emit(
            EventType.MENU_HEARD,
            {
                "text": MENU,
                "kind": "menu",
                "options": [{"key": "0", "label": "anything else"}, {"key": "1", "label": "billing"}],
            },
        )
    ]
    assert context is not None
    assert (context.attempts, context.language) == (1, "en")
    action = await navigator.decide(context)
    assert isinstance(action, Press)
    assert (action.digits, action.source) == ("1", "rules")
    assert navigator.on_decided(view, MENU, action) == [Perform(action)]
    assert navigator.is_ours(action)
    assert [step.action["digits"] for step in navigator.route_steps] == ["1"]
    assert navigator.answered_current_prompt
    _commands, again = navigator.prepare(view, MENU)
    assert again is not None
    assert again.attempts == 2


def test_keys_the_line_did_not_take_go_again_slower_then_the_option_is_said() -> None:
    navigator = Navigator(model_chain([]))
    view = View(phase=Phase.DECIDING)
    press = Press("1", reason="goal matches billing", source="rules")
    performed = []
    for _ in range(3):
        navigator.prepare(view, MENU)
        performed += navigator.on_decided(view, MENU, press)
    said = Say("billing", reason="keys 1 not taken twice: saying the option", source="navigator")
    assert performed == [Perform(press), Perform(press, again=True), Perform(said)]
    last = performed[-1]
    assert isinstance(last, Perform)
    assert navigator.is_ours(last.action)
    assert [step.action for step in navigator.route_steps] == [
        {"kind": "press", "digits": "1", "secret": None}
    ] * 3
    # Another key starts afresh; without a voice the option is keyed again, as tones.
    other = Press("0", source="rules")
    navigator.prepare(view, MENU)
    assert navigator.on_decided(view, MENU, other) == [Perform(other)]
    mute = Navigator(model_chain([]))
    view.can_speak = False
    for again in (False, True, True):
        mute.prepare(view, MENU)
        assert mute.on_decided(view, MENU, press) == [Perform(press, again=again)]


def test_a_number_the_call_was_not_given_is_told_at_once() -> None:
    ask = "Please enter your member ID, followed by the pound key."
    view = View(request=CallRequest("+1", secrets={"account_number": "1234"}))
    navigator = Navigator(model_chain([]))
    commands, _context = navigator.prepare(view, ask)
    assert Emit(EventType.NUMBER_NEEDED, {"wanted": "member id"}) in commands
    commands, _context = navigator.prepare(view, "That ID was not recognised. " + ask)
    assert not any(
        isinstance(command, Emit) and command.type is EventType.NUMBER_NEEDED for command in commands
    )
    given = View(request=CallRequest("+1", secrets={"member_id": "1234"}))
    commands, _context = Navigator(model_chain([])).prepare(given, ask)
    assert not any(
        isinstance(command, Emit) and command.type is EventType.NUMBER_NEEDED for command in commands
    )


def test_a_phrase_holding_a_secret_is_never_kept_in_the_route() -> None:
    navigator = Navigator(model_chain([]))
    view = View(request=CallRequest("+1", secrets={"pin": "4321"}))
    navigator.on_decided(view, "Say your PIN.", Say("four three two one"))
    navigator.on_decided(view, "Say your PIN.", Wait())
    assert [step.action["kind"] for step in navigator.route_steps] == ["wait"]


def test_a_closed_line_that_does_not_hang_up_is_left_with_the_reason() -> None:
    navigator = Navigator(model_chain([]), closed_grace=5.0)
    view = View(request=CallRequest("+1", secrets={"pin": "4321"}))
    notice = "Our offices are closed today for the holiday. Goodbye."
    commands, context = navigator.prepare(view, notice)
    assert (commands, context) == ([SetTimer("closed", 5.0)], None)
    assert navigator.on_timer("remind") == []
    assert navigator.on_timer("closed") == [EndCall("closed", f"the line is closed: {notice}")]
    # A menu after the notice keeps the call.
    navigator.prepare(view, notice)
    commands, context = navigator.prepare(view, "To leave a message for the billing team, press 1.")
    assert CancelTimer("closed") in commands
    assert context is not None
    assert navigator.on_timer("closed") == []
    # On hold too: the hold ends at closing time.
    view.state = SessionState.ON_HOLD
    assert navigator.on_hold_words(view, parse_prompt("We are now closed. Please call back tomorrow.")) == [
        SetTimer("closed", 5.0)
    ]


def test_a_callback_offer_alone_does_not_wait_for_our_answer() -> None:
    """A silent hold whose announcement offers a callback: the quiet after it is the hold, not a
    menu waiting for us (the hold judge would hold the hold back for ever)."""
    navigator = Navigator(model_chain([]))
    view = View()
    navigator.on_words(view, "Please stay on the line, or press 9 to be called back.", _utterance())
    assert navigator.awaiting_us(view)  # words not yet decided on
    view.audio_time = 2.5
    [decide] = navigator.on_tick(view)
    assert isinstance(decide, Decide)
    commands, context = navigator.prepare(view, decide.text)
    assert context is None
    assert any(isinstance(command, Note) for command in commands)  # declined, once
    assert not navigator.awaiting_us(view)


def test_a_callback_offer_is_declined_or_taken_once() -> None:
    offer = parse_prompt("If you would like us to call you back, press 2.")
    declining = Navigator(model_chain([]))
    view = View(state=SessionState.ON_HOLD)
    first = declining.on_hold_words(view, offer)
    assert len(first) == 1
    assert isinstance(first[0], Note)
    assert declining.on_hold_words(view, offer) == []
    taking = Navigator(model_chain([]))
    view = View(state=SessionState.ON_HOLD, request=CallRequest("+1", accept_callback=True))
    commands = taking.on_hold_words(view, offer)
    assert commands[0] == EndCall("callback_accepted", "the company will call back", hang_up=False)
    assert isinstance(commands[1], Perform)
    assert commands[1].action == Press("2", reason="the call accepts callbacks", source="navigator")


# -- the hand-off -----------------------------------------------------------------------------------


def test_a_desk_takes_the_call_at_once() -> None:
    handoff = HandOff(Handoff(transfer_to="201"))
    assert handoff.on_person() == [StartTransfer("201")]
    assert handoff.on_confirmed(View()) == []


def test_the_agent_is_greeted_reminded_and_left_after_the_patience() -> None:
    handoff = HandOff(Handoff(repeat_every=20, patience=50))
    view = View(wall_time=100.0)
    assert handoff.on_person() == []
    [greet] = handoff.on_confirmed(view)
    assert isinstance(greet, Perform)
    assert isinstance(greet.action, Say)
    assert greet.action.text.startswith("Hello, thank you for taking the call.")
    view.wall_time = 104.0
    assert handoff.on_action_done(view, greet.action) == [SetTimer(REMIND, 20)]
    view.wall_time = 124.0
    [remind] = handoff.on_timer(view, REMIND)
    assert isinstance(remind, Perform)
    view.wall_time = 128.0
    assert handoff.on_action_done(view, remind.action) == [SetTimer(REMIND, 20)]
    view.wall_time = 148.0
    [remind] = handoff.on_timer(view, REMIND)
    assert isinstance(remind, Perform)
    view.wall_time = 149.0
    assert handoff.on_action_done(view, remind.action) == [SetTimer(REMIND, 1.0)]
    view.wall_time = 150.0
    [farewell] = handoff.on_timer(view, REMIND)
    assert isinstance(farewell, Perform)
    assert isinstance(farewell.action, Say)
    assert "can't come to the phone" in farewell.action.text
    assert handoff.on_action_done(view, farewell.action) == [EndCall("nobody_took_over", "nobody took over")]


def test_a_retracted_person_is_no_longer_talked_to() -> None:
    handoff = HandOff(Handoff())
    view = View()
    [greet] = handoff.on_confirmed(view)
    assert isinstance(greet, Perform)
    assert handoff.on_stop() == [CancelTimer(REMIND)]
    assert handoff.on_action_done(view, greet.action) == []
    assert handoff.on_timer(view, REMIND) == []


def test_without_a_voice_the_patience_still_runs() -> None:
    handoff = HandOff(Handoff(repeat_every=20, patience=30))
    view = View(can_speak=False)
    assert handoff.on_confirmed(view) == [SetTimer(REMIND, 20)]
    view.wall_time = 20.0
    assert handoff.on_timer(view, REMIND) == [SetTimer(REMIND, 10)]
    view.wall_time = 30.0
    assert handoff.on_timer(view, REMIND) == [EndCall("nobody_took_over", "nobody took over")]


def test_the_simulator_keeps_no_agent() -> None:
    handoff = HandOff(Handoff(), keep_agent=False)
    assert handoff.on_confirmed(View()) == []
