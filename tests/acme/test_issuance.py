"""Orders, authorizations, finalize and download against a real Pebble."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.acme.client import AcmeClient
from certwright.acme.errors import AuthorizationFailed, ProfileNotOffered
from certwright_env import AcmeEnvironment

from .flows import csr_for, issue, names, new_client


def test_a_certificate_is_issued_for_every_name_through_http01(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    requested = names(3)

    issued = issue(client, pebble, requested)

    chain = x509.load_pem_x509_certificates(issued.chain_pem.encode())
    leaf = chain[0]
    assert sorted(
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    ) == sorted(requested)
    assert leaf.public_key() == issued.key.public_key()
    assert len(chain) >= 2, "the intermediate follows the leaf"
    leaf.verify_directly_issued_by(chain[1])
    intermediate = x509.load_pem_x509_certificate(pebble.management("/intermediates/0"))
    assert chain[1] == intermediate
    assert sorted(issued.answered) == sorted(requested)
    for name in requested:  # the CA really fetched each token over HTTP
        assert pebble.http_requests(name), f"Pebble never fetched the challenge for {name}"


def test_valid_authorizations_are_reused_without_answering_again(
    own_pebble: Callable[..., AcmeEnvironment],
) -> None:
    pebble = own_pebble(pebble_env={"PEBBLE_AUTHZREUSE": "100"})
    client = new_client(pebble)
    client.register()
    requested = names(2)
    first = issue(client, pebble, requested)
    assert sorted(first.answered) == sorted(requested)

    again = issue(client, pebble, requested)

    assert again.answered == [], "every authorization was already valid"
    assert again.leaf.serial_number != first.leaf.serial_number


def test_a_wrong_key_authorization_fails_the_authorization_with_the_cas_reason(
    client: AcmeClient, pebble: AcmeEnvironment
) -> None:
    [name] = names(1)
    order = client.new_order([name])
    [authorization] = client.pending_authorizations(order)
    challenge = authorization.body.challenge("http-01")
    assert challenge is not None
    pebble.add_http01(challenge.token, "not-the-key-authorization")
    client.answer(challenge)

    with pytest.raises(AuthorizationFailed) as failed:
        client.wait_authorization(authorization.url)

    assert failed.value.identifier == name
    assert failed.value.problem is not None
    assert failed.value.problem.short_type == "unauthorized"
    assert "invalid" in str(failed.value)


def test_an_authorization_can_be_deactivated(client: AcmeClient) -> None:
    order = client.new_order(names(1))
    [authorization] = client.pending_authorizations(order)

    assert client.deactivate_authorization(authorization).body.status == "deactivated"
    assert client.order(order.url).body.status == "invalid"


@pytest.mark.parametrize(
    ("profile", "lifetime"), [("tenminutes", 600), ("shortlived", 6 * 86400), ("default", 90 * 86400)]
)
def test_a_profile_the_directory_offers_sets_the_lifetime(
    client: AcmeClient, pebble: AcmeEnvironment, profile: str, lifetime: int
) -> None:
    issued = issue(client, pebble, names(1), profile=profile)

    leaf = issued.leaf
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc) == datetime.timedelta(seconds=lifetime - 1)
    assert issued.order.body.profile == profile


def test_a_profile_the_directory_does_not_offer_is_refused_before_ordering(client: AcmeClient) -> None:
    with pytest.raises(
        ProfileNotOffered,
        match=r"profile 'classic' is not offered by .* \(it offers: default, ninetyseconds, shortlived, tenminutes\)",
    ):
        client.new_order(names(1), profile="classic")


def test_finalize_waits_for_an_order_whose_authorizations_are_still_pending(
    client: AcmeClient, pebble: AcmeEnvironment
) -> None:
    """Finalizing early gets orderNotReady; once the authorization is valid, finalize goes through."""
    requested = names(1)
    order = client.new_order(requested)
    [authorization] = client.pending_authorizations(order)
    challenge = authorization.body.challenge("http-01")
    assert challenge is not None
    pebble.add_http01(challenge.token, client.key_authorization(challenge))
    late_answer = threading.Timer(0.5, client.answer, [challenge])  # finalize starts before the answer
    late_answer.start()

    done = client.finalize(order, csr_for(requested, ec.generate_private_key(ec.SECP256R1())))
    late_answer.join()

    assert done.body.status == "valid"
    assert client.download(done).startswith("-----BEGIN CERTIFICATE-----")


def test_many_orders_at_once_share_one_client_despite_nonce_rejection(
    client: AcmeClient, pebble: AcmeEnvironment
) -> None:
    """Pebble rejects 5 % of good nonces; 24 issuances on 8 threads (about 250 signed requests) all succeed."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda _: issue(client, pebble, names(1)), range(24)))

    assert len({certificate.leaf.serial_number for certificate in issued}) == 24
    # At 5 % of ~250 requests, no rejection at all would happen about 3 times in a million runs.
    assert client.transport.nonce_rejections > 0, "the badNonce retry path was not exercised"
