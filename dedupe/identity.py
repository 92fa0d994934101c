"""The contact identity graph: identities link across channels only on verified evidence."""

from __future__ import annotations

from channels.contract import Sender

from .ports import DedupeState


def canonical_contact(state: DedupeState, contact_id: str) -> str:
    """Follow merges to the contact that now stands for `contact_id`."""
    seen = {contact_id}
    while (target := state.merged_into(contact_id)) is not None:
        if target in seen:  # a cycle cannot be created by merge(); stop rather than spin
            break
        seen.add(target)
        contact_id = target
    return contact_id


def resolve_contact(
    state: DedupeState, sender: Sender, verified_links: list[Sender], evidence: str
) -> str:
    """Find or create the sender's contact, linking identities the channel vouches for."""
    contact = state.identity_contact(sender)
    if contact is None:
        contact = state.create_contact(sender)
    elif sender.verified:
        state.add_identity(contact, sender)
    contact = canonical_contact(state, contact)
    # Only a verified sender can vouch for other identities: an unverified one could claim
    # anybody's phone and so read their tickets.
    if not sender.verified:
        return contact
    for link in verified_links:
        other = state.identity_contact(link)
        if other is None:
            state.add_identity(contact, Sender(link.kind, link.address, link.display_name, True))
            continue
        other = canonical_contact(state, other)
        if other != contact:
            contact = merge_contacts(state, contact, other, evidence)
        state.add_identity(contact, Sender(link.kind, link.address, link.display_name, True))
    return contact


def merge_contacts(state: DedupeState, a: str, b: str, evidence: str) -> str:
    """Merge two contacts (the older id survives); return the survivor."""
    survivor, absorbed = sorted((canonical_contact(state, a), canonical_contact(state, b)))
    if survivor != absorbed:
        state.record_merge(survivor, absorbed, evidence)
    return survivor


def undo_merge(state: DedupeState, merge_id: int) -> bool:
    """Undo a recorded merge; False if there is no such merge or it was already undone."""
    merge = state.merge(merge_id)
    if merge is None or merge.undone:
        return False
    state.undo_merge(merge_id)
    return True


def linked_to_ticket(state: DedupeState, contact_id: str, number: str) -> bool:
    """True if the contact (after merges) is one of the ticket's contacts."""
    me = canonical_contact(state, contact_id)
    return any(canonical_contact(state, c) == me for c in state.ticket_contacts(number))
