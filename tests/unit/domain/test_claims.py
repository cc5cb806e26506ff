"""One Secret, one Certificate (issue 10): every replica and restart picks the same owner."""

from __future__ import annotations

import itertools

import pytest

from certwright.domain.claims import Claimant, owner

OLD = Claimant("b-old", "2026-11-30T10:00:00Z")
NEW = Claimant("a-new", "2026-11-30T10:00:05Z")
SAME_SECOND = Claimant("c-same", "2026-11-30T10:00:00Z")
BUSY = Claimant("d-busy", "2026-11-30T10:00:09Z", issuing=True)


@pytest.mark.parametrize(
    ("claimants", "named", "expected"),
    [
        ([OLD, NEW], None, "b-old"),
        ([OLD, NEW], "a-new", "a-new"),
        ([OLD, NEW], "gone", "b-old"),
        ([OLD, SAME_SECOND], None, "b-old"),
        ([OLD, NEW, BUSY], None, "d-busy"),
        ([OLD, NEW, BUSY], "a-new", "a-new"),
    ],
    ids=[
        "oldest",
        "the-one-the-secret-names",
        "named-one-is-gone",
        "same-second-by-name",
        "one-issuing-wins",
        "named-beats-issuing",
    ],
)
def test_owner(claimants: list[Claimant], named: str | None, expected: str) -> None:
    for order in itertools.permutations(claimants):
        assert owner(list(order), named) == expected
