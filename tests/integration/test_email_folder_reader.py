"""The IMAP folder reader against Dovecot, in the daemon's trio-asyncio loop, in front of a store:
mail that comes while the reader commits the mail before it is read at once, not when the next
IDLE is renewed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trio_asyncio
from aioimaplib import aioimaplib

from channels.contract import Ports, Receipt, Received
from channels.email.config import ImapSettings
from channels.email.imap import FolderReader
from tests.dovecot import USERS, Dovecot, dovecot, dovecot_server

from .test_email_channel import citizens_mail

__all__ = ["dovecot", "dovecot_server"]  # the fixtures

pytestmark = pytest.mark.integration

# A bound on a wait that ends at once when the reader works; never a measured duration. The
# reader's IDLE lasts far longer: mail found only at its renewal fails the test.
DEADLINE = 30.0
IDLE_RENEW = 3600.0
# How long a stopped reader is watched for mail it must not take: far longer than the
# commit and move of one more message here, which take milliseconds.
LINGER = 1.0


@dataclass
class Store:
    """The router as the reader meets it: commits taken with their state, a hook run inside
    the first commit (another citizen's mail arriving meanwhile), and bad input counted."""

    during_first: Any = None
    committed: list[Received] = field(default_factory=list)
    values: dict[str, bytes] = field(default_factory=dict)
    changed: trio.Event = field(default_factory=trio.Event)
    refused: list[str] = field(default_factory=list)

    async def receive(
        self, received: Received, state: Mapping[str, bytes | None] | None = None
    ) -> Receipt:
        if not self.committed and self.during_first is not None:
            await trio.to_thread.run_sync(self.during_first)
        self.committed.append(received)
        await self.put(state or {})
        self.changed.set()
        return Receipt(redelivery=False)

    async def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value

    def bad_input(self, channel: str, reason: str) -> None:
        self.refused.append(reason)


async def read_until(
    store: Store,
    dovecot: Dovecot,
    count: int,
    settled: Callable[[], bool] = lambda: True,
    stopped: Callable[[], bool] = lambda: False,
    linger: float = 0.0,
    **settings: object,
) -> None:
    """Run a reader of the support INBOX until `store` has `count` commits and the server's
    folders are `settled` (the mail moved after its commit), and `linger` seconds more (for
    what must not happen next); `stopped`: its account's intake stopped (the daemon's
    SIGTERM)."""
    imap = ImapSettings.model_validate(
        {
            "host": dovecot.host,
            "port": dovecot.tls_port,
            "username": "support",
            "password_file": "unused",
            "idle_renew": IDLE_RENEW,
            "poll_interval": IDLE_RENEW,
            **settings,
        }
    )
    ports: Any = Ports(store, None, store.bad_input, store, None)  # type: ignore[arg-type]
    reader = FolderReader(
        "support",
        imap,
        "INBOX",
        ports,
        USERS["support"],
        lambda: 10_000_000,
        dovecot.cafile,
        stopped,
    )
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await nursery.start(reader.run)
        with trio.fail_after(DEADLINE):
            while len(store.committed) < count:
                await store.changed.wait()
                store.changed = trio.Event()
            # The server's folders are polled: nothing of the reader's says the move is done.
            for _ in range(int(DEADLINE / 0.05)):
                if await trio.to_thread.run_sync(settled):
                    break
                await trio.sleep(0.05)
            else:
                raise AssertionError("the mail was committed but never moved")
        await trio.sleep(linger)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "settings",
    [{"processed_folder": "Processed"}, {}, {"idle": False}],
    ids=["moved", "flagged-seen", "polled"],
)
async def test_mail_that_comes_while_the_mail_before_it_is_committed_is_read_at_once(
    dovecot: Dovecot, settings: dict[str, object]
) -> None:
    # Dovecot announces the second message at the end of the next command (the first's FETCH,
    # STORE or MOVE), not again in the IDLE after it.
    dovecot.create_folder("support", "Processed")
    second = citizens_mail("Второе", "Ещё вопрос", message_id="<second@mail.example>")
    store = Store(during_first=lambda: dovecot.append("support", "INBOX", second))
    dovecot.append("support", "INBOX", citizens_mail("Первое", "Вопрос", message_id="<first@m>"))

    await read_until(store, dovecot, 2, **settings)

    assert [b"<first@m>" in r.payload for r in store.committed] == [True, False]
    assert b"<second@mail.example>" in store.committed[1].payload
    assert store.refused == []


async def test_once_intake_stops_no_more_mail_is_taken(dovecot: Dovecot) -> None:
    """SIGTERM stops intake first: the daemon stops while the first of two mails is being
    committed; that one is committed and moved, the second stays on the server for the next
    start."""
    dovecot.create_folder("support", "Processed")
    stopping = trio.Event()
    store = Store(during_first=stopping.set)
    for n in (1, 2):
        mail = citizens_mail(f"Письмо {n}", "Вопрос", message_id=f"<{n}@m>")
        dovecot.append("support", "INBOX", mail)

    def first_moved() -> bool:
        return len(dovecot.uids("support", "Processed")) == 1

    await read_until(
        store,
        dovecot,
        1,
        first_moved,
        stopped=stopping.is_set,
        processed_folder="Processed",
        linger=LINGER,
    )
    assert b"<1@m>" in store.committed[0].payload
    assert len(store.committed) == 1
    assert len(dovecot.uids("support", "INBOX")) == 1  # the second, for the next start


