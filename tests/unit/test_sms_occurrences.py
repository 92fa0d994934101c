"""An SMS's journal key: the content's digest and its occurrence. A redelivery (our answer
never reached the SMSC) is the same key; the same text sent again after an answer, or long
after a crash lost the count of answers, is the next one. The counts of answers ride the next
SMS's commit, or are written on their own after a lull."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from channels.contract import AccountSpec, Ports, Receipt, Received, rfc3339
from channels.sms.adapter import SmsAdapter
from channels.sms.config import SmsFile

FILE = SmsFile.model_validate(
    {
        "enabled": True,
        "accounts": {
            "short": {
                "host": "127.0.0.1",
                "system_id": "omnirouter",
                "password_file": "secrets/sms.password",
                "source_addr": "0911",
            }
        },
    }
)


class Store:
    """The journal's keys with when each came first, and the account's state; the state
    changes of each commit, the journal's (`receive`) and the state's own (`put`)."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.values: dict[str, bytes] = {}
        self.journal_commits: list[Mapping[str, bytes | None]] = []
        self.state_commits: list[Mapping[str, bytes | None]] = []
        self.failing = False

    async def receive(
        self, received: Received, state: Mapping[str, bytes | None] | None = None
    ) -> Receipt:
        if self.failing:
            raise OSError("disk I/O error")
        self.journal_commits.append(state or {})
        self._apply(state or {})
        key = received.idempotency_key
        if key in self.first:
            return Receipt(redelivery=True, first_received_at=self.first[key])
        self.first[key] = received.received_at
        return Receipt(redelivery=False)

    async def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        self.state_commits.append(changes)
        self._apply(changes)

    def _apply(self, changes: Mapping[str, bytes | None]) -> None:
        self.values.update({k: v for k, v in changes.items() if v is not None})


def adapter(store: Store) -> SmsAdapter:
    ports: Any = Ports(store, None, lambda *_: None, store, None, config_dir=Path("."))  # type: ignore[arg-type]
    return SmsAdapter(AccountSpec("sms", "short", FILE.accounts["short"]), lambda: FILE, ports)


async def file(sms: SmsAdapter, *, answered: bool, text: bytes = b'{"pdus": []}') -> str:
    """File the same text once more; the key it was filed under."""
    before = set(sms.ports.intake.first)  # type: ignore[attr-defined]
    answer = await sms._file(text, "application/x-smpp-pdus+json", None)
    if answer.settled is not None:
        await answer.settled(answered)
    new = set(sms.ports.intake.first) - before  # type: ignore[attr-defined]
    return new.pop() if new else "redelivery"


async def test_a_redelivery_is_the_same_key_and_an_answered_text_the_next() -> None:
    store = Store()
    sms = adapter(store)
    first = await file(sms, answered=False)  # our answer never went
    assert await file(sms, answered=True) == "redelivery"
    second = await file(sms, answered=True)
    assert second == f"{first}.1"


async def test_a_count_lost_to_a_crash_does_not_swallow_the_text_for_ever() -> None:
    store = Store()
    sms = adapter(store)
    first = await file(sms, answered=False)  # answered, but the count never written
    store.first[first] = rfc3339(datetime.now(UTC) - timedelta(days=2))
    assert await file(sms, answered=True) == f"{first}.1"


async def test_the_counts_of_answers_ride_the_next_sms_commit() -> None:
    store = Store()
    sms = adapter(store)
    first = await file(sms, answered=True)
    await file(sms, answered=True, text=b'{"pdus": [], "other": 1}')
    assert store.journal_commits[1] == {f"short/answered/{first}": b"1"}
    assert store.state_commits == []
    assert await file(sms, answered=True) == f"{first}.1"


async def test_counts_a_failed_commit_took_ride_the_next() -> None:
    store = Store()
    sms = adapter(store)
    first = await file(sms, answered=True)
    store.failing = True
    with pytest.raises(OSError):
        await file(sms, answered=True, text=b'{"pdus": [], "other": 1}')
    store.failing = False
    assert await file(sms, answered=True) == f"{first}.1"
    assert store.journal_commits[1] == {f"short/answered/{first}": b"1"}


async def test_the_last_counts_before_a_lull_are_written_on_their_own(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = Store()
    sms = adapter(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sms._answered.run)
        first = await file(sms, answered=True)
        await trio.sleep(1)
        assert store.state_commits == [{f"short/answered/{first}": b"1"}]
        nursery.cancel_scope.cancel()


async def test_counts_still_waiting_for_a_commit_are_written_as_the_account_stops() -> None:
    store = Store()
    sms = adapter(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sms._answered.run)
        first = await file(sms, answered=True)  # the last SMS before a reload or a stop
        nursery.cancel_scope.cancel()  # within the lull: no SMS's commit will take its count
    assert store.state_commits == [{f"short/answered/{first}": b"1"}]
    again = adapter(store)  # the account started again, on the same database
    assert await file(again, answered=True) == f"{first}.1"  # the same text, filed anew
