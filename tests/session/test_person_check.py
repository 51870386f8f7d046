"""A reported person is a suspicion: confirmed on a pause for our reply, withdrawn when the hold is back."""

from __future__ import annotations

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.ivr.menu import likeness
from custom_components.hold_slayer.session.person_check import (
    CONFIRM_AFTER,
    CONFIRM_ANYWAY,
    RETRACT_WINDOW,
    SAME_WORDS,
    TURN_PAUSE,
    PersonCheck,
    Verdict,
)

JESSICA = "Hi, this is Jessica from Acme, please stay on the line."


def _decisions(start: float, end: float, label: Label) -> list[tuple[float, Label]]:
    return [(round(start + i / 10, 1), label) for i in range(round((end - start) * 10))]


def test_confirmed_when_the_line_pauses_for_a_reply() -> None:
    """ "Thanks for holding, this is Sam. Who am I speaking with?", then quiet: a person."""
    check = PersonCheck()
    check.suspect(10.0, "this is Sam")
    heard = _decisions(0, 9, Label.MUSIC) + _decisions(9, 13, Label.SPEECH) + _decisions(13, 20, Label.NOISE)
    assert check.judge(12.5, heard) is None  # still talking
    assert check.judge(13.0 + TURN_PAUSE - 0.2, heard) is None  # a gap, not yet a pause
    assert not check.confirmed
    assert check.judge(13.0 + TURN_PAUSE, heard) is Verdict.CONFIRMED
    assert check.confirmed
    assert check.judge(13.0 + TURN_PAUSE + 1, heard) is None  # said once


def test_a_pause_before_confirm_after_waits_for_it() -> None:
    check = PersonCheck()
    check.suspect(10.0, "hello?")
    heard = _decisions(9, 10.5, Label.SPEECH) + _decisions(10.5, 20, Label.SILENCE)
    assert check.judge(10.0 + CONFIRM_AFTER - 0.1, heard) is None
    assert check.judge(10.0 + CONFIRM_AFTER, heard) is Verdict.CONFIRMED


def test_a_voice_that_talks_on_without_the_music_is_confirmed_in_the_end() -> None:
    check = PersonCheck()
    check.suspect(10.0, "this is Sam")
    speech = _decisions(0, 30, Label.SPEECH)
    assert check.judge(10.0 + CONFIRM_ANYWAY - 0.1, speech) is None
    assert check.judge(10.0 + CONFIRM_ANYWAY, speech) is Verdict.CONFIRMED


def test_withdrawn_when_the_music_comes_back_within_the_window() -> None:
    check = PersonCheck()
    check.suspect(10.0, JESSICA)
    heard = (
        _decisions(0, 10, Label.MUSIC) + _decisions(10, 14, Label.SPEECH) + _decisions(14, 17, Label.MUSIC)
    )
    assert check.judge(15.0, heard) is None  # speech, then a second of music: neither yet
    assert not check.confirmed  # a recording going back to its music never awaited a reply
    assert check.judge(16.5, heard) is Verdict.MUSIC_BACK
    check.withdraw()
    assert check.suspected is None
    assert not check.confirmed
    # Its words are the hold's now.
    assert check.heard_on_hold(JESSICA.replace("Hi,", "Hi"))


def test_music_long_after_the_report_is_no_withdrawal() -> None:
    """A person who puts us on hold again ("let me transfer you") stays a person."""
    check = PersonCheck()
    check.suspect(10.0, "this is Sam")
    later = 10.0 + RETRACT_WINDOW + 1
    assert check.judge(later, _decisions(later - 5, later, Label.MUSIC)) is None
    assert check.suspected is None


def test_words_the_hold_plays_twice_are_the_hold() -> None:
    check = PersonCheck()
    assert not check.heard_on_hold(JESSICA)
    assert not check.heard_on_hold("You are caller number 4.")
    assert check.heard_on_hold(JESSICA)
    check.suspect(50.0, "Thanks for holding, this is Sam.")
    assert check.repeats(55.0, "thanks for holding this is sam")
    assert not check.repeats(55.0, JESSICA)
    # The whole transcript of the utterance that raised the suspicion (begun before the report)
    # is the person's own words, not a repeat.
    assert not check.repeats(48.5, "Thanks for holding, this is Sam.")


def test_a_greeting_run_on_from_the_hold_s_words_is_new() -> None:
    """An agent who speaks on as the announcement ends is one utterance with it: the words are
    mostly the hold's, but the greeting is none of them. A friendly recording played again has
    no sentence the hold did not play."""
    announcement = (
        "Thank you for calling Acme Bank. All of our representatives are busy helping other "
        "customers. Your call is important to us, please stay on the line."
    )
    check = PersonCheck()
    assert not check.heard_on_hold(announcement)
    assert check.heard_on_hold(announcement)  # no person's sentence in it: played again
    merged = f"{announcement} Hi, this is Sam in billing, how can I help?"
    assert likeness(merged, announcement) >= SAME_WORDS  # most of its words played before …
    assert not check.heard_on_hold(merged)  # … but not the greeting
    assert check.heard_on_hold(merged)  # kept above: Sam's words are the hold's now
    assert not check.heard_on_hold(f"{announcement} Hi, this is Dana, how can I help?")
    assert not check.heard_on_hold(JESSICA)
    assert check.heard_on_hold(f"{announcement} {JESSICA}")  # a recording's greeting, again
