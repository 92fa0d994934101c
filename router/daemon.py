"""The daemon: wiring, lifecycle (start, reload, drain) and the supervision of its tasks."""

from __future__ import annotations

import functools
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec
import trio
import trio_asyncio
from pydantic import BaseModel

from channels.contract import (
    AccountSpec,
    ChannelPlugin,
    Deliver,
    DeliveryFailed,
    Fit,
    Lane,
    Outbound,
    Ports,
    Sent,
)
from channels.subjects import SubjectTag
from dedupe.identity import undo_merge
from dedupe.ports import DedupeState
from dedupe.routing import Policy
from normaliser.envelope import Envelope
from router.attachments.service import AttachmentService
from router.clock import utc_now
from router.config import ConfigError, Settings, load_settings
from router.delivery.fallback import Fallback
from router.delivery.notifier import Notifier
from router.delivery.outbox import Outbox, RateLimit, sending_account
from router.delivery.reports import Reports
from router.handoff import Feed, WebhookHandoff, WebhookTarget
from router.http.api import Api, build_app, constant_time_member
from router.http.edge import Edge, EdgeLimits, parse_networks
from router.http.views import AccountStatus, AttachmentsStatus, ChannelStatus, DaemonStatus, Queues
from router.intake.filing import Filed, FilingRules, LateNoticeStore, tell_refused_later
from router.intake.journal import Intake
from router.ops import logs, metrics
from router.ops.memory import Trimmer
from router.ops.systemd import ServiceManager
from router.platform import registry
from router.platform.ports import ChannelState, Tickets
from router.platform.supervisor import Account, AccountState, Backoff, Supervisor
from router.retry import RetryPolicy
from router.store.access import Store
from router.store.blobs import FileBlobStore
from router.store.database import Database
from router.store.transaction import AttachmentRecord
from router.ticketing.catalogue import CLOSED_STATUSES
from router.ticketing.updates import TicketUpdates

log = logging.getLogger(__name__)
VERSION = "0.1.0"
# The database file in the state directory.
DATABASE = "omnirouter.db"
# Seconds a notice waits for its channel's accounts a reload is restarting.
RESTARTING_RETRY = 2.0


def filing_rules(settings: Settings) -> FilingRules:
    """The filing rules of a configuration."""
    r = settings.router
    return FilingRules(
        catalogue=settings.catalogue,
        numbering=r.tickets,
        notifier=Notifier(
            settings.templates, settings.catalogue, settings.tz, SubjectTag(r.tickets.subject_tag)
        ),
        policy=Policy(
            similarity=r.dedupe.similarity,
            reopen_after_resolved=r.tickets.reopen_after_resolved,
            closed_statuses=CLOSED_STATUSES,
        ),
        repeat_window=timedelta(seconds=r.dedupe.repeat_window.seconds),
        tz=settings.tz,
        webhook=r.handoff.mode == "webhook",
        answers=RateLimit(r.notifier.auto_limit, r.notifier.auto_window.seconds),
    )


class DaemonStore(DedupeState, LateNoticeStore, Protocol):
    """The store as the daemon's own operations use it: queue depths for the watchdog and
    `status`, dead letters, merges undone, and a released envelope's handoff and late notice."""

    def queue_depths(self) -> dict[str, int]: ...
    def oldest_undelivered(self) -> float | None: ...
    def quarantine_totals(self) -> tuple[int, int]: ...
    def revive_dead(self, kind: str, key: str, now: float) -> bool: ...
    def drop_dead(self, kind: str, key: str) -> bool: ...
    def queue_handoff(self, seq: int, now: float) -> None: ...


