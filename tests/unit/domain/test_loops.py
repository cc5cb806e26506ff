"""The loop breaker's judgement (issue 10): what is a repeat, how the count grows, what it says."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from certwright.domain.conditions import Reason, timestamp
from certwright.domain.issuing import Trigger
from certwright.domain.loops import History, foreign_writer, is_repeat, loop_message, one_more

NB = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
NA = NB + datetime.timedelta(days=90)
MISSING = Trigger(Reason.SECRET_MISSING, "Secret web-tls does not exist")
MISMATCH = Trigger(Reason.KEY_MISMATCH, "the key in Secret web-tls does not match its certificate")
DUE = Trigger(Reason.RENEWAL_DUE, "renewal was due")


def history(**fields: Any) -> History:
    return History(**{"not_before": NB, "not_after": NA, "generation": 1, **fields})


@pytest.mark.parametrize(
    ("trigger", "past", "fields", "generation", "forced", "repeat"),
    [
        (MISSING, datetime.timedelta(minutes=1), {}, 1, False, True),
        (MISMATCH, datetime.timedelta(days=29), {}, 1, False, True),
        (MISMATCH, datetime.timedelta(days=31), {}, 1, False, False),
        (MISMATCH, datetime.timedelta(minutes=1), {}, 2, False, False),
        (MISMATCH, datetime.timedelta(minutes=1), {}, 1, True, False),
        (MISSING, datetime.timedelta(minutes=1), {"not_before": None, "not_after": None}, 1, False, False),
        (MISMATCH, datetime.timedelta(minutes=1), {"generation": None}, 7, False, True),
        (
            DUE,
            datetime.timedelta(minutes=1),
            {"window_end": NB - datetime.timedelta(hours=1), "window_received": NB + datetime.timedelta(seconds=1)},
            1,
            False,
            True,
        ),
        (
            DUE,
            datetime.timedelta(days=2),
            {"window_end": NB + datetime.timedelta(days=3), "window_received": NB + datetime.timedelta(seconds=1)},
            1,
            False,
            False,
        ),
        (DUE, datetime.timedelta(minutes=1), {}, 1, False, True),
        (Trigger(Reason.RETRYING, "attempt 1 failed"), datetime.timedelta(minutes=1), {}, 1, False, False),
    ],
    ids=[
        "secret-deleted-right-after-issuance",
        "overwritten-within-the-first-third",
        "overwritten-after-the-first-third",
        "spec-changed",
        "forced-renewal",
        "no-certificate-yet",
        "no-generation-recorded-counts",
        "ari-window-already-past",
        "early-moment-of-a-future-ari-window",
        "due-in-the-first-third-without-a-window",
        "a-retry-after-a-failure-repeats-no-issuance",
    ],
)
def test_is_repeat(
    trigger: Trigger,
    past: datetime.timedelta,
    fields: dict[str, Any],
    generation: int,
    forced: bool,
    repeat: bool,
) -> None:
    assert is_repeat(trigger, history(**fields), generation=generation, forced=forced, now=NB + past) is repeat


def test_repeats_count_up_and_keep_their_start_and_writers() -> None:
    now = NB + datetime.timedelta(minutes=1)
    first = one_more(history(), MISMATCH, now, "external-secrets")
    later = History.from_status(
        {
            "notBefore": timestamp(NB),
            "notAfter": timestamp(NA),
            "certificateGeneration": 1,
            "issuanceRepeats": first.to_status(),
        }
    )
    second = one_more(later, MISMATCH, now + datetime.timedelta(minutes=1), "external-secrets")
    third = one_more(History.from_status({"issuanceRepeats": second.to_status()}), MISMATCH, now, "gitops")

    assert (first.count, second.count, third.count) == (1, 2, 3)
    assert second.since == now.replace(microsecond=0)
    assert third.writers == ("external-secrets", "gitops")


@pytest.mark.parametrize(
    ("trigger", "writer", "says"),
    [
        (MISMATCH, "external-secrets", "Secret web-tls was overwritten by external-secrets 4 times in 10 minutes"),
        (MISMATCH, None, "Secret web-tls was overwritten 4 times in 10 minutes"),
        (MISSING, None, "Secret web-tls was deleted 4 times in 10 minutes"),
        (DUE, None, "the CA's renewal information asked 4 times in 10 minutes"),
    ],
    ids=["overwritten-by-a-named-writer", "overwritten", "deleted", "ari-past-window"],
)
def test_the_loop_message_names_the_trigger_the_writer_and_the_fix(
    trigger: Trigger, writer: str | None, says: str
) -> None:
    stopped = history(repeats=3, since=NB)

    message = loop_message(
        trigger, stopped, writer=writer, now=NB + datetime.timedelta(minutes=10), secret="web-tls", certificate="web"
    )

    assert message.startswith(says)
    assert "kubectl annotate certificate web certwright.dev/renew=now" in message
    assert "duplicate-certificate limit" in message


def test_the_foreign_writer_is_the_latest_other_manager_of_the_data() -> None:
    fields = [
        {"manager": "certwright", "time": "2026-11-30T10:00:03Z", "fieldsV1": {"f:data": {}, "f:type": {}}},
        {"manager": "argocd", "time": "2026-11-30T10:00:01Z", "fieldsV1": {"f:metadata": {"f:labels": {}}}},
        {"manager": "external-secrets", "time": "2026-11-30T10:00:02Z", "fieldsV1": {"f:data": {"f:tls.crt": {}}}},
        {"manager": "kubectl-edit", "time": "2026-11-30T09:00:00Z", "fieldsV1": {"f:data": {}}},
    ]

    assert foreign_writer(fields, "certwright") == "external-secrets"
    assert foreign_writer(fields[:2], "certwright") is None
