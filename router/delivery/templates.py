"""Texts the notifier sends to citizens, per language, event and channel (config/templates/)."""

from __future__ import annotations

import html
import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, NamedTuple, TypeVar, get_args
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from channels.contract import Channel
from router.ticketing.catalogue import STATUSES, Status

# DOMAIN.md "Languages": Russian first; a missing language falls back to it.
DEFAULT_LANGUAGE = "ru"


@dataclass(frozen=True)
class _EventFields:
    """Placeholders of one event: what the caller gives, what may be empty, what must be used."""

    given: frozenset[str]  # the caller always passes these, non-empty
    optional: frozenset[str] = frozenset()  # may be empty or absent: only inside [[ ]]
    required: frozenset[str] = frozenset()  # every text of the event must show these
    implied: frozenset[str] = frozenset({"help_url"})  # filled in by render itself

    @property
    def usable(self) -> frozenset[str]:
        """Placeholders a text of this event may use."""
        return self.given | self.optional | self.implied


# DOMAIN.md "Requests": a status notification carries the number, the new status, the expected
# completion time when known, and a reference link ({help_url}, from the file's [meta]) on every
# channel, SMS too; a rejection always states its reason. {status} is the status name in the
# message's language.
_STATUS_CHANGE = _EventFields(
    given=frozenset({"ticket", "category"}),
    optional=frozenset({"comment", "expected_at"}),
    required=frozenset({"ticket", "help_url"}),
    implied=frozenset({"help_url", "status"}),
)
_EVENTS: dict[str, _EventFields] = {
    # DOMAIN.md: the confirmation carries the request number; we add the first-response time.
    # ISSUES #3: the confirmation says which files were not accepted and why ({not_accepted}).
    "confirmation": _EventFields(
        given=frozenset({"ticket", "category", "first_response_due"}),
        optional=frozenset({"not_accepted"}),
        required=frozenset({"ticket", "first_response_due"}),
    ),
    "added_to_request": _EventFields(
        given=frozenset({"ticket"}),
        optional=frozenset({"not_accepted"}),
        required=frozenset({"ticket"}),
    ),
    # Files whose scan finished after the confirmation went out (clamd was unavailable).
    "attachments_not_accepted": _EventFields(
        given=frozenset({"ticket", "not_accepted"}),
        required=frozenset({"ticket", "not_accepted"}),
    ),
    "reply": _EventFields(
        given=frozenset({"ticket", "text"}), required=frozenset({"ticket", "text"})
    ),
    # `status` is given as a status code and shown by its name.
    "status_query_answer": _EventFields(
        given=frozenset({"ticket", "category", "status"}),
        optional=frozenset({"expected_at", "reason"}),
        required=frozenset({"ticket", "status", "help_url"}),
    ),
    "status_query_not_found": _EventFields(given=frozenset({"ticket"})),
    # Answers to the citizen's commands «СТОП», «СТАРТ» and «ПОМОЩЬ», about no ticket.
    "stop_confirmation": _EventFields(given=frozenset()),
    "start_confirmation": _EventFields(given=frozenset()),
    "help": _EventFields(given=frozenset(), required=frozenset({"help_url"})),
    # A message of a kind its channel does not take (a Telegram sticker, voice note, location).
    "unsupported_content": _EventFields(given=frozenset()),
    **{f"status.{status}": _STATUS_CHANGE for status in STATUSES if status != "rejected"},
    "status.rejected": _EventFields(
        given=_STATUS_CHANGE.given | {"reason"},
        optional=_STATUS_CHANGE.optional,
        required=frozenset({"ticket", "reason", "help_url"}),
        implied=_STATUS_CHANGE.implied,
    ),
}

_SEGMENT_MARK = re.compile(r"(\[\[|\]\])")


