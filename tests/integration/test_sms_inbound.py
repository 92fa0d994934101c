"""Citizens' SMS over the daemon and the SMSC simulator: long messages reassembled from parts in
any order and across reconnects, or filed incomplete after the timeout; a daemon killed before
its commit, the deliver_sm unread or read, loses nothing and files nothing twice; the same text
sent again is a new message."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from tests.smsc import Smsc, smsc, smsc_server

from .daemon import DaemonProcess, eventually
from .test_sms_channel import CITIZEN, SHORT_NUMBER, sms_daemon, sms_envelopes

__all__ = ["smsc", "smsc_server"]  # the fixtures, for pytest to find

# 3GPP TS 23.040 9.2.3.24.1 and .8: a concatenation UDH with an 8-bit and a 16-bit reference.
UDH8 = "050003{ref:02x}{total:02x}{seq:02x}"
UDH16 = "060804{ref:04x}{total:02x}{seq:02x}"
# Three parts of a citizen's long SMS in UCS2 (67 characters a part with an 8-bit reference).
PARTS = ["Здравствуйте! " * 4 + "Прошу ", "пересчитать плату за отопление ", "за ноябрь."]


async def filed_sms(daemon: DaemonProcess, count: int) -> list[dict[str, Any]] | None:
    """The SMS envelopes in the feed once there are `count`."""
    found = await sms_envelopes(daemon)
    return found if len(found) == count else None


async def deliver_part(smsc: Smsc, udh: str, text: str, source: str = CITIZEN) -> int:
    """One part of a long SMS, its place in a UDH."""
    return await smsc.deliver(
        source=source, destination=SHORT_NUMBER, text=text, data_coding=8, udh={"hex": udh}
    )


async def test_long_sms_are_reassembled_in_any_order_and_across_a_reconnect(
    tmp_path: Path, smsc: Smsc
) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        # An 8-bit reference: the last part first, then the connection drops.
        await deliver_part(smsc, UDH8.format(ref=7, total=3, seq=3), PARTS[2])
        await deliver_part(smsc, UDH8.format(ref=7, total=3, seq=1), PARTS[0])
        await smsc.wait_for("deliver_sm_resp", count=2)
        await smsc.drop()
        await smsc.wait_for("bind_transceiver", count=2)
        await deliver_part(smsc, UDH8.format(ref=7, total=3, seq=2), PARTS[1])
        # A 16-bit reference from another number, and SMPP's sar_* TLVs from a third.
        await deliver_part(smsc, UDH16.format(ref=0x1234, total=2, seq=2), "вторая", "79161112233")
        await deliver_part(
            smsc, UDH16.format(ref=0x1234, total=2, seq=1), "Первая и ", "79161112233"
        )
        for seq, text in ((2, "world"), (1, "hello ")):
            await smsc.deliver(
                source="79162223344", destination=SHORT_NUMBER, text=text,
                sar_msg_ref_num=9, sar_total_segments=2, sar_segment_seqnum=seq,
            )  # fmt: skip

        filed = await eventually(lambda: filed_sms(daemon, 3), "3 long SMS")
        envelopes = {e["sender"]["address"]: e for e in filed}
        assert envelopes["+" + CITIZEN]["text"] == "".join(PARTS).strip()
        assert envelopes["+79161112233"]["text"] == "Первая и вторая"
        assert envelopes["+79162223344"]["text"] == "hello world"
        assert all("incomplete" not in e["flags"] for e in envelopes.values())
        # Every part was answered, each once it was kept.
        answers = await smsc.wait_for("deliver_sm_resp", count=7)
        assert {answer["status"] for answer in answers} == {0}
        async with daemon.backend() as backend:
            raw = await backend.get(f"/api/v1/raw/{envelopes['+' + CITIZEN]['raw']['id']}")
        assert len(raw.json()["pdus"]) == 3
    finally:
        daemon.stop()


async def test_parts_that_stop_coming_are_filed_incomplete(tmp_path: Path, smsc: Smsc) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc, 'reassembly_timeout = "1s"\n')
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await deliver_part(smsc, UDH8.format(ref=40, total=3, seq=1), PARTS[0])
        await deliver_part(smsc, UDH8.format(ref=40, total=3, seq=3), PARTS[2])
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the parts filed")
        assert "incomplete" in envelope["flags"]
        assert envelope["text"] == PARTS[0] + "[…]" + PARTS[2]
        # Part 2 after all: the SMSC had it late. It is filed too, not lost.
        await deliver_part(smsc, UDH8.format(ref=40, total=3, seq=2), PARTS[1])

        late = (await eventually(lambda: filed_sms(daemon, 2), "the late part filed"))[1]
        assert late["text"] == "[…]" + PARTS[1] + "[…]" and "incomplete" in late["flags"]
    finally:
        daemon.stop()


async def test_a_reference_reused_before_its_message_was_whole_mixes_nothing(
    tmp_path: Path, smsc: Smsc
) -> None:
    """A handset's references run to 255: a new long message may reuse one whose parts are
    still held. The earlier message is filed as far as it came; the new one whole."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await deliver_part(smsc, UDH8.format(ref=3, total=2, seq=1), "Первое сообщение, ")
        await deliver_part(smsc, UDH8.format(ref=3, total=2, seq=1), "Второе сообщение, ")
        await deliver_part(smsc, UDH8.format(ref=3, total=2, seq=2), "целиком.")
        filed = await eventually(lambda: filed_sms(daemon, 2), "both filed")
        texts = {e["text"]: e["flags"] for e in filed}
        assert "incomplete" in texts["Первое сообщение, […]"]
        assert "incomplete" not in texts["Второе сообщение, целиком."]
    finally:
        daemon.stop()


