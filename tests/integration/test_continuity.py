"""Nothing thrown away once the CA has issued, and Ready always about the current spec (issue 10)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.environment import KubectlError
from certwright_env.operator import OperatorProcess
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
    orders,
    pebble_orders,
    wait_condition,
    wait_issuer_ready,
    wait_ready,
)


def _ready_for(env: Environment, name: str, ns: str, generation: int, timeout: float) -> dict[str, Any]:
    """The Certificate once Ready says it is for ``generation`` (never before: Ready describes the spec)."""
    return eventually(
        lambda: get(env, "certificate", name, ns),
        lambda c: (
            condition(c, "Ready").get("status") == "True"
            and condition(c, "Ready").get("observedGeneration") == generation
        ),
        timeout=timeout,
        what=f"Ready for generation {generation}",
    )


def test_a_secret_of_another_type_stops_the_order_before_it_is_placed(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    env.kubectl("create", "secret", "generic", "pre-tls", "-n", ns, "--from-literal=password=hunter2")
    apply(env, issuer(env, "pebble", ns), certificate("pre", ns, names(1), "pebble", secretName="pre-tls"))

    blocked = wait_condition(env, "pre", ns, "Ready", "SecretTypeMismatch")

    message = condition(blocked, "Ready")["message"]
    assert "Secret pre-tls has type Opaque" in message
    assert "delete it or pick another spec.secretName" in message
    assert not (blocked.get("status") or {}).get("order")
    assert orders(env, ns) == 0
    env.kubectl("delete", "secret", "pre-tls", "-n", ns)

    ready = wait_ready(env, "pre", ns, timeout=90)
    assert ready["status"]["revision"] == 1
    assert get(env, "secret", "pre-tls", ns)["type"] == "kubernetes.io/tls"
    assert orders(env, ns) == 1


def _policy(ns: str, secret: str) -> list[dict[str, Any]]:
    """An admission policy that refuses writes of one Secret: the API server says no, as a quota would."""
    name = f"hold-{ns}"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["secrets"],
                        }
                    ]
                },
                "validations": [
                    {"expression": f"object.metadata.name != '{secret}'", "message": "held by the test's policy"}
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
            },
        },
    ]


@pytest.fixture
def held_secret(env: Environment) -> Iterator[tuple[str, str]]:
    ns = namespace(env)
    policy = _policy(ns, "held-tls")
    apply(env, *policy)

    def refused() -> bool:
        try:
            env.kubectl("create", "secret", "generic", "held-tls", "-n", ns, "--dry-run=server")
        except KubectlError:
            return True
        return False

    eventually(refused, bool, timeout=30, what="the admission policy is in force")
    yield ns, f"hold-{ns}"
    for kind in ("validatingadmissionpolicybinding", "validatingadmissionpolicy"):
        env.kubectl("delete", kind, f"hold-{ns}", "--ignore-not-found")


def test_a_secret_write_refused_after_the_ca_issued_stores_that_same_certificate(
    env: Environment, operator: OperatorProcess, held_secret: tuple[str, str]
) -> None:
    ns, policy = held_secret
    apply(env, issuer(env, "pebble", ns), certificate("held", ns, names(2), "pebble"))

    failed = wait_condition(env, "held", ns, "Issuing", "SecretWriteFailed")
    assert "held by the test's policy" in condition(failed, "Issuing")["message"]
    assert failed["status"]["order"]["state"] == "valid", "the order is kept, with the state it reached"
    order_url = failed["status"]["order"]["url"]
    operator.kill()  # and a restart in the middle: status carries the order over
    operator.start()
    env.kubectl("delete", "validatingadmissionpolicybinding", policy)
    eventually(
        lambda: (
            env.kubectl("create", "secret", "generic", "held-tls", "-n", ns, "--dry-run=server", check=False).returncode
        ),
        lambda code: code == 0,
        timeout=30,
        what="the policy is lifted",
    )
    env.kubectl("annotate", "certificate", "held", "-n", ns, "certwright.dev/renew=now")  # skip the back-off

    ready = wait_ready(env, "held", ns)
    assert ready["status"]["revision"] == 1
    assert orders(env, ns) == 1, "the same order's certificate, not a new order"
    assert pebble_orders(env, ns, "pebble-account") == [order_url]
    assert "orderNotReady" not in operator.log.read_text() if operator.log else True


def test_names_changed_mid_issuance_end_in_a_secret_for_the_new_names(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)
    first, second = names(2), names(2)
    apply(env, certificate("moving", ns, first, "pebble"))
    time.sleep(0.2)
    patch = json.dumps({"spec": {"dnsNames": second}})
    env.kubectl("patch", "certificate", "moving", "-n", ns, "--type=merge", "-p", patch)

    settled = _ready_for(env, "moving", ns, 2, timeout=60)
    assert leaf_names(env, "moving-tls", ns) == sorted(second)
    assert orders(env, ns) <= 2
    assert settled["status"]["certificateGeneration"] == 2

    # And again while a renewal is in flight: the solver Pods wait, the names change, the Pods start.
    third = [second[0], names(1)[0]]  # one name in common: replaces may be named, and must not be refused
    before = orders(env, ns)
    env.pause_pods()
    try:
        env.kubectl("annotate", "certificate", "moving", "-n", ns, "certwright.dev/renew=now")
        time.sleep(0.2)
        env.kubectl(
            "patch", "certificate", "moving", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {"dnsNames": third}})
        )
    finally:
        env.pause_pods(False)
    final = _ready_for(env, "moving", ns, 3, timeout=90)
    assert leaf_names(env, "moving-tls", ns) == sorted(third)
    assert orders(env, ns) - before <= 2
    assert final["status"]["certificateGeneration"] == 3
    warnings = json.loads(
        env.kubectl("get", "events", "-n", ns, "--field-selector", "type=Warning", "-o", "json").stdout
    )
    assert not [w for w in warnings["items"] if "replaces" in w["message"]], "no refusal of replaces is left"
