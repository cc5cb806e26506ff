"""`helm install` on the real node: the operator runs as Pods from the local image (issue 12), two
replicas of which one leads (the Lease certwright-leader, issue 17).

These take the machine's one node in an environment of their own, without the session's operator
process (two operators would fight over the same Certificates), so they run first.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from certwright_env import Environment, chart
from certwright_env.operator import HelmRelease
from certwright_env.probes import eventually
from tests.reliability import record

from .certwright import (
    apply,
    certificate,
    condition,
    get,
    issuer,
    leader_pod,
    leaf_names,
    lease_holder,
    leftovers,
    names,
    namespace,
    operator_pods,
    orders,
    ready_count,
    rfc2136,
    tsig_secret,
    wait_ready,
)

pytestmark = pytest.mark.owns_node

REPLICAS = 2  # the chart's default
BURST = 100


@pytest.fixture(scope="module")
def cluster() -> Iterator[Environment]:
    with Environment() as env:
        if env.node is None:
            pytest.skip(f"no real node here ({env.no_node_reason}): the operator cannot run as a Pod")
        yield env
    env.remove_run_dir()


@pytest.fixture(scope="module")
def release(cluster: Environment) -> HelmRelease:
    release = HelmRelease(cluster)
    started = time.monotonic()
    release.install()
    print(f"helm install → Deployment Available in {time.monotonic() - started:.1f} s")
    leader_pod(cluster)
    print(f"helm install → a Pod leads in {time.monotonic() - started:.1f} s")
    return release


@pytest.fixture(scope="module")
def issued(cluster: Environment, release: HelmRelease) -> dict[str, Any]:
    """A ClusterIssuer and a Certificate applied after the install, and the Certificate once Ready."""
    apply(cluster, issuer(cluster, "pebble-cluster", None))
    space = namespace(cluster)
    dns_names = names(2)
    started = time.monotonic()
    apply(
        cluster,
        certificate(
            "web", space, dns_names, "pebble-cluster", issuerRef={"name": "pebble-cluster", "kind": "ClusterIssuer"}
        ),
    )
    ready = eventually(
        lambda: get(cluster, "certificate", "web", space),
        lambda c: condition(c, "Ready").get("status") == "True",
        timeout=90,
        what="the Certificate is Ready, issued by the operator Pod",
    )
    print(f"install → first certificate Ready {time.monotonic() - started:.1f} s after kubectl apply")
    return {"namespace": space, "names": dns_names, "certificate": ready}


def test_helm_install_refuses_a_wrong_value_naming_it(cluster: Environment) -> None:
    release = HelmRelease(cluster, name="refused", namespace="default")
    refused = release.run("install", "refused", str(chart.CHART), "--set", "replicaCount=two", check=False)
    assert refused.returncode != 0
    assert "replicaCount" in refused.stderr
    assert "integer" in refused.stderr
    assert release.run("status", "refused", check=False).returncode != 0, "nothing was installed"


def _pod_names(env: Environment) -> set[str]:
    return {pod["metadata"]["name"] for pod in operator_pods(env)}


def _orders(env: Environment) -> int:
    return orders(env, "certwright", "pebble-cluster")


def test_the_operator_runs_as_hardened_pods_and_the_leader_issues(cluster: Environment, issued: dict[str, Any]) -> None:
    assert len(_pod_names(cluster)) == REPLICAS
    leader = leader_pod(cluster)
    for name in _pod_names(cluster):
        run = functools.partial(cluster.kubectl, "exec", "-n", "certwright", name, "--", check=False)
        assert run("id", "-u").stdout.strip() == "65532"
        refused = run("touch", "/written")
        assert "Read-only file system" in refused.stderr
        assert run("test", "-s", "/var/run/secrets/kubernetes.io/serviceaccount/token").returncode == 0
    logs = cluster.kubectl("logs", "-n", "certwright", leader).stdout
    assert " leads (Lease certwright/certwright-leader)" in logs
    assert leaf_names(cluster, "web-tls", issued["namespace"]) == sorted(issued["names"])
    assert _orders(cluster) == 1

    ip = cluster.kubectl("get", "service", "certwright-metrics", "-n", "certwright", "-o", "jsonpath={.spec.clusterIP}")
    with urllib.request.urlopen(f"http://{ip.stdout}:9402/metrics", timeout=5) as response:
        assert b"process_resident_memory_bytes" in response.read(), "metrics answer through their Service"


def test_the_operator_pod_issues_a_wildcard_over_dns01(cluster: Environment, issued: dict[str, Any]) -> None:
    """From inside the cluster: RFC 2136 to BIND on the node's bridge, as to a DNS server on the network."""
    space = namespace(cluster)
    base = f"{uuid.uuid4().hex[:10]}.example.test"
    apply(
        cluster,
        tsig_secret("tsig", space, cluster.bind.tsig_secret),
        issuer(cluster, "pebble", space, solvers=[rfc2136(cluster)]),
        certificate("wild", space, [f"*.{base}", base], "pebble"),
    )

    wait_ready(cluster, "wild", space, timeout=90)  # issued by the operator Pod over DNS-01

    assert leaf_names(cluster, "wild-tls", space) == sorted([f"*.{base}", base])
    assert cluster.bind.query(f"_acme-challenge.{base}.", "TXT") == []


