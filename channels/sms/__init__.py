"""The SMS channel: an SMPP 3.4 client (ESME) towards the operators' SMSCs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import cast

from pydantic import BaseModel

from channels.contract import AccountSpec, Adapter, Channel, CommandRow, Fit, Parser, Ports
from channels.openapi import HttpDocs

from . import encoding, inbound
from .adapter import SmsAdapter
from .config import SmsFile


class SmsPlugin:
    """channels/sms.toml: one adapter per account, each with its binds."""

    name = "sms"
    settings_model: type[BaseModel] = SmsFile
    # The SMSC's content is kept as it came; a redelivered PDU is the same key and content.
    parsers: Mapping[Channel, Parser] = MappingProxyType({"sms": Parser(inbound.parse)})
    # Citizens write the shared commands («СТАТУС», «СТОП»...).
    commands: Mapping[Channel, Sequence[CommandRow]] = MappingProxyType({})
    http_docs = HttpDocs()

    def fit(self, channel: Channel, settings: BaseModel) -> Fit | None:
        """A text fits if its parts fit the smallest `max_parts` of the file's accounts."""
        accounts = cast(SmsFile, settings).accounts.values()
        if not accounts:
            return None
        narrowest = min(accounts, key=lambda a: (a.max_parts, -a.reference_bits))
        return functools.partial(
            encoding.fits, max_parts=narrowest.max_parts, reference_bits=narrowest.reference_bits
        )

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Every account while `enabled`."""
        file = cast(SmsFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec("sms", name, account) for name, account in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An account's adapter."""
        return SmsAdapter(spec, lambda: cast(SmsFile, settings()), ports)


PLUGIN = SmsPlugin()
