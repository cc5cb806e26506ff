"""Certificate signing requests for an ACME order's finalize call (RFC 8555 §7.4)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certwright.pki.keys import PrivateKey

__all__ = ["build_csr"]

# RFC 5280 Appendix A: ub-common-name. A longer name can still be in the SAN, just not in the CN.
_MAX_COMMON_NAME = 64


def build_csr(key: PrivateKey, dns_names: Sequence[str]) -> bytes:
    """A DER CSR for ``dns_names``, signed by ``key`` with SHA-256.

    Every name goes into the subjectAltName extension, which is what Let's Encrypt reads and requires; the
    first name is also the subject CN when it fits in one (at most 64 characters), and otherwise the subject is
    empty. Repeated names appear once, in the order first given.
    """
    names = list(dict.fromkeys(dns_names))
    if not names:
        raise ValueError("a CSR needs at least one DNS name")
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, names[0])] if len(names[0]) <= _MAX_COMMON_NAME else []
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(subject))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)
