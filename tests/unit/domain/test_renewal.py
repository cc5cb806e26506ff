"""When to renew (DESIGN §3): 30 days before expiry, a third or a half for other lifetimes, or renewBefore."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certwright.domain.renewal import earliest_renewal, renewal, renewal_time

NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("lifetime", "renew_before", "lead"),
    [
        (90 * DAY, None, 30 * DAY),
        (90 * DAY - SECOND, None, 30 * DAY),  # notAfter is the last second, as Let's Encrypt issues
        (64 * DAY, None, 30 * DAY),
        (60 * DAY, None, 30 * DAY),
        (45 * DAY, None, 15 * DAY),
        (10 * DAY, None, 80 * HOUR),
        (9 * DAY, None, 108 * HOUR),
        (6 * DAY, None, 3 * DAY),
        (160 * HOUR, None, 80 * HOUR),
        (365 * DAY, None, 2920 * HOUR),
        (90 * DAY, 10 * DAY, 10 * DAY),
        (90 * DAY, 60 * DAY, 60 * DAY),
        (6 * DAY, datetime.timedelta(hours=1, minutes=30), datetime.timedelta(hours=1, minutes=30)),
        (90 * DAY, 100 * DAY, 30 * DAY),  # longer than the lifetime: the default rule
        (90 * DAY, 61 * DAY, 30 * DAY),  # would renew within the first third: the default rule
        (90 * DAY, datetime.timedelta(0), datetime.timedelta(0)),
        (600 * SECOND, 720 * HOUR, 300 * SECOND),  # renewBefore 720h on the 600 s tenminutes profile
        (6 * DAY, 720 * HOUR, 3 * DAY),  # renewBefore 720h on a 6-day (shortlived) certificate
    ],
    ids=[
        "90d-30d-before",
        "90d-last-second",
        "64d-30d-before",
        "60d-30d-is-half",
        "45d-a-third",
        "10d-a-third",
        "9d-a-half",
        "6d-a-half",
        "160h-a-half",
        "365d-a-third",
        "renew-before-10d",
        "renew-before-beyond-default",
        "renew-before-90m-on-6d",
        "renew-before-longer-than-lifetime",
        "renew-before-into-first-third",
        "renew-before-zero",
        "renew-before-720h-on-600s",
        "renew-before-720h-on-6d",
    ],
)
def test_renewal_time(
    lifetime: datetime.timedelta, renew_before: datetime.timedelta | None, lead: datetime.timedelta
) -> None:
    not_after = NOT_BEFORE + lifetime
    assert renewal_time(NOT_BEFORE, not_after, renew_before) == not_after - lead


@pytest.mark.parametrize(
    ("lifetime", "renew_before", "exact_lead"),
    [
        (10 * DAY + SECOND, None, datetime.timedelta(seconds=864_001 / 3)),  # 288000.333… s
        (7 * DAY + SECOND, None, datetime.timedelta(seconds=302_400.5)),
        (90 * DAY, datetime.timedelta(seconds=0.25), datetime.timedelta(seconds=0.25)),
    ],
    ids=["third-with-fraction", "half-with-fraction", "renew-before-with-fraction"],
)
def test_renewal_time_is_truncated_to_the_second(
    lifetime: datetime.timedelta, renew_before: datetime.timedelta | None, exact_lead: datetime.timedelta
) -> None:
    not_after = NOT_BEFORE + lifetime
    exact = not_after - exact_lead

    result = renewal_time(NOT_BEFORE, not_after, renew_before)

    assert result.microsecond == 0
    assert exact - SECOND < result < exact
    assert NOT_BEFORE <= result <= not_after


def test_renewal_time_with_sub_second_not_before_stays_inside_validity() -> None:
    not_before = NOT_BEFORE.replace(microsecond=500_000)
    not_after = not_before + 90 * DAY

    result = renewal_time(not_before, not_after, 100 * DAY)

    assert not_before <= result <= not_after


# X.509 times have one-second precision, so certificates give whole-second instants and lifetimes.
instants = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1),
    max_value=datetime.datetime(2100, 1, 1),
    timezones=st.just(datetime.UTC),
).map(lambda moment: moment.replace(microsecond=0))
lifetimes = st.integers(min_value=60, max_value=400 * 86_400).map(lambda seconds: datetime.timedelta(seconds=seconds))
renew_befores = st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=800))


@given(not_before=instants, lifetime=lifetimes, renew_before=st.none() | renew_befores)
def test_renewal_time_lies_within_validity_to_the_second(
    not_before: datetime.datetime, lifetime: datetime.timedelta, renew_before: datetime.timedelta | None
) -> None:
    not_after = not_before + lifetime

    result = renewal_time(not_before, not_after, renew_before)

    assert not_before <= result <= not_after
    assert result.microsecond == 0


@given(not_before=instants, lifetime=lifetimes)
def test_default_renewal_leaves_a_third_to_a_half_or_thirty_days(
    not_before: datetime.datetime, lifetime: datetime.timedelta
) -> None:
    not_after = not_before + lifetime

    left = not_after - renewal_time(not_before, not_after)

    # Truncating to the second can only renew earlier, by less than a second.
    assert lifetime / 3 <= left < lifetime / 2 + SECOND
    if lifetime < 10 * DAY:
        assert lifetime / 2 <= left < lifetime / 2 + SECOND
    elif 60 * DAY <= lifetime <= 90 * DAY:
        assert left == 30 * DAY
    else:
        assert lifetime / 3 <= left < lifetime / 3 + SECOND


@given(not_before=instants, lifetime=lifetimes, renew_before=st.none() | renew_befores)
def test_renewal_is_never_due_in_the_first_third(
    not_before: datetime.datetime, lifetime: datetime.timedelta, renew_before: datetime.timedelta | None
) -> None:
    """Issue 10: whatever renewBefore says, a certificate is never due again the moment it is issued."""
    not_after = not_before + lifetime

    result = renewal(not_before, not_after, renew_before)

    assert not_before + lifetime / 3 <= result.at <= not_after
    assert earliest_renewal(not_before, not_after) <= result.at


@given(not_before=instants, lifetime=lifetimes, renew_before=renew_befores)
def test_renew_before_is_the_lead_when_it_fits_and_the_default_rule_otherwise(
    not_before: datetime.datetime, lifetime: datetime.timedelta, renew_before: datetime.timedelta
) -> None:
    not_after = not_before + lifetime

    result = renewal(not_before, not_after, renew_before)

    if renew_before <= lifetime * 2 / 3 - SECOND:
        assert not result.renew_before_ignored
        assert renew_before <= not_after - result.at < renew_before + SECOND
    elif renew_before > lifetime * 2 / 3:
        assert result.renew_before_ignored
        assert result.at == renewal_time(not_before, not_after)


@given(not_before=instants, lifetime=lifetimes, shorter=renew_befores, longer=renew_befores)
def test_a_longer_renew_before_that_fits_never_renews_later(
    not_before: datetime.datetime,
    lifetime: datetime.timedelta,
    shorter: datetime.timedelta,
    longer: datetime.timedelta,
) -> None:
    shorter, longer = sorted((shorter, longer))
    not_after = not_before + lifetime
    fitting = renewal(not_before, not_after, longer)
    if not fitting.renew_before_ignored:
        assert fitting.at <= renewal_time(not_before, not_after, shorter)
