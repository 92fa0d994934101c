"""The `omnirouter` admin commands against a running daemon, and check-config on bad configs."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from normaliser.damm import check_digit
from router.config import load_settings

from .daemon import DaemonProcess, open_chat, write_secret

pytestmark = pytest.mark.integration

EMAIL = "ivan.petrov@example.ru"
PHONE_WRITTEN = "+7 916 123-45-67"
SNILS_WRITTEN = "112-233-445 95"


@pytest.fixture(scope="module")
def ticket_with_personal_data(module_daemon: DaemonProcess) -> str:
    """A chat ticket with an email address and a phone number in the text, the operator's
    status comment and reply repeating them, and a SNILS in the reply."""

    async def file() -> str:
        async with open_chat(module_daemon) as client:
            accepted = await client.write(
                f"Не приходит справка. Пишите на {EMAIL} или звоните {PHONE_WRITTEN}"
            )
        number: str = accepted["ticket"]["number"]
        async with module_daemon.backend() as backend:
            comment = f"Перезвоним на {PHONE_WRITTEN}"
            status = {"status": "awaiting_citizen", "comment": comment}
            response = await backend.post(f"/api/v1/tickets/{number}/status", json=status)
            assert response.status_code == 202, response.text
            reply = {"text": f"Проверьте СНИЛС {SNILS_WRITTEN} и почту {EMAIL}"}
            response = await backend.post(f"/api/v1/tickets/{number}/replies", json=reply)
            assert response.status_code == 202, response.text
        return number

    return trio.run(file)


async def _cli(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a thread so the test's event loop is not blocked."""
    return await trio.to_thread.run_sync(functools.partial(daemon.cli, *args))


def test_status_prints_instance_and_queues(module_daemon: DaemonProcess) -> None:
    """`omnirouter status` shows the instance name, the web chat and every queue; exit 0."""
    result = module_daemon.cli("status")
    assert result.returncode == 0, result.stderr
    assert "omnirouter-1" in result.stdout
    assert "ready" in result.stdout
    assert "webchat" in result.stdout
    for installed in ("sms", "email", "messenger"):  # installed, enabled = false
        assert f"channel    {installed}: disabled" in result.stdout
    queues = next(line for line in result.stdout.splitlines() if line.startswith("queues"))
    for queue in ("intake", "handoff", "outbox", "dead"):
        assert re.search(rf"\b{queue} \d+", queues), queues


def test_status_json_is_the_admin_status(module_daemon: DaemonProcess) -> None:
    """`omnirouter status --json` prints the admin status document."""
    result = module_daemon.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["instance"] == "omnirouter-1"
    assert body["ready"] is True
    assert set(body["queues"]) >= {"intake", "handoff", "outbox", "dead"}


def test_ticket_show_masks_personal_data(
    module_daemon: DaemonProcess, ticket_with_personal_data: str
) -> None:
    """`ticket show N` prints the thread, the operator's comment and reply with the email, phone
    and SNILS masked."""
    for json_flag in ((), ("--json",)):
        result = module_daemon.cli("ticket", "show", ticket_with_personal_data, *json_flag)
        assert result.returncode == 0, result.stderr
        assert ticket_with_personal_data in result.stdout
        assert "Не приходит справка" in result.stdout
        assert "Перезвоним на" in result.stdout
        for secret in (EMAIL, "ivan.petrov", "123-45-67", "9161234567", SNILS_WRITTEN, "445 95"):
            assert secret not in result.stdout, (json_flag, secret)
        assert "*" in result.stdout


def test_ticket_show_unmask_shows_personal_data(
    module_daemon: DaemonProcess, ticket_with_personal_data: str
) -> None:
    """`ticket show N --unmask` prints the email and phone as written."""
    result = module_daemon.cli("ticket", "show", ticket_with_personal_data, "--unmask")
    assert result.returncode == 0, result.stderr
    assert EMAIL in result.stdout
    assert PHONE_WRITTEN in result.stdout
    assert SNILS_WRITTEN in result.stdout


def test_ticket_show_unknown_number_fails(module_daemon: DaemonProcess) -> None:
    """`ticket show` of a number never issued exits non-zero with a message."""
    unknown = "269999998" + check_digit("269999998")
    result = module_daemon.cli("ticket", "show", unknown)
    assert result.returncode == 1
    assert "no such ticket" in result.stderr


