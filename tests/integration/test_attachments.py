"""Attachments end to end: uploads scanned by a real clamd, quarantine, holding, limits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.clamd import EICAR, EICAR_SIGNATURE, ClamdServer
from tests.samples import DOCX, HEIC, JPEG, MZ, ODT, PDF, PNG, TIFF, XLSX, encrypted, zipped

from .daemon import ChatClient, DaemonProcess, open_chat, wait_notice

WEBCHAT_LIMIT = '[attachments.limits.webchat]\nfile = "5MB"'


def with_clamd(root: Path, address: str, extra: dict[str, str] | None = None) -> DaemonProcess:
    """A daemon configured to scan with the given clamd (not started)."""
    daemon = DaemonProcess(root)
    daemon.edit_router('clamd = "unix:/run/clamav/clamd.ctl"', f'clamd = "{address}"')
    for old, new in (extra or {}).items():
        daemon.edit_router(old, new)
    return daemon


@pytest.fixture
def daemon(tmp_path: Path, clamd: ClamdServer) -> Iterator[DaemonProcess]:
    """A daemon scanning with the session's clamd; webchat files up to 12 MB for the 10 MB test."""
    running = with_clamd(
        tmp_path,
        clamd.address_unix,
        {WEBCHAT_LIMIT: WEBCHAT_LIMIT.replace('"5MB"', '"12MB"')},
    )
    running.start()
    yield running
    running.stop()


