"""The messenger channel: a support bot (Telegram, by python-telegram-bot); `kind` in an account
selects the messenger, so another (VK) is a second implementation behind the same plug-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import cast

from pydantic import BaseModel

from channels.contract import AccountSpec, Adapter, Channel, CommandRow, Fit, Parser, Ports
from channels.openapi import HttpDocs

from . import fit, inbound
from .config import MessengerFile
from .telegram import TelegramAccount

# The implementation of each messenger `kind`.
KINDS: Mapping[str, Callable[[AccountSpec, Callable[[], MessengerFile], Ports], Adapter]] = (
    MappingProxyType({"telegram": TelegramAccount})
)


class MessengerPlugin:
    """channels/messenger.toml: one adapter per bot account."""

    name = "messenger"
    settings_model: type[BaseModel] = MessengerFile
    # An edited message comes again under its key with new text: a revision of it.
    parsers: Mapping[Channel, Parser] = MappingProxyType(
        {"messenger": Parser(inbound.parse, changed_content="revision")}
    )
    # The app sends "/start" when a citizen first opens the bot: the help text (and the topics,
    # which the adapter offers) rather than "messages on again". A message the bot does not
    # take is read as "/unsupported" by the parser.
    commands: Mapping[Channel, Sequence[CommandRow]] = MappingProxyType(
        {
            "messenger": (
                CommandRow("help", None, ("/start",)),
                CommandRow("unsupported", None, (inbound.UNSUPPORTED,)),
            )
        }
    )
    http_docs = HttpDocs()

    def fit(self, channel: Channel, settings: BaseModel) -> Fit | None:
        """Texts over 4096 characters go out as several messages, cut at paragraphs."""
        return fit.split

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Every account while `enabled`."""
        file = cast(MessengerFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec("messenger", name, bot) for name, bot in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An account's adapter, of its messenger's kind."""
        kind = cast(MessengerFile, settings()).accounts[spec.account].kind
        return KINDS[kind](spec, lambda: cast(MessengerFile, settings()), ports)


PLUGIN = MessengerPlugin()
