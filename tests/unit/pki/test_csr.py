"""CSRs for finalize: every name in the SAN, the first as CN when it fits, signed with SHA-256."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from certwright.pki.csr import build_csr
from certwright.pki.keys import KeySpec, PrivateKey

from .test_keys import ALLOWED, ALLOWED_IDS

NAME_64 = f"{'a' * 56}.example"  # the longest a CN may be (RFC 5280 ub-common-name)
NAME_65 = f"{'a' * 57}.example"


def parse(der: bytes) -> tuple[list[str], str | None]:
    """The SAN DNS names and the subject CN (None when the subject has none) of a DER CSR."""
    csr = x509.load_der_x509_csr(der)
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert len(common_names) <= 1
    cn = common_names[0].value if common_names else None
    assert cn is None or isinstance(cn, str)
    return names, cn


@pytest.mark.parametrize(
    ("dns_names", "sans", "cn"),
    [
        (["example.com"], ["example.com"], "example.com"),
        (
            ["www.example.com", "example.com", "api.example.com"],
            ["www.example.com", "example.com", "api.example.com"],
            "www.example.com",
        ),
        (("*.example.com", "example.com"), ["*.example.com", "example.com"], "*.example.com"),
        ([NAME_64], [NAME_64], NAME_64),
        ([NAME_65, "example.com"], [NAME_65, "example.com"], None),
        (["example.com", NAME_65], ["example.com", NAME_65], "example.com"),
        (["a.example", "b.example", "a.example"], ["a.example", "b.example"], "a.example"),
    ],
    ids=["one", "several-in-order", "wildcard-tuple", "cn-64", "cn-65-omitted", "long-later", "duplicates"],
)
def test_sans_hold_exactly_the_names(ec_key: PrivateKey, dns_names: list[str], sans: list[str], cn: str | None) -> None:
    assert parse(build_csr(ec_key, dns_names)) == (sans, cn)


@pytest.mark.parametrize("spec", [spec for spec, _, _ in ALLOWED], ids=ALLOWED_IDS)
def test_signed_by_the_key_with_sha256(key_of: Callable[[KeySpec], PrivateKey], spec: KeySpec) -> None:
    key = key_of(spec)
    csr = x509.load_der_x509_csr(build_csr(key, ["example.com"]))
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
    assert key.public_key() == csr.public_key()


@pytest.mark.parametrize(
    ("dns_names", "message"),
    [([], "a CSR needs at least one DNS name"), (["bücher.example"], "A-label")],
    ids=["no-names", "u-label"],
)
def test_unusable_names_are_rejected(ec_key: PrivateKey, dns_names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_csr(ec_key, dns_names)


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
DNS_NAME = st.builds(
    lambda wildcard, labels: ("*." if wildcard else "") + ".".join(labels),
    st.booleans(),
    st.lists(LABEL, min_size=1, max_size=3),
)


@given(dns_names=st.lists(DNS_NAME, min_size=1, max_size=100))
def test_any_valid_names_round_trip(ec_key: PrivateKey, dns_names: list[str]) -> None:
    sans, cn = parse(build_csr(ec_key, dns_names))
    assert sans == list(dict.fromkeys(dns_names))
    assert cn == (dns_names[0] if len(dns_names[0]) <= 64 else None)
