"""Private keys: specs and their messages, generation, PEM in every format other tools write, rejections."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from certwright.pki.keys import InvalidKey, KeySpec, PrivateKey, key_from_pem, key_spec_of, key_to_pem

from .ca import TinyCA

KeyOf = Callable[[KeySpec], PrivateKey]

# Every spec a Certificate may ask for, and what the generated key must be.
ALLOWED: list[tuple[KeySpec, type[PrivateKey], str | None]] = [
    (KeySpec("ECDSA", 256), ec.EllipticCurvePrivateKey, "secp256r1"),
    (KeySpec("ECDSA", 384), ec.EllipticCurvePrivateKey, "secp384r1"),
    (KeySpec("RSA", 2048), rsa.RSAPrivateKey, None),
    (KeySpec("RSA", 3072), rsa.RSAPrivateKey, None),
    (KeySpec("RSA", 4096), rsa.RSAPrivateKey, None),
]
ALLOWED_IDS = ["ecdsa-256", "ecdsa-384", "rsa-2048", "rsa-3072", "rsa-4096"]


@pytest.mark.parametrize(("spec", "key_type", "curve"), ALLOWED, ids=ALLOWED_IDS)
def test_every_allowed_spec_generates_a_key_of_that_spec(
    key_of: KeyOf, spec: KeySpec, key_type: type[PrivateKey], curve: str | None
) -> None:
    key = key_of(spec)
    assert isinstance(key, key_type)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert key.curve.name == curve
    else:
        assert key.key_size == spec.size
        assert key.public_key().public_numbers().e == 65537
    assert key_spec_of(key) == spec


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (KeySpec.default, KeySpec("ECDSA", 256)),
        (lambda: KeySpec.default("ECDSA"), KeySpec("ECDSA", 256)),
        (lambda: KeySpec.default("RSA"), KeySpec("RSA", 2048)),
    ],
    ids=["no-algorithm", "ecdsa", "rsa"],
)
def test_default_specs(call: Callable[[], KeySpec], expected: KeySpec) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    ("algorithm", "size", "message"),
    [
        ("RSA", 1024, "privateKey.size 1024 is not allowed for RSA: use 2048, 3072 or 4096"),
        ("RSA", 256, "privateKey.size 256 is not allowed for RSA: use 2048, 3072 or 4096"),
        ("ECDSA", 521, "privateKey.size 521 is not allowed for ECDSA: use 256 or 384"),
        ("ECDSA", 2048, "privateKey.size 2048 is not allowed for ECDSA: use 256 or 384"),
        ("RSA", "2048", "privateKey.size must be an integer, not '2048'"),
        ("ECDSA", 256.0, "privateKey.size must be an integer, not 256.0"),
        ("ECDSA", True, "privateKey.size must be an integer, not True"),
        ("DSA", 2048, "privateKey.algorithm 'DSA' is not allowed: use ECDSA or RSA"),
        ("ecdsa", 256, "privateKey.algorithm 'ecdsa' is not allowed: use ECDSA or RSA"),
        ("Ed25519", 256, "privateKey.algorithm 'Ed25519' is not allowed: use ECDSA or RSA"),
        ("", 256, "privateKey.algorithm '' is not allowed: use ECDSA or RSA"),
        (None, 256, "privateKey.algorithm None is not allowed: use ECDSA or RSA"),
    ],
    ids=[
        "rsa-1024",
        "rsa-256",
        "ecdsa-521",
        "ecdsa-2048",
        "size-string",
        "size-float",
        "size-bool",
        "dsa",
        "lower-case",
        "ed25519",
        "empty-algorithm",
        "no-algorithm",
    ],
)
def test_invalid_specs_name_the_field(algorithm: Any, size: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        KeySpec(algorithm, size)


def test_default_of_an_unknown_algorithm_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"^privateKey\.algorithm 'DSA' is not allowed: use ECDSA or RSA$"):
        KeySpec.default("DSA")


def pem(key: PrivateKey, private_format: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())


PKCS8 = serialization.PrivateFormat.PKCS8
TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1 for RSA, SEC1 for EC


@pytest.mark.parametrize(
    ("spec", "private_format", "header"),
    [
        *[(spec, PKCS8, b"-----BEGIN PRIVATE KEY-----\n") for spec, _, _ in ALLOWED],
        *[(spec, TRADITIONAL, b"-----BEGIN RSA PRIVATE KEY-----\n") for spec, _, _ in ALLOWED[2:]],
        *[(spec, TRADITIONAL, b"-----BEGIN EC PRIVATE KEY-----\n") for spec, _, _ in ALLOWED[:2]],
    ],
    ids=[
        *[f"pkcs8-{id_}" for id_ in ALLOWED_IDS],
        *[f"pkcs1-{id_}" for id_ in ALLOWED_IDS[2:]],
        *[f"sec1-{id_}" for id_ in ALLOWED_IDS[:2]],
    ],
)
def test_pem_round_trips(
    key_of: KeyOf, spec: KeySpec, private_format: serialization.PrivateFormat, header: bytes
) -> None:
    key = key_of(spec)
    data = pem(key, private_format)
    assert data.startswith(header)

    loaded = key_from_pem(data)

    assert key_spec_of(loaded) == spec
    assert key_to_pem(loaded) == key_to_pem(key)


def test_key_from_pem_also_takes_text(ec_key: PrivateKey) -> None:
    assert key_to_pem(key_from_pem(key_to_pem(ec_key).decode())) == key_to_pem(ec_key)


@pytest.mark.parametrize("spec", [spec for spec, _, _ in ALLOWED], ids=ALLOWED_IDS)
def test_key_to_pem_writes_unencrypted_pkcs8(key_of: KeyOf, spec: KeySpec) -> None:
    data = key_to_pem(key_of(spec))
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert data.endswith(b"-----END PRIVATE KEY-----\n")
    assert data == pem(key_of(spec), PKCS8)


def _pkcs8(key: Any) -> bytes:
    return pem(key, PKCS8)


def _encrypted(private_format: serialization.PrivateFormat) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(b"secret")
    return key.private_bytes(serialization.Encoding.PEM, private_format, encryption)


def _der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.DER, PKCS8, serialization.NoEncryption())


def _public_key() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate() -> bytes:
    return TinyCA.root().certificate.public_bytes(serialization.Encoding.PEM)


def _damaged() -> bytes:
    lines = _pkcs8(ec.generate_private_key(ec.SECP256R1())).splitlines(keepends=True)
    return b"".join([lines[0], b"!!" + lines[1][2:], *lines[2:]])


NOT_PEM = "the data is not a PEM private key (PKCS#8, PKCS#1 or SEC1)"
NOT_EC_OR_RSA = "the private key is {}; only ECDSA and RSA keys are supported"
ENCRYPTED = "the private key is encrypted; certwright needs an unencrypted key"
OTHER_CURVE = "the private key is on curve {}; use ECDSA P-256 or P-384"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _pkcs8(ed25519.Ed25519PrivateKey.generate()), NOT_EC_OR_RSA.format("Ed25519")),
        (lambda: _pkcs8(ed448.Ed448PrivateKey.generate()), NOT_EC_OR_RSA.format("Ed448")),
        (lambda: _pkcs8(dsa.generate_private_key(1024)), NOT_EC_OR_RSA.format("DSA")),  # noqa: S505 - to be rejected
        (lambda: _pkcs8(ec.generate_private_key(ec.SECP521R1())), OTHER_CURVE.format("secp521r1")),
        (lambda: _pkcs8(ec.generate_private_key(ec.SECP256K1())), OTHER_CURVE.format("secp256k1")),
        (
            lambda: pem(rsa.generate_private_key(65537, 1024), TRADITIONAL),  # noqa: S505 - to be rejected
            "the private key is RSA 1024; use RSA 2048, 3072 or 4096",
        ),
        (lambda: _encrypted(PKCS8), ENCRYPTED),
        (lambda: _encrypted(TRADITIONAL), ENCRYPTED),
        (lambda: b"", NOT_PEM),
        (lambda: b"not a key at all\n", NOT_PEM),
        (_der, NOT_PEM),
        (_public_key, NOT_PEM),
        (_certificate, NOT_PEM),
        (_damaged, NOT_PEM),
        (lambda: _pkcs8(ec.generate_private_key(ec.SECP256R1()))[:100], NOT_PEM),
    ],
    ids=[
        "ed25519",
        "ed448",
        "dsa",
        "ecdsa-p521",
        "secp256k1",
        "rsa-1024",
        "encrypted-pkcs8",
        "encrypted-sec1",
        "empty",
        "garbage",
        "der",
        "public-key",
        "certificate",
        "damaged-base64",
        "truncated",
    ],
)
def test_unusable_keys_are_rejected_without_quoting_them(
    make: Callable[[], bytes], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = make()
    caplog.set_level(logging.DEBUG)

    with pytest.raises(InvalidKey, match=f"^{re.escape(message)}$") as raised:
        key_from_pem(data)

    assert isinstance(raised.value, ValueError)  # callers catch ValueError for every bad input
    error = raised.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    assert not [line for line in data.splitlines() if len(line) > 8 and line.decode(errors="replace") in message]
    assert not caplog.records


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ec.generate_private_key(ec.SECP256K1()), OTHER_CURVE.format("secp256k1")),
        (lambda: rsa.generate_private_key(65537, 1024), "the private key is RSA 1024; use RSA 2048, 3072 or 4096"),  # noqa: S505
        (ed25519.Ed25519PrivateKey.generate, NOT_EC_OR_RSA.format("Ed25519")),
    ],
    ids=["secp256k1", "rsa-1024", "ed25519"],
)
def test_key_spec_of_rejects_keys_no_spec_describes(make: Callable[[], Any], message: str) -> None:
    """A secp256k1 key is 256 bits too: it must not pass for ECDSA 256."""
    with pytest.raises(InvalidKey, match=f"^{re.escape(message)}$"):
        key_spec_of(make())