async def attach(
    daemon: DaemonProcess,
    chat: ChatClient,
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    """Upload one file for the citizen's session; the receipt."""
    assert chat.session
    response = await upload(daemon, chat.session, name, data, content_type)
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def upload(
    daemon: DaemonProcess,
    session: str,
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """POST /chat/upload one file for a session."""
    async with httpx.AsyncClient(base_url=daemon.base, timeout=60) as client:
        return await client.post(
            "/chat/upload",
            headers={"X-Chat-Session": session},
            files={"file": (name, data, content_type)},
        )


async def feed(daemon: DaemonProcess, *, wait: float = 0) -> list[dict[str, Any]]:
    """Every envelope in the feed (long-polling up to `wait` when empty)."""
    async with daemon.backend() as client:
        response = await client.get("/api/v1/envelopes", params={"after": 0, "wait": wait})
        envelopes: list[dict[str, Any]] = response.json()["envelopes"]
        return envelopes


async def released(daemon: DaemonProcess) -> list[dict[str, Any]]:
    """The feed once a held envelope has been released into it (rescans run every 5 s)."""
    with trio.fail_after(60):
        while True:
            if envelopes := await feed(daemon, wait=20):
                return envelopes


async def test_clean_files_of_each_allowed_type_are_accepted_and_served(
    daemon: DaemonProcess,
) -> None:
    """Every allowed type scans clean, keeps its detected type and reaches the backend intact."""
    files = {
        "scan.pdf": (PDF, "application/pdf", "application/pdf"),
        "screen.png": (PNG, "image/png", "image/png"),
        "photo.jpg": (JPEG, "image/jpeg", "image/jpeg"),
        "note.txt": ("Паспорт 4510 123456".encode(), "text/plain", "text/plain"),
        "scan.tiff": (TIFF, "image/tiff", "image/tiff"),
        "IMG_0001.HEIC": (HEIC, "image/heic", "image/heic"),
        "application.docx": (DOCX, "application/msword", "application/vnd.openxmlformats"),
        "letter.odt": (ODT, "application/vnd.oasis.opendocument.text", "application/vnd.oasis"),
        "table.xlsx": (XLSX, "application/vnd.ms-excel", "application/vnd.openxmlformats"),
        "docs.zip": (zipped({"a.pdf": PDF, "b.png": PNG}), "application/zip", "application/zip"),
    }
    async with open_chat(daemon) as chat:
        ids = []
        for name, (data, declared, _) in files.items():
            receipt = await attach(daemon, chat, name, data, declared)
            assert receipt["scan"]["status"] == "clean", receipt
            ids.append(receipt["upload_id"])
        for part in (ids[:5], ids[5:]):  # five files per chat message (the default limit)
            accepted = await chat.write("Прикладываю документы", attachment_ids=part)
            assert accepted["type"] == "accepted", accepted
    envelopes = await feed(daemon, wait=10)
    listed = {a["filename"]: a for e in envelopes for a in e["attachments"]}
    assert set(listed) == set(files)
    async with daemon.backend() as client:
        for name, (data, _, detected) in files.items():
            attachment = listed[name]
            assert attachment["scan"]["status"] == "clean"
            assert attachment["content_type"].startswith(detected)
            response = await client.get(f"/api/v1/attachments/{attachment['id']}")
            assert response.status_code == 200
            assert response.content == data
            assert response.headers["content-disposition"].startswith("attachment;")
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_eicar_in_a_pdf_named_file_is_quarantined_and_explained(
    daemon: DaemonProcess,
) -> None:
    """EICAR named .pdf is infected: quarantined, refused to the backend, named to the citizen."""
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, "справка.pdf", EICAR, "application/pdf")
        assert receipt["scan"] == {"status": "infected", "detail": EICAR_SIGNATURE}
        await chat.write("Справка во вложении", attachment_ids=[receipt["upload_id"]])
        confirmation = await wait_notice(chat, "confirmation")
    assert "справка.pdf" in confirmation["text"]
    assert "вирус" in confirmation["text"]
    [envelope] = await feed(daemon, wait=10)
    assert envelope["attachments"][0]["scan"]["status"] == "infected"
    assert "infected_attachment" in envelope["flags"]
    async with daemon.backend() as backend, daemon.admin() as admin:
        path = f"/api/v1/attachments/{receipt['upload_id']}"
        assert (await backend.get(path)).status_code == 403
        analyst = await admin.get(f"/api/v1/admin/attachments/{receipt['upload_id']}")
        assert analyst.status_code == 200 and analyst.content == EICAR
        metrics = (await admin.get("/metrics")).text
    assert 'omnirouter_attachments_scanned_total{result="infected"} 1.0' in metrics
    assert "omnirouter_quarantine_files 1.0" in metrics


@pytest.mark.parametrize(
    ("name", "data", "status", "reason_word"),
    [
        (
            "archive.zip",
            zipped({"inner/readme.txt": b"hello", "inner/virus.txt": EICAR}),
            "infected",
            "вирус",
        ),
        ("bomb.zip", zipped({"zeros.txt": bytes(50 * 1024 * 1024)}), "rejected", "архив"),
        ("invoice.pdf", MZ, "rejected", "программы"),
    ],
    ids=["eicar-in-zip", "zip-bomb", "renamed-executable"],
)
async def test_dangerous_files_are_not_accepted(
    daemon: DaemonProcess, name: str, data: bytes, status: str, reason_word: str
) -> None:
    """EICAR in a ZIP, a zip bomb and a renamed executable are refused with a plain reason."""
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, name, data)
        assert receipt["scan"]["status"] == status, receipt
        await chat.write("Вложение", attachment_ids=[receipt["upload_id"]])
        confirmation = await wait_notice(chat, "confirmation")
    assert name in confirmation["text"] and reason_word in confirmation["text"]
    [envelope] = await feed(daemon, wait=10)
    assert envelope["attachments"][0]["scan"]["status"] == status


async def test_encrypted_archive_is_never_called_clean(daemon: DaemonProcess) -> None:
    """A password-protected ZIP cannot be scanned: status error, flagged, the citizen told why."""
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, "scans.zip", encrypted({"a.pdf": PDF}))
        assert receipt["scan"]["status"] == "error"
        await chat.write("Архив со сканами", attachment_ids=[receipt["upload_id"]])
        confirmation = await wait_notice(chat, "confirmation")
    assert "scans.zip" in confirmation["text"] and "паролем" in confirmation["text"]
    [envelope] = await feed(daemon, wait=10)
    assert envelope["attachments"][0]["scan"]["status"] == "error"
    assert {"encrypted_archive", "unscanned_attachment"} <= set(envelope["flags"])


