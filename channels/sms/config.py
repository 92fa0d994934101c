"""Settings of the SMS channel (channels/sms.toml; the keys CONTRACTS.md fixes, and ours)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from channels.settings import Duration
from channels.sms.encoding import DefaultAlphabet, ReferenceBits
from channels.sms.receipts import MessageIdRadix


class SmsAccount(BaseModel):
    """[accounts.NAME]: one SMSC connection set (an operator's short number)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(2775, ge=1, le=65535)  # IANA's SMPP port
    tls: StrictBool = False
    # The CA file the SMSC's certificate is checked against when it is not a public one (an
    # operator's own CA), relative to the configuration directory.
    tls_ca_file: Path | None = None
    system_id: str = Field(min_length=1, max_length=15)  # SMPP 3.4 5.2.1: C-Octet String(16)
    password_file: Path
    system_type: str = Field("", max_length=12)  # 5.2.2: C-Octet String(13)
    # 5.2.7: the addresses a receiving bind serves, as a regular expression the SMSC applies
    # (empty: every address of the account).
    address_range: str = Field("", max_length=40)  # C-Octet String(41)
    # host:port to listen on for the SMSC's outbind (4.1.7): it connects when it has messages
    # and we bind as a receiver on that connection. Unset: we only connect out.
    outbind_listen: str | None = Field(None, pattern=r"^[^:\s]+:\d{1,5}$")
    bind: Literal["transceiver", "receiver+transmitter"] = "transceiver"
    binds: int = Field(1, ge=1, le=16)
    source_addr: str = Field(min_length=1, max_length=20)  # 5.2.8: C-Octet String(21)
    # Jasmin and Kannel default to 10 and 10; most SMSCs allow 10 to 100 outstanding.
    window: int = Field(10, ge=1, le=1000)
    # Submits per second per bind (an operator's contract states it); None: unpaced.
    throughput: float | None = Field(None, gt=0)
    enquire_link: Duration = 30.0
    response_timeout: Duration = 10.0
    bind_timeout: Duration = 10.0
    # GSM networks join at most 255 parts (3GPP TS 23.040 9.2.3.24.1); operators bill each,
    # and handsets show 6 to 10 well.
    max_parts: int = Field(6, ge=1, le=255)
    # Concatenation references of 8 bits (the common default) or 16.
    reference_bits: ReferenceBits = 8
    # How the parts of a long notice say their place: a UDH in the short_message (every SMSC
    # passes it on), or SMPP's sar_* TLVs, from which the SMSC builds the UDH itself.
    concatenation: Literal["udh", "sar"] = "udh"
    # What data_coding 0 means on this SMSC: the GSM 03.38 alphabet, or Latin-1 (some SMSCs;
    # their citizens' SMS are read in it, and our notices go to them in UCS2).
    default_alphabet: DefaultAlphabet = "gsm7"
    # How the SMSC writes a message id in its submit_sm_resp and in its receipts (Kannel's
    # msg-id-type): the same way, or hex in one and decimal in the other.
    message_id_radix: MessageIdRadix = "same"
    # How long the parts of a long message wait for the rest before what came is filed
    # flagged `incomplete`.
    reassembly_timeout: Duration = 300.0


class SmsFile(BaseModel):
    """channels/sms.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: StrictBool = False
    accounts: dict[str, SmsAccount] = {}
