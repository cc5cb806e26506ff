"""The bad-input corpus (issue 17): malformed and hostile manifests, and what a person sees for each.

One table, one row per manifest, each with its outcome: refused by the API server with a message that
names the field and the rule (``REFUSED``, substrings of kubectl's error); accepted and reported as
``Ready=False`` with a reason, or as a BadConfig Event on an annotated Ingress or Gateway
(``NOT_READY``); or valid but unusual and handled the way Let's Encrypt and DNS treat it
(``HANDLED``). Whatever the outcome, the operator keeps running, leaves no half-written Secret and
places no order the CA would refuse; at the end its log holds no traceback.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually
from tests.reliability import bad_input

from .certwright import (
    certificate,
    condition,
    get,
    get_or_none,
    issuer,
    leaf_names,
    namespace,
    orders,
    rfc2136,
    wait_issuer_ready,
    wait_ready,
)

Manifests = Callable[[Environment, str], list[dict[str, Any]]]
WAIT = 30  # seconds: a refusal is immediate, a Ready=False reason comes within seconds, never a back-off


class Outcome(Enum):
    REFUSED = "refused by the API server"
    NOT_READY = "Ready=False with a reason, or a BadConfig Event"
    HANDLED = "valid but unusual: handled as the CA and DNS treat it"


@dataclass(frozen=True)
class Case:
    id: str
    manifests: Manifests  # the hostile objects, for the case's namespace
    outcome: Outcome
    says: tuple[str, ...]  # in kubectl's error, the condition's message, or the BadConfig Event
    reason: str = ""  # NOT_READY: the Ready reason, or BadConfig for an Ingress or Gateway
    given: tuple[str, ...] = ()  # Secrets the case itself applies (not written by certwright)


def _host() -> str:
    return f"{uuid.uuid4().hex[:10]}.example.test"


def _cert(**spec: Any) -> Manifests:
    """A Certificate ``bad`` of the run's Issuer ``pebble`` for one fresh name, with ``spec`` over it;
    None deletes a field."""

    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        manifest = certificate("bad", ns, [_host()], "pebble")
        manifest["spec"].update(spec)
        manifest["spec"] = {key: value for key, value in manifest["spec"].items() if value is not None}
        return [manifest]

    return build


def _names(*dns_names: str) -> Manifests:
    return _cert(dnsNames=list(dns_names))


def _issuer(
    cluster: bool = False, extra: Callable[[str], list[dict[str, Any]]] | None = None, **acme: Any
) -> Manifests:
    """An Issuer ``bad`` (or a ClusterIssuer of a unique name) with ``acme`` over the run's good settings;
    None deletes a field."""

    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        name = f"bad-{ns}" if cluster else "bad"
        manifest = issuer(env, name, None if cluster else ns, **acme)
        manifest["spec"]["acme"] = {key: value for key, value in manifest["spec"]["acme"].items() if value is not None}
        return [*(extra(ns) if extra else []), manifest]

    return build


def _tsig(**changes: Any) -> Manifests:
    """An Issuer ``bad`` whose one solver is the run's RFC 2136 one with ``changes``."""

    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        return _issuer(solvers=[rfc2136(env, **changes)])(env, ns)

    return build


def _ingress(tls: list[dict[str, Any]], annotations: dict[str, str]) -> Manifests:
    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        backend = {"service": {"name": "shop", "port": {"number": 80}}}
        return [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "bad", "namespace": ns, "annotations": annotations},
                "spec": {"ingressClassName": "nginx", "defaultBackend": backend, "tls": tls},
            }
        ]

    return build


def _listener(name: str, hostname: str | None, **tls: Any) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "name": name,
        "protocol": "HTTPS",
        "port": 443,
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "bad-tls"}], **tls},
    }
    if hostname is not None:
        listener["hostname"] = hostname
    return listener


