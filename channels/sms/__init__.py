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
        """A text fits if its parts fit every account's: its `max_parts`, its references' size
        and its SMSC's default alphabet (a Latin-1 one gets UCS2)."""
        accounts = cast(SmsFile, settings).accounts.values()
        if not accounts:
            return None
        limits = sorted({(a.max_parts, a.reference_bits, a.default_alphabet) for a in accounts})
        return functools.partial(_fits_every, limits)

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Every account while `enabled`."""
        file = cast(SmsFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec("sms", name, account) for name, account in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An account's adapter."""
        return SmsAdapter(spec, lambda: cast(SmsFile, settings()), ports)


def _fits_every(
    limits: Sequence[tuple[int, encoding.ReferenceBits, encoding.DefaultAlphabet]], text: str
) -> list[str]:
    """`text` as one message if it fits each of `limits`, else the first TooLong."""
    for max_parts, reference_bits, default_alphabet in limits:
        encoding.fits(
            text,
            max_parts,
            reference_bits=reference_bits,
            default_alphabet=default_alphabet,
        )
    return [text]


PLUGIN = SmsPlugin()
