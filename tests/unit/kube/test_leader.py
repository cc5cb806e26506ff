"""Leadership on a Lease: taken when free or expired by the candidate's own clock, kept by renewing, and
given up once renewals fail for the renew deadline — before any standby may take it."""

from __future__ import annotations

import asyncio
import copy
import datetime
from typing import Any

import pytest
from kubernetes import client

from certwright.kube.leader import LeaderElection, LeaseSettings

URL = "/apis/coordination.k8s.io/v1/namespaces/certwright/leases/certwright-leader"


class Clock:
    """Virtual time: candidates sleep on it; the test moves it forward in half-second steps, giving the
    candidates' requests (run in threads) a moment of real time at each step."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime.datetime:
        return datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now + seconds, future))
        await future

    async def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.5
            due = [(when, future) for when, future in self.sleepers if when <= self.now]
            self.sleepers = [(when, future) for when, future in self.sleepers if when > self.now]
            for _, future in due:
                if not future.done():
                    future.set_result(None)
            await asyncio.sleep(0.005)


class Leases:
    """The API server's part: one Lease, with resourceVersion checks on update."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.failing = False
        self.writes: list[str] = []

    def request(self, method: str, url: str, *, body: Any = None, timeout: float | None = None, **_: Any) -> Any:
        if self.failing:
            raise client.ApiException(status=503, reason="Service Unavailable")
        if method == "GET":
            if self.lease is None:
                raise client.ApiException(status=404, reason="Not Found")
            return copy.deepcopy(self.lease)
        if method == "POST":
            if self.lease is not None:
                raise client.ApiException(status=409, reason="Conflict")
        elif body["metadata"].get("resourceVersion") != str(self.version):
            raise client.ApiException(status=409, reason="Conflict")
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        self.writes.append(body["spec"].get("holderIdentity", ""))  # "": released
        return copy.deepcopy(self.lease)


def candidate(leases: Leases, clock: Clock, identity: str) -> LeaderElection:
    return LeaderElection(
        leases,  # type: ignore[arg-type]
        "certwright",
        "certwright-leader",
        identity,
        monotonic=clock.monotonic,
        wall=clock.wall,
        sleep=clock.sleep,
    )


def test_a_free_lease_is_taken_and_renewed_until_renewals_fail_for_the_deadline() -> None:
    leases, clock = Leases(), Clock()
    started: list[float] = []
    one = candidate(leases, clock, "a")

    async def main() -> None:
        task = asyncio.create_task(one.run(lambda: started.append(clock.now)))
        await clock.advance(30)
        assert not task.done()
        leases.failing = True
        failed_at = clock.now
        while not task.done():
            await clock.advance(0.5)
        assert clock.now - failed_at <= LeaseSettings().renew_deadline + LeaseSettings().retry_period

    asyncio.run(main())
    assert len(started) == 1
    assert started[0] < 1005, "at once: the Lease did not exist"
    assert leases.lease is not None
    assert leases.lease["spec"]["holderIdentity"] == "a"
    assert len(leases.writes) > 10, "renewed every retry period"
    assert not one.leading


def test_a_standby_waits_while_the_holder_renews_and_takes_over_after_the_lease_duration() -> None:
    leases, clock = Leases(), Clock()
    leader, standby = candidate(leases, clock, "a"), candidate(leases, clock, "b")
    took_over: list[float] = []

    async def main() -> None:
        first = asyncio.create_task(leader.run(lambda: None))
        await clock.advance(1)
        second = asyncio.create_task(standby.run(lambda: took_over.append(clock.now)))
        for _ in range(120):
            await clock.advance(0.5)
            assert not (leader.leading and standby.leading), "never two leaders"
        assert took_over == []
        first.cancel()  # the leader is killed: no more renewals
        killed_at = clock.now
        while not took_over:
            await clock.advance(0.5)
        assert took_over[0] - killed_at >= LeaseSettings().lease_duration - LeaseSettings().retry_period
        assert took_over[0] - killed_at <= LeaseSettings().lease_duration + 2 * LeaseSettings().retry_period
        second.cancel()

    asyncio.run(main())
    assert leases.lease is not None
    assert leases.lease["spec"]["holderIdentity"] == "b"
    assert leases.lease["spec"]["leaseTransitions"] == 1


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (LeaseSettings(lease_duration=10, renew_deadline=10, retry_period=2), "must exceed"),
        (LeaseSettings(lease_duration=15, renew_deadline=2, retry_period=2), "shorter than the renew deadline"),
    ],
)
def test_settings_that_could_let_two_leaders_act_are_refused(settings: LeaseSettings, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        settings.validate()


def test_a_leader_that_shuts_down_releases_the_lease_and_the_standby_takes_it_within_a_retry_period() -> None:
    leases, clock = Leases(), Clock()
    leader, standby = candidate(leases, clock, "a"), candidate(leases, clock, "b")
    took_over: list[float] = []

    async def main() -> None:
        first = asyncio.create_task(leader.run(lambda: None))
        await clock.advance(1)
        second = asyncio.create_task(standby.run(lambda: took_over.append(clock.now)))
        await clock.advance(20)
        assert took_over == []
        first.cancel()  # SIGTERM: renewals stop, then the Lease is given up
        await asyncio.gather(first, return_exceptions=True)
        await leader.release()
        released_at = clock.now
        assert not leader.leading
        while not took_over:
            await clock.advance(0.5)
        assert took_over[0] - released_at <= LeaseSettings().retry_period
        second.cancel()
        await standby.release()  # b leads now; a's second release would find nothing of its own
        await leader.release()

    asyncio.run(main())
    assert leases.writes.count("") == 2, "a released, then b on its way out; a's second release wrote nothing"
    assert leases.lease is not None
    assert "holderIdentity" not in leases.lease["spec"], "b released on its way out too"
    assert leases.lease["spec"]["leaseTransitions"] == 1


def test_a_release_leaves_a_lease_that_another_replica_took_alone() -> None:
    leases, clock = Leases(), Clock()
    leader = candidate(leases, clock, "a")

    async def main() -> None:
        first = asyncio.create_task(leader.run(lambda: None))
        await clock.advance(1)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        assert leases.lease is not None
        leases.lease["spec"]["holderIdentity"] = "b"  # b took it after a's lease ran out
        writes = len(leases.writes)
        await leader.release()
        assert len(leases.writes) == writes, "nothing written"

    asyncio.run(main())
    assert leases.lease is not None
    assert leases.lease["spec"]["holderIdentity"] == "b"
