"""The rfc2136 settings, read as cert-manager names them."""

from __future__ import annotations

from typing import Any

import dns.tsig
import pytest

from certwright.dns.errors import DnsConfigError
from certwright.dns.rfc2136 import Rfc2136Config, parse_config

FIELD = "spec.acme.solvers[0].dns01.rfc2136"


def test_defaults_sign_with_hmac_sha256_and_the_secret_key() -> None:
    config = parse_config(
        {"nameserver": "10.0.0.53", "tsigKeyName": "acme", "tsigSecretSecretRef": {"name": "tsig"}}, FIELD
    )
    assert config == Rfc2136Config("10.0.0.53", "acme", "HMACSHA256", "tsig", "secret")
    assert config.algorithm_name == dns.tsig.HMAC_SHA256


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        ("HMACSHA512", dns.tsig.HMAC_SHA512),
        ("HMACSHA384", dns.tsig.HMAC_SHA384),
        ("HMACSHA224", dns.tsig.HMAC_SHA224),
        ("HMACSHA1", dns.tsig.HMAC_SHA1),
        ("hmacsha256", dns.tsig.HMAC_SHA256),
    ],
    ids=["sha512", "sha384", "sha224", "sha1", "lowercase"],
)
def test_accepted_algorithms(algorithm: str, name: dns.name.Name) -> None:
    config = parse_config({"nameserver": "ns", "tsigAlgorithm": algorithm}, FIELD)
    assert config.algorithm_name == name


def test_unsigned_updates_need_no_key() -> None:
    assert parse_config({"nameserver": "ns:5353"}, FIELD) == Rfc2136Config("ns:5353")


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        ({}, f"{FIELD}.nameserver", "required"),
        ({"nameserver": "ns", "tsigAlgorithm": "HMACMD5"}, f"{FIELD}.tsigAlgorithm", "HMACSHA256"),
        ({"nameserver": "ns", "tsigKeyName": "k"}, FIELD, "go together"),
        ({"nameserver": "ns", "tsigSecretSecretRef": {"name": "s"}}, FIELD, "go together"),
    ],
    ids=["no-nameserver", "md5", "key-without-secret", "secret-without-key"],
)
def test_wrong_settings_name_the_field(config: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(DnsConfigError) as caught:
        parse_config(config, FIELD)
    assert caught.value.field == field
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")
