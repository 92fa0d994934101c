"""Time as the router records it: aware UTC datetimes written as RFC 3339 with a Z."""

from datetime import UTC, datetime

from channels.contract import rfc3339

__all__ = ["parse_rfc3339", "rfc3339", "utc_now"]


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse RFC 3339 text (Z or an offset) into an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment
