"""Configuration: the TOML files in the config dir, validated whole, errors as FILE: KEY: REASON."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from channels.contract import DoesNotFit
from channels.settings import read_secret
from router.attachments.content_types import TypePolicy
from router.delivery.templates import TemplateError, Templates, format_due
from router.platform import registry
from router.ticketing.catalogue import STATUSES, Catalogue, Span, TicketNumbering

M = TypeVar("M", bound=BaseModel)


def _fixed_length(span: Span) -> Span:
    if span.unit == "wd":
        raise ValueError("working days have no fixed length; use s, m, h or d here")
    return span


# A duration of router.toml: a timeout, a window or an age; working days are for SLAs only.
Elapsed = Annotated[Span, AfterValidator(_fixed_length)]

# Hosts a plain-http webhook may go to: the traffic never leaves the machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Account settings that hold a secret by their name; their value must be a *_file path.
SECRET_KEY = re.compile(r"pass|secret|token|key", re.IGNORECASE)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouterSection(_Section):
    """[router]"""

    state_dir: str = "/var/lib/omnirouter"
    instance_name: str = Field("omnirouter", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    # Working days, due times and the texts citizens read are in the centre's local time.
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name


class HttpSection(_Section):
    """[http]"""

    listen: str = "127.0.0.1:8080"
    # systemd's TimeoutStopSec must exceed this: in-flight requests finish, then we exit.
    drain_seconds: float = Field(10.0, ge=0, le=300)
    # A request body that stops arriving for this long is answered 408 and its connection
    # closed, so stalled uploads cannot hold connections open (nginx client_body_timeout: 60s).
    body_timeout: Elapsed = Span.parse("60s")
    # A client that reads nothing of a pending answer or notice for this long is disconnected,
    # so it holds no sender, lock or outbox slot longer (nginx send_timeout: 60s; a chat notice
    # is small, so a reader that takes seconds is gone).
    send_timeout: Elapsed = Span.parse("10s")
    # Open connections in all and from one address; more are answered 503 / 429 and closed.
    # Offices share an address behind NAT: 100 leaves room for many browsers behind one.
    max_connections: int = Field(10000, ge=1)
    max_connections_per_ip: int = Field(100, ge=1)
    # Reverse proxies in front of the daemon (addresses or CIDR networks): only from these is
    # client_ip_header believed, and their connections are not held to the per-IP cap.
    trusted_proxies: list[str] = []
    client_ip_header: str = Field("X-Forwarded-For", pattern=r"^[A-Za-z0-9-]+$")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from exc
        return entries

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
        return value


class ApiSection(_Section):
    """[api]: token files, one token per line, # starts a comment."""

    backend_tokens_file: str
    admin_tokens_file: str
    # Prometheus needs /metrics only: its token must not also unmask tickets (least privilege).
    metrics_tokens_file: str | None = None


class WebhookSection(_Section):
    """[handoff.webhook]"""

    url: str = Field(pattern=r"^https?://\S+$")
    secret_file: str
    timeout: Elapsed = Span.parse("10s")

    @field_validator("url")
    @classmethod
    def _safe_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials in the URL are secrets inline; the body is signed")
        # Envelopes carry personal data: TLS in transit (152-FZ), except to this very machine.
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError(
                "envelopes carry personal data: use https:// (plain http only to localhost)"
            )
        return url


