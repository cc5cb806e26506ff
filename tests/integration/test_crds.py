"""The CRDs in crds/ against a real kube-apiserver: good objects are stored with their defaults, bad ones
are refused by the API server with a message that names the field, and `kubectl get` shows the columns."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from certwright_env import Environment
from certwright_env.operator import NAMESPACE as OPERATOR_NAMESPACE
from certwright_env.probes import eventually

CRDS = Path(__file__).resolve().parents[2] / "crds"
KINDS = {
    "Certificate": "certificates",
    "Issuer": "issuers",
    "ClusterIssuer": "clusterissuers",
    "Challenge": "challenges",
}
GROUP = "certwright.dev"
REMOVE = object()  # a change that deletes the field


def _crd(plural: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CRDS / f"{plural}.yaml").read_text())
    return document


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the files themselves (no API server needed) -------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_each_file_defines_one_served_storage_v1_with_status(kind: str) -> None:
    crd = _crd(KINDS[kind])
    assert crd["metadata"]["name"] == f"{KINDS[kind]}.{GROUP}"
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["names"]["kind"] == kind
    assert crd["spec"]["names"]["categories"] == ["certwright"]
    [version] = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}


def _undescribed(schema: dict[str, Any], path: str) -> Iterator[str]:
    if path != "metadata" and not schema.get("description"):
        yield path or "<root>"
    if path == "metadata":
        return
    for name, child in schema.get("properties", {}).items():
        yield from _undescribed(child, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from _undescribed(schema["items"], f"{path}[]")


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_every_field_has_a_description_for_kubectl_explain(kind: str) -> None:
    schema = _crd(KINDS[kind])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert list(_undescribed(schema, "")) == []


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_descriptions(value) for key, value in node.items() if key != "description"}
    if isinstance(node, list):
        return [_without_descriptions(item) for item in node]
    return node


def test_issuer_and_cluster_issuer_accept_the_same_objects() -> None:
    issuer, cluster_issuer = _crd("issuers"), _crd("clusterissuers")
    assert (issuer["spec"]["scope"], cluster_issuer["spec"]["scope"]) == ("Namespaced", "Cluster")
    for key in ("schema", "additionalPrinterColumns", "subresources"):
        assert _without_descriptions(issuer["spec"]["versions"][0][key]) == _without_descriptions(
            cluster_issuer["spec"]["versions"][0][key]
        ), key


def _field_names(schema: dict[str, Any]) -> Iterator[str]:
    for name, child in schema.get("properties", {}).items():
        yield name
        yield from _field_names(child)
    if "items" in schema:
        yield from _field_names(schema["items"])


def test_a_challenge_has_no_field_for_the_key_authorization() -> None:
    schema = _crd("challenges")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    names = set(_field_names(schema))
    assert {"token", "url", "dnsName"} <= names
    assert [name for name in names if "key" in name.lower()] == []


# --- against the API server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crds(env: Environment) -> None:
    applied = env.kubectl("apply", "-f", str(CRDS))
    assert "Warning" not in applied.stderr, applied.stderr
    names = [f"crd/{plural}.{GROUP}" for plural in KINDS.values()]
    env.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    for plural in KINDS.values():  # kubectl's discovery knows the new kinds
        eventually(
            lambda plural=plural: env.kubectl("get", plural, "-A", check=False).returncode,
            lambda code: code == 0,
            what=f"kubectl get {plural} works",
        )


def test_applying_the_crds_again_changes_nothing(env: Environment, crds: None) -> None:
    """The server neither drops nor rewrites anything in the files, so re-applying them (or a GitOps tool
    comparing them) sees no difference."""
    env.kubectl("apply", "-f", str(CRDS))
    reapplied = env.kubectl("apply", "-f", str(CRDS)).stdout.splitlines()
    assert reapplied == [
        f"customresourcedefinition.apiextensions.k8s.io/{plural}.{GROUP} unchanged" for plural in sorted(KINDS.values())
    ]


@pytest.fixture(scope="module")
def namespace(env: Environment, crds: None) -> Iterator[str]:
    name = _unique("crds")
    env.kubectl("create", "namespace", name)
    yield name
    env.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def cluster_issuers(env: Environment) -> Iterator[list[dict[str, Any]]]:
    """ClusterIssuers a test made: cluster-scoped, so deleted one by one afterwards, with the account key
    an operator in the shared environment may have generated for them in its namespace."""
    made: list[dict[str, Any]] = []
    yield made
    for obj in made:
        env.kubectl("delete", "clusterissuer", obj["metadata"]["name"], "--ignore-not-found", check=False)
        account = obj["spec"]["acme"]["privateKeySecretRef"]["name"]
        env.kubectl("delete", "secret", account, "-n", OPERATOR_NAMESPACE, "--ignore-not-found", check=False)


def _apply(env: Environment, obj: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
    return env.kubectl("apply", "-f", "-", stdin=json.dumps(obj), check=check)


def _get(env: Environment, obj: dict[str, Any]) -> dict[str, Any]:
    kind, metadata = obj["kind"], obj["metadata"]
    scope = ["-n", metadata["namespace"]] if "namespace" in metadata else []
    stored: dict[str, Any] = json.loads(
        env.kubectl("get", f"{KINDS[kind]}.{GROUP}", metadata["name"], *scope, "-o", "json").stdout
    )
    return stored


def _patch_status(
    env: Environment, obj: dict[str, Any], status: dict[str, Any], check: bool = True, dry_run: bool = False
) -> subprocess.CompletedProcess[str]:
    """A merge patch of the status subresource, as the operator writes it.

    With ``dry_run`` the API server validates, defaults and prunes the patch and answers with the object
    as it would store it, but stores nothing: the session's operator (which watches every namespace and
    rewrites the status of what it sees) cannot race the test.
    """
    kind, metadata = obj["kind"], obj["metadata"]
    scope = ["-n", metadata["namespace"]] if "namespace" in metadata else []
    return env.kubectl(
        "patch",
        f"{KINDS[kind]}.{GROUP}",
        metadata["name"],
        *scope,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        *(["--dry-run=server", "-o", "json"] if dry_run else []),
        check=check,
    )


def _changed(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with each dotted path (list indexes as numbers) set in order, or deleted with
    REMOVE; values are copied, so a later path may change inside an earlier one's value."""
    result = copy.deepcopy(obj)
    for path, value in changes.items():
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node: Any = result
        for part in parents:
            node = node[part]
        if value is REMOVE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return result


# --- valid objects ------------------------------------------------------------------------------------

