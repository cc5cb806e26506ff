"""What an annotated Gateway asks for, as cert-manager's gateway-shim reads its listeners."""

from __future__ import annotations

from typing import Any

import pytest

from certwright.domain.gateways import ignored_listeners, plan_for
from certwright.domain.shim import Owner, owner_of

ISSUER = {"certwright.dev/cluster-issuer": "le"}


def listener(
    name: str,
    hostname: str | None = None,
    ref_name: str | None = "shop-tls",
    protocol: str = "HTTPS",
    **tls: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "protocol": protocol, "port": 443}
    if hostname is not None:
        entry["hostname"] = hostname
    if ref_name is not None:
        entry["tls"] = {"certificateRefs": [{"name": ref_name}], **tls}
    elif tls:
        entry["tls"] = tls
    return entry


def gateway(annotations: dict[str, str], *listeners: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "ns", "uid": "uid-now", "annotations": annotations},
        "spec": {"gatewayClassName": "any", "listeners": list(listeners)},
    }


def ref(**fields: Any) -> dict[str, Any]:
    return {"name": "shop-tls", **fields}


@pytest.mark.parametrize(
    ("listeners", "annotations", "expected"),
    [
        ([listener("a", "a.test")], {}, {"shop-tls": ["a.test"]}),
        (
            [listener("a", "a.test"), listener("b", "b.test"), listener("c", "c.test", "api-tls")],
            {},
            {"shop-tls": ["a.test", "b.test"], "api-tls": ["c.test"]},
        ),
        (
            [listener("a", "a.test"), listener("a-tls", "a.test", protocol="TLS"), listener("b", "B.test")],
            {},
            {"shop-tls": ["a.test", "b.test"]},
        ),
        ([listener("a", "a.test", mode="Terminate")], {}, {"shop-tls": ["a.test"]}),
        ([listener("a", "*.a.test")], {}, {"shop-tls": ["*.a.test"]}),
        (
            [listener("a", "a.test", None, protocol="HTTP"), listener("b", "b.test", "b-tls")],
            {},
            {"b-tls": ["b.test"]},
        ),
        ([listener("a", "a.test", protocol="https"), listener("b", "b.test", "b-tls")], {}, {"b-tls": ["b.test"]}),
        ([listener("a", None, None, protocol="TLS", mode="Passthrough")], {}, {}),
        ([listener("a", "a.test", mode="Passthrough"), listener("b", "b.test", "b-tls")], {}, {"b-tls": ["b.test"]}),
        (
            [listener("a", "a.test"), listener("b", "b.test", "b-tls"), listener("c", None, "c-tls")],
            {"cert-manager.io/ignore-tls-listeners": "c, b"},
            {"shop-tls": ["a.test"]},
        ),
        ([listener("a", "a.test")], {"certwright.dev/ignore-tls-listeners": "a"}, {}),
        (
            [listener("a", "a.test"), listener("ab", "ab.test", "ab-tls")],
            {"cert-manager.io/ignore-tls-listeners": "a,"},
            {"ab-tls": ["ab.test"]},
        ),
        (
            [
                {
                    "name": "a",
                    "protocol": "HTTPS",
                    "hostname": "a.test",
                    "tls": {"certificateRefs": [ref(group="", kind="Secret", namespace="ns"), ref(name="rsa-tls")]},
                }
            ],
            {},
            {"shop-tls": ["a.test"], "rsa-tls": ["a.test"]},
        ),
        ([listener("a", "a.test", None, protocol="HTTP")], {}, {}),
        ([], {}, {}),
    ],
    ids=[
        "one-listener",
        "two-listeners-share-a-secret-a-third-has-its-own",
        "shared-secret-hosts-deduplicated-in-listener-order",
        "terminate-said-explicitly",
        "wildcard",
        "http-listener-skipped",
        "protocol-compared-exactly",
        "passthrough-without-anything-skipped",
        "passthrough-skipped",
        "ignore-tls-listeners-comma-list-trimmed",
        "certwright-ignore-annotation",
        "ignore-matches-whole-names-only",
        "each-certificate-ref-gets-the-hostname",
        "no-tls-listener-no-certificates",
        "no-listeners",
    ],
)
def test_listeners_become_one_certificate_per_secret(
    listeners: list[dict[str, Any]], annotations: dict[str, str], expected: dict[str, list[str]]
) -> None:
    plan = plan_for(gateway(ISSUER | annotations, *listeners))
    assert plan.problems == ()
    assert plan.managed
    assert {name: spec["dnsNames"] for name, spec in plan.certificates.items()} == expected
    assert list(plan.certificates) == list(expected), "in listener order"
    for name, spec in plan.certificates.items():
        assert spec["secretName"] == name


