"""Issued certificates: parsing a PEM chain, the facts renewal needs, key and chain checks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from certwright.pki.errors import InvalidCertificate
from certwright.pki.keys import PrivateKey

__all__ = [
    "CertificateInfo",
    "InvalidCertificate",
    "certificate_info",
    "chain_is_ordered",
    "key_matches_certificate",
    "parse_chain",
]

# RFC 5280 §4.1.2.5: notAfter is included in the validity period, and X.509 times have one-second precision.
_LAST_SECOND = datetime.timedelta(seconds=1)


@dataclass(frozen=True)
class CertificateInfo:
    """What certwright reads from an issued certificate: its validity, names, serial and issuer."""

    not_before: datetime.datetime
    not_after: datetime.datetime
    dns_names: tuple[str, ...]
    serial: int
    issuer_common_name: str | None

    @property
    def lifetime(self) -> datetime.timedelta:
        """How long the certificate is valid, counting notAfter's own second (RFC 5280 §4.1.2.5).

        So a Let's Encrypt certificate from 00:00:00 to 23:59:59 eighty-nine days later is 90 days long, as the CA
        advertises it; renewal takes fractions of this.
        """
        return self.not_after - self.not_before + _LAST_SECOND


def parse_chain(pem: bytes | str) -> list[x509.Certificate]:
    """The certificates in a PEM chain, in the order given: leaf first, as ACME returns it (RFC 8555 §7.4.2).

    A block without its END line is an error rather than skipped, as the PEM reader would: a truncated ``tls.crt``
    must not pass for a shorter chain.
    """
    data = pem.encode() if isinstance(pem, str) else pem
    if not data.strip():
        raise InvalidCertificate("the certificate chain is empty")
    if data.count(b"-----BEGIN ") != data.count(b"-----END "):
        raise InvalidCertificate("the certificate chain is truncated: a PEM block has no END line")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InvalidCertificate("the data is not a PEM certificate chain") from None


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    """The facts of ``cert`` that renewal and the Certificate's status need; times are UTC, names sorted."""
    return CertificateInfo(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=tuple(sorted(_dns_names(cert))),
        serial=cert.serial_number,
        issuer_common_name=_common_name(cert.issuer),
    )


def key_matches_certificate(key: PrivateKey, cert: x509.Certificate) -> bool:
    """Whether ``cert`` certifies ``key``'s public key: a Secret whose key and certificate disagree is broken."""
    return _public_key_der(key.public_key()) == _public_key_der(cert.public_key())


def chain_is_ordered(chain: list[x509.Certificate]) -> bool:
    """Whether each certificate is issued (name and signature) by the one after it.

    A chain of one certificate, or none, is trivially ordered. Only direct issuance is checked, not validity
    dates, extensions or trust: that is for the TLS client.
    """
    for child, parent in pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
    return True


def _dns_names(cert: x509.Certificate) -> list[str]:
    """The DNS names in the subjectAltName extension; none if it has no such extension."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def _common_name(name: x509.Name) -> str | None:
    """The first CN of ``name``, or None when it has none."""
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _public_key_der(public_key: CertificatePublicKeyTypes) -> bytes:
    """The SubjectPublicKeyInfo DER of a public key: one form in which any two keys compare."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
