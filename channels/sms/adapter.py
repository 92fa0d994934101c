"""An SMS account: its binds to the SMSC, notices out as submit_sm, citizens' SMS and receipts in.

A message the SMSC delivers is committed through the intake before its deliver_sm_resp
(Session answers only after on_inbound returns); a receipt goes to the platform's report port
by the SMSC's message id, which the adapter returned for the submit. A notice is split into
as many parts as its encoding needs (encoding.split) under one concatenation reference.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
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
    Receipt,
    Received,
    Sender,
    Sent,
    StatePort,
    rfc3339,
)
from channels.settings import read_first_line

from . import encoding, inbound
from .config import SmsAccount, SmsFile
from .events import BadPdu, BindKind, Inbound
from .pdus import Address, ShortMessage, Status, SubmitSm
from .progress import Cut, Partway, Progress
from .protocol import Policy
from .receipts import (
    RADICES,
    IdRadix,
    MessageState,
    normalise_message_id,
    parse_receipt,
    receipt_text,
)
from .session import THROTTLED_PAUSE, Answer, Endpoint, Session, SessionEnded, SubmitError

log = logging.getLogger(__name__)
T = TypeVar("T")
# SMPP 3.4 5.2.17: registered_delivery 1 asks for a receipt of final success or failure.
FINAL_RECEIPT = 0x01
# SMPP 3.4 5.2.5/5.2.6: an international number in the E.164 plan.
INTERNATIONAL, E164 = 1, 1
# Attempts at once per slot of the binds' windows: a window's worth waits ready behind the one
# in flight, so that each answer from the SMSC is followed by the next submit in the same send
# (Session's ready queue) instead of after a task wakes to make it.
LANE_WINDOWS = 2
# How many notices the SMSC took in part are remembered, the most recently attempted, so that
# their retry sends only the parts not taken (under the same reference). A bound by number, not
# a time: the outbox retries a notice at its own backoff for up to its max_age (hours), which a
# horizon would have to outlast, while an SMSC throttling for that long leaves any number of
# notices partway; a number bounds the memory whatever the rate (a notice's text and parts, a
# few KB at the default max_parts), and a notice forgotten is only sent whole again, as before
# a restart.
PARTWAY_KEPT = 1024
# ...and for this long after its first attempt. A handset holds the first parts of a long
# message only for a while (its own choice, minutes on common ones), and the outbox that has
# given a notice up may have it replayed later by an operator: then it goes whole again. Ten
# minutes cover the throttling and backoff a notice meets while the SMSC is busy.
PARTWAY_SECONDS = 600.0
# Held parts of long messages are looked at this often at most (and four times a timeout).
EXPIRY_SCAN = 30.0
# How long a long message's parts are remembered after it was filed: an SMSC sends a part again
# when our answer to it was lost, within its retry schedule (hours; a day covers them).
REDELIVERY_HORIZON = 86400.0
# The answered counts of a lull's last SMS are written on their own after this long; while SMS
# keep coming, each next one's journal commit takes them (AnsweredCounts.ride).
LONE_MARKS_SECONDS = 0.05
# How much of a receipt we cannot use is logged (Appendix B's text takes some 150 characters).
RECEIPT_LOGGED = 200
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
        self._sessions: list[Session] = []
        self._transmitters: list[Session] = []
        self._turn = 0
        self._stopping = False
        # A bind of this run has ended, or the account is cancelled: the binds are draining,
        # and one that ends now ends the account no more.
        self._ending = False
        # The binds' shields from the account's cancellation, lifted once they have drained.
        self._shields: list[trio.CancelScope] = []
        self._password = ""
        # One long message's parts may come on several binds at once.
        self._parts_lock = trio.Lock()
        # Content committed but not yet answered, by digest, and how often each was (_file).
        self._unanswered: dict[str, trio.Event] = {}
        self._answered = AnsweredCounts(ports.state, f"{spec.account}/answered/")
        # In memory: after a crash a notice sent in part goes whole again. The outbox never
        # attempts one notice twice at once (it claims only queued ones, and puts one back only
        # once its attempt has ended), so one notice's progress has one attempt at a time.
        self._partway = Partway(PARTWAY_KEPT, PARTWAY_SECONDS)

    @property
    def _alphabet(self) -> encoding.DefaultAlphabet:
        return self.settings.default_alphabet

    @property
    def lane(self) -> Lane:
        """LANE_WINDOWS times as many attempts at once as the binds' windows hold, paced by their
        throughput."""
        account = self.settings
        binds = account.binds
        rate = None if account.throughput is None else account.throughput * binds
        # A part waits for a slot (a window of submits the SMSC never answers frees it after
        # response_timeout and the expiry's tick), for its turn under throughput behind the
        # bind's other ready submits, and for its answer.
        queued = LANE_WINDOWS * account.window
        slot = account.response_timeout + 1
        turn = 0.0 if account.throughput is None else queued / account.throughput
        return Lane(
            concurrency=queued * binds,
            attempt_timeout=account.max_parts * (2 * slot + turn) + 5,
            account_rate=rate,
        )

    def routes(self) -> Sequence[BaseRoute]:
        """No HTTP routes."""
        return []

    def detail(self) -> dict[str, object]:
        """The binds up now (omnirouter_channel_detail{figure="binds"} as well)."""
        return {"binds": sum(session.bound for session in self._sessions)}

    def stop_intake(self) -> None:
        """Take nothing new: the binds stay for the deliveries in flight until cancelled, and
        then drain and unbind."""
        self._stopping = True

    @property
    def deliver(self) -> Deliver:
        """Notices go out as submit_sm."""
        return self._deliver

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind `binds` times as configured, and listen for the SMSC's outbind if asked; a bind
        that ends ends the account once the others have drained (the supervisor binds again
        after its backoff)."""
        account = self.settings
        # Read once per run: every bind of it, an outbind's too, logs in with it.
        self._password = read_first_line(self.ports.config_dir / account.password_file)
        sessions = [
            self._session(kind) for _ in range(account.binds) for kind in _BINDS[account.bind]
        ]
        self._sessions = sessions
        self._transmitters = [s for s in sessions if s.endpoint.kind is not BindKind.RECEIVER]
        self._ending = False
        self._shields = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._drain_when_cancelled, sessions)
                for session in sessions:
                    await nursery.start(self._serve, session)
                if account.outbind_listen is not None:
                    host, _, port = account.outbind_listen.rpartition(":")
                    await nursery.start(
                        functools.partial(trio.serve_tcp, self._outbound, int(port), host=host)
                    )
                nursery.start_soon(self._expire_parts)
                nursery.start_soon(self._count_answers)
                task_status.started()
        except* SessionEnded as ended:
            # The nursery wraps it in a group: the account's last_error names the reason.
            reason = ended.exceptions[0]
            raise ConnectionError(f"{account.host}:{account.port}: {reason}") from None

    async def _serve(
        self, session: Session, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """One bind of the account; the first to end drains the others, then ends the account."""
        with self._shield():
            try:
                await session.run(task_status=task_status)
            except SessionEnded:
                if self._ending:
                    return  # drained, or ended with the first: that one's reason ends the account
                self._ending = True
                # Cancelled, the other binds would tell the submits they sent that their outcome
                # is unknown, and those notices would never be sent again: they get their
                # answers first (each within response_timeout), then unbind.
                await self._drain([s for s in self._sessions if s is not session])
                raise

    async def _drain_when_cancelled(self, sessions: list[Session]) -> None:
        """When the account is cancelled (the daemon stops, a reload drops it), drain its binds
        before they go, within twice response_timeout (the answers, then the unbind's)."""
        try:
            await trio.sleep_forever()
        finally:
            self._ending = True
            try:
                with trio.CancelScope(shield=True) as grace:
                    grace.deadline = trio.current_time() + 2 * self.settings.response_timeout
                    await self._drain(sessions)
            finally:  # whatever came of the drain, the account stops
                for shield in self._shields:
                    shield.cancel()

    def _shield(self) -> trio.CancelScope:
        """A scope the account's cancellation reaches once its binds have drained
        (_drain_when_cancelled), or at once if they have already."""
        shield = trio.CancelScope(shield=not self._ending)
        self._shields.append(shield)
        return shield

    async def _count_answers(self) -> None:
        """Write the answered counts until the binds have drained: the SMS answered as they
        drain are counted too."""
        with self._shield():
            await self._answered.run()

    async def _drain(self, sessions: Sequence[Session]) -> None:
        """End these binds gracefully, all at once (Session.drain)."""
        async with trio.open_nursery() as draining:
            for session in sessions:
                draining.start_soon(session.drain, self.settings.response_timeout)

    def _session(self, kind: BindKind) -> Session:
        account = self.settings
        endpoint = Endpoint(
            account.host,
            account.port,
            account.tls,
            kind,
            account.system_id,
            self._password,
            account.system_type,
            account.address_range,
            None if account.tls_ca_file is None else self.ports.config_dir / account.tls_ca_file,
        )
        return Session(
            endpoint,
            self._inbound,
            window=account.window,
            throughput=account.throughput,
            enquire_link=account.enquire_link,
            response_timeout=account.response_timeout,
            bind_timeout=account.bind_timeout,
        )

    async def _outbound(self, stream: trio.SocketStream) -> None:
        """A connection the SMSC opened for its outbind: a receiver bind while it lasts. Its end
        is the SMSC's to decide and ends nothing else of the account."""
        session = self._session(BindKind.RECEIVER)
        self._sessions.append(session)
        try:
            await session.run(stream)
        except SessionEnded as ended:
            log.info("SMPP outbind session of %s ended: %s", self.account, ended)
        finally:
            self._sessions.remove(session)

    async def _deliver(self, message: Outbound) -> Sent:
        """Each part of the notice the SMSC has not taken yet as a submit_sm on the next bound
        transmitter; the notice's references are every part's message id."""
        session = self._transmitter()
        account = self.settings
        progress = self._progress(message)
        parts = progress.parts
        destination = message.address.removeprefix("+")
        radix = RADICES[account.message_id_radix].answer
        for part in parts.parts[len(progress.taken) :]:
            sm = SubmitSm(
                source=Address(account.source_addr),
                destination=Address(destination, INTERNATIONAL, E164),
                short_message=part.short_message,
                data_coding=parts.data_coding,
                esm_class=parts.esm_class,
                registered_delivery=FINAL_RECEIPT,
                sar=parts.sar(part),
            )
            try:
                progress.taken.append(self._reference(await session.submit(sm), radix))
            except SubmitError as refused:
                failed = _delivery_failed(refused)
                if failed.permanent:
                    self._partway.forget(message.id)
                raise failed from refused
            # Kept as each part is taken, so that an attempt cut short (its timeout, a bind
            # lost) leaves what the SMSC took for the next one.
            if len(progress.taken) < len(parts.parts):
                self._partway.keep(message.id, progress)
        self._partway.forget(message.id)
        return Sent(references=tuple(progress.taken))

    def _progress(self, message: Outbound) -> Progress:
        """Where the notice's last attempt stopped, or its parts under a new reference."""
        account = self.settings
        use_sar = account.concatenation == "sar"
        cut = Cut(message.text, account.max_parts, account.reference_bits, use_sar, self._alphabet)
        now = trio.current_time()
        progress = self._partway.resume(message.id, cut, now)
        if progress is not None:
            return progress
        reference = random.randrange(1 << account.reference_bits)
        try:
            parts = encoding.split(
                message.text,
                max_parts=account.max_parts,
                reference=reference,
                reference_bits=account.reference_bits,
                use_sar=use_sar,
                default_alphabet=self._alphabet,
            )
        except DoesNotFit as too_long:  # this account's max_parts, narrower than the fit's
            raise DeliveryFailed(too_long.reason, permanent=True) from too_long
        return Progress(cut, parts, now)

    def _reference(self, message_id: str, radix: IdRadix) -> str:
        """A message id as the platform keeps it: normalised, and the account's, since two
        operators' SMSCs number their messages each on its own and may give the same id."""
        return f"{self.account}:{normalise_message_id(message_id, radix)}"

    def _transmitter(self) -> Session:
        bound = [s for s in self._transmitters if s.bound]
        if not bound:
            raise DeliveryFailed("no bind to the SMSC is up")
        # A bind the SMSC throttled takes nothing while another can: its attempts would hold
        # the lane's slots through its pause, and the other binds would wait idle behind them.
        ready = [s for s in bound if not s.paused] or bound
        self._turn += 1
        return ready[self._turn % len(ready)]

    async def _inbound(self, event: Inbound | BadPdu) -> Answer:
        """Commit what the SMSC delivered; how its deliver_sm_resp answers."""
        if self._stopping:
            # SMPP 3.4 5.1.3: a temporary error: the SMSC delivers it again after the restart.
            return Answer(Status.ESME_RX_T_APPN)
        if isinstance(event, Inbound) and event.message.is_receipt:
            # Never filed, even unread: as a citizen's SMS it would open a ticket and answer the
            # SMSC's receipt with a confirmation, billed, whose receipt comes back the same way.
            await self._report(event.message)
            return Answer(Status.ESME_ROK)
        if isinstance(event, BadPdu):
            # Kept byte for byte: filed unparseable, its raw for an operator to read.
            return await self._file(event.raw, "application/octet-stream", None)
        pdu = inbound.pdu_of(event.message)
        try:
            part = pdu.segment()
        except encoding.MalformedShortMessage:
            part = None  # filed as it came; the parser flags it unparseable
        if part is None:
            return await self._file(inbound.kept([pdu], self._alphabet), inbound.CONTENT_TYPE, pdu)
        return await self._hold(pdu, part)

    async def _hold(self, pdu: inbound.Pdu, part: encoding.Segment) -> Answer:
        """Keep a part of a long message in the state until the last one comes, then file the
        whole message in the same commit that marks its parts filed."""
        group = f"{self.account}/parts/{part.source}/{part.reference}/{part.total}"
        async with self._parts_lock:
            held = inbound.held(await self.ports.state.get(group))
            if held is not None and held.redelivered(pdu):
                return Answer(Status.ESME_ROK)
            if held is not None and held.clashes(pdu, part.seq):
                # What was held of the earlier message is filed as it is, never mixed in.
                earlier = await self._file_whole(group, held)
                if earlier.settled is not None:
                    await earlier.settled(True)  # no SMSC waits for an answer to it
                held = None
            if held is None or held.filed is not None:
                # The first part, or a new message under a reference used before.
                held = inbound.Held(since=time.time(), pdus=[])
            held = msgspec.structs.replace(held, pdus=[*held.pdus, pdu])
            if len(held.pdus) < part.total:
                await self.ports.state.put({group: inbound.encode_held(held)})
                return Answer(Status.ESME_ROK)
            return await self._file_whole(group, held)

    async def _file_whole(self, group: str, held: inbound.Held) -> Answer:
        """File a long message, all its parts or those that came, and mark them filed."""
        filed = msgspec.structs.replace(held, filed=time.time())
        whole = inbound.kept(held.pdus, self._alphabet)
        changes = {group: inbound.encode_held(filed)}
        return await self._file(whole, inbound.CONTENT_TYPE, held.pdus[0], changes)

    async def _file(
        self,
        payload: bytes,
        content_type: str,
        pdu: inbound.Pdu | None,
        state: Mapping[str, bytes | None] | None = None,
    ) -> Answer:
        """Commit an SMS (with the state changes that go with it) and answer once committed.

        An SMSC names a deliver_sm by nothing of its own, so the journal's key is the content's
        digest and its occurrence: a redelivery (our answer never went) is the occurrence that
        was not answered, and files nothing new; the same text sent again after we answered is
        the next occurrence. The count of answered ones is read only when a key was seen."""
        digest = inbound.key(payload)
        while (busy := self._unanswered.get(digest)) is not None:
            await busy.wait()  # the same content again, before the first copy is answered
        self._unanswered[digest] = trio.Event()
        # The transport's word for who sent it, should the PDU's text prove unreadable.
        phone = None if pdu is None else inbound.msisdn(pdu.source, pdu.source_ton, pdu.source_npi)
        occurrence, answered = 0, None
        try:
            while True:
                received = Received(
                    channel="sms",
                    account=self.account,
                    idempotency_key=digest if occurrence == 0 else f"{digest}.{occurrence}",
                    received_at=rfc3339(datetime.now(UTC)),
                    content_type=content_type,
                    payload=payload,
                    sender=None if phone is None else Sender("phone", phone),
                )
                if occurrence == 0:
                    # The counts of answers not written yet ride the first commit.
                    receive = functools.partial(self.ports.intake.receive, received)
                    receipt = await self._answered.ride(state, receive)
                else:
                    receipt = await self.ports.intake.receive(received, state)
                if not receipt.redelivery:
                    break
                if answered is None:
                    answered = await self._answered.count(digest)
                if occurrence >= answered and _lately(receipt.first_received_at):
                    break  # that occurrence was never answered: the SMSC delivers it again
                # Answered, or received longer ago than any SMSC delivers again (its answered
                # count lost to a crash): the same text, sent anew.
                occurrence += 1
        except BaseException:
            self._unanswered.pop(digest).set()
            raise

        async def settled(sent: bool) -> None:
            if sent:
                self._answered.mark(digest, occurrence + 1)
            self._unanswered.pop(digest).set()

        return Answer(Status.ESME_ROK, settled)

    async def _expire_parts(self) -> None:
        """File the long messages whose parts stopped coming (the parser flags them incomplete),
        and forget filed ones once the SMSC can no longer send a part of them again."""
        timeout = self.settings.reassembly_timeout
        while True:
            await trio.sleep(min(timeout / 4, EXPIRY_SCAN))
            for group, _ in await self.ports.state.items(f"{self.account}/parts/"):
                async with self._parts_lock:
                    held = inbound.held(await self.ports.state.get(group))
                    now = time.time()
                    if held is None:
                        continue
                    if held.filed is not None:
                        if now - held.filed > REDELIVERY_HORIZON:
                            await self.ports.state.put({group: None})
                        continue
                    if now - held.since < timeout:
                        continue
                    answer = await self._file_whole(group, held)
                if answer.settled is not None:
                    await answer.settled(True)  # no SMSC waits for an answer to it

    async def _report(self, message: ShortMessage) -> None:
        """Tell the report port what a receipt says of its notice; count one we cannot read."""
        receipt = parse_receipt(message, self._alphabet)
        if receipt is None or receipt.state is None:
            # Answered all the same: refused, the SMSC would deliver it again for ever.
            reason = "unreadable receipt" if receipt is None else "receipt without a state"
            self.ports.bad_input("sms", reason)
            text = receipt_text(message, self._alphabet)
            log.warning("SMS %s on %s: %r", reason, self.account, text[:RECEIPT_LOGGED])
            return
        if self.ports.reports is None:
            return
        if receipt.state is MessageState.DELIVERED:
            delivered = True
        elif receipt.state in _FAILED_STATES:
            delivered = False
        else:
            return  # en route, accepted, unknown: not the end of its story
        radices = RADICES[self.settings.message_id_radix]
        radix = radices.answer if receipt.id_in_tlv else radices.receipt
        await self.ports.reports.report(
            "sms",
            self._reference(receipt.message_id, radix),
            delivered=delivered,
            reason=None if delivered else f"SMSC receipt: {receipt.stat or receipt.state.name}",
        )


def _delivery_failed(refused: SubmitError) -> DeliveryFailed:
    """A refused submit as the outbox's outcome (SMPP 3.4 5.1.3 by status)."""
    match refused.policy:
        case Policy.BACK_OFF:
            # Tried again once the bind's pause is over (the SMSC names no time).
            return DeliveryFailed(refused.reason, retry_after=THROTTLED_PAUSE)
        case Policy.RETRY:
            return DeliveryFailed(refused.reason)
        case Policy.PERMANENT:
            return DeliveryFailed(refused.reason, permanent=True)
    # No answer: the SMSC may have sent it. Sending again could reach the citizen twice, so the
    # notice stops here for an operator (docs/channels.md, SMS), never silently.
    return DeliveryFailed(f"{refused.reason}; not sent again", permanent=True)


class AnsweredCounts:
    """How many times each SMS content was answered, kept in the account's state."""

    # Written with the next SMS's journal commit (`ride`), or on their own after a lull's
    # LONE_MARKS_SECONDS, not each at once: they only tell a rare same text sent again from a
    # redelivery (a crash between an answer and the write of its count takes the later copy
    # for a redelivery).

    def __init__(self, state: StatePort, prefix: str) -> None:
        self.state = state
        self.prefix = prefix
        self._pending: dict[str, int] = {}
        # Taken by a commit not over yet: what count() says until the database does.
        self._taken: dict[str, int] = {}
        self._ready = trio.Event()

    async def count(self, digest: str) -> int:
        """How many times this content was answered."""
        for batch in (self._pending, self._taken):
            if digest in batch:
                return batch[digest]
        return int(await self.state.get(self.prefix + digest) or b"0")

    def mark(self, digest: str, count: int) -> None:
        """Answered `count` times now; written with the next commit."""
        self._pending[digest] = count
        self._ready.set()

    async def ride(
        self,
        state: Mapping[str, bytes | None] | None,
        commit: Callable[[Mapping[str, bytes | None] | None], Awaitable[Receipt]],
    ) -> Receipt:
        """`commit` these state changes and the counts not written yet in one commit."""
        # In a stream of SMS, a commit (and an fsync) of their own per burst of answers delayed
        # the next burst's.
        return await self._commit_taken(lambda counts: commit({**(state or {}), **counts} or None))

    async def run(self) -> None:
        """Write the counts no SMS's commit took within LONE_MARKS_SECONDS, and those still
        pending when the account stops."""
        try:
            while True:
                await self._ready.wait()
                await trio.sleep(LONE_MARKS_SECONDS)
                self._ready = trio.Event()
                await self._write_alone()
        finally:
            # A reload or a stop cancels the account within the lull: no SMS's commit takes
            # them now, and a count lost takes the citizen's same text sent again for a
            # redelivery.
            try:
                await self._write_alone()
            except Exception as exc:  # the way out goes on; the loss is told
                log.error("SMS answered counts not written as the account stops: %r", exc)

    async def _write_alone(self) -> None:
        """Write the pending counts in a commit of their own."""
        if self._pending:
            await self._commit_taken(self._put)

    async def _put(self, counts: Mapping[str, bytes | None]) -> None:
        with trio.CancelScope(shield=True):  # a batch taken is a batch written
            await self.state.put(counts)

    async def _commit_taken(self, commit: Callable[[dict[str, bytes | None]], Awaitable[T]]) -> T:
        """Take the pending counts and `commit` their state changes; those it did not write
        are pending again, unless a later count of the same content was taken since."""
        taken, self._pending = self._pending, {}
        self._taken.update(taken)
        written = False
        try:
            result = await commit({self.prefix + d: str(n).encode() for d, n in taken.items()})
            written = True
        finally:
            self._settle(taken, written=written)
        return result

    def _settle(self, taken: Mapping[str, int], *, written: bool) -> None:
        """The commit that took these counts is over: those it did not write are pending again."""
        for digest, count in taken.items():
            # Unless a later count of the same content was taken since: counts only grow.
            if self._taken.get(digest) == count:
                del self._taken[digest]
                if not written:
                    self._pending.setdefault(digest, count)
                    self._ready.set()


def _lately(first_received_at: str | None) -> bool:
    """Whether a key's first receipt is recent enough for an SMSC to deliver it again."""
    if first_received_at is None:
        return True
    first = datetime.fromisoformat(first_received_at)
    return (datetime.now(UTC) - first).total_seconds() < REDELIVERY_HORIZON
