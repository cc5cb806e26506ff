"""Which Certificates an annotated Ingress asks for: one per ``spec.tls`` entry, as cert-manager's
ingress-shim does, so that a cert-manager user switches without touching their Ingresses.

A pure function of the Ingress and the operator's default issuer; problems are sentences for a
BadConfig Event, and any problem means nothing is done (no half-applied Ingress).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import api
from .specs import IssuerRef, SpecError, parse_duration

ISSUER_ANNOTATIONS = {
    f"{api.GROUP}/issuer": "Issuer",
    f"{api.GROUP}/cluster-issuer": "ClusterIssuer",
    "cert-manager.io/issuer": "Issuer",
    "cert-manager.io/cluster-issuer": "ClusterIssuer",
}
TLS_ACME = "kubernetes.io/tls-acme"
RENEW_BEFORE = (f"{api.GROUP}/renew-before", "cert-manager.io/renew-before")
KEY_ALGORITHM = (f"{api.GROUP}/private-key-algorithm", "cert-manager.io/private-key-algorithm")
KEY_SIZE = (f"{api.GROUP}/private-key-size", "cert-manager.io/private-key-size")
INGRESS_GROUP = "networking.k8s.io"


class Owner(StrEnum):
    """Who controls an existing Certificate of a name an Ingress asks for."""

    THIS_INGRESS = "this Ingress"
    EARLIER_INGRESS = "an earlier Ingress of the same name"  # deleted and created again: adopt it
    SOMEONE_ELSE = "someone else"  # never touched


@dataclass(frozen=True)
class Plan:
    """``managed`` is False when the Ingress asks for nothing (then its Certificates go)."""

    managed: bool
    certificates: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # name → spec
    problems: tuple[str, ...] = ()


def parse_default_issuer(text: str) -> IssuerRef | None:
    """``--default-issuer``: ``ClusterIssuer/name``, ``Issuer/name`` or a bare name (a ClusterIssuer)."""
    if not text:
        return None
    kind, _, name = text.rpartition("/")
    kind = kind or "ClusterIssuer"
    if kind not in ("Issuer", "ClusterIssuer") or not name:
        raise ValueError(f"--default-issuer {text!r}: use ClusterIssuer/NAME or Issuer/NAME")
    return IssuerRef(name=name, kind=kind)


def plan_for(ingress: Mapping[str, Any], default_issuer: IssuerRef | None) -> Plan:
    annotations: Mapping[str, str] = (ingress.get("metadata") or {}).get("annotations") or {}
    named = {(ISSUER_ANNOTATIONS[key], value) for key, value in annotations.items() if key in ISSUER_ANNOTATIONS}
    tls_acme = annotations.get(TLS_ACME, "").lower() == "true"
    if not named and not tls_acme:
        return Plan(managed=False)
    if len(named) > 1:
        listed = ", ".join(f"{kind} {name}" for kind, name in sorted(named))
        return Plan(managed=True, problems=(f"the issuer annotations disagree ({listed}); keep one",))
    if named:
        kind, name = next(iter(named))
        issuer = IssuerRef(name=name, kind=kind)
    elif default_issuer is not None:
        issuer = default_issuer
    else:
        return Plan(
            managed=True,
            problems=(
                f"{TLS_ACME} asks for a certificate, but the operator has no --default-issuer; "
                f"annotate the Ingress with {api.GROUP}/cluster-issuer instead",
            ),
        )
    try:
        extra = _options(annotations)
    except (SpecError, ValueError) as error:
        return Plan(managed=True, problems=(str(error),))
    return _certificates(ingress, issuer, extra)


def _first(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    return next(((key, annotations[key]) for key in keys if annotations.get(key)), None)


def _options(annotations: Mapping[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    renew = _first(annotations, RENEW_BEFORE)
    if renew is not None:
        parse_duration(renew[1], f"annotation {renew[0]}")
        extra["renewBefore"] = renew[1]
    algorithm = _first(annotations, KEY_ALGORITHM)
    size = _first(annotations, KEY_SIZE)
    if algorithm is not None or size is not None:
        key: dict[str, Any] = {}
        if algorithm is not None:
            if algorithm[1] not in ("ECDSA", "RSA"):
                raise ValueError(f"annotation {algorithm[0]}: {algorithm[1]!r} must be ECDSA or RSA")
            key["algorithm"] = algorithm[1]
        if size is not None:
            if not size[1].isdigit():
                raise ValueError(f"annotation {size[0]}: {size[1]!r} is not a key size")
            key["size"] = int(size[1])
        extra["privateKey"] = key
    return extra


def _certificates(ingress: Mapping[str, Any], issuer: IssuerRef, extra: dict[str, Any]) -> Plan:
    problems: list[str] = []
    wanted: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate((ingress.get("spec") or {}).get("tls") or []):
        secret = entry.get("secretName")
        hosts = list(dict.fromkeys(host.lower() for host in entry.get("hosts") or [] if host))
        if not secret:
            problems.append(f"spec.tls[{index}] has no secretName: name the Secret the certificate goes to")
            continue
        if not hosts:
            problems.append(f"spec.tls[{index}] (secretName {secret}) has no hosts: list the names to certify")
            continue
        if secret in wanted:
            problems.append(f"spec.tls[{index}] uses secretName {secret} again: each entry needs its own Secret")
            continue
        wanted[secret] = {
            "secretName": secret,
            "dnsNames": hosts,
            "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": api.GROUP},
            **extra,
        }
    if not wanted and not problems:
        problems.append("the Ingress is annotated for certificates but has no spec.tls entries")
    return Plan(managed=True, certificates=wanted if not problems else {}, problems=tuple(problems))


def _controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((reference for reference in references if reference.get("controller")), None)


def controlling_ingress(certificate: Mapping[str, Any]) -> str | None:
    """The name of the Ingress that controls the Certificate (its namespace is the Certificate's), or None."""
    reference = _controller(certificate)
    if reference is None or reference.get("kind") != "Ingress":
        return None
    if str(reference.get("apiVersion", "")).partition("/")[0] != INGRESS_GROUP:
        return None
    return str(reference.get("name") or "") or None


def owner_of(certificate: Mapping[str, Any], ingress: Mapping[str, Any]) -> Owner:
    """Whether the Ingress owns the Certificate, an earlier incarnation of it did, or something else does.

    Names are unique within a namespace, so a controlling Ingress of this name with another uid no longer
    exists (``kubectl replace --force``, a Helm or GitOps re-create): the garbage collector is about to
    delete the Certificate, and the Ingress that exists now adopts it instead (issue 10).
    """
    meta = ingress.get("metadata") or {}
    if controlling_ingress(certificate) != meta.get("name"):
        return Owner.SOMEONE_ELSE
    reference = _controller(certificate) or {}
    return Owner.THIS_INGRESS if reference.get("uid") == meta.get("uid") else Owner.EARLIER_INGRESS
