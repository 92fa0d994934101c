"""An SMS account's own choices: the references it gives the platform for its messages are its
own (two operators' SMSCs number their messages each on its own, and the same id from both
names two notices), and its notices go to a bind the SMSC has not asked to wait."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.contract import AccountSpec, Ports
from channels.sms.adapter import SmsAdapter
from channels.sms.config import SmsFile
from channels.sms.events import BindKind
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


def test_each_bind_takes_the_accounts_settings_and_the_contracts_defaults(tmp_path: Path) -> None:
    """What sms.toml sets reaches every bind; what it leaves out is the default CONTRACTS.md
    names (window 10, enquire_link 30 s) or the config model's (port 2775, timeouts 10 s)."""
    operator = {
        **ACCOUNT, "port": 3550, "tls": True, "tls_ca_file": "operator-ca.pem",
        "system_type": "VMA", "address_range": "^0911", "window": 50, "throughput": 100.0,
        "enquire_link": "45s", "response_timeout": "20s", "bind_timeout": "15s",
    }  # fmt: skip
    file = SmsFile.model_validate(
        {"enabled": True, "accounts": {"plain": ACCOUNT, "operator": operator}}
    )
    ports: Any = Ports(None, None, lambda *_: None, None, None, config_dir=tmp_path)  # type: ignore[arg-type]

    def session(name: str) -> Any:
        adapter = SmsAdapter(AccountSpec("sms", name, file.accounts[name]), lambda: file, ports)
        return adapter._session(BindKind.TRANSCEIVER)

    plain, configured = session("plain"), session("operator")
    assert (plain.endpoint.port, plain.endpoint.tls, plain.endpoint.ca_file) == (2775, False, None)
    assert (plain.endpoint.system_type, plain.endpoint.address_range) == ("", "")
    assert (plain.connection.window_free, plain.throughput, plain.enquire_link) == (10, None, 30)
    assert (plain.response_timeout, plain.bind_timeout) == (10, 10)
    endpoint = configured.endpoint
    assert (endpoint.port, endpoint.tls, endpoint.ca_file) == (
        3550,
        True,
        tmp_path / "operator-ca.pem",
    )
    assert (endpoint.system_type, endpoint.address_range) == ("VMA", "^0911")
    assert (configured.connection.window_free, configured.throughput, configured.enquire_link) == (
        50,
        100.0,
        45,
    )
    assert (configured.response_timeout, configured.bind_timeout) == (20, 15)
