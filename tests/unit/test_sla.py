"""Durations of categories.toml and SLA due times."""

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from router.ticketing.catalogue import PriorityClass, Span, load_catalogue

MOSCOW = ZoneInfo("Europe/Moscow")
CATALOGUE = load_catalogue(Path(__file__).parents[2] / "config" / "categories.toml")
spans = TypeAdapter(Span)


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("text", "span", "seconds"),
    [
        ("30s", Span(30, "s"), 30),
        ("30m", Span(30, "m"), 1800),
        ("4h", Span(4, "h"), 14400),
        ("2d", Span(2, "d"), 172800),
        (" 48h ", Span(48, "h"), 172800),
    ],
)
def test_spans_in_fixed_units(text: str, span: Span, seconds: int) -> None:
    assert spans.validate_python(text) == span
    assert span.seconds == seconds


def test_working_days_parse_but_have_no_length_in_seconds() -> None:
    span = Span.parse("10wd")
    assert span == Span(10, "wd")
    with pytest.raises(ValueError, match="working days"):
        _ = span.seconds


def test_span_serialises_back_to_its_text() -> None:
    sla = PriorityClass.model_validate({"first_response": "24h", "resolution": "10wd"})
    assert sla.model_dump() == {"first_response": "24h", "resolution": "10wd"}
    assert str(Span(30, "m")) == "30m"


@pytest.mark.parametrize(
    "garbage", ["30", "m", "30min", "30 m", "1.5h", "-1h", "4H", "10w", "٣m", "", 30, None]
)
def test_garbage_is_refused_with_a_hint(garbage: object) -> None:
    with pytest.raises(ValidationError) as info:
        PriorityClass.model_validate({"first_response": garbage, "resolution": "1h"})
    (error,) = info.value.errors()
    assert error["loc"] == ("first_response",)
    assert error["msg"] == "expected a number followed by s, m, h, d or wd, e.g. 30m"


def test_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        spans.validate_python("0m")


def test_fixed_units_are_elapsed_time() -> None:
    start = msk(2026, 11, 23, 14, 30)
    assert Span(30, "m").after(start, MOSCOW) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert Span(2, "d").after(start, MOSCOW) == start + timedelta(hours=48)
    # Weekends are not skipped for calendar units: Friday + 1d is Saturday.
    assert Span(1, "d").after(msk(2026, 11, 27, 10), MOSCOW) == msk(2026, 11, 28, 10)


def test_result_is_in_utc() -> None:
    for span in (Span(1, "h"), Span(1, "wd")):
        assert span.after(msk(2026, 11, 23, 10), MOSCOW).tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        # 2026-11-23 is a Monday.
        (msk(2026, 11, 25, 14, 30), 1, msk(2026, 11, 26, 14, 30)),  # Wed -> Thu
        (msk(2026, 11, 27, 14, 30), 1, msk(2026, 11, 30, 14, 30)),  # Fri -> Mon
        (msk(2026, 11, 27, 14, 30), 5, msk(2026, 12, 4, 14, 30)),  # Fri -> next Fri
        (msk(2026, 11, 23, 9, 0), 10, msk(2026, 12, 7, 9, 0)),  # Mon -> Mon two weeks on
        (msk(2026, 11, 26, 9, 0), 3, msk(2026, 12, 1, 9, 0)),  # Thu -> Tue
        # A weekend start counts from Monday 00:00.
        (msk(2026, 11, 28, 15, 0), 1, msk(2026, 12, 1, 0, 0)),  # Sat -> Tue 00:00
        (msk(2026, 11, 29, 23, 59), 10, msk(2026, 12, 14, 0, 0)),  # Sun -> Mon +2 weeks
    ],
)
def test_working_days(start: datetime, amount: int, due: datetime) -> None:
    assert Span(amount, "wd").after(start, MOSCOW) == due


def test_working_days_count_in_the_local_timezone() -> None:
    # Friday 22:00 UTC is already Saturday 01:00 in Moscow: a weekend start.
    start = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert Span(1, "wd").after(start, MOSCOW) == msk(2026, 12, 1, 0, 0)
    assert Span(1, "wd").after(start, ZoneInfo("UTC")) == datetime(2026, 11, 30, 22, tzinfo=UTC)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Span(1, "h").after(datetime(2026, 11, 23, 10), MOSCOW)


@given(
    st.integers(1, 60),
    st.datetimes(datetime(2015, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
    # Zones without clock changes since 2014, so the local time of day is always kept.
    st.sampled_from([MOSCOW, ZoneInfo("Asia/Vladivostok"), ZoneInfo("UTC")]),
)
def test_working_day_sla_never_lands_on_a_weekend(
    amount: int, start: datetime, tz: ZoneInfo
) -> None:
    due = Span(amount, "wd").after(start, tz)
    local_start, local_due = start.astimezone(tz), due.astimezone(tz)
    assert local_due.weekday() < 5
    assert due > start
    # At least `amount` weekdays lie between, and never more than a weekend's worth extra.
    assert timedelta(days=amount) <= due - start <= timedelta(days=amount * 7 // 5 + 4)
    if local_start.weekday() < 5:
        assert local_due.time() == local_start.time()
    else:
        assert local_due.time() == time(0, 0)


def test_due_times_of_the_shipped_priority_classes() -> None:
    received = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 12:00 MSK
    assert CATALOGUE.due_times("urgent", received, MOSCOW) == (
        received + timedelta(minutes=30),
        received + timedelta(hours=4),
    )
    assert CATALOGUE.due_times("technical", received, MOSCOW) == (
        received + timedelta(hours=1),
        received + timedelta(hours=48),
    )
    assert CATALOGUE.due_times("standard", received, MOSCOW) == (
        received + timedelta(hours=2),
        received + timedelta(hours=24),
    )
    first, resolution = CATALOGUE.due_times("complaint", received, MOSCOW)
    assert first == received + timedelta(hours=24)
    assert resolution == datetime(2026, 12, 11, 9, 0, tzinfo=UTC)  # ten working days on
    assert first.tzinfo is UTC and resolution.tzinfo is UTC


def test_due_times_of_an_unknown_priority_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown priority class 'vip'"):
        CATALOGUE.due_times("vip", datetime(2026, 11, 27, tzinfo=UTC), MOSCOW)
