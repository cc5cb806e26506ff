"""JWS for ACME (RFC 8555 §6.2): algorithms by key, EAB's inner JWS, key thumbprints."""

from __future__ import annotations

import json
from typing import Any, cast

import josepy as jose
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certwright.acme import jws
from certwright.acme.messages import NewAccount

from .fakes import account_key

# RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6"
    "qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
    "zKnqDKgw",
    "e": "AQAB",
}
URL = "https://acme.test/new-account"


def protected(body: dict[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(jose.decode_b64jose(body["protected"]))
    return header


@pytest.mark.parametrize(
    ("curve", "alg"),
    [(ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512")],
    ids=["p256", "p384", "p521"],
)
def test_ec_keys_sign_with_their_curves_algorithm(curve: ec.EllipticCurve, alg: str) -> None:
    key = jose.JWKEC(key=ec.generate_private_key(curve))
    assert jws.algorithm_for(key).name == alg
    body = jws.sign(b"{}", key, url=URL, nonce="n", kid=None)
    assert protected(body)["alg"] == alg
    assert jws.JWS.from_json(body).verify(key.public_key())


def test_rsa_keys_sign_with_rs256() -> None:
    key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert jws.algorithm_for(key).name == "RS256"


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (jose.JWKEC(key=ec.generate_private_key(ec.SECP256K1())), "unsupported EC account key curve 'secp256k1'"),
        (jose.JWKOct(key=b"0" * 32), "unsupported account key type JWKOct"),
    ],
    ids=["secp256k1", "symmetric"],
)
def test_unsupported_account_keys_are_refused(key: jose.JWK, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        jws.algorithm_for(key)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (None, b""),
        ({}, b"{}"),
        ({"a": 1}, b'{"a": 1}'),
        (NewAccount(only_return_existing=True), b'{"onlyReturnExisting": true}'),
    ],
    ids=["post-as-get", "empty-object", "dict", "josepy-object"],
)
def test_encode_payload(payload: Any, expected: bytes) -> None:
    assert jws.encode_payload(payload) == expected


def test_inner_jws_of_a_key_rollover_has_no_nonce() -> None:
    body = jws.sign(b"{}", account_key(), url=URL, nonce=None, kid=None)
    assert set(protected(body)) == {"alg", "jwk", "url"}


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"], ids=["hs256", "hs384", "hs512"])
def test_external_account_binding_signs_the_account_key_with_the_mac_key(alg: str) -> None:
    hmac_key = b"k" * 64
    body = jws.external_account_binding(account_key(), key_id="kid-1", hmac_key=hmac_key, url=URL, alg=alg)
    assert protected(body) == {"alg": alg, "kid": "kid-1", "url": URL}  # RFC 8555 §7.3.4: no nonce, no jwk
    assert jose.JWK.from_json(json.loads(jose.decode_b64jose(body["payload"]))) == account_key().public_key()
    assert jws.JWS.from_json(body).verify(jose.JWKOct(key=hmac_key))


@pytest.mark.parametrize(
    ("alg", "length", "says"),
    [
        ("HS1", 32, "must be one of"),
        ("none", 32, "must be one of"),
        ("HS256", 31, "31 bytes; HS256 needs at least 32"),
        ("HS512", 32, "32 bytes; HS512 needs at least 64"),
    ],
    ids=["unknown-alg", "alg-none", "short-for-hs256", "short-for-hs512"],
)
def test_external_account_binding_refuses_weak_settings(alg: str, length: int, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        jws.external_account_binding(account_key(), key_id="kid-1", hmac_key=b"k" * length, url=URL, alg=alg)


def test_thumbprint_is_rfc7638s() -> None:
    key = cast(jose.JWK, jose.JWK.from_json(RFC7638_KEY))
    assert jws.thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