def _gateway(listeners: list[dict[str, Any]], annotations: dict[str, str]) -> Manifests:
    """A Gateway of a class no controller here serves, so nothing but the test and certwright touch it."""

    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        http = {"name": "http", "protocol": "HTTP", "port": 80}
        return [
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "bad", "namespace": ns, "annotations": annotations},
                "spec": {"gatewayClassName": "unserved", "listeners": [http, *listeners]},
            }
        ]

    return build


def _with(first: Manifests, *more: Manifests) -> Manifests:
    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        return [obj for part in (first, *more) for obj in part(env, ns)]

    return build


def _opaque(name: str) -> Manifests:
    def build(env: Environment, ns: str) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": ns},
                "type": "Opaque",
                "stringData": {"password": "hunter2"},
            }
        ]

    return build


def _twice() -> dict[str, Any]:
    host = _host()
    return {"hosts": [host, host], "secretName": "bad-tls"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


LABEL_64 = "a" * 64
NAME_254 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "test"])  # 254 characters
PLUGIN_LABELS = {f"k{i}": "v" for i in range(65)}
ISSUER = {"certwright.dev/issuer": "pebble"}
REFUSED, NOT_READY, HANDLED = Outcome.REFUSED, Outcome.NOT_READY, Outcome.HANDLED

