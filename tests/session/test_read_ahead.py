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


def test_a_piece_read_after_its_utterance_ended_counts_until_the_next_begins() -> None:
    reader = PieceReader()
    first = reader.next_piece(_open(1.0, 2.5))
    assert first is not None
    reader.read(first, "For billing, press 1.")
    second = reader.next_piece(_open(1.0, 3.5))
    assert second is not None
    assert reader.next_piece(None) is None  # the endpointer closed the utterance
    words = reader.read(second, "For anything else, press 0.")  # … while its last piece was read
    assert _words(words) == ("For billing, press 1. For anything else, press 0.", 1.0, 3.5)
    piece = reader.next_piece(_open(4.0, 5.0))
    assert piece is not None
    following = reader.next_piece(_open(6.0, 7.0))  # another utterance: the last one's piece is gone
    assert following is not None
    assert following.start == 6.0
    assert reader.read(piece, "Goodbye.") is None


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
    being_read = reader.whole(_open(1.0, 2.5))  # still being read: its words will be the utterance's
    assert being_read is not None
    assert being_read.utterance is piece
    assert being_read.text is None
    reader.read(piece, "Please hold.")
    read = reader.whole(_open(1.0, 2.5))
    assert read is not None
    assert read.text == "Please hold."
    assert reader.whole(_open(1.0, 2.9)) is None  # the line said more before it ended
