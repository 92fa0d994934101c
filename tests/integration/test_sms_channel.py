"""The SMS channel over the real daemon and the SMSC simulator: a citizen's SMS is committed
before its deliver_sm_resp and filed from their verified number, its confirmation goes out as
a submit_sm, and the SMSC's receipt makes the notification delivered."""

from __future__ import annotations

import functools
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.smsc import PASSWORD, SYSTEM_ID, Smsc, smsc, smsc_server

from .daemon import (
    DaemonProcess,
    eventually,
    feed_all,
    free_port,
    metric,
    notification_in,
    write_secret,
)

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

CITIZEN = "79161234567"
SHORT_NUMBER = "0911"


def sms_daemon(root: Path, smsc: Smsc, settings: str = "") -> DaemonProcess:
    """A daemon with one SMS account bound to the simulator, with these `settings` of it."""
    daemon = with_sms(DaemonProcess(root), smsc)
    account = daemon.config / "channels" / "sms.toml"
    account.write_text(account.read_text() + settings)
    return daemon


def with_sms(daemon: DaemonProcess, smsc: Smsc) -> DaemonProcess:
    """`daemon` with an SMS account bound to the simulator."""
    write_secret(daemon.config / "secrets" / "sms.password", PASSWORD + "\n")
    (daemon.config / "channels" / "sms.toml").write_text(
        f"""enabled = true
[accounts.short]
host = "127.0.0.1"
port = {smsc.port}
system_id = "{SYSTEM_ID}"
password_file = "secrets/sms.password"
source_addr = "{SHORT_NUMBER}"
"""
    )
    return daemon


async def only_notice(daemon: DaemonProcess, envelope: dict[str, Any]) -> dict[str, Any]:
    """The one notification of the envelope's ticket (its confirmation)."""
    async with daemon.backend() as backend:
        ticket = await backend.get(f"/api/v1/tickets/{envelope['ticket']['number']}")
    notices: list[dict[str, Any]] = ticket.json()["notifications"]
    [notice] = notices
    return notice


async def sms_envelopes(daemon: DaemonProcess) -> list[dict[str, Any]]:
    """The SMS envelopes in the feed."""
    return [e for e in await feed_all(daemon) if e["channel"] == "sms"]


async def citizen_writes(
    daemon: DaemonProcess, smsc: Smsc, text: str = "Prosba o spravke", **fields: Any
) -> dict[str, Any]:
    """The citizen's first SMS, delivered by the simulator (with these deliver `fields`) and
    filed: its envelope."""
    await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text=text, **fields)
    [envelope] = await eventually(lambda: sms_envelopes(daemon), "the SMS filed")
    return envelope


