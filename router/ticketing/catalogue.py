"""Ticket numbers, categories, priority classes and SLA due times (CONTRACTS.md, DOMAIN.md)."""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args
from zoneinfo import ZoneInfo

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from normaliser.damm import check_digit

# CONTRACTS.md "Statuses", in the order a request usually moves through them.
Status = Literal[
    "accepted", "in_progress", "under_review", "awaiting_citizen", "resolved", "rejected"
]
STATUSES: tuple[Status, ...] = get_args(Status)
CLOSED_STATUSES: frozenset[Status] = frozenset({"resolved", "rejected"})

UNCLASSIFIED = "unclassified"
UNKNOWN_CODE_FLAG = "unknown_code"


class TicketNumbering(BaseModel):
    """The `[tickets]` table of router.toml: how ticket numbers look and when they are reused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # CONTRACTS.md "Ticket numbers": 2-digit year + 7-digit counter + Damm digit = 10 digits.
    counter_digits: int = Field(default=7, ge=2, le=9)
    subject_tag: str = "[№{number}]"
    # False: a message after resolved/rejected opens a new ticket linked as `related`.
    reopen_after_resolved: bool = False

    @field_validator("subject_tag")
    @classmethod
    def _tag_names_the_number(cls, tag: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(tag) if name is not None}
        if fields != {"number"}:
            raise PydanticCustomError(
                "subject_tag", "must contain {number} and no other placeholder"
            )
        return tag

    @property
    def pattern_length(self) -> int:
        """Digits in a ticket number: year, counter and check digit."""
        return 2 + self.counter_digits + 1

    def number(self, year: int, counter: int) -> str:
        """Ticket number for the `counter`-th ticket of `year`, ending in its Damm check digit."""
        if not 0 <= counter < 10**self.counter_digits:
            raise ValueError(
                f"ticket counter {counter} does not fit in {self.counter_digits} digits"
            )
        digits = f"{year % 100:02d}{counter:0{self.counter_digits}d}"
        return digits + check_digit(digits)


SpanUnit = Literal["s", "m", "h", "d", "wd"]
_SPAN_HELP = "expected a number followed by s, m, h, d or wd, e.g. 30m"
_SPAN = re.compile(r"([0-9]+)(s|m|h|d|wd)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class Span:
    """A duration from categories.toml: "30s", "30m", "4h", "2d" or "10wd" (working days)."""

    amount: int
    unit: SpanUnit

    @classmethod
    def parse(cls, text: str) -> Span:
        """Parse "30m"-style text; ValueError with a hint for admins otherwise."""
        match = _SPAN.fullmatch(text.strip())
        if match is None:
            raise ValueError(_SPAN_HELP)
        amount = int(match[1])
        if amount == 0:
            raise ValueError("a duration must be greater than zero, e.g. 30m")
        return cls(amount, cast(SpanUnit, match[2]))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate from "30m"-style strings (or a Span) and serialise back to that string."""
        return core_schema.no_info_plain_validator_function(
            cls._validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def _validate(cls, value: object) -> Span:
        if isinstance(value, Span):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError("span", _SPAN_HELP)
        try:
            return cls.parse(value)
        except ValueError as exc:
            raise PydanticCustomError("span", str(exc)) from None

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def seconds(self) -> int:
        """Length in seconds; working days have no fixed length, so they raise ValueError."""
        if self.unit == "wd":
            raise ValueError("a span in working days has no fixed length in seconds")
        return self.amount * _UNIT_SECONDS[self.unit]

    def after(self, start: datetime, tz: ZoneInfo) -> datetime:
        """The moment this span after `start` ends, in UTC.

        s/m/h/d are elapsed time (a day is 24 h whatever the clocks do). N working days step N
        Mon-Fri dates forward in `tz`, keeping the local time of day; a start on Saturday or
        Sunday counts from Monday 00:00, as no working time has passed yet. Public holidays are
        not known here: only weekends are skipped.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.unit != "wd":
            return (start + timedelta(seconds=self.seconds)).astimezone(UTC)
        local = start.astimezone(tz)
        day, time_of_day = local.date(), local.time()
        if day.weekday() >= _SATURDAY:
            day += timedelta(days=7 - day.weekday())
            time_of_day = time(0, 0)
        weeks, days = divmod(self.amount, 5)
        day += timedelta(weeks=weeks)
        for _ in range(days):
            day += timedelta(days=1)
            while day.weekday() >= _SATURDAY:
                day += timedelta(days=1)
        return datetime.combine(day, time_of_day, tzinfo=tz).astimezone(UTC)


class PriorityClass(BaseModel):
    """SLA of a priority class: time to the first answer and to the resolution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: Span
    resolution: Span


def _keyword_is_lower_case(keywords: list[str]) -> list[str]:
    for keyword in keywords:
        if not keyword.strip():
            raise PydanticCustomError("keyword", "a keyword must not be empty")
        if keyword != keyword.lower():
            raise PydanticCustomError(
                "keyword", "keyword {keyword} must be lower-case", {"keyword": repr(keyword)}
            )
    return keywords


def _fold(text: str) -> str:
    # Citizens write «ё» and «е» interchangeably; keywords are matched on the folded form.
    return text.lower().replace("ё", "е")


class CategoryRule(BaseModel):
    """A category: its Russian and English names, priority class and keyword stems."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    priority: str
    keywords: Annotated[list[str], AfterValidator(_keyword_is_lower_case)] = []

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, priority: str, info: ValidationInfo) -> str:
        # The known classes come through the validation context (Catalogue.from_data) so that
        # an error names its own key: categories.11.priority, not the whole table.
        known = (info.context or {}).get("priorities")
        if known is not None and priority not in known:
            raise PydanticCustomError(
                "unknown_priority",
                "unknown priority {priority} (known: {known})",
                {"priority": repr(priority), "known": ", ".join(sorted(known))},
            )
        return priority

    @cached_property
    def _stems(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        # A stem matches at the start of a word: "вход" must not fire on "выход" or "доход".
        folded = (_fold(k) for k in self.keywords)
        return tuple((stem, re.compile(r"(?<!\w)" + re.escape(stem))) for stem in folded)

    def hits(self, folded_text: str) -> int:
        """How many of this category's keywords occur in the (folded) text."""
        # The substring test first: most stems are in no given message, and it is far cheaper
        # than the search with the look-behind (classify: 63 us down to 18 us a message).
        return sum(
            1
            for stem, at_word in self._stems
            if stem in folded_text and at_word.search(folded_text)
        )


def _two_digit_code(code: str) -> str:
    if not re.fullmatch(r"[0-9]{2}", code):
        raise PydanticCustomError(
            "category_code",
            "category code {code} must be two digits, e.g. 01",
            {"code": repr(code)},
        )
    return code


CategoryCode = Annotated[str, AfterValidator(_two_digit_code)]


class Classification(msgspec.Struct, frozen=True):
    """What a message is about: category code, its Russian name, priority class and flags."""

    code: str
    name: str
    priority: str
    flags: tuple[str, ...] = ()


# DOMAIN.md "Requests": codes are written `01`, `[01]`, `Код 01`, `#01` at the start of a subject
# or SMS; "Код:01" and "Код-01" are tolerated. A missed code only falls back to keywords, while a
# wrong one misroutes the request, so each form takes only what cannot be something else:
# - `[01]` is unambiguous: whatever follows it is the message ("[08] 2600000128 ...").
# - After `Код` or `#` the writer has said a code follows. Only digits that continue the code
#   itself make it not one: "Код 012", "Код 01.02" (a date), "#01/2", "#2600000128" (a ticket
#   number). A number after a space or a label's colon is the message: "Код 12: 89161234567
#   звонят от вашего имени", "#10 89161234567 не приходит смс", "Код 08 2600000128".
# - A bare number says nothing about itself, and at the start of a message it is a date, an
#   amount or a time far more often than a code: «01 2024 года», «12 05 2024», «10 000 рублей»,
#   «01. 02. 2026», «15: 30». So it counts only before the end, a separator or a capitalised word
#   ("01 Справка", "01: справка"), and never when another number follows, directly or after
#   spaces and punctuation: "12: 89161234567 звонят" is left to the keywords, as is
#   "10 дней жду ответа" (no capital after the number: not about code 10).
_SUBJECT_CODE = re.compile(
    r"""\s*(?:
        \[\s*(?P<bracketed>[0-9]{2})\s*\]
      | (?:(?i:код)\s*[:\-–—]?\s*|\#\s*)(?P<prefixed>[0-9]{2})(?![0-9]|[.,/\-–—][0-9])
      | (?P<bare>[0-9]{2})(?=\s*$|\s*[.:)\-–—](?![\s.,:;/\-–—]*[0-9])|\s+[A-ZА-ЯЁ])
    )""",
    re.VERBOSE,
)


def _subject_code(subject: str | None, text: str) -> str | None:
    """The category code written at the start of the subject, or of the text if no subject."""
    head = subject if subject and subject.strip() else text
    match = _SUBJECT_CODE.match(head)
    if match is None:
        return None
    return match["bracketed"] or match["prefixed"] or match["bare"]


class Catalogue(BaseModel):
    """categories.toml: priority classes, categories by subject code, and the fallback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priorities: dict[str, PriorityClass]
    categories: dict[CategoryCode, CategoryRule]
    unclassified: CategoryRule

    @classmethod
    def from_data(cls, data: object) -> Catalogue:
        """Validate parsed categories.toml, checking every priority against [priorities]."""
        priorities = data.get("priorities") if isinstance(data, dict) else None
        known = frozenset(priorities) if isinstance(priorities, dict) else None
        return cls.model_validate(data, context={"priorities": known})

    @field_validator("unclassified")
    @classmethod
    def _unclassified_is_a_fallback(cls, rule: CategoryRule, info: ValidationInfo) -> CategoryRule:
        if rule.keywords:
            raise PydanticCustomError(
                "fallback_keywords", "the fallback category takes no keywords"
            )
        return rule

    def classify(self, subject: str | None, text: str, topic: str | None = None) -> Classification:
        """Category of a message: web chat topic, else subject code, else keywords, else none."""
        # unknown_code means "a code was given, it is unknown, and no code classified the
        # message": an unknown topic followed by a known subject code is classified by that code,
        # unflagged.
        flags: tuple[str, ...] = ()
        for code in (topic, _subject_code(subject, text)):
            if code is None:
                continue
            if code in self.categories:
                return self._classification(code, ())
            flags = (UNKNOWN_CODE_FLAG,)
        folded = _fold(f"{subject or ''}\n{text}")
        # Most keyword hits wins; ties go to the lowest code (dicts keep TOML order, so sort).
        best_hits, best_code = 0, UNCLASSIFIED
        for code in sorted(self.categories):
            hits = self.categories[code].hits(folded)
            if hits > best_hits:
                best_hits, best_code = hits, code
        return self._classification(best_code, flags)

    def _classification(self, code: str, flags: tuple[str, ...]) -> Classification:
        rule = self._rule(code)
        return Classification(code=code, name=rule.name, priority=rule.priority, flags=flags)

    def _rule(self, code: str) -> CategoryRule:
        return self.unclassified if code == UNCLASSIFIED else self.categories[code]

    def category_name(self, code: str, language: str) -> str:
        """Name of a category (or of `unclassified`) for messages in `language`; Russian first."""
        rule = self._rule(code)
        return rule.name_en if language == "en" else rule.name

    def due_times(
        self, priority: str, received_at: datetime, tz: ZoneInfo
    ) -> tuple[datetime, datetime]:
        """First-response and resolution due times (UTC) of a request received at `received_at`."""
        sla = self.priorities.get(priority)
        if sla is None:
            raise ValueError(f"unknown priority class {priority!r}")
        return sla.first_response.after(received_at, tz), sla.resolution.after(received_at, tz)


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate categories.toml; pydantic's ValidationError says what is wrong where."""
    with path.open("rb") as file:
        return Catalogue.from_data(tomllib.load(file))
