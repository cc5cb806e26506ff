"""``list`` rows: days left, sorting by expiry, the attention markers and the table."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from certwright.plugin.listing import days_left, markers, row, rows, table

NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cert(
    name: str,
    *,
    not_after: datetime.datetime | None = None,
    ready: str = "True",
    reason: str = "Issued",
    renewal: datetime.datetime | None = None,
    namespace: str = "web",
    **status: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "m"}],
        **status,
    }
    if not_after is not None:
        body["notAfter"] = stamp(not_after)
        body["renewalTime"] = stamp(renewal or not_after - 30 * DAY)
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"dnsNames": [f"{name}.example.com"], "issuerRef": {"name": "le", "kind": "ClusterIssuer"}},
        "status": body,
    }


@pytest.mark.parametrize(
    ("not_after", "left"),
    [
        (NOW + 89 * DAY + datetime.timedelta(hours=11), 89),
        (NOW + 12 * datetime.timedelta(hours=1), 0),
        (NOW + datetime.timedelta(seconds=1), 0),
        (NOW - datetime.timedelta(seconds=1), -1),
        (NOW - 3 * DAY, -3),
    ],
    ids=["whole-days-rounded-down", "last-day", "last-second", "just-expired", "three-days-ago"],
)
def test_days_left(not_after: datetime.datetime, left: int) -> None:
    assert days_left(not_after, NOW) == left


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ready": True, "not_after": NOW + 60 * DAY, "renewal_time": NOW + 30 * DAY}, ()),
        ({"ready": False, "reason": "DoesNotExist"}, ("never issued", "not Ready (DoesNotExist)")),
        ({"ready": True, "not_after": NOW - DAY}, ("EXPIRED",)),
        ({"ready": True, "not_after": NOW + 6 * DAY, "renewal_time": NOW + 1 * DAY}, ("expires within 7 days",)),
        ({"ready": True, "not_after": NOW + 20 * DAY, "renewal_time": NOW - DAY}, ("renewal overdue",)),
        ({"ready": True, "not_after": NOW + 20 * DAY, "renewal_time": NOW - DAY, "issuing": True}, ("issuing",)),
        (
            {"ready": False, "reason": "SelfCheckFailed", "not_after": NOW + 3 * DAY, "failures": 2},
            ("expires within 7 days", "not Ready (SelfCheckFailed)", "2 failed issuances"),
        ),
    ],
    ids=["healthy", "never-issued", "expired", "expiring", "overdue", "renewing", "failing"],
)
def test_markers(kwargs: dict[str, Any], expected: tuple[str, ...]) -> None:
    base: dict[str, Any] = {
        "ready": True,
        "reason": "",
        "issuing": False,
        "failures": 0,
        "not_after": None,
        "renewal_time": None,
        "now": NOW,
    }
    assert markers(**{**base, **kwargs}) == expected


def test_rows_sort_by_expiry_with_never_issued_first() -> None:
    found = rows(
        [
            cert("late", not_after=NOW + 80 * DAY),
            cert("new", ready="False", reason="DoesNotExist"),
            cert("soon", not_after=NOW + 5 * DAY),
            cert("mid", not_after=NOW + 40 * DAY),
        ],
        NOW,
    )
    assert [r.name for r in found] == ["new", "soon", "mid", "late"]


def test_row_reads_the_status_as_the_operator_writes_it() -> None:
    r = row(cert("www", not_after=NOW + 10 * DAY, renewal=NOW + DAY, failedIssuanceAttempts=1), NOW)
    assert r.issuer == "ClusterIssuer/le"
    assert r.days_left == 10
    assert r.to_dict()["notAfter"] == stamp(NOW + 10 * DAY)
    assert r.to_dict()["attention"] == ["1 failed issuance"]


def test_table_aligns_columns_and_flags_attention() -> None:
    lines = table(
        rows([cert("ok", not_after=NOW + 60 * DAY), cert("bad", not_after=NOW - DAY)], NOW), all_namespaces=True
    ).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "EXPIRES", "DAYS", "RENEWS", "ISSUER", "NAMES", "NOTES"]
    assert lines[1].split()[:2] == ["web", "bad"]
    assert lines[1].endswith("! EXPIRED")
    assert not lines[2].rstrip().endswith("!")
    assert lines[0].index("READY") == lines[1].index("True") == lines[2].index("True")
