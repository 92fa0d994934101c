"""An SMS account: its binds to the SMSC, notices out as submit_sm, citizens' SMS and receipts in.

A message the SMSC delivers is committed through the intake before its deliver_sm_resp
(Session answers only after on_inbound returns); a receipt goes to the platform's report port
by the SMSC's message id, which the adapter returned for the submit. A notice is split into
as many parts as its encoding needs (encoding.split) under one concatenation reference.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import trio
from starlette.routing import BaseRoute

from channels.contract import (
    AccountSpec,
    Channel,
    Deliver,
    DeliveryFailed,
    DoesNotFit,
    Lane,
    Outbound,
    Ports,
    Received,
    Sender,
    Sent,
    rfc3339,
)
from channels.settings import read_secret

from . import encoding, inbound
from .config import SmsAccount, SmsFile
from .events import BadPdu, BindKind, Inbound
from .pdus import Address, Status, SubmitSm
from .protocol import Policy
from .receipts import MessageState, normalise_message_id
from .session import Endpoint, Session, SessionEnded, SubmitError

log = logging.getLogger(__name__)
# SMPP 3.4 5.2.17: registered_delivery 1 asks for a receipt of final success or failure.
FINAL_RECEIPT = 0x01
# SMPP 3.4 5.2.5/5.2.6: an international number in the E.164 plan.
INTERNATIONAL, E164 = 1, 1
# A throttled submit is tried again after this long (the SMSC names no time).
THROTTLED_RETRY = 1.0
_BINDS: dict[str, tuple[BindKind, ...]] = {
    "transceiver": (BindKind.TRANSCEIVER,),
    "receiver+transmitter": (BindKind.RECEIVER, BindKind.TRANSMITTER),
}
_FAILED_STATES = {
    MessageState.EXPIRED,
    MessageState.DELETED,
    MessageState.UNDELIVERABLE,
    MessageState.REJECTED,
}


class SmsAdapter:
    """One account of channels/sms.toml."""

    channel: Channel = "sms"
    websocket_max_message = 0

    def __init__(self, spec: AccountSpec, settings: Callable[[], SmsFile], ports: Ports) -> None:
        self.account = spec.account
        self.settings: SmsAccount = settings().accounts[spec.account]
        self.ports = ports
        self._transmitters: list[Session] = []
        self._turn = 0
        self._stopping = False

    @property
    def lane(self) -> Lane:
        """As many attempts at once as the binds' windows hold; paced by their throughput."""
        binds = self.settings.binds
        rate = None if self.settings.throughput is None else self.settings.throughput * binds
        return Lane(
            concurrency=self.settings.window * binds,
            attempt_timeout=self.settings.response_timeout * self.settings.max_parts + 5,
            account_rate=rate,
        )

    def routes(self) -> Sequence[BaseRoute]:
        """No HTTP routes."""
        return []

    def detail(self) -> dict[str, object]:
        """The binds up now."""
        return {"binds": sum(session.bound for session in self._transmitters)}

    def stop_intake(self) -> None:
        """Take nothing new: the binds stay for the deliveries in flight until cancelled."""
        self._stopping = True

    @property
    def deliver(self) -> Deliver:
        """Notices go out as submit_sm."""
        return self._deliver

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind `binds` times as configured; a bind that ends ends the account (the supervisor
        binds again after its backoff)."""
        account = self.settings
        password = read_secret(self.ports.config_dir / account.password_file)
        sessions = [
            Session(
                Endpoint(
                    account.host,
                    account.port,
                    account.tls,
                    kind,
                    account.system_id,
                    password.decode().splitlines()[0].strip() if password else "",
                    account.system_type,
                ),
                self._inbound,
                window=account.window,
                throughput=account.throughput,
                enquire_link=account.enquire_link,
                response_timeout=account.response_timeout,
                bind_timeout=account.bind_timeout,
            )
            for _ in range(account.binds)
            for kind in _BINDS[account.bind]
        ]
        self._transmitters = [s for s in sessions if s.endpoint.kind is not BindKind.RECEIVER]
        try:
            async with trio.open_nursery() as nursery:
                for session in sessions:
                    await nursery.start(session.run)
                task_status.started()
        except* SessionEnded as ended:
            # The nursery wraps it in a group: the account's last_error names the reason.
            reason = ended.exceptions[0]
            raise ConnectionError(f"{account.host}:{account.port}: {reason}") from None

    async def _deliver(self, message: Outbound) -> Sent:
        """Each part of the notice as a submit_sm on the next bound transmitter."""
        session = self._transmitter()
        account = self.settings
        reference = random.randrange(1 << account.reference_bits)
        try:
            parts = encoding.split(
                message.text,
                max_parts=account.max_parts,
                reference=reference,
                reference_bits=account.reference_bits,
            )
        except DoesNotFit as too_long:  # this account's max_parts, narrower than the fit's
            raise DeliveryFailed(too_long.reason, permanent=True) from too_long
        destination = message.address.removeprefix("+")
        ids = []
        for part in parts.parts:
            sm = SubmitSm(
                source=Address(account.source_addr),
                destination=Address(destination, INTERNATIONAL, E164),
                short_message=part.short_message,
                data_coding=parts.data_coding,
                esm_class=parts.esm_class,
                registered_delivery=FINAL_RECEIPT,
            )
            try:
                ids.append(normalise_message_id(await session.submit(sm)))
            except SubmitError as refused:
                raise _delivery_failed(refused) from refused
        return Sent(references=tuple(ids))

    def _transmitter(self) -> Session:
        bound = [s for s in self._transmitters if s.bound]
        if not bound:
            raise DeliveryFailed("no bind to the SMSC is up")
        self._turn += 1
        return bound[self._turn % len(bound)]

    async def _inbound(self, event: Inbound | BadPdu) -> int:
        """Commit what the SMSC delivered; the status its deliver_sm_resp answers with."""
        if self._stopping:
            # SMPP 3.4 5.1.3: a temporary error: the SMSC delivers it again after the restart.
            return Status.ESME_RX_T_APPN
        if isinstance(event, Inbound) and event.receipt is not None:
            await self._report(event)
            return Status.ESME_ROK
        if isinstance(event, BadPdu):
            # Kept byte for byte: filed unparseable, its raw for an operator to read.
            payload, content_type, sender = event.raw, "application/octet-stream", None
        else:
            payload = inbound.kept(event.message, self.settings.default_alphabet)
            content_type = inbound.CONTENT_TYPE
            # The transport's word for who sent it, should the PDU's text prove unreadable.
            source = event.message.source
            phone = inbound.msisdn(source.addr, source.ton)
            sender = None if phone is None else Sender("phone", phone)
        received = Received(
            channel="sms",
            account=self.account,
            idempotency_key=inbound.key(payload),
            received_at=rfc3339(datetime.now(UTC)),
            content_type=content_type,
            payload=payload,
            sender=sender,
        )
        await self.ports.intake.receive(received)
        return Status.ESME_ROK

    async def _report(self, event: Inbound) -> None:
        receipt = event.receipt
        assert receipt is not None
        if self.ports.reports is None or receipt.state is None:
            return
        if receipt.state is MessageState.DELIVERED:
            delivered = True
        elif receipt.state in _FAILED_STATES:
            delivered = False
        else:
            return  # en route, accepted, unknown: not the end of its story
        await self.ports.reports.report(
            "sms",
            normalise_message_id(receipt.message_id),
            delivered=delivered,
            reason=None if delivered else f"SMSC receipt: {receipt.stat or receipt.state.name}",
        )


def _delivery_failed(refused: SubmitError) -> DeliveryFailed:
    """A refused submit as the outbox's outcome (SMPP 3.4 5.1.3 by status)."""
    match refused.policy:
        case Policy.BACK_OFF:
            return DeliveryFailed(refused.reason, retry_after=THROTTLED_RETRY)
        case Policy.RETRY:
            return DeliveryFailed(refused.reason)
        case Policy.PERMANENT:
            return DeliveryFailed(refused.reason, permanent=True)
    # No answer: the SMSC may have sent it. Sending again could reach the citizen twice, so the
    # notice stops here for an operator (docs/channels.md, SMS), never silently.
    return DeliveryFailed(f"{refused.reason}; not sent again", permanent=True)
