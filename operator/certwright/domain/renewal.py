"""When to renew a certificate (DESIGN §3, issue 10): pure functions.

The user's rule is "30 days before expiry", but never later than when one third of the lifetime is
left (one half for lifetimes under ten days): the same for 90-day certificates, and for long ones
the third wins. Where 30 days would be more than half the lifetime (45-day and 6-day certificates)
the 30 days cannot be meant literally, so the share alone decides. An explicit ``renew_before``
overrides it — unless it would renew within the first third of the lifetime (``renewBefore: 2400h``
on a 90-day certificate, or ``720h`` on a 6-day one): then the certificate would be due again the
moment it is issued, a loop that burns the CA's duplicate-certificate limit, so the default rule
decides and the caller says so. Lifetimes are only known once issued, so this runs on every
certificate.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .specs import parse_duration

THIRTY_DAYS = datetime.timedelta(days=30)
SHORT_LIFETIME = datetime.timedelta(days=10)
EARLIEST_SHARE = 3  # never renew before notBefore + lifetime / EARLIEST_SHARE (ARI windows aside)


@dataclass(frozen=True)
class Renewal:
    """When to renew, and whether ``renewBefore`` was set aside because it did not fit the lifetime."""

    at: datetime.datetime
    renew_before_ignored: bool = False


def earliest_renewal(not_before: datetime.datetime, not_after: datetime.datetime) -> datetime.datetime:
    """The first moment a scheduled renewal may come: the first third of the lifetime is never due."""
    return not_before + (not_after - not_before) / EARLIEST_SHARE


def renewal(
    not_before: datetime.datetime, not_after: datetime.datetime, renew_before: datetime.timedelta | None = None
) -> Renewal:
    """The moment to renew, inside [earliest_renewal, not_after], on a whole second."""
    floor = earliest_renewal(not_before, not_after)
    if renew_before is not None:
        moment = _on_a_second(not_after - renew_before, floor)
        if floor <= moment <= not_after:
            return Renewal(moment)
    lifetime = not_after - not_before
    share = lifetime / 2 if lifetime < SHORT_LIFETIME else lifetime / 3
    lead = max(share, THIRTY_DAYS) if lifetime / 2 >= THIRTY_DAYS else share
    return Renewal(_on_a_second(not_after - lead, floor), renew_before_ignored=renew_before is not None)


def renewal_time(
    not_before: datetime.datetime, not_after: datetime.datetime, renew_before: datetime.timedelta | None = None
) -> datetime.datetime:
    return renewal(not_before, not_after, renew_before).at


def ignored_note(renew_before: str, not_before: datetime.datetime, not_after: datetime.datetime, at: str) -> str:
    """What to tell the user when their renewBefore does not fit the lifetime the CA gave."""
    lifetime = not_after - not_before
    words = lifetime_words(lifetime)
    if parse_duration(renew_before, "spec.renewBefore") >= lifetime:
        why = f"is longer than this CA's {words} lifetime"
    else:
        why = f"would renew within the first third of this CA's {words} lifetime, the moment it is issued"
    return f"spec.renewBefore {renew_before} {why}; renewing at {at} by the default rule instead"


def lifetime_words(lifetime: datetime.timedelta) -> str:
    """A lifetime as people say it: 90-day, 6-day, 10-minute, 600-second."""
    seconds = round(lifetime.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size and seconds % size in (0, size - 1, 1):
            return f"{round(seconds / size)}-{unit}"
    return f"{seconds}-second"


def _on_a_second(moment: datetime.datetime, floor: datetime.datetime) -> datetime.datetime:
    """``moment`` truncated to the second (status has second precision), but not below ``floor``."""
    truncated = moment.replace(microsecond=0)
    if truncated < floor <= moment:  # truncation crossed the floor: the next whole second
        truncated += datetime.timedelta(seconds=1)
    return truncated


FIRST_RETRY = datetime.timedelta(minutes=1)
MAX_RETRY = datetime.timedelta(days=1)


def retry_time(
    now: datetime.datetime, attempts: int, retry_after: float | None = None, *, rate_limited: bool = False
) -> datetime.datetime:
    """When to try again after ``attempts`` failures in a row: 1 minute doubling up to a day, and
    never before the CA's Retry-After (Let's Encrypt: back off, at most daily). A rate limit pauses
    exactly until the CA's time, which is when its bucket has refilled."""
    doublings = min(max(attempts - 1, 0), 20)  # 2**20 minutes is past the cap; more would overflow
    backoff: datetime.timedelta = min(FIRST_RETRY * 2**doublings, MAX_RETRY)
    if rate_limited and retry_after is not None:
        backoff = datetime.timedelta(0)
    wait = max(backoff, datetime.timedelta(seconds=retry_after or 0))
    moment: datetime.datetime = (now + wait).replace(microsecond=0)
    return moment + datetime.timedelta(seconds=1)
