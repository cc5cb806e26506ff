"""HTTP-01 through the Gateway API: the solver's HTTPRoute attached to a Gateway of the stand-in's
class, which routes the CA's request to the solver Pod; a Gateway that is missing or refuses the route
is named before the CA is asked."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import (
    account_client,
    apply,
    certificate,
    condition,
    events,
    get,
    issuer,
    leaf_names,
    names,
    namespace,
    orders,
    ready_count,
    wait_condition,
    wait_issuer_ready,
    wait_ready,
)

GATEWAY_CLASS = "certwright-stand-in"


def gateway(name: str, ns: str, *, routes_from: str = "All") -> dict[str, Any]:
    """A Gateway of the stand-in's class: HTTP on port 80 for every hostname."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [
                {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": routes_from}}}
            ],
        },
    }


def gateway_solver(name: str, ns: str, **ref: Any) -> dict[str, Any]:
    return {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": name, "namespace": ns, **ref}]}}}


def solver_objects(env: Environment, ns: str) -> list[str]:
    listed = env.kubectl(
        "get", "pods,services,httproutes", "-n", ns, "-l", "certwright.dev/solver=http01", "-o", "name"
    ).stdout.split()
    return listed + env.kubectl("get", "challenges", "-n", ns, "-o", "name").stdout.split()


def untouched(env: Environment, ns: str, certificate_name: str) -> bool:
    """Whether no challenge of the Certificate's order was answered (the CA was not asked)."""
    url = get(env, "certificate", certificate_name, ns)["status"]["order"]["url"]
    with account_client(env, ns, "pebble-account") as client:
        return all(
            challenge.status == "pending"
            for authorization in client.order(url).body.authorizations
            for challenge in client.authorization(authorization).body.challenges
        )


def test_a_cluster_issuer_solves_http01_through_an_httproute_and_leaves_nothing(
    env: Environment, operator: OperatorProcess
) -> None:
    edge, ns = namespace(env), namespace(env)
    apply(env, gateway("edge", edge))
    name = f"gw-{uuid.uuid4().hex[:8]}"
    cluster_issuer = issuer(env, name, None, solvers=[gateway_solver("edge", edge)])
    dns_names = names(2)
    wanted = certificate("routed", ns, dns_names, name)
    wanted["spec"]["issuerRef"]["kind"] = "ClusterIssuer"
    apply(env, cluster_issuer, wanted)

    ready = wait_ready(env, "routed", ns)

    assert ready["status"]["revision"] == 1
    assert leaf_names(env, "routed-tls", ns) == sorted(dns_names)
    eventually(lambda: solver_objects(env, ns), lambda left: not left, what="no HTTPRoute, Service, Pod or Challenge")


def test_a_gateway_that_does_not_exist_is_named_and_the_ca_is_not_asked(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(
        env,
        issuer(env, "pebble", ns, solvers=[gateway_solver("nowhere", ns)]),
        certificate("lost", ns, names(1), "pebble"),
    )

    failed = wait_condition(env, "lost", ns, "Ready", "GatewayNotFound")

    message = condition(failed, "Ready")["message"]
    assert f"Gateway {ns}/nowhere, named in the solver's gatewayHTTPRoute.parentRefs, does not exist" in message
    assert "The CA was not asked to validate" in message
    assert untouched(env, ns, "lost")


def test_a_listener_that_refuses_the_namespace_is_named_with_its_reason(
    env: Environment, operator: OperatorProcess
) -> None:
    edge, ns = namespace(env), namespace(env)
    apply(env, gateway("edge", edge, routes_from="Same"))
    solver = gateway_solver("edge", edge, sectionName="http")
    apply(env, issuer(env, "pebble", ns, solvers=[solver]), certificate("refused", ns, names(1), "pebble"))

    failed = wait_condition(env, "refused", ns, "Ready", "HTTPRouteNotAccepted")

    message = condition(failed, "Ready")["message"]
    assert f"Gateway {edge}/edge listener http did not accept HTTPRoute" in message
    assert "NotAllowedByListeners" in message
    assert untouched(env, ns, "refused")
    assert orders(env, ns) == 1
    assert events(env, ns, "HTTPRouteNotAccepted")


@pytest.mark.parametrize("seed", [5, 17])
def test_a_gateway_burst_killed_at_random_moments_orders_once_each_and_leaves_no_route(
    env: Environment, operator: OperatorProcess, seed: int
) -> None:
    chance, edge, ns, burst = random.Random(seed), namespace(env), namespace(env), 20
    apply(env, gateway("edge", edge), issuer(env, "pebble", ns, solvers=[gateway_solver("edge", edge)]))
    wait_issuer_ready(env, "pebble", ns)

    apply(env, *(certificate(f"g-{i:02d}", ns, names(1), "pebble") for i in range(burst)))
    kills = chance.choice([2, 3])
    for _ in range(kills):
        time.sleep(chance.uniform(0.2, 2.0))
        operator.kill()
        operator.start()

    eventually(lambda: ready_count(env, ns), lambda count: count == burst, timeout=240, what=f"{burst} Ready")
    eventually(lambda: solver_objects(env, ns), lambda left: not left, timeout=60, what="no solver object is left")
    assert orders(env, ns) == burst, f"one order per Certificate (seed {seed}, {kills} kills)"