CASES = [
    # --- Certificates: wrong types and missing fields ---------------------------------------------------
    Case(
        "cert-dnsnames-a-string",
        _cert(dnsNames="shop.example.test"),
        REFUSED,
        ("Certificate.spec.dnsNames", 'got "string", expected "array"'),
    ),
    Case(
        "cert-dnsnames-missing",
        _cert(dnsNames=None),
        REFUSED,
        ('missing required field "dnsNames" in dev.certwright.v1.Certificate.spec',),
    ),
    Case("cert-dnsnames-empty", _cert(dnsNames=[]), REFUSED, ("spec.dnsNames", "should have at least 1 items")),
    Case(
        "cert-secretname-missing",
        _cert(secretName=None),
        REFUSED,
        ('missing required field "secretName" in dev.certwright.v1.Certificate.spec',),
    ),
    Case(
        "cert-issuerref-missing",
        _cert(issuerRef=None),
        REFUSED,
        ('missing required field "issuerRef" in dev.certwright.v1.Certificate.spec',),
    ),
    Case(
        "cert-issuerref-name-a-number",
        _cert(issuerRef={"name": 7}),
        REFUSED,
        ("spec.issuerRef.name", "must be of type string"),
    ),
    Case(
        "cert-key-size-a-string",
        _cert(privateKey={"size": "big"}),
        REFUSED,
        ("Certificate.spec.privateKey.size", 'got "string", expected "integer"'),
    ),
    Case(
        "cert-misspelt-field",
        _cert(dnsName=["a.example.test"]),
        REFUSED,
        ('unknown field "dnsName" in dev.certwright.v1.Certificate.spec',),
    ),
    # --- Certificates: the rules of DNS names ----------------------------------------------------------
    Case("name-longer-than-253", _names(NAME_254), REFUSED, ("spec.dnsNames[0]", "Too long", "253")),
    Case(
        "ipv4-address",
        _names("192.0.2.10"),
        REFUSED,
        ("spec.dnsNames[0]", "192.0.2.10 is an IP address; certwright issues certificates for DNS names only"),
    ),
    Case(
        "ipv6-address",
        _names("2001:db8::10"),
        REFUSED,
        ("spec.dnsNames[0]", "2001:db8::10 is an IP address; certwright issues certificates for DNS names only"),
    ),
    Case(
        "upper-case",
        _names("Shop.Example.test"),
        REFUSED,
        (
            "spec.dnsNames[0]",
            "Shop.Example.test has upper-case letters; DNS names are case-insensitive: "
            "write it in lower case (shop.example.test)",
        ),
    ),
    Case(
        "unicode-name",
        _names("bücher.example.test"),
        REFUSED,
        (
            "spec.dnsNames[0]",
            "is not ASCII: write an internationalised name in its punycode form (xn--",
        ),
    ),
    Case(
        "trailing-dot",
        _names("shop.example.test."),
        REFUSED,
        ("spec.dnsNames[0]", "ends with a dot: write it without the trailing dot (shop.example.test)"),
    ),
    Case("empty-name", _names(""), REFUSED, ("spec.dnsNames[0]", "a DNS name cannot be empty")),
    Case(
        "label-longer-than-63",
        _names(f"{LABEL_64}.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", "has a label longer than 63 characters"),
    ),
    Case(
        "label-starts-with-hyphen",
        _names("-shop.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", "-shop.example.test has a label that starts or ends with a hyphen"),
    ),
    Case(
        "underscore-in-name",
        _names("shop_1.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", "has characters other than letters, digits, hyphens and dots"),
    ),
    Case(
        "wildcard-in-the-middle",
        _names("shop.*.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", 'shop.*.example.test has a "*" other than a whole first label', "*.example.test"),
    ),
    Case(
        "two-wildcards",
        _names("*.*.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", "a wildcard may only be the whole first label, once"),
    ),
    Case(
        "partial-wildcard",
        _names("shop*.example.test"),
        REFUSED,
        ("spec.dnsNames[0]", 'shop*.example.test has a "*" other than a whole first label'),
    ),
    Case("bare-wildcard", _names("*"), REFUSED, ("spec.dnsNames[0]", "* alone is not a name", "*.example.test")),
    Case("idn-in-punycode", lambda env, ns: _names(f"xn--bcher-kva.{_host()}")(env, ns), HANDLED, ()),
    Case(
        "duplicate-names",
        _names("dup.example.test", "dup.example.test"),
        REFUSED,
        ("spec.dnsNames[1]", "Duplicate value"),
    ),
    Case(
        "more-than-100-names",
        _cert(dnsNames=[f"n{i}.example.test" for i in range(101)]),
        REFUSED,
        ("spec.dnsNames", "must have at most 100 items"),
    ),
    # --- Certificates: issuers, Secrets and oversized fields -------------------------------------------
    Case(
        "unknown-issuer-kind",
        _cert(issuerRef={"name": "pebble", "kind": "Vault"}),
        REFUSED,
        ("spec.issuerRef.kind", 'Unsupported value: "Vault"', '"Issuer", "ClusterIssuer"'),
    ),
    Case(
        "cert-manager-issuer-group",
        _cert(issuerRef={"name": "pebble", "group": "cert-manager.io"}),
        REFUSED,
        ("spec.issuerRef.group", 'Unsupported value: "cert-manager.io"'),
    ),
    Case("secretname-too-long", _cert(secretName="s" * 254), REFUSED, ("spec.secretName", "Too long")),
    Case(
        "secretname-with-a-namespace",
        _cert(secretName="kube-system/shop-tls"),
        REFUSED,
        (
            "spec.secretName",
            "kube-system/shop-tls is not a Secret name: lower-case letters, digits, '-' and '.', no '/'",
            "the Secret lives in the Certificate's namespace",
        ),
    ),
    Case(
        "rsa-key-of-1024-bits",
        _cert(privateKey={"algorithm": "RSA", "size": 1024}),
        REFUSED,
        ("spec.privateKey.size", "privateKey.size must be 2048, 3072 or 4096 for RSA"),
    ),
    Case(
        "renew-before-zero",
        _cert(renewBefore="0h"),
        REFUSED,
        ("spec.renewBefore", "renewBefore must be longer than zero"),
    ),
    Case(
        "secret-template-sets-type",
        _cert(secretTemplate={"type": "Opaque"}),
        REFUSED,
        ('unknown field "type" in dev.certwright.v1.Certificate.spec.secretTemplate',),
    ),
    Case(
        "secret-template-sets-certwright-label",
        _cert(secretTemplate={"labels": {"certwright.dev/certificate": "someone-else"}}),
        REFUSED,
        (
            "spec.secretTemplate.labels",
            "cannot set certwright.dev/certificate: certwright.dev/ keys are certwright's own",
        ),
    ),
    Case(
        "secret-template-sets-certwright-annotation",
        _cert(secretTemplate={"annotations": {"certwright.dev/issuer-name": "x"}}),
        REFUSED,
        ("spec.secretTemplate.annotations", "cannot set certwright.dev/issuer-name"),
    ),
    Case(
        "secret-template-65-labels",
        _cert(secretTemplate={"labels": PLUGIN_LABELS}),
        REFUSED,
        ("spec.secretTemplate.labels", "must have at most 64 items"),
    ),
    # --- Certificates: what a schema cannot see -------------------------------------------------------
    Case(
        "issuer-that-does-not-exist",
        _cert(issuerRef={"name": "nowhere"}),
        NOT_READY,
        ("Issuer nowhere does not exist in namespace",),
        reason="IssuerNotFound",
    ),
    Case(
        "cluster-issuer-that-does-not-exist",
        _cert(issuerRef={"name": "nowhere-at-all", "kind": "ClusterIssuer"}),
        NOT_READY,
        ("ClusterIssuer nowhere-at-all does not exist",),
        reason="IssuerNotFound",
    ),
    Case(
        "wildcard-with-only-http01",
        _names("*.wild.example.test"),
        NOT_READY,
        ("*.wild.example.test: wildcard names need a DNS-01 solver",),
        reason="WildcardNeedsDNS01",
    ),
    Case(
        "issuer-whose-ca-bundle-is-not-pem",
        _with(_issuer(caBundle=_b64(b"hello, not a certificate")), _cert(issuerRef={"name": "bad"})),
        NOT_READY,
        ("Issuer bad is not ready", "spec.acme.caBundle"),
        reason="IssuerNotReady",
    ),
    Case(
        "secret-of-another-type-in-the-way",
        _with(_opaque("bad-tls"), _cert()),
        NOT_READY,
        ("Secret bad-tls has type Opaque", "pick another spec.secretName"),
        reason="SecretTypeMismatch",
        given=("bad-tls",),
    ),
    # --- Issuers and ClusterIssuers --------------------------------------------------------------------
    Case(
        "issuer-over-http",
        _issuer(server="http://acme.example.test/dir"),
        REFUSED,
        ("spec.acme.server", "must be an https:// URL"),
    ),
    Case(
        "issuer-server-missing",
        _issuer(server=None),
        REFUSED,
        ('missing required field "server" in dev.certwright.v1.Issuer.spec.acme',),
    ),
    Case(
        "issuer-server-oversized",
        _issuer(server="https://a.test/" + "d" * 2048),
        REFUSED,
        ("spec.acme.server", "Too long"),
    ),
    Case(
        "issuer-email-a-list",
        _issuer(email=["ops@example.test"]),
        REFUSED,
        ("Issuer.spec.acme.email", 'got "array", expected "string"'),
    ),
    Case(
        "issuer-solver-of-neither-kind",
        _issuer(solvers=[{}]),
        REFUSED,
        ("spec.acme.solvers[0]", "each solver needs exactly one of http01 or dns01"),
    ),
    Case(
        "issuer-account-key-in-another-namespace",
        _issuer(privateKeySecretRef={"name": "key", "namespace": "kube-system"}),
        REFUSED,
        ('unknown field "namespace" in dev.certwright.v1.Issuer.spec.acme.privateKeySecretRef',),
    ),
    Case(
        "issuer-ca-bundle-not-base64",
        _issuer(caBundle="-----BEGIN CERTIFICATE-----"),
        REFUSED,
        ("spec.acme.caBundle", "must be of type byte"),
    ),
    Case(
        "issuer-eab-without-key-id",
        _issuer(externalAccountBinding={"keySecretRef": {"name": "eab"}}),
        REFUSED,
        ('missing required field "keyID" in dev.certwright.v1.Issuer.spec.acme.externalAccountBinding',),
    ),
    Case(
        "cluster-issuer-over-http",
        _issuer(cluster=True, server="http://acme.example.test/dir"),
        REFUSED,
        ("spec.acme.server", "must be an https:// URL"),
    ),
    Case(
        "tsig-unknown-algorithm",
        _tsig(tsigAlgorithm="HMACMD5"),
        REFUSED,
        ("spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm", "HMACMD5 must not be used for TSIG (RFC 8945 section 6)"),
    ),
    Case(
        "tsig-key-name-without-secret",
        _tsig(tsigSecretSecretRef=None),
        REFUSED,
        ("tsigKeyName and tsigSecretSecretRef go together",),
    ),
    Case(
        "tsig-nameserver-port-out-of-range",
        _tsig(nameserver="192.0.2.53:99999"),
        REFUSED,
        ("rfc2136.nameserver must be host[:port]",),
    ),
    Case(
        "tsig-secret-in-another-namespace",
        _tsig(tsigSecretSecretRef={"name": "tsig", "key": "secret", "namespace": "kube-system"}),
        REFUSED,
        ('unknown field "namespace" in dev.certwright.v1.Issuer.spec.acme.solvers.dns01.rfc2136.tsigSecretSecretRef',),
    ),
    Case(
        "issuer-ca-bundle-not-pem",
        _issuer(caBundle=_b64(b"hello, not a certificate")),
        NOT_READY,
        ("spec.acme.caBundle", "decodes to no PEM certificate"),
        reason="InvalidSpec",
    ),
    Case(
        "cluster-issuer-ca-bundle-not-pem",
        _issuer(cluster=True, caBundle=_b64(b"hello, not a certificate")),
        NOT_READY,
        ("spec.acme.caBundle", "decodes to no PEM certificate"),
        reason="InvalidSpec",
    ),
    Case(
        "eab-secret-missing",
        _issuer(externalAccountBinding={"keyID": "kid-1", "keySecretRef": {"name": "no-such-secret"}}),
        NOT_READY,
        ("the external account binding needs Secret", "no-such-secret"),
        reason="EABSecretMissing",
    ),
    Case(
        "eab-secret-not-text",
        _with(
            lambda env, ns: [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "eab", "namespace": ns},
                    "data": {"secret": _b64(b"\xff\xfe\x00binary")},
                }
            ],
            _issuer(externalAccountBinding={"keyID": "kid-1", "keySecretRef": {"name": "eab"}}),
        ),
        NOT_READY,
        ("Secret", "eab[secret] is not the MAC key as text"),
        reason="EABSecretInvalid",
        given=("eab",),
    ),
    # --- annotated Ingresses -------------------------------------------------------------------------
    Case(
        "ingress-host-label-longer-than-63",
        _ingress([{"hosts": [f"{LABEL_64}.example.test"], "secretName": "bad-tls"}], ISSUER),
        NOT_READY,
        ("Certificate bad-tls cannot be made from this Ingress", "spec.dnsNames[0]", "longer than 63"),
        reason="BadConfig",
    ),
    Case(
        "ingress-ecdsa-key-of-1024-bits",
        _ingress(
            [{"hosts": ["a.example.test"], "secretName": "bad-tls"}],
            {**ISSUER, "cert-manager.io/private-key-size": "1024"},
        ),
        NOT_READY,
        ("Certificate bad-tls cannot be made from this Ingress", "spec.privateKey"),
        reason="BadConfig",
    ),
    Case(
        "ingress-conflicting-annotations",
        _ingress(
            [{"hosts": ["a.example.test"], "secretName": "bad-tls"}],
            {**ISSUER, "cert-manager.io/cluster-issuer": "other"},
        ),
        NOT_READY,
        ("the issuer annotations disagree",),
        reason="BadConfig",
    ),
    Case(
        "ingress-tls-without-secret-name",
        _ingress([{"hosts": ["a.example.test"]}], ISSUER),
        NOT_READY,
        ("spec.tls[0] has no secretName",),
        reason="BadConfig",
    ),
    Case(
        "ingress-key-algorithm-dsa",
        _ingress(
            [{"hosts": ["a.example.test"], "secretName": "bad-tls"}],
            {**ISSUER, "cert-manager.io/private-key-algorithm": "DSA"},
        ),
        NOT_READY,
        ("cert-manager.io/private-key-algorithm", "must be ECDSA or RSA"),
        reason="BadConfig",
    ),
    Case(
        "ingress-upper-case-host",
        _ingress([{"hosts": ["Shop.Example.test"], "secretName": "bad-tls"}], ISSUER),
        REFUSED,
        ("spec.tls[0].hosts[0]", "a lowercase RFC 1123 subdomain"),
    ),
    Case("ingress-the-same-host-twice", lambda env, ns: _ingress([_twice()], ISSUER)(env, ns), HANDLED, ()),
    # --- annotated Gateways --------------------------------------------------------------------------
    Case(
        "gateway-conflicting-annotations",
        _gateway([_listener("a", "a.example.test")], {**ISSUER, "cert-manager.io/issuer": "other"}),
        NOT_READY,
        ("the issuer annotations disagree",),
        reason="BadConfig",
    ),
    Case(
        "gateway-listener-without-hostname",
        _gateway([_listener("nameless", None)], ISSUER),
        NOT_READY,
        ("(nameless) has no hostname",),
        reason="BadConfig",
    ),
    Case(
        "gateway-secret-in-another-namespace",
        _gateway(
            [_listener("far", "far.example.test", certificateRefs=[{"name": "x", "namespace": "kube-system"}])], ISSUER
        ),
        NOT_READY,
        ("names a Secret in namespace kube-system",),
        reason="BadConfig",
    ),
    Case(
        "gateway-passthrough-on-https",
        _gateway([{**_listener("through", "through.example.test"), "tls": {"mode": "Passthrough"}}], ISSUER),
        REFUSED,
        ("spec.listeners", "tls mode must be Terminate for protocol HTTPS"),
    ),
    Case(
        "gateway-certificate-in-a-configmap",
        _gateway(
            [_listener("cm", "cm.example.test", certificateRefs=[{"kind": "ConfigMap", "group": "", "name": "x"}])],
            ISSUER,
        ),
        NOT_READY,
        ("(cm)", "is a ConfigMap", "certificates go to core Secrets only"),
        reason="BadConfig",
    ),
    Case(
        "gateway-two-listeners-of-one-hostname",
        lambda env, ns: _gateway([_listener("a", host := _host()), {**_listener("b", host), "port": 8443}], ISSUER)(
            env, ns
        ),
        HANDLED,
        (),
    ),
]


