"""RFC 3339 times as the envelope, the API and the journal write them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from channels.contract import rfc3339
from router.clock import parse_rfc3339

_WRITTEN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


# A day inside the years datetime holds: the offset moves the moment by up to 14 hours.
@given(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=_OFFSETS))
def test_any_moment_is_written_in_utc_to_the_millisecond_and_read_back(moment: datetime) -> None:
    written = rfc3339(moment)
    assert _WRITTEN.fullmatch(written), written
    exact = moment.astimezone(UTC)
    assert parse_rfc3339(written) == exact.replace(microsecond=exact.microsecond // 1000 * 1000)