class TemplateProblem(NamedTuple):
    """One mistake in a template file, as check-config prints it."""

    file: Path
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class TemplateError(Exception):
    """The template directory cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class _Piece:
    """A run of template text; an optional one is dropped when any of its fields is empty."""

    text: str
    optional: bool
    fields: frozenset[str]

    def render(self, values: Mapping[str, str]) -> str:
        if self.optional and not all(values.get(name) for name in self.fields):
            return ""
        return self.text.format_map(values)


def _compile(text: str, spec: _EventFields) -> tuple[_Piece, ...]:
    """Split a template into pieces and check its placeholders; ValueError says what is wrong."""
    pieces: list[_Piece] = []
    optional = False
    for token in _SEGMENT_MARK.split(text):
        if token == "[[":
            if optional:
                raise ValueError("[[ ]] cannot be nested")
            optional = True
        elif token == "]]":
            if not optional:
                raise ValueError("]] without [[")
            optional = False
        elif token:
            pieces.append(_Piece(token, optional, _placeholders(token)))
    if optional:
        raise ValueError("[[ without ]]")
    used = frozenset().union(*(piece.fields for piece in pieces))
    always_shown = frozenset().union(*(p.fields for p in pieces if not p.optional))
    if unknown := used - spec.usable:
        raise ValueError(f"{_braced(unknown)} not available here (use {_braced(spec.usable)})")
    if may_be_empty := always_shown & spec.optional:
        raise ValueError(f"{_braced(may_be_empty)} may be empty: put it inside [[ ]]")
    if missing := spec.required - always_shown:
        raise ValueError(f"must use {_braced(missing)} outside [[ ]]")
    return tuple(pieces)


def _placeholders(text: str) -> frozenset[str]:
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}}}: placeholders are plain names such as {{ticket}}")
        names.add(name)
    return frozenset(names)


def _braced(names: frozenset[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(names))


_T = TypeVar("_T")


def _every_status(by_status: dict[Status, _T]) -> dict[Status, _T]:
    if missing := [status for status in STATUSES if status not in by_status]:
        raise PydanticCustomError(
            "missing_status", "missing statuses: {missing}", {"missing": ", ".join(missing)}
        )
    return by_status


# Why a file was not accepted, as the attachment service records it, and why a whole message
# was not (`oversize`: a mail over the size limit); each needs a plain text.
ATTACHMENT_REASONS = (
    "infected",
    "dangerous",
    "archive",
    "type_not_allowed",
    "encrypted",
    "unchecked",
    "oversize",
)


def _every_reason(reasons: dict[str, str]) -> dict[str, str]:
    if missing := [code for code in ATTACHMENT_REASONS if not reasons.get(code)]:
        raise PydanticCustomError(
            "missing_reason", "missing reasons: {missing}", {"missing": ", ".join(missing)}
        )
    return reasons


class _Texts(BaseModel):
    """One event's text: the default and optional per-channel overrides (SMS ones short)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    sms: str | None = None
    email: str | None = None
    messenger: str | None = None
    webchat: str | None = None
    # The email's Subject (the email channel adds the ticket's tag); [meta] subject if absent.
    subject: str | None = None


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    help_url: str = Field(pattern=r"^https?://\S+$")
    # The Subject of an email whose event has none of its own.
    subject: str = Field(min_length=1)
    # The label of the button a messenger shows under a notice about a ticket: it asks for
    # the ticket's status ("/status NUMBER").
    status_button: str = Field(min_length=1, max_length=64)


class _TemplateFile(BaseModel):
    """One templates/<language>.toml file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meta: _Meta
    status_names: Annotated[dict[Status, str], AfterValidator(_every_status)]
    confirmation: _Texts
    added_to_request: _Texts
    reply: _Texts
    status_query_answer: _Texts
    status_query_not_found: _Texts
    stop_confirmation: _Texts
    start_confirmation: _Texts
    help: _Texts
    unsupported_content: _Texts
    attachments_not_accepted: _Texts
    status: Annotated[dict[Status, _Texts], AfterValidator(_every_status)]
    attachment_reasons: Annotated[dict[str, str], AfterValidator(_every_reason)]

    def events(self) -> Iterator[tuple[str, _Texts]]:
        """Every event's texts by event name ("confirmation", "status.accepted", ...)."""
        for name, value in self:
            if isinstance(value, _Texts):
                yield name, value
        for status, texts in self.status.items():
            yield f"status.{status}", texts