@pytest.fixture(scope="module")
def log_start(operator: OperatorProcess) -> Iterator[int]:
    """Where the operator's log stood before the corpus; at the end, what it wrote since has no traceback."""
    assert operator.log is not None
    start = operator.log.stat().st_size
    yield start
    with operator.log.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "Traceback" not in written, written[max(0, written.index("Traceback") - 2000) :][:6000]


def _apply(env: Environment, objects: list[dict[str, Any]]) -> Any:
    return env.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), check=False
    )


def _events(env: Environment, ns: str, kind: str, reason: str) -> list[str]:
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e["message"] for e in items if e["reason"] == reason and e["involvedObject"]["kind"] == kind]


def _ready_false(env: Environment, kind: str, name: str, ns: str | None, reason: str) -> str:
    """The Ready message of the object once it is False with ``reason``."""
    found = eventually(
        lambda: get(env, kind, name, ns),
        lambda obj: condition(obj, "Ready").get("reason") == reason,
        timeout=WAIT,
        what=f"{kind} {name} has Ready with reason {reason}",
    )
    ready = condition(found, "Ready")
    assert ready["status"] == "False", ready
    return str(ready.get("message"))


def _secrets(env: Environment, ns: str, given: tuple[str, ...]) -> list[dict[str, Any]]:
    listed = json.loads(env.kubectl("get", "secrets", "-n", ns, "-o", "json").stdout)["items"]
    mine = [s for s in listed if s["metadata"]["name"] not in given]
    return [s for s in mine if not s["metadata"]["name"].endswith("-account")]  # account keys, made for issuers


