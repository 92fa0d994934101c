"""An SMS's journal key: the content's digest and its occurrence. A redelivery (our answer
never reached the SMSC) is the same key; the same text sent again after an answer, or long
after a crash lost the count of answers, is the next one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    """The journal's keys with when each came first, and the account's state."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.values: dict[str, bytes] = {}

    async def receive(
        self, received: Received, state: Mapping[str, bytes | None] | None = None
    ) -> Receipt:
        key = received.idempotency_key
        if key in self.first:
            return Receipt(redelivery=True, first_received_at=self.first[key])
        self.first[key] = received.received_at
        return Receipt(redelivery=False)

    async def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def put(self, changes: Mapping[str, bytes | None]) -> None:
        self.values.update({k: v for k, v in changes.items() if v is not None})


def adapter(store: Store) -> SmsAdapter:
    ports: Any = Ports(store, None, lambda *_: None, store, None, config_dir=Path("."))  # type: ignore[arg-type]
    return SmsAdapter(AccountSpec("sms", "short", FILE.accounts["short"]), lambda: FILE, ports)


async def file(sms: SmsAdapter, *, answered: bool) -> str:
    """File the same text once more; the key it was filed under."""
    before = set(sms.ports.intake.first)  # type: ignore[attr-defined]
    answer = await sms._file(b'{"pdus": []}', "application/x-smpp-pdus+json", None)
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
