"""Certificate and Issuer specs: defaults, SpecErrors that name their field, durations, solver choice."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from certwright.domain.specs import (
    Dns01,
    IssuerRef,
    ParentRef,
    SecretRef,
    SelfCheck,
    Solver,
    SpecError,
    parse_certificate,
    parse_duration,
    parse_issuer,
    solver_for,
)
from certwright.pki.keys import KeySpec

from ..pki.ca import TinyCA

CERTIFICATE: dict[str, Any] = {
    "secretName": "web-tls",
    "dnsNames": ["www.example.com"],
    "issuerRef": {"name": "letsencrypt"},
}
ACME: dict[str, Any] = {
    "server": "https://acme.test/directory",
    "privateKeySecretRef": {"name": "letsencrypt-account"},
}


def certificate(**fields: Any) -> dict[str, Any]:
    """The minimal Certificate spec with ``fields`` replaced (None removes a field)."""
    spec = {**CERTIFICATE, **fields}
    return {key: value for key, value in spec.items() if value is not None}


def issuer(**fields: Any) -> dict[str, Any]:
    """The minimal Issuer spec with ``spec.acme`` fields replaced (None removes a field)."""
    acme = {**ACME, **fields}
    return {"acme": {key: value for key, value in acme.items() if value is not None}}


# --- Certificate ---------------------------------------------------------------------------------


def test_certificate_defaults() -> None:
    spec = parse_certificate(CERTIFICATE)

    assert spec.secret_name == "web-tls"
    assert spec.dns_names == ("www.example.com",)
    assert spec.issuer_ref == IssuerRef(name="letsencrypt", kind="Issuer")
    assert not spec.issuer_ref.cluster_scoped
    assert spec.key == KeySpec("ECDSA", 256)
    assert spec.rotate_key is True
    assert spec.renew_before is None
    assert spec.secret_labels == {}
    assert spec.secret_annotations == {}


@pytest.mark.parametrize(
    ("private_key", "key", "rotate_key"),
    [
        ({"algorithm": "RSA"}, KeySpec("RSA", 2048), True),
        ({"algorithm": "RSA", "size": 4096}, KeySpec("RSA", 4096), True),
        ({"algorithm": "ECDSA", "size": 384}, KeySpec("ECDSA", 384), True),
        ({"size": 384}, KeySpec("ECDSA", 384), True),
        ({"rotationPolicy": "Always"}, KeySpec("ECDSA", 256), True),
        ({"rotationPolicy": "Never"}, KeySpec("ECDSA", 256), False),
    ],
    ids=["rsa-default-size", "rsa-4096", "ecdsa-384", "size-only", "rotate-always", "rotate-never"],
)
def test_certificate_private_key(private_key: dict[str, Any], key: KeySpec, rotate_key: bool) -> None:
    spec = parse_certificate(certificate(privateKey=private_key))
    assert (spec.key, spec.rotate_key) == (key, rotate_key)


def test_certificate_cluster_issuer_and_template() -> None:
    spec = parse_certificate(
        certificate(
            issuerRef={"name": "letsencrypt", "kind": "ClusterIssuer"},
            renewBefore="720h",
            secretTemplate={"labels": {"team": "shop"}, "annotations": {"reflector/allowed": "true"}},
        )
    )

    assert spec.issuer_ref == IssuerRef(name="letsencrypt", kind="ClusterIssuer")
    assert spec.issuer_ref.cluster_scoped
    assert spec.renew_before == datetime.timedelta(days=30)
    assert spec.secret_labels == {"team": "shop"}
    assert spec.secret_annotations == {"reflector/allowed": "true"}


def test_dns_names_are_lowercased_and_deduplicated_in_order() -> None:
    spec = parse_certificate(
        certificate(dnsNames=["WWW.Example.com", "shop.example.com", "www.example.com", "Shop.Example.COM"])
    )
    assert spec.dns_names == ("www.example.com", "shop.example.com")


def test_a_hundred_dns_names_are_allowed() -> None:
    names = [f"host{n}.example.com" for n in range(100)]
    assert len(parse_certificate(certificate(dnsNames=names)).dns_names) == 100


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        (certificate(secretName=None), "spec.secretName", "required"),
        (certificate(secretName=""), "spec.secretName", "required"),
        (certificate(dnsNames=None), "spec.dnsNames", "1 to 100"),
        (certificate(dnsNames=[]), "spec.dnsNames", "1 to 100"),
        (certificate(dnsNames=["www.example.com", ""]), "spec.dnsNames", "1 to 100"),
        (certificate(dnsNames="www.example.com"), "spec.dnsNames", "1 to 100"),
        (certificate(dnsNames=[f"h{n}.example.com" for n in range(101)]), "spec.dnsNames", "101 names"),
        (certificate(dnsNames=["www.example.com", "192.0.2.10"]), "spec.dnsNames", "192.0.2.10 is an IP address"),
        (certificate(dnsNames=["2001:db8::1"]), "spec.dnsNames", "2001:db8::1 is an IP address"),
        (certificate(issuerRef=None), "spec.issuerRef.name", "required"),
        (certificate(issuerRef={"kind": "ClusterIssuer"}), "spec.issuerRef.name", "required"),
        (certificate(issuerRef={"name": "le", "kind": "CertManagerIssuer"}), "spec.issuerRef.kind", "Issuer or"),
        (certificate(privateKey={"algorithm": "RSA", "size": 1024}), "spec.privateKey", "1024 is not allowed"),
        (certificate(privateKey={"algorithm": "Ed25519"}), "spec.privateKey", "'Ed25519' is not allowed"),
        (certificate(privateKey={"size": 521}), "spec.privateKey", "521 is not allowed"),
        (certificate(renewBefore="abc"), "spec.renewBefore", "'abc' is not a duration"),
        (certificate(renewBefore="30d"), "spec.renewBefore", "'30d' is not a duration"),
    ],
    ids=[
        "secret-name-missing",
        "secret-name-empty",
        "dns-names-missing",
        "dns-names-empty",
        "dns-name-empty-string",
        "dns-names-not-a-list",
        "dns-names-101",
        "ipv4-address",
        "ipv6-address",
        "issuer-ref-missing",
        "issuer-ref-name-missing",
        "issuer-ref-kind",
        "rsa-1024",
        "ed25519",
        "ecdsa-521",
        "renew-before-abc",
        "renew-before-days",
    ],
)
def test_certificate_spec_error_names_its_field(spec: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_certificate(spec)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert says in str(caught.value)


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)


# --- Durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("720h", datetime.timedelta(days=30)),
        ("1h30m", datetime.timedelta(hours=1, minutes=30)),
        ("90s", datetime.timedelta(seconds=90)),
        ("1.5h", datetime.timedelta(hours=1, minutes=30)),
        ("2h45m30s", datetime.timedelta(hours=2, minutes=45, seconds=30)),
        ("1500ms", datetime.timedelta(seconds=1.5)),
        ("0s", datetime.timedelta(0)),
    ],
    ids=["720h", "1h30m", "90s", "fractional-hours", "h-m-s", "milliseconds", "zero"],
)
def test_parse_duration(text: str, expected: datetime.timedelta) -> None:
    assert parse_duration(text, "spec.renewBefore") == expected


@pytest.mark.parametrize(
    "text",
    ["abc", "", "10", "h", "1d", "1h 30m", " 1h", "-1h", "1h30"],
    ids=["letters", "empty", "no-unit", "no-number", "days", "space-inside", "leading-space", "negative", "tail"],
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_duration(text, "spec.renewBefore")
    assert caught.value.field == "spec.renewBefore"
    assert "such as 720h or 1h30m" in str(caught.value)


# --- Issuer --------------------------------------------------------------------------------------


def test_issuer_defaults() -> None:
    spec = parse_issuer(issuer(email="", solvers=[{"http01": {"ingress": {}}}]))

    assert spec.server == "https://acme.test/directory"
    assert spec.email is None
    assert spec.account_key == SecretRef("letsencrypt-account", "tls.key")
    assert spec.ca_bundle is None
    assert spec.external_account is None
    assert spec.profile is None
    assert spec.preferred_chain is None
    (solver,) = spec.solvers
    assert solver.ingress_class is None
    assert solver.service_type == "ClusterIP"
    assert (solver.dns_names, solver.dns_zones) == ((), ())
    assert solver.self_check == SelfCheck(mode="Check", wait_seconds=10, timeout_seconds=60)


def test_issuer_without_solvers_has_none() -> None:
    assert parse_issuer(issuer()).solvers == ()


def test_external_account_binding_defaults_to_hs256() -> None:
    spec = parse_issuer(issuer(externalAccountBinding={"keyID": "kid-1", "keySecretRef": {"name": "eab"}}))

    assert spec.external_account is not None
    assert spec.external_account.key_id == "kid-1"
    assert spec.external_account.secret == SecretRef("eab", "secret")
    assert spec.external_account.algorithm == "HS256"


def test_issuer_fields_are_read() -> None:
    spec = parse_issuer(
        issuer(
            email="ops@example.com",
            privateKeySecretRef={"name": "account", "key": "key.pem"},
            externalAccountBinding={
                "keyID": "kid-1",
                "keySecretRef": {"name": "eab", "key": "hmac"},
                "keyAlgorithm": "HS512",
            },
            profile="shortlived",
            preferredChain="ISRG Root X1",
        )
    )

    assert spec.email == "ops@example.com"
    assert spec.account_key == SecretRef("account", "key.pem")
    assert spec.external_account is not None
    assert (spec.external_account.secret, spec.external_account.algorithm) == (SecretRef("eab", "hmac"), "HS512")
    assert (spec.profile, spec.preferred_chain) == ("shortlived", "ISRG Root X1")


def test_ca_bundle_is_decoded_to_pem() -> None:
    pem = TinyCA.root().certificate.public_bytes(serialization.Encoding.PEM)
    spec = parse_issuer(issuer(caBundle=base64.b64encode(pem).decode()))
    assert spec.ca_bundle == pem


def test_solver_fields_are_read() -> None:
    solver_spec = {
        "selector": {"dnsNames": ["WWW.Example.com"], "dnsZones": ["Example.COM."]},
        "selfCheck": {"mode": "Wait", "waitSeconds": 30, "timeoutSeconds": 90},
        "http01": {
            "ingress": {
                "ingressClassName": "nginx",
                "serviceType": "NodePort",
                "podTemplate": {
                    "metadata": {"labels": {"team": "edge"}, "annotations": {"sidecar": "off"}},
                    "spec": {
                        "nodeSelector": {"pool": "edge"},
                        "tolerations": [{"key": "edge", "operator": "Exists"}],
                        "priorityClassName": "low",
                    },
                },
                "ingressTemplate": {"metadata": {"labels": {"lb": "public"}, "annotations": {"a": "b"}}},
            }
        },
    }

    (solver,) = parse_issuer(issuer(solvers=[solver_spec])).solvers

    assert solver == Solver(
        ingress_class="nginx",
        service_type="NodePort",
        dns_names=("www.example.com",),
        dns_zones=("example.com",),
        pod_labels={"team": "edge"},
        pod_annotations={"sidecar": "off"},
        node_selector={"pool": "edge"},
        tolerations=({"key": "edge", "operator": "Exists"},),
        priority_class="low",
        ingress_labels={"lb": "public"},
        ingress_annotations={"a": "b"},
        self_check=SelfCheck(mode="Wait", wait_seconds=30, timeout_seconds=90),
    )


NOT_PEM = base64.b64encode(b"just some text, no certificate").decode()
HTTP01: dict[str, Any] = {"http01": {"ingress": {}}}
RFC2136: dict[str, Any] = {
    "dns01": {
        "rfc2136": {
            "nameserver": "10.0.0.53:5353",
            "tsigKeyName": "acme-update",
            "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
        }
    }
}


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({}, "spec.acme", "required"),
        ({"acme": "https://acme.test/directory"}, "spec.acme", "required"),
        (issuer(server=None), "spec.acme.server", "https://"),
        (issuer(server="http://acme.test/directory"), "spec.acme.server", "https://"),
        (issuer(privateKeySecretRef=None), "spec.acme.privateKeySecretRef.name", "required"),
        (issuer(privateKeySecretRef={"key": "tls.key"}), "spec.acme.privateKeySecretRef.name", "required"),
        (issuer(caBundle="not base64!"), "spec.acme.caBundle", "base64"),
        (issuer(caBundle=NOT_PEM), "spec.acme.caBundle", "no PEM certificate"),
        (issuer(externalAccountBinding={"keySecretRef": {"name": "eab"}}), "spec.acme.externalAccountBinding", "keyID"),
        (issuer(externalAccountBinding={"keyID": "kid-1"}), "spec.acme.externalAccountBinding", "keySecretRef"),
        (issuer(solvers=[{"dns01": {}}]), "spec.acme.solvers[0].dns01", "exactly one provider"),
        (issuer(solvers=[HTTP01, {"selector": {}}]), "spec.acme.solvers[1]", "exactly one of http01 or dns01"),
        (issuer(solvers=[{**HTTP01, **RFC2136}]), "spec.acme.solvers[0]", "exactly one of http01 or dns01"),
        (
            issuer(solvers=[{"dns01": {**RFC2136["dns01"], "plugin": {"name": "x"}}}]),
            "spec.acme.solvers[0].dns01",
            "exactly one provider",
        ),
        (
            issuer(solvers=[{"dns01": {"rfc2136": {"nameserver": "ns.example.com", "tsigAlgorithm": "HMACMD5"}}}]),
            "spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm",
            "use one of HMACSHA256",
        ),
        (
            issuer(solvers=[{"dns01": {"rfc2136": {"nameserver": "ns.example.com", "tsigKeyName": "k"}}}]),
            "spec.acme.solvers[0].dns01.rfc2136",
            "go together",
        ),
        (
            issuer(solvers=[{"dns01": {"rfc2136": {"tsigKeyName": "k"}}}]),
            "spec.acme.solvers[0].dns01.rfc2136.nameserver",
            "required",
        ),
        (issuer(solvers=[{"dns01": {"plugin": {"config": {}}}}]), "spec.acme.solvers[0].dns01.plugin.name", "required"),
        (issuer(solvers=[{"http01": {}}]), "spec.acme.solvers[0].http01", "exactly one of ingress or gatewayHTTPRoute"),
        (
            issuer(solvers=[{"http01": {"ingress": {}, "gatewayHTTPRoute": {"parentRefs": [{"name": "g"}]}}}]),
            "spec.acme.solvers[0].http01",
            "exactly one of ingress or gatewayHTTPRoute",
        ),
        (
            issuer(solvers=[{"http01": {"gatewayHTTPRoute": {"parentRefs": []}}}]),
            "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs",
            "at least one Gateway",
        ),
        (
            issuer(solvers=[{"http01": {"gatewayHTTPRoute": {"parentRefs": [{"namespace": "x"}]}}}]),
            "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].name",
            "required",
        ),
    ],
    ids=[
        "acme-missing",
        "acme-not-a-mapping",
        "server-missing",
        "server-http",
        "account-key-ref-missing",
        "account-key-ref-name-missing",
        "ca-bundle-not-base64",
        "ca-bundle-not-pem",
        "eab-without-key-id",
        "eab-without-secret",
        "dns01-without-provider",
        "second-solver-without-a-type",
        "http01-and-dns01",
        "rfc2136-and-plugin",
        "tsig-md5",
        "tsig-key-without-secret",
        "rfc2136-without-nameserver",
        "plugin-without-name",
        "http01-without-a-route",
        "http01-with-both-routes",
        "gateway-without-parents",
        "gateway-parent-without-name",
    ],
)
def test_issuer_spec_error_names_its_field(spec: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_issuer(spec)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert says in str(caught.value)


# --- Choosing a solver ---------------------------------------------------------------------------

SOLVERS = {
    "any": Solver(ingress_class="any"),
    "exact": Solver(ingress_class="exact", dns_names=("www.example.com", "api.example.com")),
    "zone": Solver(ingress_class="zone", dns_zones=("example.com",)),
    "subzone": Solver(ingress_class="subzone", dns_zones=("shop.example.com",)),
    "other-zone": Solver(ingress_class="other-zone", dns_zones=("example.org",)),
    "dns-any": Solver(dns01=Dns01("rfc2136", {}, "f")),
    "dns-zone": Solver(dns01=Dns01("rfc2136", {}, "f"), dns_zones=("example.com",)),
}


@pytest.mark.parametrize(
    ("offered", "dns_name", "chosen"),
    [
        (["any", "zone", "exact"], "www.example.com", "exact"),
        (["exact", "zone", "any"], "api.example.com", "exact"),
        (["any", "zone"], "www.example.com", "zone"),
        (["zone", "subzone", "any"], "a.shop.example.com", "subzone"),
        (["subzone", "zone"], "a.shop.example.com", "subzone"),
        (["zone", "subzone"], "shop.example.com", "subzone"),
        (["zone"], "example.com", "zone"),
        (["exact", "zone", "any"], "example.org", "any"),
        (["any", "exact"], "shop.example.com", "any"),
        (["exact", "zone"], "example.org", None),
        (["zone"], "badexample.com", None),
        (["other-zone", "subzone"], "www.example.com", None),
        ([], "www.example.com", None),
        (["any", "zone", "dns-any"], "*.example.com", "dns-any"),
        (["exact", "zone", "any"], "*.example.com", None),
        (["zone", "dns-zone"], "*.example.com", "dns-zone"),
        (["zone", "dns-zone"], "www.example.com", "zone"),
        (["subzone", "dns-zone"], "a.shop.example.com", "subzone"),
        (["other-zone", "dns-any"], "www.example.org", "other-zone"),
        (["other-zone", "dns-any"], "www.example.com", "dns-any"),
    ],
    ids=[
        "exact-over-zone-and-any",
        "exact-listed-first",
        "zone-over-any",
        "longest-zone",
        "longest-zone-listed-first",
        "zone-apex-of-longest",
        "zone-apex",
        "any-when-no-selector-matches",
        "exact-that-misses-leaves-any",
        "nothing-matches",
        "zone-suffix-on-label-boundary-only",
        "no-zone-covers-the-name",
        "no-solvers",
        "wildcard-skips-http01",
        "wildcard-with-http01-only",
        "wildcard-takes-dns01-of-equal-zone",
        "first-of-equal-zones-for-a-plain-name",
        "http01-longer-zone-over-dns01",
        "http01-zone-and-dns01-for-the-rest",
        "dns01-for-names-no-zone-covers",
    ],
)
def test_solver_for(offered: list[str], dns_name: str, chosen: str | None) -> None:
    solvers = tuple(SOLVERS[name] for name in offered)
    expected = None if chosen is None else SOLVERS[chosen]
    assert solver_for(solvers, dns_name) is expected


def test_a_dns01_solver_is_read_with_its_provider_and_kept_as_written() -> None:
    written = {**RFC2136, "selector": {"dnsZones": ["Example.com"]}, "selfCheck": {"nameservers": "Solver"}}
    written["dns01"] = {**written["dns01"], "cnameStrategy": "Follow"}
    solver = parse_issuer(issuer(solvers=[HTTP01, written])).solvers[1]
    assert solver.dns01 == Dns01(
        "rfc2136", written["dns01"]["rfc2136"], "spec.acme.solvers[1].dns01.rfc2136", follow_cname=True
    )
    assert solver.challenge_type == "dns-01"
    assert solver.dns_zones == ("example.com",)
    assert solver.self_check.nameservers == "Solver"
    assert solver.raw == written


def test_a_gateway_http01_solver_is_read_with_its_parent_refs() -> None:
    written = {
        "http01": {
            "gatewayHTTPRoute": {
                "parentRefs": [{"name": "edge", "namespace": "infra", "sectionName": "http"}, {"name": "local"}],
                "labels": {"routes": "acme"},
                "serviceType": "NodePort",
                "podTemplate": {"spec": {"nodeSelector": {"pool": "edge"}}},
            }
        }
    }
    solver = parse_issuer(issuer(solvers=[written])).solvers[0]
    assert solver.parent_refs == (ParentRef("edge", "infra", section_name="http"), ParentRef("local"))
    assert solver.route_labels == {"routes": "acme"}
    assert solver.service_type == "NodePort"
    assert solver.node_selector == {"pool": "edge"}
    assert solver.ingress_class is None
    assert solver.challenge_type == "http-01"
    assert ParentRef("edge", "infra", section_name="http", port=80).to_route() == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "edge",
        "namespace": "infra",
        "sectionName": "http",
        "port": 80,
    }


def test_a_plugin_solver_keeps_its_config_for_the_plugin() -> None:
    config = {"apiTokenSecretRef": {"name": "cf", "key": "token"}, "proxied": False}
    solver = parse_issuer(issuer(solvers=[{"dns01": {"plugin": {"name": "cloudflare", "config": config}}}])).solvers[0]
    assert solver.dns01 == Dns01("cloudflare", config, "spec.acme.solvers[0].dns01.plugin.config")
    assert solver.self_check.nameservers == "Authoritative"


def test_solver_for_takes_the_first_of_equals() -> None:
    first = Solver(ingress_class="first")
    second = Solver(ingress_class="second")
    assert solver_for((first, second), "www.example.com") is first