@pytest.mark.parametrize(
    ("annotations", "kind", "name"),
    [
        ({"certwright.dev/issuer": "local"}, "Issuer", "local"),
        ({"certwright.dev/cluster-issuer": "le"}, "ClusterIssuer", "le"),
        ({"cert-manager.io/issuer": "local"}, "Issuer", "local"),
        ({"cert-manager.io/cluster-issuer": "le"}, "ClusterIssuer", "le"),
        ({"certwright.dev/cluster-issuer": "le", "cert-manager.io/cluster-issuer": "le"}, "ClusterIssuer", "le"),
    ],
    ids=["issuer", "cluster-issuer", "cm-issuer", "cm-cluster-issuer", "same-twice"],
)
def test_the_issuer_comes_from_the_annotations(annotations: dict[str, str], kind: str, name: str) -> None:
    plan = plan_for(gateway(annotations, listener("a", "a.test")))
    assert plan.certificates["shop-tls"]["issuerRef"] == {"name": name, "kind": kind, "group": "certwright.dev"}


@pytest.mark.parametrize(
    "annotations",
    [{}, {"kubernetes.io/tls-acme": "true"}, {"cert-manager.io/ignore-tls-listeners": "a"}],
    ids=["none", "tls-acme-is-for-ingresses-only", "only-ignore"],
)
def test_a_gateway_without_issuer_annotations_is_not_managed(annotations: dict[str, str]) -> None:
    plan = plan_for(gateway(annotations, listener("a", "a.test")))
    assert not plan.managed
    assert plan.certificates == {}


def test_options_are_read_as_for_ingresses() -> None:
    annotations = ISSUER | {
        "cert-manager.io/renew-before": "360h",
        "cert-manager.io/private-key-algorithm": "RSA",
        "certwright.dev/private-key-size": "3072",
    }
    spec = plan_for(gateway(annotations, listener("a", "a.test"))).certificates["shop-tls"]
    assert spec["renewBefore"] == "360h"
    assert spec["privateKey"] == {"algorithm": "RSA", "size": 3072}


