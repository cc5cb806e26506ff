"""Manifests for Challenges, solver Pods, Services and Ingresses, and Secrets, checked without a cluster."""

from __future__ import annotations

import base64
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from certwright.domain import api
from certwright.domain.specs import CertificateSpec, Dns01, IssuerRef, ParentRef, Solver, parse_certificate
from certwright.kube.builders import (
    SOLVER_PORT,
    build_challenge,
    build_key_secret,
    build_solver_httproute,
    build_solver_ingress,
    build_solver_pod,
    build_solver_service,
    build_tls_secret,
    challenge_name,
    solver_name,
)

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTHORIZATION = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
IMAGE = "ghcr.io/certwright/certwright:1.0.0"
ISSUER = IssuerRef(name="letsencrypt", kind="ClusterIssuer")

# Kubernetes' name rules (k8s.io/apimachinery/pkg/util/validation).
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def is_dns1035_label(name: str) -> bool:
    return len(name) <= 63 and DNS1035_LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and DNS1123_SUBDOMAIN.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and LABEL_VALUE.fullmatch(value) is not None


def certificate(name: str = "web") -> dict[str, Any]:
    """A Certificate as the API server returns it (with a uid)."""
    return {
        "apiVersion": api.API_VERSION,
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "shop", "uid": f"uid-of-{name}", "generation": 1},
    }


def challenge(certificate_name: str = "web", dns_name: str = "www.example.com") -> dict[str, Any]:
    """A Challenge as built, then created (the API server adds the uid)."""
    built = build_challenge(
        certificate(certificate_name),
        dns_name=dns_name,
        token=TOKEN,
        url="https://acme.test/chall/1",
        authorization_url="https://acme.test/authz/1",
        issuer=ISSUER,
        solver=Solver(),
        solver_index=0,
    )
    built["metadata"]["uid"] = "uid-of-challenge"
    return built


PLAIN = Solver(ingress_class=None)
TEMPLATED = Solver(
    ingress_class="nginx",
    service_type="NodePort",
    pod_labels={"team": "edge", api.LABEL_SOLVER: "hijacked"},
    pod_annotations={"sidecar.istio.io/inject": "false"},
    node_selector={"pool": "edge"},
    tolerations=({"key": "edge", "operator": "Exists", "effect": "NoSchedule"},),
    priority_class="low",
    ingress_labels={"lb": "public"},
    ingress_annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"},
)


def pod(solver: Solver = PLAIN) -> dict[str, Any]:
    return build_solver_pod(challenge(), solver, image=IMAGE, key_authorization=KEY_AUTHORIZATION)


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["containers"]
    assert isinstance(only, dict)
    return only


# --- Challenge -----------------------------------------------------------------------------------


def test_challenge_describes_one_authorization() -> None:
    built = challenge()

    assert (built["apiVersion"], built["kind"]) == ("certwright.dev/v1", "Challenge")
    assert built["metadata"]["namespace"] == "shop"
    assert built["metadata"]["labels"] == {api.LABEL_CERTIFICATE: "web"}
    assert built["spec"] == {
        "certificateName": "web",
        "dnsName": "www.example.com",
        "token": TOKEN,
        "url": "https://acme.test/chall/1",
        "authorizationURL": "https://acme.test/authz/1",
        "type": "http-01",
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
        "solverIndex": 0,
    }


