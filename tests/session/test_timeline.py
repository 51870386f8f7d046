"""The strip the card draws: merged runs, slivers folded in, marks kept in order."""

from __future__ import annotations

from collections.abc import Sequence

from custom_components.hold_slayer.audio.classifier import Label
from custom_components.hold_slayer.session.timeline import MAX_SPANS, MarkKind, Span, Timeline


def _feed(timeline: Timeline, runs: Sequence[tuple[Label, float]], start: float = 0.0) -> float:
    at = start
    for label, seconds in runs:
        for _ in range(round(seconds * 10)):
            timeline.heard(at, label)
            at = round(at + 0.1, 2)
    return at


def test_runs_of_one_kind_become_one_span_and_slivers_fold_into_the_span_before() -> None:
    timeline = Timeline()
    # A menu read out, a 0.3 s breath, more menu, then music with a 0.2 s dip to silence.
    _feed(
        timeline,
        [
            (Label.SPEECH, 3),
            (Label.SILENCE, 0.3),
            (Label.SPEECH, 2),
            (Label.MUSIC, 5),
            (Label.SILENCE, 0.2),
            (Label.MUSIC, 4),
        ],
    )
    assert timeline.spans() == (Span(0.0, 5.3, "speech"), Span(5.3, 14.4, "music"))


def test_kinds_the_card_draws() -> None:
    timeline = Timeline()
    _feed(timeline, [(Label.RINGBACK, 2), (Label.SPEECH_OVER_MUSIC, 2), (Label.NOISE, 1), (Label.BUSY, 1)])
    assert [span.kind for span in timeline.spans()] == ["tone", "announcement", "silence", "tone"]


def test_a_two_hour_strip_stays_bounded() -> None:
    timeline = Timeline()
    runs = [(Label.MUSIC, 20), (Label.SPEECH_OVER_MUSIC, 6)] * 280  # two hours of hold
    end = _feed(timeline, runs)
    spans = timeline.spans()
    assert len(spans) <= MAX_SPANS + 1
    assert spans[-1].end == round(end - 0.1, 2)


def test_marks_keep_order_and_text() -> None:
    timeline = Timeline()
    timeline.mark(3.456, MarkKind.CHOICE, "pressed 2", "rules")
    timeline.mark(9.0, MarkKind.HOLD)
    timeline.mark(60.0, MarkKind.PERSON, source="audio")
    assert [(mark.at, mark.kind, mark.text, mark.source) for mark in timeline.marks()] == [
        (3.46, MarkKind.CHOICE, "pressed 2", "rules"),
        (9.0, MarkKind.HOLD, "", ""),
        (60.0, MarkKind.PERSON, "", "audio"),
    ]
