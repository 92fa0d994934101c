"""Filing rules: new tickets, follow-ups, repeats, references, closed tickets, status queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import msgspec
import pytest

from channels.contract import CommandName, RawInbound, Sender
from dedupe.identity import resolve_contact
from dedupe.routing import Policy
from normaliser.damm import is_valid
from normaliser.envelope import envelope_decoder
from normaliser.normalise import normalise
from router.delivery.notifier import Notifier
from router.delivery.outbox import RateLimit
from router.delivery.templates import Templates
from router.intake.filing import COMMAND_HANDLERS, Filed, FilingRules, Origin, file_inbound
from router.store.transaction import JournalEntry, Tx
from router.ticketing.catalogue import CLOSED_STATUSES, Catalogue, TicketNumbering, load_catalogue

from .conftest import CONFIG

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# [notifier] auto_limit: automatic messages to one contact per hour.
AUTO_LIMIT = 10


def filer(*, reopen: bool = False) -> FilingRules:
    """Filing rules from the shipped catalogue and templates."""
    catalogue: Catalogue = load_catalogue(CONFIG / "categories.toml")
    return FilingRules(
        catalogue=catalogue,
        numbering=TicketNumbering(reopen_after_resolved=reopen),
        notifier=Notifier(Templates.load(CONFIG / "templates"), catalogue, MOSCOW),
        policy=Policy(0.9, reopen, CLOSED_STATUSES),
        repeat_window=timedelta(hours=24),
        tz=MOSCOW,
        webhook=False,
        answers=RateLimit(AUTO_LIMIT, 3600.0),
    )


class Citizen:
    """Sends messages through the filing stage as one web chat session would."""

    def __init__(
        self,
        tx: Tx,
        session: str,
        rules: FilingRules | None = None,
        *,
        verified: bool = True,
        kind: str = "webchat",
        links: tuple[Sender, ...] = (),
    ) -> None:
        self.tx, self.session, self.rules = tx, session, rules or filer()
        self.verified, self.kind, self.links = verified, kind, links
        self.sent = 0

    def write(
        self,
        text: str,
        *,
        topic: str | None = None,
        new_request: bool = False,
        channel: str = "webchat",
        conversation: str | None = None,
        replying_to: str | None = None,
        subject: str | None = None,
    ) -> Filed:
        self.sent += 1
        raw = RawInbound(
            channel=channel,  # type: ignore[arg-type]
            account="portal",
            idempotency_key=f"{self.session}:{self.verified}:{self.sent}",
            # As an email's Message-ID: what a reply names.
            channel_message_id=f"<{self.sent}.{self.verified}.{self.session}>",
            in_reply_to=replying_to,
            referable=True,
            sender=Sender(self.kind, self.session, verified=self.verified),
            verified_links=list(self.links),
            text=text,
            subject=subject,
            received_at=(NOW + timedelta(minutes=self.sent)).isoformat().replace("+00:00", "Z"),
            topic=topic,
            new_request=new_request,
            # An unverified writer stands for the feedback form: a conversation per submission.
            conversation_hint=conversation
            or (f"chat:{self.session}" if self.verified else f"form:{self.sent}"),
        )
        row = self.tx.journal_append(
            JournalEntry(
                raw.channel,
                raw.account,
                raw.idempotency_key,
                raw.received_at,
                b"raw",
                None,
                "inbound",
                None,
            )
        )
        return file_inbound(self.tx, self.rules, Origin(row.id), raw, normalise(raw.text), NOW)

    def envelope(self, filed: Filed) -> dict[str, object]:
        body = self.tx.envelope_body(filed.acceptance.envelope_id or "")
        assert body is not None
        return msgspec.to_builtins(envelope_decoder.decode(body))  # type: ignore[no-any-return]


def notices(tx: Tx, ticket: str) -> list[str]:
    """Kinds of the notifications queued for a ticket, oldest first."""
    rows = tx.conn.execute(
        "SELECT kind FROM notifications WHERE ticket_number = ? ORDER BY rowid", (ticket,)
    )
    return [r[0] for r in rows]


def test_first_message_opens_a_ticket_with_a_valid_number_and_confirmation(tx: Tx) -> None:
    """A first message gets a new Damm-valid number, its category and one confirmation."""
    filed = Citizen(tx, "s1").write("Код 01 Нужна справка о доходах")
    number = filed.acceptance.ticket_number
    assert number is not None and len(number) == 10 and is_valid(number)
    assert number.startswith("26")
    assert filed.acceptance.ticket_is_new
    assert filed.acceptance.category_code == "01"
    assert notices(tx, number) == ["confirmation"]


def test_ticket_numbers_are_never_reused(tx: Tx) -> None:
    """Every new ticket takes the next counter value."""
    numbers = [
        Citizen(tx, f"s{i}").write(f"Вопрос номер {i}").acceptance.ticket_number for i in range(5)
    ]
    assert len(set(numbers)) == 5
    assert [int(n[2:9]) for n in numbers if n] == [1, 2, 3, 4, 5]


def test_follow_up_in_the_conversation_joins_the_ticket_silently(tx: Tx) -> None:
    """In the web chat a follow-up joins the ticket; the accepted frame is its acknowledgement."""
    citizen = Citizen(tx, "s1")
    first = citizen.write("Не могу подать заявление на пособие")
    second = citizen.write("Ошибка появляется на последнем шаге")
    assert second.acceptance.ticket_number == first.acceptance.ticket_number
    assert not second.acceptance.ticket_is_new
    assert notices(tx, first.acceptance.ticket_number or "") == ["confirmation"]


def test_near_identical_repeat_is_marked_and_told_added(tx: Tx) -> None:
    """The same text again joins the ticket with duplicate_of and an 'added' notice."""
    citizen = Citizen(tx, "s1")
    first = citizen.write("Не приходит код подтверждения при входе в личный кабинет! Помогите.")
    again = citizen.write(
        "не приходит код подтверждения при входе в личный кабинет, помогите пожалуйста"
    )
    envelope = citizen.envelope(again)
    assert envelope["duplicate_of"] == first.acceptance.envelope_id
    assert "duplicate" in envelope["flags"]  # type: ignore[operator]
    assert again.repeat
    assert notices(tx, first.acceptance.ticket_number or "") == ["confirmation", "system"]


def test_different_text_is_not_a_repeat(tx: Tx) -> None:
    """A follow-up with new content is not marked as a duplicate."""
    citizen = Citizen(tx, "s1")
    citizen.write("Не приходит код подтверждения при входе в личный кабинет! Помогите.")
    later = citizen.write("Не могу подать заявление на пособие, ошибка на последнем шаге")
    assert citizen.envelope(later)["duplicate_of"] is None
    assert not later.repeat


def test_unknown_code_is_flagged_and_unclassified(tx: Tx) -> None:
    """A subject code that is not in the catalogue is flagged unknown_code."""
    citizen = Citizen(tx, "s1")
    filed = citizen.write("Код 99 что-то непонятное")
    assert "unknown_code" in citizen.envelope(filed)["flags"]  # type: ignore[operator]


def test_a_subject_code_is_read_after_a_replys_prefixes_and_our_tag(tx: Tx) -> None:
    """«Re: [№N] [10] ...» is a citizen's code 10 under the tag our notice put there."""
    citizen = Citizen(tx, "s1")
    filed = citizen.write("Не могу войти", subject="Re: [№2600000014] [10] Учётная запись")
    ticket = citizen.envelope(filed)["ticket"]
    assert isinstance(ticket, dict)
    assert ticket["category"]["code"] == "10" and ticket["priority"] == "urgent"


