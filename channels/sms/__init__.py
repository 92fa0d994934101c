"""The SMS channel: an SMPP 3.4 client (ESME) towards the operators' SMSCs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, cast

from pydantic import BaseModel

from channels.contract import (
    AccountSpec,
    Adapter,
    Channel,
    CommandRow,
    DoesNotFit,
    Fit,
    Parser,
    Ports,
)
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
        accounts = cast(SmsFile, settings).accounts
        if not accounts:
            return None
        limits: dict[_Limit, list[str]] = {}
        for name, account in accounts.items():
            limit = _Limit(account.max_parts, account.reference_bits, account.default_alphabet)
            limits.setdefault(limit, []).append(name)
        # The tightest first, so that the error names what a template must be cut to.
        tightest = sorted(limits.items(), key=lambda item: item[0].tightness)
        return functools.partial(_fits_every, tightest)

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        """Every account while `enabled`."""
        file = cast(SmsFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec("sms", name, account) for name, account in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        """An account's adapter."""
        return SmsAdapter(spec, lambda: cast(SmsFile, settings()), ports)


class _Limit(NamedTuple):
    """What an account's parts allow a text."""

    max_parts: int
    reference_bits: encoding.ReferenceBits
    default_alphabet: encoding.DefaultAlphabet

    @property
    def tightness(self) -> tuple[int, bool, int]:
        """Sorts the narrowest first: fewer parts, then UCS2 only, then a longer reference."""
        return (self.max_parts, self.default_alphabet != "latin1", -self.reference_bits)


def _fits_every(limits: Sequence[tuple[_Limit, list[str]]], text: str) -> list[str]:
    """`text` as one message if it fits each account's limit, else which accounts it does not."""
    for limit, names in limits:
        try:
            encoding.fits(
                text,
                limit.max_parts,
                reference_bits=limit.reference_bits,
                default_alphabet=limit.default_alphabet,
            )
        except DoesNotFit as too_long:
            why = " (its SMSC's default alphabet is Latin-1: every notice goes in UCS2)"
            latin1 = why if limit.default_alphabet == "latin1" else ""
            raise DoesNotFit(f"{too_long.reason} on account {', '.join(names)}{latin1}") from None
    return [text]


PLUGIN = SmsPlugin()