@dataclass(frozen=True)
class _Language:
    name: str
    help_url: str
    subject: str
    status_button: str
    status_names: Mapping[str, str]
    attachment_reasons: Mapping[str, str]
    events: Mapping[str, Mapping[str, tuple[_Piece, ...]]]  # event -> channel|"default" -> text


def _read_language(path: Path, problems: list[TemplateProblem]) -> _Language | None:
    """Load one template file, adding its mistakes to `problems`."""
    try:
        with path.open("rb") as file:
            parsed = _TemplateFile.model_validate(tomllib.load(file))
    except tomllib.TOMLDecodeError as exc:
        problems.append(TemplateProblem(path, "-", f"not valid TOML: {exc}"))
        return None
    except ValidationError as exc:
        problems.extend(
            TemplateProblem(path, ".".join(map(str, error["loc"])) or "-", error["msg"])
            for error in exc.errors()
        )
        return None
    events: dict[str, dict[str, tuple[_Piece, ...]]] = {}
    found_before = len(problems)
    for event, texts in parsed.events():
        events[event] = {}
        for channel, text in texts:
            if text is None:
                continue
            # A Subject only names the notice: the email channel adds the ticket's tag, and
            # what the event must say is said in the text.
            spec = _EVENTS[event]
            if channel == "subject":
                spec = replace(spec, required=frozenset())
            try:
                events[event][channel] = _compile(text, spec)
            except ValueError as exc:
                problems.append(TemplateProblem(path, f"{event}.{channel}", str(exc)))
    if len(problems) > found_before:
        return None
    status_names: dict[str, str] = {status: name for status, name in parsed.status_names.items()}
    meta = parsed.meta
    return _Language(
        meta.name,
        meta.help_url,
        meta.subject,
        meta.status_button,
        status_names,
        parsed.attachment_reasons,
        events,
    )