async def test_an_sms_is_filed_confirmed_and_its_receipt_applied(
    tmp_path: Path, smsc: Smsc
) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        sequence = await smsc.deliver(
            source=CITIZEN, destination=SHORT_NUMBER, text="Нужна справка о доходах",
            data_coding=8,
        )  # fmt: skip

        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the SMS filed")
        assert envelope["sender"] == {
            "kind": "phone",
            "address": "+" + CITIZEN,
            "display_name": None,
            "verified": True,  # the operator's network vouches for the number
        }
        assert envelope["text"] == "Нужна справка о доходах"
        assert envelope["raw"]["content_type"] == "application/x-smpp-pdus+json"
        [answer] = await smsc.wait_for("deliver_sm_resp", where=lambda e: e["sequence"] == sequence)
        assert answer["status"] == 0

        [submit] = await smsc.wait_for(
            "submit_sm", where=lambda e: e["destination_addr"] == CITIZEN
        )
        number = envelope["ticket"]["number"]
        assert f"№{number}" in submit["text"] and submit["source_addr"] == SHORT_NUMBER

        notice = await only_notice(daemon, envelope)
        await smsc.receipt(submit["message_id"], stat="DELIVRD")

        await eventually(
            lambda: notification_in(daemon, notice["id"], "delivered"), "the receipt applied"
        )

        # Point 8: «СТАТУС N» in Latin look-alike letters answers by SMS; «СТОП» is confirmed
        # once and the number is on the suppression list.
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text=f"CTATYC {number}")
        [status] = await smsc.wait_for(
            "submit_sm", where=lambda e: e["text"].startswith(f"Обращение №{number}: Принято")
        )
        assert status["destination_addr"] == CITIZEN
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="стоп", data_coding=8)
        await smsc.wait_for("submit_sm", where=lambda e: e["text"].startswith("Вы отписаны"))
        async with daemon.admin() as admin:
            listed = (await admin.get("/api/v1/admin/suppressions")).json()["suppressions"]
        assert [(e["address"], e["reason"]) for e in listed] == [("+" + CITIZEN, "stop_requested")]
        # A receipt for an id we never had is answered, counted and logged; nothing breaks.
        sequence = await smsc.receipt("00DEADBEEF", stat="DELIVRD")
        [answer] = await smsc.wait_for("deliver_sm_resp", where=lambda e: e["sequence"] == sequence)
        assert answer["status"] == 0
        assert metric(daemon, "omnirouter_reports_unmatched_total", channel="sms") == 1
        async with daemon.admin() as admin:
            accounts = (await admin.get("/api/v1/admin/status")).json()["channels"]["sms"]
        assert accounts["accounts"]["short"]["state"] == "up"
    finally:
        daemon.stop()


async def test_each_notice_takes_its_own_receipt_whatever_its_ids_look_like(
    tmp_path: Path, smsc: Smsc
) -> None:
    """An SMSC that writes its ids in hex, zero-padded: 1A and 26 are two messages (no radix is
    guessed, which read "00000026" as decimal 26, the value of hex "0000001A"), and a receipt
    that writes one in lower case still finds it."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.message_ids("0000001A", "00000026")
        notices = {}
        for citizen, text in ((CITIZEN, "Нужна справка"), ("79161234568", "Прошу выписку")):
            await smsc.deliver(source=citizen, destination=SHORT_NUMBER, text=text, data_coding=8)
            [submit] = await smsc.wait_for(
                "submit_sm", where=lambda e, to=citizen: e["destination_addr"] == to
            )
            [envelope] = await eventually(
                lambda to=citizen: _from(daemon, to), "the citizen's SMS filed"
            )
            notice = await only_notice(daemon, envelope)
            await eventually(lambda n=notice: notification_in(daemon, n["id"], "sent"), "sent")
            notices[submit["message_id"]] = notice["id"]
        assert set(notices) == {"0000001A", "00000026"}

        await smsc.receipt("00000026", stat="UNDELIV")
        # Failed, and with no other verified channel of the citizen's a dead letter.
        failed = await eventually(
            lambda: notification_in(daemon, notices["00000026"], "dead"), "the second failed"
        )
        assert "UNDELIV" in str(failed)
        assert await notification_in(daemon, notices["0000001A"], "sent")
        await smsc.receipt("1a", stat="DELIVRD")
        await eventually(
            lambda: notification_in(daemon, notices["0000001A"], "delivered"), "the first delivered"
        )
        assert metric(daemon, "omnirouter_reports_unmatched_total", channel="sms") == 0
    finally:
        daemon.stop()


async def test_an_smsc_that_answers_hex_and_writes_receipts_in_decimal(
    tmp_path: Path, smsc: Smsc
) -> None:
    """With message_id_radix naming the two bases, hex 00000010 is receipt text's 16; an id in
    receipted_message_id is written as the answer wrote it (SMPP 3.4 5.3.2.12): hex."""
    daemon = sms_daemon(
        tmp_path / "daemon", smsc, 'message_id_radix = "hex-answer-decimal-receipt"\n'
    )
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.message_ids("00000010", "00000011")
        notices = []
        for citizen in ("79161110010", "79161110011"):
            await smsc.deliver(source=citizen, destination=SHORT_NUMBER, text="Нужна справка")
            filed = functools.partial(sms_from, daemon, citizen)
            [envelope] = await eventually(filed, "the SMS filed")
            notice = await only_notice(daemon, envelope)
            notices.append(notice["id"])
        submits = await smsc.wait_for("submit_sm", count=2)
        assert [s["message_id"] for s in submits] == ["00000010", "00000011"]
        await smsc.receipt("16", stat="DELIVRD")  # the text's decimal
        await smsc.receipt("00000011", stat="UNDELIV", format="tlvs")  # hex, as answered
        await eventually(
            lambda: notification_in(daemon, notices[0], "delivered"), "the text receipt applied"
        )
        await eventually(lambda: ended(daemon, notices[1]), "the TLV receipt applied")
    finally:
        daemon.stop()


async def test_a_receipt_is_never_taken_for_a_citizens_sms(tmp_path: Path, smsc: Smsc) -> None:
    """A receipt in UCS2 is read; one that names no message id, or no state, is answered,
    counted and logged, and never filed: as a citizen's SMS it opened a ticket and sent the
    SMSC's receipt a confirmation, billed."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Нужна справка")
        [submit] = await smsc.wait_for("submit_sm")
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the SMS filed")
        notice = await only_notice(daemon, envelope)

        receipt = f"id:{submit['message_id']} sub:001 dlvrd:001 stat:DELIVRD err:000 text:"
        unreadable = [
            ("Сообщение доставлено", 8),  # a vendor's own words, no message id
            ("id:0ABC sub:001 dlvrd:001 err:000 text:", 0),  # no stat
        ]
        for text, data_coding in [(receipt, 8), *unreadable]:
            sequence = await smsc.deliver(
                source=CITIZEN, destination=SHORT_NUMBER, text=text, data_coding=data_coding,
                esm_class=0x04,  # SMPP 3.4 5.2.12: an SMSC delivery receipt
            )  # fmt: skip
            [answer] = await smsc.wait_for(
                "deliver_sm_resp", where=lambda e, s=sequence: e["sequence"] == s
            )
            assert answer["status"] == 0  # taken: the SMSC must not resend it for ever
        await eventually(
            lambda: notification_in(daemon, notice["id"], "delivered"), "the UCS2 receipt read"
        )
        for reason in ("unreadable receipt", "receipt without a state"):
            assert metric(daemon, "omnirouter_bad_input_total", channel="sms", reason=reason) == 1

        # A citizen's SMS after them is filed and confirmed: the receipts were not.
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Ещё вопрос")
        filed = await eventually(
            lambda: _two(sms_envelopes(daemon)), "the citizen's next SMS filed"
        )
        assert [e["text"] for e in filed] == ["Нужна справка", "Ещё вопрос"]
        await smsc.wait_for("submit_sm", count=2)
        assert len([e for e in await smsc.log() if e["type"] == "submit_sm"]) == 2
    finally:
        daemon.stop()