async def test_a_daemon_killed_before_its_commit_files_the_redelivery_once(
    tmp_path: Path, smsc: Smsc
) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        # Frozen, the daemon reads nothing: the deliver_sm waits in its socket, uncommitted and
        # unanswered, when it dies. The SMSC delivers it again on the next bind.
        daemon.signal(signal.SIGSTOP)
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Где мой паспорт?")
        daemon.kill()
        daemon.start()
        await smsc.wait_for("redelivered")
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the redelivery filed")
        assert envelope["text"] == "Где мой паспорт?"
        # Committed and answered once, then the daemon restarts: nothing comes twice.
        daemon.stop()
        daemon.start()
        await smsc.wait_for("bind_transceiver", count=3)
        await smsc.ping()
        assert len(await sms_envelopes(daemon)) == 1
        assert [e for e in await smsc.log() if e["type"] == "redelivered"] != []
    finally:
        daemon.stop()


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Another writer holding the database's write lock: the daemon's commits wait for it (in
    SQLite's busy handler) until the block ends."""
    with closing(sqlite3.connect(database, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")


def unread_from(port: int) -> list[int]:
    """The bytes each established connection to loopback `port` has received and its process
    not read yet (Linux's /proc/net/tcp rx_queue)."""
    unread = []
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        remote, state, queues = fields[2], fields[3], fields[4]
        if state == "01" and int(remote.split(":")[1], 16) == port:  # 01: ESTABLISHED
            unread.append(int(queues.split(":")[1], 16))
    return unread


async def test_a_daemon_killed_with_a_deliver_sm_read_and_not_committed_files_it_once(
    tmp_path: Path, smsc: Smsc
) -> None:
    """The deliver_sm read off the socket and its commit waiting for the database (another
    writer holds its lock) when the daemon is killed: unanswered, the SMSC delivers it again on
    the next bind, and it is filed once."""
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        with write_lock(daemon.state / "omnirouter.db"):
            await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Где мой паспорт?")

            async def read() -> bool | None:
                # The one bind's connection, its deliver_sm taken off the socket.
                return unread_from(smsc.port) == [0] or None

            await eventually(read, "the daemon reading the deliver_sm")
            daemon.kill()
        assert [e for e in await smsc.log() if e["type"] == "deliver_sm_resp"] == []
        daemon.start()
        await smsc.wait_for("redelivered")
        [envelope] = await eventually(lambda: sms_envelopes(daemon), "the redelivery filed")
        assert envelope["text"] == "Где мой паспорт?"
        await smsc.wait_for("deliver_sm_resp")
        assert len(await sms_envelopes(daemon)) == 1
    finally:
        daemon.stop()


async def test_the_same_text_sent_again_is_a_new_message(tmp_path: Path, smsc: Smsc) -> None:
    daemon = sms_daemon(tmp_path / "daemon", smsc)
    daemon.start()
    try:
        await smsc.wait_for("bind_transceiver")
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Прошу перезвонить")
        [first] = await eventually(lambda: sms_envelopes(daemon), "the first SMS filed")
        await smsc.wait_for("deliver_sm_resp")
        await smsc.deliver(source=CITIZEN, destination=SHORT_NUMBER, text="Прошу перезвонить")

        second = (await eventually(lambda: filed_sms(daemon, 2), "the same text again"))[1]
        assert second["id"] != first["id"]
        assert second["text"] == first["text"]
        assert second["ticket"]["number"] == first["ticket"]["number"]
    finally:
        daemon.stop()