async def test_quarantining_one_file_leaves_the_same_bytes_accepted_elsewhere(
    daemon: DaemonProcess,
) -> None:
    """Content refused for its name (a .bat) stays served to whoever sent it as a .txt."""
    content = "Прошу выдать справку о доходах.".encode()
    async with open_chat(daemon) as chat:
        accepted = await attach(daemon, chat, "statement.txt", content, "text/plain")
        refused = await attach(daemon, chat, "run.bat", content)
    assert accepted["scan"]["status"] == "clean"
    assert refused["scan"]["status"] == "rejected"
    async with daemon.backend() as backend, daemon.admin() as admin:
        served = await backend.get(f"/api/v1/attachments/{accepted['upload_id']}")
        assert served.status_code == 200 and served.content == content
        assert (await backend.get(f"/api/v1/attachments/{refused['upload_id']}")).status_code == 403
        kept = await admin.get(f"/api/v1/admin/attachments/{refused['upload_id']}")
        assert kept.status_code == 200 and kept.content == content


async def test_malware_wins_over_a_type_refusal(daemon: DaemonProcess) -> None:
    """An executable that is also malware is reported infected, not merely rejected."""
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, "tool.exe", MZ + EICAR)
    assert receipt["scan"] == {"status": "infected", "detail": EICAR_SIGNATURE}


async def test_renamed_executable_is_flagged_as_type_mismatch(daemon: DaemonProcess) -> None:
    """A PE executable declared as a PDF carries the type_mismatch flag."""
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, "invoice.pdf", MZ, "application/pdf")
        await chat.write("Счёт", attachment_ids=[receipt["upload_id"]])
    [envelope] = await feed(daemon, wait=10)
    assert "type_mismatch" in envelope["flags"]
    assert "rejected_attachment" in envelope["flags"]


async def test_limits_refuse_with_a_clear_answer(daemon: DaemonProcess) -> None:
    """Over the file limit: 413 and nothing kept; too many files or another's upload: error."""
    async with open_websocket_url(daemon.ws_url) as ws, open_websocket_url(daemon.ws_url) as ws2:
        chat, other = ChatClient(ws), ChatClient(ws2)
        await chat.hello()
        await other.hello()
        assert chat.session and other.session
        too_big = await upload(daemon, chat.session, "big.txt", b"a" * (12 * 1024 * 1024 + 1))
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "file_too_large"
        ids = [
            (await attach(daemon, chat, f"{i}.txt", b"text %d" % i))["upload_id"] for i in range(6)
        ]
        refused = await chat.write("много файлов", attachment_ids=ids)
        assert refused["type"] == "error" and refused["code"] == "too_many_attachments"
        theirs = await other.write("чужой файл", attachment_ids=ids[:1])
        assert theirs["type"] == "error" and theirs["code"] == "unknown_attachment"
        assert (await upload(daemon, "no-such-session", "a.txt", b"x")).status_code == 401
    assert await feed(daemon) == []
    async with daemon.admin() as admin:
        metrics = (await admin.get("/metrics")).text
    assert (
        'omnirouter_attachments_refused_total{channel="webchat",reason="file_too_large"} 1.0'
        in metrics
    )


