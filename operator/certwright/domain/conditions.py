"""Condition types, reasons and Event reasons (one place, CamelCase), and condition bookkeeping."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any


class ConditionType(StrEnum):
    READY = "Ready"
    ISSUING = "Issuing"


class Reason(StrEnum):
    """Why a condition is as it is; also the Event reason where an Event is posted."""

    # Certificate Ready
    ISSUED = "Issued"
    NOT_ISSUED_YET = "DoesNotExist"
    ISSUER_NOT_FOUND = "IssuerNotFound"
    ISSUER_NOT_READY = "IssuerNotReady"
    WILDCARD_NEEDS_DNS01 = "WildcardNeedsDNS01"
    NO_SOLVER = "NoMatchingSolver"
    INVALID_SPEC = "InvalidSpec"
    SECRET_IN_USE = "SecretInUse"
    SECRET_TYPE_MISMATCH = "SecretTypeMismatch"
    SECRET_IMMUTABLE = "SecretImmutable"
    SPEC_CHANGED = "SpecChanged"
    # Issuing: why an issuance started (the ordered checks in ``issuing``)
    SECRET_MISSING = "SecretMissing"
    SECRET_INCOMPLETE = "SecretIncomplete"
    SECRET_INVALID = "SecretInvalid"
    KEY_MISMATCH = "KeyDoesNotMatchCertificate"
    ISSUER_CHANGED = "IssuerChanged"
    DNS_NAMES_CHANGED = "DNSNamesChanged"
    KEY_SPEC_CHANGED = "PrivateKeyChanged"
    INCORRECT_CERTIFICATE = "IncorrectCertificate"
    SECRET_OVERWRITTEN = "SecretOverwritten"
    MANUAL_TRIGGER = "ManuallyTriggered"
    RENEWAL_DUE = "RenewalDue"
    RETRYING = "Retrying"  # the last attempt failed; nothing else asks to issue (a forced renewal)
    # Issuing: progress and failures
    ORDER_CREATED = "OrderCreated"
    PRESENTED = "ChallengePresented"
    SELF_CHECK_FAILED = "SelfCheckFailed"
    GATEWAY_NOT_FOUND = "GatewayNotFound"
    HTTP_ROUTE_NOT_ACCEPTED = "HTTPRouteNotAccepted"
    HTTP_ROUTE_REFS_UNRESOLVED = "HTTPRouteRefsNotResolved"
    AUTHORIZATION_FAILED = "AuthorizationFailed"
    ORDER_FAILED = "OrderFailed"
    RATE_LIMITED = "RateLimited"
    ACME_ERROR = "ACMEError"
    ACCOUNT_NOT_FOUND = "AccountNotFound"  # the CA forgot the issuer's account: registered again from its key
    SECRET_WRITE_FAILED = "SecretWriteFailed"
    ISSUANCE_LOOP = "IssuanceLoop"
    # Issuing: DNS-01 failures (the reasons of certwright.dns.errors)
    TSIG_REFUSED = "TSIGRefused"
    DNS_ZONE_NOT_SERVED = "DNSZoneNotServed"
    DNS_UPDATE_REFUSED = "DNSUpdateRefused"
    DNS_NAMESERVER_UNREACHABLE = "DNSNameserverUnreachable"
    DNS_PROVIDER_FAILED = "DNSProviderFailed"
    DNS_PROVIDER_NOT_FOUND = "DNSProviderNotFound"
    DNS_CONFIG_INVALID = "DNSConfigInvalid"
    DNS_SECRET_MISSING = "DNSSecretMissing"
    DNS_PROPAGATION_TIMED_OUT = "DNSPropagationTimedOut"
    DNS_RECORD_LEFT = "DNSRecordNotRemoved"  # Event: a record certwright could not remove
    # Events only
    RENEW_BEFORE_TOO_LONG = "RenewBeforeTooLong"
    # Issuer Ready
    ACCOUNT_REGISTERED = "AccountRegistered"
    ACCOUNT_FAILED = "AccountFailed"
    ACCOUNT_KEY_INVALID = "AccountKeyInvalid"
    EAB_SECRET_MISSING = "EABSecretMissing"
    EAB_SECRET_INVALID = "EABSecretInvalid"


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    kind: ConditionType,
    status: bool,
    reason: Reason,
    message: str,
    *,
    now: datetime.datetime,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """The conditions with ``kind`` set; lastTransitionTime moves only when the status changes."""
    value = "True" if status else "False"
    others = [dict(c) for c in conditions if c.get("type") != kind]
    previous = next((c for c in conditions if c.get("type") == kind), None)
    changed = previous is None or previous.get("status") != value
    condition: dict[str, Any] = {
        "type": str(kind),
        "status": value,
        "reason": str(reason),
        "message": message,
        "lastTransitionTime": timestamp(now) if changed else previous.get("lastTransitionTime", timestamp(now)),  # type: ignore[union-attr]
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return [*others, condition]


def find_condition(conditions: Sequence[Mapping[str, Any]], kind: ConditionType) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def timestamp(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
