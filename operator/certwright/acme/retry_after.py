"""Retry-After (RFC 9110 §10.2.3) in both forms, clamped to bounds the caller chooses.

Pebble ≥ 2.5 picks delta-seconds or an HTTP-date at random, and a client that reads only one form
mis-schedules (lego had to fix exactly this), so both are read here, once.
"""

from __future__ import annotations

import datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime.datetime) -> float | None:
    """Seconds to wait from ``now``, or None when the header is absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())


def clamp(seconds: float | None, low: float, high: float, default: float) -> float:
    """``seconds`` kept within [low, high]; ``default`` when there is none."""
    if seconds is None:
        return default
    return min(max(seconds, low), high)
