"""Back-off after failures: 1 minute doubling to a day, never before the CA's Retry-After."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certwright.domain.renewal import retry_time

NOW = datetime.datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=datetime.UTC)
MINUTE = datetime.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("attempts", "retry_after", "rate_limited", "wait"),
    [
        (1, None, False, MINUTE),
        (2, None, False, 2 * MINUTE),
        (5, None, False, 16 * MINUTE),
        (20, None, False, datetime.timedelta(days=1)),
        (1, 3600.0, False, datetime.timedelta(hours=1)),
        (3, 30.0, False, 4 * MINUTE),
        (1, 15.0, True, datetime.timedelta(seconds=15)),
        (6, 15.0, True, datetime.timedelta(seconds=15)),
        (2, None, True, 2 * MINUTE),
    ],
    ids=[
        "first",
        "second",
        "fifth",
        "capped-at-a-day",
        "retry-after-longer",
        "backoff-longer",
        "rate-limit-exact",
        "rate-limit-ignores-attempts",
        "rate-limit-without-time",
    ],
)
def test_retry_time(attempts: int, retry_after: float | None, rate_limited: bool, wait: datetime.timedelta) -> None:
    expected = (NOW + wait).replace(microsecond=0) + datetime.timedelta(seconds=1)
    assert retry_time(NOW, attempts, retry_after, rate_limited=rate_limited) == expected


@given(
    attempts=st.integers(min_value=1, max_value=60),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=10 * 86400)),
    rate_limited=st.booleans(),
)
def test_never_before_the_cas_time_and_whole_seconds(
    attempts: int, retry_after: float | None, rate_limited: bool
) -> None:
    moment = retry_time(NOW, attempts, retry_after, rate_limited=rate_limited)
    assert moment.microsecond == 0
    assert moment > NOW
    if retry_after is not None:
        assert moment >= NOW + datetime.timedelta(seconds=retry_after)
    if not rate_limited or retry_after is None:
        assert moment <= NOW + max(
            datetime.timedelta(days=1), datetime.timedelta(seconds=retry_after or 0)
        ) + datetime.timedelta(seconds=1)
