"""The rfc2136 settings, read as cert-manager names them."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.update
import pytest

from certwright.dns import errors
from certwright.dns.errors import DnsConfigError, DnsError
from certwright.dns.provider import ProviderContext, Record
from certwright.dns.rfc2136 import Rfc2136, Rfc2136Config, parse_config

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


class ScriptedRfc2136(Rfc2136):
    """The provider with its one network exchange answered by a script: an exception, or an rcode."""

    def __init__(self, answer: Exception | int) -> None:
        async def read_secret(name: str, key: str) -> bytes:
            return base64.b64encode(b"k" * 32)

        settings = {"nameserver": "192.0.2.53", "tsigKeyName": "acme", "tsigSecretSecretRef": {"name": "tsig"}}
        super().__init__(settings, ProviderContext(FIELD, read_secret))
        self.answer = answer

    async def _exchange(self, update: dns.update.UpdateMessage, address: str, port: int) -> dns.message.Message:
        assert (address, port) == ("192.0.2.53", 53)
        if isinstance(self.answer, Exception):
            raise self.answer
        response = dns.message.make_response(update)
        response.set_rcode(self.answer)
        return response


@pytest.mark.parametrize(
    ("answer", "reason", "says"),
    [
        (dns.tsig.PeerBadTime(), errors.TSIG_REFUSED, "(BADTIME): the clocks"),
        (dns.tsig.PeerBadKey(), errors.TSIG_REFUSED, "(BADKEY)"),
        (dns.tsig.PeerBadSignature(), errors.TSIG_REFUSED, "(BADSIG)"),
        (dns.rcode.NOTZONE, errors.ZONE_NOT_SERVED, "(NOTZONE)"),
        (dns.rcode.NOTAUTH, errors.ZONE_NOT_SERVED, "(NOTAUTH)"),
        (dns.rcode.REFUSED, errors.UPDATE_REFUSED, "key 'acme' change it"),
        (dns.rcode.SERVFAIL, errors.PROVIDER_FAILED, "answered SERVFAIL"),
        (dns.exception.Timeout(), errors.NAMESERVER_UNREACHABLE, "did not answer the update"),
        (ConnectionRefusedError("refused"), errors.NAMESERVER_UNREACHABLE, "cannot be reached"),
    ],
    ids=["badtime", "badkey", "badsig", "notzone", "notauth", "refused", "servfail", "timeout", "connection-refused"],
)
def test_every_answer_is_a_reason_with_its_cause(answer: Exception | int, reason: str, says: str) -> None:
    provider = ScriptedRfc2136(answer)
    with pytest.raises(DnsError) as caught:
        asyncio.run(provider.present(Record("_acme-challenge.example.test.", "example.test.", "value")))
    assert caught.value.reason == reason
    assert says in str(caught.value)


def test_noerror_is_done() -> None:
    asyncio.run(ScriptedRfc2136(dns.rcode.NOERROR).clean_up(Record("_acme-challenge.a.test.", "a.test.", "v")))