class HandoffSection(_Section):
    """[handoff]"""

    mode: Literal["feed", "webhook", "jetstream"] = "feed"
    webhook: WebhookSection | None = None
    first_retry: Elapsed = Span.parse("2s")
    max_retry: Elapsed = Span.parse("10m")
    # After this long without a 2xx an envelope becomes a dead letter (dlq list).
    max_age: Elapsed = Span.parse("24h")

    @model_validator(mode="after")
    def _mode_has_settings(self) -> HandoffSection:
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError(
                'mode = "webhook" needs a [handoff.webhook] table with url and secret_file'
            )
        if self.mode == "jetstream":
            raise ValueError('mode = "jetstream" comes with scale-out; use feed or webhook')
        return self


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _parse_size(value: object) -> int:
    """Bytes from 10485760, "10MB" or "512KB" (binary multiples, as mail and chat limits are)."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().replace(" ", "")
    digits = text.rstrip("KMGB")
    unit = text[len(digits) :]
    if not digits.isdigit() or unit not in _SIZE_UNITS:
        raise ValueError("expected a size such as 10MB, 512KB or a number of bytes")
    return int(digits) * _SIZE_UNITS[unit]


Size = Annotated[int, BeforeValidator(_parse_size), Field(ge=0)]


class ChannelLimits(_Section):
    """Attachment limits of one channel."""

    file: Size
    message: Size
    count: int = Field(ge=0)


# DOMAIN.md: email attachments up to 10 MB in total; the portal takes 5 MB a file. Telegram's Bot
# API downloads files up to 20 MB. SMS carries no files.
DEFAULT_LIMITS = {
    "email": ChannelLimits(file=10 * 1024**2, message=10 * 1024**2, count=20),
    "webchat": ChannelLimits(file=5 * 1024**2, message=20 * 1024**2, count=5),
    "form": ChannelLimits(file=5 * 1024**2, message=20 * 1024**2, count=5),
    "messenger": ChannelLimits(file=20 * 1024**2, message=20 * 1024**2, count=10),
    "sms": ChannelLimits(file=0, message=0, count=0),
}


class AttachmentsSection(TypePolicy):
    """[attachments]: scanning, type policy (see TypePolicy) and limits per channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A relative socket path is relative to the config dir, like every path in these files.
    clamd: str = Field("unix:/run/clamav/clamd.ctl", pattern=r"^(unix:\S+|tcp:[^:\s]+:\d+)$")
    # One INSTREAM exchange; a 10 MB file takes well under a second on a healthy clamd.
    scan_timeout: Elapsed = Span.parse("30s")
    # Debian's clamd.conf StreamMaxLength (clamd's own default is 100M): above clamd's limit
    # clamd cuts the stream, below it we only refuse a little earlier.
    clamd_stream_max: Size = 25 * 1024**2
    # While clamd is down an envelope waits this long, then goes to the backend marked unscanned.
    max_scan_wait: Elapsed = Span.parse("1h")
    # No new file is stored while the state directory's file system has less free: the
    # database, its WAL and the journal need the room more (a full disk stops every channel).
    min_free_space: Size = 1024**3
    limits: dict[str, ChannelLimits] = DEFAULT_LIMITS

    @field_validator("limits")
    @classmethod
    def _every_channel(cls, limits: dict[str, ChannelLimits]) -> dict[str, ChannelLimits]:
        unknown = set(limits) - set(DEFAULT_LIMITS)
        if unknown:
            raise ValueError(f"unknown channel {sorted(unknown)}; known: {sorted(DEFAULT_LIMITS)}")
        return {**DEFAULT_LIMITS, **limits}


class DedupeSection(_Section):
    """[dedupe]: repeat contacts."""

    repeat_window: Elapsed = Span.parse("24h")
    similarity: float = Field(0.9, ge=0.5, le=1.0)


class NotifierSection(_Section):
    """[notifier]: automatic messages and outbox retries."""

    # An auto-responder loop or a flood of follow-ups must not bury a citizen in messages.
    auto_limit: int = Field(10, ge=1)
    auto_window: Elapsed = Span.parse("1h")
    first_retry: Elapsed = Span.parse("2s")
    max_retry: Elapsed = Span.parse("10m")
    max_age: Elapsed = Span.parse("24h")
    # Where a notice goes when its own channel cannot deliver it for good: to the contact's
    # verified identities on these channels, in this order (CONTRACTS.md).
    fallback: list[Literal["sms", "email", "messenger", "webchat"]] = ["sms", "email"]


class ChannelsSection(_Section):
    """[channels]: how channel accounts are supervised."""

    # A crashed account is restarted after restart_first, doubling per crash in a row up to
    # restart_max (jittered): a peer that is down is not hammered, one that is back is found.
    restart_first: Elapsed = Span.parse("1s")
    restart_max: Elapsed = Span.parse("5m")


class LimitsSection(_Section):
    """[limits]"""

    max_text_chars: int = Field(20000, ge=100)
    feed_page: int = Field(500, ge=1, le=10000)
    long_poll_seconds: float = Field(60, ge=0, le=600)


class RetentionSection(_Section):
    """[retention] (DOMAIN.md: chat history at least 6 months, obligations at least 5 years)."""

    chat_history: Elapsed = Span.parse("183d")
    records: Elapsed = Span.parse("1827d")


class RouterFile(_Section):
    """router.toml"""

    router: RouterSection = RouterSection()
    http: HttpSection = HttpSection()
    api: ApiSection
    handoff: HandoffSection = HandoffSection()
    attachments: AttachmentsSection = AttachmentsSection()
    tickets: TicketNumbering = TicketNumbering()
    dedupe: DedupeSection = DedupeSection()
    notifier: NotifierSection = NotifierSection()
    channels: ChannelsSection = ChannelsSection()
    limits: LimitsSection = LimitsSection()
    retention: RetentionSection = RetentionSection()


