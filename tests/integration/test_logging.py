"""The daemon's log: one JSON object a line, and no citizen's personal data in the clear."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

from router.http.api import token_fingerprint

from .daemon import ChatClient, DaemonProcess, log_text_lines, wait_notice

PHONE = "+7 916 123-45-67"
EMAIL = "ivan.petrov@example.ru"
SNILS = "112-233-445 95"
NAME = "Иван Петрович Сидоров-Петров"
# A phone number's digits with any separators (spaces, dashes, dots, brackets, NBSP) between.
_SEPARATORS = r"[\s\-\u2010-\u2015().\u00a0\u202f]*"


def spaced(digits: str) -> re.Pattern[str]:
    return re.compile(_SEPARATORS.join(digits))


LEAKS = {
    "phone": spaced("9161234567"),
    "snils": spaced("11223344595"),
    "snils prefix": re.compile(re.escape("112-233-445")),
    "email": re.compile(re.escape("ivan.petrov"), re.IGNORECASE),
    "email domain user": re.compile(re.escape(EMAIL), re.IGNORECASE),
    "name": re.compile("Сидоров"),
}


async def test_log_is_json_and_masks_personal_data(tmp_path: Path) -> None:
    """After chat and form messages full of personal data, the log holds none of it unmasked."""
    daemon = DaemonProcess(tmp_path)
    await trio.to_thread.run_sync(daemon.start)
    try:
        text = f"Здравствуйте! Мой телефон {PHONE}, почта {EMAIL}, СНИЛС {SNILS}. Не приходит код."
        async with open_websocket_url(daemon.ws_url) as ws:
            client = ChatClient(ws)
            await client.hello()
            accepted = await client.write(text)
            assert accepted["type"] == "accepted", accepted
            await wait_notice(client, "confirmation")
            # Bad input is answered (and may be logged) too: it must not leak either.
            refused = await client.write(" ", client_id=f"{PHONE} {EMAIL}")
            assert refused["type"] == "error", refused
        async with daemon.backend() as backend:
            form = await backend.post(
                "/api/v1/forms/feedback",
                json={
                    "name": NAME,
                    "phone": PHONE,
                    "email": EMAIL,
                    "type": "technical_problem",
                    "text": f"Прошу перезвонить на {PHONE}. СНИЛС {SNILS}.",
                },
            )
            assert form.status_code == 201, form.text
            invalid = await backend.post(
                "/api/v1/forms/feedback",
                json={"name": NAME, "phone": "+7 916 123-45-67-89-00-11", "email": EMAIL},
            )
            assert invalid.status_code == 422, invalid.text
            number = form.json()["ticket"]
        async with daemon.admin() as admin:
            view = await admin.get(f"/api/v1/admin/tickets/{number}", params={"unmask": "1"})
            assert view.status_code == 200
            assert EMAIL in view.text or PHONE in view.text  # the view is unmasked, the log not
        daemon.signal(signal.SIGHUP)
        assert await trio.to_thread.run_sync(daemon.stop) == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()

    lines = log_text_lines(daemon)
    assert lines
    for line in lines:
        record = json.loads(line)  # every line, not only those that look like JSON
        assert isinstance(record, dict), line
        assert {"ts", "level", "msg"} <= record.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"]), line
        assert record["level"] in ("debug", "info", "warning", "error", "critical"), line
    whole = daemon.log.read_text()
    leaks = {what: pattern.pattern for what, pattern in LEAKS.items() if pattern.search(whole)}
    assert leaks == {}, whole
    # The unmasked view is on record: which token (a fingerprint, never the token) and where from.
    (audit,) = [json.loads(line) for line in lines if '"audit": "unmask"' in line]
    assert audit["actor"] == f"token:{token_fingerprint(daemon.admin_token)}"
    assert audit["client"] == "127.0.0.1"
    assert daemon.admin_token not in whole
