"""A tiny certificate authority for tests: roots, intermediates and leaves built with cryptography."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from certwright.pki.keys import PrivateKey

# A fixed instant, so that certificates built here have known dates.
EPOCH = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
NINETY_DAYS = datetime.timedelta(days=90)
ONE_SECOND = datetime.timedelta(seconds=1)


def name(common_name: str | None) -> x509.Name:
    """An X.509 name with this CN, or with an organisation only when ``common_name`` is None."""
    if common_name is None:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certwright tests")])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class TinyCA:
    """A CA's name, key and certificate: ``issue`` signs leaves, ``intermediate`` a subordinate CA."""

    name: x509.Name
    key: PrivateKey
    certificate: x509.Certificate

    @classmethod
    def root(cls, common_name: str | None = "Tiny Root", key: PrivateKey | None = None) -> TinyCA:
        key = key or ec.generate_private_key(ec.SECP256R1())
        subject = name(common_name)
        return cls(subject, key, _sign(subject, key, key.public_key(), ca=True, issuer=subject))

    def intermediate(self, common_name: str = "Tiny Intermediate") -> TinyCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = name(common_name)
        return TinyCA(subject, key, _sign(subject, self.key, key.public_key(), ca=True, issuer=self.name))

    def issue(
        self,
        key: PrivateKey,
        dns_names: Sequence[str] | None = ("www.example.com",),
        not_before: datetime.datetime = EPOCH,
        lifetime: datetime.timedelta = NINETY_DAYS,
        serial: int = 4242,
    ) -> x509.Certificate:
        """A leaf for ``key`` valid from ``not_before`` for ``lifetime``; notAfter is its last second, as at LE."""
        not_after = not_before + lifetime - ONE_SECOND
        return _sign(
            x509.Name([]),
            self.key,
            key.public_key(),
            ca=False,
            issuer=self.name,
            dns_names=dns_names,
            not_before=not_before,
            not_after=not_after,
            serial=serial,
        )


def _sign(
    subject: x509.Name,
    signer: PrivateKey,
    public_key: CertificatePublicKeyTypes,
    *,
    ca: bool,
    issuer: x509.Name,
    dns_names: Sequence[str] | None = None,
    not_before: datetime.datetime = EPOCH,
    not_after: datetime.datetime = EPOCH + 10 * NINETY_DAYS,
    serial: int = 1,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns_names is not None:
        san = x509.SubjectAlternativeName([x509.DNSName(dns_name) for dns_name in dns_names])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signer, hashes.SHA256())
