"""The addresses a citizen declares for a conversation (the chat's contact frame): a ticket's
status notices and replies go there too, rendered for that channel; nothing else does, and the
address becomes nobody's identity."""

from __future__ import annotations

from channels.contract import Sender
from router.store.transaction import Tx

from .test_filing import NOW, Citizen, filer

PHONE, EMAIL = "+79161234567", "citizen@example.ru"


def queued(tx: Tx, ticket: str) -> list[tuple[str, str, str, str]]:
    """(kind, channel, address, text) of the ticket's notifications, oldest first."""
    rows = tx.conn.execute(
        "SELECT kind, channel, address, text FROM notifications WHERE ticket_number = ? "
        "ORDER BY rowid",
        (ticket,),
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def change_status(tx: Tx, number: str, status: str, event: int) -> None:
    """Queue the ticket's status notice as the backend's update does (its own route)."""
    rules = filer()
    tx.set_ticket_status(number, status, "2026-11-23T09:30:00.000Z")
    ticket = tx.ticket_record(number)
    assert ticket is not None
    rules.notifier.queue(
        tx,
        f"status.{status}",
        ticket,
        source_key=f"event:{event}",
        kind="status",
        now=NOW,
        automatic=False,
        fields=rules.notifier.status_fields(ticket, ticket.language),
    )


def test_a_status_notice_goes_to_the_chat_and_to_each_declared_address(tx: Tx) -> None:
    citizen = Citizen(tx, "s1")
    number = citizen.write("Не открывается страница оплаты").acceptance.ticket_number
    assert number is not None
    tx.declare_recipient("chat:s1", "sms", PHONE, "2026-11-23T09:05:00.000Z")
    tx.declare_recipient("chat:s1", "email", EMAIL, "2026-11-23T09:06:00.000Z")
    tx.declare_recipient("chat:s1", "sms", PHONE, "2026-11-23T09:07:00.000Z")  # again: once
    change_status(tx, number, "in_progress", 1)
    change_status(tx, number, "in_progress", 1)  # the same event: queued once everywhere
    notices = queued(tx, number)
    assert [(kind, channel, address) for kind, channel, address, _ in notices] == [
        ("confirmation", "webchat", "s1"),  # before the contact: to the chat only
        ("status", "webchat", "s1"),
        ("status", "sms", PHONE),
        ("status", "email", EMAIL),
    ]
    assert all(number in text for *_, text in notices)


def test_a_new_address_replaces_the_one_declared_before_on_its_channel(tx: Tx) -> None:
    """One phone and one email at most: a chat cannot have notices sent to a list of people."""
    number = Citizen(tx, "s4").write("Вопрос о пособии").acceptance.ticket_number
    assert number is not None
    for n in range(5):
        tx.declare_recipient("chat:s4", "sms", f"+7916000000{n}", f"2026-11-23T09:1{n}:00.000Z")
    change_status(tx, number, "in_progress", 1)
    assert [(channel, address) for _, channel, address, _ in queued(tx, number)[1:]] == [
        ("webchat", "s4"),
        ("sms", "+79160000004"),
    ]


def test_a_conversation_that_joined_the_ticket_brings_its_recipients(tx: Tx) -> None:
    """The contact left in a conversation that continues another's ticket gets its notices."""
    citizen = Citizen(tx, "s2")
    number = citizen.write("Справка о доходах").acceptance.ticket_number
    assert number is not None
    tx.file_conversation("chat:s3", number, "2026-11-23T09:20:00.000Z")
    tx.declare_recipient("chat:s3", "sms", PHONE, "2026-11-23T09:21:00.000Z")
    tx.declare_recipient("chat:elsewhere", "email", EMAIL, "2026-11-23T09:21:00.000Z")
    change_status(tx, number, "resolved", 2)
    assert [(channel, address) for _, channel, address, _ in queued(tx, number)[1:]] == [
        ("webchat", "s2"),
        ("sms", PHONE),
    ]


def test_a_declared_address_is_nobodys_identity(tx: Tx) -> None:
    Citizen(tx, "s4").write("Вопрос о пособии")
    tx.declare_recipient("chat:s4", "sms", PHONE, "2026-11-23T09:05:00.000Z")
    assert tx.identity_contact(Sender("phone", PHONE)) is None


def test_an_answer_from_the_declared_address_joins_the_ticket_and_no_one_else_does(
    tx: Tx,
) -> None:
    """The citizen left an email in the chat and answers our notice there: the answer joins
    the ticket. A forged sender, or another address quoting the notice, opens its own."""
    number = Citizen(tx, "s5").write("Не пришла справка").acceptance.ticket_number
    assert number is not None
    tx.declare_recipient("chat:s5", "email", EMAIL, "2026-11-23T09:05:00.000Z")
    change_status(tx, number, "in_progress", 1)
    [(notice,)] = tx.conn.execute(
        "SELECT id FROM notifications WHERE channel = 'email' AND ticket_number = ?", (number,)
    ).fetchall()
    tx.add_references(notice, "email", ["<n1.notice@gov.example>"], held_since="")

    def answer(sender: str, *, verified: bool) -> dict[str, object]:
        writer = Citizen(tx, sender, kind="email", verified=verified)
        filed = writer.write(
            "Спасибо, прилагаю документы", channel="email", conversation=f"email:{sender}",
            replying_to="<n1.notice@gov.example>",
        )  # fmt: skip
        ticket = writer.envelope(filed)["ticket"]
        assert isinstance(ticket, dict)
        return ticket

    assert answer(EMAIL, verified=True)["number"] == number
    assert answer(EMAIL, verified=False)["number"] != number
    assert answer("someone@example.ru", verified=True)["number"] != number