def test_challenge_is_owned_by_its_certificate() -> None:
    assert challenge()["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "certwright.dev/v1",
            "kind": "Certificate",
            "name": "web",
            "uid": "uid-of-web",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_a_dns01_challenge_keeps_its_record_and_solver_and_holds_a_finalizer() -> None:
    written = {"dns01": {"rfc2136": {"nameserver": "10.0.0.53"}}, "selector": {"dnsZones": ["example.test"]}}
    solver = Solver(dns01=Dns01("rfc2136", written["dns01"]["rfc2136"], "f"), raw=written)
    record = {
        "fqdn": "_acme-challenge.example.test.",
        "zone": "example.test.",
        "value": "digest",
        "provider": "rfc2136",
    }
    built = build_challenge(
        certificate(),
        dns_name="*.example.test",
        token=TOKEN,
        url="https://acme.test/chall/1",
        authorization_url="https://acme.test/authz/1",
        issuer=ISSUER,
        solver=solver,
        solver_index=1,
        record=record,
    )
    assert built["metadata"]["finalizers"] == [api.FINALIZER_DNS_RECORD]
    assert built["spec"]["type"] == "dns-01"
    assert built["spec"]["dns01"] == record
    assert built["spec"]["solver"] == written
    assert built["spec"]["dnsName"] == "*.example.test"
    assert "finalizers" not in challenge()["metadata"]  # HTTP-01: the owner references suffice


def test_a_gateway_solver_gets_an_httproute_for_the_exact_token_path() -> None:
    solver = Solver(parent_refs=(ParentRef("edge", "infra", section_name="http"),), route_labels={"routes": "acme"})
    route = build_solver_httproute(challenge(), solver)
    name = solver_name(challenge()["metadata"]["name"])
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["name"] == name
    assert route["metadata"]["labels"]["routes"] == "acme"
    assert route["metadata"]["labels"][api.LABEL_SOLVER] == "http01"
    assert route["metadata"]["ownerReferences"][0]["kind"] == "Challenge"
    assert route["spec"] == {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": "edge",
                "namespace": "infra",
                "sectionName": "http",
            }
        ],
        "hostnames": [challenge()["spec"]["dnsName"]],
        "rules": [
            {
                "matches": [{"path": {"type": "Exact", "value": f"/.well-known/acme-challenge/{TOKEN}"}}],
                "backendRefs": [{"name": name, "port": SOLVER_PORT}],
            }
        ],
    }


def test_challenge_holds_no_key_authorization() -> None:
    assert "key_authorization" not in inspect.signature(build_challenge).parameters
    text = json.dumps(challenge())
    assert KEY_AUTHORIZATION not in text
    assert "keyauthorization" not in text.lower()


def test_challenge_name_is_stable_and_per_authorization() -> None:
    name = challenge_name("web", "www.example.com", TOKEN)

    assert name == challenge_name("web", "www.example.com", TOKEN)
    assert name == challenge()["metadata"]["name"]
    assert name.startswith("web-")
    assert name != challenge_name("web", "www.example.com", "another-token")
    assert name != challenge_name("web", "shop.example.com", TOKEN)


@pytest.mark.parametrize(
    "certificate_name",
    [
        "web",
        "a" * 52,
        "a" * 53,
        "my-very-long-application-name-in-production-with-a-tls-certificate",
        "x" * 253,
        "a" * 51 + ".example.com",
    ],
    ids=["short", "52-chars", "53-chars", "long-words", "253-chars", "cut-after-a-dot"],
)
def test_challenge_name_fits_a_label_for_any_certificate_name(certificate_name: str) -> None:
    name = challenge_name(certificate_name, "www.example.com", TOKEN)

    assert len(name) <= 63
    assert is_dns1123_subdomain(name)
    assert is_label_value(name)  # it is the value of the solver objects' challenge label


# --- Solver Pod ----------------------------------------------------------------------------------


