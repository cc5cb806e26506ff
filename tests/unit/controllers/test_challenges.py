"""What a DNS step's failure becomes on the Certificate, and which name an authorization is for."""

from __future__ import annotations

import pytest

from certwright.acme.client import Authorization
from certwright.acme.messages import AuthorizationBody
from certwright.controllers.challenges import dns_failure, dns_name
from certwright.dns import errors
from certwright.dns.errors import DnsError
from certwright.domain.conditions import Reason


@pytest.mark.parametrize(
    ("wildcard", "name"),
    [(False, "example.test"), (True, "*.example.test")],
    ids=["plain", "wildcard-names-its-base"],
)
def test_dns_name_is_the_name_as_the_certificate_writes_it(wildcard: bool, name: str) -> None:
    body = AuthorizationBody.from_json(
        {
            "identifier": {"type": "dns", "value": "example.test"},
            "status": "pending",
            "challenges": [],
            **({"wildcard": True} if wildcard else {}),
        }
    )
    assert dns_name(Authorization("https://acme.test/authz/1", body)) == name


@pytest.mark.parametrize(
    "reason",
    [
        errors.TSIG_REFUSED,
        errors.ZONE_NOT_SERVED,
        errors.UPDATE_REFUSED,
        errors.NAMESERVER_UNREACHABLE,
        errors.PROVIDER_FAILED,
        errors.PROVIDER_NOT_FOUND,
        errors.CONFIG_INVALID,
        errors.SECRET_MISSING,
        errors.PROPAGATION_TIMED_OUT,
    ],
)
def test_every_dns_reason_is_a_certificate_reason(reason: str) -> None:
    failure = dns_failure("*.example.test", DnsError(reason, "what happened; what to do"))
    assert failure.reason == Reason(reason)
    assert str(failure) == "DNS-01 for *.example.test: what happened; what to do"
    assert not failure.order_spent, "the order is kept: fixing the cause resumes it"


def test_a_plugins_own_reason_shows_as_provider_failed_and_keeps_its_word() -> None:
    failure = dns_failure("example.test", DnsError("QuotaExceeded", "the API allows 5 changes a minute"))
    assert failure.reason == Reason.DNS_PROVIDER_FAILED
    assert str(failure) == "DNS-01 for example.test: QuotaExceeded: the API allows 5 changes a minute"
