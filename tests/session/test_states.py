"""The transition table: every move a call can make, and none it cannot."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.session.events import SessionState
from custom_components.hold_slayer.session.states import TRANSITIONS, Phase, StateMachine, Trigger

S = SessionState


def _machine(*triggers: Trigger) -> StateMachine:
    machine = StateMachine()
    for trigger in triggers:
        assert machine.fire(trigger), trigger
    return machine


def test_a_call_through_menu_hold_and_person() -> None:
    machine = _machine(Trigger.RING, Trigger.ANSWER)
    assert (machine.state, machine.phase) == (S.IVR, Phase.LISTENING)
    path = [
        (Trigger.DECIDE, S.IVR, Phase.DECIDING),
        (Trigger.ACTED, S.IVR, Phase.LISTENING),
        (Trigger.HOLD, S.ON_HOLD, Phase.WAITING),
        (Trigger.CHECK_WORDS, S.ON_HOLD, Phase.CHECKING),
        (Trigger.NOT_A_PERSON, S.ON_HOLD, Phase.WAITING),
        (Trigger.PERSON, S.HUMAN, Phase.SUSPECTED),
        (Trigger.RETRACT, S.ON_HOLD, Phase.WAITING),
        (Trigger.PERSON, S.HUMAN, Phase.SUSPECTED),
        (Trigger.CONFIRM, S.HUMAN, Phase.CONFIRMED),
        (Trigger.TRANSFER, S.TRANSFERRING, Phase.HANDING_OVER),
        (Trigger.BRIDGED, S.CONNECTED, Phase.NONE),
        (Trigger.END, S.ENDED, Phase.NONE),
    ]
    for trigger, state, phase in path:
        assert machine.fire(trigger), trigger
        assert (machine.state, machine.phase) == (state, phase), trigger


@pytest.mark.parametrize(
    ("before", "trigger"),
    [
        ((), Trigger.HOLD),  # dialling: no hold before an answer
        ((Trigger.ANSWER,), Trigger.ACTED),  # nothing was being decided
        ((Trigger.ANSWER, Trigger.DECIDE), Trigger.DECIDE),  # one decision at a time
        ((Trigger.ANSWER, Trigger.HOLD), Trigger.HOLD),
        ((Trigger.ANSWER, Trigger.HOLD), Trigger.CONFIRM),  # only a suspected person is confirmed
        ((Trigger.ANSWER, Trigger.HOLD, Trigger.CHECK_WORDS), Trigger.CHECK_WORDS),
        ((Trigger.ANSWER, Trigger.HOLD, Trigger.PERSON, Trigger.TRANSFER), Trigger.TRANSFER),
        ((Trigger.ANSWER,), Trigger.FAIL),  # an answered call ends, it does not fail
        ((Trigger.ANSWER, Trigger.END), Trigger.ANSWER),  # nothing moves a call that is over
        ((Trigger.ANSWER, Trigger.END), Trigger.END),
    ],
)
def test_moves_the_table_does_not_allow_are_refused(before: tuple[Trigger, ...], trigger: Trigger) -> None:
    machine = _machine(*before)
    where = (machine.state, machine.phase)
    assert not machine.can(trigger)
    assert not machine.fire(trigger)
    assert (machine.state, machine.phase) == where


@pytest.mark.parametrize(
    ("before", "back_to"),
    [
        ((Trigger.ANSWER, Trigger.DECIDE), (S.IVR, Phase.DECIDING)),
        ((Trigger.ANSWER, Trigger.HOLD), (S.ON_HOLD, Phase.WAITING)),
        ((Trigger.ANSWER, Trigger.HOLD, Trigger.PERSON, Trigger.CONFIRM), (S.HUMAN, Phase.CONFIRMED)),
    ],
)
def test_a_failed_transfer_returns_to_where_the_call_was(
    before: tuple[Trigger, ...], back_to: tuple[SessionState, Phase]
) -> None:
    machine = _machine(*before, Trigger.TRANSFER)
    assert machine.state is S.TRANSFERRING
    assert machine.fire(Trigger.TRANSFER_FAILED)
    assert (machine.state, machine.phase) == back_to


def test_every_state_but_the_first_is_reachable_and_every_trigger_used() -> None:
    targets = {row.target[0] for row in TRANSITIONS if row.target is not None}
    assert targets == set(SessionState) - {S.DIALING}
    assert {row.trigger for row in TRANSITIONS} == set(Trigger)


def test_a_person_withdrawn_while_the_desk_rings_returns_to_the_hold_but_not_once_bridged() -> None:
    machine = _machine(Trigger.RING, Trigger.ANSWER, Trigger.HOLD, Trigger.PERSON, Trigger.TRANSFER)
    assert machine.fire(Trigger.RETRACT)
    assert (machine.state, machine.phase) == (S.ON_HOLD, Phase.WAITING)
    bridged = _machine(
        Trigger.RING, Trigger.ANSWER, Trigger.HOLD, Trigger.PERSON, Trigger.TRANSFER, Trigger.BRIDGED
    )
    assert not bridged.fire(Trigger.RETRACT)
    assert bridged.state is S.CONNECTED