def test_topic_sets_category_and_sla(tx: Tx) -> None:
    """The chat topic 10 files an urgent ticket: first response due in 30 minutes."""
    citizen = Citizen(tx, "s1")
    filed = citizen.write("Заблокировали учётную запись", topic="10")
    ticket = citizen.envelope(filed)["ticket"]
    assert isinstance(ticket, dict)
    assert ticket["priority"] == "urgent"
    received = NOW + timedelta(minutes=1)
    due = datetime.fromisoformat(ticket["first_response_due"].replace("Z", "+00:00"))
    assert due - received == timedelta(minutes=30)


def test_a_new_request_opens_a_ticket_of_its_topic_beside_the_open_one(tx: Tx) -> None:
    """A topic picked after /start is a new question: its own ticket of that category and SLA,
    the open one untouched; the conversation goes on in the new one."""
    citizen = Citizen(tx, "s1")
    passport = citizen.write("Код 03 Загранпаспорт: сроки").acceptance.ticket_number or ""
    fraud = citizen.write("Мне звонили мошенники", topic="12", new_request=True)
    number = fraud.acceptance.ticket_number or ""
    assert fraud.acceptance.ticket_is_new and number != passport
    assert fraud.acceptance.category_code == "12"
    ticket = tx.ticket_record(number) or pytest.fail()
    assert ticket.priority == "urgent" and ticket.related == []
    assert citizen.write("Они назвали мой СНИЛС").acceptance.ticket_number == number
    assert (tx.ticket(passport) or pytest.fail()).status == "accepted"
    assert notices(tx, passport) == ["confirmation"]
    assert len(tx.ticket_envelopes(passport)) == 1


