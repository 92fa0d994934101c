"""Time as the router records it: aware UTC datetimes written as RFC 3339 with a Z."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC text with millisecond precision, e.g. 2026-11-23T02:07:37.123Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse RFC 3339 text (Z or an offset) into an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment
