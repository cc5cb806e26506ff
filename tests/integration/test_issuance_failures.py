"""Crashes, broken routes and bad input: nothing lost, nothing done twice, the reason in words."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import josepy as jose
import pytest

from certwright.acme.client import AcmeClient
from certwright.acme.transport import Transport, new_session
from certwright.pki import keys as pki_keys
from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import apply, certificate, condition, events, get, issuer, names, namespace, wait_condition, wait_ready


@pytest.fixture
def paused_pods(env: Environment) -> Iterator[None]:
    env.pause_pods()
    yield
    env.pause_pods(False)


@pytest.fixture
def held_validation(env: Environment) -> Iterator[None]:
    env.hold_validation()
    yield
    env.hold_validation(False)


def test_a_crash_after_the_order_is_created_resumes_that_order(
    env: Environment, operator: OperatorProcess, paused_pods: None
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("crash", ns, names(2), "pebble"))
    ordered = eventually(
        lambda: get(env, "certificate", "crash", ns),
        lambda c: bool((c.get("status") or {}).get("order", {}).get("url")),
        what="the order is recorded in status",
    )
    order_url = ordered["status"]["order"]["url"]

    operator.kill()
    operator.start()
    env.pause_pods(False)

    ready = wait_ready(env, "crash", ns)
    assert len(events(env, ns, "OrderCreated")) == 1, "one order for one issuance"
    assert ready["status"]["revision"] == 1
    assert operator.log is not None
    assert f"resuming order {order_url}" in operator.log.read_text()


def test_a_crash_after_the_challenge_is_accepted_resumes_that_order(
    env: Environment, operator: OperatorProcess, held_validation: None
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("accepted", ns, names(1), "pebble"))
    eventually(
        lambda: json.loads(env.kubectl("get", "challenges", "-n", ns, "-o", "json").stdout)["items"],
        lambda items: any((c.get("status") or {}).get("state") == "processing" for c in items),
        what="the challenge is accepted (the CA validates)",
    )

    operator.kill()
    operator.start()
    env.hold_validation(False)

    ready = wait_ready(env, "accepted", ns)
    assert len(events(env, ns, "OrderCreated")) == 1
    assert ready["status"]["revision"] == 1


def _account_client(env: Environment, ns: str) -> AcmeClient:
    key_pem = base64.b64decode(get(env, "secret", "pebble-account", ns)["data"]["tls.key"])
    key = jose.JWKEC(key=pki_keys.key_from_pem(key_pem))
    client = AcmeClient(Transport(env.pebble_directory_url, session=new_session(str(env.pebble_ca_bundle))), key)
    client.find_account()
    return client


def test_a_broken_route_fails_the_self_check_naming_the_hop_and_the_ca_is_not_asked(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    solvers = [{"http01": {"ingress": {"ingressClassName": "traefik"}}, "selfCheck": {"timeoutSeconds": 5}}]
    apply(env, issuer(env, "pebble", ns, solvers=solvers), certificate("lost", ns, names(1), "pebble"))

    failed = wait_condition(env, "lost", ns, "Issuing", "SelfCheckFailed")

    message = condition(failed, "Issuing")["message"]
    assert "at the ingress hop" in message
    assert "answered 404" in message
    assert "The CA was not asked to validate" in message
    assert condition(failed, "Ready")["reason"] == "SelfCheckFailed"
    assert events(env, ns, "SelfCheckFailed")
    order = _account_client(env, ns).order(failed["status"]["order"]["url"])
    authorization = _account_client(env, ns).authorization(order.body.authorizations[0])
    assert authorization.body.status == "pending"
    assert {c.status for c in authorization.body.challenges} == {"pending"}, "no challenge was answered"


@pytest.mark.parametrize(
    ("spec", "reason", "says"),
    [
        ({"issuerRef": {"name": "nowhere"}}, "IssuerNotFound", "Issuer nowhere does not exist in namespace"),
        (
            {"issuerRef": {"name": "nowhere", "kind": "ClusterIssuer"}},
            "IssuerNotFound",
            "ClusterIssuer nowhere does not exist;",
        ),
        (
            {"dnsNames": ["*.wild.example.test"]},
            "WildcardNeedsDNS01",
            "*.wild.example.test: wildcard names need a DNS-01 solver",
        ),
    ],
    ids=["missing-issuer", "missing-cluster-issuer", "wildcard-over-http01"],
)
def test_what_a_schema_cannot_see_gives_ready_false_with_a_reason(
    env: Environment, operator: OperatorProcess, spec: dict[str, object], reason: str, says: str
) -> None:
    ns = namespace(env)
    manifest = certificate("bad", ns, names(1), "pebble")
    manifest["spec"].update(spec)
    apply(env, issuer(env, "pebble", ns), manifest)

    blocked = wait_condition(env, "bad", ns, "Ready", reason)

    assert says in condition(blocked, "Ready")["message"]
    assert events(env, ns, reason)
    assert operator.child is not None
    assert operator.child.running(), "the operator never crashes"


def test_a_solver_selector_that_matches_no_name_is_reported(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    solvers = [{"selector": {"dnsZones": ["elsewhere.test"]}, "http01": {"ingress": {"ingressClassName": "nginx"}}}]
    apply(env, issuer(env, "pebble", ns, solvers=solvers), certificate("unsolved", ns, names(1), "pebble"))

    blocked = wait_condition(env, "unsolved", ns, "Ready", "NoMatchingSolver")

    assert "no solver of Issuer pebble matches" in condition(blocked, "Ready")["message"]
