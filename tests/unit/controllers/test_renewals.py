"""After a restart the CA is asked about each certificate at a random moment within the spread, not
all at once; sooner when the renewal is due sooner."""

from __future__ import annotations

import datetime

import pytest

from certwright.controllers.renewals import _first_check
from certwright.kube.context import Context, Settings

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


def context(spread: float, draw: float) -> Context:
    settings = Settings(
        solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright", ari_restart_spread=spread
    )
    return Context(kube=None, accounts=None, pods=None, settings=settings, clock=lambda: NOW, random=lambda: draw)  # type: ignore[arg-type]


def certificate(renews: str | None) -> dict[str, object]:
    return {"metadata": {"name": "web", "namespace": "ns"}, "status": {"renewalTime": renews} if renews else {}}


@pytest.mark.parametrize(
    ("spread", "draw", "renews", "after"),
    [
        (3600, 0.5, "2027-01-20T00:00:00Z", 1800),
        (3600, 0.999, None, 3596),
        (3600, 0.5, "2026-11-30T12:10:00Z", 0),  # due in 10 minutes: asked now
        (0, 0.5, "2027-01-20T00:00:00Z", 0),
    ],
    ids=["spread", "no-renewal-time", "renewal-sooner", "spread-off"],
)
def test_the_first_check_after_a_start_is_spread(spread: float, draw: float, renews: str | None, after: int) -> None:
    kept = context(spread, draw)

    when = _first_check(kept, "ns/web", certificate(renews), NOW)

    assert int((when - NOW).total_seconds()) == after
    assert kept.ari_next_fetch["ns/web"] == when, "kept, so that the next pass waits for it"