class Daemon:
    """One running omnirouter: its database, workers, channels and HTTP listener."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.filer = filing_rules(settings)
        logs.use_ticket_length(settings.router.tickets.pattern_length)
        self.db = Database(settings.state_dir / DATABASE)
        self.db.on_commit = metrics.commit_group.observe
        self.db.on_writer_death = writer_died
        # The daemon's own queries see the store as DaemonStore; the services it wires are
        # handed the database as a Store of their own protocols (mypy checks Tx implements each).
        self.store: Store[DaemonStore] = self.db
        self.feed = Feed(self.db)
        self.outbox = Outbox(
            self.db,
            self._adapters,
            self._notifier_retry,
            self._rate_limit,
            self._fallback,
            self._lanes,
            lambda: self._fits,
            account_lanes=self._account_lanes,
            restarting=lambda: self._restarting,
        )
        self.webhook = WebhookHandoff(self.db, self._webhook_target, self._handoff_retry)
        self.blobs = FileBlobStore(settings.state_dir / "blobs")
        self.quarantine = FileBlobStore(settings.state_dir / "quarantine")
        self.attachments = AttachmentService(
            self.db,
            self.blobs,
            self.quarantine,
            lambda: self.settings.router.attachments,
            self._attachments_released,
            self._published,
        )
        self.reports = Reports(self.db, self._fallback, self.outbox.wake)
        self.intake = Intake(
            self.db,
            self.blobs,
            lambda: self.filer,
            lambda: self.settings.router.limits.max_text_chars,
            self._on_filed,
            registry.parsers,
            registry.command_tables(registry.installed().values()),
            reports=self.reports,
            attachments=self.attachments,
        )
        self.updates = TicketUpdates(
            self.db, lambda: self.filer.notifier, self.outbox.wake, self.attachments
        )
        self.tickets = Tickets(self.db, lambda: self.settings.catalogue)
        self.supervisor = Supervisor(self._restart_backoff)
        # The accounts a reload is stopping and starting again, until it is done.
        self._restarting: frozenset[tuple[str, str]] = frozenset()
        # How texts fit each channel, from its file (set with the accounts, on every reload).
        self._fits: dict[str, Fit] = {}
        self.api = Api(self, self.db)
        self.app = build_app(
            self.api,
            [],
            lambda: self.settings.router.http.body_timeout.seconds,
            lambda: parse_networks(self.settings.router.http.trusted_proxies),
            lambda: self.settings.router.http.client_ip_header,
        )
        self.ready = False
        self.started_at = time.time()
        self.systemd = ServiceManager()
        self._shutdown = trio.Event()
        self._stop_http = trio.Event()
        self._drain_deadline = math.inf

    # -- wiring callbacks -------------------------------------------------------------------

    def _adapters(self) -> dict[str, Deliver]:
        """Each channel's deliver function: a notice goes out through the account it names (the
        short number, mailbox or bot the citizen wrote to), else the channel's first that sends;
        one whose account a reload is restarting waits for it."""
        delivers: dict[str, dict[str, Deliver]] = {}
        for account, deliver in self._sending():
            delivers.setdefault(account.spec.channel, {})[account.spec.account] = deliver
        restarting: dict[str, set[str]] = {}
        for channel, name in self._restarting:
            restarting.setdefault(channel, set()).add(name)
        return {
            channel: functools.partial(
                through_account,
                delivers.get(channel, {}),
                frozenset(restarting.get(channel, ())),
            )
            for channel in delivers.keys() | restarting.keys()
        }

    def _fallback(self) -> Fallback:
        """Where an undeliverable notice goes next, rendered anew for that channel."""
        return Fallback(self.settings.router.notifier.fallback, self.filer.notifier.rerender)

    def _lanes(self) -> dict[str, Lane]:
        """Each channel's delivery lane: its first sending account's, with the room of all its
        accounts that send (each account's own lane paces and bounds its notices)."""
        lanes = self._account_lanes()
        channels: dict[str, Lane] = {}
        for (channel, _), lane in lanes.items():
            first = channels.get(channel)
            room = lane.concurrency if first is None else first.concurrency + lane.concurrency
            channels[channel] = (first or lane)._replace(concurrency=room)
        return channels

    def _account_lanes(self) -> dict[tuple[str, str], Lane]:
        """Each sending account's lane, as its adapter declares it."""
        return {
            (account.spec.channel, account.spec.account): account.adapter.lane
            for account, _ in self._sending()
        }

    def _sending(self) -> list[tuple[Account, Deliver]]:
        """The accounts that send notices, with their deliver functions."""
        return [
            (account, deliver)
            for account in self.supervisor.accounts.values()
            if (deliver := account.adapter.deliver) is not None
        ]

    def _restart_backoff(self) -> Backoff:
        c = self.settings.router.channels
        return Backoff(c.restart_first.seconds, c.restart_max.seconds)

    def _notifier_retry(self) -> RetryPolicy:
        n = self.settings.router.notifier
        return RetryPolicy(n.first_retry.seconds, n.max_retry.seconds, n.max_age.seconds)

    def _handoff_retry(self) -> RetryPolicy:
        h = self.settings.router.handoff
        return RetryPolicy(h.first_retry.seconds, h.max_retry.seconds, h.max_age.seconds)

    def _rate_limit(self) -> RateLimit:
        """[notifier] auto_limit per auto_window: the one filing withholds answers by."""
        return self.filer.answers

    def _webhook_target(self) -> WebhookTarget:
        webhook = self.settings.router.handoff.webhook
        assert webhook is not None and self.settings.webhook_secret is not None
        return WebhookTarget(webhook.url, self.settings.webhook_secret, webhook.timeout.seconds)

    def _on_filed(self, filed: Filed) -> None:
        if filed.feed_seq is not None:
            self._published()
        if filed.notifications:
            self.outbox.wake()

    def _published(self) -> None:
        """Envelopes were handed off: wake the long-polls and the webhook."""
        self.feed.published()
        if self.filer.webhook:
            self.webhook.wake()
        self.outbox.wake()  # a release may have queued a notice about refused files

    def _attachments_released(
        self, tx: DaemonStore, seq: int, held: Envelope, records: list[AttachmentRecord]
    ) -> None:
        """A held envelope's scans finished: queue its handoff and any late refusal notice."""
        if self.filer.webhook:
            tx.queue_handoff(seq, time.time())
        tell_refused_later(tx, self.filer, held, records, utc_now())

    def token_roles(self, token: str) -> set[str]:
        """The roles a bearer token grants."""
        roles = set()
        if constant_time_member(token, self.settings.backend_tokens):
            roles.add("backend")
        if constant_time_member(token, self.settings.admin_tokens):
            roles.update(("admin", "metrics"))
        if constant_time_member(token, self.settings.metrics_tokens):
            roles.add("metrics")
        return roles

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Start everything, serve until SIGTERM/SIGINT, then drain and stop."""
        applied = self.db.open()
        if applied:
            log.info("database migrated", extra={"versions": applied})
        try:
            # One asyncio loop for the daemon's life: adapters whose libraries speak asyncio
            # call them through trio_asyncio.aio_as_trio inside it (ARCHITECTURE.md 4).
            async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
                nursery.start_soon(self._signals, nursery)
                nursery.start_soon(self.db.checkpoint_loop)
                # The accounts first: the outbox's first claims need their deliver functions.
                await nursery.start(self.supervisor.run)
                await self._reconcile_accounts()
                # After the accounts: a channel's parser reads its file's settings (the email
                # channel: our addresses, the MTA whose Authentication-Results count).
                refiled = await self.intake.file_pending()
                if refiled:
                    log.info("filed %d journalled messages left from the last run", refiled)
                await nursery.start(self.intake.run)
                await nursery.start(self.outbox.run)
                await nursery.start(self.attachments.run)
                if self.filer.webhook:
                    await nursery.start(self.webhook.run)
                await nursery.start(self._serve_http)
                self.ready = True
                log.info("omnirouter %s ready on %s", VERSION, self.settings.router.http.listen)
                self.systemd.send(READY="1", STATUS="running")
                nursery.start_soon(self._heartbeat)
                nursery.start_soon(self._trim_memory)
                await self._shutdown.wait()
                # The listener has drained; deliveries and webhook posts in flight get what is
                # left of the time.
                with trio.move_on_at(self._drain_deadline):
                    async with trio.open_nursery() as draining:
                        draining.start_soon(self.outbox.drain)
                        if self.filer.webhook:
                            draining.start_soon(self.webhook.drain)
                nursery.cancel_scope.cancel()
        finally:
            self.db.close()
            log.info("omnirouter stopped")

    async def _serve_http(self, *, task_status: trio.TaskStatus[None]) -> None:
        http = self.settings.router.http
        limits = EdgeLimits(
            max_connections=http.max_connections,
            max_connections_per_ip=http.max_connections_per_ip,
            send_timeout=http.send_timeout.seconds,
            drain_seconds=http.drain_seconds,
            trusted_proxies=parse_networks(http.trusted_proxies),
        )
        self.edge = Edge(self.app, http.listen, limits, self._websocket_max_message())
        await self.edge.serve(self._stop_http.wait, task_status=task_status)
        self._shutdown.set()

    async def _signals(self, nursery: trio.Nursery) -> None:
        with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload()
                    continue
                log.info("draining after %s", signal.Signals(signum).name)
                self._drain_deadline = trio.current_time() + self.settings.router.http.drain_seconds
                self.ready = False
                self.systemd.send(STOPPING="1", STATUS="draining")
                # Intake stops first (chat sockets, which live for hours, are closed so that
                # clients reconnect elsewhere); the listener then finishes in-flight requests (up
                # to drain_seconds), serve() returns and run() cancels the workers; queued writes
                # still commit when the database closes.
                for account in self.supervisor.accounts.values():
                    account.adapter.stop_intake()
                self.feed.close()
                self._stop_http.set()

    async def _heartbeat(self) -> None:
        interval = self.systemd.watchdog_interval
        while True:
            # A write round trip proves both the event loop and the writer thread are alive.
            depths = await self.store.write(lambda tx: tx.queue_depths())
            self.systemd.send(
                WATCHDOG="1",
                STATUS=f"running; connections {self.edge.connections}; "
                f"outbox {depths['outbox']}; dead letters {depths['dead']}",
            )
            await trio.sleep(min(interval or 10.0, 10.0))

    async def _trim_memory(self) -> None:
        trimmer = Trimmer()
        while True:
            trimmer.observe(self.edge.connections)
            await trio.sleep(1.0)

    async def reload(self) -> bool:
        """Re-read the configuration; keep the running one if the new one is invalid."""
        self.systemd.send(RELOADING="1", MONOTONIC_USEC=str(time.monotonic_ns() // 1000))
        try:
            fresh = load_settings(self.settings.directory)
        except ConfigError as exc:
            metrics.config_reloads.labels("refused").inc()
            for problem in exc.problems:
                log.error("reload refused: %s", problem)
            self.systemd.send(READY="1", STATUS="running; last reload refused (see log)")
            return False
        fresh = self._keep_restart_only(self.settings, fresh)
        self.settings = fresh
        self.filer = filing_rules(fresh)
        logs.use_ticket_length(fresh.router.tickets.pattern_length)
        await self._reconcile_accounts()
        metrics.config_reloads.labels("applied").inc()
        log.info("configuration reloaded")
        self.systemd.send(READY="1", STATUS="running; configuration reloaded")
        self.outbox.wake()
        return True

    async def _reconcile_accounts(self) -> None:
        """Run the accounts the channel files ask for: start new ones, restart changed ones,
        stop removed ones; the others go on untouched."""
        wanted: dict[tuple[str, str], tuple[ChannelPlugin, AccountSpec]] = {}
        fits: dict[str, Fit] = {}
        for name, plugin in registry.installed().items():
            settings = self.settings.channels.get(name)
            try:
                specs = [] if settings is None else plugin.accounts(settings)
                for channel in {spec.channel for spec in specs}:
                    assert settings is not None
                    if (fit := plugin.fit(channel, settings)) is not None:
                        fits[channel] = fit
            except Exception:  # a plug-in's bug stops its channel, not the daemon
                log.exception("channel file %s: its accounts could not be read", name)
                continue
            wanted.update(((spec.channel, spec.account), (plugin, spec)) for spec in specs)
        self._fits = fits
        leaving = []
        for key, account in self.supervisor.accounts.items():
            # An account that ended by itself runs again, as a reload is asked to make it.
            ended = account.state is AccountState.STOPPED
            if key not in wanted or wanted[key][1] != account.spec or ended:
                why = "removed" if key not in wanted else "ended" if ended else "changed"
                log.info("channel %s/%s stops: %s", *key, why)
                leaving.append(key)
        self._restarting = frozenset(leaving)
        try:
            await self._restart_accounts(leaving, wanted)
        finally:
            self._restarting = frozenset()
        # The listener reads the routes of the accounts running now.
        self.app.router.routes[:] = [
            *self.api.routes(),
            *(r for a in self.supervisor.accounts.values() for r in a.adapter.routes()),
        ]
        edge = getattr(self, "edge", None)  # none yet at start-up: it is built with this limit
        largest = self._websocket_max_message()
        if edge is not None and edge.max_frame != largest:
            log.warning(
                "max_frame_bytes changed (now %d, was %d bytes): it takes effect at the next "
                "restart",
                largest,
                edge.max_frame,
            )

    async def _restart_accounts(
        self,
        leaving: list[tuple[str, str]],
        wanted: Mapping[tuple[str, str], tuple[ChannelPlugin, AccountSpec]],
    ) -> None:
        """Stop the accounts leaving, then start each wanted account that is not running."""
        await self.supervisor.stop_all(leaving)
        for key, (plugin, spec) in wanted.items():
            if key in self.supervisor.accounts:
                continue
            try:
                adapter = plugin.build(
                    spec, self._channel_settings(plugin.name), self._ports(spec.channel)
                )
            except Exception:
                log.exception("channel %s/%s could not be built; it does not run", *key)
                continue
            self.supervisor.start(spec, adapter)

    def _ports(self, channel: str) -> Ports:
        """What an account of `channel` is handed of the router."""
        return Ports(
            self.intake,
            self.attachments,
            lambda channel, reason: metrics.bad_input.labels(channel, reason).inc(),
            ChannelState(self.db, channel),
            self.tickets,
            self.reports,
            self.settings.directory,
        )

    def _channel_settings(self, file: str) -> Callable[[], BaseModel]:
        """A channel file's settings as they are now (reloads replace them)."""
        return lambda: self.settings.channels[file]

    def _websocket_max_message(self) -> int:
        """The largest WebSocket message any account's routes take (the listener's limit)."""
        sizes = [a.adapter.websocket_max_message for a in self.supervisor.accounts.values()]
        return max(sizes, default=0) or 65536

    @staticmethod
    def _keep_restart_only(old: Settings, fresh: Settings) -> Settings:
        """Keep the running values of settings that only a restart can change, and say so."""
        kept: dict[str, Any] = {}
        for section in ("router", "http", "handoff"):
            if getattr(old.router, section) != getattr(fresh.router, section):
                log.warning("[%s] changed: it takes effect at the next restart", section)
                kept[section] = getattr(old.router, section)
        if kept:
            fresh = replace(
                fresh,
                router=fresh.router.model_copy(update=kept),
                webhook_secret=old.webhook_secret,
            )
        return fresh

    # -- operations -------------------------------------------------------------------------

    async def status(self) -> DaemonStatus:
        """What `omnirouter status` shows."""

        def read(tx: DaemonStore) -> tuple[dict[str, int], float | None, tuple[int, int]]:
            return tx.queue_depths(), tx.oldest_undelivered(), tx.quarantine_totals()

        depths, oldest, (quarantined, quarantined_bytes) = await self.store.read(read)
        clamd = await self.attachments.clamd_state()
        accounts: dict[str, dict[str, AccountStatus]] = {}
        for (channel, name), account in self.supervisor.accounts.items():
            accounts.setdefault(channel, {})[name] = account.status()
        channels = {
            channel: ChannelStatus(enabled=True, accounts=by_name)
            for channel, by_name in accounts.items()
        }
        for name in registry.installed():  # installed, its file asks for no account
            channels.setdefault(name, ChannelStatus(enabled=False, state="disabled"))
        for name in registry.planned():  # unless another plug-in runs accounts of that channel
            channels.setdefault(
                name, ChannelStatus(enabled=False, state="not available in this version")
            )
        return DaemonStatus(
            instance=self.settings.router.router.instance_name,
            version=VERSION,
            ready=self.ready,
            uptime_seconds=round(time.time() - self.started_at, 1),
            handoff_mode=self.settings.router.handoff.mode,
            channels=channels,
            attachments=AttachmentsStatus(clamd, quarantined, quarantined_bytes),
            queues=msgspec.convert(depths, Queues),
            oldest_undelivered_seconds=None if oldest is None else round(time.time() - oldest, 1),
        )

    async def dead_letter(self, letter_id: str, action: Literal["replay", "drop"]) -> bool:
        """Replay or drop one dead letter."""
        kind, _, key = letter_id.partition(":")
        now = time.time()
        if action == "drop":
            return await self.store.write(lambda tx: tx.drop_dead(kind, key))
        revived = await self.store.write(lambda tx: tx.revive_dead(kind, key, now))
        if revived:
            if kind == "intake":
                # Filed before the answer, so `dlq replay` shows its outcome; a worker filing
                # the same row meanwhile finds it filed (the check is in the transaction).
                await self.intake.file_pending()
            elif kind == "handoff":
                self.webhook.wake()
            else:
                self.outbox.wake()
        return revived

    async def undo_merge(self, merge_id: int) -> bool:
        """Undo a recorded contact merge."""
        return await self.store.write(lambda tx: undo_merge(tx, merge_id))


# EX_SOFTWARE (sysexits.h): an internal error; Restart=on-failure starts the daemon again.
WRITER_DIED = 70


def writer_died(error: BaseException) -> None:
    """The database writer thread died: exit at once, non-zero.

    Every request, message and delivery waits for the writer's commit; without it they would
    wait for ever while /healthz still answered. What was acknowledged is committed already,
    and start-up refiles what was journalled, so a restart loses nothing.
    """
    log.critical("the database writer died; exiting for a restart", exc_info=error)
    logging.shutdown()
    os._exit(WRITER_DIED)


def run(config_dir: Path) -> int:
    """Load the configuration and run the daemon until it stops; the process exit code."""
    # The database, citizens' files and quarantine are this service's alone, whatever umask
    # the shell or the service manager handed down.
    os.umask(0o077)
    try:
        settings = load_settings(config_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("configuration: %s", problem)
        return 78  # EX_CONFIG: systemd will not help by restarting
    try:
        trio.run(Daemon(settings).run)
    except BaseExceptionGroup as group:
        os_errors, others = group.split(OSError)
        if os_errors is None or others is not None:
            raise
        for error in _leaves(os_errors):
            log.error("cannot start on %s: %s", settings.router.http.listen, error)
        return 71  # EX_OSERR: e.g. the listen address is taken
    return 0


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside nested groups."""
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


async def through_account(
    delivers: Mapping[str, Deliver], restarting: Collection[str], message: Outbound
) -> Sent:
    """Send `message` through its account's adapter: a reply from the short number, mailbox or
    bot the citizen wrote to (a bot cannot write first to a chat another bot has). A notice
    naming no account that sends (a copy to another address, an account since removed) goes
    through the channel's first. One whose account a reload is restarting (the first, for one
    naming none; an SMS bind drains its window first), or whose channel has none up for that
    moment, comes back once it may be up again, the attempt not counted: through another
    account it would come from the wrong number or bot, and "not enabled" failed it for good."""
    sender = sending_account(message.account, delivers.keys(), restarting)
    if sender is None or sender in restarting:
        raise DeliveryFailed("its account is restarting (a reload)", retry_after=RESTARTING_RETRY)
    return await delivers[sender](message)