async def declared_only(daemon: DaemonProcess, head: str) -> int:
    """Send request headers that declare a body, but no body; the answer's status code.

    The refusal must come from the declaration alone: a client still sending a large body
    could see the connection reset instead of the answer. It also says the connection closes:
    the unread body is still on it, so a keep-alive client must not send its next request there.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", daemon.port)
    async with stream:
        await stream.send_all(head.replace("\n", "\r\n").encode() + b"\r\n")
        answer = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in answer:
                answer += await stream.receive_some(4096)
    headers = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"\r\nconnection: close" in headers, answer
    return int(answer.split(b" ", 2)[1])


async def test_oversized_or_unsized_bodies_are_refused_before_they_are_read(
    daemon: DaemonProcess,
) -> None:
    """A body declared over the limit gets 413 and one without a length 411; nothing is kept."""
    async with open_chat(daemon) as chat:
        assert chat.session
        upload_head = (
            "POST /chat/upload HTTP/1.1\nHost: omnirouter\n"
            f"X-Chat-Session: {chat.session}\n"
            "Content-Type: multipart/form-data; boundary=x\n"
        )
        assert await declared_only(daemon, upload_head + "Content-Length: 13631488\n") == 413
        assert await declared_only(daemon, upload_head + "Transfer-Encoding: chunked\n") == 411
        form_head = (
            "POST /api/v1/forms/feedback HTTP/1.1\nHost: omnirouter\n"
            "Content-Type: application/json\nContent-Length: 2097152\n"
        )
        assert await declared_only(daemon, form_head) == 413
    assert await feed(daemon) == []
    assert not list((daemon.state / "blobs").rglob("*.*"))


async def test_ten_megabyte_file_is_scanned_without_holding_it_in_memory(
    daemon: DaemonProcess,
) -> None:
    """Peak memory of the daemon grows far less than a 10 MB file while it is stored and scanned."""
    data = secrets.token_bytes(10 * 1024 * 1024)
    before = _peak_rss(daemon)
    async with open_chat(daemon) as chat:
        receipt = await attach(daemon, chat, "big.bin.txt", data)
    # A random blob is not an allowed type, so it is rejected, but only after it was stored and
    # inspected; what matters here is the memory that path needed.
    assert receipt["size"] == len(data)
    grown = _peak_rss(daemon) - before
    assert grown < len(data) // 2, f"peak RSS grew by {grown} bytes for a {len(data)} byte file"


def _peak_rss(daemon: DaemonProcess) -> int:
    """VmHWM (peak resident set) of the daemon process, in bytes."""
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@asynccontextmanager
async def without_clamd(
    root: Path, extra: dict[str, str] | None = None
) -> AsyncIterator[tuple[DaemonProcess, ClamdServer]]:
    """A running daemon whose clamd is not (the test starts it); both stopped afterwards."""
    (root / "clamd").mkdir()
    scanner = ClamdServer(root / "clamd")
    (root / "daemon").mkdir()
    daemon = with_clamd(root / "daemon", scanner.address_unix, extra)
    daemon.start()
    try:
        yield daemon, scanner
    finally:
        daemon.stop()
        scanner.stop()


# Files wait for clamd at most a second: they go on unscanned within the test.
SCAN_WAIT_1S = {'max_scan_wait = "1h"': 'max_scan_wait = "1s"'}


@asynccontextmanager
async def held_message(root: Path) -> AsyncIterator[tuple[DaemonProcess, ClamdServer, str]]:
    """A daemon without clamd, and a chat message waiting on its pending PDF; the ticket number."""
    async with without_clamd(root) as (daemon, scanner):
        async with open_chat(daemon) as chat:
            receipt = await attach(daemon, chat, "scan.pdf", PDF, "application/pdf")
            assert receipt["scan"]["status"] == "pending"
            accepted = await chat.write("Скан паспорта", attachment_ids=[receipt["upload_id"]])
            assert accepted["type"] == "accepted" and accepted["ticket"]["number"]
        yield daemon, scanner, accepted["ticket"]["number"]


async def test_message_waits_while_clamd_is_down_and_goes_on_when_it_returns(
    tmp_path: Path,
) -> None:
    """With clamd stopped the upload is pending and the envelope held; after a restart it flows."""
    async with held_message(tmp_path) as (daemon, scanner, number):
        assert await feed(daemon) == []  # held: stored and acknowledged, not yet handed off
        scanner.start()
        envelopes = await released(daemon)
    assert envelopes[0]["attachments"][0]["scan"]["status"] == "clean"
    assert envelopes[0]["ticket"]["number"] == number


async def test_a_file_whose_stored_copy_is_lost_goes_on_as_an_error(tmp_path: Path) -> None:
    """A waiting file whose blob vanished (removed by hand) is released as an error when clamd
    returns, and the daemon goes on; it does not stop the scanner, nor the daemon."""
    async with held_message(tmp_path) as (daemon, scanner, _):
        (blob,) = [p for p in (daemon.state / "blobs").rglob("*") if p.is_file()]
        blob.unlink()
        scanner.start()
        envelopes = await released(daemon)
        async with open_chat(daemon) as chat:
            still_running = await chat.write("Ещё вопрос")
    scan = envelopes[0]["attachments"][0]["scan"]
    assert scan["status"] == "error" and "unreadable" in scan["detail"]
    assert still_running["type"] == "accepted"


async def test_after_max_scan_wait_the_envelope_goes_on_marked_unscanned(tmp_path: Path) -> None:
    """If clamd stays down past max_scan_wait, the envelope is handed off with scan error."""
    daemon = with_clamd(
        tmp_path, f"unix:{tmp_path}/no-clamd.sock", {'max_scan_wait = "1h"': 'max_scan_wait = "1s"'}
    )
    daemon.start()
    try:
        async with open_chat(daemon) as chat:
            receipt = await attach(daemon, chat, "scan.pdf", PDF, "application/pdf")
            assert receipt["scan"]["status"] == "pending"
            await chat.write("Скан", attachment_ids=[receipt["upload_id"]])
            envelopes = await released(daemon)
            notice = await wait_notice(chat, "system")
        attachment = envelopes[0]["attachments"][0]
        assert attachment["scan"]["status"] == "error"
        assert "unscanned_attachment" in envelopes[0]["flags"]
        assert "scan.pdf" in notice["text"]
        async with daemon.backend() as client:
            served = await client.get(f"/api/v1/attachments/{attachment['id']}")
        assert served.status_code == 200 and served.headers["x-omnirouter-scan"] == "error"
    finally:
        daemon.stop()


def _main_copy(daemon: DaemonProcess, content: bytes) -> Path:
    """Where the main (served) blob store keeps this content."""
    sha256 = hashlib.sha256(content).hexdigest()
    return daemon.state / "blobs" / sha256[:2] / sha256[2:4] / sha256


async def _scan_header(daemon: DaemonProcess, attachment_id: str, wanted: str) -> None:
    """Wait (bounded) until the admin route reports `wanted` as the file's scan status."""
    async with daemon.admin() as admin:
        with trio.fail_after(60):
            while True:
                response = await admin.get(f"/api/v1/admin/attachments/{attachment_id}")
                if response.headers.get("x-omnirouter-scan") == wanted:
                    return
                await trio.sleep(0.2)