def test_reference_from_a_linked_contact_joins_that_ticket(tx: Tx) -> None:
    """A citizen quoting their own ticket number in a new conversation continues it."""
    owner = Citizen(tx, "s1")
    number = owner.write("Где мой паспорт?").acceptance.ticket_number
    tx.conn.execute("UPDATE tickets SET conversation_id = 'elsewhere'")
    filed = owner.write(f"По обращению {number}: есть новости?")
    assert filed.acceptance.ticket_number == number


def test_reference_from_a_stranger_opens_a_related_ticket(tx: Tx) -> None:
    """Someone quoting another citizen's number gets a new ticket linked as related."""
    number = Citizen(tx, "s1").write("Где мой паспорт?").acceptance.ticket_number
    stranger = Citizen(tx, "s2")
    filed = stranger.write(f"Хочу узнать про обращение {number}")
    assert filed.acceptance.ticket_number != number
    assert filed.acceptance.ticket_is_new
    ticket = stranger.envelope(filed)["ticket"]
    assert isinstance(ticket, dict) and ticket["related"] == [number]


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_message_after_closing_opens_a_new_related_ticket(tx: Tx, status: str) -> None:
    """After resolved or rejected, the conversation's next message opens a new ticket."""
    citizen = Citizen(tx, "s1")
    first = citizen.write("Вопрос про льготы").acceptance.ticket_number or ""
    tx.set_ticket_status(first, status, "2026-11-23T10:00:00Z", reason="x")
    filed = citizen.write("И ещё вопрос про субсидии")
    assert filed.acceptance.ticket_number != first
    ticket = citizen.envelope(filed)["ticket"]
    assert isinstance(ticket, dict) and ticket["related"] == [first]


def test_reopen_after_resolved_when_configured(tx: Tx) -> None:
    """With reopen_after_resolved, the same ticket is reopened as accepted: the envelope says
    so, the citizen is told, and the SLA runs again from the new message."""
    citizen = Citizen(tx, "s1", filer(reopen=True))
    first = citizen.write("Вопрос про льготы").acceptance.ticket_number or ""
    before = tx.ticket_record(first) or pytest.fail()
    tx.set_ticket_status(first, "resolved", "2026-11-23T10:00:00Z")
    filed = citizen.write("Ответ не помог")
    after = tx.ticket_record(first) or pytest.fail()
    assert filed.acceptance.ticket_number == first
    assert after.status == "accepted"
    assert "reopened" in citizen.envelope(filed)["flags"]  # type: ignore[operator]
    assert notices(tx, first) == ["confirmation", "status"]
    assert after.resolution_due > before.resolution_due


def test_a_rejected_ticket_is_not_reopened(tx: Tx) -> None:
    """A rejection is a decision: even with reopen_after_resolved, what comes after it is a new
    request linked as related."""
    citizen = Citizen(tx, "s1", filer(reopen=True))
    first = citizen.write("Вопрос про льготы").acceptance.ticket_number or ""
    tx.set_ticket_status(first, "rejected", "2026-11-23T10:00:00Z", reason="не наш вопрос")
    filed = citizen.write("Спасибо, понятно")
    assert filed.acceptance.ticket_number != first
    assert (tx.ticket(first) or pytest.fail()).status == "rejected"


