"""A long notice whose part the SMSC refuses: the retry sends from the refused part on under the
same reference, never the parts already taken again; a refusal for good forgets how far it got."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from channels.contract import AccountSpec, DeliveryFailed, Outbound, Ports, Sent
from channels.sms.adapter import SmsAdapter
from channels.sms.config import SmsFile
from channels.sms.receipts import normalise_message_id
from tests.smsc import PASSWORD, SYSTEM_ID, LogEntry, Smsc, smsc, smsc_server

from .daemon import eventually, notification_in, write_secret
from .test_sms_channel import CITIZEN, SHORT_NUMBER, citizen_writes, sms_daemon

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

pytestmark = pytest.mark.integration

# Three parts in UCS2 (67 characters a part with an 8-bit reference).
LONG_TEXT = "Ваше обращение рассмотрено. " * 6 + "Справка готова."


def concatenation(submit: LogEntry) -> tuple[int, int, int]:
    """A submit_sm's concatenation UDH (23.040 9.2.3.24.1) as reference, total and sequence."""
    [element] = submit["udh"]
    header = bytes.fromhex(element)
    assert header[:2] == b"\x00\x03", element
    return header[2], header[3], header[4]


def taken(submits: list[LogEntry]) -> list[LogEntry]:
    """The submits the SMSC took."""
    return [s for s in submits if s["status"] == 0]


def sent(submits: list[LogEntry]) -> Sent:
    """The outcome that names these submits of the account "short"."""
    ids = (normalise_message_id(s["message_id"], "text") for s in submits)
    return Sent(references=tuple(f"short:{message_id}" for message_id in ids))


