"""What an annotated Ingress asks for, as cert-manager's ingress-shim reads it."""

from __future__ import annotations

from typing import Any

import pytest

from certwright.domain.ingresses import parse_default_issuer, plan_for
from certwright.domain.shim import Owner, controlling, owner_of
from certwright.domain.specs import IssuerRef

DEFAULT = IssuerRef(name="letsencrypt", kind="ClusterIssuer")


def ingress(annotations: dict[str, str], tls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"annotations": annotations},
        "spec": {"tls": tls if tls is not None else [{"hosts": ["a.test"], "secretName": "a-tls"}]},
    }


@pytest.mark.parametrize(
    ("annotations", "kind", "name"),
    [
        ({"certwright.dev/issuer": "local"}, "Issuer", "local"),
        ({"certwright.dev/cluster-issuer": "le"}, "ClusterIssuer", "le"),
        ({"cert-manager.io/issuer": "local"}, "Issuer", "local"),
        ({"cert-manager.io/cluster-issuer": "le"}, "ClusterIssuer", "le"),
        ({"kubernetes.io/tls-acme": "true"}, "ClusterIssuer", "letsencrypt"),
        ({"kubernetes.io/tls-acme": "True", "certwright.dev/cluster-issuer": "le"}, "ClusterIssuer", "le"),
        ({"certwright.dev/cluster-issuer": "le", "cert-manager.io/cluster-issuer": "le"}, "ClusterIssuer", "le"),
    ],
    ids=[
        "issuer",
        "cluster-issuer",
        "cm-issuer",
        "cm-cluster-issuer",
        "tls-acme",
        "named-wins-over-default",
        "same-twice",
    ],
)
def test_the_issuer_comes_from_the_annotations(annotations: dict[str, str], kind: str, name: str) -> None:
    plan = plan_for(ingress(annotations), DEFAULT)
    assert plan.problems == ()
    assert plan.certificates["a-tls"]["issuerRef"] == {"name": name, "kind": kind, "group": "certwright.dev"}


def test_an_ingress_without_annotations_is_not_managed() -> None:
    assert not plan_for(ingress({"kubernetes.io/tls-acme": "false"}), DEFAULT).managed


@pytest.mark.parametrize(
    ("annotations", "tls", "default", "says"),
    [
        ({"kubernetes.io/tls-acme": "true"}, None, None, "has no --default-issuer"),
        (
            {"certwright.dev/issuer": "a", "cert-manager.io/issuer": "b"},
            None,
            DEFAULT,
            "the issuer annotations disagree",
        ),
        (
            {"certwright.dev/issuer": "a"},
            [{"hosts": ["x"], "secretName": "s"}, {"hosts": ["y"], "secretName": "s"}],
            DEFAULT,
            "uses secretName s again",
        ),
        ({"certwright.dev/issuer": "a"}, [{"hosts": [], "secretName": "s"}], DEFAULT, "has no hosts"),
        ({"certwright.dev/issuer": "a"}, [{"hosts": ["x"]}], DEFAULT, "has no secretName"),
        ({"certwright.dev/issuer": "a"}, [], DEFAULT, "has no spec.tls entries"),
        ({"certwright.dev/issuer": "a", "certwright.dev/renew-before": "1d"}, None, DEFAULT, "is not a duration"),
        (
            {"certwright.dev/issuer": "a", "certwright.dev/private-key-algorithm": "DSA"},
            None,
            DEFAULT,
            "must be ECDSA or RSA",
        ),
        ({"certwright.dev/issuer": "a", "cert-manager.io/private-key-size": "big"}, None, DEFAULT, "is not a key size"),
    ],
    ids=[
        "tls-acme-without-default",
        "conflict",
        "duplicate-secret",
        "no-hosts",
        "no-secret",
        "no-tls",
        "renew-before",
        "algorithm",
        "size",
    ],
)
def test_bad_configuration_yields_problems_and_no_certificates(
    annotations: dict[str, str], tls: list[dict[str, Any]] | None, default: IssuerRef | None, says: str
) -> None:
    plan = plan_for(ingress(annotations, tls), default)
    assert plan.certificates == {}
    assert any(says in problem for problem in plan.problems), plan.problems


