"""Manifests the operator creates, as pure functions returning dicts (tested without a cluster)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from ..domain import api
from ..domain.specs import CertificateSpec, IssuerRef, Solver

SOLVER_PORT = 8089
CHALLENGE_PATH = "/.well-known/acme-challenge/"
GATEWAY_GROUP = "gateway.networking.k8s.io"

Obj = dict[str, Any]


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> Obj:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", api.API_VERSION),
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Mapping[str, Any]) -> str:
    """The uid of the object's controlling owner ("" when it has none)."""
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return str(reference.get("uid"))
    return ""


def challenge_name(certificate_name: str, dns_name: str, token: str) -> str:
    """Stable per authorization, so a restarted operator finds the Challenge it made."""
    digest = hashlib.sha256(f"{dns_name}/{token}".encode()).hexdigest()[:10]
    return f"{certificate_name[:52].rstrip('.-')}-{digest}"


def solver_name(challenge: str) -> str:
    """The solver Pod, Service and Ingress name: a DNS-1035 label whatever the Challenge is called
    (a Service name may not hold a dot, start with a digit or pass 63 characters)."""
    return f"certwright-solver-{hashlib.sha256(challenge.encode()).hexdigest()[:12]}"


def label_value(text: str) -> str:
    """``text`` as a label value: names longer than a label's 63 characters keep a readable head and a hash."""
    if len(text) <= 63:
        return text
    return f"{text[:50].rstrip('.-_')}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def build_challenge(
    certificate: Mapping[str, Any],
    *,
    dns_name: str,
    token: str,
    url: str,
    authorization_url: str,
    issuer: IssuerRef,
    solver: Solver,
    solver_index: int,
    record: Mapping[str, str] | None = None,
) -> Obj:
    """A Challenge; a DNS-01 one also keeps its record and solver (so the record is removed after a
    restart, or when the issuer changed) and a finalizer that holds it until the record is gone."""
    meta = certificate["metadata"]
    challenge: Obj = {
        "apiVersion": api.API_VERSION,
        "kind": "Challenge",
        "metadata": {
            "name": challenge_name(meta["name"], dns_name, token),
            "namespace": meta["namespace"],
            "labels": {api.LABEL_CERTIFICATE: label_value(meta["name"])},
            "ownerReferences": [owner_reference(certificate)],
        },
        "spec": {
            "certificateName": meta["name"],
            "dnsName": dns_name,
            "token": token,
            "url": url,
            "authorizationURL": authorization_url,
            "type": solver.challenge_type,
            "issuerRef": {"name": issuer.name, "kind": issuer.kind},
            "solverIndex": solver_index,
        },
    }
    if record is not None:
        challenge["metadata"]["finalizers"] = [api.FINALIZER_DNS_RECORD]
        challenge["spec"]["dns01"] = dict(record)
        challenge["spec"]["solver"] = dict(solver.raw)
    return challenge


def _solver_labels(challenge: Mapping[str, Any]) -> Obj:
    return {
        api.LABEL_SOLVER: "http01",
        api.LABEL_CHALLENGE: challenge["metadata"]["name"],
        "app.kubernetes.io/name": "certwright-solver",
        "app.kubernetes.io/managed-by": "certwright",
    }


def build_solver_pod(challenge: Mapping[str, Any], solver: Solver, *, image: str, key_authorization: str) -> Obj:
    """A hardened Pod (PSA ``restricted``) that serves one token's key authorization."""
    meta = challenge["metadata"]
    token = challenge["spec"]["token"]
    spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Always",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "solver",
                "image": image,
                "command": ["python", "-m", "certwright.solver"],
                "args": ["--listen", f"$(POD_IP):{SOLVER_PORT}"],
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "CERTWRIGHT_SOLVER_ANSWERS", "value": f"{token}={key_authorization}"},
                ],
                "ports": [{"name": "http", "containerPort": SOLVER_PORT, "protocol": "TCP"}],
                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    if solver.node_selector:
        spec["nodeSelector"] = dict(solver.node_selector)
    if solver.tolerations:
        spec["tolerations"] = [dict(t) for t in solver.tolerations]
    if solver.priority_class:
        spec["priorityClassName"] = solver.priority_class
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": solver_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {**solver.pod_labels, **_solver_labels(challenge)},
            "annotations": dict(solver.pod_annotations),
            "ownerReferences": [owner_reference(challenge)],
        },
        "spec": spec,
    }