async def test_a_part_throttled_is_sent_again_alone_under_the_same_reference(
    tmp_path: Path, smsc: Smsc
) -> None:
    """A reply of three parts, the second throttled once: the SMSC gets each part once taken,
    under one reference, and the receipt for the part taken before the throttle delivers it."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        envelope = await citizen_writes(daemon, smsc)
        await smsc.wait_for("submit_sm")  # the confirmation, in one part
        number = envelope["ticket"]["number"]
        await smsc.refuse("ESME_RTHROTTLED", nth=2)
        async with daemon.backend() as backend:
            response = await backend.post(
                f"/api/v1/tickets/{number}/replies", json={"text": LONG_TEXT}
            )
            assert response.status_code == 202, response.text
            notices = (await backend.get(f"/api/v1/tickets/{number}")).json()["notifications"]
        [reply] = [n for n in notices if n["kind"] == "reply"]

        await eventually(lambda: notification_in(daemon, reply["id"], "sent"), "the reply sent")
        submits = [s for s in await smsc.log() if s["type"] == "submit_sm"][1:]
        parts = [concatenation(s) for s in submits]
        assert [s["status"] for s in submits] == [0, 0x58, 0, 0]  # part 2 throttled once
        assert len({reference for reference, _, _ in parts}) == 1
        assert [(total, seq) for _, total, seq in parts] == [(3, 1), (3, 2), (3, 2), (3, 3)]
        # The part taken before the throttle is one of the notice's references.
        await smsc.receipt(submits[0]["message_id"], stat="DELIVRD")
        await eventually(
            lambda: notification_in(daemon, reply["id"], "delivered"), "the receipt applied"
        )
    finally:
        daemon.stop()


def account_file(smsc: Smsc, **settings: Any) -> SmsFile:
    """One account bound to the simulator, with these settings of sms.toml besides."""
    return SmsFile.model_validate(
        {
            "enabled": True,
            "accounts": {
                "short": {
                    "host": smsc.host,
                    "port": smsc.port,
                    "system_id": SYSTEM_ID,
                    "password_file": "sms.password",
                    "source_addr": SHORT_NUMBER,
                    **settings,
                }
            },
        }
    )


@asynccontextmanager
async def running(smsc: Smsc, config_dir: Path, **settings: Any) -> AsyncIterator[SmsAdapter]:
    """An SMS account bound to the simulator, for its deliveries alone."""
    write_secret(config_dir / "sms.password", PASSWORD + "\n")
    file = account_file(smsc, **settings)
    ports: Any = Ports(None, None, lambda *_: None, None, None, config_dir=config_dir)  # type: ignore[arg-type]
    adapter = SmsAdapter(AccountSpec("sms", "short", file.accounts["short"]), lambda: file, ports)
    async with trio.open_nursery() as nursery:
        await nursery.start(adapter.run)
        yield adapter
        nursery.cancel_scope.cancel()


def notice(notice_id: str) -> Outbound:
    """A long reply to the citizen."""
    return Outbound(
        id=notice_id,
        channel="sms",
        account="short",
        address="+" + CITIZEN,
        kind="reply",
        ticket=None,
        text=LONG_TEXT,
        created_at="2026-12-04T12:00:00.000Z",
    )


async def test_a_part_refused_for_good_forgets_the_parts_taken(tmp_path: Path, smsc: Smsc) -> None:
    """Part 2 refused with ESME_RINVDSTADR fails the notice; an operator's replay of it sends it
    whole, under a new reference, as a notice never sent. A throttled one goes on where it
    stopped, its earlier attempt's ids among its references."""
    async with running(smsc, tmp_path) as adapter:
        await smsc.refuse("ESME_RINVDSTADR", nth=2)
        with pytest.raises(DeliveryFailed) as refused:
            await adapter.deliver(notice("refused"))
        assert refused.value.permanent
        replayed = await adapter.deliver(notice("refused"))
        await smsc.refuse("ESME_RTHROTTLED", nth=2)
        with pytest.raises(DeliveryFailed) as throttled:
            await adapter.deliver(notice("throttled"))
        assert throttled.value.retry_after is not None
        resumed = await adapter.deliver(notice("throttled"))
    submits = [s for s in await smsc.log() if s["type"] == "submit_sm"]
    parts = [concatenation(s) for s in submits]
    assert [s["status"] for s in submits] == [0, 0x0B, 0, 0, 0, 0, 0x58, 0, 0]
    assert [seq for _, _, seq in parts] == [1, 2, 1, 2, 3, 1, 2, 2, 3]
    assert len({reference for reference, _, _ in parts[2:5]}) == 1
    assert len({reference for reference, _, _ in parts[5:]}) == 1
    assert replayed == sent(submits[2:5])
    assert resumed == sent(taken(submits[5:]))


@pytest.mark.parametrize(
    ("settings", "reference_ie"),
    [({"reference_bits": 16}, b"\x08\x04"), ({"concatenation": "sar"}, None)],
    ids=["udh-16-bit-reference", "sar-tlvs"],
)
async def test_an_accounts_concatenation_settings_shape_its_long_notices(
    tmp_path: Path, smsc: Smsc, settings: dict[str, Any], reference_ie: bytes | None
) -> None:
    """sms.toml's reference_bits = 16: each part's UDH carries 23.040's 16-bit reference IE;
    concatenation = "sar": the parts carry sar_* TLVs and no UDH. Either way, one reference."""
    async with running(smsc, tmp_path, **settings) as adapter:
        await adapter.deliver(notice("long"))
    submits = [s for s in await smsc.log() if s["type"] == "submit_sm"]
    if reference_ie is None:
        assert all(not s["udh"] and s["esm_class"] & 0x40 == 0 for s in submits)
        places = [tuple(s["sar"]) for s in submits]
    else:
        headers = [bytes.fromhex(element) for s in submits for element in s["udh"]]
        assert all(header[:2] == reference_ie for header in headers)
        assert all(s["sar"] is None for s in submits)
        places = [(int.from_bytes(h[2:4], "big"), h[4], h[5]) for h in headers]
    assert len({reference for reference, _, _ in places}) == 1
    assert [(total, seq) for _, total, seq in places] == [(3, 1), (3, 2), (3, 3)]