def _effective(manifest: dict[str, Any], field: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the Pod's."""
    return container(manifest).get("securityContext", {}).get(field, manifest["spec"]["securityContext"].get(field))


RESTRICTED: list[Callable[[dict[str, Any]], bool]] = [
    lambda p: _effective(p, "runAsNonRoot") is True,
    lambda p: _effective(p, "runAsUser") not in (0, None),
    lambda p: _effective(p, "seccompProfile") == {"type": "RuntimeDefault"},
    lambda p: container(p)["securityContext"]["allowPrivilegeEscalation"] is False,
    lambda p: container(p)["securityContext"]["capabilities"] == {"drop": ["ALL"]},
    lambda p: not container(p)["securityContext"].get("privileged", False),
    lambda p: container(p)["securityContext"]["readOnlyRootFilesystem"] is True,
    lambda p: p["spec"]["automountServiceAccountToken"] is False,
    lambda p: not any(p["spec"].get(host) for host in ("hostNetwork", "hostPID", "hostIPC")),
    lambda p: all("hostPort" not in port for port in container(p)["ports"]),
    lambda p: not p["spec"].get("volumes"),
]


@pytest.mark.parametrize("solver", [PLAIN, TEMPLATED], ids=["plain", "templated"])
@pytest.mark.parametrize(
    "requirement",
    RESTRICTED,
    ids=[
        "run-as-non-root",
        "non-zero-uid",
        "seccomp-runtime-default",
        "no-privilege-escalation",
        "drop-all-capabilities",
        "not-privileged",
        "read-only-root-filesystem",
        "no-service-account-token",
        "no-host-namespaces",
        "no-host-ports",
        "no-volumes",
    ],
)
def test_solver_pod_is_admissible_under_restricted(
    solver: Solver, requirement: Callable[[dict[str, Any]], bool]
) -> None:
    assert requirement(pod(solver))


def test_solver_pod_has_requests_and_limits() -> None:
    resources = container(pod())["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}


def test_solver_pod_runs_the_solver_module_on_its_own_ip() -> None:
    solver_container = container(pod())

    assert solver_container["image"] == IMAGE
    assert solver_container["command"] == ["python", "-m", "certwright.solver"]
    assert solver_container["args"] == ["--listen", f"$(POD_IP):{SOLVER_PORT}"]
    assert {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in solver_container["env"]
    assert solver_container["ports"] == [{"name": "http", "containerPort": SOLVER_PORT, "protocol": "TCP"}]


@pytest.mark.parametrize("solver", [PLAIN, TEMPLATED], ids=["plain", "templated"])
def test_key_authorization_goes_only_through_the_environment(solver: Solver) -> None:
    manifest = pod(solver)
    solver_container = container(manifest)

    assert {"name": "CERTWRIGHT_SOLVER_ANSWERS", "value": f"{TOKEN}={KEY_AUTHORIZATION}"} in solver_container["env"]
    assert KEY_AUTHORIZATION not in json.dumps(manifest["metadata"])
    assert KEY_AUTHORIZATION not in json.dumps([solver_container["command"], solver_container["args"]])
    without_env = {key: value for key, value in solver_container.items() if key != "env"}
    assert KEY_AUTHORIZATION not in json.dumps({**manifest["spec"], "containers": [without_env]})


def test_solver_pod_applies_the_pod_template_but_keeps_its_own_labels() -> None:
    manifest = pod(TEMPLATED)

    assert manifest["metadata"]["labels"]["team"] == "edge"
    assert manifest["metadata"]["labels"][api.LABEL_SOLVER] == "http01"
    assert manifest["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert manifest["spec"]["nodeSelector"] == {"pool": "edge"}
    assert manifest["spec"]["tolerations"] == [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}]
    assert manifest["spec"]["priorityClassName"] == "low"


def test_solver_pod_without_a_template_sets_no_scheduling_fields() -> None:
    spec = pod(PLAIN)["spec"]
    assert not {"nodeSelector", "tolerations", "priorityClassName"} & set(spec)


# --- Owner references and names of solver objects ------------------------------------------------

SOLVER_BUILDERS: list[Callable[[dict[str, Any], Solver], dict[str, Any]]] = [
    lambda c, s: build_solver_pod(c, s, image=IMAGE, key_authorization=KEY_AUTHORIZATION),
    build_solver_service,
    build_solver_ingress,
]
SOLVER_BUILDER_IDS = ["pod", "service", "ingress"]


@pytest.mark.parametrize("build", SOLVER_BUILDERS, ids=SOLVER_BUILDER_IDS)
def test_solver_objects_are_owned_by_the_challenge(build: Callable[[dict[str, Any], Solver], dict[str, Any]]) -> None:
    owner = challenge()
    manifest = build(owner, PLAIN)

    assert manifest["metadata"]["namespace"] == "shop"
    assert manifest["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "certwright.dev/v1",
            "kind": "Challenge",
            "name": owner["metadata"]["name"],
            "uid": "uid-of-challenge",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert manifest["metadata"]["labels"][api.LABEL_CHALLENGE] == owner["metadata"]["name"]


@pytest.mark.parametrize(
    "certificate_name",
    [
        "web",
        "web-tls",
        "checkout-service-public-endpoint-production-tls",
        "www.example.com",
        "1password-tls",
    ],
    ids=["short", "typical", "47-chars", "dotted", "leading-digit"],
)
def test_solver_service_name_is_a_dns1035_label(certificate_name: str) -> None:
    name = build_solver_service(challenge(certificate_name), PLAIN)["metadata"]["name"]
    assert is_dns1035_label(name), name


@pytest.mark.parametrize("build", SOLVER_BUILDERS, ids=SOLVER_BUILDER_IDS)
@pytest.mark.parametrize("certificate_name", ["web", "www.example.com", "x" * 253], ids=["short", "dotted", "long"])
def test_solver_object_names_are_dns1123_subdomains(
    build: Callable[[dict[str, Any], Solver], dict[str, Any]], certificate_name: str
) -> None:
    assert is_dns1123_subdomain(build(challenge(certificate_name), PLAIN)["metadata"]["name"])


# --- Solver Service ------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", [PLAIN, TEMPLATED], ids=["plain", "templated"])
def test_service_selects_the_solver_pod_and_targets_its_port(solver: Solver) -> None:
    owner = challenge()
    solver_pod = build_solver_pod(owner, solver, image=IMAGE, key_authorization=KEY_AUTHORIZATION)
    service = build_solver_service(owner, solver)

    selector = service["spec"]["selector"]
    assert selector
    assert selector.items() <= solver_pod["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == SOLVER_PORT
    assert port["targetPort"] in {p["name"] for p in container(solver_pod)["ports"]}
    assert service["spec"]["type"] == solver.service_type


def test_service_does_not_select_another_challenges_pod() -> None:
    service = build_solver_service(challenge(dns_name="www.example.com"), PLAIN)
    other_pod = build_solver_pod(
        challenge(dns_name="shop.example.com"), PLAIN, image=IMAGE, key_authorization=KEY_AUTHORIZATION
    )
    assert not service["spec"]["selector"].items() <= other_pod["metadata"]["labels"].items()


# --- Solver Ingress ------------------------------------------------------------------------------


def test_ingress_routes_the_exact_token_path_to_the_service() -> None:
    owner = challenge()
    service = build_solver_service(owner, PLAIN)

    (rule,) = build_solver_ingress(owner, PLAIN)["spec"]["rules"]
    (path,) = rule["http"]["paths"]

    assert rule["host"] == "www.example.com"
    assert path["path"] == f"/.well-known/acme-challenge/{TOKEN}"
    assert path["pathType"] == "ImplementationSpecific"
    assert path["backend"] == {
        "service": {"name": service["metadata"]["name"], "port": {"number": service["spec"]["ports"][0]["port"]}}
    }


@pytest.mark.parametrize(
    ("solver", "ingress_class"),
    [(PLAIN, None), (TEMPLATED, "nginx")],
    ids=["class-unset", "class-set"],
)
def test_ingress_class_name(solver: Solver, ingress_class: str | None) -> None:
    assert build_solver_ingress(challenge(), solver)["spec"].get("ingressClassName") == ingress_class


def test_ingress_applies_the_ingress_template_but_keeps_its_own_labels() -> None:
    metadata = build_solver_ingress(challenge(), TEMPLATED)["metadata"]

    assert metadata["labels"]["lb"] == "public"
    assert metadata["labels"][api.LABEL_SOLVER] == "http01"
    assert metadata["annotations"] == {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}


# --- Secrets -------------------------------------------------------------------------------------

CHAIN_PEM = b"-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n"
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"


def spec(**fields: Any) -> CertificateSpec:
    return parse_certificate(
        {
            "secretName": "web-tls",
            "dnsNames": ["www.example.com", "example.com"],
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
            **fields,
        }
    )


def test_key_secret_holds_the_next_key_for_the_certificate() -> None:
    secret = build_key_secret(certificate(), "web-next-key", KEY_PEM)

    assert (secret["kind"], secret["type"]) == ("Secret", "Opaque")
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("web-next-key", "shop")
    assert secret["metadata"]["labels"] == {api.LABEL_MANAGED: "true", api.LABEL_CERTIFICATE: "web"}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-of-web"
    assert secret["metadata"]["ownerReferences"][0]["controller"] is True
    assert base64.b64decode(secret["data"]["tls.key"]) == KEY_PEM


def test_tls_secret_for_a_new_secret() -> None:
    secret = build_tls_secret(certificate(), spec(), chain_pem=CHAIN_PEM, key_pem=KEY_PEM, base=None)

    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "kubernetes.io/tls")
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("web-tls", "shop")
    assert base64.b64decode(secret["data"]["tls.crt"], validate=True) == CHAIN_PEM
    assert base64.b64decode(secret["data"]["tls.key"], validate=True) == KEY_PEM
    assert secret["metadata"]["labels"] == {api.LABEL_MANAGED: "true", api.LABEL_CERTIFICATE: "web"}
    assert secret["metadata"]["annotations"] == {
        api.ANNOTATION_CERTIFICATE: "web",
        api.ANNOTATION_ISSUER_NAME: "letsencrypt",
        api.ANNOTATION_ISSUER_KIND: "ClusterIssuer",
        api.ANNOTATION_DNS_NAMES: "www.example.com,example.com",
    }
    assert "resourceVersion" not in secret["metadata"]


def test_tls_secret_applies_the_secret_template_under_its_own_keys() -> None:
    template = {
        "labels": {"team": "shop", api.LABEL_MANAGED: "false"},
        "annotations": {"reflector/allowed": "true", api.ANNOTATION_ISSUER_NAME: "someone-else"},
    }
    metadata = build_tls_secret(
        certificate(), spec(secretTemplate=template), chain_pem=CHAIN_PEM, key_pem=KEY_PEM, base=None
    )["metadata"]

    assert metadata["labels"]["team"] == "shop"
    assert metadata["labels"][api.LABEL_MANAGED] == "true"
    assert metadata["annotations"]["reflector/allowed"] == "true"
    assert metadata["annotations"][api.ANNOTATION_ISSUER_NAME] == "letsencrypt"


def test_tls_secret_keeps_what_others_put_on_an_existing_secret() -> None:
    existing: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": "web-tls",
            "namespace": "shop",
            "resourceVersion": "4711",
            "labels": {"backup": "daily", api.LABEL_CERTIFICATE: "stale"},
            "annotations": {"reloader/match": "true", api.ANNOTATION_ISSUER_NAME: "old-issuer"},
        },
        "data": {
            "ca.crt": base64.b64encode(b"root").decode(),
            "tls.crt": base64.b64encode(b"old chain").decode(),
            "tls.key": base64.b64encode(b"old key").decode(),
        },
    }

    secret = build_tls_secret(
        certificate(),
        spec(secretTemplate={"labels": {"team": "shop"}}),
        chain_pem=CHAIN_PEM,
        key_pem=KEY_PEM,
        base=existing,
    )

    metadata = secret["metadata"]
    assert metadata["resourceVersion"] == "4711"
    assert metadata["labels"] == {
        "backup": "daily",
        "team": "shop",
        api.LABEL_MANAGED: "true",
        api.LABEL_CERTIFICATE: "web",
    }
    assert metadata["annotations"]["reloader/match"] == "true"
    assert metadata["annotations"][api.ANNOTATION_ISSUER_NAME] == "letsencrypt"
    assert secret["data"]["ca.crt"] == existing["data"]["ca.crt"]
    assert base64.b64decode(secret["data"]["tls.crt"]) == CHAIN_PEM
    assert base64.b64decode(secret["data"]["tls.key"]) == KEY_PEM
    assert existing["data"]["tls.crt"] == base64.b64encode(b"old chain").decode()  # the base is not changed


LONG_NAME = "my-very-long-application-name-in-production-with-a-tls-certificate"  # 66 characters, a valid name


@pytest.mark.parametrize(
    "build",
    [
        lambda: challenge(LONG_NAME),
        lambda: build_key_secret(certificate(LONG_NAME), "next-key", KEY_PEM),
        lambda: build_tls_secret(certificate(LONG_NAME), spec(), chain_pem=CHAIN_PEM, key_pem=KEY_PEM, base=None),
    ],
    ids=["challenge", "key-secret", "tls-secret"],
)
def test_label_values_are_valid_for_a_long_certificate_name(build: Callable[[], dict[str, Any]]) -> None:
    labels = build()["metadata"]["labels"]
    assert all(is_label_value(value) for value in labels.values()), labels
