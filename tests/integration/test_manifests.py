"""`kubectl apply -f crds/ -f manifests/` on the real node: the plain install does the chart's job (issue 12).

The operator runs as two Pods from the image the node has (the manifests' default reference), one
leading. Deleting the leader while an issuance is under way leaves it to the other: one order, one
certificate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from certwright_env import Environment
from certwright_env.base import REPO
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
    leftovers,
    names,
    namespace,
    operator_pods,
    orders,
)

pytestmark = pytest.mark.owns_node


@pytest.fixture(scope="module")
def cluster() -> Iterator[Environment]:
    with Environment() as env:
        if env.node is None:
            pytest.skip(f"no real node here ({env.no_node_reason}): the operator cannot run as a Pod")
        env.kubectl("apply", "-f", str(REPO / "crds"), "-f", str(REPO / "manifests"))
        # Names here resolve only through the environment's DNS, as in a split-horizon cluster.
        patch = [
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/args/-",
                "value": f"--selfcheck-nameservers={env.nameserver}",
            }
        ]
        env.kubectl("patch", "deployment", "certwright", "-n", "certwright", "--type=json", "-p", json.dumps(patch))
        env.kubectl("rollout", "status", "deployment/certwright", "-n", "certwright", "--timeout=120s")
        yield env
    env.remove_run_dir()


def _operator_pods(env: Environment) -> list[str]:
    return [pod["metadata"]["name"] for pod in operator_pods(env)]


def test_the_plain_install_issues(cluster: Environment) -> None:
    space = namespace(cluster)
    dns_names = names(1)
    apply(cluster, issuer(cluster, "pebble", space), certificate("web", space, dns_names, "pebble"))
    eventually(
        lambda: condition(get(cluster, "certificate", "web", space), "Ready").get("status"),
        lambda status: status == "True",
        timeout=90,
        what="the Certificate is Ready",
    )
    assert leaf_names(cluster, "web-tls", space) == dns_names
    assert orders(cluster, space) == 1


@pytest.mark.fault("the leader Pod deleted mid-issuance (real node, the plain manifests)")
def test_deleting_the_leader_pod_mid_issuance_leaves_one_order_to_the_standby(
    cluster: Environment, request: pytest.FixtureRequest
) -> None:
    space = namespace(cluster)
    cluster.hold_validation()  # the CA's HTTP-01 fetch waits: the issuance is under way, its order placed
    try:
        apply(cluster, issuer(cluster, "pebble", space), certificate("mid", space, names(2), "pebble"))
        eventually(
            lambda: get(cluster, "certificate", "mid", space),
            lambda c: bool((c.get("status") or {}).get("order", {}).get("url")),
            timeout=60,
            what="the order is recorded in status",
        )
        first = leader_pod(cluster)
        cluster.kubectl("delete", "pod", first, "-n", "certwright", "--wait=true", "--timeout=60s")
        cluster.kubectl("rollout", "status", "deployment/certwright", "-n", "certwright", "--timeout=120s")
        assert first not in _operator_pods(cluster)
        assert leader_pod(cluster) != first, "the standby leads"
    finally:
        cluster.hold_validation(False)
    ready = eventually(
        lambda: get(cluster, "certificate", "mid", space),
        lambda c: condition(c, "Ready").get("status") == "True",
        timeout=120,
        what="the new operator Pod finishes the issuance",
    )
    assert ready["status"]["revision"] == 1
    placed = orders(cluster, space)
    assert placed == 1, "one order for one issuance, across the Pod's replacement"
    left = eventually(lambda: leftovers(cluster, space), lambda left: not left, timeout=60, what="nothing is left")
    record(request, issuances=1, orders=placed, lost=len(left))
