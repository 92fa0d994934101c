"""The notification delivery state machine: one transition table, no I/O (in the style of h11).

States are CONTRACTS.md's: `queued` (waiting for an attempt, maybe after a temporary failure),
`sending` (an attempt in flight), `sent` (the peer took it), `delivered` (a receipt says the
citizen's device or mailbox has it), `failed` (a receipt, a bounce or a permanent error says it
never will; fallback applies), `dead` (given up: a dead letter), `dropped` (a dead letter an
operator set aside). Events are what happened; the table says where each leads from each state,
and anything it does not list is refused, logged and counted by the caller, never applied.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a notification is."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    DROPPED = "dropped"


class Event(StrEnum):
    """What happened to a notification."""

    CLAIMED = "claimed"  # the outbox took it for an attempt
    ACCEPTED = "accepted"  # the peer took it (SMTP 250, submit_sm_resp, a Bot API message id)
    CONFIRMED = "confirmed"  # the peer says at once that the citizen has it
    RETRY = "retry"  # the attempt failed for now: again after the backoff
    THROTTLED = "throttled"  # the peer asked us to wait (retry_after): not a failed attempt
    DEFERRED = "deferred"  # held back before any attempt (the per-contact limit)
    SUPPRESSED = "suppressed"  # its address is on the suppression list: no attempt is made
    PACED = "paced"  # held back until its account's or address's turn (the lane's pacing)
    REFUSED = "refused"  # the attempt failed for good (a permanent error)
    RECEIPT_DELIVERED = "receipt_delivered"  # a later receipt: the citizen has it
    RECEIPT_FAILED = "receipt_failed"  # a later receipt or bounce: the citizen never will
    EXPIRED = "expired"  # retried for longer than [notifier] max_age
    FELL_BACK = "fell_back"  # failed, and a copy went to the contact's next verified channel
    NO_FALLBACK = "no_fallback"  # failed, and no other verified channel is left
    INTERRUPTED = "interrupted"  # the daemon stopped mid-attempt: due again
    REPLAYED = "replayed"  # an operator put the dead letter back (omnirouter dlq replay)
    DROPPED = "dropped"  # an operator set the dead letter aside (omnirouter dlq drop)


S, E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (S.QUEUED, E.CLAIMED): S.SENDING,
    (S.QUEUED, E.DEFERRED): S.QUEUED,
    (S.QUEUED, E.PACED): S.QUEUED,
    (S.QUEUED, E.EXPIRED): S.DEAD,
    (S.QUEUED, E.SUPPRESSED): S.FAILED,
    (S.SENDING, E.ACCEPTED): S.SENT,
    (S.SENDING, E.CONFIRMED): S.DELIVERED,
    (S.SENDING, E.RETRY): S.QUEUED,
    (S.SENDING, E.THROTTLED): S.QUEUED,
    (S.SENDING, E.REFUSED): S.FAILED,
    (S.SENDING, E.EXPIRED): S.DEAD,
    (S.SENDING, E.INTERRUPTED): S.QUEUED,
    # A receipt may overtake the answer to the submit that it is about (SMPP deliver_sm
    # before submit_sm_resp): it applies to an attempt still in flight.
    (S.SENDING, E.RECEIPT_DELIVERED): S.DELIVERED,
    (S.SENDING, E.RECEIPT_FAILED): S.FAILED,
    (S.SENT, E.RECEIPT_DELIVERED): S.DELIVERED,
    (S.SENT, E.RECEIPT_FAILED): S.FAILED,
    # A mailbox that took a message can still bounce it later (RFC 3464 delayed DSN).
    (S.DELIVERED, E.RECEIPT_FAILED): S.FAILED,
    # Each part of a long SMS has its receipt: the later ones change nothing.
    (S.DELIVERED, E.RECEIPT_DELIVERED): S.DELIVERED,
    (S.FAILED, E.FELL_BACK): S.FAILED,
    (S.FAILED, E.NO_FALLBACK): S.DEAD,
    (S.DEAD, E.REPLAYED): S.QUEUED,
    (S.DEAD, E.DROPPED): S.DROPPED,
}

# Events whose reason is an error (the notification's last_error); the others' is a note.
FAILURES = frozenset(
    {E.RETRY, E.THROTTLED, E.DEFERRED, E.REFUSED, E.SUPPRESSED, E.EXPIRED, E.RECEIPT_FAILED}
)
# The states from which the outbox may claim an attempt.
CLAIMABLE = frozenset(state for (state, event) in TRANSITIONS if event is E.CLAIMED)


class TransitionRefused(Exception):
    """The table has no transition for this event in this state."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event} is not a transition from {state}")
        self.state, self.event = state, event


def next_state(state: State, event: Event) -> State:
    """Where `event` leads from `state`; TransitionRefused if the table does not allow it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise TransitionRefused(state, event) from None