class Templates:
    """All template files of the config dir, checked at load time."""

    def __init__(self, languages: Mapping[str, _Language]) -> None:
        self._languages = dict(languages)

    @classmethod
    def load(cls, directory: Path) -> Templates:
        """Load every <language>.toml in `directory`; TemplateError lists every mistake."""
        problems: list[TemplateProblem] = []
        languages: dict[str, _Language] = {}
        paths = sorted(directory.glob("*.toml"))
        for path in paths:
            if (language := _read_language(path, problems)) is not None:
                languages[path.stem] = language
        default_path = directory / f"{DEFAULT_LANGUAGE}.toml"
        if default_path not in paths:
            problems.append(TemplateProblem(default_path, "-", "the default language is missing"))
        if problems:
            raise TemplateError(problems)
        return cls(languages)

    @property
    def languages(self) -> dict[str, str]:
        """Language codes with their own names, e.g. {"en": "English", "ru": "Русский"}."""
        return {code: language.name for code, language in self._languages.items()}

    def attachment_reason(self, code: str, language: str) -> str:
        """Plain words for why a file was not accepted, in `language`."""
        return self._language(language).attachment_reasons[code]

    @staticmethod
    def events() -> list[str]:
        """Every event a template file has a text for."""
        return list(_EVENTS)

    @staticmethod
    def fields(event: str) -> frozenset[str]:
        """The fields a caller may pass to render(`event`)."""
        spec = _EVENTS.get(event)
        if spec is None:
            raise ValueError(f"unknown event {event!r}")
        return spec.given | spec.optional

    def _language(self, language: str) -> _Language:
        return self._languages.get(language) or self._languages[DEFAULT_LANGUAGE]

    def status_name(self, status: str, language: str) -> str:
        """Human name of a status code ("resolved" -> «Выполнено») in `language`."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return self._language(language).status_names[status]

    def subject(self, event: str, *, language: str, **fields: str) -> str:
        """The email Subject of `event` in `language`: its own, else the file's."""
        chosen = self._language(language)
        pieces = chosen.events[event].get("subject")
        if pieces is None:
            return chosen.subject
        # One line: an operator's text in it must not break the header in two.
        return " ".join(self._text(event, pieces, chosen, language, fields).split())

    def status_button(self, language: str) -> str:
        """The label of a messenger's "status" button in `language`."""
        return self._language(language).status_button

    def render(self, event: str, *, language: str, channel: Channel, **fields: str) -> str:
        """The text of `event` for a citizen writing in `language` through `channel`.

        `fields` are the event's placeholders, formatted by the caller (see format_due); an
        optional one (comment, expected_at) may be empty, and its [[ ]] segment is then left out.
        """
        if channel not in get_args(Channel):
            raise ValueError(f"unknown channel {channel!r}")
        chosen = self._language(language)
        texts = chosen.events[event] if event in _EVENTS else {}
        pieces = texts.get(channel) or texts.get("default", ())
        return self._text(event, pieces, chosen, language, fields)

    def _text(
        self,
        event: str,
        pieces: tuple[_Piece, ...],
        chosen: _Language,
        language: str,
        fields: Mapping[str, str],
    ) -> str:
        """A text of `event` from its pieces, the fields checked against the event's."""
        spec = _EVENTS.get(event)
        if spec is None:
            raise ValueError(f"unknown event {event!r}")
        if unexpected := fields.keys() - spec.given - spec.optional:
            raise ValueError(f"{event} takes no {_braced(frozenset(unexpected))}")
        if missing := {name for name in spec.given if not fields.get(name)}:
            raise ValueError(f"{event} needs {_braced(frozenset(missing))}")
        values = {**fields, "help_url": chosen.help_url}
        if event.startswith("status."):
            values["status"] = chosen.status_names[event.removeprefix("status.")]
        elif "status" in fields:
            values["status"] = self.status_name(fields["status"], language)
        return "".join(piece.render(values) for piece in pieces).strip()


_MOSCOW_OFFSET = timedelta(hours=3)
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def html_of(text: str, language: str) -> str:
    """A notice's text as the HTML part of an email: escaped, a paragraph per blank line, line
    breaks kept, links made links; nothing the text did not say."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]

    def paragraph(plain: str) -> str:
        # Links are found in the plain text and each piece escaped on its own, so that an
        # escaped quote or bracket never runs into a link's address.
        pieces, end = [], 0
        for link in _LINK.finditer(plain):
            pieces.append(html.escape(plain[end : link.start()]))
            address = html.escape(link[0], quote=True)
            pieces.append(f'<a href="{address}">{address}</a>')
            end = link.end()
        pieces.append(html.escape(plain[end:]))
        return "<p>" + "".join(pieces).replace("\n", "<br>\n") + "</p>"

    body = "\n".join(paragraph(p) for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"</head><body>\n{body}\n</body></html>\n"
    )


def _offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    hours, seconds = divmod(abs(int(offset.total_seconds())), 3600)
    return f"{sign}{hours}" + (f":{seconds // 60:02d}" if seconds else "")


def format_due(dt: datetime, language: str, tz: ZoneInfo) -> str:
    """A due time as citizens read it: "23.11.2026 14:30 (МСК)" or "23 Nov 2026 14:30 MSK"."""
    local = dt.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    if language == "en":
        zone = local.tzname() or ""
        if not zone.isalpha():  # tzdata names most zones by offset only, e.g. "+05"
            zone = "UTC" + _offset_text(offset)
        month = _MONTHS_EN[local.month - 1]
        return f"{local.day} {month} {local.year} {local:%H:%M} {zone}"
    # Russian notices give times relative to Moscow: «МСК», «МСК+2» for Yekaterinburg.
    relative = offset - _MOSCOW_OFFSET
    zone = "МСК" + (_offset_text(relative) if relative else "")
    return f"{local:%d.%m.%Y %H:%M} ({zone})"