def _orders(env: Environment, ns: str) -> int:
    """The orders Pebble holds for the namespace's good Issuer; 0 while its account does not exist."""
    if not get_or_none(env, "secret", "pebble-account", ns):
        return 0
    wait_issuer_ready(env, "pebble", ns)
    return orders(env, ns)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(
    env: Environment, operator: OperatorProcess, log_start: int, case: Case, request: pytest.FixtureRequest
) -> None:
    bad_input(request, case.outcome.value)
    ns = namespace(env)
    _apply(env, [issuer(env, "pebble", ns)])  # a good Issuer beside, so that a wrong order would show
    objects = case.manifests(env, ns)
    cluster = [obj for obj in objects if obj["kind"] == "ClusterIssuer"]
    try:
        applied = _apply(env, objects)
        if case.outcome is REFUSED:
            assert applied.returncode != 0, f"accepted: {applied.stdout}"
            for words in case.says:
                assert words in applied.stderr, applied.stderr
        else:
            assert applied.returncode == 0, applied.stderr
        kinds = {obj["kind"] for obj in objects}
        if case.outcome is NOT_READY and kinds & {"Ingress", "Gateway"}:
            kind = "Ingress" if "Ingress" in kinds else "Gateway"
            messages = eventually(
                lambda: _events(env, ns, kind, "BadConfig"), bool, timeout=WAIT, what=f"a BadConfig Event on the {kind}"
            )
            assert any(all(words in m for words in case.says) for m in messages), messages
            assert env.kubectl("get", "certificates", "-n", ns, "-o", "name").stdout.strip() == "", "nothing half-done"
        elif case.outcome is NOT_READY and "Certificate" in kinds:
            message = _ready_false(env, "certificate", "bad", ns, case.reason)
            assert all(words in message for words in case.says), message
        elif case.outcome is NOT_READY:
            kind, name = ("clusterissuer", cluster[0]["metadata"]["name"]) if cluster else ("issuer", "bad")
            message = _ready_false(env, kind, name, None if cluster else ns, case.reason)
            assert all(words in message for words in case.says), message
        if case.outcome is HANDLED:
            [made] = eventually(  # an Ingress's or Gateway's Certificate comes a moment after it
                lambda: json.loads(env.kubectl("get", "certificates", "-n", ns, "-o", "json").stdout)["items"],
                bool,
                timeout=WAIT,
                what="the Certificate is there",
            )
            wait_ready(env, made["metadata"]["name"], ns, timeout=60)
            names = made["spec"]["dnsNames"]
            assert leaf_names(env, made["spec"]["secretName"], ns) == sorted(names)
            assert names == sorted({n.lower() for n in names}), "lower-case, each name once"

        assert operator.child is not None
        assert operator.child.running(), "the operator never crashes"
        secrets = _secrets(env, ns, case.given)
        if case.outcome is HANDLED:
            assert _orders(env, ns) == 1, "one order for the one certificate"
            for secret in secrets:
                assert secret["type"] == "kubernetes.io/tls", secret["metadata"]["name"]
                assert {"tls.crt", "tls.key"} <= {k for k, v in (secret.get("data") or {}).items() if v}, "whole"
        else:
            assert secrets == [], f"no Secret written: {[s['metadata']['name'] for s in secrets]}"
            assert _orders(env, ns) == 0, "no order reached the CA"
    finally:
        for obj in cluster:
            env.kubectl(
                "delete", "clusterissuer", obj["metadata"]["name"], "--ignore-not-found", "--wait=false", check=False
            )
