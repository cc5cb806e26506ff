"""The operator on the local environment: apply → Ready, bursts, and API requests per issuance.

    PYTHONPATH=operator:testenv:. .venv/bin/python bench/operator_issuance.py [--single 10] [--burst 100]

Measured the way DESIGN §7 gives cert-manager's figures: Pebble with validation sleep off and its
default 5 % nonce rejection, HTTP-01 through the stand-in's ingress to solver Pods on the real node
(as root; ``--stand-in`` runs them as the stand-in's processes), one name per Certificate. API
requests are the operator's own, counted from the API server's audit log. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.integration.certwright import apply, certificate, condition, issuer, names

from certwright_env import Environment
from certwright_env.operator import NAMESPACE, SERVICE_ACCOUNT, OperatorProcess, install

OPERATOR_USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"


def audit_mark(env: Environment) -> str:
    """Now, as the audit log writes times (RFC 3339 with microseconds, UTC): requests from then on count."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def operator_events(env: Environment, since: str) -> Iterator[dict[str, Any]]:
    """The operator's requests received since ``since``, one event each, from the audit log and the files
    the API server rotated it into (it does at 100 MB: a 10,000-Certificate run writes several).

    A request is logged at several stages; each is counted once, with its answer's code from its last
    stage seen: a watch still open has only started (its code is from ResponseStarted).
    """
    logs = sorted(env.audit_log.parent.glob("audit*.log"), key=lambda path: path.stat().st_mtime)
    started = datetime.datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC).timestamp()
    requests: dict[str, dict[str, Any]] = {}
    for path in logs:
        if path.stat().st_mtime < started:
            continue
        with path.open() as log:
            for line in log:
                if OPERATOR_USER not in line:
                    continue
                event = json.loads(line)
                if event["user"]["username"] != OPERATOR_USER or event["requestReceivedTimestamp"] < since:
                    continue
                if event["stage"] == "ResponseComplete" or "responseStatus" not in requests.get(event["auditID"], {}):
                    requests[event["auditID"]] = event
    yield from requests.values()


def operator_requests(env: Environment, since: str) -> collections.Counter[tuple[str, str, int]]:
    counted: collections.Counter[tuple[str, str, int]] = collections.Counter()
    for event in operator_events(env, since):
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        counted[(event["verb"], resource, (event.get("responseStatus") or {}).get("code", 0))] += 1
    return counted


def writes_of(requests: collections.Counter[tuple[str, str, int]]) -> int:
    return sum(n for (verb, _, _), n in requests.items() if verb in ("create", "update", "patch", "delete"))