def test_options_and_hosts_are_carried_over() -> None:
    annotations = {
        "cert-manager.io/cluster-issuer": "le",
        "cert-manager.io/renew-before": "360h",
        "cert-manager.io/private-key-algorithm": "RSA",
        "certwright.dev/private-key-size": "3072",
    }
    tls = [{"hosts": ["A.test", "a.test", "b.test"], "secretName": "ab-tls"}]
    spec = plan_for(ingress(annotations, tls), None).certificates["ab-tls"]
    assert spec["dnsNames"] == ["a.test", "b.test"]
    assert spec["renewBefore"] == "360h"
    assert spec["privateKey"] == {"algorithm": "RSA", "size": 3072}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ClusterIssuer/le", IssuerRef("le", "ClusterIssuer")),
        ("Issuer/x", IssuerRef("x", "Issuer")),
        ("le", IssuerRef("le", "ClusterIssuer")),
        ("", None),
    ],
)
def test_default_issuer_flag(text: str, expected: IssuerRef | None) -> None:
    assert parse_default_issuer(text) == expected


def test_a_default_issuer_of_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="use ClusterIssuer/NAME or Issuer/NAME"):
        parse_default_issuer("Gateway/x")


SHOP = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "shop", "namespace": "ns", "uid": "uid-now"},
}


def owned_by(*references: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "shop-tls", "namespace": "ns", "ownerReferences": list(references)}}


def ref(name: str = "shop", uid: str = "uid-now", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": name,
        "uid": uid,
        "controller": True,
    } | extra


@pytest.mark.parametrize(
    ("certificate", "owner"),
    [
        (owned_by(ref()), Owner.THIS),
        (owned_by(ref(uid="uid-before")), Owner.EARLIER),
        (owned_by(ref(controller=False), ref(uid="uid-before")), Owner.EARLIER),
        (owned_by(), Owner.SOMEONE_ELSE),
        ({"metadata": {"name": "shop-tls"}}, Owner.SOMEONE_ELSE),
        (owned_by(ref(name="other", uid="uid-before")), Owner.SOMEONE_ELSE),
        (owned_by(ref(uid="uid-before", controller=False)), Owner.SOMEONE_ELSE),
        (owned_by(ref(kind="Gateway", apiVersion="gateway.networking.k8s.io/v1")), Owner.SOMEONE_ELSE),
        (owned_by(ref(apiVersion="example.com/v1", uid="uid-before")), Owner.SOMEONE_ELSE),
    ],
    ids=[
        "this-ingress",
        "earlier-ingress",
        "earlier-ingress-controls-beside-a-plain-owner",
        "no-owner",
        "no-owner-references-at-all",
        "ingress-of-another-name",
        "not-the-controller",
        "another-kind",
        "an-ingress-of-another-group",
    ],
)
def test_who_owns_a_certificate_the_ingress_asks_for(certificate: dict[str, Any], owner: Owner) -> None:
    assert owner_of(certificate, SHOP) is owner


@pytest.mark.parametrize(
    ("certificate", "ingress"),
    [
        (owned_by(ref()), "shop"),
        (owned_by(ref(uid="uid-before")), "shop"),
        (owned_by(ref(controller=False)), None),
        (owned_by(ref(kind="Certificate", apiVersion="certwright.dev/v1")), None),
        (owned_by(), None),
    ],
    ids=["controller-ingress", "whatever-its-uid", "not-the-controller", "another-kind", "no-owner"],
)
def test_the_ingress_that_controls_a_certificate(certificate: dict[str, Any], ingress: str | None) -> None:
    assert controlling(certificate, "Ingress", "networking.k8s.io") == ingress