def test_status_query_from_linked_contact_is_answered(tx: Tx) -> None:
    """«статус N» from the ticket's own citizen gets the status, not a new ticket."""
    citizen = Citizen(tx, "s1")
    number = citizen.write("Где мой паспорт?").acceptance.ticket_number or ""
    filed = citizen.write(f"статус {number}")
    assert filed.acceptance.ticket_number == number
    assert not filed.acceptance.ticket_is_new
    text = tx.conn.execute("SELECT text FROM notifications ORDER BY rowid DESC LIMIT 1").fetchone()[
        0
    ]
    assert number in text and "Принято" in text
    assert "status_query" in citizen.envelope(filed)["flags"]  # type: ignore[operator]


def test_status_query_from_a_stranger_reveals_nothing(tx: Tx) -> None:
    """Someone else asking for a ticket's status learns nothing and opens no ticket."""
    number = Citizen(tx, "s1").write("Где мой паспорт?").acceptance.ticket_number or ""
    filed = Citizen(tx, "s2").write(f"/status {number}")
    assert filed.acceptance.ticket_number is None
    assert filed.feed_seq is None  # not handed off: no work for the backend
    text = tx.conn.execute("SELECT text FROM notifications ORDER BY rowid DESC LIMIT 1").fetchone()[
        0
    ]
    assert "Принято" not in text
    assert tx.conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1


def test_an_unverified_sender_learns_nothing_and_joins_nothing(tx: Tx) -> None:
    """Someone typing a citizen's address (a form) gets no status and cannot post into a ticket."""
    owner = Citizen(tx, "victim@example.ru")
    number = owner.write("Где мой паспорт? Прошу проверить заявление").acceptance.ticket_number
    spoofer = Citizen(tx, "victim@example.ru", verified=False)
    query = spoofer.write("статус")
    assert query.acceptance.ticket_number is None
    reference = spoofer.write(f"По обращению {number}: отмените заявление")
    assert reference.acceptance.ticket_number != number and reference.acceptance.ticket_is_new
    repeat = spoofer.write("Где мой паспорт? Прошу проверить заявление")
    assert repeat.acceptance.ticket_number != number
    assert spoofer.envelope(repeat)["duplicate_of"] is None


PHONE = Sender("phone", "+79161234567", verified=True)


def test_a_repeat_from_another_channel_of_the_same_person_joins_the_ticket(tx: Tx) -> None:
    """The phone and the portal login are one person (the portal vouches for the phone): the
    same request again through the portal is a repeat of the SMS, not a second ticket."""
    # The portal login is known first, so it survives the merge and the SMS's contact is the
    # absorbed one: the repeat is found only among every contact of the person.
    resolve_contact(tx, Sender("portal", "user-42", verified=True), [], "portal/login")
    by_sms = Citizen(tx, PHONE.address, kind="phone")
    first = by_sms.write("Не приходит код подтверждения при входе в личный кабинет")
    portal = Citizen(tx, "user-42", kind="portal", links=(PHONE,))
    again = portal.write("не приходит код подтверждения при входе в личный кабинет!")
    assert again.acceptance.ticket_number == first.acceptance.ticket_number
    assert portal.envelope(again)["duplicate_of"] == first.acceptance.envelope_id


def test_a_bare_status_query_answers_the_conversations_ticket_else_the_newest(tx: Tx) -> None:
    """«статус» without a number is about the ticket the conversation is on; in a conversation
    on none yet, about the person's newest ticket, whichever channel of theirs opened it."""
    portal = Citizen(tx, "user-42", kind="portal", links=(PHONE,))
    older = portal.write("Код 01 Нужна справка о несудимости").acceptance.ticket_number
    newest = Citizen(tx, PHONE.address, kind="phone").write("Код 03 Загранпаспорт: сроки")
    here = portal.write("статус")
    elsewhere = portal.write("статус", conversation="portal:another-tab")
    assert here.acceptance.ticket_number == older
    assert elsewhere.acceptance.ticket_number == newest.acceptance.ticket_number


def test_a_bare_status_query_answers_the_open_ticket_before_a_newer_closed_one(tx: Tx) -> None:
    """«СТАТУС» alone is about what is still going on: the phone's open ticket, though its
    conversation has moved on to a newer one that is resolved; once none is open, the newest."""
    phone = Citizen(tx, PHONE.address, kind="phone")
    older = phone.write("Код 01 Нужна справка о несудимости", conversation="sms:1")
    newer = phone.write("Код 03 Загранпаспорт: сроки", conversation="sms:2")
    still_open, resolved = older.acceptance.ticket_number, newer.acceptance.ticket_number
    assert resolved and still_open and resolved != still_open
    tx.set_ticket_status(resolved, "resolved", "2026-11-23T10:00:00Z")
    asked = phone.write("СТАТУС", conversation="sms:2")
    assert asked.acceptance.ticket_number == still_open
    tx.set_ticket_status(still_open, "rejected", "2026-11-23T11:00:00Z", reason="не наш вопрос")
    assert phone.write("СТАТУС", conversation="sms:2").acceptance.ticket_number == resolved


