"""When to renew a certificate (DESIGN §3): one pure function.

The user's rule is "30 days before expiry", but never later than when one third of the lifetime is
left (one half for lifetimes under ten days): the same for 90-day certificates, and for long ones
the third wins. Where 30 days would be more than half the lifetime (45-day and 6-day certificates)
the 30 days cannot be meant literally — a 6-day certificate would renew in a loop — so the share
alone decides. An explicit ``renew_before`` overrides it. ARI windows come later.
"""

from __future__ import annotations

import datetime

THIRTY_DAYS = datetime.timedelta(days=30)
SHORT_LIFETIME = datetime.timedelta(days=10)


def renewal_time(
    not_before: datetime.datetime, not_after: datetime.datetime, renew_before: datetime.timedelta | None = None
) -> datetime.datetime:
    """The moment to renew, inside [not_before, not_after], truncated to the second."""
    lifetime = not_after - not_before
    if renew_before is not None:
        lead = min(renew_before, lifetime)
    else:
        share = lifetime / 2 if lifetime < SHORT_LIFETIME else lifetime / 3
        lead = max(share, THIRTY_DAYS) if lifetime / 2 >= THIRTY_DAYS else share
    moment = (not_after - lead).replace(microsecond=0)
    if moment < not_before:  # truncation (or a lead as long as the lifetime) reached before the start
        moment = not_before.replace(microsecond=0)
        if moment < not_before:
            moment += datetime.timedelta(seconds=1)
    return moment


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
