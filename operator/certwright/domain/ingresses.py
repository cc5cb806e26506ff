"""Which Certificates an annotated Ingress asks for: one per ``spec.tls`` entry, as cert-manager's
ingress-shim does, so that a cert-manager user switches without touching their Ingresses.

A pure function of the Ingress and the operator's default issuer; problems are sentences for a
BadConfig Event, and any problem means nothing is done (no half-applied Ingress).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import api
from .shim import Plan, annotated_issuer, annotations_of, certificate_spec, options
from .specs import IssuerRef, SpecError

TLS_ACME = "kubernetes.io/tls-acme"
INGRESS_GROUP = "networking.k8s.io"


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
    annotations = annotations_of(ingress)
    try:
        named = annotated_issuer(annotations)
    except ValueError as error:
        return Plan(managed=True, problems=(str(error),))
    tls_acme = annotations.get(TLS_ACME, "").lower() == "true"
    if named is None and not tls_acme:
        return Plan(managed=False)
    issuer = named or default_issuer
    if issuer is None:
        return Plan(
            managed=True,
            problems=(
                f"{TLS_ACME} asks for a certificate, but the operator has no --default-issuer; "
                f"annotate the Ingress with {api.GROUP}/cluster-issuer instead",
            ),
        )
    try:
        extra = options(annotations)
    except (SpecError, ValueError) as error:
        return Plan(managed=True, problems=(str(error),))
    return _certificates(ingress, issuer, extra)


def _certificates(ingress: Mapping[str, Any], issuer: IssuerRef, extra: dict[str, Any]) -> Plan:
    problems: list[str] = []
    wanted: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate((ingress.get("spec") or {}).get("tls") or []):
        secret = entry.get("secretName")
        hosts = [host for host in entry.get("hosts") or [] if host]
        if not secret:
            problems.append(f"spec.tls[{index}] has no secretName: name the Secret the certificate goes to")
            continue
        if not hosts:
            problems.append(f"spec.tls[{index}] (secretName {secret}) has no hosts: list the names to certify")
            continue
        if secret in wanted:
            problems.append(f"spec.tls[{index}] uses secretName {secret} again: each entry needs its own Secret")
            continue
        wanted[secret] = certificate_spec(secret, hosts, issuer, extra)
    if not wanted and not problems:
        problems.append("the Ingress is annotated for certificates but has no spec.tls entries")
    return Plan(managed=True, certificates=wanted if not problems else {}, problems=tuple(problems))
