"""Reading the menu ahead: the open utterance in pieces, one reading at a time."""

from __future__ import annotations

import numpy as np

from custom_components.hold_slayer.session.read_ahead import PieceReader
from custom_components.hold_slayer.voice.endpoint import Utterance


def _open(start: float, end: float) -> Utterance:
    """The open utterance as the endpointer holds it: sample i is i (to tell pieces apart)."""
    return Utterance(np.arange(round((end - start) * 8000), dtype=np.int16), start, end)


def _words(words: tuple[str, Utterance] | None) -> tuple[str, float, float] | None:
    return None if words is None else (words[0], words[1].start, words[1].end)


def test_pieces_follow_each_other_and_join_once_all_are_read() -> None:
    reader = PieceReader()
    first = reader.next_piece(_open(1.0, 2.5))
    assert first is not None
    assert (first.start, first.end, len(first.audio)) == (1.0, 2.5, 12000)
    assert reader.next_piece(_open(1.0, 3.5)) is None  # one reading at a time
    assert _words(reader.read(first, "For billing, press 1.")) == ("For billing, press 1.", 1.0, 2.5)
    second = reader.next_piece(_open(1.0, 3.5))
    assert second is not None
    assert (second.start, second.end, int(second.audio[0])) == (2.5, 3.5, 12000)  # only what is new
    assert reader.next_piece(_open(1.0, 3.6)) is None  # in flight
    words = reader.read(second, "For anything else, press 0.")
    assert _words(words) == ("For billing, press 1. For anything else, press 0.", 1.0, 3.5)
    assert words is not None
    assert np.array_equal(words[1].audio, _open(1.0, 3.5).audio)
    assert reader.next_piece(_open(1.0, 3.7)) is None  # under MIN_PIECE of new sound


def test_a_piece_of_an_utterance_that_ended_is_forgotten() -> None:
    reader = PieceReader()
    piece = reader.next_piece(_open(1.0, 2.5))
    assert piece is not None
    reader.reset()  # the endpointer closed it: it is read whole
    assert reader.read(piece, "For billing, press 1.") is None
    assert reader.next_piece(None) is None
    following = reader.next_piece(_open(4.0, 5.0))
    assert following is not None
    assert following.start == 4.0


def test_a_piece_with_no_words_adds_none() -> None:
    reader = PieceReader()
    piece = reader.next_piece(_open(1.0, 2.0))
    assert piece is not None
    assert reader.read(piece, "") is None
    later = reader.next_piece(_open(1.0, 3.0))
    assert later is not None
    assert _words(reader.read(later, "Please hold.")) == ("Please hold.", 1.0, 3.0)
    assert reader.whole(_open(1.0, 3.0)) is None  # two pieces: the whole is read again


def test_an_utterance_read_whole_at_its_pause_is_not_read_again() -> None:
    reader = PieceReader()
    piece = reader.next_piece(_open(1.0, 2.5))
    assert piece is not None
    assert reader.whole(_open(1.0, 2.5)) is None  # still being read
    reader.read(piece, "Please hold.")
    assert reader.whole(_open(1.0, 2.5)) == "Please hold."
    assert reader.whole(_open(1.0, 2.9)) is None  # the line said more before it ended