RFC2136 = {"nameserver": "ns1.example.com", "tsigKeyName": "certwright", "tsigSecretSecretRef": {"name": "tsig"}}
DNS01 = {"spec.acme.solvers": [{"dns01": {"rfc2136": RFC2136}}]}  # makes an issuer's one solver DNS-01
TXT = {  # where a DNS-01 Challenge's record goes
    "fqdn": "_acme-challenge.example.com.",
    "zone": "example.com.",
    "value": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
    "provider": "rfc2136",
}
DNS01_CHALLENGE = {"spec.type": "dns-01", "spec.dns01": TXT}  # makes a Challenge a DNS-01 one


def certificate(namespace: str, name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Certificate",
        "metadata": {"name": name or _unique("cert"), "namespace": namespace},
        "spec": {"secretName": "web-tls", "dnsNames": ["www.example.com"], "issuerRef": {"name": "letsencrypt"}},
    }


def _acme_spec(server: str = "https://acme.invalid/directory") -> dict[str, Any]:
    """An ACME spec whose server never resolves (RFC 2606 .invalid), so that an operator running in the
    shared environment reaches no CA for the issuers these tests make."""
    return {
        "acme": {
            "server": server,
            "privateKeySecretRef": {"name": _unique("account")},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
        }
    }


def issuer(namespace: str, name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Issuer",
        "metadata": {"name": name or _unique("issuer"), "namespace": namespace},
        "spec": _acme_spec(),
    }


def cluster_issuer(name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name or _unique("crds-cluster-issuer")},
        "spec": _acme_spec(),
    }


def challenge(namespace: str, name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Challenge",
        "metadata": {"name": name or _unique("challenge"), "namespace": namespace},
        "spec": {
            "certificateName": "web",
            "dnsName": "www.example.com",
            "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            "url": "https://acme.example/chall/1",
            "authorizationURL": "https://acme.example/authz/1",
            "type": "http-01",
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
            "solverIndex": 0,
        },
    }


def dns01_challenge(namespace: str, name: str | None = None) -> dict[str, Any]:
    obj = challenge(namespace, name or _unique("dns01-challenge"))
    obj["spec"].update(
        {
            "dnsName": "*.example.com",
            "type": "dns-01",
            "dns01": TXT,
            "solver": {"dns01": {"rfc2136": RFC2136}, "selfCheck": {"mode": "Check", "timeoutSeconds": 60}},
        }
    )
    return obj


def _make(kind: str, namespace: str) -> dict[str, Any]:
    if kind == "ClusterIssuer":
        return cluster_issuer()
    return {"Certificate": certificate, "Issuer": issuer, "Challenge": challenge}[kind](namespace)


def test_a_minimal_certificate_is_stored_with_its_defaults(env: Environment, namespace: str) -> None:
    cert = certificate(namespace)
    _apply(env, cert)
    assert _get(env, cert)["spec"] == {
        "secretName": "web-tls",
        "dnsNames": ["www.example.com"],
        "issuerRef": {"name": "letsencrypt", "kind": "Issuer", "group": GROUP},
        "privateKey": {"algorithm": "ECDSA", "rotationPolicy": "Always"},
    }