def test_dlq_list_says_there_are_no_dead_letters(module_daemon: DaemonProcess) -> None:
    """`dlq list` on a healthy daemon says there are no dead letters; exit 0."""
    result = module_daemon.cli("dlq", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no dead letters"


def test_commands_fail_cleanly_without_a_daemon(tmp_path: Path) -> None:
    """With no daemon listening, `status` exits 2 naming the address, without a traceback."""
    stopped = DaemonProcess(tmp_path)
    result = stopped.cli("status")
    assert result.returncode == 2
    assert f"127.0.0.1:{stopped.port}" in result.stderr
    assert "Traceback" not in result.stderr


# -- check-config --------------------------------------------------------------------------------


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _unknown_key(config: Path) -> None:
    _replace(config / "router.toml", "instance_name =", "bogus_key = 1\ninstance_name =")


def _bad_duration(config: Path) -> None:
    _replace(config / "router.toml", 'repeat_window = "24h"', 'repeat_window = "5x"')


def _missing_categories(config: Path) -> None:
    (config / "categories.toml").unlink()


def _unknown_placeholder(config: Path) -> None:
    _replace(config / "templates" / "ru.toml", "Спасибо!", "Спасибо, {nonsense}!")


def _bad_priority(config: Path) -> None:
    _replace(config / "categories.toml", 'priority = "technical"', 'priority = "whenever"')


def _metrics_token_is_an_admin_token(config: Path) -> None:
    admin = (config / "secrets" / "admin.tokens").read_text()
    write_secret(config / "secrets" / "metrics.tokens", admin)


def _timeout_in_working_days(config: Path) -> None:
    _replace(config / "router.toml", 'body_timeout = "60s"', 'body_timeout = "1wd"')


def _token_file_readable_by_all(config: Path) -> None:
    (config / "secrets" / "backend.tokens").chmod(0o644)


def _webhook(url: str) -> Callable[[Path], None]:
    def breaks(config: Path) -> None:
        write_secret(config / "secrets" / "webhook.key", "k" * 40)
        _replace(config / "router.toml", 'mode = "feed"', 'mode = "webhook"')
        with (config / "router.toml").open("a") as file:
            file.write(f'\n[handoff.webhook]\nurl = "{url}"\nsecret_file = "secrets/webhook.key"\n')

    return breaks


def _inline_password(config: Path) -> None:
    with (config / "channels" / "email.toml").open("a") as file:
        file.write('\n[[accounts]]\nimap_password = "hunter2-inline"\n')


@pytest.mark.parametrize(
    ("breaks", "file", "key"),
    [
        pytest.param(_unknown_key, "router.toml", "router.bogus_key", id="unknown-key"),
        pytest.param(_bad_duration, "router.toml", "dedupe.repeat_window", id="bad-duration"),
        pytest.param(_missing_categories, "categories.toml", None, id="missing-categories"),
        pytest.param(
            _unknown_placeholder,
            "templates/ru.toml",
            "added_to_request.default",
            id="unknown-placeholder",
        ),
        pytest.param(_bad_priority, "categories.toml", "categories.11", id="bad-priority"),
        pytest.param(
            _timeout_in_working_days, "router.toml", "http.body_timeout", id="working-days"
        ),
        pytest.param(
            _metrics_token_is_an_admin_token,
            "router.toml",
            "api.metrics_tokens_file",
            id="metrics-token-is-admin",
        ),
        pytest.param(
            _token_file_readable_by_all,
            "router.toml",
            "api.backend_tokens_file",
            id="token-file-readable-by-all",
        ),
        pytest.param(
            _webhook("http://tickets.example.ru/hook"),
            "router.toml",
            "handoff.webhook.url",
            id="webhook-without-tls",
        ),
        pytest.param(
            _webhook("https://svc:S3cret@tickets.example.ru/hook"),
            "router.toml",
            "handoff.webhook.url",
            id="webhook-credentials-in-url",
        ),
        pytest.param(_inline_password, "channels/email.toml", "accounts", id="inline-password"),
    ],
)
def test_check_config_reports_file_key_reason(
    tmp_path: Path, breaks: Callable[[Path], None], file: str, key: str | None
) -> None:
    """A broken config exits 1 with a `FILE: KEY: REASON` line naming the file and key."""
    daemon = DaemonProcess(tmp_path)
    breaks(daemon.config)
    result = daemon.cli("check-config")
    assert result.returncode == 1, result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr
    parsed = [line.split(": ", 2) for line in lines]
    assert all(len(parts) == 3 and all(p.strip() for p in parts) for parts in parsed), lines
    matching = [parts for parts in parsed if Path(parts[0]).as_posix().endswith(file)]
    assert matching, lines
    if key is not None:
        assert any(parts[1].startswith(key) for parts in matching), lines


def test_check_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    """Mistakes in four files, one a secret named by a router.toml that is itself wrong, are
    all reported in one run, each reason in plain words."""
    daemon = DaemonProcess(tmp_path)
    _unknown_key(daemon.config)
    _unknown_placeholder(daemon.config)
    write_secret(daemon.config / "secrets" / "admin.tokens", "short\n")
    _replace(daemon.config / "channels" / "webchat.toml", "enabled = true", 'enabled = "yes"')
    result = daemon.cli("check-config")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("router.toml: router.bogus_key: ") for line in lines), lines
    assert any("added_to_request.default" in line for line in lines), lines
    assert any(
        line.startswith("router.toml: api.admin_tokens_file: ") and "16 characters" in line
        for line in lines
    ), lines
    assert any(line.startswith("channels/webchat.toml: enabled: ") for line in lines), lines
    assert "Value error" not in result.stdout


def test_a_relative_clamd_socket_is_found_in_the_config_dir(tmp_path: Path) -> None:
    """`clamd = "unix:run/clamd.ctl"` means the socket under the config dir, like any path."""
    daemon = DaemonProcess(tmp_path)
    _replace(
        daemon.config / "router.toml",
        'clamd = "unix:/run/clamav/clamd.ctl"',
        'clamd = "unix:run/clamd.ctl"',
    )
    assert daemon.cli("check-config").returncode == 0
    settings = load_settings(daemon.config)
    assert settings.router.attachments.clamd == f"unix:{daemon.config.absolute()}/run/clamd.ctl"


def test_check_config_accepts_the_shipped_config(tmp_path: Path) -> None:
    """The shipped configuration (with tokens in place) is valid: exit 0."""
    daemon = DaemonProcess(tmp_path)
    result = daemon.cli("check-config")
    assert result.returncode == 0, result.stdout + result.stderr


async def test_cli_sees_a_ticket_filed_just_now(module_daemon: DaemonProcess) -> None:
    """A chat message filed a moment ago is shown by `ticket show` with its category."""
    async with open_chat(module_daemon) as client:
        accepted = await client.write("Код 03 Как заменить водительское удостоверение?")
    number = accepted["ticket"]["number"]
    result = await _cli(module_daemon, "ticket", "show", number)
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert number in first_line and "accepted" in first_line and "03" in first_line
