"""Two replicas with --leader-elect: one acts, the other waits warm and takes over when the leader is
killed, within the lease duration; one order per issuance throughout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from certwright_env import Environment
from certwright_env.operator import NAMESPACE, OperatorProcess
from certwright_env.probes import eventually
from tests.integration.certwright import apply, certificate, events, issuer, names, namespace, wait_ready

LEASE = [
    "--leader-elect",
    "--leader-election-lease-duration=6",
    "--leader-election-renew-deadline=4",
    "--leader-election-retry-period=1",
]


def holder(env: Environment) -> str | None:
    found = env.kubectl("get", "lease", "certwright-leader", "-n", NAMESPACE, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    spec: dict[str, str] = json.loads(found.stdout).get("spec") or {}
    return spec.get("holderIdentity")


@pytest.fixture
def replicas(env: Environment, operator: OperatorProcess) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    operator.stop()  # the session's operator does not take part in the election: it would act beside them
    first = OperatorProcess(env, *LEASE, name="replica-a")
    second = OperatorProcess(env, *LEASE, name="replica-b")
    first.start()
    second.start()
    yield first, second
    first.stop()
    second.stop()
    operator.start()


def test_one_replica_acts_and_the_other_takes_over_when_it_is_killed(
    env: Environment, replicas: tuple[OperatorProcess, OperatorProcess]
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("before", ns, names(1), "pebble"))
    wait_ready(env, "before", ns)
    leader_identity = eventually(lambda: holder(env), bool, what="a replica holds the Lease")
    by_host = {process.name: process for process in replicas}
    logs = {name: (process.log.read_text() if process.log else "") for name, process in by_host.items()}
    acting = [name for name, text in logs.items() if " leads (Lease " in text]
    assert len(acting) == 1, logs
    leader = by_host[acting[0]]
    standby = next(process for process in replicas if process is not leader)

    leader.kill()
    killed = time.monotonic()
    apply(env, certificate("after", ns, names(1), "pebble"))
    eventually(
        lambda: holder(env), lambda now: bool(now) and now != leader_identity, what="the standby takes the Lease"
    )
    took_over = time.monotonic() - killed
    wait_ready(env, "after", ns, timeout=60)

    assert took_over < 6 + 2 * 1 + 2, f"taken over after {took_over:.1f} s (lease 6 s, retry 1 s)"
    assert standby.log is not None
    assert " leads (Lease " in standby.log.read_text()
    orders = events(env, ns, "OrderCreated")
    assert sorted(event["involvedObject"]["name"] for event in orders) == ["after", "before"], "one order each"
    print(f"standby took over {took_over:.1f} s after the leader was killed")
