"""Two replicas with --leader-elect: one acts, the other waits warm and takes over when the leader is
killed (within the lease duration) or stops (at once: it releases the Lease); one order per issuance
throughout, also for an issuance the leader was killed in the middle of."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest

from certwright_env import Environment
from certwright_env.faultproxy import FaultProxy
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually
from tests.integration.certwright import (
    apply,
    certificate,
    events,
    issuer,
    lease_holder,
    leftovers,
    names,
    namespace,
    pebble_orders,
    ready_count,
    wait_issuer_ready,
    wait_ready,
)
from tests.integration.test_faults import nothing_left, via
from tests.reliability import record

SHORT = [
    "--leader-election-lease-duration=6",
    "--leader-election-renew-deadline=4",
    "--leader-election-retry-period=1",
]


@contextlib.contextmanager
def two_replicas(
    env: Environment, operator: OperatorProcess, *flags: str
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    """Two replicas with leader election; the session's operator, which takes no part in it, stops
    meanwhile (it would act beside them)."""
    operator.stop()
    run = uuid.uuid4().hex[:6]  # logs of their own: what an earlier pair logged is not read as theirs
    first = OperatorProcess(env, "--leader-elect", *flags, name=f"replica-{run}-a")
    second = OperatorProcess(env, "--leader-elect", *flags, name=f"replica-{run}-b")
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
        operator.start()


def leader_and_standby(
    env: Environment, replicas: tuple[OperatorProcess, OperatorProcess]
) -> tuple[OperatorProcess, OperatorProcess, str]:
    """Which replica leads (its log says so; exactly one does), the other, and the Lease's holder."""
    identity = eventually(lambda: lease_holder(env), bool, what="a replica holds the Lease")

    def acting() -> list[OperatorProcess]:
        return [p for p in replicas if p.log is not None and " leads (Lease " in p.log.read_text()]

    [leader] = eventually(acting, lambda found: len(found) == 1, what="one replica says it leads")
    standby = next(process for process in replicas if process is not leader)
    return leader, standby, identity


def taken_over(env: Environment, previous: str, began: float) -> float:
    eventually(lambda: lease_holder(env), lambda now: bool(now) and now != previous, what="the standby takes the Lease")
    return time.monotonic() - began


@pytest.mark.fault("the leader SIGKILLed; the standby takes over (default lease settings)")
def test_one_replica_acts_and_the_other_takes_over_when_it_is_killed(
    env: Environment, operator: OperatorProcess, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    with two_replicas(env, operator) as replicas:  # the defaults: 15 s lease, 10 s deadline, 2 s retry
        apply(env, issuer(env, "pebble", ns), certificate("before", ns, names(1), "pebble"))
        wait_ready(env, "before", ns)
        leader, standby, identity = leader_and_standby(env, replicas)

        leader.kill()
        killed = time.monotonic()
        apply(env, certificate("after", ns, names(1), "pebble"))
        took_over = taken_over(env, identity, killed)
        wait_ready(env, "after", ns, timeout=60)

        assert took_over < 15 + 2 * 2 + 2, f"taken over after {took_over:.1f} s (lease 15 s, retry 2 s)"
        assert standby.log is not None
        assert " leads (Lease " in standby.log.read_text()
    created = events(env, ns, "OrderCreated")
    assert sorted(event["involvedObject"]["name"] for event in created) == ["after", "before"], "one order each"
    record(request, issuances=2, orders=len(created), takeover=f"{took_over:.1f} s after SIGKILL (lease 15 s)")


@pytest.mark.fault("the leader killed mid-issuance with a standby running")
def test_the_standby_completes_an_issuance_the_leader_was_killed_in_with_one_order(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    with two_replicas(env, operator, *SHORT) as replicas:
        apply(env, via(env, proxy, ns))
        wait_issuer_ready(env, "pebble", ns)
        leader, _, identity = leader_and_standby(env, replicas)
        hold = proxy.hold("POST", "/chalZ/")
        dns_names = names(2)
        apply(env, certificate("midway", ns, dns_names, "pebble"))
        assert hold.reached.wait(90), "the leader never accepted the challenge"

        leader.kill()
        killed = time.monotonic()
        hold.release.set()
        took_over = taken_over(env, identity, killed)
        ready = wait_ready(env, "midway", ns, timeout=120)
        left = nothing_left(env, ns)

    assert ready["status"]["revision"] == 1
    found = pebble_orders(env, ns, "pebble-account", via=proxy.directory_url)
    assert len(found) == 1, f"{len(found)} orders: the standby resumed the leader's order"
    record(request, issuances=1, orders=len(found), lost=len(left), takeover=f"{took_over:.1f} s (lease 6 s)")


@pytest.mark.fault("the leader stopped (SIGTERM, as in a rolling update); the standby takes over at once")
def test_a_leader_that_stops_releases_the_lease_and_the_standby_takes_over_at_once(
    env: Environment, operator: OperatorProcess, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    with two_replicas(env, operator) as replicas:  # the defaults: a killed leader would take 15 s
        apply(env, issuer(env, "pebble", ns))
        wait_issuer_ready(env, "pebble", ns)
        leader, standby, identity = leader_and_standby(env, replicas)
        log = leader.log
        burst = [certificate(f"rolling-{i:02d}", ns, names(1), "pebble") for i in range(20)]
        apply(env, *burst)

        stopping = time.monotonic()
        leader.stop()
        took_over = taken_over(env, identity, stopping)
        assert log is not None
        assert "released the Lease" in log.read_text()
        eventually(lambda: ready_count(env, ns), lambda ready: ready == len(burst), timeout=240, what="all Ready")
        left = nothing_left(env, ns)
        assert standby.log is not None

    found = pebble_orders(env, ns, "pebble-account")
    assert len(found) == len(burst), f"{len(found)} orders for {len(burst)} Certificates"
    assert leftovers(env, ns) == []
    record(
        request, issuances=len(burst), orders=len(found), lost=len(left), takeover=f"{took_over:.1f} s after SIGTERM"
    )