def build_solver_service(challenge: Mapping[str, Any], solver: Solver) -> Obj:
    meta = challenge["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": solver_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": _solver_labels(challenge),
            "ownerReferences": [owner_reference(challenge)],
        },
        "spec": {
            "type": solver.service_type,
            "selector": {api.LABEL_SOLVER: "http01", api.LABEL_CHALLENGE: meta["name"]},
            "ports": [{"name": "http", "port": SOLVER_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def build_solver_ingress(challenge: Mapping[str, Any], solver: Solver) -> Obj:
    """One rule for the token's exact path.

    ``ImplementationSpecific``: ingress-nginx's strict path validation refuses ``Exact`` and ``Prefix``
    paths containing a dot, which ``/.well-known/`` has (cert-manager #7791).
    """
    meta = challenge["metadata"]
    spec_in = challenge["spec"]
    spec: Obj = {
        "rules": [
            {
                "host": spec_in["dnsName"],
                "http": {
                    "paths": [
                        {
                            "path": CHALLENGE_PATH + spec_in["token"],
                            "pathType": "ImplementationSpecific",
                            "backend": {
                                "service": {"name": solver_name(meta["name"]), "port": {"number": SOLVER_PORT}}
                            },
                        }
                    ]
                },
            }
        ]
    }
    if solver.ingress_class:
        spec["ingressClassName"] = solver.ingress_class
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": solver_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {**solver.ingress_labels, **_solver_labels(challenge)},
            "annotations": dict(solver.ingress_annotations),
            "ownerReferences": [owner_reference(challenge)],
        },
        "spec": spec,
    }


def next_key_name(certificate_name: str) -> str:
    """The Secret that holds the next private key from before the order until the TLS Secret is written."""
    return f"{certificate_name[:240]}-next-key"


def build_key_secret(certificate: Mapping[str, Any], name: str, key_pem: bytes) -> Obj:
    """Holds the next private key from before the order until the TLS Secret is written."""
    meta = certificate["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {api.LABEL_MANAGED: "true", api.LABEL_CERTIFICATE: label_value(meta["name"])},
            "ownerReferences": [owner_reference(certificate)],
        },
        "data": {"tls.key": base64.b64encode(key_pem).decode()},
    }


def build_tls_secret(
    certificate: Mapping[str, Any],
    spec: CertificateSpec,
    *,
    chain_pem: bytes,
    key_pem: bytes,
    base: Mapping[str, Any] | None,
) -> Obj:
    """The ``kubernetes.io/tls`` Secret, written in one update; keeps foreign labels, annotations and data."""
    meta = certificate["metadata"]
    old_meta = (base or {}).get("metadata") or {}
    labels = {
        **(old_meta.get("labels") or {}),
        **spec.secret_labels,
        api.LABEL_MANAGED: "true",
        api.LABEL_CERTIFICATE: label_value(meta["name"]),
    }
    annotations = {
        **(old_meta.get("annotations") or {}),
        **spec.secret_annotations,
        api.ANNOTATION_CERTIFICATE: meta["name"],
        api.ANNOTATION_ISSUER_NAME: spec.issuer_ref.name,
        api.ANNOTATION_ISSUER_KIND: spec.issuer_ref.kind,
        api.ANNOTATION_DNS_NAMES: ",".join(spec.dns_names),
    }
    data = {
        **((base or {}).get("data") or {}),
        "tls.crt": base64.b64encode(chain_pem).decode(),
        "tls.key": base64.b64encode(key_pem).decode(),
    }
    secret: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": spec.secret_name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
        },
        "data": data,
    }
    if base is not None:
        secret["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
    return secret


def build_solver_httproute(challenge: Mapping[str, Any], solver: Solver) -> Obj:
    """A Gateway API HTTPRoute: the name as its only hostname, an Exact match on the token's path, to
    the solver Service, attached to the solver's parentRefs (Gateways in the Certificate's namespace
    when they name none)."""
    meta = challenge["metadata"]
    spec_in = challenge["spec"]
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": solver_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {**solver.route_labels, **_solver_labels(challenge)},
            "ownerReferences": [owner_reference(challenge)],
        },
        "spec": {
            "parentRefs": [ref.to_route() for ref in solver.parent_refs],
            "hostnames": [spec_in["dnsName"]],
            "rules": [
                {
                    "matches": [{"path": {"type": "Exact", "value": CHALLENGE_PATH + spec_in["token"]}}],
                    "backendRefs": [{"name": solver_name(meta["name"]), "port": SOLVER_PORT}],
                }
            ],
        },
    }
