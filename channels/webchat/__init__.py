"""The portal's web chat and feedback form: two accounts from channels/webchat.toml."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import cast

from pydantic import BaseModel

from channels.contract import AccountSpec, Adapter, Channel, CommandRow, Fit, Parser, Ports

from .adapter import WebchatChannel
from .config import WebchatSettings
from .form import FeedbackForm
from .openapi import DOCS


class WebchatPlugin:
    """The chat (`account`) and the form (`[form] account`), both on the daemon's listener."""

    name = "webchat"
    settings_model: type[BaseModel] = WebchatSettings
    # Both build their RawInbound themselves: the chat's peer waits for the ticket number.
    parsers: Mapping[Channel, Parser] = MappingProxyType({})
    # Their routes, as the daemon's OpenAPI document shows them.
    http_docs = DOCS
    # The chat's citizens write the shared commands; a form is always a request.
    commands: Mapping[Channel, Sequence[CommandRow]] = MappingProxyType({})

    def fit(self, channel: Channel, settings: BaseModel) -> Fit | None:
        """Any length goes: the chat shows the whole text, and the form sends nothing."""
        return None

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Both accounts while `enabled`; they read the rest of the file live, so only a new
        account name restarts one."""
        file = cast(WebchatSettings, settings)
        if not file.enabled:
            return []
        return [
            AccountSpec("webchat", file.account, file.account),
            AccountSpec("form", file.form.account, file.form.account),
        ]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """The chat or the form adapter."""

        def current() -> WebchatSettings:
            return cast(WebchatSettings, settings())

        if spec.channel == "form":
            return FeedbackForm(spec, current, ports)
        return WebchatChannel(spec, current, ports)


PLUGIN = WebchatPlugin()