def test_a_conversation_that_joined_a_ticket_by_its_number_goes_on_in_it(tx: Tx) -> None:
    """A second thread that quotes the ticket joins it; its next message, without the number,
    stays in that ticket rather than opening a new one with a second confirmation."""
    citizen = Citizen(tx, "ivan@example.ru", kind="email")
    number = citizen.write("Не пришла справка", conversation="thread-1").acceptance.ticket_number
    quoted = citizen.write(f"Дополняю обращение {number}: скан паспорта", conversation="thread-2")
    after = citizen.write("И ещё: номер заявления 123-456", conversation="thread-2")
    assert quoted.acceptance.ticket_number == after.acceptance.ticket_number == number
    assert not after.acceptance.ticket_is_new
    assert notices(tx, number or "").count("confirmation") == 1


def test_a_bare_status_command_is_answered_in_the_tickets_language(tx: Tx) -> None:
    """«/status» looks English but says nothing of the citizen: the answer follows the ticket."""
    citizen = Citizen(tx, "s1")
    number = citizen.write("Где мой паспорт?").acceptance.ticket_number or ""
    citizen.write("/status")
    text = tx.conn.execute("SELECT text FROM notifications ORDER BY rowid DESC LIMIT 1").fetchone()[
        0
    ]
    assert number in text and "Принято" in text


def test_an_unverified_sender_with_a_verified_address_joins_nothing_of_theirs(tx: Tx) -> None:
    """A forged From of a verified citizen's address (item 10 of the platform issue): a new
    ticket flagged unverified_sender, related to theirs; the citizen's ticket is untouched."""
    address = "ivan.petrov@example.ru"
    thread = f"email:portal:{address}"
    owner = Citizen(tx, address, kind="email")
    number = owner.write("Где моя справка?", channel="email", conversation=thread)
    forger = Citizen(tx, address, kind="email", verified=False)
    forged = forger.write("Отмените мою заявку", channel="email", conversation=thread)
    assert forged.acceptance.ticket_is_new
    assert forged.acceptance.ticket_number != number.acceptance.ticket_number
    envelope = forger.envelope(forged)
    assert "unverified_sender" in envelope["flags"]  # type: ignore[operator]
    ticket = envelope["ticket"]
    assert isinstance(ticket, dict) and ticket["related"] == [number.acceptance.ticket_number]
    # The citizen's own next message still continues their ticket.
    again = owner.write("Есть новости?", channel="email", conversation=thread)
    assert again.acceptance.ticket_number == number.acceptance.ticket_number


@pytest.mark.parametrize(
    ("owner_verified", "channel", "answered"),
    [
        # No DKIM or SPF vouches for the citizen's mail (no authserv_id set, a provider that
        # signs nothing): the status goes to the From address, which only its owner reads.
        (False, "email", True),
        # A forger writing as a verified citizen makes us tell the citizen, and nobody else.
        (True, "email", True),
        # A form's typed address is answered on the page to whoever typed it: not there.
        (False, "form", False),
        (True, "form", False),
    ],
)
def test_a_status_query_from_an_unverified_sender_is_answered_where_only_the_owner_reads(
    tx: Tx, owner_verified: bool, channel: str, answered: bool
) -> None:
    address = "ivan.petrov@example.ru"
    thread = f"email:portal:{address}"
    owner = Citizen(tx, address, kind="email", verified=owner_verified)
    ticket = owner.write("Где моя справка?", channel="email", conversation=thread)
    number = ticket.acceptance.ticket_number
    asker = Citizen(tx, address, kind="email", verified=False) if owner_verified else owner
    conversation = thread if channel == "email" else "form:portal:new"
    asked = asker.write(f"статус {number}", channel=channel, conversation=conversation)
    assert (asked.acceptance.ticket_number == number) is answered
    told = [event for event, _ in answers(tx, address)]
    assert ("status_query_answer" in told) is answered


