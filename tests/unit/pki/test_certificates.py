"""Issued certificates: PEM chains in, the facts renewal needs out, key and chain checks."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certwright.pki.certificates import (
    CertificateInfo,
    InvalidCertificate,
    certificate_info,
    chain_is_ordered,
    key_matches_certificate,
    parse_chain,
)
from certwright.pki.keys import PrivateKey

from .ca import EPOCH, NINETY_DAYS, ONE_SECOND, TinyCA


@dataclass(frozen=True)
class Hierarchy:
    """root → intermediate → leaf, plus look-alikes that must not pass for them."""

    root: TinyCA
    intermediate: TinyCA
    leaf_key: PrivateKey
    leaf: x509.Certificate
    impostor: TinyCA  # same name as the intermediate, another key
    rsa_root: TinyCA
    rsa_intermediate: TinyCA
    rsa_leaf: x509.Certificate

    def pem(self, *chain: x509.Certificate) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)


@pytest.fixture(scope="module")
def pki() -> Hierarchy:
    root = TinyCA.root()
    intermediate = root.intermediate()
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    rsa_root = TinyCA.root("Tiny RSA Root", key=rsa.generate_private_key(65537, 2048))
    rsa_intermediate = rsa_root.intermediate("Tiny RSA Intermediate")
    return Hierarchy(
        root=root,
        intermediate=intermediate,
        leaf_key=leaf_key,
        leaf=intermediate.issue(leaf_key),
        impostor=root.intermediate(),
        rsa_root=rsa_root,
        rsa_intermediate=rsa_intermediate,
        rsa_leaf=rsa_intermediate.issue(leaf_key),
    )


SIX_DAYS = datetime.timedelta(days=6)
NAMES = ["www.example.com", "example.com", "api.example.com"]


@pytest.mark.parametrize(
    ("issuer_cn", "dns_names", "lifetime", "expected_names"),
    [
        ("Tiny Root", NAMES, NINETY_DAYS, ("api.example.com", "example.com", "www.example.com")),
        ("Tiny Root", ["*.example.com"], SIX_DAYS, ("*.example.com",)),
        ("Tiny Root", None, NINETY_DAYS, ()),
        (None, ["example.com"], NINETY_DAYS, ("example.com",)),
    ],
    ids=["90-days-names-sorted", "6-days-wildcard", "no-san", "issuer-without-cn"],
)
def test_certificate_info(
    issuer_cn: str | None,
    dns_names: list[str] | None,
    lifetime: datetime.timedelta,
    expected_names: tuple[str, ...],
) -> None:
    cert = TinyCA.root(issuer_cn).issue(ec.generate_private_key(ec.SECP256R1()), dns_names, EPOCH, lifetime, 0xC0FFEE)

    info = certificate_info(cert)

    assert info == CertificateInfo(
        not_before=EPOCH,
        not_after=EPOCH + lifetime - ONE_SECOND,
        dns_names=expected_names,
        serial=0xC0FFEE,
        issuer_common_name=issuer_cn,
    )
    assert info.not_before.tzinfo == datetime.UTC
    assert info.not_after.tzinfo == datetime.UTC
    assert info.lifetime == lifetime  # notAfter's own second counts (RFC 5280 §4.1.2.5)


@pytest.mark.parametrize(
    ("key", "cert", "matches"),
    [
        (lambda p: p.leaf_key, lambda p: p.leaf, True),
        (lambda p: p.leaf_key, lambda p: p.rsa_leaf, True),
        (lambda p: p.intermediate.key, lambda p: p.intermediate.certificate, True),
        (lambda p: p.rsa_root.key, lambda p: p.rsa_root.certificate, True),
        (lambda p: p.intermediate.key, lambda p: p.leaf, False),
        (lambda p: ec.generate_private_key(ec.SECP256R1()), lambda p: p.leaf, False),
        (lambda p: ec.generate_private_key(ec.SECP384R1()), lambda p: p.leaf, False),
        (lambda p: p.rsa_root.key, lambda p: p.leaf, False),
        (lambda p: p.leaf_key, lambda p: p.rsa_root.certificate, False),
    ],
    ids=[
        "leaf",
        "leaf-from-rsa-ca",
        "ca",
        "rsa-ca",
        "issuers-key",
        "other-p256-key",
        "other-p384-key",
        "rsa-key-ec-cert",
        "ec-key-rsa-cert",
    ],
)
def test_key_matches_certificate(
    pki: Hierarchy,
    key: Callable[[Hierarchy], PrivateKey],
    cert: Callable[[Hierarchy], x509.Certificate],
    matches: bool,
) -> None:
    assert key_matches_certificate(key(pki), cert(pki)) is matches


@pytest.mark.parametrize(
    ("chain", "ordered"),
    [
        (lambda p: [p.leaf, p.intermediate.certificate, p.root.certificate], True),
        (lambda p: [p.leaf, p.intermediate.certificate], True),
        (lambda p: [p.rsa_leaf, p.rsa_intermediate.certificate, p.rsa_root.certificate], True),
        (lambda p: [p.leaf], True),
        (lambda p: [], True),
        (lambda p: [p.intermediate.certificate, p.leaf], False),
        (lambda p: [p.root.certificate, p.intermediate.certificate, p.leaf], False),
        (lambda p: [p.leaf, p.root.certificate], False),
        (lambda p: [p.leaf, p.impostor.certificate, p.root.certificate], False),
        (lambda p: [p.leaf, p.intermediate.certificate, p.rsa_root.certificate], False),
        (lambda p: [p.rsa_leaf, p.intermediate.certificate], False),
    ],
    ids=[
        "leaf-intermediate-root",
        "leaf-intermediate",
        "rsa-signed",
        "leaf-only",
        "empty",
        "reversed",
        "root-first",
        "intermediate-missing",
        "same-name-other-key",
        "other-root",
        "other-intermediate",
    ],
)
def test_chain_is_ordered(pki: Hierarchy, chain: Callable[[Hierarchy], list[x509.Certificate]], ordered: bool) -> None:
    assert chain_is_ordered(chain(pki)) is ordered


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_parse_chain_keeps_the_order_given(pki: Hierarchy, as_text: bool) -> None:
    chain = [pki.leaf, pki.intermediate.certificate, pki.root.certificate]
    pem = pki.pem(*chain)
    assert parse_chain(pem.decode() if as_text else pem) == chain
    assert parse_chain(pki.pem(*reversed(chain))) == list(reversed(chain))


def test_parse_chain_skips_text_around_the_blocks(pki: Hierarchy) -> None:
    pem = b"subject=\nissuer=CN = Tiny Intermediate\n" + pki.pem(pki.leaf) + b"\n# intermediate\n"
    assert parse_chain(pem + pki.pem(pki.intermediate.certificate)) == [pki.leaf, pki.intermediate.certificate]


def _key_in_certificate_armour(p: Hierarchy) -> bytes:
    key_pem = p.leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem.replace(b"PRIVATE KEY", b"CERTIFICATE")


EMPTY = "the certificate chain is empty"
NOT_PEM = "the data is not a PEM certificate chain"
TRUNCATED = "the certificate chain is truncated: a PEM block has no END line"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda p: b"", EMPTY),
        (lambda p: "", EMPTY),
        (lambda p: " \n\t\n", EMPTY),
        (lambda p: b"garbage", NOT_PEM),
        (lambda p: "not a certificate\n", NOT_PEM),
        (lambda p: p.leaf.public_bytes(serialization.Encoding.DER), NOT_PEM),
        (lambda p: p.pem(p.leaf)[:200], TRUNCATED),
        (lambda p: p.pem(p.leaf) + p.pem(p.root.certificate)[:-40], TRUNCATED),
        (lambda p: p.pem(p.leaf)[:-40] + p.pem(p.root.certificate), TRUNCATED),
        (lambda p: p.pem(p.leaf).replace(b"\n", b"\n!", 2), NOT_PEM),
        (_key_in_certificate_armour, NOT_PEM),
        (
            lambda p: p.leaf_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            NOT_PEM,
        ),
    ],
    ids=[
        "empty-bytes",
        "empty-str",
        "whitespace",
        "garbage-bytes",
        "garbage-str",
        "der",
        "only-truncated",
        "last-truncated",
        "first-truncated",
        "damaged-base64",
        "key-as-certificate",
        "key-only",
    ],
)
def test_parse_chain_rejects(pki: Hierarchy, data: Callable[[Hierarchy], bytes | str], message: str) -> None:
    with pytest.raises(InvalidCertificate, match=f"^{re.escape(message)}$") as raised:
        parse_chain(data(pki))
    assert isinstance(raised.value, ValueError)
