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
    """Find or create the contact that holds the sender's identity, linking the identities the
    channel vouches for; canonical_contact() of it is the person across channels.

    What is created for the sender (a ticket link, a vouched identity) belongs to this contact,
    not to the person it is merged into: undoing the merge then takes it back with its holder.
    """
    own = state.identity_contact(sender)
    if own is None:
        own = state.create_contact(sender)
    elif sender.verified:
        state.add_identity(own, sender)
    # Only a verified sender can vouch for other identities: an unverified one could claim
    # anybody's phone and so read their tickets.
    if not sender.verified:
        return own
    for link in verified_links:
        vouched = Sender(link.kind, link.address, link.display_name, True)
        holder = state.identity_contact(link)
        if holder is None:
            state.add_identity(own, vouched)
            continue
        person, other = canonical_contact(state, own), canonical_contact(state, holder)
        if person != other:
            if state.merge_undone(person, other):
                # An operator separated these two: the same evidence must not join them again.
                continue
            merge_contacts(state, person, other, evidence)
        state.add_identity(holder, vouched)  # marks it verified where it already is
    return own


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