async def test_a_from_no_one_can_read_does_not_block_the_folder(dovecot: Dovecot) -> None:
    # The stdlib's header classes raise AttributeError on this From: were it to escape before
    # the commit, the account would start again at this message forever.
    bad = citizens_mail("Первое", "Вопрос", message_id="<bad@m>")
    bad = re.sub(rb"(?m)^From: .*\r\n", b"From: a@[b\r\n", bad)
    dovecot.create_folder("support", "Processed")
    dovecot.append("support", "INBOX", bad)
    dovecot.append("support", "INBOX", citizens_mail("Второе", "Ещё", message_id="<good@m>"))
    store = Store()

    await read_until(store, dovecot, 2, processed_folder="Processed")

    assert [r.idempotency_key for r in store.committed] == ["<bad@m>", "<good@m>"]
    assert store.committed[0].payload == bad and store.committed[0].sender is None
    assert store.committed[1].sender is not None
    assert store.refused == ["malformed_sender"]
    assert dovecot.uids("support") == []
    assert len(dovecot.uids("support", "Processed")) == 2


def processed(dovecot: Dovecot) -> list[bytes]:
    """The messages in the support mailbox's Processed folder, in UID order."""
    uids = dovecot.uids("support", "Processed")
    return [dovecot.message("support", "Processed", uid) for uid in uids]


def without(monkeypatch: pytest.MonkeyPatch, *capabilities: str) -> None:
    """Readers that see a server without `capabilities` (Dovecot offers them all)."""
    connect = FolderReader._connect

    async def connected(reader: FolderReader) -> None:
        await connect(reader)
        assert reader.client is not None
        reader.client.protocol.capabilities -= set(capabilities)

    monkeypatch.setattr(FolderReader, "_connect", connected)


async def test_without_move_mail_is_copied_then_expunged_by_uid(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aioimaplib refuses MOVE itself where the server does not offer it (RFC 6851): the
    # reader died after the first message's commit, at each start.
    without(monkeypatch, "MOVE")
    dovecot.create_folder("support", "Processed")
    for n in (1, 2):
        dovecot.append("support", "INBOX", citizens_mail(f"№{n}", "Вопрос", message_id=f"<{n}@m>"))
    store = Store()

    await read_until(
        store, dovecot, 2, lambda: not dovecot.uids("support"), processed_folder="Processed"
    )

    assert [r.idempotency_key for r in store.committed] == ["<1@m>", "<2@m>"]
    moved = processed(dovecot)
    assert [b"<1@m>" in raw for raw in moved] == [True, False] and b"<2@m>" in moved[1]


async def test_without_move_or_uidplus_mail_is_copied_once_and_left_flagged_deleted(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain EXPUNGE would also remove what other clients flagged \Deleted: never sent.
    without(monkeypatch, "MOVE", "UIDPLUS")
    dovecot.create_folder("support", "Processed")

    def all_deleted(count: int) -> Callable[[], bool]:
        def settled() -> bool:
            inbox = dovecot.uids("support")
            flags = [dovecot.flags("support", "INBOX", uid) for uid in inbox]
            return len(inbox) == count and all("\\Deleted" in f for f in flags)

        return settled

    dovecot.append("support", "INBOX", citizens_mail("№1", "Вопрос", message_id="<1@m>"))
    dovecot.append("support", "INBOX", citizens_mail("№2", "Вопрос", message_id="<2@m>"))
    store = Store()
    await read_until(store, dovecot, 2, all_deleted(2), processed_folder="Processed")
    # Started again with a third message: what was copied before is not copied again.
    dovecot.append("support", "INBOX", citizens_mail("№3", "Вопрос", message_id="<3@m>"))
    await read_until(store, dovecot, 3, all_deleted(3), processed_folder="Processed")

    assert [r.idempotency_key for r in store.committed] == ["<1@m>", "<2@m>", "<3@m>"]
    moved = processed(dovecot)
    assert [next(m for m in (b"<1@m>", b"<2@m>", b"<3@m>") if m in raw) for raw in moved] == [
        b"<1@m>", b"<2@m>", b"<3@m>"
    ]  # fmt: skip


async def test_capabilities_are_asked_again_after_a_login_that_does_not_list_them(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dovecot lists MOVE and UIDPLUS only once logged in, here not in LOGIN's answer (as some
    # servers do): known from before the login alone, the mail would stay in INBOX, flagged.
    login = aioimaplib.IMAP4ClientProtocol.login

    async def silent_login(
        protocol: aioimaplib.IMAP4ClientProtocol, user: str, password: str
    ) -> aioimaplib.Response:
        before = set(protocol.capabilities)
        response: aioimaplib.Response = await login(protocol, user, password)
        protocol.capabilities = before
        response.lines[:] = [line for line in response.lines if b"CAPABILITY" not in line]
        return response

    monkeypatch.setattr(aioimaplib.IMAP4ClientProtocol, "login", silent_login)
    dovecot.create_folder("support", "Processed")
    dovecot.append("support", "INBOX", citizens_mail("№1", "Вопрос", message_id="<1@m>"))
    store = Store()

    await read_until(
        store, dovecot, 1, lambda: not dovecot.uids("support"), processed_folder="Processed"
    )

    assert len(dovecot.uids("support", "Processed")) == 1
