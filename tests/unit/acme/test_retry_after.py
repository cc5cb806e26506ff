"""Retry-After in both of its forms (RFC 9110 §10.2.3), and the bounds callers put on it."""

from __future__ import annotations

import pytest

from certwright.acme.retry_after import clamp, parse_retry_after

from .fakes import NOW

# NOW is Wednesday, 1 January 2025, 12:00:00 UTC.
READABLE = {
    "delta": ("120", 120.0),
    "delta-padded": (" 45 ", 45.0),
    "delta-zero": ("0", 0.0),
    "date-future": ("Wed, 01 Jan 2025 12:02:00 GMT", 120.0),  # IMF-fixdate, the preferred form
    "date-rfc850": ("Wednesday, 01-Jan-25 12:02:00 GMT", 120.0),  # obsolete, but recipients must accept it
    "date-asctime": ("Wed Jan  1 12:02:00 2025", 120.0),  # obsolete asctime form
    "date-now": ("Wed, 01 Jan 2025 12:00:00 GMT", 0.0),
    "date-past": ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),  # go now: never a negative wait
    "date-long-ago": ("Tue, 01 Jan 2019 00:00:00 GMT", 0.0),
}


@pytest.mark.parametrize(("header", "seconds"), READABLE.values(), ids=list(READABLE))
def test_readable_header_gives_seconds_from_now(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    "header",
    [None, "", "soon", "-5", "1.5", "120 seconds", "Wed, 32 Jan 2025 12:00:00 GMT"],
    ids=["absent", "empty", "word", "negative", "fraction", "with-unit", "impossible-date"],
)
def test_absent_or_unreadable_header_gives_none(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


def test_superscript_digit_is_unreadable_not_a_crash() -> None:
    assert parse_retry_after("²", NOW) is None


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, 30.0), (5.0, 10.0), (10.0, 10.0), (42.0, 42.0), (60.0, 60.0), (3600.0, 60.0), (-1.0, 10.0)],
    ids=["none-is-default", "below-low", "at-low", "inside", "at-high", "above-high", "negative"],
)
def test_clamp_keeps_within_bounds_and_defaults(seconds: float | None, expected: float) -> None:
    assert clamp(seconds, 10.0, 60.0, 30.0) == expected


def test_clamp_default_is_not_itself_clamped() -> None:
    """The default is the caller's own choice (e.g. a backoff step), taken as given."""
    assert clamp(None, 10.0, 60.0, 1.0) == 1.0