async def test_copy_handed_off_unscanned_is_refused_once_the_same_bytes_are_found_infected(
    tmp_path: Path,
) -> None:
    """The security review's case: EICAR goes out unscanned while clamd is down; once clamd is
    back the same bytes are uploaded again and found infected; the first upload's id is then
    refused to the backend too, and the main store keeps no copy."""
    async with without_clamd(tmp_path, SCAN_WAIT_1S) as (daemon, scanner):
        async with open_chat(daemon) as chat:
            first = await attach(daemon, chat, "first.txt", EICAR, "text/plain")
            assert first["scan"]["status"] == "pending"
            await chat.write("Файл", attachment_ids=[first["upload_id"]])
            [envelope] = await released(daemon)
        assert envelope["attachments"][0]["scan"]["status"] == "error"
        async with daemon.backend() as backend:
            path = f"/api/v1/attachments/{first['upload_id']}"
            unscanned = await backend.get(path)
            assert unscanned.status_code == 200  # max_scan_wait's promise: it goes on, flagged
            assert unscanned.headers["x-omnirouter-scan"] == "error"
            scanner.start()
            async with open_chat(daemon) as chat:
                second = await attach(daemon, chat, "second.txt", EICAR, "text/plain")
            assert second["scan"]["status"] == "infected"
            assert (
                await backend.get(f"/api/v1/attachments/{second['upload_id']}")
            ).status_code == 403
            refused = await backend.get(path)
            assert refused.status_code == 403, refused.headers
            assert refused.json()["error"] == "quarantined"
        async with daemon.admin() as admin:
            kept = await admin.get(f"/api/v1/admin/attachments/{first['upload_id']}")
            assert kept.status_code == 200 and kept.content == EICAR
            assert kept.headers["x-omnirouter-scan"] == "infected"
        assert not _main_copy(daemon, EICAR).exists()


