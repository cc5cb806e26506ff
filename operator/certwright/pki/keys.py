"""Certificate private keys: what a Certificate asks for (``spec.privateKey``), generating, PEM in and out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certwright.pki.errors import InvalidKey

__all__ = ["InvalidKey", "KeySpec", "PrivateKey", "generate_key", "key_from_pem", "key_spec_of", "key_to_pem"]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# The key types Let's Encrypt accepts in a CSR, as cert-manager spells them; the first size is the default.
# P-521 is left out because Let's Encrypt rejects it.
_SIZES: dict[str, tuple[int, ...]] = {"ECDSA": (256, 384), "RSA": (2048, 3072, 4096)}
_CURVES: dict[int, type[ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1}
_RSA_PUBLIC_EXPONENT = 65537


@dataclass(frozen=True)
class KeySpec:
    """The kind of private key a Certificate wants: ``privateKey.algorithm`` and ``privateKey.size``."""

    algorithm: str
    size: int

    def __post_init__(self) -> None:
        allowed = _sizes_for(self.algorithm)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError(f"privateKey.size must be an integer, not {self.size!r}")
        if self.size not in allowed:
            raise ValueError(
                f"privateKey.size {self.size} is not allowed for {self.algorithm}: use {_either([*map(str, allowed)])}"
            )

    @classmethod
    def default(cls, algorithm: str = "ECDSA") -> KeySpec:
        """ECDSA P-256, or the default size of ``algorithm`` when only that is given (RSA: 2048, as cert-manager)."""
        return cls(algorithm, _sizes_for(algorithm)[0])


def generate_key(spec: KeySpec) -> PrivateKey:
    """A new private key of the given kind."""
    if spec.algorithm == "ECDSA":
        return ec.generate_private_key(_CURVES[spec.size]())
    return rsa.generate_private_key(public_exponent=_RSA_PUBLIC_EXPONENT, key_size=spec.size)


def key_to_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``): what ``tls.key`` holds in a certwright Secret.

    PKCS#8 carries the algorithm inside, so one format serves ECDSA and RSA alike; Kubernetes TLS Secrets are
    unencrypted by convention (the Secret itself is the protection).
    """
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def key_from_pem(data: bytes | str) -> PrivateKey:
    """The unencrypted ECDSA or RSA key in PEM ``data``: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).

    Keys written by other tools (cert-manager, certbot, openssl) come in all three. Anything else raises
    ``InvalidKey``, whose message never quotes ``data``.
    """
    pem = data.encode() if isinstance(data, str) else data
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:  # what cryptography raises for an encrypted key and no password
        raise InvalidKey("the private key is encrypted; certwright needs an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey("the data is not a PEM private key (PKCS#8, PKCS#1 or SEC1)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise InvalidKey(f"the private key is {_kind(key)}; only ECDSA and RSA keys are supported")
    key_spec_of(key)  # rejects the curves and sizes no KeySpec allows
    return key


def key_spec_of(key: PrivateKey) -> KeySpec:
    """What kind of key ``key`` is, to compare with what the Certificate asks for now.

    Raises ``InvalidKey`` for a key no ``KeySpec`` describes (an RSA 1024 or a secp256k1 key), so that a key
    from elsewhere is never mistaken for an allowed one of the same size.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        for size, curve in _CURVES.items():
            if isinstance(key.curve, curve):
                return KeySpec("ECDSA", size)
        raise InvalidKey(f"the private key is on curve {key.curve.name}; use ECDSA P-256 or P-384")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKey(f"the private key is {_kind(key)}; only ECDSA and RSA keys are supported")
    if key.key_size not in _SIZES["RSA"]:
        raise InvalidKey(f"the private key is RSA {key.key_size}; use RSA {_either([*map(str, _SIZES['RSA'])])}")
    return KeySpec("RSA", key.key_size)


def _sizes_for(algorithm: object) -> tuple[int, ...]:
    """The sizes allowed for ``algorithm``; a ``ValueError`` naming the field if it is not ECDSA or RSA."""
    if not isinstance(algorithm, str) or algorithm not in _SIZES:
        raise ValueError(f"privateKey.algorithm {algorithm!r} is not allowed: use {_either(list(_SIZES))}")
    return _SIZES[algorithm]


def _kind(key: object) -> str:
    """A readable name for a key type, e.g. ``Ed25519`` for ``Ed25519PrivateKey``."""
    return type(key).__name__.removesuffix("PrivateKey")


def _either(choices: Sequence[str]) -> str:
    """``"a, b or c"``: the allowed values, as a message lists them."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"