def test_past_the_automatic_limit_a_message_gets_no_answer_and_a_loop_ends(tx: Tx) -> None:
    """A responder that marks nothing (no Auto-Submitted) answers each «added to your
    request»: past auto_limit automatic messages within the hour its messages get no answer,
    flagged auto_submitted, so the loop ends instead of going on at the limit's pace; the
    one confirmation of a «СТОП» still goes."""
    address = "ivan.petrov@example.ru"
    responder = Citizen(tx, address, kind="email")
    thread = f"email:portal:{address}"
    first = responder.write("Где моя справка?", channel="email", conversation=thread)
    loop = [
        responder.write(f"Я в отпуске до понедельника ({n})", channel="email", conversation=thread)
        for n in range(AUTO_LIMIT + 2)
    ]
    told = [event for event, _ in answers(tx, address)]
    assert told == ["confirmation"] + ["added_to_request"] * (AUTO_LIMIT - 1)
    flagged = ["auto_submitted" in responder.envelope(f)["flags"] for f in loop]  # type: ignore[operator]
    assert flagged == [False] * (AUTO_LIMIT - 1) + [True] * 3
    assert first.acceptance.ticket_number == loop[-1].acceptance.ticket_number  # all filed
    responder.write("СТОП", channel="email", conversation=thread)
    assert [event for event, _ in answers(tx, address)][-1] == "stop_confirmation"


# --- commands: «СТОП», «СТАРТ», «ПОМОЩЬ» --------------------------------------------------------


def answers(tx: Tx, address: str) -> list[tuple[str, bool]]:
    """Each automatic answer queued for an address, oldest first: its event and whether it may
    pass a «СТОП»."""
    rows = tx.conn.execute(
        "SELECT source_key, confirms_stop FROM notifications WHERE address = ? ORDER BY rowid",
        (address,),
    )
    return [(key.split(":")[0], bool(confirms_stop)) for key, confirms_stop in rows]


def listed(tx: Tx, channel: str, address: str) -> str | None:
    """Why the address is on the suppression list, or None."""
    return tx.suppressed(channel, address, "2026-11-23T12:00:00Z")


def test_every_command_has_a_handler() -> None:
    assert set(COMMAND_HANDLERS) == set(get_args(CommandName))


def test_a_stop_suppresses_the_address_and_queues_one_confirmation_past_it(tx: Tx) -> None:
    """«CTOП» (a Latin C, T and O): on the list, one confirmation that may pass it, no ticket;
    a second «СТОП» gets no second confirmation."""
    citizen = Citizen(tx, "s1")
    citizen.write("Где мой паспорт?")
    stop = citizen.write("CTOП")
    assert stop.acceptance.ticket_number is None and stop.feed_seq is None
    assert "stop_requested" in citizen.envelope(stop)["flags"]  # type: ignore[operator]
    assert listed(tx, "webchat", "s1") == "stop_requested"
    citizen.write("стоп")
    assert answers(tx, "s1") == [("confirmation", False), ("stop_confirmation", True)]
    assert tx.conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1


@pytest.mark.parametrize("text", ["Есть новости по заявке?", "статус", "ПОМОЩЬ"])
def test_writing_again_lifts_a_stop(tx: Tx, text: str) -> None:
    citizen = Citizen(tx, "s1")
    citizen.write("Где мой паспорт?")
    citizen.write("СТОП")
    citizen.write(text)
    assert listed(tx, "webchat", "s1") is None


def test_start_lifts_a_stop_and_says_so(tx: Tx) -> None:
    citizen = Citizen(tx, "s1")
    citizen.write("STOP")
    start = citizen.write("START")
    assert start.acceptance.ticket_number is None
    assert "start_requested" in citizen.envelope(start)["flags"]  # type: ignore[operator]
    assert listed(tx, "webchat", "s1") is None
    assert answers(tx, "s1")[-1] == ("start_confirmation", False)
    text = tx.conn.execute("SELECT text FROM notifications ORDER BY rowid DESC LIMIT 1")
    assert "STOP" in text.fetchone()[0]  # in English, the language the citizen wrote in


