"""The client against Debian's Pebble 2.4.0: an older server without ARI, profiles or Retry-After.

``make test`` installs the Debian package (scripts/system-deps.sh); the capabilities that 2.4.0
lacks must be detected from its directory, never assumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certwright.acme import ari
from certwright.acme.errors import ProfileNotOffered
from certwright_env import AcmeEnvironment

from .flows import issue, names, new_client

DEBIAN_PEBBLE = Path("/usr/bin")


@pytest.fixture(scope="module")
def old_pebble() -> Iterator[AcmeEnvironment]:
    if not (DEBIAN_PEBBLE / "pebble").exists():
        pytest.fail("Debian's pebble package is missing: `make test` installs it (scripts/system-deps.sh)")
    stack = AcmeEnvironment(pebble_folder=DEBIAN_PEBBLE)
    stack.start()
    yield stack
    stack.stop()
    stack.remove_run_dir()


def test_issuance_revocation_and_renewal_without_ari(old_pebble: AcmeEnvironment) -> None:
    client = new_client(old_pebble)
    client.register(["mailto:tests@example.test"])
    directory = client.directory
    assert directory.renewal_info is None
    assert directory.profiles == {}
    requested = names(2)

    first = issue(client, old_pebble, requested)
    # No ARI here: `replaces` is left out rather than sent to a server that does not know it.
    second = issue(client, old_pebble, requested, replaces=ari.cert_id(first.leaf))
    client.revoke(second.leaf.public_bytes(serialization.Encoding.DER), reason=1)

    assert second.order.body.replaces is None
    assert sorted(first.answered) == sorted(requested)


def test_a_profile_is_refused_where_the_directory_offers_none(old_pebble: AcmeEnvironment) -> None:
    client = new_client(old_pebble)
    client.register()
    with pytest.raises(ProfileNotOffered, match=r"\(it offers: none\)"):
        client.new_order(names(1), profile="shortlived")
