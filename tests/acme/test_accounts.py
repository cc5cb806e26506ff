"""Accounts: registration, lookup by key, contact, EAB, key rollover, deactivation."""

from __future__ import annotations

import base64
from collections.abc import Callable

import josepy as jose
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certwright.acme.client import ExternalAccountBinding
from certwright.acme.errors import AccountDoesNotExist, ExternalAccountRequired, Unauthorized
from certwright_env import AcmeEnvironment

from .flows import account_key, issue, names, new_client


def test_an_account_is_created_then_found_again_from_its_key(pebble: AcmeEnvironment) -> None:
    key = account_key()
    created = new_client(pebble, key).register(["mailto:ops@example.test"])
    assert created.body.status == "valid"
    assert created.body.contact == ("mailto:ops@example.test",)

    found = new_client(pebble, key).find_account()
    registered_again = new_client(pebble, key).register()

    assert found.url == created.url
    assert registered_again.url == created.url


def test_an_rsa_account_key_signs_with_rs256(pebble: AcmeEnvironment) -> None:
    client = new_client(pebble, jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    client.register()

    issued = issue(client, pebble, names(1))

    assert issued.leaf.serial_number > 0


def test_a_key_without_an_account_is_not_found(pebble: AcmeEnvironment) -> None:
    with pytest.raises(AccountDoesNotExist):
        new_client(pebble).find_account()


def test_the_contact_is_updated(pebble: AcmeEnvironment) -> None:
    client = new_client(pebble)
    client.register(["mailto:old@example.test"])

    updated = client.update_contact(["mailto:new@example.test"])

    assert updated.body.contact == ("mailto:new@example.test",)


MAC_KEY = base64.urlsafe_b64encode(b"certwright-eab-test-mac-key-".ljust(64, b"x")).decode().rstrip("=")


@pytest.fixture(scope="module")
def eab_pebble() -> AcmeEnvironment:
    stack = AcmeEnvironment(
        pebble_config={"externalAccountBindingRequired": True, "externalAccountMACKeys": {"kid-1": MAC_KEY}}
    )
    stack.start()
    yield stack  # type: ignore[misc]
    stack.stop()
    stack.remove_run_dir()


def test_a_ca_that_requires_eab_refuses_an_account_without_it(eab_pebble: AcmeEnvironment) -> None:
    assert new_client(eab_pebble).directory.external_account_required
    with pytest.raises(ExternalAccountRequired, match="externalAccountRequired"):
        new_client(eab_pebble).register()


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_an_account_is_bound_to_an_external_account(eab_pebble: AcmeEnvironment, algorithm: str) -> None:
    binding = ExternalAccountBinding(key_id="kid-1", hmac_key=MAC_KEY, algorithm=algorithm)

    account = new_client(eab_pebble).register(eab=binding)

    assert account.body.status == "valid"
    assert MAC_KEY not in repr(binding)


def test_an_hmac_key_shorter_than_the_hash_is_refused_before_sending(eab_pebble: AcmeEnvironment) -> None:
    short = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
    with pytest.raises(ValueError, match="the EAB HMAC key has 32 bytes; HS384 needs at least 48"):
        new_client(eab_pebble).register(eab=ExternalAccountBinding(key_id="kid-1", hmac_key=short, algorithm="HS384"))


def test_key_rollover_moves_the_account_to_the_new_key(
    own_pebble: Callable[..., AcmeEnvironment],
) -> None:
    pebble = own_pebble()
    old_key, new_key = account_key(), account_key()
    client = new_client(pebble, old_key)
    account = client.register()

    client.rollover(new_key)

    assert new_client(pebble, new_key).find_account().url == account.url
    with pytest.raises(AccountDoesNotExist):
        new_client(pebble, old_key).find_account()
    issue(client, pebble, names(1))  # the client goes on with the new key


def test_a_deactivated_account_can_no_longer_order(pebble: AcmeEnvironment) -> None:
    client = new_client(pebble)
    client.register()

    assert client.deactivate_account().body.status == "deactivated"

    with pytest.raises(Unauthorized):
        client.new_order(names(1))