def test_an_upgrade_rolls_the_pods_issues_nothing_again_and_logs_json(
    cluster: Environment, release: HelmRelease, issued: dict[str, Any]
) -> None:
    before = _pod_names(cluster)
    cert_id = get(cluster, "certificate", "web", issued["namespace"])["status"]["certID"]
    placed = _orders(cluster)
    release.install("logFormat=json")
    upgraded = time.monotonic()
    after = _pod_names(cluster)
    assert len(after) == REPLICAS
    assert not after & before, "a changed value rolls every Pod"
    leader = leader_pod(cluster)
    print(f"helm upgrade → a new Pod leads {time.monotonic() - upgraded:.1f} s after the rollout")
    time.sleep(5)  # the new leader has listed and judged every Certificate by now
    assert get(cluster, "certificate", "web", issued["namespace"])["status"]["certID"] == cert_id
    assert _orders(cluster) == placed
    for name in after:
        logs = cluster.kubectl("logs", "-n", "certwright", name).stdout.splitlines()
        assert logs, "the operator logged its start"
        records = [json.loads(line) for line in logs]  # every line is one JSON object
        assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
        assert "PRIVATE KEY" not in "\n".join(logs)
        leads = any(" leads (Lease " in record["message"] for record in records)
        assert leads == (name == leader), "the leader says it leads, the standby does not"


def test_uninstall_keeps_crds_certificates_and_secrets_and_a_reinstall_issues_nothing(
    cluster: Environment, release: HelmRelease, issued: dict[str, Any]
) -> None:
    space = issued["namespace"]
    cert_id = get(cluster, "certificate", "web", space)["status"]["certID"]
    placed = _orders(cluster)
    started = time.monotonic()
    release.uninstall()
    print(f"helm uninstall → its Pods gone in {time.monotonic() - started:.1f} s")
    assert cluster.kubectl("get", "deployment", "certwright", "-n", "certwright", check=False).returncode != 0
    assert cluster.kubectl("get", "crd", "certificates.certwright.dev", check=False).returncode == 0
    assert get(cluster, "certificate", "web", space)["status"]["certID"] == cert_id
    assert leaf_names(cluster, "web-tls", space) == sorted(issued["names"])

    release.install()
    leader_pod(cluster)  # the Lease outlives the release: a new Pod takes it over
    time.sleep(5)
    ready = get(cluster, "certificate", "web", space)
    assert condition(ready, "Ready").get("status") == "True"
    assert ready["status"]["certID"] == cert_id
    assert _orders(cluster) == placed