def test_writing_to_a_bot_it_was_blocked_by_lifts_the_block(tx: Tx) -> None:
    """A messenger lets a user write to a bot only once they unblocked it."""
    tx.suppress("webchat", "s1", "bot_blocked", "2026-11-23T08:00:00Z", None)
    Citizen(tx, "s1").write("Я снова здесь")
    assert listed(tx, "webchat", "s1") is None


@pytest.mark.parametrize("reason", ["bounced", "operator"])
def test_writing_lifts_no_other_suppression(tx: Tx, reason: str) -> None:
    """A bounce or an operator's entry stays; a «СТОП» over it gets no confirmation it could
    not take, and start has nothing to lift."""
    tx.suppress("webchat", "s1", reason, "2026-11-23T08:00:00Z", None)
    citizen = Citizen(tx, "s1")
    citizen.write("Где мой паспорт?")
    citizen.write("СТОП")
    citizen.write("СТАРТ")
    assert listed(tx, "webchat", "s1") == reason
    assert ("stop_confirmation", True) not in answers(tx, "s1")


def test_a_stop_over_an_expired_entry_is_a_new_stop(tx: Tx) -> None:
    tx.suppress("webchat", "s1", "operator", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    Citizen(tx, "s1").write("СТОП")
    assert listed(tx, "webchat", "s1") == "stop_requested"
    assert answers(tx, "s1") == [("stop_confirmation", True)]


def test_help_answers_what_a_citizen_can_write(tx: Tx) -> None:
    citizen = Citizen(tx, "s1")
    help_ = citizen.write("Помощь")
    assert help_.acceptance.ticket_number is None and help_.feed_seq is None
    assert "help_requested" in citizen.envelope(help_)["flags"]  # type: ignore[operator]
    assert answers(tx, "s1") == [("help", False)]
    text = tx.conn.execute("SELECT text FROM notifications").fetchone()[0]
    assert "СТОП" in text and "https://" in text


def test_a_forged_address_can_stop_but_not_lift_a_stop(tx: Tx) -> None:
    """Sending less is safe from anyone; sending again needs a sender the channel vouches for."""
    address = "ivan.petrov@example.ru"
    owner = Citizen(tx, address, kind="email")
    forger = Citizen(tx, address, kind="email", verified=False)
    owner.write("Где моя справка?", channel="email")
    forger.write("СТОП", channel="email")
    assert listed(tx, "email", address) == "stop_requested"
    forger.write("СТАРТ", channel="email")
    forger.write("Пришлите всё заново", channel="email")
    assert listed(tx, "email", address) == "stop_requested"
    assert [event for event, _ in answers(tx, address)].count("start_confirmation") == 0
    owner.write("СТАРТ", channel="email")
    assert listed(tx, "email", address) is None
    assert answers(tx, address)[-1] == ("start_confirmation", False)


@pytest.mark.parametrize("text", ["СТОП", "Помощь", "статус"])
def test_a_form_is_always_a_request(tx: Tx, text: str) -> None:
    form = Citizen(tx, "ivan@example.ru", kind="email", verified=False)
    filed = form.write(text, channel="form")
    assert filed.acceptance.ticket_is_new
    assert listed(tx, "email", "ivan@example.ru") is None


def test_a_reply_joins_the_conversation_it_names_only_from_its_own_contact(tx: Tx) -> None:
    """Point 10 of the platform issue: In-Reply-To finds the conversation, a reference alone
    proves nothing. The citizen's reply from another thread of theirs joins the one it names;
    a forged sender, or another citizen quoting the Message-ID, does not."""
    owner = Citizen(tx, "ivan.petrov@example.ru", kind="email")
    first = owner.write("Где моя справка?", channel="email", conversation="email:thread-1")
    message_id = owner.envelope(first)["channel_message_id"]
    assert isinstance(message_id, str)
    # Their client started a new thread (new subject), but the reply names the first message.
    reply = owner.write(
        "Дополняю: справка 2-НДФЛ", channel="email", conversation="email:thread-2",
        replying_to=message_id,
    )  # fmt: skip
    assert reply.acceptance.ticket_number == first.acceptance.ticket_number
    assert owner.envelope(reply)["thread"] == {
        "conversation_id": "email:thread-1",
        "in_reply_to": message_id,
    }
    stranger = Citizen(tx, "petr@example.ru", kind="email")
    quoted = stranger.write(
        "У меня тоже", channel="email", conversation="email:thread-3", replying_to=message_id
    )
    assert quoted.acceptance.ticket_number != first.acceptance.ticket_number
    forger = Citizen(tx, "ivan.petrov@example.ru", kind="email", verified=False)
    forged = forger.write(
        "Отмените заявку", channel="email", conversation="email:thread-4", replying_to=message_id
    )
    assert forged.acceptance.ticket_number != first.acceptance.ticket_number
    assert "unverified_sender" in forger.envelope(forged)["flags"]  # type: ignore[operator]


def test_a_reply_to_our_message_joins_its_ticket(tx: Tx) -> None:
    """Our messages are found by the reference the peer gave for them."""
    owner = Citizen(tx, "ivan.petrov@example.ru", kind="email")
    first = owner.write("Где моя справка?", channel="email", conversation="email:thread-1")
    number = first.acceptance.ticket_number
    assert number is not None
    [(notification_id,)] = tx.conn.execute(
        "SELECT id FROM notifications WHERE ticket_number = ?", (number,)
    ).fetchall()
    tx.add_references(notification_id, "email", ["<ours-1@omnirouter>"], held_since="")
    reply = owner.write(
        "Спасибо, жду", channel="email", conversation="email:thread-9",
        replying_to="<ours-1@omnirouter>",
    )  # fmt: skip
    assert reply.acceptance.ticket_number == number


def two_tickets_in_one_chat(tx: Tx) -> tuple[Citizen, str, str, str]:
    """A chat (one conversation) with two open tickets, the second its current one: the
    citizen, the first ticket, the second, and the peer's reference of the first's confirmation."""
    anna = Citizen(tx, "anna", kind="telegram")
    first = anna.write("Код 03 Загранпаспорт: сроки", channel="messenger", conversation="tg")
    second = anna.write(
        "Мне звонили мошенники", topic="12", new_request=True, channel="messenger",
        conversation="tg",
    )  # fmt: skip
    a, b = first.acceptance.ticket_number or "", second.acceptance.ticket_number or ""
    [(notification_id,)] = tx.conn.execute(
        "SELECT id FROM notifications WHERE ticket_number = ?", (a,)
    ).fetchall()
    tx.add_references(notification_id, "messenger", ["anna:501"], held_since="")
    return anna, a, b, "anna:501"


def test_a_reply_to_a_notice_joins_its_ticket_not_the_chats_current_one(tx: Tx) -> None:
    """A chat spans the citizen's tickets: a reply to the first ticket's confirmation goes to
    the first, though the chat is on the second now; the chat then goes on in the first."""
    anna, a, b, notice = two_tickets_in_one_chat(tx)
    reply = anna.write("Вот скан", channel="messenger", conversation="tg", replying_to=notice)
    assert reply.acceptance.ticket_number == a
    after = anna.write("И ещё вопрос", channel="messenger", conversation="tg")
    assert after.acceptance.ticket_number == a
    assert len(tx.ticket_envelopes(b)) == 1


def test_a_reply_to_the_citizens_own_message_joins_its_ticket(tx: Tx) -> None:
    anna, a, b, _ = two_tickets_in_one_chat(tx)
    own = anna.envelope(anna.write("Уточнение", channel="messenger", conversation="tg"))
    assert own["ticket"]["number"] == b  # type: ignore[index]
    first = tx.ticket_envelopes(a)[0]
    replied_to = envelope_decoder.decode(first).channel_message_id
    reply = anna.write("Вот скан", channel="messenger", conversation="tg", replying_to=replied_to)
    assert reply.acceptance.ticket_number == a


@pytest.mark.parametrize("status", sorted(CLOSED_STATUSES))
def test_a_reply_to_a_closed_tickets_notice_is_routed_by_its_conversation(
    tx: Tx, status: str
) -> None:
    """As email's In-Reply-To to a closed ticket: the conversation decides (here the chat's
    open ticket), and the closed one is neither joined nor reopened."""
    anna, a, b, notice = two_tickets_in_one_chat(tx)
    tx.set_ticket_status(a, status, "2026-11-23T10:00:00Z", reason="x")
    reply = anna.write("Спасибо", channel="messenger", conversation="tg", replying_to=notice)
    assert reply.acceptance.ticket_number == b
    assert (tx.ticket(a) or pytest.fail()).status == status
