"""The call session's states, their sub-states, and every move between them: one table, one guard.

A call is in one :class:`SessionState` (what entities show) and, while it is in the menu, on
hold, with a person or being handed over, in one :class:`Phase` of it. Nothing else in the
session writes the state: it fires a :class:`Trigger`, and :class:`StateMachine` moves only where
:data:`TRANSITIONS` says. A trigger the table does not allow is ignored (inputs race: a hold
reported in the same instant the person spoke), and says so in the return value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .events import FINAL_STATES, SessionState

S = SessionState


class Phase(StrEnum):
    """Where in its state a call is."""

    NONE = ""  # dialling, ringing, bridged and ended calls have no sub-state
    LISTENING = "listening"  # menu: reading the line's words
    DECIDING = "deciding"  # menu: a decider chooses, or our answer is being keyed or said
    WAITING = "waiting"  # hold: music, announcements, silence
    CHECKING = "checking_words"  # hold: a reported person's first words are being read
    SUSPECTED = "suspected"  # person: reported, may yet be the hold (no greeting yet)
    CONFIRMED = "confirmed"  # person: held up; the agent is greeted
    HANDING_OVER = "handing_over"  # transfer: ringing the desk, or asking the trunk to REFER


class Trigger(StrEnum):
    """What moves a call."""

    RING = "ring"
    ANSWER = "answer"
    DECIDE = "decide"
    ACTED = "acted"
    HOLD = "hold"
    CHECK_WORDS = "check_words"
    NOT_A_PERSON = "not_a_person"
    PERSON = "person"
    CONFIRM = "confirm"
    RETRACT = "retract"
    BACK_TO_MENU = "back_to_menu"  # the "hold" or "person" was the menu asking for more
    TRANSFER = "transfer"
    TRANSFER_FAILED = "transfer_failed"  # back to where the call was: the agent is still there
    BRIDGED = "bridged"
    END = "end"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Row:
    """From any of ``sources`` (state, or (state, phase)), ``trigger`` leads to ``target``."""

    sources: tuple[SessionState | tuple[SessionState, Phase], ...]
    trigger: Trigger
    target: tuple[SessionState, Phase] | None  # None: back to where the transfer started


_LIVE: Final = (S.IVR, S.ON_HOLD, S.HUMAN)

TRANSITIONS: Final = (
    Row((S.DIALING,), Trigger.RING, (S.RINGING, Phase.NONE)),
    Row((S.DIALING, S.RINGING), Trigger.ANSWER, (S.IVR, Phase.LISTENING)),
    Row(((S.IVR, Phase.LISTENING),), Trigger.DECIDE, (S.IVR, Phase.DECIDING)),
    Row(((S.IVR, Phase.DECIDING),), Trigger.ACTED, (S.IVR, Phase.LISTENING)),
    Row((S.IVR,), Trigger.HOLD, (S.ON_HOLD, Phase.WAITING)),
    Row(((S.ON_HOLD, Phase.WAITING),), Trigger.CHECK_WORDS, (S.ON_HOLD, Phase.CHECKING)),
    Row(((S.ON_HOLD, Phase.CHECKING),), Trigger.NOT_A_PERSON, (S.ON_HOLD, Phase.WAITING)),
    Row((S.IVR, S.ON_HOLD), Trigger.PERSON, (S.HUMAN, Phase.SUSPECTED)),
    Row(((S.HUMAN, Phase.SUSPECTED),), Trigger.CONFIRM, (S.HUMAN, Phase.CONFIRMED)),
    Row((S.HUMAN, (S.TRANSFERRING, Phase.HANDING_OVER)), Trigger.RETRACT, (S.ON_HOLD, Phase.WAITING)),
    Row((S.ON_HOLD, S.HUMAN), Trigger.BACK_TO_MENU, (S.IVR, Phase.LISTENING)),
    Row(_LIVE, Trigger.TRANSFER, (S.TRANSFERRING, Phase.HANDING_OVER)),
    Row((S.TRANSFERRING,), Trigger.TRANSFER_FAILED, None),
    Row((S.TRANSFERRING,), Trigger.BRIDGED, (S.CONNECTED, Phase.NONE)),
    Row((S.DIALING, S.RINGING, *_LIVE, S.TRANSFERRING, S.CONNECTED), Trigger.END, (S.ENDED, Phase.NONE)),
    Row((S.DIALING, S.RINGING), Trigger.FAIL, (S.FAILED, Phase.NONE)),
)


def _index() -> dict[tuple[SessionState, Phase | None, Trigger], Row]:
    rows: dict[tuple[SessionState, Phase | None, Trigger], Row] = {}
    for row in TRANSITIONS:
        for source in row.sources:
            state, phase = source if isinstance(source, tuple) else (source, None)
            rows[state, phase, row.trigger] = row
    return rows


_ROWS: Final = _index()


class StateMachine:
    """One call's state and phase, moved only through :data:`TRANSITIONS`."""

    def __init__(self) -> None:
        self.state = SessionState.DIALING
        self.phase = Phase.NONE
        self._before_transfer: tuple[SessionState, Phase] = (SessionState.IVR, Phase.LISTENING)

    def can(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` would move the call from where it is."""
        return self._row(trigger) is not None

    def fire(self, trigger: Trigger) -> bool:
        """Move by ``trigger`` if the table allows it; whether the call moved."""
        row = self._row(trigger)
        if row is None:
            return False
        if trigger is Trigger.TRANSFER:
            self._before_transfer = (self.state, self.phase)
        self.state, self.phase = row.target or self._before_transfer
        return True

    def _row(self, trigger: Trigger) -> Row | None:
        if self.state in FINAL_STATES:
            return None
        return _ROWS.get((self.state, self.phase, trigger)) or _ROWS.get((self.state, None, trigger))
