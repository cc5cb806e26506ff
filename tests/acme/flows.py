"""What the acme tests do again and again: a client for a Pebble, and one whole issuance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.acme.client import AcmeClient, Order
from certwright.acme.transport import Transport, new_session
from certwright_env import AcmeEnvironment


def account_key() -> jose.JWK:
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def new_client(pebble: AcmeEnvironment, key: jose.JWK | None = None) -> AcmeClient:
    transport = Transport(pebble.directory_url, session=new_session(str(pebble.ca_bundle)))
    return AcmeClient(transport, key or account_key())


def names(count: int = 1) -> list[str]:
    return [f"{uuid.uuid4().hex[:10]}.example.test" for _ in range(count)]


def csr_for(dns_names: list[str], key: ec.EllipticCurvePrivateKey) -> bytes:
    san = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names])
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).add_extension(san, critical=False)
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class Issued:
    order: Order
    chain_pem: str
    key: ec.EllipticCurvePrivateKey
    answered: list[str]

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem.encode())[0]


def solve(client: AcmeClient, pebble: AcmeEnvironment, order: Order) -> list[str]:
    """Answer every pending authorization over HTTP-01 (challtestsrv serves the key authorization)."""
    answered = []
    for authorization in client.pending_authorizations(order):
        challenge = authorization.body.challenge("http-01")
        assert challenge is not None
        pebble.add_http01(challenge.token, client.key_authorization(challenge))
        client.answer(challenge)
        client.wait_authorization(authorization.url)
        answered.append(authorization.body.identifier.value)
    return answered


def issue(
    client: AcmeClient,
    pebble: AcmeEnvironment,
    dns_names: list[str],
    *,
    profile: str | None = None,
    replaces: str | None = None,
    preferred_chain: str | None = None,
) -> Issued:
    order = client.new_order(dns_names, profile=profile, replaces=replaces)
    answered = solve(client, pebble, order)
    key = ec.generate_private_key(ec.SECP256R1())
    done = client.finalize(order, csr_for(dns_names, key))
    return Issued(done, client.download(done, preferred_chain), key, answered)