@pytest.mark.fault("the operator Pod deleted by kubectl delete pod during a burst of 100 (real node, the chart)")
def test_the_leader_pod_deleted_during_a_burst_of_100_orders_once_each_and_leaves_nothing(
    cluster: Environment, release: HelmRelease, request: pytest.FixtureRequest
) -> None:
    """`kubectl delete pod` of the leader (SIGTERM, as a drain or a rollout does) two seconds into a
    burst: the standby takes the Lease over and finishes. Counted in Pebble's own record, for an account
    of the burst's own ClusterIssuer: one order per Certificate."""
    space = namespace(cluster)
    reference = {"name": "pebble-burst", "kind": "ClusterIssuer"}
    burst = [certificate(f"burst-{i:03d}", space, names(1), "pebble-burst", issuerRef=reference) for i in range(BURST)]
    holder = lease_holder(cluster)
    leader = leader_pod(cluster)
    apply(cluster, issuer(cluster, "pebble-burst", None), *burst)
    applied = time.monotonic()
    time.sleep(2)
    ready_before = ready_count(cluster, space)
    deleted = time.monotonic()
    cluster.kubectl("delete", "pod", leader, "-n", "certwright", "--wait=false")  # graceful: SIGTERM first
    taken = eventually(
        lambda: lease_holder(cluster),
        lambda now: now not in ("", holder),
        timeout=120,
        what="another Pod takes the Lease",
    )
    took_over = time.monotonic() - deleted
    print(f"leader {leader} deleted {deleted - applied:.1f} s after the apply ({ready_before}/{BURST} Ready then)")
    print(f"takeover: the Lease went to {taken} {took_over:.1f} s after kubectl delete pod")

    eventually(lambda: ready_count(cluster, space), lambda ready: ready == BURST, timeout=300, what=f"{BURST} Ready")
    all_ready = time.monotonic() - applied
    print(f"burst: {BURST} Certificates Ready {all_ready:.1f} s after the apply")
    left = eventually(lambda: leftovers(cluster, space), lambda left: not left, timeout=60, what="nothing is left")
    placed = orders(cluster, "certwright", "pebble-burst")
    assert placed == BURST, "one order per Certificate, by Pebble's record"
    items = json.loads(cluster.kubectl("get", "certificates", "-n", space, "-o", "json").stdout)["items"]
    assert sorted(c["status"]["revision"] for c in items) == [1] * BURST
    record(
        request,
        issuances=BURST,
        orders=placed,
        lost=len(left),
        takeover=f"{took_over:.1f} s after kubectl delete pod",
        all_ready=f"in {all_ready:.0f} s",
    )


def test_watch_namespace_serves_one_namespace_with_a_role_only(cluster: Environment, release: HelmRelease) -> None:
    release.uninstall()
    space = namespace(cluster)
    release.install(f"watchNamespace={space}")
    assert cluster.kubectl("get", "clusterrole", "certwright", check=False).returncode != 0, "no cluster-wide RBAC"
    dns_names = names(1)
    apply(cluster, issuer(cluster, "pebble", space), certificate("scoped", space, dns_names, "pebble"))
    eventually(
        lambda: condition(get(cluster, "certificate", "scoped", space), "Ready").get("status"),
        lambda status: status == "True",
        timeout=90,
        what="a Certificate in the watched namespace is Ready",
    )
    assert leaf_names(cluster, "scoped-tls", space) == dns_names
    for name in _pod_names(cluster):  # the standby watches as the leader does
        # Messages only: a timestamp's milliseconds may read 403.
        logs = cluster.kubectl("logs", "-n", "certwright", name).stdout.splitlines()
        refusals = [line for line in logs if "403" in line.partition(": ")[2] or "Forbidden" in line]
        assert not refusals, "it watches nothing its Role does not grant"

    reference = {"name": "pebble-cluster", "kind": "ClusterIssuer"}
    apply(cluster, certificate("cluster", space, names(1), "pebble-cluster", issuerRef=reference))
    refused = eventually(
        lambda: condition(get(cluster, "certificate", "cluster", space), "Ready"),
        lambda ready: ready.get("status") == "False",
        what="a Certificate naming a ClusterIssuer is told why it is not served",
    )
    assert "create an Issuer in" in refused["message"]
    assert "watchNamespace" in refused["message"]

    elsewhere = namespace(cluster)
    apply(cluster, issuer(cluster, "pebble", elsewhere), certificate("ignored", elsewhere, names(1), "pebble"))
    time.sleep(5)
    ignored = get(cluster, "certificate", "ignored", elsewhere)
    assert condition(ignored, "Ready") == {}, "other namespaces are not served"
