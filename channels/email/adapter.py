"""An email account: its IMAP folders read into the intake, its notices sent over SMTP."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

import trio
from starlette.routing import BaseRoute

from channels.contract import (
    AccountSpec,
    Channel,
    Deliver,
    DeliveryFailed,
    Lane,
    Outbound,
    OutboundFile,
    Ports,
    Sent,
)
from channels.settings import read_first_line, read_secret

from . import outbound
from .config import EmailAccount, EmailFile
from .imap import FolderReader

# Submissions at once per account: a submission server takes a few connections per client.
SUBMISSIONS = 4


class MailAccount:
    """One [accounts.NAME] of channels/email.toml."""

    channel: Channel = "email"
    websocket_max_message = 0

    def __init__(self, spec: AccountSpec, settings: Callable[[], EmailFile], ports: Ports) -> None:
        self.account = spec.account
        self.settings: EmailAccount = settings().accounts[spec.account]
        self.ports = ports
        self._readers: list[FolderReader] = []
        self._intake_stopped = False

    @property
    def lane(self) -> Lane:
        """A few submissions at once; each notice threaded and with its HTML part."""
        smtp = self.settings.smtp
        timeout = 60.0 if smtp is None else smtp.timeout
        return Lane(concurrency=SUBMISSIONS, attempt_timeout=timeout + 5, threads=True, html=True)

    def routes(self) -> Sequence[BaseRoute]:
        """No HTTP routes."""
        return []

    def detail(self) -> dict[str, object]:
        """The folders being read."""
        return {"folders": len(self._readers)}

    def stop_intake(self) -> None:
        """The daemon is stopping: the folders' readers take no more mail (what is on the
        server is read at the next start); the cancel ends them."""
        self._intake_stopped = True

    @property
    def deliver(self) -> Deliver | None:
        """Notices go out over SMTP, if the account has a submission server."""
        return None if self.settings.smtp is None else self._deliver

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read every folder until cancelled; one that fails ends the account, which the
        supervisor starts again after its backoff."""
        imap = self.settings.imap
        if imap is None:  # fed by the [intake] listener, if at all
            task_status.started()
            await trio.sleep_forever()
        password = read_first_line(self.ports.config_dir / imap.password_file)
        self._readers = [
            FolderReader(
                self.account,
                imap,
                folder,
                self.ports,
                password,
                lambda: self.ports.attachments.limits("email").message,
                self._path(imap.ca_file),
                lambda: self._intake_stopped,
            )
            for folder in imap.folders
        ]
        async with trio.open_nursery() as nursery:
            for reader in self._readers:
                await nursery.start(reader.run)
            task_status.started()

    async def _deliver(self, notice: Outbound) -> Sent:
        """The notice composed, signed if asked, and submitted."""
        account, smtp = self.settings, self.settings.smtp
        assert smtp is not None
        files = [await self._file(described) for described in notice.attachments]
        mail = outbound.compose(notice, account, files)
        key = b""
        if account.dkim is not None:
            key = read_secret(self.ports.config_dir / account.dkim.key_file)
        credentials = None
        if smtp.username is not None and smtp.password_file is not None:
            secret = read_first_line(self.ports.config_dir / smtp.password_file)
            credentials = (smtp.username, secret)
        context = None
        if smtp.security != "none":
            context = ssl.create_default_context(cafile=self._path(smtp.ca_file))
        raw = outbound.signed(mail, account, key)
        return await outbound.submit(raw, notice, account, smtp, credentials, context)

    async def _file(self, described: OutboundFile) -> tuple[OutboundFile, bytes]:
        """A file the operator attached, as the attachment service keeps it."""
        found = await self.ports.attachments.content(described.id)
        if found is None:
            raise DeliveryFailed(f"attachment {described.id} is gone", permanent=True)
        kept, chunks = found
        return kept, b"".join([chunk async for chunk in chunks])

    def _path(self, relative: Path | None) -> Path | None:
        return None if relative is None else self.ports.config_dir / relative