def test_a_certificate_with_every_field_is_stored_as_written(env: Environment, namespace: str) -> None:
    cert = certificate(namespace)
    cert["spec"] = {
        "secretName": "shop.example.com-tls",
        "dnsNames": ["shop.example.com", "*.shop.example.com", "xn--bcher-kva.example"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": GROUP},
        "renewBefore": "1h30m",
        "privateKey": {"algorithm": "RSA", "size": 4096, "rotationPolicy": "Never"},
        "secretTemplate": {
            "labels": {"app.kubernetes.io/name": "shop", "tier": "web"},
            "annotations": {"reflector.v1.k8s.emberstack.com/reflection-allowed": "true", "note": "any text: ok!"},
        },
    }
    _apply(env, cert)
    assert _get(env, cert)["spec"] == cert["spec"]


@pytest.mark.parametrize(
    "changes",
    [
        {"spec.dnsNames": ["localhost"]},
        {"spec.dnsNames": ["*.example.com"]},
        {"spec.dnsNames": ["*.a-b.0.xn--bcher-kva.example", "10.0.2.example"]},  # near an IP, but a name
        {"spec.dnsNames": [f"{'a' * 63}.example.com"]},
        {"spec.dnsNames": [".".join(["a" * 63] * 3) + "." + "b" * 61]},  # 253 characters
        {"spec.dnsNames": [f"n{i}.example.com" for i in range(100)]},
        {"spec.secretName": "a" * 253},
        {"spec.renewBefore": "720h"},
        {"spec.renewBefore": "90m"},
        {"spec.renewBefore": "1.5h"},
        {"spec.renewBefore": "0h1s"},
        {"spec.privateKey": {"algorithm": "RSA", "size": 2048}},
        {"spec.privateKey": {"algorithm": "RSA", "size": 3072}},
        {"spec.privateKey": {"algorithm": "RSA"}},
        {"spec.privateKey": {"size": 384}},
        {"spec.privateKey": {"algorithm": "ECDSA", "size": 256}},
    ],
    ids=[
        "single-label-name",
        "wildcard",
        "hyphen-digits-punycode",
        "63-character-label",
        "253-character-name",
        "100-names",
        "253-character-secret-name",
        "renew-720h",
        "renew-90m",
        "renew-1.5h",
        "renew-one-second",
        "rsa-2048",
        "rsa-3072",
        "rsa-without-size",
        "size-384-with-default-ecdsa",
        "ecdsa-256",
    ],
)
def test_a_certificate_at_the_limits_is_accepted(env: Environment, namespace: str, changes: dict[str, Any]) -> None:
    cert = _changed(certificate(namespace), changes)
    _apply(env, cert)
    stored = _get(env, cert)["spec"]
    for path, value in changes.items():
        kept = stored[path.removeprefix("spec.")]
        if isinstance(value, dict):
            assert kept.items() >= value.items()  # plus the defaults
        else:
            assert kept == value


def test_an_issuer_is_stored_with_its_defaults(env: Environment, namespace: str) -> None:
    obj = issuer(namespace)
    obj["spec"]["acme"].update(
        {
            "email": "ops@example.com",
            "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
            "externalAccountBinding": {"keyID": "kid-1", "keySecretRef": {"name": "eab"}},
            "profile": "shortlived",
            "preferredChain": "ISRG Root X1",
        }
    )
    obj["spec"]["acme"]["solvers"].append(
        {
            "selector": {"dnsZones": ["internal.example.com"], "dnsNames": ["*.apps.example.com"]},
            "http01": {
                "ingress": {
                    "serviceType": "NodePort",
                    "podTemplate": {
                        "metadata": {"labels": {"certwright.dev/stand-in": "true"}, "annotations": {"a/b": "c"}},
                        "spec": {
                            "nodeSelector": {"kubernetes.io/os": "linux"},
                            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                            "priorityClassName": "system-cluster-critical",
                        },
                    },
                    "ingressTemplate": {
                        "metadata": {"annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}}
                    },
                }
            },
            "selfCheck": {"mode": "Wait", "waitSeconds": 3},
        }
    )
    _apply(env, obj)
    acme = _get(env, obj)["spec"]["acme"]
    assert acme["privateKeySecretRef"] == {"name": obj["spec"]["acme"]["privateKeySecretRef"]["name"], "key": "tls.key"}
    assert acme["externalAccountBinding"] == {
        "keyID": "kid-1",
        "keySecretRef": {"name": "eab", "key": "secret"},
        "keyAlgorithm": "HS256",
    }
    first, second = acme["solvers"]
    assert first == {
        "http01": {"ingress": {"ingressClassName": "nginx", "serviceType": "ClusterIP"}},
        "selfCheck": {"mode": "Check", "waitSeconds": 10, "timeoutSeconds": 60, "nameservers": "Authoritative"},
    }
    assert second["selfCheck"] == {
        "mode": "Wait",
        "waitSeconds": 3,
        "timeoutSeconds": 60,
        "nameservers": "Authoritative",
    }
    assert second["http01"]["ingress"]["podTemplate"]["spec"]["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
    ]
    expected = copy.deepcopy(obj["spec"]["acme"])
    for key in ("privateKeySecretRef", "externalAccountBinding", "solvers"):
        del expected[key], acme[key]
    assert acme == expected


def test_a_dns01_issuer_is_stored_with_its_defaults(env: Environment, namespace: str) -> None:
    """HTTP-01 for some names, RFC 2136 for a zone and a plug-in for another, as cert-manager spells them."""
    obj = issuer(namespace)
    plugin = {
        "name": "example-dns",
        "config": {"apiTokenSecretRef": {"name": "example-dns", "key": "token"}, "ttl": 60, "zones": ["a", "b"]},
    }
    obj["spec"]["acme"]["solvers"] += [
        {"selector": {"dnsZones": ["example.com"]}, "dns01": {"rfc2136": RFC2136}},
        {
            "selector": {"dnsZones": ["example.org"]},
            "dns01": {"cnameStrategy": "Follow", "plugin": plugin},
            "selfCheck": {"nameservers": "Solver", "timeoutSeconds": 3600},
        },
    ]
    _apply(env, obj)
    http01, rfc2136, plugged_in = _get(env, obj)["spec"]["acme"]["solvers"]
    assert http01["http01"] == {"ingress": {"ingressClassName": "nginx", "serviceType": "ClusterIP"}}
    assert rfc2136["dns01"] == {
        "cnameStrategy": "None",
        "rfc2136": {
            "nameserver": "ns1.example.com",
            "tsigKeyName": "certwright",
            "tsigAlgorithm": "HMACSHA256",
            "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
        },
    }
    assert rfc2136["selfCheck"] == {
        "mode": "Check",
        "waitSeconds": 10,
        "timeoutSeconds": 60,
        "nameservers": "Authoritative",
    }
    assert plugged_in["dns01"] == {"cnameStrategy": "Follow", "plugin": plugin}  # its config as written
    assert plugged_in["selfCheck"] == {
        "mode": "Check",
        "waitSeconds": 10,
        "timeoutSeconds": 3600,
        "nameservers": "Solver",
    }


@pytest.mark.parametrize(
    "rfc2136",
    [
        {"nameserver": "ns1.example.com."},
        {"nameserver": "bind"},  # a short name, completed by the operator Pod's DNS search path
        {"nameserver": "bind.dns.svc.cluster.local:5353"},
        {"nameserver": "192.0.2.53"},
        {"nameserver": "192.0.2.53:53"},
        {"nameserver": "[2001:db8::53]"},
        {"nameserver": "[2001:db8::53]:65535"},
        {"nameserver": "[::1]:53"},
        {"nameserver": "ns1.example.com"},
        {"nameserver": "ns1.example.com", "tsigKeyName": "tsig-key.", "tsigSecretSecretRef": {"name": "t", "key": "k"}},
        {**RFC2136, "tsigAlgorithm": "HMACSHA1"},
        {**RFC2136, "tsigAlgorithm": "HMACSHA512"},
    ],
    ids=[
        "trailing-dot",
        "single-label",
        "host-and-port",
        "ipv4",
        "ipv4-and-port",
        "ipv6",
        "ipv6-and-port",
        "ipv6-loopback",
        "unsigned",
        "tsig-key-name-with-dot",
        "hmac-sha1",
        "hmac-sha512",
    ],
)
def test_an_rfc2136_solver_in_each_form_is_accepted(env: Environment, namespace: str, rfc2136: dict[str, Any]) -> None:
    obj = _changed(issuer(namespace), {"spec.acme.solvers": [{"dns01": {"rfc2136": rfc2136}}]})
    _apply(env, obj)
    stored = _get(env, obj)["spec"]["acme"]["solvers"][0]["dns01"]["rfc2136"]
    assert stored.items() >= {key: value for key, value in rfc2136.items() if key != "tsigSecretSecretRef"}.items()


def test_a_cluster_issuer_for_a_private_ca_is_stored_with_its_defaults(
    env: Environment, crds: None, cluster_issuers: list[dict[str, Any]]
) -> None:
    obj = cluster_issuer()
    obj["spec"] = _acme_spec(server=env.pebble_directory_url)  # https://<IP>:<port>/dir
    cluster_issuers.append(obj)
    obj["spec"]["acme"]["caBundle"] = base64.b64encode(env.pebble_ca_bundle.read_bytes()).decode()
    del obj["spec"]["acme"]["solvers"]  # a CA that pre-authorizes every name needs none
    _apply(env, obj)
    acme = _get(env, obj)["spec"]["acme"]
    assert (acme["server"], acme["caBundle"]) == (env.pebble_directory_url, obj["spec"]["acme"]["caBundle"])
    assert acme["privateKeySecretRef"]["key"] == "tls.key"
    assert "solvers" not in acme


@pytest.mark.parametrize("make", [challenge, dns01_challenge], ids=["http-01", "dns-01"])
def test_a_challenge_is_stored_as_written(
    env: Environment, namespace: str, make: Callable[[str], dict[str, Any]]
) -> None:
    obj = make(namespace)
    _apply(env, obj)
    assert _get(env, obj)["spec"] == obj["spec"]


# --- malformed objects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    kind: str
    changes: dict[str, Any]
    says: tuple[str, ...]  # each must appear in kubectl's stderr; the first names the field


BAD = [
    # Certificate: spec
    Bad("cert-no-spec", "Certificate", {"spec": REMOVE}, ("spec: Required value",)),
    Bad("cert-unknown-field", "Certificate", {"spec.dnsName": "x.example.com"}, ('unknown field "spec.dnsName"',)),
    # secretName
    Bad("secret-name-missing", "Certificate", {"spec.secretName": REMOVE}, ("spec.secretName: Required value",)),
    Bad(
        "secret-name-uppercase",
        "Certificate",
        {"spec.secretName": "Web-TLS"},
        ("spec.secretName", "Web-TLS is not a Secret name: lower-case letters, digits, '-' and '.'"),
    ),
    Bad(
        "secret-name-underscore",
        "Certificate",
        {"spec.secretName": "web_tls"},
        ("spec.secretName", "web_tls is not a Secret name"),
    ),
    Bad(
        "secret-name-in-another-namespace",
        "Certificate",
        {"spec.secretName": "kube-system/shop-tls"},
        ("spec.secretName", "no '/'", "the Secret lives in the Certificate's namespace"),
    ),
    Bad("secret-name-254-chars", "Certificate", {"spec.secretName": "a" * 254}, ("spec.secretName", "253")),
    # dnsNames
    Bad("dns-names-missing", "Certificate", {"spec.dnsNames": REMOVE}, ("spec.dnsNames: Required value",)),
    Bad("dns-names-empty", "Certificate", {"spec.dnsNames": []}, ("spec.dnsNames", "at least 1 items")),
    Bad(
        "dns-names-101",
        "Certificate",
        {"spec.dnsNames": [f"n{i}.example.com" for i in range(101)]},
        ("spec.dnsNames", "must have at most 100 items"),
    ),
    Bad("dns-names-a-string", "Certificate", {"spec.dnsNames": "www.example.com"}, ("spec.dnsNames", "type array")),
    Bad(
        "dns-names-duplicate",
        "Certificate",
        {"spec.dnsNames": ["a.example.com", "a.example.com"]},
        ("spec.dnsNames[1]: Duplicate value",),
    ),
    Bad(
        "dns-name-uppercase",
        "Certificate",
        {"spec.dnsNames": ["WWW.example.com"]},
        ("spec.dnsNames[0]", "has upper-case letters", "write it in lower case (www.example.com)"),
    ),
    Bad(
        "dns-name-underscore",
        "Certificate",
        {"spec.dnsNames": ["a_b.example.com"]},
        ("spec.dnsNames[0]", "a_b.example.com has characters other than letters, digits, hyphens and dots"),
    ),
    Bad("dns-name-empty", "Certificate", {"spec.dnsNames": [""]}, ("spec.dnsNames[0]", "a DNS name cannot be empty")),
    Bad(
        "dns-name-trailing-dot",
        "Certificate",
        {"spec.dnsNames": ["example.com."]},
        ("spec.dnsNames[0]", "example.com. ends with a dot: write it without the trailing dot (example.com)"),
    ),
    Bad(
        "dns-name-inner-wildcard",
        "Certificate",
        {"spec.dnsNames": ["a.*.example.com"]},
        ("spec.dnsNames[0]", "a wildcard may only be the whole first label, once"),
    ),
    Bad(
        "dns-name-bare-wildcard",
        "Certificate",
        {"spec.dnsNames": ["*"]},
        ("spec.dnsNames[0]", "* alone is not a name", "as in *.example.test"),
    ),
    Bad(
        "dns-name-leading-hyphen",
        "Certificate",
        {"spec.dnsNames": ["-a.example.com"]},
        ("spec.dnsNames[0]", "has a label that starts or ends with a hyphen"),
    ),
    Bad(
        "dns-name-url",
        "Certificate",
        {"spec.dnsNames": ["https://example.com"]},
        ("spec.dnsNames[0]", "has characters other than letters, digits, hyphens and dots"),
    ),
    Bad(
        "dns-name-ip-address",
        "Certificate",
        {"spec.dnsNames": ["192.0.2.10"]},
        ("spec.dnsNames[0]", "192.0.2.10 is an IP address; certwright issues certificates for DNS names only"),
    ),
    Bad(
        "dns-name-64-char-label",
        "Certificate",
        {"spec.dnsNames": [f"{'a' * 64}.example.com"]},
        ("spec.dnsNames[0]", "has a label longer than 63 characters"),
    ),
    Bad(
        "dns-name-254-chars",
        "Certificate",
        {"spec.dnsNames": [".".join(["a" * 63] * 3) + "." + "b" * 62]},
        ("spec.dnsNames[0]", "253"),
    ),
    # issuerRef
    Bad("issuer-ref-missing", "Certificate", {"spec.issuerRef": REMOVE}, ("spec.issuerRef: Required value",)),
    Bad(
        "issuer-ref-no-name", "Certificate", {"spec.issuerRef": {"kind": "Issuer"}}, ("spec.issuerRef.name: Required",)
    ),
    Bad("issuer-ref-empty-name", "Certificate", {"spec.issuerRef.name": ""}, ("spec.issuerRef.name", "at least 1")),
    Bad(
        "issuer-ref-kind",
        "Certificate",
        {"spec.issuerRef.kind": "CA"},
        ('spec.issuerRef.kind: Unsupported value: "CA"', '"Issuer", "ClusterIssuer"'),
    ),
    Bad(
        "issuer-ref-group",
        "Certificate",
        {"spec.issuerRef.group": "cert-manager.io"},
        ('spec.issuerRef.group: Unsupported value: "cert-manager.io"',),
    ),
    # renewBefore
    Bad("renew-before-days", "Certificate", {"spec.renewBefore": "30d"}, ("spec.renewBefore", "should match")),
    Bad("renew-before-number", "Certificate", {"spec.renewBefore": "720"}, ("spec.renewBefore", "should match")),
    Bad("renew-before-negative", "Certificate", {"spec.renewBefore": "-1h"}, ("spec.renewBefore", "should match")),
    Bad("renew-before-zero", "Certificate", {"spec.renewBefore": "0s"}, ("spec.renewBefore", "longer than zero")),
    Bad("renew-before-zeros", "Certificate", {"spec.renewBefore": "0h0.0m"}, ("spec.renewBefore", "longer than zero")),
    # privateKey
    Bad(
        "key-algorithm",
        "Certificate",
        {"spec.privateKey": {"algorithm": "Ed25519"}},
        ('spec.privateKey.algorithm: Unsupported value: "Ed25519"',),
    ),
    Bad(
        "rsa-1024",
        "Certificate",
        {"spec.privateKey": {"algorithm": "RSA", "size": 1024}},
        ("spec.privateKey.size", "privateKey.size must be 2048, 3072 or 4096 for RSA"),
    ),
    Bad(
        "rsa-256",
        "Certificate",
        {"spec.privateKey": {"algorithm": "RSA", "size": 256}},
        ("spec.privateKey.size", "privateKey.size must be 2048, 3072 or 4096 for RSA"),
    ),
    Bad(
        "ecdsa-521",
        "Certificate",
        {"spec.privateKey": {"algorithm": "ECDSA", "size": 521}},
        ("spec.privateKey.size", "privateKey.size must be 256 or 384 for ECDSA"),
    ),
    Bad(
        "default-ecdsa-2048",
        "Certificate",
        {"spec.privateKey": {"size": 2048}},
        ("spec.privateKey.size", "privateKey.size must be 256 or 384 for ECDSA"),
    ),
    Bad(
        "rotation-policy",
        "Certificate",
        {"spec.privateKey": {"rotationPolicy": "Sometimes"}},
        ('spec.privateKey.rotationPolicy: Unsupported value: "Sometimes"',),
    ),
    # secretTemplate
    Bad(
        "template-reserved-label",
        "Certificate",
        {"spec.secretTemplate": {"labels": {"certwright.dev/certificate": "other"}}},
        ("spec.secretTemplate.labels", "cannot set certwright.dev/certificate"),
    ),
    Bad(
        "template-reserved-annotation",
        "Certificate",
        {"spec.secretTemplate": {"annotations": {"certwright.dev/issuer-name": "other"}}},
        ("spec.secretTemplate.annotations", "cannot set certwright.dev/issuer-name"),
    ),
    Bad(
        "template-label-value",
        "Certificate",
        {"spec.secretTemplate": {"labels": {"team": "web shop"}}},
        ("spec.secretTemplate.labels.team", "should match"),
    ),
    Bad(
        "template-label-key",
        "Certificate",
        {"spec.secretTemplate": {"labels": {"web shop": "x"}}},
        ("spec.secretTemplate.labels", 'key "web shop" is not valid'),
    ),
    Bad(
        "template-annotation-key",
        "Certificate",
        {"spec.secretTemplate": {"annotations": {"a/b/c": "x"}}},
        ("spec.secretTemplate.annotations", 'key "a/b/c" is not valid'),
    ),
    # Issuer
    Bad("issuer-no-acme", "Issuer", {"spec.acme": REMOVE}, ("spec.acme: Required value",)),
    Bad("server-missing", "Issuer", {"spec.acme.server": REMOVE}, ("spec.acme.server: Required value",)),
    Bad(
        "server-http",
        "Issuer",
        {"spec.acme.server": "http://acme-v02.api.letsencrypt.org/directory"},
        ("spec.acme.server", "acme.server must be an https:// URL of an ACME directory"),
    ),
    Bad(
        "server-no-host",
        "Issuer",
        {"spec.acme.server": "https://"},
        ("spec.acme.server", "acme.server must be an https:// URL of an ACME directory"),
    ),
    Bad(
        "server-not-a-url",
        "Issuer",
        {"spec.acme.server": "letsencrypt"},
        ("spec.acme.server", "acme.server must be an https:// URL of an ACME directory"),
    ),
    Bad("email", "Issuer", {"spec.acme.email": "ops at example.com"}, ("spec.acme.email", "should match")),
    Bad(
        "account-key-ref-missing",
        "Issuer",
        {"spec.acme.privateKeySecretRef": REMOVE},
        ("spec.acme.privateKeySecretRef: Required value",),
    ),
    Bad(
        "account-key-ref-no-name",
        "Issuer",
        {"spec.acme.privateKeySecretRef": {"key": "tls.key"}},
        ("spec.acme.privateKeySecretRef.name: Required value",),
    ),
    Bad(
        "account-key-ref-bad-key",
        "Issuer",
        {"spec.acme.privateKeySecretRef.key": "tls key"},
        ("spec.acme.privateKeySecretRef.key", "should match"),
    ),
    Bad("ca-bundle-not-base64", "Issuer", {"spec.acme.caBundle": "-----BEGIN"}, ("spec.acme.caBundle", "type byte")),
    Bad(
        "eab-no-key-id",
        "Issuer",
        {"spec.acme.externalAccountBinding": {"keySecretRef": {"name": "eab"}}},
        ("spec.acme.externalAccountBinding.keyID: Required value",),
    ),
    Bad(
        "eab-no-secret",
        "Issuer",
        {"spec.acme.externalAccountBinding": {"keyID": "kid"}},
        ("spec.acme.externalAccountBinding.keySecretRef: Required value",),
    ),
    Bad(
        "eab-algorithm",
        "Issuer",
        {"spec.acme.externalAccountBinding": {"keyID": "kid", "keySecretRef": {"name": "e"}, "keyAlgorithm": "RS256"}},
        ('spec.acme.externalAccountBinding.keyAlgorithm: Unsupported value: "RS256"',),
    ),
    Bad("preferred-chain-65", "Issuer", {"spec.acme.preferredChain": "x" * 65}, ("spec.acme.preferredChain", "64")),
    Bad("solvers-empty", "Issuer", {"spec.acme.solvers": []}, ("spec.acme.solvers", "at least 1 items")),
    Bad(
        "solver-without-a-type",
        "Issuer",
        {"spec.acme.solvers": [{"selector": {"dnsZones": ["example.com"]}}]},
        ("spec.acme.solvers[0]", "each solver needs exactly one of http01 or dns01"),
    ),
    Bad(
        "solver-http01-and-dns01",
        "Issuer",
        {"spec.acme.solvers.0.dns01": {"rfc2136": RFC2136}},
        ("spec.acme.solvers[0]", "each solver needs exactly one of http01 or dns01"),
    ),
    Bad(
        "dns01-two-providers",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.plugin": {"name": "example-dns"}},
        ("spec.acme.solvers[0].dns01", "dns01 needs exactly one provider: rfc2136, or plugin"),
    ),
    Bad(
        "dns01-no-provider",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01": {"cnameStrategy": "Follow"}},
        ("spec.acme.solvers[0].dns01", "dns01 needs exactly one provider: rfc2136, or plugin"),
    ),
    Bad(
        "dns01-cert-manager-provider",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01": {"cloudflare": {"email": "ops@example.com"}}},
        ('unknown field "spec.acme.solvers[0].dns01.cloudflare"',),
    ),
    Bad(
        "cname-strategy",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.cnameStrategy": "Always"},
        ('spec.acme.solvers[0].dns01.cnameStrategy: Unsupported value: "Always"',),
    ),
    Bad(
        "rfc2136-no-nameserver",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.nameserver": REMOVE},
        ("spec.acme.solvers[0].dns01.rfc2136.nameserver: Required value",),
    ),
    *(
        Bad(
            f"nameserver-{case}",
            "Issuer",
            {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.nameserver": nameserver},
            ("spec.acme.solvers[0].dns01.rfc2136.nameserver", "rfc2136.nameserver must be host[:port]"),
        )
        for case, nameserver in [
            ("url", "https://ns1.example.com"),
            ("space", "ns1 example.com"),
            ("port-0", "ns1.example.com:0"),
            ("port-65536", "192.0.2.53:65536"),
            ("empty-port", "ns1.example.com:"),
            ("ipv4-octet", "192.0.2.256"),
            ("ipv6-without-brackets", "2001:db8::53"),  # which colon starts the port?
            ("ipv6-not-hex", "[2001:db8::5g]:53"),
        ]
    ),
    Bad(
        "tsig-md5",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigAlgorithm": "HMACMD5"},
        ("spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm", "HMACMD5 must not be used for TSIG", "use HMACSHA256"),
    ),
    Bad(
        "tsig-algorithm-spelling",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigAlgorithm": "hmac-sha256"},
        (
            'spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm: Invalid value: "hmac-sha256"',
            "must be HMACSHA256, HMACSHA384, HMACSHA512, HMACSHA224 or HMACSHA1",
        ),
    ),
    Bad(
        "tsig-key-name-without-secret",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigSecretSecretRef": REMOVE},
        ("spec.acme.solvers[0].dns01.rfc2136", "tsigKeyName and tsigSecretSecretRef go together"),
    ),
    Bad(
        "tsig-secret-without-key-name",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigKeyName": REMOVE},
        ("spec.acme.solvers[0].dns01.rfc2136", "tsigKeyName and tsigSecretSecretRef go together"),
    ),
    Bad(
        "tsig-key-name",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigKeyName": "certwright key"},
        ("spec.acme.solvers[0].dns01.rfc2136.tsigKeyName", "should match"),
    ),
    Bad(
        "tsig-secret-ref-no-name",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigSecretSecretRef": {"key": "secret"}},
        ("spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.name: Required value",),
    ),
    Bad(
        "plugin-no-name",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01": {"plugin": {"config": {}}}},
        ("spec.acme.solvers[0].dns01.plugin.name: Required value",),
    ),
    Bad(
        "plugin-name-uppercase",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01": {"plugin": {"name": "Route53"}}},
        ("spec.acme.solvers[0].dns01.plugin.name", "should match"),
    ),
    Bad(
        "plugin-config-not-an-object",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.dns01": {"plugin": {"name": "example-dns", "config": "zone=example.com"}}},
        ("spec.acme.solvers[0].dns01.plugin.config", "type object"),
    ),
    Bad(
        "http01-without-a-route",
        "Issuer",
        {"spec.acme.solvers.0.http01": {}},
        ("spec.acme.solvers[0].http01: Invalid value", "http01 needs exactly one of ingress or gatewayHTTPRoute"),
    ),
    Bad(
        "http01-with-ingress-and-gateway",
        "Issuer",
        {"spec.acme.solvers.0.http01.gatewayHTTPRoute": {"parentRefs": [{"name": "edge"}]}},
        ("http01 needs exactly one of ingress or gatewayHTTPRoute",),
    ),
    Bad(
        "gateway-without-parents",
        "ClusterIssuer",
        {"spec.acme.solvers.0.http01": {"gatewayHTTPRoute": {"parentRefs": []}}},
        ("spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs: Invalid value", "at least 1 items"),
    ),
    Bad(
        "gateway-parent-without-name",
        "Issuer",
        {"spec.acme.solvers.0.http01": {"gatewayHTTPRoute": {"parentRefs": [{"namespace": "infra"}]}}},
        ("spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].name: Required value",),
    ),
    Bad(
        "gateway-parent-port",
        "Issuer",
        {"spec.acme.solvers.0.http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "edge", "port": 70000}]}}},
        ("spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].port", "65535"),
    ),
    Bad(
        "service-type",
        "Issuer",
        {"spec.acme.solvers.0.http01.ingress.serviceType": "LoadBalancer"},
        ('spec.acme.solvers[0].http01.ingress.serviceType: Unsupported value: "LoadBalancer"',),
    ),
    Bad(
        "ingress-class-name",
        "Issuer",
        {"spec.acme.solvers.0.http01.ingress.ingressClassName": "Nginx Public"},
        ("spec.acme.solvers[0].http01.ingress.ingressClassName", "should match"),
    ),
    Bad(
        "pod-label-value",
        "Issuer",
        {"spec.acme.solvers.0.http01.ingress.podTemplate": {"metadata": {"labels": {"a": "b c"}}}},
        ("spec.acme.solvers[0].http01.ingress.podTemplate.metadata.labels.a", "should match"),
    ),
    Bad(
        "node-selector-key",
        "Issuer",
        {"spec.acme.solvers.0.http01.ingress.podTemplate": {"spec": {"nodeSelector": {"a b": "c"}}}},
        ("spec.acme.solvers[0].http01.ingress.podTemplate.spec.nodeSelector", 'key "a b" is not valid'),
    ),
    Bad(
        "self-check-mode",
        "Issuer",
        {"spec.acme.solvers.0.selfCheck": {"mode": "Skip"}},
        ('spec.acme.solvers[0].selfCheck.mode: Unsupported value: "Skip"',),
    ),
    Bad(
        "self-check-wait-0",
        "Issuer",
        {"spec.acme.solvers.0.selfCheck": {"mode": "Wait", "waitSeconds": 0}},
        ("spec.acme.solvers[0].selfCheck.waitSeconds", "greater than or equal to 1"),
    ),
    Bad(
        "self-check-wait-601",
        "Issuer",
        {"spec.acme.solvers.0.selfCheck": {"waitSeconds": 601}},
        ("spec.acme.solvers[0].selfCheck.waitSeconds", "less than or equal to 600"),
    ),
    Bad(
        "self-check-timeout-4",
        "Issuer",
        {"spec.acme.solvers.0.selfCheck": {"timeoutSeconds": 4}},
        ("spec.acme.solvers[0].selfCheck.timeoutSeconds", "greater than or equal to 5"),
    ),
    Bad(
        "self-check-timeout-3601",
        "Issuer",
        {"spec.acme.solvers.0.selfCheck": {"timeoutSeconds": 3601}},
        ("spec.acme.solvers[0].selfCheck.timeoutSeconds", "less than or equal to 3600"),
    ),
    Bad(
        "self-check-nameservers",
        "Issuer",
        {**DNS01, "spec.acme.solvers.0.selfCheck": {"nameservers": "Recursive"}},
        ('spec.acme.solvers[0].selfCheck.nameservers: Unsupported value: "Recursive"',),
    ),
    Bad(
        "selector-wildcard-zone",
        "Issuer",
        {"spec.acme.solvers.0.selector": {"dnsZones": ["*.example.com"]}},
        ("spec.acme.solvers[0].selector.dnsZones[0]", "should match"),
    ),
    # ClusterIssuer: the same rules
    Bad(
        "cluster-server-http",
        "ClusterIssuer",
        {"spec.acme.server": "http://pebble:14000/dir"},
        ("spec.acme.server", "acme.server must be an https:// URL of an ACME directory"),
    ),
    Bad(
        "cluster-solver-without-a-type",
        "ClusterIssuer",
        {"spec.acme.solvers": [{"http01": {"ingress": {}}}, {}]},
        ("spec.acme.solvers[1]", "each solver needs exactly one of http01 or dns01"),
    ),
    Bad(
        "cluster-tsig-key-name-without-secret",
        "ClusterIssuer",
        {**DNS01, "spec.acme.solvers.0.dns01.rfc2136.tsigSecretSecretRef": REMOVE},
        ("spec.acme.solvers[0].dns01.rfc2136", "tsigKeyName and tsigSecretSecretRef go together"),
    ),
    # Challenge
    Bad("challenge-type", "Challenge", {"spec.type": "tls-alpn-01"}, ('spec.type: Unsupported value: "tls-alpn-01"',)),
    Bad(
        "challenge-dns-01-without-dns01",
        "Challenge",
        {"spec.type": "dns-01"},
        ("spec.dns01: Required value", "a dns-01 challenge needs dns01"),
    ),
    Bad(
        "challenge-dns01-value-a-key-authorization",
        "Challenge",
        {**DNS01_CHALLENGE, "spec.dns01.value": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.thumbprint"},
        ("spec.dns01.value", "should match"),
    ),
    Bad(
        "challenge-dns01-fqdn-without-dot",
        "Challenge",
        {**DNS01_CHALLENGE, "spec.dns01.fqdn": "_acme-challenge.example.com"},
        ("spec.dns01.fqdn", "should match"),
    ),
    Bad(
        "challenge-dns01-provider",
        "Challenge",
        {**DNS01_CHALLENGE, "spec.dns01.provider": "RFC 2136"},
        ("spec.dns01.provider", "should match"),
    ),
    Bad(
        "challenge-dns01-without-zone",
        "Challenge",
        {**DNS01_CHALLENGE, "spec.dns01.zone": REMOVE},
        ("spec.dns01.zone: Required value",),
    ),
    Bad("challenge-token", "Challenge", {"spec.token": "../../etc"}, ("spec.token", "should match")),
    Bad("challenge-url", "Challenge", {"spec.url": "http://acme.example/chall/1"}, ("spec.url", "should match")),
    Bad("challenge-no-dns-name", "Challenge", {"spec.dnsName": REMOVE}, ("spec.dnsName: Required value",)),
    Bad("challenge-solver-index", "Challenge", {"spec.solverIndex": -1}, ("spec.solverIndex", "greater than or equal")),
    Bad(
        "challenge-key-authorization",
        "Challenge",
        {"spec.keyAuthorization": "token.thumbprint"},
        ('unknown field "spec.keyAuthorization"',),
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_a_malformed_object_is_refused_naming_the_field(
    env: Environment, namespace: str, cluster_issuers: list[dict[str, Any]], bad: Bad
) -> None:
    obj = _changed(_make(bad.kind, namespace), bad.changes)
    if bad.kind == "ClusterIssuer":
        cluster_issuers.append(obj)  # in case it is wrongly accepted
    refused = _apply(env, obj, check=False)
    assert refused.returncode != 0, f"accepted: {json.dumps(obj)}"
    for text in bad.says:
        assert text in refused.stderr
    scope = ["-n", namespace] if bad.kind != "ClusterIssuer" else []
    assert env.kubectl("get", KINDS[bad.kind], obj["metadata"]["name"], *scope, check=False).returncode != 0


def test_ids_are_unique() -> None:
    assert len({bad.id for bad in BAD}) == len(BAD)


# --- status -------------------------------------------------------------------------------------------

_NOW = "2026-11-28T03:00:00Z"


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": _NOW,
        "observedGeneration": 1,
    }


def test_the_status_the_operator_writes_is_kept_and_anything_else_pruned(env: Environment, namespace: str) -> None:
    cert = certificate(namespace)
    _apply(env, cert)
    status = {
        "conditions": [
            _condition("Ready", "True", "Issued", "Certificate is up to date"),
            _condition("Issuing", "False", "Issued", "Issued revision 2"),
        ],
        "notBefore": "2026-11-28T02:00:00Z",
        "notAfter": "2027-02-26T02:00:00Z",
        "renewalTime": "2027-01-27T02:00:00Z",
        "lastFailureTime": "2026-11-27T02:00:00Z",
        "revision": 2,
        "failedIssuanceAttempts": 0,
        "nextPrivateKeySecretName": "web-tls-next-x7k2p",
        "order": {"url": "https://acme.example/order/9", "state": "pending", "names": ["www.example.com"]},
        "lastRenewalInfo": {
            "start": "2027-01-26T00:00:00Z",
            "end": "2027-01-28T00:00:00Z",
            "explanationURL": "https://acme.example/why",
            "retryAfter": "2026-11-28T09:00:00Z",
        },
    }
    patched = _patch_status(env, cert, {**status, "kopf": {"progress": {}}}, dry_run=True)
    assert 'unknown field "status.kopf"' in patched.stderr  # a warning: pruned, not stored
    stored = json.loads(patched.stdout)["status"]
    assert {key: stored.get(key) for key in status} == status
    assert "kopf" not in stored


@pytest.mark.parametrize(
    ("kind", "status", "says"),
    [
        (
            "Certificate",
            {"conditions": [{"type": "Ready", "status": "Yes"}]},
            'status.conditions[0].status: Unsupported value: "Yes"',
        ),
        ("Certificate", {"conditions": [{"status": "True"}]}, "status.conditions[0].type: Required value"),
        ("Certificate", {"notAfter": "next week"}, "status.notAfter"),
        ("Issuer", {"conditions": [{"type": "Ready", "status": "true"}]}, "status.conditions[0].status"),
        ("Challenge", {"state": "ready"}, 'status.state: Unsupported value: "ready"'),
        ("Challenge", {"presented": "yes"}, "status.presented"),
    ],
    ids=["condition-status", "condition-type", "date", "issuer-condition", "challenge-state", "challenge-presented"],
)
def test_a_malformed_status_is_refused(
    env: Environment, namespace: str, kind: str, status: dict[str, Any], says: str
) -> None:
    obj = _make(kind, namespace)
    _apply(env, obj)
    refused = _patch_status(env, obj, status, check=False, dry_run=True)
    assert refused.returncode != 0
    assert says in refused.stderr


# --- kubectl get --------------------------------------------------------------------------------------


def _table(env: Environment, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    """`kubectl get` output as its header and one {column: cell} per row (cells may hold spaces)."""
    header, *lines = env.kubectl("get", *args).stdout.splitlines()
    columns = [(match.group(), match.start()) for match in re.finditer(r"\S+", header)]
    ends = [start for _, start in columns[1:]] + [None]
    rows = [{name: line[start:end].strip() for (name, start), end in zip(columns, ends, strict=True)} for line in lines]
    return [name for name, _ in columns], rows


def _row_and_object(env: Environment, obj: dict[str, Any], *args: str) -> tuple[list[str], dict[str, str], Any]:
    """The object's `kubectl get` row and its JSON from the same resourceVersion: an operator in the
    shared environment may be writing its status meanwhile."""

    def snapshot() -> tuple[list[str], dict[str, str], Any, bool]:
        before = _get(env, obj)
        header, [row] = _table(env, KINDS[obj["kind"]], obj["metadata"]["name"], *args)
        after = _get(env, obj)
        same = before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
        return header, row, after, same

    header, row, stored, _ = eventually(snapshot, lambda taken: taken[3], what="an unchanged object between reads")
    return header, row, stored


def _ready(stored: dict[str, Any]) -> dict[str, Any]:
    conditions = (stored.get("status") or {}).get("conditions") or []
    return next((condition for condition in conditions if condition["type"] == "Ready"), {})


def test_kubectl_get_shows_useful_columns(env: Environment, namespace: str) -> None:
    cert = certificate(namespace, "columns")
    _apply(env, cert)
    ready = _condition("Ready", "False", "Pending", "Waiting for the CA to validate www.example.com")
    dates = {"notAfter": "2027-02-26T02:00:00Z", "renewalTime": "2027-01-27T02:00:00Z"}
    _patch_status(env, cert, {"conditions": [ready], **dates})
    header, row, stored = _row_and_object(env, cert, "-n", namespace)
    assert header == ["NAME", "READY", "SECRET", "ISSUER", "EXPIRES", "RENEWS", "AGE"]
    assert row | {"AGE": ""} == {
        "NAME": "columns",
        "READY": _ready(stored).get("status", ""),
        "SECRET": "web-tls",
        "ISSUER": "letsencrypt",
        "EXPIRES": "2027-02-26T02:00:00Z",  # a date column would show a time in the future as <invalid>
        "RENEWS": "2027-01-27T02:00:00Z",
        "AGE": "",
    }
    assert row["READY"] in ("True", "False")  # ours, or an operator's verdict on the missing issuer
    header, row, stored = _row_and_object(env, cert, "-n", namespace, "-o", "wide")
    assert header == ["NAME", "READY", "SECRET", "ISSUER", "EXPIRES", "RENEWS", "STATUS", "AGE"]
    assert row["STATUS"] == _ready(stored)["message"]
    assert " " in row["STATUS"]  # a message in words, whole

    chall = challenge(namespace, "columns")
    _apply(env, chall)
    _patch_status(env, chall, {"state": "pending", "reason": "Waiting for the solver Pod", "presented": False})
    header, row, stored = _row_and_object(env, chall, "-n", namespace)
    assert header == ["NAME", "STATE", "TYPE", "DOMAIN", "REASON", "AGE"]
    assert (row["TYPE"], row["DOMAIN"], row["STATE"], row["REASON"]) == (
        "http-01",
        "www.example.com",
        stored["status"]["state"],
        stored["status"]["reason"],
    )
    assert row["REASON"]
    wildcard = dns01_challenge(namespace, "dns01-columns")
    _apply(env, wildcard)
    _, [row] = _table(env, "challenges", "dns01-columns", "-n", namespace)
    assert (row["TYPE"], row["DOMAIN"]) == ("dns-01", "*.example.com")

    iss = issuer(namespace, "columns")
    _apply(env, iss)
    registered = _condition("Ready", "True", "ACMEAccountRegistered", "The ACME account is registered")
    _patch_status(env, iss, {"conditions": [registered]})
    header, row, stored = _row_and_object(env, iss, "-n", namespace)
    assert header == ["NAME", "READY", "STATUS", "AGE"]
    assert (row["READY"], row["STATUS"]) == (_ready(stored)["status"], _ready(stored)["message"])
    assert row["STATUS"]


def test_cluster_issuers_show_the_same_columns(
    env: Environment, crds: None, cluster_issuers: list[dict[str, Any]]
) -> None:
    obj = cluster_issuer()
    cluster_issuers.append(obj)
    _apply(env, obj)
    header, [row] = _table(env, "clusterissuers", obj["metadata"]["name"])
    assert header == ["NAME", "READY", "STATUS", "AGE"]
    assert row["NAME"] == obj["metadata"]["name"]


def test_short_names_and_the_certwright_category(env: Environment, namespace: str) -> None:
    _apply(env, certificate(namespace, "named"))
    _apply(env, issuer(namespace, "named"))
    _apply(env, challenge(namespace, "named"))
    for short in ("cert", "certs"):
        _, [row] = _table(env, short, "named", "-n", namespace)
        assert row["NAME"] == "named"
    names = set(env.kubectl("get", "certwright", "-n", namespace, "-o", "name").stdout.split())
    assert {f"{kind}.{GROUP}/named" for kind in ("certificate", "issuer", "challenge")} <= names


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("certificates.spec.renewBefore", "Go duration"),
        ("clusterissuers.spec.acme.privateKeySecretRef", "cluster resource namespace"),
        ("issuers.spec.acme.solvers", "only DNS-01 can validate wildcard names"),
        ("clusterissuers.spec.acme.solvers.dns01.rfc2136.tsigSecretSecretRef", "in the cluster resource namespace"),
        ("issuers.spec.acme.solvers.dns01.rfc2136.tsigAlgorithm", "make a new key with tsig-keygen -a hmac-sha256"),
        ("issuers.spec.acme.solvers.selfCheck.nameservers", "for split-horizon set-ups"),
        ("challenges.spec.dns01.value", "so it is not a secret"),
    ],
    ids=[
        "renew-before",
        "cluster-account-key",
        "solvers",
        "cluster-tsig-secret",
        "tsig-algorithm",
        "nameservers",
        "txt",
    ],
)
def test_kubectl_explain_describes_the_fields(env: Environment, crds: None, field: str, says: str) -> None:
    explained = " ".join(env.kubectl("explain", field).stdout.split())  # as one line: kubectl wraps at 80
    assert says in explained