class PlannedChannel(_Section):
    """channels/NAME.toml of a planned channel whose adapter is not installed."""

    enabled: StrictBool = False
    accounts: list[dict[str, Any]] = []

    @field_validator("enabled")
    @classmethod
    def _not_yet(cls, enabled: bool) -> bool:
        if enabled:
            raise ValueError("this channel is not available in this version; keep false")
        return enabled

    @field_validator("accounts")
    @classmethod
    def _no_inline_secrets(cls, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for account in accounts:
            for key in account:
                if SECRET_KEY.search(key) and not key.endswith("_file"):
                    raise ValueError(f"{key}: secrets are never inline; name a file in {key}_file")
        return accounts


class Problem(Exception):
    """One configuration error, printed as FILE: KEY: REASON."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason = file, key, reason


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration, replaced as one object on reload."""

    directory: Path
    router: RouterFile
    # Each installed channel's file (channels/NAME.toml), by NAME, as its plug-in's model.
    channels: Mapping[str, BaseModel]
    catalogue: Catalogue
    templates: Templates
    backend_tokens: frozenset[str]
    admin_tokens: frozenset[str]
    metrics_tokens: frozenset[str]
    webhook_secret: bytes | None

    @property
    def state_dir(self) -> Path:
        """The state directory, resolved against the config dir."""
        return resolve(self.directory, self.router.router.state_dir)

    @property
    def tz(self) -> ZoneInfo:
        """The centre's time zone."""
        return ZoneInfo(self.router.router.timezone)


def resolve(directory: Path, path: str) -> Path:
    """A config path: `credential:NAME` from systemd's credentials, else relative to the dir."""
    if path.startswith("credential:"):
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if not credentials:
            raise ValueError(f"{path}: CREDENTIALS_DIRECTORY is not set (no LoadCredential=)")
        return Path(credentials) / path.removeprefix("credential:")
    return directory / path


def read_tokens(path: Path) -> frozenset[str]:
    """Tokens from a file: one per line, blank lines and # comments ignored."""
    tokens = set()
    for line in read_secret(path).decode("utf-8").splitlines():
        token = line.split("#", 1)[0].strip()
        if token:
            if len(token) < 16:
                raise ValueError("a token shorter than 16 characters is too easy to guess")
            tokens.add(token)
    if not tokens:
        raise ValueError("the file holds no token")
    return frozenset(tokens)


def load_settings(directory: Path) -> Settings:
    """Read and validate every file; raise ConfigError listing all problems found."""
    problems: list[Problem] = []
    router = _model(directory, "router.toml", RouterFile, problems)
    channels = {
        name: _model(
            directory, f"channels/{name}.toml", plugin.settings_model, problems, optional=True
        )
        for name, plugin in registry.installed().items()
    }
    for name in registry.planned():
        _model(directory, f"channels/{name}.toml", PlannedChannel, problems, optional=True)
    catalogue = _model(directory, "categories.toml", Catalogue, problems, Catalogue.from_data)
    templates = _guard(directory, problems, lambda: Templates.load(directory / "templates"))
    # The secrets are checked even when another part of router.toml is wrong, so that one run
    # of check-config lists every problem.
    api, handoff = (
        (router.api, router.handoff) if router is not None else _valid_sections(directory)
    )
    backend = admin = None
    metrics: frozenset[str] = frozenset()
    secret = None
    if api is not None:
        backend = _secret(
            directory,
            "router.toml",
            "api.backend_tokens_file",
            api.backend_tokens_file,
            read_tokens,
            problems,
        )
        admin = _secret(
            directory,
            "router.toml",
            "api.admin_tokens_file",
            api.admin_tokens_file,
            read_tokens,
            problems,
        )
        if backend and admin and backend & admin:
            problems.append(
                Problem(
                    "router.toml",
                    "api.admin_tokens_file",
                    "an admin token is also a backend token; use separate tokens",
                )
            )
        if api.metrics_tokens_file is not None:
            metrics = (
                _secret(
                    directory,
                    "router.toml",
                    "api.metrics_tokens_file",
                    api.metrics_tokens_file,
                    read_tokens,
                    problems,
                )
                or metrics
            )
            if metrics & ((backend or frozenset()) | (admin or frozenset())):
                problems.append(
                    Problem(
                        "router.toml",
                        "api.metrics_tokens_file",
                        "a metrics token is also a backend or admin token; use separate tokens",
                    )
                )
    if handoff is not None and handoff.mode == "webhook" and handoff.webhook is not None:
        secret = _secret(
            directory,
            "router.toml",
            "handoff.webhook.secret_file",
            handoff.webhook.secret_file,
            _read_key,
            problems,
        )
    if router is not None and catalogue is not None and templates is not None:
        problems.extend(_unfit_templates(router, catalogue, templates, channels))
    if problems:
        raise ConfigError(problems)
    assert router and catalogue and templates and backend and admin
    router = _with_clamd_resolved(directory, router)
    files = {name: model for name, model in channels.items() if model is not None}
    return Settings(directory, router, files, catalogue, templates, backend, admin, metrics, secret)


def _unfit_templates(
    router: RouterFile,
    catalogue: Catalogue,
    templates: Templates,
    channels: Mapping[str, BaseModel | None],
) -> list[Problem]:
    """Every template text that cannot go out on a channel that limits texts (an SMS over
    `max_parts`); rendered with the longest values the router fills in (see _longest)."""
    problems = []
    for name, plugin in registry.installed().items():
        settings = channels.get(name)
        if settings is None:
            continue
        for channel in dict.fromkeys(spec.channel for spec in plugin.accounts(settings)):
            fit = plugin.fit(channel, settings)
            if fit is None:
                continue
            for language in templates.languages:
                longest = _longest(router, catalogue, templates, language)
                for event in templates.events():
                    wanted = templates.fields(event)
                    fields = {key: value for key, value in longest.items() if key in wanted}
                    try:
                        fit(templates.render(event, language=language, channel=channel, **fields))
                    except DoesNotFit as exc:
                        problems.append(
                            Problem(
                                f"templates/{language}.toml",
                                event,
                                f"does not fit the {channel} channel: {exc.reason}",
                            )
                        )
    return problems


def _longest(
    router: RouterFile, catalogue: Catalogue, templates: Templates, language: str
) -> dict[str, str]:
    """The longest value of each field the router fills in: a full ticket number, the longest
    category and status names, a date as the language writes it. What an operator writes (a
    reply, a comment, a reason) counts as one character: it is fitted when it is sent."""
    tz = ZoneInfo(router.router.timezone)
    due = format_due(datetime(2026, 12, 31, 23, 59, tzinfo=tz), language, tz)
    return {
        "ticket": "9" * router.tickets.pattern_length,
        "category": max(
            (catalogue.category_name(code, language) for code in catalogue.categories), key=len
        ),
        "status": max(STATUSES, key=lambda status: len(templates.status_name(status, language))),
        "first_response_due": due,
        "expected_at": due,
        **dict.fromkeys(("text", "comment", "reason", "not_accepted"), "…"),
    }


def _valid_sections(directory: Path) -> tuple[ApiSection | None, HandoffSection | None]:
    """[api] and [handoff] of a router.toml that failed as a whole, where they are valid."""
    try:
        data = tomllib.loads((directory / "router.toml").read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None, None
    return _section(data, "api", ApiSection), _section(data, "handoff", HandoffSection)


def _section(data: dict[str, Any], key: str, model: type[M]) -> M | None:
    try:
        return model.model_validate(data.get(key, {}))
    except ValidationError:  # already reported against router.toml
        return None


def _with_clamd_resolved(directory: Path, router: RouterFile) -> RouterFile:
    """router.toml with a relative clamd socket path made absolute against the config dir."""
    kind, _, location = router.attachments.clamd.partition(":")
    if kind != "unix" or location.startswith("/"):
        return router
    clamd = f"unix:{(directory / location).absolute()}"
    attachments = router.attachments.model_copy(update={"clamd": clamd})
    return router.model_copy(update={"attachments": attachments})


def _read_key(path: Path) -> bytes:
    key = read_secret(path).strip()
    if len(key) < 32:
        raise ValueError("a signing key needs at least 32 bytes")
    return key


def _model(
    directory: Path,
    name: str,
    model: type[M],
    problems: list[Problem],
    validate: Callable[[object], M] | None = None,
    *,
    optional: bool = False,
) -> M | None:
    path = directory / name
    if optional and not path.exists():
        return model.model_validate({})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(Problem(name, "-", "file not found"))
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        problems.append(Problem(name, "-", str(exc)))
        return None
    try:
        return (validate or model.model_validate)(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "-"
            # pydantic words a validator's ValueError "Value error, REASON": the reason is enough.
            problems.append(Problem(name, key, error["msg"].removeprefix("Value error, ")))
        return None


def _guard(
    directory: Path, problems: list[Problem], load: Callable[[], Templates]
) -> Templates | None:
    try:
        return load()
    except TemplateError as exc:
        problems.extend(
            Problem(_relative(directory, p.file), p.key, p.reason) for p in exc.problems
        )
    except OSError as exc:
        problems.append(Problem("templates/", "-", str(exc)))
    return None


def _relative(directory: Path, path: Path) -> str:
    """A file's name as the admin knows it: relative to the config dir when inside it."""
    try:
        return str(Path(path).relative_to(directory))
    except ValueError:
        return str(path)


T = TypeVar("T")


def _secret(
    directory: Path,
    file: str,
    key: str,
    value: str,
    read: Callable[[Path], T],
    problems: list[Problem],
) -> T | None:
    try:
        return read(resolve(directory, value))
    except FileNotFoundError:
        problems.append(Problem(file, key, f"{value}: no such file"))
    except (OSError, ValueError) as exc:
        problems.append(Problem(file, key, f"{value}: {exc}"))
    return None
