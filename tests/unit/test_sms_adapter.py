"""An SMS account's own choices: the references it gives the platform for its messages are its
own (two operators' SMSCs number their messages each on its own, and the same id from both
names two notices), and its notices go to a bind the SMSC has not asked to wait."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.contract import AccountSpec, Ports
from channels.sms.adapter import SmsAdapter
from channels.sms.config import SmsFile
from tests.unit.test_smpp_receipts import receipt_sm

ACCOUNT = {"host": "127.0.0.1", "system_id": "omni", "password_file": "x", "source_addr": "0911"}


class Reports:
    """The platform's report port: what each receipt named."""

    def __init__(self) -> None:
        self.named: list[tuple[str, str, bool]] = []

    async def report(
        self, channel: str, reference: str, *, delivered: bool, reason: str | None = None
    ) -> None:
        self.named.append((channel, reference, delivered))


async def test_one_id_from_two_accounts_smscs_names_two_notices() -> None:
    file = SmsFile.model_validate(
        {"enabled": True, "accounts": {"megafon": ACCOUNT, "mts": ACCOUNT}}
    )
    reports = Reports()
    ports: Any = Ports(None, None, lambda *_: None, None, None, reports)  # type: ignore[arg-type]
    receipt = receipt_sm(b"id:00000042 sub:001 dlvrd:001 stat:DELIVRD err:000")
    for name in ("megafon", "mts"):
        adapter = SmsAdapter(AccountSpec("sms", name, file.accounts[name]), lambda: file, ports)
        await adapter._report(receipt)
    assert reports.named == [("sms", "megafon:42", True), ("sms", "mts:42", True)]


@dataclass
class Bind:
    """What the account reads of a bind to choose one."""

    name: str
    bound: bool = True
    paused: bool = False


def test_a_notice_goes_to_a_bind_the_smsc_has_not_asked_to_wait() -> None:
    file = SmsFile.model_validate({"enabled": True, "accounts": {"short": ACCOUNT}})
    ports: Any = Ports(None, None, lambda *_: None, None, None)  # type: ignore[arg-type]
    adapter = SmsAdapter(AccountSpec("sms", "short", file.accounts["short"]), lambda: file, ports)
    binds = [Bind("throttled", paused=True), Bind("down", bound=False), Bind("free")]
    adapter._transmitters = binds  # type: ignore[assignment]
    assert {adapter._transmitter().name for _ in range(4)} == {"free"}
    binds[2].paused = True  # all the bound ones wait: any of them, rather than none
    assert {adapter._transmitter().name for _ in range(4)} == {"throttled", "free"}
