"""The email channel: citizens' mail in over IMAP or LMTP/SMTP, notices out over SMTP."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import cast

from pydantic import BaseModel

from channels.contract import (
    AccountSpec,
    Adapter,
    Channel,
    CommandRow,
    DeliveryReport,
    Fit,
    Parser,
    Ports,
    RawInbound,
    Received,
)
from channels.openapi import HttpDocs

from .adapter import MailAccount
from .config import LISTENER, EmailFile
from .listener import MailListener
from .parse import parse


class EmailPlugin:
    """channels/email.toml: an adapter per account, and one for the [intake] listener."""

    name = "email"
    settings_model: type[BaseModel] = EmailFile
    # Citizens write the shared commands («статус N» in the subject, the router reads it).
    commands: Mapping[Channel, Sequence[CommandRow]] = MappingProxyType({})
    http_docs = HttpDocs()

    def __init__(self) -> None:
        # The file's current settings, as the daemon hands them to its accounts; the parser
        # reads our addresses and the MTA to trust from it.
        self._settings: Callable[[], EmailFile] = EmailFile

    @property
    def parsers(self) -> Mapping[Channel, Parser]:
        """Mail is parsed after the commit; the same Message-ID again is the same message."""
        return MappingProxyType({"email": Parser(self._parse)})

    def fit(self, channel: Channel, settings: BaseModel) -> Fit | None:
        """Any length goes by mail."""
        return None

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Every account while `enabled`, and the [intake] listener if there is one."""
        file = cast(EmailFile, settings)
        if not file.enabled:
            return []
        specs = [AccountSpec("email", name, account) for name, account in file.accounts.items()]
        if file.intake is not None:
            specs.append(AccountSpec("email", LISTENER, file.intake))
        return specs

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An account's adapter, or the listener's."""
        self._settings = lambda: cast(EmailFile, settings())
        if spec.account == LISTENER:
            return MailListener(spec, self._settings, ports)
        return MailAccount(spec, self._settings, ports)

    def _parse(self, received: Received) -> RawInbound | DeliveryReport:
        return parse(received, self._settings)


PLUGIN = EmailPlugin()
