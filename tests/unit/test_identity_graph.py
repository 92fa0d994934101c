"""The contact identity graph: links only on verified evidence, merges recorded and undoable."""

from __future__ import annotations

from channels.contract import Sender
from dedupe.identity import canonical_contact, linked_to_ticket, resolve_contact, undo_merge
from router.store.transaction import Tx

PHONE = Sender("phone", "+79161234567", verified=True)
PORTAL = Sender("portal", "user-42", "Иван Петров", verified=True)


def test_same_address_is_the_same_contact(tx: Tx) -> None:
    """Two messages from one address resolve to one contact."""
    first = resolve_contact(tx, Sender("email", "a@example.ru"), [], "e/1")
    second = resolve_contact(tx, Sender("email", "a@example.ru"), [], "e/2")
    assert first == second


def test_unverified_sender_cannot_claim_another_identity(tx: Tx) -> None:
    """An unverified sender's links are ignored: it cannot take over someone's phone."""
    owner = resolve_contact(tx, PHONE, [], "sms/1")
    claimant = resolve_contact(tx, Sender("webchat", "s1"), [PHONE], "chat/1")
    assert claimant != owner
    assert canonical_contact(tx, claimant) != canonical_contact(tx, owner)
    assert tx.merges(owner) == []


def test_verified_link_merges_and_records_evidence(tx: Tx) -> None:
    """A portal login vouching for a phone merges the two contacts, with the evidence kept."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/portal/m1")
    assert by_portal != by_phone  # each identity keeps its own contact...
    assert canonical_contact(tx, by_portal) == canonical_contact(tx, by_phone)  # one person
    merges = tx.merges(by_portal)
    assert len(merges) == 1
    assert merges[0].evidence == "webchat/portal/m1"
    assert not merges[0].undone


def test_older_contact_survives_a_merge(tx: Tx) -> None:
    """The contact that existed first stays the canonical one."""
    older = resolve_contact(tx, PHONE, [], "sms/1")
    resolve_contact(tx, PORTAL, [], "webchat/1")
    merged = resolve_contact(tx, PORTAL, [PHONE], "webchat/2")
    assert canonical_contact(tx, merged) == older


def test_new_verified_link_becomes_an_identity_of_the_contact(tx: Tx) -> None:
    """A vouched-for address nobody had yet is attached to the sender's contact."""
    contact = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")
    assert tx.identity_contact(PHONE) == contact
    assert any(i.kind == "phone" and i.verified for i in tx.identities(contact))


def test_undo_merge_separates_the_contacts_again(tx: Tx) -> None:
    """Undoing a merge restores both contacts and cannot be done twice."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [], "webchat/1")
    resolve_contact(tx, PORTAL, [PHONE], "webchat/2")
    merge = tx.merges(by_phone)[0]
    assert undo_merge(tx, merge.id)
    assert canonical_contact(tx, by_phone) != canonical_contact(tx, by_portal)
    assert not undo_merge(tx, merge.id)
    assert not undo_merge(tx, 999)


def test_ticket_link_follows_merges(tx: Tx) -> None:
    """After a merge, a ticket linked to either former contact is linked to the merged one."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    tx.conn.execute(
        "INSERT INTO tickets VALUES ('2600000014', 't', 't', 'accepted', '01', 'n', 'standard',"
        " 't', 't', 'sms', 'a', '+79161234567', 'ru', 'c', ?, '[]', NULL, NULL, NULL)",
        (by_phone,),
    )
    tx.link_ticket_contact("2600000014", by_phone)
    by_portal = resolve_contact(tx, PORTAL, [], "webchat/1")
    assert not linked_to_ticket(tx, by_portal, "2600000014")
    resolve_contact(tx, PORTAL, [PHONE], "webchat/2")
    assert linked_to_ticket(tx, by_portal, "2600000014")


def _open_ticket(tx: Tx, number: str, contact: str) -> None:
    tx.conn.execute(
        "INSERT INTO tickets VALUES (?, 't', 't', 'accepted', '01', 'n', 'standard',"
        " 't', 't', 'sms', 'a', '+79161234567', 'ru', 'c', ?, '[]', NULL, NULL, NULL)",
        (number, contact),
    )
    tx.link_ticket_contact(number, contact)


def test_undo_returns_what_was_made_during_the_merge_to_its_holder(tx: Tx) -> None:
    """A ticket opened and an identity vouched for by one person while merged with another
    stay that person's after the undo: the other can no longer read the ticket."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")  # merged with the phone
    email = Sender("email", "ivan@example.ru", verified=True)
    assert resolve_contact(tx, PORTAL, [email], "webchat/2") == by_portal
    _open_ticket(tx, "2600000014", by_portal)
    assert linked_to_ticket(tx, by_phone, "2600000014")  # while merged, one person
    assert undo_merge(tx, tx.merges(by_phone)[0].id)
    assert linked_to_ticket(tx, by_portal, "2600000014")
    assert not linked_to_ticket(tx, by_phone, "2600000014")
    assert tx.identity_contact(email) == by_portal


def test_an_undone_merge_is_not_redone_by_the_same_evidence(tx: Tx) -> None:
    """After an operator separates two contacts, the portal vouching for the phone again does
    not merge them again."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")
    assert undo_merge(tx, tx.merges(by_phone)[0].id)
    resolve_contact(tx, PORTAL, [PHONE], "webchat/2")
    assert canonical_contact(tx, by_portal) != canonical_contact(tx, by_phone)
    assert [m.undone for m in tx.merges(by_phone)] == [True]


def test_merged_contacts_are_every_contact_of_the_person(tx: Tx) -> None:
    """The person's family: the survivor and every contact merged into it, chains included."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")
    by_email = resolve_contact(tx, Sender("email", "i@example.ru", verified=True), [], "e/1")
    resolve_contact(tx, Sender("email", "i@example.ru", verified=True), [PORTAL], "e/2")
    person = canonical_contact(tx, by_email)
    assert sorted(tx.merged_contacts(person)) == sorted({by_phone, by_portal, by_email})
    assert tx.latest_contact_ticket(tx.merged_contacts(person)) is None


def test_a_separated_pair_stays_apart_when_one_side_merges_elsewhere(tx: Tx) -> None:
    """After an undo, the portal's contact is merged into an older one by other evidence; the
    old evidence still does not bring the two back together."""
    older = resolve_contact(tx, Sender("email", "old@example.ru", verified=True), [], "e/0")
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")
    assert undo_merge(tx, tx.merges(by_phone)[0].id)
    resolve_contact(tx, PORTAL, [Sender("email", "old@example.ru", verified=True)], "webchat/2")
    assert canonical_contact(tx, by_portal) == older
    resolve_contact(tx, PORTAL, [PHONE], "webchat/3")
    assert canonical_contact(tx, by_phone) != canonical_contact(tx, by_portal)


def test_undo_takes_away_the_links_the_merge_made(tx: Tx) -> None:
    """While merged, the phone's holder joined the portal user's ticket; after the undo it is
    no longer linked to it."""
    by_phone = resolve_contact(tx, PHONE, [], "sms/1")
    by_portal = resolve_contact(tx, PORTAL, [PHONE], "webchat/1")
    _open_ticket(tx, "2600000014", by_portal)
    tx.link_ticket_contact("2600000014", by_phone)  # a reference while merged
    assert undo_merge(tx, tx.merges(by_phone)[0].id)
    assert tx.ticket_contacts("2600000014") == [by_portal]
    assert not linked_to_ticket(tx, by_phone, "2600000014")
