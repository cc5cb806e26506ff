"""What an issuance carries over (issue 10): ``replaces`` only for our own certificate, the spec check."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.acme import ari
from certwright.domain import api
from certwright.domain.continuity import differs, key_of, predecessor
from certwright.domain.specs import parse_certificate
from certwright.pki.keys import key_to_pem

SPEC = {"secretName": "web-tls", "dnsNames": ["a.example", "b.example"], "issuerRef": {"name": "le"}}
CA_KEY = ec.generate_private_key(ec.SECP256R1())


def leaf(names: list[str], serial: int = 7) -> x509.Certificate:
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "CA")]))
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(CA_KEY.public_key()), critical=False)
        .sign(CA_KEY, hashes.SHA256())
    )


def secret(certificate: x509.Certificate, issuer: tuple[str, str] = ("le", "Issuer")) -> dict[str, Any]:
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return {
        "metadata": {
            "annotations": {api.ANNOTATION_ISSUER_NAME: issuer[0], api.ANNOTATION_ISSUER_KIND: issuer[1]},
        },
        "data": {"tls.crt": base64.b64encode(pem).decode()},
    }


OURS = leaf(["a.example", "b.example"])
FOREIGN = leaf(["a.example", "b.example"], serial=99)
ELSEWHERE = leaf(["c.example"], serial=8)


@pytest.mark.parametrize(
    ("in_secret", "status", "spec", "named"),
    [
        (secret(OURS), {"certID": ari.cert_id(OURS)}, SPEC, True),
        (secret(FOREIGN), {"certID": ari.cert_id(OURS)}, SPEC, False),
        (secret(OURS), {}, SPEC, False),
        (secret(OURS, ("other", "ClusterIssuer")), {"certID": ari.cert_id(OURS)}, SPEC, False),
        (secret(ELSEWHERE), {"certID": ari.cert_id(ELSEWHERE)}, SPEC, False),
        (secret(OURS), {"certID": ari.cert_id(OURS)}, {**SPEC, "dnsNames": ["b.example", "z.example"]}, True),
        (None, {"certID": ari.cert_id(OURS)}, SPEC, False),
    ],
    ids=[
        "our-own-certificate",
        "overwritten-by-a-foreign-certificate",
        "no-certificate-recorded",
        "issued-by-another-issuer",
        "no-name-in-common",
        "one-name-in-common-is-enough",
        "no-secret",
    ],
)
def test_replaces_names_only_our_last_certificate(
    in_secret: dict[str, Any] | None, status: dict[str, Any], spec: dict[str, Any], named: bool
) -> None:
    result = predecessor(in_secret, status, parse_certificate(spec))

    assert (result is not None) is named
    if named:
        assert result == status["certID"]


@pytest.mark.parametrize(
    ("change", "different"),
    [
        ({}, False),
        ({"renewBefore": "240h"}, False),
        ({"dnsNames": ["b.example", "a.example"]}, False),
        ({"dnsNames": ["a.example"]}, True),
        ({"issuerRef": {"name": "le", "kind": "ClusterIssuer"}}, True),
        ({"privateKey": {"algorithm": "RSA"}}, True),
        ({"secretName": "other-tls"}, True),
        ({"dnsNames": []}, True),
    ],
    ids=["same", "renew-before", "names-reordered", "names", "issuer", "key", "secret", "invalid"],
)
def test_differs(change: dict[str, Any], different: bool) -> None:
    latest = {"spec": {**SPEC, **change}}
    assert differs(latest, parse_certificate(SPEC)) is different


def test_key_of_keeps_a_key_that_fits_the_spec() -> None:
    pem = key_to_pem(ec.generate_private_key(ec.SECP256R1()))
    stored = {"data": {"tls.key": base64.b64encode(pem).decode()}}

    assert key_of(stored, parse_certificate(SPEC)) == pem
    assert key_of(stored, parse_certificate({**SPEC, "privateKey": {"algorithm": "RSA"}})) is None
    assert key_of({"data": {"tls.key": base64.b64encode(b"junk").decode()}}, parse_certificate(SPEC)) is None
    assert key_of(None, parse_certificate(SPEC)) is None
