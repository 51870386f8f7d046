"""Reading the menu ahead: an open utterance's words, piece by piece, at its pauses.

The endpointer closes an utterance after a second of quiet, and reading a long prompt whole
takes the recogniser up to a second more: a menu would be answered two seconds after it ended,
where an informed caller takes one. In the menu, the session reads each stretch the line said
up to a pause as soon as the pause comes, while the utterance stays open: short pieces are read
fast, and what was read stays true when the line speaks on (the next piece extends it). The
navigator decides on the pieces once the prompt has settled.

The whole utterance is still read when it ends, for the transcript and the hold judge: a
person's greeting read in pieces loses the context the recogniser needs ("front desk" was read
as "front snack"). An utterance that is one piece is not read twice: the piece's words, read
or still being read, are the utterance's. The pieces of an utterance that ended are kept until
the next one begins: a piece still being read when the endpointer closed the utterance gives
the menu its words sooner than the whole reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from custom_components.hold_slayer.voice.endpoint import Utterance
from custom_components.hold_slayer.voice.pcm import CALL_RATE

MIN_PIECE: Final = 0.3  # seconds of new sound worth a reading of their own
SAME_CUT: Final = 0.03  # seconds two cuts of one utterance may differ by and be the same audio


@dataclass(slots=True)
class Piece:
    """A stretch of the open utterance handed to the recogniser."""

    utterance: Utterance
    text: str | None = None  # None while it is being read


class PieceReader:
    """The pieces of the open utterance read so far (one reading at a time)."""

    def __init__(self) -> None:
        self._pieces: list[Piece] = []

    def next_piece(self, open_utterance: Utterance | None) -> Utterance | None:
        """The stretch to read now: the open utterance's sound since the last piece.

        ``None`` when nothing new was said, or a piece is still being read.
        """
        if open_utterance is None:
            return None
        if self._pieces and self._pieces[0].utterance.start != open_utterance.start:
            self._pieces = []  # another utterance: the last one ended without us hearing of it
        if any(piece.text is None for piece in self._pieces):
            return None
        begin = self._pieces[-1].utterance.end if self._pieces else open_utterance.start
        if open_utterance.end - begin < MIN_PIECE:
            return None
        offset = round((begin - open_utterance.start) * CALL_RATE)
        piece = Utterance(open_utterance.audio[offset:], begin, open_utterance.end)
        self._pieces.append(Piece(piece))
        return piece

    def read(self, piece: Utterance, text: str) -> tuple[str, Utterance] | None:
        """Keep a piece's words; all the words so far and the stretch they cover, once all are read.

        ``None`` for a piece of an utterance another has followed, or while nothing was said.
        """
        found = next((kept for kept in self._pieces if kept.utterance is piece), None)
        if found is None:
            return None
        found.text = text
        if any(kept.text is None for kept in self._pieces):
            return None
        words = " ".join(kept.text for kept in self._pieces if kept.text)
        if not words:
            return None
        first, last = self._pieces[0].utterance, self._pieces[-1].utterance
        audio = np.concatenate([kept.utterance.audio for kept in self._pieces])
        return words, Utterance(audio, first.start, last.end)

    def whole(self, utterance: Utterance) -> Piece | None:
        """The piece that is all of ``utterance``, read or being read (else ``None``)."""
        if len(self._pieces) != 1:
            return None
        piece = self._pieces[0]
        start, end = piece.utterance.start, piece.utterance.end
        same = abs(start - utterance.start) < SAME_CUT and abs(end - utterance.end) < SAME_CUT
        return piece if same else None