async def test_content_found_infected_later_is_refused_under_every_id(tmp_path: Path) -> None:
    """A file scanned clean before clamd knew the signature is refused to the backend, whatever
    id is asked for, once the same bytes are found infected (one verdict per content)."""
    (tmp_path / "clamd").mkdir()
    scanner = ClamdServer(tmp_path / "clamd")
    signatures = scanner.root / "db" / "omnirouter-test.ndb"
    known = signatures.read_text()
    # An older signature database: the custom signature only, EICAR not yet known.
    signatures.write_text(
        "".join(line + "\n" for line in known.splitlines() if "EICAR" not in line)
    )
    scanner.start()
    (tmp_path / "daemon").mkdir()
    daemon = with_clamd(tmp_path / "daemon", scanner.address_unix)
    daemon.start()
    try:
        async with open_chat(daemon) as chat:
            early = await attach(daemon, chat, "early.txt", EICAR, "text/plain")
            assert early["scan"]["status"] == "clean"
            signatures.write_text(known)  # the signature update arrives
            scanner.restart()
            late = await attach(daemon, chat, "late.txt", EICAR, "text/plain")
            assert late["scan"]["status"] == "infected"
        async with daemon.backend() as backend, daemon.admin() as admin:
            for receipt in (early, late):
                path = f"/api/v1/attachments/{receipt['upload_id']}"
                assert (await backend.get(path)).status_code == 403
                kept = await admin.get(f"/api/v1/admin/attachments/{receipt['upload_id']}")
                assert kept.status_code == 200 and kept.content == EICAR
        assert not _main_copy(daemon, EICAR).exists()
    finally:
        daemon.stop()
        scanner.stop()


async def test_files_handed_off_unscanned_are_scanned_when_clamd_returns(tmp_path: Path) -> None:
    """Past max_scan_wait files go on unscanned; once clamd answers they are scanned after all:
    the clean one turns clean, EICAR turns infected and quarantined (refused to the backend)."""
    async with without_clamd(tmp_path, SCAN_WAIT_1S) as (daemon, scanner):
        async with open_chat(daemon) as chat:
            clean = await attach(daemon, chat, "scan.pdf", PDF, "application/pdf")
            virus = await attach(daemon, chat, "note.txt", EICAR, "text/plain")
            assert clean["scan"]["status"] == virus["scan"]["status"] == "pending"
            ids = [clean["upload_id"], virus["upload_id"]]
            await chat.write("Документы", attachment_ids=ids)
            [envelope] = await released(daemon)
        assert [a["scan"]["status"] for a in envelope["attachments"]] == ["error", "error"]
        async with daemon.backend() as backend:
            for upload_id in ids:
                served = await backend.get(f"/api/v1/attachments/{upload_id}")
                assert served.status_code == 200
                assert served.headers["x-omnirouter-scan"] == "error"
        scanner.start()
        await _scan_header(daemon, clean["upload_id"], "clean")
        await _scan_header(daemon, virus["upload_id"], "infected")
        async with daemon.backend() as backend, daemon.admin() as admin:
            served = await backend.get(f"/api/v1/attachments/{clean['upload_id']}")
            assert served.status_code == 200 and served.content == PDF
            assert served.headers["x-omnirouter-scan"] == "clean"
            refused = await backend.get(f"/api/v1/attachments/{virus['upload_id']}")
            assert refused.status_code == 403
            kept = await admin.get(f"/api/v1/admin/attachments/{virus['upload_id']}")
            assert kept.status_code == 200 and kept.content == EICAR
            metrics = (await admin.get("/metrics")).text
        assert "omnirouter_quarantine_files 1.0" in metrics
        assert not _main_copy(daemon, EICAR).exists()
        assert _main_copy(daemon, PDF).exists()
        assert await feed(daemon) == [envelope]  # the handed-off envelope is not sent again


# -- files in operators' replies ------------------------------------------------------------------