async def _two(envelopes: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The envelopes once there are two or more."""
    found = await envelopes
    return found if len(found) >= 2 else []


async def _from(daemon: DaemonProcess, citizen: str) -> list[dict[str, Any]]:
    """The SMS envelopes from `citizen`."""
    return [e for e in await sms_envelopes(daemon) if e["sender"]["address"] == "+" + citizen]


async def test_receiver_and_transmitter_binds_and_a_busy_smsc(tmp_path: Path, smsc: Smsc) -> None:
    """Two binds of each kind; a throttled or full SMSC is waited out without a failed attempt,
    and the binds up are in the status and a gauge."""
    daemon = sms_daemon(
        tmp_path / "daemon",
        smsc,
        'bind = "receiver+transmitter"\nbinds = 2\naddress_range = "^0911"\n',
    )
    daemon.start()
    try:
        receivers = await smsc.wait_for("bind_receiver", count=2)
        assert {bind["address_range"] for bind in receivers} == {"^0911"}
        await smsc.wait_for("bind_transmitter", count=2)
        await smsc.throttle(1)
        await smsc.queue_full(1)
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Prosba o spravke")
        [envelope] = await eventually(
            lambda: sms_envelopes(daemon), "the SMS filed from a receiver bind"
        )
        refused = await smsc.wait_for("submit_sm", count=2)
        assert [entry["status"] for entry in refused] == [0x58, 0x14]  # THROTTLED, MSGQFUL
        [confirmation] = await smsc.wait_for("submit_sm", where=lambda e: e["status"] == 0)
        assert confirmation["destination_addr"] == CITIZEN
        notice = await only_notice(daemon, envelope)

        notification = await eventually(
            lambda: notification_in(daemon, notice["id"], "sent"), "the confirmation sent"
        )
        assert notification["attempts"] == 1  # neither answer counted as a failed attempt
        async with daemon.admin() as admin:
            status = (await admin.get("/api/v1/admin/status")).json()
        assert status["channels"]["sms"]["accounts"]["short"]["binds"] == 4
        assert metric(daemon, "omnirouter_channel_detail", channel="sms", figure="binds") == 4
        assert ", 4 binds" in daemon.cli("status").stdout
    finally:
        daemon.stop()


async def test_the_smscs_unbind_is_answered_and_bound_again(tmp_path: Path, smsc: Smsc) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        sequence = await smsc.unbind()
        [answer] = await smsc.wait_for("unbind_resp")
        assert (answer["sequence"], answer["status"]) == (sequence, 0)
        await smsc.wait_for("bind_transceiver", count=2)
        async with daemon.admin() as admin:
            status = (await admin.get("/api/v1/admin/status")).json()
        short = status["channels"]["sms"]["accounts"]["short"]
        assert short["restarts"] == 1 and "the SMSC unbound the session" in short["last_error"]
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="after the rebind")
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the SMS filed")
        assert envelope["text"] == "after the rebind"
    finally:
        daemon.stop()


async def test_a_bind_that_ends_leaves_the_other_binds_their_answers(
    tmp_path: Path, smsc: Smsc
) -> None:
    """The SMSC unbinds the receiver while the transmitter's submit awaits its answer: the
    transmitter takes no more submits, waits for that answer and unbinds before the account
    binds again, and the notice is sent, not failed as one whose outcome is unknown."""
    daemon = sms_daemon(tmp_path / "daemon", smsc, 'bind = "receiver+transmitter"\n')
    daemon.start()
    try:
        await smsc.wait_for("bind_receiver")
        await smsc.wait_for("bind_transmitter")
        await smsc.hold()
        envelope = await citizen_writes(daemon, smsc)
        [submit] = await smsc.wait_for("submit_sm")  # its answer held
        await smsc.unbind()  # the simulator's bound receiver: the transmitter stays
        await smsc.wait_for("unbind_resp")
        assert await smsc.release() == 1
        notice = await only_notice(daemon, envelope)
        await eventually(lambda: notification_in(daemon, notice["id"], "sent"), "the notice sent")
        await smsc.wait_for("unbind")  # the transmitter's, once its answer came
        await smsc.wait_for("bind_receiver", count=2)
        await smsc.receipt(submit["message_id"], stat="DELIVRD")
        await eventually(
            lambda: notification_in(daemon, notice["id"], "delivered"), "the receipt applied"
        )
        async with daemon.admin() as admin:
            status = (await admin.get("/api/v1/admin/status")).json()
        short = status["channels"]["sms"]["accounts"]["short"]
        assert short["restarts"] == 1 and "the SMSC unbound the session" in short["last_error"]
    finally:
        daemon.stop()


async def test_a_notice_during_a_reload_waits_for_the_account_it_restarts(
    tmp_path: Path, smsc: Smsc
) -> None:
    """A reload changes the one SMS account: while its bind drains (a submit's answer held),
    the channel has no account, and a status notice queued meanwhile waits for the new one
    and is sent, where it failed for good as "channel sms is not enabled"."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        envelope = await citizen_writes(daemon, smsc)
        number = envelope["ticket"]["number"]
        await smsc.wait_for("submit_sm")  # the confirmation, answered
        await smsc.hold()
        await status_change(daemon, number, "in_progress")
        await smsc.wait_for("submit_sm", count=2)  # its answer held: the bind has one to wait for
        account = daemon.config / "channels" / "sms.toml"
        account.write_text(account.read_text() + "window = 5\n")
        daemon.signal(signal.SIGHUP)

        async def draining() -> bool:
            async with daemon.admin() as admin:
                channels = (await admin.get("/api/v1/admin/status")).json()["channels"]
            return "short" not in channels.get("sms", {}).get("accounts", {})

        await eventually(draining, "the account stopping, its bind draining")
        queued = await status_change(daemon, number, "under_review")

        async def held_back() -> dict[str, Any] | None:
            found = await notification_in(daemon, queued, "queued")
            events = [h.get("event") for h in (found or {}).get("history", [])]
            return found if "throttled" in events else None

        waiting = await eventually(held_back, "the notice waiting for the account")
        assert waiting["attempts"] == 0
        assert await smsc.release() == 1  # the drain ends, the account binds again
        await smsc.wait_for("bind_transceiver", count=2)
        await eventually(lambda: notification_in(daemon, queued, "sent"), "sent after the reload")
    finally:
        daemon.stop()


async def status_change(daemon: DaemonProcess, number: str, status: str) -> str:
    """The backend sets the ticket's status; the notification it queued."""
    async with daemon.backend() as backend:
        changed = await backend.post(f"/api/v1/tickets/{number}/status", json={"status": status})
    assert changed.status_code == 202, changed.text
    notice: str = changed.json()["notification_id"]
    return notice


async def test_the_binds_unbind_as_the_daemon_stops(tmp_path: Path, smsc: Smsc) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc, 'bind = "receiver+transmitter"\n')
    daemon.start()
    try:
        await smsc.wait_for("bind_receiver")
        await smsc.wait_for("bind_transmitter")
    finally:
        assert daemon.stop() == 0
    ends = [e["type"] for e in await smsc.log() if e["type"] in ("unbind", "closed")]
    # Both binds unbound, and no connection closed before its unbind.
    assert sorted(ends) == ["closed", "closed", "unbind", "unbind"]
    assert all(ends[:n].count("unbind") >= ends[:n].count("closed") for n in range(5))
    assert not [r for r in daemon.log_lines() if "restart" in r.get("message", "")]


async def test_the_smscs_outbind_opens_a_receiver_bind(tmp_path: Path, smsc: Smsc) -> None:
    """An outbind with the wrong credentials is refused without harm to the account; with the
    right ones we bind as a receiver on the SMSC's connection and take its messages there."""
    port = free_port()
    daemon = sms_daemon(tmp_path / "daemon", smsc, f'outbind_listen = "127.0.0.1:{port}"\n')
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.outbind(port, password="forged")
        await smsc.wait_for("closed")  # no bind on it: we hung up
        await smsc.outbind(port)
        [bind] = await smsc.wait_for("bind_receiver")
        assert bind["status"] == 0 and bind["system_id"] == SYSTEM_ID
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="via outbind")
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the SMS filed")
        assert envelope["text"] == "via outbind"
        async with daemon.admin() as admin:
            status = (await admin.get("/api/v1/admin/status")).json()
        short = status["channels"]["sms"]["accounts"]["short"]
        assert (short["state"], short["binds"], short["restarts"]) == ("up", 2, 0)
    finally:
        daemon.stop()


async def test_an_unreadable_deliver_sm_is_kept_answered_and_listed(
    tmp_path: Path, smsc: Smsc
) -> None:
    """Never lost, never refused for ever: its bytes are filed unparseable and listed."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        sequence = await smsc.malformed("body")

        async def listed() -> list[dict[str, Any]]:
            async with daemon.admin() as admin:
                letters = (await admin.get("/api/v1/admin/dlq")).json()["dead_letters"]
            return [letter for letter in letters if letter["subject"] == "sms/short"]

        [letter] = await eventually(listed, "the unreadable SMS listed")
        assert letter["last_error"].startswith("unparseable")
        [answer] = await smsc.wait_for("deliver_sm_resp", where=lambda e: e["sequence"] == sequence)
        assert answer["status"] == 0  # taken: the SMSC must not resend it for ever
        [envelope] = await sms_envelopes(daemon)
        assert envelope["flags"] == ["unparseable"]
        async with daemon.backend() as backend:
            raw = await backend.get(f"/api/v1/raw/{envelope['raw']['id']}")
        assert raw.headers["content-type"] == "application/octet-stream"
        assert len(raw.content) == envelope["raw"]["size"] > 0
    finally:
        daemon.stop()


async def test_a_refused_bind_is_shown_and_retried(tmp_path: Path, smsc: Smsc) -> None:
    """The account backs off and says why; the daemon and its other channels go on."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    write_secret(daemon.config / "secrets" / "sms.password", "wrong\n")
    daemon.start()
    try:

        async def refused() -> dict[str, Any] | None:
            async with daemon.admin() as admin:
                status = (await admin.get("/api/v1/admin/status")).json()
            account: dict[str, Any] = status["channels"]["sms"]["accounts"]["short"]
            return account if account["last_error"] else None

        account = await eventually(refused, "the refused bind shown")
        assert "bind refused: ESME_RINVPASWD" in account["last_error"]
        assert account["state"] in ("backoff", "starting")
        assert daemon.process is not None and daemon.process.poll() is None
    finally:
        daemon.stop()


