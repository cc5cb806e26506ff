"""What one issuance carries over from the last: which certificate a new order replaces, which key it
keeps, and whether the spec still asks for what an issuance in flight makes. Pure functions.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..acme import ari
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from . import api
from .specs import CertificateSpec, SpecError, parse_certificate


def differs(certificate: Mapping[str, Any], spec: CertificateSpec) -> bool:
    """Whether ``certificate``'s spec asks for another certificate than ``spec`` (names, issuer, key, Secret)."""
    try:
        latest = parse_certificate(certificate.get("spec") or {})
    except SpecError:
        return True
    return (
        sorted(latest.dns_names) != sorted(spec.dns_names)
        or latest.issuer_ref != spec.issuer_ref
        or latest.key != spec.key
        or latest.secret_name != spec.secret_name
    )


def predecessor(secret: object, status: Mapping[str, Any], spec: CertificateSpec) -> str | None:
    """The ARI CertID for ``replaces``: only the certificate this Certificate last issued (status records
    its CertID), still in the Secret, from the issuer the spec names, sharing a name with the new order
    (RFC 9773 §5). Anything else — a foreign certificate, another CA's — is not named."""
    recorded = status.get("certID")
    data = (secret.get("data") or {}) if isinstance(secret, dict) else {}
    if not recorded or not data.get("tls.crt"):
        return None
    annotations = (secret.get("metadata") or {}).get("annotations") or {} if isinstance(secret, dict) else {}
    issuer = (annotations.get(api.ANNOTATION_ISSUER_NAME), annotations.get(api.ANNOTATION_ISSUER_KIND))
    if issuer != (spec.issuer_ref.name, spec.issuer_ref.kind):
        return None
    try:
        leaf = pki_certificates.parse_chain(base64.b64decode(data["tls.crt"]))[0]
    except ValueError:
        return None
    if cert_id(leaf) != recorded:
        return None
    if not set(pki_certificates.certificate_info(leaf).dns_names) & set(spec.dns_names):
        return None
    return str(recorded)


def cert_id(leaf: Any) -> str | None:
    try:
        return ari.cert_id(leaf)
    except ari.InvalidRenewalInfo:
        return None


def key_of(secret: Mapping[str, Any] | None, spec: CertificateSpec) -> bytes | None:
    """The PEM key in a Secret's ``tls.key`` when it fits the spec's algorithm and size."""
    encoded = ((secret or {}).get("data") or {}).get("tls.key")
    if not encoded:
        return None
    pem = base64.b64decode(encoded)
    try:
        key = pki_keys.key_from_pem(pem)
    except ValueError:
        return None
    return pem if pki_keys.key_spec_of(key) == spec.key else None