async def reply_with_a_file(daemon: DaemonProcess, chat: ChatClient) -> tuple[str, dict[str, Any]]:
    """The citizen writes, the backend uploads a PDF to the ticket and replies with it; the id
    the upload was given and the reply notice the chat received."""
    number = (await chat.write("Пришлите, пожалуйста, образец заявления"))["ticket"]["number"]
    async with daemon.backend() as backend:
        uploaded = await backend.post(
            f"/api/v1/tickets/{number}/attachments",
            files={"file": ("образец заявления.pdf", PDF, "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
        file = uploaded.json()
        assert file["scan"]["status"] == "clean" and file["size"] == len(PDF)
        sent = await backend.post(
            f"/api/v1/tickets/{number}/replies",
            json={"text": "Образец во вложении.", "attachments": [file["attachment_id"]]},
        )
        assert sent.status_code == 202, sent.text
    return file["attachment_id"], await wait_notice(chat, "reply")


async def test_a_reply_carries_a_file_the_citizen_downloads_from_the_chat(
    daemon: DaemonProcess,
) -> None:
    """The backend uploads a PDF to the ticket and replies with it: the chat notice lists the
    file, the citizen's session downloads it byte for byte, and nobody else can."""
    async with open_chat(daemon) as chat:
        attachment_id, notice = await reply_with_a_file(daemon, chat)
        assert chat.session is not None
        async with open_chat(daemon) as stranger:
            assert stranger.session is not None
            async with httpx.AsyncClient(base_url=daemon.base) as browser:
                url = notice["attachments"][0]["url"]
                mine = await browser.get(url, headers={"X-Chat-Session": chat.session})
                theirs = await browser.get(url, headers={"X-Chat-Session": stranger.session})
                nobody = await browser.get(url)
    (listed,) = notice["attachments"]
    assert listed["id"] == attachment_id
    assert (listed["filename"], listed["content_type"]) == (
        "образец заявления.pdf",
        "application/pdf",
    )
    assert mine.status_code == 200 and mine.content == PDF
    assert mine.headers["content-disposition"].startswith("attachment;")
    assert (theirs.status_code, nobody.status_code) == (404, 401)


async def test_the_portal_page_embedding_the_widget_may_fetch_the_file(
    tmp_path: Path, clamd: ClamdServer
) -> None:
    """Embedded on a configured origin's page, the widget's fetch is allowed by CORS (the
    preflight for X-Chat-Session, then the GET); any other page's is not."""
    portal = "https://www.gosuslugi.ru"
    daemon = with_clamd(tmp_path, clamd.address_unix)
    webchat = daemon.config / "channels" / "webchat.toml"
    webchat.write_text(
        webchat.read_text().replace("allowed_origins = []", f'allowed_origins = ["{portal}"]')
    )
    daemon.start()
    try:
        async with open_chat(daemon) as chat:
            _, notice = await reply_with_a_file(daemon, chat)
            assert chat.session is not None
            url = notice["attachments"][0]["url"]
            asked = {
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-chat-session",
            }
            async with httpx.AsyncClient(base_url=daemon.base) as browser:
                preflight = await browser.options(url, headers={"Origin": portal, **asked})
                elsewhere = await browser.options(
                    url, headers={"Origin": "https://evil.example", **asked}
                )
                fetched = await browser.get(
                    url, headers={"Origin": portal, "X-Chat-Session": chat.session}
                )
    finally:
        daemon.stop()
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == portal
    assert "x-chat-session" in preflight.headers["access-control-allow-headers"].lower()
    assert elsewhere.status_code == 403
    assert "access-control-allow-origin" not in elsewhere.headers
    assert fetched.status_code == 200 and fetched.content == PDF
    assert fetched.headers["access-control-allow-origin"] == portal


async def test_a_reply_takes_only_clean_files_of_its_own_ticket(daemon: DaemonProcess) -> None:
    """Files uploaded to another ticket, unknown ids and infected files are refused with 422,
    and no notice goes out."""
    async with open_chat(daemon) as chat, open_chat(daemon) as someone_else:
        number = (await chat.write("Вопрос по выписке"))["ticket"]["number"]
        other = (await someone_else.write("Код 05 Смена фамилии"))["ticket"]["number"]
    async with daemon.backend() as backend:

        async def put(ticket: str, name: str, data: bytes) -> str:
            response = await backend.post(
                f"/api/v1/tickets/{ticket}/attachments", files={"file": (name, data)}
            )
            assert response.status_code == 201, response.text
            attachment_id: str = response.json()["attachment_id"]
            return attachment_id

        elsewhere = await put(other, "чужой.pdf", PDF)
        infected = await put(number, "вирус.pdf", EICAR)
        answers = {}
        for name, ids in {
            "elsewhere": [elsewhere],
            "unknown": ["01NOSUCHATTACHMENT00000000"],
            "infected": [infected],
        }.items():
            response = await backend.post(
                f"/api/v1/tickets/{number}/replies", json={"text": "Ответ", "attachments": ids}
            )
            answers[name] = (response.status_code, response.json()["error"])
        missing = await backend.post(
            "/api/v1/tickets/2699999998/attachments", files={"file": ("a.pdf", PDF)}
        )
    assert answers == {
        "elsewhere": (422, "unknown_attachment"),
        "unknown": (422, "unknown_attachment"),
        "infected": (422, "attachment_refused"),
    }
    assert missing.status_code == 404
