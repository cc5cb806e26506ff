"""What annotated Ingresses and Gateways share (cert-manager's certificate-shim): the annotations that
name the issuer and shape the Certificates, and who owns a Certificate of a name they ask for.

Pure; problems are sentences for a BadConfig Event, and any problem means nothing is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import api
from .specs import IssuerRef, parse_duration

ISSUER_ANNOTATIONS = {
    f"{api.GROUP}/issuer": "Issuer",
    f"{api.GROUP}/cluster-issuer": "ClusterIssuer",
    "cert-manager.io/issuer": "Issuer",
    "cert-manager.io/cluster-issuer": "ClusterIssuer",
}
RENEW_BEFORE = (f"{api.GROUP}/renew-before", "cert-manager.io/renew-before")
KEY_ALGORITHM = (f"{api.GROUP}/private-key-algorithm", "cert-manager.io/private-key-algorithm")
KEY_SIZE = (f"{api.GROUP}/private-key-size", "cert-manager.io/private-key-size")


class Owner(StrEnum):
    """Who controls an existing Certificate of a name an Ingress or Gateway asks for."""

    THIS = "this object"
    EARLIER = "an earlier object of the same kind and name"  # deleted and created again: adopt it
    SOMEONE_ELSE = "someone else"  # never touched


@dataclass(frozen=True)
class Plan:
    """``managed`` is False when the object asks for nothing (then its Certificates go)."""

    managed: bool
    certificates: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # name → spec
    problems: tuple[str, ...] = ()


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def annotated_issuer(annotations: Mapping[str, str]) -> IssuerRef | None:
    """The issuer the annotations name (None when they name none); ValueError when they disagree."""
    named = {(ISSUER_ANNOTATIONS[key], value) for key, value in annotations.items() if key in ISSUER_ANNOTATIONS}
    if len(named) > 1:
        listed = ", ".join(f"{kind} {name}" for kind, name in sorted(named))
        raise ValueError(f"the issuer annotations disagree ({listed}); keep one")
    if not named:
        return None
    kind, name = next(iter(named))
    return IssuerRef(name=name, kind=kind)


def _first(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    return next(((key, annotations[key]) for key in keys if annotations.get(key)), None)


def options(annotations: Mapping[str, str]) -> dict[str, Any]:
    """``renewBefore`` and ``privateKey`` from the annotations; SpecError or ValueError naming a bad one."""
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


def certificate_spec(secret: str, hosts: Iterable[str], issuer: IssuerRef, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The spec of the Certificate for one Secret: its hosts lower-cased and de-duplicated, in order."""
    return {
        "secretName": secret,
        "dnsNames": list(dict.fromkeys(host.lower() for host in hosts if host)),
        "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": api.GROUP},
        **extra,
    }


def _controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((reference for reference in references if reference.get("controller")), None)


def _group(api_version: Any) -> str:
    group, _, version = str(api_version or "").rpartition("/")
    return group if version else ""


def controlling(certificate: Mapping[str, Any], kind: str, group: str) -> str | None:
    """The name of the ``kind`` in ``group`` that controls the Certificate (in its namespace), or None."""
    reference = _controller(certificate)
    if reference is None or reference.get("kind") != kind or _group(reference.get("apiVersion")) != group:
        return None
    return str(reference.get("name") or "") or None


def owner_of(certificate: Mapping[str, Any], owner: Mapping[str, Any]) -> Owner:
    """Whether ``owner`` (a body with its kind and apiVersion) controls the Certificate, an earlier
    incarnation of it did, or something else does.

    Names are unique within a namespace, so a controller of this kind and name with another uid no
    longer exists (``kubectl replace --force``, a Helm or GitOps re-create): the garbage collector is
    about to delete the Certificate, and the object that exists now adopts it instead (issue 10).
    """
    meta = owner.get("metadata") or {}
    if controlling(certificate, str(owner.get("kind")), _group(owner.get("apiVersion"))) != meta.get("name"):
        return Owner.SOMEONE_ELSE
    reference = _controller(certificate) or {}
    return Owner.THIS if reference.get("uid") == meta.get("uid") else Owner.EARLIER
