"""``inspect secret``: a TLS Secret made with the tests' TinyCA, decoded and checked."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.pki.keys import PrivateKey, key_to_pem
from certwright.plugin.inspection import inspect_data, render, verify

from ..pki.ca import EPOCH, TinyCA

NOW = EPOCH + datetime.timedelta(days=10)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def data(chain: bytes | None, key: PrivateKey | None) -> dict[str, str]:
    found = {}
    if chain is not None:
        found["tls.crt"] = base64.b64encode(chain).decode()
    if key is not None:
        found["tls.key"] = base64.b64encode(key_to_pem(key)).decode()
    return found


@pytest.fixture(scope="module")
def pki() -> tuple[TinyCA, TinyCA, PrivateKey, x509.Certificate]:
    root = TinyCA.root()
    intermediate = root.intermediate()
    key = ec.generate_private_key(ec.SECP256R1())
    return root, intermediate, key, intermediate.issue(key, ["www.example.com", "example.com"], serial=0xBEEF)


def test_a_good_secret_decodes_with_no_problems(pki: tuple[TinyCA, TinyCA, PrivateKey, x509.Certificate]) -> None:
    root, intermediate, key, leaf = pki
    report = inspect_data(data(pem(leaf, intermediate.certificate), key), NOW, pem(root.certificate))
    assert report.problems == ()
    assert report.key_type == "ECDSA 256"
    assert report.key_matches is True
    assert report.chain_ordered is True
    assert report.verified == "ok"
    first = report.chain[0]
    assert first.dns_names == ("example.com", "www.example.com")
    assert first.serial == "beef"
    assert first.issuer == "CN=Tiny Intermediate"
    assert first.not_after == EPOCH + datetime.timedelta(days=90, seconds=-1)
    assert len(first.sha256.split(":")) == 32
    text = render("web/www-tls", report)
    assert "the chain verifies" in text
    assert "matches the certificate" in text
    assert key_to_pem(key).decode() not in text  # never quotes the key


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("other-key", "tls.key is not the key of the certificate in tls.crt"),
        ("no-key", "the Secret has no tls.key"),
        ("reversed", "tls.crt is not ordered"),
        ("expired", "the certificate is not valid now (expired)"),
        ("wrong-root", "the chain does not verify against the CA bundle"),
    ],
    ids=lambda value: value if " " not in value else "",
)
def test_problems_are_named(case: str, problem: str, pki: tuple[TinyCA, TinyCA, PrivateKey, x509.Certificate]) -> None:
    root, intermediate, key, leaf = pki
    chain, secret_key, now, bundle = pem(leaf, intermediate.certificate), key, NOW, pem(root.certificate)
    if case == "other-key":
        secret_key = ec.generate_private_key(ec.SECP256R1())
    elif case == "no-key":
        secret_key = None
    elif case == "reversed":
        chain = pem(intermediate.certificate, leaf)
    elif case == "expired":
        now = EPOCH + datetime.timedelta(days=91)
    else:
        bundle = pem(TinyCA.root("Other Root").certificate)
    report = inspect_data(data(chain, secret_key), now, bundle)
    assert any(p.startswith(problem) for p in report.problems), report.problems


def test_no_certificate_is_one_problem() -> None:
    assert inspect_data({}, NOW).problems == ("the Secret has no tls.crt",)
    assert inspect_data(data(b"not pem", None), NOW).problems[0].startswith("tls.crt: ")


def test_verify_accepts_a_chain_that_ends_at_the_root_itself(
    pki: tuple[TinyCA, TinyCA, PrivateKey, x509.Certificate],
) -> None:
    root, intermediate, _, leaf = pki
    chain = [leaf, intermediate.certificate, root.certificate]
    assert verify(chain, pem(root.certificate), NOW) == "ok"
    assert verify([leaf], pem(root.certificate), NOW).startswith("no certificate of the bundle issued")
    assert verify(chain, b"junk", NOW).startswith("the CA bundle is unusable")
