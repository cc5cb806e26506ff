"""kubectl annotate gateway → a Certificate per Secret its TLS listeners name; cert-manager's annotations too;
and an operator in a cluster without the Gateway API runs without watching Gateways (issue 14).

The Certificates need not become Ready here: what is asserted is their names, specs and owners.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.operator import OperatorProcess, install
from certwright_env.probes import eventually

from .certwright import apply, get, get_or_none, issuer, names, namespace, wait_ready
from .conftest import DEFAULT_ISSUER

NOT_INSTALLED = (
    "Gateway API not installed (no gateway.networking.k8s.io/v1 gateways): Gateway support is off; "
    "restart the operator after installing it"
)


def _listener(name: str, hostname: str | None, secret: str, **tls: Any) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "name": name,
        "protocol": "HTTPS",
        "port": 443,
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}], **tls},
    }
    if hostname is not None:
        listener["hostname"] = hostname
    return listener


def _gateway(name: str, ns: str, listeners: list[dict[str, Any]], annotations: dict[str, str]) -> dict[str, Any]:
    """A Gateway of a class no controller here serves, so nothing but the test and certwright touch it."""
    http = {"name": "http", "protocol": "HTTP", "port": 80}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"gatewayClassName": "unserved", "listeners": [http, *listeners]},
    }


def _events(env: Environment, ns: str, reason: str) -> list[str]:
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e["message"] for e in items if e["reason"] == reason and e["involvedObject"]["kind"] == "Gateway"]


def _certificates(env: Environment, ns: str) -> dict[str, dict[str, Any]]:
    items = json.loads(env.kubectl("get", "certificates", "-n", ns, "-o", "json").stdout)["items"]
    return {item["metadata"]["name"]: item for item in items}


def _dns_names(env: Environment, ns: str) -> dict[str, list[str]]:
    return {name: c["spec"]["dnsNames"] for name, c in _certificates(env, ns).items()}


def test_an_annotated_gateway_gets_a_certificate_per_secret_and_follows_its_listeners(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    a, b, c = names(3)
    listeners = [_listener("a", a, "shop-tls"), _listener("b", b, "shop-tls"), _listener("c", c, "api-tls")]
    apply(env, _gateway("edge", ns, listeners, {}))

    env.kubectl("annotate", "gateway", "edge", "-n", ns, "certwright.dev/issuer=pebble")

    eventually(
        lambda: _dns_names(env, ns),
        lambda found: found == {"shop-tls": [a, b], "api-tls": [c]},
        what="two Certificates: the two listeners naming shop-tls merged",
    )
    gateway_uid = get(env, "gateway", "edge", ns)["metadata"]["uid"]
    for certificate in _certificates(env, ns).values():
        owner = certificate["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"], o["controller"]) for o in owner] == [
            ("Gateway", "edge", gateway_uid, True)
        ]
        assert certificate["spec"]["secretName"] == certificate["metadata"]["name"]
        assert certificate["spec"]["issuerRef"]["name"] == "pebble"
    assert len(_events(env, ns, "CreateCertificate")) == 2
    gateway = get(env, "gateway", "edge", ns)
    assert not gateway["metadata"].get("finalizers"), "nothing is written onto the Gateway"
    ours = [key for key in gateway["metadata"]["annotations"] if "kopf" in key or key.startswith("certwright.dev/")]
    assert ours == ["certwright.dev/issuer"], "no bookkeeping on the Gateway"

    moved = names(1)[0]
    listeners[1]["hostname"] = moved
    apply(env, _gateway("edge", ns, listeners, {"certwright.dev/issuer": "pebble"}))

    eventually(lambda: _dns_names(env, ns).get("shop-tls"), lambda d: d == [a, moved], what="the Certificate follows")
    assert _events(env, ns, "UpdateCertificate")

    env.kubectl("annotate", "gateway", "edge", "-n", ns, "certwright.dev/issuer-")

    eventually(lambda: _certificates(env, ns), lambda found: not found, what="the owned Certificates are deleted")
    assert len(_events(env, ns, "DeleteCertificate")) == 2

    env.kubectl("annotate", "gateway", "edge", "-n", ns, "certwright.dev/issuer=pebble")
    eventually(lambda: set(_certificates(env, ns)), lambda found: found == {"shop-tls", "api-tls"}, what="again")
    env.kubectl("delete", "gateway", "edge", "-n", ns, "--wait=false")

    # The garbage collector learns new kinds by discovery every 30 s: it may not know Gateways yet.
    eventually(lambda: _certificates(env, ns), lambda found: not found, timeout=90, what="garbage collection")


def test_cert_manager_annotations_and_ignored_listeners(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, DEFAULT_ISSUER, None))
    shop, skipped = names(2)
    annotations = {
        "cert-manager.io/cluster-issuer": DEFAULT_ISSUER,
        "cert-manager.io/ignore-tls-listeners": "skipped, other",
        "cert-manager.io/renew-before": "720h",
    }
    passthrough = {
        "name": "passthrough",
        "protocol": "TLS",
        "port": 8443,
        "hostname": names(1)[0],
        "tls": {"mode": "Passthrough"},
    }
    listeners = [_listener("shop", shop, "shop-tls"), _listener("skipped", skipped, "skipped-tls"), passthrough]
    apply(env, _gateway("legacy", ns, listeners, annotations))

    ready = wait_ready(env, "shop-tls", ns)

    assert ready["spec"]["issuerRef"] == {"name": DEFAULT_ISSUER, "kind": "ClusterIssuer", "group": "certwright.dev"}
    assert ready["spec"]["dnsNames"] == [shop]
    assert ready["spec"]["renewBefore"] == "720h"
    assert set(_certificates(env, ns)) == {"shop-tls"}, "ignored and Passthrough listeners get none"
    assert not _events(env, ns, "BadConfig")


@pytest.mark.parametrize(
    ("listener", "annotations", "says"),
    [
        (_listener("nameless", None, "x-tls"), {"certwright.dev/issuer": "pebble"}, "(nameless) has no hostname"),
        (
            {
                **_listener("far", "far.example.test", "x-tls"),
                "tls": {"certificateRefs": [{"name": "x", "namespace": "elsewhere"}]},
            },
            {"certwright.dev/issuer": "pebble"},
            "names a Secret in namespace elsewhere",
        ),
        (
            _listener("both", "both.example.test", "x-tls"),
            {"certwright.dev/issuer": "pebble", "cert-manager.io/cluster-issuer": "other"},
            "the issuer annotations disagree",
        ),
    ],
    ids=["no-hostname", "cross-namespace-secret", "conflicting-issuers"],
)
def test_bad_configuration_is_reported_on_the_gateway_and_nothing_is_done(
    env: Environment, operator: OperatorProcess, listener: dict[str, Any], annotations: dict[str, str], says: str
) -> None:
    ns = namespace(env)
    good = _listener("good", names(1)[0], "good-tls")
    apply(env, issuer(env, "pebble", ns), _gateway("bad", ns, [good, listener], annotations))

    messages = eventually(lambda: _events(env, ns, "BadConfig"), bool, what="a BadConfig Event on the Gateway")

    assert any(says in message for message in messages), messages
    assert _certificates(env, ns) == {}, "nothing half-done"


def test_the_gateway_api_being_installed_is_not_remarked(env: Environment, operator: OperatorProcess) -> None:
    assert operator.log is not None
    assert "Gateway API not installed" not in operator.log.read_text()


def test_without_the_gateway_api_the_operator_says_so_once_and_ingresses_work() -> None:
    with Environment(real_node=False, gateway_api=False) as bare:
        install(bare)
        process = OperatorProcess(bare)
        process.start()
        try:
            ns = namespace(bare)
            hosts = names(1)
            ingress = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "shop", "namespace": ns, "annotations": {"certwright.dev/issuer": "pebble"}},
                "spec": {
                    "ingressClassName": "nginx",
                    "defaultBackend": {"service": {"name": "shop", "port": {"number": 80}}},
                    "tls": [{"hosts": hosts, "secretName": "shop-tls"}],
                },
            }
            apply(bare, issuer(bare, "pebble", ns), ingress)

            ready = wait_ready(bare, "shop-tls", ns)

            assert ready["spec"]["dnsNames"] == hosts
            assert process.log is not None
            log = process.log.read_text()
            assert log.count("Gateway API not installed") == 1, log
            assert NOT_INSTALLED in log
            assert "Unresolved resources cannot be served" not in log, "kopf was never asked to watch Gateways"
            assert get_or_none(bare, "certificate", "shop-tls", ns)

            # The CRDs installed later: a restart picks them up.
            bare.install_gateway_api()
            process.stop()
            process.start()
            listener = _listener("https", "edge.example.com", "edge-tls")
            apply(bare, _gateway("edge", ns, [listener], {"certwright.dev/issuer": "pebble"}))
            made = eventually(
                lambda: get_or_none(bare, "certificate", "edge-tls", ns),
                lambda found: bool(found),
                what="the restarted operator serves the annotated Gateway",
            )
            assert made["spec"]["dnsNames"] == ["edge.example.com"]
        finally:
            process.stop()
    bare.remove_run_dir()
