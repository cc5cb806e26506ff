"""JWS for ACME requests (RFC 8555 §6.2): flattened JSON, protected ``nonce`` and ``url``, ``jwk`` or ``kid``.

ES256 signatures are raw ``r||s`` (RFC 7518 §3.4), which josepy produces. External account binding
and key rollover wrap an inner JWS that has no nonce (§7.3.4, §7.3.5).
"""

from __future__ import annotations

import json
from typing import Any

import josepy as jose


class Header(jose.Header):
    """The JOSE header plus ACME's ``nonce`` and ``url`` (RFC 8555 §6.4, §6.5)."""

    nonce: str | None = jose.field("nonce", omitempty=True)
    url: str | None = jose.field("url", omitempty=True)


class Signature(jose.Signature):
    """A signature whose headers are ACME's (the field is redeclared so that it decodes them)."""

    __slots__ = jose.Signature._orig_slots
    header_cls = Header
    header: Header = jose.field("header", omitempty=True, default=Header(), decoder=Header.from_json)


class JWS(jose.JWS):
    __slots__ = jose.JWS._orig_slots
    signature_cls = Signature


def algorithm_for(key: jose.JWK) -> jose.JWASignature:
    """ES256/ES384/ES512 for EC keys by curve, RS256 for RSA."""
    if isinstance(key, jose.JWKEC):
        curve = getattr(key.key, "curve", None)
        by_curve = {"secp256r1": jose.ES256, "secp384r1": jose.ES384, "secp521r1": jose.ES512}
        if curve is None or curve.name not in by_curve:
            raise ValueError(f"unsupported EC account key curve {getattr(curve, 'name', None)!r}")
        return by_curve[curve.name]
    if isinstance(key, jose.JWKRSA):
        return jose.RS256
    raise ValueError(f"unsupported account key type {type(key).__name__}: use ECDSA (P-256) or RSA")


def encode_payload(payload: jose.JSONDeSerializable | dict[str, Any] | None) -> bytes:
    """``None`` is POST-as-GET: the empty payload (§6.3)."""
    if payload is None:
        return b""
    if isinstance(payload, jose.JSONDeSerializable):
        return payload.json_dumps().encode()
    return json.dumps(payload).encode()


def sign(payload: bytes, key: jose.JWK, *, url: str, nonce: str | None, kid: str | None) -> dict[str, Any]:
    """A flattened JWS; with ``kid`` the account URL identifies the key, without it the ``jwk`` does."""
    protect = frozenset({"alg", "nonce", "url", "kid", "jwk"})
    fields: dict[str, Any] = {"url": url}
    if nonce is not None:
        fields["nonce"] = nonce
    if kid is not None:
        fields["kid"] = kid
    signed = JWS.sign(payload, key=key, alg=algorithm_for(key), include_jwk=kid is None, protect=protect, **fields)
    body: dict[str, Any] = signed.to_partial_json(flat=True)
    return body


def external_account_binding(
    account_key: jose.JWK, *, key_id: str, hmac_key: bytes, url: str, alg: str
) -> dict[str, Any]:
    """The inner JWS binding ``account_key`` to an external account (RFC 8555 §7.3.4)."""
    algorithms = {"HS256": jose.HS256, "HS384": jose.HS384, "HS512": jose.HS512}
    if alg not in algorithms:
        raise ValueError(f"external account binding algorithm must be one of {sorted(algorithms)}, not {alg!r}")
    minimum = int(alg[2:]) // 8  # RFC 7518 §3.2: the key is at least as long as the hash output
    if len(hmac_key) < minimum:
        raise ValueError(f"the EAB HMAC key has {len(hmac_key)} bytes; {alg} needs at least {minimum}")
    payload = account_key.public_key().json_dumps().encode()
    signed = JWS.sign(
        payload,
        key=jose.JWKOct(key=hmac_key),
        alg=algorithms[alg],
        include_jwk=False,
        protect=frozenset({"alg", "kid", "url"}),
        kid=key_id,
        url=url,
    )
    body: dict[str, Any] = signed.to_partial_json(flat=True)
    return body


def thumbprint(key: jose.JWK) -> str:
    """base64url(SHA-256 JWK thumbprint) of the public key (RFC 7638), as key authorizations use."""
    return jose.encode_b64jose(key.thumbprint())
