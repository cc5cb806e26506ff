"""`helm install` on the real node: the operator runs as a Pod from the local image (issue 12).

These take the machine's one node in an environment of their own, without the session's operator
process (two operators would fight over the same Certificates), so they run first.
"""

from __future__ import annotations

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

from .certwright import (
    apply,
    certificate,
    condition,
    get,
    issuer,
    leaf_names,
    names,
    namespace,
    operator_pods,
    orders,
    rfc2136,
    tsig_secret,
    wait_ready,
)

pytestmark = pytest.mark.owns_node


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


def _operator_pod(env: Environment) -> dict[str, Any]:
    running = operator_pods(env)
    assert len(running) == 1, [p["metadata"]["name"] for p in running]
    return running[0]


def _orders(env: Environment) -> int:
    return orders(env, "certwright", "pebble-cluster")


def test_the_operator_runs_as_a_hardened_pod_and_issues(cluster: Environment, issued: dict[str, Any]) -> None:
    pod = _operator_pod(cluster)
    name = pod["metadata"]["name"]

    def run(*command: str) -> Any:
        return cluster.kubectl("exec", "-n", "certwright", name, "--", *command, check=False)

    assert run("id", "-u").stdout.strip() == "65532"
    refused = run("touch", "/written")
    assert "Read-only file system" in refused.stderr
    assert run("test", "-s", "/var/run/secrets/kubernetes.io/serviceaccount/token").returncode == 0
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


def test_an_upgrade_rolls_the_pod_issues_nothing_again_and_logs_json(
    cluster: Environment, release: HelmRelease, issued: dict[str, Any]
) -> None:
    before = _operator_pod(cluster)["metadata"]["name"]
    cert_id = get(cluster, "certificate", "web", issued["namespace"])["status"]["certID"]
    release.install("logFormat=json")
    after = _operator_pod(cluster)
    assert after["metadata"]["name"] != before, "a changed value rolls the Pod"
    time.sleep(5)  # the new operator has listed and judged every Certificate by now
    assert get(cluster, "certificate", "web", issued["namespace"])["status"]["certID"] == cert_id
    assert _orders(cluster) == 1
    logs = cluster.kubectl("logs", "-n", "certwright", after["metadata"]["name"]).stdout.splitlines()
    assert logs, "the operator logged its start"
    for line in logs:
        record = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= record.keys()
    assert "PRIVATE KEY" not in "\n".join(logs)


def test_uninstall_keeps_crds_certificates_and_secrets_and_a_reinstall_issues_nothing(
    cluster: Environment, release: HelmRelease, issued: dict[str, Any]
) -> None:
    space = issued["namespace"]
    cert_id = get(cluster, "certificate", "web", space)["status"]["certID"]
    release.uninstall()
    assert cluster.kubectl("get", "deployment", "certwright", "-n", "certwright", check=False).returncode != 0
    assert cluster.kubectl("get", "crd", "certificates.certwright.dev", check=False).returncode == 0
    assert get(cluster, "certificate", "web", space)["status"]["certID"] == cert_id
    assert leaf_names(cluster, "web-tls", space) == sorted(issued["names"])

    release.install()
    time.sleep(5)
    ready = get(cluster, "certificate", "web", space)
    assert condition(ready, "Ready").get("status") == "True"
    assert ready["status"]["certID"] == cert_id
    assert _orders(cluster) == 1


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
    logs = cluster.kubectl("logs", "-n", "certwright", _operator_pod(cluster)["metadata"]["name"]).stdout
    assert "403" not in logs, "it watches nothing its Role does not grant"
    assert "Forbidden" not in logs

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
