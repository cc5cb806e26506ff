"""Conditions: lastTransitionTime moves only when the status changes; other conditions are kept."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from certwright.domain.conditions import (
    ConditionType,
    Reason,
    find_condition,
    parse_timestamp,
    set_condition,
    timestamp,
)

EARLIER = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=datetime.UTC)
NOW = datetime.datetime(2025, 1, 2, 8, 30, 15, 123_456, tzinfo=datetime.UTC)

READY_FALSE: dict[str, Any] = {
    "type": "Ready",
    "status": "False",
    "reason": "DoesNotExist",
    "message": "not issued yet",
    "lastTransitionTime": "2025-01-01T12:00:00Z",
    "observedGeneration": 1,
}
ISSUING_TRUE: dict[str, Any] = {
    "type": "Issuing",
    "status": "True",
    "reason": "SecretMissing",
    "message": "Secret web-tls does not exist",
    "lastTransitionTime": "2025-01-01T12:00:00Z",
}


def test_a_new_condition_starts_now() -> None:
    conditions = set_condition([], ConditionType.READY, True, Reason.ISSUED, "up to date", now=NOW, generation=3)

    assert conditions == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Issued",
            "message": "up to date",
            "lastTransitionTime": "2025-01-02T08:30:15Z",
            "observedGeneration": 3,
        }
    ]


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (False, "2025-01-01T12:00:00Z"),
        (True, "2025-01-02T08:30:15Z"),
    ],
    ids=["same-status-keeps-time", "status-change-moves-time"],
)
def test_last_transition_time_moves_only_on_a_status_change(status: bool, transition: str) -> None:
    (ready,) = set_condition(
        [READY_FALSE], ConditionType.READY, status, Reason.ISSUER_NOT_READY, "issuer not ready", now=NOW
    )

    assert ready["lastTransitionTime"] == transition
    assert ready["status"] == ("True" if status else "False")
    assert (ready["reason"], ready["message"]) == ("IssuerNotReady", "issuer not ready")


def test_an_unchanged_status_without_a_recorded_time_gets_now() -> None:
    previous = {key: value for key, value in READY_FALSE.items() if key != "lastTransitionTime"}

    (ready,) = set_condition([previous], ConditionType.READY, False, Reason.NOT_ISSUED_YET, "still", now=NOW)

    assert ready["lastTransitionTime"] == "2025-01-02T08:30:15Z"


def test_other_conditions_are_kept_as_they_were() -> None:
    conditions = set_condition(
        [READY_FALSE, ISSUING_TRUE], ConditionType.READY, True, Reason.ISSUED, "issued", now=NOW, generation=2
    )

    assert find_condition(conditions, ConditionType.ISSUING) == ISSUING_TRUE
    assert [c["type"] for c in conditions].count("Ready") == 1
    assert len(conditions) == 2


def test_the_input_is_not_changed() -> None:
    conditions = [READY_FALSE, ISSUING_TRUE]
    before = copy.deepcopy(conditions)

    result = set_condition(conditions, ConditionType.ISSUING, False, Reason.ISSUED, "done", now=NOW)
    result[0]["message"] = "edited"

    assert conditions == before


@pytest.mark.parametrize(
    ("generation", "expected"),
    [(7, {"observedGeneration": 7}), (None, {})],
    ids=["generation-given", "generation-not-given"],
)
def test_observed_generation(generation: int | None, expected: dict[str, int]) -> None:
    (ready,) = set_condition(
        [READY_FALSE], ConditionType.READY, False, Reason.NOT_ISSUED_YET, "m", now=NOW, generation=generation
    )
    assert {key: value for key, value in ready.items() if key == "observedGeneration"} == expected


@pytest.mark.parametrize(
    ("conditions", "kind", "expected"),
    [
        ([READY_FALSE, ISSUING_TRUE], ConditionType.ISSUING, ISSUING_TRUE),
        ([READY_FALSE, ISSUING_TRUE], ConditionType.READY, READY_FALSE),
        ([READY_FALSE], ConditionType.ISSUING, None),
        ([], ConditionType.READY, None),
    ],
    ids=["issuing", "ready", "absent", "empty"],
)
def test_find_condition(conditions: list[dict[str, Any]], kind: ConditionType, expected: dict[str, Any] | None) -> None:
    assert find_condition(conditions, kind) == expected


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, "2025-01-02T08:30:15Z"),
        (
            datetime.datetime(2025, 1, 2, 10, 30, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
            "2025-01-02T08:30:15Z",
        ),
        (datetime.datetime(2024, 12, 31, 23, 59, 59, 999_999, tzinfo=datetime.UTC), "2024-12-31T23:59:59Z"),
    ],
    ids=["utc-drops-microseconds", "offset-converted-to-utc", "never-rounds-up"],
)
def test_timestamp(moment: datetime.datetime, text: str) -> None:
    assert timestamp(moment) == text


def test_parse_timestamp_reads_what_timestamp_writes() -> None:
    assert parse_timestamp(timestamp(EARLIER)) == EARLIER
    assert parse_timestamp(None) is None
    assert parse_timestamp("") is None
