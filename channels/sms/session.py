"""One bind to an SMSC, driven by trio: the sans-IO Connection (protocol.py) over a socket.

The session owns the socket and the timers; everything SMPP says is decided by the
Connection. It connects, binds, answers what the SMSC asks, sends an enquire_link every
`enquire_link` and expires requests left unanswered for `response_timeout`. A submit waits in a
ready queue for room in the window and for its turn under `throughput`, and answers with the
SMSC's message id or a SubmitError; each answer that frees a slot is followed, in the same send,
by the next ready submit, without a task waking for it. Anything that ends the session (the
SMSC's unbind, a lost connection, a link that stops answering, a send it takes nothing of for
`response_timeout`, a refused bind) raises SessionEnded out of run(), and the supervisor binds
again after its backoff. drain() ends it gracefully: no more submits, the answers to those sent
awaited, then an unbind.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, NoReturn

import trio

from . import pdus
from .events import (
    BadPdu,
    BindFailed,
    BindKind,
    Bound,
    ConnectionClosed,
    Event,
    GenericNack,
    Inbound,
    LinkAlive,
    OutbindReceived,
    ResponseTimeout,
    StreamCorrupt,
    SubmitFailed,
    Submitted,
    Unbound,
)
from .protocol import NEED_DATA, Connection, Policy, classify

log = logging.getLogger(__name__)
READ_BYTES = 65536
# An SMSC that answers ESME_RTHROTTLED or ESME_RMSGQFUL gets no submit from this bind for this
# long (it names no time; Kannel's throttling-sleep-time does the same per connection): the
# submits ready behind the refused one wait instead of meeting the same answer.
THROTTLED_PAUSE = 1.0
# Linux's TCP_QUICKACK, set again after each read (the kernel drops it) while deliver_sm wait
# for their commit: what was read is acknowledged at once, not after the delayed-ACK timer or
# with our next send. An SMSC whose socket runs Nagle's algorithm (the simulator's Node sockets
# do) holds the rest of a burst of deliver_sm until the first is acknowledged; our first send,
# its answer, goes only after its commit, so the burst reached the writer one deliver_sm first
# and the rest a commit later. Every read then, not only a deliver_sm's: Nagle holds a
# deliver_sm behind any segment not yet acknowledged, a submit_sm_resp too (deliver_sm reads
# only: 800 deliver_sm/s against 1,400 at window 10, one run each). With none waiting, our
# next send carries the acknowledgement, and submits make no call per read.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class SessionEnded(Exception):
    """The session is over: why, in an operator's words (the status shows it)."""


class SubmitError(Exception):
    """The SMSC did not take a submit: its status and what to do about it (classify)."""

    def __init__(self, reason: str, policy: Policy | None) -> None:
        super().__init__(reason)
        self.reason = reason
        # None: no answer came in time; whether the SMSC took it is unknown.
        self.policy = policy


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom the session binds."""

    host: str
    port: int
    tls: bool
    kind: BindKind
    system_id: str
    password: str
    system_type: str
    address_range: str = ""
    # The CA the SMSC's certificate is checked against (an operator's own); None: the system's.
    ca_file: Path | None = None


class SessionLost:
    """The session ended with the request unanswered: its outcome is unknown."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Answer(NamedTuple):
    """How the account answers a deliver_sm: the status, and what it does once the answer is
    sent or cannot be (`settled(sent)`): a redelivery is told from a new message by it."""

    status: int
    settled: Callable[[bool], Awaitable[None]] | None = None


# What the session hands its account: an inbound message (or receipt) to commit. The session
# answers the SMSC (deliver_sm_resp) only once this returns, as it says.
OnInbound = Callable[[Inbound | BadPdu], Awaitable[Answer]]


