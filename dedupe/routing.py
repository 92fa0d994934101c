"""Deciding which ticket an inbound message belongs to: conversation, reference, repeat, or new."""

from __future__ import annotations

from typing import Literal

import msgspec

from .identity import linked_to_ticket
from .ports import DedupeState, TicketState
from .similarity import near_identical

Reason = Literal["new", "revision", "reply", "conversation", "reference", "repeat"]


class Policy(msgspec.Struct, frozen=True):
    """The configurable parts of the routing rules."""

    similarity: float = 0.9
    reopen_after_resolved: bool = False
    closed_statuses: frozenset[str] = frozenset({"resolved", "rejected"})


class Destination(msgspec.Struct, frozen=True):
    """Where a message goes: `ticket` None means open a new ticket."""

    reason: Reason
    ticket: str | None = None
    reopen: bool = False
    duplicate_of: str | None = None
    related: tuple[str, ...] = ()


def route(
    state: DedupeState,
    policy: Policy,
    *,
    contact_id: str,
    conversation_id: str,
    fingerprint: str,
    ticket_refs: list[str],
    repeat_since: str,
    trusted: bool,
    revises: str | None = None,
    new_request: bool = False,
    replied: str | None = None,
) -> Destination:
    """Pick the ticket for a message; follow-ups join, near-identical repeats are marked.

    An untrusted sender (an address typed into a form, which anyone can type) never joins an
    existing ticket by reference or by repeating its text: it could be anybody's address.
    """
    if revises is not None and state.ticket(revises) is not None:
        # An edit (`revises`: the ticket of the message it edits) is that message still: it
        # stays in its ticket, open or closed, never reopens it, and opens nothing new.
        return Destination("revision", revises)
    if new_request:
        # The citizen said this is a new question (picked a topic): a ticket of its own, with
        # the tickets it names linked as related, not the conversation's nor a repeat's.
        named = (ref for ref in dict.fromkeys(ticket_refs) if state.ticket(ref) is not None)
        return Destination("new", related=tuple(named))
    related: list[str] = []
    duplicate = (
        _near_identical(state, policy, contact_id, fingerprint, repeat_since) if trusted else None
    )

    def join(ticket: TicketState, reason: Reason) -> Destination | None:
        closed = ticket.status in policy.closed_statuses
        # Only a resolved ticket may be reopened: a rejection is a decision, and what is written
        # after it is a new request (linked as related).
        if closed and not (policy.reopen_after_resolved and ticket.status == "resolved"):
            related.append(ticket.number)
            return None
        dup = duplicate[0] if duplicate and duplicate[1] == ticket.number else None
        return Destination(reason, ticket.number, reopen=closed, duplicate_of=dup)

    for ref in ticket_refs:
        ticket = state.ticket(ref)
        if ticket is None:
            continue
        # CONTRACTS.md: a reference is honoured only from a contact linked to that ticket;
        # from anyone else it opens a new ticket linked as related.
        if not trusted or not linked_to_ticket(state, contact_id, ref):
            related.append(ref)
            continue
        if (filing := join(ticket, "reference")) is not None:
            return filing
    # A reply joins the ticket of the message it answers (`replied`) while that is open: a
    # conversation may span several tickets (a chat's, one per chat), and the one it is on now
    # may be another. A closed one is no destination of its own: the conversation decides, as
    # for any message (email's In-Reply-To to a closed ticket's thread: a new related ticket).
    answered = None if replied is None else state.ticket(replied)
    if (
        answered is not None
        and answered.status not in policy.closed_statuses
        and linked_to_ticket(state, contact_id, answered.number)
        and (filing := join(answered, "reply")) is not None
    ):
        return filing
    conversation = state.conversation_ticket(conversation_id)
    # The conversation's ticket, while the sender is still linked to it (an undone merge
    # takes away the links the merge made).
    if (
        conversation is not None
        and linked_to_ticket(state, contact_id, conversation.number)
        and (filing := join(conversation, "conversation")) is not None
    ):
        return filing
    if duplicate is not None and duplicate[1] is not None:
        ticket = state.ticket(duplicate[1])
        if ticket is not None and (filing := join(ticket, "repeat")) is not None:
            return filing
    return Destination("new", related=tuple(dict.fromkeys(related)))


def _near_identical(
    state: DedupeState, policy: Policy, contact_id: str, fingerprint: str, since: str
) -> tuple[str, str | None] | None:
    """The newest earlier envelope of this contact whose text is near-identical, if any."""
    if not fingerprint:
        return None
    for earlier in state.recent_envelopes(state.merged_contacts(contact_id), since):
        if near_identical(fingerprint, earlier.fingerprint, policy.similarity):
            return earlier.id, earlier.ticket_number
    return None
