"""The notification state machine's table, without a database."""

from __future__ import annotations

import pytest

from router.delivery.states import (
    CLAIMABLE,
    TRANSITIONS,
    Event,
    State,
    TransitionRefused,
    next_state,
)


def test_an_attempt_ends_sent_delivered_queued_or_failed() -> None:
    assert next_state(State.QUEUED, Event.CLAIMED) is State.SENDING
    outcomes = {
        Event.ACCEPTED: State.SENT,
        Event.CONFIRMED: State.DELIVERED,
        Event.RETRY: State.QUEUED,
        Event.THROTTLED: State.QUEUED,
        Event.REFUSED: State.FAILED,
        Event.EXPIRED: State.DEAD,
        Event.INTERRUPTED: State.QUEUED,
    }
    for event, state in outcomes.items():
        assert next_state(State.SENDING, event) is state


def test_receipts_move_what_was_sent_and_may_overtake_the_submit_answer() -> None:
    assert next_state(State.SENT, Event.RECEIPT_DELIVERED) is State.DELIVERED
    assert next_state(State.SENT, Event.RECEIPT_FAILED) is State.FAILED
    assert next_state(State.SENDING, Event.RECEIPT_DELIVERED) is State.DELIVERED
    assert next_state(State.DELIVERED, Event.RECEIPT_FAILED) is State.FAILED


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (State.DELIVERED, Event.ACCEPTED),  # a late submit answer does not undo a receipt
        (State.SENT, Event.CLAIMED),  # what went out is not sent again
        (State.DEAD, Event.CLAIMED),  # a dead letter waits for an operator
        (State.DROPPED, Event.REPLAYED),
        (State.QUEUED, Event.RECEIPT_DELIVERED),  # a receipt for nothing sent
    ],
)
def test_moves_the_table_does_not_list_are_refused(state: State, event: Event) -> None:
    with pytest.raises(TransitionRefused):
        next_state(state, event)


def test_only_queued_is_claimable_and_every_state_is_reachable() -> None:
    assert {State.QUEUED} == CLAIMABLE
    reached = {State.QUEUED} | set(TRANSITIONS.values())
    assert reached == set(State)
