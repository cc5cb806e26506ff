"""certwright's DNS layer against the environment's real BIND, without Kubernetes: the RFC 2136
provider adds and removes single TXT values, each refusal a real server gives becomes a reason a user
can act on, and the zone, CNAME and propagation lookups find what a CA's resolver would."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from certwright.dns import errors, propagation, zones
from certwright.dns.errors import DnsError
from certwright.dns.provider import ProviderContext, Record
from certwright.dns.rfc2136 import Rfc2136
from certwright_env import Environment

T = TypeVar("T")
FIELD = "spec.acme.solvers[0].dns01.rfc2136"


def run(awaitable: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await awaitable

    return asyncio.run(wrapped())


def provider(env: Environment, *, secret: str | None = None, **config: Any) -> Rfc2136:
    """The rfc2136 provider as an Issuer would configure it for BIND, with settings overridden."""

    async def read_secret(name: str, key: str) -> bytes:
        assert (name, key) == ("tsig", "secret")
        return (secret or env.bind.tsig_secret).encode()

    settings = {
        "nameserver": env.bind.nameserver,
        "tsigKeyName": env.bind.tsig_key_name,
        "tsigAlgorithm": env.bind.tsig_algorithm,
        "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
        **config,
    }
    return Rfc2136(settings, ProviderContext(FIELD, read_secret, (env.nameserver,)))


def fresh(zone: str = "example.test") -> str:
    return f"_acme-challenge.{uuid.uuid4().hex[:10]}.{zone}."


def test_present_adds_its_value_beside_others_and_clean_up_removes_only_its_own(env: Environment) -> None:
    fqdn = fresh()
    env.bind.update("example.test", add=[(fqdn, 60, "TXT", "someone-else")])
    dns = provider(env)
    wildcard, apex = Record(fqdn, "example.test.", "value-a"), Record(fqdn, "example.test.", "value-b")

    run(dns.present(wildcard))
    run(dns.present(apex))
    run(dns.present(apex))  # twice is fine
    assert env.bind.query(fqdn, "TXT") == ['"someone-else"', '"value-a"', '"value-b"']

    run(dns.clean_up(wildcard))
    run(dns.clean_up(wildcard))  # removing a missing value is fine
    assert env.bind.query(fqdn, "TXT") == ['"someone-else"', '"value-b"']
    run(dns.clean_up(apex))
    assert env.bind.query(fqdn, "TXT") == ['"someone-else"']


@pytest.mark.parametrize(
    ("change", "zone", "reason", "says"),
    [
        ({"secret": base64.b64encode(b"x" * 32).decode()}, "example.test.", errors.TSIG_REFUSED, "BADSIG"),
        ({"tsigKeyName": "nobody."}, "example.test.", errors.TSIG_REFUSED, "BADKEY"),
        ({"tsigAlgorithm": "HMACSHA512"}, "example.test.", errors.TSIG_REFUSED, "algorithm HMACSHA512 (BADKEY)"),
        ({}, "readonly.test.", errors.UPDATE_REFUSED, "REFUSED"),
        ({}, "nothere.test.", errors.ZONE_NOT_SERVED, "NOTAUTH"),
        ({"nameserver": "127.0.0.1:1"}, "example.test.", errors.NAMESERVER_UNREACHABLE, "127.0.0.1:1"),
    ],
    ids=["wrong-secret", "unknown-key", "wrong-algorithm", "zone-refuses-updates", "zone-not-served", "unreachable"],
)
def test_each_refusal_is_a_reason_with_its_cause(
    env: Environment, change: dict[str, Any], zone: str, reason: str, says: str
) -> None:
    secret = change.pop("secret", None)
    dns = provider(env, secret=secret, **change)
    with pytest.raises(DnsError) as caught:
        run(dns.present(Record(f"_acme-challenge.x.{zone}", zone, "value")))
    assert caught.value.reason == reason
    assert says in str(caught.value)
    assert env.bind.tsig_secret not in str(caught.value)


def test_a_secret_that_is_not_base64_names_the_field(env: Environment) -> None:
    with pytest.raises(DnsError) as caught:
        run(provider(env, secret="not base64!").present(Record(fresh(), "example.test.", "v")))
    assert caught.value.reason == errors.CONFIG_INVALID
    assert f"{FIELD}.tsigSecretSecretRef" in str(caught.value)


@pytest.mark.parametrize(
    ("fqdn", "zone"),
    [("_acme-challenge.a.b.example.test.", "example.test."), ("_acme-challenge.x.delegated.test.", "delegated.test.")],
    ids=["example", "delegated"],
)
def test_the_zone_is_found_from_the_nameserver(env: Environment, fqdn: str, zone: str) -> None:
    assert run(provider(env).find_zone(fqdn)) == zone
    assert run(zones.find_zone(fqdn, (env.nameserver,))) == zone


def test_a_name_no_zone_below_the_root_holds_is_not_served(env: Environment) -> None:
    with pytest.raises(DnsError) as caught:
        run(provider(env).find_zone("_acme-challenge.www.nothere.test."))
    assert caught.value.reason == errors.ZONE_NOT_SERVED
    assert "no zone below the root" in str(caught.value)


def test_a_cname_chain_is_followed_to_its_end(env: Environment) -> None:
    start, middle, end = fresh(), fresh("delegated.test"), fresh("delegated.test")
    env.bind.update("example.test", add=[(start, 60, "CNAME", middle)])
    env.bind.update("delegated.test", add=[(middle, 60, "CNAME", end)])

    assert run(zones.follow_cnames(start, (env.nameserver,))) == end
    assert run(zones.follow_cnames(end, (env.nameserver,))) == end


def test_propagation_asks_the_zones_authoritative_nameservers(env: Environment) -> None:
    fqdn = fresh()
    (server,) = run(propagation.authoritative("example.test.", (env.nameserver,)))
    assert (server.name, server.address, server.port) == ("ns.example.test.", env.bind.address, env.bind.port)

    missing = run(propagation.serves(server, fqdn, "value"))
    assert missing is not None
    assert "has no TXT record" in missing
    assert "ns.example.test." in missing

    env.bind.update("example.test", add=[(fqdn, 60, "TXT", "other")])
    other = run(propagation.serves(server, fqdn, "value"))
    assert other is not None
    assert "other TXT value" in other

    env.bind.update("example.test", add=[(fqdn, 60, "TXT", "value")])
    assert run(propagation.serves(server, fqdn, "value")) is None
