"""A reported person is a suspicion: confirmed after a quiet while, withdrawn when the hold returns."""

from __future__ import annotations

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.session.person_check import (
    CONFIRM_AFTER,
    RETRACT_WINDOW,
    PersonCheck,
    Verdict,
)

JESSICA = "Hi, this is Jessica from Acme, please stay on the line."


def _decisions(start: float, end: float, label: Label) -> list[tuple[float, Label]]:
    return [(round(start + i / 10, 1), label) for i in range(round((end - start) * 10))]


def test_confirmed_when_the_hold_stays_away() -> None:
    check = PersonCheck()
    check.suspect(10.0, "this is Sam")
    speech = _decisions(0, 20, Label.SPEECH)
    assert check.judge(10.0 + CONFIRM_AFTER - 0.1, speech) is None
    assert not check.confirmed
    assert check.judge(10.0 + CONFIRM_AFTER, speech) is Verdict.CONFIRMED
    assert check.confirmed
    assert check.judge(10.0 + CONFIRM_AFTER + 1, speech) is None  # said once


def test_withdrawn_when_the_music_comes_back_within_the_window() -> None:
    check = PersonCheck()
    check.suspect(10.0, JESSICA)
    heard = (
        _decisions(0, 10, Label.MUSIC) + _decisions(10, 14, Label.SPEECH) + _decisions(14, 17, Label.MUSIC)
    )
    assert check.judge(15.0, heard) is Verdict.CONFIRMED  # speech, then a second of music: not yet
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
    assert check.repeats("thanks for holding this is sam")
    assert not check.repeats(JESSICA)