def process_cpu(pid: int, *, with_children: bool) -> float:
    """CPU seconds of a process (and, when asked, of the children it has waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = fields[11:15] if with_children else fields[11:13]  # utime, stime, cutime, cstime
    return sum(int(value) for value in ticks) / os.sysconf("SC_CLK_TCK")


INGRESS = {"http01": {"ingress": {"ingressClassName": "nginx"}}}
GATEWAY = {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "bench", "namespace": "bench-gateway"}]}}}


def namespace_with_issuer(env: Environment, namespace: str, solver: dict[str, Any]) -> None:
    env.kubectl("create", "namespace", namespace)
    apply(env, issuer(env, "pebble", namespace, solvers=[solver]))
    env.kubectl("wait", "issuer/pebble", "-n", namespace, "--for=condition=Ready", "--timeout=60s")


def ready_times(env: Environment, namespace: str) -> dict[str, float]:
    """Each Certificate's Ready transition, in seconds since the epoch (kubectl, one call)."""
    items = json.loads(env.kubectl("get", "certificates", "-n", namespace, "-o", "json").stdout)["items"]
    times = {}
    for item in items:
        ready = condition(item, "Ready")
        if ready.get("status") == "True":
            stamp = time.strptime(ready["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ")
            times[item["metadata"]["name"]] = time.mktime(stamp) - time.timezone
    return times


def wait_all(env: Environment, namespace: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(ready_times(env, namespace)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(ready_times(env, namespace))} of {count} Ready after {timeout:.0f} s")
        time.sleep(0.5)


def single(env: Environment, runs: int, solver: dict[str, Any]) -> dict[str, float]:
    """Apply one Certificate at a time, ``runs`` times: prints the figures and returns them (bench/run.py)."""
    namespace = "bench-single"
    namespace_with_issuer(env, namespace, solver)
    durations = []
    mark = audit_mark(env)
    for run in range(runs):
        started = time.monotonic()
        apply(env, certificate(f"one-{run}", namespace, names(1), "pebble"))
        env.kubectl("wait", f"certificate/one-{run}", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
        durations.append(time.monotonic() - started)
    time.sleep(3)  # let the last clean-up requests land in the audit log
    requests = operator_requests(env, mark)
    total = sum(requests.values())
    conflicts = sum(n for (_, _, code), n in requests.items() if code == 409)
    writes = writes_of(requests)
    events = sum(n for (verb, resource, _), n in requests.items() if resource == "events")
    print(
        f"one Certificate, kubectl apply → Ready (kubectl wait included): median {statistics.median(durations):.2f} s, "
        f"min {min(durations):.2f} s, max {max(durations):.2f} s over {runs}",
        flush=True,
    )
    print(
        f"API requests per issuance: {total / runs:.1f} ({writes / runs:.1f} writes, {events / runs:.1f} Events, "
        f"{conflicts / runs:.1f} conflicts)",
        flush=True,
    )
    for (verb, resource, code), number in sorted(requests.items()):
        print(f"    {number / runs:4.1f}  {verb} {resource} → {code}")
    return {
        "runs": runs,
        "median_s": statistics.median(durations),
        "min_s": min(durations),
        "max_s": max(durations),
        "api_requests_per_issuance": total / runs,
        "writes_per_issuance": writes / runs,
        "events_per_issuance": events / runs,
        "conflicts_per_issuance": conflicts / runs,
    }


def cpu_seconds(env: Environment) -> dict[str, float]:
    """CPU time used so far by each component, with the processes each one started (solver Pods)."""
    used = {}
    for child in env.children:
        try:
            used[child.name] = process_cpu(child.process.pid, with_children=True)
        except FileNotFoundError:
            continue
    return used


def nearest_rank(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values (the nearest-rank percentile)."""
    return sorted(values)[max(math.ceil(fraction * len(values)) - 1, 0)]


def burst(env: Environment, count: int, solver: dict[str, Any]) -> dict[str, float]:
    """Apply ``count`` Certificates at once: prints the figures and returns them (bench/run.py).

    Each Certificate's apply → Ready comes from its Ready condition's transition time, to the second.
    """
    namespace = f"bench-burst-{count}"
    namespace_with_issuer(env, namespace, solver)
    manifests = [certificate(f"b-{n}", namespace, names(1), "pebble") for n in range(count)]
    cpu_before = cpu_seconds(env)
    started_wall = time.time()
    started = time.monotonic()
    apply(env, *manifests)
    wait_all(env, namespace, count, timeout=600)
    elapsed = time.monotonic() - started
    readies = sorted(ready_times(env, namespace).values())
    print(
        f"burst of {count}: all Ready in {elapsed:.1f} s = {count / elapsed:.2f} certificates/s; "
        f"first Ready after {readies[0] - started_wall:.1f} s (to the second)",
        flush=True,
    )
    cpu_after = cpu_seconds(env)
    spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    busiest = sorted(spent.items(), key=lambda item: -item[1])
    print(
        "    CPU seconds during the burst: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in busiest),
        flush=True,
    )
    orders = json.loads(env.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    created = sum(1 for event in orders if event["reason"] == "OrderCreated")
    print(f"    orders created: {created} for {count} Certificates", flush=True)
    each = [ready - started_wall for ready in readies]
    return {
        "count": count,
        "elapsed_s": elapsed,
        "certs_per_s": count / elapsed,
        "first_ready_s": readies[0] - started_wall,
        "p50_s": nearest_rank(each, 0.5),
        "p95_s": nearest_rank(each, 0.95),
        "orders_created": created,
        "orders_per_certificate": created / count,
    }


def restart(env: Environment, operator: OperatorProcess, settle: float) -> None:
    """Restart with every Certificate Ready: what the new process asks of the API server, and its CPU."""
    time.sleep(5)  # the burst's last writes land first
    mark = audit_mark(env)
    operator.kill()
    operator.start()
    time.sleep(settle)
    requests = operator_requests(env, mark)
    writes = writes_of(requests)
    assert operator.child is not None
    cpu = process_cpu(operator.child.process.pid, with_children=False)
    certificates = len(json.loads(env.kubectl("get", "certificates", "-A", "-o", "json").stdout)["items"])
    print(
        f"restart with {certificates} Ready Certificates: {sum(requests.values())} API requests, {writes} writes "
        f"in the first {settle:.0f} s; {cpu:.1f} CPU-s",
        flush=True,
    )
    for (verb, resource, code), number in sorted(requests.items()):
        print(f"    {number:4d}  {verb} {resource} → {code}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--burst", type=int, nargs="*", default=[100])
    parser.add_argument("--stand-in", action="store_true", help="Pods as stand-in processes, not on the real node")
    parser.add_argument("--gateway", action="store_true", help="HTTP-01 through an HTTPRoute, not an Ingress")
    options = parser.parse_args()
    with Environment(real_node=not options.stand_in) as env:
        print(f"solver Pods run on {'the real node' if env.node else 'the stand-in kubelet'}")
        install(env)
        solver = INGRESS
        if options.gateway:
            env.kubectl("create", "namespace", "bench-gateway")
            env.create_gateway("bench-gateway", "bench")
            solver = GATEWAY
            print("HTTP-01 through an HTTPRoute attached to the stand-in's Gateway")
        operator = OperatorProcess(env)
        operator.start()
        time.sleep(2)  # the operator's watches start
        single(env, options.single, solver)
        for count in options.burst:
            burst(env, count, solver)
        restart(env, operator, settle=20)
        rss = Path(f"/proc/{operator.child.process.pid}/status").read_text() if operator.child else ""
        print("operator " + next((line for line in rss.splitlines() if line.startswith("VmHWM")), "VmHWM: ?"))


if __name__ == "__main__":
    main()