@pytest.mark.parametrize(
    ("listeners", "annotations", "says"),
    [
        ([listener("a")], ISSUER, "spec.listeners[0] (a) has no hostname"),
        ([listener("a", "a.test", None)], ISSUER, "spec.listeners[0] (a) has no tls"),
        ([listener("a", "a.test", None, certificateRefs=[])], ISSUER, "has no tls.certificateRefs"),
        (
            [listener("a", "a.test", None, certificateRefs=[ref(namespace="other")])],
            ISSUER,
            "names a Secret in namespace other",
        ),
        (
            [listener("a", "a.test", None, certificateRefs=[ref(kind="ConfigMap")])],
            ISSUER,
            "is a ConfigMap of group ''",
        ),
        (
            [listener("a", "a.test", None, certificateRefs=[ref(group="example.com")])],
            ISSUER,
            "is a Secret of group 'example.com'",
        ),
        ([listener("a", "a.test", None, certificateRefs=[{"name": ""}])], ISSUER, "has no name"),
        ([listener("a", "a.test", mode="Mirror")], ISSUER, "has tls.mode 'Mirror'"),
        (
            [listener("a", "a.test")],
            {"certwright.dev/issuer": "a", "cert-manager.io/cluster-issuer": "b"},
            "the issuer annotations disagree",
        ),
        ([listener("a", "a.test")], ISSUER | {"certwright.dev/renew-before": "1d"}, "is not a duration"),
        ([listener("a", "a.test")], ISSUER | {"cert-manager.io/private-key-algorithm": "DSA"}, "must be ECDSA or RSA"),
        ([listener("a", "a.test")], ISSUER | {"cert-manager.io/private-key-size": "big"}, "is not a key size"),
        ([listener("ok", "ok.test", "ok-tls"), listener("b")], ISSUER, "spec.listeners[1] (b) has no hostname"),
    ],
    ids=[
        "no-hostname",
        "no-tls",
        "no-certificate-refs",
        "cross-namespace-ref",
        "another-kind",
        "another-group",
        "ref-without-name",
        "unknown-mode",
        "conflicting-issuers",
        "renew-before",
        "algorithm",
        "size",
        "one-bad-listener-stops-all",
    ],
)
def test_bad_configuration_yields_problems_and_no_certificates(
    listeners: list[dict[str, Any]], annotations: dict[str, str], says: str
) -> None:
    plan = plan_for(gateway(annotations, *listeners))
    assert plan.managed
    assert plan.certificates == {}
    assert any(says in problem for problem in plan.problems), plan.problems


def test_every_problem_is_told() -> None:
    plan = plan_for(gateway(ISSUER, listener("a"), listener("b", "b.test", None, certificateRefs=[ref(namespace="x")])))
    assert len(plan.problems) == 2, plan.problems


def test_core_group_and_the_gateways_own_namespace_are_a_local_secret() -> None:
    core = listener("a", "a.test", None, certificateRefs=[ref(group="core", kind="Secret", namespace="ns")])
    assert list(plan_for(gateway(ISSUER, core)).certificates) == ["shop-tls"]


@pytest.mark.parametrize(
    ("annotations", "ignored"),
    [
        ({}, set()),
        ({"cert-manager.io/ignore-tls-listeners": " a , b ,,"}, {"a", "b"}),
        ({"cert-manager.io/ignore-tls-listeners": "a b"}, {"a b"}),
        ({"certwright.dev/ignore-tls-listeners": "x", "cert-manager.io/ignore-tls-listeners": "y"}, {"x"}),
    ],
    ids=["none", "comma-list-trimmed", "spaces-do-not-separate", "certwright-key-first"],
)
def test_ignored_listener_names(annotations: dict[str, str], ignored: set[str]) -> None:
    assert ignored_listeners(annotations) == ignored


def certificate_controlled_by(**reference: Any) -> dict[str, Any]:
    owner = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "edge", "uid": "uid-now"}
    return {"metadata": {"name": "shop-tls", "ownerReferences": [owner | {"controller": True} | reference]}}


@pytest.mark.parametrize(
    ("certificate", "owner"),
    [
        (certificate_controlled_by(), Owner.THIS),
        (certificate_controlled_by(uid="uid-before"), Owner.EARLIER),
        (certificate_controlled_by(kind="Ingress", apiVersion="networking.k8s.io/v1"), Owner.SOMEONE_ELSE),
        (certificate_controlled_by(apiVersion="gateway.networking.k8s.io/v1beta1"), Owner.THIS),
        (certificate_controlled_by(apiVersion="example.com/v1"), Owner.SOMEONE_ELSE),
    ],
    ids=["this-gateway", "earlier-gateway", "an-ingress-of-the-same-name", "another-version", "another-group"],
)
def test_who_owns_a_certificate_the_gateway_asks_for(certificate: dict[str, Any], owner: Owner) -> None:
    assert owner_of(certificate, gateway(ISSUER)) is owner
