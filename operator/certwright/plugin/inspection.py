"""``kubectl certwright inspect secret``: what a TLS Secret holds, decoded, checked, never quoting the key."""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..pki.certificates import certificate_info, chain_is_ordered, key_matches_certificate, parse_chain
from ..pki.errors import PkiError
from ..pki.keys import key_from_pem, key_spec_of


@dataclass(frozen=True)
class CertificateFacts:
    """One certificate of the chain, as a person reads it."""

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    sha256: str
    sha1: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "dnsNames": list(self.dns_names),
            "serial": self.serial,
            "notBefore": _stamp(self.not_before),
            "notAfter": _stamp(self.not_after),
            "sha256Fingerprint": self.sha256,
            "sha1Fingerprint": self.sha1,
        }


@dataclass(frozen=True)
class SecretReport:
    """A decoded TLS Secret; ``problems`` are what makes it unusable (empty: it is fine)."""

    chain: tuple[CertificateFacts, ...] = ()
    key_type: str | None = None
    key_matches: bool | None = None
    chain_ordered: bool | None = None
    valid_now: bool | None = None
    verified: str | None = None  # against --ca-bundle: None when not asked, else "ok" or why not
    problems: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": [facts.to_dict() for facts in self.chain],
            "keyType": self.key_type,
            "keyMatchesCertificate": self.key_matches,
            "chainOrdered": self.chain_ordered,
            "validNow": self.valid_now,
            "verifiedAgainstBundle": self.verified,
            "problems": list(self.problems),
        }


def facts(cert: x509.Certificate) -> CertificateFacts:
    info = certificate_info(cert)
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertificateFacts(
        subject=cert.subject.rfc4514_string() or "(empty)",
        issuer=cert.issuer.rfc4514_string() or "(empty)",
        dns_names=info.dns_names,
        serial=f"{info.serial:x}",
        not_before=info.not_before,
        not_after=info.not_after,
        sha256=_colons(hashlib.sha256(der).hexdigest()),
        sha1=_colons(hashlib.sha1(der, usedforsecurity=False).hexdigest()),
    )


def inspect_data(data: Mapping[str, str], now: datetime.datetime, ca_bundle: bytes | None = None) -> SecretReport:
    """Decode a Secret's ``data`` (base64 values, as the API returns them): its chain, key and their checks."""
    problems: list[str] = []
    crt, key_pem = _decoded(data, "tls.crt"), _decoded(data, "tls.key")
    if crt is None:
        return SecretReport(problems=("the Secret has no tls.crt",))
    try:
        chain = parse_chain(crt)
    except PkiError as error:
        return SecretReport(problems=(f"tls.crt: {error}",))
    leaf = chain[0]
    key_type = key_matches = None
    if key_pem is None:
        problems.append("the Secret has no tls.key")
    else:
        try:
            key = key_from_pem(key_pem)
        except PkiError as error:
            problems.append(f"tls.key: {error}")
        else:
            spec = key_spec_of(key)
            key_type = f"{spec.algorithm} {spec.size}"
            key_matches = key_matches_certificate(key, leaf)
            if not key_matches:
                problems.append("tls.key is not the key of the certificate in tls.crt")
    ordered = chain_is_ordered(chain)
    if not ordered:
        problems.append("tls.crt is not ordered leaf first, each certificate issued by the next")
    valid_now = leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc
    if not valid_now:
        problems.append(
            "the certificate is not valid now ("
            + ("expired" if now > leaf.not_valid_after_utc else "not yet valid")
            + ")"
        )
    verified = None
    if ca_bundle is not None:
        verified = verify(chain, ca_bundle, now)
        if verified != "ok":
            problems.append(f"the chain does not verify against the CA bundle: {verified}")
    return SecretReport(
        chain=tuple(facts(cert) for cert in chain),
        key_type=key_type,
        key_matches=key_matches,
        chain_ordered=ordered,
        valid_now=valid_now,
        verified=verified,
        problems=tuple(problems),
    )


def verify(chain: Sequence[x509.Certificate], ca_bundle: bytes, now: datetime.datetime) -> str:
    """ "ok" when the chain leads, by signatures and within every certificate's validity, to a certificate of
    ``ca_bundle``; otherwise the first link that fails. The chain's own order is followed (leaf first), and it
    may end at a root of the bundle or at a certificate the bundle's root signed."""
    try:
        roots = parse_chain(ca_bundle)
    except PkiError as error:
        return f"the CA bundle is unusable: {error}"
    root_der = {root.public_bytes(serialization.Encoding.DER) for root in roots}
    for index, cert in enumerate(chain):
        subject = cert.subject.rfc4514_string() or "the leaf"
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            valid = f"{_stamp(cert.not_valid_before_utc)} to {_stamp(cert.not_valid_after_utc)}"
            return f"{subject} is not valid now (valid {valid})"
        if cert.public_bytes(serialization.Encoding.DER) in root_der:
            return "ok"
        signer = next((root for root in roots if _issued_by(cert, root)), None)
        if signer is not None:
            if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
                return f"the bundle's {signer.subject.rfc4514_string()} is not valid now"
            return "ok"
        if index + 1 < len(chain) and not _issued_by(cert, chain[index + 1]):
            return f"{subject} is not issued by the next certificate in the chain"
    return f"no certificate of the bundle issued {chain[-1].issuer.rfc4514_string() or 'the chain'}'s last certificate"


def render(name: str, report: SecretReport) -> str:
    """The report as text, leaf first."""
    lines = [f"Secret {name}"]
    for index, cert in enumerate(report.chain):
        lines += [
            f"  {'Certificate' if index == 0 else f'Chain [{index}]'}:",
            f"    Subject:     {cert.subject}",
            f"    Issuer:      {cert.issuer}",
        ]
        if cert.dns_names:
            lines.append(f"    DNS names:   {', '.join(cert.dns_names)}")
        lines += [
            f"    Serial:      {cert.serial}",
            f"    Not before:  {_stamp(cert.not_before)}",
            f"    Not after:   {_stamp(cert.not_after)}",
            f"    SHA-256:     {cert.sha256}",
            f"    SHA-1:       {cert.sha1}",
        ]
    if report.key_type is not None:
        lines.append(
            f"  Private key: {report.key_type}, {'matches' if report.key_matches else 'DOES NOT MATCH'} the certificate"
        )
    if report.chain_ordered is not None:
        lines.append(f"  Chain order: {'leaf first, each issued by the next' if report.chain_ordered else 'WRONG'}")
    if report.verified is not None:
        lines.append(
            f"  CA bundle:   {'the chain verifies' if report.verified == 'ok' else 'FAILS: ' + report.verified}"
        )
    lines.append("  Problems:    " + ("; ".join(report.problems) if report.problems else "none"))
    return "\n".join(lines)


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _decoded(data: Mapping[str, str], key: str) -> bytes | None:
    value = data.get(key)
    return base64.b64decode(value) if value else None


def _colons(hexdigest: str) -> str:
    return ":".join(hexdigest[i : i + 2] for i in range(0, len(hexdigest), 2)).upper()


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