async def test_each_refusal_of_a_confirmation_ends_as_its_status_says(
    tmp_path: Path, smsc: Smsc
) -> None:
    """Point 3's policy, notice by notice: ESME_RSYSERR is a failed attempt tried again, any
    other status fails the notice with its name, and a submit never answered fails it once,
    "not sent again" (the SMSC may have it), never silently sent twice."""
    daemon = sms_daemon(tmp_path / "daemon", smsc, 'response_timeout = "2s"\n')
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")

        async def confirmation_of(citizen: str, refusal: Callable[[], Awaitable[None]]) -> str:
            await refusal()
            await smsc.deliver(source=citizen, destination=SHORT_NUMBER, text="Нужна справка")
            [envelope] = await eventually(
                lambda: sms_from(daemon, citizen), f"the SMS of {citizen} filed"
            )
            return str((await only_notice(daemon, envelope))["id"])

        retried = await confirmation_of("79161110001", lambda: smsc.refuse("ESME_RSYSERR"))
        sent = await eventually(lambda: notification_in(daemon, retried, "sent"), "sent again")
        assert sent["attempts"] == 2  # the refusal counted as an attempt

        refused = await confirmation_of("79161110002", lambda: smsc.refuse("ESME_RINVDSTADR"))
        failed = await eventually(lambda: ended(daemon, refused), "failed with its status")
        assert "ESME_RINVDSTADR" in failed["last_error"] and failed["attempts"] == 1

        unanswered = await confirmation_of("79161110003", lambda: smsc.silence(1))
        failed = await eventually(lambda: ended(daemon, unanswered), "failed, not sent again")
        assert "not sent again" in failed["last_error"]
        submits = await smsc.wait_for(
            "submit_sm", where=lambda e: e["destination_addr"] == "79161110003"
        )
        assert len(submits) == 1
    finally:
        daemon.stop()


async def sms_from(daemon: DaemonProcess, citizen: str) -> list[dict[str, Any]]:
    """The SMS envelopes from `citizen`."""
    return [e for e in await sms_envelopes(daemon) if e["sender"]["address"] == "+" + citizen]


async def ended(daemon: DaemonProcess, notice_id: str) -> dict[str, Any] | None:
    """The notification once it failed for good (failed, or dead with no fallback left)."""
    return await notification_in(daemon, notice_id, "failed") or await notification_in(
        daemon, notice_id, "dead"
    )