class Session:
    """A bound SMPP session; `submit` is safe to call from many tasks at once."""

    def __init__(
        self,
        endpoint: Endpoint,
        on_inbound: OnInbound,
        *,
        window: int,
        throughput: float | None,
        enquire_link: float,
        response_timeout: float,
        bind_timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.on_inbound = on_inbound
        self.connection = Connection(window=window, clock=trio.current_time)
        self.throughput = throughput
        self.enquire_link = enquire_link
        self.response_timeout = response_timeout
        self.bind_timeout = bind_timeout
        self._stream: trio.abc.Stream | None = None
        # Why a send failed, once one has: the stream is closed, and what was to go on it never
        # went.
        self._broken: str | None = None
        # Set when submits wait for the writer (_write).
        self._unsent = trio.Event()
        self._send_lock = trio.Lock()
        # deliver_sm read and not committed yet: while there are, what is read is acknowledged
        # at once (_TCP_QUICKACK).
        self._committing = 0
        # The deliver_sm_resp of this turn of the run loop, sent together (_send_answers).
        self._answers: _Answers | None = None
        # When the send under way began; None between sends.
        self._sending_since: float | None = None
        # Submits not sent yet, in the order they came: they wait for a slot in the window and
        # for their turn under `throughput`.
        self._ready: deque[_Reply] = deque()
        self._replies: dict[int, _Reply] = {}  # sent requests by sequence number
        self._next_submit_at = 0.0
        # Until when the SMSC asked us to wait (THROTTLED_PAUSE); 0 when it did not.
        self._paused_until = 0.0
        # Bound and taking submits; a plain flag, as nothing waits for it.
        self.bound = False
        self._nursery: trio.Nursery | None = None
        # Set by drain() once no submit awaits its answer (or the session has ended).
        self._drained: trio.Event | None = None
        self._ended = trio.Event()
        # The SMSC's outbind, on a connection it opened (§4.1.7); never more than one.
        self._outbind_sender, self._outbind = trio.open_memory_channel[OutbindReceived](1)

    @property
    def paused(self) -> bool:
        """Whether the SMSC asked this bind to wait (THROTTLED_PAUSE) and the wait is not over."""
        return self._paused_until > trio.current_time()

    async def run(
        self,
        outbound: trio.abc.Stream | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, bind, report started, and serve until the session ends (SessionEnded).

        Given the connection an SMSC opened to us (`outbound`), wait for its outbind instead of
        connecting, and bind on it (SMPP 3.4 2.2.1)."""
        self._stream = await self._connect() if outbound is None else outbound
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._read)
                nursery.start_soon(self._write)
                nursery.start_soon(self._watch_sends)
                if outbound is not None:
                    await self._outbound()
                await self._bind()
                task_status.started()
                nursery.start_soon(self._keep_alive)
                nursery.start_soon(self._expire_late)
        except* SessionEnded as ended:
            # The nursery wraps what its tasks raise; the supervisor wants the reason itself.
            raise ended.exceptions[0] from None
        finally:
            self.bound = False
            self._ended.set()
            if self._drained is not None:
                self._drained.set()
            self._fail_waiting("the session ended before the SMSC answered")
            # Bounded: closing TLS sends close_notify, which a peer that stopped reading never
            # takes; cancelled, the close drops the connection instead.
            closing = trio.CancelScope(shield=True)
            closing.deadline = trio.current_time() + self.response_timeout
            with closing:
                await self._stream.aclose()

    async def submit(self, sm: pdus.SubmitSm) -> str:
        """Send one submit_sm; the SMSC's message id, or SubmitError."""
        if not self.bound:
            # The session ended (or never began): never sent.
            raise SubmitError("not bound to the SMSC", Policy.RETRY)
        # Encoded now, in the caller's turn: a field SMPP cannot carry is raised here, and the
        # reader that sends it once a slot frees has only to number it.
        reply = _Reply(pdus.submit_sm_body(sm))
        self._ready.append(reply)
        if self.connection.window_free > 0:
            # The writer sends it with whatever else is waiting: one send for a window's burst,
            # and no lock or shield per submit. With the window full, the answer that frees a
            # slot brings the reader to send it.
            self._unsent.set()
        try:
            # Parked here, with no coroutine of _Reply's between: a submit waits and wakes
            # through one frame less. Nothing can answer it before this first checkpoint.
            await trio.lowlevel.wait_task_rescheduled(reply.park())
        finally:  # a caller that gave up leaves nothing behind
            if reply.seq is None:
                with contextlib.suppress(ValueError):  # not sent: it never will be
                    self._ready.remove(reply)
            else:
                self._replies.pop(reply.seq, None)
        answer = reply.answer
        if type(answer) is Submitted:  # nearly always; the rest say why not
            return answer.message_id
        _not_taken(reply.result())  # raises the refusal of a submit never sent, too

    async def drain(self, grace: float) -> None:
        """End the session gracefully (SMPP 3.4 4.2): take no more submits, wait up to `grace`
        seconds for the answers to those sent, then unbind; return once run() has ended."""
        if not self.bound:
            if self._drained is not None:
                # A drain under way (a sibling bind ended, then the account is stopped): its
                # caller is told once it is over, as it would be by its own.
                await self._ended.wait()
            return  # else ending already, or not bound yet: nothing was sent to wait for
        self.bound = False  # no submit or enquire_link from now on
        self._refuse_ready()
        self._drained = trio.Event()
        self._note_drained()
        # An answer that does not come in time is told as now, once the session ends: unknown.
        with trio.move_on_after(grace):
            await self._drained.wait()
        if self.connection.may_send(pdus.CommandId.UNBIND):
            self.connection.unbind()
            # Its caller may give up (the daemon stopping): a PDU cut short would break the
            # framing of the answers the session still owes.
            with trio.CancelScope(shield=True):
                await self._flush()
        # The unbind_resp ends run(); none within response_timeout, _expire_late does.
        await self._ended.wait()

    def _note_drained(self) -> None:
        """Wake drain() once no submit awaits its answer."""
        if self._drained is not None and not self.connection.submits_awaiting:
            self._drained.set()

    async def _connect(self) -> trio.abc.Stream:
        endpoint = self.endpoint
        try:
            with trio.fail_after(self.bind_timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(endpoint.host, endpoint.port)
                if endpoint.tls:
                    context = ssl.create_default_context(cafile=endpoint.ca_file)
                    stream = trio.SSLStream(stream, context, server_hostname=endpoint.host)
                    await stream.do_handshake()
        except (OSError, trio.TooSlowError, trio.BrokenResourceError) as error:
            # Unreachable is one more way the session ends: the supervisor backs off the same.
            # A failed TLS handshake is a BrokenResourceError; its cause says why (a certificate
            # no CA we trust signed, a name that does not match).
            cause = error.__cause__ or error
            reason = str(cause) or type(cause).__name__
            raise SessionEnded(
                f"cannot connect to {endpoint.host}:{endpoint.port}: {reason}"
            ) from error
        return stream

    async def _outbound(self) -> None:
        """The SMSC's outbind, naming this account, before the bind_timeout."""
        with trio.move_on_after(self.bind_timeout):
            outbind = await self._outbind.receive()
            endpoint = self.endpoint
            name_ok = outbind.system_id == endpoint.system_id
            # In constant time: the listener answers whoever connects.
            secret_ok = hmac.compare_digest(outbind.password.encode(), endpoint.password.encode())
            if not (secret_ok and name_ok):
                raise SessionEnded(f"outbind as {outbind.system_id!r}, not this account")
            return
        raise SessionEnded(f"no outbind in {self.bind_timeout:g}s")

    async def _bind(self) -> None:
        endpoint = self.endpoint
        seq = self.connection.bind(
            endpoint.kind,
            endpoint.system_id,
            endpoint.password,
            system_type=endpoint.system_type,
            address_range=pdus.Address(endpoint.address_range),
        )
        reply = self._replies[seq] = _Reply(None)
        await self._flush()
        with trio.move_on_after(self.bind_timeout) as late:
            await reply.wait()
        del self._replies[seq]
        if late.cancelled_caught:
            self.connection.expire(seq)
            raise SessionEnded(f"no answer to the bind in {self.bind_timeout:g}s")
        answer = reply.answer
        if isinstance(answer, BindFailed):
            # ESME_RINVPASWD, ESME_RBINDFAIL...: the operator's words for it, then backoff.
            raise SessionEnded(f"bind refused: {answer.status_name}")
        log.info("SMPP bound to %s:%d as %s", endpoint.host, endpoint.port, endpoint.kind.name)
        self.bound = True

    async def _read(self) -> None:
        stream = self._stream
        assert stream is not None
        tcp = _quick_ack_socket(stream)
        connection, replies = self.connection, self._replies
        while True:
            try:
                data = await stream.receive_some(READ_BYTES)
            except trio.BrokenResourceError as error:
                raise SessionEnded(f"connection lost: {error.__cause__ or error}") from error
            except trio.ClosedResourceError as error:  # _flush closed it after a send failed
                raise SessionEnded(self._broken or "connection closed") from error
            connection.receive_data(bytes(data))
            while (event := connection.next_event()) is not NEED_DATA:
                # Nearly every event. It adds nothing to send; what an earlier PDU of this read
                # added (an enquire_link_resp) goes with the next event's or the read's flush.
                if type(event) is Submitted:
                    if (reply := replies.pop(event.seq, None)) is not None:
                        reply.give(event)
                    continue
                # The Connection's own answers (enquire_link_resp, unbind_resp, generic_nack)
                # go out before the event is handled: an unbind or a corrupt stream ends the
                # session in _handle, and the SMSC is still owed its answer.
                if connection.has_data_to_send:
                    await self._flush()
                self._handle(event)
            if self._committing and tcp is not None and self._broken is None:
                _quick_ack(tcp)
            # The slots the answers freed, taken by the ready submits and sent at once, in one
            # send: no task has to wake for it. Those whose turn under throughput is still to
            # come, the writer sends at their turn.
            if self._dispatch() is not None:
                self._unsent.set()
            self._note_drained()
            await self._flush()
            if not data:
                raise SessionEnded("the SMSC closed the connection")

    def _handle(self, event: Event) -> None:
        """What the SMSC said, each to its place."""
        match event:  # a Submitted, nearly every event, is handed out by _read itself
            case SubmitFailed() | GenericNack():
                if _policy(event) is Policy.BACK_OFF:
                    self._paused_until = trio.current_time() + THROTTLED_PAUSE
                self._give(event)
            case Inbound() | BadPdu(awaits_answer=True):
                assert self._nursery is not None
                self._committing += 1
                self._nursery.start_soon(self._commit_then_answer, event)
            case Bound() | BindFailed():
                # The bind's answer names no sequence here: it is the one request in flight.
                self._answer(next(iter(self._replies), None), event)
            case LinkAlive():
                pass
            case OutbindReceived():
                with contextlib.suppress(trio.WouldBlock):  # the first one counts
                    self._outbind_sender.send_nowait(event)
            case Unbound(by_peer=True):
                raise SessionEnded("the SMSC unbound the session")
            case Unbound():
                raise SessionEnded("unbound")
            case ConnectionClosed():
                raise SessionEnded("the SMSC closed the connection")
            case StreamCorrupt(reason=reason):
                raise SessionEnded(f"unreadable stream from the SMSC: {reason}")
            case _:
                log.info("SMPP %s", type(event).__name__)

    def _give(self, event: SubmitFailed | GenericNack) -> None:
        """An answer to a submit (or a generic_nack, which may answer an enquire_link): to
        whoever waits for it, taken out of those that wait."""
        if (reply := self._replies.pop(event.seq, None)) is not None:
            reply.give(event)

    def _answer(self, seq: int | None, event: Event | SessionLost) -> None:
        """A response to one of our requests: wake whoever waits for it."""
        reply = None if seq is None else self._replies.get(seq)
        if reply is not None:
            reply.give(event)

    def _dispatch(self) -> float | None:
        """Ready submits into the window while it has room, `throughput` allows and the SMSC
        has not asked us to wait, for the next flush to send; the time of the next turn if one
        waits for it."""
        connection = self.connection
        ready = self._ready
        if not (
            ready
            and self.bound
            and self._broken is None
            # Still bound in our eyes, but the SMSC's unbind (or a corrupt stream) is read and
            # the reader is sending its answer before the session ends.
            and connection.may_send(pdus.CommandId.SUBMIT_SM)
        ):
            return None  # none of these changes while the loop below fills the window
        if self._paused_until:
            if trio.current_time() < self._paused_until:
                return self._paused_until
            self._paused_until = 0.0
        throughput = self.throughput
        free = connection.window_free
        burst: list[_Reply] = []
        bodies: list[bytes] = []
        turn = None
        while ready and len(burst) < free:
            reply = ready[0]
            if reply.abandoned:  # its caller gave up while it waited: never sent
                ready.popleft()
                continue
            if throughput is not None:
                now = trio.current_time()
                if now < self._next_submit_at:
                    turn = self._next_submit_at
                    break
                self._next_submit_at = max(now, self._next_submit_at) + 1 / throughput
            ready.popleft()
            assert reply.body is not None  # only submits are queued
            burst.append(reply)
            bodies.append(reply.body)
        if burst:
            # Taken whole: bound to send submits and no more than the window's room, as checked
            # above. Out of the ready queue already, a burst refused would wake no caller.
            seqs = connection.submit_bodies(bodies)
            replies = self._replies
            for reply, seq in zip(burst, seqs, strict=True):
                reply.seq = seq
                replies[seq] = reply
        return turn

    async def _commit_then_answer(self, event: Inbound | BadPdu) -> None:
        """SMPP 3.4 4.6.2: deliver_sm_resp tells the SMSC the message is ours; only after the
        commit, so a crash before it makes the SMSC deliver it again (the intake dedupes)."""
        try:
            answer = await self.on_inbound(event)
        finally:
            self._committing -= 1
        sent = False
        try:
            if self.connection.may_answer(event.seq):
                self.connection.deliver_resp(event.seq, answer.status)
                sent = await self._send_answers()
            # Else the SMSC unbound meanwhile: it delivers the message again on the next bind,
            # and the intake knows the redelivery.
        finally:
            if answer.settled is not None:
                with trio.CancelScope(shield=True):
                    await answer.settled(sent)

    async def _send_answers(self) -> bool:
        """Send the deliver_sm_resp queued in this turn of the run loop; whether they went."""
        # The answers of one commit group wake in one turn: given them together, the SMSC sends
        # its next deliver_sm together, and the writer commits those in one group again, where
        # answers sent one by one spread the window over several groups and fsyncs.
        batch = self._answers
        if batch is not None:  # another answer of this turn sends it
            # Shielded: the send that carries this answer is under way, and its outcome is
            # what the account is told (done is set whatever ends that send).
            with trio.CancelScope(shield=True):
                await batch.done.wait()
            return batch.sent
        batch = self._answers = _Answers()
        try:
            # The other answers of this turn are queued meanwhile; shielded, so that they are
            # sent (or known unsent) whatever happens to this task.
            await trio.lowlevel.cancel_shielded_checkpoint()
            self._answers = None  # those queued from now on go in the next send
            if self.connection.has_data_to_send:
                await self._flush()
            elif self._send_lock.locked():
                # Taken meanwhile by a send under way (the reader's): it is over, and whether
                # it went is known, once the lock is free.
                async with self._send_lock:
                    pass
            batch.sent = self._broken is None
        finally:
            batch.done.set()
        return batch.sent

    async def _keep_alive(self) -> None:
        while True:
            await trio.sleep(self.enquire_link)
            # Not while our unbind waits for its answer, nor once the SMSC's is read.
            if self.bound and self.connection.may_send(pdus.CommandId.ENQUIRE_LINK):
                self.connection.enquire_link()
                await self._flush()

    async def _expire_late(self) -> None:
        """Requests without an answer for response_timeout: their outcome is unknown."""
        while True:
            await trio.sleep(min(1.0, self.response_timeout / 4))
            now = trio.current_time()
            for request in self.connection.pending():
                if now - request.sent_at < self.response_timeout:
                    break  # oldest first
                timeout = self.connection.expire(request.seq)
                if request.command is not pdus.CommandId.SUBMIT_SM:
                    raise SessionEnded(
                        f"no answer to {request.command.name.lower()} in {self.response_timeout:g}s"
                    )
                self._answer(request.seq, timeout)
                self._unsent.set()  # its slot is free for the next ready submit
            self._note_drained()

    async def _write(self) -> None:
        """Send the submits as they come, those that came meanwhile together; under
        `throughput`, each at its turn."""
        while True:
            await self._unsent.wait()
            self._unsent = trio.Event()
            turn = self._dispatch()
            await self._flush()
            if turn is not None:
                await trio.sleep_until(turn)
                self._unsent.set()  # the ready submits whose turn has come

    async def _flush(self) -> None:
        """Send what the Connection has for the SMSC, the bytes taken under the lock so that
        they go in order. Not shielded: only the session's own tasks flush (unbind shields its
        send), and they are cancelled only when the session ends and the stream with it. A send
        that waits response_timeout ends the session (_watch_sends)."""
        if not self.connection.has_data_to_send:
            # Nothing to send, nothing to order: the reader asks after every read, and after
            # one of submit_sm_resp alone it has nothing; the lock costs more than the submit.
            return
        stream = self._stream
        assert stream is not None
        try:
            # Nearly always free: taken without acquire()'s pass through the scheduler,
            # which would hold every submit back by one more turn of the run loop.
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()
        try:
            if data := self.connection.data_to_send():
                self._sending_since = trio.current_time()
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            self._broken = self._broken or f"connection lost: {error.__cause__ or error}"
            # Closed before the lock is let go, so that no one waiting for it sends there:
            # closing it ends the reader, and so the session; whoever waits learns the outcome
            # is unknown.
            with trio.CancelScope(shield=True):
                await stream.aclose()
        finally:
            self._sending_since = None
            self._send_lock.release()

    async def _watch_sends(self) -> None:
        """End the session once a send has waited response_timeout: an SMSC that stopped
        reading. One timer for every send, where a cancel scope around each would cost more
        than the submits it sends."""
        while True:
            started = self._sending_since
            if started is None:
                # A send that starts meanwhile is due no sooner than this wakes.
                await trio.sleep(self.response_timeout)
            elif trio.current_time() < started + self.response_timeout:
                await trio.sleep_until(started + self.response_timeout)
            else:
                raise SessionEnded(f"the SMSC took nothing we sent for {self.response_timeout:g}s")

    def _fail_waiting(self, reason: str) -> None:
        for seq, reply in list(self._replies.items()):
            if reply.answer is None:
                self._answer(seq, SessionLost(reason))
        self._refuse_ready()

    def _refuse_ready(self) -> None:
        while self._ready:  # never sent: safe to send again on another bind
            self._ready.popleft().refuse(SubmitError("not bound to the SMSC", Policy.RETRY))


class _Answers:
    """A send of the deliver_sm_resp queued in one turn of the run loop, and its outcome."""

    __slots__ = ("done", "sent")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.sent = False


class _Reply:
    """The answer to one request and the one task waiting for it: what a trio.Event would do,
    without its parking lot and its set of waiters for every submit."""

    __slots__ = ("_waiter", "abandoned", "answer", "body", "error", "seq")

    def __init__(self, body: bytes | None) -> None:
        self.body = body  # a submit's, encoded; None for a bind
        self.seq: int | None = None  # None while a submit waits in the ready queue
        self.answer: Event | SessionLost | None = None
        self.error: Exception | None = None  # why a submit was never sent
        # Its caller gave up waiting: a submit still in the ready queue is never sent. Set when
        # the cancellation reaches the waiter, before the caller runs again: an answer read in
        # the same turn of the run loop must not hand the freed slot to it.
        self.abandoned = False
        self._waiter: trio.lowlevel.Task | None = None

    def give(self, answer: Event | SessionLost) -> None:
        """The answer came: keep it and wake the waiter."""
        self.answer = answer
        self._wake()

    def refuse(self, error: Exception) -> None:
        """The submit will not be sent: the waiter raises `error`."""
        self.error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            trio.lowlevel.reschedule(self._waiter)
            self._waiter = None

    async def wait(self) -> Event | SessionLost:
        """The answer, once it comes (a checkpoint either way, as trio's own waits are)."""
        if self.answer is None and self.error is None:
            await trio.lowlevel.wait_task_rescheduled(self.park())
        else:
            await trio.lowlevel.checkpoint()
        return self.result()

    def park(self) -> Callable[[trio.lowlevel.RaiseCancelT], trio.lowlevel.Abort]:
        """Note the calling task as the one to wake; the abort function it parks with
        (trio.lowlevel.wait_task_rescheduled)."""
        self._waiter = trio.lowlevel.current_task()
        return self._abort

    def result(self) -> Event | SessionLost:
        """The answer once the waiter is woken; the refusal raised."""
        if self.error is not None:
            raise self.error
        assert self.answer is not None  # only give() and refuse() wake the waiter
        return self.answer

    def _abort(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self.abandoned = True
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED


def _policy(refusal: SubmitFailed | GenericNack) -> Policy:
    """What to do about a refused submit; a generic_nack without an error code (§4.3 wants
    one: a faulty SMSC) is retried as any fault at the SMSC is."""
    if refusal.status == pdus.Status.ESME_ROK:
        return Policy.RETRY
    return classify(refusal.status)


def _quick_ack(tcp: trio.SocketStream) -> None:
    """Acknowledge what was read at once (_TCP_QUICKACK), where the kernel can."""
    if _TCP_QUICKACK is not None:
        # Only a speed-up: a kernel without it, or a socket that cannot take it, reads on.
        with contextlib.suppress(OSError):
            tcp.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)


def _quick_ack_socket(stream: trio.abc.Stream) -> trio.SocketStream | None:
    """The TCP stream under `stream` (TLS or not) to set TCP_QUICKACK on, if any."""
    if isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    return stream if isinstance(stream, trio.SocketStream) else None


def _not_taken(answer: object) -> NoReturn:
    """The SubmitError an answer other than Submitted means, with what to do about it."""
    match answer:
        case GenericNack(status=pdus.Status.ESME_ROK):
            raise SubmitError("the SMSC answered generic_nack without an error code", Policy.RETRY)
        case SubmitFailed(status_name=name) | GenericNack(status_name=name):
            raise SubmitError(f"the SMSC refused it: {name}", _policy(answer))
        case ResponseTimeout():
            raise SubmitError("no submit_sm_resp in time: the SMSC may or may not have it", None)
        case SessionLost(reason=reason):
            raise SubmitError(f"{reason}: the SMSC may or may not have it", None)
    raise SubmitError(f"unexpected answer {type(answer).__name__}", Policy.RETRY)
